//! Exit codes: each kind of failure has its own, so scripts can tell
//! "the door did not open" from "the profile file is broken".

use std::process::ExitCode;

use knock_profiles::send::{SendError, exit_code};
use knock_profiles::store::StoreError;

/// Why `knock` failed, as an exit code (the library's [`exit_code`]s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(pub u8);

impl Code {
    pub const OK: Code = Code(exit_code::OK);
    pub const OTHER: Code = Code(exit_code::OTHER);
    pub const USAGE: Code = Code(exit_code::USAGE);
    pub const CONFIG: Code = Code(exit_code::CONFIG);
    pub const LAUNCH: Code = Code(exit_code::LAUNCH);
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code.0)
    }
}

pub const EXIT_CODES_HELP: &str = "\
Exit status:
  0    the knocks went out (and, with --open-port/open_port, the port opened)
  2    usage: bad flag, port or sequence on the command line
  3    config: the profile file is unreadable or invalid, or no such profile
  4    resolve: the host name did not resolve (for the chosen -4/-6 family)
  5    send: a knock could not be sent
  6    verify: the knocks went out but the open port did not open in time
  7    launch: ssh / PuTTY / the launch command could not be started
  130  interrupted";

/// A command-line mistake found after clap's own checks.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A problem with the profile file or a profile, in words made for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigMessage(pub String);

/// ssh / PuTTY / a custom launch command could not be started.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LaunchError(pub String);

/// The exit code for an error chain from `run`.
pub fn classify(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if cause.is::<UsageError>() || cause.is::<knock_profiles::SequenceError>() {
            return Code::USAGE;
        }
        if cause.is::<LaunchError>() {
            return Code::LAUNCH;
        }
        if cause.is::<StoreError>()
            || cause.is::<ConfigMessage>()
            || cause.is::<knock_profiles::profile::ConfigError>()
        {
            return Code::CONFIG;
        }
        if cause.is::<knock_profiles::knockd_conf::KnockdConfError>()
            || cause.is::<knock_profiles::secret::SecretError>()
            || cause.is::<knock_profiles::resolve::LoadError>()
        {
            return Code::CONFIG;
        }
        if let Some(send) = cause.downcast_ref::<SendError>() {
            return Code(send.exit_code());
        }
    }
    Code::OTHER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_the_library_codes() {
        for (code, word) in [
            (exit_code::OK, "the knocks went out"),
            (exit_code::USAGE, "usage"),
            (exit_code::CONFIG, "config"),
            (exit_code::RESOLVE, "resolve"),
            (exit_code::SEND, "send"),
            (exit_code::VERIFY, "verify"),
            (exit_code::LAUNCH, "launch"),
            (exit_code::CANCELLED, "interrupted"),
        ] {
            let line = format!("\n  {code:<4} {word}");
            assert!(EXIT_CODES_HELP.contains(&line), "{line:?}");
        }
    }

    #[test]
    fn one_line_says_each_cause_once() {
        let io = std::io::Error::other("network unreachable");
        let send = SendError::Send {
            knock: knock_profiles::Knock::tcp(7000),
            to: "192.0.2.1:7000".parse().unwrap(),
            error: io,
        };
        let err = anyhow::Error::new(send).context("profile lab");
        let line = knock_profiles::message::one_line(err.as_ref());
        assert_eq!(line.matches("network unreachable").count(), 1, "{line}");
        assert!(
            line.starts_with("profile lab: cannot send tcp knock"),
            "{line}"
        );
        assert_eq!(classify(&err), Code(exit_code::SEND));
    }
}
