//! `knock-gui`: the window; `knock-gui --knock-headless NAME` knocks a
//! profile through the same worker without a window (for tests and scripts).

#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use std::process::ExitCode;

const USAGE: &str = "usage: knock-gui [--knock-headless PROFILE]

Opens the knock window on the profile file ($KNOCK_PROFILES or the default
path, the same file as the knock CLI). --knock-headless knocks one profile
through the window's own worker, prints each step and exits (0 = done,
3 = config, 4 = resolve, 5 = send, 6 = the port did not open).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, name] if flag == "--knock-headless" => knock_gui::headless::run(name),
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        [flag] if flag == "-V" || flag == "--version" => {
            println!("knock-gui {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        [] => match knock_gui::run_window() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!(
                    "knock-gui: {}",
                    knock_profiles::message::one_line(e.as_ref())
                );
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
