//! Sign-in, officers' pages and page forms, over real HTTP on loopback.

use std::sync::Arc;

use alur_core::MemoryStore;
use alur_core::store::Store as _;
use alur_server::{
    AppState, FileAuthenticator, MemoryBlobStore, Settings, TokenAuthenticator, hash_password,
};
use serde_json::{Value, json};

struct Desk {
    base: String,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    location: String,
    set_cookies: Vec<String>,
    text: String,
}

impl Reply {
    /// The value of the cookie `name` this reply sets.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }

    /// The CSRF token of the first form on the page.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.text.find(marker).expect("a csrf input") + marker.len();
        let end = self.text[start..].find('"').expect("end of value");
        self.text[start..start + end].to_owned()
    }
}

async fn start(settings: Settings, failed_per_minute: u32) -> Desk {
    start_with_blobs(settings, failed_per_minute).await.0
}

/// A desk, its documents in memory, and the engine to look into.
type Started = (
    Desk,
    Arc<MemoryBlobStore>,
    Arc<alur_core::Engine<MemoryStore>>,
);

/// A desk with its documents in memory, and the engine to look into.
async fn start_with_blobs(settings: Settings, failed_per_minute: u32) -> Started {
    start_with_config(alur_testkit::kepri(), settings, failed_per_minute).await
}

/// The same for a tenant configured with `config`.
async fn start_with_config(
    config: alur_core::Config,
    settings: Settings,
    failed_per_minute: u32,
) -> Started {
    let (engine, _clock) = alur_testkit::engine_with(config, MemoryStore::new()).await;
    let engine = Arc::new(engine);
    let blobs = Arc::new(MemoryBlobStore::new());
    let hash = |pw: &str| hash_password(pw).expect("hash");
    let file = format!(
        "[[account]]\nofficer = \"baloi-operator\"\npassword_hash = \"{}\"\n\n\
[[account]]\nofficer = \"tamanbaloi-lurah\"\npassword_hash = \"{}\"\n\n\
[[account]]\nofficer = \"baloi-kasi\"\npassword_hash = \"{}\"\n\n\
[[account]]\nofficer = \"baloi-sekel\"\npassword_hash = \"{}\"\n",
        hash("sandi-operator"),
        hash("sandi-taman"),
        hash("sandi-kasi"),
        hash("sandi-sekel")
    );
    let accounts = FileAuthenticator::from_toml(&file)
        .expect("accounts")
        .with_failed_logins_per_minute(failed_per_minute);
    let tokens = TokenAuthenticator::new().with_token("t-operator", "baloi-operator");
    let state = AppState::new(engine.clone(), Arc::new(tokens), settings)
        .with_accounts(Arc::new(accounts))
        .with_blobs(blobs.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(alur_server::serve(
        listener,
        alur_server::router(state),
        std::future::pending(),
    ));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let desk = Desk {
        base,
        http: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    };
    (desk, blobs, engine)
}

fn settings() -> Settings {
    Settings {
        public_requests_per_minute: 0,
        ..Settings::default()
    }
}

impl Desk {
    async fn send(
        &self,
        method: &str,
        path: &str,
        cookies: &[(&str, &str)],
        headers: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
        json: Option<&Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if !cookies.is_empty() {
            let c: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            rb = rb.header("cookie", c.join("; "));
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(f) = form {
            let body: Vec<String> = f
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            rb = rb
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.join("&"));
        }
        if let Some(j) = json {
            rb = rb
                .header("content-type", "application/json")
                .body(j.to_string());
        }
        let r = rb.send().await.expect("request");
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let location = header("location");
        let set_cookies = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        Reply {
            status: r.status().as_u16(),
            location,
            set_cookies,
            text: r.text().await.expect("body"),
        }
    }

    async fn get(&self, path: &str, cookies: &[(&str, &str)]) -> Reply {
        self.send("GET", path, cookies, &[], None, None).await
    }

    async fn post(&self, path: &str, cookies: &[(&str, &str)], form: &[(&str, &str)]) -> Reply {
        self.send("POST", path, cookies, &[], Some(form), None)
            .await
    }

    /// Sign in: the session cookie.
    async fn sign_in(&self, officer: &str, password: &str) -> String {
        let page = self.get("/masuk", &[]).await;
        let anon = page.cookie("alur_csrf").expect("csrf cookie");
        let r = self
            .post(
                "/masuk",
                &[("alur_csrf", &anon)],
                &[
                    ("csrf", &page.csrf()),
                    ("petugas", officer),
                    ("sandi", password),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.text);
        assert_eq!(r.location, "/petugas");
        r.cookie("alur_sesi").expect("session cookie")
    }

    async fn submit(&self, nama: &str) -> Value {
        let body = json!({
            "service": "batam-domisili",
            "unit": "21.71.10.1001",
            "nik": "2171104512900001",
            "fields": {"nama": nama, "alamat": "Jl. Uji No. 1", "keperluan": "Uji"},
        });
        let r = self
            .send(
                "POST",
                "/api/v1/cases",
                &[],
                &[("idempotency-key", nama)],
                None,
                Some(&body),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        serde_json::from_str(&r.text).expect("json")
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn sign_in_sessions_and_csrf() {
    let d = start(settings(), 0).await;
    // Not signed in: the pages send to the sign-in form.
    let r = d.get("/petugas", &[]).await;
    assert_eq!((r.status, r.location.as_str()), (303, "/masuk"));

    let page = d.get("/masuk", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Kata sandi"));
    let set = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("alur_csrf="))
        .expect("csrf cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"));
    let anon = page.cookie("alur_csrf").expect("cookie");
    let token = page.csrf();
    assert_eq!(token, anon);

    // No token, a wrong token, or a token without its cookie: 403.
    let creds = [("petugas", "baloi-operator"), ("sandi", "sandi-operator")];
    let r = d.post("/masuk", &[("alur_csrf", &anon)], &creds).await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("Formulir tidak sah"));
    let wrong = "a".repeat(52);
    let mut form = vec![("csrf", wrong.as_str())];
    form.extend(creds);
    assert_eq!(
        d.post("/masuk", &[("alur_csrf", &anon)], &form)
            .await
            .status,
        403
    );
    let mut form = vec![("csrf", token.as_str())];
    form.extend(creds);
    assert_eq!(d.post("/masuk", &[], &form).await.status, 403);

    // A wrong password: 401 with the form again.
    let r = d
        .post(
            "/masuk",
            &[("alur_csrf", &anon)],
            &[
                ("csrf", &token),
                ("petugas", "baloi-operator"),
                ("sandi", "salah"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("kata sandi salah"));
    assert!(r.cookie("alur_sesi").is_none());

    let r = d.post("/masuk", &[("alur_csrf", &anon)], &form).await;
    assert_eq!((r.status, r.location.as_str()), (303, "/petugas"));
    let set = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with("alur_sesi="))
        .expect("session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"));
    assert!(!set.contains("Secure"), "plain http: {set}");
    let sesi = r.cookie("alur_sesi").expect("session");
    assert!(sesi.len() >= 52, "256 bits: {sesi}");

    let inbox = d.get("/petugas", &[("alur_sesi", &sesi)]).await;
    assert_eq!(inbox.status, 200);
    assert!(inbox.text.contains("baloi-operator"));
    let session_csrf = inbox.csrf();
    assert_ne!(session_csrf, anon, "a session has its own token");

    // Sign out needs the session's token; afterwards the cookie is worthless.
    let r = d
        .post("/keluar", &[("alur_sesi", &sesi)], &[("csrf", &anon)])
        .await;
    assert_eq!(r.status, 403);
    let r = d
        .post(
            "/keluar",
            &[("alur_sesi", &sesi)],
            &[("csrf", &session_csrf)],
        )
        .await;
    assert_eq!((r.status, r.location.as_str()), (303, "/masuk"));
    assert!(r.set_cookies.iter().any(|c| c.contains("Max-Age=0")));
    assert_eq!(d.get("/petugas", &[("alur_sesi", &sesi)]).await.status, 303);

    // Over https the cookies are Secure.
    let secure = start(
        Settings {
            public_url: "https://layanan.example.id".into(),
            ..settings()
        },
        0,
    )
    .await;
    let page = secure.get("/masuk", &[]).await;
    assert!(page.set_cookies.iter().all(|c| c.contains("; Secure")));
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited() {
    let d = start(settings(), 2).await;
    let page = d.get("/masuk", &[]).await;
    let anon = page.cookie("alur_csrf").expect("cookie");
    let form = [
        ("csrf", page.csrf()),
        ("petugas", "baloi-operator".into()),
        ("sandi", "salah".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for _ in 0..2 {
        let r = d.post("/masuk", &[("alur_csrf", &anon)], &form).await;
        assert_eq!(r.status, 401);
    }
    let r = d.post("/masuk", &[("alur_csrf", &anon)], &form).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.text.contains("Terlalu banyak percobaan"));
}

#[tokio::test]
async fn officers_act_on_pages_and_only_on_their_cases() {
    let d = start(settings(), 0).await;
    let submitted = d.submit("<b>Dedi</b> & \"Sri\"").await;
    let id = submitted["case"]["id"].as_str().expect("id").to_owned();
    let sesi = d.sign_in("baloi-operator", "sandi-operator").await;
    let me = [("alur_sesi", sesi.as_str())];

    let inbox = d.get("/petugas", &me).await;
    assert!(inbox.text.contains(&format!("/petugas/perkara/{id}")));
    assert!(inbox.text.contains("Tepat waktu"));
    assert!(inbox.text.contains("Keterangan"), "a legend in words");

    let path = format!("/petugas/perkara/{id}");
    let page = d.get(&path, &me).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains("<b>Dedi"), "{}", page.text);
    assert!(
        page.text
            .contains("&lt;b&gt;Dedi&lt;/b&gt; &amp; &quot;Sri&quot;")
    );
    assert!(page.text.contains("name=\"action\" value=\"lengkap\""));
    assert!(page.text.contains("name=\"seen_version\""));
    assert!(page.text.contains("Persyaratan"));
    assert!(page.text.contains("Riwayat"));
    let csrf = page.csrf();
    let version = submitted["case"]["version"].to_string();
    let act = |token: &str| {
        vec![
            ("csrf".to_owned(), token.to_owned()),
            ("action".to_owned(), "lengkap".to_owned()),
            ("seen_version".to_owned(), version.clone()),
            ("checked".to_owned(), "pengantar-rt-rw".to_owned()),
            ("checked".to_owned(), "ktp".to_owned()),
            ("checked".to_owned(), "kk".to_owned()),
        ]
    };
    let post = |form: Vec<(String, String)>, cookies: Vec<(String, String)>| {
        let d = &d;
        let path = format!("{path}/aksi");
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let c: Vec<(&str, &str)> = cookies
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            d.post(&path, &c, &f).await
        }
    };
    let mine = vec![("alur_sesi".to_owned(), sesi.clone())];

    // Without the session's token: 403, nothing done.
    let r = post(act("x"), mine.clone()).await;
    assert_eq!(r.status, 403);

    // Another kelurahan's lurah: 404 on the page and on the action.
    let taman = d.sign_in("tamanbaloi-lurah", "sandi-taman").await;
    let theirs = vec![("alur_sesi".to_owned(), taman.clone())];
    let r = d.get(&path, &[("alur_sesi", &taman)]).await;
    assert_eq!(r.status, 404);
    let taman_csrf = d.get("/petugas", &[("alur_sesi", &taman)]).await.csrf();
    let r = post(act(&taman_csrf), theirs).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // The operator acts: back to the case with a message.
    let r = post(act(&csrf), mine.clone()).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location, format!("{path}?pesan=ok"));
    let page = d.get(&r.location, &me).await;
    assert!(page.text.contains("Tindakan berhasil disimpan"));
    assert!(page.text.contains("sudah diperiksa"));

    // The same form again is stale.
    let r = post(act(&csrf), mine).await;
    assert_eq!(r.location, format!("{path}?galat=conflict"));
    let page = d.get(&r.location, &me).await;
    assert!(page.text.contains("Berkas telah berubah"));
    // Only fixed texts: an unknown kind shows the generic one.
    let page = d.get(&format!("{path}?galat=%3Cscript%3E"), &me).await;
    assert!(page.text.contains("Tindakan gagal.") && !page.text.contains("<script>"));

    // The API still takes tokens alongside sessions.
    let r = d
        .send(
            "GET",
            "/api/v1/inbox",
            &[],
            &[("authorization", "Bearer t-operator")],
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn citizens_submit_through_the_form() {
    let (d, _blobs, engine) = start_with_blobs(settings(), 0).await;
    let service = d.get("/layanan/batam-domisili", &[]).await;
    assert!(service.text.contains("/layanan/batam-domisili/ajukan"));
    let page = d.get("/layanan/batam-domisili/ajukan", &[]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Persyaratan yang perlu dibawa"));
    assert!(page.text.contains("name=\"nik\""));
    assert!(page.text.contains("value=\"21.71.10.1001\""));
    assert!(page.text.contains("name=\"field[nama]\""));
    let anon = page.cookie("alur_csrf").expect("cookie");
    let csrf = page.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("unit", "21.71.10.1001"),
        ("nik", "2171104512900001"),
        ("field[nama]", "<i>Rina</i>"),
        ("field[alamat]", "Jl. Uji No. 2"),
        ("field[keperluan]", "Uji"),
    ];
    // Without the cookie the token is refused.
    let r = d.post("/layanan/batam-domisili/ajukan", &[], &form).await;
    assert_eq!(r.status, 403);
    let r = d
        .post(
            "/layanan/batam-domisili/ajukan",
            &[("alur_csrf", &anon)],
            &form,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    // To the receipt, then the tracking page.
    assert!(
        r.location.starts_with("/lacak/") && r.location.ends_with("/tanda-terima"),
        "{}",
        r.location
    );
    let receipt = d.get(&r.location, &[]).await;
    assert_eq!(receipt.status, 200);
    assert!(receipt.text.contains("Tanda terima permohonan"));
    let track = d
        .get(r.location.trim_end_matches("/tanda-terima"), &[])
        .await;
    assert_eq!(track.status, 200);
    assert!(track.text.contains("&lt;i&gt;Rina&lt;/i&gt;"));

    // Refusals answer with the form again: what was typed kept, each problem beside its input,
    // and nothing submitted.
    let before = case_count(&engine).await;
    let long = "x".repeat(200_000);
    // (inputs changed, messages expected)
    type Refusal<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let refusals: [Refusal<'_>; 6] = [
        (
            &[("nik", "123")],
            &["NIK terdiri dari 16 angka; yang diisi 3 karakter"],
        ),
        (
            &[("nik", "0000000000000000")],
            &["bukan kode kabupaten/kota"],
        ),
        (&[("nik", "2171103202900001")], &["tanggal lahir"]),
        (&[("nik", "2171104512900000")], &["tidak mungkin 0000"]),
        (
            &[("field[nama]", ""), ("field[alamat]", " ")],
            &[
                "“Nama lengkap” wajib diisi.",
                "“Alamat domisili” wajib diisi.",
            ],
        ),
        (
            &[("field[keperluan]", &long), ("field[alamat]", "Jl.\0Uji")],
            &[
                "paling panjang 500 karakter; yang diisi 200000",
                "karakter kendali",
            ],
        ),
    ];
    for (changes, messages) in refusals {
        let mut bad = form.to_vec();
        for (k, v) in changes {
            if let Some(slot) = bad.iter_mut().find(|(name, _)| name == k) {
                slot.1 = v;
            }
        }
        let r = d
            .post(
                "/layanan/batam-domisili/ajukan",
                &[("alur_csrf", &anon)],
                &bad,
            )
            .await;
        assert_eq!(r.status, 422, "{changes:?}");
        assert!(
            r.text.contains("Permohonan belum dapat diajukan"),
            "{}",
            r.text
        );
        for m in messages {
            assert!(r.text.contains(m), "{m} for {changes:?}:\n{}", r.text);
        }
        assert!(r.text.contains("aria-invalid=\"true\""));
        // The rest of what was typed is still there.
        assert!(
            r.text.contains("value=\"Uji\"")
                || changes.iter().any(|(k, _)| *k == "field[keperluan]")
        );
        assert!(r.text.contains("<option value=\"21.71.10.1001\" selected>"));
        assert!(!r.text.contains('\0'), "NUL is never echoed");
    }
    assert_eq!(
        case_count(&engine).await,
        before,
        "no refused application became a case"
    );
    assert_eq!(d.get("/layanan/nope/ajukan", &[]).await.status, 404);
}

/// The token of the letter a page links (`/surat/{token}`).
fn letter_token(page: &Reply) -> String {
    let marker = "href=\"/surat/";
    let start = page.text.find(marker).expect("letter link") + marker.len();
    let end = page.text[start..].find('"').expect("end");
    page.text[start..start + end].to_owned()
}

/// Post the form of `action` on the page at `path` (the page's own CSRF token and version).
async fn act_on_page(
    d: &Desk,
    page_path: &str,
    post_path: &str,
    cookies: &[(&str, &str)],
    action: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let page = d.get(page_path, cookies).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains(&format!("name=\"action\" value=\"{action}\"")),
        "{action} offered: {}",
        page.text
    );
    let marker = "name=\"seen_version\" value=\"";
    let start = page.text.find(marker).expect("version") + marker.len();
    let end = page.text[start..].find('"').expect("end");
    let version = page.text[start..start + end].to_owned();
    let csrf = page.csrf();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("action", action),
        ("seen_version", version.as_str()),
    ];
    form.extend_from_slice(extra);
    d.post(post_path, cookies, &form).await
}

#[tokio::test]
async fn applicants_complete_returned_files_and_letters_are_issued() {
    let d = start(settings(), 0).await;
    let submitted = d.submit("Ani Lestari").await;
    let id = submitted["case"]["id"].as_str().expect("id").to_owned();
    let code = submitted["tracking_code"]
        .as_str()
        .expect("code")
        .to_owned();
    let track = format!("/lacak/{code}");
    let case_path = format!("/petugas/perkara/{id}");
    let act_path = format!("{case_path}/aksi");

    // No form while the file is with the officers.
    let page = d.get(&track, &[]).await;
    assert!(!page.text.contains("/aksi"), "{}", page.text);

    let op = d.sign_in("baloi-operator", "sandi-operator").await;
    let op = [("alur_sesi", op.as_str())];
    let r = act_on_page(
        &d,
        &case_path,
        &act_path,
        &op,
        "belum-lengkap",
        &[("reason", "Pengantar RT/RW belum ada")],
    )
    .await;
    assert_eq!(r.location, format!("{case_path}?pesan=ok"));

    // The applicant sees why and sends the file back, with a corrected field.
    let page = d.get(&track, &[]).await;
    assert!(page.text.contains("Pengantar RT/RW belum ada"));
    assert!(page.text.contains("value=\"kirim-ulang\""), "{}", page.text);
    assert!(page.text.contains("value=\"Ani Lestari\""));
    let anon = page.cookie("alur_csrf").expect("csrf cookie");
    // Without the cookie: refused.
    let r = act_on_page(
        &d,
        &track,
        &format!("{track}/aksi"),
        &[],
        "kirim-ulang",
        &[],
    )
    .await;
    assert_eq!(r.status, 403);
    // A forged code: 404, nothing done.
    let forged = format!("{}x", &track);
    let r = d
        .post(
            &format!("{forged}/aksi"),
            &[("alur_csrf", &anon)],
            &[
                ("csrf", &anon),
                ("action", "kirim-ulang"),
                ("seen_version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 404);
    let cookies = [("alur_csrf", anon.as_str())];
    let r = act_on_page(
        &d,
        &track,
        &format!("{track}/aksi"),
        &cookies,
        "kirim-ulang",
        &[("field[alamat]", "Jl. Baru No. 3"), ("field[bukan]", "x")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location, format!("{track}?pesan=ok"));
    let page = d.get(&r.location, &[]).await;
    assert!(page.text.contains("dikirim kembali"));
    assert!(page.text.contains("Jl. Baru No. 3"));
    assert!(!page.text.contains("value=\"kirim-ulang\""));

    // Accepted, initialled, signed by the Plh. lurah: the letter is issued at once.
    let checked = [
        ("checked", "pengantar-rt-rw"),
        ("checked", "ktp"),
        ("checked", "kk"),
    ];
    let r = act_on_page(&d, &case_path, &act_path, &op, "lengkap", &checked).await;
    assert_eq!(r.location, format!("{case_path}?pesan=ok"), "{}", r.text);
    let kasi = d.sign_in("baloi-kasi", "sandi-kasi").await;
    let kasi = [("alur_sesi", kasi.as_str())];
    let r = act_on_page(&d, &case_path, &act_path, &kasi, "paraf", &[]).await;
    assert_eq!(r.location, format!("{case_path}?pesan=ok"));
    let sekel = d.sign_in("baloi-sekel", "sandi-sekel").await;
    let sekel = [("alur_sesi", sekel.as_str())];
    let r = act_on_page(&d, &case_path, &act_path, &sekel, "tandatangani", &[]).await;
    assert_eq!(r.location, format!("{case_path}?pesan=terbit"));
    let page = d.get(&r.location, &sekel).await;
    assert!(
        page.text.contains("surat telah diterbitkan"),
        "{}",
        page.text
    );
    let token = letter_token(&page);

    // The tracking page links the letter; the letter is the stored document; it verifies.
    let page = d.get(&track, &[]).await;
    assert!(page.text.contains(&format!("/surat/{token}")));
    let letter = d.get(&format!("/surat/{token}"), &[]).await;
    assert_eq!(letter.status, 200);
    assert!(letter.text.contains("Ani Lestari"));
    assert!(
        letter.text.contains("size: 210mm 297mm"),
        "A4, as configured"
    );
    assert!(letter.text.contains("Plh."), "signed on the lurah's behalf");
    assert!(letter.text.contains(&token));
    let r = d
        .send("GET", &format!("/surat/{token}"), &[], &[], None, None)
        .await;
    assert_eq!(r.status, 200);
    let verified = d.get(&format!("/verifikasi/{token}"), &[]).await;
    assert_eq!(verified.status, 200);
    assert!(verified.text.contains("SAH"), "{}", verified.text);
    assert!(verified.text.contains("Plh."), "{}", verified.text);
    assert_eq!(d.get("/surat/tidak-ada", &[]).await.status, 404);
    // Nothing left to issue.
    let csrf = d.get(&case_path, &sekel).await.csrf();
    let r = d
        .post(
            &format!("{case_path}/terbitkan"),
            &sekel,
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.location, format!("{case_path}?galat=invalid-transition"));
}

/// A tenant whose `[letters] paper` is F4 gets its letters on F4 from the officers' pages.
#[tokio::test]
async fn letters_are_printed_on_the_configured_paper() {
    let mut config = alur_testkit::kepri();
    config.letters.paper = alur_core::model::Paper::F4;
    let (d, _blobs, _engine) = start_with_config(config, settings(), 0).await;
    let submitted = d.submit("Ani Lestari").await;
    let id = submitted["case"]["id"].as_str().expect("id").to_owned();
    let case_path = complete_through_the_pages(&d, &id).await;
    let session = d.sign_in("baloi-sekel", "sandi-sekel").await;
    let page = d
        .get(
            &format!("{case_path}?pesan=terbit"),
            &[("alur_sesi", session.as_str())],
        )
        .await;
    let token = letter_token(&page);
    let letter = d.get(&format!("/surat/{token}"), &[]).await;
    assert_eq!(letter.status, 200);
    assert!(
        letter.text.contains("size: 215mm 330mm"),
        "F4, as configured: {}",
        letter.text
    );
    assert!(!letter.text.contains("210mm 297mm"));
}

#[tokio::test]
async fn a_failed_issue_leaves_the_letter_numbered() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("letters")).expect("letters dir");
    std::fs::write(dir.path().join("letters/layout.hbs"), "{{#if").expect("template");
    let d = start(
        Settings {
            letter_config_dir: Some(dir.path().to_owned()),
            ..settings()
        },
        0,
    )
    .await;
    let submitted = d.submit("Budi").await;
    let id = submitted["case"]["id"].as_str().expect("id").to_owned();
    let case_path = format!("/petugas/perkara/{id}");
    let act_path = format!("{case_path}/aksi");
    let op = d.sign_in("baloi-operator", "sandi-operator").await;
    let checked = [
        ("checked", "pengantar-rt-rw"),
        ("checked", "ktp"),
        ("checked", "kk"),
    ];
    let r = act_on_page(
        &d,
        &case_path,
        &act_path,
        &[("alur_sesi", &op)],
        "lengkap",
        &checked,
    )
    .await;
    assert_eq!(r.location, format!("{case_path}?pesan=ok"));
    let kasi = d.sign_in("baloi-kasi", "sandi-kasi").await;
    let kasi = [("alur_sesi", kasi.as_str())];
    act_on_page(&d, &case_path, &act_path, &kasi, "paraf", &[]).await;
    let sekel = d.sign_in("baloi-sekel", "sandi-sekel").await;
    let sekel = [("alur_sesi", sekel.as_str())];
    let r = act_on_page(&d, &case_path, &act_path, &sekel, "tandatangani", &[]).await;
    assert_eq!(r.status, 303, "never a 500: {}", r.text);
    assert_eq!(r.location, format!("{case_path}?pesan=surat-gagal"));
    let page = d.get(&r.location, &sekel).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("surat belum dapat diterbitkan"),
        "{}",
        page.text
    );
    assert!(page.text.contains("belum diterbitkan"));
    assert!(page.text.contains("/terbitkan"), "issue again");
    assert!(!page.text.contains("href=\"/surat/"));
    let case = d
        .send(
            "GET",
            &format!("/api/v1/cases/{id}"),
            &[],
            &[("authorization", "Bearer t-operator")],
            None,
            None,
        )
        .await;
    let case: Value = serde_json::from_str(&case.text).expect("json");
    assert_eq!(case["state"], "closed", "{case}");
    // Issuing again still fails without a 500, and the letter stays numbered.
    let r = d
        .post(
            &format!("{case_path}/terbitkan"),
            &sekel,
            &[("csrf", page.csrf().as_str())],
        )
        .await;
    assert_eq!(r.location, format!("{case_path}?pesan=surat-gagal"));
}

/// A part of a hand-built `multipart/form-data` body.
enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a str, &'a [u8]),
}

const BOUNDARY: &str = "alur-uji-batas-7f3a";

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut b = Vec::new();
    for p in parts {
        b.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match p {
            Part::Text(name, value) => {
                b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(name, file, content_type, bytes) => {
                b.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
Content-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                b.extend_from_slice(bytes);
                b.extend_from_slice(b"\r\n");
            }
        }
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

impl Desk {
    /// Post a multipart form with the CSRF cookie `anon`.
    async fn post_multipart(&self, path: &str, anon: &str, body: Vec<u8>) -> Reply {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("alur_csrf={anon}"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Reply {
            status,
            location,
            set_cookies: Vec::new(),
            text: r.text().await.expect("body"),
        }
    }
}

async fn case_count(engine: &alur_core::Engine<MemoryStore>) -> usize {
    engine
        .search(&alur_core::store::SearchQuery::default())
        .await
        .expect("search")
        .len()
}

#[tokio::test]
async fn citizens_upload_documents_within_the_limits() {
    let settings = Settings {
        max_upload_bytes: 64 * 1024,
        ..settings()
    };
    let (d, blobs, engine) = start_with_blobs(settings, 0).await;
    let page = d.get("/layanan/batam-domisili/ajukan", &[]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("enctype=\"multipart/form-data\""));
    assert!(page.text.contains("name=\"dokumen[ktp]\""));
    assert!(page.text.contains("paling besar 64 KiB"));
    let anon = page.cookie("alur_csrf").expect("cookie");
    let csrf = page.csrf();
    let fields = [
        Part::Text("csrf", &csrf),
        Part::Text("unit", "21.71.10.1001"),
        Part::Text("nik", "2171104512900001"),
        Part::Text("field[nama]", "Rina"),
        Part::Text("field[alamat]", "Jl. Uji No. 3"),
        Part::Text("field[keperluan]", "Uji"),
    ];
    let with = |extra: Vec<Part<'static>>| {
        let mut parts: Vec<Part<'_>> = fields
            .iter()
            .map(|p| match p {
                Part::Text(k, v) => Part::Text(k, v),
                Part::File(..) => unreachable!(),
            })
            .collect();
        parts.extend(extra);
        multipart(&parts)
    };

    // Over the limit: refused with the requirement and the limit named; nothing stored.
    let big: &'static [u8] = Box::leak({
        let mut v = b"%PDF-1.4\n".to_vec();
        v.resize(64 * 1024 + 1, b'x');
        v.into_boxed_slice()
    });
    let r = d
        .post_multipart(
            "/layanan/batam-domisili/ajukan",
            &anon,
            with(vec![
                Part::File("dokumen[kk]", "kk.pdf", "application/pdf", b"%PDF-1.4 kk"),
                Part::File("dokumen[ktp]", "ktp.pdf", "application/pdf", big),
            ]),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(
        r.text.contains(
            "Berkas untuk persyaratan “Fotokopi KTP-el pemohon” terlalu besar: paling besar 64 KiB"
        ),
        "{}",
        r.text
    );
    assert!(blobs.is_empty());
    assert_eq!(case_count(&engine).await, 0);

    // HTML named `.pdf` and declared as PDF: refused by its content; nothing stored.
    let r = d
        .post_multipart(
            "/layanan/batam-domisili/ajukan",
            &anon,
            with(vec![
                Part::File("dokumen[kk]", "kk.pdf", "application/pdf", b"%PDF-1.4 kk"),
                Part::File(
                    "dokumen[ktp]",
                    "ktp.pdf",
                    "application/pdf",
                    b"<html><script>alert(1)</script></html>",
                ),
            ]),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert!(
        r.text.contains(
            "Jenis berkas untuk persyaratan “Fotokopi KTP-el pemohon” tidak diizinkan: hanya PDF, JPEG, PNG"
        ),
        "{}",
        r.text
    );
    assert!(blobs.is_empty());
    assert_eq!(case_count(&engine).await, 0);

    // A document for a requirement the service does not have: refused.
    let r = d
        .post_multipart(
            "/layanan/batam-domisili/ajukan",
            &anon,
            with(vec![Part::File(
                "dokumen[paspor]",
                "p.pdf",
                "application/pdf",
                b"%PDF-1.4 p",
            )]),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(blobs.is_empty());
    assert_eq!(case_count(&engine).await, 0);

    // Accepted: a PDF (declared as something else) and an empty file input.
    let pdf: &[u8] = b"%PDF-1.4\n% KTP Rina\n";
    let r = d
        .post_multipart(
            "/layanan/batam-domisili/ajukan",
            &anon,
            with(vec![
                Part::File("dokumen[ktp]", "ktp", "application/octet-stream", pdf),
                Part::File("dokumen[kk]", "", "application/octet-stream", b""),
            ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r.location.starts_with("/lacak/"), "{}", r.location);
    assert_eq!(blobs.len(), 1);
    let cases = engine
        .search(&alur_core::store::SearchQuery::default())
        .await
        .expect("search");
    assert_eq!(cases.len(), 1);
    let case_id = cases[0].id.clone();
    let sha = alur_server::blobs::sha256_hex(pdf);

    // The kelurahan's operator sees and downloads it.
    let operator = d.sign_in("baloi-operator", "sandi-operator").await;
    let case_path = format!("/petugas/perkara/{case_id}");
    let page = d.get(&case_path, &[("alur_sesi", &operator)]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Dokumen unggahan"));
    let link = format!("{case_path}/dokumen/{sha}");
    assert!(page.text.contains(&link), "{}", page.text);
    let r = d
        .http
        .get(format!("{}{link}", d.base))
        .header("cookie", format!("alur_sesi={operator}"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/pdf");
    assert!(header("content-disposition").starts_with("attachment"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(r.bytes().await.expect("body").as_ref(), pdf);

    // Another kelurahan's lurah: 404 for the case and its document.
    let taman = d.sign_in("tamanbaloi-lurah", "sandi-taman").await;
    assert_eq!(d.get(&link, &[("alur_sesi", &taman)]).await.status, 404);
    assert_eq!(
        d.get(&case_path, &[("alur_sesi", &taman)]).await.status,
        404
    );
    // A blob that is not this case's: 404 even for the operator.
    let other = format!("{case_path}/dokumen/{}", "0".repeat(64));
    assert_eq!(d.get(&other, &[("alur_sesi", &operator)]).await.status, 404);
    // Signed out: to the sign-in form.
    assert_eq!(d.get(&link, &[]).await.status, 303);
}

#[tokio::test]
async fn applicants_upload_documents_when_completing_a_returned_file() {
    let (d, blobs, engine) = start_with_blobs(settings(), 0).await;
    let submitted = d.submit("Budi").await;
    let id = submitted["case"]["id"].as_str().expect("id").to_owned();
    let code = submitted["tracking_code"].as_str().expect("code");
    let track = format!("/lacak/{code}");
    let case_path = format!("/petugas/perkara/{id}");
    let op = d.sign_in("baloi-operator", "sandi-operator").await;
    let op = [("alur_sesi", op.as_str())];
    let r = act_on_page(
        &d,
        &case_path,
        &format!("{case_path}/aksi"),
        &op,
        "belum-lengkap",
        &[("reason", "Pengantar RT/RW belum ada")],
    )
    .await;
    assert_eq!(r.location, format!("{case_path}?pesan=ok"));

    let page = d.get(&track, &[]).await;
    assert!(page.text.contains("enctype=\"multipart/form-data\""));
    assert!(page.text.contains("name=\"dokumen[pengantar-rt-rw]\""));
    let anon = page.cookie("alur_csrf").expect("csrf cookie");
    let csrf = page.csrf();
    let marker = "name=\"seen_version\" value=\"";
    let start = page.text.find(marker).expect("version") + marker.len();
    let end = page.text[start..].find('"').expect("end");
    let version = page.text[start..start + end].to_owned();
    let version_before = engine
        .case(&id)
        .await
        .expect("case")
        .expect("a case")
        .version;
    let post = |file: &'static [u8]| {
        multipart(&[
            Part::Text("csrf", &csrf),
            Part::Text("action", "kirim-ulang"),
            Part::Text("seen_version", &version),
            Part::File("dokumen[pengantar-rt-rw]", "rt.png", "image/png", file),
        ])
    };

    // A GIF declared as PNG: refused, nothing stored, nothing done.
    let r = d
        .post_multipart(&format!("{track}/aksi"), &anon, post(b"GIF89a...."))
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert!(r.text.contains("Surat pengantar RT/RW"), "{}", r.text);
    assert!(blobs.is_empty());
    assert_eq!(
        engine
            .case(&id)
            .await
            .expect("case")
            .expect("a case")
            .version,
        version_before
    );

    // A PNG: stored, the file is sent back, the officer sees the document.
    let png: &'static [u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let r = d
        .post_multipart(&format!("{track}/aksi"), &anon, post(png))
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location, format!("{track}?pesan=ok"));
    assert_eq!(blobs.len(), 1);
    let page = d.get(&track, &[]).await;
    assert!(page.text.contains("Dokumen yang telah diunggah"));
    let page = d.get(&case_path, &op).await;
    let sha = alur_server::blobs::sha256_hex(png);
    assert!(
        page.text.contains(&format!("{case_path}/dokumen/{sha}")),
        "{}",
        page.text
    );
}

/// Every service offered online can be applied for at every office that offers it, chosen by
/// name from the form, and each submission leads to its receipt.
#[tokio::test]
async fn every_service_at_every_office_through_the_form() {
    let (d, _blobs, engine) = start_with_blobs(settings(), 0).await;
    let config = engine.config();
    let mut submitted = 0;
    let mut per_service = Vec::new();
    for def in config.services.values().filter(|d| !d.in_person_only) {
        let offices = config.offices(def);
        assert!(!offices.is_empty(), "{} is offered nowhere", def.id);
        let path = format!("/layanan/{}/ajukan", def.id);
        let page = d.get(&path, &[]).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let anon = page.cookie("alur_csrf").expect("cookie");
        let csrf = page.csrf();
        for office in &offices {
            let option = format!(
                "<option value=\"{}\">{}</option>",
                office.code,
                office.display_name()
            );
            assert!(page.text.contains(&option), "{option} on {path}");
            let mut form: Vec<(String, String)> = vec![
                ("csrf".into(), csrf.clone()),
                ("unit".into(), office.code.clone()),
                ("nik".into(), "2171104512900001".into()),
            ];
            for f in def.fields.iter().filter(|f| f.required) {
                form.push((format!("field[{}]", f.id), format!("isi {}", f.id)));
            }
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = d.post(&path, &[("alur_csrf", &anon)], &form).await;
            assert_eq!(r.status, 303, "{} at {}: {}", def.id, office.code, r.text);
            assert!(r.location.ends_with("/tanda-terima"), "{}", r.location);
            submitted += 1;
        }
        per_service.push((def.id.clone(), offices.len()));
    }
    assert_eq!(
        alur_testkit::all_cases(engine.store(), "kepri").await.len(),
        submitted
    );
    // Batam's letters at every kelurahan of the city (Baloi Permai keeps its own list), the
    // Karimun and Natuna services at their offices.
    let count = |id: &str| per_service.iter().find(|(s, _)| s == id).map_or(0, |x| x.1);
    assert!(count("batam-domisili") >= 60, "{per_service:?}");
    assert!(count("karimun-keterangan-kematian") > 0, "{per_service:?}");
    assert!(count("natuna-keterangan-pindah") > 0, "{per_service:?}");
    eprintln!("{submitted} submissions: {per_service:?}");
}

/// The satisfaction survey: offered on the tracking page once a case is completed, nine answers
/// each 1–4 or nothing recorded, once per case, counted in the case's chain.
#[tokio::test]
async fn the_survey_is_answered_once_a_case_is_completed() {
    let (d, _blobs, engine) = start_with_blobs(settings(), 0).await;
    let submitted = d.submit("Ani Lestari").await;
    let id = submitted["case"]["id"].as_str().expect("id").to_owned();
    let short = submitted["short_code"]
        .as_str()
        .expect("short code")
        .to_owned();
    let track = format!("/lacak/{short}");
    let page = d.get(&track, &[]).await;
    assert!(!page.text.contains("Survei kepuasan"), "not while open");
    complete_through_the_pages(&d, &id).await;
    let page = d.get(&track, &[]).await;
    assert!(
        page.text.contains("Survei kepuasan masyarakat"),
        "{}",
        page.text
    );
    for q in [
        "kesesuaian persyaratan pelayanan",
        "kewajaran biaya/tarif",
        "Dikelola dengan baik",
        "Sangat baik",
    ] {
        assert!(page.text.contains(q), "{q}");
    }
    let anon = page.cookie("alur_csrf").expect("cookie");
    let csrf = page.csrf();
    let path = format!("{track}/survei");
    let answers: Vec<(String, String)> = (1..=9)
        .map(|i| (format!("u{i}"), ((i % 4) + 1).to_string()))
        .collect();
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    form.extend(answers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // Eight answers, or a 5, record nothing and say what to do.
    let eight = form[..form.len() - 1].to_vec();
    let mut five = form.clone();
    if let Some(last) = five.last_mut() {
        last.1 = "5";
    }
    for bad in [eight, five] {
        let r = d.post(&path, &[("alur_csrf", &anon)], &bad).await;
        assert_eq!(r.status, 303, "{}", r.text);
        assert!(r.location.ends_with("?galat=survei"), "{}", r.location);
        let back = d.get(&r.location, &[]).await;
        assert!(back.text.contains("Jawab kesembilan pertanyaan survei"));
    }
    let r = d.post(&path, &[("alur_csrf", &anon)], &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r.location.ends_with("?pesan=survei"), "{}", r.location);
    let page = d.get(&r.location, &[]).await;
    assert!(page.text.contains("Jawaban survei Anda tercatat"));
    assert!(
        !page.text.contains("Survei kepuasan masyarakat"),
        "offered once"
    );
    // A second answer is refused by the engine; one rating is in the chain.
    let r = d.post(&path, &[("alur_csrf", &anon)], &form).await;
    assert!(
        r.location.ends_with("?galat=invalid-transition"),
        "{}",
        r.location
    );
    let entries = engine.store().entries("kepri", &id).await.expect("entries");
    let rated: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.event {
            alur_core::engine::EventKind::Rated { scores } => Some(scores.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(rated, vec![vec![2, 3, 4, 1, 2, 3, 4, 1, 2]]);
}

/// The operator accepts a domicile case with its requirements ticked, the kasi initials and the
/// Plh. lurah signs, each through the officers' pages; the case page's path.
async fn complete_through_the_pages(d: &Desk, id: &str) -> String {
    let case_path = format!("/petugas/perkara/{id}");
    let act_path = format!("{case_path}/aksi");
    let checked = [
        ("checked", "pengantar-rt-rw"),
        ("checked", "ktp"),
        ("checked", "kk"),
    ];
    for (officer, password, action, extra) in [
        ("baloi-operator", "sandi-operator", "lengkap", &checked[..]),
        ("baloi-kasi", "sandi-kasi", "paraf", &[]),
        ("baloi-sekel", "sandi-sekel", "tandatangani", &[]),
    ] {
        let session = d.sign_in(officer, password).await;
        let cookies = [("alur_sesi", session.as_str())];
        let r = act_on_page(d, &case_path, &act_path, &cookies, action, extra).await;
        assert_eq!(r.status, 303, "{action}: {}", r.text);
    }
    case_path
}
