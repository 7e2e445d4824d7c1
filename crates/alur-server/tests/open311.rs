//! Open311 GeoReport v2 over real HTTP on loopback.

use std::sync::Arc;

use alur_core::MemoryStore;
use alur_server::{AppState, NoAuthenticator, Settings};
use serde_json::Value;

async fn start() -> (String, reqwest::Client) {
    let (engine, _clock) = alur_testkit::engine(MemoryStore::new()).await;
    let settings = Settings {
        public_requests_per_minute: 0,
        ..Settings::default()
    };
    let state = AppState::new(Arc::new(engine), Arc::new(NoAuthenticator), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/open311/v2", listener.local_addr().expect("addr"));
    tokio::spawn(alur_server::serve(
        listener,
        alur_server::router(state),
        std::future::pending(),
    ));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    (base, http)
}

async fn get(http: &reqwest::Client, url: String) -> (u16, Value) {
    let r = http.get(url).send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

async fn post(http: &reqwest::Client, url: String, body: &str) -> (u16, Value) {
    let r = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[tokio::test]
async fn services_requests_and_errors() {
    let (base, http) = start().await;
    let (status, list) = get(&http, format!("{base}/services.json")).await;
    assert_eq!(status, 200);
    let dom = list
        .as_array()
        .and_then(|l| l.iter().find(|s| s["service_code"] == "batam-domisili"))
        .cloned()
        .expect("domicile service");
    assert_eq!(dom["metadata"], false);
    assert_eq!(dom["type"], "batch");
    assert!(dom["service_name"].is_string() && dom["group"].is_string());
    assert!(dom["keywords"].is_string() && dom["description"].is_string());

    let (status, def) = get(&http, format!("{base}/services/batam-domisili.json")).await;
    assert_eq!(status, 200);
    assert_eq!(def["service_code"], "batam-domisili");
    let attrs = def["attributes"].as_array().expect("attributes");
    assert!(
        attrs
            .iter()
            .any(|a| a["code"] == "nama" && a["variable"] == true)
    );
    let (status, err) = get(&http, format!("{base}/services/nope.json")).await;
    assert_eq!(status, 404);
    assert_eq!(err[0]["code"], 404);
    assert!(err[0]["description"].is_string());

    let body = "service_code=batam-domisili&jurisdiction_id=21.71.10.1001&nik=2171104512900001\
&attribute%5Bnama%5D=Rahasia+Pemohon&attribute%5Balamat%5D=Jl.+Uji&attribute%5Bkeperluan%5D=Uji";
    let (status, created) = post(&http, format!("{base}/requests.json"), body).await;
    assert_eq!(status, 200, "{created}");
    let code = created[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_owned();

    // address_id works as the unit too.
    let body2 = body.replace("jurisdiction_id", "address_id");
    let (status, _) = post(&http, format!("{base}/requests.json"), &body2).await;
    assert_eq!(status, 200);

    let (status, open) = get(&http, format!("{base}/requests.json?status=open")).await;
    assert_eq!(status, 200);
    let open = open.as_array().expect("list").clone();
    assert_eq!(open.len(), 2);
    let text = serde_json::to_string(&open).expect("text");
    assert!(!text.contains("Rahasia"), "no form values: {text}");
    assert!(
        !text.contains(&code),
        "tracking codes are not listed: {text}"
    );
    assert!(open.iter().all(|r| r["status"] == "open"
        && r["service_code"] == "batam-domisili"
        && r["requested_datetime"].is_string()));
    let (_, closed) = get(&http, format!("{base}/requests.json?status=closed")).await;
    assert_eq!(closed, serde_json::json!([]));
    let (_, other) = get(&http, format!("{base}/requests.json?service_code=nope")).await;
    assert_eq!(other, serde_json::json!([]));
    let (_, later) = get(
        &http,
        format!("{base}/requests.json?start_date=2100-01-01T00:00:00%2B07:00"),
    )
    .await;
    assert_eq!(later, serde_json::json!([]));
    let (status, err) = get(&http, format!("{base}/requests.json?start_date=kemarin")).await;
    assert_eq!((status, err[0]["code"].clone()), (400, 400.into()));
    let (status, _) = get(&http, format!("{base}/requests.json?status=maybe")).await;
    assert_eq!(status, 400);

    // The submitter's own code finds the request under that code.
    let (_, mine) = get(
        &http,
        format!("{base}/requests.json?service_request_id={code}"),
    )
    .await;
    assert_eq!(mine[0]["service_request_id"], code.as_str());

    // Errors in Open311's shape.
    for (body, status) in [
        ("jurisdiction_id=21.71.10.1001&nik=2171104512900001", 400),
        ("service_code=batam-domisili&nik=2171104512900001", 400),
        (
            "service_code=batam-domisili&jurisdiction_id=21.71.10.1001",
            400,
        ),
        (
            "service_code=nope&jurisdiction_id=21.71.10.1001&nik=2171104512900001",
            404,
        ),
    ] {
        let (got, err) = post(&http, format!("{base}/requests.json"), body).await;
        assert_eq!(got, status, "{body}: {err}");
        assert_eq!(err[0]["code"], status);
    }
}
