//! Letters on the desk: issued right away when an officer's action completes a case whose
//! service issues letters ([`issue_for_case`]), and served for printing at `/surat/{token}`.
//!
//! The document is the one recorded at issue (HTML by default, PDF with
//! [`Settings::letter_pdf`](crate::Settings::letter_pdf)); the token in the address is the
//! letter's unguessable verification token, the one its QR code carries.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use alur_core::Store;
use alur_core::letter::{Letter, LetterStatus};
use alur_letter::issue::{IssueOptions, issue};
use alur_letter::{ChromiumRenderer, PdfRenderer, Templates};

use crate::AppState;
use crate::pages::error_page;
use crate::problem::Problem;

/// What issuing needs, prepared once when the state is built.
pub(crate) struct LetterKit {
    /// The templates, or why they did not load.
    templates: Result<Templates, String>,
    /// The emblem for the letterhead.
    logo: Option<String>,
    /// Print to PDF with this browser.
    renderer: Option<ChromiumRenderer>,
}

impl LetterKit {
    pub(crate) fn new(settings: &crate::Settings) -> Self {
        let (templates, logo) = match &settings.letter_config_dir {
            Some(dir) => (
                Templates::load(dir).map_err(|e| e.to_string()),
                alur_letter::issue::logo_data_uri(dir).ok().flatten(),
            ),
            None => (Templates::builtin().map_err(|e| e.to_string()), None),
        };
        Self {
            templates,
            logo,
            renderer: settings.letter_pdf.then(ChromiumRenderer::from_env),
        }
    }
}

/// What became of a case's letter after an action.
#[derive(Debug)]
pub(crate) enum Issue {
    /// The case has no letter waiting (none numbered, or already issued).
    Nothing,
    /// Issued now.
    Issued,
    /// Issuing failed (the reason is written to the server's log): the letter stays numbered,
    /// to be issued again.
    Failed,
}

/// Issue the numbered letter of `case_id`, signed by `officer`, when there is one.
pub(crate) async fn issue_for_case<S: Store>(
    state: &AppState<S>,
    case_id: &str,
    officer: &str,
) -> Issue {
    match try_issue(state, case_id, officer).await {
        Ok(true) => Issue::Issued,
        Ok(false) => Issue::Nothing,
        Err(reason) => {
            eprintln!("alur-server: the letter of case {case_id} was not issued: {reason}");
            Issue::Failed
        }
    }
}

async fn try_issue<S: Store>(
    state: &AppState<S>,
    case_id: &str,
    officer: &str,
) -> Result<bool, String> {
    match state.engine.letter_for_case(case_id).await {
        Ok(Some(l)) if l.status == LetterStatus::Numbered => {}
        Ok(_) => return Ok(false),
        Err(e) => return Err(e.to_string()),
    }
    let kit: &Arc<LetterKit> = &state.letters;
    let templates = match &kit.templates {
        Ok(t) => t,
        Err(e) => return Err(format!("the letter templates do not load: {e}")),
    };
    let opts = IssueOptions {
        templates,
        paper: state.engine.config().letters.paper,
        renderer: kit.renderer.as_ref().map(|r| r as &dyn PdfRenderer),
        signer: None,
        logo: kit.logo.clone(),
    };
    match issue(&state.engine, case_id, officer, &opts).await {
        Ok(_) => {
            state.metrics.transition("letter-issued");
            Ok(true)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The issued letter of a case, when there is one with a document.
pub(crate) async fn issued_letter<S: Store>(state: &AppState<S>, case_id: &str) -> Option<Letter> {
    state
        .engine
        .letter_for_case(case_id)
        .await
        .ok()
        .flatten()
        .filter(|l| l.status != LetterStatus::Numbered && l.document_sha256.is_some())
}

/// `GET /surat/{token}`: the issued document, as recorded.
pub(crate) async fn document<S: Store>(
    State(state): State<AppState<S>>,
    Path(token): Path<String>,
) -> Response {
    let missing = || error_page(&Problem::not_found("no issued letter has this token"));
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return missing();
    }
    let letter = match state.engine.letter(token).await {
        Ok(Some(l)) => l,
        Ok(None) => return missing(),
        Err(e) => return error_page(&Problem::from(e)),
    };
    let Some(sha) = letter.document_sha256.as_deref() else {
        return missing();
    };
    let tenant = &state.engine.config().tenant.id;
    let (media_type, bytes) = match state.engine.store().letter_document(tenant, sha).await {
        Ok(Some(d)) => d,
        Ok(None) => return missing(),
        Err(e) => return error_page(&Problem::from(alur_core::Error::from(e))),
    };
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&media_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    // The letter's page carries its own styles and inline images (QR code, emblem); nothing else.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if media_type.starts_with("application/pdf") {
        let name = format!(
            "inline; filename=\"surat-{}.pdf\"",
            letter
                .number
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    r
}
