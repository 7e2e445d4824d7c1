//! Holidays: the national list (embedded CSV) and the types every holiday source shares.

use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

use crate::CalendarError;

/// The national holiday and collective-leave data shipped with the crate
/// (`data/holidays_id.csv`: 2025–2027, 2027 provisional; see `data/README.md` for source and licence).
pub const HOLIDAYS_ID_CSV: &str = include_str!("../data/holidays_id.csv");

/// The header row the holiday CSV must have.
pub const CSV_HEADER: &str = "date,day,name,type,falls_on_weekend,legal_basis";

/// What kind of day off a holiday is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HolidayKind {
    /// National public holiday (`libur_nasional`).
    #[serde(rename = "libur_nasional")]
    NationalHoliday,
    /// Collective leave set by the joint ministerial decree (`cuti_bersama`);
    /// non-working for government offices unless the configuration says otherwise.
    #[serde(rename = "cuti_bersama")]
    CollectiveLeave,
    /// A holiday the regency or province adds (`libur_daerah`).
    #[serde(rename = "libur_daerah")]
    Regional,
}

impl HolidayKind {
    /// The code used in data files and configuration (`libur_nasional`, `cuti_bersama`, `libur_daerah`).
    pub fn code(self) -> &'static str {
        match self {
            Self::NationalHoliday => "libur_nasional",
            Self::CollectiveLeave => "cuti_bersama",
            Self::Regional => "libur_daerah",
        }
    }

    /// Indonesian label for people ("libur nasional").
    pub fn label(self) -> &'static str {
        match self {
            Self::NationalHoliday => "libur nasional",
            Self::CollectiveLeave => "cuti bersama",
            Self::Regional => "libur daerah",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "libur_nasional" => Some(Self::NationalHoliday),
            "cuti_bersama" => Some(Self::CollectiveLeave),
            "libur_daerah" => Some(Self::Regional),
            _ => None,
        }
    }
}

/// One named non-working day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The local date.
    pub date: Date,
    /// Indonesian name as published ("Idulfitri 1447 Hijriah").
    pub name: String,
    /// National holiday, collective leave or regional holiday.
    pub kind: HolidayKind,
    /// The decree that sets it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
}

/// The national list of holidays and collective-leave days, sorted by date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NationalHolidays {
    holidays: Vec<Holiday>,
}

impl NationalHolidays {
    /// Parses the data embedded in the crate ([`HOLIDAYS_ID_CSV`]).
    pub fn embedded() -> Result<Self, CalendarError> {
        Self::parse_csv(HOLIDAYS_ID_CSV)
    }

    /// Parses holiday CSV text with the columns of [`CSV_HEADER`].
    ///
    /// Checks every row: ISO date, the Indonesian weekday name matching the date,
    /// type `libur_nasional` or `cuti_bersama` (or `libur_daerah`), `falls_on_weekend`
    /// (`yes`/`no`) matching the date, and no duplicate rows. Blank lines are skipped.
    pub fn parse_csv(text: &str) -> Result<Self, CalendarError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.trim().is_empty());
        let bad = |line: usize, reason: String| CalendarError::HolidayData { line, reason };
        match lines.next() {
            Some((_, header)) if header.trim() == CSV_HEADER => {}
            Some((line, _)) => {
                return Err(bad(line, "the header row is not the expected one".into()));
            }
            None => return Err(bad(1, "the file is empty".into())),
        }
        let mut holidays: Vec<Holiday> = Vec::new();
        for (line, text) in lines {
            let fields = split_csv_line(text).map_err(|r| bad(line, r.into()))?;
            let [date, day, name, kind, weekend, basis] = fields.as_slice() else {
                return Err(bad(
                    line,
                    format!("expected 6 columns, found {}", fields.len()),
                ));
            };
            let date: Date = date
                .trim()
                .parse()
                .map_err(|_| bad(line, format!("`{date}` is not a date like 2026-03-19")))?;
            let expected_day = weekday_name(date.weekday());
            if day.trim() != expected_day {
                return Err(bad(
                    line,
                    format!("{date} is a {expected_day}, the row says `{day}`"),
                ));
            }
            let name = name.trim();
            if name.is_empty() {
                return Err(bad(line, "the name is empty".into()));
            }
            let kind = HolidayKind::from_code(kind.trim()).ok_or_else(|| {
                bad(
                    line,
                    format!("type `{kind}` is not libur_nasional, cuti_bersama or libur_daerah"),
                )
            })?;
            let is_weekend = matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
            let says_weekend = match weekend.trim() {
                "yes" => true,
                "no" => false,
                other => {
                    return Err(bad(
                        line,
                        format!("falls_on_weekend `{other}` is not yes or no"),
                    ));
                }
            };
            if says_weekend != is_weekend {
                return Err(bad(
                    line,
                    format!("falls_on_weekend says `{weekend}` but {date} is a {expected_day}"),
                ));
            }
            let basis = basis.trim();
            let holiday = Holiday {
                date,
                name: name.to_owned(),
                kind,
                legal_basis: (!basis.is_empty()).then(|| basis.to_owned()),
            };
            if holidays.contains(&holiday) {
                return Err(bad(line, format!("duplicate row for {date}")));
            }
            holidays.push(holiday);
        }
        Ok(Self::from_holidays(holidays))
    }

    /// Builds a list from holidays given in code (sorted by date, order kept within a date).
    pub fn from_holidays(mut holidays: Vec<Holiday>) -> Self {
        holidays.sort_by_key(|h| h.date);
        Self { holidays }
    }

    /// All rows, sorted by date.
    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.holidays.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.holidays.is_empty()
    }

    /// First and last year that have rows, or `None` when empty.
    pub fn years(&self) -> Option<(i16, i16)> {
        let first = self.holidays.first()?.date.year();
        let last = self.holidays.last()?.date.year();
        Some((first, last))
    }
}

/// Indonesian weekday name ("Senin").
pub fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "Senin",
        Weekday::Tuesday => "Selasa",
        Weekday::Wednesday => "Rabu",
        Weekday::Thursday => "Kamis",
        Weekday::Friday => "Jumat",
        Weekday::Saturday => "Sabtu",
        Weekday::Sunday => "Minggu",
    }
}

/// Splits one CSV record (RFC 4180 quoting, no embedded newlines).
fn split_csv_line(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut quoted_field = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
        } else {
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                '"' if field.is_empty() && !quoted_field => {
                    in_quotes = true;
                    quoted_field = true;
                }
                '"' => return Err("a quote appears inside an unquoted field"),
                _ if quoted_field => return Err("text follows a closing quote"),
                _ => field.push(c),
            }
        }
    }
    if in_quotes {
        return Err("a quoted field is not closed");
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(
            split_csv_line(r#"a,"b, c","d ""e""",f"#),
            Ok(vec![
                "a".into(),
                "b, c".into(),
                "d \"e\"".into(),
                "f".into()
            ])
        );
        assert!(split_csv_line(r#"a,"b"#).is_err());
        assert!(split_csv_line(r#"a,"b"x"#).is_err());
        assert!(split_csv_line(r#"a,b"c"#).is_err());
    }

    #[test]
    fn rejects_bad_rows_with_line_numbers() {
        let cases = [
            ("date,day\n", 1),
            (
                "date,day,name,type,falls_on_weekend,legal_basis\n2026-13-01,Senin,X,libur_nasional,no,\n",
                2,
            ),
            (
                "date,day,name,type,falls_on_weekend,legal_basis\n2026-03-19,Senin,X,libur_nasional,no,\n",
                2,
            ),
            (
                "date,day,name,type,falls_on_weekend,legal_basis\n\n2026-03-19,Kamis,X,libur,no,\n",
                3,
            ),
            (
                "date,day,name,type,falls_on_weekend,legal_basis\n2026-03-21,Sabtu,X,libur_nasional,no,\n",
                2,
            ),
            (
                "date,day,name,type,falls_on_weekend,legal_basis\n2026-03-19,Kamis,X,libur_nasional\n",
                2,
            ),
            (
                "date,day,name,type,falls_on_weekend,legal_basis\n2026-03-19,Kamis,X,libur_nasional,no,\n2026-03-19,Kamis,X,libur_nasional,no,\n",
                3,
            ),
        ];
        for (text, want_line) in cases {
            match NationalHolidays::parse_csv(text) {
                Err(CalendarError::HolidayData { line, .. }) => {
                    assert_eq!(line, want_line, "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(NationalHolidays::parse_csv("").is_err());
    }
}
