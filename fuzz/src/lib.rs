//! The scenario and playbook parsers, compiled from firedrill's own source files for
//! fuzzing. `#[path]` keeps the module tree (`crate::scenario`, `crate::notify`,
//! `crate::playbook`, `crate::util::redact`) identical to firedrill's, so the code under test is
//! the shipped code.
#![allow(dead_code, unused_imports)]

#[path = "../../src/notify.rs"]
pub mod notify;
#[path = "../../src/redact.rs"]
pub mod redact;
#[path = "../../src/playbook/mod.rs"]
pub mod playbook;
#[path = "../../src/scenario/mod.rs"]
pub mod scenario;
