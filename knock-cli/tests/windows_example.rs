//! The example profile file of the Windows zip and installer
//! (assets/windows/profiles.toml): it parses as shipped, with the CRLF line
//! ends release.sh gives it, and its profiles launch what its comments say.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed setup should panic

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::str::contains;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/windows/profiles.toml")
}

fn knock(profiles: &Path, dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("knock").expect("knock binary");
    cmd.arg("--profiles")
        .arg(profiles)
        .env_remove("KNOCK_PROFILES")
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"));
    cmd
}

#[test]
fn the_windows_example_parses_with_lf_and_crlf_line_ends() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(example()).unwrap();
    assert!(
        !text.contains('\r'),
        "the committed example has LF line ends"
    );
    let crlf = dir.path().join("profiles.example.toml");
    fs::write(&crlf, text.replace('\n', "\r\n")).unwrap();
    for file in [example(), crlf] {
        let out = knock(&file, dir.path()).arg("--list").output().unwrap();
        assert!(out.status.success(), "{file:?}: {out:?}");
        let names: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        assert_eq!(names, ["myserver", "myserver-ssh", "web-admin"], "{file:?}");
    }
}

#[test]
fn the_windows_example_launches_putty_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let show = |name: &str| {
        knock(&example(), dir.path())
            .args(["--show", name])
            .assert()
            .success()
    };
    show("myserver")
        .stdout(contains("launch = \"putty\""))
        .stdout(contains("user = \"admin\""))
        .stdout(contains("open_port = 22"));
    show("myserver-ssh").stdout(contains("launch = \"ssh\""));
    show("web-admin").stdout(contains("launch = \"none\""));
}
