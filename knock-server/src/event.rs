//! From a captured frame to a small `Copy` event.
//!
//! One dispatch on the link type, then `etherparse` slices the frame in
//! place (no copy, no allocation). Anything that is not a TCP or UDP packet
//! over IPv4/IPv6 (a first fragment included), or a later fragment,
//! yields no event.

use std::net::IpAddr;

use etherparse::{
    EtherType, IpAuthHeaderSlice, IpNumber, Ipv6ExtensionsSlice, Ipv6FragmentHeaderSlice,
    Ipv6RawExtHeaderSlice, LaxNetSlice, LaxSlicedPacket, TcpHeaderSlice, TransportSlice,
    UdpHeaderSlice, ip_number,
};
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

/// The UDP payload of a packet as captured: a slice of the frame, not a
/// copy. Empty for TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The payload bytes the capture holds.
    pub bytes: &'a [u8],
    /// The payload length the UDP header gives. More than `bytes.len()`
    /// when the frame was cut at the capture's snap length, or for the
    /// first fragment of a fragmented datagram.
    pub len: usize,
}

impl Payload<'_> {
    const NONE: Payload<'static> = Payload { bytes: &[], len: 0 };

    /// Whether the capture holds all of it.
    #[inline]
    pub fn complete(&self) -> bool {
        self.bytes.len() >= self.len
    }
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
///
/// Only the headers have to be in the captured bytes: a capture keeps the
/// first [`crate::capture::SNAPLEN`] bytes of a frame, so a long UDP knock
/// arrives cut short, and its IP and UDP length fields then say more than
/// was captured. Lax slicing takes the headers as they are. A first
/// fragment (offset 0) still carries the TCP or UDP header and counts; a
/// later fragment has none and does not.
#[inline]
pub fn parse(link: Link, frame: &[u8], ts: Millis) -> Option<Packet> {
    parse_with_payload(link, frame, ts).map(|(p, _)| p)
}

/// [`parse`], and the UDP payload (a slice of `frame`) for the SPA doors.
#[inline]
pub fn parse_with_payload(link: Link, frame: &[u8], ts: Millis) -> Option<(Packet, Payload<'_>)> {
    let sliced = match link {
        Link::Ethernet => LaxSlicedPacket::from_ethernet(frame).ok()?,
        // Cooked captures name the protocol by ether type: SLL v1 at bytes
        // 14..16 of a 16-byte header, SLL v2 at bytes 0..2 of a 20-byte one.
        Link::LinuxSll => from_ether_type(frame.get(14..16)?.try_into().ok()?, frame.get(16..)?),
        Link::LinuxSll2 => from_ether_type(frame.get(0..2)?.try_into().ok()?, frame.get(20..)?),
        Link::RawIp => LaxSlicedPacket::from_ip(frame).ok()?,
        Link::Null => LaxSlicedPacket::from_ip(frame.get(4..)?).ok()?,
    };
    let (src, dst, payload): (IpAddr, IpAddr, _) = match sliced.net.as_ref()? {
        LaxNetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
            ip.payload(),
        ),
        LaxNetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
            ip.payload(),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    let (knock, flags, data) = match sliced.transport.as_ref() {
        Some(TransportSlice::Tcp(tcp)) => (
            Knock::tcp(tcp.destination_port()),
            tcp_flags(tcp.header_slice()),
            Payload::NONE,
        ),
        Some(TransportSlice::Udp(udp)) => (
            Knock::udp(udp.destination_port()),
            0,
            udp_payload(udp.length(), udp.payload()),
        ),
        Some(_) => return None,
        // A fragment: etherparse does not slice a fragmented payload, but
        // a first fragment starts with the transport header.
        None if payload.fragmented && first_fragment(&sliced) => match payload.ip_number {
            ip_number::TCP => {
                let h = TcpHeaderSlice::from_slice(payload.payload).ok()?;
                (
                    Knock::tcp(h.destination_port()),
                    tcp_flags(h.slice()),
                    Payload::NONE,
                )
            }
            ip_number::UDP => {
                let h = UdpHeaderSlice::from_slice(payload.payload).ok()?;
                let rest = payload.payload.get(UDP_HEADER..).unwrap_or_default();
                (
                    Knock::udp(h.destination_port()),
                    0,
                    udp_payload(h.length(), rest),
                )
            }
            _ => return None,
        },
        None => return None,
    };
    if knock.port == 0 {
        return None;
    }
    Some((
        Packet {
            src,
            dst,
            knock,
            flags,
            ts,
        },
        data,
    ))
}

const UDP_HEADER: usize = 8;

/// A UDP payload and the length its header gives (a length field below
/// the header's own size, as in an IPv6 jumbogram, means "what is there").
#[inline]
fn udp_payload(length_field: u16, bytes: &[u8]) -> Payload<'_> {
    let len = usize::from(length_field)
        .checked_sub(UDP_HEADER)
        .unwrap_or(bytes.len());
    Payload { bytes, len }
}

/// Byte 13 of the TCP header holds CWR ECE URG ACK PSH RST SYN FIN.
#[inline]
fn tcp_flags(header: &[u8]) -> u8 {
    header.get(13).copied().unwrap_or(0) & 0x3f
}

#[inline]
fn from_ether_type(ether_type: [u8; 2], rest: &[u8]) -> LaxSlicedPacket<'_> {
    LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes(ether_type)), rest)
}

/// Whether a fragmented packet is the first fragment (offset 0).
#[inline]
fn first_fragment(p: &LaxSlicedPacket<'_>) -> bool {
    match &p.net {
        Some(LaxNetSlice::Ipv4(ip)) => ip.header().fragments_offset().value() == 0,
        Some(LaxNetSlice::Ipv6(ip)) => ipv6_first_fragment(ip.extensions()),
        _ => false,
    }
}

/// Whether IPv6 extension headers hold a fragment header of offset 0.
///
/// Each header is sliced again with bounds checks, and the walk stops at
/// the end of what etherparse parsed. Not `Ipv6ExtensionsSlice`'s iterator:
/// after lax slicing that stopped at a truncated header, it follows the
/// last parsed header's next-header field past the end of the slice and
/// reads out of bounds (a debug assertion in etherparse 0.21, undefined
/// behaviour in a release build), which a single crafted packet can cause.
fn ipv6_first_fragment(exts: &Ipv6ExtensionsSlice<'_>) -> bool {
    let Some(mut next) = exts.first_header() else {
        return false;
    };
    let mut rest = exts.slice();
    while !rest.is_empty() {
        let (len, after): (usize, IpNumber) = match next {
            ip_number::IPV6_FRAG => match Ipv6FragmentHeaderSlice::from_slice(rest) {
                Ok(f) if f.fragment_offset().value() == 0 => return true,
                Ok(f) => (f.slice().len(), f.next_header()),
                Err(_) => return false,
            },
            ip_number::IPV6_HOP_BY_HOP | ip_number::IPV6_ROUTE | ip_number::IPV6_DEST_OPTIONS => {
                match Ipv6RawExtHeaderSlice::from_slice(rest) {
                    Ok(h) => (h.slice().len(), h.next_header()),
                    Err(_) => return false,
                }
            }
            ip_number::AUTH => match IpAuthHeaderSlice::from_slice(rest) {
                Ok(h) => (h.slice().len(), h.next_header()),
                Err(_) => return false,
            },
            _ => return false,
        };
        let Some(tail) = rest.get(len..) else {
            return false;
        };
        rest = tail;
        next = after;
    }
    false
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

    /// An Ethernet frame carrying one UDP datagram from port 40000 to
    /// `port` with `payload` (an SPA packet). `None` if the two addresses
    /// are of different families or the payload does not fit.
    pub fn ethernet_udp(src: IpAddr, dst: IpAddr, port: u16, payload: &[u8]) -> Option<Vec<u8>> {
        let eth = PacketBuilder::ethernet2(SRC_MAC, DST_MAC);
        let ip = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), 64),
            _ => return None,
        };
        let mut out = Vec::with_capacity(64 + payload.len());
        ip.udp(40000, port).write(&mut out, payload).ok()?;
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

    /// A UDP knock with a long payload, cut at the capture's snap length:
    /// the headers are all there, so it counts (it was ignored live while
    /// `--read` of a full capture opened).
    #[test]
    fn a_knock_cut_at_the_snap_length_still_counts() {
        let payload = vec![0x55u8; 400];
        for (s, d) in [("192.0.2.7", "192.0.2.1"), ("2001:db8::7", "2001:db8::1")] {
            let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]);
            let b = match (ip(s), ip(d)) {
                (IpAddr::V4(a), IpAddr::V4(b2)) => b.ipv4(a.octets(), b2.octets(), 64),
                (IpAddr::V6(a), IpAddr::V6(b2)) => b.ipv6(a.octets(), b2.octets(), 64),
                _ => unreachable!(),
            };
            let b = b.udp(40000, 8000);
            let mut frame = Vec::new();
            b.write(&mut frame, &payload).unwrap();
            let cut = &frame[..crate::capture::SNAPLEN as usize];
            let ev = parse(Link::Ethernet, cut, 1).expect("cut frame parses");
            assert_eq!((ev.src, ev.knock), (ip(s), Knock::udp(8000)));
            assert_eq!(parse(Link::Ethernet, &frame, 1), Some(ev));
        }
    }

    /// The UDP payload comes as a slice of the frame, whole or cut short;
    /// a TCP packet has none.
    #[test]
    fn udp_payloads_are_sliced_not_copied() {
        let payload: Vec<u8> = (0..600u32).map(|i| b'A' + (i % 26) as u8).collect();
        for (s, d) in [("192.0.2.7", "192.0.2.1"), ("2001:db8::7", "2001:db8::1")] {
            let frame = build::ethernet_udp(ip(s), ip(d), 62201, &payload).unwrap();
            let (ev, p) = parse_with_payload(Link::Ethernet, &frame, 3).unwrap();
            assert_eq!(ev.knock, Knock::udp(62201));
            assert_eq!(p.bytes, &payload[..]);
            assert_eq!(p.len, 600);
            assert!(p.complete());
            let inside = frame.as_ptr_range();
            assert!(inside.contains(&p.bytes.as_ptr()), "a slice of the frame");
            // Cut at the knock snap length: the headers parse, the payload
            // says it is cut short.
            let cut = &frame[..crate::capture::SNAPLEN as usize];
            let (_, p) = parse_with_payload(Link::Ethernet, cut, 3).unwrap();
            assert_eq!(p.len, 600);
            assert!(!p.complete() && p.bytes.len() < 256);
            assert_eq!(parse(Link::Ethernet, cut, 3), Some(ev));
        }
        let frame = build::ethernet(ip("192.0.2.7"), ip("192.0.2.1"), Knock::tcp(1), 2).unwrap();
        let (_, p) = parse_with_payload(Link::Ethernet, &frame, 0).unwrap();
        assert_eq!((p.bytes.len(), p.len), (0, 0));
    }

    #[test]
    fn cooked_frames_are_read_by_their_protocol_type() {
        let frame = build::ethernet(ip("192.0.2.7"), ip("192.0.2.1"), Knock::tcp(7000), 2).unwrap();
        let mut sll2 = vec![0u8; 20];
        sll2.extend_from_slice(&frame[14..]);
        // Labelled ARP (0x0806): not read as IP, whatever the bytes hold.
        sll2[0..2].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(parse(Link::LinuxSll2, &sll2, 0), None);
        let mut sll = build::ethernet_to_sll(&frame);
        sll[14..16].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(parse(Link::LinuxSll, &sll, 0), None);
    }

    #[test]
    fn first_fragments_count_and_later_ones_do_not() {
        // IPv4: More Fragments set, offset 0 (then offset 8 x 8 bytes).
        let mut v4 =
            build::ethernet(ip("192.0.2.7"), ip("192.0.2.1"), Knock::udp(8000), 0).unwrap();
        v4[14 + 6] = 0x20;
        let ev = parse(Link::Ethernet, &v4, 0).expect("first IPv4 fragment");
        assert_eq!(ev.knock, Knock::udp(8000));
        v4[14 + 6] = 0x20;
        v4[14 + 7] = 0x08;
        assert_eq!(parse(Link::Ethernet, &v4, 0), None);
        // IPv6: a Fragment header (next header 44) before the UDP header.
        let udp = [0x9c, 0x40, 0x1f, 0x40, 0, 9, 0, 0, 0x42];
        let mut v6 = vec![0x60, 0, 0, 0, 0, (8 + udp.len()) as u8, 44, 64];
        v6.extend_from_slice(&ip6("2001:db8::7"));
        v6.extend_from_slice(&ip6("2001:db8::1"));
        let frag_at = v6.len();
        v6.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 7]);
        v6.extend_from_slice(&udp);
        let ev = parse(Link::RawIp, &v6, 0).expect("first IPv6 fragment");
        assert_eq!((ev.src, ev.knock), (ip("2001:db8::7"), Knock::udp(8000)));
        // Its payload: what the first fragment holds, with the UDP length.
        let (_, p) = parse_with_payload(Link::RawIp, &v6, 0).unwrap();
        assert_eq!((p.bytes, p.len), (&[0x42u8][..], 1));
        v6[frag_at + 2] = 0x01; // offset 32 x 8 bytes
        assert_eq!(parse(Link::RawIp, &v6, 0), None);
    }

    /// An IPv6 header (no payload yet) from 2001:db8::7 to 2001:db8::1.
    fn v6_header(payload_len: u8, next: u8) -> Vec<u8> {
        let mut v6 = vec![0x60, 0, 0, 0, 0, payload_len, next, 64];
        v6.extend_from_slice(&ip6("2001:db8::7"));
        v6.extend_from_slice(&ip6("2001:db8::1"));
        v6
    }

    #[test]
    fn a_first_ipv6_fragment_behind_other_extension_headers_counts() {
        let udp = [0x9c, 0x40, 0x1f, 0x40, 0, 9, 0, 0, 0x42];
        let mut v6 = v6_header((16 + udp.len()) as u8, 60);
        // Destination options (next: fragment), padded with PadN to 8 bytes.
        v6.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        let frag_at = v6.len();
        v6.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 7]);
        v6.extend_from_slice(&udp);
        let ev = parse(Link::RawIp, &v6, 0).expect("first IPv6 fragment");
        assert_eq!(ev.knock, Knock::udp(8000));
        v6[frag_at + 2] = 0x01;
        assert_eq!(parse(Link::RawIp, &v6, 0), None);
    }

    /// A later fragment whose next header, another fragment header, is cut
    /// short: etherparse's extension iterator read past the end of what it
    /// had parsed (found by fuzz/fuzz_targets/packets.rs).
    #[test]
    fn a_cut_ipv6_extension_header_is_never_read_past() {
        for cut in 0..8 {
            let mut v6 = v6_header(8 + cut, 44);
            v6.extend_from_slice(&[44, 0, 0x01, 0x00, 0, 0, 0, 7]);
            v6.extend_from_slice(&[17, 0, 0, 0x01, 0, 0, 0, 7][..usize::from(cut)]);
            for link in [Link::RawIp, Link::Null] {
                let mut frame = if link == Link::Null {
                    vec![24, 0, 0, 0]
                } else {
                    vec![]
                };
                frame.extend_from_slice(&v6);
                assert_eq!(parse(link, &frame, 0), None, "cut at {cut}");
            }
        }
    }

    fn ip6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..120), link in 0usize..5) {
            let link = [Link::Ethernet, Link::LinuxSll, Link::LinuxSll2, Link::RawIp, Link::Null][link];
            let _ = parse(link, &bytes, 0);
        }
    }
}
