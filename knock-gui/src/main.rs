//! `knock-gui`: the window; `knock-gui --knock-headless NAME` knocks a
//! profile through the same worker without a window (for tests and scripts).
//!
//! On Windows the release exe has no console, so a window that cannot open
//! (no usable OpenGL, no profile location) or a crash would end without a
//! word: there the reason is also shown in a message box.

#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use std::process::ExitCode;

const USAGE: &str = "usage: knock-gui [--knock-headless PROFILE]

Opens the knock window on the profile file ($KNOCK_PROFILES or the default
path, the same file as the knock CLI). --knock-headless knocks one profile
through the window's own worker, prints each step and exits (0 = done,
3 = config, 4 = resolve, 5 = send, 6 = the port did not open).";

/// The title of the message box that says why the window did not open.
const FAILURE_TITLE: &str = "knock-gui could not start";

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
        [] => {
            native::show_panics();
            match knock_gui::run_window() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!(
                        "knock-gui: {}",
                        knock_profiles::message::one_line(e.as_ref())
                    );
                    native::error_box(FAILURE_TITLE, &startup_failure(&e));
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// What the window needs from the graphics driver, and what to do without it.
#[cfg(windows)]
const GRAPHICS_HELP: &str = "Install or update the driver of the graphics card (from its \
vendor; the one Windows Update installs may lack OpenGL). In a virtual machine, turn on 3D \
acceleration. Without a graphics card, Mesa's software opengl32.dll (llvmpipe) copied next \
to knock-gui.exe draws the window. The command-line knock.exe needs none of this.";
#[cfg(not(windows))]
const GRAPHICS_HELP: &str = "Install the OpenGL / EGL drivers (Debian: libgl1-mesa-dri \
libegl1), or start it with LIBGL_ALWAYS_SOFTWARE=1 for software rendering. The knock \
command needs none of this.";

/// The message a user gets when the window did not open: for a graphics
/// failure (eframe's glow renderer could not get an OpenGL 2.0+ context) what
/// is missing and how to get it, then the error itself.
fn startup_failure(err: &anyhow::Error) -> String {
    let detail = without_template(&format!("{err:#}"));
    if is_graphics_failure(&detail) {
        format!(
            "knock-gui draws its window with OpenGL 2.0 or newer, and none could be \
             started on this display.\n\n{GRAPHICS_HELP}\n\nThe error was: {detail}"
        )
    } else {
        format!("The knock window could not open.\n\nThe error was: {detail}")
    }
}

/// eframe's "Found no glutin configs matching the template: ConfigTemplate
/// { ... 18 fields ... }. Error: ..." with the fields left out: they are the
/// same every time and fill a message box.
fn without_template(detail: &str) -> String {
    const START: &str = "ConfigTemplate {";
    const END: &str = "}. Error:";
    match (detail.find(START), detail.rfind(END)) {
        (Some(a), Some(b)) if a < b => {
            format!(
                "{}ConfigTemplate {{ .. }}{}",
                &detail[..a],
                &detail[b + 1..]
            )
        }
        _ => detail.to_string(),
    }
}

/// eframe's errors from its glow renderer: glutin (the context, WGL / EGL /
/// GLX), no matching pixel format, or egui_glow (GL too old, shader errors).
fn is_graphics_failure(detail: &str) -> bool {
    let lower = detail.to_lowercase();
    ["glutin", "egui_glow", "opengl", "wgl", "egl"]
        .iter()
        .any(|word| lower.contains(word))
}

#[cfg(windows)]
mod native {
    //! Message boxes through the Win32 API (`MessageBoxW`).

    /// Also show a panic (the release build aborts on one) in a message box.
    pub fn show_panics() {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default(info);
            error_box(
                "knock-gui stopped",
                &format!("knock-gui stopped because of a bug, sorry.\n\n{info}"),
            );
        }));
    }

    /// A modal error box with an OK button; returns when it is closed.
    // The one call into Win32 of the app; it needs `unsafe` for FFI.
    #[allow(unsafe_code)]
    pub fn error_box(title: &str, text: &str) {
        use windows_sys::Win32::UI::WindowsAndMessaging::{
            MB_ICONERROR, MB_OK, MB_SETFOREGROUND, MessageBoxW,
        };
        let wide = |s: &str| -> Vec<u16> { s.encode_utf16().chain(std::iter::once(0)).collect() };
        let (title, text) = (wide(title), wide(text));
        // SAFETY: both pointers are to NUL-terminated UTF-16 buffers that live
        // until the call returns; a null owner window is allowed.
        unsafe {
            MessageBoxW(
                std::ptr::null_mut(),
                text.as_ptr(),
                title.as_ptr(),
                MB_OK | MB_ICONERROR | MB_SETFOREGROUND,
            );
        }
    }
}

#[cfg(not(windows))]
mod native {
    //! Elsewhere the window is started from a terminal or a desktop that
    //! keeps stderr: the message printed there is enough.

    pub fn show_panics() {}

    pub fn error_box(_title: &str, _text: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graphics_failure_says_what_is_missing_and_what_to_do() {
        // As knock_gui::run_window reports eframe's errors.
        for e in [
            "cannot open the window: glutin error: Could not create the OpenGL context",
            "cannot open the window: egui_glow: OpenGL 1.1 is too old",
        ] {
            let msg = startup_failure(&anyhow::anyhow!("{e}"));
            assert!(msg.contains("OpenGL 2.0 or newer"), "{msg}");
            assert!(msg.contains(GRAPHICS_HELP), "{msg}");
            assert!(msg.ends_with(&format!("The error was: {e}")), "{msg}");
        }
    }

    #[test]
    fn no_pixel_format_is_a_graphics_failure_without_the_template_dump() {
        // What Wine on an X server without GLX gives (tests/windows-e2e.sh).
        let e = anyhow::anyhow!(
            "cannot open the window: Found no glutin configs matching the template: \
             ConfigTemplate {{ color_buffer_type: Rgb {{ r_size: 8, g_size: 8, b_size: 8 }}, \
             alpha_size: 8, native_window: None }}. Error: not found"
        );
        let msg = startup_failure(&e);
        assert!(msg.contains("OpenGL 2.0 or newer"), "{msg}");
        assert!(
            msg.ends_with(
                "The error was: cannot open the window: Found no glutin configs matching \
                 the template: ConfigTemplate { .. }. Error: not found"
            ),
            "{msg}"
        );
    }

    #[test]
    fn other_failures_are_shown_as_they_are() {
        let e = anyhow::anyhow!("no home directory").context("cannot find the profile file");
        let msg = startup_failure(&e);
        assert!(!msg.contains("OpenGL"), "{msg}");
        assert!(
            msg.ends_with("The error was: cannot find the profile file: no home directory"),
            "{msg}"
        );
    }
}
