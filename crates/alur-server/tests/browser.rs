//! End to end in headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`): a citizen submits a domicile letter, the operator returns it as
//! incomplete, the citizen completes it, the operator accepts it, the kasi initials, the Plh.
//! lurah signs on the lurah's behalf, the letter is issued, and the verification page its QR
//! code points to shows it valid. Every page is saved as a screenshot under
//! `target/browser-screenshots/`.
//!
//! Skipped (with the reason printed) when the browser or the driver is missing, unless
//! `ALUR_REQUIRE_CHROMIUM=1`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alur_server::{AppState, FileAuthenticator, NoAuthenticator, Settings, hash_password};
use alur_sqlite::{SqliteOptions, SqliteStore};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The driver process in a process group of its own, stopped with the browsers it started
/// when dropped (also when the test fails halfway, before the session is deleted).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One WebDriver session.
struct Browser {
    http: reqwest::Client,
    session: String,
    shots: PathBuf,
    step: u32,
    /// axe-core's source (`ALUR_AXE_JS`), injected to check each page.
    axe: Option<String>,
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut rb = http.request(method.clone(), url);
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = r.status();
    let text = r.text().await.expect("driver reply");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert!(status.is_success(), "{method} {url}: {status} {v}");
    v["value"].clone()
}

impl Browser {
    fn url(&self, rest: &str) -> String {
        format!("{}{rest}", self.session)
    }

    async fn post(&self, rest: &str, body: Value) -> Value {
        call(
            &self.http,
            reqwest::Method::POST,
            &self.url(rest),
            Some(body),
        )
        .await
    }

    async fn get(&self, rest: &str) -> Value {
        call(&self.http, reqwest::Method::GET, &self.url(rest), None).await
    }

    async fn open(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn current_url(&self) -> String {
        self.get("/url").await.as_str().expect("url").to_owned()
    }

    async fn source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .expect("source")
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.post(&format!("/element/{el}/clear"), json!({})).await;
        self.post(&format!("/element/{el}/value"), json!({ "text": text }))
            .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.post(&format!("/element/{el}/click"), json!({})).await;
    }

    /// Tick a checkbox (left ticked when it already is).
    async fn tick(&self, css: &str) {
        let el = self.find(css).await;
        if self.get(&format!("/element/{el}/selected")).await != json!(true) {
            self.post(&format!("/element/{el}/click"), json!({})).await;
        }
    }

    /// Wait until the page shows `text`; its source.
    async fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.source().await;
            if s.contains(text) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the page at {} never showed {text:?}:\n{s}",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Save the page as `target/browser-screenshots/<nn>-<name>.png`.
    async fn screenshot(&mut self, name: &str) {
        self.step += 1;
        let b64 = self.get("/screenshot").await;
        let png = base64_decode(b64.as_str().expect("base64"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).expect("write screenshot");
    }

    /// The current page at phone widths: no sideways scrolling at 360 px (measured in the
    /// page), and a screenshot at 390 px (`<nn>-<name>-390.png`).
    async fn phone(&mut self, name: &str) {
        for width in [360, 390] {
            self.post(
                "/goog/cdp/execute",
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": 844, "deviceScaleFactor": 1, "mobile": true}}),
            )
            .await;
            let dims = self
                .post(
                    "/execute/sync",
                    json!({"script": "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];", "args": []}),
                )
                .await;
            let (scroll, client) = (dims[0].as_u64(), dims[1].as_u64());
            assert!(
                scroll.is_some() && scroll <= client,
                "{name} scrolls sideways at {width} px: {dims}"
            );
            if width == 390 {
                self.screenshot(&format!("{name}-390")).await;
            }
        }
        self.post(
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}}),
        )
        .await;
        self.accessible(name).await;
    }

    /// axe-core finds no serious or critical violation on the current page.
    async fn accessible(&self, name: &str) {
        let Some(axe) = &self.axe else { return };
        self.post("/execute/sync", json!({"script": axe, "args": []}))
            .await;
        let found = self
            .post(
                "/execute/async",
                json!({"script": "const done = arguments[arguments.length - 1]; \
                    axe.run(document, {resultTypes: ['violations']}) \
                      .then(r => done(r.violations \
                        .filter(v => v.impact === 'serious' || v.impact === 'critical') \
                        .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + \
                             v.nodes.map(n => n.target.join(' ')).join(', ')))) \
                      .catch(e => done(['axe-core failed: ' + e]));",
                      "args": []}),
            )
            .await;
        assert!(
            found.as_array().is_some_and(Vec::is_empty),
            "{name}: axe-core found {found}"
        );
    }

    /// Submit the form on the current page that carries `action`.
    async fn act(&self, action: &str) {
        self.click(&format!(
            "form:has(input[name='action'][value='{action}']) button[type='submit']"
        ))
        .await;
    }

    async fn sign_in(&self, base: &str, officer: &str, password: &str) {
        self.open(&format!("{base}/masuk")).await;
        self.type_into("#petugas", officer).await;
        self.type_into("#sandi", password).await;
        self.click("button[type='submit']").await;
        self.wait_for(&format!("Petugas: <strong>{officer}</strong>"))
            .await;
    }

    async fn close(self) {
        call(&self.http, reqwest::Method::DELETE, &self.session, None).await;
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in clean {
        buf = (buf << 6) | val(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Start the driver and open a headless session.
async fn browser() -> (Driver, Browser) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("client");
    let root = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{root}/status")).send().await
            && let Ok(t) = r.text().await
            && serde_json::from_str::<Value>(&t).is_ok_and(|v| v["value"]["ready"] == json!(true))
        {
            break;
        }
        assert!(Instant::now() < deadline, "chromedriver did not get ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1800"],
        },
    }}});
    let v = call(
        &http,
        reqwest::Method::POST,
        &format!("{root}/session"),
        Some(caps),
    )
    .await;
    let id = v["sessionId"].as_str().expect("session id");
    let b = Browser {
        http,
        session: format!("{root}/session/{id}"),
        shots: screenshots_dir(),
        step: 0,
        axe: axe_source(),
    };
    (driver, b)
}

/// The desk on loopback over SQLite in `dir`, with accounts for Baloi Permai's officers.
/// The desk's address and its engine (to look into the store).
async fn desk(dir: &Path) -> (String, Arc<alur_core::Engine<SqliteStore>>) {
    let db = dir.join("alur.db");
    let store = SqliteStore::open(db.to_str().expect("utf-8 path"), SqliteOptions::default())
        .await
        .expect("sqlite");
    // The clock starts on 17 March 2026, inside the Plh. mandate (16–27 March).
    let (engine, _clock) = alur_testkit::engine(store).await;
    let mut file = String::new();
    for (officer, password) in [
        ("baloi-operator", "sandi-operator"),
        ("baloi-kasi", "sandi-kasi"),
        ("baloi-sekel", "sandi-sekel"),
    ] {
        file.push_str(&format!(
            "[[account]]\nofficer = \"{officer}\"\npassword_hash = \"{}\"\n\n",
            hash_password(password).expect("hash")
        ));
    }
    let accounts = FileAuthenticator::from_toml(&file).expect("accounts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let settings = Settings {
        public_url: base.clone(),
        public_requests_per_minute: 0,
        upload_dir: dir.join("dokumen"),
        ..Settings::default()
    };
    let engine = Arc::new(engine);
    let state = AppState::new(engine.clone(), Arc::new(NoAuthenticator), settings)
        .with_accounts(Arc::new(accounts));
    tokio::spawn(alur_server::serve(
        listener,
        alur_server::router(state),
        std::future::pending(),
    ));
    (base, engine)
}

/// axe-core's `axe.min.js` from `ALUR_AXE_JS` (`.ci/run` installs it from npm); required with
/// `ALUR_REQUIRE_CHROMIUM=1`, else the pages are not checked and the test says so.
fn axe_source() -> Option<String> {
    let source = std::env::var("ALUR_AXE_JS")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok());
    if source.is_none() {
        assert!(
            std::env::var("ALUR_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "ALUR_REQUIRE_CHROMIUM=1 but ALUR_AXE_JS names no axe-core script (npm install axe-core)"
        );
        eprintln!("not checking accessibility: ALUR_AXE_JS is not set (npm install axe-core)");
    }
    source
}

/// Whether the browser and driver are here; panics when they must be.
fn chromium_present() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).is_file())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let reason = format!(
        "{} missing (Debian packages `chromium` and `chromium-driver`)",
        missing.join(" and ")
    );
    assert!(
        std::env::var("ALUR_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
        "ALUR_REQUIRE_CHROMIUM=1 but {reason}"
    );
    eprintln!("skipping the browser test: {reason}");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domicile_letter_from_submission_to_verification() {
    if !chromium_present() {
        return;
    }
    let started = Instant::now();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, engine) = desk(dir.path()).await;
    let (_driver, mut b) = browser().await;

    // The citizen submits.
    b.open(&format!("{base}/layanan/batam-domisili")).await;
    b.wait_for("Ajukan permohonan secara daring").await;
    b.screenshot("layanan").await;
    b.phone("layanan").await;
    b.click("a[href='/layanan/batam-domisili/ajukan']").await;
    b.wait_for("Persyaratan yang perlu dibawa").await;
    // The office by name, under its kecamatan.
    let form = b.source().await;
    assert!(
        form.contains("<optgroup label=\"Kecamatan Batam Kota\">")
            && form.contains(">Kelurahan Baloi Permai</option>"),
        "{form}"
    );
    b.click("select[name='unit'] option[value='21.71.10.1001']")
        .await;
    // First with a NIK that has no birth date in it and the name left empty: the form comes
    // back with what was typed and a message beside each input.
    b.type_into("#nik", "2171103299900001").await;
    b.type_into("input[name='field[alamat]']", "Perum Baloi Indah Blok A")
        .await;
    b.click("form[action='/layanan/batam-domisili/ajukan'] button[type='submit']")
        .await;
    let refused = b.wait_for("Permohonan belum dapat diajukan").await;
    for part in [
        "tanggal lahir",
        "“Nama lengkap” wajib diisi.",
        "value=\"2171103299900001\"",
        "value=\"Perum Baloi Indah Blok A\"",
        "<option value=\"21.71.10.1001\" selected=\"\">",
    ] {
        assert!(refused.contains(part), "{part}:\n{refused}");
    }
    b.screenshot("ajukan-ditolak").await;
    b.phone("ajukan-ditolak").await;
    b.type_into("#nik", "2171104512900001").await;
    b.type_into("input[name='field[nama]']", "Siti Aminah")
        .await;
    b.type_into("input[name='field[alamat]']", "Perum Baloi Indah Blok A")
        .await;
    b.type_into("input[name='field[keperluan]']", "Membuka rekening bank")
        .await;
    b.screenshot("ajukan").await;
    b.phone("ajukan").await;
    b.click("form[action='/layanan/batam-domisili/ajukan'] button[type='submit']")
        .await;
    // The receipt: the short code, the office by name, the link.
    let receipt = b.wait_for("Tanda terima permohonan").await;
    assert!(
        b.current_url().await.ends_with("/tanda-terima"),
        "{}",
        b.current_url().await
    );
    assert!(receipt.contains("Kelurahan Baloi Permai — Kecamatan Batam Kota"));
    b.screenshot("tanda-terima").await;
    b.phone("tanda-terima").await;
    let short = receipt
        .split("<span class=\"code\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("a short code on the receipt")
        .to_owned();
    assert_eq!(short.len(), 14, "{short}");
    // The citizen types the code, as read off the receipt, into the home page's box.
    b.open(&format!("{base}/")).await;
    b.wait_for("Lacak permohonan").await;
    b.screenshot("beranda").await;
    b.phone("beranda").await;
    b.type_into("#kode", &short.to_lowercase().replace('-', " "))
        .await;
    b.click("form[action='/lacak'] button[type='submit']").await;
    let page = b.wait_for("Status permohonan").await;
    assert!(page.contains(&short), "the tracking page shows the code");
    let tracking = b.current_url().await;
    assert_eq!(tracking, format!("{base}/lacak/{short}"));
    b.screenshot("lacak-diajukan").await;
    b.phone("lacak-diajukan").await;
    // A mistyped code is told as such, what was typed kept.
    b.open(&format!("{base}/")).await;
    let mut typo: Vec<char> = short.chars().collect();
    let i = (0..typo.len() - 1)
        .find(|&i| typo[i] != '-' && typo[i + 1] != '-' && typo[i] != typo[i + 1])
        .expect("two different neighbours");
    typo.swap(i, i + 1);
    let typo: String = typo.into_iter().collect();
    b.type_into("#kode", &typo).await;
    b.click("form[action='/lacak'] button[type='submit']").await;
    let page = b.wait_for("tidak cocok").await;
    assert!(page.contains(&format!("value=\"{typo}\"")), "{page}");
    b.screenshot("lacak-salah-ketik").await;
    b.phone("lacak-salah-ketik").await;

    // The operator returns it as incomplete.
    b.sign_in(&base, "baloi-operator", "sandi-operator").await;
    b.screenshot("operator-kotak-masuk").await;
    b.click("a[href^='/petugas/perkara/']").await;
    b.wait_for("value=\"belum-lengkap\"").await;
    let case_page = b.current_url().await;
    b.type_into(
        "form:has(input[name='action'][value='belum-lengkap']) textarea[name='reason']",
        "Surat pengantar RT/RW belum dilampirkan",
    )
    .await;
    b.screenshot("operator-perkara").await;
    b.act("belum-lengkap").await;
    b.wait_for("Tindakan berhasil disimpan").await;
    b.screenshot("operator-dikembalikan").await;

    // The citizen completes the file on the tracking page.
    b.open(&tracking).await;
    b.wait_for("Surat pengantar RT/RW belum dilampirkan").await;
    b.type_into(
        "form[action$='/aksi'] input[name='field[alamat]']",
        "Perum Baloi Indah Blok A No. 7",
    )
    .await;
    b.screenshot("lacak-dikembalikan").await;
    b.act("kirim-ulang").await;
    b.wait_for("Berkas Anda telah dikirim kembali").await;
    b.screenshot("lacak-dikirim-ulang").await;

    // The operator accepts it with the requirements checked.
    b.sign_in(&base, "baloi-operator", "sandi-operator").await;
    b.open(&case_page).await;
    b.wait_for("value=\"lengkap\"").await;
    for r in ["pengantar-rt-rw", "ktp", "kk"] {
        b.tick(&format!(
            "form:has(input[name='action'][value='lengkap']) input[name='checked'][value='{r}']"
        ))
        .await;
    }
    b.screenshot("operator-lengkap").await;
    b.act("lengkap").await;
    b.wait_for("Tindakan berhasil disimpan").await;

    // The kasi initials.
    b.sign_in(&base, "baloi-kasi", "sandi-kasi").await;
    b.open(&case_page).await;
    b.wait_for("value=\"paraf\"").await;
    b.screenshot("kasi-perkara").await;
    b.act("paraf").await;
    b.wait_for("Tindakan berhasil disimpan").await;

    // The Plh. lurah signs on the lurah's behalf; the letter is issued at once.
    b.sign_in(&base, "baloi-sekel", "sandi-sekel").await;
    b.open(&case_page).await;
    b.wait_for("value=\"tandatangani\"").await;
    b.screenshot("plh-lurah-perkara").await;
    b.act("tandatangani").await;
    b.wait_for("surat telah diterbitkan").await;
    b.screenshot("plh-lurah-terbit").await;

    // The citizen opens the letter from the tracking page.
    b.open(&tracking).await;
    b.wait_for("Surat Anda telah terbit").await;
    b.screenshot("lacak-terbit").await;
    b.phone("lacak-terbit").await;
    b.click("a[href^='/surat/']").await;
    let letter = b
        .wait_for("Dokumen ini diterbitkan melalui sistem layanan")
        .await;
    assert!(letter.contains("Siti Aminah"));
    assert!(letter.contains("Perum Baloi Indah Blok A No. 7"));
    assert!(letter.contains("Plh."), "signed on the lurah's behalf");
    b.screenshot("surat").await;

    // The QR code's address, as printed under it: `<verify_url>/<token>`.
    let marker = "/verifikasi/";
    let at = letter.rfind(marker).expect("the verification address") + marker.len();
    let token: String = letter[at..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    assert!(token.len() >= 20, "token {token:?}");
    assert!(b.current_url().await.ends_with(&format!("/surat/{token}")));
    b.open(&format!("{base}/verifikasi/{token}")).await;
    let verified = b.wait_for("Verifikasi surat").await;
    assert!(verified.contains("SAH"), "{verified}");
    assert!(verified.contains("Plh."), "{verified}");
    b.screenshot("verifikasi").await;
    b.phone("verifikasi").await;

    // The case is done: the citizen answers the satisfaction survey once.
    b.open(&tracking).await;
    b.wait_for("Survei kepuasan masyarakat").await;
    for (i, answer) in [3, 4, 3, 4, 4, 3, 4, 2, 3].iter().enumerate() {
        b.click(&format!("input[name='u{}'][value='{answer}']", i + 1))
            .await;
    }
    b.screenshot("survei").await;
    b.phone("survei").await;
    b.click("form[action$='/survei'] button[type='submit']")
        .await;
    let thanks = b.wait_for("Jawaban survei Anda tercatat").await;
    assert!(
        !thanks.contains("Survei kepuasan masyarakat"),
        "offered once per case"
    );
    b.screenshot("survei-terkirim").await;
    let rated = alur_testkit::all_cases(engine.store(), "kepri")
        .await
        .into_iter()
        .filter(|c| c.rated)
        .count();
    assert_eq!(rated, 1);

    b.close().await;
    eprintln!(
        "browser test: {} screenshots in {} ({:.1} s)",
        png_count(&screenshots_dir()),
        screenshots_dir().display(),
        started.elapsed().as_secs_f64()
    );
}

fn png_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
            .count()
    })
}
