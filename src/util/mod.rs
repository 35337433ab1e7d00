//! Utilities every layer may use, importing nothing of firedrill's: the console (status
//! lines on stderr, command output on stdout, shell quoting for what a human pastes), `sh
//! -c` with limits and process groups, URL redaction, and the fail points the crash tests
//! kill firedrill at.

pub mod console;
pub mod failpoint;
pub mod redact;
pub mod sh;
