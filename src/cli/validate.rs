//! `firedrill validate FILE...`: every problem in every file, exit 0 only if all are valid.
//! A file with a top-level `gamedays:` key is a calendar ([`crate::schedule`]).

use std::path::PathBuf;

use super::Error;
use crate::util::console::{Console, Level};

pub fn validate(shell: &Console, files: &[PathBuf]) -> Result<(), Error> {
    let mut bad = 0;
    for f in files {
        if crate::scenario::file::read_text(f, crate::scenario::load::MAX_FILE_BYTES)
            .is_ok_and(|t| crate::schedule::is_calendar(&t))
        {
            match crate::schedule::load(f) {
                Ok(c) => {
                    for w in &c.warnings {
                        shell.warn(w);
                    }
                    shell.status("Valid", format!("{} (calendar, {} game day(s))", f.display(), c.days.len()))
                }
                Err(invalid) => {
                    bad += 1;
                    for d in &invalid.0 {
                        shell.print(Level::Error, d);
                    }
                }
            }
            continue;
        }
        match crate::gameday::load(f) {
            Ok(d) => {
                super::warn(shell, &d);
                shell.status("Valid", format!("{} ({})", f.display(), d.loaded.scenario.name))
            }
            Err(Error::Invalid(invalid)) => {
                bad += 1;
                for d in &invalid.0 {
                    shell.print(Level::Error, d);
                }
            }
            Err(e) => return Err(e),
        }
    }
    if bad == 0 { Ok(()) } else { Err(Error::InvalidFiles { bad, total: files.len() }) }
}
