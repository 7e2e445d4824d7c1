//! Tamper evidence over an exported tenant: for every entry, every mutation (a changed byte in each
//! field, deletion, a swap with its neighbour, an inserted forgery, a truncated tail, and a tail
//! rewritten with every hash recomputed) is detected — the last one through the signed checkpoint.

use alur_core::audit::AuditEntry;
use alur_core::store::{LogLeaf, Store, StoredCheckpoint};
use alur_core::tlog::{Auditor, Integrator};
use alur_core::{MemoryStore, engine::Actor, engine::Command, engine::Payload};
use alur_merkle::checkpoint::{CheckpointSigner, CheckpointVerifier};

/// A mutation of one entry.
type Mutate = fn(&mut AuditEntry);

struct Export {
    entries: Vec<AuditEntry>,
    leaves: Vec<LogLeaf>,
    checkpoints: Vec<StoredCheckpoint>,
}

fn audit(x: &Export, v: &CheckpointVerifier, external: Option<&str>) -> Result<(), String> {
    let mut a = Auditor::new("kepri");
    for e in &x.entries {
        a.entry(e).map_err(|f| f.to_string())?;
    }
    a.finish(&x.leaves, &x.checkpoints, Some(v), external, true)
        .map(|_| ())
        .map_err(|f| f.to_string())
}

async fn build() -> (Export, CheckpointVerifier, String) {
    let (e, clock) = alur_testkit::engine(MemoryStore::new()).await;
    let signer = CheckpointSigner::from_seed("alur-test", &[9u8; 32]).unwrap();
    let verifier = signer.verifier();
    let mut integ = Integrator::new("kepri", Some(signer));
    for n in 0..40 {
        let c = e.submit(alur_testkit::domisili(n), None).await.unwrap();
        clock.advance(jiff::SignedDuration::from_mins(3));
        let c = e
            .execute(
                &c.id,
                alur_testkit::act(&c, "baloi-operator", "lengkap"),
                None,
            )
            .await
            .unwrap();
        if n % 3 == 0 {
            let note = Command::Comment {
                actor: Actor::Officer("baloi-kasi".into()),
                payload: Payload {
                    text: Some("cek".into()),
                    ..Payload::default()
                },
            };
            e.execute(&c.id, note, None).await.unwrap();
        }
        if n % 20 == 19 {
            integ.integrate(e.store(), 50).await.unwrap();
            integ.checkpoint(e.store()).await.unwrap();
        }
    }
    integ.integrate(e.store(), 50).await.unwrap();
    let external = integ.checkpoint(e.store()).await.unwrap().note;
    let store = e.store();
    let entries = store.all_entries("kepri", None, usize::MAX).await.unwrap();
    let size = store.log_size("kepri").await.unwrap();
    let x = Export {
        entries,
        leaves: store.log_leaves("kepri", 0, size).await.unwrap(),
        checkpoints: store.checkpoints("kepri").await.unwrap(),
    };
    (x, verifier, external)
}

fn flip(s: &mut String) {
    let mut b = std::mem::take(s).into_bytes();
    if b.is_empty() {
        b.push(b'x');
    } else {
        let i = b.len() / 2;
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    }
    *s = String::from_utf8_lossy(&b).into_owned();
}

#[tokio::test]
async fn every_mutation_of_every_entry_is_detected() {
    let (x, v, external) = build().await;
    assert!(x.entries.len() >= 90, "{}", x.entries.len());
    audit(&x, &v, Some(&external)).expect("the untouched export verifies");
    let mut tried = 0u64;
    let mut detect = |label: String, y: Export, ext: Option<&str>| {
        tried += 1;
        assert!(audit(&y, &v, ext).is_err(), "undetected: {label}");
    };
    let clone = |x: &Export| Export {
        entries: x.entries.clone(),
        leaves: x.leaves.clone(),
        checkpoints: x.checkpoints.clone(),
    };
    for i in 0..x.entries.len() {
        // A changed byte in each field.
        let fields: Vec<(&str, Mutate)> = vec![
            ("tenant", |e| flip(&mut e.tenant)),
            ("case_id", |e| flip(&mut e.case_id)),
            ("seq", |e| e.seq ^= 1),
            ("service", |e| flip(&mut e.service)),
            ("definition_version", |e| e.definition_version ^= 1),
            ("calendar_version", |e| {
                e.calendar_version = Some(e.calendar_version.clone().unwrap_or_default() + "x")
            }),
            ("event", |e| {
                e.event = alur_core::engine::EventKind::Commented
            }),
            ("actor", |e| flip(&mut e.actor.id)),
            ("legal_basis", |e| e.legal_basis = Some("forged".into())),
            ("at", |e| {
                e.at =
                    e.at.checked_add(jiff::SignedDuration::from_secs(1))
                        .unwrap()
            }),
            ("due", |e| e.due = None),
            ("payload_digest", |e| {
                e.payload_digest = Some("00".repeat(32))
            }),
            ("prev_hash", |e| flip(&mut e.prev_hash)),
            ("hash", |e| flip(&mut e.hash)),
        ];
        for (name, f) in fields {
            let mut y = clone(&x);
            let before = y.entries[i].clone();
            f(&mut y.entries[i]);
            if y.entries[i] == before {
                continue; // the field was already that value (e.g. no due): nothing changed
            }
            detect(format!("entry {i} field {name}"), y, None);
        }
        // Deletion.
        let mut y = clone(&x);
        y.entries.remove(i);
        detect(format!("delete entry {i}"), y, None);
        // Swap with the next entry.
        if i + 1 < x.entries.len() {
            let mut y = clone(&x);
            y.entries.swap(i, i + 1);
            detect(format!("swap entries {i}/{}", i + 1), y, None);
        }
        // An inserted forgery chained onto this entry (hash recomputed).
        let mut y = clone(&x);
        let mut forged = y.entries[i].clone();
        forged.seq += 1;
        forged.prev_hash = y.entries[i].hash.clone();
        forged.event = alur_core::engine::EventKind::Commented;
        forged.hash = forged.compute_hash();
        y.entries.insert(i + 1, forged);
        detect(format!("insert after entry {i}"), y, None);
        // Relabel this leaf: the entry it points to is unchanged, its label names another.
        if i < x.leaves.len() {
            let mut y = clone(&x);
            y.leaves[i].seq += 1;
            detect(format!("relabel leaf {i} (seq)"), y, None);
            let mut y = clone(&x);
            let other = x
                .leaves
                .iter()
                .find(|l| l.case_id != x.leaves[i].case_id)
                .unwrap()
                .case_id
                .clone();
            y.leaves[i].case_id = other;
            detect(format!("relabel leaf {i} (case)"), y, None);
        }
        // Truncate the log's tail from this leaf.
        if i < x.leaves.len() {
            let mut y = clone(&x);
            y.leaves.truncate(i);
            detect(format!("truncate log at {i}"), y, None);
        }
    }
    // Rewrite the tail: drop the last case's entries and recompute everything the database holds
    // (log and stored checkpoints gone too). Only the exported checkpoint catches it.
    let mut y = clone(&x);
    let last_case = y.entries.last().unwrap().case_id.clone();
    y.entries.retain(|e| e.case_id != last_case);
    let keep: std::collections::HashSet<String> =
        y.entries.iter().map(|e| e.hash.clone()).collect();
    y.leaves.retain(|l| keep.contains(&l.hash));
    for (i, l) in y.leaves.iter_mut().enumerate() {
        l.index = i as u64;
    }
    y.checkpoints.clear();
    // Re-sign nothing: the attacker has no key, so the stored checkpoints are simply dropped.
    let mut lenient = Auditor::new("kepri");
    for e in &y.entries {
        lenient.entry(e).unwrap();
    }
    assert!(
        lenient
            .finish(&y.leaves, &[], Some(&v), None, false)
            .is_ok(),
        "a full rewrite passes without an external checkpoint"
    );
    detect(
        "rewrite tail, recompute all hashes".into(),
        y,
        Some(&external),
    );
    eprintln!(
        "tamper suite: {tried} mutations tried over {} entries, all detected",
        x.entries.len()
    );
}
