//! The audit for people: the terminal summary (the estate per region and zone, then
//! each finding) and the Markdown report. Names come from AWS (tags, alarm names): they
//! reach the terminal through the command's output, made safe there like every command's,
//! and are escaped for Markdown.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{AuditDoc, Finding, RegionEstate};
use crate::report::markdown::esc as md;

/// What each zone of a region holds, counted: zone → [(what, n)].
pub fn per_zone(r: &RegionEstate) -> BTreeMap<String, Vec<(&'static str, usize)>> {
    let mut m: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let mut add = |zone: &str, what: &'static str| {
        if !zone.is_empty() {
            *m.entry(zone.to_string()).or_default().entry(what).or_default() += 1;
        }
    };
    for i in &r.instances {
        add(&i.zone, "instances");
    }
    for v in &r.volumes {
        add(&v.zone, "volumes");
    }
    for s in &r.subnets {
        add(&s.zone, "subnets");
    }
    for n in &r.nat_gateways {
        add(&n.zone, "NAT gateways");
    }
    for d in &r.db_instances {
        add(d.zone.as_deref().unwrap_or_default(), "DB instances");
    }
    for c in &r.caches {
        for n in &c.nodes {
            add(n.zone.as_deref().unwrap_or_default(), "cache nodes");
        }
    }
    for z in &r.zones {
        m.entry(z.clone()).or_default();
    }
    m.into_iter().map(|(z, c)| (z, c.into_iter().collect())).collect()
}

fn counts(c: &[(&str, usize)]) -> String {
    if c.is_empty() {
        return "nothing".into();
    }
    c.iter().map(|(w, n)| format!("{n} {w}")).collect::<Vec<_>>().join(", ")
}

fn location(f: &Finding) -> String {
    match (&f.region, &f.zone) {
        (Some(r), Some(z)) if z.starts_with(r.as_str()) => z.clone(),
        (Some(r), Some(z)) => format!("{r}/{z}"),
        (Some(r), None) => r.clone(),
        (None, Some(z)) => z.clone(),
        (None, None) => "global".into(),
    }
}

/// The terminal summary.
pub fn text(doc: &AuditDoc) -> String {
    let mut s = String::new();
    let tags = if doc.tags.is_empty() {
        "everything".to_string()
    } else {
        doc.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    };
    let _ = writeln!(s, "Audit of account {} ({})", doc.account, tags);
    for r in &doc.regions {
        let _ = writeln!(
            s,
            "\n{}: {} group(s), {} load balancer(s), {} DB cluster(s), {} alarm(s)",
            r.region,
            r.groups.len(),
            r.load_balancers.len(),
            r.db_clusters.len(),
            r.alarms.len()
        );
        for (zone, c) in per_zone(r) {
            let _ = writeln!(s, "  {zone}: {}", counts(&c));
        }
    }
    if !doc.roles.is_empty() || !doc.users.is_empty() {
        let _ = writeln!(s, "\nIAM: {} role(s), {} user(s)", doc.roles.len(), doc.users.len());
    }
    if doc.findings.is_empty() {
        let _ = writeln!(s, "\nNo findings.");
    } else {
        let _ = writeln!(s, "\n{} finding(s):", doc.findings.len());
        for f in &doc.findings {
            let _ = writeln!(s, "\n[{}] {} ({}): {}", f.severity.as_str(), f.kind.as_str(), location(f), f.summary);
            let _ = writeln!(s, "  id: {}", f.id);
            let _ = writeln!(s, "  why: {}", f.why);
            let _ = writeln!(s, "  fix: {}", f.fix);
        }
    }
    if !doc.accepted.is_empty() {
        let _ = writeln!(s, "\nAccepted by the baseline:");
        for a in &doc.accepted {
            let _ = writeln!(s, "  {} until {}: {}", a.finding.id, a.expires, a.reason);
        }
    }
    s
}

/// The Markdown report.
pub fn markdown(doc: &AuditDoc) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Audit of account {}\n", doc.account);
    if !doc.tags.is_empty() {
        let tags: Vec<String> = doc.tags.iter().map(|(k, v)| format!("`{}={}`", md(k), md(v))).collect();
        let _ = writeln!(s, "Estate: resources tagged {}.\n", tags.join(", "));
    }
    let _ = writeln!(s, "## Findings\n");
    if doc.findings.is_empty() {
        let _ = writeln!(s, "None.\n");
    } else {
        let _ = writeln!(s, "| severity | kind | where | resources | finding | fix |");
        let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- |");
        for f in &doc.findings {
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {} | {} — {} | {} |",
                f.severity.as_str(),
                f.kind.as_str(),
                md(&location(f)),
                f.resources.iter().map(|r| md(r)).collect::<Vec<_>>().join(", "),
                md(&f.summary),
                md(&f.why),
                md(&f.fix)
            );
        }
        s.push('\n');
    }
    if !doc.accepted.is_empty() {
        let _ = writeln!(s, "## Accepted risks\n");
        let _ = writeln!(s, "| finding | until | reason |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for a in &doc.accepted {
            let _ = writeln!(s, "| {} | {} | {} |", md(&a.finding.id), md(&a.expires), md(&a.reason));
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Estate\n");
    for r in &doc.regions {
        let _ = writeln!(s, "### {}\n", md(&r.region));
        let _ = writeln!(s, "| zone | holds |");
        let _ = writeln!(s, "| --- | --- |");
        for (zone, c) in per_zone(r) {
            let _ = writeln!(s, "| {} | {} |", md(&zone), md(&counts(&c)));
        }
        s.push('\n');
        for g in &r.groups {
            let _ = writeln!(
                s,
                "- group {}: min {}, desired {}, subnets {} ({})",
                md(&g.name),
                g.min,
                g.desired,
                md(&g.subnets.join(", ")),
                md(&g.zones.join(", "))
            );
        }
        for l in &r.load_balancers {
            let zones: Vec<&str> = l.subnets.values().map(String::as_str).collect();
            let _ = writeln!(s, "- load balancer {} ({}): {}", md(&l.name), md(&l.kind), md(&zones.join(", ")));
        }
        for c in &r.db_clusters {
            let members: Vec<String> = c
                .members
                .iter()
                .map(|m| {
                    format!(
                        "{} {} in {}",
                        if m.writer { "writer" } else { "reader" },
                        m.id,
                        m.zone.as_deref().unwrap_or("?")
                    )
                })
                .collect();
            let _ = writeln!(s, "- DB cluster {}: {}", md(&c.id), md(&members.join("; ")));
        }
        for n in &r.nat_gateways {
            let _ = writeln!(s, "- NAT gateway {} in {}", md(&n.id), md(&n.zone));
        }
        for a in &r.alarms {
            let _ = writeln!(s, "- alarm {}: {} action(s)", md(&a.name), a.alarm_actions.len());
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Kind, Severity};

    /// A name from AWS cannot break the Markdown table or inject markup.
    #[test]
    fn markdown_escapes_names_from_aws() {
        let doc = AuditDoc {
            audit_version: 1,
            account: "1".into(),
            tags: Default::default(),
            regions: vec![],
            roles: vec![],
            users: vec![],
            findings: vec![Finding {
                id: "alarm_without_action:a|b".into(),
                kind: Kind::AlarmWithoutAction,
                severity: Severity::Medium,
                region: Some("r".into()),
                zone: None,
                resources: vec!["a|b<img src=x>".into()],
                summary: "alarm [x](javascript:1) has no alarm action".into(),
                why: "w".into(),
                fix: "f".into(),
            }],
            accepted: vec![],
        };
        let md = markdown(&doc);
        let row = md.lines().find(|l| l.starts_with("| medium")).unwrap();
        assert_eq!(row.matches(" | ").count(), 5, "six cells, five borders between them: {row}");
        assert!(row.contains(r"a\|b&lt;img src=x&gt;") && row.contains(r"\[x\](javascript:1)"), "{row}");
    }
}
