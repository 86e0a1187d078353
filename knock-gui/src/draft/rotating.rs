//! The form of a rotating profile (`rotate = true`): its keys as typed, and
//! their validation by the library's [`from_fields`], which reads them with
//! the profile file's own types: every field shows its own message at
//! once, in the CLI's words, and a problem of two fields together (a range
//! too small for the length) lands on the field the file would blame.

use knock_profiles::field::Value;
use knock_profiles::profile::{AnyProfile, RotatingProfile, from_fields};
use knock_profiles::rotate::{self, ProtoChoice};
use knock_profiles::secret::SecretSource;

use super::{Common, Problems, given};

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
    /// (each field's first problem, in the file parser's words).
    pub fn check(&self, name: &str) -> Result<RotatingProfile, Box<Problems>> {
        let secret = match self.secret {
            SecretChoice::Keyring => ("secret", Value::text("keyring")),
            // An empty command is the parser's to refuse.
            SecretChoice::Command => ("secret_cmd", Value::text(&self.secret_cmd)),
        };
        let mut rotation = vec![("rotate", Value::Bool(true))];
        rotation.extend(given(&self.door).map(|d| ("door", Value::text(d))));
        rotation.extend(given(&self.period_s).map(|p| ("period_s", Value::number(p))));
        rotation.extend(given(&self.length).map(|l| ("length", Value::number(l))));
        rotation.extend(given(&self.port_range).map(|r| ("port_range", Value::text(r))));
        rotation.extend(given(&self.exclude_ports).map(|text| {
            let ports = text
                .split(|ch: char| ch == ',' || ch.is_whitespace())
                .filter(|p| !p.is_empty())
                .map(Value::number);
            ("exclude_ports", Value::Array(ports.collect()))
        }));
        rotation.push(("protocol", Value::text(self.protocol.as_str())));
        let fields = self.common.fields(rotation, [secret]);
        let order: Vec<&'static str> = fields.iter().map(|(key, _)| *key).collect();
        let mut problems = Problems::default();
        match from_fields(name, fields) {
            Ok(AnyProfile::Rotating(mut profile)) => {
                profile.options = self.common.with_others(profile.options);
                return Ok(profile);
            }
            Ok(AnyProfile::Fixed(_)) => {
                problems.set(super::OTHER, format!("{name} is not a rotating profile"));
            }
            Err(errors) => problems.add(errors),
        }
        problems.sort(&order);
        Err(Box::new(problems))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::draft::LaunchChoice;
    use knock_profiles::options::{Family, Launch};
    use knock_profiles::profile::ProfileFile;
    use std::path::Path;
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
identity_file = "~/.ssh/id_vault"

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
            problems.get("period_s"),
            Some("period_s 3 is out of range (expected 5-86400 seconds)")
        );
        assert_eq!(problems.messages().count(), 1, "{problems:?}");
        d.period_s = "soon".into();
        let problems = d.check("vault").unwrap_err();
        assert_eq!(
            problems.get("period_s"),
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
            problems.get("host"),
            Some("host is empty (expected a name or address)")
        );
        assert_eq!(
            problems.get("length"),
            Some("length 0 is out of range (expected 1-32 knocks)")
        );
        assert!(
            problems.get("port_range").unwrap().contains("60000-10000"),
            "{problems:?}"
        );
        assert_eq!(
            problems.get("exclude_ports"),
            Some("exclude_ports: port 70000 is out of range (expected 1-65535)")
        );
        assert_eq!(
            problems.get("open_port"),
            Some("open_port 0 is out of range (expected 1-65535)")
        );
        assert_eq!(
            problems.get("launch"),
            Some("custom launch command must contain {host}")
        );
        assert!(
            problems
                .get("secret")
                .unwrap()
                .starts_with("secret_cmd is empty"),
            "{problems:?}"
        );
        assert!(problems.other().is_none(), "{problems:?}");
    }

    #[test]
    fn problems_come_in_the_order_of_the_form() {
        let mut d = RotatingDraft::from_profile("vault", &saved("vault"));
        d.common.ssh_port = "0".into();
        d.secret_cmd = String::new();
        d.common.delay_ms = "-1".into();
        d.period_s = "3".into();
        d.common.host = String::new();
        let problems = d.check("vault").unwrap_err();
        let keys = ["host", "period_s", "delay_ms", "secret", "ssh_port"];
        let expected: Vec<&str> = keys.iter().filter_map(|k| problems.get(k)).collect();
        assert_eq!(expected.len(), keys.len(), "{problems:?}");
        assert_eq!(problems.messages().collect::<Vec<_>>(), expected);
        assert_eq!(
            problems.first(),
            "host is empty (expected a name or address)"
        );
    }

    #[test]
    fn a_length_the_range_cannot_hold_is_blamed_on_the_range() {
        let mut d = RotatingDraft::new_profile("192.0.2.1");
        d.port_range = "1000-1002".into();
        d.length = "4".into();
        let problems = d.check("new").unwrap_err();
        assert!(
            problems
                .get("port_range")
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
