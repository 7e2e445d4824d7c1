//! `alur-core`: the model of a public service, the pure workflow engine, audit chains, and the
//! storage trait with an in-memory store.
//!
//! ```text
//! TOML dir ──load_dir──▶ Config ──Engine::new──▶ Engine<S: Store>
//!                                   │ submit / execute
//!                                   ▼
//!             engine::decide(ctx, def, case, command, now) -> events   (pure)
//!             engine::apply(case, event) -> case                        (pure)
//!                                   │ one Transition
//!                                   ▼
//!             Store::commit: case + audit entries + payloads + outbox + idempotency, atomically
//! ```

pub mod audit;
pub mod calendars;
pub mod config;
pub mod config_log;
pub mod engine;
pub mod error;
pub mod letter;
pub mod memory;
pub mod model;
pub mod pseudonym;
pub mod publish;
pub mod region;
pub mod runtime;
pub mod scheduler;
pub mod store;
pub mod tlog;
pub mod witness;

pub use config::{ConfigErrors, Diagnostic, load_dir};
pub use engine::{Actor, Case, Command, Payload, Status};
pub use error::{Error, ErrorKind};
pub use memory::MemoryStore;
pub use model::{Config, ServiceDefinition};
pub use pseudonym::{Nik, NikError, PersonRef, Pseudonymizer};
pub use runtime::{
    Clock, DeadlineChange, Engine, ErasureReport, ManualClock, RecomputeReport, Submission,
    SystemClock, past_retention,
};
pub use scheduler::Scheduler;
pub use store::Store;
