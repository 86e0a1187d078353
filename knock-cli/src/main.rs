//! `knock`: send port-knock sequences, like knock(1), or from saved profiles.

use std::process::ExitCode;

use clap::Parser;
use knock_cli::{actions, cli, exit};

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            // --help and --version are "errors" that print to stdout and exit 0.
            let code = if err.use_stderr() {
                exit::Code::USAGE
            } else {
                exit::Code::OK
            };
            let _ = err.print();
            return code.into();
        }
    };
    match actions::run(&args) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("knock: {}", knock_profiles::message::one_line(err.as_ref()));
            exit::classify(&err).into()
        }
    }
}
