//! The tenant's working calendars: one default, plus overrides for units (and their descendants)
//! with their own time zone or hours. Every calendar carries the same version number.

use std::sync::Arc;

use alur_calendar::{Amendment, CalendarConfig, CalendarError, WorkingCalendar, WorkingHours};

use crate::region::code_within;

/// A unit-level override of the tenant calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitCalendar {
    /// Unit code; applies to the unit and everything below it.
    pub unit: String,
    /// Time zone, when different.
    pub time_zone: Option<String>,
    /// Working hours, when different.
    pub hours: Option<WorkingHours>,
}

/// All calendars of a tenant at one version.
#[derive(Debug, Clone)]
pub struct Calendars {
    config: CalendarConfig,
    overrides: Vec<UnitCalendar>,
    default: Arc<WorkingCalendar>,
    default_label: String,
    by_unit: Vec<(String, Arc<WorkingCalendar>, String)>,
}

impl Calendars {
    /// Build version `number` from the tenant configuration and unit overrides.
    pub fn new(
        number: u32,
        config: CalendarConfig,
        overrides: Vec<UnitCalendar>,
    ) -> Result<Self, CalendarError> {
        let default = Arc::new(WorkingCalendar::from_config(number, config.clone())?);
        let mut by_unit = Vec::new();
        for o in &overrides {
            let mut c = config.clone();
            if let Some(tz) = &o.time_zone {
                c.time_zone = tz.clone();
            }
            if let Some(h) = &o.hours {
                c.hours = h.clone();
            }
            let cal = WorkingCalendar::from_config(number, c)?;
            let label = cal.version().to_string();
            by_unit.push((o.unit.clone(), Arc::new(cal), label));
        }
        // Longest prefix first, so the most specific override wins.
        by_unit.sort_by_key(|u| std::cmp::Reverse(u.0.len()));
        let default_label = default.version().to_string();
        Ok(Self {
            config,
            overrides,
            default,
            default_label,
            by_unit,
        })
    }

    /// The calendar for a unit.
    pub fn for_unit(&self, unit: &str) -> &WorkingCalendar {
        self.for_unit_labelled(unit).0
    }

    /// The calendar for a unit with its version label (`number@digest`, as recorded in audit entries).
    pub fn for_unit_labelled(&self, unit: &str) -> (&WorkingCalendar, &str) {
        self.by_unit
            .iter()
            .find(|(u, _, _)| code_within(unit, u))
            .map_or((&self.default, &self.default_label), |(_, c, l)| (c, l))
    }

    /// Every calendar's version label: `None` for the tenant default, then each override's unit.
    pub fn labels(&self) -> Vec<(Option<String>, String)> {
        std::iter::once((None, self.default_label.clone()))
            .chain(
                self.by_unit
                    .iter()
                    .map(|(u, _, l)| (Some(u.clone()), l.clone())),
            )
            .collect()
    }

    /// The tenant's default calendar.
    pub fn default_calendar(&self) -> &WorkingCalendar {
        &self.default
    }

    /// The version number.
    pub fn number(&self) -> u32 {
        self.default.version().number
    }

    /// The tenant calendar configuration.
    pub fn config(&self) -> &CalendarConfig {
        &self.config
    }

    /// A new version with an amendment applied to every calendar (a new decree, a regional day).
    pub fn amend(&self, amendment: Amendment) -> Result<Self, CalendarError> {
        let mut config = self.config.clone();
        config.amendments.push(amendment);
        Self::new(self.number() + 1, config, self.overrides.clone())
    }
}
