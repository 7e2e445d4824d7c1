//! The verification QR code as inline SVG.

use std::fmt::Write;

use qrcode::{Color, EcLevel, QrCode};

use crate::LetterError;

/// Modules of white border on each side, as the QR specification asks.
const QUIET_ZONE: usize = 4;

/// `data` (the verification URL) as an inline `<svg>` element, one unit per module with the
/// quiet zone, scaled by CSS; each row's dark runs are one path segment, which keeps the page
/// small. Error correction level M survives a crease or a stamp over a corner.
pub fn qr_svg(data: &str) -> Result<String, LetterError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|e| {
        LetterError::Qr {
            message: e.to_string(),
        }
    })?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    let mut path = String::new();
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] == Color::Dark {
                let start = x;
                while x < width && row[x] == Color::Dark {
                    x += 1;
                }
                let len = x - start;
                let _ = write!(
                    path,
                    "M{} {}h{len}v1h-{len}z",
                    start + QUIET_ZONE,
                    y + QUIET_ZONE
                );
            } else {
                x += 1;
            }
        }
    }
    Ok(format!(
        concat!(
            r#"<svg class="qr" role="img" aria-label="Kode QR verifikasi" xmlns="http://www.w3.org/2000/svg" "#,
            r#"viewBox="0 0 {s} {s}" width="{s}" height="{s}" shape-rendering="crispEdges">"#,
            r##"<rect width="{s}" height="{s}" fill="#fff"/><path fill="#000" d="{path}"/></svg>"##
        ),
        s = size,
        path = path
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_the_quiet_zone_and_one_segment_per_run() {
        let svg = qr_svg("https://layanan.example/verifikasi/abc").unwrap();
        let code = QrCode::with_error_correction_level(
            "https://layanan.example/verifikasi/abc".as_bytes(),
            EcLevel::M,
        )
        .unwrap();
        let s = code.width() + 8;
        assert!(svg.starts_with("<svg class=\"qr\""));
        assert!(svg.contains(&format!("viewBox=\"0 0 {s} {s}\"")));
        // The top-left finder pattern: a run of seven dark modules at the quiet zone's edge.
        assert!(svg.contains("M4 4h7v1h-7z"));
        assert!(svg.ends_with("\"/></svg>"));
    }

    #[test]
    fn path_draws_exactly_the_dark_modules() {
        let data = "https://layanan.example/verifikasi/Zq3vK8mP2xR7tW9yB4nC6dF1";
        let svg = qr_svg(data).unwrap();
        let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).unwrap();
        let w = code.width();
        let d = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut drawn = vec![Color::Light; w * w];
        for seg in d.split('M').filter(|s| !s.is_empty()) {
            // "{x} {y}h{len}v1h-{len}z"
            let (xy, rest) = seg.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let len: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            for i in 0..len {
                drawn[(y - QUIET_ZONE) * w + x - QUIET_ZONE + i] = Color::Dark;
            }
        }
        assert_eq!(drawn, code.to_colors());
    }

    #[test]
    fn too_long_data_is_an_error() {
        let long = "x".repeat(5000);
        assert!(matches!(qr_svg(&long), Err(LetterError::Qr { .. })));
    }
}
