//! Every config shipped under `assets/` loads, and `knock-server --check`
//! accepts it and lists each of its doors; the firewall examples open the
//! door the way their comments say (iptables: `-I`, before the DROP;
//! nftables: a set element with its own timeout); `--man` needs no config.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use knock_profiles::knockd_conf::{Door, KnockdConfig};

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

/// Every `*.conf` under `assets/` (recursively), sorted.
fn shipped_confs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "conf") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&assets(), &mut out);
    out.sort();
    out
}

fn load(path: &Path) -> KnockdConfig {
    KnockdConfig::load(path).unwrap_or_else(|e| panic!("{e}"))
}

fn door<'a>(cfg: &'a KnockdConfig, name: &str) -> &'a Door {
    cfg.doors
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no door {name} in {cfg:?}"))
}

fn server() -> Command {
    Command::cargo_bin("knock-server").unwrap()
}

#[test]
fn the_known_examples_are_found() {
    let names: Vec<String> = shipped_confs()
        .iter()
        .map(|p| {
            p.strip_prefix(assets())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for want in [
        "knockd.conf",
        "firewall/knock-iptables.conf",
        "firewall/knock-nftables.conf",
        "firewall/knock-ipfw.conf",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
}

#[test]
fn every_shipped_config_parses_cleanly() {
    for path in shipped_confs() {
        let cfg = load(&path);
        let shown = path.display();
        assert!(
            cfg.warnings.is_empty(),
            "{shown}: warnings {:?}",
            cfg.warnings
        );
        assert!(
            !cfg.doors.is_empty() || !cfg.rotating.is_empty(),
            "{shown}: no door"
        );
        for d in &cfg.doors {
            assert!(
                d.commands.start_for(false).is_some(),
                "{shown}: door {} runs nothing",
                d.name
            );
        }
    }
}

#[test]
fn knock_server_check_accepts_every_shipped_config_and_lists_its_doors() {
    for path in shipped_confs() {
        let cfg = load(&path);
        let out = server()
            .arg("--check")
            .arg("-c")
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown = path.display();
        assert!(
            out.status.success(),
            "{shown}: --check failed:\n{stdout}{stderr}"
        );
        assert!(
            stderr.trim().is_empty(),
            "{shown}: --check warned:\n{stderr}"
        );
        let names: Vec<&str> = cfg
            .doors
            .iter()
            .map(|d| d.name.as_str())
            .chain(cfg.rotating.iter().map(|d| d.name.as_str()))
            .collect();
        for name in &names {
            assert!(
                stdout.contains(&format!("door {name} (")),
                "{shown}: door {name} not listed:\n{stdout}"
            );
        }
        let listed = stdout.lines().filter(|l| l.starts_with("door ")).count();
        assert_eq!(listed, names.len(), "{shown}:\n{stdout}");
    }
}

/// The words of `cmd` from the iptables/ip6tables program on, if it runs one.
fn iptables_args(cmd: &str) -> Option<Vec<&str>> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let at = words.iter().position(|w| {
        let prog = w.rsplit('/').next().unwrap_or(w);
        prog.starts_with("iptables") || prog.starts_with("ip6tables")
    })?;
    Some(words[at..].to_vec())
}

#[test]
fn the_iptables_example_inserts_its_accept_before_the_drop() {
    let cfg = load(&assets().join("firewall/knock-iptables.conf"));
    let open = door(&cfg, "openSSH");
    for (ipv6, prog) in [(false, "iptables"), (true, "ip6tables")] {
        let start = open.commands.start_for(ipv6).unwrap();
        let args = iptables_args(start).unwrap_or_else(|| panic!("not iptables: {start}"));
        assert!(args[0].ends_with(&format!("/{prog}")), "{start}");
        // -I puts the ACCEPT at the top; -A would append it after the DROP,
        // where it never matches.
        assert_eq!(args[1..3], ["-I", "INPUT"], "{start}");
        assert!(
            start.contains("-s %IP%") && start.ends_with("-j ACCEPT"),
            "{start}"
        );
        // The stop deletes that same rule.
        let stop = open.commands.stop_for(ipv6).unwrap();
        assert_eq!(stop, start.replacen(" -I ", " -D ", 1), "{stop}");
    }
}

#[test]
fn no_shipped_config_appends_an_iptables_accept() {
    for path in shipped_confs() {
        let cfg = load(&path);
        for d in &cfg.doors {
            for cmd in [d.commands.start_for(false), d.commands.start_for(true)]
                .into_iter()
                .flatten()
            {
                if let Some(args) = iptables_args(cmd) {
                    assert!(
                        !args.contains(&"-A"),
                        "{}: door {}: -A appends after the DROP: {cmd}",
                        path.display(),
                        d.name
                    );
                }
            }
        }
    }
}

#[test]
fn the_nftables_example_adds_an_element_with_a_timeout_to_a_timeout_set() {
    let cfg = load(&assets().join("firewall/knock-nftables.conf"));
    let open = door(&cfg, "openSSH");
    let ruleset = std::fs::read_to_string(assets().join("firewall/knock-nftables.nft")).unwrap();
    for (ipv6, set) in [(false, "knocked"), (true, "knocked6")] {
        let start = open.commands.start_for(ipv6).unwrap();
        let want = format!("nft add element inet filter {set} {{ %IP% timeout ");
        let at = start
            .find(&want)
            .unwrap_or_else(|| panic!("no {want:?} in {start}"));
        // "30s }": a number of seconds, then the end of the element.
        let rest = &start[at + want.len()..];
        let secs = rest.trim_end_matches(" }").trim_end_matches('s');
        assert!(
            rest.ends_with("s }") && secs.parse::<u32>().is_ok_and(|s| s > 0),
            "{start}"
        );
        // The kernel closes the door: nothing for the server to undo.
        assert_eq!(open.commands.stop_for(ipv6), None, "{set}");
        // The set exists in the shipped ruleset and takes per-element timeouts.
        let decl = ruleset
            .find(&format!("set {set} {{"))
            .unwrap_or_else(|| panic!("no set {set} in knock-nftables.nft"));
        let body = &ruleset[decl..decl + ruleset[decl..].find('}').unwrap()];
        assert!(body.contains("flags timeout"), "set {set}: {body}");
    }
}

#[test]
fn man_page_needs_no_config_and_is_section_8() {
    let dir = tempfile::tempdir().unwrap();
    let out = server()
        .arg("--man")
        .current_dir(dir.path())
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains("\n.TH knock-server 8 "), "{page}");
    assert!(page.contains(".SH SIGNALS"), "{page}");
    // --man is alone: it cannot be mixed with a run (or a config to read).
    server()
        .args(["--man", "-c", "/nonexistent/knockd.conf"])
        .assert()
        .code(2);
}
