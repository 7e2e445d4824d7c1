//! HTML rendering: a snapshot per example service, escaping, overrides, validation, letterheads.

mod common;

use alur_core::region::RegionIndex;
use alur_letter::{
    Delegation, DelegationKind, Kop, LetterError, LetterView, Paper, SignerSnapshot, Templates,
    indonesian_date,
};

#[test]
fn every_example_service_has_a_builtin_body_and_a_snapshot() {
    let templates = Templates::builtin().unwrap();
    let services = common::services();
    assert_eq!(
        services.len(),
        11,
        "the example configuration has eleven services"
    );
    for service in &services {
        assert!(
            templates.has_body(&service.id),
            "{} has no built-in body",
            service.id
        );
        let html = templates
            .render_html(&common::view(service), Paper::A4)
            .unwrap_or_else(|e| panic!("{}: {e}", service.id));
        insta::assert_snapshot!(service.id.as_str(), html);
    }
}

#[test]
fn builtin_templates_validate_against_the_example_configuration() {
    let templates = Templates::load(&common::config_dir()).unwrap();
    let services = common::services();
    templates
        .validate(services.iter().map(|s| &**s))
        .unwrap_or_else(|problems| {
            panic!(
                "{}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
}

#[test]
fn every_value_is_html_escaped() {
    let templates = Templates::builtin().unwrap();
    let service = common::service("batam-domisili");
    let mut view = common::view(&service);
    view.fields.insert(
        "nama".into(),
        "<script>alert('x')</script> & \"Budi\"".into(),
    );
    view.signer.name = "<b>Lurah</b>".into();
    view.kop.alamat = Some("Jl. <i>Raja</i> Isa".into());
    let html = templates.render_html(&view, Paper::A4).unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;Budi&quot;")
    );
    assert!(html.contains("&lt;b&gt;Lurah&lt;/b&gt;"));
    assert!(html.contains("Jl. &lt;i&gt;Raja&lt;/i&gt; Isa"));
    assert!(!html.contains("<b>Lurah"));
    // The generic body escapes too.
    view.service_id = "layanan-lain".into();
    let html = templates.render_html(&view, Paper::A4).unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;"));
}

#[test]
fn paper_sets_the_page_size() {
    let templates = Templates::builtin().unwrap();
    let view = common::view(&common::service("batam-domisili"));
    let a4 = templates.render_html(&view, Paper::A4).unwrap();
    let f4 = templates.render_html(&view, Paper::F4).unwrap();
    assert!(a4.contains("@page { size: 210mm 297mm;"));
    assert!(f4.contains("@page { size: 215mm 330mm;"));
    assert_eq!("f4".parse::<Paper>(), Ok(Paper::F4));
    assert!("letter".parse::<Paper>().is_err());
}

#[test]
fn page_carries_qr_code_number_date_and_signer() {
    let templates = Templates::builtin().unwrap();
    let view = common::view(&common::service("batam-domisili"));
    let html = templates.render_html(&view, Paper::A4).unwrap();
    assert!(html.contains("<svg class=\"qr\""));
    assert!(!html.contains("<?xml"));
    assert!(html.contains("Nomor: 470/007/21.71.10.1002/III/2026"));
    assert!(html.contains("Batam, 3 Maret 2026"));
    assert!(html.contains("berlaku sampai dengan tanggal 2 September 2026"));
    assert!(html.contains("NIP. 198203152005011002"));
    assert!(html.contains("PEMERINTAH KOTA BATAM"));
    assert!(html.contains("KELURAHAN TAMAN BALOI"));
    // Contact fields are for notifications, not for the letter.
    assert!(!html.contains("081234567890"));
}

#[test]
fn unknown_service_gets_the_generic_body_without_contact_fields() {
    let templates = Templates::builtin().unwrap();
    let mut view = LetterView::sample(
        "surat-keterangan-lain",
        "Surat Keterangan Bersih Lingkungan",
        &["nama", "nama-usaha", "telepon"],
    );
    view.field_labels
        .insert("nama".into(), "Nama lengkap".into());
    let html = templates.render_html(&view, Paper::A4).unwrap();
    assert!(html.contains("Nama lengkap"));
    assert!(html.contains("Nama usaha"), "humanised id");
    assert!(!html.contains("081234567890"));
    insta::assert_snapshot!("generic-body", html);
}

#[test]
fn signature_block_follows_delegation() {
    let mut s = SignerSnapshot {
        name: "Dewi".into(),
        nip: None,
        position: "Sekretaris Kelurahan Taman Baloi".into(),
        delegation: None,
    };
    assert_eq!(s.signature_lines(), ["Sekretaris Kelurahan Taman Baloi"]);
    s.delegation = Some(Delegation {
        kind: DelegationKind::Plt,
        principal_position: "Lurah Taman Baloi".into(),
    });
    assert_eq!(s.signature_lines(), ["Plt. Lurah Taman Baloi"]);
    assert_eq!(s.title(), "Plt. Lurah Taman Baloi");
    s.delegation = Some(Delegation {
        kind: DelegationKind::AtasNama,
        principal_position: "Lurah Taman Baloi".into(),
    });
    assert_eq!(
        s.signature_lines(),
        ["a.n. Lurah Taman Baloi", "Sekretaris Kelurahan Taman Baloi"]
    );
    assert_eq!(
        serde_json::to_value(DelegationKind::Plh).unwrap(),
        serde_json::json!("Plh.")
    );
}

#[test]
fn dates_are_written_in_indonesian() {
    assert_eq!(
        indonesian_date(jiff::civil::date(2026, 3, 3)),
        "3 Maret 2026"
    );
    assert_eq!(
        indonesian_date(jiff::civil::date(2025, 12, 31)),
        "31 Desember 2025"
    );
    assert_eq!(
        indonesian_date(jiff::civil::date(2026, 1, 1)),
        "1 Januari 2026"
    );
}

#[test]
fn letterheads_from_region_data() {
    let regions = RegionIndex::embedded().unwrap();
    let k = Kop::from_region(regions, "21.71.10.1002").unwrap();
    assert_eq!(k.pemerintah, "PEMERINTAH KOTA BATAM");
    assert_eq!(k.kecamatan, "KECAMATAN BATAM KOTA");
    assert_eq!(k.unit.as_deref(), Some("KELURAHAN TAMAN BALOI"));
    assert_eq!(
        k.jurisdiction,
        "Kelurahan Taman Baloi, Kecamatan Batam Kota, Kota Batam"
    );

    let k = Kop::from_region(regions, "21.01.04.2001").unwrap();
    assert_eq!(k.pemerintah, "PEMERINTAH KABUPATEN BINTAN");
    assert_eq!(k.kecamatan, "KECAMATAN GUNUNG KIJANG");
    assert_eq!(k.unit.as_deref(), Some("DESA GUNUNG KIJANG"));

    // A kecamatan office: no third line.
    let k = Kop::from_region(regions, "21.03.10").unwrap();
    assert_eq!(k.pemerintah, "PEMERINTAH KABUPATEN NATUNA");
    assert_eq!(k.kecamatan, "KECAMATAN PULAU LAUT");
    assert_eq!(k.unit, None);
    assert_eq!(k.jurisdiction, "Kecamatan Pulau Laut, Kabupaten Natuna");

    // Names written in lower case in the data are capitalised.
    let lower = regions
        .descendants_at("11", alur_core::region::UnitLevel::Desa)
        .into_iter()
        .find(|r| r.name == "Dama pulo");
    if let Some(r) = lower {
        let k = Kop::from_region(regions, &r.code).unwrap();
        assert!(
            k.jurisdiction.starts_with("Desa Dama Pulo, "),
            "{}",
            k.jurisdiction
        );
    }

    // Regencies, provinces and unknown codes have no kecamatan letterhead.
    assert!(Kop::from_region(regions, "21.71").is_none());
    assert!(Kop::from_region(regions, "21").is_none());
    assert!(Kop::from_region(regions, "99.99.99.9999").is_none());
}

#[test]
fn overrides_replace_bodies_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    std::fs::write(
        letters.join("batam-domisili.hbs"),
        "<p>Domisili khusus: {{fields.nama}} di {{kop.jurisdiction}}</p>",
    )
    .unwrap();
    std::fs::write(
        letters.join("layout.hbs"),
        "<html><body><h1>{{title}}</h1>{{{body}}}{{{qr_svg}}}</body></html>",
    )
    .unwrap();
    std::fs::write(letters.join("generic.hbs"), "<p>Umum: {{service_name}}</p>").unwrap();
    std::fs::write(letters.join("README.txt"), "ignored").unwrap();
    let templates = Templates::load(dir.path()).unwrap();
    let view = common::view(&common::service("batam-domisili"));
    let html = templates.render_html(&view, Paper::A4).unwrap();
    assert!(html.starts_with("<html><body><h1>SURAT KETERANGAN DOMISILI</h1><p>Domisili khusus: Siti Aminah di Kelurahan Taman Baloi"));
    let mut other = view.clone();
    other.service_id = "layanan-lain".into();
    let html = templates.render_html(&other, Paper::A4).unwrap();
    assert!(
        html.contains("<p>Umum: Surat Keterangan Domisili</p>"),
        "{html}"
    );
    let services = common::services();
    templates.validate(services.iter().map(|s| &**s)).unwrap();
}

#[test]
fn a_bad_override_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    let file = letters.join("batam-sktm.hbs");
    std::fs::write(&file, "<p>Nama:\n {{#if fields.nama}}{{fields.nama}}\n</p>").unwrap();
    let err = Templates::load(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LetterError::TemplateSyntax { .. }), "{err:?}");
    assert!(text.contains(&file.display().to_string()), "{text}");
    assert!(text.contains("line "), "{text}");
    assert!(text.contains("fix the template"), "{text}");
}

#[test]
fn validation_catches_a_misspelt_variable_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    let file = letters.join("batam-sktm.hbs");
    std::fs::write(
        &file,
        "<p>Nama: {{fields.nama}}</p>\n<p>Alamat: {{fields.almat}}</p>\n",
    )
    .unwrap();
    // A layout with a misspelt variable: one problem, not one per service.
    std::fs::write(
        letters.join("layout.hbs"),
        "<html>{{{body}}}\n{{kop.unitt}}</html>",
    )
    .unwrap();
    // A file for a service that does not exist.
    std::fs::write(letters.join("batam-domisli.hbs"), "<p>{{fields.nama}}</p>").unwrap();
    let templates = Templates::load(dir.path()).unwrap();
    let services = common::services();
    let problems = templates
        .validate(services.iter().map(|s| &**s))
        .unwrap_err();
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 3, "{texts:#?}");
    let layout = texts.iter().find(|t| t.contains("layout.hbs")).unwrap();
    assert!(
        layout.contains("line 2, column 1: {{kop.unitt}} does not exist"),
        "{layout}"
    );
    let unknown = texts.iter().find(|t| t.contains("batam-domisli")).unwrap();
    assert!(unknown.contains("no service has the id"), "{unknown}");
    let render = problems
        .iter()
        .find(|p| matches!(p, LetterError::Render { origin, .. } if origin.ends_with("batam-sktm.hbs")))
        .unwrap();
    let LetterError::Render { origin, line, .. } = render else {
        unreachable!()
    };
    assert_eq!(origin, &file.display().to_string());
    assert_eq!(*line, Some(2));
    assert!(render.to_string().contains("fields.almat"), "{render}");
}

#[test]
fn declared_fields_left_empty_render_as_empty() {
    let templates = Templates::builtin().unwrap();
    let service = common::service("batam-domisili");
    let mut view = common::view(&service);
    view.fields.clear();
    view.fields.insert("nama".into(), "Siti".into());
    assert!(matches!(
        templates.render_html(&view, Paper::A4),
        Err(LetterError::Render { .. })
    ));
    view.declare_fields(&service);
    assert!(templates.render_html(&view, Paper::A4).is_ok());
}
