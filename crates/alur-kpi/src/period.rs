//! Reporting periods: a month (`2026-03`), a quarter (`2026-Q1`) or a year (`2026`), bounded by
//! local midnight in the tenant's time zone.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::KpiError;

/// A reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Period {
    /// A calendar month.
    Month {
        /// Year.
        year: i16,
        /// Month, 1–12.
        month: i8,
    },
    /// A quarter.
    Quarter {
        /// Year.
        year: i16,
        /// Quarter, 1–4.
        quarter: i8,
    },
    /// A calendar year.
    Year {
        /// Year.
        year: i16,
    },
}

impl Period {
    /// The year the period lies in.
    pub fn year(self) -> i16 {
        match self {
            Self::Month { year, .. } | Self::Quarter { year, .. } | Self::Year { year } => year,
        }
    }

    /// First and last month (1–12) covered.
    pub fn months(self) -> (i8, i8) {
        match self {
            Self::Month { month, .. } => (month, month),
            Self::Quarter { quarter, .. } => (quarter * 3 - 2, quarter * 3),
            Self::Year { .. } => (1, 12),
        }
    }

    /// The `yyyymm` keys of the first and last month, as stored in the fact tables.
    pub fn month_keys(self) -> (i64, i64) {
        let (a, b) = self.months();
        let y = i64::from(self.year()) * 100;
        (y + i64::from(a), y + i64::from(b))
    }

    /// First day.
    pub fn first_day(self) -> Date {
        let (a, _) = self.months();
        Date::new(self.year(), a, 1).unwrap_or(Date::ZERO)
    }

    /// The day after the last.
    pub fn end_day(self) -> Date {
        let (_, b) = self.months();
        if b == 12 {
            Date::new(self.year().saturating_add(1), 1, 1).unwrap_or(Date::MAX)
        } else {
            Date::new(self.year(), b + 1, 1).unwrap_or(Date::MAX)
        }
    }

    /// `[start, end)` as instants: local midnight in `tz`.
    ///
    /// # Errors
    /// [`KpiError::Invalid`] when the dates cannot be placed in the zone.
    pub fn bounds(self, tz: &TimeZone) -> Result<(Timestamp, Timestamp), KpiError> {
        let at = |d: Date| {
            tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .map_err(|e| KpiError::Invalid(format!("period {self}: {e}")))
        };
        Ok((at(self.first_day())?, at(self.end_day())?))
    }

    /// Indonesian name ("Maret 2026", "Triwulan I 2026", "Tahun 2026").
    pub fn label(self) -> String {
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
        match self {
            Self::Month { year, month } => {
                let i = usize::try_from(month - 1).unwrap_or(0).min(11);
                format!("{} {year}", MONTHS[i])
            }
            Self::Quarter { year, quarter } => {
                let q = ["I", "II", "III", "IV"][usize::try_from(quarter - 1).unwrap_or(0).min(3)];
                format!("Triwulan {q} {year}")
            }
            Self::Year { year } => format!("Tahun {year}"),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Self::Quarter { year, quarter } => write!(f, "{year:04}-Q{quarter}"),
            Self::Year { year } => write!(f, "{year:04}"),
        }
    }
}

impl FromStr for Period {
    type Err = KpiError;

    fn from_str(s: &str) -> Result<Self, KpiError> {
        let bad = || {
            KpiError::Invalid(format!(
                "period `{s}` is not a month (2026-03), a quarter (2026-Q1) or a year (2026)"
            ))
        };
        let s = s.trim();
        let (y, rest) = match s.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (s, None),
        };
        let year: i16 = y.parse().map_err(|_| bad())?;
        if !(1900..=9998).contains(&year) {
            return Err(bad());
        }
        match rest {
            None => Ok(Self::Year { year }),
            Some(r) if r.starts_with(['Q', 'q']) => {
                let quarter: i8 = r[1..].parse().map_err(|_| bad())?;
                if (1..=4).contains(&quarter) {
                    Ok(Self::Quarter { year, quarter })
                } else {
                    Err(bad())
                }
            }
            Some(r) => {
                let month: i8 = r.parse().map_err(|_| bad())?;
                if (1..=12).contains(&month) && r.len() == 2 {
                    Ok(Self::Month { year, month })
                } else {
                    Err(bad())
                }
            }
        }
    }
}

/// The `yyyymm` key of an instant in a zone.
pub fn month_key(t: Timestamp, tz: &TimeZone) -> i64 {
    let d = tz.to_datetime(t).date();
    i64::from(d.year()) * 100 + i64::from(d.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in ["2026-03", "2026-Q1", "2026"] {
            assert_eq!(s.parse::<Period>().unwrap().to_string(), s);
        }
        for s in ["2026-13", "2026-3", "2026-Q5", "x", "2026-03-01", ""] {
            assert!(s.parse::<Period>().is_err(), "{s}");
        }
        let q: Period = "2026-q4".parse().unwrap();
        assert_eq!(q.months(), (10, 12));
        assert_eq!(q.end_day(), jiff::civil::date(2027, 1, 1));
        assert_eq!(q.label(), "Triwulan IV 2026");
    }

    #[test]
    fn bounds_are_local_midnight() {
        let tz = TimeZone::get("Asia/Jakarta").unwrap();
        let (a, b) = "2026-03".parse::<Period>().unwrap().bounds(&tz).unwrap();
        assert_eq!(a.to_string(), "2026-02-28T17:00:00Z");
        assert_eq!(b.to_string(), "2026-03-31T17:00:00Z");
        assert_eq!(month_key(a, &tz), 202_603);
    }
}
