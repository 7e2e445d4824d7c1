//! Plain-text hygiene and Indonesian date formatting.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Make `s` safe plain text for SMS and WhatsApp: control characters (C0 and C1, except the line
/// feed), bidirectional overrides and the byte-order mark are removed, `\r\n` becomes `\n`, and
/// the result is cut to at most `max_chars` characters (ending in `…` when cut).
pub fn plain_text(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)));
    let mut count = 0usize;
    let mut cut = false;
    for ch in s.chars() {
        let keep = ch == '\n'
            || !(ch.is_control()
                || matches!(ch, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'));
        if !keep {
            continue;
        }
        if count == max_chars {
            cut = true;
            break;
        }
        out.push(ch);
        count += 1;
    }
    if cut && max_chars > 0 {
        out.pop();
        out.push('…');
    }
    out
}

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

/// `17 Maret 2026 pukul 09.00 WIB`: a time as Indonesians write it, in `zone`.
pub fn format_time(t: Timestamp, zone: &TimeZone) -> String {
    let z = t.to_zoned_datetime(zone.clone());
    let month = MONTHS
        .get(usize::from(z.month().unsigned_abs()).saturating_sub(1))
        .copied()
        .unwrap_or("?");
    let abbr = zone.to_offset_info(t).abbreviation().to_string();
    format!(
        "{} {} {} pukul {:02}.{:02} {}",
        z.day(),
        month,
        z.year(),
        z.hour(),
        z.minute(),
        abbr
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_controls_and_caps() {
        assert_eq!(
            plain_text("a\u{0}b\u{7}c\r\nd\u{1b}[31m", 100),
            "abc\nd[31m"
        );
        assert_eq!(plain_text("\u{202E}abc", 100), "abc");
        assert_eq!(plain_text("abcdef", 4), "abc…");
        assert_eq!(plain_text("abcd", 4), "abcd");
        let big = "x".repeat(1 << 20);
        assert_eq!(plain_text(&big, 160).chars().count(), 160);
    }

    #[test]
    fn indonesian_time() {
        let t: Timestamp = "2026-03-17T02:00:00Z".parse().unwrap();
        let wib = TimeZone::get("Asia/Jakarta").unwrap();
        assert_eq!(format_time(t, &wib), "17 Maret 2026 pukul 09.00 WIB");
        let wit = TimeZone::get("Asia/Jayapura").unwrap();
        assert_eq!(format_time(t, &wit), "17 Maret 2026 pukul 11.00 WIT");
    }
}
