//! `-l`: reverse DNS names for OPEN SESAME lines, on a thread of their own.
//!
//! `getnameinfo` can block for seconds per address. It never runs on the
//! worker (which also runs the Stop_Command timers) nor on the packet
//! thread: the worker hands the line to this thread over a small bounded
//! queue and goes on. Only OPEN SESAME lines get a name (Stage and timeout
//! lines name the address only, so a flood of first knocks from sources
//! with slow reverse zones costs no lookups). Names are kept in a small
//! cache for a while; a line that waited too long in the queue, or that
//! finds the queue full, is written without a name rather than late.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use crate::logger::Logger;

/// Lines waiting for a name.
pub const QUEUE: usize = 64;
/// Names remembered, and for how long.
pub const CACHE: usize = 256;
pub const CACHE_TTL: Duration = Duration::from_secs(600);
/// A line that waited this long is written without a lookup.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

struct Request {
    src: IpAddr,
    rest: String,
    queued: Instant,
}

/// The worker's end: [`Lookup::log`] never blocks.
pub struct Lookup {
    tx: SyncSender<Request>,
    log: Logger,
}

/// A resolver: `sys::reverse_lookup` in the daemon, a fake in tests.
pub type Resolve = Box<dyn FnMut(IpAddr) -> Option<String> + Send>;

impl Lookup {
    /// Starts the lookup thread. It ends when the [`Lookup`] is dropped.
    pub fn spawn(log: Logger, resolve: Resolve) -> std::io::Result<Lookup> {
        let (tx, rx) = sync_channel(QUEUE);
        let thread_log = log.clone();
        std::thread::Builder::new()
            .name("knock-lookup".into())
            .spawn(move || serve(rx, thread_log, resolve))?;
        Ok(Lookup { tx, log })
    }

    /// Logs `"{src} ({name}): {rest}"` once the name is known (or
    /// `"{src}: {rest}"` when there is none, or no time for it).
    pub fn log(&self, src: IpAddr, rest: String) {
        let req = Request {
            src,
            rest,
            queued: Instant::now(),
        };
        match self.tx.try_send(req) {
            Ok(()) => {}
            Err(TrySendError::Full(r) | TrySendError::Disconnected(r)) => {
                self.log.info(&format!("{}: {}", r.src, r.rest));
            }
        }
    }
}

fn serve(rx: Receiver<Request>, log: Logger, mut resolve: Resolve) {
    let mut cache: HashMap<IpAddr, (Option<String>, Instant)> = HashMap::with_capacity(CACHE);
    for req in rx {
        let fresh = cache
            .get(&req.src)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(name, _)| name.clone());
        let name = match fresh {
            Some(name) => name,
            None if req.queued.elapsed() > MAX_WAIT => None,
            None => {
                let name = resolve(req.src);
                if cache.len() >= CACHE {
                    cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                    if cache.len() >= CACHE {
                        cache.clear();
                    }
                }
                cache.insert(req.src, (name.clone(), Instant::now()));
                name
            }
        };
        match name {
            Some(n) => log.info(&format!("{} ({n}): {}", req.src, req.rest)),
            None => log.info(&format!("{}: {}", req.src, req.rest)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn names_open_lines_once_per_address_and_never_blocks_the_caller() {
        let log = Logger::memory();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let (a, g) = (asked.clone(), gate.clone());
        let lookup = Lookup::spawn(
            log.clone(),
            Box::new(move |ip| {
                // A slow reverse zone: blocks until the test lets go.
                drop(g.lock().unwrap());
                a.lock().unwrap().push(ip);
                Some("host.example.org".into())
            }),
        )
        .unwrap();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        // Far more lines than the queue holds: the caller never waits.
        for _ in 0..(QUEUE * 4) {
            lookup.log(ip, "ssh: OPEN SESAME".into());
        }
        assert!(t0.elapsed() < Duration::from_secs(1));
        // The overflow was written at once, without a name.
        assert!(
            log.lines()
                .iter()
                .any(|l| l == "192.0.2.7: ssh: OPEN SESAME")
        );
        drop(held);
        drop(lookup);
        let deadline = Instant::now() + Duration::from_secs(5);
        while log.lines().len() < QUEUE * 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let lines = log.lines();
        assert_eq!(lines.len(), QUEUE * 4);
        assert!(
            lines
                .iter()
                .any(|l| l == "192.0.2.7 (host.example.org): ssh: OPEN SESAME"),
            "{lines:?}"
        );
        // One lookup for the address, the rest from the cache.
        assert_eq!(asked.lock().unwrap().len(), 1);
    }
}
