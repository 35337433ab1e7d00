//! Abort rules evaluated on every sample: a probe failing for too long or too many times
//! in a row, or a CloudWatch alarm stop condition. (`max_duration` is a deadline the
//! executor keeps.)
//!
//! An `alarm` rule trips on the first failing sample of its watcher, and says which it
//! was: the alarm in `ALARM`, or the alarm that could not be read. An unreadable alarm
//! aborts too: the stop condition is then not being watched, and the SDK has already
//! retried the call, so going on would drill blind. The emergency halt's watcher
//! (`crate::halt`) is a rule of the same kind: set, or unreadable, it aborts.

use std::time::Duration;

use super::AbortRule;

/// The detail of an alarm watcher's sample when the alarm is in `ALARM`; any other
/// failing detail means the alarm could not be read.
pub const ALARM: &str = "ALARM";

/// The start of the failing detail of the emergency halt's watcher while the halt is set;
/// any other failing detail means the halt could not be read.
pub const HALTED: &str = "halted: ";

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

    /// Feeds one sample (`detail` is what the probe saw); returns the reason when a rule
    /// trips.
    pub fn observe(&mut self, probe: usize, at: Duration, ok: bool, detail: &str) -> Option<String> {
        let streak = self.streaks.get_mut(probe)?;
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
                AbortRule::Alarm { probe: p, ref alarm } if p == probe && detail == ALARM => {
                    return Some(format!("CloudWatch alarm `{alarm}` is in ALARM (abort rule: alarm)"));
                }
                AbortRule::Alarm { probe: p, ref alarm } if p == probe => {
                    let detail = detail.strip_prefix("could not read the alarm: ").unwrap_or(detail);
                    return Some(format!(
                        "could not read CloudWatch alarm `{alarm}`: {detail} (abort rule: alarm; an alarm that \
                         cannot be read aborts the run, since the stop condition is no longer watched)"
                    ));
                }
                AbortRule::Halt { probe: p, ref parameter } if p == probe => {
                    return Some(match detail.strip_prefix(HALTED) {
                        Some(why) => format!("emergency halt (`firedrill halt`): {why}"),
                        None => format!(
                            "could not read the emergency halt ({parameter}): {detail} (a halt that cannot be read \
                             aborts the run, since the lever is no longer watched)"
                        ),
                    });
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
        assert_eq!(t.observe(0, s(1), false, "x"), None);
        assert_eq!(t.observe(0, s(5), true, "x"), None, "a pass resets the streak");
        assert_eq!(t.observe(0, s(6), false, "x"), None);
        assert_eq!(t.observe(0, s(15), false, "x"), None);
        let r = t.observe(0, s(16), false, "x").unwrap();
        assert!(r.contains("failing for 10s"), "{r}");
    }

    #[test]
    fn an_alarm_rule_says_whether_the_alarm_fired_or_could_not_be_read() {
        let s = |n| Duration::from_secs(n);
        let rules = vec![AbortRule::Alarm { probe: 0, alarm: "shop-5xx".into() }];
        let mut t = AbortTracker::new(rules.clone(), vec!["alarm:shop-5xx".into()]);
        assert_eq!(t.observe(0, s(1), true, "OK"), None);
        assert_eq!(
            t.observe(0, s(2), false, ALARM).as_deref(),
            Some("CloudWatch alarm `shop-5xx` is in ALARM (abort rule: alarm)")
        );
        let mut t = AbortTracker::new(rules, vec!["alarm:shop-5xx".into()]);
        let why = t.observe(0, s(1), false, "could not read the alarm: cloudwatch:DescribeAlarms: cannot reach the AWS endpoint http://127.0.0.1:9: connection refused").unwrap();
        assert!(
            why.starts_with("could not read CloudWatch alarm `shop-5xx`: cloudwatch:DescribeAlarms: cannot reach"),
            "{why}"
        );
        assert!(!why.contains("is in ALARM"), "{why}");
    }

    #[test]
    fn a_halt_rule_names_the_halt_and_its_reason_or_why_it_could_not_be_read() {
        let s = |n| Duration::from_secs(n);
        let rules = vec![AbortRule::Halt { probe: 0, parameter: "/firedrill/halt".into() }];
        let mut t = AbortTracker::new(rules.clone(), vec!["halt".into()]);
        assert_eq!(t.observe(0, s(1), true, "not halted"), None);
        let why = t.observe(0, s(2), false, "halted: db migration (by arn:x at 2026-12-01T18:00:00Z)").unwrap();
        assert_eq!(why, "emergency halt (`firedrill halt`): db migration (by arn:x at 2026-12-01T18:00:00Z)");
        let mut t = AbortTracker::new(rules, vec!["halt".into()]);
        let why = t.observe(0, s(1), false, "ssm:GetParameter: AccessDeniedException: no").unwrap();
        assert!(why.starts_with("could not read the emergency halt (/firedrill/halt): ssm:GetParameter"), "{why}");
    }

    #[test]
    fn consecutive_failures() {
        let s = |n| Duration::from_secs(n);
        let rules = vec![AbortRule::ConsecutiveFailures { probe: 1, count: 3 }];
        let mut t = AbortTracker::new(rules, vec!["a".into(), "b".into()]);
        assert_eq!(t.observe(0, s(1), false, "x"), None);
        assert_eq!(t.observe(0, s(2), false, "x"), None);
        assert_eq!(t.observe(0, s(3), false, "x"), None, "other probe's rule");
        assert_eq!(t.observe(1, s(1), false, "x"), None);
        assert_eq!(t.observe(1, s(2), false, "x"), None);
        assert!(t.observe(1, s(3), false, "x").unwrap().contains("failed 3 times in a row"));
    }
}
