//! Fail points for crash-safety tests: named places in the journal/side-effect sequence
//! where the process can be made to die as if SIGKILLed (`abort()`: no unwinding, no
//! cleanup, no revert). Set `FIREDRILL_FAILPOINT=<name>:<n>` to die on the n-th time
//! `<name>` is reached. Compiled in only with the `failpoints` feature, which is off by
//! default so that no installed binary can be made to die mid-fault by an environment
//! variable: the tests run with `cargo test --features failpoints`. Without the feature
//! [`hit`] does nothing whatever the environment says; `firedrill --version` ends in
//! `(failpoints)` when the feature is compiled in.
//!
//! | name | where |
//! | --- | --- |
//! | `before_intent` | a fault is about to journal a step's undo |
//! | `after_intent` | the undo is durable; the side effect has not been made |
//! | `before_done` | every side effect of a fault was made; `done` is not journaled |
//! | `before_reverted` | a step was undone; `reverted` is not journaled |

/// Whether fail points are compiled into this build.
pub const ENABLED: bool = cfg!(feature = "failpoints");

/// The version `firedrill --version` prints: the package version, and `(failpoints)` when
/// they are compiled in.
pub const VERSION: &str =
    if ENABLED { concat!(env!("CARGO_PKG_VERSION"), " (failpoints)") } else { env!("CARGO_PKG_VERSION") };

/// Dies here if `FIREDRILL_FAILPOINT` names this point and its count is reached.
#[inline]
pub fn hit(name: &str) {
    #[cfg(feature = "failpoints")]
    armed::hit(name);
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

#[cfg(feature = "failpoints")]
mod armed {
    use std::sync::Mutex;
    use std::sync::OnceLock;

    struct Armed {
        name: String,
        at: u32,
        seen: Mutex<u32>,
    }

    fn armed() -> Option<&'static Armed> {
        static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
        ARMED
            .get_or_init(|| {
                let spec = std::env::var("FIREDRILL_FAILPOINT").ok()?;
                let (name, n) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
                Some(Armed { name: name.to_string(), at: n.parse().unwrap_or(1), seen: Mutex::new(0) })
            })
            .as_ref()
    }

    pub fn hit(name: &str) {
        let Some(a) = armed() else { return };
        if a.name != name {
            return;
        }
        let mut seen = a.seen.lock().unwrap_or_else(|p| p.into_inner());
        *seen += 1;
        if *seen == a.at {
            // Not `eprintln!`: a closed stderr must not turn the abort into a panic.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "firedrill: fail point {name}:{} reached, dying now", a.at);
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    /// A default build (no `failpoints` feature) must ignore `FIREDRILL_FAILPOINT`: were
    /// the armed code compiled in, `hit` would abort this test process, failing the run.
    /// Runs with `cargo test --lib failpoint` (the default features; `.ci/run` does it).
    #[cfg(not(feature = "failpoints"))]
    #[test]
    fn a_default_build_ignores_firedrill_failpoint() {
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var("FIREDRILL_FAILPOINT", "default_build_probe:1") };
        super::hit("default_build_probe");
        super::hit("default_build_probe");
        const { assert!(!super::ENABLED) };
        assert_eq!(super::VERSION, env!("CARGO_PKG_VERSION"));
    }

    #[cfg(feature = "failpoints")]
    #[test]
    fn a_failpoints_build_says_so_in_its_version() {
        const { assert!(super::ENABLED) };
        assert!(super::VERSION.ends_with(" (failpoints)"), "{}", super::VERSION);
    }
}
