//! Working-day calendars, durations and deadline arithmetic.

mod duration;

pub use duration::{DurationError, MAX_DURATION_AMOUNT, SlaDuration};
