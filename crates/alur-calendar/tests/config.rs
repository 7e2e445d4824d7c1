//! Calendar configuration from TOML, and its validation.

use alur_calendar::{
    Amendment, CalendarConfig, CalendarError, Coverage, DateRange, DayCounting, SlaDuration,
    WorkingCalendar,
};
use jiff::Timestamp;
use jiff::civil::{date, time};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const FULL: &str = r#"
time_zone = "Asia/Makassar"
cuti_bersama_non_working = true
day_counting = "submission_day"
submission_cutoff = "15:00"
coverage = { first_year = 2025, last_year = 2027 }

[[regional_holidays]]
date = "2026-05-19"
name = "Hari Jadi Kota"
legal_basis = "Perda 1/2020"

[[ramadan]]
start = "2026-02-19"
end = "2026-03-19"

[[amendments]]
action = "remove_holiday"
date = "2026-12-24"
legal_basis = "Perubahan SKB"

[[amendments]]
action = "add_holiday"
date = "2026-12-31"
name = "Cuti Bersama Tahun Baru"
kind = "cuti_bersama"

[hours]
senin = { start = "07:30", end = "16:00", breaks = [{ start = "12:00", end = "13:00" }] }
tuesday = { start = "07:30", end = "16:00", breaks = [{ start = "12:00", end = "13:00" }] }
wednesday = { start = "07:30", end = "16:00", breaks = [{ start = "12:00", end = "13:00" }] }
thursday = { start = "07:30", end = "16:00", breaks = [{ start = "12:00", end = "13:00" }] }
jumat = { start = "07:30", end = "16:30", breaks = [{ start = "11:30", end = "13:00" }] }
saturday = { start = "08:00", end = "12:00" }
"#;

#[test]
fn full_config_parses_and_round_trips() {
    let config: CalendarConfig = toml::from_str(FULL).unwrap();
    assert_eq!(config.time_zone, "Asia/Makassar");
    assert_eq!(config.submission_cutoff, Some(time(15, 0, 0, 0)));
    assert_eq!(
        config.coverage,
        Some(Coverage {
            first_year: 2025,
            last_year: 2027
        })
    );
    assert_eq!(
        config.ramadan,
        vec![DateRange {
            start: date(2026, 2, 19),
            end: date(2026, 3, 19)
        }]
    );
    assert!(matches!(
        config.amendments[0],
        Amendment::RemoveHoliday { .. }
    ));
    assert!(config.hours.saturday.is_some() && config.hours.sunday.is_none());
    let again: CalendarConfig = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
    assert_eq!(again, config);

    let cal = WorkingCalendar::from_config(7, config).unwrap();
    assert_eq!(cal.version().number, 7);
    assert_eq!(cal.is_working_day(date(2026, 5, 19)), Ok(false));
    assert_eq!(cal.is_working_day(date(2026, 12, 24)), Ok(true));
    assert_eq!(cal.is_working_day(date(2026, 12, 31)), Ok(false));
    assert_eq!(cal.is_working_day(date(2026, 1, 10)), Ok(true), "saturday");
    // Cutoff 15:00: Tue 17 Mar 2026 at 15:30 WITA counts from Wed 25.
    assert_eq!(
        cal.working_day_one(ts("2026-03-17T15:30:00+08:00")),
        Ok(date(2026, 3, 25))
    );
    assert_eq!(
        cal.working_day_one(ts("2026-03-17T14:59:00+08:00")),
        Ok(date(2026, 3, 17))
    );
}

#[test]
fn empty_config_is_the_default() {
    let config: CalendarConfig = toml::from_str("").unwrap();
    assert_eq!(config, CalendarConfig::default());
    assert_eq!(config.time_zone, "Asia/Jakarta");
    assert!(config.cuti_bersama_non_working);
    assert_eq!(config.day_counting, DayCounting::SubmissionDay);
}

#[test]
fn unknown_keys_are_rejected() {
    for bad in [
        "timezone = \"Asia/Jakarta\"",
        "[hours]\nmonday = { start = \"07:30\", end = \"16:00\", pause = [] }",
        "[hours]\nmonday2 = { start = \"07:30\", end = \"16:00\" }",
        "[[regional_holidays]]\ndate = \"2026-05-19\"\nname = \"X\"\ntype = \"x\"",
        "[[amendments]]\naction = \"remove_holiday\"\ndate = \"2026-12-24\"\nname = \"X\"",
        "[[amendments]]\naction = \"rename_holiday\"\ndate = \"2026-12-24\"",
        "day_counting = \"whenever\"",
    ] {
        assert!(toml::from_str::<CalendarConfig>(bad).is_err(), "{bad}");
    }
}

#[test]
fn next_working_day_convention() {
    let config: CalendarConfig = toml::from_str("day_counting = \"next_working_day\"").unwrap();
    let cal = WorkingCalendar::from_config(1, config).unwrap();
    // Day 1 is Wed 25 Mar 2026, day 3 Fri 27.
    assert_eq!(
        cal.due(ts("2026-03-17T09:00:00+07:00"), SlaDuration::WorkingDays(3)),
        Ok(ts("2026-03-27T16:30:00+07:00"))
    );
}

fn build(toml_text: &str) -> Result<WorkingCalendar, CalendarError> {
    let config: CalendarConfig = toml::from_str(toml_text).unwrap();
    WorkingCalendar::from_config(1, config)
}

#[test]
fn invalid_configurations_say_where() {
    let err = build(
        "[hours]\nfriday = { start = \"07:30\", end = \"16:30\", breaks = [{ start = \"16:00\", end = \"17:00\" }] }",
    )
    .unwrap_err();
    match &err {
        CalendarError::InvalidHours { path, .. } => assert_eq!(path, "hours.friday.breaks[0]"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        build("time_zone = \"Asia/Jakartaa\""),
        Err(CalendarError::UnknownTimeZone { .. })
    ));
    assert!(matches!(
        build("time_zone = \"Europe/Berlin\""),
        Err(CalendarError::VariableOffset { .. })
    ));
    assert!(matches!(
        build("[[ramadan]]\nstart = \"2026-03-19\"\nend = \"2026-02-19\""),
        Err(CalendarError::InvalidConfig { path, .. }) if path == "ramadan[0]"
    ));
    assert!(matches!(
        build("[[ramadan]]\nstart = \"2026-02-19\"\nend = \"2026-12-19\""),
        Err(CalendarError::InvalidConfig { .. })
    ));
    assert!(matches!(
        build("[[amendments]]\naction = \"remove_holiday\"\ndate = \"2026-12-23\""),
        Err(CalendarError::InvalidConfig { path, .. }) if path == "amendments[0]"
    ));
    assert!(matches!(
        build("coverage = { first_year = 2027, last_year = 2025 }"),
        Err(CalendarError::InvalidConfig { path, .. }) if path == "coverage"
    ));
    assert!(matches!(
        build("[[regional_holidays]]\ndate = \"2026-05-19\"\nname = \" \""),
        Err(CalendarError::InvalidConfig { .. })
    ));
    // Messages are lowercase and say what to do.
    let msg = err.to_string();
    assert!(msg.starts_with("invalid working hours"), "{msg}");
}

#[test]
fn coverage_can_be_widened_explicitly() {
    let cal = build("coverage = { first_year = 2025, last_year = 2030 }").unwrap();
    assert_eq!(cal.coverage(), (2025, 2030));
    assert_eq!(cal.is_working_day(date(2030, 1, 2)), Ok(true));
}
