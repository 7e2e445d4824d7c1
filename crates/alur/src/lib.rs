//! `alur`: an embeddable workflow engine for Indonesian public services.
//!
//! This facade re-exports the crates a host needs: [`core`] (model, engine, stores, traits) and
//! [`calendar`] (working-day calendars and durations).

pub use alur_calendar as calendar;
pub use alur_core as core;
