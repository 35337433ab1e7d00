//! `firedrill validate FILE...`: every problem in every file, exit 0 only if all are valid.

use std::path::PathBuf;

use super::Exit;
use crate::shell::{Level, Shell};

pub fn validate(shell: &Shell, files: &[PathBuf]) -> Exit {
    let mut bad = 0;
    for f in files {
        match crate::scenario::load(f) {
            Ok(l) => shell.status("Valid", format!("{} ({})", f.display(), l.scenario.name)),
            Err(invalid) => {
                bad += 1;
                for d in &invalid.0 {
                    shell.print(Level::Error, d);
                }
            }
        }
    }
    if bad == 0 {
        Exit::Ok
    } else {
        shell.error(format!("{bad} of {} file(s) invalid", files.len()));
        Exit::Invalid
    }
}
