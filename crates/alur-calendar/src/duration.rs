//! Service-level durations as published in a service standard ("3 hari kerja", "90 menit").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration as a service standard states it.
///
/// Minutes and hours are *working* time (counted only inside working hours);
/// working days follow the calendar's day-counting convention; calendar days
/// count every day (statutory deadlines such as reporting a death within 30 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlaDuration {
    /// Working minutes ("90 menit", "90 minutes").
    Minutes(u32),
    /// Working hours ("2 jam", "2 hours").
    Hours(u32),
    /// Working days ("3 hari kerja", "3 working days").
    WorkingDays(u32),
    /// Calendar days ("30 hari", "30 calendar days").
    CalendarDays(u32),
}

/// Why a duration string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{input}`: {reason}; write e.g. \"90 menit\", \"2 jam\", \"3 hari kerja\", \"30 hari\" (or \"90 minutes\", \"2 hours\", \"3 working days\", \"30 calendar days\")"
)]
pub struct DurationError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Upper bound on any single duration: ten years of calendar days keeps
/// deadline arithmetic bounded whatever a configuration says.
pub const MAX_DURATION_AMOUNT: u32 = 3650;

impl SlaDuration {
    /// The number in the duration, whatever its unit.
    pub fn amount(self) -> u32 {
        match self {
            Self::Minutes(n) | Self::Hours(n) | Self::WorkingDays(n) | Self::CalendarDays(n) => n,
        }
    }

    /// Working minutes for minute- and hour-based durations, `None` for day-based ones.
    pub fn working_minutes(self) -> Option<u64> {
        match self {
            Self::Minutes(n) => Some(u64::from(n)),
            Self::Hours(n) => Some(u64::from(n) * 60),
            Self::WorkingDays(_) | Self::CalendarDays(_) => None,
        }
    }

    /// Indonesian text as printed in a published standard ("3 hari kerja").
    pub fn to_indonesian(self) -> String {
        match self {
            Self::Minutes(n) => format!("{n} menit"),
            Self::Hours(n) => format!("{n} jam"),
            Self::WorkingDays(n) => format!("{n} hari kerja"),
            Self::CalendarDays(n) => format!("{n} hari kalender"),
        }
    }
}

impl fmt::Display for SlaDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_indonesian())
    }
}

impl FromStr for SlaDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| DurationError {
            input: input.to_owned(),
            reason,
        };
        let lower = input.trim().to_lowercase();
        let mut words = lower.split_whitespace();
        let number = words.next().ok_or_else(|| err("it is empty"))?;
        let amount: u32 = number
            .parse()
            .map_err(|_| err("it must start with a whole number"))?;
        if amount == 0 {
            return Err(err("the amount must be at least 1"));
        }
        if amount > MAX_DURATION_AMOUNT {
            return Err(err("the amount is larger than 3650"));
        }
        let unit: Vec<&str> = words.collect();
        let unit = unit.join(" ");
        let d = match unit.as_str() {
            "menit" | "minute" | "minutes" | "min" => Self::Minutes(amount),
            "jam" | "hour" | "hours" => Self::Hours(amount),
            "hari kerja" | "working day" | "working days" | "business day" | "business days" => {
                Self::WorkingDays(amount)
            }
            "hari" | "hari kalender" | "day" | "days" | "calendar day" | "calendar days" => {
                Self::CalendarDays(amount)
            }
            "" => return Err(err("the unit is missing")),
            _ => return Err(err("the unit is not one of menit, jam, hari kerja, hari")),
        };
        Ok(d)
    }
}

impl Serialize for SlaDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_indonesian())
    }
}

impl<'de> Deserialize<'de> for SlaDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_indonesian_and_english_forms() {
        assert_eq!("3 hari kerja".parse(), Ok(SlaDuration::WorkingDays(3)));
        assert_eq!("3 Working Days".parse(), Ok(SlaDuration::WorkingDays(3)));
        assert_eq!("90 menit".parse(), Ok(SlaDuration::Minutes(90)));
        assert_eq!("2 jam".parse(), Ok(SlaDuration::Hours(2)));
        assert_eq!("30 hari".parse(), Ok(SlaDuration::CalendarDays(30)));
        assert_eq!(
            "30 calendar days".parse(),
            Ok(SlaDuration::CalendarDays(30))
        );
    }

    #[test]
    fn rejects_bad_forms_with_reason() {
        for bad in [
            "",
            "hari",
            "0 hari",
            "-1 jam",
            "3",
            "3 weeks",
            "9999 hari",
            "1.5 jam",
        ] {
            assert!(bad.parse::<SlaDuration>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn display_round_trips() {
        for d in [
            SlaDuration::Minutes(5),
            SlaDuration::Hours(2),
            SlaDuration::WorkingDays(3),
            SlaDuration::CalendarDays(30),
        ] {
            assert_eq!(d.to_string().parse::<SlaDuration>(), Ok(d));
        }
    }
}
