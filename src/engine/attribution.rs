//! Which fault each impact belongs to, and each fault's own time to detect and time to
//! recover, when a run's faults come one after another (`after:`). Pure: replays the run's
//! samples in time order (docs/report.md, "Per-fault times").
//!
//! - A failing sample of a steady-state probe at time `t` belongs to the fault most
//!   recently injected (injection confirmed at or before `t`) whose own recovery was not
//!   yet confirmed at `t`. A failure before any injection, or after every injected fault
//!   has recovered, belongs to none (it still counts for the run's own figures).
//! - A fault is detected at the first failing sample that belongs to it.
//! - A fault recovers at the start of the first window of `stable_for`, beginning no
//!   earlier than its detection, in which every steady-state probe passed — counting as
//!   failing only the samples that belong to it (or to an earlier fault still failing on the
//!   same probe): a later fault's impact does not stop an earlier fault's clock. Its
//!   recovery is confirmed once the window has lasted `stable_for`.
//! - Both are measured from the fault's own injection (`injected_at`), as the run's are
//!   from `t_inject`.

use std::time::Duration;

use super::record::{FaultRecord, Sample};

/// One fault's measured points, from the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultTimes {
    pub detected_at: Option<Duration>,
    pub recovered_at: Option<Duration>,
}

/// The result of [`attribute`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Per sample (same order as the input): the index of the fault it belongs to, for a
    /// failing steady-state sample that belongs to one.
    pub owners: Vec<Option<usize>>,
    /// Per fault (same order as the input).
    pub faults: Vec<FaultTimes>,
}

/// Attributes `samples` (in completion order) to `faults`. `steady[p]` says whether probe
/// `p` is part of the steady state; other probes' samples belong to no fault.
pub fn attribute(samples: &[Sample], steady: &[bool], faults: &[FaultRecord], stable_for: Duration) -> Attribution {
    let probes = steady.len();
    let mut times = vec![FaultTimes::default(); faults.len()];
    // Each fault's view of every probe: false while a sample that belongs to it failed and
    // no passing sample has come since.
    let mut view = vec![vec![true; probes]; faults.len()];
    let mut healthy_since: Vec<Option<Duration>> = vec![Some(Duration::ZERO); faults.len()];
    let mut owners = Vec::with_capacity(samples.len());
    let mut last = Duration::ZERO;
    for s in samples {
        // Samples arrive in completion order; never let time run backwards (as the clock).
        let at = s.at.max(last);
        last = at;
        if !steady.get(s.probe).copied().unwrap_or(false) {
            owners.push(None);
            continue;
        }
        let owner = if s.ok {
            None
        } else {
            faults
                .iter()
                .enumerate()
                .filter(|(i, f)| f.injected_at.is_some_and(|t| t <= at) && times[*i].recovered_at.is_none())
                .max_by_key(|(i, f)| (f.injected_at, *i))
                .map(|(i, _)| i)
        };
        owners.push(owner);
        for (i, v) in view.iter_mut().enumerate() {
            if s.ok {
                v[s.probe] = true;
            } else if owner == Some(i) {
                v[s.probe] = false;
            }
            if v.iter().all(|&b| b) {
                healthy_since[i].get_or_insert(at);
            } else {
                healthy_since[i] = None;
            }
        }
        if let Some(o) = owner {
            times[o].detected_at.get_or_insert(at);
        }
        for (i, t) in times.iter_mut().enumerate() {
            if let (Some(d), None, Some(h)) = (t.detected_at, t.recovered_at, healthy_since[i])
                && h >= d
                && at.saturating_sub(h) >= stable_for
            {
                t.recovered_at = Some(h);
            }
        }
    }
    Attribution { owners, faults: times }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn s(probe: usize, at: u64, ok: bool) -> Sample {
        Sample { probe, at: ms(at), ok, latency: ms(1), detail: String::new(), fault: None }
    }

    fn f(injected: u64) -> FaultRecord {
        FaultRecord { injected_at: Some(ms(injected)), ..Default::default() }
    }

    #[test]
    fn a_later_faults_impact_does_not_stop_an_earlier_faults_clock() {
        // a: injected 0, breaks until 300. b: injected 1000, breaks 1100..1300.
        let samples = [
            s(0, 100, false),
            s(0, 200, false),
            s(0, 400, true),
            s(0, 1100, false),
            s(0, 1200, false),
            s(0, 1400, true),
            s(0, 2500, true),
        ];
        let a = attribute(&samples, &[true], &[f(0), f(1000)], ms(1000));
        assert_eq!(a.owners, [Some(0), Some(0), None, Some(1), Some(1), None, None]);
        assert_eq!(a.faults[0], FaultTimes { detected_at: Some(ms(100)), recovered_at: Some(ms(400)) });
        assert_eq!(a.faults[1], FaultTimes { detected_at: Some(ms(1100)), recovered_at: Some(ms(1400)) });
    }

    #[test]
    fn an_impact_that_outlasts_the_next_injection_belongs_to_the_newest_fault() {
        // a's window (from 400) is not confirmed when b is injected at 600 and b breaks
        // things at 700: that failure is b's, and a still recovers from 400.
        let samples = [s(0, 100, false), s(0, 400, true), s(0, 700, false), s(0, 900, true), s(0, 2000, true)];
        let a = attribute(&samples, &[true], &[f(0), f(600)], ms(1000));
        assert_eq!(a.owners, [Some(0), None, Some(1), None, None]);
        assert_eq!(a.faults[0].recovered_at, Some(ms(400)));
        assert_eq!(a.faults[1], FaultTimes { detected_at: Some(ms(700)), recovered_at: Some(ms(900)) });
    }

    #[test]
    fn a_probe_failing_across_both_faults_holds_back_both() {
        // The probe fails from 100 to 1500 without passing once: a is not healed before b.
        let samples = [s(0, 100, false), s(0, 1100, false), s(0, 1500, true), s(0, 2600, true)];
        let a = attribute(&samples, &[true], &[f(0), f(1000)], ms(1000));
        assert_eq!(a.owners, [Some(0), Some(1), None, None]);
        assert_eq!(a.faults[0].recovered_at, Some(ms(1500)));
        assert_eq!(a.faults[1].recovered_at, Some(ms(1500)));
    }

    #[test]
    fn failures_before_injection_after_recovery_and_of_watchers_belong_to_no_fault() {
        let samples = [s(0, 50, false), s(0, 100, true), s(1, 300, false), s(0, 300, false), s(0, 400, true)];
        // Probe 1 is a watcher (not steady); the fault is injected at 200 and never recovers
        // within the samples (only 100ms healthy).
        let a = attribute(&samples, &[true, false], &[f(200)], ms(1000));
        assert_eq!(a.owners, [None, None, None, Some(0), None]);
        assert_eq!(a.faults[0], FaultTimes { detected_at: Some(ms(300)), recovered_at: None });
        // A fault never injected is never detected.
        let a = attribute(&samples, &[true, false], &[FaultRecord::default()], ms(10));
        assert_eq!(a.faults[0], FaultTimes::default());
        assert!(a.owners.iter().all(Option::is_none));
    }
}
