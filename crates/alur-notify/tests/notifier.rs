//! The notifier end to end over the in-memory store: recipients (applicant contact from the
//! submission, officers from a TOML directory), Indonesian templates, escaping and caps per
//! channel, routing by address kind, and the dispatcher settling every outcome.

use std::sync::{Arc, Mutex};

use alur_core::model::Field;
use alur_core::store::{ClaimedMessage, OutboxMessage, Store};
use alur_core::{Engine, ManualClock, MemoryStore};
use alur_notify::{
    Channel, ChannelKind, Deliver, DeliveryError, Dispatcher, DispatcherConfig, Notification,
    Notifier, NotifierSettings, Templates, TomlDirectory,
};
use async_trait::async_trait;

const TENANT: &str = "kepri";

#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<Notification>>>);

#[async_trait]
impl Channel for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        self.0.lock().unwrap().push(n.clone());
        Ok(())
    }
}

const DIRECTORY: &str = r#"
[[officer]]
id = "baloi-operator"
email = "operator@baloi.example.invalid"
posts = [{ role = "operator", unit = "21.71.10.1001" }]

[[officer]]
id = "baloi-kasi"
whatsapp = "+6281100000002"
posts = [{ role = "kasi", unit = "21.71.10.1001" }]
"#;

/// The Kepri configuration with contact fields on the domicile service (the examples do not
/// declare them; a regency that notifies applicants adds them to its services).
fn config() -> alur_core::Config {
    let mut config = alur_testkit::kepri();
    let mut def = config.services["batam-domisili"].as_ref().clone();
    for (id, label) in [
        ("email", "Surel"),
        ("whatsapp", "Nomor WhatsApp"),
        ("telepon", "Nomor telepon"),
        ("kontak", "Saluran pemberitahuan"),
    ] {
        def.fields.push(Field {
            id: id.into(),
            label: label.into(),
            required: false,
            max_length: None,
        });
    }
    config.services.insert(def.id.clone(), Arc::new(def));
    config
}

struct World {
    store: Arc<MemoryStore>,
    engine: Engine<Arc<MemoryStore>>,
    email: Recorder,
    whatsapp: Recorder,
    sms: Recorder,
}

async fn world() -> (World, Notifier<Arc<MemoryStore>, TomlDirectory>) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(alur_testkit::ts("2026-03-17T02:00:00Z")));
    let engine = Engine::new(
        config(),
        store.clone(),
        clock,
        alur_testkit::pseudonymizer(),
    )
    .await
    .unwrap();
    let (email, whatsapp, sms) = (
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
    );
    let notifier = Notifier::new(
        store.clone(),
        TomlDirectory::parse(DIRECTORY, "direktori.toml").unwrap(),
        Templates::defaults(),
        NotifierSettings {
            verification_base: "https://layanan.batam.example.invalid/cek/".into(),
        },
    )
    .channel(ChannelKind::Email, email.clone())
    .channel(ChannelKind::WhatsApp, whatsapp.clone())
    .channel(ChannelKind::Sms, sms.clone());
    (
        World {
            store,
            engine,
            email,
            whatsapp,
            sms,
        },
        notifier,
    )
}

fn submission(n: u32, contact: &[(&str, &str)]) -> alur_core::Submission {
    let mut s = alur_testkit::domisili(n);
    for (k, v) in contact {
        s.payload.fields.insert((*k).into(), (*v).into());
    }
    s
}

#[tokio::test]
async fn applicant_and_officers_get_rendered_messages_on_their_channels() {
    let (w, notifier) = world().await;
    let c = w
        .engine
        .submit(
            submission(
                1,
                &[
                    ("email", "warga@example.invalid"),
                    ("whatsapp", "+6281200000001"),
                ],
            ),
            None,
        )
        .await
        .unwrap();
    let mut act = alur_testkit::act(&c, "baloi-operator", "belum-lengkap");
    if let alur_core::Command::Act {
        payload, checked, ..
    } = &mut act
    {
        payload.reason = Some("<script>alert('x')</script> Foto KTP buram\u{7}".into());
        checked.clear();
        checked.insert("ktp".into());
    }
    w.engine.execute(&c.id, act, None).await.unwrap();

    let d = Dispatcher::new(w.store.clone(), notifier, DispatcherConfig::new(TENANT));
    assert_eq!(d.drain().await.unwrap(), 2);
    assert!(w.store.pending_outbox(TENANT, 10).await.unwrap().is_empty());

    let mail = w.email.0.lock().unwrap().clone();
    let wa = w.whatsapp.0.lock().unwrap().clone();
    assert_eq!(mail.len(), 2, "received and returned, by e-mail");
    assert_eq!(
        wa.len(),
        2,
        "and by WhatsApp (no choice made: every contact given)"
    );
    assert!(w.sms.0.lock().unwrap().is_empty());

    let received = &mail[0];
    assert_eq!(received.template, "case.received");
    assert_eq!(received.message_id, format!("{}:1:applicant", c.id));
    assert!(received.id.starts_with(&received.message_id) && received.id.contains('#'));
    assert!(
        received.subject.contains("Surat Keterangan Domisili"),
        "{}",
        received.subject
    );
    assert!(
        received
            .text
            .contains("telah kami terima pada 17 Maret 2026 pukul 09.00 WIB"),
        "{}",
        received.text
    );
    assert!(
        received.text.contains("Kelurahan Baloi Permai") || received.text.contains("Baloi Permai"),
        "{}",
        received.text
    );
    assert!(received.text.contains(&c.id));

    let returned = &mail[1];
    assert_eq!(returned.template, "case.returned");
    let html = returned.html.as_deref().unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"));
    assert!(
        returned.text.contains("- Surat pengantar RT/RW"),
        "missing requirements listed: {}",
        returned.text
    );
    assert!(returned.text.contains("- Fotokopi Kartu Keluarga"));
    assert!(
        !returned.text.contains("- Fotokopi KTP-el pemohon"),
        "ticked requirement not listed"
    );
    let wa_returned = &wa[1];
    assert!(wa_returned.html.is_none());
    assert!(!wa_returned.text.contains('\u{7}'));
    assert!(wa_returned.text.contains("Foto KTP buram"));
}

#[tokio::test]
async fn the_applicant_choice_officers_and_failures() {
    let (w, notifier) = world().await;
    let c = w
        .engine
        .submit(
            submission(
                2,
                &[
                    ("email", "warga@example.invalid"),
                    ("telepon", "+6281300000003"),
                    ("kontak", "sms"),
                ],
            ),
            None,
        )
        .await
        .unwrap();
    let claimed = |recipient: &str, template: &str| ClaimedMessage {
        message: OutboxMessage {
            id: format!("{}:1:{recipient}", c.id),
            tenant: TENANT.into(),
            case_id: c.id.clone(),
            seq: 1,
            template: template.into(),
            recipient: recipient.into(),
            created_at: alur_testkit::ts("2026-03-17T02:00:00Z"),
        },
        attempts: 0,
    };
    notifier
        .deliver(&claimed("applicant", "case.received"))
        .await
        .unwrap();
    let sms = w.sms.0.lock().unwrap().clone();
    assert_eq!(sms.len(), 1, "only the chosen channel");
    assert!(sms[0].text.chars().count() <= 480);
    assert!(w.email.0.lock().unwrap().is_empty());

    notifier
        .deliver(&claimed("role:operator@21.71.10.1001", "officer.reminder"))
        .await
        .unwrap();
    let mail = w.email.0.lock().unwrap().clone();
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].text.contains("menunggu tindakan Anda"),
        "{}",
        mail[0].text
    );
    assert!(
        mail[0]
            .text
            .contains("Verifikasi berkas oleh operator loket")
    );
    notifier
        .deliver(&claimed("officer:baloi-kasi", "officer.reassigned"))
        .await
        .unwrap();
    assert_eq!(w.whatsapp.0.lock().unwrap().len(), 1);

    // Nobody holds the post: permanent. An unknown form: permanent.
    let e = notifier
        .deliver(&claimed("role:lurah@21.71.10.1001", "officer.reminder"))
        .await
        .unwrap_err();
    assert!(!e.is_temporary(), "{e}");
    let e = notifier
        .deliver(&claimed("someone", "case.received"))
        .await
        .unwrap_err();
    assert!(!e.is_temporary(), "{e}");
    // An unknown case: temporary (it may not be visible yet).
    let mut m = claimed("applicant", "case.received");
    m.message.case_id = "no-such-case".into();
    assert!(notifier.deliver(&m).await.unwrap_err().is_temporary());
}
