//! The `triage` command: the CLI over triage-core (pipeline), triage-server (HTTP) and
//! triage-lab (data, training, evaluation).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Logging starts once the configuration is read (cli::run): it says whether traces
    // go to an OTLP collector too.
    triage_core::progress::install(cli::progress::progress_bar);
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The message, then each cause it does not already say, one per line.
            let lines = triage_core::cause::chain(e.as_ref());
            eprintln!("error: {}", lines[0]);
            for cause in &lines[1..] {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
