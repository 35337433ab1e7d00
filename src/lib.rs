//! firedrill: a chaos-engineering and game-day orchestrator.
//!
//! The library owns everything; `main.rs` only parses flags and maps outcomes to exit
//! codes. The engine depends on the small traits in [`engine`], never on a cloud SDK.
//! The layers, the data flow of one run and the checklists for adding a fault or probe
//! kind are in ARCHITECTURE.md at the repository's root.

pub mod audit;
pub mod aws;
pub mod cli;
pub mod engine;
pub mod faults;
pub mod gameday;
pub mod halt;
pub mod history;
pub mod iam_policy;
pub mod lease;
pub mod notes;
pub mod notify;
pub mod pages;
pub mod plan;
pub mod plan_json;
pub mod playbook;
pub mod probes;
pub mod recover;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod state;
pub mod sweep;
pub mod tags;
pub mod targets;
pub mod util;
