//! The server's acceptance checks for an authenticated SPA packet, as
//! fwknopd makes them: its timestamp within ±[`DEFAULT_MAX_AGE`] seconds of
//! the server's clock, and its digest ([`crate::spa::replay_digest`]) not
//! seen before. Pure: the clock is a parameter (`now`, Unix seconds).
//!
//! # Bounded memory
//!
//! A digest only has to be remembered while its packet could still pass
//! the clock check: a packet stamped `t` is refused as stale once
//! `now > t + max_age`, so its digest can be forgotten then. The cache keeps
//! each digest with that time (`max(t, now) + max_age`, so a packet stamped
//! ahead of the server's clock is kept until it could no longer pass
//! either) and drops what is past it.
//!
//! Only packets whose HMAC matched reach the cache (the server calls it
//! after [`crate::spa::decode`]), so someone without the key cannot fill
//! it: its size is set by how many valid packets the key holders send
//! within one window. The table has a fixed capacity
//! ([`DEFAULT_CAPACITY`] digests of 32 bytes plus an 8-byte time, about
//! 200 KiB with the hash table's overhead), allocated once in
//! [`ReplayCache::new`]; nothing is allocated afterwards. When it is full
//! of digests that are all still live, a new packet is refused
//! ([`Refusal::Full`]) rather than evicting a live digest, which would let
//! that packet be replayed: the cache fails closed, and only a key holder
//! sending thousands of packets in four minutes can cause it.
//!
//! Expired digests are dropped when the table is full (one pass over it,
//! amortised over as many inserts as it holds) or when the server calls
//! [`ReplayCache::expire`] (e.g. once a second, or before journaling).
//!
//! To survive a restart, the server journals [`ReplayCache::entries`] and
//! puts them back with [`ReplayCache::remember`]; a digest is worth
//! journaling only until its time, so the journal stays bounded too.
//!
//! If the server's clock steps back, digests already forgotten could pass
//! again while the clock catches up; digests still held stay refused.

use std::collections::HashMap;

/// fwknopd's default `MAX_SPA_PACKET_AGE`: seconds a packet's timestamp
/// may differ from the server's clock, either way.
pub const DEFAULT_MAX_AGE: u64 = 120;

/// Digests the cache holds by default: far more valid packets than a door's
/// users send in one window.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Why an authenticated packet is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("replayed packet (its digest was seen before)")]
    Replay,
    #[error("timestamp is {secs} s old (at most {max} s allowed)")]
    TooOld { secs: u64, max: u64 },
    #[error("timestamp is {secs} s ahead of the server's clock (at most {max} s allowed)")]
    InFuture { secs: u64, max: u64 },
    #[error("replay cache is full ({capacity} packets seen within the window); try again later")]
    Full { capacity: usize },
}

/// The clock check alone: `timestamp` within `max_age` seconds of `now`.
pub fn check_age(timestamp: u64, now: u64, max_age: u64) -> Result<(), Refusal> {
    if timestamp + max_age < now {
        Err(Refusal::TooOld {
            secs: now - timestamp,
            max: max_age,
        })
    } else if timestamp > now + max_age {
        Err(Refusal::InFuture {
            secs: timestamp - now,
            max: max_age,
        })
    } else {
        Ok(())
    }
}

/// Digests of accepted packets, each until it can no longer pass the clock check.
#[derive(Debug, Clone)]
pub struct ReplayCache {
    /// digest -> the time after which it is forgotten.
    seen: HashMap<[u8; 32], u64>,
    capacity: usize,
    max_age: u64,
}

impl ReplayCache {
    /// A cache for up to `capacity` digests (at least 1) and a clock window
    /// of ±`max_age` seconds. All its memory is allocated here.
    pub fn new(capacity: usize, max_age: u64) -> ReplayCache {
        let capacity = capacity.max(1);
        ReplayCache {
            seen: HashMap::with_capacity(capacity),
            capacity,
            max_age,
        }
    }

    pub fn max_age(&self) -> u64 {
        self.max_age
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The checks without remembering anything: clock, then replay.
    pub fn check(&self, digest: &[u8; 32], timestamp: u64, now: u64) -> Result<(), Refusal> {
        check_age(timestamp, now, self.max_age)?;
        match self.seen.get(digest) {
            Some(&until) if until >= now => Err(Refusal::Replay),
            _ => Ok(()),
        }
    }

    /// [`ReplayCache::check`], then remembers the digest: the packet is
    /// accepted. A second call with the same digest is a [`Refusal::Replay`].
    pub fn accept(&mut self, digest: &[u8; 32], timestamp: u64, now: u64) -> Result<(), Refusal> {
        self.check(digest, timestamp, now)?;
        self.insert(*digest, self.forget_at(timestamp, now), now)
    }

    /// When a packet stamped `timestamp` and accepted at `now` is forgotten:
    /// what [`ReplayCache::entries`] gives for it, for a journal.
    pub fn forget_at(&self, timestamp: u64, now: u64) -> u64 {
        timestamp.max(now).saturating_add(self.max_age)
    }

    /// Puts back a digest kept in a journal, to be forgotten after `until`
    /// (as [`ReplayCache::entries`] gave it). One already past `now` is skipped.
    pub fn remember(&mut self, digest: [u8; 32], until: u64, now: u64) -> Result<(), Refusal> {
        if until < now {
            return Ok(());
        }
        self.insert(digest, until, now)
    }

    /// Forgets every digest whose time is past.
    pub fn expire(&mut self, now: u64) {
        self.seen.retain(|_, &mut until| until >= now);
    }

    /// The digests held and when each is forgotten, for a journal.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8; 32], u64)> + '_ {
        self.seen.iter().map(|(d, &until)| (d, until))
    }

    fn insert(&mut self, digest: [u8; 32], until: u64, now: u64) -> Result<(), Refusal> {
        if let Some(held) = self.seen.get_mut(&digest) {
            *held = (*held).max(until);
            return Ok(());
        }
        if self.seen.len() >= self.capacity {
            self.expire(now);
            if self.seen.len() >= self.capacity {
                return Err(Refusal::Full {
                    capacity: self.capacity,
                });
            }
        }
        self.seen.insert(digest, until);
        Ok(())
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        ReplayCache::new(DEFAULT_CAPACITY, DEFAULT_MAX_AGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_796_141_766;

    fn digest(n: u32) -> [u8; 32] {
        let mut d = [0u8; 32];
        d[..4].copy_from_slice(&n.to_be_bytes());
        d
    }

    #[test]
    fn the_clock_window_is_plus_minus_max_age() {
        assert_eq!(check_age(NOW, NOW, 120), Ok(()));
        assert_eq!(check_age(NOW - 120, NOW, 120), Ok(()));
        assert_eq!(check_age(NOW + 120, NOW, 120), Ok(()));
        assert_eq!(
            check_age(NOW - 121, NOW, 120),
            Err(Refusal::TooOld {
                secs: 121,
                max: 120
            })
        );
        assert_eq!(
            check_age(NOW + 600, NOW, 120),
            Err(Refusal::InFuture {
                secs: 600,
                max: 120
            })
        );
        // Near zero no arithmetic wraps.
        assert_eq!(check_age(0, 0, 120), Ok(()));
        assert_eq!(
            check_age(0, 121, 120),
            Err(Refusal::TooOld {
                secs: 121,
                max: 120
            })
        );
    }

    #[test]
    fn a_packet_is_accepted_once() {
        let mut cache = ReplayCache::default();
        assert_eq!(cache.accept(&digest(1), NOW, NOW), Ok(()));
        assert_eq!(cache.accept(&digest(1), NOW, NOW + 5), Err(Refusal::Replay));
        assert_eq!(cache.check(&digest(1), NOW, NOW + 5), Err(Refusal::Replay));
        assert_eq!(cache.accept(&digest(2), NOW, NOW + 5), Ok(()));
        // Once stale, the clock check refuses it; the cache may forget it.
        assert_eq!(
            cache.accept(&digest(1), NOW, NOW + 121),
            Err(Refusal::TooOld {
                secs: 121,
                max: 120
            })
        );
        // digest(2), accepted at NOW + 5, is held until NOW + 125.
        assert_eq!(cache.forget_at(NOW, NOW + 5), NOW + 125);
        assert!(
            cache
                .entries()
                .any(|(d, t)| *d == digest(2) && t == NOW + 125)
        );
        cache.expire(NOW + 121);
        assert_eq!(cache.len(), 1);
        cache.expire(NOW + 126);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_packet_from_the_future_is_held_until_it_could_no_longer_pass() {
        let mut cache = ReplayCache::new(8, 120);
        assert_eq!(cache.accept(&digest(1), NOW + 100, NOW), Ok(()));
        cache.expire(NOW + 219);
        assert_eq!(
            cache.accept(&digest(1), NOW + 100, NOW + 219),
            Err(Refusal::Replay)
        );
        cache.expire(NOW + 221);
        assert!(cache.is_empty());
        assert_eq!(
            cache.accept(&digest(1), NOW + 100, NOW + 221),
            Err(Refusal::TooOld {
                secs: 121,
                max: 120
            })
        );
    }

    #[test]
    fn a_full_cache_drops_expired_digests_and_otherwise_fails_closed() {
        let mut cache = ReplayCache::new(3, 120);
        for n in 0..3 {
            assert_eq!(cache.accept(&digest(n), NOW, NOW), Ok(()));
        }
        assert_eq!(
            cache.accept(&digest(9), NOW, NOW + 1),
            Err(Refusal::Full { capacity: 3 })
        );
        // The live digests were not evicted to make room.
        for n in 0..3 {
            assert_eq!(cache.check(&digest(n), NOW, NOW + 1), Err(Refusal::Replay));
        }
        // Once they expire, room is made without an explicit expire().
        assert_eq!(cache.accept(&digest(9), NOW + 125, NOW + 125), Ok(()));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn entries_survive_a_restart_through_remember() {
        let mut cache = ReplayCache::new(16, 120);
        cache.accept(&digest(1), NOW, NOW).expect("ok");
        cache.accept(&digest(2), NOW - 100, NOW).expect("ok");
        let journal: Vec<([u8; 32], u64)> = cache.entries().map(|(d, t)| (*d, t)).collect();
        let mut restarted = ReplayCache::new(16, 120);
        for (d, until) in journal {
            restarted.remember(d, until, NOW + 10).expect("room");
        }
        assert_eq!(restarted.len(), 2);
        assert_eq!(
            restarted.accept(&digest(1), NOW, NOW + 10),
            Err(Refusal::Replay)
        );
        assert_eq!(
            restarted.accept(&digest(2), NOW - 100, NOW + 10),
            Err(Refusal::Replay)
        );
        assert_eq!(restarted.accept(&digest(3), NOW - 100, NOW + 10), Ok(()));
        // A journaled digest already past its time is not put back.
        let mut late = ReplayCache::new(16, 120);
        late.remember(digest(3), NOW, NOW + 1).expect("skipped");
        assert!(late.is_empty());
    }

    proptest! {
        /// Whatever the order and timing of packets, none is accepted twice
        /// while its timestamp is in the window, and the cache never holds
        /// more than its capacity.
        #[test]
        fn never_accepted_twice_within_the_window(
            stamps in prop::collection::vec(-150i64..150, 40),
            events in prop::collection::vec((0u32..40, 0u64..20), 1..300)
        ) {
            let mut cache = ReplayCache::new(16, 120);
            let mut accepted: std::collections::HashMap<u32, u64> = Default::default();
            let mut now = NOW;
            for (id, step) in events {
                now += step;
                // A packet always carries the same timestamp (it is the same packet).
                let ts = NOW.saturating_add_signed(stamps[id as usize] + i64::from(id) * 5);
                match cache.accept(&digest(id), ts, now) {
                    Ok(()) => {
                        prop_assert!(accepted.insert(id, ts).is_none(), "packet {} accepted twice", id);
                    }
                    Err(Refusal::Replay) => prop_assert!(accepted.contains_key(&id)),
                    Err(Refusal::TooOld { .. } | Refusal::InFuture { .. }) => {
                        prop_assert!(check_age(ts, now, 120).is_err());
                    }
                    Err(Refusal::Full { .. }) => prop_assert_eq!(cache.len(), 16),
                }
                prop_assert!(cache.len() <= 16);
            }
        }
    }
}
