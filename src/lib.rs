//! firedrill: a chaos-engineering and game-day orchestrator.
//!
//! The library owns everything; `main.rs` only parses flags and maps outcomes to exit
//! codes. The engine depends on the small traits in [`engine`], never on a cloud SDK.

pub mod engine;
pub mod journal;
pub mod scenario;
