//! Rotating profiles on the command line: the sequence a dry run shows,
//! `--gen-secret`, `--show-secret` and `--set-secret`. (Knocking one is
//! `resolve` and `send::run`, like any profile.)

use std::io::{BufRead, IsTerminal, Read, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use knock_profiles::Sequence;
use knock_profiles::profile::{RotatingProfile, Settings};
use knock_profiles::rotate::{self, Params, ProtoChoice, Rotation};
use knock_profiles::secret::{
    Generated, KEYRING_SERVICE, Keyring, Secret, SecretError, SecretSource,
};
use knock_profiles::send::{SystemWall, WallClock};
use knock_profiles::store::Store;
use zeroize::Zeroizing;

use crate::exit::{Code, ConfigMessage, UsageError};

/// Wall-clock time since the Unix epoch.
fn wall_now() -> Duration {
    SystemWall.since_epoch()
}

/// For `--dry-run`: the step and sequence in force now; says on stderr if
/// a real knock would first wait for the next period.
pub fn dry_run_sequence(rotation: &Rotation, door: &str, delay: Duration) -> (u64, Sequence) {
    let sending = rotation.params().sending_time(delay);
    let now = wall_now();
    if let Some(wait) = rotation.params().boundary_wait(now, sending) {
        eprintln!(
            "knock: the period ends in {} ms; a real knock would wait for the next one",
            wait.as_millis()
        );
    }
    rotation.sequence_now(door, now.as_secs())
}

/// The rotating profile `name`, or a config error saying what it is instead.
fn rotating<'a>(store: &'a Store, name: &str, flag: &str) -> Result<&'a RotatingProfile> {
    let file = store.file();
    if let Some(p) = file.rotating.get(name) {
        return Ok(p);
    }
    if file.profiles.contains_key(name) {
        return Err(ConfigMessage(format!(
            "{flag}: profile \"{name}\" in {} has a fixed sequence; a rotating profile has rotate = true and no sequence",
            store.path().display()
        ))
        .into());
    }
    Err(anyhow::Error::new(store.not_found(name)).context(format!(
        "{flag}: add a rotating profile first ([profiles.{name}] host = \"...\" rotate = true)"
    )))
}

/// `--gen-secret NAME`: a new secret for a rotating profile, stored in the
/// keyring (or printed for `secret_cmd` profiles), and the server stanza.
pub fn gen_secret(store: &Store, name: &str, force: bool) -> Result<Code> {
    let profile = rotating(store, name, "--gen-secret")?;
    let mut out = std::io::stdout().lock();
    gen_secret_with(store, name, profile, force, &|| Keyring::os(name), &mut out)?;
    Ok(Code::OK)
}

fn gen_secret_with(
    store: &Store,
    name: &str,
    profile: &RotatingProfile,
    force: bool,
    keyring: &dyn Fn() -> Result<Keyring, SecretError>,
    out: &mut dyn Write,
) -> Result<()> {
    let spec = &profile.rotation;
    let secret = match &spec.secret {
        SecretSource::Keyring => match keyring()?.generate_for(name, force)? {
            Generated::Stored(secret) => {
                eprintln!(
                    "knock: stored a new {}-bit secret in the OS keyring (service \"{KEYRING_SERVICE}\", account \"{name}\")",
                    secret.bits()
                );
                secret
            }
            Generated::Exists => {
                return Err(anyhow::anyhow!(
                    "profile \"{name}\" already has a secret in the keyring; --force replaces it (then update the server's Secret_File)"
                )
                .context(SecretError::Keyring {
                    account: name.to_string(),
                    detail: "a secret exists".into(),
                }));
            }
        },
        SecretSource::Command(cmd) => {
            let secret = Secret::generate()?;
            eprintln!(
                "knock: profile \"{name}\" reads its secret with `{cmd}`; store this secret there (e.g. pass insert knock/{name}):"
            );
            writeln!(out, "secret: {}", secret.to_base32())?;
            secret
        }
    };
    let settings = profile.settings(name, &store.file().defaults);
    write!(
        out,
        "{}",
        server_stanza(&spec.door, &spec.params, &settings, &secret)
    )?;
    Ok(())
}

/// The knock-server door section to paste, and how to create its secret file.
pub fn server_stanza(door: &str, params: &Params, settings: &Settings, secret: &Secret) -> String {
    let port = settings
        .options
        .open_port
        .unwrap_or(settings.options.ssh_port);
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
             # -I puts the ACCEPT before the DROP of port {port}; the stop deletes it again\n    \
             Start_Command   = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport {port} -j ACCEPT\n    \
             Start_Command_6 = /usr/sbin/ip6tables -I INPUT -s %IP% -p tcp --dport {port} -j ACCEPT\n    \
             Cmd_Timeout     = 30\n    \
             Stop_Command    = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport {port} -j ACCEPT\n    \
             Stop_Command_6  = /usr/sbin/ip6tables -D INPUT -s %IP% -p tcp --dport {port} -j ACCEPT\n\
         # on the server, create the secret file (mode 0600); the secret goes\n\
         # in on standard input, never on a command line (shell history, ps):\n\
         #   sudo install -d -m 700 /etc/knock\n\
         #   sudo install -m 600 /dev/stdin {file}\n\
         # then paste the secret (the next line, without the #), press Enter\n\
         # and Ctrl+D:\n\
         #   {b32}\n",
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
    Ok(Code::OK)
}

/// `--set-secret NAME`: the secret of rotating profile NAME from standard
/// input (base32, or the `knock://rotate?...` URI of `--show-secret`), into
/// the OS keyring.
pub fn set_secret(store: &Store, name: &str, force: bool) -> Result<Code> {
    let profile = rotating(store, name, "--set-secret")?;
    // Before reading anything: a secret_cmd profile has nothing to store here.
    check_keyring_profile(name, profile)?;
    let mut stdin = std::io::stdin().lock();
    // Room up front, so the text is not copied (and left behind) as it grows.
    let mut input = Zeroizing::new(String::with_capacity(4096));
    if stdin.is_terminal() {
        eprintln!(
            "knock: paste the secret of \"{name}\" (base32, or the knock://rotate?... URI from knock --show-secret), then Enter:"
        );
        stdin.read_line(&mut input)
    } else {
        stdin.read_to_string(&mut input)
    }
    .context("--set-secret: cannot read standard input")?;
    let secret = secret_from_input(store, name, profile, &input)?;
    let note = store_secret(name, &secret, force, &|| Keyring::os(name))?;
    eprintln!("knock: {note}");
    Ok(Code::OK)
}

/// A `secret_cmd` profile keeps its secret in that command's store.
fn check_keyring_profile(name: &str, profile: &RotatingProfile) -> Result<()> {
    match &profile.rotation.secret {
        SecretSource::Keyring => Ok(()),
        SecretSource::Command(cmd) => Err(ConfigMessage(format!(
            "--set-secret {name}: profile \"{name}\" reads its secret with secret_cmd `{cmd}`, not from the keyring; store the secret where that command reads it (e.g. pass insert knock/{name}), or set secret = \"keyring\" in the profile instead of secret_cmd"
        ))
        .into()),
    }
}

/// The secret in `input`: base32 text, or a sharing URI whose door and
/// parameters must be the profile's (the error lists each difference).
fn secret_from_input(
    store: &Store,
    name: &str,
    profile: &RotatingProfile,
    input: &str,
) -> Result<Secret> {
    let text = input.trim();
    let usage = |msg: String| anyhow::Error::new(UsageError(msg));
    if text.is_empty() {
        return Err(usage(format!(
            "--set-secret {name}: nothing on standard input (expected the base32 secret or the knock://rotate?... URI that knock --show-secret prints)"
        )));
    }
    // What --show-secret prints: `secret: ...` and `uri:    knock://...`,
    // either line or both (then the URI, which names the door, counts).
    let uri = text
        .lines()
        .find_map(|line| line.find("knock://").map(|at| line[at..].trim()));
    let Some(text) = uri else {
        let text = text.strip_prefix("secret:").unwrap_or(text);
        return Secret::parse_base32(text)
            .map_err(|e| usage(format!("--set-secret {name}: standard input: {e}")));
    };
    let (door, params, secret) = rotate::parse_share_uri(text)
        .map_err(|e| usage(format!("--set-secret {name}: standard input: {e}")))?;
    let spec = &profile.rotation;
    let mut diffs = Vec::new();
    if door != spec.door {
        diffs.push(format!(
            "door \"{door}\" in the URI, \"{}\" in the profile",
            spec.door
        ));
    }
    for (key, uri, ours) in rotate::param_differences(&params, &spec.params) {
        diffs.push(format!("{key} {uri} in the URI, {ours} in the profile"));
    }
    if !diffs.is_empty() {
        return Err(usage(format!(
            "--set-secret {name}: the URI does not match profile \"{name}\" in {}: {}; nothing stored (fix the profile to match the server's door, or use that door's URI)",
            store.path().display(),
            diffs.join("; ")
        )));
    }
    Ok(secret)
}

/// Stores `secret` as profile `name`'s, refusing to replace a different
/// one unless `force`. Returns what was done, in words.
fn store_secret(
    name: &str,
    secret: &Secret,
    force: bool,
    keyring: &dyn Fn() -> Result<Keyring, SecretError>,
) -> Result<String> {
    let ring = keyring()?;
    match ring.get(name) {
        Ok(existing) if existing == *secret => {
            return Ok(format!(
                "the OS keyring already holds this secret for \"{name}\" (service \"{KEYRING_SERVICE}\"); nothing changed"
            ));
        }
        Ok(_) | Err(SecretError::InKeyring { .. }) if !force => {
            return Err(ConfigMessage(format!(
                "--set-secret {name}: profile \"{name}\" already has a different secret in the keyring; --force replaces it (knock --show-secret {name} shows the one there)"
            ))
            .into());
        }
        Ok(_) | Err(SecretError::InKeyring { .. } | SecretError::NotInKeyring { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    ring.set(name, secret)?;
    Ok(format!(
        "stored the {}-bit secret of \"{name}\" in the OS keyring (service \"{KEYRING_SERVICE}\", account \"{name}\")",
        secret.bits()
    ))
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
        // The stanza is a door the server accepts as printed, and it closes
        // again (IPv4 and IPv6), like every example config.
        let conf = knock_profiles::knockd_conf::KnockdConfig::parse(
            &text,
            std::path::Path::new("pasted.conf"),
        )
        .unwrap();
        let door = &conf.rotating[0];
        assert_eq!(door.name, "vault");
        assert!(
            door.commands
                .start_for(false)
                .unwrap()
                .contains("iptables -I INPUT")
        );
        assert!(
            door.commands
                .start_for(true)
                .unwrap()
                .contains("ip6tables -I INPUT")
        );
        assert!(
            door.commands
                .stop_for(false)
                .unwrap()
                .contains("iptables -D INPUT")
        );
        assert!(
            door.commands
                .stop_for(true)
                .unwrap()
                .contains("ip6tables -D INPUT")
        );
        assert_eq!(
            door.commands.cmd_timeout,
            std::time::Duration::from_secs(30)
        );
        // The secret is pasted into install's standard input: no command
        // line carries it.
        assert!(
            text.contains("#   sudo install -m 600 /dev/stdin /etc/knock/vault.secret\n"),
            "{text}"
        );
        for line in text.lines().filter(|l| l.contains("sudo")) {
            assert!(!line.contains(&stored.to_base32()), "{line}");
        }
        assert!(
            text.ends_with(&format!("Ctrl+D:\n#   {}\n", stored.to_base32())),
            "{text}"
        );
        // A second run refuses to replace it without --force.
        let e = gen_secret_with(&store, "vault", profile, false, &get, &mut vec![]).unwrap_err();
        assert!(format!("{e:#}").contains("--force replaces it"), "{e:#}");
        assert_eq!(ring.get("vault").unwrap(), stored);
        gen_secret_with(&store, "vault", profile, true, &get, &mut vec![]).unwrap();
        assert_ne!(ring.get("vault").unwrap(), stored);
    }

    const KNOWN: &str = "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK";

    fn set(store: &Store, ring: &Keyring, name: &str, input: &str, force: bool) -> Result<String> {
        let profile = store.get_rotating(name)?;
        check_keyring_profile(name, profile)?;
        let secret = secret_from_input(store, name, profile, input)?;
        let get = || -> Result<Keyring, SecretError> { Ok(ring.clone()) };
        store_secret(name, &secret, force, &get)
    }

    #[test]
    fn set_secret_stores_base32_or_a_matching_uri() {
        let (_dir, store) = store_with(
            "[profiles.vault]\nhost = \"192.0.2.1\"\nrotate = true\nexclude_ports = [443, 22]\nprotocol = \"both\"\n",
        );
        let ring = Keyring::mock().unwrap();
        // Grouped, lower case, with a newline: as --show-secret prints it.
        let note = set(
            &store,
            &ring,
            "vault",
            "gayt emzu gu3d oobz mfrg gzdf mztw q2lk\n",
            false,
        )
        .unwrap();
        assert_eq!(
            note,
            "stored the 160-bit secret of \"vault\" in the OS keyring (service \"knock\", account \"vault\")"
        );
        assert_eq!(ring.get("vault").unwrap().to_base32(), KNOWN);
        // The URI that --show-secret prints on the first device.
        let profile = &store.file().rotating["vault"];
        let other = Secret::generate().unwrap();
        let uri = rotate::share_uri("vault", &profile.rotation.params, &other);
        let e = set(&store, &ring, "vault", &uri, false).unwrap_err();
        assert!(
            e.to_string()
                .contains("already has a different secret in the keyring; --force replaces it"),
            "{e}"
        );
        assert_eq!(ring.get("vault").unwrap().to_base32(), KNOWN);
        set(&store, &ring, "vault", &format!("{uri}\n"), true).unwrap();
        assert_eq!(ring.get("vault").unwrap(), other);
        // The same secret again: nothing to replace.
        let note = set(&store, &ring, "vault", &uri, false).unwrap();
        assert!(note.contains("already holds this secret"), "{note}");
        // The whole output of --show-secret, or either of its lines.
        let shown = format!("secret: {}\nuri:    {uri}\n", other.to_base32_grouped());
        for input in [
            shown.as_str(),
            shown.lines().next().unwrap(),
            shown.lines().nth(1).unwrap(),
        ] {
            let note = set(&store, &ring, "vault", input, false).unwrap();
            assert!(
                note.contains("already holds this secret"),
                "{input:?}: {note}"
            );
        }
    }

    #[test]
    fn set_secret_says_what_differs_between_uri_and_profile() {
        let (_dir, store) =
            store_with("[profiles.vault]\nhost = \"192.0.2.1\"\nrotate = true\nperiod_s = 60\n");
        let ring = Keyring::mock().unwrap();
        let uri = format!(
            "knock://rotate?door=openSSH&secret={KNOWN}&period=30&length=5&range=10000-60000&exclude=22&protocol=udp"
        );
        let e = set(&store, &ring, "vault", &uri, false).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.ends_with(
                "profiles.toml: door \"openSSH\" in the URI, \"vault\" in the profile; \
                 period 30 s in the URI, 60 s in the profile; \
                 length 5 in the URI, 4 in the profile; \
                 exclude 22 in the URI, none in the profile; \
                 protocol udp in the URI, tcp in the profile; \
                 nothing stored (fix the profile to match the server's door, or use that door's URI)"
            ),
            "{msg}"
        );
        assert!(
            msg.starts_with("--set-secret vault: the URI does not match profile \"vault\" in "),
            "{msg}"
        );
        assert!(!msg.contains(KNOWN), "{msg}");
        assert!(e.is::<UsageError>());
        assert!(matches!(
            ring.get("vault"),
            Err(SecretError::NotInKeyring { .. })
        ));
    }

    #[test]
    fn set_secret_refuses_bad_input_and_secret_cmd_profiles() {
        let (_dir, store) = store_with(
            "[profiles.vault]\nhost = \"192.0.2.1\"\nrotate = true\n\n[profiles.lab]\nhost = \"192.0.2.2\"\nrotate = true\nsecret_cmd = \"pass show knock/lab\"\n",
        );
        let ring = Keyring::mock().unwrap();
        let cases = [
            (
                "",
                "--set-secret vault: nothing on standard input (expected the base32 secret or the knock://rotate?... URI that knock --show-secret prints)",
            ),
            (
                "MZXW6YTBOI",
                "--set-secret vault: standard input: secret has 48 bits; at least 128 are needed (make one with knock --gen-secret NAME)",
            ),
            (
                "knock://rotate?door=vault",
                "--set-secret vault: standard input: bad knock:// URI: no secret",
            ),
            (
                "otpauth://totp/x",
                "--set-secret vault: standard input: secret is not valid base32: ':' is not a base32 character (A-Z, 2-7)",
            ),
        ];
        for (input, want) in cases {
            let e = set(&store, &ring, "vault", input, false).unwrap_err();
            assert_eq!(e.to_string(), want, "{input:?}");
            assert!(e.is::<UsageError>(), "{input:?}");
        }
        let e = set(&store, &ring, "lab", KNOWN, false).unwrap_err();
        assert!(
            e.to_string().starts_with("--set-secret lab: profile \"lab\" reads its secret with secret_cmd `pass show knock/lab`, not from the keyring; store the secret where that command reads it (e.g. pass insert knock/lab)"),
            "{e}"
        );
        assert!(matches!(
            ring.get("lab"),
            Err(SecretError::NotInKeyring { .. })
        ));
        assert!(matches!(
            ring.get("vault"),
            Err(SecretError::NotInKeyring { .. })
        ));
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
