//! The packet path allocates nothing: parsing a frame and running the
//! detector on it, across first knocks, progress, breaks, opens, timeouts,
//! evictions and rotating doors (opens and refused replays), under a
//! counting global allocator.
// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to
// the system allocator.
#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use knock_profiles::{Knock, TcpFlags};
use knock_server::detector::{Destinations, Detector, DoorSpec, Notice};
use knock_server::event::{self, Link, build};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
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
        assert!(det.set_step(2 + i, 99 + i as u64, seq, 0).unwrap());
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
    COUNTING.store(true, Ordering::SeqCst);
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
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "allocations on the packet path"
    );
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
