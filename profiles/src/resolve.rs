//! From a profile and what the command line (or a button) asks for, to a
//! knock ready to run: the one path the CLI, the GUI and the GUI's headless
//! mode take.
//!
//! 1. [`Settings`] of the target: a saved profile
//!    ([`crate::store::Store::settings`]), a profile as a form has it
//!    ([`crate::profile::Profile::settings`]), or a host and ports with no
//!    profile (build the [`Settings`] directly).
//! 2. [`resolve`] lays the [`Overrides`] over them and works out what is
//!    verified and what "connect" starts: a [`Resolved`] knock.
//! 3. [`Resolved::load`] reads a rotating profile's secret (the one place
//!    secrets are loaded; keyring or command access, so off a UI thread)
//!    and gives the [`KnockPlan`] that [`crate::send::run`] knocks.

use std::net::IpAddr;

use crate::launch::{self, Target};
use crate::options::{Effective, Host, Launch, Options};
use crate::profile::{Knocks, Settings};
use crate::rotate::{RotateError, Rotation};
use crate::secret::{LoadSecret, SecretError};
use crate::send::{KnockPlan, Sequences, Verify};

/// What the command line (or the button pressed) changes about a knock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overrides {
    /// Keys set here win over the profile's (`-d`, `-4`/`-6`,
    /// `--open-port`, `--wait`, `--retries`, `--user`, `--ssh-port`).
    pub options: Options,
    /// Knock the profile's `close_sequence`; never wait for a port to open
    /// (unless `options.open_port` says so).
    pub close: bool,
    /// Knock, then connect (`--ssh`, "Knock & connect"): when no port is
    /// verified, wait for the ssh port, so the client never starts before
    /// the door is open.
    pub connect: bool,
}

/// Why the overrides do not fit the profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// `close` for a profile without a `close_sequence`.
    #[error("profile \"{name}\" has no close_sequence")]
    NoCloseSequence { name: String },
    /// A wait (`options.wait_ms`) with no port to wait for.
    #[error("a wait needs a port to wait for")]
    WaitWithoutPort,
}

/// A knock with everything worked out but a rotating profile's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The profile's name (a rotating profile's keyring account), or what
    /// stands for it (the host of a knock without a profile).
    pub name: String,
    pub host: Host,
    /// The profile's options with the overrides applied.
    pub options: Effective,
    /// What to knock (the close sequence for `close`).
    pub knocks: Knocks,
    pub verify: Option<Verify>,
    /// What "connect" starts after the knock (`None`: do not connect).
    pub connect: Option<Launch>,
}

/// Why a rotating profile's knock cannot start; nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot get the secret of \"{name}\" from {from}: {error}")]
    Secret {
        name: String,
        /// Where the secret should have come from, in words.
        from: String,
        error: SecretError,
    },
    #[error("profile \"{name}\": {error}")]
    Params { name: String, error: RotateError },
}

impl LoadError {
    /// The secret's error, if that is what failed.
    pub fn secret_error(&self) -> Option<&SecretError> {
        match self {
            LoadError::Secret { error, .. } => Some(error),
            LoadError::Params { .. } => None,
        }
    }
}

/// `settings` with `overrides` laid over them.
pub fn resolve(settings: Settings, overrides: &Overrides) -> Result<Resolved, ResolveError> {
    let given = &overrides.options;
    let options = given.clone().or(&settings.options.to_options()).effective();
    let knocks = if overrides.close {
        match settings.close_sequence {
            Some(sequence) => Knocks::Fixed(sequence),
            None => {
                return Err(ResolveError::NoCloseSequence {
                    name: settings.name,
                });
            }
        }
    } else {
        settings.knocks
    };
    // Closing never waits for the port to open, unless asked to.
    let open_port = if overrides.close {
        given.open_port
    } else {
        options.open_port
    };
    let verify_port = match open_port {
        None if overrides.connect => Some(options.ssh_port),
        port => port,
    };
    let verify = verify_port.map(|port| Verify {
        port: port.get(),
        wait: options.wait(),
    });
    if given.wait_ms.is_some() && verify.is_none() {
        return Err(ResolveError::WaitWithoutPort);
    }
    let connect = overrides
        .connect
        .then(|| launch::for_connect(&options.launch));
    Ok(Resolved {
        name: settings.name,
        host: settings.host,
        options,
        knocks,
        verify,
        connect,
    })
}

impl Resolved {
    /// The knock ready to send, if it needs no secret (a fixed sequence).
    pub fn fixed_plan(&self) -> Option<KnockPlan> {
        match &self.knocks {
            Knocks::Fixed(sequence) => Some(self.plan(Sequences::Fixed(sequence.clone()))),
            Knocks::Rotating(_) => None,
        }
    }

    /// The knock ready to send: for a rotating profile, its secret read
    /// from `secrets` (keyring or command access: call it off a UI thread).
    pub fn load(&self, secrets: &dyn LoadSecret) -> Result<KnockPlan, LoadError> {
        let sequences = match &self.knocks {
            Knocks::Fixed(sequence) => Sequences::Fixed(sequence.clone()),
            Knocks::Rotating(spec) => {
                let secret =
                    secrets
                        .load(&self.name, &spec.secret)
                        .map_err(|error| LoadError::Secret {
                            name: self.name.clone(),
                            from: spec.secret.to_string(),
                            error,
                        })?;
                let rotation = Rotation::new(spec.params.clone(), secret).map_err(|error| {
                    LoadError::Params {
                        name: self.name.clone(),
                        error,
                    }
                })?;
                Sequences::Rotating {
                    rotation,
                    door: spec.door.clone(),
                }
            }
        };
        Ok(self.plan(sequences))
    }

    fn plan(&self, sequences: Sequences) -> KnockPlan {
        KnockPlan {
            host: self.host.to_string(),
            sequences,
            delay: self.options.delay_ms.duration(),
            family: self.options.family,
            verify: self.verify,
            retries: self.options.retries.get(),
        }
    }

    /// Where "connect" goes after knocking `addr`.
    pub fn target(&self, addr: Option<IpAddr>) -> Target<'_> {
        Target {
            host: &self.host,
            addr,
            options: &self.options,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::options::{Millis, Port};
    use crate::profile::ProfileFile;
    use crate::secret::{Secret, SecretSource};
    use crate::sequence::Sequence;
    use std::path::Path;
    use std::time::Duration;

    const FILE: &str = r#"
[defaults]
wait_ms = 1500

[profiles.web]
host = "192.0.2.1"
sequence = "7000,8000"
close_sequence = "8000,7000"
open_port = 443
launch = "none"

[profiles.plain]
host = "192.0.2.2"
sequence = "7000"
ssh_port = 2222

[profiles.myserver]
host = "192.0.2.3"
rotate = true
retries = 1
"#;

    fn settings(name: &str) -> Settings {
        ProfileFile::parse(FILE, Path::new("profiles.toml"))
            .unwrap()
            .settings(name)
            .unwrap()
    }

    fn go(name: &str, overrides: &Overrides) -> Result<Resolved, ResolveError> {
        resolve(settings(name), overrides)
    }

    fn verify(port: u16, ms: u64) -> Option<Verify> {
        Some(Verify {
            port,
            wait: Duration::from_millis(ms),
        })
    }

    fn connect() -> Overrides {
        Overrides {
            connect: true,
            ..Overrides::default()
        }
    }

    #[test]
    fn connecting_waits_for_the_ssh_port_unless_a_port_is_verified() {
        let plain = go("plain", &connect()).unwrap();
        assert_eq!(plain.verify, verify(2222, 1500));
        assert_eq!(plain.connect, Some(Launch::Ssh));
        // A profile that launches nothing still connects with ssh.
        let web = go("web", &connect()).unwrap();
        assert_eq!(web.verify, verify(443, 1500));
        assert_eq!(web.connect, Some(Launch::Ssh));
        // Just knocking: no connect, and no port without open_port.
        let plain = go("plain", &Overrides::default()).unwrap();
        assert_eq!((plain.verify, plain.connect), (None, None));
    }

    #[test]
    fn overrides_win_over_the_profile() {
        let mut o = Overrides::default();
        o.options.set_text("wait_ms", "700").unwrap();
        o.options.set_text("open_port", "22").unwrap();
        o.options.set_text("delay_ms", "0").unwrap();
        let web = go("web", &o).unwrap();
        assert_eq!(web.verify, verify(22, 700));
        assert_eq!(web.options.delay_ms, Millis::new(0));
        assert_eq!(
            web.knocks,
            Knocks::Fixed(Sequence::parse("7000,8000").unwrap())
        );
        // A wait with nothing to wait for is refused...
        let mut o = Overrides::default();
        o.options.wait_ms = Some(Millis::new(700));
        assert_eq!(go("plain", &o), Err(ResolveError::WaitWithoutPort));
        // ...but connecting waits for the ssh port.
        o.connect = true;
        assert_eq!(go("plain", &o).unwrap().verify, verify(2222, 700));
    }

    #[test]
    fn close_knocks_the_close_sequence_without_waiting() {
        let close = Overrides {
            close: true,
            ..Overrides::default()
        };
        let web = go("web", &close).unwrap();
        assert_eq!(
            web.knocks,
            Knocks::Fixed(Sequence::parse("8000,7000").unwrap())
        );
        assert_eq!(web.verify, None);
        let mut asked = close.clone();
        asked.options.open_port = Port::new(22);
        assert_eq!(go("web", &asked).unwrap().verify, verify(22, 1500));
        assert_eq!(
            go("plain", &close),
            Err(ResolveError::NoCloseSequence {
                name: "plain".into()
            })
        );
        assert_eq!(
            go("myserver", &close).unwrap_err().to_string(),
            "profile \"myserver\" has no close_sequence"
        );
    }

    #[test]
    fn a_rotating_profile_loads_its_secret_under_its_name() {
        let vault = go("myserver", &Overrides::default()).unwrap();
        let secret = |account: &str, source: &SecretSource| {
            assert_eq!((account, source), ("myserver", &SecretSource::Keyring));
            Secret::parse_base32("GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK")
        };
        let plan = vault.load(&secret).unwrap();
        assert_eq!(plan.host, "192.0.2.3");
        assert_eq!(plan.retries, 1);
        let Sequences::Rotating { rotation, door } = &plan.sequences else {
            panic!("not rotating");
        };
        assert_eq!(door, "myserver");
        // The known-answer vector "defaults" (profiles/testdata/rotate-vectors.toml).
        let step = rotation.params().step(1_700_000_000);
        assert_eq!(
            rotation.sequence_at(door, step).to_string(),
            "23563,19361,17193,56572"
        );
        let none = |account: &str, _: &SecretSource| {
            Err(SecretError::NotInKeyring {
                account: account.to_string(),
            })
        };
        assert_eq!(
            vault.load(&none).unwrap_err().to_string(),
            "cannot get the secret of \"myserver\" from the OS keyring (service \"knock\"): no secret for \"myserver\" in the keyring (service \"knock\"); create one with knock --gen-secret myserver"
        );
        // A fixed profile needs no secret.
        let web = go("web", &Overrides::default()).unwrap();
        assert_eq!(
            web.load(&none).unwrap().sequences,
            Sequences::Fixed(Sequence::parse("7000,8000").unwrap())
        );
    }

    #[test]
    fn connect_goes_to_the_host_with_the_options() {
        let plain = go("plain", &connect()).unwrap();
        let addr = "192.0.2.2".parse().ok();
        let argv = launch::argv(
            plain.connect.as_ref().unwrap(),
            &plain.target(addr),
            &[],
            launch::Platform::Unix,
        );
        assert_eq!(
            argv,
            Some(
                ["ssh", "-4", "-p", "2222", "192.0.2.2"]
                    .map(String::from)
                    .to_vec()
            )
        );
    }
}
