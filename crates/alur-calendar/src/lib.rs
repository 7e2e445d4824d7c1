//! Working-day calendars, durations and deadline arithmetic for Indonesian public services.
//!
//! A [`WorkingCalendar`] is built from the national holiday list (embedded: [`HOLIDAYS_ID_CSV`],
//! 2025–2027) and a regency's or unit's [`CalendarConfig`] (time zone, regional holidays, amendments,
//! Ramadan ranges, working hours, day-counting convention). It is immutable and versioned
//! ([`CalendarVersion`]: a registration number plus a content digest); an amendment builds a new one.
//!
//! # Conventions
//!
//! - **Working minutes/hours** are counted inside working windows only; a start outside working hours
//!   starts counting at the next window.
//! - **Working days**: N working days are due at the close of business of working day N. By default
//!   ([`DayCounting::SubmissionDay`]) the day of a complete submission is working day 1 when it is a
//!   working day and the submission comes before that day's close of business (before opening and
//!   during a break count too); otherwise the next working day is day 1.
//! - **Calendar days**: the local date of the start is day 0; N calendar days are due at
//!   23:59:59.999999999 local time on day N.
//! - **Hours** default to Perpres 21/2023 (see [`hours`] for break placement).
//! - **Horizon**: a calendar answers only for its covered years (default: the years of the national
//!   data); anything past them is [`CalendarError::BeyondCoverage`], never a loop or a guess.
//!
//! ```
//! use alur_calendar::{CalendarConfig, SlaDuration, WorkingCalendar};
//! use jiff::Timestamp;
//!
//! let config: CalendarConfig = toml::from_str(r#"
//!     time_zone = "Asia/Jakarta"
//!     [[regional_holidays]]
//!     date = "2026-06-05"
//!     name = "Hari Jadi Kota"
//! "#)?;
//! let cal = WorkingCalendar::from_config(1, config)?;
//! let submitted: Timestamp = "2026-03-17T09:00:00+07:00".parse()?;
//! let due = cal.due(submitted, SlaDuration::WorkingDays(3))?;
//! assert_eq!(due, "2026-03-26T16:00:00+07:00".parse()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod calendar;
mod config;
mod duration;
mod error;
mod holidays;
pub mod hours;
mod overview;

pub use calendar::{
    CalendarDigest, CalendarVersion, DigestParseError, MAX_RAMADAN_DAYS, MAX_YEAR, MIN_YEAR,
    WorkingCalendar,
};
pub use config::{
    Amendment, CalendarConfig, Coverage, DEFAULT_TIME_ZONE, DateRange, DayCounting, RegionalHoliday,
};
pub use duration::{DurationError, MAX_DURATION_AMOUNT, SlaDuration};
pub use error::CalendarError;
pub use holidays::{
    CSV_HEADER, HOLIDAYS_ID_CSV, Holiday, HolidayKind, NationalHolidays, weekday_name,
};
pub use hours::{Break, DayHours, TimeWindow, WorkingHours};
pub use overview::{ClosedDay, MONTH_NAMES, MonthSummary, YearOverview, format_date_id};
