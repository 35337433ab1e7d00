//! The `firedrill` binary: parse flags, hand over to the library, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = firedrill::cli::Cli::parse();
    std::process::ExitCode::from(firedrill::cli::main(cli) as u8)
}
