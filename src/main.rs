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
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
