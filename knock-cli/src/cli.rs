//! The command line: a drop-in for knock(1), plus saved profiles.

use std::path::PathBuf;

use clap::{ArgAction, ArgGroup, Parser, ValueHint};
use clap_complete::Shell;
use knock_profiles::options::Family;

use crate::exit::EXIT_CODES_HELP;

const ABOUT: &str =
    "Send a port-knock sequence (TCP SYN or UDP), from the command line or a saved profile.";

const LONG_ABOUT: &str = "\
Send a port-knock sequence (TCP SYN or UDP), from the command line or a saved profile.

Works like knock(1): `knock HOST PORT[:PROTO]...` sends one packet to each port in
order. With a single argument that names a saved profile, knocks that profile (host,
sequence, delay, and an optional check that the opened port now accepts connections),
so that `knock myserver && ssh myserver` only runs ssh when the door really opened.";

const AFTER_HELP: &str = "\
Examples:
  knock 192.0.2.1 7000 8000:udp 9000       knock like knock(1)
  knock -u -d 200 myhost 7000 8000         all UDP, 200 ms apart
  knock --save myserver myserver.example.org 7000,8000,9000 --open-port 22 --user admin
  knock myserver && ssh myserver           knock, check port 22 opened, then ssh
  knock myserver --ssh -- -L 8080:localhost:80
  knock --close myserver                   send the profile's close_sequence
  knock --import /etc/knockd.conf --host myserver.example.org
  knock --show-secret vault                on the first device: the secret and its URI
  knock --set-secret vault < vault.uri     on another: store it in that device's keyring

Profiles live in one TOML file: --profiles FILE, else $KNOCK_PROFILES, else
~/.config/knock/profiles.toml (Windows: %APPDATA%\\knock\\config\\profiles.toml).";

/// Command-line arguments of `knock`.
#[derive(Debug, Parser)]
#[command(
    name = "knock",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    after_long_help = format!("{AFTER_HELP}\n\n{EXIT_CODES_HELP}"),
    group(ArgGroup::new("mode").args(["list", "show", "save", "remove", "import", "gen_secret", "show_secret", "set_secret", "completions", "man"])),
    group(ArgGroup::new("family_flag").args(["ipv4", "ipv6"])),
)]
pub struct Args {
    /// HOST PORT[:PROTO]... (like knock(1)), or NAME of a saved profile
    #[arg(value_name = "HOST|NAME", value_hint = ValueHint::Hostname)]
    pub target: Option<String>,

    /// Ports to knock, in order: 7000 8000:udp 9000 (or 7000,8000:udp,9000)
    #[arg(value_name = "PORT[:PROTO]")]
    pub ports: Vec<String>,

    /// Arguments passed on to ssh after `--` (with --ssh)
    #[arg(last = true, value_name = "SSH_ARGS")]
    pub ssh_args: Vec<String>,

    /// Make ports without :tcp/:udp use UDP (default is TCP)
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,

    /// Wait MS milliseconds between knocks [default: 0, or the profile's delay_ms]
    #[arg(short = 'd', long = "delay", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(..=knock_profiles::options::Millis::MAX))]
    pub delay: Option<u64>,

    /// Use IPv4 only
    #[arg(short = '4', long = "ipv4")]
    pub ipv4: bool,

    /// Use IPv6 only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Print each knock as it is sent, and the verify result
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,

    /// Print what would be sent, send nothing
    #[arg(short = 'n', long = "dry-run")]
    pub dry_run: bool,

    /// After knocking, wait until this TCP port accepts connections (verify)
    #[arg(long, value_name = "PORT")]
    pub open_port: Option<u16>,

    /// How long to wait for the open port, in milliseconds [default: 3000]
    #[arg(long = "wait", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(..=knock_profiles::options::Millis::MAX))]
    pub wait_ms: Option<u64>,

    /// Knock again this many times if the open port did not open [default: 0]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Knock the profile NAME, verify its port, then start ssh (or PuTTY / the profile's launch command)
    #[arg(long, visible_alias = "connect", conflicts_with = "close")]
    pub ssh: bool,

    /// Send the profile's close_sequence instead of its sequence
    #[arg(long)]
    pub close: bool,

    /// Profile file to use instead of $KNOCK_PROFILES or the default
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, global = true)]
    pub profiles: Option<PathBuf>,

    /// List saved profiles
    #[arg(short = 'l', long, help_heading = "Profiles")]
    pub list: bool,

    /// Show a profile's settings (with defaults filled in)
    #[arg(long, value_name = "NAME", help_heading = "Profiles")]
    pub show: Option<String>,

    /// Save a profile: --save NAME HOST PORT[:PROTO]... [-u -d -4/-6 --open-port --user ...]
    #[arg(long, value_name = "NAME", help_heading = "Profiles")]
    pub save: Option<String>,

    /// Remove a saved profile
    #[arg(long, value_name = "NAME", help_heading = "Profiles")]
    pub remove: Option<String>,

    /// Turn each door of a knockd.conf into a profile (needs --host)
    #[arg(long, value_name = "KNOCKD_CONF", value_hint = ValueHint::FilePath, requires = "host", help_heading = "Profiles")]
    pub import: Option<PathBuf>,

    /// The server's address, for --import
    #[arg(long, value_name = "HOST", help_heading = "Profiles")]
    pub host: Option<String>,

    /// With --save: what --ssh starts: ssh, putty, none, or a command with {host} {port} {user}
    #[arg(long, value_name = "LAUNCH", help_heading = "Profiles")]
    pub launch: Option<String>,

    /// With --save / --ssh: the ssh user
    #[arg(long, value_name = "USER", help_heading = "Profiles")]
    pub user: Option<String>,

    /// With --save / --ssh: the ssh port [default: 22]
    #[arg(long, value_name = "PORT", help_heading = "Profiles")]
    pub ssh_port: Option<u16>,

    /// With --save: the sequence that closes the door again (knock --close NAME)
    #[arg(long, value_name = "PORTS", help_heading = "Profiles")]
    pub close_sequence: Option<String>,

    /// With --save / --import: replace an existing profile of that name (with --gen-secret / --set-secret: its secret)
    #[arg(short = 'f', long, help_heading = "Profiles")]
    pub force: bool,

    /// Make a secret for rotating profile NAME, store it in the OS keyring, print the server's door
    #[arg(long, value_name = "NAME", help_heading = "Rotating sequences")]
    pub gen_secret: Option<String>,

    /// Print the secret of rotating profile NAME (and a knock:// URI) for another device
    #[arg(long, value_name = "NAME", help_heading = "Rotating sequences")]
    pub show_secret: Option<String>,

    /// Store the secret of rotating profile NAME in the OS keyring, read from stdin: base32, or the knock:// URI that --show-secret printed on another device
    #[arg(long, value_name = "NAME", help_heading = "Rotating sequences")]
    pub set_secret: Option<String>,

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[arg(long, value_name = "SHELL", help_heading = "Setup")]
    pub completions: Option<Shell>,

    /// Print the man page (roff) to stdout
    #[arg(long, help_heading = "Setup")]
    pub man: bool,
}

/// What `knock` was asked to do: one of the mutually exclusive modes, or
/// (without one) a knock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'a> {
    Completions(Shell),
    Man,
    List,
    Show(&'a str),
    Save(&'a str),
    Remove(&'a str),
    Import(&'a std::path::Path),
    GenSecret(&'a str),
    ShowSecret(&'a str),
    SetSecret(&'a str),
    /// Knock HOST PORT..., or a profile.
    Knock,
}

impl Args {
    /// The mode (clap's "mode" group lets at most one be given).
    pub fn mode(&self) -> Mode<'_> {
        fn name(flag: &Option<String>) -> Option<&str> {
            flag.as_deref()
        }
        if let Some(shell) = self.completions {
            Mode::Completions(shell)
        } else if self.man {
            Mode::Man
        } else if self.list {
            Mode::List
        } else if let Some(n) = name(&self.show) {
            Mode::Show(n)
        } else if let Some(n) = name(&self.save) {
            Mode::Save(n)
        } else if let Some(n) = name(&self.remove) {
            Mode::Remove(n)
        } else if let Some(conf) = &self.import {
            Mode::Import(conf)
        } else if let Some(n) = name(&self.gen_secret) {
            Mode::GenSecret(n)
        } else if let Some(n) = name(&self.show_secret) {
            Mode::ShowSecret(n)
        } else if let Some(n) = name(&self.set_secret) {
            Mode::SetSecret(n)
        } else {
            Mode::Knock
        }
    }

    /// The address family asked for on the command line, if any.
    pub fn family(&self) -> Option<Family> {
        if self.ipv4 {
            Some(Family::Ipv4)
        } else if self.ipv6 {
            Some(Family::Ipv6)
        } else {
            None
        }
    }
}

pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn parses_knock1_style() {
        let a = Args::try_parse_from(["knock", "-u", "-d", "50", "-4", "-v", "h", "1", "2:tcp"]);
        let a = a.map_err(|e| e.to_string());
        let a = match a {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        assert!(a.udp && a.ipv4 && a.verbose == 1);
        assert_eq!(a.delay, Some(50));
        assert_eq!(a.target.as_deref(), Some("h"));
        assert_eq!(a.ports, vec!["1", "2:tcp"]);
    }

    #[test]
    fn ssh_args_after_double_dash() {
        let a = Args::try_parse_from(["knock", "srv", "--ssh", "--", "-L", "1:h:2"]);
        let a = a.map_err(|e| e.to_string());
        assert_eq!(
            a.map(|a| (a.ssh, a.ssh_args)),
            Ok((true, vec!["-L".into(), "1:h:2".into()]))
        );
    }

    #[test]
    fn each_mode_flag_picks_its_mode() {
        let mode = |args: &[&str]| {
            let mut all = vec!["knock"];
            all.extend(args);
            Args::try_parse_from(all).map_or_else(|e| e.to_string(), |a| format!("{:?}", a.mode()))
        };
        assert_eq!(mode(&["--list"]), "List");
        assert_eq!(mode(&["--show", "x"]), "Show(\"x\")");
        assert_eq!(mode(&["--gen-secret", "v"]), "GenSecret(\"v\")");
        assert_eq!(mode(&["h", "1"]), "Knock");
        assert_eq!(mode(&["x", "--close"]), "Knock");
    }

    #[test]
    fn modes_are_exclusive_and_families_too() {
        assert!(Args::try_parse_from(["knock", "--list", "--remove", "x"]).is_err());
        assert!(Args::try_parse_from(["knock", "-4", "-6", "h", "1"]).is_err());
        assert!(Args::try_parse_from(["knock", "--import", "k.conf"]).is_err());
    }
}
