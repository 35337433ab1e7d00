//! `firedrill note [RUN] TEXT`: an observer's timestamped note, appended to the run's
//! `notes.jsonl` while it runs (or afterwards, for the post-mortem). The run reads the file
//! into its report when it ends; `firedrill report` reads it again on every re-render.

use super::Error;
use crate::notes::{self, Note};
use crate::state::journal::Entry;
use crate::state::{RunDir, StateDir};
use crate::util::console::Console;

#[derive(clap::Args, Debug)]
#[command(
    override_usage = "firedrill note [OPTIONS] [RUN] <TEXT>",
    after_help = "Arguments:\n  \
      [RUN]   The run: id, unique part of one, `latest`, or its folder (default: the one run going on now)\n  \
      <TEXT>  The note, quoted; at most 2000 characters"
)]
pub struct NoteArgs {
    /// `[RUN] TEXT` (clap cannot put an optional positional before a required one).
    #[arg(required = true, num_args = 1..=2, value_names = ["RUN", "TEXT"], hide = true)]
    pub args: Vec<String>,
    /// Who wrote the note (default: $USER).
    #[arg(long)]
    pub author: Option<String>,
}

pub fn note(shell: &Console, state: &StateDir, args: NoteArgs) -> Result<(), Error> {
    let (run, text) = match args.args.as_slice() {
        [text] => (None, text),
        [run, text] => (Some(run.as_str()), text),
        _ => unreachable!("clap takes one or two values"),
    };
    let text = notes::check_text(text).map_err(|e| Error::Usage(e.to_string()))?;
    let find = |r: &str| {
        state.find(r).map_err(|e| format!("{e} (a note of several words needs quotes: firedrill note \"{r} ...\")"))
    };
    let run = run.map_or_else(|| live_run(state), find).map_err(Error::Usage)?;
    let after_end = run.path.join(crate::report::JSON_FILE).exists();
    let author = notes::author(args.author.as_deref(), std::env::var("USER").ok().as_deref());
    let note = Note::now(&author, text, after_end);
    // With S3 state the note goes there first (the truth), then into the local copy.
    run.publish_note(&note.line()).map_err(|e| Error::Failed(format!("cannot add the note: {e}")))?;
    notes::append(&run.path, &note).map_err(|e| Error::Failed(format!("cannot add the note: {e}")))?;

    let started = run.timed_entries().ok().and_then(|entries| {
        entries.into_iter().find_map(|(at, e)| matches!(e, Entry::RunStarted { .. }).then_some(at))
    });
    let when = match started.and_then(|s| notes::offset_ms(&s, &note.at)) {
        Some(ms) => format!("+{}", crate::report::markdown::duration(ms)),
        None => note.at.clone(),
    };
    let after = if after_end { ", after the end: it shows in `firedrill report`" } else { "" };
    shell.status("Noted", format!("{} at {when} by {author}{after}", run.id));
    if !after_end && !run.is_live().unwrap_or(true) {
        shell.warn(format!(
            "{} is not running and has no report (it crashed?); the note is kept in its {}",
            run.id,
            notes::FILE
        ));
    }
    Ok(())
}

/// The one run going on now (holding its lock), or why there is not exactly one.
fn live_run(state: &StateDir) -> Result<RunDir, String> {
    let live = state.live().map_err(|e| e.to_string())?;
    match live.len() {
        1 => Ok(live.into_iter().next().unwrap_or_else(|| unreachable!())),
        0 => Err(format!(
            "no run is going on in {}: name the run to note, e.g. `firedrill note latest \"...\"` \
             (a finished run takes post-mortem notes)",
            state.location()
        )),
        n => Err(format!(
            "{n} runs are going on ({}): name the one to note, `firedrill note RUN \"...\"`",
            live.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}
