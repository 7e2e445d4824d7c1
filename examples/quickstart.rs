//! Embed alur in a few lines: load the Kepri config, submit a domicile letter, act on it as three
//! officers (the lurah's deputy signs as Plh.), print the timeline.
//! Run: `cargo run --example quickstart`
use alur::core::{
    Actor, Command, Engine, ManualClock, MemoryStore, Payload, Pseudonymizer, Submission,
};
use std::{collections::BTreeSet, sync::Arc};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    run().await.map_err(|e| e.to_string()) // errors print as readable messages
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = alur::core::load_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/config/kepri"
    ))?;
    let clock = Arc::new(ManualClock::new("2026-03-17T02:00:00Z".parse()?)); // 09:00 WIB
    let engine = Engine::new(
        config,
        MemoryStore::new(),
        clock,
        Pseudonymizer::new([7u8; 32])?,
    )
    .await?;
    let applicant = engine
        .pseudonymizer()
        .person(&alur::core::Nik::parse("2171104512900001").ok_or("bad NIK")?);
    let fields = [
        ("nama", "Siti Aminah"),
        ("alamat", "Jl. Baloi Permai No. 5"),
        ("keperluan", "Pembukaan rekening"),
    ];
    let payload = Payload {
        fields: fields.map(|(k, v)| (k.to_owned(), v.to_owned())).into(),
        ..Payload::default()
    };
    let submission = Submission {
        service: "batam-domisili".into(),
        unit: "21.71.10.1001".into(),
        applicant,
        conditions: BTreeSet::new(),
        payload,
    };
    let mut case = engine.submit(submission, Some("quickstart-1")).await?;
    for (officer, action) in [
        ("baloi-operator", "lengkap"),
        ("baloi-kasi", "paraf"),
        ("baloi-sekel", "tandatangani"),
    ] {
        let checked = ["pengantar-rt-rw", "ktp", "kk"].map(String::from).into();
        let cmd = Command::Act {
            actor: Actor::Officer(officer.into()),
            action: action.into(),
            seen_version: case.version,
            checked,
            payload: Payload::default(),
        };
        case = engine.execute(&case.id, cmd, None).await?;
    }
    for item in engine.timeline(&case.id).await? {
        println!(
            "{}",
            alur::core::audit::describe(&item.entry, engine.config())
        );
    }
    println!("status: {:?}", case.status);
    Ok(())
}
