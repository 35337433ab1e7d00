//! `firedrill validate FILE...`: every problem in every file, exit 0 only if all are valid.

use std::path::PathBuf;

use super::Error;
use crate::util::console::{Console, Level};

pub fn validate(shell: &Console, files: &[PathBuf]) -> Result<(), Error> {
    let mut bad = 0;
    for f in files {
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
