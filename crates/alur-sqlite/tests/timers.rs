//! Timers: `replace_timers`, `fired_timer` and leased claims, per the trait's `# Behavior`.

mod common;

use alur_core::Case;
use alur_core::store::{Store, StoreErrorKind, Timer, Transition};
use alur_sqlite::{Durability, SqliteStore};
use alur_testkit::ts;

const TENANT: &str = "kepri";

fn timer(case: &Case, id: &str, at: &str) -> Timer {
    Timer {
        id: id.into(),
        tenant: TENANT.into(),
        case_id: case.id.clone(),
        kind: "reminder:50".into(),
        fire_at: ts(at),
    }
}

/// A transition that changes nothing but the version (no audit entry: timers only).
fn bump(case: &Case) -> Transition {
    let mut next = case.clone();
    next.version += 1;
    Transition {
        tenant: TENANT.into(),
        case: next,
        expected_version: case.version,
        entries: vec![],
        payloads: vec![],
        outbox: vec![],
        timers: vec![],
        replace_timers: false,
        idempotency: None,
        fired_timer: None,
        letter: None,
    }
}

async fn setup(dir: &std::path::Path) -> (alur_core::Engine<SqliteStore>, Case, Case) {
    let store = common::fresh(dir, Durability::Full).await;
    let (engine, _) = alur_testkit::engine(store).await;
    let mut cases = Vec::new();
    for n in [1, 2] {
        let c = engine
            .submit(alur_testkit::domisili(n), None)
            .await
            .unwrap();
        // Drop the timers the engine set (reminders, breach) so each test starts from none.
        let mut clear = bump(&c);
        clear.replace_timers = true;
        engine.store().commit(clear.clone()).await.unwrap();
        assert!(
            engine
                .store()
                .timers(TENANT, &c.id)
                .await
                .unwrap()
                .is_empty()
        );
        cases.push(clear.case);
    }
    let b = cases.pop().unwrap();
    let a = cases.pop().unwrap();
    (engine, a, b)
}

#[tokio::test]
async fn set_replace_and_fire() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, a, _) = setup(dir.path()).await;
    let s = engine.store();

    let mut t = bump(&a);
    t.timers = vec![
        timer(&a, "a-breach", "2026-03-20T02:00:00Z"),
        timer(&a, "a-r50", "2026-03-18T02:00:00Z"),
    ];
    s.commit(t.clone()).await.unwrap();
    let a = t.case;
    let listed = s.timers(TENANT, &a.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["a-r50", "a-breach"]
    );
    assert_eq!(listed[0], timer(&a, "a-r50", "2026-03-18T02:00:00Z"));

    // Firing a timer removes it; firing it again is a conflict that writes nothing.
    let mut fire = bump(&a);
    fire.fired_timer = Some("a-r50".into());
    s.commit(fire.clone()).await.unwrap();
    let a = fire.case;
    assert_eq!(s.timers(TENANT, &a.id).await.unwrap().len(), 1);
    let mut again = bump(&a);
    again.fired_timer = Some("a-r50".into());
    let err = s.commit(again).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Conflict);
    assert_eq!(
        s.case(TENANT, &a.id).await.unwrap().unwrap(),
        a,
        "nothing written"
    );

    // Replacing drops the pending timers before setting the new ones.
    let mut replace = bump(&a);
    replace.replace_timers = true;
    replace.timers = vec![timer(&a, "a-breach-2", "2026-03-21T02:00:00Z")];
    s.commit(replace.clone()).await.unwrap();
    let a = replace.case;
    let listed = s.timers(TENANT, &a.id).await.unwrap();
    assert_eq!(
        listed,
        vec![timer(&a, "a-breach-2", "2026-03-21T02:00:00Z")]
    );

    // A fired timer of another case is not this case's timer.
    let mut wrong = bump(&a);
    wrong.fired_timer = Some("no-such-timer".into());
    assert_eq!(
        s.commit(wrong).await.unwrap_err().kind,
        StoreErrorKind::Conflict
    );
}

#[tokio::test]
async fn claims_are_leased() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, a, b) = setup(dir.path()).await;
    let s = engine.store();
    let mut ta = bump(&a);
    ta.timers = vec![
        timer(&a, "a1", "2026-03-18T01:00:00Z"),
        timer(&a, "a2", "2026-03-18T03:00:00Z"),
        timer(&a, "a3", "2026-03-25T00:00:00Z"),
    ];
    s.commit(ta.clone()).await.unwrap();
    let a = ta.case;
    let mut tb = bump(&b);
    tb.timers = vec![timer(&b, "b1", "2026-03-18T02:00:00Z")];
    s.commit(tb.clone()).await.unwrap();

    let now = ts("2026-03-19T00:00:00Z");
    let lease = ts("2026-03-19T00:05:00Z");
    // Due timers, oldest first, at most `limit`.
    let got = s
        .claim_due_timers(TENANT, now, "w1", lease, 2)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["a1", "b1"]
    );
    // Another owner does not get them while the lease lives; it gets the remaining due one.
    let other = s
        .claim_due_timers(TENANT, now, "w2", lease, 10)
        .await
        .unwrap();
    assert_eq!(
        other.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["a2"]
    );
    assert!(
        s.claim_due_timers(TENANT, now, "w3", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The same owner may claim its own again (renewal).
    assert_eq!(
        s.claim_due_timers(TENANT, now, "w1", lease, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    // After the lease expires, anyone may claim.
    let later = ts("2026-03-19T00:06:00Z");
    let taken = s
        .claim_due_timers(TENANT, later, "w3", ts("2026-03-19T00:10:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(
        taken.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["a1", "b1", "a2"]
    );
    // A claimed timer stays until fired; a commit naming it removes it (and its lease).
    let mut fire = bump(&a);
    fire.fired_timer = Some("a1".into());
    s.commit(fire).await.unwrap();
    assert_eq!(
        s.timers(TENANT, &a.id)
            .await
            .unwrap()
            .iter()
            .map(|x| x.id.as_str())
            .collect::<Vec<_>>(),
        ["a2", "a3"]
    );
    // Other tenants see nothing.
    assert!(
        s.claim_due_timers("other", later, "w1", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_share_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, a, _) = setup(dir.path()).await;
    let s = engine.store();
    let mut t = bump(&a);
    t.timers = (0..200)
        .map(|i| timer(&a, &format!("t{i:03}"), "2026-03-18T00:00:00Z"))
        .collect();
    s.commit(t).await.unwrap();
    let engine = std::sync::Arc::new(engine);
    let mut tasks = Vec::new();
    for w in 0..8 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            // 8 owners × 30 ask for more than the 200 due timers: all get claimed, none twice.
            engine
                .store()
                .claim_due_timers(
                    TENANT,
                    ts("2026-03-19T00:00:00Z"),
                    &format!("w{w}"),
                    ts("2026-03-19T01:00:00Z"),
                    30,
                )
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect::<Vec<_>>()
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "a timer was handed to two owners");
    assert_eq!(all.len(), 200);
}
