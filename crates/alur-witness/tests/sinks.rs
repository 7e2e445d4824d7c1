//! The sinks against a real directory and a real HTTP server on 127.0.0.1, driven by a
//! publisher over a real engine's audit log.

use std::sync::{Arc, Mutex};

use alur_core::MemoryStore;
use alur_core::store::{Store, StoredCheckpoint};
use alur_core::witness::{CheckpointSink, Publisher};
use alur_merkle::checkpoint::{CheckpointSigner, parse_and_verify};
use alur_witness::{DirectorySink, WebhookSink, checkpoint_file_name, signature};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_seed("alur-kepri", &[9; 32]).unwrap()
}

#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

/// A minimal HTTP/1.1 server: answers each request with the next status of `statuses` (the
/// last one repeats) and records what it got.
async fn server(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/checkpoints", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let status = statuses[n.min(statuses.len() - 1)];
            n += 1;
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let k = sock.read(&mut chunk).await.unwrap();
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + length {
                    let k = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..k]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
                    .collect();
                let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
                seen.lock().unwrap().push(Received { headers, body });
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, got)
}

fn header<'a>(r: &'a Received, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_publisher_copies_checkpoints_to_a_directory_and_a_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (url, got) = server(vec![503, 200]).await;
    let secret = b"webhook-secret".to_vec();
    // A real engine: its configuration chain gives the log entries.
    let (engine, _clock) = alur_testkit::engine(MemoryStore::new()).await;
    let store = engine.into_store();
    let mut p = Publisher::new(store, "kepri", signer())
        .sink(DirectorySink::new(dir.path()))
        .sink(WebhookSink::new(&url, Some(secret.clone())).unwrap());

    // Round 1: the webhook answers 503; the directory has the checkpoint.
    let r = p.round().await.unwrap();
    let c = r.checkpoint.clone().unwrap();
    assert!(r.signed && c.size > 0);
    assert_eq!(r.published.len(), 1, "{r:?}");
    assert_eq!(r.failed.len(), 1);
    assert!(r.failed[0].1.contains("503"), "{r:?}");
    let tenant_dir = dir.path().join("kepri");
    let kept = std::fs::read_to_string(tenant_dir.join(checkpoint_file_name(c.size))).unwrap();
    assert_eq!(kept, c.note);
    assert_eq!(
        std::fs::read_to_string(tenant_dir.join("latest.txt")).unwrap(),
        c.note
    );
    let verifier = signer().verifier();
    assert_eq!(parse_and_verify(&kept, &verifier).unwrap().size, c.size);

    // Round 2: nothing new to sign; only the webhook is offered it again, and takes it.
    let r = p.round().await.unwrap();
    assert!(!r.signed);
    assert_eq!(r.published, vec![format!("webhook:{url}")]);
    assert!(r.failed.is_empty());
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let last = &got[1];
    assert_eq!(last.body, c.note);
    assert_eq!(header(last, "x-alur-tenant"), Some("kepri"));
    assert_eq!(
        header(last, "x-alur-tree-size"),
        Some(c.size.to_string().as_str())
    );
    let sig = header(last, "x-alur-signature").unwrap();
    let t: u64 = sig
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(sig, signature(&secret, t, last.body.as_bytes()));
    assert_ne!(sig, signature(b"another secret", t, last.body.as_bytes()));

    // Round 3: the log grows; a new checkpoint goes to both, latest.txt moves forward.
    let mut desired = alur_core::config_log::ConfigState::default();
    desired
        .calendars
        .insert(Some("21.71".into()), "9@ff".into());
    let recorded = p
        .store()
        .entries("kepri", alur_core::config_log::CONFIG_CHAIN)
        .await
        .unwrap();
    let head = recorded.last().map(|e| (e.seq, e.hash.clone()));
    let state = alur_core::config_log::ConfigState::from_entries(&recorded);
    let mut next = state.clone();
    next.calendars.extend(desired.calendars);
    let more = alur_core::config_log::chain_entries(
        "kepri",
        head,
        state.diff(&next),
        "2026-03-03T01:00:00Z".parse().unwrap(),
    );
    p.store().append_chain("kepri", &more).await.unwrap();
    let r = p.round().await.unwrap();
    let c2 = r.checkpoint.clone().unwrap();
    assert!(r.signed && c2.size == c.size + 1);
    assert_eq!(r.published.len(), 2);
    assert_eq!(
        std::fs::read_to_string(tenant_dir.join("latest.txt")).unwrap(),
        c2.note
    );
    assert!(
        tenant_dir.join(checkpoint_file_name(c.size)).exists(),
        "older checkpoints stay"
    );
}

#[tokio::test]
async fn the_directory_refuses_a_second_tree_of_the_same_size() {
    let dir = tempfile::tempdir().unwrap();
    let sink = DirectorySink::new(dir.path());
    let signer = signer();
    let sign = |size: u64, root: u8| StoredCheckpoint {
        size,
        note: signer
            .sign(&alur_merkle::checkpoint::Checkpoint::new(
                "alur/kepri",
                size,
                [root; 32],
            ))
            .unwrap(),
    };
    sink.publish("kepri", &sign(5, 1)).await.unwrap();
    sink.publish("kepri", &sign(5, 1)).await.unwrap(); // the same again is fine
    let err = sink.publish("kepri", &sign(5, 2)).await.unwrap_err();
    assert!(
        err.0.contains("different signed checkpoint of size 5"),
        "{err}"
    );
    // An older checkpoint arriving late does not move latest.txt back.
    sink.publish("kepri", &sign(9, 3)).await.unwrap();
    sink.publish("kepri", &sign(7, 4)).await.unwrap();
    let latest = std::fs::read_to_string(dir.path().join("kepri/latest.txt")).unwrap();
    assert_eq!(latest, sign(9, 3).note);
    assert!(
        sink.publish("../etc", &sign(1, 1)).await.is_err(),
        "tenant ids cannot escape"
    );
}

#[tokio::test]
async fn a_webhook_that_refuses_or_is_down_is_an_error() {
    let (url, _) = server(vec![400]).await;
    let sink = WebhookSink::new(&url, None).unwrap();
    let c = StoredCheckpoint {
        size: 1,
        note: "x".into(),
    };
    assert!(
        sink.publish("kepri", &c)
            .await
            .unwrap_err()
            .0
            .contains("400")
    );
    // Nothing listens here any more.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/", l.local_addr().unwrap());
    drop(l);
    assert!(
        WebhookSink::new(&dead, None)
            .unwrap()
            .publish("kepri", &c)
            .await
            .is_err()
    );
    assert!(WebhookSink::new("ftp://x", None).is_err());
}
