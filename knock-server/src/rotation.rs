//! Rotating doors (`Rotate = yes`): the timer that puts the sequences of
//! the accepted steps `T-1`, `T`, `T+1` into the detector.
//!
//! Each rotating door has three consecutive detector doors from `base`;
//! step `s` lives in `base + s % 3`, so when the period turns only the slot
//! of the step that fell out of the window gets a new sequence (the other
//! two, and what they burned, stay). The time is the detector's: packet
//! timestamps (wall clock for a live capture, the file's for `--read`), and
//! the wall clock when the capture is idle. [`Rotator::due`] is one
//! comparison per packet; [`Rotator::advance`] (HMACs, port sets) runs once
//! per period.

use knock_profiles::knockd_conf::RotatingDoor;
use knock_profiles::rotate::Rotation;
use knock_profiles::secret::{Secret, SecretError};

use crate::detector::{Detector, DetectorError};
use crate::event::Millis;

/// Detector doors per rotating door: one per accepted step.
pub const SLOTS: usize = 3;

/// One rotating door and where its slots are.
pub struct Rotating {
    pub name: String,
    pub rotation: Rotation,
    /// First of its [`SLOTS`] detector doors.
    pub base: usize,
}

impl Rotating {
    fn period_ms(&self) -> Millis {
        self.rotation.params().period_secs() * 1000
    }
}

/// The timer of every rotating door of a config.
pub struct Rotator {
    doors: Vec<Rotating>,
    /// Sequences are in force for packet times in `from..until`: `until`
    /// is the next boundary; `from` one period before the current step,
    /// so slightly reordered packets do not swap steps back and forth,
    /// while a clock stepped back by more re-derives.
    from: Millis,
    until: Millis,
}

impl Rotator {
    /// No rotating doors: never due.
    pub fn none() -> Rotator {
        Rotator {
            doors: Vec::new(),
            from: 0,
            until: Millis::MAX,
        }
    }

    /// Rotating doors whose slots are already in the detector (disabled
    /// until the first [`Rotator::advance`]).
    pub fn new(doors: Vec<Rotating>) -> Rotator {
        Rotator {
            from: 0,
            until: if doors.is_empty() { Millis::MAX } else { 0 },
            doors,
        }
    }

    pub fn doors(&self) -> &[Rotating] {
        &self.doors
    }

    pub fn is_empty(&self) -> bool {
        self.doors.is_empty()
    }

    /// Whether `now` is outside the window the detector's sequences were
    /// derived for (the first call after [`Rotator::new`] always is).
    #[inline]
    pub fn due(&self, now: Millis) -> bool {
        now >= self.until || now < self.from
    }

    /// The next period boundary (ms since the epoch).
    pub fn next_boundary(&self) -> Millis {
        self.until
    }

    /// Derives the sequences of the steps accepted at `now` into the
    /// detector's slots that do not hold them yet. Returns whether any
    /// door's ports changed (the capture filter must be rebuilt).
    pub fn advance(&mut self, det: &mut Detector, now: Millis) -> Result<bool, DetectorError> {
        let mut changed = false;
        let mut from = 0;
        let mut until = Millis::MAX;
        for d in &self.doors {
            let period = d.period_ms();
            let t = now / period;
            for k in 0..SLOTS as u64 {
                // Steps T-1, T, T+1 (no step before 0).
                let Some(step) = (t + k).checked_sub(1) else {
                    continue;
                };
                let door = d.base + (step % SLOTS as u64) as usize;
                if det.step_of(door) == Some(step) {
                    continue;
                }
                let seq = d.rotation.sequence_at(&d.name, step);
                changed |= det.set_step(door, step, seq.knocks())?;
            }
            from = from.max(t.saturating_sub(1) * period);
            until = until.min(t.saturating_add(1).saturating_mul(period));
        }
        self.from = from;
        self.until = until;
        Ok(changed)
    }

    /// After a reload: marks as used, in `det` (driven by `self`), the steps
    /// that `old_det` (driven by `old`) had burned for a door of the same
    /// name, secret and parameters.
    pub fn carry_burns(&self, det: &mut Detector, old: &Rotator, old_det: &Detector) {
        for d in &self.doors {
            let Some(o) = old
                .doors
                .iter()
                .find(|o| o.name == d.name && o.rotation == d.rotation)
            else {
                continue;
            };
            for i in 0..SLOTS {
                let Some(step) = old_det.step_of(o.base + i) else {
                    continue;
                };
                if !old_det.is_burned(o.base + i) {
                    continue;
                }
                let door = d.base + (step % SLOTS as u64) as usize;
                if det.step_of(door) == Some(step) {
                    det.burn(door);
                }
            }
        }
    }
}

/// Reads a rotating door's `Secret_File` (refused when group or others can
/// read it) and makes its rotation.
pub fn load(door: &RotatingDoor) -> Result<Rotation, SecretError> {
    let secret = Secret::read_file(&door.secret_file)?;
    rotation(door, secret)
}

fn rotation(door: &RotatingDoor, secret: Secret) -> Result<Rotation, SecretError> {
    // The parameters were checked when the config was parsed.
    Rotation::new(door.params.clone(), secret).map_err(|e| SecretError::InFile {
        path: door.secret_file.clone(),
        error: Box::new(SecretError::BadBase32 {
            reason: e.to_string(),
        }),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::path::Path;
    use std::time::Duration;

    use knock_profiles::rotate::{Params, ProtoChoice};
    use knock_profiles::{Knock, Proto, Sequence, TcpFlags};

    use crate::detector::{Destinations, DoorSpec, Notice};
    use crate::event::Packet;

    const SECRET: &str = "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK";
    /// 1_700_000_000 s: step 56_666_666 of 30 s (the "defaults" vector).
    const T0: Millis = 1_700_000_000_000;
    const PERIOD: Millis = 30_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rotation(params: Params, secret: &str) -> Rotation {
        Rotation::new(params, Secret::parse_base32(secret).unwrap()).unwrap()
    }

    fn placeholder(len: usize, timeout_ms: u32) -> DoorSpec {
        DoorSpec {
            knocks: vec![Knock::tcp(1); len],
            flags: TcpFlags::ANY,
            seq_timeout_ms: timeout_ms,
            target: None,
            enabled: false,
        }
    }

    /// A detector with one fixed door (7000,8000,9000) at 0 and the
    /// rotating doors after it, driven by a fake clock (`now`).
    struct Rig {
        det: Detector,
        rot: Rotator,
        notices: Vec<Notice>,
        refilters: usize,
    }

    impl Rig {
        fn new(doors: Vec<(&str, Rotation)>) -> Rig {
            let mut specs = vec![DoorSpec {
                knocks: vec![Knock::tcp(7000), Knock::tcp(8000), Knock::tcp(9000)],
                flags: TcpFlags::ANY,
                seq_timeout_ms: 5_000,
                target: None,
                enabled: true,
            }];
            let mut rotating = Vec::new();
            for (name, rotation) in doors {
                let base = specs.len();
                for _ in 0..SLOTS {
                    specs.push(placeholder(rotation.params().length, 10_000));
                }
                rotating.push(Rotating {
                    name: name.to_string(),
                    rotation,
                    base,
                });
            }
            Rig {
                det: Detector::new(specs, Destinations::Any, 1024).unwrap(),
                rot: Rotator::new(rotating),
                notices: Vec::new(),
                refilters: 0,
            }
        }

        /// What the pipeline does per packet: the timer, then matching.
        fn send(&mut self, src: &str, k: Knock, now: Millis) {
            if self.rot.due(now) && self.rot.advance(&mut self.det, now).unwrap() {
                self.refilters += 1;
            }
            let ev = Packet {
                src: ip(src),
                dst: ip("192.0.2.1"),
                knock: k,
                flags: TcpFlags::SYN,
                ts: now,
            };
            let notices = &mut self.notices;
            self.det.on_event(&ev, now, &mut |n| notices.push(n));
        }

        fn knock(&mut self, src: &str, seq: &Sequence, now: Millis) {
            for (i, k) in seq.iter().enumerate() {
                self.send(src, *k, now + 100 * i as Millis);
            }
        }

        fn opened(&self) -> Vec<IpAddr> {
            self.notices
                .iter()
                .filter_map(|n| match n {
                    Notice::Opened { src, .. } => Some(*src),
                    _ => None,
                })
                .collect()
        }

        fn replays(&self) -> usize {
            self.notices
                .iter()
                .filter(|n| matches!(n, Notice::Replayed { .. }))
                .count()
        }
    }

    fn vault() -> Rotation {
        rotation(Params::default(), SECRET)
    }

    fn seq_at(step_offset: i64) -> Sequence {
        let step = (T0 / PERIOD) as i64 + step_offset;
        vault().sequence_at("myserver", step as u64)
    }

    #[test]
    fn the_current_step_opens() {
        let mut r = Rig::new(vec![("myserver", vault())]);
        r.knock("192.0.2.7", &seq_at(0), T0 + 1_000);
        assert_eq!(r.opened(), [ip("192.0.2.7")]);
        // The known-answer vector "defaults" is what the server derived.
        assert_eq!(seq_at(0).to_string(), "23563,19361,17193,56572");
    }

    #[test]
    fn the_neighbour_steps_open_and_the_ones_beyond_do_not() {
        for (offset, opens) in [(-2, false), (-1, true), (1, true), (2, false)] {
            let mut r = Rig::new(vec![("myserver", vault())]);
            r.knock("192.0.2.7", &seq_at(offset), T0 + 1_000);
            assert_eq!(
                r.opened().len(),
                usize::from(opens),
                "step T{offset:+}: {:?}",
                r.notices
            );
        }
    }

    #[test]
    fn a_used_sequence_does_not_open_again_in_its_window() {
        let mut r = Rig::new(vec![("myserver", vault())]);
        let seq = seq_at(0);
        r.knock("192.0.2.7", &seq, T0 + 1_000);
        // The same source replays 5 s later, and again one period later
        // (step T is still accepted then, as T-1).
        r.knock("192.0.2.7", &seq, T0 + 6_000);
        r.knock("192.0.2.7", &seq, T0 + PERIOD + 1_000);
        assert_eq!(r.opened().len(), 1);
        assert_eq!(r.replays(), 2);
        assert_eq!(r.det.stats().replayed, 2);
        // A replay from another address (a sniffer's own) is refused too:
        // each (door, step) opens once, whoever knocks it.
        r.knock("203.0.113.9", &seq, T0 + 7_000);
        assert_eq!(r.opened().len(), 1);
        assert_eq!(r.replays(), 3);
        // The next step's sequence still opens, for either source.
        r.knock("203.0.113.9", &seq_at(1), T0 + PERIOD + 2_000);
        assert_eq!(r.opened(), [ip("192.0.2.7"), ip("203.0.113.9")]);
        // Two periods later step T is out of the window: neither opens nor
        // is reported as a replay.
        r.knock("192.0.2.7", &seq, T0 + 2 * PERIOD + 1_000);
        assert_eq!(r.opened().len(), 2);
        assert_eq!(r.replays(), 3);
    }

    #[test]
    fn burns_are_per_step_and_survive_the_window_sliding() {
        let mut r = Rig::new(vec![("myserver", vault())]);
        // T+1 knocked early (a client clock ahead), then its step arrives.
        r.knock("192.0.2.7", &seq_at(1), T0 + 1_000);
        assert_eq!(r.opened().len(), 1);
        r.knock("192.0.2.7", &seq_at(1), T0 + PERIOD + 1_000);
        assert_eq!(r.opened().len(), 1, "still burned after the boundary");
        assert_eq!(r.replays(), 1);
        // One slot swapped per boundary: T-1 went out, T+2 came in.
        assert!(r.refilters >= 2);
    }

    #[test]
    fn the_timer_swaps_one_slot_per_period_and_follows_the_clock() {
        let mut r = Rig::new(vec![("myserver", vault())]);
        let t = T0 / PERIOD;
        r.rot.advance(&mut r.det, T0).unwrap();
        let steps = |r: &Rig| {
            let mut s: Vec<u64> = (1..=3).filter_map(|d| r.det.step_of(d)).collect();
            s.sort_unstable();
            s
        };
        assert_eq!(steps(&r), [t - 1, t, t + 1]);
        assert_eq!(r.rot.next_boundary(), (t + 1) * PERIOD);
        assert!(!r.rot.due(T0 + 5_000));
        assert!(r.rot.due((t + 1) * PERIOD));
        // Crossing a boundary: the slot of T-1 now holds T+2.
        let slot_of_old = 1 + ((t - 1) % 3) as usize;
        assert!(r.rot.advance(&mut r.det, (t + 1) * PERIOD).unwrap());
        assert_eq!(steps(&r), [t, t + 1, t + 2]);
        assert_eq!(r.det.step_of(slot_of_old), Some(t + 2));
        // A packet slightly out of order (before the boundary) changes nothing.
        assert!(!r.rot.due((t + 1) * PERIOD - 10));
        // A clock stepped back by an hour re-derives the window.
        let back = T0 - 3_600_000;
        assert!(r.rot.due(back));
        r.rot.advance(&mut r.det, back).unwrap();
        let tb = back / PERIOD;
        assert_eq!(steps(&r), [tb - 1, tb, tb + 1]);
    }

    #[test]
    fn an_attempt_begun_on_a_swapped_out_step_is_dropped() {
        let mut r = Rig::new(vec![("myserver", vault())]);
        let t = T0 / PERIOD;
        // Half of T-1's sequence just before the boundary that drops T-1...
        let old = seq_at(-1);
        let end = (t + 1) * PERIOD;
        r.send("192.0.2.7", old.knocks()[0], end - 300);
        r.send("192.0.2.7", old.knocks()[1], end - 200);
        // ...then its slot holds T+2: the rest of T+2's sequence must not
        // complete the stale attempt, and T-1's rest does not open either.
        let new = seq_at(2);
        for k in &new.knocks()[2..] {
            r.send("192.0.2.7", *k, end + 100);
        }
        for k in &old.knocks()[2..] {
            r.send("192.0.2.7", *k, end + 200);
        }
        assert!(r.opened().is_empty(), "{:?}", r.notices);
        // T+2 knocked in full from the start opens.
        r.knock("192.0.2.7", &new, end + 1_000);
        assert_eq!(r.opened().len(), 1);
    }

    #[test]
    fn fixed_doors_and_several_rotating_doors_coexist() {
        let udp = rotation(
            Params {
                period: Duration::from_secs(60),
                length: 3,
                range: 20000..=20100,
                exclude: vec![20050],
                protos: ProtoChoice::Udp,
            },
            "JBSWY3DPEHPK3PXPJBSWY3DPEE",
        );
        let lab_seq = udp.sequence_at("lab", T0 / 60_000);
        assert!(lab_seq.iter().all(|k| k.proto == Proto::Udp));
        let mut r = Rig::new(vec![("myserver", vault()), ("lab", udp)]);
        r.knock("192.0.2.7", &lab_seq, T0);
        r.knock(
            "192.0.2.8",
            &Sequence::parse("7000,8000,9000").unwrap(),
            T0 + 1_000,
        );
        r.knock("192.0.2.9", &seq_at(0), T0 + 2_000);
        let doors: Vec<usize> = r
            .notices
            .iter()
            .filter_map(|n| match n {
                Notice::Opened { door, .. } => Some(*door),
                _ => None,
            })
            .collect();
        assert_eq!(doors.len(), 3, "{:?}", r.notices);
        assert!((4..7).contains(&doors[0]), "lab's slots: {doors:?}");
        assert_eq!(doors[1], 0);
        assert!((1..4).contains(&doors[2]), "myserver's slots: {doors:?}");
    }

    #[test]
    fn a_wrong_secret_does_not_open() {
        let mut r = Rig::new(vec![("myserver", vault())]);
        let other = rotation(Params::default(), "JBSWY3DPEHPK3PXPJBSWY3DPEE");
        let wrong = other.sequence_at("myserver", T0 / PERIOD);
        r.knock("192.0.2.7", &wrong, T0 + 1_000);
        assert!(r.opened().is_empty());
    }

    #[test]
    fn a_reload_keeps_what_was_burned() {
        let mut r = Rig::new(vec![("myserver", vault())]);
        r.knock("192.0.2.7", &seq_at(0), T0 + 1_000);
        assert_eq!(r.opened().len(), 1);
        let mut fresh = Rig::new(vec![("myserver", vault())]);
        fresh.rot.advance(&mut fresh.det, T0 + 2_000).unwrap();
        fresh.rot.carry_burns(&mut fresh.det, &r.rot, &r.det);
        fresh.knock("192.0.2.7", &seq_at(0), T0 + 3_000);
        assert!(fresh.opened().is_empty());
        assert_eq!(fresh.replays(), 1);
        // A different secret after the reload: nothing carried.
        let mut rekeyed = Rig::new(vec![(
            "myserver",
            rotation(Params::default(), "JBSWY3DPEHPK3PXPJBSWY3DPEE"),
        )]);
        rekeyed.rot.advance(&mut rekeyed.det, T0 + 2_000).unwrap();
        rekeyed.rot.carry_burns(&mut rekeyed.det, &r.rot, &r.det);
        assert!((1..4).all(|d| !rekeyed.det.is_burned(d)));
    }

    /// profiles/testdata/rotate-vectors.toml, read by hand (flat
    /// `key = value` lines under `[[vector]]`).
    fn vectors() -> Vec<std::collections::BTreeMap<String, String>> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/testdata/rotate-vectors.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let mut out = Vec::new();
        for line in text.lines().map(str::trim) {
            if line == "[[vector]]" {
                out.push(std::collections::BTreeMap::new());
            } else if let Some((k, v)) = line.split_once('=')
                && !line.starts_with('#')
            {
                let v = v.trim().trim_matches('"').to_string();
                out.last_mut()
                    .expect("a key before [[vector]]")
                    .insert(k.trim().to_string(), v);
            }
        }
        out
    }

    #[test]
    fn known_answer_vectors_open_the_server() {
        let vs = vectors();
        assert!(vs.len() >= 5, "{} vectors", vs.len());
        for v in vs {
            let name = &v["name"];
            let exclude: Vec<u16> = v["exclude_ports"]
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse().unwrap())
                .collect();
            let params = Params {
                period: Duration::from_secs(v["period_s"].parse().unwrap()),
                length: v["length"].parse().unwrap(),
                range: knock_profiles::rotate::parse_range(&v["port_range"]).unwrap(),
                exclude,
                protos: v["protocol"].parse().unwrap(),
            };
            let unix: Millis = v["unix_time"].parse().unwrap();
            let expected = Sequence::parse(&v["sequence"]).unwrap();
            let mut r = Rig::new(vec![(v["door"].as_str(), rotation(params, &v["secret"]))]);
            // Packets built from the independent implementation's answer.
            r.knock("192.0.2.7", &expected, unix * 1000);
            assert_eq!(r.opened(), [ip("192.0.2.7")], "vector {name:?}");
            let step: u64 = v["step"].parse().unwrap();
            assert!(
                (1..4).any(|d| r.det.step_of(d) == Some(step) && r.det.is_burned(d)),
                "vector {name:?}: step {step} burned"
            );
        }
    }
}
