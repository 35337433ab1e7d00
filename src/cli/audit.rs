//! `firedrill audit`: the read-only map of the tagged estate and its single points of
//! failure ([`crate::audit`]). It reads each `--region` (default: the standard chain's)
//! in the declared `--account` (checked against the credentials in every region, as
//! `recover --sweep` does; without it, the credentials' account, which is printed),
//! changes nothing, and prints the estate and its findings as text, JSON, Markdown or a
//! self-contained HTML page. `--fail-on SEVERITY` makes it a gate (exit 10 when an open
//! finding is that bad or worse); `--baseline FILE` accepts known risks until a date;
//! `--suggest DIR` writes a scenario and playbook stub per finding a drill can test.

use std::path::PathBuf;

use super::Error;
use crate::audit::{self, AuditDoc, Options, Severity};
use crate::aws::{Aws, AwsOpts, Tags};
use crate::util::console::Console;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum AuditFormat {
    /// A summary per region and zone, then each finding.
    Text,
    /// The estate and the findings (schema/audit.schema.json).
    Json,
    /// A Markdown report.
    Md,
    /// One self-contained page with an SVG map of the estate.
    Html,
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// Only resources carrying this tag (KEY=VALUE; repeat: all must match), with what
    /// they depend on. Without it, everything in the region.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// The AWS account to audit (12 digits); the credentials must be for it.
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: AuditFormat,
    /// Exit 10 when an open finding (not accepted by --baseline) is this severe or worse.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Known risks to accept: a YAML file of `accept: [{id, reason, expires}]`.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write a scenario and playbook stub per finding a drill can test into DIR.
    #[arg(long, value_name = "DIR")]
    pub suggest: Option<PathBuf>,
    /// The opt-in tag the suggested scenarios declare (KEY=VALUE).
    #[arg(long, value_name = "KEY=VALUE", default_value = "firedrill=allowed")]
    pub opt_in_tag: String,
    /// Active access keys older than this many days are findings.
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub key_max_age: u64,
    /// How many of the tagged instances outside any Auto Scaling group must survive the
    /// loss of a zone.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub fleet_min: u32,
}

fn key_value(flag: &str, text: &str) -> Result<(String, String), Error> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(Error::Usage(format!("{flag} {text:?}: give it as KEY=VALUE, e.g. app=shop"))),
    }
}

pub async fn audit(shell: &Console, opts: &AwsOpts, regions: &[String], args: AuditArgs) -> Result<(), Error> {
    let tags: Tags = args.tags.iter().map(|t| key_value("--tag", t)).collect::<Result<_, _>>()?;
    let (key, value) = key_value("--opt-in-tag", &args.opt_in_tag)?;
    let opt_in = crate::scenario::OptInTag { key, value };
    if let Some(a) = &args.account
        && !(a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Error::Usage(format!("--account {a:?}: an AWS account id is 12 digits")));
    }
    let baseline = match &args.baseline {
        Some(p) => audit::baseline::load(p).map_err(Error::Invalid)?,
        None => Vec::new(),
    };

    // One client per region, each checked against the declared account.
    let mut wanted: Vec<Option<String>> = regions.iter().cloned().map(Some).collect();
    if wanted.is_empty() {
        wanted.push(None);
    }
    let mut account = args.account.clone();
    let mut clients = Vec::new();
    for r in wanted {
        let o = AwsOpts { region: r, ..opts.clone() };
        let aws = Aws::connect(&o, None).await.map_err(|e| Error::Failed(format!("cannot set up AWS access: {e}")))?;
        let caller =
            aws.account().await.map_err(|e| Error::Failed(format!("cannot read the caller's account: {e}")))?;
        match &account {
            Some(a) if *a != caller => {
                return Err(Error::Refused(vec![format!(
                    "the credentials are for account {caller}, not the declared --account {a} (region {}): refusing to read it",
                    aws.region()
                )]));
            }
            Some(_) => {}
            None => account = Some(caller),
        }
        if clients.iter().any(|c: &Aws| c.region() == aws.region()) {
            continue;
        }
        clients.push(aws);
    }
    let account = account.unwrap_or_default();
    if args.account.is_none() {
        shell.status("Auditing", format!("account {account} (the credentials'; pass --account to require it)"));
    }

    let mut doc = AuditDoc {
        audit_version: audit::AUDIT_VERSION,
        account,
        tags: tags.clone(),
        regions: Vec::new(),
        roles: Vec::new(),
        users: Vec::new(),
        findings: Vec::new(),
        accepted: Vec::new(),
    };
    let mut profiles = std::collections::BTreeSet::new();
    for aws in &clients {
        shell.status("Reading", format!("{} in {}", describe(&tags), aws.region()));
        let (estate, p) = audit::collect(aws, &tags)
            .await
            .map_err(|e| Error::Failed(format!("cannot read the estate in {}: {e}", aws.region())))?;
        profiles.extend(p);
        doc.regions.push(estate);
    }
    if let Some(aws) = clients.first() {
        let (roles, users) = audit::collect_iam(aws, &profiles, &tags)
            .await
            .map_err(|e| Error::Failed(format!("cannot read IAM: {e}")))?;
        doc.roles = roles;
        doc.users = users;
    }

    let now = jiff::Timestamp::now();
    let options = Options { tags, key_max_age_days: args.key_max_age, fleet_min: args.fleet_min, now: now.as_second() };
    let found = audit::findings::find(&doc, &options);
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let applied = audit::baseline::apply(found, &baseline, today);
    for e in &applied.expired {
        shell.warn(format!("baseline: {} expired on {}; it counts again ({})", e.id, e.expires, e.reason));
    }
    for e in &applied.stale {
        shell.warn(format!("baseline: {} matches no finding any more; remove it", e.id));
    }
    doc.findings = applied.open;
    doc.accepted = applied.accepted;

    if let Some(dir) = &args.suggest {
        write_suggestions(shell, dir, &doc, &opt_in)?;
    }

    let text = match args.format {
        AuditFormat::Text => audit::render::text(&doc),
        AuditFormat::Json => format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()),
        AuditFormat::Md => audit::render::markdown(&doc),
        AuditFormat::Html => audit::html::page(&doc),
    };
    super::output(&text)?;

    if let Some(level) = args.fail_on {
        let failing: Vec<String> = doc
            .findings
            .iter()
            .filter(|f| f.severity >= level)
            .map(|f| format!("{} ({})", f.id, f.severity.as_str()))
            .collect();
        if !failing.is_empty() {
            return Err(Error::Findings(failing));
        }
    }
    Ok(())
}

fn describe(tags: &Tags) -> String {
    if tags.is_empty() {
        return "everything".into();
    }
    let t: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("what is tagged {}", t.join(" "))
}

fn write_suggestions(
    shell: &Console,
    dir: &std::path::Path,
    doc: &AuditDoc,
    opt_in: &crate::scenario::OptInTag,
) -> Result<(), Error> {
    let (made, none) = audit::suggest::suggest(doc, opt_in);
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Failed(format!("--suggest {}: cannot create it: {e}", dir.display())))?;
    for s in &made {
        for (file, text) in [(&s.scenario_file, &s.scenario), (&s.playbook_file, &s.playbook)] {
            let path = dir.join(file);
            std::fs::write(&path, text)
                .map_err(|e| Error::Failed(format!("--suggest: cannot write {}: {e}", path.display())))?;
        }
        shell.status("Suggested", format!("{} for {}", dir.join(&s.scenario_file).display(), s.finding));
    }
    for (id, why) in none {
        tracing::debug!("no drill for {id}: {why}");
        shell.status("No drill", format!("for {id}: {why}"));
    }
    Ok(())
}
