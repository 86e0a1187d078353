//! What to start after a successful knock: the argv for ssh, PuTTY or a
//! custom command. Pure functions, so the CLI and the GUI build the very
//! same command line and tests can check it on every platform.

use std::net::IpAddr;

use crate::options::{Effective, FilePath, Launch};

/// Where the launched program should connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The host as the user wrote it (kept, so ssh's config and known_hosts match it).
    pub host: &'a str,
    /// The address that was knocked; ssh is pinned to its family so that a
    /// dual-stack host is reached over the family that was opened.
    pub addr: Option<IpAddr>,
    /// The profile's options: `ssh_port`, `user`, ...
    pub options: &'a Effective,
}

impl Target<'_> {
    pub fn port(&self) -> u16 {
        self.options.ssh_port.get()
    }

    pub fn user(&self) -> Option<&str> {
        self.options.user.as_deref()
    }

    /// The private key to log in with.
    pub fn identity(&self) -> Option<&FilePath> {
        self.options.identity_file.as_ref()
    }
}

/// The platform a command line is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Unix,
    Windows,
}

impl Platform {
    pub const fn current() -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Unix
        }
    }
}

/// What "knock, then connect" starts for a profile's `launch`: a profile
/// that launches nothing (`launch = "none"`) still connects with ssh.
pub fn for_connect(launch: &Launch) -> Launch {
    match launch {
        Launch::None => Launch::Ssh,
        other => other.clone(),
    }
}

/// The argv that connects to `target` with `launch`, plus `extra` arguments
/// (given to ssh before the host's command; ignored for PuTTY and custom
/// commands). `Launch::None` gives `None`.
pub fn argv(
    launch: &Launch,
    target: &Target<'_>,
    extra: &[String],
    platform: Platform,
) -> Option<Vec<String>> {
    match launch {
        Launch::None => None,
        Launch::Ssh => Some(ssh_argv(target, extra)),
        Launch::Putty => Some(putty_argv(target, platform)),
        Launch::Custom(template) => Some(custom_argv(template, target, platform)),
    }
}

/// `ssh [-4|-6] [-p PORT] [-l USER] [-i IDENTITY] [EXTRA...] HOST`
pub fn ssh_argv(target: &Target<'_>, extra: &[String]) -> Vec<String> {
    let mut argv = vec!["ssh".to_string()];
    match target.addr {
        Some(IpAddr::V4(_)) => argv.push("-4".into()),
        Some(IpAddr::V6(_)) => argv.push("-6".into()),
        None => {}
    }
    if target.port() != 22 {
        argv.push("-p".into());
        argv.push(target.port().to_string());
    }
    if let Some(user) = target.user() {
        argv.push("-l".into());
        argv.push(user.to_string());
    }
    if let Some(identity) = target.identity() {
        argv.push("-i".into());
        argv.push(identity.to_string());
    }
    // Options must come before the host: everything after it is the remote command.
    let (options, command) = split_ssh_extra(extra);
    argv.extend(options.iter().cloned());
    argv.push(target.host.to_string());
    argv.extend(command.iter().cloned());
    argv
}

/// Splits `extra` into ssh options and a remote command: the command starts
/// at the first argument that is neither an option nor an option's value.
fn split_ssh_extra(extra: &[String]) -> (&[String], &[String]) {
    // ssh(1) options that take a value.
    const WITH_VALUE: &str = "BbcDEeFIiJLlmOopQRSWw";
    let mut i = 0;
    while i < extra.len() {
        let arg = &extra[i];
        if arg == "--" {
            return (&extra[..i], &extra[i + 1..]);
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            break;
        };
        // In a cluster like -vL the first value-taking flag eats the rest, or the next arg.
        let takes_next = flags
            .char_indices()
            .find(|(_, c)| WITH_VALUE.contains(*c))
            .is_some_and(|(at, c)| at + c.len_utf8() == flags.len());
        i += if takes_next { 2 } else { 1 };
    }
    let i = i.min(extra.len());
    (&extra[..i], &extra[i..])
}

/// `putty -ssh [USER@]HOST -P PORT [-i KEY.ppk]` (`putty.exe` on Windows).
/// PuTTY reads only its own key format, so an identity file that is not a
/// `.ppk` is left to PuTTY's own settings (Pageant, a saved session).
pub fn putty_argv(target: &Target<'_>, platform: Platform) -> Vec<String> {
    let exe = match platform {
        Platform::Windows => "putty.exe",
        Platform::Unix => "putty",
    };
    let dest = match target.user() {
        Some(user) => format!("{user}@{}", target.host),
        None => target.host.to_string(),
    };
    let mut argv = vec![
        exe.to_string(),
        "-ssh".to_string(),
        dest,
        "-P".to_string(),
        target.port().to_string(),
    ];
    if let Some(key) = target.identity().filter(|k| k.has_extension("ppk")) {
        argv.push("-i".to_string());
        argv.push(key.to_string());
    }
    argv
}

/// A custom command run by the platform's shell, with `{host}`, `{port}`,
/// `{user}`, `{identity}` (the identity file) and `{addr}` (the knocked
/// address) replaced by quoted values.
pub fn custom_argv(template: &str, target: &Target<'_>, platform: Platform) -> Vec<String> {
    let quote = |s: &str| match platform {
        Platform::Unix => sh_quote(s),
        Platform::Windows => cmd_quote(s),
    };
    let addr = target.addr.map(|a| a.to_string()).unwrap_or_default();
    let identity = target.identity().map(|k| k.to_string()).unwrap_or_default();
    let values = [
        ("{host}", quote(target.host)),
        ("{port}", target.port().to_string()),
        ("{user}", quote(target.user().unwrap_or(""))),
        ("{identity}", quote(&identity)),
        ("{addr}", quote(&addr)),
    ];
    let line = substitute(template, &values);
    match platform {
        Platform::Unix => vec!["/bin/sh".into(), "-c".into(), line],
        Platform::Windows => vec!["cmd".into(), "/C".into(), line],
    }
}

/// Replaces each placeholder of `template` in one pass: a value that
/// itself contains a placeholder (a user named `{port}`) stays as it is.
fn substitute(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match values.iter().find(|(key, _)| rest.starts_with(key)) {
            Some((key, value)) => {
                out.push_str(value);
                rest = &rest[key.len()..];
            }
            None => {
                out.push('{');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A process for `program` and `args` (an argv from [`argv`]), ready to
/// spawn. On Windows the line of `cmd /C LINE` (a custom launch command)
/// goes to cmd.exe as it is ([`raw_arg`]): Rust quotes arguments for
/// programs that split them like the C runtime, which cmd.exe does not, so
/// a quoted value such as `"my host"` would reach it mangled.
///
/// [`raw_arg`]: https://doc.rust-lang.org/std/os/windows/process/trait.CommandExt.html#tymethod.raw_arg
pub fn process(program: &str, args: &[String]) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    #[cfg(windows)]
    if let [flag, line] = args
        && is_cmd(program)
        && flag.eq_ignore_ascii_case("/C")
    {
        use std::os::windows::process::CommandExt;
        command.arg(flag).raw_arg(line);
        return command;
    }
    command.args(args);
    command
}

/// `cmd`, `cmd.exe` or a path to it.
#[cfg_attr(not(windows), allow(dead_code))]
fn is_cmd(program: &str) -> bool {
    let name = program.rsplit(['/', '\\']).next().unwrap_or(program);
    name.eq_ignore_ascii_case("cmd") || name.eq_ignore_ascii_case("cmd.exe")
}

/// Quotes for POSIX sh unless the value is plainly safe (no glob
/// characters: `[`, `]`, `*`, `?` are quoted).
pub fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn cmd_quote(s: &str) -> String {
    if !s.is_empty() && !s.contains([' ', '"', '&', '|', '<', '>', '^']) {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::options::{Options, Port};

    /// The options of a profile with this ssh port and user.
    fn options(port: u16, user: Option<&str>) -> Effective {
        Options {
            ssh_port: Port::new(port),
            user: user.map(str::to_string),
            ..Options::default()
        }
        .effective()
    }

    /// `options` with `identity_file` set to `key`.
    fn with_key(options: Effective, key: &str) -> Effective {
        let mut layer = options.to_options();
        layer.set_text("identity_file", key).unwrap();
        layer.effective()
    }

    fn target<'a>(addr: Option<&str>, options: &'a Effective) -> Target<'a> {
        Target {
            host: "myserver",
            addr: addr.and_then(|a| a.parse().ok()),
            options,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ssh_pins_the_knocked_family_and_passes_port_and_user() {
        let o = options(2222, Some("admin"));
        let t = target(Some("2001:db8::1"), &o);
        assert_eq!(
            ssh_argv(&t, &[]),
            strings(&["ssh", "-6", "-p", "2222", "-l", "admin", "myserver"])
        );
        let o = options(22, None);
        let t = target(Some("192.0.2.1"), &o);
        assert_eq!(ssh_argv(&t, &[]), strings(&["ssh", "-4", "myserver"]));
    }

    #[test]
    fn the_identity_file_goes_to_ssh_putty_and_custom_commands() {
        let o = with_key(options(2222, Some("admin")), "~/.ssh/id_door");
        let t = target(Some("192.0.2.1"), &o);
        assert_eq!(
            ssh_argv(&t, &strings(&["-v"])),
            strings(&[
                "ssh",
                "-4",
                "-p",
                "2222",
                "-l",
                "admin",
                "-i",
                "~/.ssh/id_door",
                "-v",
                "myserver"
            ])
        );
        // PuTTY takes its own .ppk keys only.
        assert_eq!(
            putty_argv(&t, Platform::Windows),
            strings(&["putty.exe", "-ssh", "admin@myserver", "-P", "2222"])
        );
        let ppk = with_key(options(22, None), r"C:\Users\me\door key.PPK");
        assert_eq!(
            putty_argv(&target(None, &ppk), Platform::Windows),
            strings(&[
                "putty.exe",
                "-ssh",
                "myserver",
                "-P",
                "22",
                "-i",
                r"C:\Users\me\door key.PPK"
            ])
        );
        assert_eq!(
            custom_argv("mosh --ssh='ssh -i {identity}' {host}", &t, Platform::Unix),
            strings(&[
                "/bin/sh",
                "-c",
                "mosh --ssh='ssh -i '~/.ssh/id_door'' myserver"
            ])
        );
        // Unset: no -i, and {identity} is empty.
        let plain = options(22, None);
        let t = target(None, &plain);
        assert_eq!(ssh_argv(&t, &[]), strings(&["ssh", "myserver"]));
        assert_eq!(
            custom_argv("x {identity}", &t, Platform::Unix),
            strings(&["/bin/sh", "-c", "x ''"])
        );
    }

    #[test]
    fn ssh_extra_options_go_before_the_host_and_commands_after() {
        let o = options(22, None);
        let t = target(None, &o);
        let extra = strings(&["-L", "8080:localhost:80", "-v", "uptime", "-a"]);
        assert_eq!(
            ssh_argv(&t, &extra),
            strings(&[
                "ssh",
                "-L",
                "8080:localhost:80",
                "-v",
                "myserver",
                "uptime",
                "-a"
            ])
        );
        let extra = strings(&["-oBatchMode=yes", "true"]);
        assert_eq!(
            ssh_argv(&t, &extra),
            strings(&["ssh", "-oBatchMode=yes", "myserver", "true"])
        );
        let extra = strings(&["-vF", "cfg", "--", "-x"]);
        assert_eq!(
            ssh_argv(&t, &extra),
            strings(&["ssh", "-vF", "cfg", "myserver", "-x"])
        );
    }

    #[test]
    fn putty_like_the_article() {
        let o = options(22, Some("admin"));
        let t = target(None, &o);
        assert_eq!(
            putty_argv(&t, Platform::Windows),
            strings(&["putty.exe", "-ssh", "admin@myserver", "-P", "22"])
        );
        assert_eq!(
            argv(
                &Launch::Putty,
                &target(None, &options(2200, None)),
                &[],
                Platform::Unix
            ),
            Some(strings(&["putty", "-ssh", "myserver", "-P", "2200"]))
        );
    }

    #[test]
    fn custom_commands_are_quoted_for_the_shell() {
        let o = options(22, Some("o'neil"));
        let t = Target {
            host: "my host",
            addr: None,
            options: &o,
        };
        let line = custom_argv("mosh {user}@{host} -p {port}", &t, Platform::Unix);
        assert_eq!(
            line,
            strings(&["/bin/sh", "-c", r"mosh 'o'\''neil'@'my host' -p 22"])
        );
        let line = custom_argv("putty -load {host}", &t, Platform::Windows);
        assert_eq!(line, strings(&["cmd", "/C", "putty -load \"my host\""]));
    }

    #[test]
    fn glob_characters_are_quoted() {
        assert_eq!(sh_quote("[2001:db8::1]"), "'[2001:db8::1]'");
        assert_eq!(sh_quote("host*"), "'host*'");
        assert_eq!(sh_quote("a?b"), "'a?b'");
        assert_eq!(sh_quote("192.0.2.1"), "192.0.2.1");
        let o = options(22, None);
        let t = Target {
            host: "[2001:db8::1]",
            addr: None,
            options: &o,
        };
        assert_eq!(
            custom_argv("mosh {host}", &t, Platform::Unix),
            strings(&["/bin/sh", "-c", "mosh '[2001:db8::1]'"])
        );
    }

    #[test]
    fn placeholders_inside_values_are_not_substituted_again() {
        let o = options(2222, Some("{port}"));
        let t = Target {
            host: "{user}",
            addr: "192.0.2.1".parse().ok(),
            options: &o,
        };
        assert_eq!(
            custom_argv(
                "ssh -p {port} {user}@{host} {addr} {other}",
                &t,
                Platform::Unix
            ),
            strings(&[
                "/bin/sh",
                "-c",
                "ssh -p 2222 '{port}'@'{user}' 192.0.2.1 {other}"
            ])
        );
        assert_eq!(
            custom_argv("x {host}{", &t, Platform::Windows),
            strings(&["cmd", "/C", "x {user}{"])
        );
    }

    #[test]
    fn process_keeps_the_argv() {
        assert!(is_cmd("cmd") && is_cmd("C:\\Windows\\System32\\CMD.EXE"));
        assert!(!is_cmd("ssh"));
        let p = process("ssh", &strings(&["-p", "2222", "myserver"]));
        assert_eq!(p.get_program(), "ssh");
        let args: Vec<_> = p.get_args().collect();
        assert_eq!(args, ["-p", "2222", "myserver"]);
    }

    #[test]
    fn connecting_with_launch_none_starts_ssh() {
        assert_eq!(for_connect(&Launch::None), Launch::Ssh);
        assert_eq!(for_connect(&Launch::Putty), Launch::Putty);
        let custom: Launch = "mosh {host}".parse().unwrap();
        assert_eq!(for_connect(&custom), custom);
    }

    #[test]
    fn none_launches_nothing() {
        assert_eq!(
            argv(
                &Launch::None,
                &target(None, &options(22, None)),
                &[],
                Platform::Unix
            ),
            None
        );
    }
}
