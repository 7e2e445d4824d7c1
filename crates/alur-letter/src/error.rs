//! Errors of rendering: templates, QR code, PDF.

use std::path::PathBuf;

/// A problem rendering a letter (templates, QR code, PDF). Signing has its own
/// [`crate::SignError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LetterError {
    /// A letter template does not parse.
    #[error(
        "{origin}{}: {message}; fix the template and run `alur validate` again",
        position(*line, *column)
    )]
    TemplateSyntax {
        /// The file, or `built-in letter template <name>`.
        origin: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What the template engine reported.
        message: String,
    },
    /// A template failed while rendering a letter (in strict mode: usually a variable that does
    /// not exist, such as a misspelt field id).
    #[error(
        "{origin}{}: {message}; every {{{{name}}}} must be a value of the letter (see the alur-letter documentation for the list) or a field the service declares",
        position(*line, *column)
    )]
    Render {
        /// The file, or `built-in letter template <name>`.
        origin: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What the template engine reported.
        message: String,
    },
    /// A template file names no service of the configuration.
    #[error(
        "{path}: no service has the id {service_id:?}; name the file after a service id (<service-id>.hbs) or remove it"
    )]
    UnknownService {
        /// The file.
        path: PathBuf,
        /// Its stem.
        service_id: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The verification URL does not fit in a QR code.
    #[error(
        "the verification URL cannot be encoded as a QR code ({message}); use a shorter base URL"
    )]
    Qr {
        /// What the encoder reported.
        message: String,
    },
    /// The Chromium binary is not there.
    #[error(
        "chromium not found at {path}; install it (Debian: apt-get install chromium) or set ALUR_CHROMIUM to the browser's path"
    )]
    ChromiumMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Chromium ran but produced no PDF.
    #[error("chromium could not print the letter ({status}): {detail}")]
    ChromiumFailed {
        /// Exit status.
        status: String,
        /// The last lines it wrote to stderr, or what was wrong with its output.
        detail: String,
    },
    /// Chromium did not finish in time and was killed.
    #[error(
        "chromium did not finish printing within {timeout:?} and was stopped; try again, or raise the timeout on a slow machine"
    )]
    ChromiumTimeout {
        /// The timeout.
        timeout: std::time::Duration,
    },
}

impl LetterError {
    /// Whether trying again may succeed (a PDF timeout); template and configuration errors need a
    /// fix first.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::ChromiumTimeout { .. })
    }
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(", line {l}, column {c}"),
        (Some(l), None) => format!(", line {l}"),
        _ => String::new(),
    }
}
