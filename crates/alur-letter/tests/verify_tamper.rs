//! Verification against a database someone changed behind the engine's back: a letter's number
//! rewritten (after dropping the trigger that forbids it), a stored document replaced, an
//! issuance entry's status flipped to revoked without the log saying so. Each gets its own
//! verdict; an untouched letter stays valid.

use alur_core::letter::document_digest;
use alur_letter::issue::{IssueOptions, Verdict, issue, verify};
use alur_letter::{Paper, Templates};
use alur_testkit::{act, engine, to_signature};
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_records_fail_verification() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let url = format!("sqlite://{}", path.display());
    let store = alur_sqlite::SqliteStore::open(&url, alur_sqlite::SqliteOptions::default())
        .await
        .unwrap();
    let (e, _clock) = engine(store).await;
    let templates = Templates::builtin().unwrap();
    let opts = IssueOptions {
        templates: &templates,
        paper: Paper::A4,
        renderer: None,
        signer: None,
        logo: None,
    };
    let mut tokens = Vec::new();
    for n in 0..4 {
        let c = to_signature(&e, n).await;
        e.execute(&c.id, act(&c, "baloi-lurah", "tandatangani"), None)
            .await
            .unwrap();
        let issued = issue(&e, &c.id, "baloi-lurah", &opts).await.unwrap();
        assert!(String::from_utf8_lossy(&issued.document).contains(&issued.letter.number));
        tokens.push((issued.letter.token.clone(), issued.document));
    }
    let config = e.config().clone();
    let today = jiff::civil::date(2026, 3, 20);
    let check = |i: usize, doc: Option<Vec<u8>>| {
        let e = &e;
        let config = &config;
        let token = tokens[i].0.clone();
        async move {
            verify(e.store(), config, Some(&token), doc.as_deref(), None, today)
                .await
                .unwrap()
                .verdict
        }
    };
    for (i, (_, doc)) in tokens.iter().enumerate() {
        assert_eq!(check(i, Some(doc.clone())).await, Verdict::Valid);
    }
    // After its validity (six months) the same letter is expired.
    let later = jiff::civil::date(2026, 10, 1);
    let v = verify(e.store(), &config, Some(&tokens[0].0), None, None, later)
        .await
        .unwrap();
    assert_eq!(v.verdict, Verdict::Expired);

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    // The identity of a letter cannot be changed while the trigger stands…
    let refused = sqlx::query("UPDATE letters SET number = '470/9999/x/III/2026' WHERE token = ?")
        .bind(&tokens[1].0)
        .execute(&mut conn)
        .await;
    assert!(refused.is_err(), "the trigger refuses a new number");
    // …and when someone drops it, verification notices the number no longer matches the log.
    sqlx::query("DROP TRIGGER letters_fixed")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE letters SET number = '470/9999/x/III/2026' WHERE token = ?")
        .bind(&tokens[1].0)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(check(1, None).await, Verdict::RecordTampered);
    // A letter marked revoked without a revocation entry in its chain.
    sqlx::query("UPDATE letters SET status = 'revoked' WHERE token = ?")
        .bind(&tokens[2].0)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(check(2, None).await, Verdict::RecordTampered);
    // The stored document replaced: the original file no longer matches the letter's record…
    let forged = b"<html>surat lain</html>".to_vec();
    sqlx::query("UPDATE letters SET document_sha256 = ? WHERE token = ?")
        .bind(document_digest(&forged))
        .bind(&tokens[3].0)
        .execute(&mut conn)
        .await
        .unwrap();
    // …and the forged one fails against the audit log, which holds the original's digest.
    assert_eq!(check(3, Some(forged)).await, Verdict::RecordTampered);
    // The untouched letter is still valid.
    assert_eq!(check(0, Some(tokens[0].1.clone())).await, Verdict::Valid);
    conn.close().await.unwrap();
}
