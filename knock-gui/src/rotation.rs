//! Rotating profiles in the GUI: where their secrets live
//! ([`SecretBackend`]), the wall clock ([`WallClock`]), the worker stage
//! that turns a rotating profile into a [`Plan`] ([`Prep`]), and the Secret
//! actions ([`secret_task`]), which run off the UI thread ([`Background`]).
//!
//! The derivation itself is `knock_profiles::rotate` (the same code as the
//! CLI and the server); this module only wires it to the keyring and the
//! clock, which tests replace (the keyring crate's mock store, a fixed clock).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use knock_profiles::profile::{Defaults, RotatingProfile, Settings};
use knock_profiles::rotate::{RotateError, Rotation};
use knock_profiles::secret::{Keyring, Secret, SecretError, SecretSource};
use knock_profiles::send::Plan;
use knock_profiles::{Knock, Sequence};

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

/// Wall-clock time, which picks the rotation's time step.
pub trait WallClock: Send + Sync {
    /// Time since the Unix epoch.
    fn since_epoch(&self) -> Duration;
    /// Waits `d` (a fake clock just moves on).
    fn sleep(&self, d: Duration);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemWall;

impl WallClock for SystemWall {
    fn since_epoch(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// How keyring work is kept off the UI thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Background {
    /// A short-lived thread per task (the app).
    #[default]
    Thread,
    /// Right away on the caller's thread (tests with an in-memory keyring).
    Inline,
}

impl Background {
    pub fn run(self, task: impl FnOnce() + Send + 'static) {
        match self {
            Background::Inline => task(),
            Background::Thread => {
                let spawned = std::thread::Builder::new()
                    .name("knock-secret".into())
                    .spawn(task);
                // If no thread can start, the task's channel is dropped and
                // the app reports the failure on its next poll.
                let _ = spawned;
            }
        }
    }
}

/// What rotating profiles need from the outside world.
#[derive(Clone)]
pub struct Env {
    pub secrets: Arc<dyn SecretBackend>,
    pub wall: Arc<dyn WallClock>,
    pub background: Background,
}

impl Env {
    /// The OS keyring, the system clock, threads.
    pub fn os() -> Env {
        Env {
            secrets: Arc::new(OsSecrets),
            wall: Arc::new(SystemWall),
            background: Background::Thread,
        }
    }
}

/// The settings of a rotating profile apart from its sequence (which
/// needs the secret): merged with `[defaults]` by the library, with a
/// one-knock stand-in sequence that nothing sends. (`None` cannot happen:
/// a one-knock list is never empty.)
pub fn settings_without_sequence(
    name: &str,
    profile: &RotatingProfile,
    defaults: &Defaults,
) -> Option<Settings> {
    let stand_in = Sequence::new(vec![Knock::tcp(1)]).ok()?;
    Some(profile.settings(name, defaults, stand_in))
}

/// The longest single sleep while waiting for a period boundary, so a
/// cancel is noticed quickly.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// What the rotation stage reports before the knocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Less than the margin is left in the current period: waiting `wait`
    /// for the next one.
    Waiting { wait: Duration, period_s: u64 },
    /// The sequence of time step `step`, about to be knocked.
    Derived { step: u64, sequence: Sequence },
}

/// Why a rotating profile could not be knocked; nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum PrepError {
    #[error("cannot get the secret of \"{name}\" from {from}: {source}")]
    Secret {
        name: String,
        from: String,
        source: SecretError,
    },
    #[error("profile \"{name}\": {source}")]
    Params { name: String, source: RotateError },
    #[error("cancelled while waiting for the next period")]
    Cancelled,
}

/// The first stage of a rotating knock, run on the worker: load the
/// secret, wait out a period boundary if the knocks would straddle it, and
/// derive the sequence of the step in force.
pub struct Prep {
    pub name: String,
    pub profile: RotatingProfile,
    pub defaults: Defaults,
    pub secrets: Arc<dyn SecretBackend>,
    pub wall: Arc<dyn WallClock>,
}

impl Prep {
    /// The plan to send, after `note`s about waiting and the derived sequence.
    pub fn run(&self, cancel: &AtomicBool, note: &mut dyn FnMut(Note)) -> Result<Plan, PrepError> {
        let spec = &self.profile.rotation;
        let secret = self
            .secrets
            .load(&self.name, &spec.secret)
            .map_err(|source| PrepError::Secret {
                name: self.name.clone(),
                from: spec.secret.to_string(),
                source,
            })?;
        let rotation =
            Rotation::new(spec.params.clone(), secret).map_err(|source| PrepError::Params {
                name: self.name.clone(),
                source,
            })?;
        let (_, current) = rotation.sequence_now(&spec.door, self.wall.since_epoch().as_secs());
        let delay = self
            .profile
            .settings(&self.name, &self.defaults, current)
            .delay;
        let sending = rotation.params().sending_time(delay);
        if let Some(wait) = rotation
            .params()
            .boundary_wait(self.wall.since_epoch(), sending)
        {
            note(Note::Waiting {
                wait,
                period_s: rotation.params().period_secs(),
            });
            let mut left = wait;
            while !left.is_zero() {
                if cancel.load(Ordering::Relaxed) {
                    return Err(PrepError::Cancelled);
                }
                let slice = left.min(WAIT_SLICE);
                self.wall.sleep(slice);
                left -= slice;
            }
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(PrepError::Cancelled);
        }
        let (step, sequence) = rotation.sequence_now(&spec.door, self.wall.since_epoch().as_secs());
        note(Note::Derived {
            step,
            sequence: sequence.clone(),
        });
        let settings = self.profile.settings(&self.name, &self.defaults, sequence);
        Ok(Plan::from_settings(&settings))
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
            let ring = secrets.keyring(name)?;
            match ring.get(name) {
                Ok(_) if !replace => return Ok(SecretOutcome::Exists),
                Ok(_) | Err(SecretError::NotInKeyring { .. }) => {}
                // An unreadable old secret may be replaced; other errors
                // (locked, no service) would fail the write too.
                Err(SecretError::InKeyring { .. }) if replace => {}
                Err(SecretError::InKeyring { .. }) => return Ok(SecretOutcome::Exists),
                Err(e) => return Err(e),
            }
            let secret = Secret::generate()?;
            ring.set(name, &secret)?;
            Ok(SecretOutcome::Stored(secret))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use knock_profiles::profile::ProfileFile;
    use knock_profiles::rotate::Params;
    use std::path::Path;
    use std::sync::Mutex;

    /// A fixed wall clock that moves only when slept on.
    struct FakeWall(Mutex<Duration>, Mutex<Vec<Duration>>);

    impl WallClock for FakeWall {
        fn since_epoch(&self) -> Duration {
            *self.0.lock().unwrap()
        }
        fn sleep(&self, d: Duration) {
            *self.0.lock().unwrap() += d;
            self.1.lock().unwrap().push(d);
        }
    }

    const SECRET: &str = "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK";

    fn prep(at_ms: u64) -> (Prep, Arc<FakeWall>, Keyring) {
        let file = ProfileFile::parse(
            "[profiles.myserver]\nhost = \"192.0.2.1\"\nrotate = true\ndelay_ms = 100\n",
            Path::new("profiles.toml"),
        )
        .unwrap();
        let ring = Keyring::mock().unwrap();
        ring.set("myserver", &Secret::parse_base32(SECRET).unwrap())
            .unwrap();
        let wall = Arc::new(FakeWall(
            Mutex::new(Duration::from_millis(at_ms)),
            Mutex::default(),
        ));
        let prep = Prep {
            name: "myserver".into(),
            profile: file.rotating["myserver"].clone(),
            defaults: file.defaults.clone(),
            secrets: Arc::new(StoreSecrets(ring.clone())),
            wall: wall.clone(),
        };
        (prep, wall, ring)
    }

    #[test]
    fn derives_the_known_answer_sequence_without_waiting() {
        let (prep, wall, _) = prep(1_700_000_000_000);
        let mut notes = vec![];
        let plan = prep
            .run(&AtomicBool::new(false), &mut |n| notes.push(n))
            .unwrap();
        // The known-answer vector "defaults" (profiles/testdata/rotate-vectors.toml).
        assert_eq!(plan.sequence.to_string(), "23563,19361,17193,56572");
        assert_eq!(plan.host, "192.0.2.1");
        assert_eq!(plan.delay, Duration::from_millis(100));
        assert_eq!(
            notes,
            [Note::Derived {
                step: 56_666_666,
                sequence: plan.sequence.clone()
            }]
        );
        assert!(wall.1.lock().unwrap().is_empty());
    }

    #[test]
    fn waits_out_a_boundary_in_slices_then_knocks_the_next_step() {
        // 0.6 s before step 56_666_667; the knocks take 0.3 s + 1 s margin.
        let (prep, wall, _) = prep(1_700_000_009_400);
        let mut notes = vec![];
        let plan = prep
            .run(&AtomicBool::new(false), &mut |n| notes.push(n))
            .unwrap();
        assert_eq!(
            notes[0],
            Note::Waiting {
                wait: Duration::from_millis(600),
                period_s: 30
            }
        );
        let slept: Duration = wall.1.lock().unwrap().iter().sum();
        assert_eq!(slept, Duration::from_millis(600));
        // The known-answer vector "next step".
        assert_eq!(plan.sequence.to_string(), "29788,48178,19091,52131");
    }

    #[test]
    fn a_cancel_during_the_wait_sends_nothing() {
        let (prep, _, _) = prep(1_700_000_009_400);
        let e = prep.run(&AtomicBool::new(true), &mut |_| {}).unwrap_err();
        assert!(matches!(e, PrepError::Cancelled), "{e}");
    }

    #[test]
    fn a_missing_secret_names_the_profile_and_the_keyring() {
        let (prep, _, ring) = prep(1_700_000_000_000);
        ring.delete("myserver").unwrap();
        let e = prep.run(&AtomicBool::new(false), &mut |_| {}).unwrap_err();
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
