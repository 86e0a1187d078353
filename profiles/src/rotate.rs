//! Rotating knock sequences: derived from a shared secret and the clock, the
//! same code on the client and the server, so a sniffed sequence is useless
//! once its time step is over (and the server burns it after one use).
//!
//! # The scheme (version 1)
//!
//! Parameters ([`Params`]): a period `P` in whole seconds (default 30), a
//! length `L` (default 4 knocks), a port range `start-end` (default
//! 10000-60000, inclusive) minus a list of excluded ports, and the allowed
//! protocols (`tcp`, `udp` or `both`; default `tcp`). The secret `K` is at
//! least 128 bits ([`Secret`]); the door name `D` is the server's door
//! section name (by default the client's profile name).
//!
//! - Time step: `T = floor(unix_time / P)`.
//! - Allowed ports: `A` = the ports of `start..=end`, ascending, without the
//!   excluded ones; `N = |A|` (must be at least `L`).
//! - For knock `i` (0-based, `0 <= i < L`) and attempt `c = 0, 1, 2, ...`:
//!
//!   ```text
//!   msg(i, c) = D as UTF-8 bytes
//!            || T as 8 bytes big-endian
//!            || i as 4 bytes big-endian
//!            || (c as 4 bytes big-endian, only when c > 0)
//!   h = HMAC-SHA256(key = K, msg(i, c))                    (32 bytes)
//!   port = A[ u64_be(h[0..8]) mod N ]
//!   ```
//!
//!   If `port` was already used by an earlier knock of this sequence (with
//!   either protocol), try the next `c`. After [`MAX_ATTEMPTS`] attempts
//!   (practically unreachable unless `N` is close to `L`) take the first
//!   unused port of `A` at or after the last candidate, wrapping around.
//! - Protocol: with `both`, UDP if `h[8] & 1 == 1` else TCP, from the `h`
//!   that chose the port; otherwise the one allowed protocol.
//!
//! The modulo bias is below 2^-47 for any range. Known-answer vectors,
//! computed by an independent Python implementation
//! (`profiles/testdata/rotate-vectors.py`), are in
//! `profiles/testdata/rotate-vectors.toml`, read by the tests of both sides.
//!
//! # Acceptance (server)
//!
//! The server accepts the sequences of steps `T-1`, `T` and `T+1`
//! ([`Params::steps_accepted`]) for clock skew; each (door, step) sequence
//! opens at most once per source address and is then burned. Its capture
//! filter is rebuilt each period for the ports in force.
//!
//! # Sending (client)
//!
//! A sequence must not straddle two steps: if the next boundary is less than
//! [`BOUNDARY_MARGIN`] (plus the time the knocks take) away, the client
//! waits for it ([`Params::boundary_wait`]) and knocks the new step.
//!
//! # Server configuration (knockd.conf-style door section)
//!
//! ```text
//! [myserver]
//!     Rotate      = yes
//!     Secret_File = /etc/knock/myserver.secret   # base32, mode 0600 (group/world-readable refused)
//!     Period      = 30                           # seconds
//!     Length      = 4
//!     Port_Range  = 10000-60000
//!     Exclude     = 22,443                       # optional, comma-separated
//!     Protocol    = tcp                          # tcp | udp | both
//!     Seq_Timeout = 10
//!     Start_Command = /usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
//! ```
//!
//! The door section name is `D`. A `Rotate = yes` door has no `Sequence`.
//!
//! # Sharing (`knock --show-secret`)
//!
//! [`share_uri`] writes, and [`parse_share_uri`] reads, an otpauth-like URI:
//! `knock://rotate?door=NAME&secret=BASE32&period=30&length=4&range=10000-60000`
//! (plus `&exclude=22,443` and `&protocol=both` when set).

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use crate::secret::Secret;
use crate::sequence::{Knock, Proto, Sequence};

/// Defaults of a rotating profile / door.
pub mod defaults {
    use std::ops::RangeInclusive;

    pub const PERIOD_S: u64 = 30;
    pub const LENGTH: usize = 4;
    pub const RANGE: RangeInclusive<u16> = 10000..=60000;
}

/// Shortest and longest allowed period, in seconds.
pub const PERIOD_S_LIMITS: RangeInclusive<u64> = 5..=86_400;
/// Fewest and most knocks in a rotating sequence.
pub const LENGTH_LIMITS: RangeInclusive<usize> = 1..=32;
/// Attempts per knock before the deterministic linear fallback.
pub const MAX_ATTEMPTS: u32 = 64;
/// The client waits for the next step when less than this (plus the time
/// the knocks take) is left in the current one.
pub const BOUNDARY_MARGIN: Duration = Duration::from_secs(1);

words! {
    /// Which protocols a rotating door uses.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum ProtoChoice {
        #[default]
        Tcp = "tcp",
        Udp = "udp",
        /// Chosen per knock by the HMAC (bit 0 of byte 8).
        Both = "both",
    }
}

impl FromStr for ProtoChoice {
    type Err = RotateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let both = ["tcp,udp", "udp,tcp"].map(|w| w.eq_ignore_ascii_case(s.trim()));
        match ProtoChoice::from_word(s) {
            Some(choice) => Ok(choice),
            None if both.contains(&true) => Ok(ProtoChoice::Both),
            None => Err(RotateError::BadProtocol {
                text: s.to_string(),
            }),
        }
    }
}

/// The public parameters of a rotation (everything but the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Whole seconds, within [`PERIOD_S_LIMITS`].
    pub period: Duration,
    pub length: usize,
    pub range: RangeInclusive<u16>,
    pub exclude: Vec<u16>,
    pub protos: ProtoChoice,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            period: Duration::from_secs(defaults::PERIOD_S),
            length: defaults::LENGTH,
            range: defaults::RANGE,
            exclude: Vec::new(),
            protos: ProtoChoice::Tcp,
        }
    }
}

impl Params {
    /// Checks the limits: period 5..=86400 s in whole seconds, length
    /// 1..=32, a range within 1..=65535 with at least `length` allowed ports.
    pub fn validate(&self) -> Result<(), RotateError> {
        let secs = self.period.as_secs();
        if self.period.subsec_nanos() != 0 || !PERIOD_S_LIMITS.contains(&secs) {
            return Err(RotateError::BadPeriod {
                secs: self.period.as_secs_f64(),
            });
        }
        if !LENGTH_LIMITS.contains(&self.length) {
            return Err(RotateError::BadLength {
                length: self.length,
            });
        }
        if *self.range.start() == 0 || self.range.start() > self.range.end() {
            return Err(RotateError::BadRange {
                text: format_range(&self.range),
            });
        }
        let allowed = self.allowed_ports().len();
        if allowed < self.length {
            return Err(RotateError::RangeTooSmall {
                range: format_range(&self.range),
                allowed,
                length: self.length,
            });
        }
        Ok(())
    }

    /// The period in whole seconds (at least 1).
    pub fn period_secs(&self) -> u64 {
        self.period.as_secs().max(1)
    }

    /// The ports of the range without the excluded ones, ascending.
    pub fn allowed_ports(&self) -> Vec<u16> {
        self.range
            .clone()
            .filter(|p| !self.exclude.contains(p))
            .collect()
    }

    /// The time step of `unix_secs`: `floor(unix_secs / period)`.
    pub fn step(&self, unix_secs: u64) -> u64 {
        unix_secs / self.period_secs()
    }

    /// The steps the server accepts at `unix_secs`: `[T-1, T, T+1]`
    /// (saturating at 0, so the first entries may repeat near the epoch).
    pub fn steps_accepted(&self, unix_secs: u64) -> [u64; 3] {
        let t = self.step(unix_secs);
        [t.saturating_sub(1), t, t.saturating_add(1)]
    }

    /// Time from `now` (since the Unix epoch) to the start of the next step.
    pub fn until_boundary(&self, now: Duration) -> Duration {
        let period = Duration::from_secs(self.period_secs());
        let into =
            Duration::from_nanos(u64::try_from(now.as_nanos() % period.as_nanos()).unwrap_or(0));
        period - into
    }

    /// How long the knocks of one sequence take with `delay` between them.
    pub fn sending_time(&self, delay: Duration) -> Duration {
        delay * u32::try_from(self.length.saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// When the client should wait before knocking: `Some(wait)` if fewer
    /// than [`BOUNDARY_MARGIN`] + `sending` are left in the current step
    /// (wait = the time to the boundary), else `None`.
    pub fn boundary_wait(&self, now: Duration, sending: Duration) -> Option<Duration> {
        let left = self.until_boundary(now);
        (left < BOUNDARY_MARGIN + sending).then_some(left)
    }
}

/// A rotation: public parameters and the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Rotation {
    params: Params,
    secret: Secret,
    allowed: Vec<u16>,
}

impl fmt::Debug for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotation")
            .field("params", &self.params)
            .field("secret", &self.secret)
            .finish()
    }
}

type HmacSha256 = Hmac<Sha256>;

impl Rotation {
    /// Checks the parameters ([`Params::validate`]).
    pub fn new(params: Params, secret: Secret) -> Result<Rotation, RotateError> {
        params.validate()?;
        let allowed = params.allowed_ports();
        Ok(Rotation {
            params,
            secret,
            allowed,
        })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The sequence of `door` for time step `step` (see the module docs).
    pub fn sequence_at(&self, door: &str, step: u64) -> Sequence {
        let n = self.allowed.len() as u64;
        let mut knocks: Vec<Knock> = Vec::with_capacity(self.params.length);
        for i in 0..self.params.length {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let mut chosen = None;
            let mut last = 0usize;
            let mut last_h = [0u8; 32];
            for c in 0..MAX_ATTEMPTS {
                let h = self.mac(door, step, index, c);
                let k = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
                last = usize::try_from(k % n).unwrap_or(0);
                last_h = h;
                let port = self.allowed[last];
                if knocks.iter().all(|k| k.port != port) {
                    chosen = Some(port);
                    break;
                }
            }
            let port = chosen.unwrap_or_else(|| {
                // Linear fallback: the first unused port at or after the last candidate.
                (0..self.allowed.len())
                    .map(|d| self.allowed[(last + d) % self.allowed.len()])
                    .find(|p| knocks.iter().all(|k| k.port != *p))
                    .unwrap_or(self.allowed[last])
            });
            let proto = match self.params.protos {
                ProtoChoice::Tcp => Proto::Tcp,
                ProtoChoice::Udp => Proto::Udp,
                ProtoChoice::Both if last_h[8] & 1 == 1 => Proto::Udp,
                ProtoChoice::Both => Proto::Tcp,
            };
            knocks.push(Knock { port, proto });
        }
        // `Rotation::new` checked length >= 1, so the list is never empty.
        #[allow(clippy::expect_used)]
        Sequence::new(knocks).expect("a rotation has at least one knock")
    }

    /// The step and sequence in force at `unix_secs`.
    pub fn sequence_now(&self, door: &str, unix_secs: u64) -> (u64, Sequence) {
        let step = self.params.step(unix_secs);
        (step, self.sequence_at(door, step))
    }

    fn mac(&self, door: &str, step: u64, index: u32, attempt: u32) -> [u8; 32] {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = match HmacSha256::new_from_slice(self.secret.as_bytes()) {
            Ok(mac) => mac,
            Err(_) => return [0; 32],
        };
        mac.update(door.as_bytes());
        mac.update(&step.to_be_bytes());
        mac.update(&index.to_be_bytes());
        if attempt > 0 {
            mac.update(&attempt.to_be_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

/// `10000-60000`.
pub fn format_range(range: &RangeInclusive<u16>) -> String {
    format!("{}-{}", range.start(), range.end())
}

/// Parses `10000-60000` (inclusive; spaces allowed around the dash).
pub fn parse_range(text: &str) -> Result<RangeInclusive<u16>, RotateError> {
    let bad = || RotateError::BadRange {
        text: text.to_string(),
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

/// The otpauth-like sharing URI (see the module docs).
pub fn share_uri(door: &str, params: &Params, secret: &Secret) -> String {
    let mut uri = format!(
        "knock://rotate?door={}&secret={}&period={}&length={}&range={}",
        percent_encode(door),
        secret.to_base32(),
        params.period_secs(),
        params.length,
        format_range(&params.range)
    );
    if !params.exclude.is_empty() {
        let list: Vec<String> = params.exclude.iter().map(u16::to_string).collect();
        uri.push_str(&format!("&exclude={}", list.join(",")));
    }
    if params.protos != ProtoChoice::Tcp {
        uri.push_str(&format!("&protocol={}", params.protos));
    }
    uri
}

/// Reads a [`share_uri`]: door name, parameters (defaults for missing
/// ones) and secret.
pub fn parse_share_uri(uri: &str) -> Result<(String, Params, Secret), RotateError> {
    let bad = |why: &str| RotateError::BadUri {
        reason: why.to_string(),
    };
    let query = uri
        .trim()
        .strip_prefix("knock://rotate?")
        .ok_or_else(|| bad("expected knock://rotate?..."))?;
    let mut door = None;
    let mut secret = None;
    let mut params = Params::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        // Errors name the key only: the value may be the secret.
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| bad(&format!("\"{}\" has no value", key_only(pair))))?;
        let value = percent_decode(value).ok_or_else(|| bad(&format!("bad %-escape in {key}")))?;
        match key {
            "door" => door = Some(value),
            "secret" => {
                secret = Some(
                    Secret::parse_base32(&value).map_err(|e| RotateError::BadUri {
                        reason: e.to_string(),
                    })?,
                )
            }
            "period" => {
                params.period =
                    Duration::from_secs(value.parse().map_err(|_| bad("period is not a number"))?)
            }
            "length" => params.length = value.parse().map_err(|_| bad("length is not a number"))?,
            "range" => params.range = parse_range(&value)?,
            "exclude" => {
                params.exclude = value
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().parse::<u16>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad("exclude is not a list of ports"))?
            }
            "protocol" => params.protos = value.parse()?,
            other => return Err(bad(&format!("unknown parameter \"{other}\""))),
        }
    }
    let door = door.ok_or_else(|| bad("no door"))?;
    let secret = secret.ok_or_else(|| bad("no secret"))?;
    params.validate()?;
    Ok((door, params, secret))
}

/// The key of a `key=value` pair without `=`, cut short (it may be a
/// pasted secret).
fn key_only(pair: &str) -> String {
    let mut key: String = pair.chars().take(12).collect();
    if pair.chars().count() > 12 {
        key.push_str("...");
    }
    key
}

/// How two sets of parameters differ, per key in the words of a sharing
/// URI: `(key, value in a, value in b)`, e.g. `("period", "60 s", "30 s")`.
/// Empty if they are the same.
pub fn param_differences(a: &Params, b: &Params) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    if a.period != b.period {
        out.push((
            "period",
            format!("{} s", a.period_secs()),
            format!("{} s", b.period_secs()),
        ));
    }
    if a.length != b.length {
        out.push(("length", a.length.to_string(), b.length.to_string()));
    }
    if a.range != b.range {
        out.push(("range", format_range(&a.range), format_range(&b.range)));
    }
    let list = |p: &Params| {
        let mut ports = p.exclude.clone();
        ports.sort_unstable();
        ports.dedup();
        ports
    };
    if list(a) != list(b) {
        let show = |ports: Vec<u16>| {
            if ports.is_empty() {
                "none".to_string()
            } else {
                ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }
        };
        out.push(("exclude", show(list(a)), show(list(b))));
    }
    if a.protos != b.protos {
        out.push(("protocol", a.protos.to_string(), b.protos.to_string()));
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What is wrong with rotation parameters or a sharing URI.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RotateError {
    #[error("period {secs} s is out of range (expected whole seconds, 5-86400)")]
    BadPeriod { secs: f64 },
    #[error("length {length} is out of range (expected 1-32 knocks)")]
    BadLength { length: usize },
    #[error("bad port range \"{text}\" (expected FIRST-LAST within 1-65535, like \"10000-60000\")")]
    BadRange { text: String },
    #[error(
        "port range {range} leaves {allowed} ports after exclusions; a sequence of {length} needs at least {length}"
    )]
    RangeTooSmall {
        range: String,
        allowed: usize,
        length: usize,
    },
    #[error("unknown protocol \"{text}\" (expected \"tcp\", \"udp\" or \"both\")")]
    BadProtocol { text: String },
    #[error("bad knock:// URI: {reason}")]
    BadUri { reason: String },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::parse_base32("GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK").unwrap()
    }

    fn rot(params: Params) -> Rotation {
        Rotation::new(params, secret()).unwrap()
    }

    #[test]
    fn sending_time_counts_the_gaps() {
        let four = Params {
            length: 4,
            ..Params::default()
        };
        assert_eq!(
            four.sending_time(Duration::from_millis(100)),
            Duration::from_millis(300)
        );
        let one = Params {
            length: 1,
            ..Params::default()
        };
        assert_eq!(one.sending_time(Duration::from_millis(100)), Duration::ZERO);
    }

    #[test]
    fn steps_and_boundaries() {
        let p = Params::default();
        assert_eq!(p.step(0), 0);
        assert_eq!(p.step(29), 0);
        assert_eq!(p.step(30), 1);
        assert_eq!(p.step(1_700_000_000), 56_666_666);
        assert_eq!(p.steps_accepted(90), [2, 3, 4]);
        assert_eq!(p.steps_accepted(5), [0, 0, 1]);
        assert_eq!(
            p.until_boundary(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(
            p.until_boundary(Duration::from_millis(89_250)),
            Duration::from_millis(750)
        );
    }

    #[test]
    fn boundary_wait_only_near_the_end_of_a_step() {
        let p = Params::default();
        let send = Duration::from_millis(300);
        // 28.0 s into the step: 2 s left, more than 1 s + 0.3 s.
        assert_eq!(p.boundary_wait(Duration::from_millis(58_000), send), None);
        // 28.8 s in: 1.2 s left < 1.3 s: wait the 1.2 s.
        assert_eq!(
            p.boundary_wait(Duration::from_millis(58_800), send),
            Some(Duration::from_millis(1_200))
        );
        // Right at a boundary: a whole period left.
        assert_eq!(p.boundary_wait(Duration::from_secs(60), send), None);
        // After waiting, the new step has a whole period left.
        let now = Duration::from_millis(58_800);
        let after = now + p.boundary_wait(now, send).unwrap();
        assert_eq!(p.step(after.as_secs()), p.step(now.as_secs()) + 1);
        assert_eq!(p.boundary_wait(after, send), None);
    }

    #[test]
    fn sequences_have_the_length_range_and_no_repeats() {
        let r = rot(Params::default());
        for step in 0..200 {
            let s = r.sequence_at("myserver", step);
            assert_eq!(s.len(), 4);
            let mut ports: Vec<u16> = s.iter().map(|k| k.port).collect();
            assert!(ports.iter().all(|p| (10000..=60000).contains(p)));
            assert!(s.iter().all(|k| k.proto == Proto::Tcp));
            ports.sort_unstable();
            ports.dedup();
            assert_eq!(ports.len(), 4, "{s}");
        }
    }

    #[test]
    fn sequences_depend_on_door_step_and_secret() {
        let r = rot(Params::default());
        let a = r.sequence_at("myserver", 1000);
        assert_eq!(a, r.sequence_at("myserver", 1000));
        assert_ne!(a, r.sequence_at("myserver", 1001));
        assert_ne!(a, r.sequence_at("myserver2", 1000));
        let other = Rotation::new(Params::default(), Secret::generate().unwrap()).unwrap();
        assert_ne!(a, other.sequence_at("myserver", 1000));
        assert_eq!(r.sequence_now("myserver", 30_000).0, 1000);
        assert_eq!(r.sequence_now("myserver", 30_029).1, a);
    }

    #[test]
    fn a_range_as_small_as_the_length_uses_every_port() {
        let params = Params {
            length: 4,
            range: 20000..=20005,
            exclude: vec![20001, 20003],
            protos: ProtoChoice::Udp,
            ..Params::default()
        };
        let r = rot(params);
        for step in 0..100 {
            let s = r.sequence_at("d", step);
            let mut ports: Vec<u16> = s.iter().map(|k| k.port).collect();
            ports.sort_unstable();
            assert_eq!(ports, [20000, 20002, 20004, 20005], "{s}");
            assert!(s.iter().all(|k| k.proto == Proto::Udp));
        }
    }

    #[test]
    fn both_protocols_mix() {
        let r = rot(Params {
            protos: ProtoChoice::Both,
            ..Params::default()
        });
        let (mut tcp, mut udp) = (0, 0);
        for step in 0..100 {
            for k in r.sequence_at("d", step).iter() {
                match k.proto {
                    Proto::Tcp => tcp += 1,
                    Proto::Udp => udp += 1,
                }
            }
        }
        assert!(tcp > 100 && udp > 100, "{tcp} {udp}");
    }

    #[test]
    fn params_are_checked() {
        let p = |f: fn(&mut Params)| {
            let mut p = Params::default();
            f(&mut p);
            p.validate().map_err(|e| e.to_string())
        };
        assert_eq!(p(|_| {}), Ok(()));
        assert_eq!(
            p(|p| p.period = Duration::from_secs(2)),
            Err("period 2 s is out of range (expected whole seconds, 5-86400)".into())
        );
        assert!(p(|p| p.period = Duration::from_millis(30_500)).is_err());
        assert_eq!(
            p(|p| p.length = 0),
            Err("length 0 is out of range (expected 1-32 knocks)".into())
        );
        assert_eq!(
            p(|p| {
                p.range = 100..=102;
                p.exclude = vec![101];
            }),
            Err("port range 100-102 leaves 2 ports after exclusions; a sequence of 4 needs at least 4".into())
        );
        assert!(
            Rotation::new(
                Params {
                    length: 40,
                    ..Params::default()
                },
                secret()
            )
            .is_err()
        );
    }

    #[test]
    fn ranges_and_protocols_parse() {
        assert_eq!(parse_range("10000-60000").unwrap(), 10000..=60000);
        assert_eq!(parse_range(" 1 - 2 ").unwrap(), 1..=2);
        for bad in ["", "10000", "0-5", "6-5", "1-70000", "a-b"] {
            assert_eq!(
                parse_range(bad).unwrap_err().to_string(),
                format!(
                    "bad port range \"{bad}\" (expected FIRST-LAST within 1-65535, like \"10000-60000\")"
                )
            );
        }
        assert_eq!("BOTH".parse::<ProtoChoice>().unwrap(), ProtoChoice::Both);
        assert_eq!("udp".parse::<ProtoChoice>().unwrap(), ProtoChoice::Udp);
        assert!("sctp".parse::<ProtoChoice>().is_err());
    }

    #[test]
    fn share_uri_round_trips() {
        let params = Params {
            exclude: vec![22, 443],
            protos: ProtoChoice::Both,
            ..Params::default()
        };
        let uri = share_uri("my server", &params, &secret());
        assert_eq!(
            uri,
            "knock://rotate?door=my%20server&secret=GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK&period=30&length=4&range=10000-60000&exclude=22,443&protocol=both"
        );
        let (door, p, s) = parse_share_uri(&uri).unwrap();
        assert_eq!((door.as_str(), &p, &s), ("my server", &params, &secret()));
        let plain = share_uri("a", &Params::default(), &secret());
        assert!(plain.ends_with("range=10000-60000"), "{plain}");
        assert!(parse_share_uri("otpauth://totp/x?secret=AA").is_err());
        assert!(parse_share_uri("knock://rotate?door=a").is_err());
        assert!(
            parse_share_uri(
                "knock://rotate?door=a&secret=GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK&period=1"
            )
            .is_err()
        );
    }

    #[test]
    fn uri_errors_never_quote_a_value() {
        let e = parse_share_uri("knock://rotate?door=a&secret=GAYTEMZUGU3DOOBZ%ZZMFRGGZDFMZTWQ2LK")
            .unwrap_err();
        assert_eq!(e.to_string(), "bad knock:// URI: bad %-escape in secret");
        let e =
            parse_share_uri("knock://rotate?door=a&GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad knock:// URI: \"GAYTEMZUGU3D...\" has no value"
        );
    }

    #[test]
    fn param_differences_name_each_key() {
        let a = Params::default();
        assert!(param_differences(&a, &a.clone()).is_empty());
        let b = Params {
            period: Duration::from_secs(60),
            length: 5,
            range: 20000..=30000,
            exclude: vec![443, 22],
            protos: ProtoChoice::Both,
        };
        let d = param_differences(&b, &a);
        let keys: Vec<&str> = d.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(keys, ["period", "length", "range", "exclude", "protocol"]);
        assert_eq!(d[0], ("period", "60 s".into(), "30 s".into()));
        assert_eq!(d[3], ("exclude", "22,443".into(), "none".into()));
        // The order of excluded ports does not matter.
        let c = Params {
            exclude: vec![22, 443],
            ..b.clone()
        };
        assert!(param_differences(&b, &c).is_empty());
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", rot(Params::default()));
        assert!(shown.contains("Secret(160 bits)"), "{shown}");
        assert!(!shown.contains("GAYT"), "{shown}");
    }
}
