//! Rotating doors end to end without root: `--read` of captures whose
//! packet times decide the step, `--check`, the secret file's mode, and the
//! live pipeline's period timer and capture filter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use knock_profiles::{Sequence, TcpFlags};
use knock_server::event::build;

/// The known-answer vector "defaults" (profiles/testdata/rotate-vectors.toml).
const SECRET: &str = "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK";
const OTHER_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEE";
const T: u64 = 1_700_000_000_000;
const SEQ: &str = "23563,19361,17193,56572";
const PERIOD_MS: u64 = 30_000;

fn server() -> Command {
    Command::cargo_bin("knock-server").unwrap()
}

/// `knock-server -c CONF --check`.
fn check(conf: &Path) -> std::process::Output {
    server()
        .arg("-c")
        .arg(conf)
        .arg("--check")
        .output()
        .unwrap()
}

fn secret_file(dir: &Path, name: &str, secret: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn config(dir: &Path, secret: &Path) -> PathBuf {
    let c = dir.join("knockd.conf");
    std::fs::write(
        &c,
        format!(
            "[options]\n    LogFile = /nonexistent/unused.log\n\
             [fixed]\n    Sequence = 7000,8000\n    Command = fixed %IP%\n\
             [myserver]\n    Rotate = yes\n    Secret_File = {}\n    Period = 30\n    Length = 4\n\
             \x20   Port_Range = 10000-60000\n    Seq_Timeout = 10\n    TCPFlags = syn\n\
             \x20   Start_Command = open %IP%\n",
            secret.display()
        ),
    )
    .unwrap();
    c
}

/// The knocks of `seq` from `src`, 100 ms apart from `at` (ms).
fn knocks(src: &str, seq: &str, at: u64) -> Vec<(u64, Vec<u8>)> {
    let s: IpAddr = src.parse().unwrap();
    let d: IpAddr = "192.0.2.1".parse().unwrap();
    Sequence::parse(seq)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                at + 100 * i as u64,
                build::ethernet(s, d, *k, TcpFlags::SYN).unwrap(),
            )
        })
        .collect()
}

fn read(dir: &Path, conf: &Path, frames: &[(u64, Vec<u8>)]) -> (String, String) {
    let pcap = dir.join("k.pcap");
    std::fs::write(&pcap, build::pcap_file(1, frames)).unwrap();
    let out = server()
        .arg("-c")
        .arg(conf)
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
fn read_opens_a_rotating_knock_once_and_refuses_its_replay() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), &secret_file(dir.path(), "s", SECRET, 0o600));
    let mut frames = knocks("192.0.2.7", SEQ, T);
    // The same packets again 5 s later, within the window.
    let replay: Vec<_> = frames.iter().map(|(t, f)| (t + 5_000, f.clone())).collect();
    frames.extend(replay);
    let (stdout, stderr) = read(dir.path(), &conf, &frames);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["dry-run: myserver: open 192.0.2.7"],
        "{stderr}"
    );
    assert_eq!(stderr.matches("myserver: OPEN SESAME").count(), 1);
    assert!(
        stderr.contains(
            "192.0.2.7: myserver: sequence already used in this period (replay?), not opening"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("1 replays refused"), "{stderr}");
}

#[test]
fn read_of_the_knock_three_periods_later_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), &secret_file(dir.path(), "s", SECRET, 0o600));
    let (stdout, stderr) = read(
        dir.path(),
        &conf,
        &knocks("192.0.2.7", SEQ, T + 3 * PERIOD_MS),
    );
    assert_eq!(stdout, "", "{stderr}");
    assert!(!stderr.contains("OPEN SESAME"), "{stderr}");
    // One period later it still opens (step T is accepted as T-1).
    let (stdout, _) = read(dir.path(), &conf, &knocks("192.0.2.7", SEQ, T + PERIOD_MS));
    assert_eq!(stdout.trim(), "dry-run: myserver: open 192.0.2.7");
}

#[test]
fn read_of_a_knock_made_with_another_secret_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), &secret_file(dir.path(), "s", SECRET, 0o600));
    let other = knock_profiles::rotate::Rotation::new(
        knock_profiles::rotate::Params::default(),
        knock_profiles::secret::Secret::parse_base32(OTHER_SECRET).unwrap(),
    )
    .unwrap();
    let (_, wrong) = other.sequence_now("myserver", T / 1000);
    let mut frames = knocks("192.0.2.7", &wrong.to_string(), T);
    // The fixed door next to it still works.
    frames.extend(knocks("192.0.2.8", "7000,8000", T + 1_000));
    let (stdout, stderr) = read(dir.path(), &conf, &frames);
    assert_eq!(stdout.trim(), "dry-run: fixed: fixed 192.0.2.8", "{stderr}");
}

#[test]
fn a_secret_file_others_can_read_is_refused_naming_file_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path(), "s", SECRET, 0o640);
    let conf = config(dir.path(), &secret);
    for args in [vec!["--check"], vec!["--read", "/nonexistent.pcap"]] {
        let out = server().arg("-c").arg(&conf).args(&args).output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want = format!(
            "knock-server: {}:6: door \"myserver\": {}: secret file is readable by group or others (mode 0640); run chmod 600 {}",
            conf.display(),
            secret.display(),
            secret.display()
        );
        assert!(stderr.starts_with(&want), "{args:?}: {stderr}");
    }
    // A missing file and a bad secret are named too.
    std::fs::remove_file(&secret).unwrap();
    let out = check(&conf);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("{}: ", secret.display())),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    secret_file(dir.path(), "s", "AAAAAAAA", 0o600);
    let out = check(&conf);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("at least 128 are needed"), "{stderr}");
}

#[test]
fn check_shows_a_rotating_door_but_never_its_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), &secret_file(dir.path(), "s", SECRET, 0o400));
    let out = check(&conf);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.starts_with(&format!("config {}: 2 door(s)", conf.display())));
    assert!(stdout.contains("door myserver ("), "{stdout}");
    assert!(
        stdout.contains("sequence:       rotating (4 knocks, new every 30s"),
        "{stdout}"
    );
    assert!(stdout.contains("port range:     10000-60000"));
    assert!(stdout.contains("start_command:  open %IP%"));
    assert!(stdout.contains("capture filter (ports and flags; destinations added at start): ((tcp dst port (7000 or 8000)))"), "{stdout}");
    // No port of any accepted step appears (steps of now; any 5-digit port
    // in the range would be one).
    let rotation = knock_profiles::rotate::Rotation::new(
        knock_profiles::rotate::Params::default(),
        knock_profiles::secret::Secret::parse_base32(SECRET).unwrap(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for step in rotation.params().steps_accepted(now) {
        for k in rotation.sequence_at("myserver", step).iter() {
            assert!(
                !stdout.contains(&k.port.to_string()),
                "port {} shown: {stdout}",
                k.port
            );
        }
    }
}

#[test]
fn too_many_rotating_doors_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path(), "s", SECRET, 0o600);
    let mut text = String::new();
    for i in 0..22 {
        text.push_str(&format!(
            "[r{i}]\nrotate = yes\nsecret_file = {}\n",
            secret.display()
        ));
    }
    let c = dir.path().join("knockd.conf");
    std::fs::write(&c, text).unwrap();
    let out = check(&c);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("too many doors: 0 fixed and 22 rotating use 66 of 63 matching slots"),
        "{stderr}"
    );
}

/// The live path: the pipeline's timer turns the period on packet time and
/// on idle (wall clock), and says when the capture filter must change; the
/// filter then holds the ports of the new steps.
#[test]
fn the_pipeline_turns_periods_and_asks_for_a_new_filter() {
    use knock_profiles::knockd_conf::KnockdConfig;
    use knock_server::detector::{Destinations, Detector};
    use knock_server::event::Link;
    use knock_server::logger::Logger;
    use knock_server::pipeline::Pipeline;
    use knock_server::rotation::{self, Rotating, Rotator};
    use knock_server::source::Source;

    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), &secret_file(dir.path(), "s", SECRET, 0o600));
    let cfg = KnockdConfig::load(&conf).unwrap();
    let layout = knock_server::doors::layout(&cfg);
    let det = Detector::new(layout.specs, Destinations::Any, 1024).unwrap();
    let (to, rx) = knock_server::runner::channels(64, 64);
    let rot = rotation::load(&cfg.rotating[0]).unwrap();
    let seq_of = |step: u64| rot.sequence_at("myserver", step);
    let live = Source::Live {
        interface: "veth0".into(),
        journal: None,
        open_without_journal: false,
    };
    let mut p =
        Pipeline::new(&live, det, to, 0, Logger::memory()).with_rotator(Rotator::new(vec![
            Rotating {
                name: "myserver".into(),
                rotation: rot.clone(),
                base: layout.rotating_base[0],
            },
        ]));
    let filter = |p: &Pipeline| p.filter(&[]).unwrap();
    // Before any time is known, no rotating port is in the filter.
    assert_eq!(filter(&p), "((tcp dst port (7000 or 8000)))");
    let t = T / PERIOD_MS;
    // A packet of no interest at T: the timer runs first.
    let noise = knocks("198.18.0.1", "22", T);
    assert!(p.feed(Link::Ethernet, &noise[0].1, T).filter_changed);
    for step in [t - 1, t, t + 1] {
        for k in seq_of(step).iter() {
            assert!(filter(&p).contains(&k.port.to_string()), "{step}: {k}");
        }
    }
    // Same period: nothing to do.
    assert!(
        !p.feed(Link::Ethernet, &noise[0].1, T + 1_000)
            .filter_changed
    );
    assert!(!p.idle(T + 2_000).filter_changed);
    // Idle across the boundary (no packet got through the old filter).
    let next = (t + 1) * PERIOD_MS;
    assert!(p.idle(next).filter_changed);
    let f = filter(&p);
    for k in seq_of(t + 2).iter() {
        assert!(f.contains(&k.port.to_string()), "{k} not in {f}");
    }
    // The knock of T+2 (a client clock ahead) opens through the pipeline.
    for (ts, frame) in knocks("192.0.2.7", &seq_of(t + 2).to_string(), next + 500) {
        p.feed(Link::Ethernet, &frame, ts);
    }
    drop(p);
    let opened = rx
        .control
        .iter()
        .filter(|j| {
            matches!(
                j,
                knock_server::runner::Message::Notice(
                    knock_server::detector::Notice::Opened { .. },
                    _
                )
            )
        })
        .count();
    assert_eq!(opened, 1);
}
