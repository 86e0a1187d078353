//! The packet path: frames in, notices out to the worker.
//!
//! [`Pipeline::feed`] parses a frame, runs the detector and forwards what it
//! reports to the worker over two bounded channels, and never waits for
//! it. Opens go on the control channel, which the worker reads first; if
//! it is full they wait in a fixed backlog and are sent again between
//! batches (with a loud log line), never dropped while the backlog has
//! room, and a reload sends them on before the new doors. Stage/timeout lines go on the event channel, rate-limited on
//! packet time and, if the channel is full, counted instead of queued, so
//! a flood cannot grow memory or stall matching on logging.
//!
//! One-time sequences: when one is used, the door is disabled at once
//! (O(doors), no table scan); the worker marks the line used in the file
//! and sends the next sequence back, which is applied between batches.
//!
//! SPA doors: a UDP packet to an SPA port is decided here ([`SpaDoors`]);
//! an accepted one goes on the worker's grant channel and is announced on
//! the control channel like an open (kept in the backlog when that is
//! full); a refused one is logged like a Stage line, rate-limited.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use crate::detector::{Detector, MAX_DOORS, Notice};
use crate::doors::DoorInfo;
use crate::event::{self, Link, Millis};
use crate::logger::Logger;
use crate::rotation::Rotator;
use crate::runner::{Message, OneTime, OneTimeUpdate, ToWorker};
use crate::source::Source;
use crate::spa_doors::{SpaDoors, SpaOutcome};

/// Knock log lines allowed per second of packet time, and the burst.
pub const DEFAULT_LOG_RATE: u32 = 100;
const BURST_SECONDS: u64 = 10;

/// A token bucket on packet time.
struct Limiter {
    per_sec: u64,
    tokens_milli: u64,
    last: Millis,
    suppressed: u64,
}

impl Limiter {
    fn new(per_sec: u32) -> Limiter {
        Limiter {
            per_sec: u64::from(per_sec),
            tokens_milli: u64::from(per_sec) * BURST_SECONDS * 1000,
            last: 0,
            suppressed: 0,
        }
    }

    /// Whether one more line may be logged at `now`.
    #[inline]
    fn allow(&mut self, now: Millis) -> bool {
        if self.per_sec == 0 {
            return true;
        }
        let cap = self.per_sec * BURST_SECONDS * 1000;
        let dt = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.tokens_milli = self
            .tokens_milli
            .saturating_add(dt.saturating_mul(self.per_sec))
            .min(cap);
        if self.tokens_milli >= 1000 {
            self.tokens_milli -= 1000;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

/// Sends a log line (a Stage, timeout or SPA refusal line) to the worker,
/// rate-limited on packet time: in a replay in order on the control
/// channel, live on the event channel, counted instead when it is full.
#[inline]
fn send_log_line(to: &ToWorker, limiter: &mut Limiter, in_order: bool, msg: Message, ts: Millis) {
    if !limiter.allow(ts) {
        return;
    }
    if in_order {
        if limiter.suppressed > 0 {
            to.control(Message::Suppressed(limiter.suppressed));
            limiter.suppressed = 0;
        }
        to.control(msg);
    } else {
        if limiter.suppressed > 0 && to.event(Message::Suppressed(limiter.suppressed)) {
            limiter.suppressed = 0;
        }
        if !to.event(msg) {
            limiter.suppressed += 1;
        }
    }
}

/// Opens waiting for room on the control channel (allocated once): as many
/// as the worker queues for a command slot (a burst of that many knockers).
pub const OPEN_BACKLOG: usize = 16_384;

pub struct Pipeline {
    pub detector: Detector,
    to: ToWorker,
    limiter: Limiter,
    /// Per door: whether it uses one-time sequences.
    one_time: Vec<bool>,
    /// The worker's answers: a one-time door's next sequence.
    updates: Option<Receiver<OneTimeUpdate>>,
    /// Doors opened by the current packet that use one-time sequences.
    used_one_time: Vec<usize>,
    /// Opens the control channel had no room for, sent again later.
    backlog: VecDeque<Message>,
    /// Opens that found the backlog full too (not opened: fail closed).
    opens_lost: u64,
    opens_lost_logged: u64,
    backlog_warned: bool,
    last_tick: Millis,
    packets: u64,
    /// [`Source::Replay`]: packet time goes to the worker as it advances;
    /// every message goes on the control channel, waiting for room, so the
    /// worker sees stages, opens and time in packet order; a used one-time
    /// door waits for its next sequence. Never live: there the packet path
    /// must not wait.
    replay: bool,
    /// The latest packet time seen (for [`Pipeline::finish`]).
    last_ts: Millis,
    /// `-4`: ignore IPv6 packets.
    ipv4_only: bool,
    /// For rare events only (between batches, never per packet).
    log: Logger,
    /// The timer of rotating doors (none by default).
    rotator: Rotator,
    /// SPA doors (none by default).
    spa: SpaDoors,
    /// Accepted SPA packets lost: the grant channel or the backlog was full.
    spa_lost: u64,
    spa_lost_logged: u64,
}

/// What a packet changed beyond notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fed {
    /// The set of doors or their ports changed: rebuild the BPF filter.
    pub filter_changed: bool,
}

impl Fed {
    fn or(self, other: Fed) -> Fed {
        Fed {
            filter_changed: self.filter_changed || other.filter_changed,
        }
    }
}

impl Pipeline {
    /// A pipeline for packets from `source`, with no rotating and no
    /// one-time doors (see [`Pipeline::with_rotator`] and
    /// [`Pipeline::with_one_time`]).
    pub fn new(
        source: &Source,
        detector: Detector,
        to: ToWorker,
        log_rate: u32,
        log: Logger,
    ) -> Pipeline {
        Pipeline {
            detector,
            to,
            limiter: Limiter::new(log_rate),
            one_time: Vec::new(),
            updates: None,
            used_one_time: Vec::with_capacity(MAX_DOORS + 1),
            backlog: VecDeque::with_capacity(OPEN_BACKLOG),
            opens_lost: 0,
            opens_lost_logged: 0,
            backlog_warned: false,
            last_tick: 0,
            packets: 0,
            replay: source.is_replay(),
            last_ts: 0,
            ipv4_only: false,
            log,
            rotator: Rotator::none(),
            spa: SpaDoors::none(),
            spa_lost: 0,
            spa_lost_logged: 0,
        }
    }

    /// The SPA doors.
    pub fn with_spa(mut self, spa: SpaDoors) -> Pipeline {
        self.spa = spa;
        self
    }

    pub fn spa(&self) -> &SpaDoors {
        &self.spa
    }

    pub fn spa_mut(&mut self) -> &mut SpaDoors {
        &mut self.spa
    }

    /// The capture filter for the doors as they are now, with `locals` as
    /// the destinations of doors without `Target`.
    pub fn filter(&self, locals: &[std::net::IpAddr]) -> Option<String> {
        crate::filter::build(self.detector.doors(), self.spa.doors(), locals)
    }

    /// Accepted SPA packets that could not be handed to the worker.
    pub fn spa_lost(&self) -> u64 {
        self.spa_lost
    }

    /// The timer of the rotating doors, whose slots are in the detector.
    pub fn with_rotator(mut self, rotator: Rotator) -> Pipeline {
        self.rotator = rotator;
        self
    }

    /// Doors with one-time sequences (`doors[i]`), and where the worker
    /// sends their next sequences.
    pub fn with_one_time(mut self, doors: Vec<bool>, updates: Receiver<OneTimeUpdate>) -> Pipeline {
        self.one_time = doors;
        self.updates = Some(updates);
        self
    }

    /// `-4`: IPv6 packets are ignored.
    pub fn ipv4_only(mut self, yes: bool) -> Pipeline {
        self.ipv4_only = yes;
        self
    }

    pub fn rotator(&self) -> &Rotator {
        &self.rotator
    }

    /// A reload: `new`, built from the new config on the same channel to
    /// the worker, replaces this pipeline. The opens still waiting in this
    /// pipeline's backlog go to the worker first, waiting for room (a
    /// reload may wait, a packet may not), and only then the new doors
    /// (`doors`, `one_time`), so the worker runs those opens with the doors
    /// they were knocked on: a reload loses no open. Opens lost before it
    /// are logged now if they were not yet. Counters, and the rotating
    /// steps this pipeline had burned, carry over.
    pub fn reload(&mut self, new: Pipeline, doors: Arc<Vec<DoorInfo>>, one_time: OneTime) {
        while let Some(msg) = self.backlog.pop_front() {
            self.to.control(msg);
        }
        self.log_lost();
        self.to.control(Message::Doors(doors, one_time));
        let mut old = std::mem::replace(self, new);
        self.detector.carry_stats(old.detector.stats());
        self.spa.carry_over(&mut old.spa);
        self.spa_lost += old.spa_lost;
        self.spa_lost_logged += old.spa_lost_logged;
        self.rotator
            .carry_burns(&mut self.detector, &old.rotator, &old.detector);
        self.opens_lost += old.opens_lost;
        self.opens_lost_logged += old.opens_lost_logged;
        self.packets += old.packets;
    }

    /// Frames fed so far (whatever they held), across reloads.
    pub fn frames(&self) -> u64 {
        self.packets
    }

    pub fn sender(&self) -> &ToWorker {
        &self.to
    }

    /// Opens waiting for the worker, and opens lost because even the
    /// backlog was full.
    pub fn backlog(&self) -> (usize, u64) {
        (self.backlog.len(), self.opens_lost)
    }

    /// No packet for a while: clear expired attempts (a slice of the table
    /// per call, so every entry is visited well within the time range the
    /// table's 20-bit clock can represent), and turn rotating doors to the
    /// steps of `now` (the capture filter must follow even when no packet
    /// gets through it).
    pub fn idle(&mut self, now: Millis) -> Fed {
        self.detector.sweep(now, 65_536);
        let fed = self.between_batches();
        fed.or(self.rotate(now))
    }

    /// Between batches of packets (the capture ring is empty): sends opens
    /// that waited, applies one-time sequences the worker sent, and says
    /// loudly if opens are waiting or were lost.
    pub fn between_batches(&mut self) -> Fed {
        self.flush_backlog();
        if !self.backlog.is_empty() && !self.backlog_warned {
            self.backlog_warned = true;
            self.log.error(&format!(
                "the worker is behind: {} open(s) waiting for room in its queue; retrying",
                self.backlog.len()
            ));
        } else if self.backlog.is_empty() {
            self.backlog_warned = false;
        }
        self.log_lost();
        self.apply_one_time(None)
    }

    /// Says how many opens (and accepted SPA packets) were lost since it
    /// last said so.
    fn log_lost(&mut self) {
        if self.spa_lost > self.spa_lost_logged {
            self.log.error(&format!(
                "{} accepted SPA packet(s) lost: the worker's queue and the backlog were full \
                 (those doors were not opened; the client may send a new packet)",
                self.spa_lost - self.spa_lost_logged
            ));
            self.spa_lost_logged = self.spa_lost;
        }
        if self.opens_lost > self.opens_lost_logged {
            self.log.error(&format!(
                "{} open(s) lost: the worker's queue and the backlog of {OPEN_BACKLOG} were \
                 full (those doors were not opened)",
                self.opens_lost - self.opens_lost_logged
            ));
            self.opens_lost_logged = self.opens_lost;
        }
    }

    #[inline]
    fn flush_backlog(&mut self) {
        // In order; stop at the first that finds no room.
        while let Some(msg) = self.backlog.pop_front() {
            if let Err(msg) = self.to.try_control(msg) {
                self.backlog.push_front(msg);
                break;
            }
        }
    }

    /// Sends the opens still in the backlog, waiting for room (end of an
    /// offline replay, where nothing else waits on this thread).
    pub fn finish(&mut self) {
        while let Some(msg) = self.backlog.pop_front() {
            self.to.control(msg);
        }
        if self.replay {
            // The last packet's time, so stops due by then run as timeouts.
            self.send_time(self.last_ts);
        }
    }

    #[inline]
    fn send_time(&self, ts: Millis) {
        if self.replay {
            self.to.control(Message::Time(ts));
        } else {
            let _ = self.to.event(Message::Time(ts));
        }
    }

    /// Applies the worker's one-time updates; with `wait`, first waits (at
    /// most that long) for one.
    fn apply_one_time(&mut self, wait: Option<std::time::Duration>) -> Fed {
        let Some(rx) = &self.updates else {
            return Fed::default();
        };
        let mut fed = Fed::default();
        let mut first = wait.and_then(|w| rx.recv_timeout(w).ok());
        while let Some(u) = first.take().or_else(|| rx.try_recv().ok()) {
            fed.filter_changed = true;
            let Some(knocks) = u.knocks else {
                continue; // disabled when used; stays so
            };
            if let Err(e) = self.detector.set_sequence(u.door, knocks) {
                self.detector.disable(u.door);
                self.log
                    .error(&format!("door {}: {e}; door disabled", u.door));
            }
        }
        fed
    }

    /// Puts the rotating doors' sequences for `now` in place if a period
    /// boundary has passed. Cheap when none has (one comparison).
    #[inline]
    pub fn rotate(&mut self, now: Millis) -> Fed {
        if !self.rotator.due(now) {
            return Fed::default();
        }
        match self.rotator.advance(&mut self.detector, now) {
            Ok(changed) => Fed {
                filter_changed: changed,
            },
            Err(e) => {
                // Parameters were checked at load; keep the old steps.
                self.log.error(&format!("rotating doors: {e}"));
                Fed::default()
            }
        }
    }

    /// Decides an SPA packet and hands what it caused to the worker.
    #[inline]
    fn spa_packet(&mut self, ev: &event::Packet, payload: event::Payload<'_>, ts: Millis) {
        let Pipeline {
            spa,
            to,
            limiter,
            backlog,
            spa_lost,
            replay,
            ..
        } = self;
        let in_order = *replay;
        spa.on_packet(ev, payload, ts / 1000, &mut |o| match o {
            SpaOutcome::Open(g) => {
                if in_order {
                    to.grant(g);
                    to.control(Message::SpaOpen(ts));
                    return;
                }
                // Its announcement must reach the worker whenever the grant
                // does (one per grant, in order): room in the backlog first.
                if backlog.len() >= OPEN_BACKLOG || !to.try_grant(g) {
                    *spa_lost += 1;
                    return;
                }
                if let Err(msg) = to.try_control(Message::SpaOpen(ts)) {
                    backlog.push_back(msg);
                }
            }
            SpaOutcome::Refused(r) => {
                send_log_line(to, limiter, in_order, Message::SpaRefused(r, ts), ts);
            }
        });
    }

    /// Feeds one captured frame with its timestamp. Never waits for the
    /// worker (except in a replay, for a used one-time door's next sequence).
    #[inline]
    pub fn feed(&mut self, link: Link, frame: &[u8], ts: Millis) -> Fed {
        self.packets += 1;
        if self.packets.is_multiple_of(1024) {
            self.detector.sweep(ts, 1024);
        }
        if !self.backlog.is_empty() {
            self.flush_backlog();
        }
        self.last_ts = self.last_ts.max(ts);
        if self.replay && ts >= self.last_tick.saturating_add(250) {
            self.last_tick = ts;
            self.send_time(ts);
        }
        let rotated = self.rotate(ts);
        let Some((ev, payload)) = event::parse_with_payload(link, frame, ts) else {
            return rotated;
        };
        if self.ipv4_only && ev.src.is_ipv6() {
            return rotated;
        }
        if self.spa.wants(&ev) {
            self.spa_packet(&ev, payload, ts);
        }
        let Pipeline {
            detector,
            to,
            limiter,
            one_time,
            used_one_time,
            backlog,
            opens_lost,
            replay,
            ..
        } = self;
        let in_order = *replay;
        detector.on_event(&ev, ts, &mut |n| match n {
            Notice::Opened { door, .. } => {
                if one_time.get(door).copied().unwrap_or(false) {
                    used_one_time.push(door);
                }
                if in_order {
                    to.control(Message::Notice(n, ts));
                    return;
                }
                // Never dropped, never waited for: if the control channel
                // is full, kept and sent again later.
                if let Err(msg) = to.try_control(Message::Notice(n, ts)) {
                    if backlog.len() < OPEN_BACKLOG {
                        backlog.push_back(msg);
                    } else {
                        *opens_lost += 1;
                    }
                }
            }
            Notice::Dropped { .. } => {}
            Notice::Broken { .. }
            | Notice::Stage { .. }
            | Notice::Timeout { .. }
            | Notice::Replayed { .. } => {
                send_log_line(to, limiter, in_order, Message::Notice(n, ts), ts);
            }
        });
        if self.used_one_time.is_empty() {
            return rotated;
        }
        // A one-time sequence was used: the door is closed to it at once;
        // the worker moves the file on and sends the next sequence.
        for i in 0..self.used_one_time.len() {
            let door = self.used_one_time[i];
            self.detector.disable(door);
        }
        let used = self.used_one_time.len();
        self.used_one_time.clear();
        if self.replay {
            for _ in 0..used {
                self.flush_backlog();
                self.apply_one_time(Some(std::time::Duration::from_secs(10)));
            }
        }
        Fed {
            filter_changed: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_a_burst_then_the_rate() {
        let mut l = Limiter::new(10);
        let allowed = (0..500).filter(|_| l.allow(0)).count();
        assert_eq!(allowed, 100);
        // One second later: ten more.
        let allowed = (0..500).filter(|_| l.allow(1000)).count();
        assert_eq!(allowed, 10);
        assert_eq!(l.suppressed, 890);
        let mut unlimited = Limiter::new(0);
        assert!((0..10_000).all(|_| unlimited.allow(0)));
    }

    use crate::detector::{Destinations, DoorSpec};
    use crate::event::build;
    use crate::runner::{self, OneTime, OneTimeUpdate};
    use knock_profiles::spa::SpaKeys;
    use knock_profiles::{Knock, TcpFlags};
    use std::net::IpAddr;

    fn pipeline(
        doors: Vec<Vec<Knock>>,
        control: usize,
        events: usize,
    ) -> (Pipeline, runner::WorkerRx) {
        let specs = doors
            .into_iter()
            .map(|knocks| DoorSpec {
                knocks,
                flags: TcpFlags::ANY,
                seq_timeout_ms: 5_000,
                target: None,
                enabled: true,
            })
            .collect();
        let det = Detector::new(specs, Destinations::Any, 1024).unwrap();
        let (to, rx) = runner::channels(control, events);
        (Pipeline::new(&live(), det, to, 0, Logger::memory()), rx)
    }

    fn live() -> Source {
        Source::Live {
            interface: "veth0".into(),
            journal: None,
            open_without_journal: false,
        }
    }

    fn knock(p: &mut Pipeline, src: &str, port: u16, ts: Millis) -> Fed {
        let src: IpAddr = src.parse().unwrap();
        let f = build::ethernet(
            src,
            "192.0.2.1".parse().unwrap(),
            Knock::tcp(port),
            TcpFlags::SYN,
        )
        .unwrap();
        p.feed(Link::Ethernet, &f, ts)
    }

    fn opened(rx: &runner::WorkerRx) -> Vec<String> {
        rx.control
            .try_iter()
            .filter_map(|j| match j {
                Message::Notice(Notice::Opened { src, .. }, _) => Some(src.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_worker_that_does_not_read_never_blocks_the_packet_thread_nor_loses_opens() {
        // One-knock door: every packet opens. Tiny channels, nobody reading.
        let (mut p, rx) = pipeline(vec![vec![Knock::tcp(7000)]], 2, 2);
        for i in 0..100u32 {
            knock(&mut p, &format!("198.18.0.{}", i + 1), 7000, u64::from(i));
        }
        // Came back at once: two opens queued, the rest in the backlog;
        // log-only events beyond the channel were counted, not waited for.
        assert_eq!(p.backlog(), (98, 0));
        assert!(p.limiter.suppressed > 0);
        let mut got = opened(&rx);
        while p.backlog().0 > 0 {
            p.between_batches();
            got.extend(opened(&rx));
        }
        let want: Vec<String> = (1..=100).map(|i| format!("198.18.0.{i}")).collect();
        assert_eq!(got, want, "every open, in order");
        assert!(
            p.log
                .lines()
                .iter()
                .any(|l| l.starts_with("the worker is behind: ") && l.contains(" open(s) waiting")),
            "{:?}",
            p.log.lines()
        );
    }

    /// SIGHUP right after a burst: the opens waiting in the backlog reach
    /// the worker before the new doors do (they were lost with the old
    /// pipeline), and opens lost before the reload are still said.
    #[test]
    fn a_reload_keeps_the_opens_waiting_in_the_backlog() {
        let one_knock = vec![vec![Knock::tcp(7000)]];
        let (mut p, rx) = pipeline(one_knock.clone(), 2, 2);
        let src = |i: u32| format!("198.18.{}.{}", i / 256, i % 256);
        for i in 0..10 {
            knock(&mut p, &src(i), 7000, u64::from(i));
        }
        assert_eq!(p.backlog(), (8, 0));
        // The worker reads on while the reload waits for room.
        let reader = std::thread::spawn(move || {
            let mut before_doors = Vec::new();
            for m in rx.control.iter() {
                match m {
                    Message::Notice(Notice::Opened { src, .. }, _) => {
                        before_doors.push(src.to_string())
                    }
                    Message::Doors(..) => return before_doors,
                    _ => {}
                }
            }
            before_doors
        });
        let (new, _) = pipeline(one_knock, 2, 2);
        let new = Pipeline::new(&live(), new.detector, p.to.clone(), 0, p.log.clone());
        p.reload(new, Arc::new(Vec::new()), OneTime::default());
        let want: Vec<String> = (0..10).map(src).collect();
        assert_eq!(reader.join().unwrap(), want);
        assert_eq!(p.backlog(), (0, 0));
        assert_eq!(p.detector.stats().opened, 10, "counters carry over");
    }

    #[test]
    fn opens_lost_before_a_reload_are_said_and_counted() {
        let one_knock = vec![vec![Knock::tcp(7000)]];
        let (mut p, rx) = pipeline(one_knock.clone(), 1, 1);
        let lost = 3;
        let n = OPEN_BACKLOG as u32 + 1 + lost;
        for i in 0..n {
            knock(&mut p, &format!("198.18.{}.{}", i / 256, i % 256), 7000, 0);
        }
        assert_eq!(p.backlog(), (OPEN_BACKLOG, u64::from(lost)));
        let reader = std::thread::spawn(move || {
            rx.control
                .iter()
                .take_while(|m| !matches!(m, Message::Doors(..)))
                .count()
        });
        let (new, _) = pipeline(one_knock, 1, 1);
        let new = Pipeline::new(&live(), new.detector, p.to.clone(), 0, p.log.clone());
        p.reload(new, Arc::new(Vec::new()), OneTime::default());
        assert_eq!(reader.join().unwrap(), OPEN_BACKLOG + 1);
        assert_eq!(
            p.backlog(),
            (0, u64::from(lost)),
            "the new pipeline counts them"
        );
        assert!(
            p.log
                .lines()
                .iter()
                .any(|l| l.starts_with("3 open(s) lost")),
            "{:?}",
            p.log.lines()
        );
    }

    fn spa_pipeline(control: usize, events: usize) -> (Pipeline, runner::WorkerRx, SpaKeys) {
        use crate::spa_doors::SpaDoorSpec;
        use knock_profiles::fwknop_access::AccessConf;
        let keys = SpaKeys::generate().unwrap();
        let text = knock_profiles::fwknop_access::format_stanza(&keys, None);
        let access = AccessConf::parse(&text, std::path::Path::new("access.conf")).unwrap();
        let spa = SpaDoors::new(
            vec![SpaDoorSpec {
                port: 62201,
                target: None,
                access,
                default_open_secs: 30,
                info: 1,
            }],
            Destinations::Any,
        );
        let (p, rx) = pipeline(vec![vec![Knock::tcp(7000)]], control, events);
        (p.with_spa(spa), rx, keys)
    }

    fn spa_packet(keys: &SpaKeys, ts_s: u64) -> Vec<u8> {
        use knock_profiles::spa::{self, AllowIp, Message as Spa, PortList, Username};
        let msg = Spa::new(
            Username::new("alice").unwrap(),
            AllowIp::Source,
            PortList::parse("tcp/22").unwrap(),
            None,
            ts_s,
        )
        .unwrap();
        spa::encode(&msg, keys).unwrap().into_bytes()
    }

    fn send_spa(p: &mut Pipeline, src: &str, payload: &[u8], ts: Millis) {
        let f = build::ethernet_udp(
            src.parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
            62201,
            payload,
        )
        .unwrap();
        p.feed(Link::Ethernet, &f, ts);
    }

    /// Accepted packets are announced on the control channel, one per grant
    /// in order, and kept in the backlog when that is full; refused ones
    /// are log lines on the event channel.
    #[test]
    fn spa_grants_reach_the_worker_in_order_and_refusals_are_log_lines() {
        let (mut p, rx, keys) = spa_pipeline(1, 8);
        let t = 1_800_000_000u64;
        let pkts: Vec<Vec<u8>> = (0..3).map(|_| spa_packet(&keys, t)).collect();
        for (i, pkt) in pkts.iter().enumerate() {
            send_spa(
                &mut p,
                &format!("192.0.2.{}", 10 + i),
                pkt,
                t * 1000 + i as u64,
            );
        }
        // A replay and junk: refused, logged.
        send_spa(&mut p, "192.0.2.99", &pkts[0], t * 1000 + 5);
        send_spa(&mut p, "198.18.0.1", &[b'A'; 200], t * 1000 + 6);
        assert_eq!(p.backlog(), (2, 0), "two announcements wait for room");
        let mut srcs = Vec::new();
        loop {
            for m in rx.control.try_iter() {
                match m {
                    Message::SpaOpen(_) => srcs.push(rx.grants.try_recv().unwrap().src.to_string()),
                    other => panic!("unexpected {other:?}"),
                }
            }
            if p.backlog().0 == 0 {
                break;
            }
            p.between_batches();
        }
        for m in rx.control.try_iter() {
            if let Message::SpaOpen(_) = m {
                srcs.push(rx.grants.try_recv().unwrap().src.to_string());
            }
        }
        assert_eq!(srcs, ["192.0.2.10", "192.0.2.11", "192.0.2.12"]);
        let refused: Vec<String> = rx
            .events
            .try_iter()
            .filter_map(|m| match m {
                Message::SpaRefused(r, _) => Some(format!("{} {}", r.src, r.why)),
                _ => None,
            })
            .collect();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(
            refused[0].starts_with("192.0.2.99 replayed packet"),
            "{refused:?}"
        );
        assert!(refused[1].starts_with("198.18.0.1 bad HMAC"), "{refused:?}");
        let s = p.spa().stats();
        assert_eq!((s.packets, s.accepted, s.refused), (5, 3, 2));
    }

    #[test]
    fn a_reload_keeps_spa_packets_refused_and_a_full_grant_queue_loses_loudly() {
        let (mut p, rx, keys) = spa_pipeline(1024, 8);
        let t = 1_800_000_000u64;
        let first = spa_packet(&keys, t);
        send_spa(&mut p, "192.0.2.10", &first, t * 1000);
        let (new, _, _) = spa_pipeline(8, 8);
        let new = Pipeline::new(&live(), new.detector, p.to.clone(), 0, p.log.clone())
            .with_spa(SpaDoors::new(p.spa().doors().to_vec(), Destinations::Any));
        p.reload(new, Arc::new(Vec::new()), OneTime::default());
        send_spa(&mut p, "192.0.2.10", &first, t * 1000 + 10);
        assert_eq!(
            p.spa().stats().replayed,
            1,
            "still refused after the reload"
        );
        // Nobody reads the grants: beyond the grant queue they are lost,
        // counted and said between batches.
        for _ in 0..runner::GRANT_QUEUE + 2 {
            send_spa(&mut p, "192.0.2.10", &spa_packet(&keys, t), t * 1000 + 20);
        }
        // The queue holds the first packet's grant and 255 of these.
        assert_eq!(p.spa_lost(), 3);
        p.between_batches();
        assert!(
            p.log
                .lines()
                .iter()
                .any(|l| l.starts_with("3 accepted SPA packet(s) lost")),
            "{:?}",
            p.log.lines()
        );
        drop(rx);
    }

    #[test]
    fn one_time_doors_close_at_once_and_take_the_next_sequence_between_batches() {
        let (p, rx) = pipeline(vec![vec![Knock::tcp(1111), Knock::tcp(2222)]], 16, 16);
        let (reply, updates) = std::sync::mpsc::sync_channel(4);
        let mut p = p.with_one_time(vec![true], updates);
        knock(&mut p, "192.0.2.7", 1111, 0);
        assert!(knock(&mut p, "192.0.2.7", 2222, 1).filter_changed);
        assert_eq!(opened(&rx), ["192.0.2.7"]);
        // Used: nobody opens with it again, even before the worker answers.
        assert!(!p.detector.doors()[0].enabled);
        knock(&mut p, "192.0.2.8", 1111, 2);
        knock(&mut p, "192.0.2.8", 2222, 3);
        assert!(opened(&rx).is_empty());
        // The worker's answer is applied between batches.
        reply
            .send(OneTimeUpdate {
                door: 0,
                knocks: Some(vec![Knock::tcp(3333), Knock::tcp(4444)]),
            })
            .unwrap();
        assert!(p.between_batches().filter_changed);
        knock(&mut p, "192.0.2.8", 3333, 105);
        knock(&mut p, "192.0.2.8", 4444, 106);
        assert_eq!(opened(&rx), ["192.0.2.8"]);
        // Used up: stays disabled.
        reply
            .send(OneTimeUpdate {
                door: 0,
                knocks: None,
            })
            .unwrap();
        p.between_batches();
        assert!(!p.detector.doors()[0].enabled);
    }
}
