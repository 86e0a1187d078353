//! The profile form's model: what the user is typing, as text, and its
//! validation.
//!
//! Every check goes through `knock_profiles`: the form's fields, each as
//! typed, go to [`from_fields`], which reads them with the same types as
//! the profile file, so the form shows the CLI's message for the same
//! mistake, under the field whose key it names. No TOML is written to find
//! out.
//!
//! [`Draft`] is a profile with a fixed sequence; [`rotating::RotatingDraft`]
//! a rotating one. Both hold the keys every profile has in a [`Common`].

pub mod rotating;

use knock_profiles::field::{FieldError, Value};
use knock_profiles::options::{Family, Host, Launch, Options};
use knock_profiles::profile::{AnyProfile, Profile, from_fields, validate_name};
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
    /// The private key ssh / PuTTY log in with.
    pub identity_file: String,
    /// The profile's keys the form has no field for, kept as they are.
    pub others: Options,
}

impl Common {
    /// The form of a saved profile's `host` and `options`.
    pub fn from_options(host: &Host, k: &Options) -> Common {
        let (launch, custom) = match &k.launch {
            None => (LaunchChoice::Inherit, String::new()),
            Some(Launch::Ssh) => (LaunchChoice::Ssh, String::new()),
            Some(Launch::Putty) => (LaunchChoice::Putty, String::new()),
            Some(Launch::None) => (LaunchChoice::None, String::new()),
            Some(Launch::Custom(t)) => (LaunchChoice::Custom, t.to_string()),
        };
        let text = |key: &str| k.text(key).unwrap_or_default();
        let mut common = Common {
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
            identity_file: text("identity_file"),
            others: Options::default(),
        };
        // What the form's own fields hold, it writes back itself.
        let shown: Vec<&str> = common.fields([], []).iter().map(|(key, _)| *key).collect();
        common.others = k.clone().without(&shown);
        common
    }

    /// `options` from the form's fields, with the keys it has no field for
    /// as they were.
    fn with_others(&self, options: Options) -> Options {
        options.or(&self.others)
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

    /// The form's fields as a profile table has them, for [`from_fields`],
    /// in the order the form shows them: the target, then the kind's own
    /// `knocks` fields, the delay, the kind's `after_delay` fields, then
    /// verify and connect. A field left empty is left out (not set).
    fn fields<'a>(
        &'a self,
        knocks: impl IntoIterator<Item = (&'static str, Value<'a>)>,
        after_delay: impl IntoIterator<Item = (&'static str, Value<'a>)>,
    ) -> Vec<(&'static str, Value<'a>)> {
        let number = |key, text: &'a str| Some((key, Value::number(given(text)?)));
        let mut fields = vec![("host", Value::text(self.host.trim()))];
        fields.extend(self.family.map(|f| ("family", Value::text(f.as_str()))));
        fields.extend(knocks);
        fields.extend(number("delay_ms", &self.delay_ms));
        fields.extend(after_delay);
        fields.extend(number("open_port", &self.open_port));
        fields.extend(number("wait_ms", &self.wait_ms));
        fields.extend(number("retries", &self.retries));
        fields.extend(self.launch_text().map(|l| ("launch", Value::text(l))));
        fields.extend(given(&self.user).map(|u| ("user", Value::text(u))));
        fields.extend(number("ssh_port", &self.ssh_port));
        fields.extend(given(&self.identity_file).map(|k| ("identity_file", Value::text(k))));
        fields
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

/// A field's text, trimmed; `None` when it is left empty (the key is not
/// set).
fn given(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

/// What is wrong with a [`Draft`] or a [`rotating::RotatingDraft`]: each
/// message under the key of the field it belongs to (the profile file's
/// key: `"host"`, `"open_port"`, ...), in the order the form shows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems {
    /// One entry per knock row of a fixed form (shown after the host).
    pub knocks: Vec<Option<String>>,
    by_key: Vec<(&'static str, String)>,
}

/// Where a problem that belongs to no field is kept.
const OTHER: &str = "other";

/// The field a key's problem is shown at: `secret` and `secret_cmd` share
/// one.
fn field_of(key: &'static str) -> &'static str {
    if key == "secret_cmd" { "secret" } else { key }
}

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.messages().next().is_none()
    }

    /// The problem of the field for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.by_key
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, m)| m.as_str())
    }

    /// A problem that belongs to no one field.
    pub fn other(&self) -> Option<&str> {
        self.get(OTHER)
    }

    /// Records `message` for the field of `key`, unless it already has one.
    fn set(&mut self, key: &'static str, message: impl Into<String>) {
        let key = field_of(key);
        if self.get(key).is_none() {
            self.by_key.push((key, message.into()));
        }
    }

    /// Records what [`from_fields`] found, each under its key.
    fn add(&mut self, errors: Vec<FieldError>) {
        for e in errors {
            self.set(e.key, e.to_string());
        }
    }

    /// Puts the messages in the order of the keys of `fields` (the form's
    /// order); a key not among them comes last.
    fn sort(&mut self, fields: &[&'static str]) {
        let at = |key: &str| {
            fields
                .iter()
                .position(|k| field_of(k) == key)
                .unwrap_or(fields.len())
        };
        self.by_key.sort_by_key(|(key, _)| at(key));
    }

    /// All messages, in form order: the host, the knock rows, the rest.
    pub fn messages(&self) -> impl Iterator<Item = &str> {
        let (host, rest): (Vec<_>, Vec<_>) = self.by_key.iter().partition(|(k, _)| *k == "host");
        host.into_iter()
            .map(|(_, m)| m.as_str())
            .chain(self.knocks.iter().filter_map(|m| m.as_deref()))
            .chain(rest.into_iter().map(|(_, m)| m.as_str()))
    }

    /// The first message, in form order (what a one-line status says).
    pub fn first(&self) -> &str {
        self.messages().next().unwrap_or("invalid profile")
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

    /// The profile `name` as typed, or what is wrong with the form.
    pub fn check(&self, name: &str) -> Result<Profile, Box<Problems>> {
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
        let rows_ok = problems.knocks.iter().all(Option::is_none);
        // The text mirrors the rows; its own error matters only when the
        // rows are fine (garbage pasted there does not replace them).
        let sequence = if rows_ok {
            if let Err(e) = Sequence::parse(&self.sequence_text) {
                problems.set("sequence", e.to_string());
            }
            match Sequence::new(knocks) {
                Ok(sequence) => sequence.to_string(),
                Err(e) => {
                    problems.set("sequence", e.to_string());
                    String::new()
                }
            }
        } else {
            self.sequence_text.clone()
        };
        let close = given(&self.close_sequence).map(|c| ("close_sequence", Value::text(c)));
        let fields = self
            .common
            .fields([("sequence", Value::text(&sequence))], close);
        let order: Vec<&'static str> = fields.iter().map(|(key, _)| *key).collect();
        let checked = from_fields(name, fields);
        match checked {
            Ok(AnyProfile::Fixed(mut profile)) if problems.is_empty() => {
                profile.options = self.common.with_others(profile.options);
                return Ok(profile);
            }
            Ok(_) => {}
            // The rows say what is wrong with the sequence.
            Err(errors) => problems.add(
                errors
                    .into_iter()
                    .filter(|e| rows_ok || e.key != "sequence")
                    .collect(),
            ),
        }
        problems.sort(&order);
        Err(Box::new(problems))
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
            Edit::Fixed(draft) => draft.check(name).map(AnyProfile::Fixed),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use knock_profiles::options::{Millis, Port};

    fn profile() -> Profile {
        let mut p = Profile::new(
            Host::parse("192.0.2.1").unwrap(),
            Sequence::parse("7000,8000:udp,9000").unwrap(),
        );
        p.options.open_port = Port::new(22);
        p.options.delay_ms = Some(Millis::new(200));
        p.options.launch = Some("mosh {host}".parse().unwrap());
        // The identity file round-trips through its field.
        p.options
            .set_text("identity_file", "~/.ssh/id_lab")
            .unwrap();
        p
    }

    #[test]
    fn round_trips_a_profile() {
        let p = profile();
        let d = Draft::from_profile(&p);
        assert_eq!(d.sequence_text, "7000,8000:udp,9000");
        assert_eq!(d.knocks.len(), 3);
        assert_eq!(d.check("p"), Ok(p));
    }

    #[test]
    fn bad_port_in_a_row_is_reported_on_that_row() {
        let mut d = Draft::from_profile(&profile());
        d.knocks[1].port = "80000".into();
        d.rows_changed();
        let problems = d.check("p").unwrap_err();
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
        let problems = d.check("p").unwrap_err();
        assert_eq!(
            problems.get("open_port"),
            Some("open_port 0 is out of range (expected 1-65535)")
        );
        assert!(problems.get("delay_ms").is_some());
        d.common.open_port = "2222".into();
        d.common.delay_ms = String::new();
        let p = d.check("p").unwrap();
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
        assert!(d.check("p").unwrap_err().get("sequence").is_some());
    }

    #[test]
    fn empty_host_and_bad_launch() {
        let mut d = Draft::from_profile(&profile());
        d.common.host = " ".into();
        d.common.custom = "mosh".into();
        let problems = d.check("p").unwrap_err();
        assert_eq!(
            problems.get("host"),
            Some("host is empty (expected a name or address)")
        );
        assert_eq!(
            problems.get("launch"),
            Some("custom launch command must contain {host}")
        );
    }

    #[test]
    fn a_broken_row_still_shows_the_other_fields_problems() {
        let mut d = Draft::from_profile(&profile());
        d.knocks[0].port = "x".into();
        d.common.ssh_port = "70000".into();
        let problems = d.check("p").unwrap_err();
        assert!(problems.knocks[0].is_some());
        assert_eq!(problems.get("sequence"), None, "the rows say it");
        assert_eq!(
            problems.get("ssh_port"),
            Some("ssh_port 70000 is out of range (expected 1-65535)")
        );
        // The host comes first, then the rows, then the rest.
        d.common.host = String::new();
        let problems = d.check("p").unwrap_err();
        let messages: Vec<&str> = problems.messages().collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0], "host is empty (expected a name or address)");
        assert_eq!(Some(messages[1]), problems.knocks[0].as_deref());
    }
}
