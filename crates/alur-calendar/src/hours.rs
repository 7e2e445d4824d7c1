//! Working hours as data: one optional window with breaks per weekday, in local time.
//!
//! # Defaults (Perpres 21/2023)
//!
//! Regular hours: Monday–Friday, 37.5 hours a week, starting 07:30.
//!
//! | day | hours | break | working time |
//! |---|---|---|---|
//! | Mon–Thu | 07:30–16:00 | 12:00–13:00 (60 min) | 7 h 30 min |
//! | Fri | 07:30–16:30 | 11:30–13:00 (90 min, Friday prayers) | 7 h 30 min |
//!
//! The regulation fixes the weekly total, the start and the break length, not the clock time of the
//! break; we put it at 12:00–13:00, the usual lunch hour, and on Friday at 11:30–13:00 so that it
//! covers the Friday prayers.
//!
//! Ramadan hours: 32.5 hours a week, starting 08:00.
//!
//! | day | hours | break | working time |
//! |---|---|---|---|
//! | Mon–Thu | 08:00–15:00 | 12:00–12:30 (30 min) | 6 h 30 min |
//! | Fri | 08:00–15:30 | 11:30–12:30 (60 min, Friday prayers) | 6 h 30 min |
//!
//! A unit that serves the public directly may set its own hours (including Saturday).

use jiff::civil::{Time, Weekday};
use serde::{Deserialize, Serialize};

use crate::CalendarError;

/// A break inside a working day, local time, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Break {
    /// When the break starts.
    pub start: Time,
    /// When work resumes.
    pub end: Time,
}

/// A continuous stretch of working time in local time, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First instant of the window.
    pub start: Time,
    /// End of the window (exclusive for counting; a deadline may fall exactly here).
    pub end: Time,
}

impl TimeWindow {
    /// Length of the window.
    pub fn duration(self) -> std::time::Duration {
        let ns = time_ns(self.end) - time_ns(self.start);
        std::time::Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
    }
}

/// Office hours of one weekday: opening, closing (close of business) and breaks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    /// Opening time.
    pub start: Time,
    /// Closing time (close of business).
    pub end: Time,
    /// Breaks, in order, each inside `start..end`, not overlapping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaks: Vec<Break>,
}

impl DayHours {
    /// Hours from `start` to `end` with the given breaks (`(start, end)` pairs).
    pub fn new(start: Time, end: Time, breaks: &[(Time, Time)]) -> Self {
        Self {
            start,
            end,
            breaks: breaks
                .iter()
                .map(|&(start, end)| Break { start, end })
                .collect(),
        }
    }

    /// The working windows: `start..end` with the breaks cut out.
    ///
    /// `path` names this day in error messages (e.g. `hours.friday`).
    pub fn windows(&self, path: &str) -> Result<Vec<TimeWindow>, CalendarError> {
        let bad = |path: String, reason: String| CalendarError::InvalidHours { path, reason };
        if self.start >= self.end {
            return Err(bad(
                path.to_owned(),
                format!(
                    "opening {} is not before closing {}; write e.g. start = \"07:30\", end = \"16:00\"",
                    self.start, self.end
                ),
            ));
        }
        let mut windows = Vec::with_capacity(self.breaks.len() + 1);
        let mut cursor = self.start;
        for (i, b) in self.breaks.iter().enumerate() {
            let bpath = format!("{path}.breaks[{i}]");
            if b.start >= b.end {
                return Err(bad(
                    bpath,
                    format!("break start {} is not before its end {}", b.start, b.end),
                ));
            }
            if b.start <= cursor || b.end >= self.end {
                return Err(bad(
                    bpath,
                    format!(
                        "break {}–{} must lie strictly inside the working time after the previous break ({}–{}); list breaks in order without overlaps",
                        b.start, b.end, cursor, self.end
                    ),
                ));
            }
            windows.push(TimeWindow {
                start: cursor,
                end: b.start,
            });
            cursor = b.end;
        }
        windows.push(TimeWindow {
            start: cursor,
            end: self.end,
        });
        Ok(windows)
    }
}

/// Office hours for a week: per weekday either `None` (closed) or the day's hours.
///
/// In TOML every weekday is optional and a missing weekday is closed, so a `[hours]` table
/// always describes the whole week:
///
/// ```toml
/// [hours]
/// monday = { start = "07:30", end = "16:00", breaks = [{ start = "12:00", end = "13:00" }] }
/// saturday = { start = "08:00", end = "12:00" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    /// Monday (TOML key `monday` or `senin`).
    #[serde(default, alias = "senin", skip_serializing_if = "Option::is_none")]
    pub monday: Option<DayHours>,
    /// Tuesday (TOML key `tuesday` or `selasa`).
    #[serde(default, alias = "selasa", skip_serializing_if = "Option::is_none")]
    pub tuesday: Option<DayHours>,
    /// Wednesday (TOML key `wednesday` or `rabu`).
    #[serde(default, alias = "rabu", skip_serializing_if = "Option::is_none")]
    pub wednesday: Option<DayHours>,
    /// Thursday (TOML key `thursday` or `kamis`).
    #[serde(default, alias = "kamis", skip_serializing_if = "Option::is_none")]
    pub thursday: Option<DayHours>,
    /// Friday (TOML key `friday` or `jumat`).
    #[serde(default, alias = "jumat", skip_serializing_if = "Option::is_none")]
    pub friday: Option<DayHours>,
    /// Saturday (TOML key `saturday` or `sabtu`).
    #[serde(default, alias = "sabtu", skip_serializing_if = "Option::is_none")]
    pub saturday: Option<DayHours>,
    /// Sunday (TOML key `sunday` or `minggu`).
    #[serde(default, alias = "minggu", skip_serializing_if = "Option::is_none")]
    pub sunday: Option<DayHours>,
}

impl Default for WorkingHours {
    /// The regular civil-service hours ([`WorkingHours::perpres_21_2023`]).
    fn default() -> Self {
        Self::perpres_21_2023()
    }
}

const fn t(hour: i8, minute: i8) -> Time {
    Time::constant(hour, minute, 0, 0)
}

impl WorkingHours {
    /// No working hours on any day.
    pub fn closed() -> Self {
        Self {
            monday: None,
            tuesday: None,
            wednesday: None,
            thursday: None,
            friday: None,
            saturday: None,
            sunday: None,
        }
    }

    /// Regular civil-service hours per Perpres 21/2023 (37.5 h/week; see the module docs).
    pub fn perpres_21_2023() -> Self {
        let mon_thu = DayHours::new(t(7, 30), t(16, 0), &[(t(12, 0), t(13, 0))]);
        let fri = DayHours::new(t(7, 30), t(16, 30), &[(t(11, 30), t(13, 0))]);
        Self::weekdays(mon_thu, fri)
    }

    /// Ramadan civil-service hours per Perpres 21/2023 (32.5 h/week; see the module docs).
    pub fn perpres_21_2023_ramadan() -> Self {
        let mon_thu = DayHours::new(t(8, 0), t(15, 0), &[(t(12, 0), t(12, 30))]);
        let fri = DayHours::new(t(8, 0), t(15, 30), &[(t(11, 30), t(12, 30))]);
        Self::weekdays(mon_thu, fri)
    }

    /// Monday–Thursday with `mon_thu`, Friday with `fri`, weekend closed.
    pub fn weekdays(mon_thu: DayHours, fri: DayHours) -> Self {
        Self {
            monday: Some(mon_thu.clone()),
            tuesday: Some(mon_thu.clone()),
            wednesday: Some(mon_thu.clone()),
            thursday: Some(mon_thu),
            friday: Some(fri),
            saturday: None,
            sunday: None,
        }
    }

    /// The hours of a weekday, `None` when closed.
    pub fn day(&self, weekday: Weekday) -> Option<&DayHours> {
        match weekday {
            Weekday::Monday => self.monday.as_ref(),
            Weekday::Tuesday => self.tuesday.as_ref(),
            Weekday::Wednesday => self.wednesday.as_ref(),
            Weekday::Thursday => self.thursday.as_ref(),
            Weekday::Friday => self.friday.as_ref(),
            Weekday::Saturday => self.saturday.as_ref(),
            Weekday::Sunday => self.sunday.as_ref(),
        }
    }

    /// Sets (or with `None` closes) the hours of a weekday.
    pub fn set_day(&mut self, weekday: Weekday, hours: Option<DayHours>) {
        let slot = match weekday {
            Weekday::Monday => &mut self.monday,
            Weekday::Tuesday => &mut self.tuesday,
            Weekday::Wednesday => &mut self.wednesday,
            Weekday::Thursday => &mut self.thursday,
            Weekday::Friday => &mut self.friday,
            Weekday::Saturday => &mut self.saturday,
            Weekday::Sunday => &mut self.sunday,
        };
        *slot = hours;
    }

    /// Working windows of every weekday, Monday first (empty when closed); validates the hours.
    ///
    /// `path` names this table in error messages (e.g. `hours`).
    pub fn week_windows(&self, path: &str) -> Result<[Vec<TimeWindow>; 7], CalendarError> {
        let mut out: [Vec<TimeWindow>; 7] = Default::default();
        for (slot, weekday) in out.iter_mut().zip(WEEK) {
            if let Some(day) = self.day(weekday) {
                *slot = day.windows(&format!("{path}.{}", weekday_key(weekday)))?;
            }
        }
        Ok(out)
    }

    /// Total working minutes in a week (2250 for the regular hours, 1950 for Ramadan).
    pub fn weekly_minutes(&self) -> Result<u64, CalendarError> {
        let week = self.week_windows("hours")?;
        let ns: i64 = week
            .iter()
            .flatten()
            .map(|w| time_ns(w.end) - time_ns(w.start))
            .sum();
        Ok(u64::try_from(ns / NS_PER_MIN).unwrap_or(0))
    }
}

/// Monday to Sunday.
pub(crate) const WEEK: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

fn weekday_key(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    }
}

pub(crate) const NS_PER_SEC: i64 = 1_000_000_000;
pub(crate) const NS_PER_MIN: i64 = 60 * NS_PER_SEC;
pub(crate) const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;

/// Nanoseconds since local midnight.
pub(crate) fn time_ns(t: Time) -> i64 {
    i64::from(t.hour()) * 3_600 * NS_PER_SEC
        + i64::from(t.minute()) * NS_PER_MIN
        + i64::from(t.second()) * NS_PER_SEC
        + i64::from(t.subsec_nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_perpres_21_2023() {
        assert_eq!(WorkingHours::perpres_21_2023().weekly_minutes(), Ok(2250));
        assert_eq!(
            WorkingHours::perpres_21_2023_ramadan().weekly_minutes(),
            Ok(1950)
        );
        let h = WorkingHours::default();
        assert_eq!(h.day(Weekday::Monday).map(|d| d.start), Some(t(7, 30)));
        assert!(h.day(Weekday::Saturday).is_none());
        let fri = h.day(Weekday::Friday).map(|d| d.windows("hours.friday"));
        assert_eq!(
            fri,
            Some(Ok(vec![
                TimeWindow {
                    start: t(7, 30),
                    end: t(11, 30)
                },
                TimeWindow {
                    start: t(13, 0),
                    end: t(16, 30)
                },
            ]))
        );
    }

    #[test]
    fn rejects_inconsistent_hours() {
        let bad = [
            DayHours::new(t(16, 0), t(7, 30), &[]),
            DayHours::new(t(7, 30), t(16, 0), &[(t(13, 0), t(12, 0))]),
            DayHours::new(t(7, 30), t(16, 0), &[(t(7, 0), t(8, 0))]),
            DayHours::new(t(7, 30), t(16, 0), &[(t(15, 0), t(16, 0))]),
            DayHours::new(
                t(7, 30),
                t(16, 0),
                &[(t(12, 0), t(13, 0)), (t(12, 30), t(13, 30))],
            ),
        ];
        for day in bad {
            assert!(
                matches!(
                    day.windows("hours.monday"),
                    Err(CalendarError::InvalidHours { .. })
                ),
                "{day:?}"
            );
        }
    }
}
