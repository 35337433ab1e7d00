//! Pager noise (the scenario's `pages`): the CloudWatch alarms that page someone, watched
//! from the first injection to the verdict.
//!
//! - [`resolve`] (prepare time, read-only) finds the alarms: those the scenario lists
//!   (each must exist: a misspelt name would hide every page it stands for), or by default
//!   every metric and composite alarm in the account and region with alarm actions and
//!   actions enabled. `plan` lists them.
//! - [`spec`] hands them to the engine's pager watch (`engine::pager`) with
//!   [`CloudWatchAlarms`], which reads them all with DescribeAlarms (100 names a call),
//!   before the first injection, every [`interval`], and once more at the end; then reads
//!   their DescribeAlarmHistory (StateUpdate items since the first read) for transitions
//!   the polling missed. An endpoint without alarm history (moto) makes the report say
//!   "history not available", with the error.
//! - [`statements`]: `cloudwatch:DescribeAlarms` and `cloudwatch:DescribeAlarmHistory` on
//!   the listed alarms (or every alarm, for the default).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::aws::Aws;
use crate::engine::{AlarmChange, AlarmReading, AlarmSource, PagerSpec};
use crate::iam_policy::stmt::{Res, Stmt, stmt};
use crate::scenario::{MAX_PAGING_ALARMS, Scenario};

/// The paging alarms a run watches, found at prepare time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watched {
    /// Sorted as the scenario lists them, or by name for the default.
    pub alarms: Vec<String>,
    /// Found as "every alarm with actions" (the scenario lists none).
    pub all: bool,
    /// Of those, already in ALARM at prepare time (a run reports them as already
    /// alarming, not as pages).
    pub alarming: Vec<String>,
}

/// How often the alarms are read: at the shortest probe interval, between 1 s and 5 s.
pub fn interval(probe_every: impl IntoIterator<Item = Duration>) -> Duration {
    crate::halt::interval(probe_every)
}

/// Finds the alarms a scenario with `pages` watches (`Ok(None)` without `pages`). Refusals
/// (a listed alarm that does not exist, too many alarms) go to `refusals`, facts worth a
/// look (a listed alarm that pages nobody) to `warnings`.
pub async fn resolve(
    aws: &Aws,
    s: &Scenario,
    refusals: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<Watched>, crate::aws::AwsError> {
    let Some(pages) = &s.pages else { return Ok(None) };
    let (alarms, all) = match &pages.alarms {
        Some(listed) => (listed.clone(), false),
        None => (aws.paging_alarms().await?, true),
    };
    if alarms.len() > MAX_PAGING_ALARMS {
        refusals.push(format!(
            "{} alarms page in {}; a run watches at most {MAX_PAGING_ALARMS}: list the ones that matter in `pages.alarms`",
            alarms.len(),
            aws.region()
        ));
    }
    let states = aws.alarm_states(&alarms).await?;
    for name in &alarms {
        if !states.iter().any(|a| &a.name == name) {
            refusals.push(format!(
                "paging alarm `{name}` (pages.alarms) does not exist in {}: its pages could never be counted",
                aws.region()
            ));
        }
    }
    if !all {
        let paging = aws.paging_alarms().await?;
        for name in alarms.iter().filter(|n| !paging.contains(n) && states.iter().any(|a| &a.name == *n)) {
            warnings.push(format!(
                "paging alarm `{name}` has no alarm actions, or its actions are disabled: it pages nobody now"
            ));
        }
    }
    let alarming = states.iter().filter(|a| a.state == "ALARM").map(|a| a.name.clone()).collect();
    Ok(Some(Watched { alarms, all, alarming }))
}

/// The engine's pager watch for `watched`.
pub fn spec(s: &Scenario, watched: &Watched, aws: &Aws) -> PagerSpec {
    PagerSpec {
        alarms: watched.alarms.clone(),
        every: interval(s.steady_state.iter().map(|p| p.every.0)),
        max_pages: s.pages.as_ref().and_then(|p| p.max_pages),
        source: Arc::new(CloudWatchAlarms { aws: aws.clone(), all: watched.all }),
    }
}

/// The `plan` lines: what is watched, and what it may cost.
pub fn plan_lines(s: &Scenario, watched: &Watched) -> Vec<String> {
    let mut lines = Vec::new();
    let every = humantime::format_duration(interval(s.steady_state.iter().map(|p| p.every.0)));
    let how = if watched.all { "every alarm with alarm actions enabled" } else { "as listed in `pages.alarms`" };
    lines.push(format!("{} alarm(s), {how}, read every {every}:", watched.alarms.len()));
    for a in &watched.alarms {
        let now = if watched.alarming.contains(a) { " (in ALARM now: already alarming, not a page)" } else { "" };
        lines.push(format!("  - {a}{now}"));
    }
    lines.push(match s.pages.as_ref().and_then(|p| p.max_pages) {
        Some(n) => format!("more than {n} page(s) miss the objective"),
        None => "pages are reported; they do not fail the run (no `max_pages`)".into(),
    });
    lines
}

/// What watching the pages needs: reading the alarms' states and history.
pub fn statements(s: &Scenario) -> Vec<Stmt> {
    let Some(pages) = &s.pages else { return Vec::new() };
    let resources = match &pages.alarms {
        Some(listed) => listed.iter().map(|a| Res::Alarm(a.clone())).collect(),
        None => vec![Res::Alarm("*".into())],
    };
    vec![stmt("ReadPagingAlarms", &["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"], resources, false)]
}

/// The paging alarms in CloudWatch.
pub struct CloudWatchAlarms {
    pub aws: Aws,
    /// Watching every alarm with actions: the history is read in one call for the region
    /// rather than one per alarm.
    pub all: bool,
}

#[async_trait]
impl AlarmSource for CloudWatchAlarms {
    async fn read(&self, names: &[String]) -> Result<Vec<AlarmReading>, String> {
        let states = self.aws.alarm_states(names).await.map_err(|e| e.to_string())?;
        Ok(states.into_iter().map(|a| AlarmReading { name: a.name, state: a.state, reason: a.reason }).collect())
    }

    async fn history(&self, names: &[String], span: Duration) -> Result<Vec<AlarmChange>, String> {
        let now = SystemTime::now();
        let from = now.checked_sub(span).unwrap_or(SystemTime::UNIX_EPOCH);
        let which = if self.all { None } else { Some(names) };
        let items = self.aws.alarm_transitions(which, from, now).await.map_err(|e| e.to_string())?;
        Ok(items
            .into_iter()
            .map(|t| AlarmChange { ago: now.duration_since(t.at).unwrap_or_default(), name: t.name, reason: t.summary })
            .collect())
    }
}
