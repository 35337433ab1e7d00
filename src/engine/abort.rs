//! Abort rules evaluated on every sample: a probe failing for too long or too many times
//! in a row. (`max_duration` is a deadline the executor keeps.)

use std::time::Duration;

use super::AbortRule;

#[derive(Clone, Debug)]
pub struct AbortTracker {
    rules: Vec<AbortRule>,
    names: Vec<String>,
    /// Per probe: when the current failing streak began and how long it is.
    streaks: Vec<(Option<Duration>, u32)>,
}

impl AbortTracker {
    pub fn new(rules: Vec<AbortRule>, probe_names: Vec<String>) -> Self {
        let n = probe_names.len();
        AbortTracker { rules, names: probe_names, streaks: vec![(None, 0); n] }
    }

    /// Feeds one sample; returns the reason when a rule trips.
    pub fn observe(&mut self, probe: usize, at: Duration, ok: bool) -> Option<String> {
        let Some(streak) = self.streaks.get_mut(probe) else { return None };
        if ok {
            *streak = (None, 0);
            return None;
        }
        let start = *streak.0.get_or_insert(at);
        streak.1 = streak.1.saturating_add(1);
        let count = streak.1;
        let name = &self.names[probe];
        for rule in &self.rules {
            match *rule {
                AbortRule::FailingFor { probe: p, duration } if p == probe && at.saturating_sub(start) >= duration => {
                    let failing = u64::try_from(at.saturating_sub(start).as_millis()).unwrap_or(u64::MAX);
                    return Some(format!(
                        "probe `{name}` has been failing for {} (abort rule: failing_for {})",
                        humantime::format_duration(Duration::from_millis(failing)),
                        humantime::format_duration(duration)
                    ));
                }
                AbortRule::ConsecutiveFailures { probe: p, count: n } if p == probe && count >= n => {
                    return Some(format!(
                        "probe `{name}` failed {count} times in a row (abort rule: consecutive_failures {n})"
                    ));
                }
                AbortRule::Alarm { probe: p, ref alarm } if p == probe => {
                    return Some(format!("CloudWatch alarm `{alarm}` is in ALARM (abort rule: alarm)"));
                }
                _ => {}
            }
        }
        None
    }

    pub fn max_duration(&self) -> Option<Duration> {
        self.rules
            .iter()
            .filter_map(|r| match r {
                AbortRule::MaxDuration(d) => Some(*d),
                _ => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_for_counts_from_the_first_failure_of_the_streak() {
        let s = |n| Duration::from_secs(n);
        let mut t = AbortTracker::new(vec![AbortRule::FailingFor { probe: 0, duration: s(10) }], vec!["web".into()]);
        assert_eq!(t.observe(0, s(1), false), None);
        assert_eq!(t.observe(0, s(5), true), None, "a pass resets the streak");
        assert_eq!(t.observe(0, s(6), false), None);
        assert_eq!(t.observe(0, s(15), false), None);
        let r = t.observe(0, s(16), false).unwrap();
        assert!(r.contains("failing for 10s"), "{r}");
    }

    #[test]
    fn consecutive_failures() {
        let s = |n| Duration::from_secs(n);
        let rules = vec![AbortRule::ConsecutiveFailures { probe: 1, count: 3 }];
        let mut t = AbortTracker::new(rules, vec!["a".into(), "b".into()]);
        assert_eq!(t.observe(0, s(1), false), None);
        assert_eq!(t.observe(0, s(2), false), None);
        assert_eq!(t.observe(0, s(3), false), None, "other probe's rule");
        assert_eq!(t.observe(1, s(1), false), None);
        assert_eq!(t.observe(1, s(2), false), None);
        assert!(t.observe(1, s(3), false).unwrap().contains("failed 3 times in a row"));
    }
}
