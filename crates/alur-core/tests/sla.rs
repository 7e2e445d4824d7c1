//! Deadlines in working time through the engine, paused clocks, timers that act (reminders,
//! escalation, deemed approval) fired exactly once by one or two schedulers, and recomputation
//! after a calendar amendment.

use std::sync::Arc;

use alur_calendar::Amendment;
use alur_core::engine::{Actor, Command, EventKind, Payload};
use alur_core::model::{ClockStart, Outcome};
use alur_core::store::Store;
use alur_core::{Engine, ManualClock, MemoryStore, Scheduler, Status};
use alur_testkit::{act, domisili, pseudonymizer, ts};
use jiff::SignedDuration;

/// Domicile with the published time changed to 3 working days counted from submission.
async fn engine_3_days(store: MemoryStore, at: &str) -> (Engine<MemoryStore>, Arc<ManualClock>) {
    let mut config = alur_testkit::kepri();
    let mut def = config.services["batam-domisili"].as_ref().clone();
    def.completion_time = "3 hari kerja".parse().unwrap();
    def.clock_starts = ClockStart::Submitted;
    def.digest = alur_core::config::definition_digest(&def);
    config.services.insert(def.id.clone(), Arc::new(def));
    let clock = Arc::new(ManualClock::new(ts(at)));
    let e = Engine::new(config, store, clock.clone(), pseudonymizer())
        .await
        .unwrap();
    (e, clock)
}

fn wib(s: &str) -> jiff::Timestamp {
    format!("{s}+07:00").parse().unwrap()
}

#[tokio::test]
async fn worked_examples_through_the_engine() {
    // Tue 17 March 2026 09:00 WIB, 3 working days; offices closed 18–24 March (Nyepi, Idulfitri).
    let (e, _) = engine_3_days(MemoryStore::new(), "2026-03-17T02:00:00Z").await;
    let c = e.submit(domisili(1), None).await.unwrap();
    assert_eq!(c.due_at, Some(wib("2026-03-26T16:00:00")));
    assert!(c.calendar_version.as_deref().unwrap().starts_with("1@"));
    // The step SLA (1 working hour) is due at 10:00 the same day.
    assert_eq!(c.step_due_at, Some(wib("2026-03-17T10:00:00")));
    // Wed 24 December 2025, 3 working days → Tue 30 December.
    let (e, _) = engine_3_days(MemoryStore::new(), "2025-12-24T02:00:00Z").await;
    let c = e.submit(domisili(2), None).await.unwrap();
    assert_eq!(
        c.due_at.map(|d| jiff::tz::TimeZone::get("Asia/Jakarta")
            .unwrap()
            .to_datetime(d)
            .date()),
        Some(jiff::civil::date(2025, 12, 30))
    );
}

#[tokio::test]
async fn waiting_for_the_applicant_pauses_the_clock_exactly() {
    let (e, clock) = engine_3_days(MemoryStore::new(), "2026-04-06T02:00:00Z").await; // Mon 09:00
    let c = e.submit(domisili(3), None).await.unwrap();
    let due0 = c.due_at.unwrap();
    assert_eq!(due0, wib("2026-04-08T16:00:00"));
    clock.set(wib("2026-04-06T10:00:00"));
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "belum-lengkap"), None)
        .await
        .unwrap();
    assert!(c.paused_since.is_some());
    assert!(c.step_due_at.is_none());
    assert!(
        e.store().timers("kepri", &c.id).await.unwrap().is_empty(),
        "no timers while paused"
    );
    // The applicant comes back the next day at 10:00: exactly one working day (7.5 h) paused.
    clock.set(wib("2026-04-07T10:00:00"));
    let resume = Command::Act {
        actor: Actor::Applicant(alur_testkit::applicant(3)),
        action: "kirim-ulang".into(),
        seen_version: c.version,
        checked: Default::default(),
        payload: Payload::default(),
    };
    let c = e.execute(&c.id, resume, None).await.unwrap();
    assert_eq!(c.pauses.len(), 1);
    assert_eq!(c.due_at, Some(wib("2026-04-09T16:00:00")));
    let cal = e.calendars();
    let cal = cal.for_unit("21.71.10.1001");
    assert_eq!(
        cal.working_minutes_between(due0, c.due_at.unwrap())
            .unwrap(),
        450
    );
}

async fn kinds(e: &Engine<MemoryStore>, case: &str) -> Vec<String> {
    e.store()
        .entries("kepri", case)
        .await
        .unwrap()
        .iter()
        .map(|x| match &x.event {
            EventKind::Reminded { percent, .. } => format!("reminder {percent}"),
            EventKind::StepBreached { escalated_to, .. } => {
                format!("step-breach {}", escalated_to.clone().unwrap_or_default())
            }
            EventKind::Breached { escalated_to, .. } => {
                format!("breach {}", escalated_to.clone().unwrap_or_default())
            }
            EventKind::DeemedApproved { .. } => "deemed".into(),
            other => format!("{other:?}")
                .split([' ', '{'])
                .next()
                .unwrap()
                .to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn reminders_and_breaches_fire_once_in_order_across_a_restart() {
    // Domicile as configured: 1 working day from the file being complete, step SLAs, escalation to the camat.
    let (e, clock) = alur_testkit::engine(MemoryStore::new()).await; // Tue 17 Mar 2026 09:00 WIB
    let c = e.submit(domisili(4), None).await.unwrap();
    let e = Arc::new(e);
    let s = Scheduler::new(e.clone(), "a");
    // 09:30: the 50 % reminder of the 1-hour verification step.
    clock.set(wib("2026-03-17T09:30:00"));
    assert_eq!(s.drain().await.unwrap().fired, 1);
    assert_eq!(s.drain().await.unwrap().fired, 0, "nothing fires twice");
    // Restart: a new engine and scheduler over the same store.
    drop(s);
    let store = Arc::try_unwrap(e).ok().unwrap().into_store();
    let clock = Arc::new(ManualClock::new(wib("2026-03-17T10:30:00")));
    let e = Arc::new(
        Engine::new(alur_testkit::kepri(), store, clock.clone(), pseudonymizer())
            .await
            .unwrap(),
    );
    let s = Scheduler::new(e.clone(), "b");
    let t = s.drain().await.unwrap();
    assert_eq!(
        t.fired, 2,
        "80 % reminder and the step breach, late but once"
    );
    assert_eq!(
        kinds(&e, &c.id).await,
        [
            "Submitted",
            "reminder 50",
            "reminder 80",
            "step-breach camat@21.71.10"
        ]
    );
    // The operator completes the check: the service clock starts (1 working day), new timers.
    // 17 March 2026 is in Ramadan: the Kepri offices close at 15:00.
    let c = e.case(&c.id).await.unwrap().unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap();
    assert_eq!(c.due_at, Some(wib("2026-03-17T15:00:00")));
    // Nobody acts; by the next morning everything has fired, each once, in time order.
    clock.set(wib("2026-03-25T08:00:00"));
    s.drain().await.unwrap();
    clock.set(wib("2026-03-26T08:00:00"));
    s.drain().await.unwrap();
    let k = kinds(&e, &c.id).await;
    assert_eq!(
        &k[5..],
        [
            "reminder 50",
            "reminder 80",
            "step-breach camat@21.71.10",
            "breach camat@21.71.10"
        ]
    );
    let c = e.case(&c.id).await.unwrap().unwrap();
    assert!(c.breached);
    let out = e.store().pending_outbox("kepri", 100).await.unwrap();
    assert!(
        out.iter()
            .any(|m| m.template == "supervisor.breach" && m.recipient == "role:camat@21.71.10")
    );
    assert!(
        out.iter()
            .any(|m| m.template == "officer.reminder" && m.recipient == "role:kasi@21.71.10.1001")
    );
    // Timers of a moved case are replaced, never left to fire late.
    assert!(e.store().timers("kepri", &c.id).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_sharing_a_store_fire_each_timer_once() {
    let (e, clock) = alur_testkit::engine(MemoryStore::new()).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(e.submit(domisili(100 + n), None).await.unwrap().id);
    }
    let e = Arc::new(e);
    clock.set(wib("2026-03-17T12:00:00"));
    let a = Scheduler::new(e.clone(), "a").batch(7);
    let b = Scheduler::new(e.clone(), "b").batch(7);
    let (ta, tb) = tokio::join!(async { a.drain().await.unwrap() }, async {
        b.drain().await.unwrap()
    });
    // Leftovers (a scheduler that lost every race stops early, or waited for an earlier timer
    // of a case that the other had claimed) are picked up by the next ticks.
    for _ in 0..20 {
        let (x, y) = (a.drain().await.unwrap(), b.drain().await.unwrap());
        if x.claimed + y.claimed == 0 {
            break;
        }
    }
    assert!(ta.fired + tb.fired > 0);
    for id in &ids {
        assert_eq!(
            kinds(&e, id).await,
            [
                "Submitted",
                "reminder 50",
                "reminder 80",
                "step-breach camat@21.71.10"
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tick_fires_many_cases_at_once_and_each_case_in_order() {
    let (e, clock) = alur_testkit::engine(MemoryStore::new()).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(e.submit(domisili(300 + n), None).await.unwrap().id);
    }
    let e = Arc::new(e);
    clock.set(wib("2026-03-17T12:00:00"));
    let tick = Scheduler::new(e.clone(), "a")
        .batch(1000)
        .concurrency(8)
        .tick()
        .await
        .unwrap();
    assert_eq!((tick.claimed, tick.fired, tick.skipped), (120, 120, 0));
    for id in &ids {
        assert_eq!(
            kinds(&e, id).await,
            [
                "Submitted",
                "reminder 50",
                "reminder 80",
                "step-breach camat@21.71.10"
            ]
        );
    }
}

#[tokio::test]
async fn deemed_approval_completes_the_case_with_its_legal_basis() {
    let (e, clock) = alur_testkit::engine(MemoryStore::new()).await;
    let mut s = domisili(5);
    s.service = "natuna-keterangan-pindah".into();
    s.unit = "21.03.07".into();
    s.payload.fields.clear();
    let def = e.service("natuna-keterangan-pindah").unwrap().clone();
    let c = e.submit(s, None).await.unwrap();
    // Operator finds the file complete; the kasi pelayanan then checks (the clock starts there).
    let first = &def.steps[0];
    let forward = first
        .actions
        .iter()
        .find(|a| matches!(a.target, alur_core::model::Target::Step(_)))
        .unwrap();
    let cmd = Command::Act {
        actor: Actor::Officer("bunguran-operator".into()),
        action: forward.id.clone(),
        seen_version: c.version,
        checked: def.requirements.iter().map(|r| r.id.clone()).collect(),
        payload: Payload {
            fields: def
                .fields
                .iter()
                .map(|f| (f.id.clone(), "x".into()))
                .collect(),
            ..Payload::default()
        },
    };
    let c = e.execute(&c.id, cmd, None).await.unwrap();
    let due = c.due_at.expect("clock started");
    let e = Arc::new(e);
    clock.set(due.checked_add(SignedDuration::from_mins(1)).unwrap());
    Scheduler::new(e.clone(), "a").drain().await.unwrap();
    let c = e.case(&c.id).await.unwrap().unwrap();
    assert_eq!(c.status, Status::Closed(Outcome::Completed));
    assert!(c.deemed_approved);
    let last = e
        .store()
        .entries("kepri", &c.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(last.legal_basis.as_deref().unwrap().contains("UU 30/2014"));
    assert_eq!(last.actor.kind, "system");
}

#[tokio::test]
async fn a_calendar_amendment_recomputes_open_deadlines_and_records_it() {
    let (e, _) = engine_3_days(MemoryStore::new(), "2026-04-06T02:00:00Z").await; // Mon 6 Apr 2026
    let c = e.submit(domisili(6), None).await.unwrap();
    assert_eq!(c.due_at, Some(wib("2026-04-08T16:00:00")));
    let closed = e.submit(domisili(7), None).await.unwrap();
    let closed = e
        .execute(&closed.id, act(&closed, "baloi-operator", "tolak"), None)
        .await
        .unwrap();
    // The regency declares Tue 7 April 2026 a regional holiday.
    let amended = e
        .calendars()
        .amend(Amendment::AddHoliday {
            date: jiff::civil::date(2026, 4, 7),
            name: "Libur daerah (uji)".into(),
            kind: alur_calendar::HolidayKind::Regional,
            legal_basis: Some("Keputusan Wali Kota (uji)".into()),
        })
        .unwrap();
    let report = e.amend_calendars(amended).await.unwrap();
    assert_eq!(report.changed, 1);
    let c = e.case(&c.id).await.unwrap().unwrap();
    assert_eq!(c.due_at, Some(wib("2026-04-09T16:00:00")));
    assert!(c.calendar_version.as_deref().unwrap().starts_with("2@"));
    let last = e
        .store()
        .entries("kepri", &c.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.event, EventKind::DeadlineRecomputed);
    assert!(last.calendar_version.as_deref().unwrap().starts_with("2@"));
    assert_eq!(
        e.case(&closed.id).await.unwrap().unwrap(),
        closed,
        "closed cases keep their record"
    );
    // The amendment itself is in the tenant's configuration chain, naming both versions.
    let config = e
        .store()
        .entries("kepri", alur_core::config_log::CONFIG_CHAIN)
        .await
        .unwrap();
    let amended_entries: Vec<_> = config
        .iter()
        .filter_map(|x| match &x.event {
            EventKind::CalendarInForce {
                unit: None,
                previous,
                calendar,
            } => Some((previous.clone(), calendar.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(amended_entries.len(), 2, "{amended_entries:?}");
    assert!(amended_entries[0].0.is_none());
    assert_eq!(amended_entries[1].0.as_ref(), Some(&amended_entries[0].1));
    assert!(amended_entries[1].1.starts_with("2@"));
    alur_core::audit::verify_chain(&config).unwrap();
    // Amending again with nothing new changes nothing.
    let report = e.amend_calendars((*e.calendars()).clone()).await.unwrap();
    assert_eq!(report.changed, 0);
    let again = e
        .store()
        .entries("kepri", alur_core::config_log::CONFIG_CHAIN)
        .await
        .unwrap();
    assert_eq!(again.len(), config.len(), "nothing new to record");
}
