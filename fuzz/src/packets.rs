//! Target `packets`: knock-server's frame parser (`event::parse`) on every
//! link type.
//!
//! Input: one frame. It is parsed as a frame of each link type, and, taken
//! as an IP packet, wrapped in each link header (Ethernet, Linux cooked v1
//! and v2, NULL/loopback, none) with the right protocol field.
//!
//! Checked: nothing panics; an event has a non-zero port, TCP flags within
//! the six knockd knows, none for UDP, and the capture time; the same IP
//! packet gives the same event (or none) in every framing; an event's
//! packet built again (`event::build`) parses to the same event.

use knock_profiles::Proto;
use knock_server::event::{self, Link, Millis, Packet};

const TS: Millis = 1_700_000_000_123;
const LINKS: [Link; 5] = [
    Link::Ethernet,
    Link::LinuxSll,
    Link::LinuxSll2,
    Link::RawIp,
    Link::Null,
];

fn check(ev: &Packet, link: Link) {
    assert_ne!(ev.knock.port, 0, "{link:?}: {ev:?}");
    assert_eq!(ev.ts, TS, "{link:?}: {ev:?}");
    assert_eq!(ev.flags & !0x3f, 0, "{link:?}: {ev:?}");
    if ev.knock.proto == Proto::Udp {
        assert_eq!(ev.flags, 0, "{link:?}: {ev:?}");
    }
    assert_eq!(ev.src.is_ipv4(), ev.dst.is_ipv4(), "{link:?}: {ev:?}");
}

/// `ip` behind a link header of `link` that says what it carries.
pub fn framed(link: Link, ip: &[u8]) -> Vec<u8> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    let mut out = match link {
        Link::Ethernet => {
            let mut h = vec![2, 0, 0, 0, 0, 1];
            h.extend_from_slice(&MAC);
            h.extend_from_slice(&ethertype);
            h
        }
        // Packet type (to us), ARPHRD_ETHER, address length and address,
        // protocol.
        Link::LinuxSll => {
            let mut h = vec![0, 0, 0, 1, 0, 6];
            h.extend_from_slice(&MAC);
            h.extend_from_slice(&[0, 0]);
            h.extend_from_slice(&ethertype);
            h
        }
        // Protocol, reserved, interface index, ARPHRD_ETHER, packet type,
        // address length and address.
        Link::LinuxSll2 => {
            let mut h = ethertype.to_vec();
            h.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
            h.extend_from_slice(&MAC);
            h.extend_from_slice(&[0, 0]);
            h
        }
        Link::RawIp => Vec::new(),
        // AF_INET, or AF_INET6 as the BSDs number it, in host order.
        Link::Null => vec![if v6 { 24 } else { 2 }, 0, 0, 0],
    };
    out.extend_from_slice(ip);
    out
}

pub fn run(data: &[u8]) {
    for link in LINKS {
        if let Some(ev) = event::parse(link, data, TS) {
            check(&ev, link);
        }
    }
    let raw = event::parse(Link::RawIp, data, TS);
    for link in LINKS {
        let frame = framed(link, data);
        assert_eq!(
            event::parse(link, &frame, TS),
            raw,
            "{link:?} and raw IP disagree"
        );
    }
    if let Some(ev) = raw {
        let Some(frame) = event::build::ethernet(ev.src, ev.dst, ev.knock, ev.flags) else {
            panic!("cannot build a frame for {ev:?}");
        };
        assert_eq!(
            event::parse(Link::Ethernet, &frame, TS),
            Some(ev),
            "built again"
        );
    }
}
