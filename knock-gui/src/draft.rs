//! The profile form's model: what the user is typing, as text, and its
//! validation.
//!
//! Every check goes through `knock_profiles` (the knock parser, the profile
//! validation, and the file parser for numbers), so the form shows the same
//! messages as the CLI does for the same mistake in the dotfile.
//!
//! [`Draft`] is a profile with a fixed sequence; [`rotating::RotatingDraft`]
//! a rotating one. Both hold the keys every profile has in a [`Common`].

pub mod rotating;

use std::path::Path;

use knock_profiles::options::{Family, Host, Launch, Options};
use knock_profiles::profile::{AnyProfile, Profile, ProfileFile, validate_name};
use knock_profiles::{Knock, Proto, Sequence};

use rotating::RotatingDraft;

/// One knock of the sequence editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnockRow {
    pub port: String,
    pub proto: Proto,
}

impl KnockRow {
    pub fn new(port: impl Into<String>, proto: Proto) -> Self {
        KnockRow {
            port: port.into(),
            proto,
        }
    }

    /// The row in knockd syntax, valid or not (`7000`, `8000:udp`).
    fn text(&self) -> String {
        match self.proto {
            Proto::Tcp => self.port.trim().to_string(),
            Proto::Udp => format!("{}:udp", self.port.trim()),
        }
    }

    fn parse(&self) -> Result<Knock, String> {
        Knock::parse_with_default(&self.port, self.proto).map_err(|e| e.to_string())
    }
}

/// How to connect after knocking, as picked in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaunchChoice {
    /// Not set in the profile: `[defaults]` or built-in (ssh).
    #[default]
    Inherit,
    Ssh,
    Putty,
    None,
    Custom,
}

impl LaunchChoice {
    pub const ALL: [LaunchChoice; 5] = [
        LaunchChoice::Inherit,
        LaunchChoice::Ssh,
        LaunchChoice::Putty,
        LaunchChoice::None,
        LaunchChoice::Custom,
    ];

    pub fn label(self) -> &'static str {
        match self {
            LaunchChoice::Inherit => "Default",
            LaunchChoice::Ssh => "ssh in a terminal",
            LaunchChoice::Putty => "PuTTY",
            LaunchChoice::None => "Nothing (knock only)",
            LaunchChoice::Custom => "Custom command",
        }
    }
}

/// The keys both kinds of profile have, as typed; an empty field means
/// "not set" (the profile inherits `[defaults]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Common {
    pub host: String,
    pub family: Option<Family>,
    pub delay_ms: String,
    pub open_port: String,
    pub wait_ms: String,
    pub retries: String,
    pub launch: LaunchChoice,
    pub custom: String,
    pub user: String,
    pub ssh_port: String,
}

impl Common {
    pub fn from_options(host: &str, k: &Options) -> Common {
        let (launch, custom) = match &k.launch {
            None => (LaunchChoice::Inherit, String::new()),
            Some(Launch::Ssh) => (LaunchChoice::Ssh, String::new()),
            Some(Launch::Putty) => (LaunchChoice::Putty, String::new()),
            Some(Launch::None) => (LaunchChoice::None, String::new()),
            Some(Launch::Custom(t)) => (LaunchChoice::Custom, t.to_string()),
        };
        let text = |key: &str| k.text(key).unwrap_or_default();
        Common {
            host: host.to_string(),
            family: k.family,
            delay_ms: text("delay_ms"),
            open_port: text("open_port"),
            wait_ms: text("wait_ms"),
            retries: text("retries"),
            launch,
            custom,
            user: text("user"),
            ssh_port: text("ssh_port"),
        }
    }

    /// The launch choice as the file's string (`None` = not set); a custom
    /// command is the template as typed.
    pub fn launch_text(&self) -> Option<&str> {
        match self.launch {
            LaunchChoice::Inherit => None,
            LaunchChoice::Ssh => Some("ssh"),
            LaunchChoice::Putty => Some("putty"),
            LaunchChoice::None => Some("none"),
            LaunchChoice::Custom => Some(&self.custom),
        }
    }

    /// The user name, `None` when empty.
    pub fn user(&self) -> Option<String> {
        Some(self.user.trim().to_string()).filter(|u| !u.is_empty())
    }
}

/// The form of a profile with a fixed sequence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Draft {
    pub common: Common,
    pub knocks: Vec<KnockRow>,
    /// The sequence in knockd syntax, kept in step with `knocks`; pasting
    /// here replaces the rows.
    pub sequence_text: String,
    pub close_sequence: String,
}

/// Per-field problems of a [`Draft`] or a [`rotating::RotatingDraft`];
/// `None` = fine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems {
    pub host: Option<String>,
    /// One entry per knock row.
    pub knocks: Vec<Option<String>>,
    /// The sequence as a whole (empty) or the pasted text.
    pub sequence: Option<String>,
    pub door: Option<String>,
    pub period_s: Option<String>,
    pub length: Option<String>,
    pub port_range: Option<String>,
    pub exclude_ports: Option<String>,
    pub protocol: Option<String>,
    pub secret: Option<String>,
    pub delay_ms: Option<String>,
    pub open_port: Option<String>,
    pub wait_ms: Option<String>,
    pub retries: Option<String>,
    pub close_sequence: Option<String>,
    pub launch: Option<String>,
    pub user: Option<String>,
    pub ssh_port: Option<String>,
    /// A problem that belongs to no one field.
    pub other: Option<String>,
}

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.messages().next().is_none()
    }

    /// The first message, in form order (what a one-line status says).
    pub fn first(&self) -> &str {
        self.messages().next().unwrap_or("invalid profile")
    }

    /// All messages, in form order.
    pub fn messages(&self) -> impl Iterator<Item = &str> {
        [&self.host]
            .into_iter()
            .chain(self.knocks.iter())
            .chain([
                &self.sequence,
                &self.door,
                &self.period_s,
                &self.length,
                &self.port_range,
                &self.exclude_ports,
                &self.protocol,
                &self.secret,
                &self.delay_ms,
                &self.open_port,
                &self.wait_ms,
                &self.retries,
                &self.close_sequence,
                &self.launch,
                &self.user,
                &self.ssh_port,
                &self.other,
            ])
            .filter_map(|m| m.as_deref())
    }
}

impl Draft {
    pub fn from_profile(p: &Profile) -> Draft {
        let knocks: Vec<KnockRow> = p
            .sequence
            .knocks()
            .iter()
            .map(|k| KnockRow::new(k.port.to_string(), k.proto))
            .collect();
        let common = Common::from_options(&p.host, &p.options);
        let mut draft = Draft {
            common,
            knocks,
            sequence_text: String::new(),
            close_sequence: p
                .close_sequence
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
        };
        draft.rows_changed();
        draft
    }

    /// A new profile: host and sequence as typed.
    pub fn new_profile(host: &str, sequence: &str) -> Draft {
        let mut draft = Draft {
            common: Common {
                host: host.to_string(),
                ..Common::default()
            },
            sequence_text: sequence.to_string(),
            ..Draft::default()
        };
        draft.sequence_text_changed();
        draft
    }

    /// Call after editing `knocks`: refreshes the knockd-syntax text.
    pub fn rows_changed(&mut self) {
        self.sequence_text = self
            .knocks
            .iter()
            .map(KnockRow::text)
            .collect::<Vec<_>>()
            .join(",");
    }

    /// Call after editing `sequence_text`: when it parses, it replaces the rows.
    pub fn sequence_text_changed(&mut self) {
        if let Ok(seq) = Sequence::parse(&self.sequence_text) {
            self.knocks = seq
                .knocks()
                .iter()
                .map(|k| KnockRow::new(k.port.to_string(), k.proto))
                .collect();
        }
    }

    /// The profile, or what is wrong with the form.
    pub fn check(&self) -> Result<Profile, Box<Problems>> {
        let mut problems = Problems::default();

        let mut knocks = Vec::new();
        for row in &self.knocks {
            match row.parse() {
                Ok(k) => {
                    knocks.push(k);
                    problems.knocks.push(None);
                }
                Err(e) => problems.knocks.push(Some(e)),
            }
        }
        // The text mirrors the rows; its own error matters only when the
        // rows are fine (garbage pasted there does not replace them).
        if problems.knocks.iter().all(Option::is_none)
            && let Err(e) = Sequence::parse(&self.sequence_text)
        {
            problems.sequence = Some(e.to_string());
        }
        let sequence = if problems.knocks.iter().any(Option::is_some) {
            None
        } else {
            match Sequence::new(knocks) {
                Ok(s) => Some(s),
                Err(e) => {
                    problems.sequence.get_or_insert(e.to_string());
                    None
                }
            }
        };

        let c = &self.common;
        let delay_ms = value(&c.delay_ms, "delay_ms", &mut problems.delay_ms, |d| {
            d.delay_ms
        });
        let open_port = value(&c.open_port, "open_port", &mut problems.open_port, |d| {
            d.open_port
        });
        let wait_ms = value(&c.wait_ms, "wait_ms", &mut problems.wait_ms, |d| d.wait_ms);
        let retries = value(&c.retries, "retries", &mut problems.retries, |d| d.retries);
        let ssh_port = value(&c.ssh_port, "ssh_port", &mut problems.ssh_port, |d| {
            d.ssh_port
        });
        let close_sequence = if self.close_sequence.trim().is_empty() {
            None
        } else {
            match Sequence::parse(&self.close_sequence) {
                Ok(s) => Some(s),
                Err(e) => {
                    problems.close_sequence = Some(e.to_string());
                    None
                }
            }
        };
        let launch = match c.launch {
            LaunchChoice::Inherit => None,
            LaunchChoice::Ssh => Some(Launch::Ssh),
            LaunchChoice::Putty => Some(Launch::Putty),
            LaunchChoice::None => Some(Launch::None),
            LaunchChoice::Custom => match c.custom.parse::<Launch>() {
                Ok(l) => Some(l),
                Err(e) => {
                    problems.launch = Some(e.to_string());
                    None
                }
            },
        };
        let user = c.user();
        let host = match Host::parse(c.host.trim()) {
            Ok(host) => Some(host),
            Err(e) => {
                problems.host = Some(e.to_string());
                None
            }
        };
        let options = Options {
            delay_ms,
            family: c.family,
            open_port,
            wait_ms,
            retries,
            launch,
            user,
            ssh_port,
        };
        match (host, sequence) {
            (Some(host), Some(sequence)) if problems.is_empty() => Ok(Profile {
                host,
                sequence,
                close_sequence,
                options,
            }),
            _ => Err(Box::new(problems)),
        }
    }
}

/// The unsaved form of one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Fixed(Draft),
    Rotating(RotatingDraft),
}

impl Edit {
    /// The profile `name` as the form has it, or what is wrong with it.
    pub fn check(&self, name: &str) -> Result<AnyProfile, Box<Problems>> {
        match self {
            Edit::Fixed(draft) => draft.check().map(AnyProfile::Fixed),
            Edit::Rotating(draft) => draft.check(name).map(AnyProfile::Rotating),
        }
    }
}

/// Checks a new profile from the New dialog: a fixed one with its
/// sequence, or a rotating one with the library's defaults.
pub fn check_new(
    name: &str,
    host: &str,
    sequence: &str,
    rotating: bool,
    exists: bool,
) -> Result<AnyProfile, String> {
    validate_name(name).map_err(|e| e.to_string())?;
    if exists {
        return Err(format!("a profile named {name} already exists"));
    }
    let edit = if rotating {
        Edit::Rotating(RotatingDraft::new_profile(host))
    } else {
        Edit::Fixed(Draft::new_profile(host, sequence))
    };
    edit.check(name).map_err(|p| p.first().to_string())
}

/// One optional number, checked by the profile-file parser itself (as the
/// key of a one-line `[defaults]` table), so range and type errors read as
/// they would in the dotfile. Empty = not set.
fn value<T>(
    text: &str,
    key: &str,
    problem: &mut Option<String>,
    get: impl FnOnce(&Options) -> Option<T>,
) -> Option<T> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let doc = format!("[defaults]\n{key} = {}\n", number_literal(text));
    match ProfileFile::parse(&doc, Path::new(key)) {
        Ok(file) => get(&file.defaults),
        Err(e) => {
            *problem = Some(e.message);
            None
        }
    }
}

/// A number as typed, as a TOML value for the file parser to check: an
/// integer literal when it is one (the parser then checks its range), else
/// a string (the parser then says what type it expected).
pub(crate) fn number_literal(text: &str) -> String {
    match text.trim().parse::<i128>() {
        Ok(n) => n.to_string(),
        Err(_) => string_literal(text.trim()),
    }
}

/// `text` as a TOML string, escaped.
pub(crate) fn string_literal(text: &str) -> String {
    toml_edit::Value::from(text).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        let mut p = Profile::new(
            Host::parse("192.0.2.1").unwrap(),
            Sequence::parse("7000,8000:udp,9000").unwrap(),
        );
        p.options.open_port = knock_profiles::options::Port::new(22);
        p.options.delay_ms = Some(knock_profiles::options::Millis::new(200));
        p.options.launch = Some("mosh {host}".parse().unwrap());
        p
    }

    #[test]
    fn round_trips_a_profile() {
        let p = profile();
        let d = Draft::from_profile(&p);
        assert_eq!(d.sequence_text, "7000,8000:udp,9000");
        assert_eq!(d.knocks.len(), 3);
        assert_eq!(d.check(), Ok(p));
    }

    #[test]
    fn bad_port_in_a_row_is_reported_on_that_row() {
        let mut d = Draft::from_profile(&profile());
        d.knocks[1].port = "80000".into();
        d.rows_changed();
        let problems = d.check().unwrap_err();
        assert_eq!(problems.knocks[0], None);
        assert_eq!(
            problems.knocks[1].as_deref(),
            Some("port out of range in \"80000\" (expected 1-65535)")
        );
    }

    #[test]
    fn numbers_get_the_dotfile_messages() {
        let mut d = Draft::from_profile(&profile());
        d.common.open_port = "0".into();
        d.common.delay_ms = "soon".into();
        let problems = d.check().unwrap_err();
        assert_eq!(
            problems.open_port.as_deref(),
            Some("open_port 0 is out of range (expected 1-65535)")
        );
        assert!(problems.delay_ms.is_some());
        d.common.open_port = "2222".into();
        d.common.delay_ms = String::new();
        let p = d.check().unwrap();
        assert_eq!(p.options.text("open_port").as_deref(), Some("2222"));
        assert_eq!(p.options.delay_ms, None);
    }

    #[test]
    fn pasted_sequence_replaces_rows_and_empty_is_an_error() {
        let mut d = Draft::new_profile("host.example", "1,2:udp 3");
        assert_eq!(
            d.knocks,
            vec![
                KnockRow::new("1", Proto::Tcp),
                KnockRow::new("2", Proto::Udp),
                KnockRow::new("3", Proto::Tcp)
            ]
        );
        d.knocks.clear();
        d.rows_changed();
        assert!(d.check().unwrap_err().sequence.is_some());
    }

    #[test]
    fn empty_host_and_bad_launch() {
        let mut d = Draft::from_profile(&profile());
        d.common.host = " ".into();
        d.common.custom = "mosh".into();
        let problems = d.check().unwrap_err();
        assert_eq!(
            problems.host.as_deref(),
            Some("host is empty (expected a name or address)")
        );
        assert_eq!(
            problems.launch.as_deref(),
            Some("custom launch command must contain {host}")
        );
    }
}
