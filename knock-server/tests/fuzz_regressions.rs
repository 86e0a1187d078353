//! What the fuzz targets (fuzz/) found in knock-server, reduced to the
//! public API. A test marked `#[ignore]` is a known fault not fixed yet; its
//! input is under fuzz/regressions/known/ (see fuzz/regressions/README.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use knock_profiles::{Knock, TcpFlags};
use knock_server::detector::{Destinations, Detector, DoorSpec, Notice};
use knock_server::event::{self, Link, Millis, Packet};

fn knock(det: &mut Detector, port: u16, at: Millis) -> Vec<Notice> {
    let ev = Packet {
        src: "192.0.2.7".parse::<IpAddr>().unwrap(),
        dst: "192.0.2.1".parse::<IpAddr>().unwrap(),
        knock: Knock::tcp(port),
        flags: TcpFlags::SYN,
        ts: at,
    };
    let mut out = Vec::new();
    det.on_event(&ev, at, &mut |n| out.push(n));
    out
}

/// fuzz/regressions/known/detector-tick-wrap: an attempt's start is kept
/// in 32-bit ticks of 100 ms; once 2^31 ticks (about 6.8 years of packet
/// time) have passed, the attempt looks as if it began in the future,
/// counts as fresh, and the next knock advances it, whatever Seq_Timeout.
#[test]
fn an_attempt_never_wraps_back_into_time() {
    let door = DoorSpec {
        knocks: vec![Knock::tcp(7000), Knock::tcp(8000)],
        flags: TcpFlags::ANY,
        seq_timeout_ms: 5_000,
        target: None,
        enabled: true,
    };
    let mut det = Detector::new(vec![door], Destinations::Any, 64).unwrap();
    let t0: Millis = 1_700_000_000_000;
    knock(&mut det, 7000, t0);
    // 2^31 ticks and a day later.
    let later = t0 + (1 << 31) * 100 + 86_400_000;
    let notices = knock(&mut det, 8000, later);
    assert!(
        !notices.iter().any(|n| matches!(n, Notice::Opened { .. })),
        "opened {} s after the first knock with Seq_Timeout = 5 s: {notices:?}",
        (later - t0) / 1000
    );
}

/// fuzz/regressions/packets/packets-ipv6-cut-extension: an IPv6 packet
/// whose second fragment header is cut short. Lax slicing stops before it,
/// but etherparse's extension iterator followed the first one's next-header
/// field past the parsed bytes (a failed debug assertion; out-of-bounds
/// reads in a release build), from one packet anyone can send.
#[test]
fn a_cut_ipv6_extension_chain_is_no_knock() {
    let mut packet = vec![0x60, 0, 0, 0x2c, 0x2c, 0x2c, 0x2c, 0x2c];
    packet.extend([0x2c; 39]);
    packet.extend([0x30, 0x60, 0, 0, 0]);
    assert_eq!(packet.len(), 52);
    assert_eq!(event::parse(Link::RawIp, &packet, 0), None);
}
