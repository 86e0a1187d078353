//! SPA doors through the binary: `--read` of a capture holding the real
//! fwknop client's packets (`profiles/testdata/spa/`, made by Debian's
//! fwknop 2.6.10; see its README) with packet time as the clock, and
//! `--check` of an SPA door.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use knock_server::event::build;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../profiles/testdata/spa")
        .join(name)
}

/// A packet as `fwknop --save-packet` wrote it (one line).
fn packet(name: &str) -> Vec<u8> {
    std::fs::read_to_string(testdata(&format!("{name}.pkt")))
        .unwrap()
        .trim()
        .as_bytes()
        .to_vec()
}

/// The timestamp fwknop's `-v` dump gives for a packet.
fn timestamp(name: &str) -> u64 {
    let text = std::fs::read_to_string(testdata(&format!("{name}.fields"))).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Timestamp: "))
        .unwrap()
        .parse()
        .unwrap()
}

/// The test access.conf (`profiles/testdata/spa/access.conf`) in `dir`,
/// private as the server wants it. Stanza 1: 192.0.2.0/24 and
/// 198.51.100.7, tcp/22 and udp/53, user alice, 5 s. Stanza 2: any
/// source, the passphrase keys, REQUIRE_SOURCE_ADDRESS, not tcp/23.
fn access_conf(dir: &Path) -> PathBuf {
    let p = dir.join("access.conf");
    std::fs::copy(testdata("access.conf"), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn conf(access: &Path) -> String {
    format!(
        "[options]\n    LogFile = /nonexistent/should-not-be-used.log\n\
         [vault]\n    SPA = yes\n    Access_File = {}\n    Cmd_Timeout = 7\n\
         \x20   Start_Command = open %IP% %PROTO% %PORT%\n\
         \x20   Stop_Command = close %IP% %PROTO% %PORT%\n",
        access.display()
    )
}

fn frame(src: &str, port: u16, payload: &[u8]) -> Vec<u8> {
    let s: IpAddr = src.parse().unwrap();
    build::ethernet_udp(s, "192.0.2.1".parse().unwrap(), port, payload).unwrap()
}

fn server() -> Command {
    Command::cargo_bin("knock-server").unwrap()
}

/// `knock-server -c CONF --read PCAP --dry-run`: (stdout, stderr).
fn read(dir: &Path, conf: &str, frames: &[(u64, Vec<u8>)]) -> (String, String) {
    let c = dir.join("knockd.conf");
    std::fs::write(&c, conf).unwrap();
    let pcap = dir.join("spa.pcap");
    std::fs::write(&pcap, build::pcap_file(1, frames)).unwrap();
    let out = server()
        .arg("-c")
        .arg(&c)
        .arg("--read")
        .arg(&pcap)
        .arg("--dry-run")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn read_opens_for_real_fwknop_packets_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let access = access_conf(dir.path());
    // Packet time: a few seconds after fwknop made them.
    let t = (timestamp("access") + 3) * 1000;
    assert_eq!(timestamp("passphrase"), timestamp("access"));
    let frames = vec![
        (t, frame("192.0.2.2", 62201, &packet("access"))),
        // The same packet captured and sent again (tcpreplay).
        (t + 1_000, frame("192.0.2.2", 62201, &packet("access"))),
        (t + 1_100, frame("192.0.2.2", 62201, &packet("stale"))),
        (
            t + 1_200,
            frame("192.0.2.2", 62201, &packet("source-multi")),
        ),
        (
            t + 1_300,
            frame("198.51.100.50", 62201, &packet("passphrase")),
        ),
        (
            t + 1_400,
            frame("192.0.2.2", 62201, &packet("sha512-digest")),
        ),
        (t + 1_500, frame("192.0.2.2", 62201, &packet("no-hmac"))),
        (t + 1_600, frame("198.18.0.1", 62201, &[b'Q'; 300])),
        // Not the SPA port: not looked at.
        (t + 1_700, frame("192.0.2.3", 62202, &packet("access"))),
        // Time passes: the stops are due (5 s and 7 s).
        (t + 9_000, frame("198.18.0.2", 9, b"tick")),
    ];
    let (stdout, stderr) = read(dir.path(), &conf(&access), &frames);
    let commands: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        commands,
        [
            "dry-run: vault: open 192.0.2.2 tcp 22",
            "dry-run: vault: open 203.0.113.9 udp 1194",
            "dry-run: vault: close 192.0.2.2 tcp 22",
            "dry-run: vault: close 203.0.113.9 udp 1194",
        ],
        "{stderr}"
    );
    let has = |want: &str| {
        assert!(
            stderr.lines().any(|l| l.contains(want)),
            "no line with {want:?} in:\n{stderr}"
        )
    };
    has("192.0.2.2: vault: OPEN SESAME (SPA, user alice: tcp/22 for 192.0.2.2, 5 s)");
    has("198.51.100.50: vault: OPEN SESAME (SPA, user dave: udp/1194 for 203.0.113.9, 7 s)");
    has("192.0.2.2: vault: SPA packet refused: replayed packet");
    let age = (t + 1_100) / 1000 - timestamp("stale");
    has(&format!(
        "192.0.2.2: vault: SPA packet refused: timestamp is {age} s old (at most 120 s allowed)"
    ));
    has(
        "192.0.2.2: vault: SPA packet refused: user \"bob\" is not the one REQUIRE_USERNAME allows",
    );
    has("192.0.2.2: vault: SPA packet refused: digest of 86 characters is not SHA-256");
    has("192.0.2.2: vault: SPA packet refused: bad HMAC");
    has("198.18.0.1: vault: SPA packet refused: bad HMAC");
    assert!(!stderr.contains("192.0.2.3"), "{stderr}");
    has("8 SPA packets (2 accepted, 6 refused, of them 2 replayed or stale; 0 lost)");
    // Keys never reach the log.
    let keys = std::fs::read_to_string(testdata("keys")).unwrap();
    for line in keys.lines().filter_map(|l| l.split_once(": ")) {
        assert!(!stderr.contains(line.1), "a key in the log");
    }
}

/// With packet time as the clock, the same capture replayed later in the
/// file is stale: the window follows the packets, not the wall clock.
#[test]
fn read_judges_age_on_packet_time() {
    let dir = tempfile::tempdir().unwrap();
    let access = access_conf(dir.path());
    let late = (timestamp("access") + 121) * 1000;
    let (stdout, stderr) = read(
        dir.path(),
        &conf(&access),
        &[(late, frame("192.0.2.2", 62201, &packet("access")))],
    );
    assert_eq!(stdout, "", "{stderr}");
    assert!(
        stderr.contains("SPA packet refused: timestamp is 121 s old"),
        "{stderr}"
    );
}

#[test]
fn check_prints_the_spa_door_and_its_stanzas_but_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let access = access_conf(dir.path());
    let c = dir.path().join("knockd.conf");
    std::fs::write(&c, conf(&access)).unwrap();
    let out = server().arg("-c").arg(&c).arg("--check").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for want in [
        "door vault (",
        "  spa:            fwknop SPA packets to udp/62201",
        &format!("  access file:    {} (2 stanza(s))", access.display()),
        &format!("  stanza {}:5", access.display()),
        "    source:       192.0.2.0/24, 198.51.100.7/32",
        "    open ports:   tcp/22, udp/53",
        "    open for:     5s (FW_ACCESS_TIMEOUT); a client's timeout up to 600s",
        "    user:         alice only",
        "    source:       ANY",
        "    open ports:   any requested",
        "    restricted:   tcp/23",
        "    open for:     7s (the door's); a client's timeout up to 300s",
        "    address:      the packet must name it (no 0.0.0.0)",
        "  start_command:  open %IP% %PROTO% %PORT%",
        "capture filter (ports and flags; destinations added at start): ((udp dst port (62201)))",
    ] {
        assert!(stdout.contains(want), "no {want:?} in:\n{stdout}");
    }
    let keys = std::fs::read_to_string(testdata("keys")).unwrap();
    for (_, key) in keys.lines().filter_map(|l| l.split_once(": ")) {
        assert!(!stdout.contains(key), "a key in --check");
    }
    assert!(!stdout.contains("correct horse"), "{stdout}");
}

#[test]
fn check_refuses_an_access_file_others_can_read_or_with_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let access = access_conf(dir.path());
    let c = dir.path().join("knockd.conf");
    std::fs::write(&c, conf(&access)).unwrap();
    std::fs::set_permissions(&access, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = server().arg("-c").arg(&c).arg("--check").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:3: door \"vault\": {}: access file is readable by group or others (mode 0644)",
            c.display(),
            access.display()
        )),
        "{stderr}"
    );
    std::fs::write(
        &access,
        "SOURCE ANY\nKEY k\nHMAC_KEY h\nGPG_HOME_DIR /root/.gnupg\n",
    )
    .unwrap();
    std::fs::set_permissions(&access, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = server().arg("-c").arg(&c).arg("--check").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:3: door \"vault\": {}:4: GPG_HOME_DIR is not supported by knock-server",
            c.display(),
            access.display()
        )),
        "{stderr}"
    );
}
