//! The form of a rotating profile (`rotate = true`): its keys as typed, and
//! their validation by the profile-file parser itself.
//!
//! [`RotatingDraft::check`] writes the form as a one-profile TOML snippet,
//! one key per line, and parses it with [`ProfileFile::parse`], the parser
//! of the dotfile. An error's line names the field at fault; that key is
//! then left out and the snippet parsed again, so every field shows its own
//! message at once, in the CLI's words. Nothing about ports, periods or
//! secrets is checked here.

use std::path::Path;

use knock_profiles::profile::{ProfileFile, RotatingProfile};
use knock_profiles::rotate::{self, ProtoChoice};
use knock_profiles::secret::SecretSource;

use super::{Common, Problems, number_literal, string_literal};

/// Where the secret comes from, as picked in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretChoice {
    /// The OS keyring (`secret = "keyring"`), account = the profile name.
    #[default]
    Keyring,
    /// A command printing it (`secret_cmd`).
    Command,
}

/// The form of a rotating profile. Empty text means "not set": the
/// library's default (the door defaults to the profile name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RotatingDraft {
    pub common: Common,
    pub door: String,
    pub period_s: String,
    pub length: String,
    pub port_range: String,
    /// Ports separated by commas or spaces.
    pub exclude_ports: String,
    pub protocol: ProtoChoice,
    pub secret: SecretChoice,
    pub secret_cmd: String,
}

/// A field of the form, in snippet order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Host,
    Family,
    Secret,
    Door,
    Period,
    Length,
    Range,
    Exclude,
    Protocol,
    Delay,
    OpenPort,
    Wait,
    Retries,
    Launch,
    User,
    SshPort,
}

/// The snippet's lines before the first key: the table header and
/// `rotate = true`.
const HEAD_LINES: usize = 2;

/// What a host the parser refused is replaced with while the other fields
/// are checked.
const STAND_IN_HOST: &str = "host = \"host.invalid\"";

impl RotatingDraft {
    /// The form of saved rotating profile `name`.
    pub fn from_profile(name: &str, p: &RotatingProfile) -> RotatingDraft {
        let spec = &p.rotation;
        let params = &spec.params;
        let (secret, secret_cmd) = match &spec.secret {
            SecretSource::Keyring => (SecretChoice::Keyring, String::new()),
            SecretSource::Command(cmd) => (SecretChoice::Command, cmd.clone()),
        };
        let exclude: Vec<String> = params.exclude.iter().map(u16::to_string).collect();
        RotatingDraft {
            common: Common::from_options(&p.host, &p.options),
            // The default door (the profile name) is not written down.
            door: if spec.door == name {
                String::new()
            } else {
                spec.door.clone()
            },
            period_s: params.period_secs().to_string(),
            length: params.length.to_string(),
            port_range: rotate::format_range(&params.range),
            exclude_ports: exclude.join(", "),
            protocol: params.protos,
            secret,
            secret_cmd,
        }
    }

    /// A new rotating profile for `host`, with the library's defaults.
    pub fn new_profile(host: &str) -> RotatingDraft {
        let params = rotate::Params::default();
        RotatingDraft {
            common: Common {
                host: host.to_string(),
                ..Common::default()
            },
            period_s: params.period_secs().to_string(),
            length: params.length.to_string(),
            port_range: rotate::format_range(&params.range),
            protocol: params.protos,
            ..RotatingDraft::default()
        }
    }

    /// Where the form says the secret is (checked or not).
    pub fn secret_source(&self) -> SecretSource {
        match self.secret {
            SecretChoice::Keyring => SecretSource::Keyring,
            SecretChoice::Command => SecretSource::Command(self.secret_cmd.clone()),
        }
    }

    /// The rotating profile `name` as typed, or what is wrong with the form
    /// (each field's first problem, in the parser's words).
    pub fn check(&self, name: &str) -> Result<RotatingProfile, Box<Problems>> {
        let mut lines = self.lines();
        let mut problems = Problems::default();
        // Each round either succeeds, or blames and drops one more line.
        for _ in 0..=lines.len() {
            let snippet = snippet(name, &lines);
            let error = match ProfileFile::parse(&snippet, Path::new(name)) {
                Ok(file) => {
                    return match file.rotating.get(name) {
                        Some(profile) if problems.is_empty() => Ok(profile.clone()),
                        Some(_) => Err(Box::new(problems)),
                        None => {
                            problems.other = Some(format!("{name} is not a rotating profile"));
                            Err(Box::new(problems))
                        }
                    };
                }
                Err(e) => e,
            };
            let at = error
                .line
                .checked_sub(HEAD_LINES + 1)
                .filter(|i| lines.get(*i).is_some_and(|(_, l)| !l.is_empty()));
            let Some(i) = at else {
                problems.other.get_or_insert(error.message);
                return Err(Box::new(problems));
            };
            let field = lines[i].0;
            problems.of(field).get_or_insert(error.message);
            lines[i].1 = if field == Field::Host {
                STAND_IN_HOST.to_string()
            } else {
                String::new()
            };
        }
        problems
            .other
            .get_or_insert_with(|| "invalid profile".to_string());
        Err(Box::new(problems))
    }

    /// The keys as `key = value` lines (empty for a key not set).
    fn lines(&self) -> Vec<(Field, String)> {
        let c = &self.common;
        let set = |key: &str, value: Option<String>| {
            value.map_or_else(String::new, |v| format!("{key} = {v}"))
        };
        let text = |t: &str| Some(t.trim()).filter(|t| !t.is_empty()).map(str::to_string);
        let number = |t: &str| text(t).map(|t| number_literal(&t));
        let string = |t: &str| text(t).map(|t| string_literal(&t));
        let exclude = text(&self.exclude_ports).map(|t| {
            let ports: Vec<String> = t
                .split(|ch: char| ch == ',' || ch.is_whitespace())
                .filter(|p| !p.is_empty())
                .map(number_literal)
                .collect();
            format!("[{}]", ports.join(", "))
        });
        let secret = match self.secret {
            SecretChoice::Keyring => set("secret", Some(string_literal("keyring"))),
            // An empty command is the parser's to refuse.
            SecretChoice::Command => set("secret_cmd", Some(string_literal(&self.secret_cmd))),
        };
        vec![
            (
                Field::Host,
                set("host", Some(string_literal(c.host.trim()))),
            ),
            (
                Field::Family,
                set("family", c.family.map(|f| string_literal(f.as_str()))),
            ),
            (Field::Secret, secret),
            (Field::Door, set("door", string(&self.door))),
            (Field::Period, set("period_s", number(&self.period_s))),
            (Field::Length, set("length", number(&self.length))),
            (Field::Range, set("port_range", string(&self.port_range))),
            (Field::Exclude, set("exclude_ports", exclude)),
            (
                Field::Protocol,
                set("protocol", Some(string_literal(self.protocol.as_str()))),
            ),
            (Field::Delay, set("delay_ms", number(&c.delay_ms))),
            (Field::OpenPort, set("open_port", number(&c.open_port))),
            (Field::Wait, set("wait_ms", number(&c.wait_ms))),
            (Field::Retries, set("retries", number(&c.retries))),
            (
                Field::Launch,
                set("launch", c.launch_text().map(string_literal)),
            ),
            (
                Field::User,
                set("user", c.user().map(|u| string_literal(&u))),
            ),
            (Field::SshPort, set("ssh_port", number(&c.ssh_port))),
        ]
    }
}

/// The one-profile file: header, `rotate = true`, one line per field.
fn snippet(name: &str, lines: &[(Field, String)]) -> String {
    let mut text = format!("[profiles.{}]\nrotate = true\n", string_literal(name));
    for (_, line) in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

impl Problems {
    fn of(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::Host => &mut self.host,
            Field::Family => &mut self.other,
            Field::Secret => &mut self.secret,
            Field::Door => &mut self.door,
            Field::Period => &mut self.period_s,
            Field::Length => &mut self.length,
            Field::Range => &mut self.port_range,
            Field::Exclude => &mut self.exclude_ports,
            Field::Protocol => &mut self.protocol,
            Field::Delay => &mut self.delay_ms,
            Field::OpenPort => &mut self.open_port,
            Field::Wait => &mut self.wait_ms,
            Field::Retries => &mut self.retries,
            Field::Launch => &mut self.launch,
            Field::User => &mut self.user,
            Field::SshPort => &mut self.ssh_port,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::draft::LaunchChoice;
    use knock_profiles::options::{Family, Launch};
    use std::time::Duration;

    const FILE: &str = r#"
[profiles.vault]
host = "vault.example.org"
rotate = true
secret_cmd = "pass show knock/vault"
door = "openSSH"
period_s = 60
length = 5
port_range = "20000-30000"
exclude_ports = [22, 443]
protocol = "both"
open_port = 22
launch = "mosh {host}"
user = "admin"

[profiles.plain]
host = "192.0.2.7"
rotate = true
"#;

    fn saved(name: &str) -> RotatingProfile {
        let file = ProfileFile::parse(FILE, Path::new("profiles.toml")).unwrap();
        file.rotating[name].clone()
    }

    #[test]
    fn round_trips_a_profile() {
        for name in ["vault", "plain"] {
            let p = saved(name);
            let d = RotatingDraft::from_profile(name, &p);
            assert_eq!(d.check(name), Ok(p), "{name}");
        }
        let d = RotatingDraft::from_profile("vault", &saved("vault"));
        assert_eq!(d.door, "openSSH");
        assert_eq!(d.exclude_ports, "22, 443");
        assert_eq!(d.secret, SecretChoice::Command);
        assert_eq!(d.common.launch, LaunchChoice::Custom);
        // The default door is the profile's name, so it is left empty.
        assert_eq!(
            RotatingDraft::from_profile("plain", &saved("plain")).door,
            ""
        );
    }

    #[test]
    fn a_bad_period_gets_the_dotfile_message_on_its_field() {
        let mut d = RotatingDraft::from_profile("vault", &saved("vault"));
        d.period_s = "3".into();
        let problems = d.check("vault").unwrap_err();
        assert_eq!(
            problems.period_s.as_deref(),
            Some("period_s 3 is out of range (expected 5-86400 seconds)")
        );
        assert_eq!(problems.messages().count(), 1, "{problems:?}");
        d.period_s = "soon".into();
        let problems = d.check("vault").unwrap_err();
        assert_eq!(
            problems.period_s.as_deref(),
            Some("invalid type: string \"soon\", expected i64")
        );
        d.period_s = " 45 ".into();
        let p = d.check("vault").unwrap();
        assert_eq!(p.rotation.params.period, Duration::from_secs(45));
    }

    #[test]
    fn every_broken_field_shows_its_own_message() {
        let mut d = RotatingDraft::from_profile("vault", &saved("vault"));
        d.common.host = "".into();
        d.length = "0".into();
        d.port_range = "60000-10000".into();
        d.exclude_ports = "22, 70000".into();
        d.common.open_port = "0".into();
        d.common.custom = "mosh".into();
        d.secret_cmd = " ".into();
        let problems = d.check("vault").unwrap_err();
        assert_eq!(
            problems.host.as_deref(),
            Some("host is empty (expected a name or address)")
        );
        assert_eq!(
            problems.length.as_deref(),
            Some("length 0 is out of range (expected 1-32 knocks)")
        );
        assert!(
            problems
                .port_range
                .as_deref()
                .unwrap()
                .contains("60000-10000"),
            "{problems:?}"
        );
        assert_eq!(
            problems.exclude_ports.as_deref(),
            Some("exclude_ports: port 70000 is out of range (expected 1-65535)")
        );
        assert_eq!(
            problems.open_port.as_deref(),
            Some("open_port 0 is out of range (expected 1-65535)")
        );
        assert_eq!(
            problems.launch.as_deref(),
            Some("custom launch command must contain {host}")
        );
        assert!(
            problems
                .secret
                .as_deref()
                .unwrap()
                .starts_with("secret_cmd is empty"),
            "{problems:?}"
        );
        assert!(problems.other.is_none(), "{problems:?}");
    }

    #[test]
    fn a_length_the_range_cannot_hold_is_blamed_on_the_range() {
        let mut d = RotatingDraft::new_profile("192.0.2.1");
        d.port_range = "1000-1002".into();
        d.length = "4".into();
        let problems = d.check("new").unwrap_err();
        assert!(
            problems
                .port_range
                .as_deref()
                .unwrap()
                .contains("a sequence of 4 needs at least 4"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_new_profile_has_the_defaults_and_its_door_is_its_name() {
        let d = RotatingDraft::new_profile("192.0.2.9");
        let p = d.check("lab").unwrap();
        assert_eq!(p.rotation.door, "lab");
        assert_eq!(p.rotation.params, rotate::Params::default());
        assert_eq!(p.rotation.secret, SecretSource::Keyring);
        assert_eq!(&*p.host, "192.0.2.9");
        assert_eq!(p.options.launch, None);
    }

    #[test]
    fn edits_reach_the_profile() {
        let mut d = RotatingDraft::new_profile("host.example");
        d.common.family = Some(Family::Ipv6);
        d.common.launch = LaunchChoice::None;
        d.common.user = " root ".into();
        d.door = "ssh".into();
        d.exclude_ports = "22 443,8080".into();
        d.protocol = ProtoChoice::Udp;
        d.secret = SecretChoice::Command;
        d.secret_cmd = "pass show \"knock\\lab\"".into();
        let p = d.check("lab").unwrap();
        assert_eq!(p.options.family, Some(Family::Ipv6));
        assert_eq!(p.options.launch, Some(Launch::None));
        assert_eq!(p.options.user.as_deref(), Some("root"));
        assert_eq!(p.rotation.door, "ssh");
        assert_eq!(p.rotation.params.exclude, [22, 443, 8080]);
        assert_eq!(p.rotation.params.protos, ProtoChoice::Udp);
        assert_eq!(
            p.rotation.secret,
            SecretSource::Command("pass show \"knock\\lab\"".into())
        );
    }
}
