//! `knock-gui --knock-headless` without a network: the config errors
//! (nothing is sent). The knocking itself is tested against knockd by
//! tests/gui-e2e.sh (root, network namespaces).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// `knock-gui --knock-headless NAME` on a profile file holding `file`:
/// its exit code, stdout and stderr.
fn headless(file: &str, name: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    std::fs::write(&path, file).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_knock-gui"))
        .args(["--knock-headless", name])
        .env("KNOCK_PROFILES", &path)
        .output()
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn an_unknown_profile_is_a_config_error_with_a_hint() {
    let file = "[profiles.myserver]\nhost = \"192.0.2.1\"\nsequence = \"1,2\"\n";
    let (code, _, err) = headless(file, "myserver2");
    assert_eq!(code, Some(3));
    assert!(err.contains("myserver2"), "{err}");
    assert!(err.contains("myserver"), "{err}");
}

#[test]
fn a_broken_file_is_a_config_error_at_its_line() {
    let file = "[profiles.myserver]\nhost = \"192.0.2.1\"\nsequence = \"1,0\"\n";
    let (code, _, err) = headless(file, "myserver");
    assert_eq!(code, Some(3));
    assert!(err.contains(":3:"), "{err}");
}

#[test]
fn usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_knock-gui"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("usage: knock-gui"));
}

#[cfg(unix)]
#[test]
fn a_rotating_profile_without_its_secret_is_a_config_error_and_sends_nothing() {
    let file = "[profiles.vault]\nhost = \"192.0.2.1\"\nrotate = true\nsecret_cmd = \"echo locked >&2; exit 3\"\n";
    let (code, stdout, _) = headless(file, "vault");
    assert_eq!(code, Some(3), "{stdout}");
    assert_eq!(
        stdout.trim(),
        "cannot get the secret of \"vault\" from the command `echo locked >&2; exit 3`: secret_cmd `echo locked >&2; exit 3` failed with status 3: locked"
    );
}
