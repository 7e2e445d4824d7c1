//! Official letters for alur: the rendering and signing half of issuing a letter (surat
//! keterangan). Numbering, storage and the verification page live in alur-core and the stores,
//! which call this crate.
//!
//! The pieces, in the order a letter goes through them:
//!
//! 1. [`LetterView`]: everything the page shows — the letterhead ([`Kop`], built from the
//!    embedded Kemendagri region data by [`Kop::from_region`]), title, number, place and date,
//!    the applicant's fields, the signer as they were on the day ([`SignerSnapshot`], with
//!    Plh./Plt./a.n. [`Delegation`]), validity, and the verification URL and token.
//! 2. [`Templates`]: Handlebars templates in strict mode with HTML escaping. A layout (letterhead,
//!    title and number, body, signature block with the QR code, footer) and a body per service:
//!    built in for the eleven example services, a generic body for the rest, overridable per
//!    configuration in `<config>/letters/<service-id>.hbs` and `<config>/letters/layout.hbs`.
//!    [`Templates::render_html`] gives a complete HTML page for a [`Paper`] size (A4 or F4,
//!    through CSS `@page`); [`Templates::validate`] renders every template with a sample view so
//!    a misspelt variable is found when the configuration is checked, not when a citizen waits.
//! 3. [`qr_svg`]: the QR code of the verification URL as inline SVG.
//! 4. [`PdfRenderer`]: HTML to PDF; [`ChromiumRenderer`] prints with headless Chromium
//!    (`/usr/bin/chromium` or `ALUR_CHROMIUM`) under a timeout.
//! 5. [`Signer`]: signs the PDF as an official with their [`Passphrase`] (never stored, printed as
//!    `***`). [`HttpSigner`] talks to a BSrE-style signing service (the signature embedded in the
//!    PDF); [`LocalEd25519Signer`] signs locally with a detached Ed25519 signature, for
//!    demonstrations and tests.
//!
//! # What templates see
//!
//! Every field of [`LetterView`] by name (`{{title}}`, `{{number}}`, `{{place}}`,
//! `{{service_name}}`, `{{kop.pemerintah}}`, `{{kop.kecamatan}}`, `{{kop.unit}}`,
//! `{{kop.alamat}}`, `{{kop.logo}}`, `{{kop.jurisdiction}}`, `{{fields.<id>}}`,
//! `{{signer.name}}`, `{{signer.nip}}`, `{{signer.position}}`, `{{verify_url}}`, `{{token}}`,
//! `{{legal_basis}}`, …) and these computed values:
//!
//! | name | value |
//! |---|---|
//! | `date_text` | the date of issue in Indonesian, "3 Maret 2026" |
//! | `valid_until_text` | the last valid day in Indonesian, or null |
//! | `signer_title` | how the text names the signer: "Lurah Taman Baloi", "Plh. Lurah Taman Baloi" |
//! | `signature_lines` | the lines above the signature (see [`SignerSnapshot::signature_lines`]) |
//! | `qr_svg` | the QR code as SVG; write `{{{qr_svg}}}` |
//! | `paper.name`, `paper.size` | "A4" and "210mm 297mm" |
//! | `field_rows` | `label` and `value` of every field but the contact ones |
//! | `body` | in the layout only: the rendered body; write `{{{body}}}` |
//!
//! and the partial `{{> berlaku}}` (the validity sentence). `{{value}}` is HTML-escaped;
//! triple braces are for the HTML this crate produces (`body`, `qr_svg`) and must not be used for
//! the applicant's data.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use alur_letter::*;
//!
//! let templates = Templates::load(std::path::Path::new("examples/config/kepri"))?;
//! let view = LetterView::sample("batam-domisili", "Surat Keterangan Domisili", &["nama", "alamat", "keperluan"]);
//! let html = templates.render_html(&view, Paper::F4)?;
//! let pdf = ChromiumRenderer::from_env().render(&html, Paper::F4).await?;
//! let signer = LocalEd25519Signer::from_seed(&[7; 32]);
//! let signed = signer.sign(pdf, "198203152005011002", &Passphrase::new("rahasia")).await?;
//! # let _ = signed;
//! # Ok(())
//! # }
//! ```

mod error;
mod http_signer;
pub mod issue;
mod pdf;
mod qr;
mod sign;
mod template;
mod view;

pub use error::LetterError;
pub use http_signer::HttpSigner;
pub use pdf::{ChromiumRenderer, PdfRenderer};
pub use qr::qr_svg;
pub use sign::{
    ClientSecret, LocalEd25519Signer, Passphrase, SignError, Signed, Signer, verify_ed25519,
};
pub use template::{
    BUILTIN_BODIES, BUILTIN_GENERIC_BODY, BUILTIN_LAYOUT, BUILTIN_VALIDITY_PARTIAL, Templates,
};
pub use view::{
    CONTACT_FIELDS, Delegation, DelegationKind, Kop, LetterView, Paper, SignerSnapshot,
    indonesian_date, title_case,
};
