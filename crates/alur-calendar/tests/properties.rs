//! Properties of deadline arithmetic over random starts, durations, zones and holidays.

use std::sync::OnceLock;
use std::time::Duration;

use alur_calendar::{
    Amendment, CalendarConfig, DateRange, HolidayKind, SlaDuration, WorkingCalendar,
};
use jiff::Timestamp;
use jiff::civil::date;
use proptest::prelude::*;

const ZONES: [&str; 3] = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"];

fn calendars() -> &'static [WorkingCalendar; 3] {
    static CALS: OnceLock<[WorkingCalendar; 3]> = OnceLock::new();
    CALS.get_or_init(|| {
        ZONES.map(|zone| {
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
                ..CalendarConfig::in_zone(zone)
            };
            WorkingCalendar::from_config(1, config).unwrap()
        })
    })
}

/// 2025-01-01 to mid-2027 in seconds, so every deadline below stays inside the coverage.
fn start() -> impl Strategy<Value = Timestamp> {
    let lo = "2025-01-01T00:00:00+07:00"
        .parse::<Timestamp>()
        .unwrap()
        .as_second();
    let hi = lo + 900 * 86_400;
    (lo..hi, 0..1_000_000_000i32).prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap())
}

fn sla() -> impl Strategy<Value = SlaDuration> {
    prop_oneof![
        (1u32..=20_000).prop_map(SlaDuration::Minutes),
        (1u32..=300).prop_map(SlaDuration::Hours),
        (1u32..=60).prop_map(SlaDuration::WorkingDays),
        (0u32..=150).prop_map(SlaDuration::CalendarDays),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_deadline_is_never_before_its_start(z in 0usize..3, t in start(), d in sla()) {
        let cal = &calendars()[z];
        let due = cal.due(t, d).unwrap();
        prop_assert!(due >= t, "{t} + {d} = {due}");
    }

    #[test]
    fn adding_a_holiday_never_makes_a_deadline_earlier(
        z in 0usize..3,
        t in start(),
        d in sla(),
        offset in 0i64..1000,
    ) {
        let cal = &calendars()[z];
        let day = date(2025, 1, 1).checked_add(jiff::Span::new().days(offset)).unwrap();
        let amended = cal
            .amend(2, Amendment::AddHoliday {
                date: day,
                name: "Libur Uji".into(),
                kind: HolidayKind::Regional,
                legal_basis: None,
            })
            .unwrap();
        let before = cal.due(t, d).unwrap();
        match amended.due(t, d) {
            Ok(after) => prop_assert!(after >= before, "{day}: {before} -> {after}"),
            // A later deadline may now fall past the horizon; that is not earlier either.
            Err(e) => {
                let beyond = matches!(e, alur_calendar::CalendarError::BeyondCoverage { .. });
                prop_assert!(beyond, "{e}");
            }
        }
    }

    #[test]
    fn pausing_moves_the_deadline_by_exactly_the_paused_working_minutes(
        z in 0usize..3,
        t in start(),
        d in sla(),
        paused in 0u64..5_000,
    ) {
        let cal = &calendars()[z];
        let due = cal.due(t, d).unwrap();
        let extended = cal.extend(due, paused).unwrap();
        prop_assert!(extended >= due);
        prop_assert_eq!(
            cal.working_time_between(due, extended).unwrap(),
            Duration::from_secs(paused * 60)
        );
        prop_assert_eq!(cal.working_minutes_between(due, extended).unwrap(), paused);
    }

    #[test]
    fn a_pause_measured_between_two_instants_is_restored_exactly(
        z in 0usize..3,
        t in start(),
        a in 0u64..3_000,
        b in 0u64..3_000,
    ) {
        // A clock paused from p to q (arbitrary instants) owes exactly working_time_between(p, q).
        let cal = &calendars()[z];
        let p = cal.add_working_minutes(t, a).unwrap();
        let q = p.checked_add(jiff::SignedDuration::from_mins(i64::try_from(b).unwrap() * 7)).unwrap();
        let owed = cal.working_time_between(p, q).unwrap();
        let due = cal.due(t, SlaDuration::WorkingDays(5)).unwrap();
        let moved = cal.add_working_time(due, owed).unwrap();
        prop_assert_eq!(cal.working_time_between(due, moved).unwrap(), owed);
    }

    #[test]
    fn splitting_a_minute_duration_and_chaining_gives_the_same_deadline(
        z in 0usize..3,
        t in start(),
        a in 0u32..10_000,
        b in 0u32..10_000,
    ) {
        let cal = &calendars()[z];
        let whole = cal.due(t, SlaDuration::Minutes(a + b)).unwrap();
        let first = cal.due(t, SlaDuration::Minutes(a)).unwrap();
        let chained = cal.due(first, SlaDuration::Minutes(b)).unwrap();
        prop_assert_eq!(whole, chained);
        prop_assert_eq!(
            cal.working_minutes_between(t, whole).unwrap(),
            u64::from(a + b)
        );
    }

    #[test]
    fn working_day_deadlines_are_at_close_of_business_of_a_working_day(
        z in 0usize..3,
        t in start(),
        n in 1u32..60,
    ) {
        let cal = &calendars()[z];
        let due = cal.due(t, SlaDuration::WorkingDays(n)).unwrap();
        let local = cal.time_zone().to_datetime(due).date();
        prop_assert_eq!(cal.is_working_day(local), Ok(true));
        prop_assert_eq!(cal.close_of_business(local), Ok(Some(due)));
        // One more working day is strictly later.
        prop_assert!(cal.due(t, SlaDuration::WorkingDays(n + 1)).unwrap() > due);
    }
}
