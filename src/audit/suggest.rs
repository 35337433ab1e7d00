//! `audit --suggest DIR`: for each finding a drill can test, a scenario (and a playbook
//! stub beside it) that passes `firedrill validate`: the fault that reproduces the risk
//! (an `az_outage` of the zone a group or fleet hangs on, an `rds_failover` of a cluster
//! with no reader elsewhere, an `ebs_detach_volumes` of the one-zone data, an
//! `az_outage` of the NAT gateway's subnet, an `iam_revoke_credentials` of the user with
//! an old key) against exactly the resources of the finding (by id), and a probe of the
//! capacity the finding says is at risk. Nothing runs: the files are for the team to
//! review, adjust (the probes above all) and run as a game day.
//!
//! Findings no fault of firedrill reproduces (an alarm without action, a wildcard
//! policy, a single region, a single-zone cache, a standalone RDS instance, which cannot
//! fail over) get no scenario; [`suggest`] says which and why.

use std::fmt::Write;

use super::{AuditDoc, Finding, Kind, RegionEstate};
use crate::scenario::OptInTag;

/// A suggested drill: file names (in the output directory) and their text.
#[derive(Debug, Clone)]
pub struct Suggestion {
    pub finding: String,
    pub scenario_file: String,
    pub scenario: String,
    pub playbook_file: String,
    pub playbook: String,
}

/// The scenarios for `doc`'s findings, and for the others why there is none.
pub fn suggest(doc: &AuditDoc, opt_in: &OptInTag) -> (Vec<Suggestion>, Vec<(String, &'static str)>) {
    let mut made = Vec::new();
    let mut none = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for f in &doc.findings {
        // Two ids can make the same slug (`a|b` and `a-b`): the later one gets a number,
        // so no suggestion overwrites another in DIR.
        let base = format!("audit-{}", slug(&f.id));
        let mut name = base.clone();
        for n in 2.. {
            if names.insert(name.clone()) {
                break;
            }
            name = format!("{base}-{n}");
        }
        match drill(doc, f, opt_in, &name) {
            Ok(s) => made.push(s),
            Err(why) => none.push((f.id.clone(), why)),
        }
    }
    (made, none)
}

/// Text from AWS (a resource name may hold a line break) made safe for one YAML
/// comment line: every control or line-separator character becomes a space, so nothing
/// after it can become a key of the suggested scenario.
fn comment(s: &str) -> String {
    s.chars().map(|c| if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') { ' ' } else { c }).collect()
}

/// A file-name-safe form of an id: lower-case letters, digits and `-`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(54).collect::<String>().trim_end_matches('-').to_string()
}

/// A YAML double-quoted string.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| q(i)).collect::<Vec<_>>().join(", "))
}

struct Parts {
    description: String,
    targets: String,
    probe: String,
    fault: String,
    recovery: &'static str,
}

const RECOVER: &str = "recovery:\n  within: 5m\n  stable_for: 30s\n  settle_timeout: 10m\n";
const SUSTAIN: &str = "recovery:\n  # Nothing should break: the system must absorb the fault.\n  objective: sustain\n  stable_for: 30s\n  settle_timeout: 5m\n";

/// A probe of the estate's running instances, when the estate has any.
fn fleet_probe(doc: &AuditDoc, r: &RegionEstate) -> Result<String, &'static str> {
    if let Some(g) = r.groups.first() {
        return Ok(format!(
            "  - name: capacity\n    asg_capacity: {{ group: {}, min_healthy: {} }}\n    every: 5s\n",
            q(&g.name),
            g.min.max(1)
        ));
    }
    if r.instances.is_empty() || doc.tags.is_empty() {
        return Err("no Auto Scaling group or tagged instance to watch");
    }
    let tags: Vec<String> = doc.tags.iter().map(|(k, v)| format!("{}: {}", q(k), q(v))).collect();
    Ok(format!("  - name: fleet\n    ec2_running: {{ tags: {{ {} }}, min: 1 }}\n    every: 5s\n", tags.join(", ")))
}

fn drill(doc: &AuditDoc, f: &Finding, opt_in: &OptInTag, name: &str) -> Result<Suggestion, &'static str> {
    let region = match &f.region {
        Some(r) => doc.regions.iter().find(|e| &e.region == r),
        None => doc.regions.first(),
    }
    .ok_or("no region to run it in")?;
    let main = f.resources.first().cloned().unwrap_or_default();
    let zone = f.zone.clone().unwrap_or_default();
    let parts = match f.kind {
        Kind::AsgSingleAz | Kind::ZoneLossBelowCapacity => {
            if let Some(g) = region.groups.iter().find(|g| g.name == main) {
                let subnets: Vec<String> = region
                    .subnets
                    .iter()
                    .filter(|s| s.zone == zone && g.subnets.contains(&s.id))
                    .map(|s| s.id.clone())
                    .collect();
                let instances: Vec<String> =
                    g.instances.iter().filter(|(_, z)| **z == zone).map(|(i, _)| i.clone()).collect();
                let mut targets =
                    format!("  group:\n    type: autoscaling:group\n    ids: [{}]\n    max: 1\n", q(&g.name));
                let mut names = vec!["group"];
                if !subnets.is_empty() {
                    let _ = write!(targets, "  subnets:\n    type: ec2:subnet\n    ids: {}\n", list(&subnets));
                    names.push("subnets");
                }
                if !instances.is_empty() {
                    let _ = write!(targets, "  instances:\n    type: ec2:instance\n    ids: {}\n", list(&instances));
                    names.push("instances");
                }
                Parts {
                    description: format!(
                        "Group {} keeps at least {} healthy instance(s) when {zone} is lost.",
                        g.name, g.min
                    ),
                    targets,
                    probe: format!(
                        "  - name: capacity\n    asg_capacity: {{ group: {}, min_healthy: {} }}\n    every: 5s\n",
                        q(&g.name),
                        g.min.max(1)
                    ),
                    fault: format!(
                        "  - name: lose-{}\n    az_outage:\n      zone: {}\n      targets: [{}]\n      network: {}\n      stop_instances: {}\n      asg: remove_zone\n    duration: 5m\n",
                        slug(&zone),
                        q(&zone),
                        names.join(", "),
                        !subnets.is_empty(),
                        !instances.is_empty()
                    ),
                    recovery: RECOVER,
                }
            } else {
                // The tagged fleet outside any group: stop its instances in the zone.
                let instances: Vec<String> = f.resources.clone();
                Parts {
                    description: format!("The tagged instances keep serving when {zone} is lost."),
                    targets: format!("  instances:\n    type: ec2:instance\n    ids: {}\n", list(&instances)),
                    probe: fleet_probe(doc, region)?,
                    fault: format!(
                        "  - name: lose-{}\n    az_outage:\n      zone: {}\n      targets: [instances]\n      stop_instances: true\n    duration: 5m\n",
                        slug(&zone),
                        q(&zone)
                    ),
                    recovery: RECOVER,
                }
            }
        }
        Kind::RdsSingleAz => {
            if !region.db_clusters.iter().any(|c| c.id == main) {
                return Err(
                    "a standalone RDS instance without Multi-AZ has nothing to fail over to: no drill, enable Multi-AZ",
                );
            }
            Parts {
                description: format!("Cluster {main} fails over and the application reconnects."),
                targets: format!("  db:\n    type: rds:cluster\n    ids: [{}]\n    max: 1\n", q(&main)),
                probe: format!("  - name: db\n    rds_status: {{ cluster: {} }}\n    every: 5s\n", q(&main)),
                fault: "  - name: fail-over\n    rds_failover: { target: db }\n    duration: 1m\n".into(),
                recovery: RECOVER,
            }
        }
        Kind::VolumeDataSingleAz => {
            let attached: Vec<String> = region
                .volumes
                .iter()
                .filter(|v| f.resources.contains(&v.id) && !v.attached_to.is_empty())
                .map(|v| v.id.clone())
                .collect();
            if attached.is_empty() {
                return Err("none of the volumes is attached: detaching them tests nothing");
            }
            Parts {
                description: format!("The service keeps its data available when the volumes in {zone} go away."),
                targets: format!("  data:\n    type: ec2:volume\n    ids: {}\n", list(&attached)),
                probe: fleet_probe(doc, region)?,
                fault: "  - name: detach-data\n    ebs_detach_volumes: { target: data }\n    duration: 5m\n".into(),
                recovery: SUSTAIN,
            }
        }
        Kind::NatSingleAz => {
            let nat =
                region.nat_gateways.iter().find(|n| n.id == main).ok_or("the NAT gateway is not in the estate")?;
            Parts {
                description: format!(
                    "The other zones keep their way out when NAT gateway {} ({zone}) is cut off.",
                    nat.id
                ),
                targets: format!("  nat-subnet:\n    type: ec2:subnet\n    ids: [{}]\n    max: 1\n", q(&nat.subnet)),
                probe: format!(
                    "  # Replace with a probe of what the other zones reach through the NAT gateway.\n{}",
                    fleet_probe(doc, region)?
                ),
                fault: format!(
                    "  - name: cut-{}\n    az_outage:\n      zone: {}\n      targets: [nat-subnet]\n      network: true\n    duration: 5m\n",
                    slug(&nat.id),
                    q(&zone)
                ),
                recovery: SUSTAIN,
            }
        }
        Kind::IamAccessKeyOld => {
            let user = f.resources.get(1).cloned().ok_or("the finding names no user")?;
            Parts {
                description: format!(
                    "Nothing breaks when user {user}'s access keys are deactivated (rotation rehearsal)."
                ),
                targets: format!("  user:\n    type: iam:user\n    ids: [{}]\n    max: 1\n", q(&user)),
                probe: fleet_probe(doc, region)?,
                fault: "  - name: deactivate-keys\n    iam_revoke_credentials: { target: user }\n    duration: 10m\n"
                    .into(),
                recovery: SUSTAIN,
            }
        }
        Kind::AlarmWithoutAction => return Err("a missing alarm action is a configuration fix, not a drill"),
        Kind::IamWildcardPolicy => return Err("a wildcard policy is a configuration fix, not a drill"),
        Kind::SingleRegion => return Err("a region-wide loss needs a recovery plan first; no drill is suggested"),
        Kind::CacheSingleAz => return Err("firedrill has no ElastiCache fault"),
    };
    let playbook_file = format!("{name}.md");
    let mut s = String::new();
    let _ = writeln!(s, "# Suggested by `firedrill audit` for finding {}:", comment(&f.id));
    let _ = writeln!(s, "# {}", comment(&f.summary));
    let _ = writeln!(s, "# Review every target and probe before running it.");
    let _ = writeln!(s, "version: 1\nname: {}\ndescription: {}", q(name), q(&parts.description));
    let _ = writeln!(
        s,
        "environment:\n  region: {}\n  accounts: [{}]\n  opt_in_tag: {{ key: {}, value: {} }}",
        q(&region.region),
        q(&doc.account),
        q(&opt_in.key),
        q(&opt_in.value)
    );
    let _ = write!(s, "targets:\n{}", parts.targets);
    let _ = write!(s, "steady_state:\n{}", parts.probe);
    let _ = write!(s, "faults:\n{}", parts.fault);
    let _ = writeln!(s, "abort:\n  - max_duration: 30m");
    s.push_str(parts.recovery);
    let _ = writeln!(s, "playbook: {}", q(&playbook_file));
    let playbook = format!(
        "---\nsteps:\n  - name: open-call\n    what: Open the game-day channel, roll call, read the abort criteria aloud\n    who: incident-commander\n    on: start\n  - name: scribe-detect\n    what: Write down when and how the impact was first seen\n    who: scribe\n    on: detect\n  - name: all-clear\n    what: Confirm every fault is reverted and post the all-clear\n    who: incident-commander\n    on: end\n---\n# Playbook: {name}\n\nThe finding this drill tests: {} ({}).\n\n{}\n\nHypothesis: {}\n\nFill in who watches which dashboard, who to tell, and when to abort.\n",
        comment(&f.id),
        f.severity.as_str(),
        comment(&f.why),
        comment(&parts.description)
    );
    Ok(Suggestion {
        finding: f.id.clone(),
        scenario_file: format!("{name}.yaml"),
        scenario: s,
        playbook_file,
        playbook,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::audit::AuditGroup;

    fn group(name: &str) -> AuditGroup {
        AuditGroup {
            name: name.into(),
            subnets: vec!["subnet-a".into()],
            zones: vec!["us-east-1a".into()],
            min: 1,
            desired: 1,
            max: 2,
            instances: [("i-1".to_string(), "us-east-1a".to_string())].into(),
            tags: Default::default(),
        }
    }

    /// Names come from AWS and may hold line breaks: none of them can add a key (here a
    /// webhook) to a suggested scenario; ids that make the same slug get distinct files;
    /// a long name still makes a valid scenario name.
    #[test]
    fn names_from_aws_cannot_add_keys_collide_or_overflow_a_suggested_scenario() {
        let evil = "i\nnotify: [{webhook: {url: 'https://a.io/h'}, on: [end]}]\n#";
        let names = [evil, "md|pipe", "md-pipe", &"x".repeat(200)];
        let region = RegionEstate {
            region: "us-east-1".into(),
            groups: names.iter().map(|n| group(n)).collect(),
            ..Default::default()
        };
        let mut doc = AuditDoc {
            audit_version: 1,
            account: "123456789012".into(),
            tags: Default::default(),
            regions: vec![region],
            roles: vec![],
            users: vec![],
            findings: vec![],
            accepted: vec![],
        };
        let opts = super::super::Options { tags: Default::default(), key_max_age_days: 90, fleet_min: 1, now: 0 };
        doc.findings = super::super::findings::find(&doc, &opts);
        let opt_in = OptInTag { key: "firedrill".into(), value: "allowed".into() };
        let (made, _) = suggest(&doc, &opt_in);
        assert!(made.len() >= names.len(), "{made:?}");
        let files: std::collections::BTreeSet<&str> = made.iter().map(|s| s.scenario_file.as_str()).collect();
        assert_eq!(files.len(), made.len(), "one file per suggestion: {files:?}");
        let dir = tempfile::tempdir().unwrap();
        for s in &made {
            assert!(!s.scenario.contains("\nnotify"), "{}", s.scenario);
            std::fs::write(dir.path().join(&s.playbook_file), &s.playbook).unwrap();
            let loaded = crate::scenario::load::load_str(&s.scenario, dir.path());
            let (scenario, _) = loaded.unwrap_or_else(|e| panic!("{e:?}\n{}", s.scenario));
            assert!(scenario.notify.is_empty(), "{}", s.scenario);
            assert!(scenario.name.chars().count() <= 64, "{}", scenario.name);
        }
    }
}
