//! The profile file: one hand-edited TOML dotfile with a `[defaults]` table
//! and one `[profiles.NAME]` table per server.
//!
//! ```toml
//! [defaults]
//! delay_ms = 100
//! family = "any"
//!
//! [profiles.myserver]
//! host = "myserver.example.org"
//! sequence = "7000,8000,9000"
//! open_port = 22
//! ```
//!
//! A rotating profile (see [`crate::rotate`]) has no `sequence`; its knocks
//! come from a shared secret and the clock:
//!
//! ```toml
//! [profiles.vault]
//! host = "vault.example.org"
//! rotate = true
//! secret = "keyring"            # the default: OS keyring, service "knock", account "vault"
//! # secret_cmd = "pass show knock/vault"   # or: a command printing the base32 secret
//! door = "vault"                # the server's door section (default: the profile name)
//! period_s = 30                 # default 30
//! length = 4                    # default 4
//! port_range = "10000-60000"    # default
//! exclude_ports = [22, 443]     # default none
//! protocol = "tcp"              # "tcp" | "udp" | "both"; default "tcp"
//! ```
//!
//! The secret itself is never written in the file: `secret` accepts only
//! `"keyring"`. Rotating profiles are in [`ProfileFile::rotating`], apart
//! from the fixed ones in [`ProfileFile::profiles`]; both share one name space.
//!
//! [`ProfileFile::parse`] is pure (text in, profiles or one error out); the
//! error names the spot as `PATH:LINE:COL: message (did you mean "x"?)`.
//! Reading and writing the file is [`crate::store`]'s job.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::rotate::{self, Params, ProtoChoice, RotateError};
use crate::secret::SecretSource;
use crate::sequence::Sequence;

/// The built-in defaults, used when neither the profile nor `[defaults]`
/// sets a key. This is the only place they are written down.
pub mod builtin {
    use super::{Family, Launch};

    pub const DELAY_MS: u64 = 100;
    pub const FAMILY: Family = Family::Any;
    pub const OPEN_PORT: Option<u16> = None;
    pub const WAIT_MS: u64 = 3000;
    pub const RETRIES: u32 = 0;
    pub const LAUNCH: Launch = Launch::Ssh;
    pub const SSH_PORT: u16 = 22;
}

/// Keys of a `[profiles.NAME]` table, in the order the file format lists them.
pub const PROFILE_KEYS: &[&str] = &[
    "host",
    "sequence",
    "delay_ms",
    "family",
    "open_port",
    "wait_ms",
    "retries",
    "close_sequence",
    "launch",
    "user",
    "ssh_port",
    "rotate",
    "secret",
    "secret_cmd",
    "door",
    "period_s",
    "length",
    "port_range",
    "exclude_ports",
    "protocol",
];

/// Keys of the `[defaults]` table.
pub const DEFAULTS_KEYS: &[&str] = &[
    "delay_ms",
    "family",
    "open_port",
    "wait_ms",
    "retries",
    "launch",
    "user",
    "ssh_port",
];

/// Top-level tables of the file.
const TOP_KEYS: &[&str] = &["defaults", "profiles"];

/// Which address family to knock on: `"any"` (the resolver's first address),
/// `"ipv4"` or `"ipv6"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Family {
    #[default]
    Any,
    Ipv4,
    Ipv6,
}

impl Family {
    pub const fn as_str(self) -> &'static str {
        match self {
            Family::Any => "any",
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = String;

    /// Case-insensitive: `"IPv6"` is `ipv6`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(Family::Any),
            "ipv4" => Ok(Family::Ipv4),
            "ipv6" => Ok(Family::Ipv6),
            _ => Err(format!(
                "unknown family \"{s}\" (expected \"any\", \"ipv4\" or \"ipv6\")"
            )),
        }
    }
}

impl TryFrom<String> for Family {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

const LAUNCH_NEEDS_HOST: &str = "custom launch command must contain {host}";

/// What to start after a successful knock.
///
/// Written as `"ssh"`, `"putty"`, `"none"`, or any other string: a custom
/// command template with `{host}`, `{port}` and `{user}` placeholders, which
/// must contain `{host}` (expanded by [`crate::launch::argv`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Launch {
    #[default]
    Ssh,
    Putty,
    None,
    Custom(String),
}

impl fmt::Display for Launch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Launch::Ssh => f.write_str("ssh"),
            Launch::Putty => f.write_str("putty"),
            Launch::None => f.write_str("none"),
            Launch::Custom(template) => f.write_str(template),
        }
    }
}

impl FromStr for Launch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "ssh" => Ok(Launch::Ssh),
            "putty" => Ok(Launch::Putty),
            "none" => Ok(Launch::None),
            _ if s.contains("{host}") => Ok(Launch::Custom(s.to_string())),
            _ => Err(LAUNCH_NEEDS_HOST.to_string()),
        }
    }
}

impl TryFrom<String> for Launch {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Launch> for String {
    fn from(value: Launch) -> Self {
        value.to_string()
    }
}

/// One `[profiles.NAME]` table as written in the file (unset keys = `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(deserialize_with = "de_host")]
    pub host: String,
    pub sequence: Sequence,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    #[serde(
        default,
        deserialize_with = "de_open_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub open_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_sequence: Option<Sequence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_ssh_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssh_port: Option<u16>,
}

/// A borrowed view of the keys fixed and rotating profiles share, apart
/// from `host` (what the store writes and the GUI's form edits alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedKeys<'a> {
    pub delay_ms: Option<u64>,
    pub family: Option<Family>,
    pub open_port: Option<u16>,
    pub wait_ms: Option<u64>,
    pub retries: Option<u32>,
    pub launch: Option<&'a Launch>,
    pub user: Option<&'a str>,
    pub ssh_port: Option<u16>,
}

impl Profile {
    /// The keys it shares with a rotating profile.
    pub fn shared_keys(&self) -> SharedKeys<'_> {
        SharedKeys {
            delay_ms: self.delay_ms,
            family: self.family,
            open_port: self.open_port,
            wait_ms: self.wait_ms,
            retries: self.retries,
            launch: self.launch.as_ref(),
            user: self.user.as_deref(),
            ssh_port: self.ssh_port,
        }
    }

    /// A profile with only the required keys set.
    pub fn new(host: impl Into<String>, sequence: Sequence) -> Self {
        Profile {
            host: host.into(),
            sequence,
            delay_ms: None,
            family: None,
            open_port: None,
            wait_ms: None,
            retries: None,
            close_sequence: None,
            launch: None,
            user: None,
            ssh_port: None,
        }
    }

    /// Checks what the types cannot (same messages as [`ProfileFile::parse`]).
    pub fn validate(&self) -> Result<(), String> {
        check_host(&self.host)?;
        if let Some(port) = self.open_port {
            check_port("open_port", u64::from(port))?;
        }
        if let Some(port) = self.ssh_port {
            check_port("ssh_port", u64::from(port))?;
        }
        check_launch(self.launch.as_ref())
    }
}

/// `[defaults]`: the optional keys of a profile minus host and sequences.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    #[serde(
        default,
        deserialize_with = "de_open_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub open_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_ssh_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssh_port: Option<u16>,
}

impl Defaults {
    /// Checks what the types cannot (same messages as [`ProfileFile::parse`]).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(port) = self.open_port {
            check_port("open_port", u64::from(port))?;
        }
        if let Some(port) = self.ssh_port {
            check_port("ssh_port", u64::from(port))?;
        }
        check_launch(self.launch.as_ref())
    }
}

/// The whole profile file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfileFile {
    pub defaults: Defaults,
    /// Profiles with a fixed `sequence`.
    pub profiles: BTreeMap<String, Profile>,
    /// Rotating profiles (`rotate = true`); their names differ from those in `profiles`.
    pub rotating: BTreeMap<String, RotatingProfile>,
}

/// A profile merged with `[defaults]` and the built-in defaults ([`builtin`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: String,
    pub host: String,
    pub sequence: Sequence,
    pub delay: Duration,
    pub family: Family,
    /// `None`: do not verify.
    pub open_port: Option<u16>,
    pub wait: Duration,
    pub retries: u32,
    pub close_sequence: Option<Sequence>,
    pub launch: Launch,
    pub user: Option<String>,
    pub ssh_port: u16,
    /// `Some` for a rotating profile: `sequence` is then a stand-in
    /// ([`RotatingProfile::settings`]); `send::run_rotating` derives the
    /// sequence of each attempt's time step.
    pub rotation: Option<RotationSpec>,
}

/// The rotation of a rotating profile, with the built-in defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationSpec {
    /// The server's door section name (`door`; default: the profile name).
    pub door: String,
    pub params: Params,
    pub secret: SecretSource,
}

/// A rotating `[profiles.NAME]` table (`rotate = true`): the keys of
/// [`Profile`] except the sequences, plus its [`RotationSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct RotatingProfile {
    pub host: String,
    pub rotation: RotationSpec,
    pub delay_ms: Option<u64>,
    pub family: Option<Family>,
    pub open_port: Option<u16>,
    pub wait_ms: Option<u64>,
    pub retries: Option<u32>,
    pub launch: Option<Launch>,
    pub user: Option<String>,
    pub ssh_port: Option<u16>,
}

impl RotatingProfile {
    /// The keys it shares with a fixed profile.
    pub fn shared_keys(&self) -> SharedKeys<'_> {
        SharedKeys {
            delay_ms: self.delay_ms,
            family: self.family,
            open_port: self.open_port,
            wait_ms: self.wait_ms,
            retries: self.retries,
            launch: self.launch.as_ref(),
            user: self.user.as_deref(),
            ssh_port: self.ssh_port,
        }
    }

    /// A rotating profile of `door` on `host` with the default parameters
    /// ([`Params::default`]), its secret in the OS keyring, and no other key set.
    pub fn new(host: impl Into<String>, door: impl Into<String>) -> Self {
        RotatingProfile {
            host: host.into(),
            rotation: RotationSpec {
                door: door.into(),
                params: Params::default(),
                secret: SecretSource::Keyring,
            },
            delay_ms: None,
            family: None,
            open_port: None,
            wait_ms: None,
            retries: None,
            launch: None,
            user: None,
            ssh_port: None,
        }
    }

    /// Merged settings. A rotating profile has no fixed sequence: the
    /// `sequence` of these settings is a one-knock stand-in (TCP port 1)
    /// that nothing sends, since `send::run_rotating` derives the sequence
    /// of each attempt's time step from the secret.
    pub fn settings(&self, name: &str, defaults: &Defaults) -> Settings {
        let profile = Profile {
            host: self.host.clone(),
            sequence: stand_in(),
            delay_ms: self.delay_ms,
            family: self.family,
            open_port: self.open_port,
            wait_ms: self.wait_ms,
            retries: self.retries,
            close_sequence: None,
            launch: self.launch.clone(),
            user: self.user.clone(),
            ssh_port: self.ssh_port,
        };
        Settings {
            rotation: Some(self.rotation.clone()),
            ..Settings::merge(name, &profile, defaults)
        }
    }
}

/// The one-knock sequence (TCP port 1) in a rotating profile's settings,
/// which nothing sends.
fn stand_in() -> Sequence {
    // One knock is never an empty list.
    #[allow(clippy::expect_used)]
    Sequence::new(vec![crate::sequence::Knock::tcp(1)]).expect("one knock")
}

impl Settings {
    /// Merges: the profile's key, else `[defaults]`, else [`builtin`].
    pub fn merge(name: &str, profile: &Profile, defaults: &Defaults) -> Settings {
        let p = profile;
        let d = defaults;
        Settings {
            name: name.to_string(),
            host: p.host.clone(),
            sequence: p.sequence.clone(),
            delay: Duration::from_millis(p.delay_ms.or(d.delay_ms).unwrap_or(builtin::DELAY_MS)),
            family: p.family.or(d.family).unwrap_or(builtin::FAMILY),
            open_port: p.open_port.or(d.open_port).or(builtin::OPEN_PORT),
            wait: Duration::from_millis(p.wait_ms.or(d.wait_ms).unwrap_or(builtin::WAIT_MS)),
            retries: p.retries.or(d.retries).unwrap_or(builtin::RETRIES),
            close_sequence: p.close_sequence.clone(),
            launch: p
                .launch
                .clone()
                .or_else(|| d.launch.clone())
                .unwrap_or(builtin::LAUNCH),
            user: p.user.clone().or_else(|| d.user.clone()),
            ssh_port: p.ssh_port.or(d.ssh_port).unwrap_or(builtin::SSH_PORT),
            rotation: None,
        }
    }
}

/// The file's top level as deserialized; profile names keep their spans so
/// a bad name can be pointed at.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    profiles: BTreeMap<toml::Spanned<String>, toml::Spanned<RawProfile>>,
}

/// A `[profiles.NAME]` table as written, fixed or rotating; split by
/// [`split_profile`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(deserialize_with = "de_host")]
    host: String,
    #[serde(default)]
    sequence: Option<toml::Spanned<Sequence>>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    family: Option<Family>,
    #[serde(default, deserialize_with = "de_open_port")]
    open_port: Option<u16>,
    #[serde(default)]
    wait_ms: Option<u64>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    close_sequence: Option<toml::Spanned<Sequence>>,
    #[serde(default)]
    launch: Option<Launch>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default, deserialize_with = "de_ssh_port")]
    ssh_port: Option<u16>,
    #[serde(default)]
    rotate: Option<toml::Spanned<bool>>,
    #[serde(default)]
    secret: Option<toml::Spanned<String>>,
    #[serde(default)]
    secret_cmd: Option<toml::Spanned<String>>,
    #[serde(default)]
    door: Option<toml::Spanned<String>>,
    #[serde(default)]
    period_s: Option<toml::Spanned<i64>>,
    #[serde(default)]
    length: Option<toml::Spanned<i64>>,
    #[serde(default)]
    port_range: Option<toml::Spanned<String>>,
    #[serde(default)]
    exclude_ports: Option<toml::Spanned<Vec<i64>>>,
    #[serde(default)]
    protocol: Option<toml::Spanned<String>>,
}

/// The message for a secret written in the file.
pub const SECRET_IN_FILE: &str =
    "secret must not be written in this file; use secret = \"keyring\" or secret_cmd = \"...\"";

enum Entry {
    Fixed(Profile),
    Rotating(RotatingProfile),
}

/// Splits a table into a fixed or a rotating profile; errors point at the key.
fn split_profile(
    name: &str,
    raw: toml::Spanned<RawProfile>,
    text: &str,
    origin: &Path,
) -> Result<Entry, ConfigError> {
    let table_at = raw.span().start;
    let r = raw.into_inner();
    let at = |offset: usize, message: String| ConfigError::at(origin, text, offset, message, None);
    let rotating = r.rotate.as_ref().is_some_and(|v| *v.get_ref());
    if let Some(s) = r.secret.as_ref().filter(|s| s.get_ref() != "keyring") {
        return Err(at(s.span().start, SECRET_IN_FILE.to_string()));
    }
    if !rotating {
        let rotation_keys = [
            ("secret", r.secret.as_ref().map(|v| v.span().start)),
            ("secret_cmd", r.secret_cmd.as_ref().map(|v| v.span().start)),
            ("door", r.door.as_ref().map(|v| v.span().start)),
            ("period_s", r.period_s.as_ref().map(|v| v.span().start)),
            ("length", r.length.as_ref().map(|v| v.span().start)),
            ("port_range", r.port_range.as_ref().map(|v| v.span().start)),
            (
                "exclude_ports",
                r.exclude_ports.as_ref().map(|v| v.span().start),
            ),
            ("protocol", r.protocol.as_ref().map(|v| v.span().start)),
        ];
        if let Some((key, Some(offset))) = rotation_keys.iter().find(|(_, o)| o.is_some()) {
            return Err(at(
                *offset,
                format!("\"{key}\" applies to rotating profiles only (add rotate = true)"),
            ));
        }
        let Some(sequence) = r.sequence else {
            return Err(at(table_at, "missing key \"sequence\"".to_string()));
        };
        return Ok(Entry::Fixed(Profile {
            host: r.host,
            sequence: sequence.into_inner(),
            delay_ms: r.delay_ms,
            family: r.family,
            open_port: r.open_port,
            wait_ms: r.wait_ms,
            retries: r.retries,
            close_sequence: r.close_sequence.map(toml::Spanned::into_inner),
            launch: r.launch,
            user: r.user,
            ssh_port: r.ssh_port,
        }));
    }

    if let Some(s) = &r.sequence {
        return Err(at(
            s.span().start,
            "a rotating profile has no fixed sequence (its knocks come from the secret and the clock); remove \"sequence\" or \"rotate\"".to_string(),
        ));
    }
    if let Some(s) = &r.close_sequence {
        return Err(at(
            s.span().start,
            "a rotating profile has no close_sequence".to_string(),
        ));
    }
    let secret = match (&r.secret, &r.secret_cmd) {
        (Some(s), _) if s.get_ref() != "keyring" => {
            return Err(at(s.span().start, SECRET_IN_FILE.to_string()));
        }
        (Some(_), Some(cmd)) => {
            return Err(at(
                cmd.span().start,
                "secret and secret_cmd are alternatives; keep one".to_string(),
            ));
        }
        (_, Some(cmd)) if cmd.get_ref().trim().is_empty() => {
            return Err(at(
                cmd.span().start,
                "secret_cmd is empty (expected a command printing the secret, like \"pass show knock/NAME\")".to_string(),
            ));
        }
        (_, Some(cmd)) => SecretSource::Command(cmd.get_ref().clone()),
        (_, None) => SecretSource::Keyring,
    };
    let door = match &r.door {
        Some(d) if d.get_ref().trim().is_empty() || d.get_ref().contains([']', '\n']) => {
            return Err(at(
                d.span().start,
                format!(
                    "bad door name \"{}\" (expected the server's door section name)",
                    d.get_ref()
                ),
            ));
        }
        Some(d) => d.get_ref().clone(),
        None => name.to_string(),
    };
    let mut params = Params::default();
    if let Some(p) = &r.period_s {
        params.period = std::time::Duration::from_secs(u64::try_from(*p.get_ref()).unwrap_or(0));
    }
    if let Some(l) = &r.length {
        params.length = usize::try_from(*l.get_ref()).unwrap_or(0);
    }
    if let Some(range) = &r.port_range {
        params.range = rotate::parse_range(range.get_ref())
            .map_err(|e| at(range.span().start, e.to_string()))?;
    }
    if let Some(list) = &r.exclude_ports {
        for port in list.get_ref() {
            let port = u16::try_from(*port)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| {
                    at(
                        list.span().start,
                        format!("exclude_ports: port {port} is out of range (expected 1-65535)"),
                    )
                })?;
            params.exclude.push(port);
        }
    }
    if let Some(p) = &r.protocol {
        params.protos = p
            .get_ref()
            .parse::<ProtoChoice>()
            .map_err(|e| at(p.span().start, e.to_string()))?;
    }
    if let Err(e) = params.validate() {
        let span_of = |v: Option<std::ops::Range<usize>>| v.map(|s| s.start);
        let offset = match e {
            RotateError::BadPeriod { .. } => span_of(r.period_s.as_ref().map(|v| v.span())),
            RotateError::BadLength { .. } => span_of(r.length.as_ref().map(|v| v.span())),
            _ => span_of(r.port_range.as_ref().map(|v| v.span()))
                .or_else(|| span_of(r.exclude_ports.as_ref().map(|v| v.span())))
                .or_else(|| span_of(r.length.as_ref().map(|v| v.span()))),
        };
        let message = match (&e, &r.period_s) {
            (RotateError::BadPeriod { .. }, Some(p)) => {
                format!(
                    "period_s {} is out of range (expected 5-86400 seconds)",
                    p.get_ref()
                )
            }
            _ => match (&e, &r.length) {
                (RotateError::BadLength { .. }, Some(l)) => {
                    format!(
                        "length {} is out of range (expected 1-32 knocks)",
                        l.get_ref()
                    )
                }
                _ => e.to_string(),
            },
        };
        return Err(at(offset.unwrap_or(table_at), message));
    }
    Ok(Entry::Rotating(RotatingProfile {
        host: r.host,
        rotation: RotationSpec {
            door,
            params,
            secret,
        },
        delay_ms: r.delay_ms,
        family: r.family,
        open_port: r.open_port,
        wait_ms: r.wait_ms,
        retries: r.retries,
        launch: r.launch,
        user: r.user,
        ssh_port: r.ssh_port,
    }))
}

impl ProfileFile {
    /// Parses the dotfile text; `origin` is only used in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(&e, text, origin))?;
        let mut profiles = BTreeMap::new();
        let mut rotating = BTreeMap::new();
        for (name, profile) in raw.profiles {
            let span = name.span();
            let name = name.into_inner();
            if let Err(reason) = validate_name(&name) {
                return Err(ConfigError::at(origin, text, span.start, reason, None));
            }
            match split_profile(&name, profile, text, origin)? {
                Entry::Fixed(p) => profiles.insert(name, p).map(|_| ()),
                Entry::Rotating(p) => rotating.insert(name, p).map(|_| ()),
            };
        }
        Ok(ProfileFile {
            defaults: raw.defaults,
            profiles,
            rotating,
        })
    }

    /// Settings of rotating profile `name` ([`RotatingProfile::settings`]);
    /// `None` if `name` is not a rotating profile.
    pub fn rotating_settings(&self, name: &str) -> Option<Settings> {
        let profile = self.rotating.get(name)?;
        Some(profile.settings(name, &self.defaults))
    }

    /// The named profile merged with `[defaults]` and the built-in defaults.
    pub fn settings(&self, name: &str) -> Option<Settings> {
        let profile = self.profiles.get(name)?;
        Some(Settings::merge(name, profile, &self.defaults))
    }

    /// Whether a profile, fixed or rotating, has this name.
    pub fn contains(&self, name: &str) -> bool {
        self.profiles.contains_key(name) || self.rotating.contains_key(name)
    }

    /// The profile name closest to `name`, if one is reasonably close
    /// (for "did you mean" hints).
    pub fn closest_name(&self, name: &str) -> Option<&str> {
        closest(
            name,
            self.profiles
                .keys()
                .chain(self.rotating.keys())
                .map(String::as_str),
        )
    }
}

/// A profile name: `[A-Za-z0-9._-]+`, not starting with `-` (it would read
/// as a flag on the command line).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty profile name".to_string());
    }
    if name.starts_with('-') {
        return Err(format!(
            "bad profile name \"{name}\" (must not start with -)"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "bad profile name \"{name}\" ({c:?} not allowed; use letters, digits, '.', '_' and '-')"
        ));
    }
    Ok(())
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(word, c), c))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn check_host(host: &str) -> Result<(), String> {
    if host.trim().is_empty() {
        return Err("host is empty (expected a name or address)".to_string());
    }
    if host.chars().any(char::is_whitespace) {
        return Err(format!("bad host \"{host}\" (contains whitespace)"));
    }
    Ok(())
}

fn check_port(key: &str, port: u64) -> Result<u16, String> {
    match u16::try_from(port) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("{key} {port} is out of range (expected 1-65535)")),
    }
}

fn check_launch(launch: Option<&Launch>) -> Result<(), String> {
    match launch {
        Some(Launch::Custom(template)) if !template.contains("{host}") => {
            Err(LAUNCH_NEEDS_HOST.to_string())
        }
        _ => Ok(()),
    }
}

fn de_host<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let host = String::deserialize(d)?;
    check_host(&host).map_err(serde::de::Error::custom)?;
    Ok(host)
}

fn de_port<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<u16>, D::Error> {
    let port = i64::deserialize(d)?;
    let port = u64::try_from(port)
        .map_err(|_| format!("{key} {port} is out of range (expected 1-65535)"))
        .and_then(|p| check_port(key, p))
        .map_err(serde::de::Error::custom)?;
    Ok(Some(port))
}

fn de_open_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    de_port(d, "open_port")
}

fn de_ssh_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    de_port(d, "ssh_port")
}

/// A configuration error at a spot in the file:
/// `origin:line:col: message (did you mean "x"?)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    pub message: String,
    /// The likely intended word, for `(did you mean "x"?)`.
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, " (did you mean \"{hint}\"?)")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// An error at byte `offset` of `text`.
    pub fn at(
        path: &Path,
        text: &str,
        offset: usize,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        let (line, col) = line_col(text, offset);
        ConfigError {
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            hint,
        }
    }

    fn from_toml(err: &toml::de::Error, text: &str, path: &Path) -> Self {
        let offset = err.span().map_or(0, |s| s.start);
        let raw = err.message().trim();
        let (message, hint) = match unknown_field(raw) {
            Some((key, known)) => {
                let what = if known == TOP_KEYS {
                    "unknown table"
                } else {
                    "unknown key"
                };
                let hint = closest(&key, known.iter().copied()).map(str::to_string);
                (format!("{what} \"{key}\""), hint)
            }
            None => (tidy_serde_message(raw), None),
        };
        ConfigError::at(path, text, offset, message, hint)
    }
}

/// Recognizes serde's `unknown field `x`, expected ...` and tells which table
/// it came from by the list of expected keys.
fn unknown_field(message: &str) -> Option<(String, &'static [&'static str])> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    let known: &'static [&'static str] = if expected.contains("`sequence`") {
        PROFILE_KEYS
    } else if expected.contains("`defaults`") {
        TOP_KEYS
    } else {
        DEFAULTS_KEYS
    };
    Some((key.to_string(), known))
}

/// Rewrites serde's wording into the file's terms.
fn tidy_serde_message(message: &str) -> String {
    if let Some(key) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return format!("missing key \"{key}\"");
    }
    message
        .replace(
            "expected u64",
            "expected a number of milliseconds (0 or more)",
        )
        .replace("expected u32", "expected a count (0 or more)")
        .replace(
            "expected struct RawProfile",
            "expected a [profiles.NAME] table",
        )
        .replace(
            "expected struct Profile",
            "expected a [profiles.NAME] table",
        )
        .replace("expected struct Defaults", "expected a table")
        .replace('`', "\"")
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sequence::Knock;

    const FULL: &str = r#"
[defaults]
delay_ms = 50
family = "ipv4"
open_port = 2222
wait_ms = 1000
retries = 1
launch = "none"
user = "root"
ssh_port = 2200

[profiles.myserver]
host = "myserver.example.org"
sequence = "7000,8000:udp,9000"
delay_ms = 200
family = "ipv6"
open_port = 22
wait_ms = 3000
retries = 2
close_sequence = "9000,8000,7000"
launch = "ssh"
user = "admin"
ssh_port = 22

[profiles.bare]
host = "192.0.2.7"
sequence = "1 2 3"
"#;

    fn parse(text: &str) -> Result<ProfileFile, ConfigError> {
        ProfileFile::parse(text, Path::new("profiles.toml"))
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(f) => panic!("expected an error, parsed {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn seq(s: &str) -> Sequence {
        Sequence::parse(s).unwrap()
    }

    #[test]
    fn every_key_parses() {
        let file = parse(FULL).unwrap();
        assert_eq!(
            file.defaults,
            Defaults {
                delay_ms: Some(50),
                family: Some(Family::Ipv4),
                open_port: Some(2222),
                wait_ms: Some(1000),
                retries: Some(1),
                launch: Some(Launch::None),
                user: Some("root".into()),
                ssh_port: Some(2200),
            }
        );
        let p = &file.profiles["myserver"];
        assert_eq!(
            *p,
            Profile {
                host: "myserver.example.org".into(),
                sequence: Sequence::new(vec![Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)])
                    .unwrap(),
                delay_ms: Some(200),
                family: Some(Family::Ipv6),
                open_port: Some(22),
                wait_ms: Some(3000),
                retries: Some(2),
                close_sequence: Some(seq("9000,8000,7000")),
                launch: Some(Launch::Ssh),
                user: Some("admin".into()),
                ssh_port: Some(22),
            }
        );
        assert_eq!(
            file.profiles["bare"],
            Profile::new("192.0.2.7", seq("1,2,3"))
        );
        assert_eq!(file.profiles.len(), 2);
    }

    #[test]
    fn empty_file_is_empty() {
        assert_eq!(parse("").unwrap(), ProfileFile::default());
        assert_eq!(parse("# nothing yet\n").unwrap(), ProfileFile::default());
    }

    #[test]
    fn defaults_merge_profile_then_defaults_then_builtin() {
        let file = parse(FULL).unwrap();
        let s = file.settings("myserver").unwrap();
        assert_eq!(
            s,
            Settings {
                name: "myserver".into(),
                host: "myserver.example.org".into(),
                sequence: seq("7000,8000:udp,9000"),
                delay: Duration::from_millis(200),
                family: Family::Ipv6,
                open_port: Some(22),
                wait: Duration::from_millis(3000),
                retries: 2,
                close_sequence: Some(seq("9000,8000,7000")),
                launch: Launch::Ssh,
                user: Some("admin".into()),
                ssh_port: 22,
                rotation: None,
            }
        );
        // Everything from [defaults].
        let s = file.settings("bare").unwrap();
        assert_eq!(s.delay, Duration::from_millis(50));
        assert_eq!(s.family, Family::Ipv4);
        assert_eq!(s.open_port, Some(2222));
        assert_eq!(s.wait, Duration::from_millis(1000));
        assert_eq!(s.retries, 1);
        assert_eq!(s.close_sequence, None);
        assert_eq!(s.launch, Launch::None);
        assert_eq!(s.user.as_deref(), Some("root"));
        assert_eq!(s.ssh_port, 2200);
        // Built-in defaults, without a [defaults] table.
        let file = parse("[profiles.x]\nhost = \"h\"\nsequence = \"1\"\n").unwrap();
        let s = file.settings("x").unwrap();
        assert_eq!(s.delay, Duration::from_millis(100));
        assert_eq!(s.family, Family::Any);
        assert_eq!(s.open_port, None);
        assert_eq!(s.wait, Duration::from_millis(3000));
        assert_eq!(s.retries, 0);
        assert_eq!(s.launch, Launch::Ssh);
        assert_eq!(s.user, None);
        assert_eq!(s.ssh_port, 22);
        assert_eq!(file.settings("y"), None);
    }

    #[test]
    fn unknown_key_points_at_it_with_a_hint() {
        let text = "[profiles.a]\nhost = \"h\"\n  sequnce = \"1,2\"\n";
        let e = parse(text).unwrap_err();
        assert_eq!((e.line, e.col), (3, 3));
        assert_eq!(e.hint.as_deref(), Some("sequence"));
        assert_eq!(
            e.to_string(),
            "profiles.toml:3:3: unknown key \"sequnce\" (did you mean \"sequence\"?)"
        );
        // In [defaults], hints come from the defaults' keys.
        assert_eq!(
            err("[defaults]\ndelay = 5\n"),
            "profiles.toml:2:1: unknown key \"delay\" (did you mean \"delay_ms\"?)"
        );
        // No hint when nothing is close.
        assert_eq!(
            err("[profiles.a]\nhost = \"h\"\nsequence = \"1\"\nzzzzzz = 1\n"),
            "profiles.toml:4:1: unknown key \"zzzzzz\""
        );
        // host/sequence are not defaults.
        assert_eq!(
            err("[defaults]\nhost = \"h\"\n"),
            "profiles.toml:2:1: unknown key \"host\""
        );
    }

    #[test]
    fn unknown_top_level_table() {
        assert_eq!(
            err("# top\n\n[profile.a]\nhost = \"h\"\n"),
            "profiles.toml:3:2: unknown table \"profile\" (did you mean \"profiles\"?)"
        );
        assert_eq!(
            err("verbose = true\n"),
            "profiles.toml:1:1: unknown table \"verbose\""
        );
    }

    #[test]
    fn bad_values_point_at_the_value() {
        let base = "[profiles.a]\nhost = \"h\"\nsequence = \"1\"\n";
        let cases: &[(&str, &str)] = &[
            (
                "open_port = 0\n",
                "4:13: open_port 0 is out of range (expected 1-65535)",
            ),
            (
                "open_port = 70000\n",
                "4:13: open_port 70000 is out of range (expected 1-65535)",
            ),
            (
                "ssh_port = -1\n",
                "4:12: ssh_port -1 is out of range (expected 1-65535)",
            ),
            (
                "family = \"ipv5\"\n",
                "4:10: unknown family \"ipv5\" (expected \"any\", \"ipv4\" or \"ipv6\")",
            ),
            (
                "close_sequence = \"9000,80x0\"\n",
                "4:18: bad port \"80x0\" (expected a number 1-65535, optionally with :tcp or :udp)",
            ),
            (
                "launch = \"xterm -e ssh\"\n",
                "4:10: custom launch command must contain {host}",
            ),
            (
                "delay_ms = -5\n",
                "4:12: invalid value: integer \"-5\", expected a number of milliseconds (0 or more)",
            ),
            (
                "retries = \"two\"\n",
                "4:11: invalid type: string \"two\", expected a count (0 or more)",
            ),
        ];
        for (line, want) in cases {
            let text = format!("{base}{line}");
            assert_eq!(err(&text), format!("profiles.toml:{want}"), "for {line:?}");
        }
    }

    #[test]
    fn bad_sequence_and_host_point_at_the_value() {
        assert_eq!(
            err("[profiles.a]\nhost = \"h\"\nsequence = \"7000,80x0\"\n"),
            "profiles.toml:3:12: bad port \"80x0\" (expected a number 1-65535, optionally with :tcp or :udp)"
        );
        assert_eq!(
            err("[profiles.a]\nsequence = \"1\"\nhost = \"\"\n"),
            "profiles.toml:3:8: host is empty (expected a name or address)"
        );
        assert_eq!(
            err("[profiles.a]\nhost = \"h\"\nsequence = \"\"\n"),
            "profiles.toml:3:12: empty knock sequence (expected ports like \"7000,8000:udp,9000\")"
        );
        // Defaults are checked too.
        assert_eq!(
            err("[defaults]\n\nssh_port = 0\n"),
            "profiles.toml:3:12: ssh_port 0 is out of range (expected 1-65535)"
        );
    }

    #[test]
    fn missing_keys_point_at_the_table() {
        let e = parse("# c\n[profiles.a]\nhost = \"h\"\n").unwrap_err();
        assert_eq!(e.message, "missing key \"sequence\"");
        assert_eq!(e.line, 2, "{e}");
        let e = parse("[defaults]\n\n[profiles.b]\nsequence = \"1\"\n").unwrap_err();
        assert_eq!(e.message, "missing key \"host\"");
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn bad_profile_name_points_at_the_name() {
        assert_eq!(
            err("\n[profiles.\"my server\"]\nhost = \"h\"\nsequence = \"1\"\n"),
            "profiles.toml:2:11: bad profile name \"my server\" (' ' not allowed; use letters, digits, '.', '_' and '-')"
        );
        assert_eq!(
            err("[profiles.-x]\nhost = \"h\"\nsequence = \"1\"\n"),
            "profiles.toml:1:11: bad profile name \"-x\" (must not start with -)"
        );
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        assert_eq!(
            err("[profiles]\na = 5\n"),
            "profiles.toml:2:5: invalid type: integer \"5\", expected a [profiles.NAME] table"
        );
        assert_eq!(
            err("[profiles.a]\nhost = 5\nsequence = \"1\"\n"),
            "profiles.toml:2:8: invalid type: integer \"5\", expected a string"
        );
    }

    #[test]
    fn toml_syntax_errors_have_positions() {
        let e = parse("[profiles.a]\nhost = \"h\nsequence = \"1\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse("[profiles.a]\nhost = \"h\"\nhost = \"i\"\nsequence = \"1\"\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn line_col_counts_characters() {
        let text = "ab\nçd = 1\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 5), (2, 2));
        assert_eq!(line_col(text, 4), (2, 1)); // inside 'ç'
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn names() {
        for good in ["a", "my-server", "web_1.example", "A.b-c_9"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in ["", "-a", "a b", "a/b", "ä", "a:b"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn launch_forms() {
        assert_eq!("ssh".parse(), Ok(Launch::Ssh));
        assert_eq!("putty".parse(), Ok(Launch::Putty));
        assert_eq!("none".parse(), Ok(Launch::None));
        let custom = "mosh {user}@{host} --ssh='ssh -p {port}'";
        assert_eq!(custom.parse(), Ok(Launch::Custom(custom.into())));
        assert_eq!(Launch::Custom(custom.into()).to_string(), custom);
        assert!("mosh server".parse::<Launch>().is_err());
        let p = Profile {
            launch: Some(Launch::Custom("no host".into())),
            ..Profile::new("h", seq("1"))
        };
        assert_eq!(
            p.validate(),
            Err("custom launch command must contain {host}".into())
        );
    }

    #[test]
    fn family_forms() {
        assert_eq!("IPv6".parse(), Ok(Family::Ipv6));
        assert_eq!(Family::Ipv4.to_string(), "ipv4");
        assert!("inet".parse::<Family>().is_err());
    }

    #[test]
    fn validate_matches_parse() {
        let mut p = Profile::new("h", seq("1"));
        assert_eq!(p.validate(), Ok(()));
        p.open_port = Some(0);
        assert_eq!(
            p.validate(),
            Err("open_port 0 is out of range (expected 1-65535)".into())
        );
        p.open_port = None;
        p.ssh_port = Some(0);
        assert_eq!(
            p.validate(),
            Err("ssh_port 0 is out of range (expected 1-65535)".into())
        );
        p.ssh_port = None;
        p.host = " ".into();
        assert_eq!(
            p.validate(),
            Err("host is empty (expected a name or address)".into())
        );
    }

    #[test]
    fn closest_needs_to_be_close() {
        let names = ["myserver", "backup", "web"];
        assert_eq!(closest("myservr", names), Some("myserver"));
        assert_eq!(closest("bakup", names), Some("backup"));
        assert_eq!(closest("zzz", names), None);
    }

    const ROTATING: &str = r#"
[defaults]
open_port = 22

[profiles.vault]
host = "vault.example.org"
rotate = true
secret = "keyring"
period_s = 60
length = 5
port_range = "20000-30000"
exclude_ports = [22222, 25000]
protocol = "both"
delay_ms = 50

[profiles.lab]
host = "192.0.2.9"
rotate = true
secret_cmd = "pass show knock/lab"
door = "openSSH"

[profiles.fixed]
host = "192.0.2.7"
sequence = "1,2"
"#;

    #[test]
    fn rotating_profiles_parse_with_defaults() {
        let file = parse(ROTATING).unwrap();
        assert_eq!(file.profiles.keys().collect::<Vec<_>>(), ["fixed"]);
        assert_eq!(file.rotating.keys().collect::<Vec<_>>(), ["lab", "vault"]);
        let vault = &file.rotating["vault"];
        assert_eq!(vault.rotation.door, "vault");
        assert_eq!(vault.rotation.secret, SecretSource::Keyring);
        assert_eq!(
            vault.rotation.params,
            Params {
                period: Duration::from_secs(60),
                length: 5,
                range: 20000..=30000,
                exclude: vec![22222, 25000],
                protos: ProtoChoice::Both,
            }
        );
        let lab = &file.rotating["lab"];
        assert_eq!(
            *lab,
            RotatingProfile {
                rotation: RotationSpec {
                    secret: SecretSource::Command("pass show knock/lab".into()),
                    ..RotatingProfile::new("192.0.2.9", "openSSH").rotation
                },
                ..RotatingProfile::new("192.0.2.9", "openSSH")
            }
        );
        assert_eq!(lab.rotation.door, "openSSH");
        assert_eq!(
            lab.rotation.secret,
            SecretSource::Command("pass show knock/lab".into())
        );
        assert_eq!(lab.rotation.params, Params::default());
        assert!(file.settings("vault").is_none());
        let s = file.rotating_settings("vault").unwrap();
        assert_eq!(s.sequence, seq("1"), "a stand-in");
        assert_eq!(s.delay, Duration::from_millis(50));
        assert_eq!(s.open_port, Some(22));
        assert_eq!(s.close_sequence, None);
        assert_eq!(s.rotation.as_ref().map(|r| r.door.as_str()), Some("vault"));
        assert!(file.rotating_settings("fixed").is_none());
        assert_eq!(file.closest_name("vaul"), Some("vault"));
    }

    #[test]
    fn a_secret_in_the_file_is_refused_at_its_spot() {
        let base = "[profiles.v]\nhost = \"h\"\nrotate = true\n";
        assert_eq!(
            err(&format!("{base}secret = \"JBSWY3DPEHPK3PXP\"\n")),
            "profiles.toml:4:10: secret must not be written in this file; use secret = \"keyring\" or secret_cmd = \"...\""
        );
        // Also without rotate = true.
        assert_eq!(
            err("[profiles.v]\nhost = \"h\"\nsequence = \"1\"\nsecret = \"x\"\n"),
            "profiles.toml:4:10: secret must not be written in this file; use secret = \"keyring\" or secret_cmd = \"...\""
        );
    }

    #[test]
    fn rotating_profile_errors_point_at_the_key() {
        let base = "[profiles.v]\nhost = \"h\"\nrotate = true\n";
        let cases = [
            (
                "sequence = \"1,2\"\n",
                "profiles.toml:4:12: a rotating profile has no fixed sequence (its knocks come from the secret and the clock); remove \"sequence\" or \"rotate\"",
            ),
            (
                "period_s = 1\n",
                "profiles.toml:4:12: period_s 1 is out of range (expected 5-86400 seconds)",
            ),
            (
                "length = 0\n",
                "profiles.toml:4:10: length 0 is out of range (expected 1-32 knocks)",
            ),
            (
                "port_range = \"5-1\"\n",
                "profiles.toml:4:14: bad port range \"5-1\" (expected FIRST-LAST within 1-65535, like \"10000-60000\")",
            ),
            (
                "port_range = \"100-102\"\n",
                "profiles.toml:4:14: port range 100-102 leaves 3 ports after exclusions; a sequence of 4 needs at least 4",
            ),
            (
                "exclude_ports = [70000]\n",
                "profiles.toml:4:17: exclude_ports: port 70000 is out of range (expected 1-65535)",
            ),
            (
                "protocol = \"sctp\"\n",
                "profiles.toml:4:12: unknown protocol \"sctp\" (expected \"tcp\", \"udp\" or \"both\")",
            ),
            (
                "secret = \"keyring\"\nsecret_cmd = \"pass x\"\n",
                "profiles.toml:5:14: secret and secret_cmd are alternatives; keep one",
            ),
            (
                "secret_cmd = \" \"\n",
                "profiles.toml:4:14: secret_cmd is empty (expected a command printing the secret, like \"pass show knock/NAME\")",
            ),
            (
                "close_sequence = \"1\"\n",
                "profiles.toml:4:18: a rotating profile has no close_sequence",
            ),
            (
                "perod_s = 30\n",
                "profiles.toml:4:1: unknown key \"perod_s\" (did you mean \"period_s\"?)",
            ),
        ];
        for (extra, want) in cases {
            assert_eq!(err(&format!("{base}{extra}")), want, "{extra}");
        }
        assert_eq!(
            err("[profiles.v]\nhost = \"h\"\nsequence = \"1\"\nperiod_s = 30\n"),
            "profiles.toml:4:12: \"period_s\" applies to rotating profiles only (add rotate = true)"
        );
        let e = parse("[profiles.v]\nhost = \"h\"\nrotate = false\n").unwrap_err();
        assert_eq!(e.message, "missing key \"sequence\"");
    }
}
