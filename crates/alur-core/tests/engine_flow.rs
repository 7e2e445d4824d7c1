//! End-to-end flows through the engine runtime on the in-memory store, using the Kepri example.

use std::collections::BTreeSet;

use alur_core::engine::{Actor, Command, Payload};
use alur_core::model::Outcome;
use alur_core::store::Store;
use alur_core::{ErrorKind, MemoryStore, Nik, Status};
use alur_testkit::{act, domisili, engine, pseudonymizer, ts};

#[tokio::test]
async fn domicile_letter_signed_by_plh_lurah_with_return_to_applicant() {
    let (e, clock) = engine(MemoryStore::new()).await;
    let mut s = domisili(1);
    s.conditions = BTreeSet::from(["pendatang".to_owned()]);
    let c = e.submit(s, None).await.unwrap();
    assert_eq!(c.status, Status::Open("verifikasi".into()));
    assert!(
        c.clock_started_at.is_none(),
        "the clock starts when the file is complete"
    );

    // Newcomer: the domicile letter from the previous place is required.
    let err = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("domisili-asal"), "{}", err.message());

    // Return as incomplete without a reason: refused; with a reason: back to the applicant.
    let no_reason = Command::Act {
        actor: Actor::Officer("baloi-operator".into()),
        action: "belum-lengkap".into(),
        seen_version: c.version,
        checked: BTreeSet::new(),
        payload: Payload::default(),
    };
    assert_eq!(
        e.execute(&c.id, no_reason, None).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "belum-lengkap"), None)
        .await
        .unwrap();
    assert_eq!(c.status, Status::Open("lengkapi".into()));
    assert!(
        c.pending.as_ref().unwrap().roles.is_empty(),
        "waiting for the applicant"
    );
    // Officers cannot act while the applicant holds the file.
    assert_eq!(
        e.execute(&c.id, act(&c, "baloi-operator", "kirim-ulang"), None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    // Another person cannot act as the applicant.
    let other = Command::Act {
        actor: Actor::Applicant(alur_testkit::applicant(2)),
        action: "kirim-ulang".into(),
        seen_version: c.version,
        checked: BTreeSet::new(),
        payload: Payload::default(),
    };
    assert_eq!(
        e.execute(&c.id, other, None).await.unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    let resubmit = Command::Act {
        actor: Actor::Applicant(alur_testkit::applicant(1)),
        action: "kirim-ulang".into(),
        seen_version: c.version,
        checked: BTreeSet::new(),
        payload: Payload::default(),
    };
    let c = e.execute(&c.id, resubmit, None).await.unwrap();
    assert_eq!(c.status, Status::Open("verifikasi".into()));
    assert_eq!(c.returns, 1);

    let mut full = act(&c, "baloi-operator", "lengkap");
    if let Command::Act { checked, .. } = &mut full {
        checked.insert("domisili-asal".into());
    }
    clock.advance(jiff::SignedDuration::from_mins(20));
    let c = e.execute(&c.id, full, None).await.unwrap();
    assert_eq!(c.status, Status::Open("paraf-kasi".into()));
    assert!(c.clock_started_at.is_some());
    let c = e
        .execute(&c.id, act(&c, "baloi-kasi", "paraf"), None)
        .await
        .unwrap();

    // The lurah's own unit is right but the lurah is on leave: his Plh. signs (mandate valid 16–27 March).
    let c = e
        .execute(&c.id, act(&c, "baloi-sekel", "tandatangani"), None)
        .await
        .unwrap();
    assert_eq!(c.status, Status::Closed(Outcome::Completed));
    let timeline = e.timeline(&c.id).await.unwrap();
    let last = &timeline.last().unwrap().entry;
    assert_eq!(last.actor.on_behalf_of.as_deref(), Some("baloi-lurah"));
    assert_eq!(
        last.actor.mandate_ref.as_deref(),
        Some("800.1.11.1/12/21.71.10.1001/III/2026")
    );
    let line = alur_core::audit::describe(last, e.config());
    assert!(line.contains("Plh. Lurah, atas nama Ahmad Fauzi"), "{line}");
    assert!(line.contains("berdasarkan mandat 800.1.11.1/12"), "{line}");

    // Closed: nothing more.
    assert_eq!(
        e.execute(&c.id, act(&c, "baloi-lurah", "tandatangani"), None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidTransition
    );
    // Outbox: received, returned, completed for the applicant, in order.
    let out = e.store().pending_outbox("kepri", 10).await.unwrap();
    let templates: Vec<&str> = out.iter().map(|m| m.template.as_str()).collect();
    assert_eq!(
        templates,
        ["case.received", "case.returned", "case.completed"]
    );
}

#[tokio::test]
async fn separation_of_duties_holds_through_delegation() {
    let (e, clock) = engine(MemoryStore::new()).await;
    // In December 2025 the kasi was Plh. Lurah. He verifies nothing here but initials; he may not then sign.
    clock.set(ts("2025-12-23T02:00:00Z"));
    let c = e.submit(domisili(3), None).await.unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-kasi", "paraf"), None)
        .await
        .unwrap();
    let err = e
        .execute(&c.id, act(&c, "baloi-kasi", "tandatangani"), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::SeparationOfDuties,
        "{}",
        err.message()
    );
    // The lurah himself may sign.
    let c = e
        .execute(&c.id, act(&c, "baloi-lurah", "tandatangani"), None)
        .await
        .unwrap();
    assert!(!c.status.is_open());
    let denials = e.store().denials("kepri").await.unwrap();
    assert_eq!(denials.len(), 1);
    assert!(denials[0].reason.contains("separation of duties"));
}

#[tokio::test]
async fn expired_mandate_grants_nothing() {
    let (e, clock) = engine(MemoryStore::new()).await;
    clock.set(ts("2026-04-01T02:00:00Z"));
    let c = e.submit(domisili(4), None).await.unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-kasi", "paraf"), None)
        .await
        .unwrap();
    let err = e
        .execute(&c.id, act(&c, "baloi-sekel", "tandatangani"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    // The mandate's last day counts (local date in WIB): 27 March 23:00 WIB is still inside.
    clock.set(ts("2026-03-27T16:00:00Z"));
    assert!(
        e.execute(&c.id, act(&c, "baloi-sekel", "tandatangani"), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn nobody_acts_on_their_own_case() {
    let (e, _) = engine(MemoryStore::new()).await;
    let mut s = domisili(5);
    // The operator applies for herself.
    s.applicant = pseudonymizer().person(&Nik::parse("2171105203900001").unwrap());
    let c = e.submit(s, None).await.unwrap();
    let err = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeparationOfDuties);
    assert!(
        e.inbox("baloi-operator", 10).await.unwrap().is_empty(),
        "own case is not in the inbox"
    );
}

#[tokio::test]
async fn withdraw_claim_assign_comment() {
    let (e, _) = engine(MemoryStore::new()).await;
    let c = e.submit(domisili(6), None).await.unwrap();
    let c = e
        .execute(
            &c.id,
            Command::Claim {
                actor: Actor::Officer("baloi-operator".into()),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(c.assignee.as_deref(), Some("baloi-operator"));
    let bad = Command::Assign {
        actor: Actor::Officer("baloi-operator".into()),
        to: "tamanbaloi-operator".into(),
    };
    assert_eq!(
        e.execute(&c.id, bad, None).await.unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    let note = Command::Comment {
        actor: Actor::Officer("baloi-kasi".into()),
        payload: Payload {
            text: Some("x".into()),
            ..Payload::default()
        },
    };
    assert_eq!(
        e.execute(&c.id, note, None).await.unwrap_err().kind(),
        ErrorKind::Forbidden,
        "kasi does not handle this step"
    );
    let note = Command::Comment {
        actor: Actor::Applicant(alur_testkit::applicant(6)),
        payload: Payload {
            text: Some("Mohon dipercepat".into()),
            ..Payload::default()
        },
    };
    let c = e.execute(&c.id, note, None).await.unwrap();
    let w = Command::Withdraw {
        actor: Actor::Officer("baloi-operator".into()),
        payload: Payload::default(),
    };
    assert_eq!(
        e.execute(&c.id, w, None).await.unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    let w = Command::Withdraw {
        actor: Actor::Applicant(alur_testkit::applicant(6)),
        payload: Payload::default(),
    };
    let c = e.execute(&c.id, w, None).await.unwrap();
    assert_eq!(c.status, Status::Closed(Outcome::Withdrawn));
    assert_eq!(c.version, 4);
}

#[tokio::test]
async fn replaying_audit_entries_rebuilds_every_case() {
    let (e, _) = engine(MemoryStore::new()).await;
    for n in 0..5 {
        let c = e.submit(domisili(100 + n), None).await.unwrap();
        let c = e
            .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
            .await
            .unwrap();
        if n % 2 == 0 {
            e.execute(&c.id, act(&c, "baloi-kasi", "paraf"), None)
                .await
                .unwrap();
        }
    }
    let regions = alur_core::region::RegionIndex::embedded().unwrap();
    for c in e.search(&Default::default()).await.unwrap() {
        let def = e.service(&c.service).unwrap();
        let entries = e.store().entries("kepri", &c.id).await.unwrap();
        let events: Vec<_> = entries.iter().map(|x| x.to_event()).collect();
        let rebuilt = alur_core::engine::replay(def, regions, &c.id, "kepri", &events)
            .unwrap()
            .unwrap();
        assert_eq!(rebuilt, c);
    }
}

#[tokio::test]
async fn changed_definition_makes_a_new_version_and_running_cases_keep_theirs() {
    let store = MemoryStore::new();
    let (e, _) = engine(store).await;
    let c = e.submit(domisili(7), None).await.unwrap();
    assert_eq!(c.definition_version, 1);
    // Reload with a changed definition on the same store.
    let store = Engine::into_store(e);
    let mut config = alur_testkit::kepri();
    let mut def = config.services["batam-domisili"].as_ref().clone();
    def.steps[0].sla = Some("30 menit".parse().unwrap());
    def.digest = alur_core::config::definition_digest(&def);
    config
        .services
        .insert(def.id.clone(), std::sync::Arc::new(def));
    let clock = std::sync::Arc::new(alur_core::ManualClock::new(ts("2026-03-17T03:00:00Z")));
    let e = alur_core::Engine::new(config, store, clock, pseudonymizer())
        .await
        .unwrap();
    assert_eq!(e.service("batam-domisili").unwrap().version, 2);
    let c2 = e.submit(domisili(8), None).await.unwrap();
    assert_eq!(c2.definition_version, 2);
    // The old case continues on version 1.
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap();
    assert_eq!(c.definition_version, 1);
    let v1 = e
        .store()
        .definition("kepri", "batam-domisili", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v1.steps[0].sla, Some("1 jam".parse().unwrap()));
}

use alur_core::Engine;

#[test]
fn definitions_round_trip_through_json_for_stores() {
    let config = alur_testkit::kepri();
    for def in config.services.values() {
        let json = serde_json::to_string(def.as_ref()).unwrap();
        let back: alur_core::ServiceDefinition = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, def.as_ref());
        assert_eq!(alur_core::config::definition_digest(&back), def.digest);
    }
}

/// The decision to erase personal data: only for a closed case last changed before the cutoff,
/// with a legal basis and the case's own entries named once each, ascending.
#[test]
fn erasure_is_decided_only_for_closed_cases_past_the_cutoff() {
    use alur_core::engine::{self, Context, EventKind, RefusalKind};
    let config = alur_testkit::kepri();
    let regions = alur_core::region::RegionIndex::embedded().unwrap();
    let persons = Default::default();
    let ctx = Context {
        config: &config,
        regions,
        officer_persons: &persons,
        calendars: &config.calendars,
    };
    let def = &config.services["batam-domisili"];
    let now = ts("2026-03-17T02:00:00Z");
    let sub = domisili(1);
    let submit = Command::Submit {
        case_id: "c".into(),
        service: sub.service,
        unit: sub.unit,
        applicant: sub.applicant,
        conditions: sub.conditions,
        payload: sub.payload,
    };
    let ev = engine::decide(&ctx, def, None, &submit, now).unwrap();
    let open = engine::apply(def, regions, None, "c", "kepri", &ev[0]).unwrap();
    let erase = |seqs: Vec<u64>, basis: &str, changed_before| Command::ErasePersonalData {
        legal_basis: basis.into(),
        seqs,
        changed_before,
    };
    let later = ts("2031-03-18T00:00:00Z");
    let refused = |case: &alur_core::Case, cmd: Command| {
        engine::decide(&ctx, def, Some(case), &cmd, later)
            .unwrap_err()
            .kind
    };
    assert_eq!(
        refused(&open, erase(vec![1], "B", later)),
        RefusalKind::InvalidTransition,
        "an open case keeps its data"
    );
    let reject = act(&open, "baloi-operator", "tolak");
    let mut closed = open.clone();
    for e in engine::decide(&ctx, def, Some(&open), &reject, now).unwrap() {
        closed = engine::apply(def, regions, Some(closed), "c", "kepri", &e).unwrap();
    }
    assert!(!closed.status.is_open());
    assert_eq!(closed.version, 2);
    let changed = closed.updated_at;
    assert_eq!(
        refused(&closed, erase(vec![1, 2], "B", changed)),
        RefusalKind::InvalidTransition,
        "changed at the cutoff itself: inside the period"
    );
    let cutoff = changed
        .checked_add(jiff::SignedDuration::from_nanos(1))
        .unwrap();
    for seqs in [vec![], vec![0], vec![2, 1], vec![1, 1], vec![3]] {
        assert_eq!(
            refused(&closed, erase(seqs.clone(), "B", cutoff)),
            RefusalKind::Invalid,
            "{seqs:?}"
        );
    }
    assert_eq!(
        refused(&closed, erase(vec![1], "  ", cutoff)),
        RefusalKind::Invalid,
        "no legal basis"
    );
    let events = engine::decide(
        &ctx,
        def,
        Some(&closed),
        &erase(vec![1, 2], "B", cutoff),
        later,
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].kind,
        EventKind::PersonalDataErased {
            seqs: vec![1, 2],
            legal_basis: "B".into()
        }
    );
    assert_eq!(events[0].actor.kind, "system");
    assert!(!events[0].has_payload);
    let erased =
        engine::apply(def, regions, Some(closed.clone()), "c", "kepri", &events[0]).unwrap();
    assert_eq!(erased.version, 3);
    assert_eq!(erased.status, closed.status);
    assert_eq!(erased.updated_at, later);
}
