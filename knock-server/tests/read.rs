//! `--read FILE.pcap` on captures built here: the same matching as live,
//! with time from packet timestamps; plus `--check` and config errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::Path;

use assert_cmd::Command;
use knock_profiles::{Knock, TcpFlags};
use knock_server::event::build;

const SYN: u8 = TcpFlags::SYN;

fn frame(src: &str, dst: &str, k: Knock, flags: u8) -> Vec<u8> {
    let s: IpAddr = src.parse().unwrap();
    let d: IpAddr = dst.parse().unwrap();
    build::ethernet(s, d, k, flags).unwrap()
}

fn write_pcap(dir: &Path, name: &str, dlt: u32, frames: &[(u64, Vec<u8>)]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, build::pcap_file(dlt, frames)).unwrap();
    p
}

fn server() -> Command {
    Command::cargo_bin("knock-server").unwrap()
}

const CONF: &str = "\
[options]
    LogFile = /nonexistent/should-not-be-used.log
[openSSH]
    Sequence     = 7000,8000:udp,9000
    Seq_Timeout  = 5
    TCPFlags     = syn
    Command      = open4 %IP%
    Command_6    = open6 %IP%
    Cmd_Timeout  = 10
    Stop_Command = close4 %IP%
    Stop_Command_6 = close6 %IP%
";

/// `knock-server -c DIR/knockd.conf --read PCAP ARGS...`, with `conf`
/// written to that file first.
fn read_with(dir: &Path, conf: &str, pcap: &Path, args: &[&str]) -> std::process::Output {
    let c = dir.join("knockd.conf");
    std::fs::write(&c, conf).unwrap();
    server()
        .arg("-c")
        .arg(&c)
        .arg("--read")
        .arg(pcap)
        .args(args)
        .output()
        .unwrap()
}

fn run_read(dir: &Path, conf: &str, pcap: &Path) -> (String, String) {
    let out = read_with(dir, conf, pcap, &["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn read_opens_for_in_order_knockers_v4_and_v6_and_runs_stops() {
    let dir = tempfile::tempdir().unwrap();
    let t = 1_700_000_000_000u64;
    let frames = vec![
        (t, frame("192.0.2.7", "192.0.2.1", Knock::tcp(7000), SYN)),
        (
            t + 10,
            frame("2001:db8::7", "2001:db8::1", Knock::tcp(7000), SYN),
        ),
        // noise from another source and to other ports
        (
            t + 20,
            frame("198.18.0.1", "192.0.2.1", Knock::tcp(8000), SYN),
        ),
        (t + 30, frame("192.0.2.7", "192.0.2.1", Knock::tcp(22), SYN)),
        // a non-SYN packet to the next port is ignored
        (
            t + 40,
            frame("192.0.2.7", "192.0.2.1", Knock::tcp(9000), TcpFlags::ACK),
        ),
        (
            t + 100,
            frame("192.0.2.7", "192.0.2.1", Knock::udp(8000), 0),
        ),
        (
            t + 110,
            frame("2001:db8::7", "2001:db8::1", Knock::udp(8000), 0),
        ),
        (
            t + 200,
            frame("192.0.2.7", "192.0.2.1", Knock::tcp(9000), SYN),
        ),
        (
            t + 210,
            frame("2001:db8::7", "2001:db8::1", Knock::tcp(9000), SYN),
        ),
        // a knocker that is too slow
        (
            t + 300,
            frame("192.0.2.8", "192.0.2.1", Knock::tcp(7000), SYN),
        ),
        (
            t + 400,
            frame("192.0.2.8", "192.0.2.1", Knock::udp(8000), 0),
        ),
        (
            t + 6_000,
            frame("192.0.2.8", "192.0.2.1", Knock::tcp(9000), SYN),
        ),
        // time passes beyond Cmd_Timeout
        (
            t + 20_000,
            frame("198.18.0.2", "192.0.2.1", Knock::tcp(1), SYN),
        ),
    ];
    let pcap = write_pcap(dir.path(), "k.pcap", 1, &frames);
    let (stdout, stderr) = run_read(dir.path(), CONF, &pcap);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "dry-run: openSSH: open4 192.0.2.7",
            "dry-run: openSSH: open6 2001:db8::7",
            "dry-run: openSSH: close4 192.0.2.7",
            "dry-run: openSSH: close6 2001:db8::7",
        ],
        "stderr: {stderr}"
    );
    assert!(stderr.contains("192.0.2.7: openSSH: Stage 1"), "{stderr}");
    assert!(stderr.contains("192.0.2.7: openSSH: Stage 3"));
    assert!(stderr.contains("192.0.2.7: openSSH: OPEN SESAME"));
    // One line per command in a dry run, on stdout: nothing says "running".
    assert!(!stderr.contains("running command"), "{stderr}");
    assert!(stderr.contains("192.0.2.8: openSSH: sequence timeout (stage 2)"));
    assert!(!stderr.contains("192.0.2.8: openSSH: OPEN SESAME"));
    assert!(stderr.contains("2 opened"), "{stderr}");
}

/// Stops run at their Cmd_Timeout in packet time, between the packets
/// around it; only the ones still pending at the end close "before exit".
#[test]
fn read_runs_stops_at_cmd_timeout_in_packet_time() {
    let dir = tempfile::tempdir().unwrap();
    let t = 1_700_000_000_000u64;
    let k = |src: &str, knock: Knock| frame(src, "192.0.2.1", knock, SYN);
    let seq = [Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)];
    let mut frames = Vec::new();
    for (i, kn) in seq.iter().enumerate() {
        frames.push((t + i as u64 * 100, k("192.0.2.7", *kn)));
    }
    // 30 s later (Cmd_Timeout is 10 s), a second knocker; the file ends 1 s after.
    for (i, kn) in seq.iter().enumerate() {
        frames.push((t + 30_000 + i as u64 * 100, k("192.0.2.8", *kn)));
    }
    frames.push((t + 31_000, k("198.18.0.3", Knock::tcp(1))));
    let pcap = write_pcap(dir.path(), "late.pcap", 1, &frames);
    let (stdout, stderr) = run_read(dir.path(), CONF, &pcap);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "dry-run: openSSH: open4 192.0.2.7",
            "dry-run: openSSH: close4 192.0.2.7",
            "dry-run: openSSH: open4 192.0.2.8",
            "dry-run: openSSH: close4 192.0.2.8",
        ],
        "{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    let at = |want: &str| {
        lines
            .iter()
            .position(|l| *l == want)
            .unwrap_or_else(|| panic!("no {want:?} in\n{stderr}"))
    };
    let open7 = at("192.0.2.7: openSSH: OPEN SESAME");
    let timeout7 = at("192.0.2.7: openSSH: command timeout");
    let stage8 = at("192.0.2.8: openSSH: Stage 1");
    let open8 = at("192.0.2.8: openSSH: OPEN SESAME");
    let early8 = at("192.0.2.8: openSSH: closing before exit");
    assert!(at("192.0.2.7: openSSH: Stage 3") < open7, "{stderr}");
    assert!(open7 < timeout7 && timeout7 < stage8, "{stderr}");
    assert!(open8 < early8, "{stderr}");
    assert!(!stderr.contains("192.0.2.7: openSSH: closing before exit"));
    assert!(stderr.contains("running 1 pending stop command(s) before exit"));
}

/// `--read` logs to stderr, and to `-g FILE` when given; never to the
/// config's LogFile (a replay must not mix into the live log).
#[test]
fn read_writes_the_log_file_of_g_only() {
    let dir = tempfile::tempdir().unwrap();
    let conf_log = dir.path().join("knockd.log");
    let g_log = dir.path().join("replay.log");
    let conf = CONF.replace(
        "/nonexistent/should-not-be-used.log",
        &conf_log.display().to_string(),
    );
    let k = |p: Knock| frame("192.0.2.7", "192.0.2.1", p, SYN);
    let frames = vec![
        (0, k(Knock::tcp(7000))),
        (1, k(Knock::udp(8000))),
        (2, k(Knock::tcp(9000))),
    ];
    let pcap = write_pcap(dir.path(), "k.pcap", 1, &frames);
    run_read(dir.path(), &conf, &pcap);
    assert!(!conf_log.exists(), "the config's LogFile was written");
    let g = g_log.to_str().unwrap();
    let out = read_with(dir.path(), &conf, &pcap, &["--dry-run", "-g", g]);
    assert!(out.status.success());
    assert!(!conf_log.exists());
    let log = std::fs::read_to_string(&g_log).unwrap();
    assert!(log.contains("] 192.0.2.7: openSSH: OPEN SESAME"), "{log}");
    // The dry run says so in the log, in knockd's place for the command.
    assert!(
        log.contains("] openSSH: dry-run, not running: open4 192.0.2.7"),
        "{log}"
    );
    assert!(!log.contains("running command"), "{log}");
}

#[test]
fn read_of_a_missing_file_is_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("knockd.conf");
    std::fs::write(&c, CONF).unwrap();
    let out = server()
        .current_dir(dir.path())
        .arg("-c")
        .arg(&c)
        .arg("--read")
        .arg("nosuch.pcap")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "knock-server: cannot read nosuch.pcap: No such file or directory\n"
    );
}

#[test]
fn read_handles_linux_cooked_captures_and_the_article_config() {
    let dir = tempfile::tempdir().unwrap();
    let t = 1_000u64;
    let frames: Vec<(u64, Vec<u8>)> = [7000, 8000, 9000]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let f = frame("203.0.113.9", "192.0.2.1", Knock::tcp(*p), SYN);
            (t + i as u64, build::ethernet_to_sll(&f))
        })
        .collect();
    let pcap = write_pcap(dir.path(), "sll.pcap", 113, &frames);
    let article = "      logfile = /var/log/knockd.log

      sequence    = 7000,8000,9000
      seq_timeout = 5
      command     = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
      tcpflags    = syn
      cmd_timeout   = 10
      stop_command  = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
";
    let (stdout, stderr) = run_read(dir.path(), article, &pcap);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "dry-run: door1: /sbin/iptables -A INPUT -s 203.0.113.9 -p tcp --dport 22 -j ACCEPT",
            "dry-run: door1: /sbin/iptables -D INPUT -s 203.0.113.9 -p tcp --dport 22 -j ACCEPT",
        ]
    );
    let conf = dir.path().join("knockd.conf");
    let want = format!(
        "{}:3: warning: \"sequence\" outside any section",
        conf.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    // "warning:" once per line.
    assert!(
        stderr.lines().all(|l| l.matches("warning:").count() <= 1),
        "{stderr}"
    );
}

#[test]
fn read_uses_one_time_sequences_once() {
    let dir = tempfile::tempdir().unwrap();
    let ots = dir.path().join("ots");
    std::fs::write(&ots, " 1111,2222\n 3333,4444\n").unwrap();
    let conf = format!(
        "[ots]\none_time_sequences = {}\ncommand = echo %IP%\n",
        ots.display()
    );
    let src = "192.0.2.7";
    let k = |p: u16| frame(src, "192.0.2.1", Knock::tcp(p), SYN);
    let frames = vec![
        (0, k(1111)),
        (1, k(2222)),
        // the same sequence again: used up, does nothing
        (2, k(1111)),
        (3, k(2222)),
        (4, k(3333)),
        (5, k(4444)),
        (6, k(3333)),
        (7, k(4444)),
    ];
    let pcap = write_pcap(dir.path(), "ots.pcap", 1, &frames);
    let out = read_with(dir.path(), &conf, &pcap, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("OPEN SESAME").count(), 2, "{stderr}");
    assert!(stderr.contains("ots: next one-time sequence is 3333,4444"));
    assert!(stderr.contains("ots: one-time sequences used up; door disabled"));
    assert_eq!(
        std::fs::read_to_string(&ots).unwrap(),
        "#1111,2222\n#3333,4444\n"
    );
}

/// A one-time door moving to a *shorter* sequence while another source's
/// attempt is past the new length, all in one 100 ms tick, then time going
/// backwards: the old attempt is dropped (this aborted the server with
/// "index out of bounds: the len is 2 but the index is 3").
#[test]
fn read_survives_a_shorter_one_time_sequence_mid_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let ots = dir.path().join("ots");
    std::fs::write(&ots, " 1111,2222,3333,4444\n 5555,6666\n").unwrap();
    let conf = format!(
        "[ots]\none_time_sequences = {}\nseq_timeout = 5\ncommand = echo %IP%\n",
        ots.display()
    );
    let k = |src: &str, p: u16| frame(src, "192.0.2.1", Knock::tcp(p), SYN);
    let (a, b) = ("192.0.2.7", "192.0.2.8");
    let mut frames = vec![
        (10_000, k(a, 1111)),
        (10_001, k(a, 2222)),
        (10_002, k(a, 3333)),
        (10_003, k(b, 1111)),
        (10_004, k(b, 2222)),
        (10_005, k(b, 3333)),
        (10_006, k(b, 4444)),
    ];
    // The first knocker's stale attempt (stage 3) meets every port of the
    // new sequence, in the tick of the swap and then earlier in time.
    for t in [10_007, 10_008, 9_000, 8_000] {
        frames.push((t, k(a, 5555)));
        frames.push((t, k(a, 6666)));
        frames.push((t, k(a, 4444)));
    }
    let pcap = write_pcap(dir.path(), "ots-short.pcap", 1, &frames);
    let out = read_with(dir.path(), &conf, &pcap, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ots: next one-time sequence is 5555,6666"),
        "{stderr}"
    );
    // b opened the first sequence; a opened the second from scratch
    // (5555,6666 in the swap's tick), never with its stale attempt.
    assert_eq!(stderr.matches("OPEN SESAME").count(), 2, "{stderr}");
    assert!(stderr.contains("192.0.2.8: ots: OPEN SESAME"), "{stderr}");
    assert!(stderr.contains("192.0.2.7: ots: OPEN SESAME"), "{stderr}");
}

/// The summary counts every frame of the capture as a packet, and says
/// how many of them were TCP or UDP (it counted parsed knocks as packets).
#[test]
fn read_summary_counts_frames_not_only_knocks() {
    let dir = tempfile::tempdir().unwrap();
    let k = |p: u16| frame("192.0.2.7", "192.0.2.1", Knock::tcp(p), SYN);
    // An ARP-sized frame of junk and an IPv4 frame cut in its header.
    let junk = vec![0u8; 42];
    let cut = k(7000)[..20].to_vec();
    let frames = vec![
        (0, k(7000)),
        (1, junk),
        (2, cut),
        (3, k(8000)),
        (4, k(9000)),
    ];
    let pcap = write_pcap(dir.path(), "mixed.pcap", 1, &frames);
    let (_, stderr) = run_read(dir.path(), CONF, &pcap);
    assert!(stderr.contains(": 5 packets (3 TCP/UDP), "), "{stderr}");
}

#[test]
fn check_prints_doors_and_fails_on_errors_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("knockd.conf");
    std::fs::write(&c, CONF).unwrap();
    let out = server().arg("-c").arg(&c).arg("--check").output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("door openSSH ("), "{stdout}");
    assert!(stdout.contains("sequence:       7000,8000:udp,9000"));
    assert!(stdout.contains("tcpflags:       syn"));
    assert!(stdout.contains("seq_timeout:    5s"));
    assert!(stdout.contains("stop_command6:  close6 %IP%"));

    std::fs::write(&c, "[d]\nsequence = 7000\nseq_timeout = soon\n").unwrap();
    let out = server().arg("-c").arg(&c).arg("--check").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "knock-server: {}:3: \"seq_timeout\" value \"soon\" is not a number",
        c.display()
    );
    assert!(stderr.starts_with(&want), "{stderr}");
}

/// Debian's stock knockd.conf appends its ACCEPT (-A): --check passes
/// (exit 0) with one warning naming conf:line, the door and the fix.
#[test]
fn check_warns_about_iptables_append_accept() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("knockd.conf");
    std::fs::write(
        &c,
        "[options]\n\tUseSyslog\n\n[openSSH]\n\tsequence    = 7000,8000,9000\n\
         \tseq_timeout = 5\n\
         \tcommand     = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n\
         \ttcpflags    = syn\n\n[closeSSH]\n\tsequence    = 9000,8000,7000\n\
         \tcommand     = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n",
    )
    .unwrap();
    let out = server().arg("-c").arg(&c).arg("--check").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [format!(
            "{}:7: warning: door \"openSSH\": \"command\" appends its ACCEPT rule \
             (iptables -A), so it may land after a rule that drops the port, and then the \
             door does not open; use -I to insert it first",
            c.display()
        )]
    );
}

#[test]
fn shipped_example_config_checks() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/knockd.conf");
    server()
        .arg("-c")
        .arg(conf)
        .arg("--check")
        .assert()
        .success();
}

/// The live path (frames fed one by one through the pipeline, as the capture
/// loop does) and `--read` of the same frames open the same doors.
#[test]
fn read_and_the_live_pipeline_agree() {
    use knock_profiles::knockd_conf::KnockdConfig;
    use knock_server::detector::{Destinations, Detector, Notice};
    use knock_server::event::Link;
    use knock_server::logger::Logger;
    use knock_server::pipeline::Pipeline;
    use knock_server::runner::Message;
    use knock_server::source::Source;

    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    let mut t = 10_000u64;
    for i in 0..40u16 {
        let src = if i % 4 == 0 {
            format!("2001:db8::{}", i + 1)
        } else {
            format!("192.0.2.{}", i + 1)
        };
        let dst = if src.contains(':') {
            "2001:db8::1"
        } else {
            "192.0.2.1"
        };
        // Every source tries; some in order, some not, some too slowly.
        let order: &[Knock] = match i % 5 {
            0 | 1 => &[Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)],
            2 => &[Knock::tcp(7000), Knock::tcp(9000), Knock::udp(8000)],
            3 => &[
                Knock::tcp(7000),
                Knock::udp(8000),
                Knock::udp(8000),
                Knock::tcp(9000),
            ],
            _ => &[Knock::udp(8000), Knock::tcp(7000), Knock::tcp(9000)],
        };
        for k in order {
            t += if i % 7 == 6 { 3_000 } else { 5 };
            frames.push((t, frame(&src, dst, *k, SYN)));
        }
    }
    let pcap = write_pcap(dir.path(), "mix.pcap", 1, &frames);
    let (stdout, _) = run_read(dir.path(), CONF, &pcap);
    let mut from_read: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("dry-run: openSSH: open"))
        .map(|l| l[2..].to_string())
        .collect();
    from_read.sort();

    let cfg = KnockdConfig::parse(CONF, Path::new("knockd.conf")).unwrap();
    let specs = knock_server::doors::layout(&cfg).specs;
    let det = Detector::new(specs, Destinations::Any, 1024).unwrap();
    let (to, rx) = knock_server::runner::channels(4096, 4096);
    let live = Source::Live {
        interface: "veth0".into(),
        journal: None,
        open_without_journal: false,
    };
    let mut p = Pipeline::new(&live, det, to, 0, Logger::memory());
    for (ts, f) in &frames {
        p.feed(Link::Ethernet, f, *ts);
    }
    drop(p);
    let mut from_live: Vec<String> = rx
        .control
        .iter()
        .filter_map(|j| match j {
            Message::Notice(Notice::Opened { src, .. }, _) => Some(src.to_string()),
            _ => None,
        })
        .collect();
    from_live.sort();
    assert!(!from_live.is_empty());
    assert_eq!(from_read, from_live);
}

/// A pcapng file whose interface counts time in whole seconds
/// (`if_tsresol` = 10^0), with one packet at 64-bit time `t`.
fn pcapng_seconds(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = 12 + body.len().div_ceil(4) * 4;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (body.len().div_ceil(4) * 4 - body.len()), 0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0A0D_0D0A, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // Ethernet
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    idb.extend_from_slice(&[9, 0, 1, 0, 0, 0, 0, 0]); // if_tsresol = 0: seconds
    idb.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    block(&mut out, 1, &idb);
    for (t, f) in frames {
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((t >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*t as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        block(&mut out, 6, &epb);
    }
    out
}

/// A crafted capture with timestamps near the end of time: no overflow
/// (a debug build would panic), the knock still opens and its stop runs.
#[test]
fn read_survives_huge_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let k = |p: u16| frame("192.0.2.7", "192.0.2.1", Knock::tcp(p), SYN);
    let t = i64::MAX as u64 - 10;
    let frames = vec![(t, k(7000)), (t, k(8000)), (t, k(9000))];
    let pcap = dir.path().join("huge.pcapng");
    std::fs::write(&pcap, pcapng_seconds(&frames)).unwrap();
    let conf = "[door]\nsequence = 7000,8000,9000\nstart_command = echo open %IP%\n\
                cmd_timeout = 5\nstop_command = echo close %IP%\n";
    let out = read_with(dir.path(), conf, &pcap, &["--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("192.0.2.7: door: OPEN SESAME"), "{stderr}");
    assert!(
        stdout.contains("dry-run: door: echo close 192.0.2.7"),
        "{stdout}"
    );
}
