//! The keys every profile has, fixed or rotating, and that `[defaults]`
//! sets for all of them: [`Options`], each key a validated type ([`Port`],
//! [`Millis`], [`Retries`], [`Family`], [`Launch`], ...).
//!
//! The keys are declared once, in the `options!` table below; it makes
//! [`Options`] (one layer, as written: unset keys are `None`),
//! [`Effective`] (the layers merged, built-in defaults filled in),
//! [`Options::KEYS`], reading a key from the file or from typed text, and
//! writing the keys back. Adding a key is one line there.
//!
//! Layers merge key by key with [`Options::or`]:
//! `command_line.or(&profile).or(&defaults).effective()`.

use std::fmt;
use std::num::NonZeroU16;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::field::{self, FieldError, FieldValue, Reason, Value, int};

/// `Display` and [`FieldValue`] of a number type, which the file writes as
/// an integer; `$parse` reads the value of `$key`.
macro_rules! number_field {
    ($name:ident, |$key:ident, $value:ident| $parse:expr) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.get().fmt(f)
            }
        }

        impl FieldValue for $name {
            fn from_value($key: &'static str, $value: &Value<'_>) -> Result<Self, FieldError> {
                $parse
            }

            fn from_text(key: &'static str, text: &str) -> Result<Self, FieldError> {
                Self::from_value(key, &Value::number(text))
            }

            fn to_toml(&self) -> toml_edit::Value {
                int(self.get())
            }
        }
    };
}

/// A TCP or UDP port, 1-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port(NonZeroU16);

impl Port {
    /// `None` for 0.
    pub const fn new(port: u16) -> Option<Port> {
        match NonZeroU16::new(port) {
            Some(p) => Some(Port(p)),
            None => None,
        }
    }

    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

number_field!(Port, |key, value| {
    let n = field::integer(key, value, "i64")?;
    u16::try_from(n)
        .ok()
        .and_then(Port::new)
        .ok_or(FieldError::new(key, Reason::PortRange(n)))
});

/// A number of milliseconds, 0 to [`Millis::MAX`] (the largest a TOML
/// integer holds, so every value can be written back to the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Millis(u64);

impl Millis {
    /// `i64::MAX`: TOML integers are 64-bit signed.
    pub const MAX: u64 = i64::MAX as u64;

    /// `ms`, or [`Millis::MAX`] for more (text a user typed is refused
    /// above it instead, see the field's parse).
    pub const fn new(ms: u64) -> Millis {
        Millis(if ms > Self::MAX { Self::MAX } else { ms })
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    pub const fn duration(self) -> Duration {
        Duration::from_millis(self.0)
    }
}

number_field!(Millis, |key, value| count::<i64>(
    key,
    value,
    "a number of milliseconds (0 or more)"
)
.and_then(|n| {
    u64::try_from(n).map(Millis).map_err(|_| {
        FieldError::new(
            key,
            Reason::Value {
                found: value.found(),
                expected: "a number of milliseconds (0 or more)",
            },
        )
    })
}));

/// How many times to knock again when the open port did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Retries(u32);

impl Retries {
    pub const fn new(n: u32) -> Retries {
        Retries(n)
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

number_field!(Retries, |key, value| count(
    key,
    value,
    "a count (0 or more)"
)
.map(Retries));

/// Reads a whole number of type `T` (0 or more), with serde's words.
fn count<T: TryFrom<i128>>(
    key: &'static str,
    value: &Value<'_>,
    expected: &'static str,
) -> Result<T, FieldError> {
    let n = field::integer(key, value, expected)?;
    T::try_from(n).map_err(|_| {
        FieldError::new(
            key,
            Reason::Value {
                found: value.found(),
                expected,
            },
        )
    })
}

/// `as_str`, `Deref<Target = str>`, `AsRef<str>` and `Display` of a
/// string that was checked when it was made.
macro_rules! checked_string {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A host name or address: not empty, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Host(String);

impl Host {
    /// Checks `text` (as typed: surrounding whitespace is an error too).
    pub fn parse(text: &str) -> Result<Host, FieldError> {
        if text.trim().is_empty() {
            return Err(FieldError::new("host", Reason::EmptyHost));
        }
        if text.chars().any(char::is_whitespace) {
            return Err(FieldError::new(
                "host",
                Reason::HostWhitespace(text.to_string()),
            ));
        }
        Ok(Host(text.to_string()))
    }
}

checked_string!(Host);

impl FromStr for Host {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Host::parse(s)
    }
}

impl FieldValue for Host {
    fn from_value(key: &'static str, value: &Value<'_>) -> Result<Self, FieldError> {
        Host::parse(field::string(key, value)?)
    }

    fn from_text(_key: &'static str, text: &str) -> Result<Self, FieldError> {
        Host::parse(text.trim())
    }

    fn to_toml(&self) -> toml_edit::Value {
        toml_edit::Value::from(self.as_str())
    }
}

words! {
    /// Which address family to knock on: `"any"` (the resolver's first
    /// address), `"ipv4"` or `"ipv6"`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum Family {
        #[default]
        Any = "any",
        Ipv4 = "ipv4",
        Ipv6 = "ipv6",
    }
}

impl FromStr for Family {
    type Err = FieldError;

    /// Case-insensitive: `"IPv6"` is `ipv6`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Family::from_word(s)
            .ok_or_else(|| FieldError::new("family", Reason::UnknownFamily(s.to_string())))
    }
}

impl FieldValue for Family {
    fn from_value(key: &'static str, value: &Value<'_>) -> Result<Self, FieldError> {
        field::string(key, value)?.parse()
    }

    fn to_toml(&self) -> toml_edit::Value {
        toml_edit::Value::from(self.as_str())
    }
}

/// A custom launch command: a template with `{host}` (and `{port}`,
/// `{user}`, `{addr}`), expanded by [`crate::launch::argv`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Template(String);

impl Template {
    /// Checks that `text` contains `{host}`.
    pub fn parse(text: &str) -> Result<Template, FieldError> {
        if text.contains("{host}") {
            Ok(Template(text.to_string()))
        } else {
            Err(FieldError::new("launch", Reason::LaunchNeedsHost))
        }
    }
}

checked_string!(Template);

/// What to start after a successful knock.
///
/// Written as `"ssh"`, `"putty"`, `"none"`, or any other string: a custom
/// command [`Template`], which must contain `{host}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Launch {
    #[default]
    Ssh,
    Putty,
    None,
    Custom(Template),
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
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "ssh" => Ok(Launch::Ssh),
            "putty" => Ok(Launch::Putty),
            "none" => Ok(Launch::None),
            _ => Template::parse(s).map(Launch::Custom),
        }
    }
}

impl FieldValue for Launch {
    fn from_value(key: &'static str, value: &Value<'_>) -> Result<Self, FieldError> {
        field::string(key, value)?.parse()
    }

    fn from_text(_key: &'static str, text: &str) -> Result<Self, FieldError> {
        text.parse()
    }

    fn to_toml(&self) -> toml_edit::Value {
        toml_edit::Value::from(self.to_string())
    }
}

/// A file name, not empty (`identity_file`), as the program it is given
/// to reads it (ssh expands a leading `~`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilePath(PathBuf);

impl FilePath {
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// Whether the file name ends in `.EXT` (any case).
    pub fn has_extension(&self, ext: &str) -> bool {
        self.0
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(ext))
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}

impl FieldValue for FilePath {
    fn from_value(key: &'static str, value: &Value<'_>) -> Result<Self, FieldError> {
        match field::string(key, value)? {
            text if text.trim().is_empty() => Err(FieldError::new(
                key,
                Reason::Value {
                    found: value.found(),
                    expected: "a file name",
                },
            )),
            text => Ok(FilePath(PathBuf::from(text))),
        }
    }

    fn to_toml(&self) -> toml_edit::Value {
        toml_edit::Value::from(self.0.to_string_lossy().into_owned())
    }
}

/// Declares the shared keys: `Options`, `Effective` and what goes with them.
///
/// Each line is `key: Type = built-in default;`, or `key: Type;` for a key
/// that is unset unless a layer sets it (its effective value is an `Option`).
macro_rules! options {
    (@effective_type $ty:ty, $default:expr) => { $ty };
    (@effective_type $ty:ty) => { Option<$ty> };
    (@effective_value $value:expr, $default:expr) => { $value.unwrap_or($default) };
    (@effective_value $value:expr) => { $value };
    (@as_option $value:expr, $default:expr) => { Some($value.clone()) };
    (@as_option $value:expr) => { $value.clone() };
    ($( $(#[doc = $doc:literal])* $key:ident : $ty:ty $(= $default:expr)? ; )*) => {
        /// The keys every profile has and `[defaults]` sets, as one layer
        /// writes them (`None` = not set here).
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct Options {
            $( $(#[doc = $doc])* pub $key: Option<$ty>, )*
        }

        /// [`Options`] with every layer merged and the built-in defaults
        /// filled in: what a knock uses.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Effective {
            $( $(#[doc = $doc])* pub $key: options!(@effective_type $ty $(, $default)?), )*
        }

        impl Options {
            /// The keys, in the order the file lists them.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($key)),*];

            /// Each key from `self`, else from `lower`.
            pub fn or(self, lower: &Options) -> Options {
                Options { $( $key: self.$key.or_else(|| lower.$key.clone()), )* }
            }

            /// The keys set here, else the built-in defaults.
            pub fn effective(&self) -> Effective {
                Effective {
                    $( $key: options!(@effective_value self.$key.clone() $(, $default)?), )*
                }
            }

            /// Sets `key` from a value of the file. `None` if `key` is not
            /// one of these keys.
            pub fn set_value(&mut self, key: &str, value: &Value<'_>) -> Option<Result<(), FieldError>> {
                match key {
                    $( stringify!($key) => Some(
                        <$ty as FieldValue>::from_value(stringify!($key), value)
                            .map(|v| self.$key = Some(v)),
                    ), )*
                    _ => None,
                }
            }

            /// Sets `key` from what a user typed (empty text unsets it), with
            /// the file's checks and messages.
            pub fn set_text(&mut self, key: &'static str, text: &str) -> Result<(), FieldError> {
                match key {
                    $( stringify!($key) => {
                        self.$key = match text.trim() {
                            "" => None,
                            _ => Some(<$ty as FieldValue>::from_text(key, text)?),
                        };
                        Ok(())
                    } )*
                    _ => Err(FieldError::new(key, Reason::Unknown)),
                }
            }

            /// The value of `key` as text (what [`Options::set_text`] reads
            /// back); `None` when unset or not one of these keys.
            pub fn text(&self, key: &str) -> Option<String> {
                match key {
                    $( stringify!($key) => self.$key.as_ref().map(ToString::to_string), )*
                    _ => None,
                }
            }

            /// This layer without `keys`.
            pub fn without(mut self, keys: &[&str]) -> Options {
                $( if keys.contains(&stringify!($key)) {
                    self.$key = None;
                } )*
                self
            }

            /// Every key with its value as the file writes it (`None` = unset),
            /// in file order.
            pub fn values(&self) -> Vec<(&'static str, Option<toml_edit::Value>)> {
                vec![$( (stringify!($key), self.$key.as_ref().map(FieldValue::to_toml)), )*]
            }
        }

        impl Effective {
            /// Every key set, as a layer (unset keys without a default stay unset).
            pub fn to_options(&self) -> Options {
                Options { $( $key: options!(@as_option self.$key $(, $default)?), )* }
            }
        }
    };
}

options! {
    /// Pause between knocks.
    delay_ms: Millis = Millis(100);
    /// `any` (the resolver's first address), `ipv4` or `ipv6`.
    family: Family = Family::Any;
    /// After knocking, wait until this TCP port accepts connections (unset: no check).
    open_port: Port;
    /// How long to wait for `open_port`.
    wait_ms: Millis = Millis(3000);
    /// Knock again this many times when `open_port` did not open.
    retries: Retries = Retries(0);
    /// What "connect" starts: ssh, PuTTY, nothing, or a command.
    launch: Launch = Launch::Ssh;
    /// The ssh user (unset: ssh's own choice).
    user: String;
    /// The port ssh connects to.
    ssh_port: Port = SSH_PORT;
    /// The private key ssh (`-i`) or PuTTY (a `.ppk`) logs in with (unset: their own choice).
    identity_file: FilePath;
}

/// ssh's port.
const SSH_PORT: Port = match Port::new(22) {
    Some(port) => port,
    None => panic!("22 is a port"),
};

impl Effective {
    /// The built-in defaults alone.
    pub fn builtin() -> Effective {
        Options::default().effective()
    }

    /// How long to wait for the open port.
    pub fn wait(&self) -> Duration {
        self.wait_ms.duration()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layers_merge_key_by_key() {
        let mut top = Options::default();
        top.set_text("delay_ms", "5").unwrap();
        let mut lower = Options::default();
        lower.set_text("delay_ms", "50").unwrap();
        lower.set_text("user", "admin").unwrap();
        let e = top.or(&lower).effective();
        assert_eq!(e.delay_ms, Millis::new(5));
        assert_eq!(e.user.as_deref(), Some("admin"));
        assert_eq!(e.wait_ms, Millis::new(3000));
        assert_eq!(e.ssh_port.get(), 22);
        assert_eq!(e.open_port, None);
        assert_eq!(e.launch, Launch::Ssh);
        assert_eq!(
            Effective::builtin().to_options().effective(),
            Effective::builtin()
        );
    }

    #[test]
    fn text_reads_like_the_file() {
        let mut o = Options::default();
        let cases = [
            (
                "open_port",
                "0",
                "open_port 0 is out of range (expected 1-65535)",
            ),
            (
                "delay_ms",
                "soon",
                "invalid type: string \"soon\", expected a number of milliseconds (0 or more)",
            ),
            (
                "retries",
                "-1",
                "invalid value: integer \"-1\", expected a count (0 or more)",
            ),
            (
                "family",
                "ipv5",
                "unknown family \"ipv5\" (expected \"any\", \"ipv4\" or \"ipv6\")",
            ),
            (
                "launch",
                "mosh",
                "custom launch command must contain {host}",
            ),
        ];
        for (key, text, want) in cases {
            let e = o.set_text(key, text).unwrap_err();
            assert_eq!((e.key, e.to_string()), (key, want.to_string()));
        }
        assert_eq!(o, Options::default());
        o.set_text("launch", "mosh {host}").unwrap();
        o.set_text("ssh_port", " 2222 ").unwrap();
        assert_eq!(o.text("launch").as_deref(), Some("mosh {host}"));
        assert_eq!(o.text("ssh_port").as_deref(), Some("2222"));
        o.set_text("ssh_port", "").unwrap();
        assert_eq!(o.ssh_port, None);
        assert_eq!(o.set_text("nope", "1").unwrap_err().reason, Reason::Unknown);
    }

    #[test]
    fn hosts_and_launch_forms() {
        assert_eq!(
            Host::parse(" ").unwrap_err().to_string(),
            "host is empty (expected a name or address)"
        );
        assert_eq!(
            Host::parse("a b").unwrap_err().to_string(),
            "bad host \"a b\" (contains whitespace)"
        );
        assert_eq!(&*Host::parse("192.0.2.1").unwrap(), "192.0.2.1");
        assert_eq!("ssh".parse(), Ok(Launch::Ssh));
        assert_eq!("putty".parse(), Ok(Launch::Putty));
        assert_eq!("none".parse(), Ok(Launch::None));
        let custom = "mosh {user}@{host} --ssh='ssh -p {port}'";
        let launch: Launch = custom.parse().unwrap();
        assert_eq!(launch.to_string(), custom);
        assert!(matches!(launch, Launch::Custom(_)));
        assert!("mosh server".parse::<Launch>().is_err());
        assert_eq!("IPv6".parse(), Ok(Family::Ipv6));
        assert_eq!(Family::Ipv4.to_string(), "ipv4");
        assert!("inet".parse::<Family>().is_err());
    }

    #[test]
    fn keys_come_from_the_table() {
        assert_eq!(
            Options::KEYS.join(" "),
            "delay_ms family open_port wait_ms retries launch user ssh_port identity_file"
        );
        let o = Options {
            retries: Some(Retries::new(2)),
            ..Options::default()
        };
        let values = o.values();
        assert_eq!(values.len(), Options::KEYS.len());
        assert_eq!(
            values
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(k, v)| format!("{k} = {}", v.as_ref().unwrap()))
                .collect::<Vec<_>>(),
            ["retries = 2"]
        );
    }
}
