//! The recovery clock: from probe samples in time order, when the first failure after
//! injection was seen (detection) and when the first `stable_for` window of all-passing
//! probes began (recovery). Pure and incremental: the executor feeds it live, tests replay.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct RecoveryClock {
    stable_for: Duration,
    /// The latest result of each probe.
    latest: Vec<bool>,
    t_inject: Option<Duration>,
    detected: Option<Duration>,
    healthy_since: Option<Duration>,
    recovered: Option<Duration>,
    last_at: Duration,
}

/// A change the clock saw on one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Detected(Duration),
    Recovered(Duration),
}

impl RecoveryClock {
    /// All probes start passing: the baseline held.
    pub fn new(probes: usize, stable_for: Duration) -> Self {
        RecoveryClock {
            stable_for,
            latest: vec![true; probes],
            t_inject: None,
            detected: None,
            healthy_since: Some(Duration::ZERO),
            recovered: None,
            last_at: Duration::ZERO,
        }
    }

    /// Marks the first confirmed injection; later calls are ignored.
    pub fn injected(&mut self, at: Duration) {
        self.t_inject.get_or_insert(at);
    }

    pub fn observe(&mut self, probe: usize, at: Duration, ok: bool) -> Option<Change> {
        // Samples arrive in completion order; never let time run backwards.
        let at = at.max(self.last_at);
        self.last_at = at;
        if let Some(slot) = self.latest.get_mut(probe) {
            *slot = ok;
        }
        let mut change = None;
        if !ok && self.detected.is_none() && self.t_inject.is_some_and(|t| at >= t) {
            self.detected = Some(at);
            change = Some(Change::Detected(at));
        }
        if self.latest.iter().all(|&b| b) {
            self.healthy_since.get_or_insert(at);
        } else {
            self.healthy_since = None;
        }
        if let (Some(d), None, Some(h)) = (self.detected, self.recovered, self.healthy_since)
            && h >= d
            && at.saturating_sub(h) >= self.stable_for
        {
            self.recovered = Some(h);
            change = Some(Change::Recovered(h));
        }
        change
    }

    pub fn detected(&self) -> Option<Duration> {
        self.detected
    }

    pub fn recovered(&self) -> Option<Duration> {
        self.recovered
    }

    /// When every probe has been passing since (its latest samples all passed), if it has.
    pub fn healthy_since(&self) -> Option<Duration> {
        self.healthy_since
    }

    /// Whether every probe has passed for `stable_for`, counted from no earlier than `since`.
    pub fn stable_since(&self, since: Duration) -> bool {
        self.healthy_since.is_some_and(|h| self.last_at.saturating_sub(h.max(since)) >= self.stable_for)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn detection_and_recovery_window() {
        let mut c = RecoveryClock::new(2, ms(1000));
        c.injected(ms(1000));
        assert_eq!(c.observe(0, ms(900), false), None, "before injection is not detection");
        assert_eq!(c.observe(0, ms(1200), false), Some(Change::Detected(ms(1200))));
        assert_eq!(c.observe(0, ms(3000), true), None);
        assert_eq!(c.observe(1, ms(3100), false), None, "second probe fails: window restarts");
        assert_eq!(c.observe(1, ms(3500), true), None);
        assert_eq!(c.observe(0, ms(4400), true), None, "only 900ms healthy");
        assert_eq!(c.observe(1, ms(4500), true), Some(Change::Recovered(ms(3500))));
        assert!(c.stable_since(ms(3500)));
        assert!(!c.stable_since(ms(4000)));
    }

    #[test]
    fn no_failure_means_no_detection() {
        let mut c = RecoveryClock::new(1, ms(100));
        c.injected(ms(0));
        for t in 1..10 {
            assert_eq!(c.observe(0, ms(t * 100), true), None);
        }
        assert_eq!(c.detected(), None);
        assert_eq!(c.recovered(), None);
    }
}
