//! What a regency (or a unit) writes to get its working calendar.

use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};

use crate::{HolidayKind, WorkingHours};

/// The default time zone (WIB).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Jakarta";

/// A regency's or unit's calendar settings, read from TOML. Every field is optional.
///
/// ```toml
/// time_zone = "Asia/Makassar"          # default Asia/Jakarta
/// cuti_bersama_non_working = true      # default true
/// day_counting = "submission_day"      # or "next_working_day"
/// submission_cutoff = "15:00"          # optional; default: close of business
/// coverage = { first_year = 2025, last_year = 2027 }   # default: the years of the national data
///
/// [[regional_holidays]]
/// date = "2026-05-19"
/// name = "Hari Jadi Kota"
/// legal_basis = "Perda 1/2020"
///
/// [[ramadan]]
/// start = "2026-02-19"
/// end = "2026-03-19"
///
/// [[amendments]]
/// action = "add_holiday"
/// date = "2025-08-18"
/// name = "Cuti Bersama Peringatan Proklamasi Kemerdekaan RI"
/// kind = "cuti_bersama"
/// legal_basis = "Perubahan SKB (7 Agu 2025)"
///
/// [hours]   # replaces the whole week; a weekday left out is closed
/// monday = { start = "07:30", end = "16:00", breaks = [{ start = "12:00", end = "13:00" }] }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// IANA time zone of the unit (`Asia/Jakarta` WIB, `Asia/Makassar` WITA, `Asia/Jayapura` WIT).
    /// The zone must keep one UTC offset over the covered years (all Indonesian zones do).
    pub time_zone: String,
    /// Whether collective-leave days (cuti bersama) close the offices. Default `true`.
    pub cuti_bersama_non_working: bool,
    /// Holidays of the region, on top of the national list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regional_holidays: Vec<RegionalHoliday>,
    /// Changes to the holiday list applied in order after the national and regional lists
    /// (e.g. a mid-year amendment of the joint decree). See [`crate::WorkingCalendar::amend`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<Amendment>,
    /// Date ranges (inclusive) in which the Ramadan hours apply.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ramadan: Vec<DateRange>,
    /// Regular working hours. Default: Perpres 21/2023.
    pub hours: WorkingHours,
    /// Working hours during the `ramadan` ranges. Default: Perpres 21/2023 Ramadan hours.
    pub ramadan_hours: WorkingHours,
    /// How the day of submission counts for working-day durations.
    pub day_counting: DayCounting,
    /// With [`DayCounting::SubmissionDay`]: a submission at or after this local time counts from the next
    /// working day. Default `None`: the close of business of the submission day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submission_cutoff: Option<Time>,
    /// The years the calendar answers for. Default: the first to the last year of the national data.
    /// Computations outside these years are errors, so a deadline is never computed without holiday data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            time_zone: DEFAULT_TIME_ZONE.to_owned(),
            cuti_bersama_non_working: true,
            regional_holidays: Vec::new(),
            amendments: Vec::new(),
            ramadan: Vec::new(),
            hours: WorkingHours::perpres_21_2023(),
            ramadan_hours: WorkingHours::perpres_21_2023_ramadan(),
            day_counting: DayCounting::default(),
            submission_cutoff: None,
            coverage: None,
        }
    }
}

impl CalendarConfig {
    /// The default configuration in another time zone.
    pub fn in_zone(time_zone: &str) -> Self {
        Self {
            time_zone: time_zone.to_owned(),
            ..Self::default()
        }
    }
}

/// A regional holiday (`libur daerah`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionalHoliday {
    /// The local date.
    pub date: Date,
    /// Indonesian name.
    pub name: String,
    /// The regulation that sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
}

/// A change to the holiday list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Amendment {
    /// Adds a non-working day (e.g. the 2025 amendment adding cuti bersama on 18 Aug 2025).
    AddHoliday {
        /// The local date.
        date: Date,
        /// Indonesian name.
        name: String,
        /// `libur_nasional`, `cuti_bersama` or `libur_daerah`.
        kind: HolidayKind,
        /// The decree that makes the change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        legal_basis: Option<String>,
    },
    /// Removes every holiday listed on a date, making it an ordinary day.
    RemoveHoliday {
        /// The local date.
        date: Date,
        /// The decree that makes the change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        legal_basis: Option<String>,
    },
}

/// An inclusive range of local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First date.
    pub start: Date,
    /// Last date (inclusive).
    pub end: Date,
}

impl DateRange {
    /// Whether `date` is in the range.
    pub fn contains(self, date: Date) -> bool {
        self.start <= date && date <= self.end
    }
}

/// The years a calendar answers for (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// First covered year.
    pub first_year: i16,
    /// Last covered year; the calendar's horizon.
    pub last_year: i16,
}

/// How the day of submission counts for working-day durations.
///
/// Either way, a duration of N working days is due at the close of business of working day N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayCounting {
    /// The convention of published service standards: the day of a complete submission is working
    /// day 1 when it is a working day and the submission comes before that day's close of business
    /// (or before `submission_cutoff`, if set) — also when it comes before opening or during a break.
    /// Otherwise (a non-working day, or at/after close of business) the next working day is day 1.
    #[default]
    SubmissionDay,
    /// The submission day never counts: the first working day after it is day 1.
    NextWorkingDay,
}
