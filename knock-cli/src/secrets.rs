//! Rotating profiles on the command line: the current sequence (after
//! waiting out a period boundary), `--gen-secret` and `--show-secret`.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use knock_profiles::Sequence;
use knock_profiles::profile::{RotatingProfile, RotationSpec, Settings};
use knock_profiles::rotate::{self, Params, ProtoChoice, Rotation};
use knock_profiles::secret::{KEYRING_SERVICE, Keyring, Secret, SecretError, SecretSource};
use knock_profiles::send::Clock;
use knock_profiles::store::{Store, StoreError};

use crate::exit::Code;

/// Wall-clock time since the Unix epoch.
pub fn wall_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// Settings of rotating profile `name` (with the sequence in force now)
/// and its rotation with the secret loaded, and its door.
pub fn rotating_settings(store: &Store, name: &str) -> Result<(Settings, (Rotation, String))> {
    let profile = rotating(store, name, "knock")?;
    let spec = &profile.rotation;
    let rotation = load_rotation(name, spec).with_context(|| {
        format!(
            "profile \"{name}\": cannot get its secret from {}",
            spec.secret
        )
    })?;
    let (_, now) = rotation.sequence_now(&spec.door, wall_now().as_secs());
    let settings = profile.settings(name, &store.file().defaults, now);
    Ok((settings, (rotation, spec.door.clone())))
}

/// The step and sequence to send now with `delay` between knocks; waits out
/// a period boundary (saying so on stderr) unless `dry_run`, where it only
/// says that a real knock would wait.
pub fn sequence_for_now(
    rotation: &Rotation,
    door: &str,
    delay: Duration,
    dry_run: bool,
) -> (u64, Sequence) {
    let sending = rotation.params().sending_time(delay);
    if dry_run {
        if let Some(wait) = rotation.params().boundary_wait(wall_now(), sending) {
            eprintln!(
                "knock: the period ends in {} ms; a real knock would wait for the next one",
                wait.as_millis()
            );
        }
        return rotation.sequence_now(door, wall_now().as_secs());
    }
    let clock = knock_profiles::send::SystemClock;
    current_sequence(rotation, door, sending, &wall_now, &clock, &mut |n| {
        eprintln!("knock: {n}")
    })
}

/// `--show NAME` for a rotating profile: its keys as written, defaults filled in.
pub fn rotating_toml(name: &str, profile: &RotatingProfile) -> String {
    let spec = &profile.rotation;
    let p = &spec.params;
    let mut t = format!(
        "[profiles.{name}]\nhost = \"{}\"\nrotate = true\n",
        profile.host
    );
    match &spec.secret {
        SecretSource::Keyring => t.push_str("secret = \"keyring\"\n"),
        SecretSource::Command(cmd) => t.push_str(&format!("secret_cmd = {cmd:?}\n")),
    }
    t.push_str(&format!(
        "door = {:?}\nperiod_s = {}\nlength = {}\nport_range = \"{}\"\nexclude_ports = {:?}\nprotocol = \"{}\"\n",
        spec.door,
        p.period_secs(),
        p.length,
        rotate::format_range(&p.range),
        p.exclude,
        p.protos
    ));
    t
}

/// The rotation of profile `name`, with its secret loaded.
pub fn load_rotation(name: &str, spec: &RotationSpec) -> Result<Rotation, SecretError> {
    let secret = spec.secret.load(name)?;
    // The parameters were checked when the file was parsed.
    Rotation::new(spec.params.clone(), secret).map_err(|e| SecretError::Keyring {
        account: name.to_string(),
        detail: e.to_string(),
    })
}

/// The step and sequence to knock now. If the current period ends before
/// the knocks (`sending`) plus a margin are done, first says so through
/// `note` and sleeps (with `clock`) into the next period.
pub fn current_sequence(
    rotation: &Rotation,
    door: &str,
    sending: Duration,
    wall: &dyn Fn() -> Duration,
    clock: &dyn Clock,
    note: &mut dyn FnMut(String),
) -> (u64, Sequence) {
    let params = rotation.params();
    if let Some(wait) = params.boundary_wait(wall(), sending) {
        note(format!(
            "waiting {} ms for the next {} s period",
            wait.as_millis(),
            params.period_secs()
        ));
        clock.sleep(wait);
    }
    rotation.sequence_now(door, wall().as_secs())
}

/// The rotating profile `name`, or a config error saying what it is instead.
fn rotating<'a>(store: &'a Store, name: &str, flag: &str) -> Result<&'a RotatingProfile> {
    let file = store.file();
    if let Some(p) = file.rotating.get(name) {
        return Ok(p);
    }
    if file.profiles.contains_key(name) {
        return Err(anyhow::Error::new(StoreError::NotFound {
            name: name.to_string(),
            hint: None,
        })
        .context(format!(
            "{flag}: profile \"{name}\" in {} has a fixed sequence; a rotating profile has rotate = true and no sequence",
            store.path().display()
        )));
    }
    Err(anyhow::Error::new(StoreError::NotFound {
        name: name.to_string(),
        hint: file.closest_name(name).map(String::from),
    })
    .context(format!(
        "{flag}: add a rotating profile to {} first: [profiles.{name}] host = \"...\" rotate = true",
        store.path().display()
    )))
}

/// `--gen-secret NAME`: a new secret for a rotating profile, stored in the
/// keyring (or printed for `secret_cmd` profiles), and the server stanza.
pub fn gen_secret(store: &Store, name: &str, force: bool) -> Result<Code> {
    let profile = rotating(store, name, "--gen-secret")?;
    let mut out = std::io::stdout().lock();
    gen_secret_with(store, name, profile, force, &|| Keyring::os(name), &mut out)?;
    Ok(Code::Ok)
}

fn gen_secret_with(
    store: &Store,
    name: &str,
    profile: &RotatingProfile,
    force: bool,
    keyring: &dyn Fn() -> Result<Keyring, SecretError>,
    out: &mut dyn Write,
) -> Result<()> {
    let secret = Secret::generate()?;
    let spec = &profile.rotation;
    match &spec.secret {
        SecretSource::Keyring => {
            let ring = keyring()?;
            match ring.get(name) {
                Ok(_) if !force => {
                    return Err(anyhow::anyhow!(
                        "profile \"{name}\" already has a secret in the keyring; --force replaces it (then update the server's Secret_File)"
                    )
                    .context(SecretError::Keyring {
                        account: name.to_string(),
                        detail: "a secret exists".into(),
                    }));
                }
                Ok(_) | Err(SecretError::NotInKeyring { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            ring.set(name, &secret)?;
            eprintln!(
                "knock: stored a new {}-bit secret in the OS keyring (service \"{KEYRING_SERVICE}\", account \"{name}\")",
                secret.bits()
            );
        }
        SecretSource::Command(cmd) => {
            eprintln!(
                "knock: profile \"{name}\" reads its secret with `{cmd}`; store this secret there (e.g. pass insert knock/{name}):"
            );
            writeln!(out, "secret: {}", secret.to_base32())?;
        }
    }
    let settings = profile.settings(name, &store.file().defaults, Sequence::parse("1")?);
    write!(
        out,
        "{}",
        server_stanza(&spec.door, &spec.params, &settings, &secret)
    )?;
    Ok(())
}

/// The knock-server door section to paste, and how to create its secret file.
pub fn server_stanza(door: &str, params: &Params, settings: &Settings, secret: &Secret) -> String {
    let port = settings.open_port.unwrap_or(settings.ssh_port);
    let file = format!("/etc/knock/{door}.secret");
    let mut s = format!(
        "# knock-server door for profile \"{name}\" (paste into the server's knockd.conf):\n\
         [{door}]\n    \
             Rotate        = yes\n    \
             Secret_File   = {file}\n    \
             Period        = {period}\n    \
             Length        = {length}\n    \
             Port_Range    = {range}\n",
        name = settings.name,
        period = params.period_secs(),
        length = params.length,
        range = rotate::format_range(&params.range),
    );
    if !params.exclude.is_empty() {
        let list: Vec<String> = params.exclude.iter().map(u16::to_string).collect();
        s.push_str(&format!("    Exclude       = {}\n", list.join(",")));
    }
    if params.protos != ProtoChoice::Tcp {
        s.push_str(&format!("    Protocol      = {}\n", params.protos));
    }
    s.push_str(&format!(
        "    Seq_Timeout   = 10\n    \
             Start_Command = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport {port} -j ACCEPT\n\
         # on the server, create the secret file (mode 0600):\n\
         #   sudo sh -c 'umask 077; mkdir -p /etc/knock; printf \"%s\\n\" {b32} > {file}'\n",
        b32 = secret.to_base32(),
    ));
    s
}

/// `--show-secret NAME`: the secret and a `knock://` URI, for another device.
pub fn show_secret(store: &Store, name: &str) -> Result<Code> {
    let profile = rotating(store, name, "--show-secret")?;
    let spec = &profile.rotation;
    let secret = spec
        .secret
        .load(name)
        .with_context(|| format!("--show-secret {name}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "secret: {}", secret.to_base32_grouped())?;
    writeln!(
        out,
        "uri:    {}",
        rotate::share_uri(&spec.door, &spec.params, &secret)
    )?;
    Ok(Code::Ok)
}

/// One line for `--list`.
pub fn list_line(profile: &RotatingProfile) -> String {
    let p = &profile.rotation.params;
    format!(
        "rotating: door {}, {} knocks every {} s in {}",
        profile.rotation.door,
        p.length,
        p.period_secs(),
        rotate::format_range(&p.range)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::time::Instant;

    struct FakeClock {
        wall: RefCell<Duration>,
        slept: RefCell<Vec<Duration>>,
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            Instant::now()
        }
        fn sleep(&self, d: Duration) {
            self.slept.borrow_mut().push(d);
            *self.wall.borrow_mut() += d;
        }
    }

    fn rotation() -> Rotation {
        let secret = Secret::parse_base32("GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK").unwrap();
        Rotation::new(Params::default(), secret).unwrap()
    }

    #[test]
    fn knocks_now_when_the_period_has_time_left() {
        let clock = FakeClock {
            wall: RefCell::new(Duration::from_millis(1_700_000_000_000)),
            slept: RefCell::new(vec![]),
        };
        let mut notes = vec![];
        let (step, seq) = current_sequence(
            &rotation(),
            "myserver",
            Duration::from_millis(300),
            &|| *clock.wall.borrow(),
            &clock,
            &mut |n| notes.push(n),
        );
        assert_eq!(step, 56_666_666);
        // The known-answer vector "defaults".
        assert_eq!(seq.to_string(), "23563,19361,17193,56572");
        assert!(clock.slept.borrow().is_empty());
        assert!(notes.is_empty());
    }

    #[test]
    fn waits_through_a_boundary_with_the_fake_clock() {
        // 1_700_000_009.4 s: 0.6 s before the step 56_666_667 starts.
        let clock = FakeClock {
            wall: RefCell::new(Duration::from_millis(1_700_000_009_400)),
            slept: RefCell::new(vec![]),
        };
        let mut notes = vec![];
        let (step, seq) = current_sequence(
            &rotation(),
            "myserver",
            Duration::from_millis(300),
            &|| *clock.wall.borrow(),
            &clock,
            &mut |n| notes.push(n),
        );
        assert_eq!(*clock.slept.borrow(), [Duration::from_millis(600)]);
        assert_eq!(notes, ["waiting 600 ms for the next 30 s period"]);
        assert_eq!(step, 56_666_667);
        // The known-answer vector "next step".
        assert_eq!(seq.to_string(), "29788,48178,19091,52131");
    }

    fn store_with(text: &str) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, text).unwrap();
        let store = Store::open(&path).unwrap();
        (dir, store)
    }

    #[test]
    fn gen_secret_stores_in_the_keyring_and_prints_the_stanza() {
        let (_dir, store) = store_with(
            "[profiles.vault]\nhost = \"192.0.2.1\"\nrotate = true\nopen_port = 2222\nprotocol = \"both\"\n",
        );
        let ring = Keyring::mock().unwrap();
        let profile = &store.file().rotating["vault"];
        let mut out = vec![];
        let get = || -> Result<Keyring, SecretError> { Ok(ring.clone()) };
        gen_secret_with(&store, "vault", profile, false, &get, &mut out).unwrap();
        let stored = ring.get("vault").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("[vault]\n    Rotate        = yes\n"),
            "{text}"
        );
        assert!(
            text.contains("Secret_File   = /etc/knock/vault.secret"),
            "{text}"
        );
        assert!(text.contains("Protocol      = both"), "{text}");
        assert!(text.contains("--dport 2222"), "{text}");
        assert!(text.contains(&stored.to_base32()), "{text}");
        // A second run refuses to replace it without --force.
        let e = gen_secret_with(&store, "vault", profile, false, &get, &mut vec![]).unwrap_err();
        assert!(format!("{e:#}").contains("--force replaces it"), "{e:#}");
        assert_eq!(ring.get("vault").unwrap(), stored);
        gen_secret_with(&store, "vault", profile, true, &get, &mut vec![]).unwrap();
        assert_ne!(ring.get("vault").unwrap(), stored);
    }

    #[test]
    fn gen_secret_reports_a_missing_keyring_service() {
        let (_dir, store) = store_with("[profiles.vault]\nhost = \"192.0.2.1\"\nrotate = true\n");
        let profile = &store.file().rotating["vault"];
        let none = || -> Result<Keyring, SecretError> {
            Err(SecretError::NoKeyringService {
                detail: "no D-Bus session".into(),
                account: "vault".into(),
            })
        };
        let e = gen_secret_with(&store, "vault", profile, false, &none, &mut vec![]).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "no keyring service is available (no D-Bus session); use secret_cmd = \"pass show knock/vault\" instead"
        );
    }
}
