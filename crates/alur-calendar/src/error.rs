//! The crate's error type.

use jiff::civil::Date;

/// Why a calendar could not be built or a computation could not be done.
///
/// Messages are lowercase and say what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// A row of the holiday CSV is malformed.
    #[error("holiday data, line {line}: {reason}; fix the row (columns: {expected})", expected = crate::holidays::CSV_HEADER)]
    HolidayData {
        /// 1-based line number in the CSV text.
        line: usize,
        /// What is wrong with the row.
        reason: String,
    },
    /// The configured time zone is not in the bundled time zone database.
    #[error(
        "unknown time zone `{name}`; use an IANA name such as Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT)"
    )]
    UnknownTimeZone {
        /// The name that was given.
        name: String,
    },
    /// The time zone changes its UTC offset inside the covered years.
    #[error(
        "time zone `{name}` changes its utc offset between {first_year} and {last_year}; use a zone with a fixed offset such as Asia/Jakarta, Asia/Makassar or Asia/Jayapura"
    )]
    VariableOffset {
        /// The zone's name.
        name: String,
        /// First covered year.
        first_year: i16,
        /// Last covered year.
        last_year: i16,
    },
    /// Working hours are inconsistent (a break outside the day, overlapping breaks, …).
    #[error("invalid working hours at `{path}`: {reason}")]
    InvalidHours {
        /// Where in the configuration, e.g. `hours.friday.breaks[0]`.
        path: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Some other part of the calendar configuration is inconsistent.
    #[error("invalid calendar configuration at `{path}`: {reason}")]
    InvalidConfig {
        /// Where in the configuration, e.g. `ramadan[1]`.
        path: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The calendar has no working day at all in its coverage, so no deadline can ever fall.
    #[error(
        "the calendar has no working day between {first_year} and {last_year}; give at least one weekday working hours"
    )]
    NoWorkingDays {
        /// First covered year.
        first_year: i16,
        /// Last covered year.
        last_year: i16,
    },
    /// An input date or time lies outside the years the calendar has holiday data for.
    #[error(
        "{date} is outside the calendar's coverage ({first_year}–{last_year}); load the holiday data for {year} or widen `coverage` in the calendar configuration",
        year = date.year()
    )]
    OutsideCoverage {
        /// The local date that is not covered.
        date: Date,
        /// First covered year.
        first_year: i16,
        /// Last covered year.
        last_year: i16,
    },
    /// A result would fall after the last covered year (the calendar's horizon).
    #[error(
        "the result falls after {last_year}, the last year the calendar covers; load the national holiday data (SKB) for {next} and register a new calendar version",
        next = i32::from(*last_year) + 1
    )]
    BeyondCoverage {
        /// Last covered year.
        last_year: i16,
    },
    /// Time arithmetic left the range the time library supports.
    #[error("time arithmetic out of range: {reason}; use dates between 1971 and 2200")]
    TimeOutOfRange {
        /// The underlying error.
        reason: String,
    },
}

impl CalendarError {
    pub(crate) fn time(err: impl std::fmt::Display) -> Self {
        Self::TimeOutOfRange {
            reason: err.to_string(),
        }
    }
}
