//! PDF through headless Chromium. Skipped (with the reason printed) when Chromium is absent,
//! unless ALUR_REQUIRE_CHROMIUM=1, as in CI.

mod common;

use std::time::Duration;

use alur_letter::{ChromiumRenderer, LetterError, Paper, PdfRenderer, Templates};

/// The renderer, or `None` (test skipped) when Chromium is missing and not required.
fn chromium() -> Option<ChromiumRenderer> {
    let r = ChromiumRenderer::from_env();
    if r.is_available() {
        return Some(r);
    }
    if std::env::var("ALUR_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
        panic!(
            "ALUR_REQUIRE_CHROMIUM=1 but chromium is not at {}",
            r.path().display()
        );
    }
    eprintln!(
        "skipped: chromium not found at {} (install it or set ALUR_CHROMIUM; ALUR_REQUIRE_CHROMIUM=1 makes this a failure)",
        r.path().display()
    );
    None
}

/// Page objects: `/Type /Page` (with or without the space) not followed by `s`.
fn page_count(pdf: &[u8]) -> usize {
    let mut n = 0;
    for pat in [&b"/Type /Page"[..], &b"/Type/Page"[..]] {
        for (i, w) in pdf.windows(pat.len()).enumerate() {
            if w == pat && pdf.get(i + pat.len()) != Some(&b's') {
                n += 1;
            }
        }
    }
    n
}

/// Width and height of the first `/MediaBox [x0 y0 x1 y1]`, in points.
fn media_box(pdf: &[u8]) -> (f64, f64) {
    let text = String::from_utf8_lossy(pdf);
    let i = text.find("/MediaBox").expect("a MediaBox");
    let rest = &text[i..];
    let open = rest.find('[').unwrap();
    let close = rest.find(']').unwrap();
    let nums: Vec<f64> = rest[open + 1..close]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (nums[2] - nums[0], nums[3] - nums[1])
}

fn mm_to_pt(mm: u32) -> f64 {
    f64::from(mm) * 72.0 / 25.4
}

#[tokio::test]
async fn domicile_letter_prints_on_one_page_in_a4_and_f4() {
    let Some(chromium) = chromium() else { return };
    let templates = Templates::builtin().unwrap();
    let view = common::view(&common::service("batam-domisili"));
    for paper in [Paper::A4, Paper::F4] {
        let html = templates.render_html(&view, paper).unwrap();
        let pdf = chromium.render(&html, paper).await.unwrap();
        assert!(pdf.starts_with(b"%PDF"), "{paper}: not a PDF");
        assert_eq!(page_count(&pdf), 1, "{paper}: the letter must fit one page");
        let (w, h) = media_box(&pdf);
        let (wmm, hmm) = paper.size_mm();
        // Chromium rounds the page to whole CSS pixels.
        assert!((w - mm_to_pt(wmm)).abs() < 2.0, "{paper}: width {w} pt");
        assert!((h - mm_to_pt(hmm)).abs() < 2.0, "{paper}: height {h} pt");
    }
}

#[tokio::test]
async fn every_example_letter_fits_one_a4_page() {
    let Some(chromium) = chromium() else { return };
    let templates = Templates::builtin().unwrap();
    for service in common::services() {
        let html = templates
            .render_html(&common::view(&service), Paper::A4)
            .unwrap();
        let pdf = chromium.render(&html, Paper::A4).await.unwrap();
        assert_eq!(
            page_count(&pdf),
            1,
            "{} takes more than one page",
            service.id
        );
    }
}

#[tokio::test]
async fn a_page_without_page_rule_gets_the_paper_size() {
    let Some(chromium) = chromium() else { return };
    let pdf = chromium
        .render("<html><body><p>Halo</p></body></html>", Paper::F4)
        .await
        .unwrap();
    let (w, h) = media_box(&pdf);
    assert!((w - mm_to_pt(215)).abs() < 2.0, "width {w}");
    assert!((h - mm_to_pt(330)).abs() < 2.0, "height {h}");
}

#[tokio::test]
async fn a_missing_browser_is_a_clear_error() {
    let r = ChromiumRenderer::new("/nonexistent/chromium");
    let err = r.render("<p>x</p>", Paper::A4).await.unwrap_err();
    assert!(
        matches!(err, LetterError::ChromiumMissing { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("/nonexistent/chromium"), "{text}");
    assert!(text.contains("ALUR_CHROMIUM"), "{text}");
}

#[tokio::test]
async fn a_hanging_browser_is_killed_at_the_timeout() {
    // A stand-in "browser" that never finishes.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("chromium");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 30\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let r = ChromiumRenderer::new(&fake).with_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = r.render("<p>x</p>", Paper::A4).await.unwrap_err();
    assert!(
        matches!(err, LetterError::ChromiumTimeout { .. }),
        "{err:?}"
    );
    assert!(err.is_temporary());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_failing_browser_reports_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("chromium");
    std::fs::write(&fake, "#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let err = ChromiumRenderer::new(&fake)
        .render("<p>x</p>", Paper::A4)
        .await
        .unwrap_err();
    assert!(matches!(err, LetterError::ChromiumFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot open display"), "{err}");
}
