//! `report.md`: a [`Report`] rendered for humans, short enough for a pull-request comment.
//! Also owns the human duration format (`850ms`, `3.1s`, `2m 5s`) the renderings share.
//!
//! Every string from the run (names, playbook steps, notes and their authors, probe
//! output, errors, resource ids) is escaped for where it lands, so that nothing in it can
//! become Markdown or HTML: inline text and table cells through [`esc`], code spans
//! through [`code`], multi-line blocks through [`fence`]. Control characters never reach
//! the file (a terminal that shows it would obey them).

use super::model::{Effect, FaultReport, Report};
use crate::engine::{ObjectiveKind, Outcome};

pub fn render(r: &Report) -> String {
    let mut o = vec![format!("## {} — {}", verdict(r.outcome), esc(&r.scenario.name)), String::new()];
    still_broken(&mut o, r);
    about(&mut o, r);
    if let Some(reason) = &r.abort_reason {
        o.push(format!("**Abort reason:** {}", esc(reason)));
        o.push(String::new());
    }
    measures(&mut o, r);
    timeline(&mut o, r);
    pages(&mut o, r);
    notes(&mut o, r);
    probes(&mut o, r);
    faults(&mut o, r);
    targets(&mut o, r);
    steps(&mut o, r);
    o.join("\n")
}

fn steps(o: &mut Vec<String>, r: &Report) {
    if !r.steps.is_empty() {
        o.push(String::new());
        o.push("### Playbook steps".into());
        o.push(String::new());
        if let Some(c) = &r.communication {
            let took = c
                .detect_to_last_ms
                .map(|d| format!("; the last one {} after detection", duration(d)))
                .unwrap_or_default();
            o.push(format!("Communication: {} of {} steps done{took}.", c.done, c.planned));
            o.push(String::new());
        }
        o.push("| Step | Who | When | Due | Done | Status |".into());
        o.push("|---|---|---|---|---|---|".into());
        for s in &r.steps {
            let due = s.due_ms.map(at).unwrap_or_else(|| "—".into());
            let done = s.done_ms.map(at).unwrap_or_else(|| "—".into());
            let status = match &s.detail {
                Some(d) => format!("{} ({})", esc(&s.status), esc(d)),
                None => esc(&s.status),
            };
            o.push(format!(
                "| {} ({}): {} | {} | {} + {} | {due} | {done} | {status} |",
                esc(&s.name),
                esc(&s.kind),
                esc(&s.what),
                esc(&s.who),
                esc(&s.on),
                duration(s.after_ms)
            ));
        }
    }
    if !r.notifications.is_empty() {
        o.push(String::new());
        o.push("### Notifications".into());
        o.push(String::new());
        for n in &r.notifications {
            let result = if n.ok {
                format!("delivered ({} attempt(s))", n.attempts)
            } else {
                format!("**FAILED** after {} attempt(s): {}", n.attempts, esc(n.error.as_deref().unwrap_or("?")))
            };
            o.push(format!("- `{}` {} → {}: {result}", at(n.t_ms), esc(&n.event), esc(&n.target)));
        }
    }
}

fn targets(o: &mut Vec<String>, r: &Report) {
    let Some(aws) = &r.aws else { return };
    o.push(String::new());
    o.push("### Targets".into());
    o.push(String::new());
    o.push(format!(
        "Account {} in {} · selection seed {} · {} AWS API calls, {} of them retries",
        esc(&aws.account),
        esc(&aws.region),
        aws.seed,
        aws.api_calls,
        aws.api_retries
    ));
    o.push(String::new());
    o.push("| Target | Type | Matched | Selected |".into());
    o.push("|---|---|---|---|".into());
    for (name, t) in &aws.targets {
        let ids: Vec<String> = t.selected.iter().map(|i| cell_code(i)).collect();
        o.push(format!("| {} | {} | {} | {} |", esc(name), esc(&t.kind), t.matched, ids.join(", ")));
    }
}

/// A span in milliseconds, for humans: `850ms`, `3.1s`, `2m 5s`, `1h 2m`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let tenths = ms.saturating_add(50) / 100;
    if tenths < 600 {
        return match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            t => format!("{}.{t}s", tenths / 10),
        };
    }
    let s = ms.saturating_add(500) / 1000;
    let parts = [(s / 3600, "h"), (s / 60 % 60, "m"), (s % 60, "s")];
    parts.iter().filter(|(n, _)| *n > 0).map(|(n, u)| format!("{n}{u}")).collect::<Vec<_>>().join(" ")
}

/// An offset from the start of the run: `+1.2s`.
fn at(ms: u64) -> String {
    format!("+{}", duration(ms))
}

fn verdict(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "✅ passed",
        Outcome::ObjectiveMissed => "❌ objective missed",
        Outcome::NoImpact => "➖ no impact",
        Outcome::Aborted => "⚠️ aborted",
        Outcome::Blocked => "⏸ blocked",
        Outcome::RevertFailed => "🚨 REVERT FAILED",
    }
}

/// Free text made safe for one line of Markdown, table cells included: line breaks
/// become spaces; `& < >` become entities (no raw HTML, no `<javascript:…>` autolink);
/// the characters that open links, images, code spans and cell borders (`\ ` [ ] |`,
/// and `#` opening the text) are backslash-escaped; control characters become U+FFFD.
/// (Emphasis is left alone: it can only make text bold or italic.)
pub fn esc(s: &str) -> String {
    let s = s.replace("\r\n", "\n");
    let mut o = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '\n' | '\r' | '\t' => o.push(' '),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\\' | '`' | '[' | ']' | '|' => {
                o.push('\\');
                o.push(c);
            }
            '#' if i == 0 => {
                o.push('\\');
                o.push(c);
            }
            c => o.push(one_line(c)),
        }
    }
    o
}

/// `c`, or U+FFFD for a control character (newline and tab included: the callers want
/// one line) or a bidirectional override.
fn one_line(c: char) -> char {
    match crate::util::console::terminal_safe(c.encode_utf8(&mut [0; 4]), false) {
        std::borrow::Cow::Borrowed(_) => c,
        std::borrow::Cow::Owned(_) => '\u{fffd}',
    }
}

/// A code span holding `s` literally, on one line: delimited by more backticks than any
/// run of them inside, and padded with a space where `s` starts or ends with a backtick or
/// a space.
pub fn code(s: &str) -> String {
    let s: String = s.replace("\r\n", " ").chars().map(|c| if c == '\n' { ' ' } else { one_line(c) }).collect();
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with(['`', ' ']) || s.ends_with(['`', ' ']) { " " } else { "" };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// [`code`] for a table cell: `|` escaped too (GFM splits cells on it even inside code
/// spans; it shows as `|`).
pub fn cell_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// The backtick fence for a block holding `s`: longer than any run of backticks in it
/// (at least three), so no line inside can close it.
pub fn fence(s: &str) -> String {
    "`".repeat((longest_run(s, '`') + 1).max(3))
}

fn longest_run(s: &str, c: char) -> usize {
    s.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

fn still_broken(o: &mut Vec<String>, r: &Report) {
    if r.still_broken.is_empty() {
        return;
    }
    o.push("### 🚨 Still broken: a human must act now".into());
    o.push(String::new());
    o.push(format!(
        "These side effects could not be undone and are **still in place**. \
         Retry with {}, or fix each by hand:",
        code(&format!("firedrill recover {}", crate::util::console::quote(&r.run_id)))
    ));
    o.push(String::new());
    for (i, b) in r.still_broken.iter().enumerate() {
        o.push(format!("{}. **{}**, step {}: {}", i + 1, esc(&b.fault), b.step, esc(&b.description)));
        o.push(format!("   - error: {}", esc(&b.error)));
        if b.fix.contains('\n') {
            // Several commands: a shell block inside the list item.
            o.push("   - fix:".into());
            o.push(String::new());
            let fence = fence(&b.fix);
            o.push(format!("     {fence}sh"));
            o.extend(b.fix.lines().map(|l| {
                let l: String = l.chars().map(|c| if c == '\t' { c } else { one_line(c) }).collect();
                format!("     {l}")
            }));
            o.push(format!("     {fence}"));
        } else {
            o.push(format!("   - fix: {}", code(&b.fix)));
        }
    }
    o.push(String::new());
}

fn about(o: &mut Vec<String>, r: &Report) {
    let s = &r.scenario;
    if let Some(d) = &s.description {
        o.push(esc(d));
        o.push(String::new());
    }
    let mut facts = vec![
        format!("Run {}", code(&r.run_id)),
        format!("started {}", esc(&r.started_at)),
        format!("took {}", duration(r.duration_ms)),
        format!("scenario {}", code(&s.file)),
    ];
    if let Some(owner) = &s.owner {
        facts.push(format!("owner {}", esc(owner)));
    }
    if let Some(p) = &s.playbook {
        facts.push(format!("playbook {}", code(p)));
    }
    o.push(facts.join(" · "));
    o.push(String::new());
}

fn measures(o: &mut Vec<String>, r: &Report) {
    let injected = r.t_inject_ms.is_some();
    let no_impact = r.time_to_detect_ms.is_none() && r.time_to_recover_ms == Some(0);
    let detect = match r.time_to_detect_ms {
        _ if !injected => "—".to_string(),
        Some(t) => duration(t),
        None => "not detected".into(),
    };
    let recover = match r.time_to_recover_ms {
        _ if !injected => "—".to_string(),
        Some(_) if no_impact => "0ms (no visible impact)".into(),
        Some(t) if r.objective == ObjectiveKind::Sustain => {
            format!("{} (a probe failed: `sustain` allows no impact)", duration(t))
        }
        Some(t) if t <= r.objective_ms => format!("{} (within the objective)", duration(t)),
        Some(t) => format!("{} (over the objective by {})", duration(t), duration(t - r.objective_ms)),
        None => "never".into(),
    };
    let goal = match r.objective {
        ObjectiveKind::Recover => format!("recover within {}", duration(r.objective_ms)),
        ObjectiveKind::Sustain => "sustain (no probe may fail)".into(),
    };
    let objective = format!(
        "{goal}, then hold for {}{}",
        duration(r.stable_for_ms),
        match (injected, r.objective_met, r.outcome) {
            (false, _, _) => "",
            (true, _, Outcome::NoImpact) if r.nothing_changed() => " — ➖ not tested: no fault changed anything",
            (true, true, _) => " — ✅ met",
            (true, false, Outcome::NoImpact) => " — ➖ not tested: no probe failed",
            (true, false, _) => " — ❌ not met",
        }
    );
    let recovered = match r.recovered_during_fault {
        Some(true) => "during the fault, before the revert",
        Some(false) => "after the revert",
        None if !injected => "—",
        None if no_impact => "no visible impact",
        None => "never",
    };
    let settled = match r.outcome {
        _ if r.settled => format!("yes, for {}", duration(r.stable_for_ms)),
        Outcome::Blocked => "—".into(),
        Outcome::Aborted => "not checked: the run was aborted".into(),
        Outcome::RevertFailed => "not checked: a revert failed".into(),
        Outcome::Passed | Outcome::ObjectiveMissed | Outcome::NoImpact => "no, not within the settle timeout".into(),
    };
    o.extend([
        "| Measure | Value |".to_string(),
        "|---|---|".into(),
        format!("| Time to detect | {detect} |"),
        format!("| Time to recover | {recover} |"),
        format!("| Objective | {objective} |"),
        format!("| Recovered | {recovered} |"),
        format!("| Steady state after the revert | {settled} |"),
        format!("| Precision | ± {} (longest probe interval) |", duration(r.precision_ms)),
    ]);
    if let Some(p) = &r.pages {
        o.push(format!("| Pages | {} |", pages_summary(p)));
    }
    o.push(String::new());
}

/// `pages: 1 (db-page at +2s) — ❌ more than max_pages 0`.
fn pages_summary(p: &super::model::PagesReport) -> String {
    let named: Vec<String> = p.pages.iter().map(|g| format!("{} at {}", code(&g.alarm), at(g.t_ms))).collect();
    let list = if named.is_empty() { String::new() } else { format!(" ({})", named.join(", ")) };
    let verdict = match p.max_pages {
        Some(m) if p.exceeded => format!(" — ❌ more than `max_pages: {m}`"),
        Some(m) => format!(" — ✅ within `max_pages: {m}`"),
        None => " (reported only: no `max_pages`)".into(),
    };
    format!("pages: {}{list}{verdict}", p.count)
}

/// The pager watch: each page, the alarms already alarming, reads that failed, and the
/// history check (omitted when pages were not watched).
fn pages(o: &mut Vec<String>, r: &Report) {
    let Some(p) = &r.pages else { return };
    o.push("### Pages".into());
    o.push(String::new());
    o.push(format!(
        "{}. Watched {} alarm(s) that page, every {}, from before the first injection to the verdict.",
        pages_summary(p),
        p.watched.len(),
        duration(p.every_ms)
    ));
    if let Some(reason) = &p.reason {
        o.push(String::new());
        o.push(format!("**Objective missed:** {}", esc(reason)));
    }
    if !p.pages.is_empty() {
        o.push(String::new());
        o.push("| When | Alarm | Reason | Seen by |".into());
        o.push("|---|---|---|---|".into());
        for g in &p.pages {
            o.push(format!(
                "| `{}` | {} | {} | {} |",
                at(g.t_ms),
                cell_code(&g.alarm),
                esc(&g.reason),
                esc(&g.seen_by)
            ));
        }
    }
    o.push(String::new());
    if !p.already_alarming.is_empty() {
        let names: Vec<String> = p.already_alarming.iter().map(|a| code(a)).collect();
        o.push(format!("- already alarming before the first injection (not pages): {}", names.join(", ")));
    }
    for u in &p.unreadable {
        let which = u.alarm.as_deref().map_or_else(|| "every watched alarm".to_string(), code);
        o.push(format!(
            "- ⚠️ could not read {which} ({} time(s), first at `{}`): {}",
            u.times,
            at(u.first_ms),
            esc(&u.error)
        ));
    }
    o.push(match (&p.history.error, p.history.available) {
        (_, true) => format!("- alarm history checked: {} page(s) the reads missed", p.history.added),
        (Some(e), false) => format!("- history not available: {}", esc(e)),
        (None, false) => "- history not available".into(),
    });
    o.push(String::new());
}

fn timeline(o: &mut Vec<String>, r: &Report) {
    let mut events: Vec<(u64, String)> = Vec::new();
    if let Some(t) = r.baseline.iter().map(|s| s.t_ms).max() {
        let failing: Vec<String> =
            r.baseline.iter().filter(|s| !s.ok).map(|s| format!("{} ({})", esc(&s.probe), esc(&s.detail))).collect();
        let text = if failing.is_empty() {
            format!("baseline: steady state holds ({} probes passed)", r.baseline.len())
        } else {
            format!("baseline: steady state does not hold, failing: {}", failing.join(", "))
        };
        events.push((t, text));
    }
    for f in &r.faults {
        if let Some(t) = f.inject_started_at_ms {
            let text = match &f.inject_error {
                Some(e) => format!("inject {} started — failed: {}", code(&f.name), esc(e)),
                None => format!("inject {} started", code(&f.name)),
            };
            events.push((t, text));
        }
        if let Some(t) = f.injected_at_ms {
            events.push((t, format!("inject {} confirmed", code(&f.name))));
        }
    }
    if let (Some(t0), Some(ttd)) = (r.t_inject_ms, r.time_to_detect_ms) {
        let t = t0.saturating_add(ttd);
        let text = match r.samples.iter().find(|s| !s.ok && s.t_ms >= t0) {
            Some(s) => format!("detected: {} failing ({})", code(&s.probe), esc(&s.detail)),
            None => "detected: first failing sample".into(),
        };
        events.push((t, text));
    }
    if let (Some(t0), Some(ttr)) = (r.t_inject_ms, r.time_to_recover_ms) {
        let text = match r.time_to_detect_ms {
            Some(_) => format!("recovered: every probe passing for at least {}", duration(r.stable_for_ms)),
            None => "no visible impact: no probe failed".into(),
        };
        events.push((t0.saturating_add(ttr), text));
    }
    // With several faults, each one's own detection and recovery (the failures that belong
    // to it: docs/report.md, "Per-fault times").
    for f in r.faults.iter().filter(|_| r.faults.len() > 1) {
        let Some(t0) = f.injected_at_ms else { continue };
        if let Some(d) = f.time_to_detect_ms {
            let text = match r.samples.iter().find(|s| s.fault.as_deref() == Some(f.name.as_str())) {
                Some(s) => format!("{} detected: {} failing ({})", code(&f.name), code(&s.probe), esc(&s.detail)),
                None => format!("{} detected", code(&f.name)),
            };
            events.push((t0.saturating_add(d), text));
        }
        if let Some(t) = f.time_to_recover_ms {
            events.push((t0.saturating_add(t), format!("{} recovered", code(&f.name))));
        }
    }
    for f in &r.faults {
        if let Some(t) = f.revert_started_at_ms {
            let text = match &f.revert_error {
                Some(e) => format!("revert {} started — FAILED after {}: {}", code(&f.name), attempts(f), esc(e)),
                None => format!("revert {} started", code(&f.name)),
            };
            events.push((t, text));
        }
        if let Some(t) = f.reverted_at_ms {
            events.push((t, format!("revert {} done after {}", code(&f.name), attempts(f))));
        }
    }
    for n in r.notes.iter().filter(|n| !n.after_end) {
        events.push((n.t_ms, format!("📝 note by {}: {}", esc(&n.author), esc(&n.text))));
    }
    events.sort_by_key(|(t, _)| *t);

    o.push("### Timeline".into());
    o.push(String::new());
    o.extend(events.into_iter().map(|(t, text)| format!("- `{}` {text}", at(t))));
    // The record has no abort time: the abort is listed untimed, before the end.
    if let (Some(reason), false) = (&r.abort_reason, r.outcome == Outcome::Blocked) {
        o.push(format!("- ⚠️ aborted: {}", esc(reason)));
    }
    o.push(format!("- `{}` end: {}", at(r.duration_ms), r.outcome.as_str()));
    for n in r.notes.iter().filter(|n| n.after_end) {
        o.push(format!("- `{}` 📝 note by {} (after the end): {}", at(n.t_ms), esc(&n.author), esc(&n.text)));
    }
    o.push(String::new());
}

/// Every observer note, by time, with its wall-clock time (omitted when there are none).
fn notes(o: &mut Vec<String>, r: &Report) {
    if r.notes.is_empty() {
        return;
    }
    o.push("### Notes".into());
    o.push(String::new());
    o.push("| When | Author | Note |".into());
    o.push("|---|---|---|".into());
    for n in &r.notes {
        let after = if n.after_end { " (after the end)" } else { "" };
        o.push(format!("| `{}` {}{after} | {} | {} |", at(n.t_ms), esc(&n.at), esc(&n.author), esc(&n.text)));
    }
    o.push(String::new());
}

/// How a fault's revert went: its steps, and its retries only when there were any
/// (`revert_attempts` counts one attempt per step, retries included).
fn attempts(f: &FaultReport) -> String {
    let plural = |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let steps = plural(f.steps, "step", "steps");
    match f.revert_attempts.saturating_sub(f.steps) {
        0 => steps,
        r => format!(
            "{} for {steps} ({})",
            plural(f.revert_attempts, "attempt", "attempts"),
            plural(r, "retry", "retries")
        ),
    }
}

fn probes(o: &mut Vec<String>, r: &Report) {
    o.push("### Probes".into());
    o.push(String::new());
    o.push("| Probe | Kind | Target | Every | Samples | Failures | Final state |".into());
    o.push("|---|---|---|---|---|---|---|".into());
    for p in &r.probes {
        let failures = match (p.first_failure_ms, p.last_failure_ms) {
            (Some(a), Some(b)) if a == b => format!("{} (`{}`)", p.failures, at(a)),
            (Some(a), Some(b)) => format!("{} (`{}` … `{}`)", p.failures, at(a), at(b)),
            _ => p.failures.to_string(),
        };
        let last = match p.final_ok {
            Some(true) => "✅ passing",
            Some(false) => "❌ failing",
            None => "— never checked",
        };
        o.push(format!(
            "| {} | {} | {} | {} | {} | {failures} | {last} |",
            esc(&p.name),
            esc(&p.kind),
            esc(&p.target),
            duration(p.every_ms),
            p.samples
        ));
    }
    o.push(String::new());
}

/// A fault's own time to detect and to recover, after its injection (docs/report.md,
/// "Per-fault times").
fn fault_times(f: &FaultReport) -> (String, String) {
    if f.injected_at_ms.is_none() {
        return ("—".into(), "—".into());
    }
    match (f.time_to_detect_ms, f.time_to_recover_ms) {
        (None, _) => ("no impact of its own".into(), "—".into()),
        (Some(d), Some(t)) => (format!("after {}", duration(d)), format!("after {}", duration(t))),
        (Some(d), None) => (format!("after {}", duration(d)), "**not recovered**".into()),
    }
}

fn faults(o: &mut Vec<String>, r: &Report) {
    o.push("### Faults and reverts".into());
    o.push(String::new());
    if r.faults.is_empty() {
        o.push("No faults.".into());
        o.push(String::new());
        return;
    }
    o.push("| Fault | Kind | Injected | Reverted | Steps | Revert attempts | Detected | Recovered |".into());
    o.push("|---|---|---|---|---|---|---|---|".into());
    for f in &r.faults {
        let injected = match (f.inject_started_at_ms, f.injected_at_ms, &f.inject_error) {
            (None, ..) => "not injected".to_string(),
            (Some(s), _, Some(e)) => format!("`{}` failed: {}", at(s), esc(e)),
            (Some(s), Some(c), None) => format!("`{}`, confirmed `{}`", at(s), at(c)),
            (Some(s), None, None) => format!("`{}`, unconfirmed", at(s)),
        };
        let reverted = match (f.revert_started_at_ms, f.reverted_at_ms, &f.revert_error) {
            (None, ..) if f.steps == 0 => "nothing to revert".to_string(),
            (None, ..) => "**not reverted**".into(),
            (Some(s), _, Some(e)) => format!("`{}` **FAILED**: {}", at(s), esc(e)),
            (Some(s), Some(d), None) => format!("`{}`, done `{}`", at(s), at(d)),
            (Some(s), None, None) => format!("`{}`, unfinished", at(s)),
        };
        let steps = match f.effect {
            Some(Effect::None) => format!("{} (**no effect**: nothing to do)", f.steps),
            Some(Effect::Skipped) => format!("{} (skipped: nothing to do)", f.steps),
            _ => f.steps.to_string(),
        };
        let (detected, recovered) = fault_times(f);
        o.push(format!(
            "| {} | {} | {injected} | {reverted} | {steps} | {} | {detected} | {recovered} |",
            esc(&f.name),
            esc(&f.kind),
            f.revert_attempts
        ));
    }
    o.push(String::new());
    // What each fault actually hit, and what became of it.
    for f in r.faults.iter().filter(|f| !f.changes.is_empty()) {
        o.push(format!("Hit by `{}`:", esc(&f.name)));
        o.extend(f.changes.iter().map(|c| format!("- {}", esc(&c.line()))));
        o.push(String::new());
    }
    // What each fault was planned to act on (az_outage: every part, applying or not).
    for f in r.faults.iter().filter(|f| !f.plan.is_empty()) {
        o.push(format!("Plan of `{}`:", esc(&f.name)));
        o.extend(f.plan.iter().map(|l| format!("- {}", esc(l.trim_start()))));
        o.push(String::new());
    }
}
