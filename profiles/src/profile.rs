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
//! from the fixed ones in [`ProfileFile::profiles`]; both share one name
//! space. The keys both kinds have, which `[defaults]` sets for all, are
//! [`Options`] (see [`crate::options`]).
//!
//! [`ProfileFile::parse`] is pure (text in, profiles or one error out); the
//! error names the spot as `PATH:LINE:COL: message (did you mean "x"?)`.
//! A form that edits one profile as text reads it with [`from_fields`],
//! which says what is wrong key by key, in the same words.
//! Reading and writing the file is [`crate::store`]'s job.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::field::{self, FieldError, FieldValue, Reason, Value};
use crate::options::{Effective, Host, Options};
use crate::rotate::{self, LENGTH_LIMITS, PERIOD_S_LIMITS, Params, ProtoChoice};
use crate::secret::SecretSource;
use crate::sequence::Sequence;

/// A profile with a fixed `sequence`: one `[profiles.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub host: Host,
    pub sequence: Sequence,
    /// `knock --close NAME` sends it.
    pub close_sequence: Option<Sequence>,
    pub options: Options,
}

impl Profile {
    /// A profile with only the required keys set.
    pub fn new(host: Host, sequence: Sequence) -> Self {
        Profile {
            host,
            sequence,
            close_sequence: None,
            options: Options::default(),
        }
    }

    /// This profile merged with `defaults` and the built-in defaults.
    pub fn settings(&self, name: &str, defaults: &Options) -> Settings {
        Settings {
            name: name.to_string(),
            host: self.host.clone(),
            options: self.options.clone().or(defaults).effective(),
            knocks: Knocks::Fixed(self.sequence.clone()),
            close_sequence: self.close_sequence.clone(),
        }
    }
}

/// The rotation of a rotating profile, with the built-in defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationSpec {
    /// The server's door section name (`door`; default: the profile name).
    pub door: String,
    pub params: Params,
    pub secret: SecretSource,
}

/// A rotating `[profiles.NAME]` table (`rotate = true`): a host, its
/// [`RotationSpec`] and the shared [`Options`]; no sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatingProfile {
    pub host: Host,
    pub rotation: RotationSpec,
    pub options: Options,
}

impl RotatingProfile {
    /// A rotating profile of `door` on `host` with the default parameters
    /// ([`Params::default`]), its secret in the OS keyring, and no other key set.
    pub fn new(host: Host, door: impl Into<String>) -> Self {
        RotatingProfile {
            host,
            rotation: RotationSpec {
                door: door.into(),
                params: Params::default(),
                secret: SecretSource::Keyring,
            },
            options: Options::default(),
        }
    }

    /// This profile merged with `defaults` and the built-in defaults.
    pub fn settings(&self, name: &str, defaults: &Options) -> Settings {
        Settings {
            name: name.to_string(),
            host: self.host.clone(),
            options: self.options.clone().or(defaults).effective(),
            knocks: Knocks::Rotating(self.rotation.clone()),
            close_sequence: None,
        }
    }
}

/// Either kind of profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyProfile {
    Fixed(Profile),
    Rotating(RotatingProfile),
}

impl AnyProfile {
    pub fn host(&self) -> &Host {
        match self {
            AnyProfile::Fixed(p) => &p.host,
            AnyProfile::Rotating(p) => &p.host,
        }
    }

    pub fn options(&self) -> &Options {
        match self {
            AnyProfile::Fixed(p) => &p.options,
            AnyProfile::Rotating(p) => &p.options,
        }
    }

    /// This profile merged with `defaults` and the built-in defaults.
    pub fn settings(&self, name: &str, defaults: &Options) -> Settings {
        match self {
            AnyProfile::Fixed(p) => p.settings(name, defaults),
            AnyProfile::Rotating(p) => p.settings(name, defaults),
        }
    }
}

/// What a profile knocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Knocks {
    /// The same sequence every time.
    Fixed(Sequence),
    /// A sequence derived from a secret and the clock for each attempt.
    Rotating(RotationSpec),
}

impl Knocks {
    /// How many knocks one attempt sends.
    pub fn len(&self) -> usize {
        match self {
            Knocks::Fixed(sequence) => sequence.len(),
            Knocks::Rotating(spec) => spec.params.length,
        }
    }

    /// Always false: a sequence has at least one knock.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A profile merged with `[defaults]` and the built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub name: String,
    pub host: Host,
    pub options: Effective,
    pub knocks: Knocks,
    /// The fixed profile's `close_sequence` (a rotating profile has none).
    pub close_sequence: Option<Sequence>,
}

/// The whole profile file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileFile {
    /// `[defaults]`.
    pub defaults: Options,
    /// Profiles with a fixed `sequence`.
    pub profiles: BTreeMap<String, Profile>,
    /// Rotating profiles (`rotate = true`); their names differ from those in `profiles`.
    pub rotating: BTreeMap<String, RotatingProfile>,
}

/// Top-level tables of the file.
const TOP_KEYS: &[&str] = &["defaults", "profiles"];

/// The keys of a profile table besides the [`Options`], in file order.
const OWN_KEYS: &[&str] = &[
    "host",
    "sequence",
    "close_sequence",
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

/// The keys of rotating profiles only, in file order.
const ROTATION_KEYS: &[&str] = &[
    "secret",
    "secret_cmd",
    "door",
    "period_s",
    "length",
    "port_range",
    "exclude_ports",
    "protocol",
];

/// Every key a `[profiles.NAME]` table may have.
pub fn profile_keys() -> impl Iterator<Item = &'static str> {
    OWN_KEYS.iter().chain(Options::KEYS).copied()
}

/// The static name of a profile key, `None` if it is not one.
fn profile_key(key: &str) -> Option<&'static str> {
    profile_keys().find(|k| *k == key)
}

/// The keys of a profile table as read, before the checks that need the
/// whole table ([`RawProfile::build`]).
#[derive(Debug, Default)]
struct RawProfile<'a> {
    host: Option<Host>,
    sequence: Option<Sequence>,
    close_sequence: Option<Sequence>,
    rotate: Option<bool>,
    secret: Option<String>,
    secret_cmd: Option<String>,
    door: Option<String>,
    period_s: Option<i64>,
    length: Option<i64>,
    port_range: Option<&'a str>,
    exclude_ports: Option<Vec<i128>>,
    protocol: Option<&'a str>,
    options: Options,
    /// Every key given, in order, readable or not.
    present: Vec<&'static str>,
    /// What was wrong with each key, in order.
    errors: Vec<FieldError>,
}

/// An `i64`, as serde reads one.
fn int64(key: &'static str, value: &Value<'_>) -> Result<i64, FieldError> {
    let n = field::integer(key, value, "i64")?;
    i64::try_from(n).map_err(|_| {
        FieldError::new(
            key,
            Reason::Value {
                found: value.found(),
                expected: "i64",
            },
        )
    })
}

impl<'a> RawProfile<'a> {
    /// Reads one key (known to be a profile key).
    fn read(&mut self, key: &'static str, value: &Value<'a>) {
        self.present.push(key);
        let read = match key {
            "host" => Host::from_value(key, value).map(|v| self.host = Some(v)),
            "sequence" => Sequence::from_value(key, value).map(|v| self.sequence = Some(v)),
            "close_sequence" => {
                Sequence::from_value(key, value).map(|v| self.close_sequence = Some(v))
            }
            "rotate" => bool::from_value(key, value).map(|v| self.rotate = Some(v)),
            "secret" => String::from_value(key, value).map(|v| self.secret = Some(v)),
            "secret_cmd" => String::from_value(key, value).map(|v| self.secret_cmd = Some(v)),
            "door" => String::from_value(key, value).map(|v| self.door = Some(v)),
            "period_s" => int64(key, value).map(|v| self.period_s = Some(v)),
            "length" => int64(key, value).map(|v| self.length = Some(v)),
            "port_range" => field::string(key, value).map(|v| self.port_range = Some(v)),
            "exclude_ports" => match value {
                Value::Array(items) => items
                    .iter()
                    .map(|item| int64(key, item).map(i128::from))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| self.exclude_ports = Some(v)),
                other => field::wrong_type(key, other, "a sequence"),
            },
            "protocol" => field::string(key, value).map(|v| self.protocol = Some(v)),
            _ => self.options.set_value(key, value).unwrap_or(Ok(())),
        };
        if let Err(e) = read {
            self.errors.push(e);
        }
    }

    /// After the last key: a missing host is an error.
    fn finish(&mut self) {
        if !self.present.contains(&"host") {
            self.errors.push(FieldError::new("host", Reason::Missing));
        }
    }

    /// The profile `name`, fixed or rotating, or every check it fails.
    fn build(mut self, name: &str) -> Result<AnyProfile, Vec<FieldError>> {
        let mut errors = std::mem::take(&mut self.errors);
        let rotating = self.rotate == Some(true);
        if self.secret.as_deref().is_some_and(|s| s != "keyring") {
            errors.push(FieldError::new("secret", Reason::SecretInFile));
        }
        if !rotating {
            if let Some(key) = ROTATION_KEYS.iter().find(|k| self.present.contains(k)) {
                errors.push(FieldError::new(key, Reason::RotatingOnly));
            }
            if !self.present.contains(&"sequence") {
                errors.push(FieldError::new("sequence", Reason::Missing));
            }
            return match (self.host, self.sequence) {
                (Some(host), Some(sequence)) if errors.is_empty() => {
                    Ok(AnyProfile::Fixed(Profile {
                        host,
                        sequence,
                        close_sequence: self.close_sequence,
                        options: self.options,
                    }))
                }
                _ => Err(errors),
            };
        }

        if self.present.contains(&"sequence") {
            errors.push(FieldError::new("sequence", Reason::SequenceInRotating));
        }
        if self.present.contains(&"close_sequence") {
            errors.push(FieldError::new("close_sequence", Reason::CloseInRotating));
        }
        let secret = match (&self.secret, &self.secret_cmd) {
            (Some(_), Some(_)) => {
                errors.push(FieldError::new("secret_cmd", Reason::SecretAlternatives));
                None
            }
            (_, Some(cmd)) if cmd.trim().is_empty() => {
                errors.push(FieldError::new("secret_cmd", Reason::EmptySecretCmd));
                None
            }
            (_, Some(cmd)) => Some(SecretSource::Command(cmd.clone())),
            (_, None) => Some(SecretSource::Keyring),
        };
        let door = match &self.door {
            Some(d) if d.trim().is_empty() || d.contains([']', '\n']) => {
                errors.push(FieldError::new("door", Reason::BadDoor(d.clone())));
                None
            }
            Some(d) => Some(d.clone()),
            None => Some(name.to_string()),
        };
        let params = rotation_params(&self, &mut errors);
        match (self.host, secret, door, params) {
            (Some(host), Some(secret), Some(door), Some(params)) if errors.is_empty() => {
                Ok(AnyProfile::Rotating(RotatingProfile {
                    host,
                    rotation: RotationSpec {
                        door,
                        params,
                        secret,
                    },
                    options: self.options,
                }))
            }
            _ => Err(errors),
        }
    }
}

/// The rotation parameters of a rotating table (`None` if one of them is wrong).
fn rotation_params(raw: &RawProfile<'_>, errors: &mut Vec<FieldError>) -> Option<Params> {
    let mut params = Params::default();
    let mut ok = true;
    if let Some(p) = raw.period_s {
        match u64::try_from(p) {
            Ok(secs) if PERIOD_S_LIMITS.contains(&secs) => {
                params.period = std::time::Duration::from_secs(secs);
            }
            _ => {
                errors.push(FieldError::new("period_s", Reason::PeriodRange(p.into())));
                ok = false;
            }
        }
    }
    if let Some(l) = raw.length {
        match usize::try_from(l) {
            Ok(length) if LENGTH_LIMITS.contains(&length) => params.length = length,
            _ => {
                errors.push(FieldError::new("length", Reason::LengthRange(l.into())));
                ok = false;
            }
        }
    }
    if let Some(range) = raw.port_range {
        match rotate::parse_range(range) {
            Ok(range) => params.range = range,
            Err(e) => {
                errors.push(FieldError::new("port_range", Reason::Rotate(e)));
                ok = false;
            }
        }
    }
    if let Some(list) = &raw.exclude_ports {
        for &port in list {
            match u16::try_from(port).ok().filter(|p| *p != 0) {
                Some(port) => params.exclude.push(port),
                None => {
                    errors.push(FieldError::new(
                        "exclude_ports",
                        Reason::ListPortRange(port),
                    ));
                    ok = false;
                    break;
                }
            }
        }
    }
    if let Some(p) = raw.protocol {
        match p.parse::<ProtoChoice>() {
            Ok(protos) => params.protos = protos,
            Err(e) => {
                errors.push(FieldError::new("protocol", Reason::Rotate(e)));
                ok = false;
            }
        }
    }
    let unread = [
        "period_s",
        "length",
        "port_range",
        "exclude_ports",
        "protocol",
    ]
    .iter()
    .any(|k| errors.iter().any(|e| e.key == *k));
    if !ok || unread {
        return None;
    }
    if let Err(e) = params.validate() {
        // The range (or the exclusions, or the length) leaves too few ports:
        // blame the first of them the table sets.
        let key = ["port_range", "exclude_ports", "length"]
            .into_iter()
            .find(|k| raw.present.contains(k))
            .unwrap_or("port_range");
        errors.push(FieldError::new(key, Reason::Rotate(e)));
        return None;
    }
    Some(params)
}

/// A profile from its keys as a form has them (each value typed with
/// [`Value::text`] or [`Value::number`]; a key left empty is left out):
/// the profile, or what is wrong, key by key, in the words of
/// [`ProfileFile::parse`]. `name` is the profile's name (a rotating
/// profile's door defaults to it).
pub fn from_fields<'a>(
    name: &str,
    fields: impl IntoIterator<Item = (&'static str, Value<'a>)>,
) -> Result<AnyProfile, Vec<FieldError>> {
    let mut raw = RawProfile::default();
    for (key, value) in fields {
        match profile_key(key) {
            Some(key) => raw.read(key, &value),
            None => raw.errors.push(FieldError::new(key, Reason::Unknown)),
        }
    }
    raw.finish();
    raw.build(name)
}

/// A TOML value as the key parsers see it.
fn value_of<'a>(value: &'a DeValue<'_>) -> Value<'a> {
    match value {
        DeValue::String(s) => Value::Str(s),
        DeValue::Integer(i) => {
            Value::Int(i128::from_str_radix(i.as_str(), i.radix()).unwrap_or(i128::MAX))
        }
        DeValue::Float(f) => Value::Float(f.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Array(items) => {
            Value::Array(items.iter().map(|v| value_of(v.get_ref())).collect())
        }
        DeValue::Datetime(_) | DeValue::Table(_) => Value::Map,
    }
}

type Spanned<T> = toml::Spanned<T>;

impl ProfileFile {
    /// Parses the dotfile text; `origin` is only used in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let root = DeTable::parse(text).map_err(|e| ConfigError::from_toml(&e, text, origin))?;
        let at = |offset: usize, message: String, hint: Option<String>| {
            ConfigError::at(origin, text, offset, message, hint)
        };
        let unknown = |key: &Spanned<std::borrow::Cow<'_, str>>, what: &str, known: &[&str]| {
            let hint = closest(key.get_ref(), known.iter().copied()).map(str::to_string);
            at(
                key.span().start,
                format!("{what} \"{}\"", key.get_ref()),
                hint,
            )
        };
        let type_error = |value: &Spanned<DeValue<'_>>, expected: &str| {
            let found = value_of(value.get_ref()).found();
            at(
                value.span().start,
                format!("invalid type: {found}, expected {expected}"),
                None,
            )
        };
        // First every key of every table, as serde would read them...
        let mut defaults = Options::default();
        let mut tables = Vec::new();
        for (key, value) in root.get_ref() {
            match key.get_ref().as_ref() {
                "defaults" => {
                    let DeValue::Table(table) = value.get_ref() else {
                        return Err(type_error(value, "a table"));
                    };
                    for (key, value) in table {
                        match defaults.set_value(key.get_ref(), &value_of(value.get_ref())) {
                            Some(Ok(())) => {}
                            Some(Err(e)) => {
                                return Err(at(value.span().start, e.to_string(), None));
                            }
                            None => return Err(unknown(key, "unknown key", Options::KEYS)),
                        }
                    }
                }
                "profiles" => {
                    let DeValue::Table(profiles) = value.get_ref() else {
                        return Err(type_error(value, "a map"));
                    };
                    for (name, value) in profiles {
                        let DeValue::Table(table) = value.get_ref() else {
                            return Err(type_error(value, "a [profiles.NAME] table"));
                        };
                        let mut raw = RawProfile::default();
                        let mut spans = Vec::new();
                        for (key, value) in table {
                            let Some(known) = profile_key(key.get_ref()) else {
                                let known: Vec<&str> = profile_keys().collect();
                                return Err(unknown(key, "unknown key", &known));
                            };
                            raw.read(known, &value_of(value.get_ref()));
                            spans.push((known, value.span().start));
                            if let Some(e) = raw.errors.first() {
                                return Err(at(value.span().start, e.to_string(), None));
                            }
                        }
                        raw.finish();
                        if let Some(e) = raw.errors.first() {
                            return Err(at(value.span().start, e.to_string(), None));
                        }
                        tables.push((name, value.span().start, raw, spans));
                    }
                }
                _ => return Err(unknown(key, "unknown table", TOP_KEYS)),
            }
        }
        // ...then each profile as a whole.
        let mut profiles = BTreeMap::new();
        let mut rotating = BTreeMap::new();
        for (name, table_at, raw, spans) in tables {
            if let Err(e) = validate_name(name.get_ref()) {
                return Err(at(name.span().start, e.to_string(), None));
            }
            let name = name.get_ref().to_string();
            match raw.build(&name) {
                Ok(AnyProfile::Fixed(p)) => {
                    profiles.insert(name, p);
                }
                Ok(AnyProfile::Rotating(p)) => {
                    rotating.insert(name, p);
                }
                Err(errors) => {
                    let Some(e) = errors.first() else {
                        continue;
                    };
                    let offset = spans
                        .iter()
                        .find(|(key, _)| *key == e.key)
                        .map_or(table_at, |(_, offset)| *offset);
                    return Err(at(offset, e.to_string(), None));
                }
            }
        }
        Ok(ProfileFile {
            defaults,
            profiles,
            rotating,
        })
    }

    /// The named profile, fixed or rotating, merged with `[defaults]` and
    /// the built-in defaults.
    pub fn settings(&self, name: &str) -> Option<Settings> {
        match (self.profiles.get(name), self.rotating.get(name)) {
            (Some(p), _) => Some(p.settings(name, &self.defaults)),
            (None, Some(p)) => Some(p.settings(name, &self.defaults)),
            (None, None) => None,
        }
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

/// Why a name cannot be a profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty profile name")]
    Empty,
    #[error("bad profile name \"{0}\" (must not start with -)")]
    LeadingDash(String),
    #[error(
        "bad profile name \"{name}\" ({c:?} not allowed; use letters, digits, '.', '_' and '-')"
    )]
    BadChar { name: String, c: char },
}

/// A profile name: `[A-Za-z0-9._-]+`, not starting with `-` (it would read
/// as a flag on the command line).
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.starts_with('-') {
        return Err(NameError::LeadingDash(name.to_string()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::BadChar {
            name: name.to_string(),
            c,
        });
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

    /// A TOML syntax error.
    fn from_toml(err: &toml::de::Error, text: &str, path: &Path) -> Self {
        let offset = err.span().map_or(0, |s| s.start);
        ConfigError::at(path, text, offset, err.message().trim(), None)
    }
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
    use crate::options::{Family, Launch, Millis, Port, Retries};
    use crate::sequence::Knock;
    use std::time::Duration;

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
identity_file = "~/.ssh/id_myserver"

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

    fn host(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    fn port(n: u16) -> Port {
        Port::new(n).unwrap()
    }

    fn key(path: &str) -> crate::options::FilePath {
        FieldValue::from_text("identity_file", path).unwrap()
    }

    #[test]
    fn every_key_parses() {
        let file = parse(FULL).unwrap();
        assert_eq!(
            file.defaults,
            Options {
                delay_ms: Some(Millis::new(50)),
                family: Some(Family::Ipv4),
                open_port: Some(port(2222)),
                wait_ms: Some(Millis::new(1000)),
                retries: Some(Retries::new(1)),
                launch: Some(Launch::None),
                user: Some("root".into()),
                ssh_port: Some(port(2200)),
                identity_file: None,
            }
        );
        let p = &file.profiles["myserver"];
        assert_eq!(
            *p,
            Profile {
                host: host("myserver.example.org"),
                sequence: Sequence::new(vec![Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)])
                    .unwrap(),
                close_sequence: Some(seq("9000,8000,7000")),
                options: Options {
                    delay_ms: Some(Millis::new(200)),
                    family: Some(Family::Ipv6),
                    open_port: Some(port(22)),
                    wait_ms: Some(Millis::new(3000)),
                    retries: Some(Retries::new(2)),
                    launch: Some(Launch::Ssh),
                    user: Some("admin".into()),
                    ssh_port: Some(port(22)),
                    identity_file: Some(key("~/.ssh/id_myserver")),
                },
            }
        );
        assert_eq!(
            file.profiles["bare"],
            Profile::new(host("192.0.2.7"), seq("1,2,3"))
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
                host: host("myserver.example.org"),
                options: Effective {
                    delay_ms: Millis::new(200),
                    family: Family::Ipv6,
                    open_port: Some(port(22)),
                    wait_ms: Millis::new(3000),
                    retries: Retries::new(2),
                    launch: Launch::Ssh,
                    user: Some("admin".into()),
                    ssh_port: port(22),
                    identity_file: Some(key("~/.ssh/id_myserver")),
                },
                knocks: Knocks::Fixed(seq("7000,8000:udp,9000")),
                close_sequence: Some(seq("9000,8000,7000")),
            }
        );
        // Everything from [defaults].
        let s = file.settings("bare").unwrap();
        let o = &s.options;
        assert_eq!(o.delay_ms, Millis::new(50));
        assert_eq!(o.family, Family::Ipv4);
        assert_eq!(o.open_port, Some(port(2222)));
        assert_eq!(o.wait_ms, Millis::new(1000));
        assert_eq!(o.retries, Retries::new(1));
        assert_eq!(s.close_sequence, None);
        assert_eq!(o.launch, Launch::None);
        assert_eq!(o.user.as_deref(), Some("root"));
        assert_eq!(o.ssh_port, port(2200));
        // Built-in defaults, without a [defaults] table.
        let file = parse("[profiles.x]\nhost = \"h\"\nsequence = \"1\"\n").unwrap();
        let o = file.settings("x").unwrap().options;
        assert_eq!(o.delay_ms, Millis::new(100));
        assert_eq!(o.family, Family::Any);
        assert_eq!(o.open_port, None);
        assert_eq!(o.wait_ms, Millis::new(3000));
        assert_eq!(o.retries, Retries::new(0));
        assert_eq!(o.launch, Launch::Ssh);
        assert_eq!(o.user, None);
        assert_eq!(o.ssh_port, port(22));
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
    fn forms_check_keys_like_the_file() {
        // A form's fields, typed as text, get the file's messages, by key.
        let fields = |extra: Vec<(&'static str, Value<'static>)>| {
            let mut all = vec![("host", Value::text("h")), ("sequence", Value::text("1"))];
            all.extend(extra);
            from_fields("a", all)
        };
        let Ok(AnyProfile::Fixed(p)) = fields(vec![]) else {
            panic!("not a fixed profile");
        };
        assert_eq!(p, Profile::new(host("h"), seq("1")));
        let errors = fields(vec![
            ("open_port", Value::number("0")),
            ("launch", Value::text("no host")),
            ("host", Value::text(" ")),
        ])
        .unwrap_err();
        let by_key: Vec<(&str, String)> = errors.iter().map(|e| (e.key, e.to_string())).collect();
        assert_eq!(
            by_key,
            [
                (
                    "open_port",
                    "open_port 0 is out of range (expected 1-65535)".to_string()
                ),
                (
                    "launch",
                    "custom launch command must contain {host}".to_string()
                ),
                (
                    "host",
                    "host is empty (expected a name or address)".to_string()
                ),
            ]
        );
        let errors = from_fields(
            "v",
            [
                ("host", Value::text("h")),
                ("rotate", Value::Bool(true)),
                ("period_s", Value::number("3")),
                ("exclude_ports", Value::Array(vec![Value::number("70000")])),
                ("ssh_port", Value::number("soon")),
            ],
        )
        .unwrap_err();
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "invalid type: string \"soon\", expected i64",
                "period_s 3 is out of range (expected 5-86400 seconds)",
                "exclude_ports: port 70000 is out of range (expected 1-65535)",
            ]
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
                    ..RotatingProfile::new(host("192.0.2.9"), "openSSH").rotation
                },
                ..RotatingProfile::new(host("192.0.2.9"), "openSSH")
            }
        );
        assert_eq!(lab.rotation.door, "openSSH");
        assert_eq!(
            lab.rotation.secret,
            SecretSource::Command("pass show knock/lab".into())
        );
        assert_eq!(lab.rotation.params, Params::default());
        let s = file.settings("vault").unwrap();
        let Knocks::Rotating(spec) = &s.knocks else {
            panic!("not rotating: {s:?}");
        };
        assert_eq!(spec.door, "vault");
        assert_eq!(s.options.delay_ms, Millis::new(50));
        assert_eq!(s.options.open_port, Some(port(22)));
        assert_eq!(s.close_sequence, None);
        assert!(matches!(
            file.settings("fixed").unwrap().knocks,
            Knocks::Fixed(_)
        ));
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
