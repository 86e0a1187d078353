//! Writes a pcap of a spoofed-source SYN flood with valid knockers hidden
//! in it, for `tests/bench/flood.sh`.
//!
//! usage: genflood OUT.pcap PACKETS SOURCES KNOCKERS [SEQUENCE] [--gap G] [--spoofed-knockers]
//!
//! Flood packet i comes from spoofed source i % SOURCES: the first 131,072
//! are IPv4 in 198.18.0.0/15, the rest IPv6 in 2001:db8:8000::/33. Even
//! packets go to the first knock port (the worst case: every one starts an
//! attempt), odd ones to a pseudo-random port >= 1024. Knocker k
//! (192.0.2.100 + k) sends the whole sequence, the knockers spread evenly
//! through the flood, with G flood packets between consecutive knocks of
//! one knocker (default 0). With `--spoofed-knockers`, knocker k is
//! 198.19.(k / 256).(k % 256) instead, for bursts of up to 65,536 knockers
//! (flood sources then overlap them from the 65,537th on). Destinations are
//! 192.0.2.1 / 2001:db8::1; frames are Ethernet to the broadcast MAC;
//! packets are 1 us apart.

use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::PacketBuilder;
use knock_profiles::{Knock, Proto, Sequence};

const DST4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

fn source(s: u64) -> IpAddr {
    if s < 131_072 {
        IpAddr::V4(Ipv4Addr::new(
            198,
            18 + (s >> 16) as u8,
            (s >> 8) as u8,
            s as u8,
        ))
    } else {
        let mut o = [0u8; 16];
        o[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x80, 0x00]);
        o[6..].copy_from_slice(&(s as u128).to_be_bytes()[6..]);
        IpAddr::V6(Ipv6Addr::from(o))
    }
}

fn frame(src: IpAddr, sport: u16, k: Knock, seq: u32, out: &mut Vec<u8>) {
    out.clear();
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [0xff; 6]);
    let ip = match src {
        IpAddr::V4(s) => eth.ipv4(s.octets(), DST4.octets(), 64),
        IpAddr::V6(s) => eth.ipv6(s.octets(), DST6.octets(), 64),
    };
    let r = match k.proto {
        Proto::Tcp => ip.tcp(sport, k.port, seq, 64240).syn().write(out, &[]),
        Proto::Udp => ip.udp(sport, k.port).write(out, &[0]),
    };
    if let Err(e) = r {
        eprintln!("genflood: cannot build a packet: {e}");
        std::process::exit(1);
    }
}

fn main() -> std::io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut gap = 0u64;
    let spoofed = args.iter().any(|a| a == "--spoofed-knockers");
    args.retain(|a| a != "--spoofed-knockers");
    if let Some(i) = args.iter().position(|a| a == "--gap") {
        gap = args.get(i + 1).and_then(|g| g.parse().ok()).unwrap_or(0);
        args.drain(i..(i + 2).min(args.len()));
    }
    if args.len() < 4 {
        eprintln!(
            "usage: genflood OUT.pcap PACKETS SOURCES KNOCKERS [SEQUENCE] [--gap G] \
             [--spoofed-knockers]"
        );
        std::process::exit(2);
    }
    let num = |i: usize| -> u64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("genflood: {} is not a number", args[i]);
            std::process::exit(2)
        })
    };
    let (packets, sources, knockers) = (num(1), num(2).max(1), num(3));
    if spoofed && knockers > 65_536 {
        eprintln!("genflood: at most 65536 spoofed knockers");
        std::process::exit(2);
    }
    let seq = Sequence::parse(args.get(4).map(String::as_str).unwrap_or("7000,8000,9000"))
        .unwrap_or_else(|e| {
            eprintln!("genflood: {e}");
            std::process::exit(2)
        });
    let knocks = seq.knocks();

    // Which knocker knocks go after which flood packet.
    let every = (packets / (knockers + 1)).max(1);
    let mut due: std::collections::BTreeMap<u64, Vec<(u64, usize)>> = Default::default();
    for k in 0..knockers {
        let start = every * (k + 1) - 1;
        for j in 0..knocks.len() {
            due.entry(start + j as u64 * gap).or_default().push((k, j));
        }
    }

    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[0])?);
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0u8; 8])?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    let mut t: u64 = 0;
    let mut buf = Vec::with_capacity(128);
    let mut put = |w: &mut BufWriter<std::fs::File>, f: &[u8]| -> std::io::Result<()> {
        t += 1;
        w.write_all(&((t / 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&((t % 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(f)
    };
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let first = knocks[0];
    let knocker = |k: u64, j: usize, buf: &mut Vec<u8>| {
        let src = if spoofed {
            IpAddr::V4(Ipv4Addr::new(198, 19, (k >> 8) as u8, k as u8))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + k as u8))
        };
        frame(src, 50_000 + j as u16, knocks[j], 1, buf);
    };
    for i in 0..packets {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let k = if i % 2 == 0 {
            Knock {
                port: first.port,
                proto: Proto::Tcp,
            }
        } else {
            Knock::tcp(1024 + (rng % 64_000) as u16)
        };
        frame(
            source(i % sources),
            40_000 + (i % 20_000) as u16,
            k,
            rng as u32,
            &mut buf,
        );
        put(&mut w, &buf)?;
        if let Some(list) = due.remove(&i) {
            for (k, j) in list {
                knocker(k, j, &mut buf);
                put(&mut w, &buf)?;
            }
        }
    }
    for (_, list) in std::mem::take(&mut due) {
        for (k, j) in list {
            knocker(k, j, &mut buf);
            put(&mut w, &buf)?;
        }
    }
    w.flush()
}
