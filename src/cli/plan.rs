//! `firedrill plan FILE`: print what a run would do; touch nothing.

use std::path::Path;

use super::Exit;
use crate::shell::{Level, Shell};

pub fn plan(shell: &Shell, file: &Path) -> Exit {
    match crate::scenario::load(file) {
        Ok(l) => {
            print!("{}", crate::plan::render(&l));
            println!("\nNothing was touched (plan only).");
            Exit::Ok
        }
        Err(invalid) => {
            for d in &invalid.0 {
                shell.print(Level::Error, d);
            }
            Exit::Invalid
        }
    }
}
