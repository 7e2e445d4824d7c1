//! The webhook and gateway channels against a real HTTP server on 127.0.0.1.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alur_core::Store;
use alur_notify::{
    Address, Backoff, Channel, ChannelKind, Direct, Dispatcher, DispatcherConfig, Notification,
};
use alur_notify_webhook::{
    GatewayChannel, GatewayConfig, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookChannel,
    WebhookConfig, verify,
};
use common::{Reply, Request, serve};

const SECRET: &[u8] = b"kunci-rahasia-uji";

fn note(id: &str) -> Notification {
    Notification {
        id: id.into(),
        message_id: id.into(),
        tenant: "kepri".into(),
        case_id: "c-1".into(),
        seq: 1,
        template: "case.received".into(),
        recipient: "applicant".into(),
        to: Some(Address::new(ChannelKind::WhatsApp, "+6281234567890")),
        subject: "Permohonan diterima".into(),
        text: "Halo \"dunia\" <b>&</b>\nbaris dua".into(),
        html: None,
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn webhook(url: &str, timeout: Duration) -> WebhookChannel {
    let mut c = WebhookConfig::new(url, SECRET.to_vec());
    c.timeout = timeout;
    WebhookChannel::new(c).unwrap()
}

#[tokio::test]
async fn delivers_signed_json_that_verifies() {
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let s = seen.clone();
    let url = serve(Arc::new(move |r: &Request| {
        s.lock().unwrap().push(r.clone());
        // The receiver checks the signature and refuses a bad one with 401.
        let ok = verify(
            SECRET,
            r.header(TIMESTAMP_HEADER).unwrap_or_default(),
            r.header(SIGNATURE_HEADER).unwrap_or_default(),
            &r.body,
            unix_now(),
            300,
        )
        .is_ok();
        Reply::status(if ok { 204 } else { 401 })
    }))
    .await;
    let ch = webhook(&format!("{url}/hook"), Duration::from_secs(5));
    ch.send(&note("c-1:1:applicant")).await.unwrap();
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/hook");
    assert_eq!(got[0].header("x-alur-id"), Some("c-1:1:applicant"));
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["id"], "c-1:1:applicant");
    assert_eq!(body["template"], "case.received");
    assert_eq!(body["text"], "Halo \"dunia\" <b>&</b>\nbaris dua");

    // A channel with another key is refused by the receiver: permanent (4xx).
    let mut bad = WebhookConfig::new(format!("{url}/hook"), b"kunci-lain".to_vec());
    bad.timeout = Duration::from_secs(5);
    let e = WebhookChannel::new(bad)
        .unwrap()
        .send(&note("x"))
        .await
        .unwrap_err();
    assert!(!e.is_temporary(), "{e}");
    assert!(e.message.contains("401"));
}

#[tokio::test]
async fn status_codes_and_timeouts_map_to_retry_or_not() {
    let url = serve(Arc::new(|r: &Request| match r.path.as_str() {
        "/500" => Reply::status(500),
        "/503" => Reply::status(503),
        "/429" => Reply::status(429),
        "/400" => Reply::status(400),
        "/404" => Reply::status(404),
        "/410" => Reply::status(410),
        "/slow" => Reply {
            status: 200,
            delay: Some(Duration::from_secs(3)),
        },
        _ => Reply::status(200),
    }))
    .await;
    let n = note("c-1:1:applicant");
    for (path, temporary) in [
        ("/500", true),
        ("/503", true),
        ("/429", true),
        ("/400", false),
        ("/404", false),
        ("/410", false),
        ("/slow", true),
    ] {
        let ch = webhook(&format!("{url}{path}"), Duration::from_millis(300));
        let e = ch.send(&n).await.unwrap_err();
        assert_eq!(e.is_temporary(), temporary, "{path}: {e}");
    }
    // Nobody listening: temporary.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = webhook(&format!("http://{closed}/"), Duration::from_millis(500))
        .send(&n)
        .await
        .unwrap_err();
    assert!(e.is_temporary(), "{e}");
}

/// Through the dispatcher: 5xx and timeouts are retried until delivered; 4xx is not retried and
/// parks the message as dead at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_retries_5xx_and_timeouts_not_4xx() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    // First request 503, second times out, third 200.
    let url = serve(Arc::new(move |_r: &Request| {
        match h.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::status(503),
            1 => Reply {
                status: 200,
                delay: Some(Duration::from_secs(2)),
            },
            _ => Reply::status(200),
        }
    }))
    .await;
    let mem = Arc::new(alur_core::MemoryStore::new());
    let (engine, _clock) = alur_testkit::engine(mem.clone()).await;
    let case = engine
        .submit(alur_testkit::domisili(1), None)
        .await
        .unwrap();
    let mut config = DispatcherConfig::new("kepri");
    config.backoff = Backoff {
        base: Duration::from_millis(10),
        max: Duration::from_millis(20),
    };
    let d = Dispatcher::new(
        mem.clone(),
        Direct(webhook(&url, Duration::from_millis(300))),
        config.clone(),
    );
    for _ in 0..50 {
        d.run_once().await.unwrap();
        if mem.pending_outbox("kepri", 10).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(mem.pending_outbox("kepri", 10).await.unwrap().is_empty());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "503, timeout, then delivered"
    );
    assert!(mem.dead_outbox("kepri", 10).await.unwrap().is_empty());

    // 4xx: one request, then dead.
    let hits4 = Arc::new(AtomicU32::new(0));
    let h4 = hits4.clone();
    let url4 = serve(Arc::new(move |_r: &Request| {
        h4.fetch_add(1, Ordering::SeqCst);
        Reply::status(422)
    }))
    .await;
    let case2 = engine
        .submit(alur_testkit::domisili(2), None)
        .await
        .unwrap();
    let d4 = Dispatcher::new(
        mem.clone(),
        Direct(webhook(&url4, Duration::from_millis(300))),
        config,
    );
    for _ in 0..5 {
        d4.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(hits4.load(Ordering::SeqCst), 1, "4xx is not retried");
    let dead = mem.dead_outbox("kepri", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message.case_id, case2.id);
    assert!(dead[0].last_error.contains("422"));
    assert_ne!(case.id, case2.id);
}

#[tokio::test]
async fn gateway_renders_the_configured_request_escaped() {
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let s = seen.clone();
    let url = serve(Arc::new(move |r: &Request| {
        s.lock().unwrap().push(r.clone());
        Reply::status(200)
    }))
    .await;
    // `set_var` is unsafe (and unsafe code is forbidden), so use a variable cargo sets.
    let token = std::env::var("CARGO_PKG_NAME").unwrap();
    let json = GatewayChannel::new(
        toml::from_str::<GatewayConfig>(&format!(
            r#"
name = "whatsapp"
url = "{url}/send/{{{{to}}}}"
encoding = "json"
content_type = "application/json"
body = '{{"to": "{{{{to}}}}", "message": "{{{{text}}}}", "ref": "{{{{id}}}}"}}'
headers = {{ Authorization = "Bearer ${{CARGO_PKG_NAME}}" }}
"#
        ))
        .unwrap(),
    )
    .unwrap();
    json.send(&note("c-1:1:applicant")).await.unwrap();
    let form = GatewayChannel::new(GatewayConfig {
        name: "sms".into(),
        url: format!("{url}/sms"),
        encoding: alur_notify_webhook::BodyEncoding::Form,
        content_type: "application/x-www-form-urlencoded".into(),
        body: "to={{to}}&msg={{text}}".into(),
        headers: Default::default(),
        timeout_secs: Some(5),
    })
    .unwrap();
    form.send(&note("c-1:1:applicant")).await.unwrap();
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].path, "/send/%2B6281234567890");
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["message"], "Halo \"dunia\" <b>&</b>\nbaris dua");
    assert_eq!(body["to"], "+6281234567890");
    assert_eq!(body["ref"], "c-1:1:applicant");
    let form_body = String::from_utf8(got[1].body.clone()).unwrap();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(form_body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("to".into(), "+6281234567890".into()),
            ("msg".into(), "Halo \"dunia\" <b>&</b>\nbaris dua".into())
        ]
    );
    // Unknown variables and missing secrets fail at set-up, not at send time.
    let mut bad = GatewayConfig {
        name: "sms".into(),
        url: format!("{url}/sms"),
        encoding: alur_notify_webhook::BodyEncoding::Form,
        content_type: "text/plain".into(),
        body: "{{pesan}}".into(),
        headers: Default::default(),
        timeout_secs: None,
    };
    assert!(GatewayChannel::new(bad.clone()).is_err());
    bad.body = "{{text}}".into();
    bad.headers
        .insert("x-key".into(), "${ALUR_TEST_NO_SUCH_VARIABLE}".into());
    let e = GatewayChannel::new(bad).unwrap_err();
    assert!(e.to_string().contains("ALUR_TEST_NO_SUCH_VARIABLE"), "{e}");
}
