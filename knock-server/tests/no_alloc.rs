//! The packet path allocates nothing: parsing a frame and running the
//! detector on it, across first knocks, progress, breaks, opens, timeouts,
//! evictions and rotating doors (opens and refused replays), under a
//! counting global allocator.
// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to
// the system allocator.
#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use knock_profiles::{Knock, TcpFlags};
use knock_server::detector::{Destinations, Detector, DoorSpec, Notice};
use knock_server::event::{self, Link, build};

struct Counting;
// Per thread: the tests run in parallel, and the harness allocates too.
thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting(on: bool) {
    COUNTING.with(|c| c.set(on));
}

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: a thread being torn down has no locals any more.
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn parsing_and_matching_do_not_allocate() {
    let doors = vec![
        DoorSpec {
            knocks: vec![Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)],
            flags: TcpFlags::parse("syn").unwrap(),
            seq_timeout_ms: 5_000,
            target: None,
            enabled: true,
        },
        DoorSpec {
            knocks: vec![Knock::tcp(7000), Knock::tcp(9000)],
            flags: TcpFlags::ANY,
            seq_timeout_ms: 1_000,
            target: None,
            enabled: true,
        },
    ];
    // A rotating door: three slots (steps T-1, T, T+1), filled before
    // counting as the period timer does.
    let mut doors = doors;
    for _ in 0..3 {
        doors.push(DoorSpec {
            knocks: vec![Knock::tcp(1); 2],
            flags: TcpFlags::ANY,
            seq_timeout_ms: 5_000,
            target: None,
            enabled: false,
        });
    }
    let rotating = [
        [Knock::tcp(11_000), Knock::udp(12_000)],
        [Knock::tcp(13_000), Knock::tcp(14_000)],
        [Knock::udp(15_000), Knock::tcp(16_000)],
    ];
    let dst4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let dst6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let mut det = Detector::new(doors, Destinations::Only(vec![dst4, dst6]), 64).unwrap();
    for (i, seq) in rotating.iter().enumerate() {
        assert!(det.set_step(2 + i, 99 + i as u64, seq).unwrap());
    }
    // Frames built beforehand: sources cycle through more than the table holds.
    let ports = [
        Knock::tcp(7000),
        Knock::udp(8000),
        Knock::tcp(9000),
        Knock::tcp(22),
        Knock::tcp(8000),
    ];
    let mut frames = Vec::new();
    for i in 0..2_000u32 {
        let src = if i % 3 == 0 {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0x8000,
                0,
                0,
                0,
                0,
                (i % 300) as u16,
            ))
        } else {
            IpAddr::V4(Ipv4Addr::new(
                198,
                18,
                (i % 200 / 256) as u8,
                (i % 200) as u8,
            ))
        };
        let dst = if src.is_ipv6() { dst6 } else { dst4 };
        let k = ports[(i as usize * 7 / 3) % ports.len()];
        frames.push(build::ethernet(src, dst, k, TcpFlags::SYN).unwrap());
        if i % 50 == 0 {
            // A real knocker, knocks adjacent.
            let knocker = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + (i / 50 % 100) as u8));
            for k in [Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)] {
                frames.push(build::ethernet(knocker, dst4, k, TcpFlags::SYN).unwrap());
            }
            // And a rotating knock: the first of each step opens, the rest
            // are replays.
            for k in rotating[(i / 50 % 3) as usize] {
                frames.push(build::ethernet(knocker, dst4, k, TcpFlags::SYN).unwrap());
            }
        }
    }
    let mut counts = [0u64; 6];
    counting(true);
    for (i, f) in frames.iter().enumerate() {
        let now = i as u64 * 7;
        if let Some(ev) = event::parse(Link::Ethernet, f, now) {
            det.on_event(&ev, now, &mut |n| {
                let slot = match n {
                    Notice::Stage { .. } => 0,
                    Notice::Opened { .. } => 1,
                    Notice::Timeout { .. } => 2,
                    Notice::Broken { .. } => 3,
                    Notice::Dropped { .. } => 4,
                    Notice::Replayed { .. } => 5,
                };
                counts[slot] += 1;
            });
        }
        if i % 100 == 0 {
            det.sweep(now, 16);
        }
    }
    counting(false);
    assert_eq!(allocs(), 0, "allocations on the packet path");
    // The workload exercised the interesting paths.
    assert!(
        counts[0] > 0 && counts[1] > 0 && counts[3] > 0 && counts[5] > 0,
        "{counts:?}"
    );
    assert!(
        det.stats().evicted > 0 || counts[4] > 0,
        "{:?}",
        det.stats()
    );
}

/// The real per-packet path, [`Pipeline::feed`], allocates nothing either:
/// the log rate limiter, the channel sends (opens on the control channel,
/// its backlog when full; log lines on the event channel, counted when
/// full), a one-time door used (disabled at once), and the rotating doors'
/// period check. The period turn itself (HMACs, once per period) happens
/// before counting, as the timer does at a boundary.
#[test]
fn the_pipeline_feed_does_not_allocate() {
    use knock_profiles::rotate::{Params, Rotation};
    use knock_profiles::secret::Secret;
    use knock_server::logger::Logger;
    use knock_server::pipeline::Pipeline;
    use knock_server::rotation::{Rotating, Rotator};
    use knock_server::runner::{self, Message};
    use knock_server::source::Source;

    let spec = |knocks: Vec<Knock>, enabled| DoorSpec {
        knocks,
        flags: TcpFlags::ANY,
        seq_timeout_ms: 5_000,
        target: None,
        enabled,
    };
    let mut specs = vec![
        spec(
            vec![Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)],
            true,
        ),
        // One-time door.
        spec(vec![Knock::tcp(1111), Knock::tcp(2222)], true),
    ];
    for _ in 0..3 {
        specs.push(spec(vec![Knock::tcp(1); 2], false));
    }
    let dst4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let det = Detector::new(specs, Destinations::Only(vec![dst4]), 64).unwrap();
    // Small channels nobody reads: both fill up during the run.
    let (to, rx) = runner::channels(8, 4);
    let (_reply, updates) = std::sync::mpsc::sync_channel(4);
    let params = Params {
        period: std::time::Duration::from_secs(30),
        length: 2,
        ..Params::default()
    };
    let rotation = Rotation::new(params, Secret::from_bytes(vec![7; 32]).unwrap()).unwrap();
    let live = Source::Live {
        interface: "veth0".into(),
        journal: None,
        open_without_journal: false,
    };
    let mut p = Pipeline::new(&live, det, to, 5, Logger::memory())
        .with_one_time(vec![false, true, false, false, false], updates)
        .with_rotator(Rotator::new(vec![Rotating {
            name: "vault".into(),
            rotation,
            base: 2,
        }]));
    // A period boundary: the timer turns the doors before the packets.
    let t0 = 1_800_000_010_000u64;
    assert!(p.rotate(t0).filter_changed);
    let rotating: Vec<Vec<Knock>> = (2..5)
        .map(|d| p.detector.doors()[d].knocks.clone())
        .collect();

    let mut frames = Vec::new();
    let ports = [
        Knock::tcp(7000),
        Knock::udp(8000),
        Knock::tcp(9000),
        Knock::tcp(22),
    ];
    for i in 0..3_000u32 {
        let src = IpAddr::V4(Ipv4Addr::new(198, 18, (i / 250) as u8, (i % 250) as u8));
        frames.push(build::ethernet(src, dst4, ports[i as usize % 4], TcpFlags::SYN).unwrap());
        if i % 60 == 0 {
            let knocker = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + (i / 60 % 100) as u8));
            let mut seqs = vec![
                vec![Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)],
                vec![Knock::tcp(1111), Knock::tcp(2222)],
            ];
            seqs.push(rotating[(i / 60 % 3) as usize].clone());
            for seq in seqs {
                for k in seq {
                    frames.push(build::ethernet(knocker, dst4, k, TcpFlags::SYN).unwrap());
                }
            }
        }
    }
    counting(true);
    for (i, f) in frames.iter().enumerate() {
        // 3 ms apart: all within one 30 s period.
        p.feed(Link::Ethernet, f, t0 + i as u64 * 3);
    }
    counting(false);
    assert_eq!(allocs(), 0, "allocations in Pipeline::feed");
    // The paths were exercised: opens filled the control channel and
    // waited in the backlog; the event channel filled; the one-time door
    // was used and disabled; the rotating door opened and refused replays.
    assert_eq!(p.backlog().1, 0, "no open lost");
    assert!(p.backlog().0 > 0, "{:?}", p.backlog());
    assert_eq!(rx.events.try_iter().count(), 4);
    let opens = rx
        .control
        .try_iter()
        .filter(|j| matches!(j, Message::Notice(Notice::Opened { .. }, _)))
        .count();
    assert_eq!(opens, 8);
    assert!(!p.detector.doors()[1].enabled);
    let s = p.detector.stats();
    assert!(s.replayed > 0 && s.opened > 8, "{s:?}");
}

/// The SPA path of [`Pipeline::feed`] allocates nothing either: decoding
/// valid packets, replays, stale packets, wrong keys, disallowed users and
/// ports, base64 junk, binary junk and packets cut short; the replay cache;
/// the grants (the grant channel filling, announcements waiting in the
/// backlog, grants lost beyond it) and the refusal lines (rate-limited,
/// counted when their channel is full).
#[test]
fn the_spa_path_does_not_allocate() {
    use knock_profiles::fwknop_access::{AccessConf, format_stanza};
    use knock_profiles::spa::{self, AllowIp, Message as Spa, PortList, SpaKeys, Username};
    use knock_server::logger::Logger;
    use knock_server::pipeline::Pipeline;
    use knock_server::runner::{self, Message};
    use knock_server::source::Source;
    use knock_server::spa_doors::{SpaDoorSpec, SpaDoors};

    let keys = SpaKeys::generate().unwrap();
    let other = SpaKeys::generate().unwrap();
    // Two stanzas for 192.0.2.0/24: the first with other keys (so a valid
    // packet costs a failed HMAC first), the second ours, tcp/22 for alice.
    let mut text = String::from("SOURCE 192.0.2.0/24\n");
    text.push_str(&format_stanza(&other, None).replacen("SOURCE              ANY\n", "", 1));
    text.push_str("\nSOURCE 192.0.2.0/24\nOPEN_PORTS tcp/22\nREQUIRE_USERNAME alice\n");
    text.push_str(&format_stanza(&keys, None).replacen("SOURCE              ANY\n", "", 1));
    let access = AccessConf::parse(&text, std::path::Path::new("access.conf")).unwrap();
    assert_eq!(access.stanzas.len(), 2);
    let dst4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let spa_doors = SpaDoors::new(
        vec![SpaDoorSpec {
            port: 62201,
            target: None,
            access,
            default_open_secs: 30,
            info: 1,
        }],
        Destinations::Only(vec![dst4]),
    );
    let det = Detector::new(
        vec![DoorSpec {
            knocks: vec![Knock::tcp(7000)],
            flags: TcpFlags::ANY,
            seq_timeout_ms: 5_000,
            target: None,
            enabled: true,
        }],
        Destinations::Only(vec![dst4]),
        64,
    )
    .unwrap();
    // Small channels nobody reads: they fill during the run.
    let (to, rx) = runner::channels(4, 4);
    let live = Source::Live {
        interface: "veth0".into(),
        journal: None,
        open_without_journal: false,
    };
    let mut p = Pipeline::new(&live, det, to, 5, Logger::memory()).with_spa(spa_doors);

    let t0 = 1_800_000_000u64;
    let make = |user: &str, ports: &str, ts: u64, k: &SpaKeys| {
        let msg = Spa::new(
            Username::new(user).unwrap(),
            AllowIp::Source,
            PortList::parse(ports).unwrap(),
            None,
            ts,
        )
        .unwrap();
        spa::encode(&msg, k).unwrap().into_bytes()
    };
    let udp = |src: Ipv4Addr, port: u16, payload: &[u8]| {
        build::ethernet_udp(IpAddr::V4(src), dst4, port, payload).unwrap()
    };
    let mut frames = Vec::new();
    let mut seed = 0x9e37_79b9u32;
    for i in 0..1_500u32 {
        let src = Ipv4Addr::new(192, 0, 2, (i % 200) as u8 + 1);
        let payload = match i % 10 {
            0 => make("alice", "tcp/22", t0, &keys),
            1 => make("alice", "tcp/22", t0 - 600, &keys),
            2 => make("alice", "tcp/22", t0, &other),
            3 => make("mallory", "tcp/22", t0, &keys),
            4 => make("alice", "tcp/80", t0, &keys),
            5 => (0..(150 + i % 900))
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                        [(seed % 64) as usize]
                })
                .collect(),
            6 => vec![0xffu8; 400],
            7 => b"short".to_vec(),
            _ => make("alice", "tcp/22", t0, &keys),
        };
        frames.push(udp(src, 62201, &payload));
        if i % 10 == 8 {
            // A replay of the packet just before, and one cut short.
            frames.push(udp(src, 62201, &payload));
            let f = udp(src, 62201, &payload);
            frames.push(f[..f.len() - 40].to_vec());
        }
    }
    counting(true);
    for (i, f) in frames.iter().enumerate() {
        p.feed(Link::Ethernet, f, t0 * 1000 + i as u64);
        if i % 100 == 0 {
            // Between batches (not the packet path: it may log).
            counting(false);
            p.between_batches();
            counting(true);
        }
    }
    counting(false);
    assert_eq!(allocs(), 0, "allocations on the SPA path");
    let s = p.spa().stats();
    // Packets 0, 8 and 9 of every ten (our keys) and 2 (the first
    // stanza's keys, which allow any port and user); the replays and the
    // stale packets are refused as such.
    assert_eq!(
        (s.accepted, s.replayed, s.packets),
        (600, 300, 1_800),
        "{s:?}"
    );
    assert!(p.spa_lost() > 0, "the grant channel filled up");
    let announced = rx
        .control
        .try_iter()
        .filter(|m| matches!(m, Message::SpaOpen(_)))
        .count();
    assert_eq!(announced, 4);
    assert_eq!(rx.events.try_iter().count(), 4);
}
