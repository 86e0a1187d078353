//! `knock-server`: parse flags, run, map errors to an exit code.

use std::process::ExitCode;

use clap::Parser;
use knock_server::{app, cli, cli::Args};

fn main() -> ExitCode {
    let args = Args::parse();
    // Before anything reads the config or opens pcap: no root, no file needed.
    if args.man {
        return match cli::man_page(&mut std::io::stdout().lock()) {
            // `knock-server --man | head` is not an error.
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("knock-server: cannot write the man page: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match app::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("knock-server: {}", knock_server::app::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
