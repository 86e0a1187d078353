//! One key of a profile table: its value as the parsers see it
//! ([`Value`]), the types that read it ([`FieldValue`]), and what is wrong
//! with it ([`FieldError`], named by its key).
//!
//! The profile file ([`crate::profile::ProfileFile::parse`]) and a form that
//! edits a profile as text (the GUI) read a key through the same
//! [`FieldValue`], so both say the same thing about the same mistake; the
//! file adds where it is (`file:line:col`).

use std::fmt;

use crate::rotate::RotateError;
use crate::sequence::{Sequence, SequenceError};

/// A value of a profile table: what TOML wrote, or what a user typed
/// ([`Value::number`], [`Value::text`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    Int(i128),
    Float(f64),
    Bool(bool),
    Array(Vec<Value<'a>>),
    /// A table, inline table or date-time.
    Map,
}

impl<'a> Value<'a> {
    /// Typed text for a key whose value is a number: an integer when it
    /// reads as one (then its range is checked), else the text as a string
    /// (then the error says which type was expected), as if it had been
    /// written `key = TEXT` or `key = "TEXT"` in the file.
    pub fn number(text: &'a str) -> Value<'a> {
        let text = text.trim();
        match text.parse::<i128>() {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Str(text),
        }
    }

    /// Typed text for a key whose value is a string.
    pub fn text(text: &'a str) -> Value<'a> {
        Value::Str(text)
    }

    /// What serde would call it in "invalid type: ..." (for the file's
    /// messages to read as they always have).
    pub fn found(&self) -> Found {
        match self {
            Value::Str(s) => Found::Str((*s).to_string()),
            Value::Int(n) => Found::Int(*n),
            Value::Float(f) => Found::Float(*f),
            Value::Bool(b) => Found::Bool(*b),
            Value::Array(_) => Found::Seq,
            Value::Map => Found::Map,
        }
    }

    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A value of the wrong type or out of range, described as serde describes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Seq,
    Map,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Str(s) => write!(f, "string {s:?}"),
            Found::Int(n) if u64::try_from(*n).is_err() && i64::try_from(*n).is_err() => {
                write!(f, "integer \"{n}\" as i128")
            }
            Found::Int(n) => write!(f, "integer \"{n}\""),
            Found::Float(x) => {
                let text = x.to_string();
                if x.is_finite() && !text.contains(['.', 'e']) {
                    write!(f, "floating point \"{text}.0\"")
                } else {
                    write!(f, "floating point \"{text}\"")
                }
            }
            Found::Bool(b) => write!(f, "boolean \"{b}\""),
            Found::Seq => f.write_str("sequence"),
            Found::Map => f.write_str("map"),
        }
    }
}

/// What is wrong with the value of one key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.reason.message(self.key))]
pub struct FieldError {
    /// The key as written in the file (`"open_port"`).
    pub key: &'static str,
    pub reason: Reason,
}

impl FieldError {
    pub fn new(key: &'static str, reason: Reason) -> FieldError {
        FieldError { key, reason }
    }
}

/// Why a key's value is refused. The message ([`FieldError`]'s `Display`)
/// names the key where the reason alone would not say which one.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The value has the wrong type (`expected` says what it should be).
    Type {
        found: Found,
        expected: &'static str,
    },
    /// The value has the right type, but not a value the key takes.
    Value {
        found: Found,
        expected: &'static str,
    },
    /// A port outside 1-65535.
    PortRange(i128),
    /// A port in a list (`exclude_ports`) outside 1-65535.
    ListPortRange(i128),
    /// `period_s` outside 5-86400.
    PeriodRange(i128),
    /// `length` outside 1-32.
    LengthRange(i128),
    EmptyHost,
    HostWhitespace(String),
    UnknownFamily(String),
    /// A custom `launch` command without `{host}`.
    LaunchNeedsHost,
    Sequence(SequenceError),
    Rotate(RotateError),
    /// `secret = "..."` with anything but `"keyring"`.
    SecretInFile,
    /// `secret_cmd` next to `secret`.
    SecretAlternatives,
    EmptySecretCmd,
    BadDoor(String),
    /// A key of rotating profiles in a profile without `rotate = true`.
    RotatingOnly,
    /// `sequence` in a rotating profile.
    SequenceInRotating,
    /// `close_sequence` in a rotating profile.
    CloseInRotating,
    Missing,
    Unknown,
}

impl Reason {
    /// The message for this reason at `key`.
    pub fn message(&self, key: &str) -> String {
        match self {
            Reason::Type { found, expected } => format!("invalid type: {found}, expected {expected}"),
            Reason::Value { found, expected } => {
                format!("invalid value: {found}, expected {expected}")
            }
            Reason::PortRange(n) => format!("{key} {n} is out of range (expected 1-65535)"),
            Reason::ListPortRange(n) => {
                format!("{key}: port {n} is out of range (expected 1-65535)")
            }
            Reason::PeriodRange(n) => {
                format!("{key} {n} is out of range (expected 5-86400 seconds)")
            }
            Reason::LengthRange(n) => format!("{key} {n} is out of range (expected 1-32 knocks)"),
            Reason::EmptyHost => "host is empty (expected a name or address)".to_string(),
            Reason::HostWhitespace(host) => format!("bad host \"{host}\" (contains whitespace)"),
            Reason::UnknownFamily(s) => {
                format!("unknown family \"{s}\" (expected \"any\", \"ipv4\" or \"ipv6\")")
            }
            Reason::LaunchNeedsHost => "custom launch command must contain {host}".to_string(),
            Reason::Sequence(e) => e.to_string(),
            Reason::Rotate(e) => e.to_string(),
            Reason::SecretInFile => {
                "secret must not be written in this file; use secret = \"keyring\" or secret_cmd = \"...\"".to_string()
            }
            Reason::SecretAlternatives => {
                "secret and secret_cmd are alternatives; keep one".to_string()
            }
            Reason::EmptySecretCmd => "secret_cmd is empty (expected a command printing the secret, like \"pass show knock/NAME\")".to_string(),
            Reason::BadDoor(door) => {
                format!("bad door name \"{door}\" (expected the server's door section name)")
            }
            Reason::RotatingOnly => {
                format!("\"{key}\" applies to rotating profiles only (add rotate = true)")
            }
            Reason::SequenceInRotating => "a rotating profile has no fixed sequence (its knocks come from the secret and the clock); remove \"sequence\" or \"rotate\"".to_string(),
            Reason::CloseInRotating => "a rotating profile has no close_sequence".to_string(),
            Reason::Missing => format!("missing key \"{key}\""),
            Reason::Unknown => format!("unknown key \"{key}\""),
        }
    }
}

/// A type that reads the value of a key and writes it back.
pub trait FieldValue: Sized {
    /// Reads the value of `key`.
    fn from_value(key: &'static str, value: &Value<'_>) -> Result<Self, FieldError>;

    /// Reads what a user typed for `key`, with the checks and the messages
    /// of the file. The default reads it as a string.
    fn from_text(key: &'static str, text: &str) -> Result<Self, FieldError> {
        Self::from_value(key, &Value::text(text.trim()))
    }

    /// The value as the file writes it.
    fn to_toml(&self) -> toml_edit::Value;
}

/// `Err` for a value of the wrong type.
pub fn wrong_type<T>(
    key: &'static str,
    value: &Value<'_>,
    expected: &'static str,
) -> Result<T, FieldError> {
    Err(FieldError::new(
        key,
        Reason::Type {
            found: value.found(),
            expected,
        },
    ))
}

/// The string of `key`, or a type error.
pub fn string<'a>(key: &'static str, value: &Value<'a>) -> Result<&'a str, FieldError> {
    match value {
        Value::Str(s) => Ok(s),
        other => wrong_type(key, other, "a string"),
    }
}

/// The integer of `key`, or a type error saying `expected`.
pub fn integer(
    key: &'static str,
    value: &Value<'_>,
    expected: &'static str,
) -> Result<i128, FieldError> {
    match value {
        Value::Int(n) => Ok(*n),
        other => wrong_type(key, other, expected),
    }
}

impl FieldValue for String {
    fn from_value(key: &'static str, value: &Value<'_>) -> Result<Self, FieldError> {
        string(key, value).map(str::to_string)
    }

    fn to_toml(&self) -> toml_edit::Value {
        toml_edit::Value::from(self.as_str())
    }
}

impl FieldValue for bool {
    fn from_value(key: &'static str, value: &Value<'_>) -> Result<Self, FieldError> {
        match value {
            Value::Bool(b) => Ok(*b),
            other => wrong_type(key, other, "a boolean"),
        }
    }

    fn from_text(key: &'static str, text: &str) -> Result<Self, FieldError> {
        match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Self::from_value(key, &Value::text(other)),
        }
    }

    fn to_toml(&self) -> toml_edit::Value {
        toml_edit::Value::from(*self)
    }
}

impl FieldValue for Sequence {
    fn from_value(key: &'static str, value: &Value<'_>) -> Result<Self, FieldError> {
        Sequence::parse(string(key, value)?).map_err(|e| FieldError::new(key, Reason::Sequence(e)))
    }

    fn to_toml(&self) -> toml_edit::Value {
        toml_edit::Value::from(self.to_string())
    }
}

/// `n` as a TOML integer (saturating at `i64::MAX`).
pub fn int(n: impl TryInto<i64>) -> toml_edit::Value {
    toml_edit::Value::from(n.try_into().unwrap_or(i64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn found_reads_like_serde() {
        assert_eq!(Value::Str("two").found().to_string(), "string \"two\"");
        assert_eq!(Value::Int(-5).found().to_string(), "integer \"-5\"");
        assert_eq!(
            Value::Float(1.5).found().to_string(),
            "floating point \"1.5\""
        );
        assert_eq!(
            Value::Float(1e10).found().to_string(),
            "floating point \"10000000000.0\""
        );
        assert_eq!(
            Value::Float(f64::NAN).found().to_string(),
            "floating point \"NaN\""
        );
        assert_eq!(Value::Bool(true).found().to_string(), "boolean \"true\"");
        assert_eq!(Value::Array(vec![]).found().to_string(), "sequence");
        assert_eq!(Value::Map.found().to_string(), "map");
        assert_eq!(
            Value::Int(1 << 70).found().to_string(),
            format!("integer \"{}\" as i128", 1i128 << 70)
        );
    }

    #[test]
    fn typed_text_is_a_number_when_it_reads_as_one() {
        assert_eq!(Value::number(" 42 "), Value::Int(42));
        assert_eq!(Value::number("-1"), Value::Int(-1));
        assert_eq!(Value::number("soon"), Value::Str("soon"));
        assert_eq!(Value::text("42"), Value::Str("42"));
    }

    #[test]
    fn messages_name_the_key_where_needed() {
        let e = FieldError::new("open_port", Reason::PortRange(0));
        assert_eq!(
            e.to_string(),
            "open_port 0 is out of range (expected 1-65535)"
        );
        let e = String::from_value("user", &Value::Int(5)).unwrap_err();
        assert_eq!(e.key, "user");
        assert_eq!(
            e.to_string(),
            "invalid type: integer \"5\", expected a string"
        );
        let e = Sequence::from_text("sequence", "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "empty knock sequence (expected ports like \"7000,8000:udp,9000\")"
        );
        assert_eq!(bool::from_text("rotate", "true"), Ok(true));
    }
}
