//! Starting the connection after a knock: the only platform-specific code of
//! the app.
//!
//! The argv of ssh, PuTTY or a custom command comes from
//! [`knock_profiles::launch`], so the GUI starts exactly what the CLI would.
//! This module adds what a windowed app needs on top: a terminal window for
//! ssh (Linux: `$TERMINAL`, x-terminal-emulator, gnome-terminal, konsole,
//! xterm; macOS: Terminal through `open ssh://…`; Windows: a new console),
//! the configurable PuTTY path, and spawning.
//!
//! [`command`] is pure apart from the `find` callback that looks programs up,
//! so every platform's argv is unit-tested on every platform.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use knock_profiles::launch::{Platform, Target, argv};
use knock_profiles::options::Launch;

/// The desktop the command is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux and the other X11/Wayland unixes.
    Linux,
    MacOs,
    Windows,
}

impl Os {
    pub const fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }

    const fn platform(self) -> Platform {
        match self {
            Os::Windows => Platform::Windows,
            Os::Linux | Os::MacOs => Platform::Unix,
        }
    }
}

/// Terminals tried on Linux, in order, after `$TERMINAL`.
pub const TERMINALS: &[&str] = &["x-terminal-emulator", "gnome-terminal", "konsole", "xterm"];

/// Where the programs to start are, as the user configured them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Programs<'a> {
    /// PuTTY's path; `None` = look for `putty` on PATH.
    pub putty: Option<&'a Path>,
    /// `$TERMINAL`, if set.
    pub terminal: Option<&'a str>,
}

/// A program to start, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    /// Windows: give the program its own console window (ssh.exe).
    pub new_console: bool,
}

impl Command {
    fn new(program: impl Into<String>, args: Vec<String>) -> Self {
        Command {
            program: program.into(),
            args,
            new_console: false,
        }
    }

    /// The whole argv, for tests and for telling the user what was started.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// The command line as one string (for display only).
    pub fn display(&self) -> String {
        self.argv()
            .iter()
            .map(|a| {
                if a.is_empty() || a.contains(char::is_whitespace) {
                    format!("\"{a}\"")
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("PuTTY not found at {0} (fix the path in Settings, or clear it to search PATH)")]
    PuttyMissing(PathBuf),
    #[error("PuTTY not found on PATH (install PuTTY or set its path in Settings)")]
    PuttyNotOnPath,
    #[error("ssh not found on PATH (install the OpenSSH client)")]
    SshNotFound,
    #[error(
        "no terminal found to run ssh in (set $TERMINAL, or install x-terminal-emulator, gnome-terminal, konsole or xterm)"
    )]
    NoTerminal,
    #[error("cannot start {program}: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
}

/// What to start for `launch` after knocking `target`, or `None` for
/// `launch = "none"`. `find` looks a program up (PATH) and returns its path.
pub fn command(
    os: Os,
    launch: &Launch,
    target: &Target<'_>,
    programs: &Programs<'_>,
    find: &dyn Fn(&str) -> Option<PathBuf>,
) -> Result<Option<Command>, LaunchError> {
    let Some(line) = argv(launch, target, &[], os.platform()) else {
        return Ok(None);
    };
    let Some((program, args)) = line.split_first() else {
        return Ok(None);
    };
    let args = args.to_vec();
    let cmd = match launch {
        Launch::None => return Ok(None),
        Launch::Putty => {
            let putty = match programs.putty {
                Some(path) if path.is_file() => path.to_path_buf(),
                Some(path) => return Err(LaunchError::PuttyMissing(path.to_path_buf())),
                None => find(program).ok_or(LaunchError::PuttyNotOnPath)?,
            };
            Command::new(putty.to_string_lossy(), args)
        }
        Launch::Ssh => match os {
            Os::Windows => {
                let ssh = find("ssh").ok_or(LaunchError::SshNotFound)?;
                Command {
                    new_console: true,
                    ..Command::new(ssh.to_string_lossy(), args)
                }
            }
            Os::MacOs => Command::new("open", vec![ssh_url(target)]),
            Os::Linux => {
                find("ssh").ok_or(LaunchError::SshNotFound)?;
                let terminal = programs
                    .terminal
                    .filter(|t| !t.trim().is_empty())
                    .into_iter()
                    .chain(TERMINALS.iter().copied())
                    .find(|t| find(t).is_some())
                    .ok_or(LaunchError::NoTerminal)?;
                let mut targs = terminal_exec_args(terminal);
                targs.extend(line.iter().cloned());
                Command::new(terminal, targs)
            }
        },
        Launch::Custom(_) => Command::new(program.clone(), args),
    };
    Ok(Some(cmd))
}

/// The arguments that make `terminal` run a command given after them.
pub fn terminal_exec_args(terminal: &str) -> Vec<String> {
    let name = Path::new(terminal)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(terminal);
    let args: &[&str] = match name {
        "gnome-terminal" | "kgx" | "ptyxis" | "tilix" => &["--"],
        "wezterm" => &["start", "--"],
        "kitty" | "foot" => &[],
        // xterm, konsole, x-terminal-emulator (Debian policy), alacritty, xfce4-terminal …
        _ => &["-e"],
    };
    args.iter().map(|s| s.to_string()).collect()
}

/// `ssh://[user@]host[:port]`, which macOS opens in Terminal.
pub fn ssh_url(target: &Target<'_>) -> String {
    let host = match target.host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => target.host.to_string(),
    };
    let user = target.user().map(|u| format!("{u}@")).unwrap_or_default();
    let port = if target.port() == 22 {
        String::new()
    } else {
        format!(":{}", target.port())
    };
    format!("ssh://{user}{host}{port}")
}

/// Looks `name` up like a shell would: a path is taken as is, a bare name is
/// searched on PATH (with `.exe` on Windows; PuTTY also in its default
/// install folders).
pub fn which(name: &str) -> Option<PathBuf> {
    let direct = Path::new(name);
    if direct.components().count() > 1 {
        return direct.is_file().then(|| direct.to_path_buf());
    }
    let exe = if cfg!(windows) && !name.ends_with(".exe") {
        format!("{name}.exe")
    } else {
        name.to_string()
    };
    let path = std::env::var_os("PATH")?;
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if cfg!(windows) && name.starts_with("putty") {
        for var in ["ProgramFiles", "ProgramFiles(x86)"] {
            if let Some(dir) = std::env::var_os(var) {
                dirs.push(PathBuf::from(dir).join("PuTTY"));
            }
        }
    }
    dirs.into_iter()
        .map(|dir| dir.join(&exe))
        .find(|candidate| candidate.is_file())
}

/// Starts commands.
pub trait Launcher {
    fn launch(&mut self, cmd: &Command) -> Result<(), LaunchError>;
}

/// Spawns the real process, detached from the app's stdin.
#[derive(Debug, Default)]
pub struct SystemLauncher;

impl Launcher for SystemLauncher {
    fn launch(&mut self, cmd: &Command) -> Result<(), LaunchError> {
        // A custom command's `cmd /C LINE` reaches cmd.exe as it is.
        let mut process = knock_profiles::launch::process(&cmd.program, &cmd.args);
        process.stdin(std::process::Stdio::null());
        #[cfg(windows)]
        if cmd.new_console {
            use std::os::windows::process::CommandExt;
            const CREATE_NEW_CONSOLE: u32 = 0x0000_0010;
            process.creation_flags(CREATE_NEW_CONSOLE);
        }
        let mut child = process.spawn().map_err(|error| LaunchError::Spawn {
            program: cmd.program.clone(),
            error,
        })?;
        // Reap it when it exits, so no zombie is left behind.
        std::thread::spawn(move || child.wait());
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use knock_profiles::options::Effective;

    /// The options of a profile with this user and ssh port.
    fn options(user: Option<&str>, port: u16) -> &'static Effective {
        let options = knock_profiles::options::Options {
            user: user.map(str::to_string),
            ssh_port: knock_profiles::options::Port::new(port),
            ..Default::default()
        };
        Box::leak(Box::new(options.effective()))
    }

    fn target(user: Option<&'static str>, port: u16) -> Target<'static> {
        Target {
            host: "myserver",
            addr: "192.0.2.1".parse().ok(),
            options: options(user, port),
        }
    }

    fn found(names: &'static [&'static str]) -> impl Fn(&str) -> Option<PathBuf> {
        move |name| {
            names
                .contains(&name)
                .then(|| PathBuf::from(format!("/usr/bin/{name}")))
        }
    }

    fn argv_of(
        os: Os,
        launch: &Launch,
        t: &Target<'_>,
        programs: &Programs<'_>,
        have: &'static [&'static str],
    ) -> Result<Option<Vec<String>>, String> {
        command(os, launch, t, programs, &found(have))
            .map(|c| c.map(|c| c.argv()))
            .map_err(|e| e.to_string())
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn linux_runs_ssh_in_the_first_terminal_found() {
        let t = target(Some("admin"), 2222);
        let none = Programs::default();
        let ssh = ["ssh", "-4", "-p", "2222", "-l", "admin", "myserver"];
        let with = |pre: &[&str]| {
            let mut v = strings(pre);
            v.extend(strings(&ssh));
            Some(v)
        };
        let linux_ssh = |programs, have| argv_of(Os::Linux, &Launch::Ssh, &t, programs, have);
        assert_eq!(
            linux_ssh(&none, &["ssh", "konsole", "xterm"]),
            Ok(with(&["konsole", "-e"]))
        );
        assert_eq!(
            linux_ssh(&none, &["ssh", "gnome-terminal"]),
            Ok(with(&["gnome-terminal", "--"]))
        );
        let mine = Programs {
            terminal: Some("kitty"),
            ..Programs::default()
        };
        assert_eq!(
            linux_ssh(&mine, &["ssh", "kitty", "xterm"]),
            Ok(with(&["kitty"]))
        );
        // $TERMINAL names a program that is not installed: fall back.
        assert_eq!(
            linux_ssh(&mine, &["ssh", "xterm"]),
            Ok(with(&["xterm", "-e"]))
        );
    }

    #[test]
    fn linux_reports_a_missing_ssh_or_terminal() {
        let t = target(None, 22);
        let none = Programs::default();
        assert_eq!(
            argv_of(Os::Linux, &Launch::Ssh, &t, &none, &["xterm"]),
            Err("ssh not found on PATH (install the OpenSSH client)".to_string())
        );
        let err = argv_of(Os::Linux, &Launch::Ssh, &t, &none, &["ssh"]);
        assert!(
            err.as_ref()
                .is_err_and(|e| e.starts_with("no terminal found")),
            "{err:?}"
        );
    }

    #[test]
    fn macos_opens_terminal_with_an_ssh_url() {
        let none = Programs::default();
        assert_eq!(
            argv_of(
                Os::MacOs,
                &Launch::Ssh,
                &target(Some("admin"), 2222),
                &none,
                &[]
            ),
            Ok(Some(strings(&["open", "ssh://admin@myserver:2222"])))
        );
        assert_eq!(
            argv_of(Os::MacOs, &Launch::Ssh, &target(None, 22), &none, &[]),
            Ok(Some(strings(&["open", "ssh://myserver"])))
        );
        let v6 = Target {
            host: "2001:db8::1",
            addr: None,
            options: options(None, 22),
        };
        assert_eq!(ssh_url(&v6), "ssh://[2001:db8::1]");
    }

    #[test]
    fn windows_runs_putty_like_the_article() {
        let t = target(Some("admin"), 22);
        let none = Programs::default();
        assert_eq!(
            argv_of(Os::Windows, &Launch::Putty, &t, &none, &["putty.exe"]),
            Ok(Some(strings(&[
                "/usr/bin/putty.exe",
                "-ssh",
                "admin@myserver",
                "-P",
                "22"
            ])))
        );
        assert_eq!(
            argv_of(Os::Windows, &Launch::Putty, &t, &none, &[]),
            Err(LaunchError::PuttyNotOnPath.to_string())
        );
        let missing = Path::new("/nonexistent/putty.exe");
        let configured = Programs {
            putty: Some(missing),
            ..Programs::default()
        };
        assert_eq!(
            argv_of(Os::Windows, &Launch::Putty, &t, &configured, &["putty.exe"]),
            Err(LaunchError::PuttyMissing(missing.to_path_buf()).to_string())
        );
    }

    #[test]
    fn windows_gives_ssh_its_own_console() {
        let t = target(None, 22);
        let cmd = command(
            Os::Windows,
            &Launch::Ssh,
            &t,
            &Programs::default(),
            &found(&["ssh"]),
        );
        let cmd = cmd.ok().flatten();
        assert_eq!(cmd.as_ref().map(|c| c.new_console), Some(true));
        assert_eq!(
            cmd.map(|c| c.argv()),
            Some(strings(&["/usr/bin/ssh", "-4", "myserver"]))
        );
    }

    #[test]
    fn custom_and_none() {
        let t = target(Some("admin"), 22);
        let none = Programs::default();
        let custom: Launch = "mosh {user}@{host}".parse().unwrap();
        assert_eq!(
            argv_of(Os::Linux, &custom, &t, &none, &[]),
            Ok(Some(strings(&["/bin/sh", "-c", "mosh admin@myserver"])))
        );
        assert_eq!(
            argv_of(Os::Windows, &custom, &t, &none, &[]),
            Ok(Some(strings(&["cmd", "/C", "mosh admin@myserver"])))
        );
        for os in [Os::Linux, Os::MacOs, Os::Windows] {
            assert_eq!(argv_of(os, &Launch::None, &t, &none, &["ssh"]), Ok(None));
        }
    }

    #[test]
    fn terminal_flags() {
        assert_eq!(terminal_exec_args("/usr/bin/xterm"), strings(&["-e"]));
        assert_eq!(terminal_exec_args("wezterm"), strings(&["start", "--"]));
        assert_eq!(terminal_exec_args("x-terminal-emulator"), strings(&["-e"]));
    }
}
