//! The published service standard (Permenpan-RB 15/2014): the six citizen-facing components,
//! in Indonesian, as Markdown or a self-contained HTML page to hang at the counter.

use std::fmt::Write;

use crate::model::*;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown.
    Markdown,
    /// HTML (escaped, self-contained, printable).
    Html,
}

fn fee_text(fee: &Fee) -> String {
    let base = if fee.amount == 0 {
        "Tidak dipungut biaya (gratis)".to_owned()
    } else {
        format!("Rp{}", rupiah(fee.amount))
    };
    match &fee.note {
        Some(n) if fee.amount != 0 || n != "Tidak dipungut biaya" => format!("{base}. {n}"),
        _ => base,
    }
}

/// Format an amount with Indonesian thousands separators (`10.000`).
pub fn rupiah(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

fn step_text(def: &ServiceDefinition, s: &Step, config: &Config) -> String {
    let who = |roles: &[String]| {
        roles
            .iter()
            .map(|r| config.roles.get(r).map_or(r.clone(), |x| x.name.clone()))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut t = s.name.clone();
    match &s.kind {
        StepKind::Task => {
            let _ = write!(t, " — oleh {}", who(&s.roles));
        }
        StepKind::Approval(ApprovalRule::Chain(c)) => {
            let _ = write!(t, " — persetujuan berurutan: {}", who(c));
        }
        StepKind::Approval(ApprovalRule::Quorum { quorum, of }) => {
            let _ = write!(t, " — persetujuan {quorum} dari {}: {}", of.len(), who(of));
        }
        StepKind::Applicant => t.push_str(" — oleh pemohon (waktu layanan berhenti sementara)"),
    }
    if let StepAt::Ancestor(level) = s.at {
        let _ = write!(t, " (di kantor {})", level.title());
    }
    if let Some(o) = &s.optional {
        let _ = write!(
            t,
            " (jika diberlakukan oleh unit; pengaturan `{}`)",
            o.setting
        );
    }
    if let Some(sla) = s.sla {
        let _ = write!(t, "; paling lama {sla}");
    }
    let _ = def;
    t
}

fn unit_text(def: &ServiceDefinition) -> String {
    let Ok(regions) = crate::region::RegionIndex::embedded() else {
        return def.regions.join(", ");
    };
    let names: Vec<String> = def
        .regions
        .iter()
        .map(|r| {
            regions
                .get(r)
                .map_or(r.clone(), |x| format!("{} ({r})", x.name))
        })
        .collect();
    format!(
        "Setiap kantor {} di {}",
        def.runs_at.title(),
        names.join(", ")
    )
}

struct Doc {
    title: String,
    sections: Vec<(String, Vec<String>)>,
}

fn build(def: &ServiceDefinition, config: &Config) -> Doc {
    let mut sections = Vec::new();
    let mut req = Vec::new();
    for r in &def.requirements {
        match &r.only_if {
            Some(c) => {
                let q = def
                    .conditions
                    .iter()
                    .find(|x| &x.id == c)
                    .map_or(c.as_str(), |x| x.question.as_str());
                req.push(format!("{} (hanya jika: {q})", r.name));
            }
            None => req.push(r.name.clone()),
        }
    }
    if def.in_person_only {
        req.push(
            "Pemohon wajib datang sendiri ke kantor (tidak dapat diwakilkan atau diajukan daring)"
                .into(),
        );
    }
    sections.push(("1. Persyaratan".to_owned(), req));
    let mut proc: Vec<String> = vec!["Pemohon mengajukan permohonan beserta persyaratan".into()];
    proc.extend(def.steps.iter().map(|s| step_text(def, s, config)));
    sections.push(("2. Sistem, Mekanisme dan Prosedur".to_owned(), proc));
    let start = match def.clock_starts {
        ClockStart::Submitted => "sejak permohonan diterima".to_owned(),
        ClockStart::Step(i) => format!(
            "sejak berkas dinyatakan lengkap (tahap \"{}\")",
            def.steps[i].name
        ),
    };
    sections.push((
        "3. Jangka Waktu Pelayanan".to_owned(),
        vec![format!(
            "{}, dihitung {start}; waktu selama berkas dikembalikan kepada pemohon tidak dihitung",
            def.completion_time
        )],
    ));
    sections.push(("4. Biaya/Tarif".to_owned(), vec![fee_text(&def.fee)]));
    sections.push((
        "5. Produk Pelayanan".to_owned(),
        vec![format!(
            "{}; masa berlaku {}",
            def.product.name,
            def.product.validity.to_indonesian()
        )],
    ));
    let mut comp: Vec<String> = def
        .complaint_channels
        .iter()
        .map(|c| format!("{}: {}", c.name, c.contact))
        .collect();
    for t in &def.complaint_tiers {
        comp.push(format!("{}: ditanggapi paling lama {}", t.name, t.response));
    }
    sections.push((
        "6. Penanganan Pengaduan, Saran dan Masukan".to_owned(),
        comp,
    ));
    let mut info = vec![
        format!("Kategori: {}", def.category.label()),
        format!("Tempat pelayanan: {}", unit_text(def)),
    ];
    for l in &def.legal_basis {
        info.push(format!("Dasar hukum: {l}"));
    }
    info.push(format!(
        "Versi definisi: {} ({})",
        def.version,
        &def.digest[..12.min(def.digest.len())]
    ));
    sections.push(("Keterangan".to_owned(), info));
    Doc {
        title: format!("Standar Pelayanan: {}", def.name),
        sections,
    }
}

/// Render the published standard of every service in `config`.
pub fn render(config: &Config, format: Format) -> String {
    let docs: Vec<Doc> = config.services.values().map(|d| build(d, config)).collect();
    match format {
        Format::Markdown => {
            let mut out = String::new();
            for d in docs {
                let _ = writeln!(out, "# {}\n", d.title);
                for (h, items) in d.sections {
                    let _ = writeln!(out, "## {h}\n");
                    for i in items {
                        let _ = writeln!(out, "- {i}");
                    }
                    out.push('\n');
                }
            }
            out
        }
        Format::Html => {
            let mut out = String::from(
                "<!doctype html>\n<html lang=\"id\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Standar Pelayanan</title>\n<style>\nbody{font-family:sans-serif;max-width:48rem;margin:auto;padding:1rem;line-height:1.4}\nsection{page-break-after:always;border-bottom:1px solid #ccc;margin-bottom:2rem}\nh1{font-size:1.4rem}h2{font-size:1.1rem;margin-bottom:.2rem}\n@media print{section{border:0}}\n</style>\n</head>\n<body>\n",
            );
            let _ = writeln!(
                out,
                "<header><p>{}</p></header>",
                escape(&config.tenant.name)
            );
            for d in docs {
                let _ = writeln!(out, "<section>\n<h1>{}</h1>", escape(&d.title));
                for (h, items) in d.sections {
                    let _ = writeln!(out, "<h2>{}</h2>\n<ul>", escape(&h));
                    for i in items {
                        let _ = writeln!(out, "<li>{}</li>", escape(&i));
                    }
                    out.push_str("</ul>\n");
                }
                out.push_str("</section>\n");
            }
            out.push_str("</body>\n</html>\n");
            out
        }
    }
}

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
