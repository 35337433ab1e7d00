//! The one error type of every command, and the exit codes. Each failure is a variant;
//! [`Error::exit`] is the only place that decides which exit code it means.

use crate::engine::Outcome;
use crate::scenario::Invalid;

/// Exit codes. The README's exit-code table lists exactly these (a test compares them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Passed; or the command did what was asked.
    Ok = 0,
    /// Every fault reverted, but recovery was slower than the objective or never came.
    ObjectiveMissed = 1,
    /// Invalid input: a scenario, a flag, or a refusal to act (no `--yes` without a TTY).
    Invalid = 2,
    /// Aborted (abort rule, signal or injection error); every fault reverted.
    Aborted = 3,
    /// Blocked: the steady state did not hold before injection, or a stop-condition alarm
    /// was in ALARM or could not be read; nothing was injected.
    Blocked = 4,
    /// A fault could not be reverted: a human must act.
    RevertFailed = 5,
    /// firedrill itself failed (state directory not writable, AWS unreachable, ...).
    Error = 6,
    /// A guard refused the run (account, region, opt-in tag, blast radius, a fault that
    /// cannot apply); nothing was touched.
    Refused = 7,
    /// A recover objective, every fault reverted, but no probe ever failed: the faults had
    /// no visible impact and recovery was not tested.
    NoImpact = 8,
    /// `schedule run-due` skipped a due game day (freeze, gate, halt or lease; recorded,
    /// and shown by `history`); nothing was touched.
    Skipped = 9,
    /// `audit --fail-on`: an open finding of that severity or worse (not accepted by the
    /// baseline); nothing was touched.
    Findings = 10,
}

impl Exit {
    /// Every exit code, in the README table's order (a new variant goes here too: the
    /// README test then asks for its row).
    pub const ALL: [Exit; 11] = [
        Exit::Ok,
        Exit::ObjectiveMissed,
        Exit::Invalid,
        Exit::Aborted,
        Exit::Blocked,
        Exit::RevertFailed,
        Exit::Error,
        Exit::Refused,
        Exit::NoImpact,
        Exit::Skipped,
        Exit::Findings,
    ];

    /// The name the README's exit-code table gives the code.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Ok => "passed",
            Exit::ObjectiveMissed => "objective missed",
            Exit::Invalid => "invalid input",
            Exit::Aborted => "aborted",
            Exit::Blocked => "blocked",
            Exit::RevertFailed => "revert failed",
            Exit::Error => "firedrill error",
            Exit::Refused => "refused by a guard",
            Exit::NoImpact => "no impact",
            Exit::Skipped => "skipped",
            Exit::Findings => "audit findings",
        }
    }
}

/// Why a command did not end with [`Exit::Ok`]. The messages are the operator's: each
/// variant's text is what is shown (a few were shown as they happened; see the variant).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems in a scenario or its playbook, each `FILE:LINE:COL: field: message`.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Files given to `validate` that are invalid (their problems were shown per file).
    #[error("{bad} of {total} file(s) invalid")]
    InvalidFiles { bad: usize, total: usize },
    /// A flag, argument or terminal that cannot be used as asked; nothing was done.
    #[error("{0}")]
    Usage(String),
    /// The guards (or a lease held by another run) refused; nothing was injected. The
    /// lines not yet shown, one per reason (a contested lease is shown as it is found).
    #[error("{}", .0.join("\n"))]
    Refused(Vec<String>),
    /// The emergency halt is set (or cannot be read) in the run's account and region;
    /// nothing was touched.
    #[error("{0}; nothing was touched")]
    Halted(String),
    /// `plan` found refusals: the plan it printed lists them.
    #[error("the guards refuse this run (see the plan)")]
    PlanRefused,
    /// firedrill itself failed (state directory, journal, AWS access, output, ...).
    #[error("{0}")]
    Failed(String),
    /// Announcements that could not be delivered (each was shown as it failed).
    #[error("{0} announcement(s) failed")]
    Undelivered(usize),
    /// Steps `recover` could not revert: a human must act.
    #[error("{0} step(s) could not be reverted: a human must act")]
    Unreverted(usize),
    /// Changes a sweep found and did not try to undo (declined, or left alone as maybe
    /// alive), each named above: still in place, so a human must act as for [`Error::Unreverted`].
    #[error("{0} change(s) left in place, as listed above: nothing was tried on them")]
    LeftInPlace(usize),
    /// Due game days that `schedule run-due` skipped, one line per reason (each was
    /// shown and recorded as it was decided); nothing was touched.
    #[error("{} game day(s) skipped", .0.len())]
    Skipped(Vec<String>),
    /// `audit --fail-on`: the open findings at or above the severity, `ID (SEVERITY)` each
    /// (the audit itself was printed).
    #[error("{} finding(s) at or above the --fail-on severity: {}", .0.len(), .0.join(", "))]
    Findings(Vec<String>),
    /// A game day that ran and did not pass (its summary was shown at its end).
    #[error("the game day ended {}", .0.as_str())]
    Run(Outcome),
}

impl Error {
    /// The exit code of each failure: the one place that decides it.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Invalid(_) | Error::InvalidFiles { .. } | Error::Usage(_) => Exit::Invalid,
            Error::Refused(_) | Error::PlanRefused => Exit::Refused,
            Error::Failed(_) | Error::Undelivered(_) => Exit::Error,
            Error::Unreverted(_) | Error::LeftInPlace(_) => Exit::RevertFailed,
            Error::Halted(_) => Exit::Blocked,
            Error::Skipped(_) => Exit::Skipped,
            Error::Findings(_) => Exit::Findings,
            Error::Run(outcome) => match outcome {
                Outcome::Passed => Exit::Ok,
                Outcome::ObjectiveMissed => Exit::ObjectiveMissed,
                Outcome::Aborted => Exit::Aborted,
                Outcome::NoImpact => Exit::NoImpact,
                Outcome::Blocked => Exit::Blocked,
                Outcome::RevertFailed => Exit::RevertFailed,
            },
        }
    }

    /// Whether the message was already shown as it happened (and is not shown again).
    pub fn shown(&self) -> bool {
        matches!(self, Error::PlanRefused | Error::Undelivered(_) | Error::Run(_) | Error::Skipped(_))
    }

    /// The exit code of a command's result.
    pub fn code(result: &Result<(), Error>) -> Exit {
        result.as_ref().err().map_or(Exit::Ok, Error::exit)
    }
}

/// A game day that passed is `Ok`; any other outcome is [`Error::Run`].
pub fn verdict(outcome: Outcome) -> Result<(), Error> {
    match outcome {
        Outcome::Passed => Ok(()),
        o => Err(Error::Run(o)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every outcome of a run keeps the exit code the README documents.
    #[test]
    fn each_failure_has_its_documented_exit_code() {
        let cases = [
            (Error::Usage("x".into()), 2),
            (Error::InvalidFiles { bad: 1, total: 2 }, 2),
            (Error::Invalid(Invalid(Vec::new())), 2),
            (Error::Refused(vec!["refused: x".into()]), 7),
            (Error::PlanRefused, 7),
            (Error::Failed("x".into()), 6),
            (Error::Undelivered(1), 6),
            (Error::Unreverted(1), 5),
            (Error::LeftInPlace(1), 5),
            (Error::Run(Outcome::ObjectiveMissed), 1),
            (Error::Run(Outcome::Aborted), 3),
            (Error::Run(Outcome::Blocked), 4),
            (Error::Halted("halted: x".into()), 4),
            (Error::Run(Outcome::NoImpact), 8),
            (Error::Run(Outcome::RevertFailed), 5),
            (Error::Skipped(vec!["freeze".into()]), 9),
            (Error::Findings(vec!["asg_single_az:web (high)".into()]), 10),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit() as u8, code, "{e:?}");
        }
        assert_eq!(Error::code(&Ok(())), Exit::Ok);
        assert!(verdict(Outcome::Passed).is_ok());
        assert_eq!(Error::code(&verdict(Outcome::Aborted)), Exit::Aborted);
        assert_eq!(Error::Unreverted(2).to_string(), "2 step(s) could not be reverted: a human must act");
    }

    /// The README's exit-code table is the enum: the same codes, each with its name, in
    /// order, and nothing else. A code added, renumbered or renamed on one side only fails.
    #[test]
    fn the_readme_exit_code_table_is_the_exit_enum() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let table: Vec<(u8, String)> = readme
            .lines()
            .skip_while(|l| l.trim() != "### Exit codes")
            .skip(1)
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                let code = cells.first()?.parse::<u8>().ok()?;
                Some((code, cells.get(1)?.to_string()))
            })
            .collect();
        let enum_: Vec<(u8, String)> = Exit::ALL.iter().map(|e| (*e as u8, e.name().to_string())).collect();
        assert_eq!(table, enum_, "README.md \"### Exit codes\" (code | name | meaning) must list exactly `Exit`");
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| *e as u8).collect();
        codes.dedup();
        assert_eq!(codes, (0..=10).collect::<Vec<u8>>(), "ALL holds each code once, in order");
    }
}
