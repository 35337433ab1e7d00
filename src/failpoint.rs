//! Fail points for crash-safety tests: named places in the journal/side-effect sequence
//! where the process can be made to die as if SIGKILLed (`abort()`: no unwinding, no
//! cleanup, no revert). Set `FIREDRILL_FAILPOINT=<name>:<n>` to die on the n-th time
//! `<name>` is reached. Compiled in only with the `failpoints` feature (on by default so
//! the README's `cargo test` exercises them; `--no-default-features` removes them); inert
//! unless the variable is set.
//!
//! | name | where |
//! | --- | --- |
//! | `before_intent` | a fault is about to journal a step's undo |
//! | `after_intent` | the undo is durable; the side effect has not been made |
//! | `before_done` | every side effect of a fault was made; `done` is not journaled |
//! | `before_reverted` | a step was undone; `reverted` is not journaled |

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
            eprintln!("firedrill: fail point {name}:{} reached, dying now", a.at);
            std::process::abort();
        }
    }
}
