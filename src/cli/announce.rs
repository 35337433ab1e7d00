//! `firedrill announce FILE [--when TEXT]`: sends the scenario's `announce` webhooks ahead
//! of a scheduled game day, with what will be drilled and when.

use std::path::Path;

use super::Error;
use crate::notify::{self, Message};
use crate::util::console::Console;

pub async fn announce(shell: &Console, file: &Path, when: Option<&str>) -> Result<(), Error> {
    let drill = crate::gameday::load(file)?;
    let s = &drill.loaded.scenario;
    let hooks: Vec<_> = s.notify.iter().filter(|n| n.on.iter().any(|e| e == "announce")).collect();
    if hooks.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no `notify` entry with `on: [announce]`; nothing to send",
            file.display()
        )));
    }
    let faults: Vec<String> = s.faults.iter().map(|f| format!("{} ({})", f.name, f.kind.key())).collect();
    let text = format!(
        "Game day announced: {}{} — {}. Faults: {}. Objective: {}. Owner: {}.",
        s.name,
        when.map(|w| format!(" on {w}")).unwrap_or_default(),
        s.description.as_deref().unwrap_or("no description"),
        faults.join(", "),
        s.recovery.describe(),
        s.owner.as_deref().unwrap_or("unknown"),
    );
    let msg = Message {
        event: "announce".into(),
        scenario: s.name.clone(),
        run_id: String::new(),
        text,
        at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        summary: None,
    };
    let mut failed = 0;
    for n in hooks {
        let d = notify::send(&n.webhook, &msg, &tokio_util::sync::CancellationToken::new()).await;
        if d.ok {
            shell.status("Announced", format!("{} ({} attempt(s))", d.target, d.attempts));
        } else {
            failed += 1;
            shell.error(format!("announce to {} failed: {}", d.target, d.error.unwrap_or_default()));
        }
    }
    if failed == 0 { Ok(()) } else { Err(Error::Undelivered(failed)) }
}
