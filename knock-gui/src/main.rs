//! `knock-gui`: the window; `knock-gui --knock-headless NAME` knocks a
//! profile through the same worker without a window (for tests and scripts).

#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, name] if flag == "--knock-headless" => knock_gui::headless::run(name),
        [] => match knock_gui::run_window() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("knock-gui: {e:#}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: knock-gui [--knock-headless PROFILE]");
            ExitCode::from(2)
        }
    }
}
