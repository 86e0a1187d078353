//! `--check` refuses exactly what start-up refuses: the detector's limits
//! (63 matching slots, 63 knocks per sequence), with `conf:line`, the door's
//! name and the limit in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;

fn long_sequence(n: u16) -> String {
    (0..n)
        .map(|i| (10_000 + i).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn run(conf: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let out = Command::cargo_bin("knock-server")
        .unwrap()
        .arg("-c")
        .arg(conf)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_too_long_sequence_is_refused_by_check_and_by_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("knockd.conf");
    std::fs::write(
        &conf,
        format!(
            "[options]\n  logfile = /dev/null\n\n[ok]\n  sequence = 1,2,3\n\n[long]\n  sequence = {}\n  command = true\n",
            long_sequence(71)
        ),
    )
    .unwrap();
    let want = format!(
        "{}:7: door \"long\": sequence too long (71 knocks; at most 63)",
        conf.display()
    );
    let (ok, err) = run(&conf, &["--check"]);
    assert!(!ok, "--check must fail: {err}");
    assert!(err.contains(&want), "{err}");
    let pcap = dir.path().join("none.pcap");
    let (ok, err) = run(&conf, &["--read", pcap.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains(&want), "{err}");
}

#[test]
fn a_sequence_at_the_limit_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("knockd.conf");
    std::fs::write(
        &conf,
        format!(
            "[edge]\n  sequence = {}\n  command = true\n",
            long_sequence(63)
        ),
    )
    .unwrap();
    let (ok, err) = run(&conf, &["--check"]);
    assert!(ok, "{err}");
}

#[test]
fn too_many_doors_names_the_first_door_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("knockd.conf");
    let mut text = String::new();
    for i in 0..64 {
        text.push_str(&format!(
            "[d{i}]\n  sequence = {}\n  command = true\n",
            1000 + i
        ));
    }
    std::fs::write(&conf, text).unwrap();
    // Door d63 (the 64th) starts on line 64 * 3 - 2.
    let want = format!(
        "{}:190: door \"d63\": too many doors: 64 fixed and 0 rotating use 64 of 63 matching slots",
        conf.display()
    );
    let (ok, err) = run(&conf, &["--check"]);
    assert!(!ok);
    assert!(err.contains(&want), "{err}");
}

#[test]
fn a_too_long_one_time_sequence_is_refused_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("knockd.conf");
    let ots = dir.path().join("ots");
    std::fs::write(&ots, format!("{}\n1,2\n", long_sequence(64))).unwrap();
    std::fs::write(
        &conf,
        format!(
            "[once]\n  one_time_sequences = {}\n  command = true\n",
            ots.display()
        ),
    )
    .unwrap();
    let (ok, err) = run(&conf, &["--check"]);
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!("{}:1: door \"once\": ", conf.display()))
            && err.contains("(64 knocks; at most 63)"),
        "{err}"
    );
}
