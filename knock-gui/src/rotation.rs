//! Rotating profiles in the GUI: where their secrets live
//! ([`SecretBackend`]; a knock loads its secret from there on the worker,
//! `crate::knocker::Work::load`), the Secret actions ([`secret_task`]), which run on
//! the app's [`crate::worker::Worker`], and what the Secret area says about
//! them ([`tell`]).
//!
//! Deriving the sequences, waiting out a period boundary and knocking a
//! fresh step on each retry is `knock_profiles::send::run` (the same code
//! as the CLI); this module only wires it to the keyring, which tests
//! replace with the keyring crate's mock store.

use knock_profiles::profile::RotatingProfile;
use knock_profiles::rotate;
use knock_profiles::secret::{
    Generated, KEYRING_SERVICE, Keyring, Secret, SecretError, SecretSource,
};

use crate::state::{Revealed, Status};

/// Where the secrets of rotating profiles are read and stored.
pub trait SecretBackend: Send + Sync {
    /// The keyring holding profile `account`'s secret (service "knock").
    fn keyring(&self, account: &str) -> Result<Keyring, SecretError>;
    /// The secret of profile `account`, from its `secret` / `secret_cmd`.
    fn load(&self, account: &str, source: &SecretSource) -> Result<Secret, SecretError>;
}

/// The OS keyring (Secret Service, Credential Manager, Keychain) and
/// `secret_cmd`, exactly as the CLI reads them.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsSecrets;

impl SecretBackend for OsSecrets {
    fn keyring(&self, account: &str) -> Result<Keyring, SecretError> {
        Keyring::os(account)
    }

    fn load(&self, account: &str, source: &SecretSource) -> Result<Secret, SecretError> {
        source.load(account)
    }
}

/// A given keyring store (e.g. `Keyring::mock()`, the keyring crate's
/// in-memory store) in place of the OS one; `secret_cmd` still runs.
#[derive(Clone)]
pub struct StoreSecrets(pub Keyring);

impl SecretBackend for StoreSecrets {
    fn keyring(&self, _account: &str) -> Result<Keyring, SecretError> {
        Ok(self.0.clone())
    }

    fn load(&self, account: &str, source: &SecretSource) -> Result<Secret, SecretError> {
        match source {
            SecretSource::Keyring => self.0.get(account),
            SecretSource::Command(_) => source.load(account),
        }
    }
}

/// A Secret action of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretAction {
    /// A new secret: into the keyring (replacing one only when `replace`),
    /// or, for a `secret_cmd` profile, just shown for the user to store.
    Generate { replace: bool },
    /// Read the secret to show it.
    Show,
}

/// What a Secret action came to.
#[derive(Debug)]
pub enum SecretOutcome {
    /// A new secret is in the keyring.
    Stored(Secret),
    /// A new secret for a `secret_cmd` profile; the user stores it.
    Generated(Secret),
    /// The keyring already has a secret; replacing it needs a yes.
    Exists,
    /// The current secret.
    Loaded(Secret),
}

/// Carries out a Secret action for profile `name` (keyring or command
/// access: call it off the UI thread). The secret never goes to the
/// profile file.
pub fn secret_task(
    secrets: &dyn SecretBackend,
    name: &str,
    source: &SecretSource,
    action: SecretAction,
) -> Result<SecretOutcome, SecretError> {
    match (action, source) {
        (SecretAction::Show, source) => secrets.load(name, source).map(SecretOutcome::Loaded),
        (SecretAction::Generate { .. }, SecretSource::Command(_)) => {
            Secret::generate().map(SecretOutcome::Generated)
        }
        (SecretAction::Generate { replace }, SecretSource::Keyring) => {
            match secrets.keyring(name)?.generate_for(name, replace)? {
                Generated::Stored(secret) => Ok(SecretOutcome::Stored(secret)),
                Generated::Exists => Ok(SecretOutcome::Exists),
            }
        }
    }
}

/// What the Secret area says after an action.
#[derive(Debug)]
pub struct Told {
    pub message: Status,
    pub revealed: Option<Revealed>,
    /// The keyring already has a secret: ask before replacing it.
    pub ask_replace: bool,
}

/// What the Secret area of rotating profile `name` (`profile` as saved, if
/// it still is) says about an action's `result`.
pub fn tell(
    name: &str,
    profile: Option<&RotatingProfile>,
    result: Result<SecretOutcome, SecretError>,
) -> Told {
    let source = profile.map(|p| p.rotation.secret.clone());
    let reveal = |secret: Secret| {
        let uri = profile
            .map(|p| rotate::share_uri(&p.rotation.door, &p.rotation.params, &secret))
            .unwrap_or_default();
        Some(Revealed { secret, uri })
    };
    let told = |text: String, revealed: Option<Revealed>| Told {
        message: Status { text, error: false },
        revealed,
        ask_replace: false,
    };
    match result {
        Ok(SecretOutcome::Stored(secret)) => told(
            format!(
                "Stored a new {}-bit secret in the OS keyring (service \"{KEYRING_SERVICE}\", account \"{name}\"). Put it in the server's Secret_File: it is shown below.",
                secret.bits()
            ),
            reveal(secret),
        ),
        Ok(SecretOutcome::Generated(secret)) => {
            let cmd = match &source {
                Some(SecretSource::Command(cmd)) => cmd.clone(),
                _ => "secret_cmd".to_string(),
            };
            told(
                format!(
                    "New {}-bit secret, not stored: this profile reads its secret with `{cmd}`, so store it there (and in the server's Secret_File).",
                    secret.bits()
                ),
                reveal(secret),
            )
        }
        Ok(SecretOutcome::Loaded(secret)) => told(
            format!("The secret of {name}, from {}:", source.unwrap_or_default()),
            reveal(secret),
        ),
        Ok(SecretOutcome::Exists) => Told {
            ask_replace: true,
            ..told(format!("{name} already has a secret in the keyring."), None)
        },
        Err(e) => Told {
            message: Status {
                text: e.to_string(),
                error: true,
            },
            revealed: None,
            ask_replace: false,
        },
    }
}

/// What the Secret area says about a rotating profile that was just
/// created (`from` = None) or duplicated from `from`: secrets belong to a
/// profile name, so a keyring profile starts without one.
pub fn no_secret_yet(name: &str, p: &RotatingProfile, from: Option<&str>) -> String {
    match (&p.rotation.secret, from) {
        (SecretSource::Keyring, None) => format!(
            "{name} has no secret yet: generate one into the keyring (account \"{name}\"), then put it in the server's Secret_File."
        ),
        (SecretSource::Keyring, Some(from)) => format!(
            "{name} has no secret yet: the keyring holds secrets per profile name (account \"{name}\"), so it does not share {from}'s. Generate one, then put it in the server's Secret_File."
        ),
        (SecretSource::Command(cmd), None) => format!(
            "{name} reads its secret with `{cmd}`: generate one and store it there (and in the server's Secret_File)."
        ),
        (SecretSource::Command(cmd), Some(from)) => format!(
            "{name} reads its secret with `{cmd}`, the same command as {from}: change secret_cmd if the copy needs a secret of its own."
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::knocker::Work;
    use knock_profiles::profile::ProfileFile;
    use knock_profiles::rotate::Params;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    const SECRET: &str = "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK";

    fn prep() -> (Work, Keyring) {
        let file = ProfileFile::parse(
            "[profiles.myserver]\nhost = \"192.0.2.1\"\nrotate = true\ndelay_ms = 100\nopen_port = 22\nretries = 1\n",
            Path::new("profiles.toml"),
        )
        .unwrap();
        let ring = Keyring::mock().unwrap();
        ring.set("myserver", &Secret::parse_base32(SECRET).unwrap())
            .unwrap();
        let settings = file.settings("myserver").unwrap();
        let prep = Work {
            resolved: knock_profiles::resolve::resolve(settings, &Default::default()).unwrap(),
            secrets: Arc::new(StoreSecrets(ring.clone())),
        };
        (prep, ring)
    }

    #[test]
    fn loads_the_secret_and_the_settings_for_run_rotating() {
        let (prep, _) = prep();
        let plan = prep.load().unwrap();
        let verify = plan.verify.map(|v| v.port);
        assert_eq!(
            (plan.host.as_str(), plan.delay, verify, plan.retries),
            ("192.0.2.1", Duration::from_millis(100), Some(22), 1)
        );
        let knock_profiles::send::Sequences::Rotating { rotation, door } = &plan.sequences else {
            panic!("not rotating");
        };
        // The known-answer vector "defaults" (profiles/testdata/rotate-vectors.toml),
        // whose door is the profile name: the secret came from the keyring.
        let derived = rotation.sequence_at(door, rotation.params().step(1_700_000_000));
        assert_eq!(
            (door.as_str(), derived.to_string().as_str()),
            ("myserver", "23563,19361,17193,56572")
        );
    }

    #[test]
    fn a_missing_secret_names_the_profile_and_the_keyring() {
        let (prep, ring) = prep();
        ring.delete("myserver").unwrap();
        let Err(e) = prep.load() else {
            panic!("loaded without a secret");
        };
        assert_eq!(
            e.to_string(),
            "cannot get the secret of \"myserver\" from the OS keyring (service \"knock\"): no secret for \"myserver\" in the keyring (service \"knock\"); create one with knock --gen-secret myserver"
        );
    }

    #[test]
    fn generate_refuses_to_replace_without_a_yes() {
        let ring = Keyring::mock().unwrap();
        let secrets = StoreSecrets(ring.clone());
        let gen_ = |replace| {
            secret_task(
                &secrets,
                "v",
                &SecretSource::Keyring,
                SecretAction::Generate { replace },
            )
        };
        let SecretOutcome::Stored(first) = gen_(false).unwrap() else {
            panic!("not stored");
        };
        assert_eq!(ring.get("v").unwrap(), first);
        assert!(matches!(gen_(false).unwrap(), SecretOutcome::Exists));
        assert_eq!(ring.get("v").unwrap(), first);
        let SecretOutcome::Stored(second) = gen_(true).unwrap() else {
            panic!("not stored");
        };
        assert_ne!(first, second);
        assert_eq!(ring.get("v").unwrap(), second);
        let SecretOutcome::Loaded(shown) =
            secret_task(&secrets, "v", &SecretSource::Keyring, SecretAction::Show).unwrap()
        else {
            panic!("not loaded");
        };
        assert_eq!(shown, second);
    }

    #[test]
    fn generate_for_a_secret_cmd_profile_leaves_the_keyring_alone() {
        let ring = Keyring::mock().unwrap();
        let out = secret_task(
            &StoreSecrets(ring.clone()),
            "v",
            &SecretSource::Command("pass show knock/v".into()),
            SecretAction::Generate { replace: false },
        )
        .unwrap();
        assert!(matches!(out, SecretOutcome::Generated(_)));
        assert!(ring.get("v").is_err());
        let _ = Params::default();
    }
}
