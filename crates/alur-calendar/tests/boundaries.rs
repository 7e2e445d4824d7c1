//! Every boundary of the calendar at the exact instant (the nanosecond on either side): window
//! starts and ends, close of business and the submission cutoff for day one, the first and last
//! covered day, the last working nanosecond of the coverage, zones whose offset changes once, and
//! the SLA units. Written against the mutants `cargo mutants` left alive (`docs/benchmarks.md`).

use alur_calendar::{CalendarConfig, CalendarError, Coverage, SlaDuration, WorkingCalendar};
use jiff::civil::{date, time};
use jiff::{SignedDuration, Timestamp};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn wib(s: &str) -> Timestamp {
    ts(&format!("{s}+07:00"))
}

fn cal() -> WorkingCalendar {
    WorkingCalendar::from_config(1, CalendarConfig::default()).unwrap()
}

const NS: SignedDuration = SignedDuration::from_nanos(1);

fn before(t: Timestamp) -> Timestamp {
    t.checked_sub(NS).unwrap()
}

fn after(t: Timestamp) -> Timestamp {
    t.checked_add(NS).unwrap()
}

#[test]
fn working_time_starts_at_a_window_start_and_stops_at_its_end() {
    let cal = cal();
    // Monday 6 April 2026: 07:30–12:00, 13:00–16:00. Friday 10 April: 07:30–11:30, 13:00–16:30.
    for (start, end) in [
        ("2026-04-06T07:30:00", "2026-04-06T12:00:00"),
        ("2026-04-06T13:00:00", "2026-04-06T16:00:00"),
        ("2026-04-10T07:30:00", "2026-04-10T11:30:00"),
        ("2026-04-10T13:00:00", "2026-04-10T16:30:00"),
    ] {
        let (start, end) = (wib(start), wib(end));
        assert_eq!(cal.is_working_time(before(start)), Ok(false), "{start}");
        assert_eq!(cal.is_working_time(start), Ok(true), "{start}");
        assert_eq!(cal.is_working_time(before(end)), Ok(true), "{end}");
        assert_eq!(cal.is_working_time(end), Ok(false), "{end}");
    }
}

#[test]
fn the_first_and_last_covered_instants_answer_and_the_next_ones_do_not() {
    let cal = cal();
    assert_eq!(cal.coverage(), (2025, 2027));
    assert!(matches!(
        cal.is_working_day(date(2024, 12, 31)),
        Err(CalendarError::OutsideCoverage { .. })
    ));
    assert_eq!(cal.is_working_day(date(2025, 1, 1)), Ok(false)); // New Year
    assert_eq!(cal.is_working_day(date(2025, 1, 2)), Ok(true));
    assert_eq!(cal.is_working_day(date(2027, 12, 31)), Ok(true)); // a Friday
    for d in [date(2028, 1, 1), date(2028, 1, 3)] {
        assert!(matches!(
            cal.is_working_day(d),
            Err(CalendarError::OutsideCoverage { .. })
        ));
        assert!(cal.working_windows(d).is_err());
        assert!(cal.close_of_business(d).is_err());
    }
    let first = wib("2025-01-01T00:00:00");
    let end = wib("2028-01-01T00:00:00");
    assert_eq!(cal.is_working_time(first), Ok(false));
    assert!(matches!(
        cal.is_working_time(before(first)),
        Err(CalendarError::OutsideCoverage { .. })
    ));
    assert_eq!(cal.is_working_time(before(end)), Ok(false));
    assert!(matches!(
        cal.is_working_time(end),
        Err(CalendarError::OutsideCoverage { .. })
    ));
    assert!(cal.working_time_between(first, before(end)).is_ok());
    assert!(cal.working_time_between(first, end).is_err());
}

#[test]
fn the_last_working_nanosecond_of_the_coverage_is_reachable_and_no_more() {
    let cal = cal();
    // Friday 31 December 2027 is the last working day: 07:30–11:30 and 13:00–16:30, 7.5 hours.
    let morning = wib("2027-12-31T07:30:00");
    let close = wib("2027-12-31T16:30:00");
    let day = std::time::Duration::from_secs(450 * 60);
    assert_eq!(cal.add_working_time(morning, day), Ok(close));
    assert_eq!(
        cal.add_working_time(morning, day + std::time::Duration::from_nanos(1)),
        Err(CalendarError::BeyondCoverage { last_year: 2027 })
    );
    assert_eq!(cal.add_working_minutes(morning, 450), Ok(close));
    assert_eq!(
        cal.due(morning, SlaDuration::WorkingDays(1)),
        Ok(close),
        "the last working day is day 1"
    );
    assert_eq!(
        cal.due(morning, SlaDuration::WorkingDays(2)),
        Err(CalendarError::BeyondCoverage { last_year: 2027 })
    );
    // From the close, not a nanosecond more can be added.
    assert_eq!(
        cal.add_working_time(close, std::time::Duration::from_nanos(1)),
        Err(CalendarError::BeyondCoverage { last_year: 2027 })
    );
    assert_eq!(
        cal.add_working_time(close, std::time::Duration::ZERO),
        Ok(close)
    );
}

#[test]
fn adding_working_time_ends_at_a_window_end_never_at_the_next_start() {
    let cal = cal();
    let monday = wib("2026-04-06T07:30:00");
    // Exactly the morning window: 12:00, not 13:00.
    assert_eq!(
        cal.add_working_minutes(monday, 270),
        Ok(wib("2026-04-06T12:00:00"))
    );
    // Exactly the day: 16:00 Monday, not 07:30 Tuesday.
    assert_eq!(
        cal.add_working_minutes(monday, 450),
        Ok(wib("2026-04-06T16:00:00"))
    );
    // One nanosecond more goes on at the next window.
    let d = std::time::Duration::from_secs(270 * 60) + std::time::Duration::from_nanos(1);
    assert_eq!(
        cal.add_working_time(monday, d),
        Ok(after(wib("2026-04-06T13:00:00")))
    );
    let d = std::time::Duration::from_secs(450 * 60) + std::time::Duration::from_nanos(1);
    assert_eq!(
        cal.add_working_time(monday, d),
        Ok(after(wib("2026-04-07T07:30:00")))
    );
    // From the instant of a window's end, counting resumes at the next window.
    assert_eq!(
        cal.add_working_minutes(wib("2026-04-06T12:00:00"), 1),
        Ok(wib("2026-04-06T13:01:00"))
    );
    assert_eq!(
        cal.add_working_minutes(wib("2026-04-06T16:00:00"), 1),
        Ok(wib("2026-04-07T07:31:00"))
    );
    // Working time between instants on both sides of the boundaries.
    assert_eq!(
        cal.working_minutes_between(wib("2026-04-06T12:00:00"), wib("2026-04-06T13:00:00")),
        Ok(0)
    );
    assert_eq!(
        cal.working_time_between(
            before(wib("2026-04-06T12:00:00")),
            wib("2026-04-06T13:00:00")
        ),
        Ok(std::time::Duration::from_nanos(1))
    );
    assert_eq!(
        cal.working_time_between(
            wib("2026-04-06T16:00:00"),
            after(wib("2026-04-07T07:30:00"))
        ),
        Ok(std::time::Duration::from_nanos(1))
    );
}

#[test]
fn working_day_one_turns_at_the_close_of_business_and_at_the_cutoff() {
    let cal = cal();
    let wd1 = SlaDuration::WorkingDays(1);
    let close = wib("2026-04-07T16:00:00"); // Tuesday
    assert_eq!(cal.working_day_one(before(close)), Ok(date(2026, 4, 7)));
    assert_eq!(cal.due(before(close), wd1), Ok(close));
    assert_eq!(cal.working_day_one(close), Ok(date(2026, 4, 8)));
    assert_eq!(cal.due(close, wd1), Ok(wib("2026-04-08T16:00:00")));
    // Before opening, the same day still counts.
    assert_eq!(
        cal.working_day_one(wib("2026-04-07T00:00:00")),
        Ok(date(2026, 4, 7))
    );
    // With a cutoff at 15:00, the turn is at the cutoff.
    let config = CalendarConfig {
        submission_cutoff: Some(time(15, 0, 0, 0)),
        ..CalendarConfig::default()
    };
    let cut = WorkingCalendar::from_config(1, config).unwrap();
    let at = wib("2026-04-07T15:00:00");
    assert_eq!(cut.working_day_one(before(at)), Ok(date(2026, 4, 7)));
    assert_eq!(cut.working_day_one(at), Ok(date(2026, 4, 8)));
    // A weekend or holiday submission counts from the next working day, whatever the time.
    assert_eq!(
        cal.working_day_one(wib("2026-04-11T09:00:00")),
        Ok(date(2026, 4, 13))
    );
    assert_eq!(
        cal.working_day_one(wib("2026-04-03T09:00:00")),
        Ok(date(2026, 4, 6)),
        "Good Friday"
    );
    // Day n counts only working days: 3 working days from Friday 2 April 2026 (Good Friday on
    // the 3rd) end on Tuesday 7 April.
    assert_eq!(
        cal.due(wib("2026-04-02T09:00:00"), SlaDuration::WorkingDays(3)),
        Ok(wib("2026-04-07T16:00:00"))
    );
}

#[test]
fn a_zone_whose_offset_changes_once_inside_the_coverage_is_refused() {
    // Pyongyang moved from UTC+9 to UTC+8:30 on 15 August 2015 and back on 4 May 2018.
    for (first, last, ok) in [
        (2015, 2015, false),
        (2016, 2017, true),
        (2018, 2018, false),
        (2019, 2020, true),
    ] {
        let config = CalendarConfig {
            time_zone: "Asia/Pyongyang".into(),
            coverage: Some(Coverage {
                first_year: first,
                last_year: last,
            }),
            ..CalendarConfig::default()
        };
        let got = WorkingCalendar::from_config(1, config);
        assert_eq!(got.is_ok(), ok, "{first}–{last}: {got:?}");
        if !ok {
            assert!(matches!(got, Err(CalendarError::VariableOffset { .. })));
        }
    }
    // A zone with daylight saving is refused over any year.
    let config = CalendarConfig {
        time_zone: "Europe/Berlin".into(),
        ..CalendarConfig::default()
    };
    assert!(matches!(
        WorkingCalendar::from_config(1, config),
        Err(CalendarError::VariableOffset { .. })
    ));
}

#[test]
fn sla_units_say_their_working_minutes() {
    assert_eq!(SlaDuration::Minutes(90).working_minutes(), Some(90));
    assert_eq!(SlaDuration::Hours(2).working_minutes(), Some(120));
    assert_eq!(SlaDuration::Hours(1).working_minutes(), Some(60));
    assert_eq!(SlaDuration::WorkingDays(3).working_minutes(), None);
    assert_eq!(SlaDuration::CalendarDays(30).working_minutes(), None);
    for d in [
        SlaDuration::Minutes(7),
        SlaDuration::Hours(7),
        SlaDuration::WorkingDays(7),
        SlaDuration::CalendarDays(7),
    ] {
        assert_eq!(d.amount(), 7);
    }
    // The amount's bounds, at the bound.
    assert_eq!("3650 hari".parse(), Ok(SlaDuration::CalendarDays(3650)));
    assert!("3651 hari".parse::<SlaDuration>().is_err());
    assert_eq!("1 menit".parse(), Ok(SlaDuration::Minutes(1)));
}

#[test]
fn ramadan_ranges_include_both_ends_and_are_bounded() {
    use alur_calendar::DateRange;
    let config = |start, end| CalendarConfig {
        ramadan: vec![DateRange { start, end }],
        ..CalendarConfig::default()
    };
    let cal =
        WorkingCalendar::from_config(1, config(date(2026, 2, 19), date(2026, 3, 20))).unwrap();
    // Ramadan opens at 08:00: on its first and last working day, 07:59:59.999… is not working time.
    for d in ["2026-02-19", "2026-03-17"] {
        let open = wib(&format!("{d}T08:00:00"));
        assert_eq!(cal.is_working_time(before(open)), Ok(false), "{d}");
        assert_eq!(cal.is_working_time(open), Ok(true), "{d}");
    }
    // The day after the range keeps the regular hours.
    assert_eq!(cal.is_working_time(wib("2026-03-25T07:30:00")), Ok(true));
    assert_eq!(cal.is_working_time(wib("2026-02-18T07:30:00")), Ok(true));
    // A range of 40 days is refused, 39 accepted (the longest Ramadan is 30).
    assert!(WorkingCalendar::from_config(1, config(date(2026, 2, 1), date(2026, 3, 13))).is_err());
    assert!(WorkingCalendar::from_config(1, config(date(2026, 2, 1), date(2026, 3, 12))).is_ok());
    // An inverted range is refused.
    assert!(WorkingCalendar::from_config(1, config(date(2026, 3, 1), date(2026, 2, 28))).is_err());
}

#[test]
fn a_calendar_is_equal_to_another_exactly_when_version_and_content_are() {
    use alur_calendar::NationalHolidays;
    let a = cal();
    let same = cal();
    assert_eq!(a, same);
    assert_eq!(a.clone(), a);
    // Another number, or another content, is another calendar.
    let renumbered = a.with_config(2, CalendarConfig::default()).unwrap();
    assert_ne!(a, renumbered);
    let other = WorkingCalendar::from_config(1, CalendarConfig::in_zone("Asia/Makassar")).unwrap();
    assert_ne!(a, other);
    assert_eq!(a.version().number, other.version().number);
    // The calendar keeps the national list it was built from, and lists its holidays.
    assert_eq!(a.national(), &NationalHolidays::embedded().unwrap());
    assert_eq!(a.holidays().len(), a.national().len());
    assert!(
        a.holidays()
            .iter()
            .any(|h| h.date == date(2026, 3, 19) && h.name.contains("Nyepi"))
    );
    // Debug output names the digest in full.
    let digest = a.version().digest;
    assert_eq!(format!("{digest:?}"), format!("CalendarDigest({digest})"));
    assert_eq!(digest.to_string().len(), 64);
    assert_eq!(digest.short(), digest.to_string()[..16]);
}

#[test]
fn a_calendars_debug_output_names_its_version_zone_and_coverage() {
    let a = cal();
    let text = format!("{a:?}");
    assert!(text.starts_with("WorkingCalendar {"), "{text}");
    for part in [
        format!("{:?}", a.version()),
        "Asia/Jakarta".to_owned(),
        "2025..=2027".to_owned(),
    ] {
        assert!(text.contains(&part), "{part} in {text}");
    }
}

#[test]
fn a_duration_without_a_unit_says_so() {
    let e = "3".parse::<SlaDuration>().unwrap_err();
    assert_eq!(e.reason, "the unit is missing");
    let e = "3 minggu".parse::<SlaDuration>().unwrap_err();
    assert_eq!(
        e.reason,
        "the unit is not one of menit, jam, hari kerja, hari"
    );
    assert!(e.to_string().contains("\"3 hari kerja\""), "{e}");
}
