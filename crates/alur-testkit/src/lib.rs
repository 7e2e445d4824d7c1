//! Conformance suite every [`Store`] must pass: one check per `# Behavior` bullet of the trait.
//!
//! An adapter's `tests/conformance.rs` is a few lines:
//!
//! ```ignore
//! #[tokio::test]
//! async fn conformance() {
//!     alur_testkit::run_all(|| async { MyStore::open_fresh().await }).await;
//! }
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use alur_core::engine::{Actor, Command, Payload};
use alur_core::store::{Denial, SearchQuery, Store, StoreErrorKind};
use alur_core::{Case, Clock, Config, Engine, ManualClock, Nik, Pseudonymizer, Status, Submission};
use jiff::Timestamp;

/// Path of the example configuration used as the suite's fixture.
pub const KEPRI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/config/kepri");

/// Load the Kepri example configuration.
pub fn kepri() -> Config {
    match alur_core::load_dir(KEPRI) {
        Ok(c) => c,
        Err(e) => panic!("example configuration does not load:\n{e}"),
    }
}

/// A fixed test key for pseudonyms.
pub fn pseudonymizer() -> Pseudonymizer {
    Pseudonymizer::new([42u8; 32]).expect("32-byte key")
}

/// A pseudonym for a test applicant number `n`.
pub fn applicant(n: u32) -> alur_core::PersonRef {
    let nik = Nik::parse(&format!("21711045129{n:05}")).expect("16 digits");
    pseudonymizer().person(&nik)
}

/// An engine over `store` with a manual clock at 2026-03-17 09:00 WIB.
pub async fn engine<S: Store>(store: S) -> (Engine<S>, Arc<ManualClock>) {
    engine_with(kepri(), store).await
}

/// The same engine serving tenant `tenant` (several tenants in one store).
pub async fn tenant_engine<S: Store>(tenant: &str, store: S) -> (Engine<S>, Arc<ManualClock>) {
    let mut config = kepri();
    config.tenant.id = tenant.into();
    engine_with(config, store).await
}

/// An engine with `config` over `store`, with the same clock and pseudonyms as [`engine`].
pub async fn engine_with<S: Store>(config: Config, store: S) -> (Engine<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(ts("2026-03-17T02:00:00Z")));
    let e = Engine::new(config, store, clock.clone(), pseudonymizer())
        .await
        .expect("engine starts");
    (e, clock)
}

/// Submit domicile application `n` and have the operator find it complete: a case with two
/// audit entries.
pub async fn submit_checked<S: Store>(e: &Engine<S>, n: u32) -> Case {
    let c = e.submit(domisili(n), None).await.expect("submit");
    e.execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .expect("act")
}

/// A transition of `case` with only its audit `entries` (no payload, message, timer, key or
/// letter), for raw commits in the checks.
fn bare_transition(
    case: Case,
    expected_version: u64,
    entries: Vec<alur_core::audit::AuditEntry>,
) -> alur_core::store::Transition {
    alur_core::store::Transition {
        tenant: TENANT.into(),
        case,
        expected_version,
        entries,
        payloads: vec![],
        outbox: vec![],
        timers: vec![],
        replace_timers: false,
        idempotency: None,
        fired_timer: None,
        letter: None,
    }
}

/// Parse a timestamp (tests only).
pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("valid timestamp")
}

/// Every case of `tenant` in `store`, oldest submission first (paged through
/// [`Store::search`]).
pub async fn all_cases<S: Store + ?Sized>(store: &S, tenant: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut cursor: Option<Timestamp> = None;
    loop {
        let q = SearchQuery {
            submitted_to: cursor
                .and_then(|c| c.checked_add(jiff::SignedDuration::from_nanos(1)).ok()),
            limit: 1000,
            ..SearchQuery::default()
        };
        let page = store.search(tenant, &q).await.expect("search");
        let last = page.last().map(|c| c.submitted_at);
        let mut progressed = false;
        for c in page {
            if seen.insert(c.id.clone()) {
                progressed = true;
                out.push(c);
            }
        }
        if !progressed {
            break;
        }
        cursor = last;
    }
    out.sort_by_key(|c| c.submitted_at);
    out
}

/// A domicile submission at Kelurahan Baloi Permai.
pub fn domisili(n: u32) -> Submission {
    let fields = [
        ("nama", "Pemohon Uji"),
        ("alamat", "Jl. Uji No. 1"),
        ("keperluan", "Uji"),
    ];
    Submission {
        service: "batam-domisili".into(),
        unit: "21.71.10.1001".into(),
        applicant: applicant(n),
        conditions: BTreeSet::new(),
        payload: Payload {
            fields: fields.map(|(k, v)| (k.to_owned(), v.to_owned())).into(),
            ..Payload::default()
        },
    }
}

/// An `Act` command as `officer` on `case`, ticking every domicile requirement.
pub fn act(case: &Case, officer: &str, action: &str) -> Command {
    Command::Act {
        actor: Actor::Officer(officer.into()),
        action: action.into(),
        seen_version: case.version,
        checked: ["pengantar-rt-rw", "ktp", "kk"].map(String::from).into(),
        payload: Payload {
            reason: Some("alasan uji".into()),
            ..Payload::default()
        },
    }
}

const TENANT: &str = "kepri";

/// Run every conformance check, each on a fresh store from `make`.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    definitions_are_versioned(make().await).await;
    create_and_read_back(make().await).await;
    create_twice_conflicts(make().await).await;
    stale_version_conflicts_and_writes_nothing(make().await).await;
    duplicate_idempotency_key_writes_nothing(make().await).await;
    payloads_are_apart_and_optional(make().await).await;
    expired_personal_data_is_erased_on_record(make().await).await;
    inbox_filters_and_orders(make().await).await;
    search_filters(make().await).await;
    denials_are_recorded(make().await).await;
    concurrent_commits_on_one_case(make().await).await;
    let mut n = 11;
    if make().await.capabilities().tenant_log {
        configuration_chain_appends(make().await).await;
        leaf_pages_are_the_leaves(make().await).await;
        n += 2;
        if make().await.audits_in_commit_order() {
            commit_order_audit_covers_everything(make().await).await;
            n += 1;
        }
    }
    eprintln!("alur-testkit: {n} conformance checks passed");
}

/// `log_leaf_page`: the same leaves as `log_leaves` over any range, packed, hashes decoded.
pub async fn leaf_pages_are_the_leaves<S: Store>(store: S) {
    use alur_core::store::LeafPage;
    use alur_core::tlog::Integrator;
    let (e, _clock) = engine(store).await;
    for n in 1..=3 {
        submit_checked(&e, n).await;
    }
    Integrator::new(TENANT, None)
        .integrate(e.store(), 4)
        .await
        .unwrap();
    let size = e.store().log_size(TENANT).await.unwrap();
    assert!(
        size > 6,
        "the configuration and the three cases are in the log"
    );
    for (start, end) in [
        (0, size),
        (0, 1),
        (2, 5),
        (size - 1, size),
        (size, size + 3),
        (1, size + 10),
    ] {
        let leaves = e.store().log_leaves(TENANT, start, end).await.unwrap();
        let page = e.store().log_leaf_page(TENANT, start, end).await.unwrap();
        assert_eq!(page, LeafPage::of(&leaves), "{start}..{end}");
        for (i, l) in leaves.iter().enumerate() {
            assert_eq!(page.case_id(i), Some(l.case_id.as_str()));
            assert_eq!(
                page.leaves[i]
                    .hash
                    .map(|h| h.iter().map(|b| format!("{b:02x}")).collect::<String>()),
                Some(l.hash.clone())
            );
        }
        assert_eq!(page.case_id(leaves.len()), None);
    }
}

/// `audit_span` and `leaf_positions` (stores that read in commit order): an audit of interleaved
/// cases, partly sequenced, read in one to four spans, covers every entry, case and leaf and
/// counts the unsequenced entries; the positions of the leaves' entries grow with the index.
pub async fn commit_order_audit_covers_everything<S: Store>(store: S) {
    use alur_core::tlog::{Integrator, Reading, verify_store_with};
    let (e, _clock) = engine(store).await;
    let mut cases = Vec::new();
    for n in 1..=4 {
        cases.push(e.submit(domisili(n), None).await.unwrap());
    }
    // The cases' entries interleave in commit order.
    for c in &cases {
        e.execute(&c.id, act(c, "baloi-operator", "lengkap"), None)
            .await
            .unwrap();
    }
    Integrator::new(TENANT, None)
        .integrate(e.store(), 100)
        .await
        .unwrap();
    let size = e.store().log_size(TENANT).await.unwrap();
    // Two more entries after the last integration.
    e.execute(
        &cases[0].id,
        act(
            &e.store().case(TENANT, &cases[0].id).await.unwrap().unwrap(),
            "baloi-kasi",
            "paraf",
        ),
        None,
    )
    .await
    .unwrap();
    let mut entries = 0;
    for c in &cases {
        entries += e.store().entries(TENANT, &c.id).await.unwrap().len() as u64;
    }
    let config = e
        .store()
        .entries(TENANT, alur_core::config_log::CONFIG_CHAIN)
        .await
        .unwrap();
    entries += config.len() as u64;
    let positions = e
        .store()
        .leaf_positions(TENANT, &(0..size + 2).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(positions.len() as u64, size + 2);
    let known: Vec<i64> = positions
        .iter()
        .take(size as usize)
        .map(|p| p.unwrap())
        .collect();
    assert!(known.windows(2).all(|w| w[0] < w[1]), "{known:?}");
    assert_eq!(positions[size as usize..], [None, None]);
    for spans in 1..=4 {
        let reading = Reading {
            page: 1,
            parts: 1,
            spans,
        };
        let s = verify_store_with(e.store(), TENANT, None, None, false, |_| {}, reading)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.entries, entries, "{spans} spans");
        assert_eq!(s.cases, cases.len() as u64 + 1, "{spans} spans");
        assert_eq!(s.leaves, size, "{spans} spans");
        assert!(s.unsequenced >= 1, "{spans} spans: {s:?}");
        assert_eq!(s.entries - s.unsequenced, size, "{spans} spans");
    }
}

/// `append_chain`: the engine records its configuration at start-up (definitions, calendar,
/// posts, mandates) once; a stale or malformed run writes nothing; entries reach the tenant log.
pub async fn configuration_chain_appends<S: Store>(store: S) {
    use alur_core::config_log::{CONFIG_CHAIN, ConfigState, chain_entries};
    use alur_core::store::StoreErrorKind;
    let (e, _clock) = engine(store).await;
    let recorded = e.store().entries(TENANT, CONFIG_CHAIN).await.unwrap();
    let config = e.config();
    let posts: usize = config.officers.values().map(|o| o.posts.len()).sum();
    let calendars = e.configuration_state().calendars.len();
    let expected = config.services.len() + calendars + posts + config.mandates.len();
    assert_eq!(
        recorded.len(),
        expected,
        "one entry per definition, calendar, post, mandate"
    );
    alur_core::audit::verify_chain(&recorded).unwrap();
    assert_eq!(
        ConfigState::from_entries(&recorded),
        e.configuration_state()
    );
    // A second start records nothing.
    assert_eq!(e.record_configuration().await.unwrap(), 0);
    // A stale run (continuing an old head) conflicts and writes nothing.
    let head = recorded.first().map(|x| (x.seq, x.hash.clone()));
    let mut gone = e.configuration_state();
    gone.grants.clear();
    let stale = chain_entries(
        TENANT,
        head,
        ConfigState::from_entries(&recorded).diff(&gone),
        ts("2026-03-02T01:00:00Z"),
    );
    let err = e.store().append_chain(TENANT, &stale).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Conflict, "{err}");
    // Entries for a case id are refused.
    let mut not_reserved = chain_entries(
        TENANT,
        None,
        gone.diff(&ConfigState::default()),
        ts("2026-03-02T01:00:00Z"),
    );
    for x in &mut not_reserved {
        x.case_id = "c-1".into();
        x.hash = x.compute_hash();
    }
    assert!(e.store().append_chain(TENANT, &not_reserved).await.is_err());
    assert_eq!(
        e.store().entries(TENANT, CONFIG_CHAIN).await.unwrap(),
        recorded
    );
    // Fresh head: revoking every grant appends one entry per grant.
    let head = recorded.last().map(|x| (x.seq, x.hash.clone()));
    let revoke = chain_entries(
        TENANT,
        head,
        ConfigState::from_entries(&recorded).diff(&gone),
        ts("2026-03-02T01:00:00Z"),
    );
    e.store().append_chain(TENANT, &revoke).await.unwrap();
    let all = e.store().entries(TENANT, CONFIG_CHAIN).await.unwrap();
    assert_eq!(all.len(), expected + posts + config.mandates.len());
    alur_core::audit::verify_chain(&all).unwrap();
    let unsequenced = e.store().unsequenced(TENANT, 10_000).await.unwrap();
    assert_eq!(
        unsequenced
            .iter()
            .filter(|l| l.case_id == CONFIG_CHAIN)
            .count(),
        all.len(),
        "configuration entries reach the tenant log"
    );
}

/// `put_definition`: v1 first, same digest same version, changed content +1, old versions unchanged.
pub async fn definitions_are_versioned<S: Store>(store: S) {
    let config = kepri();
    let def = config.services["batam-domisili"].as_ref().clone();
    assert_eq!(store.put_definition(TENANT, &def).await.unwrap(), 1);
    assert_eq!(store.put_definition(TENANT, &def).await.unwrap(), 1);
    let mut changed = def.clone();
    changed.completion_time = alur_core::model::ServiceDefinition::clone(&def).completion_time;
    changed.name.push_str(" (revisi)");
    changed.digest = alur_core::config::definition_digest(&changed);
    assert_eq!(store.put_definition(TENANT, &changed).await.unwrap(), 2);
    let v1 = store.definition(TENANT, &def.id, 1).await.unwrap().unwrap();
    assert_eq!(v1.name, def.name);
    assert_eq!(v1.digest, def.digest);
    let v2 = store.definition(TENANT, &def.id, 2).await.unwrap().unwrap();
    assert_eq!(v2.name, changed.name);
    assert!(
        store
            .definition(TENANT, &def.id, 3)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.put_definition(TENANT, &def).await.unwrap(),
        1,
        "old content keeps its version"
    );
}

/// `commit` then `case`/`entries`/`head`/`case_with_head` return exactly what was committed.
pub async fn create_and_read_back<S: Store>(store: S) {
    let (e, _) = engine(store).await;
    let c = e.submit(domisili(1), None).await.unwrap();
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap();
    let stored = e.store().case(TENANT, &c.id).await.unwrap().unwrap();
    assert_eq!(stored, c);
    let entries = e.store().entries(TENANT, &c.id).await.unwrap();
    assert_eq!(entries.len() as u64, c.version);
    assert_eq!(
        entries.iter().map(|x| x.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
    alur_core::audit::verify_chain(&entries).unwrap();
    // The head is the last entry; read with the case it is the pair the engine chains to.
    let last = entries.last().map(|x| (x.seq, x.hash.clone()));
    assert_eq!(e.store().head(TENANT, &c.id).await.unwrap(), last);
    assert_eq!(
        e.store().case_with_head(TENANT, &c.id).await.unwrap(),
        Some((c.clone(), last))
    );
    assert!(
        e.store()
            .case(TENANT, "no-such-case")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        e.store()
            .case_with_head(TENANT, "no-such-case")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(e.store().head(TENANT, "no-such-case").await.unwrap(), None);
    assert!(
        e.store()
            .entries(TENANT, "no-such-case")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Creating an existing case is a `Conflict`.
pub async fn create_twice_conflicts<S: Store>(store: S) {
    let (e, _) = engine(store).await;
    let c = e.submit(domisili(2), None).await.unwrap();
    let entries = e.store().entries(TENANT, &c.id).await.unwrap();
    let t = bare_transition(c.clone(), 0, entries);
    let err = e.store().commit(t).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Conflict);
    assert_eq!(e.store().entries(TENANT, &c.id).await.unwrap().len(), 1);
}

/// A stale `expected_version` is a `Conflict` and writes nothing.
pub async fn stale_version_conflicts_and_writes_nothing<S: Store>(store: S) {
    let (e, _) = engine(store).await;
    let c = e.submit(domisili(3), None).await.unwrap();
    let c2 = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap();
    // Acting on the version seen before the change is refused by the engine as a conflict.
    let err = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), alur_core::ErrorKind::Conflict);
    // And a raw commit with a stale expected version is refused by the store.
    let mut stale = c2.clone();
    stale.version += 1;
    let t = bare_transition(stale, c.version, vec![]);
    assert_eq!(
        e.store().commit(t).await.unwrap_err().kind,
        StoreErrorKind::Conflict
    );
    assert_eq!(e.store().case(TENANT, &c.id).await.unwrap().unwrap(), c2);
    assert_eq!(e.store().entries(TENANT, &c.id).await.unwrap().len(), 2);
}

/// Idempotency: same key + same command returns the first result; another command is refused.
pub async fn duplicate_idempotency_key_writes_nothing<S: Store>(store: S) {
    let (e, _) = engine(store).await;
    let first = e.submit(domisili(4), Some("k-1")).await.unwrap();
    let again = e.submit(domisili(4), Some("k-1")).await.unwrap();
    assert_eq!(first, again);
    let err = e.submit(domisili(5), Some("k-1")).await.unwrap_err();
    assert_eq!(err.kind(), alur_core::ErrorKind::IdempotencyMismatch);
    let all = e.search(&SearchQuery::default()).await.unwrap();
    assert_eq!(all.len(), 1, "one effect only");
    let rec = e.store().idempotency(TENANT, "k-1").await.unwrap().unwrap();
    assert_eq!(rec.result, first);
    assert!(
        e.store()
            .idempotency(TENANT, "k-2")
            .await
            .unwrap()
            .is_none()
    );
}

/// Payloads are stored apart under the entry's digest; entries without one have none.
pub async fn payloads_are_apart_and_optional<S: Store>(store: S) {
    let (e, _) = engine(store).await;
    let c = e.submit(domisili(6), None).await.unwrap();
    let p = e.store().payload(TENANT, &c.id, 1).await.unwrap().unwrap();
    assert_eq!(p.fields["nama"], "Pemohon Uji");
    let entries = e.store().entries(TENANT, &c.id).await.unwrap();
    assert!(entries[0].payload_digest.is_some());
    let json = serde_json::to_string(&entries[0]).unwrap();
    assert!(
        !json.contains("Pemohon Uji"),
        "personal data must not be in the hashed entry"
    );
    let claim = Command::Claim {
        actor: Actor::Officer("baloi-operator".into()),
    };
    let c = e.execute(&c.id, claim, None).await.unwrap();
    assert!(e.store().payload(TENANT, &c.id, 2).await.unwrap().is_none());
}

/// Erasure at the end of retention (`Engine::erase_expired`, `Store::erasable`): only closed
/// cases past the period are listed and erased; each erasure is an entry in the case's chain
/// with the legal basis, and the store deletes exactly the payloads it names in the same
/// transaction (a stale one deletes nothing); chains, the audit and replay still hold.
pub async fn expired_personal_data_is_erased_on_record<S: Store>(store: S) {
    use alur_core::engine::EventKind;
    use alur_core::model::{Retention, RetentionPeriod};
    const BASIS: &str = "UU 27/2022 tentang Pelindungan Data Pribadi; Jadwal Retensi Arsip";
    let mut config = kepri();
    config.retention = Some(Retention {
        personal_data: RetentionPeriod::Days(30),
        legal_basis: BASIS.into(),
    });
    let (e, clock) = engine_with(config, store).await;
    let reject = |c: &Case| act(c, "baloi-operator", "tolak");
    // Closed at the start, with two payloads (submission, rejection).
    let old = e.submit(domisili(30), None).await.unwrap();
    let old = e.execute(&old.id, reject(&old), None).await.unwrap();
    assert!(!old.status.is_open());
    // Open: never erased.
    let open = e.submit(domisili(31), None).await.unwrap();
    // Closed twenty days later.
    clock.advance(jiff::SignedDuration::from_hours(20 * 24));
    let recent = e.submit(domisili(32), None).await.unwrap();
    let recent = e.execute(&recent.id, reject(&recent), None).await.unwrap();
    clock.advance(jiff::SignedDuration::from_hours(11 * 24));
    let store = e.store();
    let cutoff = ts("2026-03-18T02:00:00Z");
    let listed = store.erasable(TENANT, cutoff, None, 0).await.unwrap();
    assert_eq!(listed, vec![(old.id.clone(), vec![1, 2])]);
    assert!(
        store
            .erasable("lain", cutoff, None, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .erasable(TENANT, cutoff, Some(&old.id), 0)
            .await
            .unwrap()
            .is_empty(),
        "ids after the cursor only"
    );
    let later = ts("2026-04-30T00:00:00Z");
    let both = store.erasable(TENANT, later, None, 0).await.unwrap();
    let mut want = vec![
        (old.id.clone(), vec![1, 2]),
        (recent.id.clone(), vec![1, 2]),
    ];
    want.sort();
    assert_eq!(both, want, "ordered by case id");
    assert_eq!(
        store.erasable(TENANT, later, None, 1).await.unwrap().len(),
        1
    );

    let before = store.entries(TENANT, &old.id).await.unwrap();
    let retention = e.config().retention.clone().unwrap();
    let dry = alur_core::past_retention(store, TENANT, &retention, clock.now())
        .await
        .unwrap();
    assert_eq!((dry.cases, dry.payloads), (1, 2));
    assert_eq!(dry.cutoff, ts("2026-03-18T02:00:00Z"));
    assert_eq!(store.entries(TENANT, &old.id).await.unwrap(), before);
    assert!(store.payload(TENANT, &old.id, 1).await.unwrap().is_some());

    let done = e.erase_expired().await.unwrap();
    assert_eq!((done.cases, done.payloads), (1, 2), "{:?}", done.skipped);
    assert!(done.skipped.is_empty());
    for seq in 1..=2 {
        assert!(store.payload(TENANT, &old.id, seq).await.unwrap().is_none());
    }
    for (case, seq) in [(&open.id, 1), (&recent.id, 1), (&recent.id, 2)] {
        assert!(store.payload(TENANT, case, seq).await.unwrap().is_some());
    }
    let entries = store.entries(TENANT, &old.id).await.unwrap();
    assert_eq!(entries[..2], before[..], "earlier entries untouched");
    let last = &entries[2];
    assert_eq!(
        last.event,
        EventKind::PersonalDataErased {
            seqs: vec![1, 2],
            legal_basis: BASIS.into()
        }
    );
    assert_eq!(last.legal_basis.as_deref(), Some(BASIS));
    assert_eq!(last.actor.kind, "system");
    assert!(last.payload_digest.is_none());
    alur_core::audit::verify_chain(&entries).unwrap();
    let case = e.case(&old.id).await.unwrap().unwrap();
    assert_eq!((case.version, &case.status), (3, &old.status));
    let def = e.service(&case.service).unwrap();
    let events: Vec<_> = entries.iter().map(|x| x.to_event()).collect();
    let regions = alur_core::region::RegionIndex::embedded().unwrap();
    let rebuilt = alur_core::engine::replay(def, regions, &case.id, TENANT, &events).unwrap();
    assert_eq!(
        rebuilt.as_ref(),
        Some(&case),
        "replay rebuilds the erased case"
    );
    // Nothing left to erase; a second run records nothing.
    let again = e.erase_expired().await.unwrap();
    assert_eq!((again.cases, again.payloads), (0, 0));
    assert_eq!(store.entries(TENANT, &old.id).await.unwrap().len(), 3);

    // A raw transition of two entries, a comment and then an erasure (the store deletes on
    // any entry, not only a transition's first): stale, it is a conflict and deletes nothing;
    // current, it deletes exactly the payloads the erasure names.
    let (head_seq, head_hash) = store.head(TENANT, &recent.id).await.unwrap().unwrap();
    let mut note = store.entries(TENANT, &recent.id).await.unwrap()[0].clone();
    note.seq = head_seq + 1;
    note.event = EventKind::Commented;
    note.actor = alur_core::engine::ActorRecord {
        kind: "system".into(),
        ..Default::default()
    };
    note.due = None;
    note.calendar_version = None;
    note.payload_digest = None;
    note.prev_hash = head_hash;
    note.hash = note.compute_hash();
    let mut erasure = note.clone();
    erasure.seq = note.seq + 1;
    erasure.event = EventKind::PersonalDataErased {
        seqs: vec![2],
        legal_basis: BASIS.into(),
    };
    erasure.legal_basis = Some(BASIS.into());
    erasure.prev_hash = note.hash.clone();
    erasure.hash = erasure.compute_hash();
    let mut moved = recent.clone();
    moved.version += 2;
    let transition = |expected_version: u64| {
        bare_transition(
            moved.clone(),
            expected_version,
            vec![note.clone(), erasure.clone()],
        )
    };
    assert_eq!(
        store
            .commit(transition(recent.version - 1))
            .await
            .unwrap_err()
            .kind,
        StoreErrorKind::Conflict
    );
    for seq in [1, 2] {
        assert!(
            store
                .payload(TENANT, &recent.id, seq)
                .await
                .unwrap()
                .is_some()
        );
    }
    store.commit(transition(recent.version)).await.unwrap();
    assert!(
        store
            .payload(TENANT, &recent.id, 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .payload(TENANT, &recent.id, 2)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.payload(TENANT, &open.id, 1).await.unwrap().is_some());
    alur_core::audit::verify_chain(&store.entries(TENANT, &recent.id).await.unwrap()).unwrap();

    // The engine refuses an erasure inside the retention period and by anyone but itself.
    let cmd = Command::ErasePersonalData {
        legal_basis: BASIS.into(),
        seqs: vec![1],
        changed_before: cutoff,
    };
    assert_eq!(
        e.execute(&recent.id, cmd, None).await.unwrap_err().kind(),
        alur_core::ErrorKind::Forbidden
    );
    let summary = alur_core::tlog::verify_store(store, TENANT, None, None, false, |_| {})
        .await
        .unwrap()
        .unwrap();
    // Three cases and the tenant's configuration chain.
    assert_eq!(summary.cases, 4, "{summary:?}");
}

/// Inbox: only matching (role, unit) of open cases, oldest deadline first, limit respected.
pub async fn inbox_filters_and_orders<S: Store>(store: S) {
    let (e, clock) = engine(store).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        clock.advance(jiff::SignedDuration::from_mins(5));
        ids.push(e.submit(domisili(10 + n), None).await.unwrap().id);
    }
    let op = e.inbox("baloi-operator", 10).await.unwrap();
    assert_eq!(op.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), ids);
    assert!(e.inbox("baloi-kasi", 10).await.unwrap().is_empty());
    assert!(
        e.inbox("tamanbaloi-operator", 10).await.unwrap().is_empty(),
        "another kelurahan sees nothing"
    );
    assert_eq!(e.inbox("baloi-operator", 2).await.unwrap().len(), 2);
    let c = e.case(&ids[0]).await.unwrap().unwrap();
    e.execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .unwrap();
    assert_eq!(e.inbox("baloi-kasi", 10).await.unwrap().len(), 1);
    assert_eq!(e.inbox("baloi-operator", 10).await.unwrap().len(), 2);
    let raw = e
        .store()
        .inbox(TENANT, &[("operator".into(), "21.71.10.1001".into())], 10)
        .await
        .unwrap();
    assert_eq!(raw.len(), 2);
}

/// Search applies each filter.
pub async fn search_filters<S: Store>(store: S) {
    let (e, clock) = engine(store).await;
    let a = e.submit(domisili(20), None).await.unwrap();
    clock.advance(jiff::SignedDuration::from_hours(1));
    let b = e.submit(domisili(21), None).await.unwrap();
    let b = e
        .execute(&b.id, act(&b, "baloi-operator", "tolak"), None)
        .await
        .unwrap();
    assert_eq!(
        b.status,
        Status::Closed(alur_core::model::Outcome::Rejected)
    );
    let all = e.search(&SearchQuery::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![b.id.clone(), a.id.clone()]
    );
    let open = e
        .search(&SearchQuery {
            open_only: true,
            ..SearchQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, a.id);
    let batam = e
        .search(&SearchQuery {
            unit_prefix: Some("21.71".into()),
            ..SearchQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(batam.len(), 2);
    let bintan = e
        .search(&SearchQuery {
            unit_prefix: Some("21.01".into()),
            ..SearchQuery::default()
        })
        .await
        .unwrap();
    assert!(bintan.is_empty());
    let early = e
        .search(&SearchQuery {
            submitted_to: Some(ts("2026-03-17T02:30:00Z")),
            ..SearchQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(early.len(), 1);
    let svc = e
        .search(&SearchQuery {
            service: Some("batam-sktm".into()),
            ..SearchQuery::default()
        })
        .await
        .unwrap();
    assert!(svc.is_empty());
    let limited = e
        .search(&SearchQuery {
            limit: 1,
            ..SearchQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
}

/// Every refused command is recorded.
pub async fn denials_are_recorded<S: Store>(store: S) {
    let (e, _) = engine(store).await;
    let c = e.submit(domisili(30), None).await.unwrap();
    let err = e
        .execute(&c.id, act(&c, "tamanbaloi-operator", "lengkap"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), alur_core::ErrorKind::Forbidden);
    let d: Vec<Denial> = e.store().denials(TENANT).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].actor, "tamanbaloi-operator");
    assert_eq!(d[0].case_id.as_deref(), Some(c.id.as_str()));
    assert_eq!(
        e.case(&c.id).await.unwrap().unwrap(),
        c,
        "a refusal changes nothing"
    );
}

/// Concurrent commits on one case: versions and audit sequences stay contiguous, no duplicates.
pub async fn concurrent_commits_on_one_case<S: Store>(store: S) {
    let (e, _) = engine(store).await;
    let e = Arc::new(e);
    let c = e.submit(domisili(40), None).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let e = e.clone();
        let id = c.id.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            for i in 0..10 {
                let cmd = Command::Comment {
                    actor: Actor::Officer("baloi-operator".into()),
                    payload: Payload {
                        text: Some(format!("catatan {t}-{i}")),
                        ..Payload::default()
                    },
                };
                if e.execute(&id, cmd, None).await.is_ok() {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    let final_case = e.case(&c.id).await.unwrap().unwrap();
    let entries = e.store().entries(TENANT, &c.id).await.unwrap();
    assert_eq!(final_case.version, 1 + ok);
    assert_eq!(entries.len() as u64, final_case.version);
    alur_core::audit::verify_chain(&entries).unwrap();
}

/// Run the outbox delivery checks (`claim_outbox`, `settle_outbox`, `dead_outbox`,
/// `retry_dead_outbox`), each on a fresh store from `make`. Stores that implement outbox
/// delivery call this from their conformance test next to [`run_all`].
pub async fn run_outbox<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    outbox_claims_oldest_per_case(make().await).await;
    outbox_leases_exclude_and_expire(make().await).await;
    outbox_delivered_releases_the_next(make().await).await;
    outbox_retry_waits_and_holds_the_case(make().await).await;
    outbox_dead_is_listed_skipped_and_retryable(make().await).await;
    outbox_concurrent_claims_are_disjoint(make().await).await;
    outbox_settle_and_claim(make().await).await;
    eprintln!("alur-testkit: 7 outbox checks passed");
}

/// Submit `n` cases (one `case.received` message each), then return the first to the applicant
/// (a second message on that case, `case.returned`). Returns the case ids in submission order.
async fn outbox_fixture<S: Store>(e: &Engine<S>, clock: &ManualClock, n: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        clock.advance(jiff::SignedDuration::from_secs(1));
        ids.push(e.submit(domisili(100 + i), None).await.unwrap().id);
    }
    let c = e.case(&ids[0]).await.unwrap().unwrap();
    clock.advance(jiff::SignedDuration::from_secs(1));
    e.execute(&c.id, act(&c, "baloi-operator", "belum-lengkap"), None)
        .await
        .unwrap();
    ids
}

fn claimed_ids(v: &[alur_core::store::ClaimedMessage]) -> Vec<String> {
    v.iter().map(|c| c.message.id.clone()).collect()
}

/// Only the oldest open message of each case is claimed, oldest first, at most `limit`.
pub async fn outbox_claims_oldest_per_case<S: Store>(store: S) {
    let (e, clock) = engine(store).await;
    let ids = outbox_fixture(&e, &clock, 3).await;
    let now = clock.now();
    let pending = e.store().pending_outbox(TENANT, 10).await.unwrap();
    assert_eq!(pending.len(), 4, "three received, one returned");
    let lease = now + jiff::SignedDuration::from_secs(60);
    let mut got = e
        .store()
        .claim_outbox(TENANT, now, "w1", lease, 2)
        .await
        .unwrap();
    assert_eq!(got.len(), 2, "limit respected");
    got.extend(
        e.store()
            .claim_outbox(TENANT, now, "w1", lease, 10)
            .await
            .unwrap(),
    );
    assert_eq!(
        got.iter()
            .map(|c| c.message.case_id.clone())
            .collect::<Vec<_>>(),
        ids,
        "one message per case, oldest first"
    );
    assert!(got.iter().all(|c| c.message.template == "case.received"));
    assert!(got.iter().all(|c| c.attempts == 0));
    assert_eq!(got[0].message, pending[0], "claimed as written");
}

/// A live lease hides a message from every claimer; an expired one makes it claimable again.
pub async fn outbox_leases_exclude_and_expire<S: Store>(store: S) {
    let (e, clock) = engine(store).await;
    let _ = outbox_fixture(&e, &clock, 2).await;
    let now = clock.now();
    let lease = now + jiff::SignedDuration::from_secs(30);
    let a = e
        .store()
        .claim_outbox(TENANT, now, "w1", lease, 10)
        .await
        .unwrap();
    assert_eq!(a.len(), 2);
    let b = e
        .store()
        .claim_outbox(TENANT, now, "w2", lease, 10)
        .await
        .unwrap();
    assert!(b.is_empty(), "leased messages are not claimed again");
    let same = e
        .store()
        .claim_outbox(TENANT, now, "w1", lease, 10)
        .await
        .unwrap();
    assert!(
        same.is_empty(),
        "not even by the same owner while its lease lives"
    );
    let later = lease + jiff::SignedDuration::from_secs(1);
    let c = e
        .store()
        .claim_outbox(
            TENANT,
            later,
            "w2",
            later + jiff::SignedDuration::from_secs(30),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        claimed_ids(&c),
        claimed_ids(&a),
        "an expired lease is claimable again"
    );
}

/// Delivered messages are never claimed again, and the next message of the case becomes claimable.
pub async fn outbox_delivered_releases_the_next<S: Store>(store: S) {
    use alur_core::store::OutboxOutcome;
    let (e, clock) = engine(store).await;
    let ids = outbox_fixture(&e, &clock, 2).await;
    let now = clock.now();
    let lease = now + jiff::SignedDuration::from_secs(30);
    let a = e
        .store()
        .claim_outbox(TENANT, now, "w1", lease, 10)
        .await
        .unwrap();
    let outcomes: Vec<_> = a
        .iter()
        .map(|c| (c.message.id.clone(), OutboxOutcome::Delivered))
        .collect();
    e.store()
        .settle_outbox(TENANT, now, &outcomes)
        .await
        .unwrap();
    let pending = e.store().pending_outbox(TENANT, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    let b = e
        .store()
        .claim_outbox(TENANT, now, "w2", lease, 10)
        .await
        .unwrap();
    assert_eq!(
        b.len(),
        1,
        "only the second message of the first case is left"
    );
    assert_eq!(b[0].message.case_id, ids[0]);
    assert_eq!(b[0].message.template, "case.returned");
    e.store()
        .settle_outbox(
            TENANT,
            now,
            &[(b[0].message.id.clone(), OutboxOutcome::Delivered)],
        )
        .await
        .unwrap();
    // A late failure report for a delivered message changes nothing.
    e.store()
        .settle_outbox(
            TENANT,
            now,
            &[
                (
                    b[0].message.id.clone(),
                    OutboxOutcome::Dead {
                        error: "late".into(),
                    },
                ),
                ("no-such-message".into(), OutboxOutcome::Delivered),
            ],
        )
        .await
        .unwrap();
    let later = lease + jiff::SignedDuration::from_secs(60);
    assert!(
        e.store()
            .claim_outbox(TENANT, later, "w3", later, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        e.store()
            .pending_outbox(TENANT, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(e.store().dead_outbox(TENANT, 10).await.unwrap().is_empty());
}

/// A failed attempt waits for its retry time, counts, and holds later messages of its case back.
pub async fn outbox_retry_waits_and_holds_the_case<S: Store>(store: S) {
    use alur_core::store::OutboxOutcome;
    let (e, clock) = engine(store).await;
    let ids = outbox_fixture(&e, &clock, 1).await;
    let now = clock.now();
    let lease = now + jiff::SignedDuration::from_secs(30);
    let a = e
        .store()
        .claim_outbox(TENANT, now, "w1", lease, 10)
        .await
        .unwrap();
    assert_eq!(a.len(), 1);
    let retry_at = now + jiff::SignedDuration::from_secs(120);
    e.store()
        .settle_outbox(
            TENANT,
            now,
            &[(
                a[0].message.id.clone(),
                OutboxOutcome::Retry {
                    at: retry_at,
                    error: "http 503".into(),
                },
            )],
        )
        .await
        .unwrap();
    let soon = now + jiff::SignedDuration::from_secs(60);
    assert!(
        e.store()
            .claim_outbox(
                TENANT,
                soon,
                "w1",
                soon + jiff::SignedDuration::from_secs(30),
                10
            )
            .await
            .unwrap()
            .is_empty(),
        "not before its retry time, and the case's later message waits"
    );
    let b = e
        .store()
        .claim_outbox(
            TENANT,
            retry_at,
            "w2",
            retry_at + jiff::SignedDuration::from_secs(30),
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed_ids(&b), claimed_ids(&a));
    assert_eq!(b[0].attempts, 1, "one failed attempt counted");
    assert_eq!(b[0].message.case_id, ids[0]);
}

/// Dead messages are listed with their error, do not hold the case back, and can be retried.
pub async fn outbox_dead_is_listed_skipped_and_retryable<S: Store>(store: S) {
    use alur_core::store::OutboxOutcome;
    let (e, clock) = engine(store).await;
    let _ = outbox_fixture(&e, &clock, 1).await;
    let now = clock.now();
    let lease = now + jiff::SignedDuration::from_secs(30);
    let a = e
        .store()
        .claim_outbox(TENANT, now, "w1", lease, 10)
        .await
        .unwrap();
    let first = a[0].message.id.clone();
    e.store()
        .settle_outbox(
            TENANT,
            now,
            &[(
                first.clone(),
                OutboxOutcome::Dead {
                    error: "http 404".into(),
                },
            )],
        )
        .await
        .unwrap();
    let dead = e.store().dead_outbox(TENANT, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message.id, first);
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(dead[0].last_error, "http 404");
    assert_eq!(dead[0].dead_at, now);
    let b = e
        .store()
        .claim_outbox(TENANT, now, "w1", lease, 10)
        .await
        .unwrap();
    assert_eq!(b.len(), 1, "a dead message does not hold its case back");
    assert_ne!(b[0].message.id, first);
    let revived = e
        .store()
        .retry_dead_outbox(TENANT, &[first.clone(), "no-such-message".into()], now)
        .await
        .unwrap();
    assert_eq!(revived, 1);
    assert!(e.store().dead_outbox(TENANT, 10).await.unwrap().is_empty());
    let later = lease + jiff::SignedDuration::from_secs(1);
    let c = e
        .store()
        .claim_outbox(
            TENANT,
            later,
            "w2",
            later + jiff::SignedDuration::from_secs(30),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        c.len(),
        1,
        "the revived message is claimable again and first of its case"
    );
    assert_eq!(c[0].message.id, first);
    assert_eq!(c[0].attempts, 0);
}

/// Two concurrent claimers never receive the same message.
pub async fn outbox_concurrent_claims_are_disjoint<S: Store>(store: S) {
    let (e, clock) = engine(store).await;
    let _ = outbox_fixture(&e, &clock, 40).await;
    let now = clock.now();
    let lease = now + jiff::SignedDuration::from_secs(30);
    let e = Arc::new(e);
    let mut tasks = Vec::new();
    for w in 0..4 {
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = e
                    .store()
                    .claim_outbox(TENANT, now, &format!("w{w}"), lease, 3)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                got.extend(claimed_ids(&batch));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(unique.len(), all.len(), "no message claimed twice");
    assert_eq!(all.len(), 40, "one per case");
}

/// `settle_and_claim_outbox` records the outcomes and claims a batch that never holds a message
/// being settled; the next message of a case delivered there comes in that batch or the next.
pub async fn outbox_settle_and_claim<S: Store>(store: S) {
    use alur_core::store::OutboxOutcome;
    let (e, clock) = engine(store).await;
    let ids = outbox_fixture(&e, &clock, 2).await;
    let now = clock.now();
    let lease = now + jiff::SignedDuration::from_secs(30);
    let a = e
        .store()
        .claim_outbox(TENANT, now, "w1", lease, 10)
        .await
        .unwrap();
    assert_eq!(a.len(), 2);
    let outcomes: Vec<_> = a
        .iter()
        .map(|c| (c.message.id.clone(), OutboxOutcome::Delivered))
        .collect();
    let mut next = e
        .store()
        .settle_and_claim_outbox(TENANT, now, &outcomes, "w1", lease, 10)
        .await
        .unwrap();
    assert!(
        next.iter()
            .all(|c| !claimed_ids(&a).contains(&c.message.id)),
        "a message being settled is not claimed again"
    );
    next.extend(
        e.store()
            .claim_outbox(TENANT, now, "w2", lease, 10)
            .await
            .unwrap(),
    );
    assert_eq!(
        next.len(),
        1,
        "only the second message of the first case is left"
    );
    assert_eq!(next[0].message.case_id, ids[0]);
    assert_eq!(next[0].message.template, "case.returned");
    assert_eq!(e.store().pending_outbox(TENANT, 10).await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Letters.

/// Run the letter checks (stores with `capabilities().letters`), each on a fresh store.
pub async fn run_letters<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    letters_are_numbered_without_gaps(make().await).await;
    letter_year_follows_the_unit_time_zone(make().await).await;
    letters_are_issued_and_revoked(make().await).await;
    eprintln!("alur-testkit: 3 letter checks passed");
}

/// Take a domicile case to the lurah's signature step; returns it.
pub async fn to_signature<S: Store>(e: &Engine<S>, n: u32) -> Case {
    let c = e.submit(domisili(n), None).await.expect("submit");
    let c = e
        .execute(&c.id, act(&c, "baloi-operator", "lengkap"), None)
        .await
        .expect("operator");
    e.execute(&c.id, act(&c, "baloi-kasi", "paraf"), None)
        .await
        .expect("kasi")
}

/// 32 concurrent approvals at one unit get numbers 1..32 with no gap or repeat; a rejection, a
/// refused (stale) approval and an approval of a service without letters take no number.
pub async fn letters_are_numbered_without_gaps<S: Store>(store: S) {
    let (e, _clock) = engine(store).await;
    let e = Arc::new(e);
    let mut cases = Vec::new();
    for n in 0..35 {
        cases.push(to_signature(&e, n).await);
    }
    // A refused approval (stale version) and a rejection first.
    let stale = &cases[32];
    let mut cmd = act(stale, "baloi-lurah", "tandatangani");
    if let Command::Act { seen_version, .. } = &mut cmd {
        *seen_version -= 1;
    }
    assert!(e.execute(&stale.id, cmd, None).await.is_err());
    e.execute(&cases[33].id, act(&cases[33], "baloi-lurah", "tolak"), None)
        .await
        .expect("rejection");
    let mut tasks = tokio::task::JoinSet::new();
    for c in cases.iter().take(32).cloned() {
        let e = e.clone();
        tasks.spawn(async move {
            e.execute(&c.id, act(&c, "baloi-lurah", "tandatangani"), None)
                .await
                .map(|_| c.id.clone())
        });
    }
    let mut approved = BTreeSet::new();
    while let Some(r) = tasks.join_next().await {
        approved.insert(r.expect("task").expect("approval"));
    }
    assert_eq!(approved.len(), 32);
    let letters = e
        .store()
        .letters(TENANT, "21.71.10.1001", 2026)
        .await
        .expect("register");
    let seqs: Vec<u64> = letters.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1..=32).collect::<Vec<u64>>(), "gap-free and unique");
    let numbers: BTreeSet<&str> = letters.iter().map(|l| l.number.as_str()).collect();
    assert_eq!(numbers.len(), 32);
    assert!(
        numbers.contains("470/0001/21.71.10.1001/III/2026"),
        "{numbers:?}"
    );
    assert!(numbers.contains("470/0032/21.71.10.1001/III/2026"));
    for l in &letters {
        assert!(approved.contains(&l.case_id));
        assert_eq!(l.status, alur_core::letter::LetterStatus::Numbered);
        assert!(alur_core::letter::looks_like_token(&l.token), "{}", l.token);
    }
    for c in &cases[32..34] {
        assert!(e.letter_for_case(&c.id).await.expect("read").is_none());
    }
    // The refused approval, retried with the right version, takes the next number.
    let fresh = e.case(&stale.id).await.expect("read").expect("case");
    e.execute(&stale.id, act(&fresh, "baloi-lurah", "tandatangani"), None)
        .await
        .expect("approval");
    let l = e
        .letter_for_case(&stale.id)
        .await
        .expect("read")
        .expect("letter");
    assert_eq!(l.seq, 33);
}

/// Approvals at 23:59 and 00:01 WIB across New Year get the old and the new year's sequence.
pub async fn letter_year_follows_the_unit_time_zone<S: Store>(store: S) {
    let (e, clock) = engine(store).await;
    clock.set(ts("2026-12-31T08:00:00Z"));
    let a = to_signature(&e, 1).await;
    let b = to_signature(&e, 2).await;
    clock.set(ts("2026-12-31T16:59:00Z")); // 23:59 WIB
    e.execute(&a.id, act(&a, "baloi-lurah", "tandatangani"), None)
        .await
        .expect("approval");
    clock.set(ts("2026-12-31T17:01:00Z")); // 00:01 WIB, 1 January 2027
    e.execute(&b.id, act(&b, "baloi-lurah", "tandatangani"), None)
        .await
        .expect("approval");
    let la = e
        .letter_for_case(&a.id)
        .await
        .expect("read")
        .expect("letter");
    let lb = e
        .letter_for_case(&b.id)
        .await
        .expect("read")
        .expect("letter");
    assert_eq!((la.year, la.seq), (2026, 1));
    assert!(la.number.ends_with("/XII/2026"), "{}", la.number);
    assert_eq!((lb.year, lb.seq), (2027, 1));
    assert!(lb.number.ends_with("/I/2027"), "{}", lb.number);
}

/// A numbered letter is issued by its signer (with name, NIP and position as on the day, and
/// "Plh." when delegated), found by token and by document digest, counted when scanned, and
/// revoked with a reason; the chain records both.
pub async fn letters_are_issued_and_revoked<S: Store>(store: S) {
    use alur_core::engine::EventKind;
    use alur_core::letter::LetterStatus;
    let (e, _clock) = engine(store).await;
    // The Plh. lurah (the sekretaris lurah, mandate valid 16–27 March 2026) signs.
    let c = to_signature(&e, 1).await;
    e.execute(&c.id, act(&c, "baloi-sekel", "tandatangani"), None)
        .await
        .expect("approval by the Plh.");
    assert!(
        e.prepare_letter(&c.id, "baloi-lurah").await.is_err(),
        "only the approver signs"
    );
    let draft = e.prepare_letter(&c.id, "baloi-sekel").await.expect("draft");
    assert_eq!(draft.signer.title(), "Plh. Lurah Baloi Permai");
    assert_eq!(draft.signer.name, "Dewi Anggraini, S.IP.");
    assert_eq!(draft.valid_until, Some(jiff::civil::date(2026, 9, 17)));
    assert_eq!(
        draft.fields.get("nama").map(String::as_str),
        Some("Pemohon Uji")
    );
    assert!(draft.verify_url.ends_with(&draft.letter.token));
    let doc = b"%PDF-1.7 surat uji".to_vec();
    let issued = e
        .issue_letter(&draft, &doc, "application/pdf")
        .await
        .expect("issue");
    assert_eq!(issued.status, LetterStatus::Issued);
    let sha = alur_core::letter::document_digest(&doc);
    assert_eq!(issued.document_sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(
        issued.signer.as_ref().map(|s| s.officer.as_str()),
        Some("baloi-sekel")
    );
    let by_doc = e
        .store()
        .letter_by_document(TENANT, &sha)
        .await
        .expect("read")
        .expect("found by digest");
    assert_eq!(by_doc.token, issued.token);
    let (media, bytes) = e
        .store()
        .letter_document(TENANT, &sha)
        .await
        .expect("read")
        .expect("document");
    assert_eq!((media.as_str(), bytes), ("application/pdf", doc.clone()));
    assert!(
        e.issue_letter(&draft, &doc, "application/pdf")
            .await
            .is_err(),
        "issued once"
    );
    assert_eq!(
        e.store()
            .record_letter_scan(TENANT, &issued.token)
            .await
            .expect("scan"),
        1
    );
    assert_eq!(
        e.store()
            .record_letter_scan(TENANT, &issued.token)
            .await
            .expect("scan"),
        2
    );
    assert_eq!(
        e.store()
            .record_letter_scan(TENANT, "tidak-ada")
            .await
            .expect("scan"),
        0
    );
    // An officer of another kelurahan may not revoke it.
    assert!(
        e.revoke_letter(&issued.token, "tamanbaloi-lurah", "salah")
            .await
            .is_err()
    );
    let revoked = e
        .revoke_letter(&issued.token, "baloi-lurah", "data pemohon keliru")
        .await
        .expect("revoke");
    assert_eq!(revoked.status, LetterStatus::Revoked);
    assert!(revoked.revoked_at.is_some());
    assert!(
        e.revoke_letter(&issued.token, "baloi-lurah", "lagi")
            .await
            .is_err()
    );
    let entries = e.store().entries(TENANT, &c.id).await.expect("entries");
    let kinds: Vec<&EventKind> = entries.iter().map(|x| &x.event).collect();
    assert!(kinds.iter().any(
        |k| matches!(k, EventKind::LetterIssued { number, document_sha256, .. }
        if number == &issued.number && document_sha256 == &sha)
    ));
    assert!(matches!(
        kinds.last(),
        Some(EventKind::LetterRevoked { .. })
    ));
    for w in entries.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash, "chain continues");
    }
}
