//! The packet path: frames in, notices out to the worker.
//!
//! [`Pipeline::feed`] parses a frame, runs the detector and forwards what it
//! reports over a bounded channel. Opens are never dropped (the send waits
//! if the worker is behind); Stage/timeout lines are rate-limited on packet
//! time and, if the channel is full, counted instead of queued, so a flood
//! cannot grow memory or stall matching on logging.

use std::sync::mpsc::{SyncSender, TrySendError};

use crate::detector::{Detector, Notice};
use crate::event::{self, Link, Millis};
use crate::logger::Logger;
use crate::one_time::OneTimeFile;
use crate::rotation::Rotator;
use crate::runner::Job;

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
        self.tokens_milli = (self.tokens_milli + dt.saturating_mul(self.per_sec)).min(cap);
        if self.tokens_milli >= 1000 {
            self.tokens_milli -= 1000;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

pub struct Pipeline {
    pub detector: Detector,
    tx: SyncSender<Job>,
    limiter: Limiter,
    /// One-time sequence file per door (None for fixed sequences).
    one_time: Vec<Option<OneTimeFile>>,
    /// Doors opened by the current packet that use one-time sequences.
    used_one_time: Vec<usize>,
    dry_run: bool,
    last_tick: Millis,
    packets: u64,
    /// Send [`Job::Time`] as packet time advances (offline replay).
    pub drive_clock: bool,
    /// `-4`: ignore IPv6 packets.
    pub ipv4_only: bool,
    /// For rare events only (one-time sequence changes).
    log: Logger,
    names: Vec<String>,
    /// The timer of rotating doors (none by default).
    pub rotator: Rotator,
}

/// What a packet changed beyond notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fed {
    /// The set of doors or their ports changed: rebuild the BPF filter.
    pub filter_changed: bool,
}

impl Pipeline {
    pub fn new(
        detector: Detector,
        tx: SyncSender<Job>,
        one_time: Vec<Option<OneTimeFile>>,
        log_rate: u32,
        dry_run: bool,
        log: Logger,
        names: Vec<String>,
    ) -> Pipeline {
        Pipeline {
            detector,
            tx,
            limiter: Limiter::new(log_rate),
            one_time,
            used_one_time: Vec::with_capacity(8),
            dry_run,
            last_tick: 0,
            packets: 0,
            drive_clock: false,
            ipv4_only: false,
            log,
            names,
            rotator: Rotator::none(),
        }
    }

    pub fn sender(&self) -> &SyncSender<Job> {
        &self.tx
    }

    /// No packet for a while: clear expired attempts (a slice of the table
    /// per call, so every entry is visited well within the time range the
    /// table's 20-bit clock can represent), and turn rotating doors to the
    /// steps of `now` (the capture filter must follow even when no packet
    /// gets through it).
    pub fn idle(&mut self, now: Millis) -> Fed {
        self.detector.sweep(now, 65_536);
        self.rotate(now)
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

    /// Feeds one captured frame with its timestamp.
    #[inline]
    pub fn feed(&mut self, link: Link, frame: &[u8], ts: Millis) -> Fed {
        self.packets += 1;
        if self.packets.is_multiple_of(1024) {
            self.detector.sweep(ts, 1024);
        }
        if self.drive_clock && ts >= self.last_tick + 250 {
            self.last_tick = ts;
            let _ = self.tx.try_send(Job::Time(ts));
        }
        let rotated = self.rotate(ts);
        let Some(ev) = event::parse(link, frame, ts) else {
            return rotated;
        };
        if self.ipv4_only && ev.src.is_ipv6() {
            return rotated;
        }
        let Pipeline {
            detector,
            tx,
            limiter,
            one_time,
            used_one_time,
            ..
        } = self;
        detector.on_event(&ev, ts, &mut |n| match n {
            Notice::Opened { door, .. } => {
                if one_time.get(door).is_some_and(Option::is_some) {
                    used_one_time.push(door);
                }
                // Never dropped: wait for the worker if it is behind.
                let _ = tx.send(Job::Notice(n, ts));
            }
            Notice::Dropped { .. } => {}
            Notice::Broken { .. }
            | Notice::Stage { .. }
            | Notice::Timeout { .. }
            | Notice::Replayed { .. } => {
                if limiter.allow(ts) {
                    if limiter.suppressed > 0
                        && tx.try_send(Job::Suppressed(limiter.suppressed)).is_ok()
                    {
                        limiter.suppressed = 0;
                    }
                    if let Err(TrySendError::Full(_)) = tx.try_send(Job::Notice(n, ts)) {
                        limiter.suppressed += 1;
                    }
                }
            }
        });
        if self.used_one_time.is_empty() {
            return rotated;
        }
        self.next_one_time_sequences();
        Fed {
            filter_changed: true,
        }
    }

    /// Moves doors whose one-time sequence was just used to their next
    /// sequence (or disables them). Rare: only after a successful knock.
    fn next_one_time_sequences(&mut self) {
        let doors: Vec<usize> = self.used_one_time.drain(..).collect();
        for door in doors {
            let Some(slot) = self.one_time.get_mut(door) else {
                continue;
            };
            let Some(file) = slot.take() else {
                continue;
            };
            let name = self.names.get(door).cloned().unwrap_or_default();
            let next = file.advance(self.dry_run);
            let msg = match next {
                Ok(Some(f)) => {
                    let seq = f.sequence.knocks().to_vec();
                    let text = f.sequence.to_string();
                    *slot = Some(f);
                    match self.detector.set_sequence(door, seq) {
                        Ok(()) => format!("{name}: next one-time sequence is {text}"),
                        Err(e) => {
                            self.detector.disable(door);
                            format!("{name}: {e}; door disabled")
                        }
                    }
                }
                Ok(None) => {
                    self.detector.disable(door);
                    format!("{name}: one-time sequences used up; door disabled")
                }
                Err(e) => {
                    self.detector.disable(door);
                    format!("{name}: {e}; door disabled")
                }
            };
            self.log.info(&msg);
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
}
