//! Deadline arithmetic against worked examples, every holiday block of 2025–2026, hours, zones and edges.

use alur_calendar::{
    Amendment, CalendarConfig, CalendarError, DateRange, DayHours, HolidayKind, NationalHolidays,
    SlaDuration, WorkingCalendar, WorkingHours,
};
use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday, date, time};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn cal() -> WorkingCalendar {
    WorkingCalendar::from_config(1, CalendarConfig::default()).unwrap()
}

fn cal_in(zone: &str) -> WorkingCalendar {
    WorkingCalendar::from_config(1, CalendarConfig::in_zone(zone)).unwrap()
}

/// Ramadan 1446 (2025) and 1447 (2026) as configured for the tests.
fn ramadan_cal() -> WorkingCalendar {
    let config = CalendarConfig {
        ramadan: vec![
            DateRange {
                start: date(2025, 3, 1),
                end: date(2025, 3, 30),
            },
            DateRange {
                start: date(2026, 2, 19),
                end: date(2026, 3, 19),
            },
        ],
        ..CalendarConfig::default()
    };
    WorkingCalendar::from_config(1, config).unwrap()
}

const WD3: SlaDuration = SlaDuration::WorkingDays(3);

// ---- worked examples (DOMAIN.md) -------------------------------------------------------------

#[test]
fn worked_example_nyepi_idulfitri_2026() {
    // Offices closed 18–24 March 2026: Tue 17 is day 1, Wed 25 day 2, Thu 26 day 3.
    for cal in [cal(), ramadan_cal()] {
        let due = cal.due(ts("2026-03-17T09:00:00+07:00"), WD3).unwrap();
        assert_eq!(due, ts("2026-03-26T16:00:00+07:00"));
        assert_eq!(
            cal.working_day_one(ts("2026-03-17T09:00:00+07:00")),
            Ok(date(2026, 3, 17))
        );
    }
}

#[test]
fn worked_example_year_end_2025() {
    // Wed 24 day 1; 25 Christmas, 26 cuti bersama, weekend; Mon 29 day 2; Tue 30 day 3.
    let due = cal().due(ts("2025-12-24T10:00:00+07:00"), WD3).unwrap();
    assert_eq!(due, ts("2025-12-30T16:00:00+07:00"));
}

// ---- holiday blocks ---------------------------------------------------------------------------

#[test]
fn idulfitri_and_nyepi_2025_block() {
    // Thu 27 Mar day 1; 28 Mar (Nyepi cb) … 7 Apr (Idulfitri cb) closed; Tue 8 day 2; Wed 9 day 3.
    for cal in [cal(), ramadan_cal()] {
        let due = cal.due(ts("2025-03-27T10:00:00+07:00"), WD3).unwrap();
        assert_eq!(due, ts("2025-04-09T16:00:00+07:00"));
        for d in [
            date(2025, 3, 28),
            date(2025, 3, 31),
            date(2025, 4, 1),
            date(2025, 4, 2),
            date(2025, 4, 3),
            date(2025, 4, 4),
            date(2025, 4, 7),
        ] {
            assert_eq!(cal.is_working_day(d), Ok(false), "{d}");
            assert!(cal.holiday(d).is_some(), "{d}");
        }
    }
}

#[test]
fn ramadan_close_of_business_moves_day_one() {
    // Thu 27 Mar 2025 15:30 is after the Ramadan close (15:00): day 1 is Tue 8 Apr.
    let ramadan = ramadan_cal();
    let due = ramadan.due(ts("2025-03-27T15:30:00+07:00"), WD3).unwrap();
    assert_eq!(due, ts("2025-04-10T16:00:00+07:00"));
    // Without Ramadan hours the office is still open at 15:30.
    let due = cal().due(ts("2025-03-27T15:30:00+07:00"), WD3).unwrap();
    assert_eq!(due, ts("2025-04-09T16:00:00+07:00"));
}

#[test]
fn ramadan_working_day_deadline_closes_at_ramadan_time() {
    // Fri 13 Feb 2026 day 1; Imlek 16–17 Feb; Wed 18 (regular) day 2; Thu 19 (Ramadan) day 3, closes 15:00.
    let due = ramadan_cal()
        .due(ts("2026-02-13T09:00:00+07:00"), WD3)
        .unwrap();
    assert_eq!(due, ts("2026-02-19T15:00:00+07:00"));
    let due = cal().due(ts("2026-02-13T09:00:00+07:00"), WD3).unwrap();
    assert_eq!(due, ts("2026-02-19T16:00:00+07:00"));
}

#[test]
fn year_end_2026_and_into_2027() {
    let cal = cal();
    // Wed 23 day 1; Thu 24 cb, Fri 25 Christmas, weekend; Mon 28 day 2; Tue 29 day 3.
    assert_eq!(
        cal.due(ts("2026-12-23T09:00:00+07:00"), WD3),
        Ok(ts("2026-12-29T16:00:00+07:00"))
    );
    // Wed 30 day 1, Thu 31 day 2, Fri 1 Jan holiday, weekend, Mon 4 Jan 2027 day 3.
    assert_eq!(
        cal.due(ts("2026-12-30T09:00:00+07:00"), WD3),
        Ok(ts("2027-01-04T16:00:00+07:00"))
    );
}

#[test]
fn amendment_of_2025_adds_18_august() {
    // The original 2025 decree, without the amendment.
    let national = NationalHolidays::embedded().unwrap();
    let original = NationalHolidays::from_holidays(
        national
            .holidays()
            .iter()
            .filter(|h| h.date != date(2025, 8, 18))
            .cloned()
            .collect(),
    );
    let v1 = WorkingCalendar::new(1, &original, CalendarConfig::default()).unwrap();
    let start = ts("2025-08-15T10:00:00+07:00");
    // Fri 15 day 1, Mon 18 day 2, Tue 19 day 3.
    assert_eq!(v1.due(start, WD3), Ok(ts("2025-08-19T16:00:00+07:00")));

    let v2 = v1
        .amend(
            2,
            Amendment::AddHoliday {
                date: date(2025, 8, 18),
                name: "Cuti Bersama Peringatan Proklamasi Kemerdekaan RI".into(),
                kind: HolidayKind::CollectiveLeave,
                legal_basis: Some(
                    "Perubahan SKB Menag 933/2025, Menaker 1/2025, MenPANRB 3/2025 (7 Agu 2025)"
                        .into(),
                ),
            },
        )
        .unwrap();
    // Fri 15 day 1, Tue 19 day 2, Wed 20 day 3.
    assert_eq!(v2.due(start, WD3), Ok(ts("2025-08-20T16:00:00+07:00")));
    assert_eq!(v1.due(start, WD3), Ok(ts("2025-08-19T16:00:00+07:00")));
    assert_eq!(v2.version().number, 2);
    assert_ne!(v1.version().digest, v2.version().digest);
    assert_eq!(
        v2.holiday(date(2025, 8, 18)).map(|h| h.kind),
        Some(HolidayKind::CollectiveLeave)
    );
    // The amended calendar equals the one built from the shipped data (which includes the amendment).
    assert_eq!(cal().version().digest, v2.version().digest);

    // Removing it again gives back v1's content under a new number.
    let v3 = v2
        .amend(
            3,
            Amendment::RemoveHoliday {
                date: date(2025, 8, 18),
                legal_basis: None,
            },
        )
        .unwrap();
    assert_eq!(v3.version().digest, v1.version().digest);
    // Version numbers must increase.
    assert!(matches!(
        v3.amend(
            3,
            Amendment::RemoveHoliday {
                date: date(2025, 12, 25),
                legal_basis: None
            }
        ),
        Err(CalendarError::InvalidConfig { .. })
    ));
}

fn local(cal: &WorkingCalendar, d: Date, at: Time) -> Timestamp {
    cal.time_zone().to_timestamp(d.to_datetime(at)).unwrap()
}

/// Reference: step through dates one by one with the public day queries.
fn reference_due(cal: &WorkingCalendar, submitted_date: Date, at: Time, n: u32) -> Timestamp {
    let mut d = submitted_date;
    let counts_today = cal.is_working_day(d).unwrap()
        && cal
            .close_of_business(d)
            .unwrap()
            .is_some_and(|close| local(cal, d, at) < close);
    let mut left = n;
    if counts_today {
        left -= 1;
    }
    while left > 0 {
        d = d.tomorrow().unwrap();
        if cal.is_working_day(d).unwrap() {
            left -= 1;
        }
    }
    cal.close_of_business(d).unwrap().unwrap()
}

#[test]
fn every_start_day_of_2025_and_2026_matches_a_day_by_day_reference() {
    let cal = ramadan_cal();
    let mut d = date(2025, 1, 1);
    while d <= date(2026, 12, 31) {
        for at in [
            time(0, 0, 0, 0),
            time(9, 0, 0, 0),
            time(15, 30, 0, 0),
            time(17, 0, 0, 0),
        ] {
            let start = local(&cal, d, at);
            for n in [1, 2, 3, 5, 10, 20] {
                assert_eq!(
                    cal.due(start, SlaDuration::WorkingDays(n)),
                    Ok(reference_due(&cal, d, at, n)),
                    "{d} {at} {n}"
                );
            }
        }
        d = d.tomorrow().unwrap();
    }
}

#[test]
fn every_holiday_on_a_weekday_closes_the_office() {
    let cal = cal();
    let national = NationalHolidays::embedded().unwrap();
    for h in national.holidays() {
        assert_eq!(cal.is_working_day(h.date), Ok(false), "{}", h.date);
        assert!(cal.holidays_on(h.date).contains(h));
        assert!(cal.working_windows(h.date).unwrap().is_empty());
    }
}

// ---- hour-based SLAs --------------------------------------------------------------------------

#[test]
fn friday_prayer_break_is_skipped() {
    let cal = cal();
    // Fri 9 Jan 2026 11:00 + 60 min: 11:00–11:30, break to 13:00, 13:00–13:30.
    assert_eq!(
        cal.due(ts("2026-01-09T11:00:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-01-09T13:30:00+07:00"))
    );
    assert_eq!(
        cal.due(ts("2026-01-09T11:00:00+07:00"), SlaDuration::Hours(2)),
        Ok(ts("2026-01-09T14:30:00+07:00"))
    );
    // Friday closes at 16:30, then the weekend: 30 min on Friday, 30 on Monday.
    assert_eq!(
        cal.due(ts("2026-01-09T16:00:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-01-12T08:00:00+07:00"))
    );
    // Lunch break Monday–Thursday is 12:00–13:00.
    assert_eq!(
        cal.due(ts("2026-01-13T11:30:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-01-13T13:30:00+07:00"))
    );
}

#[test]
fn hours_spill_into_the_next_working_day() {
    let cal = cal();
    // Thu 15:00–16:00 (60) + Fri 07:30–08:30 (60).
    assert_eq!(
        cal.due(ts("2026-01-08T15:00:00+07:00"), SlaDuration::Hours(2)),
        Ok(ts("2026-01-09T08:30:00+07:00"))
    );
    // A deadline may end exactly at close of business.
    assert_eq!(
        cal.due(ts("2026-01-13T15:00:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-01-13T16:00:00+07:00"))
    );
    // Over a holiday (Fri 16 Jan 2026, Isra Mikraj) and the weekend.
    assert_eq!(
        cal.due(ts("2026-01-15T15:30:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-01-19T08:00:00+07:00"))
    );
}

#[test]
fn ramadan_hours_apply_in_configured_ranges() {
    let cal = ramadan_cal();
    // Mon 2 Mar 2026 14:00: 14:00–15:00 (60), Tue 08:00–08:30 (30).
    assert_eq!(
        cal.due(ts("2026-03-02T14:00:00+07:00"), SlaDuration::Minutes(90)),
        Ok(ts("2026-03-03T08:30:00+07:00"))
    );
    // Ramadan Friday break 11:30–12:30.
    assert_eq!(
        cal.due(ts("2026-03-06T11:00:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-03-06T13:00:00+07:00"))
    );
    // Ramadan Friday closes 15:30.
    assert_eq!(
        cal.due(ts("2026-03-06T15:00:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-03-09T08:30:00+07:00"))
    );
    // Last regular day before Ramadan (Wed 18 Feb) into the first Ramadan day.
    assert_eq!(
        cal.due(ts("2026-02-18T15:30:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-02-19T08:30:00+07:00"))
    );
    assert_eq!(
        cal.working_windows(date(2026, 3, 6)).unwrap().len(),
        2,
        "ramadan friday has one break"
    );
    assert_eq!(
        cal.working_minutes_between(
            ts("2026-03-02T00:00:00+07:00"),
            ts("2026-03-09T00:00:00+07:00")
        ),
        Ok(1950)
    );
}

#[test]
fn start_outside_working_hours_counts_from_next_window() {
    let cal = cal();
    // Saturday.
    assert_eq!(
        cal.due(ts("2026-01-10T10:00:00+07:00"), SlaDuration::Minutes(90)),
        Ok(ts("2026-01-12T09:00:00+07:00"))
    );
    // Before opening.
    assert_eq!(
        cal.due(ts("2026-01-12T06:00:00+07:00"), SlaDuration::Minutes(30)),
        Ok(ts("2026-01-12T08:00:00+07:00"))
    );
    // During the break.
    assert_eq!(
        cal.due(ts("2026-01-13T12:15:00+07:00"), SlaDuration::Minutes(10)),
        Ok(ts("2026-01-13T13:10:00+07:00"))
    );
    // On a holiday.
    assert_eq!(
        cal.due(ts("2026-01-16T10:00:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-01-19T08:30:00+07:00"))
    );
}

#[test]
fn midnight_edges() {
    let cal = cal();
    for start in ["2026-01-12T23:59:00+07:00", "2026-01-13T00:00:00+07:00"] {
        assert_eq!(
            cal.due(ts(start), SlaDuration::Minutes(60)),
            Ok(ts("2026-01-13T08:30:00+07:00")),
            "{start}"
        );
    }
    // Mon 23:59 is after close: Tue 17 Mar is day 1. Tue 00:00 is before opening: also day 1.
    for start in ["2026-03-16T23:59:00+07:00", "2026-03-17T00:00:00+07:00"] {
        assert_eq!(
            cal.due(ts(start), WD3),
            Ok(ts("2026-03-26T16:00:00+07:00")),
            "{start}"
        );
    }
    // Just before close counts; at close it does not.
    assert_eq!(
        cal.due(ts("2026-03-17T15:59:59+07:00"), WD3),
        Ok(ts("2026-03-26T16:00:00+07:00"))
    );
    assert_eq!(
        cal.due(ts("2026-03-17T16:00:00+07:00"), WD3),
        Ok(ts("2026-03-27T16:30:00+07:00"))
    );
    // Sunday 23:59 and Monday 00:00 give the same working-day deadline.
    assert_eq!(
        cal.due(ts("2026-01-11T23:59:00+07:00"), WD3),
        cal.due(ts("2026-01-12T00:00:00+07:00"), WD3)
    );
}

#[test]
fn calendar_days_end_at_local_midnight_of_day_n() {
    let cal = cal();
    assert_eq!(
        cal.due(
            ts("2026-01-10T10:00:00+07:00"),
            SlaDuration::CalendarDays(30)
        ),
        Ok(ts("2026-02-09T23:59:59.999999999+07:00"))
    );
    // The same instant is already the next day in WIT.
    let start = ts("2026-01-10T23:30:00+07:00");
    assert_eq!(
        cal.due(start, SlaDuration::CalendarDays(30)),
        Ok(ts("2026-02-09T23:59:59.999999999+07:00"))
    );
    assert_eq!(
        cal_in("Asia/Jayapura").due(start, SlaDuration::CalendarDays(30)),
        Ok(ts("2026-02-10T23:59:59.999999999+09:00"))
    );
    // Needs no holiday data: fine past the coverage.
    assert_eq!(
        cal.due(
            ts("2027-12-20T10:00:00+07:00"),
            SlaDuration::CalendarDays(30)
        ),
        Ok(ts("2028-01-19T23:59:59.999999999+07:00"))
    );
    assert_eq!(
        cal.due(
            ts("2026-01-10T10:00:00+07:00"),
            SlaDuration::CalendarDays(0)
        ),
        Ok(ts("2026-01-10T23:59:59.999999999+07:00"))
    );
}

#[test]
fn zero_amounts_return_the_start() {
    let cal = cal();
    let start = ts("2026-01-10T10:00:00+07:00");
    assert_eq!(cal.due(start, SlaDuration::Minutes(0)), Ok(start));
    assert_eq!(cal.due(start, SlaDuration::WorkingDays(0)), Ok(start));
}

// ---- time zones -------------------------------------------------------------------------------

#[test]
fn wita_and_wit_use_local_days_and_hours() {
    let wita = cal_in("Asia/Makassar");
    let wit = cal_in("Asia/Jayapura");
    assert_eq!(
        wita.due(ts("2026-03-17T09:00:00+08:00"), WD3),
        Ok(ts("2026-03-26T08:00:00Z"))
    );
    assert_eq!(
        wit.due(ts("2026-03-17T09:00:00+09:00"), WD3),
        Ok(ts("2026-03-26T07:00:00Z"))
    );
    // 08:30 UTC is 15:30 WIB (open: day 1 is Tue) but 17:30 WIT (closed: day 1 is Wed 25).
    let start = ts("2026-03-17T08:30:00Z");
    assert_eq!(cal().due(start, WD3), Ok(ts("2026-03-26T16:00:00+07:00")));
    assert_eq!(wit.due(start, WD3), Ok(ts("2026-03-27T16:30:00+09:00")));
    // Friday prayers in WITA.
    assert_eq!(
        wita.due(ts("2026-01-09T11:00:00+08:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-01-09T13:30:00+08:00"))
    );
    assert_eq!(wit.utc_offset().seconds(), 9 * 3600);
    let pontianak = cal_in("Asia/Pontianak");
    assert_eq!(
        pontianak.due(ts("2025-12-24T10:00:00+07:00"), WD3),
        Ok(ts("2025-12-30T16:00:00+07:00"))
    );
}

// ---- working time between, extend ------------------------------------------------------------

#[test]
fn working_minutes_between_counts_only_windows() {
    let cal = cal();
    // Mon 12 Jan 2026 07:00 → Tue 09:00: 450 + 90.
    assert_eq!(
        cal.working_minutes_between(
            ts("2026-01-12T07:00:00+07:00"),
            ts("2026-01-13T09:00:00+07:00")
        ),
        Ok(540)
    );
    // A full week without holidays is 37.5 h.
    assert_eq!(
        cal.working_minutes_between(
            ts("2026-01-05T00:00:00+07:00"),
            ts("2026-01-12T00:00:00+07:00")
        ),
        Ok(2250)
    );
    // Reversed or equal: zero.
    assert_eq!(
        cal.working_minutes_between(
            ts("2026-01-13T09:00:00+07:00"),
            ts("2026-01-12T07:00:00+07:00")
        ),
        Ok(0)
    );
    // Rounded down to whole minutes.
    assert_eq!(
        cal.working_minutes_between(
            ts("2026-01-12T08:00:00+07:00"),
            ts("2026-01-12T08:01:59+07:00")
        ),
        Ok(1)
    );
}

#[test]
fn extend_moves_a_deadline_by_paused_working_minutes() {
    let cal = cal();
    let due = cal.due(ts("2026-03-17T09:00:00+07:00"), WD3).unwrap();
    // Paused Wed 25 Mar 10:00–10:30: 30 working minutes.
    let paused = cal
        .working_minutes_between(
            ts("2026-03-25T10:00:00+07:00"),
            ts("2026-03-25T10:30:00+07:00"),
        )
        .unwrap();
    assert_eq!(paused, 30);
    assert_eq!(cal.extend(due, paused), Ok(ts("2026-03-27T08:00:00+07:00")));
}

// ---- bounds and errors -----------------------------------------------------------------------

#[test]
fn coverage_is_the_horizon() {
    let cal = cal();
    assert_eq!(cal.coverage(), (2025, 2027));
    assert_eq!(
        cal.due(
            ts("2027-12-20T09:00:00+07:00"),
            SlaDuration::WorkingDays(20)
        ),
        Err(CalendarError::BeyondCoverage { last_year: 2027 })
    );
    assert!(matches!(
        cal.due(ts("2024-12-20T09:00:00+07:00"), WD3),
        Err(CalendarError::OutsideCoverage { .. })
    ));
    assert!(matches!(
        cal.add_working_minutes(ts("2027-12-31T09:00:00+07:00"), 10_000),
        Err(CalendarError::BeyondCoverage { .. })
    ));
    assert!(matches!(
        cal.add_working_minutes(ts("2026-01-01T09:00:00+07:00"), u64::MAX),
        Err(CalendarError::BeyondCoverage { .. })
    ));
    assert!(matches!(
        cal.is_working_day(date(2028, 1, 3)),
        Err(CalendarError::OutsideCoverage { .. })
    ));
    let msg = cal
        .due(
            ts("2027-12-20T09:00:00+07:00"),
            SlaDuration::WorkingDays(20),
        )
        .unwrap_err()
        .to_string();
    assert!(msg.contains("2028"), "{msg}");
}

#[test]
fn a_calendar_without_working_days_is_refused() {
    let config = CalendarConfig {
        hours: WorkingHours::closed(),
        ramadan_hours: WorkingHours::closed(),
        ..CalendarConfig::default()
    };
    assert_eq!(
        WorkingCalendar::from_config(1, config).unwrap_err(),
        CalendarError::NoWorkingDays {
            first_year: 2025,
            last_year: 2027
        }
    );
}

#[test]
fn a_unit_may_open_on_saturday() {
    let mut hours = WorkingHours::perpres_21_2023();
    hours.set_day(
        Weekday::Saturday,
        Some(DayHours::new(time(8, 0, 0, 0), time(12, 0, 0, 0), &[])),
    );
    let config = CalendarConfig {
        hours,
        ..CalendarConfig::default()
    };
    let cal = WorkingCalendar::from_config(1, config).unwrap();
    assert_eq!(cal.is_working_day(date(2026, 1, 10)), Ok(true));
    // Fri 16:00–16:30 (30) + Sat 08:00–08:30 (30).
    assert_eq!(
        cal.due(ts("2026-01-09T16:00:00+07:00"), SlaDuration::Minutes(60)),
        Ok(ts("2026-01-10T08:30:00+07:00"))
    );
    // A holiday on Saturday closes it (Idulfitri, Sat 21 Mar 2026).
    assert_eq!(cal.is_working_day(date(2026, 3, 21)), Ok(false));
    assert_ne!(cal.version().digest, self::cal().version().digest);
}

// ---- days, windows, versions, overview --------------------------------------------------------

#[test]
fn day_queries() {
    let cal = cal();
    assert_eq!(
        cal.holiday(date(2026, 3, 21)).map(|h| h.name.as_str()),
        Some("Idulfitri 1447 Hijriah")
    );
    assert_eq!(cal.is_working_day(date(2026, 3, 21)), Ok(false));
    assert_eq!(cal.is_working_day(date(2026, 3, 25)), Ok(true));
    assert_eq!(cal.holiday(date(2026, 3, 25)), None);
    let fri = cal.working_windows(date(2026, 1, 9)).unwrap();
    assert_eq!(fri.len(), 2);
    assert_eq!(fri[0].end, time(11, 30, 0, 0));
    assert_eq!(fri[1].end, time(16, 30, 0, 0));
    assert_eq!(
        cal.close_of_business(date(2026, 1, 9)),
        Ok(Some(ts("2026-01-09T16:30:00+07:00")))
    );
    assert_eq!(cal.close_of_business(date(2026, 1, 10)), Ok(None));
    assert_eq!(
        cal.is_working_time(ts("2026-01-09T12:00:00+07:00")),
        Ok(false)
    );
    assert_eq!(
        cal.is_working_time(ts("2026-01-09T13:00:00+07:00")),
        Ok(true)
    );
}

#[test]
fn versions_are_stable_and_content_addressed() {
    let a = cal();
    let b = cal();
    assert_eq!(a.version(), b.version());
    assert_ne!(a.version().digest, cal_in("Asia/Makassar").version().digest);
    assert_ne!(a.version().digest, ramadan_cal().version().digest);
    let shown = a.version().to_string();
    assert!(shown.starts_with("1@") && shown.len() == 18, "{shown}");
    let hex = a.version().digest.to_string();
    assert_eq!(hex.parse(), Ok(a.version().digest));
    let stored = toml::to_string(&a.version()).unwrap();
    assert!(stored.contains(&hex), "{stored}");
    assert_eq!(toml::from_str(&stored), Ok(a.version()));
}

#[test]
fn year_overview_2026() {
    let cal = cal();
    let y = cal.show_year(2026).unwrap();
    assert_eq!(y.closed_weekdays.len(), 21);
    assert_eq!(y.working_days, 261 - 21);
    assert_eq!(y.months[2].working_days, 17);
    assert_eq!(y.months[2].closed_weekdays, 5);
    assert_eq!(
        y.months.iter().map(|m| m.working_days).sum::<u32>(),
        y.working_days
    );
    let text = y.to_string();
    assert!(text.contains("Kalender kerja tahun 2026"), "{text}");
    assert!(text.contains("Kamis, 19 Maret 2026"), "{text}");
    assert!(text.contains("Hari Suci Nyepi (Tahun Baru Saka 1948) (libur nasional)"));
    assert!(text.contains("Maret       17"), "{text}");
    // Weekend holidays are not listed as closed weekdays.
    assert!(!text.contains("Sabtu, 21 Maret 2026"));
    assert!(matches!(
        cal.show_year(2030),
        Err(CalendarError::OutsideCoverage { .. })
    ));
    let with_ramadan = ramadan_cal().show_year(2026).unwrap().to_string();
    assert!(
        with_ramadan
            .contains("Jam kerja Ramadan: Kamis, 19 Februari 2026 s.d. Kamis, 19 Maret 2026")
    );
}
