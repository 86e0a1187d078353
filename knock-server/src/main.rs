//! `knock-server`: parse flags, run, map errors to an exit code.

use std::process::ExitCode;

use clap::Parser;
use knock_server::{app, cli::Args};

fn main() -> ExitCode {
    let args = Args::parse();
    match app::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("knock-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
