//! The `knock` command as a user runs it: flags, messages, exit codes, and
//! the profile file it edits. Needs no root and no network (loopback only).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed setup should panic

use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

const USAGE: i32 = 2;
const CONFIG: i32 = 3;
const RESOLVE: i32 = 4;
const VERIFY: i32 = 6;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn profiles(&self) -> PathBuf {
        self.dir.path().join("profiles.toml")
    }

    fn write(&self, text: &str) -> PathBuf {
        let path = self.profiles();
        fs::write(&path, text).expect("write profiles");
        path
    }

    fn read(&self) -> String {
        fs::read_to_string(self.profiles()).expect("read profiles")
    }

    /// `knock` with KNOCK_PROFILES pointing into the temp dir and no HOME.
    fn knock(&self) -> Command {
        let mut cmd = Command::cargo_bin("knock").expect("knock binary");
        cmd.env("KNOCK_PROFILES", self.profiles())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"));
        cmd
    }

    /// `knock 127.0.0.1 7000 --open-port PORT --wait WAIT_MS EXTRA...`: one
    /// knock on loopback, then a wait for PORT to accept.
    fn verified(&self, port: u16, wait_ms: &str, extra: &[&str]) -> Command {
        let port = port.to_string();
        let mut cmd = self.knock();
        cmd.args(["127.0.0.1", "7000", "--open-port", &port, "--wait", wait_ms])
            .args(extra);
        cmd
    }
}

/// A loopback TCP port with nothing listening on it.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_teaches_usage_and_exit_codes() {
    let env = Env::new();
    let out = env.knock().arg("--help").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "HOST PORT[:PROTO]",
        "--udp",
        "--delay",
        "--ipv4",
        "--ipv6",
        "--save",
        "--import",
        "Exit status:",
        "6    verify",
        "knock myserver && ssh myserver",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
    insta::assert_snapshot!("help", text);
}

#[test]
fn short_help_and_version() {
    let env = Env::new();
    env.knock()
        .arg("-h")
        .assert()
        .success()
        .stdout(contains("Usage: knock"));
    env.knock()
        .arg("-V")
        .assert()
        .success()
        .stdout(contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn nothing_to_knock_is_a_usage_error() {
    let env = Env::new();
    env.knock()
        .assert()
        .code(USAGE)
        .stderr(contains("knock: nothing to knock"));
}

#[test]
fn bad_ports_are_usage_errors_naming_the_token_and_nothing_is_sent() {
    let env = Env::new();
    // A UDP socket on loopback that would see any knock that went out.
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_nonblocking(true).expect("nonblocking");
    let port = sock.local_addr().expect("addr").port();
    for (bad, needle) in [
        ("0", "port out of range in \"0\""),
        ("65536", "port out of range in \"65536\""),
        ("80x0", "bad port \"80x0\""),
        ("7000:icmp", "unknown protocol in \"7000:icmp\""),
    ] {
        let out = env
            .knock()
            .args(["-u", "127.0.0.1", &port.to_string(), bad])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(USAGE), "{bad}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(needle),
            "{bad}: {}",
            stderr_of(&out)
        );
        let mut buf = [0u8; 8];
        assert!(sock.recv(&mut buf).is_err(), "{bad}: a knock was sent");
    }
}

#[test]
fn clap_usage_errors_exit_2() {
    let env = Env::new();
    env.knock()
        .args(["-4", "-6", "127.0.0.1", "1"])
        .assert()
        .code(USAGE);
    env.knock()
        .args(["-d", "soon", "127.0.0.1", "1"])
        .assert()
        .code(USAGE)
        .stderr(contains("--delay"));
    env.knock()
        .args(["--import", "x.conf"])
        .assert()
        .code(USAGE)
        .stderr(contains("--host"));
    // Past what the profile file can hold (a TOML integer): refused, not
    // saved clamped.
    for flag in ["-d", "--wait"] {
        env.knock()
            .args([
                "--save",
                "web",
                "127.0.0.1",
                "1",
                flag,
                "18446744073709551615",
            ])
            .assert()
            .code(USAGE)
            .stderr(contains("18446744073709551615"));
    }
}

#[test]
fn family_without_address_is_a_resolve_error() {
    let env = Env::new();
    env.knock()
        .args(["-6", "127.0.0.1", "7000"])
        .assert()
        .code(RESOLVE)
        .stderr(contains("127.0.0.1").and(contains("IPv6")));
}

#[test]
fn udp_knocks_arrive_in_order_one_datagram_each() {
    let env = Env::new();
    let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (pa, pb) = (
        a.local_addr().expect("a").port(),
        b.local_addr().expect("b").port(),
    );
    env.knock()
        .args([
            "-v",
            "127.0.0.1",
            &format!("{pa}:udp"),
            &format!("{pb}:udp"),
        ])
        .assert()
        .success()
        .stdout(
            contains(format!("hitting udp 127.0.0.1:{pa}"))
                .and(contains(format!("hitting udp 127.0.0.1:{pb}"))),
        );
    for s in [&a, &b] {
        s.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0u8; 16];
        let n = s.recv(&mut buf).expect("a datagram arrived");
        assert_eq!(n, 1, "one-byte payload");
        assert!(s.recv(&mut buf).is_err(), "exactly one datagram");
    }
}

#[test]
fn verify_failure_exits_6_and_success_exits_0() {
    let env = Env::new();
    let port = closed_port();
    let out = env.verified(port, "300", &[]).output().expect("run");
    assert_eq!(out.status.code(), Some(VERIFY), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(&port.to_string()));

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = listener.local_addr().expect("addr").port();
    env.verified(open, "2000", &[]).assert().success();
}

#[test]
fn show_prints_toml_that_parses_back() {
    let env = Env::new();
    // A host and a user that need escaping in TOML.
    env.write(
        "[defaults]\nuser = \"o'neil \\\"admin\\\"\"\n\n\
         [profiles.web]\nhost = \"we\\\\b\\\"x\"\nsequence = \"7000,8000:udp\"\n\n\
         [profiles.vault]\nhost = \"va\\\"ult\\\\\"\nrotate = true\nretries = 1\n",
    );
    let origin = std::path::Path::new("shown.toml");
    let file = knock_profiles::profile::ProfileFile::parse(&env.read(), origin).unwrap();
    for name in ["web", "vault"] {
        let out = env.knock().args(["--show", name]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let shown = String::from_utf8(out.stdout).unwrap();
        let back = knock_profiles::profile::ProfileFile::parse(&shown, origin)
            .unwrap_or_else(|e| panic!("{e}\n{shown}"));
        assert_eq!(back.settings(name), file.settings(name), "{shown}");
    }
}

#[test]
fn save_list_show_remove_round_trip() {
    let env = Env::new();
    env.write("# my knock profiles\n[defaults]\ndelay_ms = 50 # fast\n");
    env.knock()
        .args([
            "--save",
            "web",
            "192.0.2.10",
            "7000",
            "8000:udp",
            "9000",
            "--open-port",
            "22",
            "--user",
            "admin",
        ])
        .assert()
        .success()
        .stderr(contains("saved profile \"web\""));
    let text = env.read();
    assert!(
        text.contains("# my knock profiles") && text.contains("# fast"),
        "{text}"
    );
    assert!(text.contains("[profiles.web]"), "{text}");
    assert!(text.contains("7000,8000:udp,9000"), "{text}");

    env.knock().arg("--list").assert().success().stdout(
        contains("web")
            .and(contains("192.0.2.10"))
            .and(contains("7000,8000:udp,9000")),
    );

    // --show fills in defaults: delay from [defaults], wait from the built-ins.
    env.knock()
        .args(["--show", "web"])
        .assert()
        .success()
        .stdout(
            contains("delay_ms = 50")
                .and(contains("open_port = 22"))
                .and(contains("wait_ms = 3000"))
                .and(contains("user = \"admin\"")),
        );

    // Saving over an existing profile needs --force.
    env.knock()
        .args(["--save", "web", "192.0.2.11", "1"])
        .assert()
        .code(USAGE)
        .stderr(contains("--force"));
    env.knock()
        .args(["--save", "web", "192.0.2.11", "1", "--force"])
        .assert()
        .success();
    assert!(env.read().contains("192.0.2.11"));

    env.knock().args(["--remove", "web"]).assert().success();
    let text = env.read();
    assert!(!text.contains("[profiles.web]"), "{text}");
    assert!(text.contains("# my knock profiles"), "{text}");
    env.knock()
        .args(["--remove", "web"])
        .assert()
        .code(CONFIG)
        .stderr(contains("no profile named \"web\""));
}

#[test]
fn unknown_profile_suggests_the_closest_name() {
    let env = Env::new();
    env.write("[profiles.myserver]\nhost = \"192.0.2.1\"\nsequence = \"7000\"\n");
    env.knock().arg("myservr").assert().code(CONFIG).stderr(
        contains("no profile named \"myservr\"").and(contains("did you mean \"myserver\"")),
    );
}

#[test]
fn broken_profile_file_names_file_line_and_column() {
    let env = Env::new();
    let path = env.write(
        "[profiles.myserver]\nhost = \"192.0.2.1\"\nsequnce = \"7000\"\nsequence = \"7000\"\n",
    );
    let out = env.knock().arg("myserver").output().expect("run");
    assert_eq!(out.status.code(), Some(CONFIG));
    let err = stderr_of(&out);
    let want = format!("{}:3:1: unknown key \"sequnce\"", path.display());
    assert!(err.contains(&want), "want {want:?} in {err}");
    assert!(err.contains("did you mean \"sequence\""), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn profiles_flag_overrides_the_environment() {
    let env = Env::new();
    let other = env.dir.path().join("other.toml");
    fs::write(
        &other,
        "[profiles.alt]\nhost = \"192.0.2.5\"\nsequence = \"1\"\n",
    )
    .expect("write");
    env.knock()
        .args(["--profiles", other.to_str().expect("utf8"), "--list"])
        .assert()
        .success()
        .stdout(contains("alt"));
}

#[test]
fn dry_run_shows_the_plan_and_sends_nothing() {
    let env = Env::new();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_nonblocking(true).expect("nonblocking");
    let port = sock.local_addr().expect("addr").port();
    env.write(&format!(
        "[profiles.lab]\nhost = \"127.0.0.1\"\nsequence = \"{port}:udp,7000\"\ndelay_ms = 250\nopen_port = 22\nretries = 1\n"
    ));
    env.knock()
        .args(["--dry-run", "lab"])
        .assert()
        .success()
        .stdout(
            contains(format!("udp 127.0.0.1:{port}"))
                .and(contains("tcp 127.0.0.1:7000"))
                .and(contains("wait 250 ms"))
                .and(contains("tcp port 22")),
        );
    let mut buf = [0u8; 4];
    assert!(sock.recv(&mut buf).is_err(), "dry run sent a knock");
}

#[test]
fn profile_knock_uses_the_profile_and_close_uses_close_sequence() {
    let env = Env::new();
    let open = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let close = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (po, pc) = (
        open.local_addr().expect("a").port(),
        close.local_addr().expect("b").port(),
    );
    env.write(&format!(
        "[profiles.lab]\nhost = \"127.0.0.1\"\nsequence = \"{po}:udp\"\nclose_sequence = \"{pc}:udp\"\ndelay_ms = 0\n"
    ));
    let mut buf = [0u8; 4];
    env.knock().arg("lab").assert().success();
    open.set_nonblocking(true).expect("nb");
    close.set_nonblocking(true).expect("nb");
    assert_eq!(open.recv(&mut buf).ok(), Some(1));
    assert!(close.recv(&mut buf).is_err());
    env.knock().args(["--close", "lab"]).assert().success();
    assert_eq!(close.recv(&mut buf).ok(), Some(1));
    assert!(open.recv(&mut buf).is_err());
}

#[test]
fn close_without_close_sequence_is_a_usage_error() {
    let env = Env::new();
    env.write("[profiles.lab]\nhost = \"127.0.0.1\"\nsequence = \"7000\"\n");
    env.knock()
        .args(["--close", "lab"])
        .assert()
        .code(USAGE)
        .stderr(contains("no close_sequence"));
}

#[test]
fn import_turns_doors_into_profiles() {
    let env = Env::new();
    let conf = env.dir.path().join("knockd.conf");
    fs::write(
        &conf,
        "[options]\n  logfile = /var/log/knockd.log\n\n[openSSH]\n  sequence = 7000,8000,9000\n  seq_timeout = 5\n  command = /sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n  tcpflags = syn\n\n[closeSSH]\n  sequence = 9000:udp,8000,7000\n  command = true\n",
    )
    .expect("write conf");
    env.knock()
        .args([
            "--import",
            conf.to_str().expect("utf8"),
            "--host",
            "192.0.2.1",
        ])
        .assert()
        .success();
    env.knock().arg("--list").assert().success().stdout(
        contains("openSSH")
            .and(contains("7000,8000,9000"))
            .and(contains("closeSSH"))
            .and(contains("9000:udp,8000,7000")),
    );
}

#[test]
fn ssh_launch_failure_exits_7() {
    // `--ssh` with a custom launch command that cannot start: the knock and
    // the verify succeed (a listener on loopback), the launch does not.
    let env = Env::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    env.write(&format!(
        "[profiles.lab]\nhost = \"127.0.0.1\"\nsequence = \"7000\"\nssh_port = {port}\nlaunch = \"putty\"\n"
    ));
    let out = env
        .knock()
        .args(["lab", "--ssh"])
        .env("PATH", env.dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("cannot start putty"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn completions_and_man_page() {
    let env = Env::new();
    env.knock()
        .args(["--completions", "bash"])
        .assert()
        .success()
        .stdout(contains("_knock()").and(contains("--profiles")));
    env.knock()
        .arg("--man")
        .assert()
        .success()
        .stdout(contains(".TH knock").and(contains("Exit status")));
}

#[test]
fn a_host_without_ports_is_a_usage_error_not_an_unknown_profile() {
    let env = Env::new();
    env.write("[profiles.lab]\nhost = \"192.0.2.1\"\nsequence = \"7000\"\n");
    env.knock()
        .arg("192.0.2.9")
        .assert()
        .code(USAGE)
        .stderr(contains("no ports to knock on 192.0.2.9").and(contains("knock 192.0.2.9 PORT")));
    env.knock()
        .arg("labx")
        .assert()
        .code(CONFIG)
        .stderr(contains("no profile named \"labx\"").and(contains("did you mean \"lab\"")));
}

#[test]
fn a_failed_verify_is_one_line_and_a_retry_says_it_knocks_again() {
    let env = Env::new();
    let port = closed_port();
    let out = env.verified(port, "200", &[]).output().expect("run");
    assert_eq!(out.status.code(), Some(VERIFY));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "port {port} on 127.0.0.1 did not open within 200 ms"
        )),
        "{err}"
    );

    let out = env
        .verified(port, "200", &["--retries", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(VERIFY));
    let err = stderr_of(&out);
    assert!(
        err.contains("did not open (attempt 1 of 2); knocking again"),
        "{err}"
    );
    assert!(err.contains("(after 2 attempts)"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn show_of_an_unknown_profile_names_the_file() {
    let env = Env::new();
    let path = env.write("[profiles.lab]\nhost = \"192.0.2.1\"\nsequence = \"7000\"\n");
    env.knock()
        .args(["--show", "lbb"])
        .assert()
        .code(CONFIG)
        .stderr(contains(format!(
            "no profile named \"lbb\" in {} (did you mean \"lab\"?)",
            path.display()
        )));
}

#[test]
fn dry_run_with_ssh_shows_the_identity_file() {
    let env = Env::new();
    env.write(
        "[profiles.lab]\nhost = \"127.0.0.1\"\nsequence = \"7000\"\nidentity_file = \"~/.ssh/id_lab\"\n",
    );
    env.knock()
        .args(["lab", "--ssh", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("then start: ssh -4 -i ~/.ssh/id_lab 127.0.0.1\n"));
}

#[test]
fn dry_run_with_ssh_shows_what_would_be_started() {
    let env = Env::new();
    env.write(
        "[profiles.lab]\nhost = \"127.0.0.1\"\nsequence = \"7000\"\nuser = \"admin\"\nssh_port = 2222\n",
    );
    env.knock()
        .args(["--dry-run", "lab", "--ssh", "--", "-L", "8080:localhost:80"])
        .assert()
        .success()
        .stdout(
            contains("then wait up to 3000 ms for tcp port 2222").and(contains(
                "then start: ssh -4 -p 2222 -l admin -L 8080:localhost:80 127.0.0.1",
            )),
        );
    // Arguments after -- are ssh's: another launcher does not take them.
    env.write("[profiles.lab]\nhost = \"127.0.0.1\"\nsequence = \"7000\"\nlaunch = \"putty\"\n");
    env.knock()
        .args(["--dry-run", "lab", "--ssh", "--", "-v"])
        .assert()
        .success()
        .stdout(contains("then start: putty -ssh 127.0.0.1 -P 22"))
        .stderr(contains("arguments after -- are for ssh"));
}
