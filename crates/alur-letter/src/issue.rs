//! Issuing and verifying letters with the engine: the numbered letter of a completed case is
//! rendered, printed, signed and recorded ([`issue`]); anyone holding its token or its file can
//! check it ([`verify`]).

use std::collections::BTreeMap;

use alur_core::audit::AuditEntry;
use alur_core::engine::EventKind;
use alur_core::letter::{Letter, LetterStatus, SignerRecord, document_digest, token_digest};
use alur_core::model::MandateKind;
use alur_core::region::{RegionIndex, UnitLevel};
use alur_core::runtime::LetterDraft;
use alur_core::store::{Store, StoreError};
use alur_core::{Config, Engine, ServiceDefinition};
use alur_merkle::checkpoint::CheckpointVerifier;
use jiff::civil::Date;

use crate::{
    Delegation, DelegationKind, Kop, LetterError, LetterView, Paper, Passphrase, PdfRenderer,
    SignError, Signer, SignerSnapshot, Templates,
};

/// The signer block of a letter from the record the engine keeps.
pub fn snapshot(record: &SignerRecord) -> SignerSnapshot {
    SignerSnapshot {
        name: record.name.clone(),
        nip: record.nip.clone(),
        position: record.position.clone(),
        delegation: record.mandate_kind.map(|k| Delegation {
            kind: match k {
                MandateKind::Plh => DelegationKind::Plh,
                MandateKind::Plt => DelegationKind::Plt,
            },
            principal_position: record.position.clone(),
        }),
    }
}

/// The kabupaten/kota name for the date line ("Batam", "Bintan").
fn place(regions: &RegionIndex, unit: &str) -> String {
    regions
        .ancestor_at(unit, UnitLevel::Kota)
        .or_else(|| regions.ancestor_at(unit, UnitLevel::Kabupaten))
        .map(|r| {
            r.name
                .trim_start_matches("Kabupaten ")
                .trim_start_matches("Kota ")
                .to_owned()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn view(
    def: &ServiceDefinition,
    letter: &Letter,
    date: Date,
    signer: &SignerRecord,
    valid_until: Option<Date>,
    fields: BTreeMap<String, String>,
    verify_url: String,
) -> LetterView {
    let regions = RegionIndex::embedded().ok();
    let kop = regions
        .and_then(|r| Kop::from_region(r, &letter.unit))
        .unwrap_or_else(|| Kop {
            pemerintah: String::new(),
            kecamatan: String::new(),
            unit: None,
            alamat: None,
            logo: None,
            jurisdiction: letter.unit.clone(),
        });
    let mut v = LetterView {
        kop,
        title: def.product.name.to_uppercase(),
        number: letter.number.clone(),
        place: regions.map(|r| place(r, &letter.unit)).unwrap_or_default(),
        date,
        service_id: def.id.clone(),
        service_name: def.name.clone(),
        fields,
        field_labels: BTreeMap::new(),
        signer: snapshot(signer),
        valid_until,
        verify_url,
        token: letter.token.clone(),
        legal_basis: def.legal_basis.clone(),
    };
    v.declare_fields(def);
    v
}

/// The page of a prepared letter.
pub fn view_from_draft(draft: &LetterDraft) -> LetterView {
    view(
        &draft.definition,
        &draft.letter,
        draft.date,
        &draft.signer,
        draft.valid_until,
        draft.fields.clone(),
        draft.verify_url.clone(),
    )
}

/// Why issuing failed. Nothing is recorded unless the letter was issued: a failed render or
/// signature leaves it numbered, to be issued again.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The engine refused or the store failed.
    #[error(transparent)]
    Engine(#[from] alur_core::Error),
    /// Rendering or printing failed.
    #[error(transparent)]
    Render(#[from] LetterError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// How to produce the document.
pub struct IssueOptions<'a> {
    /// Templates.
    pub templates: &'a Templates,
    /// Paper size.
    pub paper: Paper,
    /// Print to PDF with this renderer; `None` issues the HTML page itself.
    pub renderer: Option<&'a dyn PdfRenderer>,
    /// Sign the PDF with this signer, as the official with this id (NIK or NIP) and passphrase.
    pub signer: Option<(&'a dyn Signer, &'a str, &'a Passphrase)>,
    /// The regional emblem for the letterhead, as a `data:` URI (see [`logo_data_uri`]).
    pub logo: Option<String>,
}

/// The configured emblem for letterheads: `<config>/letters/logo.svg`, `logo.png` or `logo.jpg`
/// (the first that exists) as a `data:` URI, embedded in the page so the letter needs no other
/// file. `None` when there is none.
pub fn logo_data_uri(config_dir: &std::path::Path) -> Result<Option<String>, LetterError> {
    for (name, media) in [
        ("logo.svg", "image/svg+xml"),
        ("logo.png", "image/png"),
        ("logo.jpg", "image/jpeg"),
    ] {
        let path = config_dir.join("letters").join(name);
        if path.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| LetterError::Io {
                path: path.clone(),
                source: e,
            })?;
            return Ok(Some(format!("data:{media};base64,{}", base64(&bytes))));
        }
    }
    Ok(None)
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An issued letter and its document.
#[derive(Debug)]
pub struct Issued {
    /// The letter as stored after issue.
    pub letter: Letter,
    /// The document recorded (signed PDF, PDF or HTML).
    pub document: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// A detached signature, when the signer gives one.
    pub signature: Option<Vec<u8>>,
}

/// Render, print, sign and record the numbered letter of a completed case, signed by
/// `officer` (the one who approved it, or after a deemed approval an officer of the final step).
pub async fn issue<S: Store>(
    engine: &Engine<S>,
    case_id: &str,
    officer: &str,
    opts: &IssueOptions<'_>,
) -> Result<Issued, IssueError> {
    let draft = engine.prepare_letter(case_id, officer).await?;
    let mut page = view_from_draft(&draft);
    if page.kop.logo.is_none() {
        page.kop.logo.clone_from(&opts.logo);
    }
    let html = opts.templates.render_html(&page, opts.paper)?;
    let (mut document, mut media_type) = (html.into_bytes(), "text/html; charset=utf-8");
    let mut signature = None;
    if let Some(renderer) = opts.renderer {
        let html = String::from_utf8_lossy(&document).into_owned();
        document = renderer.render(&html, opts.paper).await?;
        media_type = "application/pdf";
        if let Some((signer, id, passphrase)) = opts.signer {
            let signed = signer.sign(document, id, passphrase).await?;
            document = signed.pdf;
            signature = signed.signature;
        }
    }
    let letter = engine.issue_letter(&draft, &document, media_type).await?;
    Ok(Issued {
        letter,
        document,
        media_type: media_type.to_owned(),
        signature,
    })
}

/// The page of an issued letter again, from what was recorded (the applicant's data from the
/// stored payloads, the signer as recorded). Its bytes are not the issued document's: verify the
/// stored document, not this.
pub async fn render_again<S: Store + ?Sized>(
    store: &S,
    config: &Config,
    letter: &Letter,
    templates: &Templates,
    paper: Paper,
    logo: Option<String>,
) -> Result<String, String> {
    let tenant = &config.tenant.id;
    let case = store
        .case(tenant, &letter.case_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("case {} not found", letter.case_id))?;
    let def = store
        .definition(tenant, &case.service, case.definition_version)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("definition of {} not found", case.service))?;
    let signer = letter
        .signer
        .clone()
        .ok_or_else(|| format!("letter {} is not issued yet", letter.number))?;
    let entries = store
        .entries(tenant, &letter.case_id)
        .await
        .map_err(|e| e.to_string())?;
    let fields = alur_core::letter::form_fields(store, tenant, &entries)
        .await
        .map_err(|e| e.to_string())?;
    let tz = config.calendars.for_unit(&letter.unit).time_zone().clone();
    let date = letter
        .issued_at
        .map(|t| tz.to_datetime(t).date())
        .unwrap_or_else(|| tz.to_datetime(letter.numbered_at).date());
    let url = format!("{}/{}", config.letters.verify_url, letter.token);
    let mut v = view(&def, letter, date, &signer, letter.valid_until, fields, url);
    if v.kop.logo.is_none() {
        v.kop.logo = logo;
    }
    templates.render_html(&v, paper).map_err(|e| e.to_string())
}

/// The verdict on a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Issued, not revoked, within its validity, and the document (if given) is the one issued.
    Valid,
    /// Issued and genuine, but past its validity.
    Expired,
    /// Revoked after issue.
    Revoked,
    /// Numbered but not (yet) signed and issued.
    NotIssued,
    /// The token is genuine, but the file given is not the document issued under it.
    DocumentMismatch,
    /// No letter has this token or this document: forged, altered or mistyped.
    Unknown,
    /// The letter's record disagrees with the audit log: the database was altered.
    RecordTampered,
}

impl Verdict {
    /// Indonesian and English, for people.
    pub fn text(self) -> &'static str {
        match self {
            Self::Valid => "SAH: surat ini diterbitkan dan berlaku / VALID",
            Self::Expired => {
                "KEDALUWARSA: surat ini asli tetapi masa berlakunya telah habis / EXPIRED"
            }
            Self::Revoked => "DICABUT: surat ini telah dicabut dan tidak berlaku / REVOKED",
            Self::NotIssued => {
                "BELUM TERBIT: nomor surat sudah diberikan tetapi surat belum ditandatangani / NOT ISSUED"
            }
            Self::DocumentMismatch => {
                "TIDAK COCOK: berkas ini bukan dokumen yang diterbitkan (telah diubah) / DOCUMENT DOES NOT MATCH"
            }
            Self::Unknown => {
                "TIDAK DIKENAL: tidak ada surat dengan kode atau berkas ini (palsu atau diubah) / UNKNOWN"
            }
            Self::RecordTampered => {
                "RUSAK: catatan surat tidak sesuai dengan log audit / RECORD DOES NOT MATCH THE AUDIT LOG"
            }
        }
    }

    /// Whether the letter can be relied on.
    pub fn is_valid(self) -> bool {
        self == Self::Valid
    }
}

/// How the issuance entry sits in the signed tenant log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogProof {
    /// The issuance entry's position in the tenant log.
    pub index: u64,
    /// Tree size of the checkpoint.
    pub size: u64,
    /// The inclusion proof (hex hashes).
    pub proof: Vec<String>,
    /// The proof leads to the checkpoint's root.
    pub included: bool,
    /// The checkpoint's signature was checked with the key given (`None`: no key given).
    pub signature_ok: Option<bool>,
    /// The signed checkpoint.
    pub checkpoint: String,
}

/// The result of checking a letter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    /// The verdict.
    pub verdict: Verdict,
    /// The letter, when found.
    pub letter: Option<Letter>,
    /// Its service's name.
    pub service_name: Option<String>,
    /// The issuing unit's name.
    pub unit_name: Option<String>,
    /// The file given is the issued document (`None`: no file given).
    pub document_matches: Option<bool>,
    /// The issuance entry under the latest checkpoint (`None` when not yet in one).
    pub log: Option<LogProof>,
    /// Why the log part is missing or failed, when it is.
    pub log_note: Option<String>,
}

/// Check a letter by its token, its file, or both; counts the look-up. `today` is the date in
/// the issuing unit's time zone (validity), `verifier` checks the checkpoint signature.
pub async fn verify<S: Store + ?Sized>(
    store: &S,
    config: &Config,
    token: Option<&str>,
    document: Option<&[u8]>,
    verifier: Option<&CheckpointVerifier>,
    today: Date,
) -> Result<Verification, StoreError> {
    let tenant = &config.tenant.id;
    let doc_sha = document.map(document_digest);
    let letter = match (token, &doc_sha) {
        (Some(t), _) => store.letter(tenant, t.trim()).await?,
        (None, Some(sha)) => store.letter_by_document(tenant, sha).await?,
        (None, None) => None,
    };
    let mut v = Verification {
        verdict: Verdict::Unknown,
        letter: None,
        service_name: None,
        unit_name: None,
        document_matches: None,
        log: None,
        log_note: None,
    };
    let Some(mut letter) = letter else {
        return Ok(v);
    };
    letter.scans = store.record_letter_scan(tenant, &letter.token).await?;
    v.service_name = config.services.get(&letter.service).map(|s| s.name.clone());
    v.unit_name = RegionIndex::embedded()
        .ok()
        .and_then(|r| r.get(&letter.unit))
        .map(|r| format!("{} {}", r.level.title(), r.name));
    v.document_matches = doc_sha
        .as_ref()
        .map(|sha| letter.document_sha256.as_deref() == Some(sha.as_str()));
    // The audit log's word on the letter.
    let entries = store.entries(tenant, &letter.case_id).await?;
    let digest = token_digest(&letter.token);
    let issued: Option<&AuditEntry> = entries.iter().find(|e| {
        matches!(&e.event, EventKind::LetterIssued { token_sha256, .. } if *token_sha256 == digest)
    });
    let revoked = entries.iter().any(|e| {
        matches!(&e.event, EventKind::LetterRevoked { token_sha256, .. } if *token_sha256 == digest)
    });
    let chain_ok = alur_core::audit::verify_chain(&entries).is_ok();
    let record_ok = chain_ok
        && match (letter.status, issued) {
            (LetterStatus::Numbered, None) => !revoked,
            (LetterStatus::Issued | LetterStatus::Revoked, Some(e)) => match &e.event {
                EventKind::LetterIssued {
                    number,
                    document_sha256,
                    valid_until,
                    ..
                } => {
                    number == &letter.number
                        && Some(document_sha256) == letter.document_sha256.as_ref()
                        && *valid_until == letter.valid_until
                        && revoked == (letter.status == LetterStatus::Revoked)
                }
                _ => false,
            },
            _ => false,
        };
    if let Some(e) = issued {
        match log_proof(store, tenant, e, verifier).await {
            Ok(p) => v.log = Some(p),
            Err(note) => v.log_note = Some(note),
        }
    }
    v.verdict = if !record_ok || v.log.as_ref().is_some_and(|p| !p.included) {
        Verdict::RecordTampered
    } else if v.document_matches == Some(false) {
        Verdict::DocumentMismatch
    } else {
        match letter.status {
            LetterStatus::Revoked => Verdict::Revoked,
            LetterStatus::Numbered => Verdict::NotIssued,
            LetterStatus::Issued if letter.valid_until.is_some_and(|d| d < today) => {
                Verdict::Expired
            }
            LetterStatus::Issued => Verdict::Valid,
        }
    };
    v.letter = Some(letter);
    Ok(v)
}

async fn log_proof<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    entry: &AuditEntry,
    verifier: Option<&CheckpointVerifier>,
) -> Result<LogProof, String> {
    let cps = store.checkpoints(tenant).await.map_err(|e| e.to_string())?;
    let Some(cp) = cps.last() else {
        return Err(
            "belum ada checkpoint bertanda tangan / no signed checkpoint yet (alur audit checkpoint)"
                .into(),
        );
    };
    let proofs = alur_core::tlog::prove_case(store, tenant, &entry.case_id, cp.size)
        .await
        .map_err(|e| e.to_string())?;
    let Some(p) = proofs.into_iter().find(|p| p.seq == entry.seq) else {
        return Err(format!(
            "catatan penerbitan belum masuk checkpoint terakhir ({} catatan) / the issuance entry is not under the latest checkpoint yet",
            cp.size
        ));
    };
    let body = cp
        .note
        .split_once("\n\n")
        .map_or(cp.note.as_str(), |(b, _)| b);
    let checkpoint =
        alur_merkle::checkpoint::Checkpoint::parse_body(&format!("{}\n", body.trim_end()))
            .map_err(|e| format!("checkpoint: {e}"))?;
    let signature_ok =
        verifier.map(|k| alur_merkle::checkpoint::parse_and_verify(&cp.note, k).is_ok());
    let leaf = alur_core::tlog::leaf_of(&entry.hash).ok_or("malformed entry hash")?;
    let proof: Vec<alur_merkle::Hash> = p
        .proof
        .iter()
        .map(|h| alur_core::tlog::parse_hash(h).ok_or("malformed proof hash"))
        .collect::<Result<_, _>>()?;
    let included = checkpoint.size == p.size
        && alur_merkle::verify_inclusion(&leaf, p.index, p.size, &proof, &checkpoint.root).is_ok();
    Ok(LogProof {
        index: p.index,
        size: p.size,
        proof: p.proof,
        included,
        signature_ok,
        checkpoint: cp.note.clone(),
    })
}

/// A verification for people, Indonesian first.
pub fn verification_text(v: &Verification, today: Date) -> String {
    let mut out = format!("{}\n", v.verdict.text());
    let Some(l) = &v.letter else {
        return out;
    };
    let line = |out: &mut String, k: &str, val: &str| {
        out.push_str(&format!("  {k:<28} {val}\n"));
    };
    line(&mut out, "Nomor / number", &l.number);
    line(
        &mut out,
        "Layanan / service",
        v.service_name.as_deref().unwrap_or(&l.service),
    );
    line(
        &mut out,
        "Unit penerbit / issued by",
        v.unit_name.as_deref().unwrap_or(&l.unit),
    );
    if let Some(t) = l.issued_at {
        line(&mut out, "Diterbitkan / issued at", &t.to_string());
    }
    if let Some(s) = &l.signer {
        let nip = s
            .nip
            .as_deref()
            .map(|n| format!(", NIP {n}"))
            .unwrap_or_default();
        line(
            &mut out,
            "Penandatangan / signer",
            &format!("{} ({}{nip})", s.name, s.title()),
        );
    }
    match l.valid_until {
        Some(d) if d < today => line(
            &mut out,
            "Berlaku sampai / valid until",
            &format!("{} (kedaluwarsa / expired)", crate::indonesian_date(d)),
        ),
        Some(d) => line(
            &mut out,
            "Berlaku sampai / valid until",
            &crate::indonesian_date(d),
        ),
        None => line(&mut out, "Berlaku / valid", "tanpa batas waktu / no expiry"),
    }
    if let Some(t) = l.revoked_at {
        line(&mut out, "Dicabut / revoked at", &t.to_string());
    }
    match v.document_matches {
        Some(true) => line(
            &mut out,
            "Berkas / document",
            "cocok (SHA-256 sama) / matches",
        ),
        Some(false) => line(
            &mut out,
            "Berkas / document",
            "TIDAK COCOK / does not match",
        ),
        None => {}
    }
    if let Some(sha) = &l.document_sha256 {
        line(&mut out, "SHA-256 dokumen", sha);
    }
    match (&v.log, &v.log_note) {
        (Some(p), _) => {
            let sig = match p.signature_ok {
                Some(true) => ", tanda tangan checkpoint sah / checkpoint signature valid",
                Some(false) => ", TANDA TANGAN CHECKPOINT TIDAK SAH / checkpoint signature INVALID",
                None => "",
            };
            line(
                &mut out,
                "Log audit / audit log",
                &format!(
                    "{} (catatan #{} dari {}){sig}",
                    if p.included {
                        "tercatat / included"
                    } else {
                        "TIDAK TERCATAT / NOT included"
                    },
                    p.index,
                    p.size
                ),
            );
        }
        (None, Some(note)) => line(&mut out, "Log audit / audit log", note),
        (None, None) => {}
    }
    line(&mut out, "Dipindai / scans", &l.scans.to_string());
    out
}
