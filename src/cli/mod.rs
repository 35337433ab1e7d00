//! The command line: flags (clap), one file per subcommand, and what is printed. Each
//! subcommand returns `Result<(), Error>`; [`main`] shows the error and turns it into the
//! exit code ([`Error::exit`] decides which).

mod announce;
mod audit;
mod halt;
mod history;
mod iam_policy;
mod note;
mod plan;
mod recover;
mod report;
mod run;
mod runs;
mod schedule;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::aws::AwsOpts;
pub use crate::gameday::{Error, Exit};
use crate::state::StateDir;
use crate::util::console::{Console, Level, LogFormat};

#[derive(Parser, Debug)]
#[command(name = "firedrill", version = crate::util::failpoint::VERSION, about = "Chaos-engineering and game-day orchestrator", long_about = None)]
pub struct Cli {
    /// Where runs, journals and reports are kept (with --state s3://…: their local copy).
    #[arg(long, global = true, env = "FIREDRILL_STATE_DIR", default_value = ".firedrill")]
    pub state_dir: PathBuf,
    /// Where runs are kept, shared by every machine that can reach it: s3://BUCKET/PREFIX
    /// (then --state-dir is only a local copy), or a local directory (same as --state-dir).
    #[arg(long, global = true, env = "FIREDRILL_STATE", value_name = "URL|DIR")]
    pub state: Option<String>,
    /// Status lines on stderr as text or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Only warnings and errors on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Also the AWS SDK's own warnings on stderr (by default only its errors; RUST_LOG,
    /// when set, decides instead).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// AWS named profile (as in the AWS CLI; also AWS_PROFILE).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region; must match the scenario's environment.region (default: the standard
    /// chain's, else the scenario's). `audit` takes it several times.
    #[arg(long, global = true)]
    pub region: Vec<String>,
    /// Send every AWS call to this endpoint (also AWS_ENDPOINT_URL), e.g. a local moto.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check scenario and calendar files; prints every problem as FILE:LINE:COL: field:
    /// message.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show exactly what a run would do: resolves targets (read-only) and runs the guards.
    Plan(plan::PlanArgs),
    /// Run a game day: baseline, inject, observe, revert, settle, report.
    Run(run::RunArgs),
    /// Revert every fault a crashed run left injected (all runs, or RUN); with --sweep,
    /// from the undo tags on AWS when the journal is gone.
    Recover {
        run: Option<String>,
        /// Also run the steps this installation did not journal (a copied or committed
        /// journal), after reviewing them; needs RUN.
        #[arg(long)]
        trust_journal: bool,
        #[command(flatten)]
        sweep: recover::SweepArgs,
    },
    /// List runs with their outcome.
    Runs,
    /// Print a run's report (RUN: id, unique part of it, `latest`, or folder).
    Report {
        run: String,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
    },
    /// Add a timestamped observer note to the run going on now (or to RUN, also after it
    /// ended); it goes into the run's report.
    Note(note::NoteArgs),
    /// Every run (or every run of one scenario): outcome, time to detect, time to recover
    /// vs the objective, and a summary per scenario.
    History {
        /// Only the runs of this scenario (its `name`).
        #[arg(long)]
        scenario: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: HistoryFormat,
        /// Flag playbook steps no run has done for longer than this (`45d`, `8w`).
        #[arg(long, default_value = "60d", value_parser = humantime::parse_duration)]
        stale_after: std::time::Duration,
    },
    /// Print the JSON Schema of scenario files (or of `plan --format json`).
    Schema {
        #[arg(value_enum, default_value = "scenario")]
        of: SchemaOf,
    },
    /// Print the least IAM policy (JSON) the scenarios need, with the opt-in tag as a
    /// condition where AWS supports one; several files give one merged policy (for a role
    /// that runs them all) that grants exactly what each needs.
    IamPolicy {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print instead what the role of `safety.dead_mans_switch` needs: its policy (the
        /// undo calls) and its trust policy (EventBridge Scheduler may assume it).
        #[arg(long)]
        dead_mans_switch_role: bool,
        /// Also what `recover --sweep` reads to find firedrill's tags (docs/tags.md).
        #[arg(long)]
        sweep: bool,
    },
    /// Emergency halt: every firedrill run in the account and region aborts and reverts,
    /// and no new one injects, until `unhalt` (SSM parameter /firedrill/halt).
    Halt(halt::HaltArgs),
    /// Clear the emergency halt in the account and region.
    Unhalt(halt::UnhaltArgs),
    /// Send the scenario's `announce` webhooks ahead of a game day.
    Announce {
        file: PathBuf,
        /// When the game day will be, in words (e.g. "Tue 1 Dec, 10:00 UTC").
        #[arg(long)]
        when: Option<String>,
    },
    /// Game days on a calendar: next occurrences, what is due, run what is due behind the
    /// calendar's gates, and entries for cron, systemd, Kubernetes and CI schedulers.
    Schedule {
        #[command(subcommand)]
        cmd: schedule::ScheduleCmd,
    },
    /// Read-only map of the tagged estate by region and zone: its single points of
    /// failure, and the drill that would test each (--suggest); a gate with --fail-on.
    Audit(audit::AuditArgs),
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum HistoryFormat {
    /// An aligned table, oldest first, and one summary line per scenario.
    Text,
    /// An array of runs.
    Json,
    /// A self-contained page: the table and a time-to-recover plot per scenario.
    Html,
    /// Markdown: the table, the scheduled game days by month and the stale playbook steps.
    Md,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SchemaOf {
    /// Scenario files (schema/scenario.schema.json).
    Scenario,
    /// `plan --format json` (schema/plan.schema.json).
    Plan,
    /// Calendar files (schema/calendar.schema.json).
    Calendar,
    /// `audit --format json` (schema/audit.schema.json).
    Audit,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    Junit,
    Html,
}

/// Runs the command; returns the process exit code.
pub fn main(cli: Cli) -> Exit {
    let shell = Arc::new(Console::new(cli.log_format, cli.quiet));
    init_tracing(cli.log_format, cli.verbose);
    let result = dispatch(&shell, cli);
    if let Err(e) = &result {
        show(&shell, e);
    }
    Error::code(&result)
}

fn dispatch(shell: &Arc<Console>, cli: Cli) -> Result<(), Error> {
    if cli.region.len() > 1 && !matches!(cli.command, Command::Audit(_)) {
        return Err(Error::Usage(format!(
            "--region given {} times: only `audit` reads several regions",
            cli.region.len()
        )));
    }
    let aws = AwsOpts { profile: cli.profile, region: cli.region.first().cloned(), endpoint_url: cli.endpoint_url };
    let (state, s3) = state_location(cli.state.as_deref(), &cli.state_dir, &aws)?;
    match cli.command {
        Command::Validate { files } => validate::validate(shell, &files),
        Command::Plan(args) => block_on(plan::plan(shell, &aws, args)),
        Command::Schema { of } => {
            let schema = match of {
                SchemaOf::Scenario => crate::scenario::json_schema(),
                SchemaOf::Plan => crate::plan_json::json_schema(),
                SchemaOf::Calendar => crate::schedule::json_schema(),
                SchemaOf::Audit => crate::audit::json_schema(),
            };
            output(&format!("{}\n", serde_json::to_string_pretty(&schema).unwrap_or_default()))
        }
        Command::Runs => runs::runs(shell, &state),
        Command::Report { run, format } => report::report(shell, &state, &run, format),
        Command::Note(args) => note::note(shell, &state, args),
        Command::History { scenario, format, stale_after } => {
            history::history(shell, &state, scenario.as_deref(), format, stale_after)
        }
        Command::Run(args) => block_on(run::run(shell.clone(), &state, &aws, args)),
        Command::IamPolicy { files, dead_mans_switch_role, sweep } => {
            iam_policy::iam_policy(shell, &files, dead_mans_switch_role, sweep, s3.as_ref())
        }
        Command::Halt(args) => block_on(halt::halt(shell, &aws, args)),
        Command::Unhalt(args) => block_on(halt::unhalt(&aws, args)),
        Command::Announce { file, when } => block_on(announce::announce(shell, &file, when.as_deref())),
        Command::Schedule { cmd } => block_on(schedule::schedule(shell.clone(), &state, &aws, cmd)),
        Command::Audit(args) => block_on(audit::audit(shell, &aws, &cli.region, args)),
        Command::Recover { run, trust_journal, sweep } if sweep.sweep => {
            block_on(recover::sweep(shell, &state, &aws, run.as_deref(), trust_journal, sweep))
        }
        Command::Recover { run, trust_journal, .. } => {
            block_on(recover::recover(shell, &state, &aws, run.as_deref(), trust_journal))
        }
    }
}

/// The state from `--state` (or `FIREDRILL_STATE`) and `--state-dir`: an `s3://` URL makes
/// S3 the truth with `--state-dir` as its local copy; a path is the state directory itself,
/// and a different `--state-dir` besides it is a usage error.
fn state_location(
    state: Option<&str>,
    state_dir: &std::path::Path,
    aws: &AwsOpts,
) -> Result<(StateDir, Option<crate::state::remote::Location>), Error> {
    use crate::state::remote::{Location, Remote, STATE_ENV};
    let Some(state) = state.filter(|s| !s.is_empty()) else { return Ok((StateDir::new(state_dir), None)) };
    if state.starts_with("s3:") || state.contains("://") {
        let loc = Location::parse(state).map_err(|e| Error::Usage(format!("--state (or {STATE_ENV}): {e}")))?;
        let remote = Remote::connect(loc.clone(), aws).map_err(|e| Error::Failed(format!("--state: {e}")))?;
        return Ok((StateDir::with_remote(state_dir, remote), Some(loc)));
    }
    let (path, default) = (std::path::Path::new(state), std::path::Path::new(DEFAULT_STATE_DIR));
    if state_dir != default && state_dir != path {
        return Err(Error::Usage(format!(
            "--state (or {STATE_ENV}) names the state directory {} but --state-dir (or FIREDRILL_STATE_DIR) names {}: give one",
            path.display(),
            state_dir.display()
        )));
    }
    Ok((StateDir::new(path), None))
}

/// `--state-dir`'s default.
const DEFAULT_STATE_DIR: &str = ".firedrill";

/// Shows why a command failed, unless it was shown as it happened.
/// The drill's warnings (valid, but probably not what was meant), each at its position.
fn warn(shell: &Console, drill: &crate::gameday::Drill) {
    for w in &drill.warnings {
        shell.warn(w);
    }
}

fn show(shell: &Console, e: &Error) {
    match e {
        _ if e.shown() => {}
        Error::Invalid(invalid) => {
            for d in &invalid.0 {
                shell.print(Level::Error, d);
            }
        }
        Error::Refused(lines) => {
            for line in lines {
                shell.error(line);
            }
        }
        e => shell.error(e),
    }
}

fn block_on(f: impl std::future::Future<Output = Result<(), Error>>) -> Result<(), Error> {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(f),
        Err(e) => Err(Error::Failed(format!("cannot start the async runtime: {e}"))),
    }
}

/// Writes a command's output to stdout; [`Error::Failed`] when it cannot be written. A
/// reader that went away (`| head -1`) is not an error (see [`crate::util::console::stdout`]).
fn output(text: &str) -> Result<(), Error> {
    crate::util::console::stdout(text).map_err(|e| Error::Failed(format!("cannot write the output: {e}")))
}

/// Debug logs (`RUST_LOG=firedrill=debug`) go to stderr in the chosen format. Without
/// `RUST_LOG` or `--verbose`, the AWS SDK logs only its errors: its warnings (IMDS not
/// reachable, a credential provider that failed) are its own words for what firedrill
/// reports once, in its terms, when it matters.
fn init_tracing(format: LogFormat, verbose: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let from_env = std::env::var_os("RUST_LOG")
        .filter(|v| !v.is_empty())
        .and_then(|_| tracing_subscriber::EnvFilter::try_from_default_env().ok());
    let sdk_errors_only = from_env.is_none() && !verbose;
    let filter = from_env.unwrap_or_else(|| tracing_subscriber::EnvFilter::new("warn"));
    let sdk = tracing_subscriber::filter::filter_fn(move |meta| {
        !sdk_errors_only || *meta.level() <= tracing::Level::ERROR || !is_aws_sdk(meta.target())
    });
    // Whatever RUST_LOG says: the SDK, its signer and the HTTP stacks print request
    // headers, signing inputs and bodies (credentials, session tokens, webhook secrets) at
    // debug and trace, so they never log below info.
    let safe = tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() <= tracing::Level::INFO || !is_library_with_secrets(meta.target())
    });
    let registry = tracing_subscriber::registry().with(filter).with(safe).with(sdk);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => registry.with(layer.json()).try_init(),
        LogFormat::Text => registry.with(layer).try_init(),
    };
}

/// Log targets of the AWS SDK and its runtime (`aws_config`, `aws_smithy_runtime`,
/// `aws_sdk_ec2`, ...).
fn is_aws_sdk(target: &str) -> bool {
    target.starts_with("aws_") || target.starts_with("aws-")
}

/// Log targets that print credentials or secrets below info: the AWS SDK (`aws_*`:
/// sigv4's canonical request carries `x-amz-security-token`, the orchestrator prints whole
/// requests), and the HTTP and TLS stacks under it and under the probes and webhooks.
fn is_library_with_secrets(target: &str) -> bool {
    const PREFIXES: &[&str] = &["aws_", "aws-", "hyper", "h2", "reqwest", "rustls", "tokio_rustls", "tower", "http"];
    PREFIXES.iter().any(|p| target.starts_with(p))
}
