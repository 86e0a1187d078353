//! Rotating profiles with `knock`: the derived sequence goes out on the
//! wire, secrets never sit in the profile file, and the secret commands.
//! Secrets come from `secret_cmd = "cat FILE"`, so no keyring is needed;
//! loopback only.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed setup should panic

use std::fs;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use knock_profiles::profile::ProfileFile;
use knock_profiles::rotate::Rotation;
use knock_profiles::secret::Secret;
use knock_profiles::{Knock, Proto, Sequence};

const CONFIG: i32 = 3;
const SECRET: &str = "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        fs::write(env.secret_file(), format!("{SECRET}\n")).expect("secret");
        env
    }

    fn profiles(&self) -> PathBuf {
        self.dir.path().join("profiles.toml")
    }

    fn secret_file(&self) -> PathBuf {
        self.dir.path().join("vault.secret")
    }

    fn write(&self, text: &str) {
        fs::write(self.profiles(), text).expect("write profiles");
    }

    /// A rotating profile reading the secret with `cat`, plus `extra` keys.
    fn rotating(&self, extra: &str) {
        self.write(&format!(
            "[profiles.vault]\nhost = \"127.0.0.1\"\nrotate = true\nsecret_cmd = \"cat '{}'\"\ndelay_ms = 0\n{extra}",
            self.secret_file().display()
        ));
    }

    /// `knock` with KNOCK_PROFILES in the temp dir, no HOME, and no session
    /// bus (so no real keyring is reachable).
    fn knock(&self) -> Command {
        let mut cmd = Command::cargo_bin("knock").expect("knock binary");
        cmd.env("KNOCK_PROFILES", self.profiles())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/knock-test-bus",
            );
        cmd
    }

    /// Runs `knock ARGS` (see [`Env::knock`]) to its end.
    fn run(&self, args: &[&str]) -> std::process::Output {
        self.knock().args(args).output().expect("run knock")
    }

    fn rotation(&self) -> (Rotation, String) {
        let text = fs::read_to_string(self.profiles()).unwrap();
        let file = ProfileFile::parse(&text, &self.profiles()).unwrap();
        let spec = file.rotating["vault"].rotation.clone();
        let secret = Secret::parse_base32(SECRET).unwrap();
        (Rotation::new(spec.params, secret).unwrap(), spec.door)
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// "..., step 123 of 30 s" in the output.
fn step_in(text: &str) -> u64 {
    let rest = text.split("step ").nth(1).expect("a step in the output");
    rest.split_whitespace()
        .next()
        .unwrap()
        .parse()
        .expect("step number")
}

#[test]
fn dry_run_shows_the_step_and_the_derived_ports() {
    let env = Env::new();
    env.rotating("");
    let before = unix_now();
    let out = env.run(&["vault", "--dry-run"]);
    let after = unix_now();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let step = step_in(&text);
    let (rotation, door) = env.rotation();
    let p = rotation.params();
    assert!(
        (p.step(before)..=p.step(after)).contains(&step),
        "{step} {text}"
    );
    let want = rotation.sequence_at(&door, step);
    for k in want.iter() {
        assert!(
            text.contains(&format!("  tcp 127.0.0.1:{}\n", k.port)),
            "{k} missing in {text}"
        );
    }
    assert!(text.contains("of 30 s"), "{text}");
}

/// Loopback UDP sockets on every port of a free 8-port range.
fn bind_range() -> (u16, Vec<UdpSocket>) {
    for _ in 0..50 {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        let start = probe.local_addr().unwrap().port();
        drop(probe);
        if start > 65_000 {
            continue;
        }
        let socks: Vec<_> = (start..start + 8)
            .map_while(|p| UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if socks.len() == 8 {
            return (start, socks);
        }
    }
    panic!("no free range of 8 UDP ports on loopback");
}

#[test]
fn knock_sends_exactly_the_derived_sequence_for_the_current_step() {
    let env = Env::new();
    let (start, socks) = bind_range();
    env.rotating(&format!(
        "port_range = \"{start}-{}\"\nprotocol = \"udp\"\nlength = 5\n",
        start + 7
    ));
    let out = env.run(&["vault", "-v"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let step = step_in(&stderr_of(&out));
    // Collect what arrived, in arrival order (one datagram per knock).
    let mut got: Vec<u16> = vec![];
    for s in &socks {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    for (i, s) in socks.iter().enumerate() {
        let mut buf = [0u8; 16];
        while let Ok(n) = s.recv(&mut buf) {
            assert_eq!(n, 1, "a knock is one byte");
            got.push(start + i as u16);
        }
    }
    let (rotation, door) = env.rotation();
    let want = rotation.sequence_at(&door, step);
    let mut got_ports = got;
    let mut want_ports: Vec<u16> = want.iter().map(|k| k.port).collect();
    assert!(want.iter().all(|k| k.proto == Proto::Udp));
    // The order is checked through -v's "hitting" lines below; here: the
    // same ports, each exactly once.
    got_ports.sort_unstable();
    want_ports.sort_unstable();
    assert_eq!(got_ports, want_ports, "step {step}: want {want}");
    let hits: Vec<Knock> = stdout_of(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("hitting udp 127.0.0.1:"))
        .map(|p| Knock::udp(p.parse().unwrap()))
        .collect();
    assert_eq!(Sequence::new(hits).unwrap(), want);
}

#[test]
fn a_secret_in_the_file_is_refused_with_its_position() {
    let env = Env::new();
    env.write(&format!(
        "[profiles.vault]\nhost = \"127.0.0.1\"\nrotate = true\nsecret = \"{SECRET}\"\n"
    ));
    let out = env.run(&["vault", "--dry-run"]);
    assert_eq!(out.status.code(), Some(CONFIG));
    let err = stderr_of(&out);
    assert!(
        err.contains("profiles.toml:4:10: secret must not be written in this file; use secret = \"keyring\" or secret_cmd = \"...\""),
        "{err}"
    );
    assert!(!stdout_of(&out).contains(SECRET));
}

#[test]
fn a_failing_secret_cmd_is_a_config_error_naming_the_command() {
    let env = Env::new();
    env.write(
        "[profiles.vault]\nhost = \"127.0.0.1\"\nrotate = true\nsecret_cmd = \"echo locked >&2; exit 1\"\n",
    );
    let out = env.run(&["vault"]);
    assert_eq!(out.status.code(), Some(CONFIG), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out)
            .contains("secret_cmd `echo locked >&2; exit 1` failed with status 1: locked"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn without_a_keyring_service_the_error_points_to_secret_cmd() {
    let env = Env::new();
    env.write("[profiles.vault]\nhost = \"127.0.0.1\"\nrotate = true\n");
    for args in [vec!["vault"], vec!["--gen-secret", "vault"]] {
        let out = env.run(&args);
        assert_eq!(
            out.status.code(),
            Some(CONFIG),
            "{args:?}: {}",
            stderr_of(&out)
        );
        let err = stderr_of(&out);
        assert!(err.contains("no keyring service is available ("), "{err}");
        assert!(
            err.contains("use secret_cmd = \"pass show knock/vault\" instead"),
            "{err}"
        );
    }
}

#[test]
fn show_secret_prints_it_and_a_uri() {
    let env = Env::new();
    env.rotating("exclude_ports = [22]\n");
    let out = env.run(&["--show-secret", "vault"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "secret: GAYT EMZU GU3D OOBZ MFRG GZDF MZTW Q2LK\n\
         uri:    knock://rotate?door=vault&secret=GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK&period=30&length=4&range=10000-60000&exclude=22\n"
    );
}

#[test]
fn gen_secret_for_a_secret_cmd_profile_prints_secret_and_stanza() {
    let env = Env::new();
    env.rotating("open_port = 2222\n");
    let out = env.run(&["--gen-secret", "vault"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .expect("the secret");
    assert_eq!(Secret::parse_base32(secret).unwrap().bits(), 160);
    assert_ne!(secret, SECRET);
    for needle in [
        "[vault]\n",
        "Rotate        = yes\n",
        "Secret_File   = /etc/knock/vault.secret\n",
        "Period        = 30\n",
        "Length        = 4\n",
        "Port_Range    = 10000-60000\n",
        "--dport 2222 -j ACCEPT\n",
        "sudo install -m 600 /dev/stdin /etc/knock/vault.secret\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in {text}");
    }
    assert!(stderr_of(&out).contains("pass insert knock/vault"));
    for line in text.lines().filter(|l| l.contains("sudo")) {
        assert!(
            !line.contains(secret),
            "the secret on a command line: {line}"
        );
    }
}

#[test]
fn secret_commands_need_a_rotating_profile() {
    let env = Env::new();
    env.write("[profiles.fixed]\nhost = \"127.0.0.1\"\nsequence = \"1,2\"\n");
    let out = env.run(&["--gen-secret", "fixed"]);
    assert_eq!(out.status.code(), Some(CONFIG));
    assert!(
        stderr_of(&out).contains("has a fixed sequence"),
        "{}",
        stderr_of(&out)
    );
    let out = env.run(&["--show-secret", "nope"]);
    assert_eq!(out.status.code(), Some(CONFIG));
}

#[test]
fn list_and_show_include_rotating_profiles() {
    let env = Env::new();
    env.rotating("");
    let out = env.run(&["--list"]);
    assert!(out.status.success());
    assert!(
        stdout_of(&out)
            .contains("vault  127.0.0.1  rotating: door vault, 4 knocks every 30 s in 10000-60000"),
        "{}",
        stdout_of(&out)
    );
    let out = env.run(&["--show", "vault"]);
    assert!(out.status.success());
    let text = stdout_of(&out);
    assert!(text.contains("rotate = true\n"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

const USAGE: i32 = 2;

#[test]
fn set_secret_error_paths() {
    let env = Env::new();
    env.write(&format!(
        "[profiles.vault]\nhost = \"127.0.0.1\"\nrotate = true\nperiod_s = 60\n\n\
         [profiles.lab]\nhost = \"127.0.0.1\"\nrotate = true\nsecret_cmd = \"cat '{}'\"\n\n\
         [profiles.fixed]\nhost = \"127.0.0.1\"\nsequence = \"1,2\"\n",
        env.secret_file().display()
    ));
    let before = fs::read_to_string(env.profiles()).unwrap();
    let run = |name: &str, stdin: &str| {
        env.knock()
            .args(["--set-secret", name])
            .write_stdin(stdin.to_string())
            .output()
            .unwrap()
    };

    // A secret_cmd profile: the secret belongs in that command's store.
    let out = run("lab", SECRET);
    assert_eq!(out.status.code(), Some(CONFIG), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("reads its secret with secret_cmd `cat "),
        "{}",
        stderr_of(&out)
    );
    assert!(stderr_of(&out).contains("pass insert knock/lab"));

    // Not base32.
    let out = run("vault", "not a secret!\n");
    assert_eq!(out.status.code(), Some(USAGE), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("--set-secret vault: standard input: secret is not valid base32"),
        "{}",
        stderr_of(&out)
    );

    // A URI from another door / other parameters: each difference named.
    let uri =
        format!("knock://rotate?door=vault&secret={SECRET}&period=30&length=4&range=10000-60000\n");
    let out = run("vault", &uri);
    assert_eq!(out.status.code(), Some(USAGE), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("the URI does not match profile \"vault\" in ")
            && err.contains(": period 30 s in the URI, 60 s in the profile; nothing stored"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");

    // A good secret, but no keyring service here: say so, suggest secret_cmd.
    let out = run("vault", "gayt emzu gu3d oobz mfrg gzdf mztw q2lk\n");
    assert_eq!(out.status.code(), Some(CONFIG), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("no keyring service is available ("),
        "{}",
        stderr_of(&out)
    );

    // Not a rotating profile; no such profile.
    let out = run("fixed", SECRET);
    assert_eq!(out.status.code(), Some(CONFIG));
    assert!(stderr_of(&out).contains("has a fixed sequence"));
    let out = run("vaul", SECRET);
    assert_eq!(out.status.code(), Some(CONFIG));
    assert!(
        stderr_of(&out).contains("(did you mean \"vault\"?)"),
        "{}",
        stderr_of(&out)
    );

    // Nothing was written to the profile file.
    assert_eq!(fs::read_to_string(env.profiles()).unwrap(), before);
}

#[test]
fn import_turns_rotating_doors_into_rotating_profiles() {
    use knock_profiles::rotate::{Params, ProtoChoice};
    let env = Env::new();
    env.write("# mine\n[profiles.plain]\nhost = \"192.0.2.9\"\nsequence = \"1,2\"\n");
    let conf = env.dir.path().join("knockd.conf");
    fs::write(
        &conf,
        "[options]\n    UseSyslog\n\n[openSSH]\n    Sequence = 7000,8000,9000\n    Command = true\n\n\
         [my vault]\n    Rotate      = yes\n    Secret_File = /etc/knock/vault.secret\n\
         \x20   Period = 60\n    Length = 6\n    Port_Range = 20000-20100\n\
         \x20   Exclude = 20022, 20080\n    Protocol = both\n    Start_Command = open %IP%\n\n\
         [plain]\n    Rotate = yes\n    Secret_File = /etc/knock/plain.secret\n    Command = x\n",
    )
    .unwrap();
    let import = |force: bool| {
        let mut cmd = env.knock();
        cmd.args(["--import", conf.to_str().unwrap(), "--host", "192.0.2.1"])
            .args(["--open-port", "22"]);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let out = import(false);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("imported rotating door \"my vault\" as profile \"my-vault\" (rotating: door my vault, 6 knocks every 60 s in 20000-20100)"),
        "{err}"
    );
    // The existing "plain" is kept; the next step is printed for each new one.
    assert!(
        err.contains(
            "skipped rotating door \"plain\": profile \"plain\" exists (use --force to replace)"
        ),
        "{err}"
    );
    assert!(
        err.contains("\n  knock --set-secret my-vault < /etc/knock/vault.secret\n"),
        "{err}"
    );
    assert!(!err.contains("--set-secret plain"), "{err}");
    let text = fs::read_to_string(env.profiles()).unwrap();
    assert!(
        text.ends_with(
            "[profiles.my-vault]\nhost = \"192.0.2.1\"\nrotate = true\nsecret = \"keyring\"\n\
             door = \"my vault\"\nperiod_s = 60\nlength = 6\nport_range = \"20000-20100\"\n\
             exclude_ports = [20022, 20080]\nprotocol = \"both\"\nopen_port = 22\n"
        ),
        "{text}"
    );
    let file = ProfileFile::parse(&text, &env.profiles()).unwrap();
    let vault = &file.rotating["my-vault"];
    assert_eq!(vault.rotation.door, "my vault");
    assert_eq!(
        vault.rotation.params,
        Params {
            period: Duration::from_secs(60),
            length: 6,
            range: 20000..=20100,
            exclude: vec![20022, 20080],
            protos: ProtoChoice::Both,
        }
    );
    assert_eq!(
        vault
            .options
            .open_port
            .map(knock_profiles::options::Port::get),
        Some(22)
    );
    assert!(file.profiles.contains_key("openSSH"));

    // --force replaces the fixed "plain" with the rotating door, cleanly.
    let out = import(true);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("  knock --set-secret plain < /etc/knock/plain.secret\n"),
        "{}",
        stderr_of(&out)
    );
    let text = fs::read_to_string(env.profiles()).unwrap();
    assert!(
        text.starts_with(
            "# mine\n[profiles.plain]\nhost = \"192.0.2.1\"\nrotate = true\nsecret = \"keyring\"\nopen_port = 22\n"
        ),
        "{text}"
    );
    let file = ProfileFile::parse(&text, &env.profiles()).unwrap();
    assert_eq!(file.rotating["plain"].rotation.params, Params::default());
    assert!(!file.profiles.contains_key("plain"));
}

/// The retry of a rotating profile on the real clock (period 5 s, so this
/// takes up to ~7 s): attempt 2 waits for the next period and knocks that
/// step's sequence, never step T's again (the server would refuse it as a
/// replay). The waiting itself is tested with a fake clock in
/// knock-profiles' send.rs.
#[test]
fn a_failed_rotating_knock_retries_with_the_next_steps_sequence() {
    let env = Env::new();
    let (start, socks) = bind_range();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    env.rotating(&format!(
        "port_range = \"{start}-{}\"\nprotocol = \"udp\"\nlength = 3\nperiod_s = 5\n\
         open_port = {closed}\nwait_ms = 200\nretries = 1\n",
        start + 7
    ));
    let out = env.run(&["vault", "-v"]);
    drop(socks);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains(&format!("knock: port {closed} did not open; waiting "))
            && err.contains(" ms for the next period to knock again\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "port {closed} on 127.0.0.1 did not open within 200 ms (after 2 attempts)"
        )),
        "{err}"
    );
    let first = step_in(&err);
    let (rotation, door) = env.rotation();
    let hits: Vec<Knock> = stdout_of(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("hitting udp 127.0.0.1:"))
        .map(|p| Knock::udp(p.parse().unwrap()))
        .collect();
    let mut want: Vec<Knock> = rotation.sequence_at(&door, first).knocks().to_vec();
    want.extend(rotation.sequence_at(&door, first + 1).knocks());
    assert_eq!(hits, want, "{err}");
    assert!(err.contains(&format!("step {} of 5 s", first + 1)), "{err}");
}
