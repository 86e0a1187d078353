//! The BPF filter compiled from the config, so the kernel hands us only
//! packets that can be knocks: to a door's destination (its `Target`, else
//! the interface's addresses), to a port of the door's sequence, and, for
//! IPv4 TCP, with the flags `TCPFlags` requires (BPF cannot index the TCP
//! header behind IPv6 extension headers, so IPv6 flags are checked in user
//! space, as all flags are anyway). SPA doors add their UDP port, to their
//! destination.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::IpAddr;

use knock_profiles::{Proto, TcpFlags};

use crate::detector::DoorSpec;
use crate::spa_doors::SpaDoorSpec;

const FLAG_NAMES: [(u8, &str); 6] = [
    (TcpFlags::FIN, "tcp-fin"),
    (TcpFlags::SYN, "tcp-syn"),
    (TcpFlags::RST, "tcp-rst"),
    (TcpFlags::PSH, "tcp-push"),
    (TcpFlags::ACK, "tcp-ack"),
    (TcpFlags::URG, "tcp-urg"),
];

fn ports(list: &BTreeSet<u16>, proto: &str) -> String {
    let alts: Vec<String> = list.iter().map(|p| p.to_string()).collect();
    format!("{proto} dst port ({})", alts.join(" or "))
}

/// `(dst host A or dst host B) and (PART)`, or `(PART)` without destinations.
fn to_destinations(target: Option<IpAddr>, locals: &[IpAddr], part: &str) -> String {
    let dsts: Vec<IpAddr> = match target {
        Some(t) => vec![t],
        None => locals.to_vec(),
    };
    if dsts.is_empty() {
        format!("({part})")
    } else {
        let hosts: Vec<String> = dsts.iter().map(|a| format!("dst host {a}")).collect();
        format!("(({}) and ({part}))", hosts.join(" or "))
    }
}

/// The filter for `doors` and `spa` doors with `locals` as the destinations
/// of doors without `Target` (empty: any destination). `None` if no door is
/// enabled.
pub fn build(doors: &[DoorSpec], spa: &[SpaDoorSpec], locals: &[IpAddr]) -> Option<String> {
    let mut parts = Vec::new();
    for d in doors.iter().filter(|d| d.enabled) {
        let tcp: BTreeSet<u16> = d
            .knocks
            .iter()
            .filter(|k| k.proto == Proto::Tcp)
            .map(|k| k.port)
            .collect();
        let udp: BTreeSet<u16> = d
            .knocks
            .iter()
            .filter(|k| k.proto == Proto::Udp)
            .map(|k| k.port)
            .collect();
        let mut alts = Vec::new();
        if !tcp.is_empty() {
            let mut cond = String::new();
            for (bit, name) in FLAG_NAMES {
                if d.flags.set & bit != 0 {
                    let _ = write!(cond, " and tcp[tcpflags] & {name} != 0");
                } else if d.flags.clear & bit != 0 {
                    let _ = write!(cond, " and tcp[tcpflags] & {name} == 0");
                }
            }
            let t = ports(&tcp, "tcp");
            if cond.is_empty() {
                alts.push(t);
            } else {
                alts.push(format!("(ip and {t}{cond}) or (ip6 and {t})"));
            }
        }
        if !udp.is_empty() {
            alts.push(ports(&udp, "udp"));
        }
        let proto_part = alts
            .iter()
            .map(|a| format!("({a})"))
            .collect::<Vec<_>>()
            .join(" or ");
        parts.push(to_destinations(d.target, locals, &proto_part));
    }
    for d in spa {
        let port = ports(&BTreeSet::from([d.port]), "udp");
        parts.push(to_destinations(d.target, locals, &format!("({port})")));
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" or "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use knock_profiles::Knock;

    fn spec(knocks: &[Knock], flags: &str, target: Option<&str>) -> DoorSpec {
        DoorSpec {
            knocks: knocks.to_vec(),
            flags: TcpFlags::parse(flags).unwrap(),
            seq_timeout_ms: 5000,
            target: target.map(|t| t.parse().unwrap()),
            enabled: true,
        }
    }

    #[test]
    fn builds_from_doors() {
        let a = spec(
            &[Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)],
            "syn,!ack",
            None,
        );
        let b = spec(&[Knock::udp(1)], "", Some("2001:db8::1"));
        let locals: Vec<IpAddr> =
            vec!["192.0.2.1".parse().unwrap(), "2001:db8::2".parse().unwrap()];
        assert_eq!(
            build(&[a.clone(), b], &[], &locals).unwrap(),
            "((dst host 192.0.2.1 or dst host 2001:db8::2) and (((ip and tcp dst port (7000 or 9000) \
             and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0) or (ip6 and tcp dst port \
             (7000 or 9000))) or (udp dst port (8000)))) or ((dst host 2001:db8::1) and ((udp dst port (1))))"
        );
        assert_eq!(
            build(&[spec(&[Knock::tcp(1)], "", None)], &[], &[]).unwrap(),
            "((tcp dst port (1)))"
        );
        let mut off = a;
        off.enabled = false;
        assert_eq!(build(&[off.clone()], &[], &locals), None);
        // SPA doors: their UDP port, to the interface's addresses or Target.
        let access = knock_profiles::fwknop_access::AccessConf::parse(
            "SOURCE ANY\nKEY k\nHMAC_KEY h\n",
            std::path::Path::new("access.conf"),
        )
        .unwrap();
        let spa = |port, target: Option<&str>| SpaDoorSpec {
            port,
            target: target.map(|t| t.parse().unwrap()),
            access: access.clone(),
            default_open_secs: 30,
            info: 0,
        };
        assert_eq!(
            build(
                &[off],
                &[spa(62201, None), spa(62202, Some("192.0.2.9"))],
                &locals
            )
            .unwrap(),
            "((dst host 192.0.2.1 or dst host 2001:db8::2) and ((udp dst port (62201)))) or \
             ((dst host 192.0.2.9) and ((udp dst port (62202))))"
        );
        assert_eq!(
            build(&[], &[spa(62201, None)], &[]).unwrap(),
            "((udp dst port (62201)))"
        );
    }

    #[test]
    fn filters_compile_with_libpcap() {
        let a = spec(
            &[Knock::tcp(7000), Knock::udp(8000)],
            "syn,!ack,fin,rst,psh,urg",
            None,
        );
        let b = spec(&[Knock::udp(1)], "", Some("2001:db8::1"));
        let locals: Vec<IpAddr> =
            vec!["192.0.2.1".parse().unwrap(), "2001:db8::2".parse().unwrap()];
        let f = build(&[a, b], &[], &locals).unwrap();
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).unwrap();
        dead.compile(&f, true).unwrap();
        let dead = pcap::Capture::dead(pcap::Linktype(113)).unwrap();
        dead.compile(&f, true).unwrap();
    }
}
