//! knockd's configuration file, `knockd.conf`, as knockd 0.8 reads it, plus
//! the headerless form printed in many tutorials.
//!
//! The sectioned form:
//!
//! ```text
//! [options]
//!     UseSyslog
//!     LogFile = /var/log/knockd.log
//! [openSSH]
//!     Sequence    = 7000,8000,9000
//!     Seq_Timeout = 5
//!     TCPFlags    = syn
//!     Command     = /sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
//! ```
//!
//! The headerless form has no `[section]` lines: option keys (`logfile`,
//! `interface`, ...) go to the options and every `sequence` line starts a new
//! door named `door1`, `door2`, ... . knockd refuses it; we accept it with a
//! warning that names the line.
//!
//! Keys are case-insensitive, whitespace around `=` is free, and a line whose
//! first non-blank character is `#` is a comment. As in knockd, a `#` later in
//! a line is part of the value (commands may contain one).
//!
//! A door with `Rotate = yes` is a rotating door ([`RotatingDoor`], kept in
//! [`KnockdConfig::rotating`]): it has no `Sequence`; its sequence is derived
//! each period from a shared secret ([`crate::rotate`]). Its keys, besides
//! the usual Seq_Timeout, TCPFlags, commands and Target:
//!
//! ```text
//! [vault]
//!     Rotate      = yes
//!     Secret_File = /etc/knock/vault.secret   # base32, mode 0600
//!     Period      = 30                        # seconds, 5-86400 (default 30)
//!     Length      = 4                         # knocks, 1-32 (default 4)
//!     Port_Range  = 10000-60000               # default
//!     Exclude     = 22,443                    # optional
//!     Protocol    = tcp                       # tcp | udp | both (default tcp)
//! ```
//!
//! The secret file is not read here (see [`crate::secret::Secret::read_file`]).
//!
//! A door with `SPA = yes` is a Single Packet Authorization door ([`SpaDoor`],
//! kept in [`KnockdConfig::spa`]): it has no `Sequence`; it opens on one
//! fwknop packet, checked against fwknopd's `access.conf`
//! ([`crate::fwknop_access`], read by the server, not here):
//!
//! ```text
//! [vault]
//!     SPA           = yes
//!     Access_File   = /etc/fwknop/access.conf
//!     SPA_Port      = 62201                     # UDP (default 62201)
//!     Start_Command = /usr/sbin/iptables -I INPUT -s %IP% -p %PROTO% --dport %PORT% -j ACCEPT
//!     Stop_Command  = /usr/sbin/iptables -D INPUT -s %IP% -p %PROTO% --dport %PORT% -j ACCEPT
//! ```
//!
//! Its commands run once for each port the packet asks for (`%PORT%`,
//! `%PROTO%`; see [`substitute`]). Seq_Timeout, TCPFlags and
//! One_Time_Sequences do not apply to it; Cmd_Timeout, when given, is the
//! stop delay for stanzas without `FW_ACCESS_TIMEOUT`.
//!
//! Parsing is pure: [`KnockdConfig::parse`] takes the text. Only a door with
//! `One_Time_Sequences` needs another file; [`KnockdConfig::parse_with`]
//! takes the function that reads it, and [`KnockdConfig::parse`] reads it
//! from disk.

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fwknop_access::DEFAULT_FW_ACCESS_TIMEOUT;
use crate::rotate::{self, Params, ProtoChoice, RotateError};
use crate::sequence::{Sequence, TcpFlags};
use crate::spa::{self, ProtoPort};

/// Default `Seq_Timeout`, in seconds (knockd's).
pub const DEFAULT_SEQ_TIMEOUT: u64 = 25;
/// Default `Cmd_Timeout`, in seconds (knockd's).
pub const DEFAULT_CMD_TIMEOUT: u64 = 10;
/// Largest timeout accepted, in seconds (about 23 days). Bounded so a
/// matcher can keep times in 32-bit milliseconds.
pub const MAX_TIMEOUT: u64 = 2_000_000;

/// The `[options]` section (the daemon's own settings; named apart from the
/// profile layer's `Options`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonOptions {
    pub use_syslog: bool,
    pub log_file: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub interface: Option<String>,
}

/// One door: a knock sequence and what to run when it is knocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Door {
    pub name: String,
    /// The sequence to knock. For a door with `One_Time_Sequences` this is
    /// the first unused sequence of that file.
    pub sequence: Sequence,
    pub one_time_sequences: Option<PathBuf>,
    pub seq_timeout: Duration,
    pub tcpflags: TcpFlags,
    /// `Start_Command`, `Cmd_Timeout`, `Stop_Command` and their `_6` variants.
    pub commands: DoorCommands,
    /// `Target`: match knocks to this address instead of the interface's.
    pub target: Option<IpAddr>,
    /// Line of the section header (or of the `sequence` line that started a
    /// headerless door).
    pub line: usize,
}

/// The command keys a fixed and a rotating door have in common.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorCommands {
    /// `Start_Command` (alias `Command`) as written; `Some("")` means "run
    /// nothing". `%IP%` is replaced by the knocker's address.
    pub start: Option<String>,
    /// `Start_Command_6` (alias `Command_6`); `None` falls back to
    /// `start`, `Some("")` runs nothing.
    pub start_6: Option<String>,
    /// `Cmd_Timeout`.
    pub cmd_timeout: Duration,
    /// `Stop_Command`; `Some("")` runs nothing.
    pub stop: Option<String>,
    /// `Stop_Command_6`; `None` falls back to `stop`; `Some("")` runs nothing.
    pub stop_6: Option<String>,
}

impl DoorCommands {
    /// The start command for a knocker of this family (IPv6 uses the `_6`
    /// variant when it is set), or `None` if nothing is to run.
    pub fn start_for(&self, ipv6: bool) -> Option<&str> {
        pick(&self.start, &self.start_6, ipv6)
    }

    /// The stop command for a knocker of this family, or `None`.
    pub fn stop_for(&self, ipv6: bool) -> Option<&str> {
        pick(&self.stop, &self.stop_6, ipv6)
    }
}

/// A door with `Rotate = yes`: its sequence changes every period and is
/// derived from the secret in `secret_file` ([`crate::rotate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatingDoor {
    /// The section name: the door name `D` of the derivation.
    pub name: String,
    /// `Secret_File`: base32 secret, readable by its owner only.
    pub secret_file: PathBuf,
    /// `Period`, `Length`, `Port_Range`, `Exclude`, `Protocol` (checked).
    pub params: Params,
    pub seq_timeout: Duration,
    pub tcpflags: TcpFlags,
    /// As in [`Door`].
    pub commands: DoorCommands,
    pub target: Option<IpAddr>,
    /// Line of the section header.
    pub line: usize,
}

/// A door with `SPA = yes`: it opens on one fwknop SPA packet sent to UDP
/// port `port`, checked against the stanzas of fwknopd's `access.conf` in
/// `access_file` (read by the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaDoor {
    /// The section name.
    pub name: String,
    /// `Access_File`: fwknopd's access.conf (keys inside: mode 0600).
    pub access_file: PathBuf,
    /// `SPA_Port` (default [`crate::spa::DEFAULT_PORT`], 62201).
    pub port: u16,
    /// As in [`Door`]; `commands.cmd_timeout` is the stop delay for a stanza
    /// without `FW_ACCESS_TIMEOUT`: `Cmd_Timeout` when given, else fwknopd's
    /// default ([`crate::fwknop_access::DEFAULT_FW_ACCESS_TIMEOUT`]).
    pub commands: DoorCommands,
    pub target: Option<IpAddr>,
    /// Line of the section header.
    pub line: usize,
}

fn pick<'a>(v4: &'a Option<String>, v6: &'a Option<String>, ipv6: bool) -> Option<&'a str> {
    let chosen = if ipv6 && v6.is_some() { v6 } else { v4 };
    chosen.as_deref().map(str::trim).filter(|c| !c.is_empty())
}

/// Whether `command` runs `iptables`/`ip6tables` with `-A` (`--append`) to
/// a built-in chain and `-j ACCEPT` (`--jump ACCEPT`): the rule lands at
/// the end of the chain, after any DROP rule of the port there, and then
/// the knock opens nothing. Each part of a shell list (`;`, `&&`, `||`,
/// `|`) is looked at on its own.
pub fn appends_accept(command: &str) -> bool {
    command.split([';', '&', '|']).any(|part| {
        let words: Vec<&str> = part.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| {
            let prog = w.rsplit('/').next().unwrap_or(w);
            prog.split('-')
                .next()
                .is_some_and(|p| p == "iptables" || p == "ip6tables")
        }) else {
            return false;
        };
        let args = &words[at + 1..];
        // An ACCEPT appended to a chain of its own (a KNOCK chain the
        // admin jumps to where they like) is placed on purpose.
        let append = args.windows(2).any(|w| {
            (w[0] == "-A" || w[0] == "--append")
                && matches!(
                    w[1],
                    "INPUT" | "FORWARD" | "OUTPUT" | "PREROUTING" | "POSTROUTING"
                )
        });
        let accept = args
            .windows(2)
            .any(|w| (w[0] == "-j" || w[0] == "--jump") && w[1] == "ACCEPT");
        append && accept
    })
}

/// Longest command that `/bin/sh -c COMMAND` can be given on Linux: one
/// argument is at most MAX_ARG_STRLEN (32 pages, 131072 bytes) with its
/// terminating NUL; longer ones fail with E2BIG when the door opens.
pub const MAX_COMMAND_LEN: usize = 131_071;

/// Bytes of `command` once every `%IP%` holds the longest address
/// (an IPv6 address, 39 characters).
fn command_arg_len(command: &str) -> usize {
    command.len() + command.matches("%IP%").count() * (39 - "%IP%".len())
}

/// `7000 : udp` -> `7000:udp`: blanks around a protocol's colon go.
fn tighten_protocols(sequence: &str) -> String {
    let mut out = String::with_capacity(sequence.len());
    let mut after_colon = false;
    for c in sequence.chars() {
        if c == ':' {
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            after_colon = true;
            out.push(c);
        } else if after_colon && (c == ' ' || c == '\t') {
            continue;
        } else {
            after_colon = false;
            out.push(c);
        }
    }
    out
}

/// Replaces every `%IP%` in `command` by `ip`, as knockd does.
pub fn substitute_ip(command: &str, ip: &IpAddr) -> String {
    command.replace("%IP%", &ip.to_string())
}

/// [`substitute_ip`], and for an SPA door's command the port it opens:
/// `%PORT%` (the number) and `%PROTO%` (`tcp` or `udp`).
pub fn substitute(command: &str, ip: &IpAddr, port: Option<ProtoPort>) -> String {
    let with_ip = substitute_ip(command, ip);
    match port {
        Some(p) => with_ip
            .replace("%PORT%", &p.port.to_string())
            .replace("%PROTO%", p.proto.as_str()),
        None => with_ip,
    }
}

/// Whether `command` names the port it opens (`%PORT%` or `%PROTO%`): an
/// SPA door runs such a command once per requested port, another once.
pub fn names_port(command: &str) -> bool {
    command.contains("%PORT%") || command.contains("%PROTO%")
}

/// Something accepted but worth telling the user, at `path:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: warning: {}",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

/// A config error: `path:line: message` where the message names the key or
/// value at fault and what was expected.
/// `line` is 0 for errors about the whole file (it cannot be read); the
/// message then reads `path: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
pub struct KnockdConfError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl KnockdConfError {
    /// An error about door `name` at `line` of `path` (its section, or the
    /// line of the key at fault): `path:line: door "NAME": message`. The one
    /// place that prefix is written, for the parser and for what a server
    /// checks later (capacity, secret and one-time sequence files).
    pub fn door(
        path: &Path,
        line: usize,
        name: &str,
        message: impl fmt::Display,
    ) -> KnockdConfError {
        KnockdConfError {
            path: path.to_path_buf(),
            line,
            message: format!("door \"{name}\": {message}"),
        }
    }
}

/// A parsed knockd.conf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KnockdConfig {
    pub options: DaemonOptions,
    /// Doors with a fixed (or one-time) sequence, in file order.
    pub doors: Vec<Door>,
    /// Doors with `Rotate = yes`, in file order.
    pub rotating: Vec<RotatingDoor>,
    /// Doors with `SPA = yes`, in file order.
    pub spa: Vec<SpaDoor>,
    pub warnings: Vec<Warning>,
}

const OPTION_KEYS: [&str; 4] = ["USESYSLOG", "LOGFILE", "PIDFILE", "INTERFACE"];
const DOOR_KEYS: [&str; 22] = [
    "SEQUENCE",
    "ONE_TIME_SEQUENCES",
    "SEQ_TIMEOUT",
    "TCPFLAGS",
    "START_COMMAND",
    "COMMAND",
    "START_COMMAND_6",
    "COMMAND_6",
    "CMD_TIMEOUT",
    "STOP_COMMAND",
    "STOP_COMMAND_6",
    "TARGET",
    "ROTATE",
    "SECRET_FILE",
    "PERIOD",
    "LENGTH",
    "PORT_RANGE",
    "EXCLUDE",
    "PROTOCOL",
    "SPA",
    "ACCESS_FILE",
    "SPA_PORT",
];
/// Keys that only a `SPA = yes` door may have.
const SPA_KEYS: [&str; 2] = ["ACCESS_FILE", "SPA_PORT"];
/// Keys of a door with a sequence that an SPA door does not take.
const NOT_SPA_KEYS: [&str; 4] = ["SEQUENCE", "ONE_TIME_SEQUENCES", "SEQ_TIMEOUT", "TCPFLAGS"];
/// Keys that only a `Rotate = yes` door may have.
const ROTATE_KEYS: [&str; 6] = [
    "SECRET_FILE",
    "PERIOD",
    "LENGTH",
    "PORT_RANGE",
    "EXCLUDE",
    "PROTOCOL",
];

/// A door while its section is being read.
#[derive(Default)]
struct DoorDraft {
    name: String,
    line: usize,
    sequence: Option<(Sequence, usize)>,
    one_time: Option<(PathBuf, usize)>,
    seq_timeout: Option<u64>,
    tcpflags: TcpFlags,
    start_command: Option<String>,
    start_command_6: Option<String>,
    cmd_timeout: Option<u64>,
    stop_command: Option<String>,
    stop_command_6: Option<String>,
    target: Option<IpAddr>,
    rotate: Option<(bool, usize)>,
    secret_file: Option<(PathBuf, usize)>,
    period: Option<(u64, usize)>,
    length: Option<(usize, usize)>,
    port_range: Option<(RangeInclusive<u16>, usize)>,
    exclude: Option<(Vec<u16>, usize)>,
    protocol: Option<(ProtoChoice, usize)>,
    /// First line of a key that only a rotating door may have.
    rotate_key: Option<(&'static str, usize)>,
    spa: Option<(bool, usize)>,
    access_file: Option<(PathBuf, usize)>,
    spa_port: Option<(u16, usize)>,
    /// First line of a key that only an SPA door may have.
    spa_key: Option<(&'static str, usize)>,
    /// First line of a key that an SPA door does not take.
    not_spa_key: Option<(&'static str, usize)>,
    seen: Vec<&'static str>,
}

impl DoorDraft {
    /// The command keys as read, with knockd's default Cmd_Timeout.
    fn commands(&mut self) -> DoorCommands {
        DoorCommands {
            start: self.start_command.take(),
            start_6: self.start_command_6.take(),
            cmd_timeout: Duration::from_secs(self.cmd_timeout.unwrap_or(DEFAULT_CMD_TIMEOUT)),
            stop: self.stop_command.take(),
            stop_6: self.stop_command_6.take(),
        }
    }
}

/// A parsed SPA key's value.
enum SpaValue {
    Spa(bool),
    AccessFile(PathBuf),
    Port(u16),
}

/// A parsed rotation key's value.
enum RotateValue {
    Rotate(bool),
    SecretFile(PathBuf),
    Period(u64),
    Length(usize),
    Range(RangeInclusive<u16>),
    Exclude(Vec<u16>),
    Protocol(ProtoChoice),
}

enum Section {
    /// Before any `[section]` line: the headerless form.
    Top,
    Options,
    Door,
}

struct Parser<'a> {
    path: &'a Path,
    config: KnockdConfig,
    section: Section,
    door: Option<DoorDraft>,
    headerless_doors: usize,
    warned_headerless_options: bool,
    pending: Vec<DoorDraft>,
    /// Doors left out because their One_Time_Sequences file is used up:
    /// (name, line of the key, file).
    used_up: Vec<(String, usize, PathBuf)>,
}

impl KnockdConfig {
    /// Parses knockd.conf text; `origin` names the file in messages and is
    /// where relative paths are reported from. A `One_Time_Sequences` file is
    /// read from disk.
    pub fn parse(text: &str, origin: &Path) -> Result<KnockdConfig, KnockdConfError> {
        Self::parse_with(text, origin, &mut |p: &Path| std::fs::read_to_string(p))
    }

    /// Like [`KnockdConfig::parse`], with `read` supplying the contents of
    /// `One_Time_Sequences` files.
    pub fn parse_with(
        text: &str,
        origin: &Path,
        read: &mut dyn FnMut(&Path) -> std::io::Result<String>,
    ) -> Result<KnockdConfig, KnockdConfError> {
        let mut p = Parser {
            path: origin,
            config: KnockdConfig::default(),
            section: Section::Top,
            door: None,
            headerless_doors: 0,
            warned_headerless_options: false,
            pending: Vec::new(),
            used_up: Vec::new(),
        };
        for (index, raw) in text.lines().enumerate() {
            p.line(index + 1, raw)?;
        }
        p.finish_door(read)?;
        if p.config.doors.is_empty()
            && p.config.rotating.is_empty()
            && p.config.spa.is_empty()
            && let Some((name, line, file)) = p.used_up.first()
        {
            // Nothing could ever open: knockd refuses such a config too.
            return Err(p.err(
                *line,
                format!(
                    "no door can open: door \"{name}\" has used every sequence of its \
                     One_Time_Sequences file {} (add unused sequences to it, or another door)",
                    file.display()
                ),
            ));
        }
        if p.config.doors.is_empty() && p.config.rotating.is_empty() && p.config.spa.is_empty() {
            p.config.warnings.push(Warning {
                path: origin.to_path_buf(),
                line: text.lines().count().max(1),
                message: "no door defined (expected a [name] section with a Sequence)".into(),
            });
        }
        Ok(p.config)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<KnockdConfig, KnockdConfError> {
        let text = std::fs::read_to_string(path).map_err(|e| KnockdConfError {
            path: path.to_path_buf(),
            line: 0,
            message: format!("cannot read config file: {e}"),
        })?;
        Self::parse(&text, path)
    }
}

impl Parser<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> KnockdConfError {
        KnockdConfError {
            path: self.path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.config.warnings.push(Warning {
            path: self.path.to_path_buf(),
            line,
            message: message.into(),
        });
    }

    fn line(&mut self, n: usize, raw: &str) -> Result<(), KnockdConfError> {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(self.err(
                    n,
                    format!("section header \"{line}\" is not closed (expected \"[name]\")"),
                ));
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(self.err(
                    n,
                    "empty section name (expected \"[options]\" or \"[door name]\")",
                ));
            }
            self.section_header(n, name)?;
            return Ok(());
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (line, None),
        };
        if key.is_empty() {
            return Err(self.err(n, format!("\"{line}\" has no key (expected KEY = VALUE)")));
        }
        let upper = key.to_ascii_uppercase();
        match self.section {
            Section::Options => self.option(n, key, &upper, value),
            Section::Door => self.door_key(n, key, &upper, value),
            Section::Top => {
                if let Some(opt) = OPTION_KEYS.iter().find(|k| **k == upper) {
                    if !self.warned_headerless_options {
                        self.warned_headerless_options = true;
                        self.warn(
                            n,
                            format!(
                                "\"{key}\" outside any section: taken as an [options] key \
                                 (knockd requires an [options] header here)"
                            ),
                        );
                    }
                    return self.option(n, key, opt, value);
                }
                if upper == "SEQUENCE" {
                    return self.headerless_door(n, key, value);
                }
                if self.door.is_some()
                    && (DOOR_KEYS.contains(&upper.as_str()) || upper == "TIMEOUT")
                {
                    return self.door_key(n, key, &upper, value);
                }
                if DOOR_KEYS.contains(&upper.as_str()) {
                    return Err(self.err(
                        n,
                        format!(
                            "\"{key}\" outside any door (expected a \"[name]\" section header \
                             or a \"sequence = ...\" line before it)"
                        ),
                    ));
                }
                Err(self.unknown_key(n, key, &upper, &[&OPTION_KEYS[..], &DOOR_KEYS[..]].concat()))
            }
        }
    }

    fn section_header(&mut self, n: usize, name: &str) -> Result<(), KnockdConfError> {
        self.finish_door_lazy();
        if name.eq_ignore_ascii_case("options") {
            self.section = Section::Options;
            return Ok(());
        }
        if self.config.doors.iter().any(|d| d.name == name)
            || self.pending.iter().any(|d| d.name == name)
        {
            self.warn(n, format!("door \"{name}\" is defined more than once"));
        }
        self.section = Section::Door;
        self.door = Some(DoorDraft {
            name: name.to_string(),
            line: n,
            ..DoorDraft::default()
        });
        Ok(())
    }

    fn headerless_door(
        &mut self,
        n: usize,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), KnockdConfError> {
        self.finish_door_lazy();
        self.headerless_doors += 1;
        let name = format!("door{}", self.headerless_doors);
        self.warn(
            n,
            format!(
                "\"{key}\" outside any section: starts door \"{name}\" \
                 (knockd requires a \"[name]\" section header here)"
            ),
        );
        self.door = Some(DoorDraft {
            name,
            line: n,
            ..DoorDraft::default()
        });
        self.door_key(n, key, "SEQUENCE", value)
    }

    fn option(
        &mut self,
        n: usize,
        key: &str,
        upper: &str,
        value: Option<&str>,
    ) -> Result<(), KnockdConfError> {
        match upper {
            "USESYSLOG" => {
                if let Some(v) = value
                    && !v.is_empty()
                {
                        self.warn(
                            n,
                            format!("\"{key}\" takes no value; \"{v}\" ignored (syslog is on)"),
                        );
                    }
                self.config.options.use_syslog = true;
                Ok(())
            }
            "LOGFILE" | "PIDFILE" | "INTERFACE" => {
                let v = self.required(n, key, value, "a value")?;
                let options = &mut self.config.options;
                match upper {
                    "LOGFILE" => options.log_file = Some(PathBuf::from(v)),
                    "PIDFILE" => options.pid_file = Some(PathBuf::from(v)),
                    _ => options.interface = Some(v.to_string()),
                }
                Ok(())
            }
            _ if DOOR_KEYS.contains(&upper) => Err(self.err(
                n,
                format!(
                    "door key \"{key}\" in [options] (expected a \"[name]\" door section header before it)"
                ),
            )),
            _ => Err(self.unknown_key(n, key, upper, &OPTION_KEYS)),
        }
    }

    fn required<'v>(
        &self,
        n: usize,
        key: &str,
        value: Option<&'v str>,
        expected: &str,
    ) -> Result<&'v str, KnockdConfError> {
        match value {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(self.err(
                n,
                format!("\"{key}\" has an empty value (expected {expected})"),
            )),
            None => Err(self.err(
                n,
                format!("\"{key}\" has no value (expected \"{key} = {expected}\")"),
            )),
        }
    }

    fn timeout(
        &mut self,
        n: usize,
        key: &str,
        value: Option<&str>,
    ) -> Result<u64, KnockdConfError> {
        let v = self.required(n, key, value, "a number of seconds")?;
        // knockd reads the leading number (atoi): "5s" is 5 seconds, and so
        // "1m" is 1 second. Read it the same, and say so.
        let digits = v.bytes().take_while(u8::is_ascii_digit).count();
        let (number, rest) = v.split_at(digits);
        match number.parse::<u64>() {
            Ok(s) if s <= MAX_TIMEOUT => {
                if !rest.is_empty() {
                    let unit = if s == 1 { "second" } else { "seconds" };
                    self.warn(
                        n,
                        format!(
                            "\"{key}\" value \"{v}\" is read as {s} {unit}, as knockd reads it \
                             (the leading number only: \"1m\" would be 1 second); write whole \
                             seconds, like {key} = {s}"
                        ),
                    );
                }
                Ok(s)
            }
            Ok(_) => Err(self.err(
                n,
                format!(
                    "\"{key}\" value \"{v}\" is too large (expected at most {MAX_TIMEOUT} seconds)"
                ),
            )),
            Err(_) => Err(self.err(
                n,
                format!(
                    "\"{key}\" value \"{v}\" is not a number (expected whole seconds, like 10)"
                ),
            )),
        }
    }

    fn door_key(
        &mut self,
        n: usize,
        key: &str,
        upper: &str,
        value: Option<&str>,
    ) -> Result<(), KnockdConfError> {
        // What knockd accepts in a door beyond its documented keys.
        match upper {
            "TIMEOUT" => {
                self.warn(
                    n,
                    format!(
                        "\"{key}\" is read as Seq_Timeout, as knockd reads it (not Cmd_Timeout); \
                         write Seq_Timeout"
                    ),
                );
                return self.door_key(n, key, "SEQ_TIMEOUT", value);
            }
            "USESYSLOG" => {
                let name = self
                    .door
                    .as_ref()
                    .map(|d| d.name.clone())
                    .unwrap_or_default();
                self.warn(
                    n,
                    format!(
                        "\"{key}\" in door \"{name}\" turns syslog on for the whole server, \
                         as knockd does; it belongs in [options]"
                    ),
                );
                return self.option(n, key, upper, value);
            }
            _ => {}
        }
        let rotating = self
            .door
            .as_ref()
            .is_some_and(|d| d.rotate.is_some_and(|(on, _)| on));
        if upper == "PROTOCOL" && !rotating {
            return Err(self.err(
                n,
                format!(
                    "\"{key}\" is not a key of a door with a Sequence: put the protocol on each \
                     port instead (Sequence = 7000:udp,8000:tcp,9000)"
                ),
            ));
        }
        let spa_door = self
            .door
            .as_ref()
            .is_some_and(|d| d.spa.is_some_and(|(on, _)| on));
        let Some(canonical) = DOOR_KEYS.iter().copied().find(|k| *k == upper) else {
            if matches!(upper, "PORT" | "PORTS") && spa_door {
                return Err(self.err(
                    n,
                    format!(
                        "unknown key \"{key}\" in an SPA door; the UDP port the SPA packet \
                         goes to is SPA_Port (default {}), and the ports it opens are asked \
                         for by the packet and allowed by OPEN_PORTS in the Access_File",
                        spa::DEFAULT_PORT
                    ),
                ));
            }
            if matches!(upper, "PORT" | "PORTS") && !rotating {
                return Err(self.err(
                    n,
                    format!(
                        "unknown key \"{key}\" in a door section; the ports to knock go in \
                         Sequence (Sequence = 7000,8000,9000), and the port the door opens in \
                         its Start_Command"
                    ),
                ));
            }
            // Rotating and SPA keys are only suggested in such a door.
            let known: Vec<&str> = DOOR_KEYS
                .iter()
                .copied()
                .filter(|k| rotating || !ROTATE_KEYS.contains(k))
                .filter(|k| spa_door || !SPA_KEYS.contains(k))
                .collect();
            return Err(self.unknown_key(n, key, upper, &known));
        };
        let alias = match canonical {
            "COMMAND" => "START_COMMAND",
            "COMMAND_6" => "START_COMMAND_6",
            k => k,
        };
        let command = || value.map(|v| v.to_string());
        let parsed_sequence = if alias == "SEQUENCE" {
            let v = self.required(n, key, value, "ports like 7000,8000:udp,9000")?;
            // knockd allows blanks around the ':' of a protocol ("7000: udp").
            let tight = tighten_protocols(v);
            Some(
                Sequence::parse(&tight)
                    .map_err(|e| self.err(n, format!("\"{key}\" value \"{v}\": {e}")))?,
            )
        } else {
            None
        };
        let seq_timeout = match alias {
            "SEQ_TIMEOUT" | "CMD_TIMEOUT" => Some(self.timeout(n, key, value)?),
            _ => None,
        };
        let flags = if alias == "TCPFLAGS" {
            let v = value.unwrap_or("");
            Some(
                TcpFlags::parse(v)
                    .map_err(|e| self.err(n, format!("\"{key}\" value \"{v}\": {e}")))?,
            )
        } else {
            None
        };
        let target = if alias == "TARGET" {
            let v = self.required(n, key, value, "an IP address")?;
            Some(v.parse::<IpAddr>().map_err(|_| {
                self.err(
                    n,
                    format!("\"{key}\" value \"{v}\" is not an IP address (expected like 192.0.2.1 or 2001:db8::1)"),
                )
            })?)
        } else {
            None
        };
        let one_time = if alias == "ONE_TIME_SEQUENCES" {
            Some(self.required(n, key, value, "a file path")?.to_string())
        } else {
            None
        };
        let rotation = self.rotate_value(n, key, alias, value)?;
        let spa_value = self.spa_value(n, key, alias, value)?;
        if alias == "SEQ_TIMEOUT" && seq_timeout == Some(0) {
            self.warn(
                n,
                format!(
                    "\"{key}\" is 0: every knock of the sequence must then arrive within the \
                     same 100 ms; knockers need a second or more (knockd's default is \
                     {DEFAULT_SEQ_TIMEOUT})"
                ),
            );
        }
        if let Some(cmd) = value.filter(|_| alias.contains("COMMAND"))
            && let longest = command_arg_len(cmd)
            && longest > MAX_COMMAND_LEN
        {
            return Err(self.err(
                n,
                format!(
                    "\"{key}\" is too long to run ({longest} bytes with %IP% filled in; \
                     /bin/sh -c takes at most {MAX_COMMAND_LEN}): put it in a script and \
                     run that"
                ),
            ));
        }
        if matches!(alias, "START_COMMAND" | "STOP_COMMAND") && value.is_none() {
            return Err(self.err(
                n,
                format!("\"{key}\" has no value (expected \"{key} = COMMAND\")"),
            ));
        }

        let duplicate = {
            let Some(door) = self.door.as_mut() else {
                return Err(self.err(n, format!("\"{key}\" outside any door")));
            };
            let dup = door.seen.contains(&alias);
            if !dup {
                door.seen.push(alias);
            }
            if door.rotate_key.is_none() && ROTATE_KEYS.contains(&alias) {
                door.rotate_key = Some((canonical, n));
            }
            if door.spa_key.is_none() && SPA_KEYS.contains(&alias) {
                door.spa_key = Some((canonical, n));
            }
            if door.not_spa_key.is_none() && NOT_SPA_KEYS.contains(&alias) {
                door.not_spa_key = Some((canonical, n));
            }
            match spa_value {
                Some(SpaValue::Spa(b)) => door.spa = Some((b, n)),
                Some(SpaValue::AccessFile(p)) => door.access_file = Some((p, n)),
                Some(SpaValue::Port(p)) => door.spa_port = Some((p, n)),
                None => {}
            }
            if let Some(v) = rotation {
                match v {
                    RotateValue::Rotate(b) => door.rotate = Some((b, n)),
                    RotateValue::SecretFile(p) => door.secret_file = Some((p, n)),
                    RotateValue::Period(s) => door.period = Some((s, n)),
                    RotateValue::Length(l) => door.length = Some((l, n)),
                    RotateValue::Range(r) => door.port_range = Some((r, n)),
                    RotateValue::Exclude(e) => door.exclude = Some((e, n)),
                    RotateValue::Protocol(p) => door.protocol = Some((p, n)),
                }
            }
            match alias {
                "SEQUENCE" => door.sequence = parsed_sequence.map(|s| (s, n)),
                "ONE_TIME_SEQUENCES" => door.one_time = one_time.map(|p| (PathBuf::from(p), n)),
                "SEQ_TIMEOUT" => door.seq_timeout = seq_timeout,
                "CMD_TIMEOUT" => door.cmd_timeout = seq_timeout,
                "TCPFLAGS" => door.tcpflags = flags.unwrap_or_default(),
                "START_COMMAND" => door.start_command = command(),
                "START_COMMAND_6" => door.start_command_6 = command(),
                "STOP_COMMAND" => door.stop_command = command(),
                "STOP_COMMAND_6" => door.stop_command_6 = command(),
                "TARGET" => door.target = target,
                _ => {}
            }
            let appends = matches!(alias, "START_COMMAND" | "START_COMMAND_6")
                && value.is_some_and(appends_accept);
            (
                dup.then(|| door.name.clone()),
                appends.then(|| door.name.clone()),
            )
        };
        if let (Some(name), _) = &duplicate {
            self.warn(
                n,
                format!("\"{key}\" set again in door \"{name}\"; this later value wins"),
            );
        }
        if let (_, Some(name)) = duplicate {
            self.warn(
                n,
                format!(
                    "door \"{name}\": \"{key}\" appends its ACCEPT rule (iptables -A), so it \
                     may land after a rule that drops the port, and then the door does not \
                     open; use -I to insert it first"
                ),
            );
        }
        Ok(())
    }

    /// Parses the value of an SPA door's key (`None` for other keys).
    fn spa_value(
        &self,
        n: usize,
        key: &str,
        alias: &str,
        value: Option<&str>,
    ) -> Result<Option<SpaValue>, KnockdConfError> {
        let parsed = match alias {
            "SPA" => SpaValue::Spa(self.yes_no(n, key, value)?),
            "ACCESS_FILE" => SpaValue::AccessFile(PathBuf::from(self.required(
                n,
                key,
                value,
                "a file path",
            )?)),
            "SPA_PORT" => {
                let v = self.required(n, key, value, "a UDP port")?;
                match v.parse::<u16>() {
                    Ok(p) if p > 0 => SpaValue::Port(p),
                    _ => {
                        return Err(self.err(
                            n,
                            format!(
                                "\"{key}\" value \"{v}\" is not a port (expected 1-65535; \
                                 fwknop's default is {})",
                                spa::DEFAULT_PORT
                            ),
                        ));
                    }
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    /// `yes` / `no` (and true/false, on/off, 1/0), as for Rotate.
    fn yes_no(&self, n: usize, key: &str, value: Option<&str>) -> Result<bool, KnockdConfError> {
        let v = self.required(n, key, value, "yes or no")?;
        match v.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Ok(true),
            "no" | "false" | "off" | "0" => Ok(false),
            _ => Err(self.err(
                n,
                format!("\"{key}\" value \"{v}\" is not valid (expected yes or no)"),
            )),
        }
    }

    /// Parses the value of a rotating door's key (`None` for other keys).
    fn rotate_value(
        &self,
        n: usize,
        key: &str,
        alias: &str,
        value: Option<&str>,
    ) -> Result<Option<RotateValue>, KnockdConfError> {
        let bad = |v: &str, expected: &str| {
            self.err(
                n,
                format!("\"{key}\" value \"{v}\" is not valid (expected {expected})"),
            )
        };
        let parsed = match alias {
            "ROTATE" => RotateValue::Rotate(self.yes_no(n, key, value)?),
            "SECRET_FILE" => RotateValue::SecretFile(PathBuf::from(self.required(
                n,
                key,
                value,
                "a file path",
            )?)),
            "PERIOD" => {
                let v = self.required(n, key, value, "a number of seconds")?;
                RotateValue::Period(
                    v.parse()
                        .map_err(|_| bad(v, "whole seconds, 5-86400, like 30"))?,
                )
            }
            "LENGTH" => {
                let v = self.required(n, key, value, "a number of knocks")?;
                RotateValue::Length(v.parse().map_err(|_| bad(v, "a number of knocks, 1-32"))?)
            }
            "PORT_RANGE" => {
                let v = self.required(n, key, value, "FIRST-LAST")?;
                RotateValue::Range(
                    rotate::parse_range(v).map_err(|e| self.err(n, format!("\"{key}\": {e}")))?,
                )
            }
            "EXCLUDE" => {
                let v = value.unwrap_or("");
                let mut ports = Vec::new();
                for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    match item.parse::<u16>() {
                        Ok(p) if p > 0 => ports.push(p),
                        _ => {
                            return Err(self.err(
                                n,
                                format!(
                                    "\"{key}\" value \"{v}\": \"{item}\" is not a port \
                                     (expected ports 1-65535 separated by commas, like 22,443)"
                                ),
                            ));
                        }
                    }
                }
                RotateValue::Exclude(ports)
            }
            "PROTOCOL" => {
                let v = self.required(n, key, value, "tcp, udp or both")?;
                RotateValue::Protocol(v.parse().map_err(|_| bad(v, "tcp, udp or both"))?)
            }
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    fn unknown_key(&self, n: usize, key: &str, upper: &str, known: &[&str]) -> KnockdConfError {
        let best = known
            .iter()
            .map(|k| (strsim::jaro_winkler(k, upper), *k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let list: Vec<String> = known.iter().map(|k| pretty_key(k)).collect();
        let hint = match best {
            Some((_, k)) => format!(" (did you mean \"{}\"?)", pretty_key(k)),
            None => String::new(),
        };
        let place = match self.section {
            Section::Options => "in [options]",
            Section::Door => "in a door section",
            Section::Top => "",
        };
        let place = if place.is_empty() {
            String::new()
        } else {
            format!(" {place}")
        };
        self.err(
            n,
            format!(
                "unknown key \"{key}\"{place}{hint}; expected one of {}",
                list.join(", ")
            ),
        )
    }

    /// Moves the open door, if any, to the list of doors to validate.
    fn finish_door_lazy(&mut self) {
        if let Some(d) = self.door.take() {
            self.pending.push(d);
        }
    }

    fn finish_door(
        &mut self,
        read: &mut dyn FnMut(&Path) -> std::io::Result<String>,
    ) -> Result<(), KnockdConfError> {
        self.finish_door_lazy();
        let drafts = std::mem::take(&mut self.pending);
        for d in drafts {
            if d.spa.is_some_and(|(on, _)| on) {
                let door = self.build_spa(d)?;
                self.config.spa.push(door);
            } else if d.rotate.is_some_and(|(on, _)| on) {
                let door = self.build_rotating(d)?;
                self.config.rotating.push(door);
            } else if let Some(door) = self.build_door(d, read)? {
                self.config.doors.push(door);
            }
        }
        Ok(())
    }

    fn build_spa(&mut self, mut d: DoorDraft) -> Result<SpaDoor, KnockdConfError> {
        let name = d.name.clone();
        if let Some((key, line)) = d.not_spa_key {
            let why = match key {
                "SEQUENCE" => {
                    "an SPA door opens on one fwknop packet, not on a knock sequence \
                               (remove the Sequence line)"
                }
                "ONE_TIME_SEQUENCES" => {
                    "an SPA door has no knock sequence (a replayed SPA \
                                         packet is refused anyway)"
                }
                "SEQ_TIMEOUT" => "an SPA door has no knock sequence to time",
                _ => "an SPA door is one UDP packet; its fwknop client sets no TCP flags",
            };
            return Err(KnockdConfError::door(
                self.path,
                line,
                &name,
                format!(
                    "\"{}\" does not apply to an SPA door: {why}",
                    pretty_key(key)
                ),
            ));
        }
        if let Some((true, line)) = d.rotate {
            return Err(KnockdConfError::door(
                self.path,
                line,
                &name,
                "has both SPA = yes and Rotate = yes; a door is one or the other",
            ));
        }
        if let Some((key, line)) = d.rotate_key {
            return Err(self.err(
                line,
                format!(
                    "\"{}\" only applies to a rotating door, not to SPA door \"{name}\"",
                    pretty_key(key)
                ),
            ));
        }
        let Some((access_file, _)) = d.access_file.take() else {
            return Err(self.err(
                d.line,
                format!(
                    "door \"{name}\" has SPA = yes but no Access_File (expected \
                     \"Access_File = /etc/fwknop/access.conf\", fwknopd's access.conf)"
                ),
            ));
        };
        let cmd_timeout = d
            .cmd_timeout
            .unwrap_or(u64::from(DEFAULT_FW_ACCESS_TIMEOUT));
        let mut commands = d.commands();
        commands.cmd_timeout = Duration::from_secs(cmd_timeout);
        Ok(SpaDoor {
            name: d.name,
            access_file,
            port: d.spa_port.map_or(spa::DEFAULT_PORT, |(p, _)| p),
            commands,
            target: d.target,
            line: d.line,
        })
    }

    /// A key only an SPA door takes, in door `d` without `SPA = yes`.
    fn refuse_spa_keys(&self, d: &DoorDraft) -> Result<(), KnockdConfError> {
        match d.spa_key {
            Some((key, line)) => Err(self.err(
                line,
                format!(
                    "\"{}\" only applies to an SPA door; add \"SPA = yes\" to door \"{}\"",
                    pretty_key(key),
                    d.name
                ),
            )),
            None => Ok(()),
        }
    }

    fn build_rotating(&mut self, mut d: DoorDraft) -> Result<RotatingDoor, KnockdConfError> {
        self.refuse_spa_keys(&d)?;
        let name = &d.name;
        if let Some((_, line)) = &d.sequence {
            return Err(self.err(
                *line,
                format!(
                    "door \"{name}\" has Rotate = yes and a Sequence; a rotating door's \
                     sequence comes from its Secret_File (remove the Sequence line)"
                ),
            ));
        }
        if let Some((_, line)) = &d.one_time {
            return Err(self.err(
                *line,
                format!(
                    "door \"{name}\" has Rotate = yes and One_Time_Sequences; a door is one or \
                     the other"
                ),
            ));
        }
        let Some((secret_file, _)) = d.secret_file.clone() else {
            return Err(self.err(
                d.line,
                format!(
                    "door \"{name}\" has Rotate = yes but no Secret_File (expected \
                     \"Secret_File = /etc/knock/{name}.secret\", base32, mode 0600)"
                ),
            ));
        };
        let params = Params {
            period: Duration::from_secs(
                d.period
                    .as_ref()
                    .map_or(rotate::defaults::PERIOD_S, |p| p.0),
            ),
            length: d.length.as_ref().map_or(rotate::defaults::LENGTH, |l| l.0),
            range: d
                .port_range
                .as_ref()
                .map_or(rotate::defaults::RANGE, |r| r.0.clone()),
            exclude: d.exclude.as_ref().map(|e| e.0.clone()).unwrap_or_default(),
            protos: d.protocol.as_ref().map(|p| p.0).unwrap_or_default(),
        };
        if let Err(e) = params.validate() {
            let line = match e {
                RotateError::BadPeriod { .. } => d.period.as_ref().map(|p| p.1),
                RotateError::BadLength { .. } => d.length.as_ref().map(|l| l.1),
                RotateError::RangeTooSmall { .. } => d
                    .exclude
                    .as_ref()
                    .map(|e| e.1)
                    .max(d.port_range.as_ref().map(|r| r.1))
                    .max(d.length.as_ref().map(|l| l.1)),
                _ => d.port_range.as_ref().map(|r| r.1),
            };
            return Err(KnockdConfError::door(
                self.path,
                line.unwrap_or(d.line),
                name,
                e,
            ));
        }
        let commands = d.commands();
        Ok(RotatingDoor {
            name: d.name,
            secret_file,
            params,
            seq_timeout: Duration::from_secs(d.seq_timeout.unwrap_or(DEFAULT_SEQ_TIMEOUT)),
            tcpflags: d.tcpflags,
            commands,
            target: d.target,
            line: d.line,
        })
    }

    fn build_door(
        &mut self,
        mut d: DoorDraft,
        read: &mut dyn FnMut(&Path) -> std::io::Result<String>,
    ) -> Result<Option<Door>, KnockdConfError> {
        self.refuse_spa_keys(&d)?;
        if let Some((key, line)) = d.rotate_key {
            return Err(self.err(
                line,
                format!(
                    "\"{}\" only applies to a rotating door; add \"Rotate = yes\" to door \"{}\"",
                    pretty_key(key),
                    d.name
                ),
            ));
        }
        let commands = d.commands();
        let sequence = match (&d.one_time, d.sequence) {
            (Some((path, line)), seq) => {
                if let Some((_, seq_line)) = seq {
                    self.warn(
                        seq_line,
                        format!(
                            "door \"{}\" has both Sequence and One_Time_Sequences; \
                             the one-time sequences are used",
                            d.name
                        ),
                    );
                }
                let text = read(path).map_err(|e| {
                    self.err(
                        *line,
                        format!(
                            "cannot read One_Time_Sequences file {}: {e}",
                            path.display()
                        ),
                    )
                })?;
                match first_unused_sequence(&text, path)? {
                    Some(u) => u.sequence,
                    None => {
                        self.used_up.push((d.name.clone(), *line, path.clone()));
                        self.warn(
                            *line,
                            format!(
                                "One_Time_Sequences file {} has no unused sequence left; \
                                 door \"{}\" is disabled",
                                path.display(),
                                d.name
                            ),
                        );
                        return Ok(None);
                    }
                }
            }
            (None, Some((seq, _))) => seq,
            (None, None) => {
                return Err(self.err(
                    d.line,
                    format!(
                        "door \"{}\" has no sequence (expected \"Sequence = 7000,8000,9000\" \
                         or \"One_Time_Sequences = FILE\", or \"Rotate = yes\" with a Secret_File)",
                        d.name
                    ),
                ));
            }
        };
        Ok(Some(Door {
            name: d.name,
            sequence,
            one_time_sequences: d.one_time.map(|(p, _)| p),
            seq_timeout: Duration::from_secs(d.seq_timeout.unwrap_or(DEFAULT_SEQ_TIMEOUT)),
            tcpflags: d.tcpflags,
            commands,
            target: d.target,
            line: d.line,
        }))
    }
}

fn pretty_key(k: &str) -> String {
    match k {
        "USESYSLOG" => "UseSyslog".into(),
        "LOGFILE" => "LogFile".into(),
        "PIDFILE" => "PidFile".into(),
        "INTERFACE" => "Interface".into(),
        "TCPFLAGS" => "TCPFlags".into(),
        "SPA" => "SPA".into(),
        "SPA_PORT" => "SPA_Port".into(),
        _ => k
            .split('_')
            .map(|w| {
                let lower = w.to_ascii_lowercase();
                let mut c = lower.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("_"),
    }
}

/// The first unused line of a One_Time_Sequences file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeSequence {
    pub sequence: Sequence,
    /// 1-based line number in the file.
    pub line: usize,
    /// Byte offset of the first character of that line: knockd disables a
    /// used sequence by writing `#` there.
    pub offset: usize,
}

/// Finds the first line of a One_Time_Sequences file that is neither blank
/// nor commented out (`#` as its first non-blank character) and parses it.
/// `None` when every sequence has been used.
pub fn first_unused_sequence(
    text: &str,
    path: &Path,
) -> Result<Option<OneTimeSequence>, KnockdConfError> {
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += raw.len();
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sequence = Sequence::parse(line).map_err(|e| KnockdConfError {
            path: path.to_path_buf(),
            line: index + 1,
            message: format!("one-time sequence \"{line}\": {e}"),
        })?;
        return Ok(Some(OneTimeSequence {
            sequence,
            line: index + 1,
            offset: start,
        }));
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::sequence::{Knock, Proto};

    fn parse(text: &str) -> Result<KnockdConfig, KnockdConfError> {
        KnockdConfig::parse_with(text, Path::new("knockd.conf"), &mut |p: &Path| {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no such file {}", p.display()),
            ))
        })
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Each text fails to parse with an error that starts with its message.
    fn assert_errors(cases: &[(&str, &str)]) {
        for (text, want) in cases {
            let got = err(text);
            assert!(
                got.starts_with(want),
                "for {text:?}\n got: {got}\nwant: {want}..."
            );
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    const FULL: &str = "\
# a comment
[options]
    UseSyslog
    LogFile = /var/log/knockd.log
    PidFile=/run/knockd.pid
    Interface   =   eth1

[openSSH]
    Sequence    = 7000,8000:udp,9000
    Seq_Timeout = 5
    TCPFlags    = syn,!ack
    Start_Command = /sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    Start_Command_6 = /sbin/ip6tables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    Cmd_Timeout = 30
    Stop_Command = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    Stop_Command_6 = /sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    Target = 192.0.2.1

  [closeSSH]
    sequence = 9000,8000,7000
    command = echo '# not a comment' %IP%
    command_6 =
    TARGET = 2001:db8::1
";

    #[test]
    fn sectioned_form_every_key() {
        let c = parse(FULL).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(
            c.options,
            DaemonOptions {
                use_syslog: true,
                log_file: Some("/var/log/knockd.log".into()),
                pid_file: Some("/run/knockd.pid".into()),
                interface: Some("eth1".into()),
            }
        );
        assert_eq!(c.doors.len(), 2);
        let d = &c.doors[0];
        assert_eq!(d.name, "openSSH");
        assert_eq!(d.line, 8);
        assert_eq!(
            d.sequence.knocks(),
            &[Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)]
        );
        assert_eq!(d.seq_timeout, secs(5));
        assert_eq!(d.tcpflags, TcpFlags::parse("syn,!ack").unwrap());
        assert_eq!(d.commands.cmd_timeout, secs(30));
        assert_eq!(d.target, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(d.one_time_sequences, None);
        assert_eq!(
            d.commands.start_for(false),
            Some("/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT")
        );
        assert_eq!(
            d.commands.start_for(true),
            Some("/sbin/ip6tables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT")
        );
        assert_eq!(
            d.commands.stop_for(true),
            Some("/sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT")
        );
        let d = &c.doors[1];
        assert_eq!(d.name, "closeSSH");
        assert_eq!(d.line, 19);
        assert_eq!(d.seq_timeout, secs(DEFAULT_SEQ_TIMEOUT));
        assert_eq!(d.commands.cmd_timeout, secs(DEFAULT_CMD_TIMEOUT));
        assert_eq!(d.tcpflags, TcpFlags::ANY);
        // '#' inside a value is kept, as knockd does.
        assert_eq!(
            d.commands.start_for(false),
            Some("echo '# not a comment' %IP%")
        );
        // An empty _6 command means "run nothing" for IPv6 knockers.
        assert_eq!(d.commands.start_for(true), None);
        assert_eq!(d.commands.stop_for(false), None);
        assert_eq!(d.target, Some("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn six_commands_fall_back_to_the_ipv4_ones() {
        let c = parse("[d]\nsequence=1\ncommand=open %IP%\nstop_command=close %IP%\n").unwrap();
        let d = &c.doors[0];
        assert_eq!(d.commands.start_for(true), Some("open %IP%"));
        assert_eq!(d.commands.stop_for(true), Some("close %IP%"));
        assert_eq!(
            substitute_ip("a %IP% b %IP%", &"2001:db8::7".parse().unwrap()),
            "a 2001:db8::7 b 2001:db8::7"
        );
    }

    #[test]
    fn keys_are_case_insensitive_and_aliases_work() {
        let c = parse(
            "[OPTIONS]\nuSeSySlOg\nlogFILE=/l\n[x]\nSEQUENCE=1:UDP\nseq_TIMEOUT=1\ntcpFLAGS=FIN\n\
             COMMAND=a\ncommand_6=b\nCMD_timeout=2\nstop_COMMAND=c\nSTOP_command_6=d\ntarget=::1\n",
        )
        .unwrap();
        assert!(c.options.use_syslog);
        let d = &c.doors[0];
        assert_eq!(d.sequence.knocks(), &[Knock::udp(1)]);
        assert_eq!(d.tcpflags.set, TcpFlags::FIN);
        assert_eq!(d.commands.start.as_deref(), Some("a"));
        assert_eq!(d.commands.start_6.as_deref(), Some("b"));
        assert_eq!(d.commands.stop.as_deref(), Some("c"));
        assert_eq!(d.commands.stop_6.as_deref(), Some("d"));
        assert_eq!(d.commands.cmd_timeout, secs(2));
        assert_eq!(d.seq_timeout, secs(1));
    }

    /// The FreeBSD example of the article, verbatim (indentation included).
    const ARTICLE_FREEBSD: &str = "        logfile = /var/log/knockd.log
        interface = xl0

        sequence    = 7000,8000,9000
        seq_timeout = 5
        command     = /sbin/ipfw -q add 00101 pass proto tcp src-ip %IP% dst-port 22
        tcpflags    = syn

        sequence    = 9000,8000,7000
        seq_timeout = 5
        command     = /sbin/ipfw -q delete 00101 pass proto tcp src-ip %IP% dst-port 22
        tcpflags    = syn
";

    /// The Linux example of the article, verbatim.
    const ARTICLE_LINUX: &str = "      logfile = /var/log/knockd.log

      sequence    = 7000,8000,9000
      seq_timeout = 5
      command     = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
      tcpflags    = syn
      cmd_timeout   = 10
      stop_command  = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
";

    #[test]
    fn headerless_freebsd_example() {
        let c = parse(ARTICLE_FREEBSD).unwrap();
        assert_eq!(c.options.log_file, Some("/var/log/knockd.log".into()));
        assert_eq!(c.options.interface.as_deref(), Some("xl0"));
        let names: Vec<&str> = c.doors.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["door1", "door2"]);
        assert_eq!(c.doors[0].sequence.to_string(), "7000,8000,9000");
        assert_eq!(c.doors[1].sequence.to_string(), "9000,8000,7000");
        for d in &c.doors {
            assert_eq!(d.seq_timeout, secs(5));
            assert_eq!(d.tcpflags.set, TcpFlags::SYN);
            assert_eq!(d.commands.stop, None);
        }
        assert_eq!((c.doors[0].line, c.doors[1].line), (4, 9));
        assert_eq!(
            c.doors[1].commands.start.as_deref(),
            Some("/sbin/ipfw -q delete 00101 pass proto tcp src-ip %IP% dst-port 22")
        );
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("knockd.conf:1: warning: \"logfile\" outside any section"));
        assert!(w[1].starts_with(
            "knockd.conf:4: warning: \"sequence\" outside any section: starts door \"door1\""
        ));
        assert!(w[2].starts_with("knockd.conf:9: warning:"), "{}", w[2]);
    }

    #[test]
    fn headerless_linux_example() {
        let c = parse(ARTICLE_LINUX).unwrap();
        assert_eq!(c.options.log_file, Some("/var/log/knockd.log".into()));
        assert_eq!(c.options.interface, None);
        assert_eq!(c.doors.len(), 1);
        let d = &c.doors[0];
        assert_eq!(d.name, "door1");
        assert_eq!(d.commands.cmd_timeout, secs(10));
        assert_eq!(
            d.commands.stop_for(false),
            Some("/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT")
        );
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!(
            w[2],
            "knockd.conf:5: warning: door \"door1\": \"command\" appends its ACCEPT rule \
             (iptables -A), so it may land after a rule that drops the port, and then the door \
             does not open; use -I to insert it first"
        );
    }

    #[test]
    fn only_iptables_append_accept_start_commands_are_flagged() {
        for yes in [
            "/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT",
            "ip6tables --append INPUT -s %IP% --jump ACCEPT",
            "/usr/sbin/iptables-nft -A INPUT -s %IP% -j ACCEPT",
            "logger knock; sudo iptables -A INPUT -s %IP% -j ACCEPT",
        ] {
            assert!(appends_accept(yes), "{yes}");
        }
        for no in [
            "/sbin/iptables -I INPUT 1 -s %IP% -p tcp --dport 22 -j ACCEPT",
            "/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT",
            "/sbin/iptables -A INPUT -s %IP% -j DROP",
            "nft add rule inet filter input ip saddr %IP% accept",
            "echo iptables; logger -A x -j ACCEPT",
            "/usr/local/sbin/knock_add -i -c INPUT -p tcp -d 443 -f %IP%",
            // Its own chain: placed where the admin jumps to it.
            "/sbin/iptables -A KNOCK -s %IP% -p tcp --dport 22 -j ACCEPT",
        ] {
            assert!(!appends_accept(no), "{no}");
        }
        // Start commands only (a stop command with -A is some other plan),
        // both families, and each names its own line; it is a warning.
        let c = parse(
            "[d]\nsequence = 1\ncommand = iptables -A INPUT -s %IP% -j ACCEPT\n\
             start_command_6 = ip6tables -A INPUT -s %IP% -j ACCEPT\n\
             stop_command = iptables -A INPUT -s %IP% -j ACCEPT\n",
        )
        .unwrap();
        let lines: Vec<usize> = c.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [3, 4], "{:?}", c.warnings);
        assert!(
            c.warnings[1]
                .message
                .starts_with("door \"d\": \"start_command_6\" appends its ACCEPT rule")
        );
    }

    #[test]
    fn headerless_doors_then_sections() {
        let c = parse("sequence=1\n[named]\nsequence=2\n").unwrap();
        let names: Vec<&str> = c.doors.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["door1", "named"]);
    }

    #[test]
    fn warnings_for_accepted_oddities() {
        let c = parse("[options]\nusesyslog = yes\n[a]\nsequence=1\nsequence=2\n[a]\nsequence=3\n")
            .unwrap();
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("knockd.conf:2: warning: \"usesyslog\" takes no value"));
        assert!(w[1].starts_with("knockd.conf:5: warning: \"sequence\" set again in door \"a\""));
        assert!(w[2].starts_with("knockd.conf:6: warning: door \"a\" is defined more than once"));
        assert_eq!(c.doors[0].sequence.to_string(), "2");
        let c = parse("# nothing\n").unwrap();
        assert!(c.doors.is_empty());
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn every_error_names_file_line_and_what_was_expected() {
        let cases: &[(&str, &str)] = &[
            (
                "[d]\nsequence = 7000,80x0\n",
                "knockd.conf:2: \"sequence\" value \"7000,80x0\": bad port \"80x0\"",
            ),
            (
                "[d]\nsequence = 7000,0\n",
                "knockd.conf:2: \"sequence\" value \"7000,0\": port out of range",
            ),
            (
                "[d]\nsequence = 7000:icmp\n",
                "knockd.conf:2: \"sequence\" value \"7000:icmp\": unknown protocol",
            ),
            (
                "[d]\nsequence =\n",
                "knockd.conf:2: \"sequence\" has an empty value (expected ports like",
            ),
            (
                "[d]\nsequence\n",
                "knockd.conf:2: \"sequence\" has no value (expected \"sequence = ports",
            ),
            (
                "[d]\nsequence=1\nseq_timeout = soon\n",
                "knockd.conf:3: \"seq_timeout\" value \"soon\" is not a number (expected whole seconds",
            ),
            (
                "[d]\nsequence=1\nseq_timeout = -1\n",
                "knockd.conf:3: \"seq_timeout\" value \"-1\" is not a number",
            ),
            (
                "[d]\nsequence=1\ncmd_timeout = 99999999\n",
                "knockd.conf:3: \"cmd_timeout\" value \"99999999\" is too large (expected at most 2000000 seconds)",
            ),
            (
                "[d]\nsequence=1\ncmd_timeout =\n",
                "knockd.conf:3: \"cmd_timeout\" has an empty value (expected a number of seconds)",
            ),
            (
                "[d]\nsequence=1\ntcpflags = syn,fish\n",
                "knockd.conf:3: \"tcpflags\" value \"syn,fish\": unknown TCP flag \"fish\"",
            ),
            (
                "[d]\nsequence=1\ntcpflags = syn,!syn\n",
                "knockd.conf:3: \"tcpflags\" value \"syn,!syn\": TCP flag \"syn\" is both required and negated",
            ),
            (
                "[d]\nsequence=1\ntarget = myhost\n",
                "knockd.conf:3: \"target\" value \"myhost\" is not an IP address",
            ),
            (
                "[d]\nsequence=1\ntarget =\n",
                "knockd.conf:3: \"target\" has an empty value (expected an IP address)",
            ),
            (
                "[d]\nsequence=1\ncommand\n",
                "knockd.conf:3: \"command\" has no value (expected \"command = COMMAND\")",
            ),
            (
                "[d]\nsequence=1\nstop_command\n",
                "knockd.conf:3: \"stop_command\" has no value",
            ),
            (
                "[d]\nsequence=1\none_time_sequences =\n",
                "knockd.conf:3: \"one_time_sequences\" has an empty value (expected a file path)",
            ),
            (
                "[d]\nsequence=1\nsequnce=2\n",
                "knockd.conf:3: unknown key \"sequnce\" in a door section (did you mean \"Sequence\"?)",
            ),
            (
                "[d]\nsequence=1\nlogfile=/x\n",
                "knockd.conf:3: unknown key \"logfile\" in a door section",
            ),
            (
                "[options]\nlogfil = /x\n",
                "knockd.conf:2: unknown key \"logfil\" in [options] (did you mean \"LogFile\"?)",
            ),
            (
                "[options]\nsequence = 1\n",
                "knockd.conf:2: door key \"sequence\" in [options] (expected a \"[name]\" door section header",
            ),
            (
                "[options]\ninterface\n",
                "knockd.conf:2: \"interface\" has no value",
            ),
            (
                "[options]\nlogfile =\n",
                "knockd.conf:2: \"logfile\" has an empty value",
            ),
            (
                "[options]\npidfile\n",
                "knockd.conf:2: \"pidfile\" has no value",
            ),
            (
                "bogus = 1\n",
                "knockd.conf:1: unknown key \"bogus\"; expected one of UseSyslog",
            ),
            (
                "seq_timeout = 5\nsequence = 1\n",
                "knockd.conf:1: \"seq_timeout\" outside any door (expected a \"[name]\" section header or a \"sequence = ...\" line before it)",
            ),
            (
                "[options\n",
                "knockd.conf:1: section header \"[options\" is not closed (expected \"[name]\")",
            ),
            ("[ ]\n", "knockd.conf:1: empty section name"),
            (
                "[d]\n= 5\n",
                "knockd.conf:2: \"= 5\" has no key (expected KEY = VALUE)",
            ),
            (
                "[options]\n\n[d]\nseq_timeout = 5\n",
                "knockd.conf:3: door \"d\" has no sequence (expected \"Sequence = 7000,8000,9000\" or \"One_Time_Sequences = FILE\", or \"Rotate = yes\" with a Secret_File)",
            ),
            (
                "[d]\none_time_sequences = /nonexistent\n",
                "knockd.conf:2: cannot read One_Time_Sequences file /nonexistent: no such file",
            ),
        ];
        assert_errors(cases);
    }

    #[test]
    fn one_time_sequences_take_the_first_unused_line() {
        let file = "#7000,8000\n\n  # used too\n 1111,2222:udp\n 3333\n";
        let mut reads = 0;
        let c = KnockdConfig::parse_with(
            "[ots]\none_time_sequences = /etc/knockd/ots\nsequence = 9\n",
            Path::new("k.conf"),
            &mut |p: &Path| {
                reads += 1;
                assert_eq!(p, Path::new("/etc/knockd/ots"));
                Ok(file.to_string())
            },
        )
        .unwrap();
        assert_eq!(reads, 1);
        let d = &c.doors[0];
        assert_eq!(
            d.sequence.knocks(),
            &[
                Knock::tcp(1111),
                Knock {
                    port: 2222,
                    proto: Proto::Udp
                }
            ]
        );
        assert_eq!(
            d.one_time_sequences.as_deref(),
            Some(Path::new("/etc/knockd/ots"))
        );
        assert_eq!(
            c.warnings.len(),
            1,
            "Sequence and One_Time_Sequences both set"
        );
        let u = first_unused_sequence(file, Path::new("ots"))
            .unwrap()
            .unwrap();
        assert_eq!((u.line, u.offset), (4, 25));
        assert_eq!(&file[u.offset..u.offset + 5], " 1111");

        // An exhausted file disables the door with a warning.
        let c = KnockdConfig::parse_with(
            "[ots]\none_time_sequences = ots\n[b]\nsequence=1\n",
            Path::new("k.conf"),
            &mut |_: &Path| Ok("#1\n#2\n".to_string()),
        )
        .unwrap();
        assert_eq!(c.doors.len(), 1);
        assert_eq!(c.doors[0].name, "b");
        assert!(c.warnings[0].to_string().starts_with(
            "k.conf:2: warning: One_Time_Sequences file ots has no unused sequence left"
        ));

        // A bad line names the one-time file and its line.
        let e = first_unused_sequence("#1\n 7000,x\n", Path::new("ots")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ots:2: one-time sequence \"7000,x\": bad port"),
            "{e}"
        );
    }

    #[test]
    fn shipped_examples_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets");
        let mut seen = 0;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("knockd") && name.ends_with(".conf") {
                    let c = KnockdConfig::load(&e.path()).unwrap();
                    assert!(!c.doors.is_empty(), "{name}");
                    seen += 1;
                }
            }
        }
        assert!(
            seen >= 1,
            "no assets/knockd*.conf found in {}",
            dir.display()
        );
    }

    #[test]
    fn rotating_doors_parse_with_defaults_and_every_key() {
        let c = parse(
            "[options]\n    UseSyslog\n[fixed]\n    Sequence = 7000\n\
             [vault]\n    Rotate      = yes\n    Secret_File = /etc/knock/vault.secret\n\
             \x20   Period = 60\n    Length = 6\n    Port_Range = 20000-20100\n\
             \x20   Exclude = 20022, 20080\n    Protocol = both\n    Seq_Timeout = 10\n\
             \x20   TCPFlags = syn\n    Start_Command = open %IP%\n    Target = 192.0.2.1\n\
             [plain]\n    rotate = YES\n    secret_file = s\n    command = x\n\
             [off]\n    Rotate = no\n    Sequence = 1,2\n",
        )
        .unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(
            c.doors.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["fixed", "off"]
        );
        assert_eq!(c.rotating.len(), 2);
        let v = &c.rotating[0];
        assert_eq!(v.name, "vault");
        assert_eq!(v.line, 5);
        assert_eq!(v.secret_file, PathBuf::from("/etc/knock/vault.secret"));
        assert_eq!(
            v.params,
            Params {
                period: secs(60),
                length: 6,
                range: 20000..=20100,
                exclude: vec![20022, 20080],
                protos: ProtoChoice::Both,
            }
        );
        assert_eq!(v.seq_timeout, secs(10));
        assert_eq!(v.tcpflags, TcpFlags::parse("syn").unwrap());
        assert_eq!(v.commands.start_for(true), Some("open %IP%"));
        assert_eq!(v.commands.stop_for(false), None);
        assert_eq!(v.target, Some("192.0.2.1".parse().unwrap()));
        let p = &c.rotating[1];
        assert_eq!(p.params, Params::default());
        assert_eq!(p.seq_timeout, secs(DEFAULT_SEQ_TIMEOUT));
        assert_eq!(p.commands.cmd_timeout, secs(DEFAULT_CMD_TIMEOUT));
        // A config of rotating doors only is not "no door defined".
        let only = parse("[v]\nrotate = yes\nsecret_file = s\n").unwrap();
        assert!(only.warnings.is_empty(), "{:?}", only.warnings);
    }

    #[test]
    fn rotating_door_errors_name_the_line() {
        let cases = [
            (
                "[v]\nrotate = yes\nsecret_file = s\nsequence = 1,2\n",
                "knockd.conf:4: door \"v\" has Rotate = yes and a Sequence; a rotating door's sequence comes from its Secret_File",
            ),
            (
                "[v]\nrotate = yes\n",
                "knockd.conf:1: door \"v\" has Rotate = yes but no Secret_File (expected \"Secret_File = /etc/knock/v.secret\"",
            ),
            (
                "[v]\nrotate = maybe\n",
                "knockd.conf:2: \"rotate\" value \"maybe\" is not valid (expected yes or no)",
            ),
            (
                "[v]\nsequence = 1\nPeriod = 30\n",
                "knockd.conf:3: \"Period\" only applies to a rotating door; add \"Rotate = yes\" to door \"v\"",
            ),
            (
                "[v]\nrotate = no\nsequence = 1\nsecret_file = s\n",
                "knockd.conf:4: \"Secret_File\" only applies to a rotating door",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nperiod = 2\n",
                "knockd.conf:4: door \"v\": period 2 s is out of range (expected whole seconds, 5-86400)",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nperiod = 30s\n",
                "knockd.conf:4: \"period\" value \"30s\" is not valid (expected whole seconds, 5-86400, like 30)",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nlength = 40\n",
                "knockd.conf:4: door \"v\": length 40 is out of range (expected 1-32 knocks)",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nport_range = 10-5\n",
                "knockd.conf:4: \"port_range\": bad port range \"10-5\"",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nport_range = 10-12\nexclude = 11\n",
                "knockd.conf:5: door \"v\": port range 10-12 leaves 2 ports after exclusions; a sequence of 4 needs at least 4",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nexclude = 22,ssh\n",
                "knockd.conf:4: \"exclude\" value \"22,ssh\": \"ssh\" is not a port",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nprotocol = sctp\n",
                "knockd.conf:4: \"protocol\" value \"sctp\" is not valid (expected tcp, udp or both)",
            ),
            (
                "[v]\nrotate = yes\nsecret_file =\n",
                "knockd.conf:3: \"secret_file\" has an empty value",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nperod = 30\n",
                "knockd.conf:4: unknown key \"perod\" in a door section (did you mean \"Period\"?)",
            ),
        ];
        assert_errors(&cases);
    }

    #[test]
    fn spa_doors_parse_with_defaults_and_every_key() {
        let c = parse(
            "[fixed]\n    Sequence = 7000\n\
             [vault]\n    SPA = yes\n    Access_File = /etc/fwknop/access.conf\n\
             \x20   SPA_Port = 62202\n    Target = 192.0.2.1\n\
             \x20   Start_Command = open %IP% %PROTO%/%PORT%\n    Cmd_Timeout = 12\n\
             \x20   Stop_Command = close %IP% %PROTO%/%PORT%\n\
             [plain]\n    spa = on\n    access_file = a.conf\n    command = x\n\
             [off]\n    SPA = no\n    Sequence = 1,2\n",
        )
        .unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(
            c.doors.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["fixed", "off"]
        );
        assert_eq!(c.spa.len(), 2);
        let v = &c.spa[0];
        assert_eq!((v.name.as_str(), v.line), ("vault", 3));
        assert_eq!(v.access_file, PathBuf::from("/etc/fwknop/access.conf"));
        assert_eq!(v.port, 62202);
        assert_eq!(v.target, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(v.commands.cmd_timeout, secs(12));
        assert_eq!(v.commands.start_for(true), Some("open %IP% %PROTO%/%PORT%"));
        assert_eq!(
            v.commands.stop_for(false),
            Some("close %IP% %PROTO%/%PORT%")
        );
        let p = &c.spa[1];
        assert_eq!(p.port, 62201, "fwknop's default port");
        assert_eq!(p.target, None);
        // Without Cmd_Timeout: fwknopd's FW_ACCESS_TIMEOUT default, not knockd's 10 s.
        assert_eq!(p.commands.cmd_timeout, secs(30));
        assert_eq!(p.commands.stop_for(false), None);
        // A config of SPA doors only is not "no door defined".
        let only = parse("[v]\nspa = yes\naccess_file = a\n").unwrap();
        assert!(only.warnings.is_empty(), "{:?}", only.warnings);
    }

    #[test]
    fn spa_commands_get_the_address_and_each_port() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let cmd = "iptables -I INPUT -s %IP% -p %PROTO% --dport %PORT% -j ACCEPT # %PORT%";
        assert_eq!(
            substitute(
                cmd,
                &ip,
                Some(ProtoPort {
                    proto: Proto::Udp,
                    port: 53
                })
            ),
            "iptables -I INPUT -s 192.0.2.7 -p udp --dport 53 -j ACCEPT # 53"
        );
        assert_eq!(substitute("x %IP% %PORT%", &ip, None), "x 192.0.2.7 %PORT%");
        assert!(names_port(cmd) && names_port("a %PROTO%") && !names_port("a %IP%"));
    }

    #[test]
    fn spa_door_errors_name_the_line() {
        let cases = [
            (
                "[v]\nspa = yes\naccess_file = a\nsequence = 1,2\n",
                "knockd.conf:4: door \"v\": \"Sequence\" does not apply to an SPA door: an SPA door opens on one fwknop packet",
            ),
            (
                "[v]\nsequence = 1,2\nspa = yes\naccess_file = a\n",
                "knockd.conf:2: door \"v\": \"Sequence\" does not apply to an SPA door",
            ),
            (
                "[v]\nspa = yes\naccess_file = a\ntcpflags = syn\n",
                "knockd.conf:4: door \"v\": \"TCPFlags\" does not apply to an SPA door",
            ),
            (
                "[v]\nspa = yes\naccess_file = a\nseq_timeout = 5\n",
                "knockd.conf:4: door \"v\": \"Seq_Timeout\" does not apply to an SPA door",
            ),
            (
                "[v]\nspa = yes\naccess_file = a\none_time_sequences = f\n",
                "knockd.conf:4: door \"v\": \"One_Time_Sequences\" does not apply to an SPA door",
            ),
            (
                "[v]\nspa = yes\n",
                "knockd.conf:1: door \"v\" has SPA = yes but no Access_File (expected \"Access_File = /etc/fwknop/access.conf\"",
            ),
            (
                "[v]\nspa = maybe\n",
                "knockd.conf:2: \"spa\" value \"maybe\" is not valid (expected yes or no)",
            ),
            (
                "[v]\nspa = yes\naccess_file =\n",
                "knockd.conf:3: \"access_file\" has an empty value (expected a file path)",
            ),
            (
                "[v]\nspa = yes\naccess_file = a\nspa_port = 0\n",
                "knockd.conf:4: \"spa_port\" value \"0\" is not a port (expected 1-65535; fwknop's default is 62201)",
            ),
            (
                "[v]\nspa = yes\naccess_file = a\nspa_port = 70000\n",
                "knockd.conf:4: \"spa_port\" value \"70000\" is not a port",
            ),
            (
                "[v]\nsequence = 1\nAccess_File = a\n",
                "knockd.conf:3: \"Access_File\" only applies to an SPA door; add \"SPA = yes\" to door \"v\"",
            ),
            (
                "[v]\nrotate = yes\nsecret_file = s\nspa_port = 1\n",
                "knockd.conf:4: \"SPA_Port\" only applies to an SPA door",
            ),
            (
                "[v]\nspa = yes\nrotate = yes\naccess_file = a\nsecret_file = s\n",
                "knockd.conf:3: door \"v\": has both SPA = yes and Rotate = yes",
            ),
            (
                "[v]\nspa = yes\naccess_file = a\nperiod = 30\n",
                "knockd.conf:4: \"Period\" only applies to a rotating door, not to SPA door \"v\"",
            ),
            (
                "[v]\nspa = yes\naccess_file = a\nport = 62201\n",
                "knockd.conf:4: unknown key \"port\" in an SPA door; the UDP port the SPA packet goes to is SPA_Port",
            ),
            (
                "[v]\nspa = yes\naccess_file = a\naccess_fil = b\n",
                "knockd.conf:4: unknown key \"access_fil\" in a door section (did you mean \"Access_File\"?)",
            ),
        ];
        assert_errors(&cases);
        // A plain door is not told about the SPA keys it does not have.
        let msg = err("[v]\nsequence = 1\nsecrt_file = s\n");
        assert!(
            !msg.contains("Access_File") && !msg.contains("SPA_Port"),
            "{msg}"
        );
    }

    #[test]
    fn load_reports_a_missing_file() {
        let e = KnockdConfig::load(Path::new("/nonexistent/knockd.conf")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/knockd.conf: cannot read config file")
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "(\\PC{0,30}\n){0,8}") {
            let _ = parse(&text);
        }

        #[test]
        fn any_key_case_parses_the_same(upper in proptest::collection::vec(proptest::bool::ANY, 8)) {
            let key: String = "sequence".chars().zip(upper).map(|(c, u)| if u { c.to_ascii_uppercase() } else { c }).collect();
            let c = parse(&format!("[d]\n {key} = 1,2:udp\n")).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(c.doors[0].sequence.to_string(), "1,2:udp");
        }
    }
    #[test]
    fn what_knockd_accepts_is_read_as_knockd_reads_it() {
        // Timeout in a door is Seq_Timeout; a unit after the number is
        // dropped (knockd's atoi), with a warning saying how it was read.
        let c =
            parse("[d]\nsequence = 7000: udp, 8000 :tcp\ntimeout = 7\ncmd_timeout = 1m\n").unwrap();
        let d = &c.doors[0];
        assert_eq!(d.seq_timeout, secs(7));
        assert_eq!(d.commands.cmd_timeout, secs(1));
        assert_eq!(d.sequence.knocks(), [Knock::udp(7000), Knock::tcp(8000)]);
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            w[0].starts_with("knockd.conf:3: warning: \"timeout\" is read as Seq_Timeout"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with(
                "knockd.conf:4: warning: \"cmd_timeout\" value \"1m\" is read as 1 second,"
            ),
            "{w:?}"
        );
        // Headerless too.
        let c = parse("sequence = 1\ntimeout = 9\n").unwrap();
        assert_eq!(c.doors[0].seq_timeout, secs(9));
        // A value with no leading number is still an error.
        assert!(parse("[d]\nsequence=1\nseq_timeout = s5\n").is_err());
        // UseSyslog in a door turns syslog on, as in knockd.
        let c = parse("[d]\nsequence = 1\nUseSyslog\n").unwrap();
        assert!(c.options.use_syslog);
        assert!(
            c.warnings[0].message.contains("belongs in [options]"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn hints_in_a_fixed_door_do_not_point_at_rotating_keys() {
        let e = parse("[d]\nsequence = 1\nprotocol = tcp\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("put the protocol on each port"), "{e}");
        assert!(!e.contains("Rotate"), "{e}");
        let e = parse("[d]\nsequence = 1\nport = 22\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("go in Sequence"), "{e}");
        assert!(!e.contains("Port_Range"), "{e}");
        let e = parse("[d]\nsequence = 1\nperiodd = 3\n")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("Period"), "{e}");
        // In a rotating door they are what the user means.
        let e = parse("[v]\nrotate = yes\nsecret_file = s\nperiodd = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"Period\"?"), "{e}");
    }

    #[test]
    fn a_config_whose_every_door_is_used_up_is_refused() {
        let e = KnockdConfig::parse_with(
            "[ots]\none_time_sequences = ots\n",
            Path::new("k.conf"),
            &mut |_: &Path| Ok("#1\n#2\n".to_string()),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "k.conf:2: no door can open: door \"ots\" has used every sequence of its \
             One_Time_Sequences file ots (add unused sequences to it, or another door)"
        );
    }
    #[test]
    fn what_would_fail_at_run_time_is_found_by_check() {
        let c = parse("[d]\nsequence = 1\nseq_timeout = 0\n").unwrap();
        assert!(
            c.warnings[0].message.contains("within the same 100 ms"),
            "{:?}",
            c.warnings
        );
        // A command just within the argument limit passes; one over fails,
        // counting %IP% at its longest.
        let fits = format!(
            "[d]\nsequence = 1\ncommand = echo {}\n",
            "x".repeat(MAX_COMMAND_LEN - 5)
        );
        assert!(parse(&fits).is_ok());
        let over = format!(
            "[d]\nsequence = 1\nstop_command = echo %IP% {}\n",
            "x".repeat(MAX_COMMAND_LEN - 10)
        );
        let e = parse(&over).unwrap_err().to_string();
        assert!(
            e.starts_with("knockd.conf:3: \"stop_command\" is too long to run"),
            "{e}"
        );
        let big = format!(
            "[d]\nsequence = 1\nstop_command = {}\n",
            "y".repeat(200_000)
        );
        assert!(parse(&big).is_err());
    }
}
