//! The embedded national holiday data.

use alur_calendar::{
    CalendarConfig, HOLIDAYS_ID_CSV, HolidayKind, NationalHolidays, SlaDuration, WorkingCalendar,
};
use jiff::Timestamp;
use jiff::civil::date;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn every_csv_row_is_parsed() {
    let rows = HOLIDAYS_ID_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    let national = NationalHolidays::embedded().unwrap();
    assert_eq!(national.len(), rows);
    assert_eq!(rows, 79);
    assert_eq!(national.years(), Some((2025, 2027)));
    assert!(
        national
            .holidays()
            .windows(2)
            .all(|w| w[0].date <= w[1].date)
    );
    assert!(national.holidays().iter().all(|h| h.legal_basis.is_some()));
}

#[test]
fn eighteen_august_2025_is_a_holiday() {
    let national = NationalHolidays::embedded().unwrap();
    let h = national
        .holidays()
        .iter()
        .find(|h| h.date == date(2025, 8, 18))
        .unwrap();
    assert_eq!(h.kind, HolidayKind::CollectiveLeave);
    assert!(
        h.legal_basis
            .as_deref()
            .unwrap()
            .starts_with("Perubahan SKB")
    );
    let cal = WorkingCalendar::from_config(1, CalendarConfig::default()).unwrap();
    assert_eq!(cal.is_working_day(date(2025, 8, 18)), Ok(false));
    assert_eq!(
        cal.holiday(date(2025, 8, 18)).map(|h| h.name.as_str()),
        Some("Cuti Bersama Peringatan Proklamasi Kemerdekaan RI")
    );
}

#[test]
fn kinds_per_year() {
    let national = NationalHolidays::embedded().unwrap();
    let count = |year: i16, kind: HolidayKind| {
        national
            .holidays()
            .iter()
            .filter(|h| h.date.year() == year && h.kind == kind)
            .count()
    };
    assert_eq!(count(2025, HolidayKind::NationalHoliday), 17);
    assert_eq!(count(2025, HolidayKind::CollectiveLeave), 11);
    assert_eq!(count(2026, HolidayKind::NationalHoliday), 17);
    assert_eq!(count(2026, HolidayKind::CollectiveLeave), 8);
}

#[test]
fn cuti_bersama_switch() {
    let off = WorkingCalendar::from_config(
        1,
        CalendarConfig {
            cuti_bersama_non_working: false,
            ..CalendarConfig::default()
        },
    )
    .unwrap();
    let on = WorkingCalendar::from_config(1, CalendarConfig::default()).unwrap();
    // Wed 18 Mar 2026 (Nyepi cuti bersama) is a working day when cuti bersama count as working days.
    assert_eq!(off.is_working_day(date(2026, 3, 18)), Ok(true));
    assert_eq!(on.is_working_day(date(2026, 3, 18)), Ok(false));
    assert_eq!(off.holiday(date(2026, 3, 18)), None);
    // Nyepi itself (libur nasional) stays closed.
    assert_eq!(off.is_working_day(date(2026, 3, 19)), Ok(false));
    // Tue 17 day 1, Wed 18 day 2, Fri 20 (cuti bersama) day 3.
    assert_eq!(
        off.due(ts("2026-03-17T09:00:00+07:00"), SlaDuration::WorkingDays(3)),
        Ok(ts("2026-03-20T16:30:00+07:00"))
    );
    // Year end 2025: Wed 24 day 1, Fri 26 day 2, Mon 29 day 3.
    assert_eq!(
        off.due(ts("2025-12-24T10:00:00+07:00"), SlaDuration::WorkingDays(3)),
        Ok(ts("2025-12-29T16:00:00+07:00"))
    );
    assert_ne!(off.version().digest, on.version().digest);
    assert!(
        off.holidays()
            .iter()
            .all(|h| h.kind != HolidayKind::CollectiveLeave)
    );
}
