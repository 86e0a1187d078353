//! Time at the edge: a monotonic clock for timers, the wall clock for what
//! is written down (journal due times, log stamps, rotation steps).
//!
//! Timers run on [`Clocks::now`] (`Instant`), so stepping the system clock
//! (NTP, an admin's `date -s`) neither shortens nor stretches how long a
//! door stays open. Tests use `FakeClocks` and move each clock by hand.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::event::Millis;

/// The two clocks the worker reads (named apart from the sender's `Clock`
/// in knock-profiles, which only sleeps and measures).
pub trait Clocks: Send {
    /// Monotonic time, for timers.
    fn now(&self) -> Instant;
    /// Wall-clock time, for what is written to disk or compared with it.
    fn wall(&self) -> SystemTime;
}

/// The system's monotonic and wall clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClocks;

impl Clocks for SystemClocks {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Milliseconds since the Unix epoch of `t` (0 before the epoch; saturating
/// far in the future).
pub fn unix_ms(t: SystemTime) -> Millis {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The wall clock now, in Unix milliseconds.
pub fn wall_ms() -> Millis {
    unix_ms(SystemTime::now())
}

#[cfg(test)]
pub use fake::FakeClocks;

#[cfg(test)]
mod fake {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant, SystemTime};

    use super::Clocks;

    /// A clock tests move by hand: [`FakeClocks::advance`] moves both clocks,
    /// [`FakeClocks::step_wall`] only the wall clock (an NTP step).
    #[derive(Debug, Clone)]
    pub struct FakeClocks {
        inner: Arc<Mutex<(Instant, SystemTime)>>,
    }

    impl FakeClocks {
        /// Starts at the real `Instant::now()` and the given wall time.
        pub fn new(wall: SystemTime) -> FakeClocks {
            FakeClocks {
                inner: Arc::new(Mutex::new((Instant::now(), wall))),
            }
        }

        fn with<T>(&self, f: impl FnOnce(&mut (Instant, SystemTime)) -> T) -> T {
            let mut g = match self.inner.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            f(&mut g)
        }

        /// Time passes: both clocks move by `d`.
        pub fn advance(&self, d: Duration) {
            self.with(|c| {
                c.0 += d;
                c.1 += d;
            });
        }

        /// The wall clock is set forward (`secs > 0`) or back, the monotonic
        /// clock does not move.
        pub fn step_wall(&self, secs: i64) {
            self.with(|c| {
                let d = Duration::from_secs(secs.unsigned_abs());
                c.1 = if secs >= 0 { c.1 + d } else { c.1 - d };
            });
        }
    }

    impl Clocks for FakeClocks {
        fn now(&self) -> Instant {
            self.with(|c| c.0)
        }
        fn wall(&self) -> SystemTime {
            self.with(|c| c.1)
        }
    }
}
