//! The working calendar: which local days are working days, their working windows, and deadline arithmetic.

use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{Span, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::hours::{NS_PER_DAY, NS_PER_MIN, NS_PER_SEC, time_ns};
use crate::{
    Amendment, CalendarConfig, CalendarError, DayCounting, Holiday, HolidayKind, NationalHolidays,
    SlaDuration, TimeWindow,
};

/// Earliest year a calendar may cover.
pub const MIN_YEAR: i16 = 1971;
/// Latest year a calendar may cover.
pub const MAX_YEAR: i16 = 2200;
/// Longest Ramadan range accepted (days); a longer one is almost surely a typo.
pub const MAX_RAMADAN_DAYS: i64 = 40;

/// SHA-256 of a calendar's effective content: zone, coverage, day-counting convention, every covered
/// day's working windows and the effective holiday list. Two calendars with the same digest compute the
/// same deadlines and print the same holidays.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarDigest(pub [u8; 32]);

impl CalendarDigest {
    /// The first 8 bytes as 16 hex digits, for display.
    pub fn short(&self) -> String {
        let mut s = self.to_string();
        s.truncate(16);
        s
    }
}

impl fmt::Display for CalendarDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CalendarDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CalendarDigest({self})")
    }
}

/// Why a digest string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid calendar digest `{0}`; expected 64 lowercase hex digits")]
pub struct DigestParseError(pub String);

impl FromStr for CalendarDigest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DigestParseError(s.to_owned());
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            *o = hex(pair[0])
                .zip(hex(pair[1]))
                .map(|(h, l)| h << 4 | l)
                .ok_or_else(err)?;
        }
        Ok(Self(out))
    }
}

impl Serialize for CalendarDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CalendarDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which calendar computed a deadline: the number given by whoever registered the calendar plus the
/// digest of its content. A case stores this; after an amendment, open deadlines are recomputed with the
/// new calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CalendarVersion {
    /// Registration number, increasing with each amendment.
    pub number: u32,
    /// Content digest.
    pub digest: CalendarDigest,
}

impl fmt::Display for CalendarVersion {
    /// `3@1a2b3c4d5e6f7a8b` (number and short digest).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.number, self.digest.short())
    }
}

/// One distinct set of working windows for a day (index 0 in the table is "closed").
#[derive(Debug)]
struct Schedule {
    windows: Vec<TimeWindow>,
    /// Windows as nanoseconds since local midnight.
    spans: Vec<(i64, i64)>,
    /// Close of business (end of the last window), ns since midnight.
    close: i64,
    /// Total working ns in the day.
    total: i64,
}

/// A working calendar for one unit: national holidays + regional configuration + working hours, in one
/// time zone, for a fixed range of years (its coverage; the end of the coverage is the horizon no
/// computation passes — asking beyond it is an error, never a silent guess or an endless loop).
///
/// Immutable: an amendment builds a new calendar with a new [`CalendarVersion`]. Cloning is cheap.
///
/// # Time
///
/// All inputs and outputs are UTC [`Timestamp`]s; days and working windows are local to the
/// calendar's zone. Working time is counted to the nanosecond: `add_working_time(t, d)` returns the
/// earliest instant `x` with `working_time_between(t, x) == d`, so a deadline may fall exactly at the
/// end of a window (close of business) but never at the start of the next one.
#[derive(Clone)]
pub struct WorkingCalendar {
    inner: Arc<Inner>,
}

struct Inner {
    version: CalendarVersion,
    config: CalendarConfig,
    national: NationalHolidays,
    zone: TimeZone,
    offset_ns: i64,
    first_year: i16,
    last_year: i16,
    first_date: Date,
    first_epoch_day: i64,
    /// Per covered day, index into `schedules` (0 = non-working).
    day_sched: Vec<u8>,
    schedules: Vec<Schedule>,
    /// `prefix[i]` = working ns in covered days before day `i`; length days + 1.
    prefix: Vec<i64>,
    /// Effective holidays, sorted by date then kind.
    holidays: Vec<Holiday>,
    /// Submission cutoff as ns since midnight.
    cutoff_ns: Option<i64>,
    /// Which weekdays (Monday first) have hours: `[regular, ramadan]`.
    open_weekdays: [[bool; 7]; 2],
}

impl fmt::Debug for WorkingCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkingCalendar")
            .field("version", &self.inner.version)
            .field("time_zone", &self.inner.config.time_zone)
            .field("coverage", &(self.inner.first_year..=self.inner.last_year))
            .field("holidays", &self.inner.holidays.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for WorkingCalendar {
    /// Equal when version number and digest are equal.
    fn eq(&self, other: &Self) -> bool {
        self.inner.version == other.inner.version
    }
}

impl Eq for WorkingCalendar {}

fn invalid(path: impl Into<String>, reason: impl Into<String>) -> CalendarError {
    CalendarError::InvalidConfig {
        path: path.into(),
        reason: reason.into(),
    }
}

impl WorkingCalendar {
    /// Builds a calendar from the national holidays embedded in the crate and `config`.
    ///
    /// `number` is the version number the caller registers this calendar under.
    pub fn from_config(number: u32, config: CalendarConfig) -> Result<Self, CalendarError> {
        Self::new(number, &NationalHolidays::embedded()?, config)
    }

    /// Builds a calendar from a national holiday list and `config`.
    ///
    /// Validates the configuration (zone, hours, Ramadan ranges, amendments, coverage) and precomputes
    /// every covered day, so that deadline arithmetic does no allocation.
    pub fn new(
        number: u32,
        national: &NationalHolidays,
        config: CalendarConfig,
    ) -> Result<Self, CalendarError> {
        let zone =
            TimeZone::get(&config.time_zone).map_err(|_| CalendarError::UnknownTimeZone {
                name: config.time_zone.clone(),
            })?;
        let (first_year, last_year) = match config.coverage {
            Some(c) => (c.first_year, c.last_year),
            None => national.years().ok_or_else(|| {
                invalid(
                    "coverage",
                    "there is no national holiday data to take the years from; set coverage = { first_year = 2025, last_year = 2027 }",
                )
            })?,
        };
        if first_year > last_year || first_year < MIN_YEAR || last_year > MAX_YEAR {
            return Err(invalid(
                "coverage",
                format!(
                    "{first_year}–{last_year} is not a range of years between {MIN_YEAR} and {MAX_YEAR}; make first_year ≤ last_year"
                ),
            ));
        }
        let first_date = Date::new(first_year, 1, 1).map_err(CalendarError::time)?;
        let end_date = Date::new(last_year + 1, 1, 1).map_err(CalendarError::time)?;
        let offset = fixed_offset(
            &zone,
            &config.time_zone,
            first_date,
            end_date,
            (first_year, last_year),
        )?;
        let epoch = Date::constant(1970, 1, 1);
        let first_epoch_day = first_date.duration_since(epoch).as_secs() / 86_400;
        let n_days = usize::try_from(end_date.duration_since(first_date).as_secs() / 86_400)
            .map_err(CalendarError::time)?;

        let holidays = effective_holidays(national, &config)?;
        for (i, r) in config.ramadan.iter().enumerate() {
            let days = r.end.duration_since(r.start).as_secs() / 86_400;
            if !(0..MAX_RAMADAN_DAYS).contains(&days) {
                return Err(invalid(
                    format!("ramadan[{i}]"),
                    format!(
                        "{}–{} is not a range of 1 to {MAX_RAMADAN_DAYS} days; check the start and end dates",
                        r.start, r.end
                    ),
                ));
            }
        }
        let cutoff_ns = config.submission_cutoff.map(time_ns);
        let weeks = [
            config.hours.week_windows("hours")?,
            config.ramadan_hours.week_windows("ramadan_hours")?,
        ];
        let open_weekdays = weeks
            .each_ref()
            .map(|w| w.each_ref().map(|d| !d.is_empty()));

        let mut schedules = vec![Schedule {
            windows: Vec::new(),
            spans: Vec::new(),
            close: 0,
            total: 0,
        }];
        let mut day_sched = Vec::with_capacity(n_days);
        let mut prefix = Vec::with_capacity(n_days + 1);
        prefix.push(0i64);
        let mut next_holiday = 0usize;
        let mut date = first_date;
        for _ in 0..n_days {
            while holidays.get(next_holiday).is_some_and(|h| h.date < date) {
                next_holiday += 1;
            }
            let is_holiday = holidays.get(next_holiday).is_some_and(|h| h.date == date);
            let ramadan = config.ramadan.iter().any(|r| r.contains(date));
            let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
            let windows = &weeks[usize::from(ramadan)][weekday];
            let s = if is_holiday || windows.is_empty() {
                0
            } else {
                intern(&mut schedules, windows)?
            };
            day_sched.push(s);
            let total = schedules[usize::from(s)].total;
            prefix.push(prefix.last().copied().unwrap_or(0) + total);
            date = date.tomorrow().map_err(CalendarError::time)?;
        }
        if prefix.last().copied().unwrap_or(0) == 0 {
            return Err(CalendarError::NoWorkingDays {
                first_year,
                last_year,
            });
        }

        let mut inner = Inner {
            version: CalendarVersion {
                number,
                digest: CalendarDigest([0; 32]),
            },
            config,
            national: national.clone(),
            zone,
            offset_ns: i64::from(offset.seconds()) * NS_PER_SEC,
            first_year,
            last_year,
            first_date,
            first_epoch_day,
            day_sched,
            schedules,
            prefix,
            holidays,
            cutoff_ns,
            open_weekdays,
        };
        inner.version.digest = inner.digest();
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// A new calendar with `amendment` appended to the configuration's amendments.
    ///
    /// `number` must be above the current version number. `self` is unchanged.
    pub fn amend(&self, number: u32, amendment: Amendment) -> Result<Self, CalendarError> {
        let mut config = self.inner.config.clone();
        config.amendments.push(amendment);
        self.with_config(number, config)
    }

    /// A new calendar with the same national data and another configuration.
    ///
    /// `number` must be above the current version number. `self` is unchanged.
    pub fn with_config(&self, number: u32, config: CalendarConfig) -> Result<Self, CalendarError> {
        if number <= self.inner.version.number {
            return Err(invalid(
                "version",
                format!(
                    "a changed calendar needs a version number above {}, got {number}",
                    self.inner.version.number
                ),
            ));
        }
        Self::new(number, &self.inner.national, config)
    }

    /// Version number and content digest.
    pub fn version(&self) -> CalendarVersion {
        self.inner.version
    }

    /// The configuration this calendar was built from (store it to rebuild the calendar).
    pub fn config(&self) -> &CalendarConfig {
        &self.inner.config
    }

    /// The national holiday list this calendar was built from.
    pub fn national(&self) -> &NationalHolidays {
        &self.inner.national
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.inner.zone
    }

    /// The calendar's UTC offset (fixed over the coverage).
    pub fn utc_offset(&self) -> Offset {
        let secs = self.inner.offset_ns / NS_PER_SEC;
        Offset::from_seconds(i32::try_from(secs).unwrap_or(0)).unwrap_or(Offset::UTC)
    }

    /// First and last covered year. Computations are answered only inside these years; the end of
    /// the last year is the horizon.
    pub fn coverage(&self) -> (i16, i16) {
        (self.inner.first_year, self.inner.last_year)
    }

    /// Every effective holiday (non-working under this configuration), sorted by date.
    ///
    /// With `cuti_bersama_non_working = false`, collective-leave days are not listed.
    pub fn holidays(&self) -> &[Holiday] {
        &self.inner.holidays
    }

    /// The effective holidays on a date (national first, then collective leave, then regional).
    pub fn holidays_on(&self, date: Date) -> &[Holiday] {
        let h = &self.inner.holidays;
        let lo = h.partition_point(|x| x.date < date);
        let hi = h.partition_point(|x| x.date <= date);
        h.get(lo..hi).unwrap_or(&[])
    }

    /// The (first) effective holiday on a date, if any — also for holidays on a weekend.
    pub fn holiday(&self, date: Date) -> Option<&Holiday> {
        self.holidays_on(date).first()
    }

    /// Whether a local date is a working day (has working hours and is no effective holiday).
    pub fn is_working_day(&self, date: Date) -> Result<bool, CalendarError> {
        Ok(self.inner.day_sched[self.index_of(date)?] != 0)
    }

    /// The working windows of a local date, in order; empty on a non-working day.
    pub fn working_windows(&self, date: Date) -> Result<&[TimeWindow], CalendarError> {
        let s = self.inner.day_sched[self.index_of(date)?];
        Ok(&self.inner.schedules[usize::from(s)].windows)
    }

    /// Close of business of a local date, `None` on a non-working day.
    pub fn close_of_business(&self, date: Date) -> Result<Option<Timestamp>, CalendarError> {
        let idx = self.index_of(date)?;
        let s = self.inner.day_sched[idx];
        if s == 0 {
            return Ok(None);
        }
        self.timestamp_at(idx, self.inner.schedules[usize::from(s)].close)
            .map(Some)
    }

    /// Whether an instant lies inside a working window.
    pub fn is_working_time(&self, t: Timestamp) -> Result<bool, CalendarError> {
        let (idx, tod) = self.locate(t)?;
        let s = &self.inner.schedules[usize::from(self.inner.day_sched[idx])];
        Ok(s.spans.iter().any(|&(a, b)| a <= tod && tod < b))
    }

    /// The local date that counts as working day 1 for a submission at `submitted`
    /// (see [`DayCounting`]).
    pub fn working_day_one(&self, submitted: Timestamp) -> Result<Date, CalendarError> {
        let idx = self.working_day_n(submitted, 1)?;
        self.date_at(idx)
    }

    /// The deadline for a service-level duration starting at `start`.
    ///
    /// - [`SlaDuration::Minutes`] / [`SlaDuration::Hours`]: that many working minutes counted inside
    ///   working windows ([`Self::add_working_minutes`]); a start outside working hours starts counting at
    ///   the next window. The deadline may be exactly a close of business.
    /// - [`SlaDuration::WorkingDays`]`(n)`: close of business of working day `n`, where working day 1
    ///   follows the configured [`DayCounting`] (default: the submission day, if it is a working day and
    ///   the submission comes before its close of business).
    /// - [`SlaDuration::CalendarDays`]`(n)`: the local date of `start` is day 0; due at the last instant
    ///   (23:59:59.999999999 local) of day `n`, whether or not it is a working day. Needs no holiday
    ///   data, so it is answered outside the coverage too.
    ///
    /// A zero amount returns `start` (calendar days: the end of the start's day).
    ///
    /// # Errors
    ///
    /// [`CalendarError::OutsideCoverage`] when `start` is outside the covered years,
    /// [`CalendarError::BeyondCoverage`] when the deadline would fall after them.
    pub fn due(&self, start: Timestamp, sla: SlaDuration) -> Result<Timestamp, CalendarError> {
        match sla {
            SlaDuration::Minutes(m) => self.add_working_minutes(start, u64::from(m)),
            SlaDuration::Hours(h) => self.add_working_minutes(start, u64::from(h) * 60),
            SlaDuration::WorkingDays(0) => Ok(start),
            SlaDuration::WorkingDays(n) => {
                let idx = self.working_day_n(start, n)?;
                let s = self.inner.day_sched[idx];
                self.timestamp_at(idx, self.inner.schedules[usize::from(s)].close)
            }
            SlaDuration::CalendarDays(n) => {
                let date = self.inner.zone.to_datetime(start).date();
                let last = date
                    .checked_add(Span::new().days(i64::from(n)))
                    .map_err(CalendarError::time)?;
                self.inner
                    .zone
                    .to_timestamp(last.to_datetime(Time::MAX))
                    .map_err(CalendarError::time)
            }
        }
    }

    /// The earliest instant at which `minutes` working minutes have passed since `t`.
    pub fn add_working_minutes(
        &self,
        t: Timestamp,
        minutes: u64,
    ) -> Result<Timestamp, CalendarError> {
        let ns = minutes
            .checked_mul(NS_PER_MIN.unsigned_abs())
            .ok_or(self.beyond())?;
        self.add_working_ns(t, ns)
    }

    /// The earliest instant at which `amount` of working time has passed since `t` (nanosecond exact).
    pub fn add_working_time(
        &self,
        t: Timestamp,
        amount: Duration,
    ) -> Result<Timestamp, CalendarError> {
        let ns = u64::try_from(amount.as_nanos()).map_err(|_| self.beyond())?;
        self.add_working_ns(t, ns)
    }

    /// Moves a deadline by the working time a clock was paused: the result is exactly
    /// `paused_working_minutes` working minutes after `due`.
    ///
    /// Measure the pause with [`Self::working_minutes_between`] (or use [`Self::add_working_time`] with
    /// [`Self::working_time_between`] to keep sub-minute precision).
    pub fn extend(
        &self,
        due: Timestamp,
        paused_working_minutes: u64,
    ) -> Result<Timestamp, CalendarError> {
        self.add_working_minutes(due, paused_working_minutes)
    }

    /// Whole working minutes between `a` and `b` (rounded down; 0 when `b <= a`).
    pub fn working_minutes_between(
        &self,
        a: Timestamp,
        b: Timestamp,
    ) -> Result<u64, CalendarError> {
        let d = self.working_time_between(a, b)?;
        Ok(d.as_secs() / 60)
    }

    /// Working time between `a` and `b`, nanosecond exact (zero when `b <= a`).
    pub fn working_time_between(
        &self,
        a: Timestamp,
        b: Timestamp,
    ) -> Result<Duration, CalendarError> {
        if b <= a {
            return Ok(Duration::ZERO);
        }
        let ns = self.clock(b)? - self.clock(a)?;
        Ok(Duration::from_nanos(ns.unsigned_abs()))
    }

    /// All local dates of a covered year with whether they are working days, for reports.
    pub(crate) fn year_days(&self, year: i16) -> Result<(usize, usize), CalendarError> {
        let first = self.index_of(Date::new(year, 1, 1).map_err(CalendarError::time)?)?;
        let last = self.index_of(Date::new(year, 12, 31).map_err(CalendarError::time)?)?;
        Ok((first, last))
    }

    pub(crate) fn day_is_working(&self, idx: usize) -> bool {
        self.inner.day_sched.get(idx).is_some_and(|&s| s != 0)
    }

    /// Whether a date's weekday has hours in the profile (regular or Ramadan) that applies that day.
    pub(crate) fn weekday_open(&self, date: Date) -> bool {
        let ramadan = self.inner.config.ramadan.iter().any(|r| r.contains(date));
        let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        self.inner.open_weekdays[usize::from(ramadan)][weekday]
    }

    pub(crate) fn date_at(&self, idx: usize) -> Result<Date, CalendarError> {
        let days = i64::try_from(idx).map_err(CalendarError::time)?;
        self.inner
            .first_date
            .checked_add(Span::new().days(days))
            .map_err(CalendarError::time)
    }

    // ---- internals -------------------------------------------------------------------------

    fn beyond(&self) -> CalendarError {
        CalendarError::BeyondCoverage {
            last_year: self.inner.last_year,
        }
    }

    fn outside(&self, date: Date) -> CalendarError {
        CalendarError::OutsideCoverage {
            date,
            first_year: self.inner.first_year,
            last_year: self.inner.last_year,
        }
    }

    fn index_of(&self, date: Date) -> Result<usize, CalendarError> {
        let days = date
            .duration_since(self.inner.first_date)
            .as_secs()
            .div_euclid(86_400);
        usize::try_from(days)
            .ok()
            .filter(|&i| i < self.inner.day_sched.len())
            .ok_or_else(|| self.outside(date))
    }

    /// Covered day index and ns since local midnight.
    fn locate(&self, t: Timestamp) -> Result<(usize, i64), CalendarError> {
        let local = t.as_nanosecond() + i128::from(self.inner.offset_ns);
        let day_ns = i128::from(NS_PER_DAY);
        let day = local.div_euclid(day_ns) - i128::from(self.inner.first_epoch_day);
        let tod = i64::try_from(local.rem_euclid(day_ns)).unwrap_or(0);
        usize::try_from(day)
            .ok()
            .filter(|&i| i < self.inner.day_sched.len())
            .map(|i| (i, tod))
            .ok_or_else(|| self.outside(self.inner.zone.to_datetime(t).date()))
    }

    fn timestamp_at(&self, idx: usize, tod: i64) -> Result<Timestamp, CalendarError> {
        let day = i128::from(self.inner.first_epoch_day) + i128::try_from(idx).unwrap_or(0);
        let local = day * i128::from(NS_PER_DAY) + i128::from(tod);
        Timestamp::from_nanosecond(local - i128::from(self.inner.offset_ns))
            .map_err(CalendarError::time)
    }

    /// Working ns of a day before `tod`.
    fn worked_before(&self, idx: usize, tod: i64) -> i64 {
        let s = &self.inner.schedules[usize::from(self.inner.day_sched[idx])];
        let mut sum = 0;
        for &(a, b) in &s.spans {
            if tod <= a {
                break;
            }
            sum += tod.min(b) - a;
        }
        sum
    }

    /// The working clock: working ns from the start of the coverage to `t`.
    fn clock(&self, t: Timestamp) -> Result<i64, CalendarError> {
        let (idx, tod) = self.locate(t)?;
        Ok(self.inner.prefix[idx] + self.worked_before(idx, tod))
    }

    fn add_working_ns(&self, t: Timestamp, amount: u64) -> Result<Timestamp, CalendarError> {
        if amount == 0 {
            return Ok(t);
        }
        let amount = i64::try_from(amount).map_err(|_| self.beyond())?;
        let target = self.clock(t)?.checked_add(amount).ok_or(self.beyond())?;
        let prefix = &self.inner.prefix;
        if target > prefix.last().copied().unwrap_or(0) {
            return Err(self.beyond());
        }
        // First day whose cumulative working time reaches the target.
        let day = prefix
            .partition_point(|&p| p < target)
            .checked_sub(1)
            .ok_or(self.beyond())?;
        let mut rest = target - prefix[day];
        let s = &self.inner.schedules[usize::from(self.inner.day_sched[day])];
        for &(a, b) in &s.spans {
            if rest <= b - a {
                return self.timestamp_at(day, a + rest);
            }
            rest -= b - a;
        }
        Err(self.beyond())
    }

    fn next_working(&self, from: usize) -> Result<usize, CalendarError> {
        self.inner
            .day_sched
            .get(from..)
            .and_then(|rest| rest.iter().position(|&s| s != 0))
            .map(|p| from + p)
            .ok_or(self.beyond())
    }

    /// Day index of working day `n` (n ≥ 1) for a submission at `start`.
    fn working_day_n(&self, start: Timestamp, n: u32) -> Result<usize, CalendarError> {
        let (idx, tod) = self.locate(start)?;
        let s = self.inner.day_sched[idx];
        let counts_today = self.inner.config.day_counting == DayCounting::SubmissionDay
            && s != 0
            && tod < self.inner.schedules[usize::from(s)].close
            && self.inner.cutoff_ns.is_none_or(|c| tod < c);
        let mut day = if counts_today {
            idx
        } else {
            self.next_working(idx + 1)?
        };
        for _ in 1..n {
            day = self.next_working(day + 1)?;
        }
        Ok(day)
    }
}

impl Inner {
    fn digest(&self) -> CalendarDigest {
        let mut h = Sha256::new();
        let mut line = String::new();
        let mut put = |line: &mut String| {
            line.push('\n');
            h.update(line.as_bytes());
            line.clear();
        };
        let _ = write!(line, "alur-calendar digest v1");
        put(&mut line);
        let _ = write!(
            line,
            "zone={} coverage={}..{} counting={:?} cutoff={:?}",
            self.config.time_zone,
            self.first_year,
            self.last_year,
            self.config.day_counting,
            self.cutoff_ns
        );
        put(&mut line);
        for (i, &s) in self.day_sched.iter().enumerate() {
            if s != 0 {
                let _ = write!(line, "day {i}:");
                for (a, b) in &self.schedules[usize::from(s)].spans {
                    let _ = write!(line, " {a}-{b}");
                }
                put(&mut line);
            }
        }
        for x in &self.holidays {
            let _ = write!(
                line,
                "holiday {}|{}|{}|{}",
                x.date,
                x.kind.code(),
                x.name,
                x.legal_basis.as_deref().unwrap_or("")
            );
            put(&mut line);
        }
        CalendarDigest(h.finalize().into())
    }
}

/// The zone's UTC offset, checked to stay the same from `first` to `end` (with a day's margin).
fn fixed_offset(
    zone: &TimeZone,
    name: &str,
    first: Date,
    end: Date,
    (first_year, last_year): (i16, i16),
) -> Result<Offset, CalendarError> {
    let at = |d: Date| {
        Offset::UTC
            .to_timestamp(d.to_datetime(Time::midnight()))
            .map_err(CalendarError::time)
    };
    let lo = at(first.yesterday().map_err(CalendarError::time)?)?;
    let hi = at(end.tomorrow().map_err(CalendarError::time)?)?;
    let offset = zone.to_offset(lo);
    for tr in zone.following(lo) {
        if tr.timestamp() > hi {
            break;
        }
        if tr.offset() != offset {
            return Err(CalendarError::VariableOffset {
                name: name.to_owned(),
                first_year,
                last_year,
            });
        }
    }
    Ok(offset)
}

/// National list + regional holidays + amendments in order, then the cuti bersama switch.
fn effective_holidays(
    national: &NationalHolidays,
    config: &CalendarConfig,
) -> Result<Vec<Holiday>, CalendarError> {
    let mut list: Vec<Holiday> = national.holidays().to_vec();
    for (i, r) in config.regional_holidays.iter().enumerate() {
        if r.name.trim().is_empty() {
            return Err(invalid(
                format!("regional_holidays[{i}].name"),
                "the name is empty; give the holiday's name",
            ));
        }
        list.push(Holiday {
            date: r.date,
            name: r.name.clone(),
            kind: HolidayKind::Regional,
            legal_basis: r.legal_basis.clone(),
        });
    }
    for (i, a) in config.amendments.iter().enumerate() {
        match a {
            Amendment::AddHoliday {
                date,
                name,
                kind,
                legal_basis,
            } => {
                if name.trim().is_empty() {
                    return Err(invalid(
                        format!("amendments[{i}].name"),
                        "the name is empty; give the holiday's name",
                    ));
                }
                list.push(Holiday {
                    date: *date,
                    name: name.clone(),
                    kind: *kind,
                    legal_basis: legal_basis.clone(),
                });
            }
            Amendment::RemoveHoliday { date, .. } => {
                let before = list.len();
                list.retain(|h| h.date != *date);
                if list.len() == before {
                    return Err(invalid(
                        format!("amendments[{i}]"),
                        format!(
                            "no holiday is listed on {date}; fix the date or drop the amendment"
                        ),
                    ));
                }
            }
        }
    }
    if !config.cuti_bersama_non_working {
        list.retain(|h| h.kind != HolidayKind::CollectiveLeave);
    }
    list.sort_by_key(|h| (h.date, h.kind));
    Ok(list)
}

/// Index of `windows` in the schedule table, adding it if new.
fn intern(schedules: &mut Vec<Schedule>, windows: &[TimeWindow]) -> Result<u8, CalendarError> {
    let pos = match schedules.iter().position(|s| s.windows == windows) {
        Some(p) => p,
        None => {
            let spans: Vec<(i64, i64)> = windows
                .iter()
                .map(|w| (time_ns(w.start), time_ns(w.end)))
                .collect();
            schedules.push(Schedule {
                windows: windows.to_vec(),
                close: spans.last().map_or(0, |s| s.1),
                total: spans.iter().map(|(a, b)| b - a).sum(),
                spans,
            });
            schedules.len() - 1
        }
    };
    u8::try_from(pos).map_err(|_| invalid("hours", "too many distinct working-hour patterns"))
}
