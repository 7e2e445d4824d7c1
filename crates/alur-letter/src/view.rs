//! What a letter page shows: [`LetterView`], its letterhead [`Kop`] and its [`SignerSnapshot`].

use std::collections::BTreeMap;

use alur_core::ServiceDefinition;
use alur_core::region::{RegionIndex, UnitLevel};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Everything a letter page shows. Built by the host from the case, the issued letter's number and
/// token, and the signer as they were on the day; rendered by [`crate::Templates::render_html`].
///
/// Templates reach every field by its name (`{{number}}`, `{{kop.pemerintah}}`,
/// `{{fields.nama}}`, …); see the crate documentation for the values computed on top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LetterView {
    /// The letterhead.
    pub kop: Kop,
    /// The letter's title, e.g. "SURAT KETERANGAN DOMISILI".
    pub title: String,
    /// The letter number, e.g. "470/007/21.71.10.1002/III/2026".
    pub number: String,
    /// City or regency named in the date line, e.g. "Batam".
    pub place: String,
    /// Local date of issue (the issuing unit's time zone).
    pub date: Date,
    /// Service identifier (selects the body template).
    pub service_id: String,
    /// Service name, e.g. "Surat Keterangan Domisili".
    pub service_name: String,
    /// The applicant's form data by field id (`nama`, `alamat`, `keperluan`, …). It should hold
    /// every field the service declares, an empty string for one left empty (see
    /// [`LetterView::declare_fields`]): templates run in strict mode, where a missing value is an
    /// error rather than an empty line.
    pub fields: BTreeMap<String, String>,
    /// Labels of the fields by id, used by the generic body (the service's form labels).
    pub field_labels: BTreeMap<String, String>,
    /// Who signs, as they were on the day.
    pub signer: SignerSnapshot,
    /// Last day of validity, when limited.
    pub valid_until: Option<Date>,
    /// What the QR code encodes, e.g. `https://layanan.example/verifikasi/<token>`.
    pub verify_url: String,
    /// The verification token.
    pub token: String,
    /// Legal basis of the service (dasar hukum).
    pub legal_basis: Vec<String>,
}

/// Field ids that carry the applicant's notification contacts: never printed by the generic body.
pub const CONTACT_FIELDS: [&str; 3] = ["telepon", "email", "kontak"];

impl LetterView {
    /// Add every field `service` declares that `fields` lacks (as an empty string) and take the
    /// service's field labels, so a template that names a declared field never fails on a case
    /// where the applicant left it empty.
    pub fn declare_fields(&mut self, service: &ServiceDefinition) {
        for f in &service.fields {
            self.fields.entry(f.id.clone()).or_default();
            self.field_labels
                .entry(f.id.clone())
                .or_insert_with(|| f.label.clone());
        }
    }

    /// A complete view with fixed sample values (Kelurahan Taman Baloi, Batam, 3 March 2026),
    /// every field in `field_ids` filled: what validation renders, and a preview for template
    /// authors.
    pub fn sample(service_id: &str, service_name: &str, field_ids: &[&str]) -> Self {
        let fields = field_ids
            .iter()
            .map(|id| ((*id).to_owned(), sample_value(id)))
            .collect();
        Self {
            kop: Kop {
                pemerintah: "PEMERINTAH KOTA BATAM".into(),
                kecamatan: "KECAMATAN BATAM KOTA".into(),
                unit: Some("KELURAHAN TAMAN BALOI".into()),
                alamat: Some("Jalan Raja Isa, Taman Baloi, Batam Kota, Batam 29432".into()),
                logo: None,
                jurisdiction: "Kelurahan Taman Baloi, Kecamatan Batam Kota, Kota Batam".into(),
            },
            title: service_name.to_uppercase(),
            number: "470/007/21.71.10.1002/III/2026".into(),
            place: "Batam".into(),
            date: jiff::civil::date(2026, 3, 3),
            service_id: service_id.into(),
            service_name: service_name.into(),
            fields,
            field_labels: BTreeMap::new(),
            signer: SignerSnapshot {
                name: "Rahmat Hidayat, S.STP.".into(),
                nip: Some("198203152005011002".into()),
                position: "Lurah Taman Baloi".into(),
                delegation: None,
            },
            valid_until: Some(jiff::civil::date(2026, 9, 2)),
            verify_url: "https://layanan.example/verifikasi/Zq3vK8mP2xR7tW9yB4nC6dF1".into(),
            token: "Zq3vK8mP2xR7tW9yB4nC6dF1".into(),
            legal_basis: vec![
                "Undang-Undang Nomor 25 Tahun 2009 tentang Pelayanan Publik".into(),
                "Peraturan Menteri PANRB Nomor 15 Tahun 2014 tentang Pedoman Standar Pelayanan"
                    .into(),
            ],
        }
    }

    /// [`LetterView::sample`] for a service definition (its id, product name and fields).
    pub fn sample_for(service: &ServiceDefinition) -> Self {
        let ids: Vec<&str> = service.fields.iter().map(|f| f.id.as_str()).collect();
        let mut view = Self::sample(&service.id, &service.product.name, &ids);
        view.declare_fields(service);
        view.legal_basis = service.legal_basis.clone();
        view
    }
}

fn sample_value(id: &str) -> String {
    match id {
        "nama" | "nama-ortu" | "nama-pelapor" => "Siti Aminah".into(),
        "alamat" | "alamat-asal" => "Perumahan Taman Baloi Blok C No. 12, RT 002/RW 005".into(),
        "keperluan" => "Persyaratan administrasi".into(),
        "telepon" => "081234567890".into(),
        "email" => "siti@example.com".into(),
        "kontak" => "whatsapp".into(),
        _ => format!("Contoh {id}"),
    }
}

/// The letterhead (kop surat): government, kecamatan and issuing unit, in capitals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kop {
    /// "PEMERINTAH KOTA BATAM" or "PEMERINTAH KABUPATEN BINTAN".
    pub pemerintah: String,
    /// "KECAMATAN BATAM KOTA".
    pub kecamatan: String,
    /// "KELURAHAN TAMAN BALOI" or "DESA GUNUNG KIJANG"; `None` for a letter a kecamatan office
    /// issues.
    pub unit: Option<String>,
    /// Office address line.
    pub alamat: Option<String>,
    /// Logo as a `data:` URI (or a path the renderer can read), embedded inline.
    pub logo: Option<String>,
    /// The issuing unit and its parents in ordinary capitalisation, for the letter text:
    /// "Kelurahan Taman Baloi, Kecamatan Batam Kota, Kota Batam".
    pub jurisdiction: String,
}

impl Kop {
    /// The letterhead of the unit with this Kemendagri code (a kecamatan, kelurahan, desa or
    /// desa adat), from the embedded region data. `None` when the code is unknown or names a
    /// province or kabupaten/kota (their offices have letterheads of their own).
    pub fn from_region(regions: &RegionIndex, unit_code: &str) -> Option<Kop> {
        let unit = regions.get(unit_code)?;
        if !matches!(
            unit.level,
            UnitLevel::Kecamatan | UnitLevel::Kelurahan | UnitLevel::Desa | UnitLevel::DesaAdat
        ) {
            return None;
        }
        let regency = regions
            .ancestor_at(unit_code, UnitLevel::Kabupaten)
            .or_else(|| regions.ancestor_at(unit_code, UnitLevel::Kota))?;
        let kecamatan = regions.ancestor_at(unit_code, UnitLevel::Kecamatan)?;
        let regency_name = with_level(regency.level, &regency.name);
        let kecamatan_name = with_level(kecamatan.level, &kecamatan.name);
        let unit_name =
            (unit.level != UnitLevel::Kecamatan).then(|| with_level(unit.level, &unit.name));
        let jurisdiction = match &unit_name {
            Some(u) => format!("{u}, {kecamatan_name}, {regency_name}"),
            None => format!("{kecamatan_name}, {regency_name}"),
        };
        Some(Kop {
            pemerintah: format!("PEMERINTAH {}", regency_name.to_uppercase()),
            kecamatan: kecamatan_name.to_uppercase(),
            unit: unit_name.map(|u| u.to_uppercase()),
            alamat: None,
            logo: None,
            jurisdiction,
        })
    }
}

/// "Kota Batam" from ("kota", "Kota Batam"), "Kelurahan Taman Baloi" from ("kelurahan",
/// "Taman Baloi"): the level's title once, then the name with each word capitalised.
fn with_level(level: UnitLevel, name: &str) -> String {
    let name = title_case(name.trim());
    let prefix = format!("{} ", level.title());
    if name.starts_with(&prefix) {
        name
    } else {
        format!("{prefix}{name}")
    }
}

/// Capitalise the first letter of each word and keep the rest as written: region names in the
/// Kemendagri data are mostly capitalised already ("Dama pulo" is the exception), and the rest of a
/// word may be an acronym ("RD. PJKA") or an apostrophe ("Ba'u").
pub fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut out = String::with_capacity(w.len());
            let mut done = false;
            for c in w.chars() {
                if !done && c.is_alphabetic() {
                    out.extend(c.to_uppercase());
                    done = true;
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Who signs, as they were on the day (kept with the issued letter, never looked up later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerSnapshot {
    /// Full name with titles, e.g. "Rahmat Hidayat, S.STP.".
    pub name: String,
    /// NIP (civil-servant number); a kepala desa has none.
    pub nip: Option<String>,
    /// The signer's own position, e.g. "Lurah Taman Baloi" or "Sekretaris Kelurahan Taman Baloi".
    pub position: String,
    /// Set when signing for someone else.
    pub delegation: Option<Delegation>,
}

impl SignerSnapshot {
    /// The lines above the signature, per Indonesian official-letter practice (without the
    /// trailing comma, which the layout adds):
    ///
    /// - no delegation: `["Lurah Taman Baloi"]`;
    /// - Plh./Plt.: `["Plh. Lurah Taman Baloi"]` (the acting official signs in the principal's
    ///   position);
    /// - a.n.: `["a.n. Lurah Taman Baloi", "Sekretaris Kelurahan Taman Baloi"]`.
    pub fn signature_lines(&self) -> Vec<String> {
        match &self.delegation {
            None => vec![self.position.clone()],
            Some(d) => match d.kind {
                DelegationKind::Plh | DelegationKind::Plt => {
                    vec![format!(
                        "{} {}",
                        d.kind.abbreviation(),
                        d.principal_position
                    )]
                }
                DelegationKind::AtasNama => vec![
                    format!("{} {}", d.kind.abbreviation(), d.principal_position),
                    self.position.clone(),
                ],
            },
        }
    }

    /// How the letter text names the signer: "Lurah Taman Baloi", "Plh. Lurah Taman Baloi", or
    /// "Sekretaris Kelurahan Taman Baloi, atas nama Lurah Taman Baloi".
    pub fn title(&self) -> String {
        match &self.delegation {
            None => self.position.clone(),
            Some(d) => match d.kind {
                DelegationKind::Plh | DelegationKind::Plt => {
                    format!("{} {}", d.kind.abbreviation(), d.principal_position)
                }
                DelegationKind::AtasNama => {
                    format!("{}, atas nama {}", self.position, d.principal_position)
                }
            },
        }
    }
}

/// Signing for someone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    /// Plh., Plt. or a.n.
    pub kind: DelegationKind,
    /// The position signed for, e.g. "Lurah Taman Baloi".
    pub principal_position: String,
}

/// The kind of delegation, serialised as written on the letter ("Plh.", "Plt.", "a.n.").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DelegationKind {
    /// Pelaksana harian: stands in for a temporarily absent official.
    #[serde(rename = "Plh.")]
    Plh,
    /// Pelaksana tugas: fills a vacant post or one whose holder is long absent.
    #[serde(rename = "Plt.")]
    Plt,
    /// Atas nama: a subordinate signs on the official's behalf under a standing delegation.
    #[serde(rename = "a.n.")]
    AtasNama,
}

impl DelegationKind {
    /// "Plh.", "Plt." or "a.n.".
    pub fn abbreviation(self) -> &'static str {
        match self {
            Self::Plh => "Plh.",
            Self::Plt => "Plt.",
            Self::AtasNama => "a.n.",
        }
    }
}

/// Paper size, set in the page's `@page` rule: the tenant's `[letters] paper`.
pub use alur_core::model::Paper;

const MONTHS: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];

/// A date in Indonesian: "3 Maret 2026".
pub fn indonesian_date(date: Date) -> String {
    let month = MONTHS
        .get(usize::try_from(date.month() - 1).unwrap_or(0))
        .copied()
        .unwrap_or("");
    format!("{} {} {}", date.day(), month, date.year())
}
