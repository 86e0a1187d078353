//! Writes a pcap of a spoofed-source flood of random payloads to the SPA
//! port with valid SPA packets hidden in it, for `tests/bench/spa-flood.sh`.
//!
//! usage: genspa OUT.pcap PACKETS VALID.pkt...
//!
//! Flood packet i comes from 198.18.0.0/15 (source i % 131072, port
//! 1024 + i % 60000) to 192.0.2.1:62201. Its payload is random base64 text
//! of 150 to 700 characters: what an SPA packet looks like from outside,
//! so every one passes a server's length and alphabet checks and costs it
//! an HMAC (random bytes would be refused before that, for free). Each
//! VALID.pkt (as `fwknop --save-packet` wrote it) goes out once from
//! 192.0.2.2, the valid packets spread evenly through the flood. Frames are
//! Ethernet to the broadcast MAC; packet times start at the wall clock now,
//! 1 us apart (so `--read` of the file judges the packets' age as a live
//! server would).

use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::time::{SystemTime, UNIX_EPOCH};

use etherparse::PacketBuilder;

const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const VALID_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn frame(src: Ipv4Addr, sport: u16, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [0xff; 6])
        .ipv4(src.octets(), DST.octets(), 64)
        .udp(sport, 62201);
    if let Err(e) = b.write(out, payload) {
        eprintln!("genspa: cannot build a packet: {e}");
        std::process::exit(1);
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: genspa OUT.pcap PACKETS VALID.pkt...");
        std::process::exit(2);
    }
    let packets: u64 = args[1].parse().unwrap_or_else(|_| {
        eprintln!("genspa: {} is not a number", args[1]);
        std::process::exit(2)
    });
    let mut valid = Vec::new();
    for path in &args[2..] {
        let text = std::fs::read_to_string(path)?;
        valid.push(text.trim().as_bytes().to_vec());
    }
    let every = (packets / (valid.len() as u64 + 1)).max(1);

    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[0])?);
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0u8; 8])?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let mut t = start;
    let mut put = |w: &mut BufWriter<std::fs::File>, f: &[u8]| -> std::io::Result<()> {
        t += 1;
        w.write_all(&((t / 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&((t % 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(f)
    };
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut buf = Vec::with_capacity(1600);
    let mut payload = Vec::with_capacity(700);
    let mut valid = valid.into_iter();
    for i in 0..packets {
        let len = 150 + (next() % 551) as usize;
        payload.clear();
        while payload.len() < len {
            let r = next();
            for k in 0..10 {
                if payload.len() < len {
                    payload.push(B64[((r >> (6 * k)) & 63) as usize]);
                }
            }
        }
        let s = i % 131_072;
        let src = Ipv4Addr::new(198, 18 + (s >> 16) as u8, (s >> 8) as u8, s as u8);
        frame(src, 1024 + (i % 60_000) as u16, &payload, &mut buf);
        put(&mut w, &buf)?;
        if (i + 1) % every == 0
            && let Some(v) = valid.next()
        {
            frame(VALID_SRC, 45_000 + (i % 1000) as u16, &v, &mut buf);
            put(&mut w, &buf)?;
        }
    }
    for v in valid {
        frame(VALID_SRC, 44_999, &v, &mut buf);
        put(&mut w, &buf)?;
    }
    w.flush()
}
