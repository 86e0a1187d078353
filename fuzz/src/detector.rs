//! Target `detector`: knock-server's matcher
//! (`knock_server::detector::Detector`) with any doors, sequences and
//! one-time or rotating swaps of any length (`set_sequence`, `set_step`,
//! `disable`, `burn`), sweeps, and packet time going forwards and
//! backwards. It must never panic, and a model of what the notices mean
//! checks each one:
//!
//! - a notice names an enabled door, the packet's source, and a packet
//!   that passes the door's destination and TCP flag checks;
//! - `Stage n` is the door's knock `n` of the sequence it holds now, and
//!   follows `Stage n-1` of the same source since the door last changed
//!   (so a door never opens for a sequence it does not hold, nor for knocks
//!   made before its sequence changed), within `Seq_Timeout` of `Stage 1`;
//! - `Opened` / `Replayed` follow the last stage at once; a rotating step
//!   opens once (then `Replayed`);
//! - `Timeout`, `Broken`, `Dropped` are what their names say;
//! - `set_step`'s result, `step_of`, `is_burned`, `doors` and the counters
//!   agree with the model; `Detector::new` fails exactly for what its
//!   limits refuse.
//!
//! Input (read with [`Bytes`]; zeros after the end):
//!
//! ```text
//! header  mode:u8 ndoors:u8 door*      mode: capacity (bits 0-1),
//!                                      destinations (bit 2), start time (bits 4-5)
//! door    knocks flags_set:u8 flags_clear:u8 timeout:u8 target:u8
//! knocks  len:u8 knock:u8*             len % 10, 0xfe = MAX_KNOCKS, 0xff = one more
//! knock   bits 0-2 a port of PORTS, bit 3 UDP
//! op      < 0xc0: packet (bits 0-2 source) knock:u8 dst_flags:u8 dt:u8
//!         0xc0 + k: k % 8 = set_sequence door:u8 knocks | set_step door:u8 step:u8 knocks
//!                   | disable door:u8 | burn door:u8 | sweep budget:u8
//!                   | jump secs:i32 | (6, 7: packet with the next bytes)
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use knock_profiles::{Knock, Proto, TcpFlags};
use knock_server::detector::{Destinations, Detector, DoorSpec, MAX_DOORS, MAX_KNOCKS, Notice};
use knock_server::event::{Millis, Packet};

use crate::Bytes;

/// The detector keeps time in 100 ms ticks (knock-server/src/detector.rs):
/// how far its `Seq_Timeout` decisions may be from exact milliseconds.
const SLACK_MS: u64 = 100;

/// Elapsed times from this on are not checked against `Seq_Timeout`: none
/// (the detector's tick counter once wrapped after 2^31 ticks, see
/// fuzz/regressions/detector/detector-tick-wrap; it starts a new epoch now).
const UNCHECKED_FROM_MS: u64 = u64::MAX;

pub const PORTS: [u16; 8] = [7000, 8000, 9000, 1, 65535, 22, 7001, 64000];
const DST: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)),
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
];
const FLAGS: [u8; 8] = [
    TcpFlags::SYN,
    TcpFlags::SYN,
    TcpFlags::SYN | TcpFlags::ACK,
    TcpFlags::ACK,
    0,
    TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG,
    TcpFlags::RST,
    0x3f,
];
const CAPACITY: [usize; 4] = [8, 64, 4096, 16];
/// Start times: 0, now-ish, just before the detector's 32-bit tick counter
/// wraps (2^32 ticks), and far in the future.
const START: [Millis; 4] = [
    0,
    1_700_000_000_000,
    (1 << 32) * SLACK_MS - 10_000,
    u64::MAX / 4,
];

pub fn knock(b: u8) -> Knock {
    let port = PORTS[usize::from(b & 7)];
    if b & 8 != 0 {
        Knock::udp(port)
    } else {
        Knock::tcp(port)
    }
}

/// A knock's byte (for seeds): the inverse of [`knock`].
pub fn knock_byte(k: Knock) -> u8 {
    let i = PORTS.iter().position(|&p| p == k.port).unwrap_or(0) as u8;
    i | if k.proto == Proto::Udp { 8 } else { 0 }
}

fn source(b: &mut Bytes, i: u8) -> IpAddr {
    match i & 7 {
        0 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        1 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8)),
        2 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
        3 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 8)),
        // 192.0.2.7 as an IPv4-mapped IPv6 source.
        4 => IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped()),
        5 => IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)),
        // Spoofed floods: many sources.
        6 => {
            let [x, y] = b.u16().to_be_bytes();
            IpAddr::V4(Ipv4Addr::new(198, 18, x, y))
        }
        _ => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, b.u16())),
    }
}

/// Which attempt a source's knocks count for: its own. An IPv4 source and
/// its IPv4-mapped IPv6 address are two knockers (knock-server/src/detector.rs
/// `ipv4_and_its_mapped_ipv6_address_do_not_share_an_attempt`).
fn attempt_key(ip: IpAddr) -> IpAddr {
    ip
}

fn timeout_ms(t: u8) -> u32 {
    match t {
        0..=200 => u32::from(t) * 100,
        201..=250 => u32::from(t - 200) * 60_000,
        251 => u32::MAX,
        252 => 99,
        253 => 101,
        254 => 52_200_000,
        255 => 2_000_000_000,
    }
}

fn knocks(b: &mut Bytes) -> Vec<Knock> {
    let len = match b.u8() {
        0xfe => MAX_KNOCKS,
        0xff => MAX_KNOCKS + 1,
        n => usize::from(n % 10),
    };
    (0..len).map(|_| knock(b.u8())).collect()
}

fn valid(knocks: &[Knock]) -> bool {
    !knocks.is_empty() && knocks.len() <= MAX_KNOCKS
}

struct DoorModel {
    spec: DoorSpec,
    /// Moves on whenever the door's sequence changes.
    epoch: u64,
    /// A rotating step and whether it opened.
    step: Option<(u64, bool)>,
}

#[derive(Clone, Copy)]
struct Attempt {
    stage: u8,
    start: Millis,
    epoch: u64,
}

struct Model {
    doors: Vec<DoorModel>,
    destinations: Destinations,
    attempts: HashMap<(IpAddr, usize), Attempt>,
    events: u64,
    opened: u64,
    replayed: u64,
    dropped: u64,
}

impl Model {
    fn dest_ok(&self, d: &DoorSpec, dst: IpAddr) -> bool {
        match d.target {
            Some(t) => t == dst,
            None => match &self.destinations {
                Destinations::Any => true,
                Destinations::Only(list) => list.contains(&dst),
            },
        }
    }

    /// Checks the notices of one packet and follows them.
    fn packet(&mut self, ev: &Packet, now: Millis, notices: &[Notice]) {
        self.events += 1;
        // The door whose last stage was just reported: an Opened or
        // Replayed must follow at once.
        let mut completing: Option<usize> = None;
        for &n in notices {
            let (src, door) = match n {
                Notice::Stage { src, door, .. }
                | Notice::Opened { src, door }
                | Notice::Timeout { src, door, .. }
                | Notice::Broken { src, door, .. }
                | Notice::Dropped { src, door }
                | Notice::Replayed { src, door } => (src, door),
            };
            assert_eq!(src, ev.src, "{n:?} for another source than {ev:?}");
            assert!(door < self.doors.len(), "{n:?}: no such door");
            if let Some(c) = completing {
                assert!(
                    matches!(n, Notice::Opened { door, .. } | Notice::Replayed { door, .. } if door == c),
                    "door {c}'s last stage not followed by Opened/Replayed but {n:?}"
                );
            }
            let d = &self.doors[door];
            let spec = &d.spec;
            assert!(spec.enabled, "{n:?} on a disabled door");
            assert!(
                self.dest_ok(spec, ev.dst),
                "{n:?}: {ev:?} is not to door {door}'s destination"
            );
            if ev.knock.proto == Proto::Tcp {
                assert!(
                    spec.flags.matches(ev.flags),
                    "{n:?}: {ev:?} fails door {door}'s TCPFlags"
                );
            }
            let key = (attempt_key(src), door);
            let cur = self
                .attempts
                .get(&key)
                .copied()
                .filter(|a| a.epoch == d.epoch);
            let cur_stage = cur.map_or(0, |a| a.stage);
            let timeout = u64::from(spec.seq_timeout_ms);
            let len = spec.knocks.len();
            match n {
                Notice::Stage { stage, .. } => {
                    let s = usize::from(stage);
                    assert!(
                        (1..=len).contains(&s),
                        "{n:?}: door {door} has {len} knocks"
                    );
                    assert_eq!(
                        ev.knock,
                        spec.knocks[s - 1],
                        "{n:?}: not knock {s} of door {door}'s sequence {:?}",
                        spec.knocks
                    );
                    let start = if stage == 1 {
                        now
                    } else {
                        assert_eq!(
                            cur_stage,
                            stage - 1,
                            "{n:?} does not follow stage {} (since door {door} last changed)",
                            stage - 1
                        );
                        let start = cur.map_or(now, |a| a.start);
                        if now >= start && now - start < UNCHECKED_FROM_MS {
                            assert!(
                                now - start < timeout + SLACK_MS,
                                "{n:?} {} ms after stage 1; Seq_Timeout is {timeout} ms",
                                now - start
                            );
                        }
                        start
                    };
                    self.attempts.insert(
                        key,
                        Attempt {
                            stage,
                            start,
                            epoch: d.epoch,
                        },
                    );
                    if s == len {
                        completing = Some(door);
                    }
                }
                Notice::Opened { .. } | Notice::Replayed { .. } => {
                    assert_eq!(completing, Some(door), "{n:?} without its last stage");
                    completing = None;
                    self.attempts.remove(&key);
                    let d = &mut self.doors[door];
                    match (n, &mut d.step) {
                        (Notice::Opened { .. }, Some((_, burned))) => {
                            assert!(!*burned, "{n:?}: step opened twice");
                            *burned = true;
                            self.opened += 1;
                        }
                        (Notice::Opened { .. }, None) => self.opened += 1,
                        (_, Some((_, burned))) => {
                            assert!(*burned, "{n:?} of a step that did not open yet");
                            self.replayed += 1;
                        }
                        (_, None) => panic!("{n:?} on a door without a rotating step"),
                    }
                }
                Notice::Timeout { stage, .. } => {
                    assert!(
                        stage >= 1 && cur_stage == stage,
                        "{n:?} of an attempt at stage {cur_stage}"
                    );
                    if let Some(a) = cur
                        && now >= a.start
                    {
                        assert!(
                            now - a.start + SLACK_MS > timeout,
                            "{n:?} {} ms after stage 1; Seq_Timeout is {timeout} ms",
                            now - a.start
                        );
                    }
                    self.attempts.remove(&key);
                }
                Notice::Broken { stage, .. } => {
                    let s = usize::from(stage);
                    assert!(
                        stage >= 1 && cur_stage == stage,
                        "{n:?} of an attempt at stage {cur_stage}"
                    );
                    assert!(s < len, "{n:?} after the last stage");
                    assert_ne!(ev.knock, spec.knocks[s], "{n:?} by the expected knock");
                    assert_ne!(ev.knock, spec.knocks[s - 1], "{n:?} by a retransmission");
                    assert_ne!(ev.knock, spec.knocks[0], "{n:?} by a new first knock");
                    self.attempts.remove(&key);
                }
                Notice::Dropped { .. } => {
                    assert!(
                        len > 1 && ev.knock == spec.knocks[0],
                        "{n:?}: not a first knock"
                    );
                    self.attempts.remove(&key);
                    self.dropped += 1;
                }
            }
        }
        assert_eq!(completing, None, "a last stage without Opened/Replayed");
    }

    fn agrees(&self, det: &Detector) {
        let doors = det.doors();
        assert_eq!(doors.len(), self.doors.len());
        for (i, (d, m)) in doors.iter().zip(&self.doors).enumerate() {
            assert_eq!(d, &m.spec, "door {i}");
            assert_eq!(det.step_of(i), m.step.map(|s| s.0), "step_of({i})");
            assert_eq!(
                det.is_burned(i),
                m.step.is_some_and(|s| s.1),
                "is_burned({i})"
            );
        }
        assert_eq!(det.step_of(doors.len()), None);
        let s = det.stats();
        assert_eq!(s.events, self.events, "{s:?}");
        assert!(s.considered <= s.events, "{s:?}");
        assert_eq!(s.opened, self.opened, "{s:?}");
        assert_eq!(s.replayed, self.replayed, "{s:?}");
        assert_eq!(s.dropped, self.dropped, "{s:?}");
    }
}

fn door_spec(b: &mut Bytes) -> DoorSpec {
    let knocks = knocks(b);
    let set = b.u8() & 0x3f;
    let clear = b.u8() & 0x3f & !set;
    let seq_timeout_ms = timeout_ms(b.u8());
    let t = b.u8();
    DoorSpec {
        knocks,
        flags: TcpFlags { set, clear },
        seq_timeout_ms,
        target: (t & 4 != 0).then(|| DST[usize::from(t & 3)]),
        enabled: t & 0x80 == 0,
    }
}

pub fn run(data: &[u8]) {
    let mut b = Bytes::new(data);
    let mode = b.u8();
    let capacity = CAPACITY[usize::from(mode & 3)];
    let destinations = if mode & 4 != 0 {
        Destinations::Only(DST[..2].to_vec())
    } else {
        Destinations::Any
    };
    let mut now = START[usize::from(mode >> 4 & 3)];
    let ndoors = match b.u8() {
        0xff => MAX_DOORS + 1,
        n => usize::from(n % 6),
    };
    let specs: Vec<DoorSpec> = (0..ndoors).map(|_| door_spec(&mut b)).collect();
    let fits = specs.len() <= MAX_DOORS && specs.iter().all(|d| valid(&d.knocks));
    let det = Detector::new(specs.clone(), destinations.clone(), capacity);
    assert_eq!(det.is_ok(), fits, "Detector::new: {:?}", det.as_ref().err());
    let Ok(mut det) = det else {
        return;
    };
    assert!(det.capacity() >= capacity);
    let mut model = Model {
        doors: specs
            .into_iter()
            .map(|spec| DoorModel {
                spec,
                epoch: 0,
                step: None,
            })
            .collect(),
        destinations,
        attempts: HashMap::new(),
        events: 0,
        opened: 0,
        replayed: 0,
        dropped: 0,
    };
    let n = model.doors.len();
    // One past the last door: the detector ignores what names no door.
    let door_of = |x: u8| usize::from(x) % (n + 1);
    let mut notices = Vec::new();
    while !b.is_empty() {
        let op = b.u8();
        let kind = if op >= 0xc0 { (op - 0xc0) % 8 } else { 6 };
        match kind {
            0 => {
                let door = door_of(b.u8());
                let k = knocks(&mut b);
                let r = det.set_sequence(door, k.clone());
                assert_eq!(
                    r.is_ok(),
                    valid(&k),
                    "set_sequence({door}, {} knocks): {r:?}",
                    k.len()
                );
                if r.is_ok()
                    && let Some(d) = model.doors.get_mut(door)
                {
                    d.spec.knocks = k;
                    d.spec.enabled = true;
                    d.epoch += 1;
                }
            }
            1 => {
                let door = door_of(b.u8());
                let step = u64::from(b.u8());
                let k = knocks(&mut b);
                let r = det.set_step(door, step, &k);
                assert_eq!(
                    r.is_ok(),
                    valid(&k),
                    "set_step({door}, {step}, {} knocks): {r:?}",
                    k.len()
                );
                if let Ok(changed) = r {
                    let want = model
                        .doors
                        .get(door)
                        .is_some_and(|d| !(d.spec.enabled && d.step.is_some_and(|s| s.0 == step)));
                    assert_eq!(changed, want, "set_step({door}, {step})");
                    if changed {
                        let d = &mut model.doors[door];
                        d.spec.knocks = k;
                        d.spec.enabled = true;
                        d.step = Some((step, false));
                        d.epoch += 1;
                    }
                }
            }
            2 => {
                let door = door_of(b.u8());
                det.disable(door);
                if let Some(d) = model.doors.get_mut(door) {
                    d.spec.enabled = false;
                    d.epoch += 1;
                }
            }
            3 => {
                let door = door_of(b.u8());
                det.burn(door);
                if let Some((_, burned)) = model.doors.get_mut(door).and_then(|d| d.step.as_mut()) {
                    *burned = true;
                }
            }
            4 => {
                let budget = [1, 8, 100, 1 << 20][usize::from(b.u8() & 3)];
                let cleared = det.sweep(now, budget);
                assert!(cleared <= budget.min(det.capacity()));
            }
            5 => {
                let secs = b.u32() as i32;
                let ms = u64::from(secs.unsigned_abs()) * 1000;
                now = if secs < 0 {
                    now.saturating_sub(ms)
                } else {
                    now.saturating_add(ms)
                };
            }
            _ => {
                let src = source(&mut b, op);
                let knock = knock(b.u8());
                let x = b.u8();
                let dst = DST[usize::from(x & 3)];
                let flags = FLAGS[usize::from(x >> 2 & 7)];
                let dt = b.u8();
                let ms = u64::from(dt & 0x1f) * [1, 100, 1000, 60_000][usize::from(dt >> 6)];
                now = if dt & 0x20 != 0 {
                    now.saturating_sub(ms)
                } else {
                    now.saturating_add(ms)
                };
                let ev = Packet {
                    src,
                    dst,
                    knock,
                    flags,
                    ts: now,
                };
                notices.clear();
                det.on_event(&ev, now, &mut |n| notices.push(n));
                model.packet(&ev, now, &notices);
            }
        }
        model.agrees(&det);
    }
    assert!(det.occupied() <= det.capacity());
}

/// Writes inputs in the format above (seed corpora, regression tests).
#[derive(Default)]
pub struct Script {
    pub bytes: Vec<u8>,
}

/// A door for [`Script::new`].
pub struct SeedDoor<'a> {
    pub knocks: &'a [Knock],
    pub flags: TcpFlags,
    /// A `timeout_ms` code (0-200: tenths of a second).
    pub timeout: u8,
    /// Target `DST[t]`.
    pub target: Option<u8>,
    pub enabled: bool,
}

impl Script {
    /// `mode` as in the header; then the doors.
    pub fn new(mode: u8, doors: &[SeedDoor]) -> Script {
        let mut s = Script {
            bytes: vec![mode, doors.len() as u8],
        };
        for d in doors {
            s.knocks(d.knocks);
            s.bytes.push(d.flags.set);
            s.bytes.push(d.flags.clear);
            s.bytes.push(d.timeout);
            let t = d.target.map_or(0, |t| 4 | (t & 3));
            s.bytes.push(t | if d.enabled { 0 } else { 0x80 });
        }
        s
    }

    fn knocks(&mut self, k: &[Knock]) {
        self.bytes.push(k.len() as u8);
        self.bytes.extend(k.iter().map(|&k| knock_byte(k)));
    }

    /// A packet from source `src` (0-5) to `DST[dst]` with `FLAGS[flags]`,
    /// `dt_ms` (< 32) after the previous one.
    pub fn packet(&mut self, src: u8, k: Knock, dst: u8, flags: u8, dt_ms: u8) -> &mut Self {
        self.bytes.extend([
            src & 7,
            knock_byte(k),
            (dst & 3) | (flags & 7) << 2,
            dt_ms & 0x1f,
        ]);
        self
    }

    /// A packet `secs` (< 32) seconds before (`back`) or after the previous one.
    pub fn packet_secs(&mut self, src: u8, k: Knock, secs: u8, back: bool) -> &mut Self {
        let dt = 0x80 | (secs & 0x1f) | if back { 0x20 } else { 0 };
        self.bytes.extend([src & 7, knock_byte(k), 0, dt]);
        self
    }

    pub fn set_sequence(&mut self, door: u8, k: &[Knock]) -> &mut Self {
        self.bytes.extend([0xc0, door]);
        self.knocks(k);
        self
    }

    pub fn set_step(&mut self, door: u8, step: u8, k: &[Knock]) -> &mut Self {
        self.bytes.extend([0xc1, door, step]);
        self.knocks(k);
        self
    }

    pub fn disable(&mut self, door: u8) -> &mut Self {
        self.bytes.extend([0xc2, door]);
        self
    }

    pub fn burn(&mut self, door: u8) -> &mut Self {
        self.bytes.extend([0xc3, door]);
        self
    }

    pub fn sweep(&mut self) -> &mut Self {
        self.bytes.extend([0xc4, 3]);
        self
    }

    pub fn jump(&mut self, secs: i32) -> &mut Self {
        self.bytes.push(0xc5);
        self.bytes.extend(secs.to_le_bytes());
        self
    }
}
