//! The router served on loopback and spoken to over real HTTP.

use std::sync::Arc;

use alur_core::{Engine, MemoryStore, Store};
use alur_server::{AppState, KpiSource, Settings, SqliteKpiSource, TokenAuthenticator};
use serde_json::{Value, json};

struct Desk<S: Store> {
    base: String,
    engine: Arc<Engine<S>>,
    http: reqwest::Client,
}

async fn start<S: Store>(store: S, settings: Settings) -> Desk<S> {
    start_with(store, settings, None).await
}

async fn start_with<S: Store>(
    store: S,
    settings: Settings,
    kpi: Option<Arc<dyn KpiSource>>,
) -> Desk<S> {
    let (engine, _clock) = alur_testkit::engine(store).await;
    let engine = Arc::new(engine);
    let auth = TokenAuthenticator::new()
        .with_token("t-operator", "baloi-operator")
        .with_token("t-kasi", "baloi-kasi")
        .with_token("t-taman", "tamanbaloi-lurah");
    let mut state = AppState::new(engine.clone(), Arc::new(auth), settings);
    if let Some(kpi) = kpi {
        state = state.with_kpi(kpi);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(alur_server::serve(
        listener,
        alur_server::router(state),
        std::future::pending(),
    ));
    Desk {
        base,
        engine,
        http: {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client")
        },
    }
}

/// A desk on an SQLite file in `dir` with its performance figures refreshed at most once per
/// `interval`.
async fn start_with_kpi(
    dir: &tempfile::TempDir,
    settings: Settings,
    interval: std::time::Duration,
) -> Desk<alur_sqlite::SqliteStore> {
    let path = dir.path().join("alur.db");
    let url = format!("sqlite://{}", path.display());
    let store = alur_sqlite::SqliteStore::open(&url, alur_sqlite::SqliteOptions::default())
        .await
        .expect("sqlite");
    let source = SqliteKpiSource::new(
        alur_kpi::SqliteKpi::new(&path),
        &alur_testkit::kepri(),
        interval,
    );
    start_with(store, settings, Some(Arc::new(source))).await
}

struct Reply {
    status: u16,
    content_type: String,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
    fn is_problem(&self, status: u16) -> bool {
        self.status == status
            && self.content_type == "application/problem+json"
            && self.json()["status"] == status
            && self.json()["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:alur:problem:"))
    }
}

impl<S: Store> Desk<S> {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let method =
            reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = r.text().await.expect("body");
        Reply {
            status,
            content_type,
            text,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, &[], None).await
    }

    async fn submit(&self, key: &str, body: &Value) -> Reply {
        self.send(
            "POST",
            "/api/v1/cases",
            None,
            &[("idempotency-key", key)],
            Some(body.to_string()),
        )
        .await
    }
}

fn domisili(nama: &str) -> Value {
    json!({
        "service": "batam-domisili",
        "unit": "21.71.10.1001",
        "nik": "2171104512900001",
        "fields": {"nama": nama, "alamat": "Jl. Uji No. 1", "keperluan": "Uji"},
    })
}

fn settings() -> Settings {
    Settings {
        public_requests_per_minute: 0,
        ..Settings::default()
    }
}

#[tokio::test]
async fn health_ready_metrics_and_openapi() {
    let d = start(MemoryStore::new(), settings()).await;
    let r = d.get("/health", None).await;
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    assert_eq!(d.get("/ready", None).await.status, 200);
    let r = d.submit("k1", &domisili("Uji")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = d.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/plain"));
    assert!(
        r.text
            .contains("alur_http_requests_total{route=\"/health\",status=\"200\"} 1"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("alur_http_requests_total{route=\"/api/v1/cases\",status=\"201\"} 1")
    );
    assert!(
        r.text
            .contains("alur_transitions_total{command=\"submit\"} 1")
    );
    assert!(r.text.contains("alur_open_cases{sla=\"on_time\"} 1"));
    assert!(r.text.contains("alur_outbox_pending "));

    // The document lists every operation, and every operation listed is served.
    let doc = d.get("/openapi.json", None).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for op in alur_server::openapi::OPERATIONS {
        assert!(doc["paths"][op.path][op.method].is_object());
        let path = op
            .path
            .replace("{code}", "x")
            .replace("{id}", "x")
            .replace("{token}", "x");
        let body = (op.method == "post").then(|| "{}".to_owned());
        let r = d
            .send(op.method, &path, Some("t-operator"), &[], body)
            .await;
        assert_ne!(r.status, 405, "{} {}", op.method, op.path);
        if r.status == 404 && r.content_type.starts_with("text/html") {
            assert!(
                !r.text.contains("Halaman tidak ditemukan"),
                "{} {}",
                op.method,
                op.path
            );
        } else if r.status == 404 {
            assert_ne!(
                r.json()["type"],
                "urn:alur:problem:no-route",
                "{} {}",
                op.method,
                op.path
            );
        }
        let documented: Vec<u16> = op.responses.iter().map(|(c, _)| *c).collect();
        assert!(
            documented.contains(&r.status),
            "{} {} answered {} ({})",
            op.method,
            op.path,
            r.status,
            r.text
        );
    }
}

#[tokio::test]
async fn catalogue_lists_the_standard() {
    let d = start(MemoryStore::new(), settings()).await;
    let r = d.get("/api/v1/services", None).await;
    let services = r.json()["services"].as_array().cloned().expect("services");
    let dom = services
        .iter()
        .find(|s| s["id"] == "batam-domisili")
        .expect("domicile service");
    assert!(
        dom["requirements"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(dom["completion_time"].is_string());
    assert!(dom["fee"]["amount"].is_u64());
    assert!(dom["product"]["name"].is_string());
    let page = d.get("/layanan/batam-domisili", None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Persyaratan"));
    let home = d.get("/", None).await;
    assert!(home.text.contains("/layanan/batam-domisili"));
}

#[tokio::test]
async fn submission_is_idempotent() {
    let d = start(MemoryStore::new(), settings()).await;
    let first = d.submit("same", &domisili("Ani")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = d.submit("same", &domisili("Ani")).await;
    assert_eq!(again.status, 201);
    assert_eq!(first.json(), again.json(), "the first response is replayed");
    let other = d.submit("same", &domisili("Budi")).await;
    assert!(other.is_problem(422), "{}", other.text);
    assert_eq!(
        other.json()["type"],
        "urn:alur:problem:idempotency-mismatch"
    );

    let missing = d
        .send(
            "POST",
            "/api/v1/cases",
            None,
            &[],
            Some(domisili("Ani").to_string()),
        )
        .await;
    assert!(missing.is_problem(400), "{}", missing.text);

    // Concurrent duplicates: one case.
    let mut tasks = Vec::new();
    let d = Arc::new(d);
    for _ in 0..8 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            d.submit("race", &domisili("Citra")).await.json()["case"]["id"].clone()
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.expect("task").to_string());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let q = alur_core::store::SearchQuery::default();
    assert_eq!(d.engine.search(&q).await.expect("search").len(), 2);
}

#[tokio::test]
async fn tracking_codes_track_and_refuse_tampering() {
    let d = start(MemoryStore::new(), settings()).await;
    let r = d.submit("t", &domisili("<script>alert(1)</script>")).await;
    let code = r.json()["tracking_code"].as_str().expect("code").to_owned();
    let id = r.json()["case"]["id"].as_str().expect("id").to_owned();
    let short = r.json()["short_code"]
        .as_str()
        .expect("short code")
        .to_owned();
    assert!(
        r.json()["tracking_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/lacak/{short}")))
    );
    assert!(
        r.json()["receipt_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/lacak/{short}/tanda-terima")))
    );
    assert!(!code.contains(&id), "the code is not the plain case id");
    assert!(
        !id.contains(&short.replace('-', "")),
        "nor is the short code"
    );
    // The short code tracks the same case, typed in any case and without dashes.
    for typed in [short.clone(), short.to_lowercase().replace('-', "")] {
        let t = d.get(&format!("/api/v1/track/{typed}"), None).await;
        assert_eq!(t.status, 200, "{typed}");
        assert_eq!(t.json()["id"], id.as_str());
        assert_eq!(t.json()["short_code"], short.as_str());
    }
    let receipt = d.get(&format!("/lacak/{short}/tanda-terima"), None).await;
    assert_eq!(receipt.status, 200);
    for part in [
        short.as_str(),
        "Tanda terima permohonan",
        "Kelurahan Baloi Permai — Kecamatan Batam Kota",
        "Surat pengantar RT/RW",
        "pukul",
    ] {
        assert!(receipt.text.contains(part), "{part} on the receipt");
    }

    let t = d.get(&format!("/api/v1/track/{code}"), None).await;
    assert_eq!(t.status, 200);
    assert_eq!(t.json()["id"], id.as_str());
    assert_eq!(t.json()["state"], "open");
    assert!(
        t.json()["timeline"]
            .as_array()
            .is_some_and(|x| !x.is_empty())
    );

    // A changed tag, the case id alone, or a guess: 404.
    let mut tampered = code.clone().into_bytes();
    let i = tampered.len() - 1;
    tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for bad in [tampered.as_str(), id.as_str(), "aaaa.bbbb"] {
        let r = d.get(&format!("/api/v1/track/{bad}"), None).await;
        assert!(r.is_problem(404), "{bad}: {}", r.text);
    }

    // The page escapes what the applicant typed.
    let page = d.get(&format!("/lacak/{code}"), None).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(!page.text.contains("<script>"), "{}", page.text);
    assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.text.contains("Perkiraan selesai"));
    let page = d.get(&format!("/lacak/{tampered}"), None).await;
    assert_eq!(page.status, 404);
}

#[tokio::test]
async fn officers_work_their_inbox_and_only_their_cases() {
    let d = start(MemoryStore::new(), settings()).await;
    let r = d.submit("o", &domisili("Dedi")).await;
    let id = r.json()["case"]["id"].as_str().expect("id").to_owned();

    assert!(d.get("/api/v1/inbox", None).await.is_problem(401));
    let inbox = d.get("/api/v1/inbox", Some("t-operator")).await.json();
    assert!(
        inbox["cases"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x["id"] == id.as_str()))
    );

    let case = d
        .get(&format!("/api/v1/cases/{id}"), Some("t-operator"))
        .await;
    assert_eq!(case.status, 200, "{}", case.text);
    let version = case.json()["version"].as_u64().expect("version");
    assert!(
        case.json()["allowed_actions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["id"] == "lengkap"))
    );

    // Another kelurahan's lurah: neither sees nor acts, and learns nothing (404, as for no case).
    for path in [
        format!("/api/v1/cases/{id}"),
        format!("/api/v1/cases/{id}/timeline"),
    ] {
        let r = d.get(&path, Some("t-taman")).await;
        assert!(r.is_problem(404), "{path}: {}", r.text);
    }
    let action = json!({
        "action": "lengkap",
        "seen_version": version,
        "checked": ["pengantar-rt-rw", "ktp", "kk"],
    });
    let r = d
        .send(
            "POST",
            &format!("/api/v1/cases/{id}/actions"),
            Some("t-taman"),
            &[],
            Some(action.to_string()),
        )
        .await;
    assert!(r.is_problem(404), "{}", r.text);
    let taman_inbox = d.get("/api/v1/inbox", Some("t-taman")).await.json();
    assert_eq!(taman_inbox["cases"], json!([]));

    // Malformed JSON is a problem too.
    let r = d
        .send(
            "POST",
            &format!("/api/v1/cases/{id}/actions"),
            Some("t-operator"),
            &[],
            Some("{".into()),
        )
        .await;
    assert!(r.is_problem(400), "{}", r.text);

    // The operator acts; a stale repeat conflicts.
    let r = d
        .send(
            "POST",
            &format!("/api/v1/cases/{id}/actions"),
            Some("t-operator"),
            &[],
            Some(action.to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["version"].as_u64() > Some(version));
    let r = d
        .send(
            "POST",
            &format!("/api/v1/cases/{id}/actions"),
            Some("t-operator"),
            &[],
            Some(action.to_string()),
        )
        .await;
    assert!(r.is_problem(409), "{}", r.text);

    let tl = d
        .get(&format!("/api/v1/cases/{id}/timeline"), Some("t-kasi"))
        .await;
    assert_eq!(tl.status, 200);
    assert_eq!(tl.json()["entries"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn errors_are_problems() {
    let d = start(MemoryStore::new(), settings()).await;
    assert!(d.get("/no/such/path", None).await.is_problem(404));
    assert_eq!(
        d.get("/no/such/path", None).await.json()["title"],
        "Halaman tidak ditemukan"
    );
    assert!(
        d.send("DELETE", "/health", None, &[], None)
            .await
            .is_problem(405)
    );
    let r = d.submit("x", &json!({"service": "batam-domisili"})).await;
    assert!(r.is_problem(400) || r.is_problem(422), "{}", r.text);
    let r = d
        .submit(
            "y",
            &json!({"service": "nope", "unit": "21.71.10.1001", "nik": "2171104512900001"}),
        )
        .await;
    assert!(r.is_problem(404), "{}", r.text);
}

#[tokio::test]
async fn unknown_letters_are_reported_unknown() {
    let d = start(MemoryStore::new(), settings()).await;
    let token = "abcdefghijklmnopqrstuvwxyz234567";
    let r = d
        .get(&format!("/api/v1/letters/{token}/verify"), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["verdict"], "unknown");
    assert_eq!(r.json()["valid"], false);
    let page = d.get(&format!("/verifikasi/{token}"), None).await;
    assert_eq!(page.status, 404);
    assert!(page.text.contains("TIDAK DIKENAL"));
}

#[tokio::test]
async fn public_endpoints_are_rate_limited() {
    let d = start(
        MemoryStore::new(),
        Settings {
            public_requests_per_minute: 3,
            ..Settings::default()
        },
    )
    .await;
    for _ in 0..3 {
        assert_eq!(d.get("/api/v1/track/aaaa.bbbb", None).await.status, 404);
    }
    let r = d.get("/api/v1/track/aaaa.bbbb", None).await;
    assert!(r.is_problem(429), "{}", r.text);
    // Officers' and fixed paths are not limited.
    assert_eq!(d.get("/health", None).await.status, 200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let d = start(
        MemoryStore::new(),
        Settings {
            public_requests_per_minute: 2,
            trusted_proxies: vec!["127.0.0.1".parse().expect("ip")],
            ..Settings::default()
        },
    )
    .await;
    let track = |client: &'static str| {
        let d = &d;
        async move {
            d.send(
                "GET",
                "/api/v1/track/aaaa.bbbb",
                None,
                &[("x-forwarded-for", client)],
                None,
            )
            .await
            .status
        }
    };
    assert_eq!(track("203.0.113.1").await, 404);
    assert_eq!(track("203.0.113.1").await, 404);
    assert_eq!(track("203.0.113.1").await, 429);
    // Another citizen behind the same proxy is not held back by the first one, and a client
    // cannot escape its limit by claiming another address in front of the proxy's entry.
    assert_eq!(track("203.0.113.2").await, 404);
    assert_eq!(track("9.9.9.9, 203.0.113.1").await, 429);
}

#[tokio::test]
async fn runs_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("alur.db").display());
    let store = alur_sqlite::SqliteStore::open(&url, alur_sqlite::SqliteOptions::default())
        .await
        .expect("sqlite");
    let d = start(store, settings()).await;
    assert_eq!(d.get("/ready", None).await.status, 200);
    let r = d.submit("s", &domisili("Eka")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let again = d.submit("s", &domisili("Eka")).await;
    assert_eq!(r.json(), again.json());
    let code = r.json()["tracking_code"].as_str().expect("code").to_owned();
    assert_eq!(
        d.get(&format!("/api/v1/track/{code}"), None).await.status,
        200
    );
    let inbox = d.get("/api/v1/inbox", Some("t-operator")).await.json();
    assert_eq!(inbox["cases"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn performance_figures_for_officers_as_json_csv_and_a_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = start_with_kpi(&dir, settings(), std::time::Duration::ZERO).await;
    for (i, name) in ["Ani", "Budi"].iter().enumerate() {
        let r = d.submit(&format!("kpi-{i}"), &domisili(name)).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    // Officers only (by default), as problems for the API and a page for the dashboard.
    assert!(d.get("/api/v1/kpi", None).await.is_problem(401));
    assert_eq!(d.get("/kinerja", None).await.status, 401);

    // The test clock is in March 2026: the default period is that month.
    let r = d
        .get("/api/v1/kpi?unit=21.71&by=kecamatan", Some("t-kasi"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.content_type.starts_with("application/json"));
    let report = r.json();
    assert_eq!(report["period"], "2026-03");
    assert_eq!(report["rows"][0]["code"], "21.71");
    assert_eq!(report["rows"][0]["figures"]["received"], 2);
    let lubuk_baja = report["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["code"] == "21.71.10"))
        .expect("the kecamatan of Baloi Permai is a row");
    assert_eq!(lubuk_baja["figures"]["received"], 2);

    // A period with nothing in it, and the province by its kabupaten and kota.
    let r = d
        .get("/api/v1/kpi?unit=21&period=2026-02", Some("t-kasi"))
        .await
        .json();
    assert_eq!(r["rows"][0]["figures"]["received"], 0);

    let csv = d
        .get("/api/v1/kpi?unit=21.71&format=csv&lang=en", Some("t-kasi"))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(csv.text.lines().count() >= 2, "{}", csv.text);

    for bad in [
        "/api/v1/kpi?period=2026-13",
        "/api/v1/kpi?by=planet",
        "/api/v1/kpi?format=xml",
        "/api/v1/kpi?unit=99.99",
    ] {
        let r = d.get(bad, Some("t-kasi")).await;
        assert!(r.is_problem(400), "{bad}: {} {}", r.status, r.text);
    }

    let page = d
        .get(
            "/kinerja?unit=21.71&period=2026-03&by=kecamatan",
            Some("t-kasi"),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text.contains("Kinerja Pelayanan"), "{}", page.text);
    assert!(
        page.text
            .contains("<form method=\"get\" action=\"/kinerja\"")
    );
    assert!(
        page.text.contains("<svg"),
        "the dashboard draws its charts inline"
    );
    assert!(!page.text.contains("<script"));
    // Whatever the query says is escaped on the page.
    let r = d
        .get("/kinerja?unit=%3Cb%3Ex&period=2026-03", Some("t-kasi"))
        .await;
    assert_eq!(r.status, 400);
    assert!(!r.text.contains("<b>x"), "{}", r.text);
}

#[tokio::test]
async fn performance_figures_can_be_public() {
    let dir = tempfile::tempdir().expect("tempdir");
    let public = Settings {
        public_kpi: true,
        ..settings()
    };
    let d = start_with_kpi(&dir, public, std::time::Duration::from_secs(60)).await;
    let r = d.get("/api/v1/kpi?unit=21", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["rows"][0]["figures"]["received"], 0);
    // Within the refresh interval the same question gets the same answer, even after a new
    // submission.
    assert_eq!(d.submit("p", &domisili("Citra")).await.status, 201);
    let again = d.get("/api/v1/kpi?unit=21", None).await;
    assert_eq!(again.json()["rows"][0]["figures"]["received"], 0);
    assert_eq!(d.get("/kinerja?unit=21", None).await.status, 200);
}

#[tokio::test]
async fn refused_applications_list_every_input_to_fix() {
    let d = start(MemoryStore::new(), settings()).await;
    let long = "x".repeat(200_000);
    let body = json!({
        "service": "batam-domisili",
        "unit": "21.71.10.9999",
        "nik": "2171100113900001",
        "fields": {"nama": "", "alamat": "Jl.\u{0}Uji", "keperluan": long, "warna": "biru"},
    });
    let r = d.submit("bad-1", &body).await;
    // Over the body limit: refused before any check (issue 25 makes every such answer a
    // problem+json 413).
    assert!((400..500).contains(&r.status), "{}", r.status);
    let body = json!({
        "service": "batam-domisili",
        "unit": "21.71.10.9999",
        "nik": "2171100113900001",
        "fields": {"nama": "", "alamat": "Jl.\u{0}Uji", "keperluan": "x".repeat(501), "warna": "biru"},
    });
    let r = d.submit("bad-2", &body).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json");
    let errors = r.json()["errors"].as_array().expect("errors").clone();
    let fields: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(
        fields,
        [
            "nik",
            "unit",
            "fields.nama",
            "fields.alamat",
            "fields.keperluan",
            "fields.warna"
        ],
        "{errors:?}"
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tanggal lahir"))
    );
    assert!(
        errors
            .iter()
            .all(|e| e["message"].as_str().is_some_and(|m| m.ends_with('.')))
    );
    assert!(
        !r.text.contains("2171100113900001"),
        "the NIK is never echoed"
    );
    let q = alur_core::store::SearchQuery::default();
    assert!(d.engine.search(&q).await.expect("search").is_empty());
    // Optional contact fields may stay empty; the required ones and a real NIK suffice.
    let r = d.submit("ok", &domisili("Rina")).await;
    assert_eq!(r.status, 201, "{}", r.text);
}
