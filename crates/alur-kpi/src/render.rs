//! A report as a text table, CSV, JSON, or one self-contained HTML dashboard (inline SVG, no
//! script, works offline). Columns come in one fixed order; headers are Indonesian by default.

use std::fmt::Write as _;

use crate::report::{Report, Row};
use crate::skm::ELEMENTS;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// The whole report (steps, roles, complaint tiers, survey elements) as JSON.
    Json,
    /// A dashboard page.
    Html,
}

/// Language of the column headers (table and CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// Bahasa Indonesia.
    #[default]
    Indonesian,
    /// English.
    English,
}

/// The columns, in order: (Indonesian, English).
pub const COLUMNS: [(&str, &str); 28] = [
    ("kode", "code"),
    ("wilayah", "region"),
    ("tingkat", "level"),
    ("layanan", "service"),
    ("diterima", "received"),
    ("selesai", "completed"),
    ("tepat_waktu", "on_time"),
    ("persen_tepat_waktu", "on_time_pct"),
    ("diputus_sebelum_lengkap", "decided_before_clock"),
    ("median_jam", "lead_median_h"),
    ("p90_jam", "lead_p90_h"),
    ("ditolak", "refused"),
    ("dicabut", "withdrawn"),
    ("fiktif_positif", "deemed_approved"),
    ("dikembalikan", "returned"),
    ("berkas_diperbaiki", "reworked"),
    ("melewati_batas", "breached"),
    ("melewati_batas_tahap", "step_breached"),
    ("eskalasi", "escalated"),
    ("tunggakan", "backlog"),
    ("umur_tunggakan_rata_jam", "backlog_age_mean_h"),
    ("umur_tunggakan_maks_jam", "backlog_age_max_h"),
    ("pengaduan", "complaints"),
    ("pengaduan_dijawab", "complaints_answered"),
    ("pengaduan_tepat_waktu", "complaints_in_time"),
    ("ikm", "ikm"),
    ("mutu", "grade"),
    ("responden", "respondents"),
];

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:.2}"))
}

fn cells(r: &Row) -> Vec<String> {
    let f = &r.figures;
    vec![
        if r.code.is_empty() {
            "-".into()
        } else {
            r.code.clone()
        },
        r.name.clone(),
        r.level.clone(),
        r.service.clone().unwrap_or_else(|| "*".into()),
        f.received.to_string(),
        f.completed.to_string(),
        f.on_time.to_string(),
        num(f.on_time_pct),
        f.decided_before_clock.to_string(),
        num(f.lead_median_h),
        num(f.lead_p90_h),
        f.refused.to_string(),
        f.withdrawn.to_string(),
        f.deemed_approved.to_string(),
        f.returned.to_string(),
        f.reworked.to_string(),
        f.breached.to_string(),
        f.step_breached.to_string(),
        f.escalated.to_string(),
        f.backlog.to_string(),
        num(f.backlog_age_mean_h),
        num(f.backlog_age_max_h),
        f.complaints.to_string(),
        f.complaints_answered.to_string(),
        f.complaints_in_time.to_string(),
        num(f.ikm),
        f.grade.map_or_else(String::new, |g| g.letter().to_owned()),
        f.respondents.to_string(),
    ]
}

fn headers(lang: Language) -> Vec<&'static str> {
    COLUMNS
        .iter()
        .map(|(id, en)| match lang {
            Language::Indonesian => *id,
            Language::English => *en,
        })
        .collect()
}

/// Render a report.
pub fn render(report: &Report, format: Format, lang: Language) -> String {
    match format {
        Format::Table => table(report, lang),
        Format::Csv => csv(report, lang),
        Format::Json => serde_json::to_string_pretty(report)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n")),
        Format::Html => html(report),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv(report: &Report, lang: Language) -> String {
    let mut out = headers(lang).join(",");
    out.push('\n');
    for r in &report.rows {
        let line: Vec<String> = cells(r).iter().map(|c| csv_field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn table(report: &Report, lang: Language) -> String {
    let head = headers(lang);
    let rows: Vec<Vec<String>> = report.rows.iter().map(cells).collect();
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = match lang {
        Language::Indonesian => format!(
            "Kinerja pelayanan {} — {} (tunggakan per {})\n",
            report.unit_name, report.period_label, report.backlog_at
        ),
        Language::English => format!(
            "Service performance {} — {} (backlog at {})\n",
            report.unit_name, report.period, report.backlog_at
        ),
    };
    let line = |cols: &[String], out: &mut String| {
        for (i, (c, w)) in cols.iter().zip(&width).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if i > 0 {
                out.push_str("  ");
            }
            // Names left-aligned, figures right-aligned.
            if i < 4 {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
        }
        while out.ends_with(' ') {
            out.pop();
        }
        out.push('\n');
    };
    let head: Vec<String> = head.iter().map(|h| (*h).to_owned()).collect();
    line(&head, &mut out);
    for r in &rows {
        line(r, &mut out);
    }
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A horizontal bar chart: one bar per (label, value, text), scaled to `max`.
fn hbars(items: &[(String, f64, String)], max: f64, color: &str) -> String {
    let row_h = 22.0;
    let label_w = 260.0;
    let bar_w = 420.0;
    let h = row_h * items.len() as f64 + 10.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" role=\"img\">",
        label_w + bar_w + 90.0
    );
    for (i, (label, v, text)) in items.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let w = if max > 0.0 {
            (v / max * bar_w).max(0.0)
        } else {
            0.0
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text>\
             <rect x=\"{}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label),
            label_w,
            row_h - 6.0,
            label_w + w + 4.0,
            y + 14.0,
            esc(text)
        );
    }
    s.push_str("</svg>");
    s
}

fn trend_chart(report: &Report) -> String {
    let pts = &report.trend;
    if pts.is_empty() {
        return "<p>Tidak ada data.</p>".into();
    }
    let (w, h, left, bottom) = (720.0, 240.0, 50.0, 30.0);
    let max = pts
        .iter()
        .map(|p| p.received.max(p.decided))
        .max()
        .unwrap_or(0) as f64;
    let slot = (w - left) / 12.0;
    let plot_h = h - bottom - 10.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{w}\" y2=\"{}\" stroke=\"#999\"/>",
        h - bottom,
        h - bottom
    );
    let mut line = String::new();
    for p in pts {
        let m = (p.month % 100) as f64;
        let x = left + (m - 1.0) * slot;
        let bh = |v: u64| {
            if max > 0.0 {
                v as f64 / max * plot_h
            } else {
                0.0
            }
        };
        let (r, d) = (bh(p.received), bh(p.decided));
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{r:.1}\" fill=\"#8fb3d9\"><title>diterima {}</title></rect>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{d:.1}\" fill=\"#2f6fa8\"><title>diputus {}</title></rect>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{:02}</text>",
            x + 4.0,
            h - bottom - r,
            slot / 2.0 - 5.0,
            p.received,
            x + slot / 2.0,
            h - bottom - d,
            slot / 2.0 - 5.0,
            p.decided,
            x + slot / 2.0,
            h - bottom + 15.0,
            p.month % 100
        );
        if p.with_deadline > 0 {
            let pct = p.on_time as f64 / p.with_deadline as f64;
            let _ = write!(
                line,
                "{:.1},{:.1} ",
                x + slot / 2.0,
                h - bottom - pct * plot_h
            );
        }
    }
    if !line.is_empty() {
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\"/>",
            line.trim_end()
        );
    }
    let _ = write!(
        s,
        "<text x=\"4\" y=\"14\" font-size=\"11\">{}</text></svg>\
         <p class=\"legend\"><span style=\"color:#8fb3d9\">■</span> diterima \
         <span style=\"color:#2f6fa8\">■</span> diputus (selesai/ditolak) \
         <span style=\"color:#c0392b\">━</span> % tepat waktu (0–100 %)</p>",
        max as u64
    );
    s
}

fn html(report: &Report) -> String {
    let mut o = String::new();
    let title = format!(
        "Kinerja Pelayanan {} — {}",
        report.unit_name, report.period_label
    );
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"id\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:24px;color:#222}}h1{{font-size:22px}}\
         h2{{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}}\
         .cards{{display:flex;flex-wrap:wrap;gap:12px}}.card{{border:1px solid #ccc;border-radius:6px;padding:8px 14px;min-width:120px}}\
         .card b{{display:block;font-size:22px}}table{{border-collapse:collapse;font-size:12px}}\
         td,th{{border:1px solid #ddd;padding:3px 6px;text-align:right}}td:nth-child(-n+2),th{{text-align:left}}\
         .legend{{font-size:12px}}</style></head><body>\n<h1>{t}</h1>\n\
         <p>Periode {from} s.d. {to} (UTC); tunggakan dihitung per {at}. Waktu dalam jam kerja; \
         waktu berkas di tangan pemohon tidak dihitung.</p>\n",
        t = esc(&title),
        from = report.from,
        to = report.to,
        at = report.backlog_at
    );
    if let Some(total) = report.rows.first() {
        let f = &total.figures;
        let card = |label: &str, value: String| {
            format!(
                "<div class=\"card\">{}<b>{}</b></div>",
                esc(label),
                esc(&value)
            )
        };
        o.push_str("<div class=\"cards\">");
        o.push_str(&card("Diterima", f.received.to_string()));
        o.push_str(&card("Selesai", f.completed.to_string()));
        o.push_str(&card(
            "Tepat waktu",
            f.on_time_pct.map_or("-".into(), |p| format!("{p:.1} %")),
        ));
        o.push_str(&card(
            "Diputus sebelum berkas lengkap",
            f.decided_before_clock.to_string(),
        ));
        o.push_str(&card(
            "Median waktu (jam kerja)",
            f.lead_median_h.map_or("-".into(), |v| format!("{v:.1}")),
        ));
        o.push_str(&card(
            "P90 waktu (jam kerja)",
            f.lead_p90_h.map_or("-".into(), |v| format!("{v:.1}")),
        ));
        o.push_str(&card("Tunggakan", f.backlog.to_string()));
        o.push_str(&card("Melewati batas waktu", f.breached.to_string()));
        o.push_str(&card(
            "IKM",
            match (f.ikm, f.grade) {
                (Some(v), Some(g)) => format!("{v:.2} ({} – {})", g.letter(), g.label()),
                _ => "-".into(),
            },
        ));
        o.push_str("</div>\n");
    }
    // On-time rate by child unit.
    let children: Vec<&Row> = report
        .rows
        .iter()
        .skip(1)
        .filter(|r| r.service.is_none())
        .collect();
    o.push_str("<h2>Persentase tepat waktu per wilayah</h2>\n");
    let items: Vec<(String, f64, String)> = children
        .iter()
        .map(|r| {
            let p = r.figures.on_time_pct;
            (
                r.name.clone(),
                p.unwrap_or(0.0),
                p.map_or("tidak ada putusan".into(), |p| {
                    format!("{p:.1} % dari {}", r.figures.completed + r.figures.refused)
                }),
            )
        })
        .collect();
    if items.is_empty() {
        o.push_str("<p>Tidak ada wilayah di bawahnya.</p>\n");
    } else {
        o.push_str(&hbars(&items, 100.0, "#2e8b57"));
    }
    let _ = write!(
        o,
        "\n<h2>Tren bulanan {}</h2>\n{}\n",
        report.period.get(..4).unwrap_or(""),
        trend_chart(report)
    );
    o.push_str("<h2>Sepuluh tunggakan terbesar</h2>\n");
    if report.largest_backlogs.is_empty() {
        o.push_str("<p>Tidak ada tunggakan.</p>\n");
    } else {
        let max = report
            .largest_backlogs
            .iter()
            .map(|b| b.backlog)
            .max()
            .unwrap_or(0) as f64;
        let items: Vec<(String, f64, String)> = report
            .largest_backlogs
            .iter()
            .map(|b| {
                (
                    format!("{} ({})", b.name, b.code),
                    b.backlog as f64,
                    format!("{} berkas", b.backlog),
                )
            })
            .collect();
        o.push_str(&hbars(&items, max, "#d35400"));
    }
    o.push_str("\n<h2>Tahap paling lambat</h2>\n");
    if report.slowest_steps.is_empty() {
        o.push_str("<p>Belum ada tahap yang selesai.</p>\n");
    } else {
        let max = report
            .slowest_steps
            .iter()
            .map(|s| s.mean_h)
            .fold(0.0, f64::max);
        let items: Vec<(String, f64, String)> = report
            .slowest_steps
            .iter()
            .map(|s| {
                (
                    format!("{} · {}", s.name, s.service),
                    s.mean_h,
                    format!("{:.1} jam kerja ({}×)", s.mean_h, s.visits),
                )
            })
            .collect();
        o.push_str(&hbars(&items, max, "#7d3c98"));
    }
    o.push_str("\n<h2>Indeks Kepuasan Masyarakat (IKM)</h2>\n");
    match report.rows.first().and_then(|r| r.skm) {
        Some(ikm) => {
            let _ = write!(
                o,
                "<p>IKM {:.2} — mutu {} ({}), {} responden. Nilai rata-rata per unsur (1–4):</p>",
                ikm.converted,
                ikm.grade.letter(),
                ikm.grade.label(),
                ikm.respondents
            );
            let items: Vec<(String, f64, String)> = ELEMENTS
                .iter()
                .zip(ikm.elements)
                .enumerate()
                .map(|(i, (n, v))| (format!("U{} {n}", i + 1), v, format!("{v:.2}")))
                .collect();
            o.push_str(&hbars(&items, 4.0, "#2f6fa8"));
        }
        None => o.push_str("<p>Belum ada jawaban survei pada periode ini.</p>\n"),
    }
    o.push_str("\n<h2>Rincian</h2>\n<table><tr>");
    for h in headers(Language::Indonesian) {
        let _ = write!(o, "<th>{}</th>", esc(&h.replace('_', " ")));
    }
    o.push_str("</tr>\n");
    for r in &report.rows {
        o.push_str("<tr>");
        for c in cells(r) {
            let _ = write!(o, "<td>{}</td>", esc(&c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n</body></html>\n");
    o
}
