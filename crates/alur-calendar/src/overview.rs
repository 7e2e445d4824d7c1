//! A printable overview of one year of a calendar, in Indonesian (`alur calendar show 2026`).

use std::fmt;

use jiff::civil::Date;

use crate::holidays::weekday_name;
use crate::{CalendarError, CalendarVersion, DateRange, Holiday, WorkingCalendar};

/// Indonesian month names, January first.
pub const MONTH_NAMES: [&str; 12] = [
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

/// A day that would be a working day by its weekday but is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedDay {
    /// The local date.
    pub date: Date,
    /// The holidays that close it (national first).
    pub holidays: Vec<Holiday>,
}

/// Working days in one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthSummary {
    /// 1–12.
    pub month: i8,
    /// Number of working days.
    pub working_days: u32,
    /// Number of weekdays with hours that are closed by a holiday.
    pub closed_weekdays: u32,
}

/// One year of a calendar: the closed weekdays with their holiday names and the working days per month.
/// Its [`fmt::Display`] is the Indonesian text the CLI prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearOverview {
    /// The year.
    pub year: i16,
    /// IANA zone name.
    pub time_zone: String,
    /// The calendar version.
    pub version: CalendarVersion,
    /// Weekdays with working hours that are closed, in date order.
    pub closed_weekdays: Vec<ClosedDay>,
    /// Twelve months, January first.
    pub months: Vec<MonthSummary>,
    /// Ramadan ranges (clipped to the year) in which Ramadan hours apply.
    pub ramadan: Vec<DateRange>,
    /// Working days in the year.
    pub working_days: u32,
}

/// "Kamis, 19 Maret 2026".
pub fn format_date_id(date: Date) -> String {
    let month = usize::try_from(date.month() - 1)
        .ok()
        .and_then(|m| MONTH_NAMES.get(m))
        .copied()
        .unwrap_or("?");
    format!(
        "{}, {} {} {}",
        weekday_name(date.weekday()),
        date.day(),
        month,
        date.year()
    )
}

impl WorkingCalendar {
    /// The overview of a covered year (print it with `{}`).
    pub fn show_year(&self, year: i16) -> Result<YearOverview, CalendarError> {
        let (first, last) = self.year_days(year)?;
        let mut months: Vec<MonthSummary> = (1..=12)
            .map(|month| MonthSummary {
                month,
                working_days: 0,
                closed_weekdays: 0,
            })
            .collect();
        let mut closed_weekdays = Vec::new();
        let mut working_days = 0;
        let mut date = self.date_at(first)?;
        for idx in first..=last {
            let m = usize::try_from(date.month() - 1).unwrap_or(0);
            if self.day_is_working(idx) {
                working_days += 1;
                if let Some(s) = months.get_mut(m) {
                    s.working_days += 1;
                }
            } else if self.weekday_open(date) {
                if let Some(s) = months.get_mut(m) {
                    s.closed_weekdays += 1;
                }
                closed_weekdays.push(ClosedDay {
                    date,
                    holidays: self.holidays_on(date).to_vec(),
                });
            }
            if idx < last {
                date = date.tomorrow().map_err(CalendarError::time)?;
            }
        }
        let (jan1, dec31) = (
            Date::new(year, 1, 1).map_err(CalendarError::time)?,
            Date::new(year, 12, 31).map_err(CalendarError::time)?,
        );
        let ramadan = self
            .config()
            .ramadan
            .iter()
            .filter(|r| r.start <= dec31 && r.end >= jan1)
            .map(|r| DateRange {
                start: r.start.max(jan1),
                end: r.end.min(dec31),
            })
            .collect();
        Ok(YearOverview {
            year,
            time_zone: self.config().time_zone.clone(),
            version: self.version(),
            closed_weekdays,
            months,
            ramadan,
            working_days,
        })
    }
}

impl fmt::Display for YearOverview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Kalender kerja tahun {}", self.year)?;
        writeln!(
            f,
            "Zona waktu {}, versi kalender {} (sha256 {})",
            self.time_zone,
            self.version.number,
            self.version.digest.short()
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "Hari kerja yang diliburkan ({} hari):",
            self.closed_weekdays.len()
        )?;
        if self.closed_weekdays.is_empty() {
            writeln!(f, "  (tidak ada)")?;
        }
        for day in &self.closed_weekdays {
            let reasons: Vec<String> = day
                .holidays
                .iter()
                .map(|h| format!("{} ({})", h.name, h.kind.label()))
                .collect();
            let reasons = if reasons.is_empty() {
                "tanpa jam kerja".to_owned()
            } else {
                reasons.join("; ")
            };
            writeln!(f, "  {:<27} {}", format_date_id(day.date), reasons)?;
        }
        for r in &self.ramadan {
            writeln!(f)?;
            writeln!(
                f,
                "Jam kerja Ramadan: {} s.d. {}",
                format_date_id(r.start),
                format_date_id(r.end)
            )?;
        }
        writeln!(f)?;
        writeln!(f, "Jumlah hari kerja per bulan:")?;
        for m in &self.months {
            let name = usize::try_from(m.month - 1)
                .ok()
                .and_then(|i| MONTH_NAMES.get(i))
                .copied()
                .unwrap_or("?");
            writeln!(f, "  {name:<10} {:>3}", m.working_days)?;
        }
        writeln!(f, "  {:<10} {:>3}", "Jumlah", self.working_days)
    }
}
