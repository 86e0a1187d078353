//! The sender: resolve the host once, send each knock of a sequence to that
//! one address with a fixed delay between knocks, then optionally wait for a
//! TCP port to open and re-knock if it does not.
//!
//! On the wire this matches Debian's knock(1), so knockd sees exactly one
//! packet per knock: a TCP knock is one non-blocking `connect()` (one SYN)
//! whose socket is dropped at once; a UDP knock is one 1-byte datagram.
//!
//! Sockets and time sit behind [`Net`] and [`Timer`] so that [`run`] can be
//! tested with fakes; [`SystemNet`] and [`SystemTimer`] are the real ones.
//!
//! A rotating profile ([`crate::rotate`]) knocks [`Sequences::Rotating`]:
//! each attempt derives the sequence of its own time step from the wall
//! clock ([`WallClock`]), waiting for the next period first when too little
//! of the current one is left, and, on a retry, because the server burns a
//! (door, step) sequence once it opened and refuses it again as a replay.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::options::Family;
use crate::rotate::Rotation;
use crate::sequence::{Knock, Proto, Sequence};

/// The network as the sender sees it.
pub trait Net {
    /// All addresses of `host` for `family` in resolver order (an IP literal
    /// resolves to itself).
    fn resolve(&mut self, host: &str, family: Family) -> io::Result<Vec<IpAddr>>;
    /// One knock: TCP = one non-blocking connect (SYN) then drop; UDP = one
    /// 1-byte datagram.
    fn knock(&mut self, to: SocketAddr, proto: Proto) -> io::Result<()>;
    /// One TCP connect attempt bounded by `timeout`: Ok(true) if it connected.
    fn probe(&mut self, to: SocketAddr, timeout: Duration) -> io::Result<bool>;
}

/// A monotonic clock that can sleep.
pub trait Timer {
    fn now(&self) -> Instant;
    fn sleep(&self, d: Duration);
}

/// Wall-clock time, which picks a rotation's time step. Waiting is the
/// [`Timer`]'s job; a fake wall clock in tests moves with the fake [`Timer`].
pub trait WallClock {
    /// Time since the Unix epoch.
    fn since_epoch(&self) -> Duration;
}

/// Any `Fn() -> Duration` (time since the Unix epoch) is a wall clock.
impl<F: Fn() -> Duration> WallClock for F {
    fn since_epoch(&self) -> Duration {
        self()
    }
}

/// `SystemTime::now()` (a clock before 1970 reads as the epoch).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemWall;

impl WallClock for SystemWall {
    fn since_epoch(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// Real sockets (socket2) and the system resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemNet;

/// `Instant::now` and `std::thread::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTimer;

/// After the knocks, wait until TCP `port` accepts a connection, for at most
/// `wait` after the last knock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verify {
    pub port: u16,
    pub wait: Duration,
}

/// What each attempt knocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sequences {
    /// The same sequence every attempt.
    Fixed(Sequence),
    /// The sequence of `door` for the attempt's time step, derived with
    /// `rotation` (which holds the secret).
    Rotating { rotation: Rotation, door: String },
}

impl Sequences {
    /// How many knocks one attempt sends.
    pub fn len(&self) -> usize {
        match self {
            Sequences::Fixed(sequence) => sequence.len(),
            Sequences::Rotating { rotation, .. } => rotation.params().length,
        }
    }

    /// Always false: a sequence has at least one knock.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What to send, where, and how: a knock ready to [`run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnockPlan {
    pub host: String,
    pub sequences: Sequences,
    /// Pause between knocks (none after the last).
    pub delay: Duration,
    pub family: Family,
    pub verify: Option<Verify>,
    /// Extra attempts of the whole sequence when verify fails.
    pub retries: u32,
}

/// What happened so far; a CLI prints it, a GUI shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The host resolved to `addr`; `others` = how many more addresses of the
    /// requested family the resolver gave (all knocks go to `addr`).
    Resolved {
        host: String,
        addr: IpAddr,
        others: usize,
    },
    /// A knock went out. `attempt` counts from 1, `index` from 0 (of `total`).
    Knocked {
        attempt: u32,
        index: usize,
        total: usize,
        knock: Knock,
        to: SocketAddr,
    },
    /// Knocks of `attempt` done; now polling `to`.
    Verifying { attempt: u32, to: SocketAddr },
    /// `to` accepted a connection `after` the last knock.
    Opened { to: SocketAddr, after: Duration },
    /// `to` did not open within the wait of this attempt.
    NotOpened { attempt: u32, to: SocketAddr },
    /// Rotating profiles ([`Sequences::Rotating`]): waiting `wait` for the next
    /// period (of `period`) before attempt `attempt`. For attempt 1, too
    /// little of the current period was left for the knocks; for a retry,
    /// the step just knocked is used up on the server.
    WaitingForPeriod {
        attempt: u32,
        wait: Duration,
        period: Duration,
    },
    /// Rotating profiles: attempt `attempt` knocks `sequence`, derived for
    /// time step `step`.
    Derived {
        attempt: u32,
        step: u64,
        sequence: Sequence,
    },
}

/// The result of a successful [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The one address every knock went to.
    pub addr: IpAddr,
    /// How many times the sequence was sent (1 + retries used).
    pub attempts: u32,
    /// `None` = no verify; `Some(true)` = the port opened.
    pub opened: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot resolve {host}: {error}")]
    Resolve { host: String, error: io::Error },
    #[error("{host} has no {} address", family_word(*.family))]
    NoAddress { host: String, family: Family },
    #[error("cannot send {} knock to {to}: {error}", .knock.proto)]
    Send {
        knock: Knock,
        to: SocketAddr,
        error: io::Error,
    },
    #[error("cannot check whether {to} is open: {error}")]
    Probe { to: SocketAddr, error: io::Error },
    #[error(
        "port {} on {} did not open within {} ms (after {})",
        .to.port(), .to.ip(), .wait.as_millis(), Attempts(*.attempts)
    )]
    NotOpened {
        to: SocketAddr,
        attempts: u32,
        wait: Duration,
    },
    #[error("cancelled")]
    Cancelled,
}

/// Exit codes of `knock` and of `knock-gui --knock-headless`: each kind
/// of failure has its own, so a script can tell "the door did not open"
/// from "the profile file is broken".
pub mod exit_code {
    /// The knocks went out (and, when verifying, the port opened).
    pub const OK: u8 = 0;
    /// Anything not listed below.
    pub const OTHER: u8 = 1;
    /// A bad flag, port or sequence on the command line.
    pub const USAGE: u8 = 2;
    /// The profile file is unreadable or invalid, there is no such
    /// profile, or a rotating profile's secret cannot be read.
    pub const CONFIG: u8 = 3;
    /// The host did not resolve (for the chosen family).
    pub const RESOLVE: u8 = 4;
    /// A knock could not be sent.
    pub const SEND: u8 = 5;
    /// The knocks went out but the open port did not open in time (or
    /// could not be checked).
    pub const VERIFY: u8 = 6;
    /// ssh / PuTTY / the launch command could not be started.
    pub const LAUNCH: u8 = 7;
    /// Interrupted or cancelled.
    pub const CANCELLED: u8 = 130;
}

impl SendError {
    /// The exit code for this failure ([`exit_code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            SendError::Resolve { .. } | SendError::NoAddress { .. } => exit_code::RESOLVE,
            SendError::Send { .. } => exit_code::SEND,
            SendError::NotOpened { .. } | SendError::Probe { .. } => exit_code::VERIFY,
            SendError::Cancelled => exit_code::CANCELLED,
        }
    }
}

fn family_word(family: Family) -> &'static str {
    match family {
        Family::Any => "IP",
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    }
}

/// "1 attempt" / "3 attempts".
struct Attempts(u32);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 attempt"),
            n => write!(f, "{n} attempts"),
        }
    }
}

/// Pause between two probes of the verify port.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Timeout of the first probe; it doubles per probe up to [`PROBE_TIMEOUT_MAX`].
/// Short at first, so a port behind a DROP firewall is seen soon after it
/// opens; longer later, so a slow path still gets to connect.
const PROBE_TIMEOUT_MIN: Duration = Duration::from_millis(250);
const PROBE_TIMEOUT_MAX: Duration = Duration::from_secs(2);
/// Longest single sleep, so that cancelling during a long delay is prompt.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// Resolve once, knock each in order with `delay` between knocks (monotonic
/// clock), then verify/retry. `cancel` is checked before each knock and each
/// probe (and during long pauses). Progress goes to `on_progress`.
///
/// [`Sequences::Rotating`] knocks the sequence of each attempt's time step
/// (from `wall`). After resolving, and before the first knock, it waits for
/// the next period if less than [`crate::rotate::BOUNDARY_MARGIN`] plus the
/// time the knocks take is left of the current one, so a sequence never
/// straddles two steps. When verify fails and retries remain, it waits for
/// the period after the step it just knocked (the server refuses a step's
/// sequence once it opened) and knocks that step's sequence. Each wait is
/// reported as [`Progress::WaitingForPeriod`], each sequence as
/// [`Progress::Derived`]; waits sleep on `timer` in slices, checking `cancel`.
pub fn run(
    plan: &KnockPlan,
    net: &mut dyn Net,
    timer: &dyn Timer,
    wall: &dyn WallClock,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<Outcome, SendError> {
    check(cancel)?;
    let Address { addr, others } = resolve_once(&plan.host, plan.family, net)?;
    on_progress(&Progress::Resolved {
        host: plan.host.clone(),
        addr,
        others,
    });

    let total_attempts = plan.retries.saturating_add(1);
    let mut attempt = 1;
    let mut last_step = None;
    loop {
        let sequence = match &plan.sequences {
            Sequences::Fixed(sequence) => Cow::Borrowed(sequence),
            Sequences::Rotating { rotation, door } => {
                let (step, sequence) = next_step(
                    rotation,
                    door,
                    wall,
                    plan.delay,
                    attempt,
                    last_step,
                    timer,
                    cancel,
                    on_progress,
                )?;
                last_step = Some(step);
                on_progress(&Progress::Derived {
                    attempt,
                    step,
                    sequence: sequence.clone(),
                });
                Cow::Owned(sequence)
            }
        };
        knock_sequence(
            &sequence,
            plan.delay,
            addr,
            attempt,
            net,
            timer,
            cancel,
            on_progress,
        )?;
        let Some(verify) = plan.verify else {
            return Ok(Outcome {
                addr,
                attempts: attempt,
                opened: None,
            });
        };
        let to = SocketAddr::new(addr, verify.port);
        on_progress(&Progress::Verifying { attempt, to });
        if let Some(after) = wait_open(to, verify.wait, net, timer, cancel)? {
            on_progress(&Progress::Opened { to, after });
            return Ok(Outcome {
                addr,
                attempts: attempt,
                opened: Some(true),
            });
        }
        on_progress(&Progress::NotOpened { attempt, to });
        if attempt >= total_attempts {
            return Err(SendError::NotOpened {
                to,
                attempts: attempt,
                wait: verify.wait,
            });
        }
        attempt += 1;
    }
}

/// Resolves `host` once, the way [`run`] does before its first knock: an
/// IP literal (also `[v6]`) is itself; a name is the first address of
/// `family` that the resolver gives. [`run`] reports the answer as
/// [`Progress::Resolved`] (with how many other
/// addresses there were), so a dry run shows exactly what would be knocked.
pub fn resolve_once(host: &str, family: Family, net: &mut dyn Net) -> Result<Address, SendError> {
    let addrs = match parse_literal(host) {
        Some(ip) => vec![ip],
        None => net
            .resolve(host, family)
            .map_err(|error| SendError::Resolve {
                host: host.to_string(),
                error,
            })?,
    };
    let mut matching = addrs.into_iter().filter(|ip| family_matches(family, *ip));
    let addr = matching.next().ok_or_else(|| SendError::NoAddress {
        host: host.to_string(),
        family,
    })?;
    Ok(Address {
        addr,
        others: matching.filter(|ip| *ip != addr).count(),
    })
}

/// Where [`resolve_once`] sends the knocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub addr: IpAddr,
    /// How many more addresses of the family the resolver gave.
    pub others: usize,
}

/// The step (and its sequence) that attempt `attempt` knocks: a step after
/// `last` (the one the previous attempt used up) with enough of its period
/// left for the knocks; waits on `clock` until there is one.
#[allow(clippy::too_many_arguments)]
fn next_step(
    rotation: &Rotation,
    door: &str,
    wall: &dyn WallClock,
    delay: Duration,
    attempt: u32,
    last: Option<u64>,
    clock: &dyn Timer,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<(u64, Sequence), SendError> {
    let params = rotation.params();
    let sending = params.sending_time(delay);
    let mut told = false;
    loop {
        check(cancel)?;
        let now = wall.since_epoch();
        let step = params.step(now.as_secs());
        let wait = if last.is_some_and(|last| step <= last) {
            Some(params.until_boundary(now))
        } else {
            params.boundary_wait(now, sending)
        };
        let Some(wait) = wait else {
            return Ok((step, rotation.sequence_at(door, step)));
        };
        // The wall clock may lag the monotonic one by a hair after the
        // sleep; the next round then waits the rest without a second report.
        if !told {
            on_progress(&Progress::WaitingForPeriod {
                attempt,
                wait,
                period: params.period,
            });
            told = true;
        }
        let start = clock.now();
        let due = start
            .checked_add(wait.max(Duration::from_millis(1)))
            .unwrap_or(start);
        sleep_until(clock, due, cancel)?;
    }
}

/// Sends the whole sequence to `addr`: knock `i` at `start + i * delay`.
#[allow(clippy::too_many_arguments)]
fn knock_sequence(
    sequence: &Sequence,
    delay: Duration,
    addr: IpAddr,
    attempt: u32,
    net: &mut dyn Net,
    clock: &dyn Timer,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<(), SendError> {
    let total = sequence.len();
    let mut due: Option<Instant> = None;
    for (index, &knock) in sequence.iter().enumerate() {
        if let Some(due) = due {
            sleep_until(clock, due, cancel)?;
        }
        check(cancel)?;
        let sent_at = clock.now();
        let to = SocketAddr::new(addr, knock.port);
        net.knock(to, knock.proto)
            .map_err(|error| SendError::Send { knock, to, error })?;
        on_progress(&Progress::Knocked {
            attempt,
            index,
            total,
            knock,
            to,
        });
        // The schedule runs from the first knock, so oversleeping once does
        // not push every later knock back.
        let prev = due.unwrap_or(sent_at);
        due = Some(prev.checked_add(delay).unwrap_or(prev));
    }
    Ok(())
}

/// Polls `to` until it accepts or `wait` has passed since now (the last
/// knock). Returns how long it took to open, or None.
fn wait_open(
    to: SocketAddr,
    wait: Duration,
    net: &mut dyn Net,
    clock: &dyn Timer,
    cancel: &AtomicBool,
) -> Result<Option<Duration>, SendError> {
    let start = clock.now();
    let deadline = start.checked_add(wait).unwrap_or(start);
    let mut step = PROBE_TIMEOUT_MIN;
    loop {
        check(cancel)?;
        let left = deadline.saturating_duration_since(clock.now());
        let opened = net
            .probe(to, step.min(left).max(Duration::from_millis(1)))
            .map_err(|error| SendError::Probe { to, error })?;
        let now = clock.now();
        if opened {
            return Ok(Some(now.saturating_duration_since(start)));
        }
        if now >= deadline {
            return Ok(None);
        }
        step = (step * 2).min(PROBE_TIMEOUT_MAX);
        let next = now.checked_add(POLL_INTERVAL).unwrap_or(now).min(deadline);
        sleep_until(clock, next, cancel)?;
    }
}

fn check(cancel: &AtomicBool) -> Result<(), SendError> {
    if cancel.load(Ordering::Relaxed) {
        Err(SendError::Cancelled)
    } else {
        Ok(())
    }
}

/// Sleeps until `due`, in slices so that `cancel` is noticed.
fn sleep_until(clock: &dyn Timer, due: Instant, cancel: &AtomicBool) -> Result<(), SendError> {
    loop {
        let left = due.saturating_duration_since(clock.now());
        if left.is_zero() {
            return Ok(());
        }
        check(cancel)?;
        clock.sleep(left.min(SLEEP_SLICE));
    }
}

/// An IP literal, with or without brackets (`192.0.2.1`, `2001:db8::1`,
/// `[2001:db8::1]`).
fn parse_literal(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse().ok()
}

fn family_matches(family: Family, ip: IpAddr) -> bool {
    match family {
        Family::Any => true,
        Family::Ipv4 => ip.is_ipv4(),
        Family::Ipv6 => ip.is_ipv6(),
    }
}

impl Net for SystemNet {
    fn resolve(&mut self, host: &str, family: Family) -> io::Result<Vec<IpAddr>> {
        let all: Vec<IpAddr> = match parse_literal(host) {
            Some(ip) => vec![ip],
            None => (host, 0).to_socket_addrs()?.map(|a| a.ip()).collect(),
        };
        let mut out: Vec<IpAddr> = Vec::with_capacity(all.len());
        for ip in all {
            if family_matches(family, ip) && !out.contains(&ip) {
                out.push(ip);
            }
        }
        Ok(out)
    }

    fn knock(&mut self, to: SocketAddr, proto: Proto) -> io::Result<()> {
        let domain = Domain::for_address(to);
        match proto {
            Proto::Tcp => {
                let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
                socket.set_nonblocking(true)?;
                match socket.connect(&SockAddr::from(to)) {
                    Ok(()) => Ok(()),
                    Err(e) if connect_in_progress(&e) => Ok(()),
                    // A closed port answers RST at once (loopback, REJECT):
                    // the SYN went out, which is all a knock is.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
                    Err(e) => Err(e),
                }
                // The socket drops here, without waiting for an answer.
            }
            Proto::Udp => {
                let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
                socket.send_to(&[0], &SockAddr::from(to)).map(|_| ())
            }
        }
    }

    fn probe(&mut self, to: SocketAddr, timeout: Duration) -> io::Result<bool> {
        let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
        match socket.connect_timeout(&SockAddr::from(to), timeout.max(Duration::from_millis(1))) {
            Ok(()) => Ok(true),
            // Not open (yet): refused, dropped, or rejected by a firewall.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::HostUnreachable
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether a non-blocking connect reported "started, not finished yet".
fn connect_in_progress(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::WouldBlock {
        return true;
    }
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    false
}

impl Timer for SystemTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::resolve::{Overrides, resolve};
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};
    use std::rc::Rc;
    use std::sync::Arc;

    /// Now moves only when someone sleeps.
    struct FakeClock {
        base: Instant,
        elapsed: Cell<Duration>,
        sleeps: RefCell<Vec<Duration>>,
    }

    impl FakeClock {
        fn new() -> Rc<Self> {
            Rc::new(FakeClock {
                base: Instant::now(),
                elapsed: Cell::new(Duration::ZERO),
                sleeps: RefCell::new(Vec::new()),
            })
        }
        fn at(&self) -> Duration {
            self.elapsed.get()
        }
        fn sleeps(&self) -> Vec<Duration> {
            self.sleeps.borrow().clone()
        }
    }

    impl Timer for FakeClock {
        fn now(&self) -> Instant {
            self.base + self.elapsed.get()
        }
        fn sleep(&self, d: Duration) {
            self.sleeps.borrow_mut().push(d);
            self.elapsed.set(self.elapsed.get() + d);
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Sent {
        to: SocketAddr,
        proto: Proto,
        at: Duration,
    }

    struct FakeNet {
        clock: Rc<FakeClock>,
        addrs: Vec<IpAddr>,
        resolve_error: Option<io::ErrorKind>,
        resolves: Vec<(String, Family)>,
        sent: Vec<Sent>,
        /// Fail the knock with this index (counted over all attempts).
        fail_knock: Option<usize>,
        /// Set `cancel` after this many knocks.
        cancel_after: Option<(usize, Arc<AtomicBool>)>,
        /// Scripted probe answers; when empty, false.
        probe_answers: VecDeque<bool>,
        /// Each probe takes this long on the fake clock.
        probe_takes: Duration,
        probes: Vec<(SocketAddr, Duration, Duration)>,
        /// Like a server: probes answer true once the last knocks sent are
        /// these ports, in order (and `probe_answers` is empty).
        opens_on: Option<Vec<u16>>,
    }

    impl FakeNet {
        fn new(clock: &Rc<FakeClock>, addrs: &[&str]) -> Self {
            FakeNet {
                clock: Rc::clone(clock),
                addrs: addrs.iter().filter_map(|a| a.parse().ok()).collect(),
                resolve_error: None,
                resolves: Vec::new(),
                sent: Vec::new(),
                fail_knock: None,
                cancel_after: None,
                probe_answers: VecDeque::new(),
                probe_takes: Duration::ZERO,
                probes: Vec::new(),
                opens_on: None,
            }
        }
    }

    impl Net for FakeNet {
        fn resolve(&mut self, host: &str, family: Family) -> io::Result<Vec<IpAddr>> {
            self.resolves.push((host.to_string(), family));
            if let Some(kind) = self.resolve_error {
                return Err(io::Error::new(kind, "name or service not known"));
            }
            // Like the real resolver: only the asked family.
            Ok(self
                .addrs
                .iter()
                .copied()
                .filter(|ip| family_matches(family, *ip))
                .collect())
        }

        fn knock(&mut self, to: SocketAddr, proto: Proto) -> io::Result<()> {
            if self.fail_knock == Some(self.sent.len()) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "operation not permitted",
                ));
            }
            self.sent.push(Sent {
                to,
                proto,
                at: self.clock.at(),
            });
            if let Some((n, flag)) = &self.cancel_after
                && self.sent.len() == *n
            {
                flag.store(true, Ordering::Relaxed);
            }
            Ok(())
        }

        fn probe(&mut self, to: SocketAddr, timeout: Duration) -> io::Result<bool> {
            self.probes.push((to, timeout, self.clock.at()));
            let opened = self.opens_on.as_ref().is_some_and(|ports| {
                let sent: Vec<u16> = self.sent.iter().map(|s| s.to.port()).collect();
                sent.ends_with(ports)
            });
            let answer = self.probe_answers.pop_front().unwrap_or(opened);
            if !answer {
                self.clock.sleep(self.probe_takes.min(timeout));
            }
            Ok(answer)
        }
    }

    fn plan(host: &str, seq: &str, delay_ms: u64) -> KnockPlan {
        KnockPlan {
            host: host.to_string(),
            sequences: Sequences::Fixed(Sequence::parse(seq).unwrap()),
            delay: Duration::from_millis(delay_ms),
            family: Family::Any,
            verify: None,
            retries: 0,
        }
    }

    struct Ran {
        result: Result<Outcome, SendError>,
        progress: Vec<Progress>,
    }

    fn go(plan: &KnockPlan, net: &mut FakeNet, clock: &FakeClock, cancel: &AtomicBool) -> Ran {
        let mut progress = Vec::new();
        let no_wall = || Duration::ZERO;
        let result = run(plan, net, clock, &no_wall, cancel, &mut |p| {
            progress.push(p.clone())
        });
        Ran { result, progress }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn knocks_in_order_with_their_protocols() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        let ran = go(
            &plan("myhost", "7000,8000:udp,9000", 0),
            &mut net,
            &clock,
            &AtomicBool::new(false),
        );
        let sent: Vec<(SocketAddr, Proto)> = net.sent.iter().map(|s| (s.to, s.proto)).collect();
        assert_eq!(
            sent,
            vec![
                (sa("192.0.2.1:7000"), Proto::Tcp),
                (sa("192.0.2.1:8000"), Proto::Udp),
                (sa("192.0.2.1:9000"), Proto::Tcp),
            ]
        );
        assert_eq!(
            ran.result.unwrap(),
            Outcome {
                addr: "192.0.2.1".parse().unwrap(),
                attempts: 1,
                opened: None
            }
        );
        assert_eq!(
            ran.progress[0],
            Progress::Resolved {
                host: "myhost".into(),
                addr: "192.0.2.1".parse().unwrap(),
                others: 0
            }
        );
        assert_eq!(
            ran.progress[2],
            Progress::Knocked {
                attempt: 1,
                index: 1,
                total: 3,
                knock: Knock::udp(8000),
                to: sa("192.0.2.1:8000")
            }
        );
        assert_eq!(ran.progress.len(), 4);
        // Delay 0: no sleeping at all.
        assert!(clock.sleeps().is_empty());
    }

    #[test]
    fn knock_i_goes_out_at_i_times_delay_with_no_sleep_after_the_last() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        go(
            &plan("myhost", "1,2,3,4", 80),
            &mut net,
            &clock,
            &AtomicBool::new(false),
        )
        .result
        .unwrap();
        let at: Vec<Duration> = net.sent.iter().map(|s| s.at).collect();
        assert_eq!(at, vec![ms(0), ms(80), ms(160), ms(240)]);
        assert_eq!(clock.sleeps().iter().sum::<Duration>(), ms(240));
        assert_eq!(clock.at(), ms(240), "slept after the last knock");
    }

    #[test]
    fn long_delays_sleep_in_slices_without_drifting() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        go(
            &plan("myhost", "1,2,3", 250),
            &mut net,
            &clock,
            &AtomicBool::new(false),
        )
        .result
        .unwrap();
        let at: Vec<Duration> = net.sent.iter().map(|s| s.at).collect();
        assert_eq!(at, vec![ms(0), ms(250), ms(500)]);
        assert!(clock.sleeps().iter().all(|d| *d <= SLEEP_SLICE));
    }

    #[test]
    fn oversleeping_does_not_push_later_knocks_back() {
        /// Sleeps 30 ms longer than asked the first time.
        struct Sloppy {
            inner: Rc<FakeClock>,
            first: Cell<bool>,
        }
        impl Timer for Sloppy {
            fn now(&self) -> Instant {
                self.inner.now()
            }
            fn sleep(&self, d: Duration) {
                let extra = if self.first.replace(false) {
                    ms(30)
                } else {
                    Duration::ZERO
                };
                self.inner.sleep(d + extra);
            }
        }
        let inner = FakeClock::new();
        let clock = Sloppy {
            inner: Rc::clone(&inner),
            first: Cell::new(true),
        };
        let mut net = FakeNet::new(&inner, &["192.0.2.1"]);
        let mut progress = |_: &Progress| {};
        run(
            &plan("myhost", "1,2,3", 100),
            &mut net,
            &clock,
            &|| Duration::ZERO,
            &AtomicBool::new(false),
            &mut progress,
        )
        .unwrap();
        let at: Vec<Duration> = net.sent.iter().map(|s| s.at).collect();
        assert_eq!(at, vec![ms(0), ms(130), ms(200)]);
    }

    #[test]
    fn resolves_once_even_with_retries() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1", "192.0.2.2"]);
        let mut p = plan("myhost", "7000,8000", 10);
        p.verify = Some(Verify {
            port: 22,
            wait: ms(300),
        });
        p.retries = 2;
        let ran = go(&p, &mut net, &clock, &AtomicBool::new(false));
        assert!(matches!(ran.result, Err(SendError::NotOpened { .. })));
        assert_eq!(net.resolves, vec![("myhost".to_string(), Family::Any)]);
        assert_eq!(net.sent.len(), 6);
        assert!(
            net.sent.iter().all(|s| s.to.ip() == ip("192.0.2.1")),
            "{:?}",
            net.sent
        );
        assert!(net.probes.iter().all(|(to, ..)| *to == sa("192.0.2.1:22")));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn any_takes_the_first_address_and_counts_the_others() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["2001:db8::7", "192.0.2.1", "192.0.2.2"]);
        let ran = go(
            &plan("myhost", "7000", 0),
            &mut net,
            &clock,
            &AtomicBool::new(false),
        );
        assert_eq!(ran.result.unwrap().addr, ip("2001:db8::7"));
        assert_eq!(net.sent[0].to, sa("[2001:db8::7]:7000"));
        assert_eq!(
            ran.progress[0],
            Progress::Resolved {
                host: "myhost".into(),
                addr: ip("2001:db8::7"),
                others: 2
            }
        );
    }

    #[test]
    fn family_pin_picks_that_family_from_a_mixed_list() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1", "2001:db8::7", "2001:db8::8"]);
        let mut p = plan("myhost", "7000,8000", 0);
        p.family = Family::Ipv6;
        let out = go(&p, &mut net, &clock, &AtomicBool::new(false))
            .result
            .unwrap();
        assert_eq!(out.addr, ip("2001:db8::7"));
        assert_eq!(net.resolves, vec![("myhost".to_string(), Family::Ipv6)]);
        assert!(net.sent.iter().all(|s| s.to.ip() == ip("2001:db8::7")));

        p.family = Family::Ipv4;
        let out = go(&p, &mut net, &clock, &AtomicBool::new(false))
            .result
            .unwrap();
        assert_eq!(out.addr, ip("192.0.2.1"));
    }

    #[test]
    fn no_address_of_the_pinned_family_sends_nothing() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        let mut p = plan("myhost", "7000", 0);
        p.family = Family::Ipv6;
        let err = go(&p, &mut net, &clock, &AtomicBool::new(false))
            .result
            .unwrap_err();
        assert!(matches!(
            err,
            SendError::NoAddress {
                family: Family::Ipv6,
                ..
            }
        ));
        assert_eq!(err.to_string(), "myhost has no IPv6 address");
        assert!(net.sent.is_empty());

        // An IP literal of the other family: same error, no resolver.
        let mut p = plan("192.0.2.9", "7000", 0);
        p.family = Family::Ipv6;
        let err = go(&p, &mut net, &clock, &AtomicBool::new(false))
            .result
            .unwrap_err();
        assert_eq!(err.to_string(), "192.0.2.9 has no IPv6 address");
        assert_eq!(net.resolves.len(), 1);

        // A resolver that gives nothing at all.
        let mut net = FakeNet::new(&clock, &[]);
        let err = go(
            &plan("myhost", "7000", 0),
            &mut net,
            &clock,
            &AtomicBool::new(false),
        )
        .result
        .unwrap_err();
        assert_eq!(err.to_string(), "myhost has no IP address");
    }

    #[test]
    fn resolve_error_names_the_host() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &[]);
        net.resolve_error = Some(io::ErrorKind::NotFound);
        let err = go(
            &plan("myhost", "7000", 0),
            &mut net,
            &clock,
            &AtomicBool::new(false),
        )
        .result
        .unwrap_err();
        assert!(matches!(err, SendError::Resolve { .. }));
        assert_eq!(
            err.to_string(),
            "cannot resolve myhost: name or service not known"
        );
        assert!(net.sent.is_empty());
    }

    #[test]
    fn ip_literals_skip_the_resolver() {
        for (host, want) in [
            ("192.0.2.1", "192.0.2.1:7000"),
            ("2001:db8::1", "[2001:db8::1]:7000"),
            ("[2001:db8::1]", "[2001:db8::1]:7000"),
        ] {
            let clock = FakeClock::new();
            let mut net = FakeNet::new(&clock, &["198.51.100.1"]);
            let out = go(
                &plan(host, "7000", 0),
                &mut net,
                &clock,
                &AtomicBool::new(false),
            )
            .result
            .unwrap();
            assert_eq!(out.addr, sa(want).ip(), "{host}");
            assert_eq!(net.sent[0].to, sa(want), "{host}");
            assert!(net.resolves.is_empty(), "{host} went to the resolver");
        }
    }

    #[test]
    fn verify_opens_on_the_third_probe() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        net.probe_answers = VecDeque::from([false, false, true]);
        let mut p = plan("myhost", "7000,8000,9000", 50);
        p.verify = Some(Verify {
            port: 22,
            wait: ms(3000),
        });
        p.retries = 2;
        let ran = go(&p, &mut net, &clock, &AtomicBool::new(false));
        assert_eq!(
            ran.result.unwrap(),
            Outcome {
                addr: ip("192.0.2.1"),
                attempts: 1,
                opened: Some(true)
            }
        );
        assert_eq!(net.sent.len(), 3, "re-knocked although the port opened");
        let probe_at: Vec<Duration> = net.probes.iter().map(|p| p.2).collect();
        // Right after the last knock (at 100 ms), then every 100 ms.
        assert_eq!(probe_at, vec![ms(100), ms(200), ms(300)]);
        let timeouts: Vec<Duration> = net.probes.iter().map(|p| p.1).collect();
        assert_eq!(timeouts, vec![ms(250), ms(500), ms(1000)]);
        let to = sa("192.0.2.1:22");
        assert_eq!(
            &ran.progress[4..],
            &[
                Progress::Verifying { attempt: 1, to },
                Progress::Opened { to, after: ms(200) }
            ]
        );
    }

    #[test]
    fn verify_timeout_reknocks_the_whole_sequence_then_fails() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        // A DROP firewall: every probe runs into its timeout.
        net.probe_takes = Duration::from_secs(60);
        let mut p = plan("myhost", "7000,8000:udp", 100);
        p.verify = Some(Verify {
            port: 22,
            wait: ms(3000),
        });
        p.retries = 2;
        let ran = go(&p, &mut net, &clock, &AtomicBool::new(false));
        let err = ran.result.unwrap_err();
        assert!(matches!(err, SendError::NotOpened { attempts: 3, .. }));
        assert_eq!(
            err.to_string(),
            "port 22 on 192.0.2.1 did not open within 3000 ms (after 3 attempts)"
        );
        let ports: Vec<u16> = net.sent.iter().map(|s| s.to.port()).collect();
        assert_eq!(ports, vec![7000, 8000, 7000, 8000, 7000, 8000]);
        // Each attempt: 100 ms of knocking, then exactly the 3 s wait.
        let starts: Vec<Duration> = net.sent.iter().step_by(2).map(|s| s.at).collect();
        assert_eq!(starts, vec![ms(0), ms(3100), ms(6200)]);
        assert_eq!(clock.at(), ms(9300));
        let not_opened: Vec<&Progress> = ran
            .progress
            .iter()
            .filter(|p| matches!(p, Progress::NotOpened { .. }))
            .collect();
        let to = sa("192.0.2.1:22");
        assert_eq!(
            not_opened,
            vec![
                &Progress::NotOpened { attempt: 1, to },
                &Progress::NotOpened { attempt: 2, to },
                &Progress::NotOpened { attempt: 3, to },
            ]
        );
        // No probe outlives the wait.
        assert!(
            net.probes
                .iter()
                .all(|(_, timeout, _)| *timeout <= ms(2000))
        );
    }

    #[test]
    fn refused_probes_poll_until_the_wait_is_over() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        let mut p = plan("myhost", "7000", 0);
        p.verify = Some(Verify {
            port: 22,
            wait: ms(1000),
        });
        let err = go(&p, &mut net, &clock, &AtomicBool::new(false))
            .result
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "port 22 on 192.0.2.1 did not open within 1000 ms (after 1 attempt)"
        );
        // Probes at 0, 100, ..., 1000 ms: the last one exactly at the deadline.
        assert_eq!(net.probes.len(), 11);
        assert_eq!(net.probes.last().map(|p| p.2), Some(ms(1000)));
        assert_eq!(clock.at(), ms(1000));
    }

    #[test]
    fn cancel_before_start_sends_nothing() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        let ran = go(
            &plan("myhost", "7000,8000", 0),
            &mut net,
            &clock,
            &AtomicBool::new(true),
        );
        assert!(matches!(ran.result, Err(SendError::Cancelled)));
        assert!(net.sent.is_empty());
        assert!(net.resolves.is_empty());
    }

    #[test]
    fn cancel_between_knocks_stops_the_sequence() {
        let clock = FakeClock::new();
        let cancel = Arc::new(AtomicBool::new(false));
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        net.cancel_after = Some((2, Arc::clone(&cancel)));
        let ran = go(&plan("myhost", "1,2,3,4", 1000), &mut net, &clock, &cancel);
        assert!(matches!(ran.result, Err(SendError::Cancelled)));
        assert_eq!(net.sent.len(), 2);
        // Noticed within one sleep slice, not after the whole delay.
        assert!(clock.at() <= ms(1000) + SLEEP_SLICE, "{:?}", clock.at());
    }

    #[test]
    fn cancel_during_verify_stops_probing() {
        let clock = FakeClock::new();
        let cancel = Arc::new(AtomicBool::new(false));
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        net.cancel_after = Some((1, Arc::clone(&cancel)));
        let mut p = plan("myhost", "7000", 0);
        p.verify = Some(Verify {
            port: 22,
            wait: ms(3000),
        });
        let ran = go(&p, &mut net, &clock, &cancel);
        assert!(matches!(ran.result, Err(SendError::Cancelled)));
        assert!(net.probes.is_empty());
    }

    #[test]
    fn send_error_names_the_knock_and_stops() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        net.fail_knock = Some(1);
        let ran = go(
            &plan("myhost", "6000,7000,8000", 0),
            &mut net,
            &clock,
            &AtomicBool::new(false),
        );
        let err = ran.result.unwrap_err();
        match &err {
            SendError::Send { knock, to, .. } => {
                assert_eq!(*knock, Knock::tcp(7000));
                assert_eq!(*to, sa("192.0.2.1:7000"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "cannot send tcp knock to 192.0.2.1:7000: operation not permitted"
        );
        assert_eq!(net.sent.len(), 1);
    }

    #[test]
    fn plan_from_profile_settings() {
        let text = r#"
[defaults]
delay_ms = 40
family = "ipv6"

[profiles.web]
host = "web.example.org"
sequence = "7000,8000:udp"
close_sequence = "8000:udp,7000"
open_port = 22
wait_ms = 1500
retries = 2

[profiles.plain]
host = "192.0.2.1"
sequence = "1,2,3"
"#;
        let file = crate::profile::ProfileFile::parse(text, std::path::Path::new("profiles.toml"))
            .unwrap();
        let fixed = |name: &str| {
            let s = file.settings(name).unwrap();
            let none = |_: &str, _: &crate::secret::SecretSource| unreachable!();
            resolve(s, &Overrides::default())
                .unwrap()
                .load(&none)
                .unwrap()
        };
        let web = fixed("web");
        assert_eq!(
            web,
            KnockPlan {
                host: "web.example.org".into(),
                sequences: Sequences::Fixed(Sequence::parse("7000,8000:udp").unwrap()),
                delay: ms(40),
                family: Family::Ipv6,
                verify: Some(Verify {
                    port: 22,
                    wait: ms(1500)
                }),
                retries: 2,
            }
        );
        let plain = fixed("plain");
        assert_eq!(plain.verify, None);
        assert_eq!(plain.retries, 0);
        assert_eq!(
            plain.sequences,
            Sequences::Fixed(Sequence::parse("1,2,3").unwrap())
        );
    }

    #[test]
    fn each_send_failure_has_its_exit_code() {
        let to = sa("192.0.2.1:22");
        let io = || io::Error::other("x");
        let cases = [
            (
                SendError::Resolve {
                    host: "h".into(),
                    error: io(),
                },
                4,
            ),
            (
                SendError::NoAddress {
                    host: "h".into(),
                    family: Family::Ipv6,
                },
                4,
            ),
            (
                SendError::Send {
                    knock: Knock::tcp(7000),
                    to,
                    error: io(),
                },
                5,
            ),
            (SendError::Probe { to, error: io() }, 6),
            (
                SendError::NotOpened {
                    to,
                    attempts: 1,
                    wait: ms(1),
                },
                6,
            ),
            (SendError::Cancelled, 130),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e}");
        }
    }

    #[test]
    fn resolve_once_is_what_run_knocks() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["2001:db8::7", "192.0.2.7", "192.0.2.8"]);
        let got = |net: &mut FakeNet, host, family| {
            resolve_once(host, family, net).map_err(|e| e.to_string())
        };
        let v4 = |s: &str| Address {
            addr: s.parse().unwrap(),
            others: 0,
        };
        assert_eq!(
            got(&mut net, "myhost", Family::Ipv4),
            Ok(Address {
                addr: "192.0.2.7".parse().unwrap(),
                others: 1
            })
        );
        assert_eq!(
            got(&mut net, "myhost", Family::Any).map(|r| r.addr.to_string()),
            Ok("2001:db8::7".to_string())
        );
        // A literal never asks the resolver, also in brackets.
        let asked = net.resolves.len();
        assert_eq!(got(&mut net, "192.0.2.1", Family::Any), Ok(v4("192.0.2.1")));
        assert_eq!(
            got(&mut net, "[2001:db8::1]", Family::Ipv6).map(|r| r.addr.to_string()),
            Ok("2001:db8::1".to_string())
        );
        assert_eq!(net.resolves.len(), asked);
        assert_eq!(
            got(&mut net, "192.0.2.1", Family::Ipv6),
            Err("192.0.2.1 has no IPv6 address".to_string())
        );
        // run sends to the very same address.
        let ran = go(
            &plan("myhost", "7000", 0),
            &mut net,
            &clock,
            &AtomicBool::new(false),
        );
        assert_eq!(ran.result.unwrap().addr.to_string(), "2001:db8::7");
    }

    #[test]
    fn connecting_waits_for_the_ssh_port_unless_a_port_is_verified() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        let file = crate::profile::ProfileFile::parse(
            "[defaults]\nwait_ms = 1500\nssh_port = 2222\n\n[profiles.my]\nhost = \"myhost\"\nsequence = \"7000,8000\"\n",
            std::path::Path::new("profiles.toml"),
        )
        .unwrap();
        let overrides = Overrides {
            connect: true,
            ..Overrides::default()
        };
        let none = |_: &str, _: &crate::secret::SecretSource| unreachable!();
        let connect = resolve(file.settings("my").unwrap(), &overrides)
            .unwrap()
            .load(&none)
            .unwrap();
        assert_eq!(
            connect.verify,
            Some(Verify {
                port: 2222,
                wait: ms(1500)
            })
        );
        let ran = go(&connect, &mut net, &clock, &AtomicBool::new(false));
        assert!(
            ran.progress.contains(&Progress::Verifying {
                attempt: 1,
                to: sa("192.0.2.1:2222")
            }),
            "{:?}",
            ran.progress
        );
        let verified = crate::profile::ProfileFile::parse(
            "[profiles.verified]\nhost = \"myhost\"\nsequence = \"7000\"\nopen_port = 443\nwait_ms = 800\n",
            std::path::Path::new("profiles.toml"),
        )
        .unwrap()
        .settings("verified")
        .unwrap();
        let overrides = Overrides {
            connect: true,
            ..Overrides::default()
        };
        assert_eq!(
            resolve(verified, &overrides).unwrap().verify,
            Some(Verify {
                port: 443,
                wait: ms(800)
            })
        );
    }

    // Rotating profiles: the known-answer vectors "defaults" (step
    // 56_666_666) and "next step" (56_666_667) of testdata/rotate-vectors.toml.
    const STEP_T: u64 = 56_666_666;
    const SEQ_T: [u16; 4] = [23563, 19361, 17193, 56572];
    const SEQ_T1: [u16; 4] = [29788, 48178, 19091, 52131];

    fn rotation() -> Rotation {
        let secret =
            crate::rotate::Secret::parse_base32("GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK").unwrap();
        Rotation::new(crate::rotate::Params::default(), secret).unwrap()
    }

    /// `run` of a rotating plan with the wall clock at `start_ms` (since
    /// the epoch) when the fake clock starts, moving with it.
    fn go_rotating(
        plan: &KnockPlan,
        start_ms: u64,
        net: &mut FakeNet,
        clock: &Rc<FakeClock>,
        cancel: &AtomicBool,
    ) -> Ran {
        let wall = || ms(start_ms) + clock.at();
        let mut progress = Vec::new();
        let result = run(plan, net, clock.as_ref(), &wall, cancel, &mut |p| {
            progress.push(p.clone())
        });
        Ran { result, progress }
    }

    fn ports(sent: &[Sent]) -> Vec<u16> {
        sent.iter().map(|s| s.to.port()).collect()
    }

    fn rotating_plan(retries: u32) -> KnockPlan {
        let mut p = plan("192.0.2.1", "1", 100);
        p.sequences = Sequences::Rotating {
            rotation: rotation(),
            door: "myserver".into(),
        };
        p.verify = Some(Verify {
            port: 22,
            wait: ms(3000),
        });
        p.retries = retries;
        p
    }

    #[test]
    fn rotating_retry_waits_for_the_next_period_and_knocks_that_step() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &[]);
        // The server opens only for step T+1's sequence: step T is used up.
        net.opens_on = Some(SEQ_T1.to_vec());
        // 1_700_000_000 s is 20 s into step T: 10 s left, no wait at first.
        let ran = go_rotating(
            &rotating_plan(2),
            1_700_000_000_000,
            &mut net,
            &clock,
            &AtomicBool::new(false),
        );
        assert_eq!(
            ran.result.unwrap(),
            Outcome {
                addr: ip("192.0.2.1"),
                attempts: 2,
                opened: Some(true)
            }
        );
        let mut want = SEQ_T.to_vec();
        want.extend(SEQ_T1);
        assert_eq!(ports(&net.sent), want, "not T then T+1");
        // Attempt 1 at 0 ms; 300 ms of knocks + 3 s of verify; then the
        // wait of 6.7 s to the boundary at 1_700_000_010 s: attempt 2 at 10 s.
        assert_eq!(net.sent[0].at, ms(0));
        assert_eq!(net.sent[4].at, ms(10_000));
        assert_eq!(net.sent[7].at, ms(10_300));
        let to = sa("192.0.2.1:22");
        let rotation_events: Vec<&Progress> = ran
            .progress
            .iter()
            .filter(|p| {
                matches!(
                    p,
                    Progress::WaitingForPeriod { .. }
                        | Progress::Derived { .. }
                        | Progress::NotOpened { .. }
                        | Progress::Opened { .. }
                )
            })
            .collect();
        let seq = |ports: [u16; 4]| Sequence::new(ports.map(Knock::tcp).to_vec()).unwrap();
        assert_eq!(
            rotation_events,
            [
                &Progress::Derived {
                    attempt: 1,
                    step: STEP_T,
                    sequence: seq(SEQ_T)
                },
                &Progress::NotOpened { attempt: 1, to },
                &Progress::WaitingForPeriod {
                    attempt: 2,
                    wait: ms(6_700),
                    period: Duration::from_secs(30)
                },
                &Progress::Derived {
                    attempt: 2,
                    step: STEP_T + 1,
                    sequence: seq(SEQ_T1)
                },
                &Progress::Opened { to, after: ms(0) },
            ]
        );
        // The wait slept in slices (so a cancel is noticed).
        assert!(clock.sleeps().iter().all(|d| *d <= SLEEP_SLICE));
    }

    #[test]
    fn rotating_waits_out_a_boundary_before_the_first_knock() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &["192.0.2.1"]);
        let mut p = rotating_plan(0);
        p.host = "vault.example.org".into();
        p.verify = None;
        // 0.6 s before step T+1: less than 1 s + 300 ms of knocks.
        let ran = go_rotating(
            &p,
            1_700_000_009_400,
            &mut net,
            &clock,
            &AtomicBool::new(false),
        );
        assert_eq!(ran.result.unwrap().attempts, 1);
        assert_eq!(ports(&net.sent), SEQ_T1);
        assert_eq!(net.sent[0].at, ms(600));
        // Resolved first (DNS does not eat into the new period), then the wait.
        assert!(matches!(ran.progress[0], Progress::Resolved { .. }));
        assert_eq!(
            ran.progress[1],
            Progress::WaitingForPeriod {
                attempt: 1,
                wait: ms(600),
                period: Duration::from_secs(30)
            }
        );
        assert!(matches!(
            ran.progress[2],
            Progress::Derived {
                attempt: 1,
                step,
                ..
            } if step == STEP_T + 1
        ));
    }

    #[test]
    fn rotating_knocks_at_once_with_time_left_and_fails_after_its_retries() {
        let clock = FakeClock::new();
        let mut net = FakeNet::new(&clock, &[]);
        // 2 s before the boundary: enough for 300 ms of knocks.
        let ran = go_rotating(
            &rotating_plan(1),
            1_700_000_008_000,
            &mut net,
            &clock,
            &AtomicBool::new(false),
        );
        let err = ran.result.unwrap_err();
        assert_eq!(
            err.to_string(),
            "port 22 on 192.0.2.1 did not open within 3000 ms (after 2 attempts)"
        );
        assert_eq!(net.sent[0].at, ms(0));
        // The verify wait ran past the boundary: step T+1 is already in
        // force with time to spare, so attempt 2 knocks it at once.
        let mut want = SEQ_T.to_vec();
        want.extend(SEQ_T1);
        assert_eq!(ports(&net.sent), want);
        assert_eq!(net.sent[4].at, ms(3_300));
        assert!(
            !ran.progress
                .iter()
                .any(|p| matches!(p, Progress::WaitingForPeriod { .. })),
            "{:?}",
            ran.progress
        );
    }

    #[test]
    fn rotating_wait_is_cancellable() {
        /// Sets the flag once the fake time passes 1 s.
        struct Cancelling {
            inner: Rc<FakeClock>,
            flag: Arc<AtomicBool>,
        }
        impl Timer for Cancelling {
            fn now(&self) -> Instant {
                self.inner.now()
            }
            fn sleep(&self, d: Duration) {
                self.inner.sleep(d);
                if self.inner.at() > ms(1_000) {
                    self.flag.store(true, Ordering::Relaxed);
                }
            }
        }
        let inner = FakeClock::new();
        let flag = Arc::new(AtomicBool::new(false));
        let clock = Cancelling {
            inner: Rc::clone(&inner),
            flag: Arc::clone(&flag),
        };
        let mut net = FakeNet::new(&inner, &[]);
        let wall = || ms(1_700_000_000_000) + inner.at();
        let mut p = rotating_plan(1);
        p.verify = Some(Verify {
            port: 22,
            wait: ms(500),
        });
        let result = run(&p, &mut net, &clock, &wall, &flag, &mut |_| {});
        assert!(matches!(result, Err(SendError::Cancelled)), "{result:?}");
        // Only attempt 1 went out; the wait for step T+1 stopped within a slice.
        assert_eq!(ports(&net.sent), SEQ_T);
        assert!(inner.at() <= ms(1_000) + SLEEP_SLICE, "{:?}", inner.at());
    }

    #[test]
    fn literal_parsing() {
        assert_eq!(parse_literal("192.0.2.1"), Some(ip("192.0.2.1")));
        assert_eq!(parse_literal("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_literal("::1"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(parse_literal("[192.0.2.1]"), Some(ip("192.0.2.1")));
        assert_eq!(parse_literal("myhost"), None);
        assert_eq!(parse_literal("[2001:db8::1"), None);
        assert_eq!(parse_literal(""), None);
    }

    #[test]
    fn system_resolve_of_literals_needs_no_dns() {
        let mut net = SystemNet;
        assert_eq!(
            net.resolve("[::1]", Family::Any).unwrap(),
            vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]
        );
        assert_eq!(
            net.resolve("127.0.0.1", Family::Ipv4).unwrap(),
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        );
        assert!(net.resolve("127.0.0.1", Family::Ipv6).unwrap().is_empty());
    }

    /// Real sockets on 127.0.0.1 only (no root, no outside network).
    #[test]
    fn system_net_on_loopback() {
        let mut net = SystemNet;

        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let udp_addr = udp.local_addr().unwrap();
        net.knock(udp_addr, Proto::Udp).unwrap();
        let mut buf = [0xffu8; 16];
        let (n, _) = udp.recv_from(&mut buf).unwrap();
        assert_eq!(n, 1, "a UDP knock is a 1-byte datagram");

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        net.knock(open, Proto::Tcp).unwrap();
        // The SYN reached the listener: the kernel completed the handshake.
        listener.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let accepted = loop {
            match listener.accept() {
                Ok(_) => break true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if start.elapsed() > Duration::from_secs(5) {
                        break false;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        assert!(accepted, "the TCP knock never reached the listener");
        // A closed port answers RST: still a knock that went out.
        net.knock(closed, Proto::Tcp).unwrap();

        assert!(net.probe(open, Duration::from_secs(2)).unwrap());
        assert!(!net.probe(closed, Duration::from_secs(2)).unwrap());
    }

    /// The whole path with real sockets against a loopback listener.
    #[test]
    fn run_on_loopback_opens() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut p = plan(
            "127.0.0.1",
            &format!(
                "{},{}:udp",
                listener.local_addr().unwrap().port(),
                udp.local_addr().unwrap().port()
            ),
            0,
        );
        p.verify = Some(Verify {
            port: listener.local_addr().unwrap().port(),
            wait: Duration::from_secs(2),
        });
        let mut progress = |_: &Progress| {};
        let out = run(
            &p,
            &mut SystemNet,
            &SystemTimer,
            &SystemWall,
            &AtomicBool::new(false),
            &mut progress,
        )
        .unwrap();
        assert_eq!(out.opened, Some(true));
        assert_eq!(out.attempts, 1);
    }
}
