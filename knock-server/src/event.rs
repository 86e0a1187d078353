//! From a captured frame to a small `Copy` event.
//!
//! One dispatch on the link type, then `etherparse` slices the frame in
//! place (no copy, no allocation). Anything that is not a TCP or UDP packet
//! over IPv4/IPv6, or a non-first fragment, yields no event.

use std::net::IpAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use knock_profiles::{Knock, Proto};

/// Milliseconds since the Unix epoch (live capture and `--read` both use
/// packet timestamps; tests use any monotonic counter).
pub type Millis = u64;

/// One TCP or UDP packet, reduced to what matching needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub knock: Knock,
    /// TCP header flag bits (FIN=0x01 .. URG=0x20); 0 for UDP.
    pub flags: u8,
    pub ts: Millis,
}

/// Link-layer framing of captured packets (pcap DLT values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// DLT_EN10MB (Ethernet, also Linux `lo` and veth).
    Ethernet,
    /// DLT_LINUX_SLL: Linux "cooked" capture v1 (`-i any`).
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux "cooked" capture v2.
    LinuxSll2,
    /// DLT_RAW / LINKTYPE_RAW / LINKTYPE_IPV4 / LINKTYPE_IPV6: no link header.
    RawIp,
    /// DLT_NULL / DLT_LOOP: 4-byte address family header (BSD loopback).
    Null,
}

impl Link {
    /// The link type for a pcap datalink value, or `None` if unsupported.
    pub fn from_dlt(dlt: i32) -> Option<Link> {
        match dlt {
            1 => Some(Link::Ethernet),
            113 => Some(Link::LinuxSll),
            276 => Some(Link::LinuxSll2),
            12 | 14 | 101 | 228 | 229 => Some(Link::RawIp),
            0 | 108 => Some(Link::Null),
            _ => None,
        }
    }
}

/// Parses one frame. Returns `None` for anything that cannot be a knock.
#[inline]
pub fn parse(link: Link, frame: &[u8], ts: Millis) -> Option<Packet> {
    let sliced = match link {
        Link::Ethernet => SlicedPacket::from_ethernet(frame).ok()?,
        Link::LinuxSll => SlicedPacket::from_linux_sll(frame).ok()?,
        Link::LinuxSll2 => SlicedPacket::from_ip(frame.get(20..)?).ok()?,
        Link::RawIp => SlicedPacket::from_ip(frame).ok()?,
        Link::Null => SlicedPacket::from_ip(frame.get(4..)?).ok()?,
    };
    let (src, dst): (IpAddr, IpAddr) = match sliced.net.as_ref()? {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Arp(_) => return None,
    };
    let (knock, flags) = match sliced.transport.as_ref()? {
        TransportSlice::Tcp(tcp) => {
            // Byte 13 of the TCP header holds CWR ECE URG ACK PSH RST SYN FIN.
            let flags = tcp.header_slice().get(13).copied().unwrap_or(0) & 0x3f;
            (Knock::tcp(tcp.destination_port()), flags)
        }
        TransportSlice::Udp(udp) => (Knock::udp(udp.destination_port()), 0),
        _ => return None,
    };
    if knock.port == 0 {
        return None;
    }
    Some(Packet {
        src,
        dst,
        knock,
        flags,
        ts,
    })
}

/// Whether an event's knock is TCP (flag filters only apply to TCP).
#[inline]
pub fn is_tcp(ev: &Packet) -> bool {
    ev.knock.proto == Proto::Tcp
}

/// Frames for tests and for generating captures (`etherparse` builds them).
pub mod build {
    use std::net::IpAddr;

    use etherparse::PacketBuilder;
    use knock_profiles::{Knock, Proto, TcpFlags};

    const SRC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const DST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    /// An Ethernet frame carrying one knock (`flags` for TCP; UDP ignores
    /// them). Returns `None` if the two addresses are of different families.
    pub fn ethernet(src: IpAddr, dst: IpAddr, knock: Knock, flags: u8) -> Option<Vec<u8>> {
        let eth = PacketBuilder::ethernet2(SRC_MAC, DST_MAC);
        let ip = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), 64),
            _ => return None,
        };
        let mut out = Vec::with_capacity(80);
        let written = match knock.proto {
            Proto::Udp => ip.udp(40000, knock.port).write(&mut out, &[0]),
            Proto::Tcp => {
                let mut b = ip.tcp(40000, knock.port, 1, 64240);
                if flags & TcpFlags::FIN != 0 {
                    b = b.fin();
                }
                if flags & TcpFlags::SYN != 0 {
                    b = b.syn();
                }
                if flags & TcpFlags::RST != 0 {
                    b = b.rst();
                }
                if flags & TcpFlags::PSH != 0 {
                    b = b.psh();
                }
                if flags & TcpFlags::ACK != 0 {
                    b = b.ack(1);
                }
                if flags & TcpFlags::URG != 0 {
                    b = b.urg(0);
                }
                b.write(&mut out, &[])
            }
        };
        written.ok()?;
        Some(out)
    }

    /// A classic pcap file (microsecond timestamps) holding `frames` of
    /// link type `dlt` (1 = Ethernet, 113 = Linux cooked), each with its
    /// time in milliseconds.
    pub fn pcap_file(dlt: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&dlt.to_le_bytes());
        for (ms, f) in frames {
            let len = f.len() as u32;
            out.extend_from_slice(&((ms / 1000) as u32).to_le_bytes());
            out.extend_from_slice(&((ms % 1000 * 1000) as u32).to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    /// Turns an Ethernet frame into a Linux cooked (SLL v1) one.
    pub fn ethernet_to_sll(frame: &[u8]) -> Vec<u8> {
        let mut sll = vec![0u8, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0];
        sll.extend_from_slice(frame.get(12..14).unwrap_or(&[0, 0]));
        sll.extend_from_slice(frame.get(14..).unwrap_or(&[]));
        sll
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use knock_profiles::TcpFlags;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_tcp_and_udp_over_v4_and_v6_on_every_link() {
        let cases = [
            ("192.0.2.7", "192.0.2.1", Knock::tcp(7000), TcpFlags::SYN),
            ("2001:db8::7", "2001:db8::1", Knock::udp(8000), 0),
            (
                "192.0.2.7",
                "192.0.2.1",
                Knock::tcp(9000),
                TcpFlags::SYN | TcpFlags::ACK,
            ),
        ];
        for (s, d, k, f) in cases {
            let frame = build::ethernet(ip(s), ip(d), k, f).unwrap();
            let want = Packet {
                src: ip(s),
                dst: ip(d),
                knock: k,
                flags: f,
                ts: 5,
            };
            assert_eq!(parse(Link::Ethernet, &frame, 5), Some(want));
            let ipbytes = &frame[14..];
            assert_eq!(parse(Link::RawIp, ipbytes, 5), Some(want));
            let mut null = vec![2, 0, 0, 0];
            null.extend_from_slice(ipbytes);
            assert_eq!(parse(Link::Null, &null, 5), Some(want));
            // Linux cooked v1: 16 bytes, protocol type (ethertype) at 14.
            let mut sll = vec![0u8, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0];
            sll.extend_from_slice(&frame[12..14]);
            sll.extend_from_slice(ipbytes);
            assert_eq!(parse(Link::LinuxSll, &sll, 5), Some(want));
            let mut sll2 = vec![0u8; 20];
            sll2[0..2].copy_from_slice(&frame[12..14]);
            sll2.extend_from_slice(ipbytes);
            assert_eq!(parse(Link::LinuxSll2, &sll2, 5), Some(want));
        }
    }

    #[test]
    fn ignores_what_cannot_be_a_knock() {
        assert_eq!(parse(Link::Ethernet, &[], 0), None);
        assert_eq!(parse(Link::Ethernet, &[0u8; 60], 0), None);
        assert_eq!(parse(Link::Null, &[2, 0], 0), None);
        let frame = build::ethernet(ip("192.0.2.7"), ip("192.0.2.1"), Knock::tcp(1), 2).unwrap();
        // Truncated TCP header.
        assert_eq!(parse(Link::Ethernet, &frame[..40], 0), None);
        assert_eq!(Link::from_dlt(1), Some(Link::Ethernet));
        assert_eq!(Link::from_dlt(113), Some(Link::LinuxSll));
        assert_eq!(Link::from_dlt(9999), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..120), link in 0usize..5) {
            let link = [Link::Ethernet, Link::LinuxSll, Link::LinuxSll2, Link::RawIp, Link::Null][link];
            let _ = parse(link, &bytes, 0);
        }
    }
}
