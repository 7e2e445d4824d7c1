//! What a refresh writes, shared by the stores: case rows and the additive step and survey
//! deltas of the cases processed.

use std::collections::BTreeMap;

use crate::facts::{CaseFact, Derived};
use crate::skm::SkmTally;

/// Progress already recorded for a case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Last audit sequence number read.
    pub last_seq: u64,
    /// Finished step visits already added to the step table.
    pub steps_done: u64,
    /// Survey answers already added to the survey table.
    pub ratings_done: u64,
    /// Complaint tier recorded (kept when the payload that named it was erased).
    pub tier: Option<String>,
}

/// Key of an additive step row: unit, service, month, step, role.
pub type StepKey = (String, String, i64, String, String);
/// Key of an additive survey row: unit, service, month.
pub type SkmKey = (String, String, i64);

/// One batch of writes.
#[derive(Debug, Default)]
pub struct Batch {
    /// Case rows with their new progress counters.
    pub cases: Vec<(CaseFact, u64, u64)>,
    /// Step deltas: visits and minutes.
    pub steps: BTreeMap<StepKey, (u64, u64)>,
    /// Survey deltas.
    pub skm: BTreeMap<SkmKey, SkmTally>,
}

impl Batch {
    /// Add a derived case, counting only what `before` has not counted yet.
    pub fn add(&mut self, d: Derived, before: Option<&Progress>) {
        let steps_done = before.map_or(0, |p| p.steps_done);
        let ratings_done = before.map_or(0, |p| p.ratings_done);
        let f = &d.fact;
        for v in d
            .visits
            .iter()
            .skip(usize::try_from(steps_done).unwrap_or(usize::MAX))
        {
            let e = self
                .steps
                .entry((
                    f.unit.clone(),
                    f.service.clone(),
                    v.month,
                    v.step.clone(),
                    v.role.clone(),
                ))
                .or_default();
            e.0 += 1;
            e.1 += u64::from(v.minutes);
        }
        for r in d
            .ratings
            .iter()
            .skip(usize::try_from(ratings_done).unwrap_or(usize::MAX))
        {
            self.skm
                .entry((f.unit.clone(), f.service.clone(), r.month))
                .or_default()
                .add(r.scores);
        }
        let steps = (d.visits.len() as u64).max(steps_done);
        let ratings = (d.ratings.len() as u64).max(ratings_done);
        self.cases.push((d.fact, steps, ratings));
    }

    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshStats {
    /// Audit entries read.
    pub entries: u64,
    /// Cases (re)derived.
    pub cases: u64,
    /// The new watermark.
    pub watermark: i64,
}
