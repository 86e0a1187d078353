//! SPA doors (`SPA = yes`) on the packet path: from the UDP payload of a
//! packet to the SPA port to an open or a refusal, as fwknopd decides it.
//!
//! Per packet to a door's `SPA_Port` (and destination), for each stanza of
//! the door's access.conf that applies to the packet's source and
//! destination and has not expired, [`knock_profiles::spa::decode`] is
//! tried with the stanza's keys; the first that opens the packet decides:
//!
//! 1. its timestamp within ±120 s of packet time and its digest not seen
//!    before ([`ReplayCache::accept`]; one cache for every SPA door, so a
//!    packet replayed to another door is a replay too);
//! 2. `REQUIRE_USERNAME`, then the address to open (`%IP%`: the one in the
//!    packet, or its source for `0.0.0.0` unless `REQUIRE_SOURCE_ADDRESS`),
//!    then the ports (every requested port must be allowed, as in fwknopd);
//! 3. the stop delay: the client's timeout within `MAX_FW_TIMEOUT`, else
//!    `FW_ACCESS_TIMEOUT`, else the door's `Cmd_Timeout` (default 30 s).
//!
//! Why this runs here, on the packet thread, and not on the worker: the
//! decoder is allocation-free (every buffer on its stack, at most 1500
//! bytes) and bounded, and a packet that is not ours fails at its HMAC, one
//! HMAC-SHA256 per stanza that matches its source, before anything is
//! decrypted; not base64 or the wrong length, it costs no HMAC at all. Handing
//! payloads to the worker instead would need a queue of 1.5 KiB buffers
//! that a flood fills as fast as the kernel's capture buffer, dropping the
//! real packets there instead of here, and would make `--read` depend on
//! thread timing. Decided here, a packet costs the same in both modes, and
//! only a valid one (rare: made by a key holder, and at most once each)
//! goes on to the worker.
//!
//! Nothing here allocates per packet: the port set and the stanzas are
//! built once, the replay cache is allocated once with its capacity, and
//! outcomes are small `Copy` values.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use knock_profiles::Proto;
use knock_profiles::fwknop_access::{
    AccessConf, AccessConfError, AddressRefusal, FileSystem, IncludeSource, PortRefusal,
};
use knock_profiles::spa::{self, PortList, SpaError, Username};
use knock_profiles::spa_replay::{self, ReplayCache};

use crate::detector::Destinations;
use crate::event::{Packet, Payload};

/// An SPA door's access file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessFileError {
    #[error(
        "{}: access file is readable by group or others (mode {mode:04o}); it holds keys: run \
         chmod 600 {}",
        path.display(),
        path.display()
    )]
    Mode { path: PathBuf, mode: u32 },
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Conf(#[from] AccessConfError),
}

/// The mode bits of `path` that group and others have, if any.
fn shared_mode(path: &Path) -> io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    Ok((mode & 0o077 != 0).then_some(mode & 0o777))
}

/// Includes of an access.conf, refused like the file itself when group or
/// others can read them.
struct PrivateFiles;

impl IncludeSource for PrivateFiles {
    fn read(&mut self, path: &Path) -> io::Result<String> {
        if let Some(mode) = shared_mode(path)? {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "readable by group or others (mode {mode:04o}); it holds keys: run chmod \
                     600 {}",
                    path.display()
                ),
            ));
        }
        std::fs::read_to_string(path)
    }

    fn conf_files(&mut self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        FileSystem.conf_files(dir)
    }
}

/// Reads an SPA door's access.conf (fwknopd's format, see
/// [`knock_profiles::fwknop_access`]) with its `%include`s. It holds keys:
/// a file that group or others can read is refused, as a rotating door's
/// secret file is.
pub fn load_access(path: &Path) -> Result<AccessConf, AccessFileError> {
    let io_err = |source| AccessFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    if let Some(mode) = shared_mode(path).map_err(io_err)? {
        return Err(AccessFileError::Mode {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(io_err)?);
    Ok(AccessConf::parse_with(&text, path, &mut PrivateFiles)?)
}

/// One SPA door, as the packet path needs it.
#[derive(Debug, Clone)]
pub struct SpaDoorSpec {
    /// `SPA_Port` (UDP).
    pub port: u16,
    /// `Target`: count packets to this address instead of the interface's.
    pub target: Option<IpAddr>,
    /// Its access.conf.
    pub access: AccessConf,
    /// Seconds to keep the door open for a stanza without
    /// `FW_ACCESS_TIMEOUT` (the door's `Cmd_Timeout`, default 30).
    pub default_open_secs: u32,
    /// The door's index in the worker's list of doors.
    pub info: usize,
}

/// Why an SPA packet opened nothing. Small and `Copy`: it goes to the
/// worker as it is, to be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaRefusal {
    /// The capture holds less than the UDP header says (an IP fragment, or
    /// a packet beyond the capture's snap length).
    Truncated {
        captured: usize,
        len: usize,
    },
    /// No stanza of the door's access.conf applies to the packet's source
    /// (and destination), or all that do have expired.
    NoStanza,
    /// The packet does not open with the keys of any stanza for its
    /// source: the first reason that is not a bad HMAC, else bad HMAC.
    Packet(SpaError),
    /// Opened, but replayed or stale (or the replay cache is full).
    Replay(spa_replay::Refusal),
    /// `REQUIRE_USERNAME` names another user.
    User {
        user: Username,
    },
    Address(AddressRefusal),
    Port(PortRefusal),
}

impl fmt::Display for SpaRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpaRefusal::Truncated { captured, len } => write!(
                f,
                "payload cut short ({captured} of {len} bytes captured: an IP fragment, or \
                 longer than the capture keeps)"
            ),
            SpaRefusal::NoStanza => f.write_str("no access.conf stanza for this source"),
            SpaRefusal::Packet(e) => write!(f, "{e}"),
            SpaRefusal::Replay(r) => write!(f, "{r}"),
            SpaRefusal::User { user } => {
                write!(f, "user \"{user}\" is not the one REQUIRE_USERNAME allows")
            }
            SpaRefusal::Address(a) => write!(f, "{a}"),
            SpaRefusal::Port(p) => write!(f, "{p}"),
        }
    }
}

/// A refused SPA packet, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaRefused {
    pub src: IpAddr,
    /// The door (worker index).
    pub door: usize,
    pub why: SpaRefusal,
}

/// An accepted SPA packet: what the worker opens, and what it journals so
/// that the packet stays refused after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaGrant {
    /// The packet's source.
    pub src: IpAddr,
    /// The door (worker index).
    pub door: usize,
    /// The address to open for (`%IP%`).
    pub addr: IpAddr,
    pub user: Username,
    /// The ports asked for, each allowed (`%PROTO%`, `%PORT%`).
    pub ports: PortList,
    /// Seconds until the door's Stop_Command.
    pub open_secs: u32,
    /// The packet's replay digest, and when the replay cache forgets it
    /// (Unix seconds).
    pub digest: [u8; 32],
    pub forget_at: u64,
}

/// What an SPA packet caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaOutcome {
    Open(SpaGrant),
    Refused(SpaRefused),
}

/// Counters for the exit summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaStats {
    /// UDP packets to an SPA door's port and destination.
    pub packets: u64,
    pub accepted: u64,
    pub refused: u64,
    /// Refused as replays (or stale).
    pub replayed: u64,
}

/// Every SPA door of a config, and the replay cache they share.
pub struct SpaDoors {
    doors: Vec<SpaDoorSpec>,
    /// Bit set of the UDP ports of the doors.
    ports: Box<[u64; 1024]>,
    destinations: Destinations,
    cache: ReplayCache,
    stats: SpaStats,
}

impl SpaDoors {
    /// No SPA doors: [`SpaDoors::wants`] is always false, and the replay
    /// cache takes no memory.
    pub fn none() -> SpaDoors {
        SpaDoors::new(Vec::new(), Destinations::Any)
    }

    /// The doors; `destinations` count for doors without `Target`.
    pub fn new(doors: Vec<SpaDoorSpec>, destinations: Destinations) -> SpaDoors {
        let mut ports = Box::new([0u64; 1024]);
        for d in &doors {
            ports[usize::from(d.port) / 64] |= 1 << (d.port % 64);
        }
        let cache = if doors.is_empty() {
            ReplayCache::new(1, spa_replay::DEFAULT_MAX_AGE)
        } else {
            ReplayCache::default()
        };
        SpaDoors {
            doors,
            ports,
            destinations,
            cache,
            stats: SpaStats::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.doors.is_empty()
    }

    pub fn doors(&self) -> &[SpaDoorSpec] {
        &self.doors
    }

    pub fn stats(&self) -> SpaStats {
        self.stats
    }

    /// The destinations for doors without `Target` changed (the
    /// interface's addresses). Not on the packet path.
    pub fn set_destinations(&mut self, destinations: Destinations) {
        self.destinations = destinations;
    }

    /// A reload: this config's doors take over the replay cache (packets
    /// accepted before it stay refused) and the counters of `old`.
    pub fn carry_over(&mut self, old: &mut SpaDoors) {
        // A config without SPA doors has an empty cache of one entry, unless
        // it took over a real one from a config before it.
        if !old.doors.is_empty() || !old.cache.is_empty() {
            std::mem::swap(&mut self.cache, &mut old.cache);
        }
        let o = old.stats;
        self.stats.packets += o.packets;
        self.stats.accepted += o.accepted;
        self.stats.refused += o.refused;
        self.stats.replayed += o.replayed;
    }

    /// Puts back a digest a previous run journaled (see
    /// [`ReplayCache::remember`]); `false` if the cache is full.
    pub fn remember(&mut self, digest: [u8; 32], forget_at: u64, now: u64) -> bool {
        self.cache.remember(digest, forget_at, now).is_ok()
    }

    /// Digests held in the replay cache.
    pub fn remembered(&self) -> usize {
        self.cache.len()
    }

    /// Whether `ev` is a UDP packet to the port of some SPA door.
    #[inline]
    pub fn wants(&self, ev: &Packet) -> bool {
        let p = ev.knock.port;
        ev.knock.proto == Proto::Udp && self.ports[usize::from(p) / 64] & (1 << (p % 64)) != 0
    }

    #[inline]
    fn destination_ok(&self, d: &SpaDoorSpec, dst: IpAddr) -> bool {
        match d.target {
            Some(t) => t == dst,
            None => match &self.destinations {
                Destinations::Any => true,
                Destinations::Only(list) => list.contains(&dst),
            },
        }
    }

    /// Decides an SPA packet seen at `now` (Unix seconds, packet time) and
    /// reports the outcome through `out` (nothing if no door takes it).
    /// Allocation-free.
    pub fn on_packet(
        &mut self,
        ev: &Packet,
        payload: Payload<'_>,
        now: u64,
        out: &mut impl FnMut(SpaOutcome),
    ) {
        let Some((door, why)) = self.find(ev, payload, now) else {
            return;
        };
        self.stats.packets += 1;
        let outcome = match why {
            Ok((door, stanza, msg)) => self.decide(ev, payload, now, door, stanza, msg),
            Err(why) => Err(SpaRefused {
                src: ev.src,
                door: self.doors[door].info,
                why,
            }),
        };
        match outcome {
            Ok(grant) => {
                self.stats.accepted += 1;
                out(SpaOutcome::Open(grant));
            }
            Err(refused) => {
                self.stats.refused += 1;
                if matches!(refused.why, SpaRefusal::Replay(_)) {
                    self.stats.replayed += 1;
                }
                out(SpaOutcome::Refused(refused));
            }
        }
    }

    /// The first door that takes the packet and either the (door, stanza,
    /// message) that opens it or why none does. `None`: no door's port and
    /// destination.
    #[allow(clippy::type_complexity)]
    fn find(
        &self,
        ev: &Packet,
        payload: Payload<'_>,
        now: u64,
    ) -> Option<(usize, Result<(usize, usize, spa::Message), SpaRefusal>)> {
        let mut first = None;
        let mut why = SpaRefusal::NoStanza;
        for (i, d) in self.doors.iter().enumerate() {
            if d.port != ev.knock.port || !self.destination_ok(d, ev.dst) {
                continue;
            }
            first.get_or_insert(i);
            if !payload.complete() {
                why = SpaRefusal::Truncated {
                    captured: payload.bytes.len(),
                    len: payload.len,
                };
                break;
            }
            for (s, stanza) in d.access.stanzas.iter().enumerate() {
                if !stanza.matches_source(ev.src)
                    || !stanza.matches_destination(ev.dst)
                    || stanza.expired(now)
                {
                    continue;
                }
                match spa::decode(payload.bytes, &stanza.keys) {
                    Ok(msg) => return Some((i, Ok((i, s, msg)))),
                    Err(e) => {
                        let before_hmac = matches!(
                            e,
                            SpaError::TooShort { .. }
                                | SpaError::TooLong { .. }
                                | SpaError::NotBase64 { .. }
                                | SpaError::SaltedPrefix
                        );
                        // A reason found past the HMAC (a wrong encryption
                        // key, a bad field) says more than "bad HMAC".
                        if !matches!(why, SpaRefusal::Packet(p) if p != SpaError::BadHmac) {
                            why = SpaRefusal::Packet(e);
                        }
                        if before_hmac {
                            // The same for every stanza: no need to try more.
                            return Some((first.unwrap_or(i), Err(why)));
                        }
                    }
                }
            }
        }
        first.map(|i| (i, Err(why)))
    }

    /// The checks after the packet opened with stanza `s` of door `door`.
    fn decide(
        &mut self,
        ev: &Packet,
        payload: Payload<'_>,
        now: u64,
        door: usize,
        s: usize,
        msg: spa::Message,
    ) -> Result<SpaGrant, SpaRefused> {
        let d = &self.doors[door];
        let refuse = |why| SpaRefused {
            src: ev.src,
            door: d.info,
            why,
        };
        let stanza = &d.access.stanzas[s];
        let digest = spa::replay_digest(payload.bytes);
        self.cache
            .accept(&digest, msg.timestamp, now)
            .map_err(|r| refuse(SpaRefusal::Replay(r)))?;
        if !stanza.user_allowed(msg.user.as_str()) {
            return Err(refuse(SpaRefusal::User { user: msg.user }));
        }
        let addr = stanza
            .address_to_open(msg.allow, ev.src)
            .map_err(|a| refuse(SpaRefusal::Address(a)))?;
        stanza
            .check_ports(msg.ports.as_slice())
            .map_err(|p| refuse(SpaRefusal::Port(p)))?;
        Ok(SpaGrant {
            src: ev.src,
            door: d.info,
            addr,
            user: msg.user,
            ports: msg.ports,
            open_secs: stanza.open_for_or(msg.client_timeout, d.default_open_secs),
            digest,
            forget_at: self.cache.forget_at(msg.timestamp, now),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use knock_profiles::Knock;
    use knock_profiles::spa::{
        AllowIp, ClientTimeout, EncryptionKey, HmacKey, Message, ProtoPort, SpaKeys,
    };
    use std::net::Ipv4Addr;
    use std::path::Path;

    /// The fixed clock of these tests (Unix seconds).
    const NOW: u64 = 1_800_000_000;

    fn keys(n: u8) -> SpaKeys {
        SpaKeys {
            encryption: EncryptionKey::new(vec![n; 32]).unwrap(),
            hmac: HmacKey::new(vec![n.wrapping_add(100); 64]).unwrap(),
        }
    }

    fn b64(k: &SpaKeys) -> String {
        format!(
            "KEY_BASE64 {}\nHMAC_KEY_BASE64 {}\n",
            k.encryption.to_base64().as_str(),
            k.hmac.to_base64().as_str()
        )
    }

    /// Stanza 1: 192.0.2.0/24, keys 1, tcp/22 and udp/53, user alice, 5 s,
    /// client timeouts up to 60 s. Stanza 2: any source, keys 2,
    /// REQUIRE_SOURCE_ADDRESS, no port restriction but tcp/23.
    fn access() -> AccessConf {
        let text = format!(
            "SOURCE 192.0.2.0/24\nOPEN_PORTS tcp/22, udp/53\n{}FW_ACCESS_TIMEOUT 5\n\
             MAX_FW_TIMEOUT 60\nREQUIRE_USERNAME alice\n\n\
             SOURCE ANY\nRESTRICT_PORTS tcp/23\n{}REQUIRE_SOURCE_ADDRESS Y\n",
            b64(&keys(1)),
            b64(&keys(2))
        );
        AccessConf::parse(&text, Path::new("/etc/fwknop/access.conf")).unwrap()
    }

    fn doors() -> SpaDoors {
        SpaDoors::new(
            vec![SpaDoorSpec {
                port: 62201,
                target: None,
                access: access(),
                default_open_secs: 30,
                info: 4,
            }],
            Destinations::Only(vec!["192.0.2.1".parse().unwrap()]),
        )
    }

    struct Pkt {
        user: &'static str,
        allow: AllowIp,
        ports: &'static str,
        timeout: Option<u32>,
        ts: u64,
        keys: SpaKeys,
    }

    fn alice() -> Pkt {
        Pkt {
            user: "alice",
            allow: AllowIp::Addr(Ipv4Addr::new(192, 0, 2, 2)),
            ports: "tcp/22",
            timeout: None,
            ts: NOW,
            keys: keys(1),
        }
    }

    fn encode(p: &Pkt) -> String {
        let msg = Message::new(
            Username::new(p.user).unwrap(),
            p.allow,
            PortList::parse(p.ports).unwrap(),
            p.timeout.and_then(ClientTimeout::new),
            p.ts,
        )
        .unwrap();
        spa::encode(&msg, &p.keys).unwrap()
    }

    fn packet(src: &str, dst: &str, port: u16) -> Packet {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            knock: Knock::udp(port),
            flags: 0,
            ts: NOW * 1000,
        }
    }

    /// Every outcome of one payload from `src` to 192.0.2.1:62201 at `now`.
    fn feed(d: &mut SpaDoors, src: &str, payload: &[u8], now: u64) -> Vec<SpaOutcome> {
        let mut got = Vec::new();
        let p = Payload {
            bytes: payload,
            len: payload.len(),
        };
        d.on_packet(&packet(src, "192.0.2.1", 62201), p, now, &mut |o| {
            got.push(o)
        });
        got
    }

    fn refusal(d: &mut SpaDoors, src: &str, payload: &[u8], now: u64) -> SpaRefusal {
        match feed(d, src, payload, now).as_slice() {
            [SpaOutcome::Refused(r)] => {
                assert_eq!((r.door, r.src), (4, src.parse().unwrap()));
                r.why
            }
            other => panic!("expected one refusal, got {other:?}"),
        }
    }

    fn grant(d: &mut SpaDoors, src: &str, payload: &[u8], now: u64) -> SpaGrant {
        match feed(d, src, payload, now).as_slice() {
            [SpaOutcome::Open(g)] => *g,
            other => panic!("expected one open, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_packet_opens_for_the_address_ports_and_time_it_asks() {
        let mut d = doors();
        let pkt = encode(&alice());
        let g = grant(&mut d, "192.0.2.2", pkt.as_bytes(), NOW + 3);
        assert_eq!(g.door, 4);
        assert_eq!(g.addr, "192.0.2.2".parse::<IpAddr>().unwrap());
        assert_eq!(g.user.as_str(), "alice");
        assert_eq!(g.ports.to_string(), "tcp/22");
        assert_eq!(g.open_secs, 5, "the stanza's FW_ACCESS_TIMEOUT");
        assert_eq!(g.digest, spa::replay_digest(pkt.as_bytes()));
        assert_eq!(g.forget_at, NOW + 3 + 120);
        // A client timeout, cut to MAX_FW_TIMEOUT; two ports; the address
        // asked for, not the source.
        let p = Pkt {
            ports: "tcp/22,udp/53",
            timeout: Some(600),
            allow: AllowIp::Addr(Ipv4Addr::new(198, 51, 100, 7)),
            ..alice()
        };
        let g = grant(&mut d, "192.0.2.9", encode(&p).as_bytes(), NOW);
        assert_eq!(g.addr, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(g.ports.to_string(), "tcp/22,udp/53");
        assert_eq!(g.open_secs, 60);
        // 0.0.0.0: the packet's source. Stanza 2 keys from anywhere.
        let p = Pkt {
            user: "bob",
            allow: AllowIp::Addr(Ipv4Addr::new(203, 0, 113, 9)),
            ports: "udp/1194",
            keys: keys(2),
            ..alice()
        };
        let g = grant(&mut d, "203.0.113.50", encode(&p).as_bytes(), NOW);
        assert_eq!(g.addr, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(g.open_secs, 30, "the door's default");
        let p = Pkt {
            allow: AllowIp::Source,
            ..alice()
        };
        let g = grant(&mut d, "192.0.2.77", encode(&p).as_bytes(), NOW);
        assert_eq!(g.addr, "192.0.2.77".parse::<IpAddr>().unwrap());
        assert_eq!(d.stats().accepted, 4);
    }

    #[test]
    fn each_refusal_says_why() {
        let mut d = doors();
        let valid = encode(&alice());
        assert!(matches!(
            feed(&mut d, "192.0.2.2", valid.as_bytes(), NOW).as_slice(),
            [SpaOutcome::Open(_)]
        ));
        // Replayed: from the same and from another address.
        for src in ["192.0.2.2", "192.0.2.66"] {
            assert_eq!(
                refusal(&mut d, src, valid.as_bytes(), NOW + 1),
                SpaRefusal::Replay(spa_replay::Refusal::Replay)
            );
        }
        // Stale, and ahead of the clock.
        let stale = encode(&Pkt {
            ts: NOW - 600,
            ..alice()
        });
        assert_eq!(
            refusal(&mut d, "192.0.2.2", stale.as_bytes(), NOW),
            SpaRefusal::Replay(spa_replay::Refusal::TooOld {
                secs: 600,
                max: 120
            })
        );
        let ahead = encode(&Pkt {
            ts: NOW + 121,
            ..alice()
        });
        assert_eq!(
            refusal(&mut d, "192.0.2.2", ahead.as_bytes(), NOW),
            SpaRefusal::Replay(spa_replay::Refusal::InFuture {
                secs: 121,
                max: 120
            })
        );
        // A wrong HMAC key; a right HMAC key with a wrong encryption key.
        let wrong = encode(&Pkt {
            keys: keys(9),
            ..alice()
        });
        assert_eq!(
            refusal(&mut d, "192.0.2.2", wrong.as_bytes(), NOW),
            SpaRefusal::Packet(SpaError::BadHmac)
        );
        let half = encode(&Pkt {
            keys: SpaKeys {
                encryption: keys(9).encryption,
                hmac: keys(1).hmac,
            },
            ..alice()
        });
        assert_eq!(
            refusal(&mut d, "192.0.2.2", half.as_bytes(), NOW),
            SpaRefusal::Packet(SpaError::Decrypt)
        );
        // Another user; a port OPEN_PORTS does not list; 0.0.0.0 where
        // REQUIRE_SOURCE_ADDRESS is set; a restricted port.
        let mallory = encode(&Pkt {
            user: "mallory",
            ..alice()
        });
        assert_eq!(
            refusal(&mut d, "192.0.2.2", mallory.as_bytes(), NOW),
            SpaRefusal::User {
                user: Username::new("mallory").unwrap()
            }
        );
        let port = encode(&Pkt {
            ports: "tcp/22,tcp/80",
            ..alice()
        });
        let tcp80 = ProtoPort {
            proto: Proto::Tcp,
            port: 80,
        };
        assert_eq!(
            refusal(&mut d, "192.0.2.2", port.as_bytes(), NOW),
            SpaRefusal::Port(PortRefusal::NotOpen(tcp80))
        );
        let source = encode(&Pkt {
            allow: AllowIp::Source,
            keys: keys(2),
            ..alice()
        });
        assert_eq!(
            refusal(&mut d, "198.51.100.1", source.as_bytes(), NOW),
            SpaRefusal::Address(AddressRefusal::SourceRequired)
        );
        let restricted = encode(&Pkt {
            ports: "tcp/23",
            keys: keys(2),
            ..alice()
        });
        assert!(matches!(
            refusal(&mut d, "198.51.100.1", restricted.as_bytes(), NOW),
            SpaRefusal::Port(PortRefusal::Restricted(_))
        ));
        // Stanza 1's keys from a source only stanza 2 covers.
        let other = encode(&Pkt {
            ts: NOW + 2,
            ..alice()
        });
        assert_eq!(
            refusal(&mut d, "198.51.100.1", other.as_bytes(), NOW),
            SpaRefusal::Packet(SpaError::BadHmac)
        );
        // Junk: cut short, too short, not base64.
        let p = Payload {
            bytes: &other.as_bytes()[..100],
            len: other.len(),
        };
        let mut got = Vec::new();
        d.on_packet(&packet("192.0.2.2", "192.0.2.1", 62201), p, NOW, &mut |o| {
            got.push(o)
        });
        assert!(
            matches!(got.as_slice(), [SpaOutcome::Refused(SpaRefused { why: SpaRefusal::Truncated { captured: 100, len }, .. })] if *len == other.len()),
            "{got:?}"
        );
        assert_eq!(
            refusal(&mut d, "192.0.2.2", b"hello", NOW),
            SpaRefusal::Packet(SpaError::TooShort { len: 5 })
        );
        assert!(matches!(
            refusal(&mut d, "192.0.2.2", &[0xffu8; 300], NOW),
            SpaRefusal::Packet(SpaError::NotBase64 { pos: 0 })
        ));
        // The packet refused for its user is burned too: not a way to probe.
        assert_eq!(
            refusal(&mut d, "192.0.2.2", mallory.as_bytes(), NOW),
            SpaRefusal::Replay(spa_replay::Refusal::Replay)
        );
        let s = d.stats();
        assert_eq!((s.accepted, s.replayed), (1, 5), "{s:?}");
        assert_eq!(s.packets, s.accepted + s.refused);
    }

    #[test]
    fn only_packets_to_a_door_count_and_expired_stanzas_are_skipped() {
        let mut d = doors();
        let pkt = encode(&alice());
        let mut got = Vec::new();
        let p = Payload {
            bytes: pkt.as_bytes(),
            len: pkt.len(),
        };
        // Another destination, another port: nothing at all.
        d.on_packet(
            &packet("192.0.2.2", "192.0.2.99", 62201),
            p,
            NOW,
            &mut |o| got.push(o),
        );
        d.on_packet(&packet("192.0.2.2", "192.0.2.1", 62202), p, NOW, &mut |o| {
            got.push(o)
        });
        assert!(got.is_empty());
        assert!(d.wants(&packet("192.0.2.2", "192.0.2.1", 62201)));
        assert!(!d.wants(&packet("192.0.2.2", "192.0.2.1", 62202)));
        let tcp = Packet {
            knock: Knock::tcp(62201),
            ..packet("192.0.2.2", "192.0.2.1", 62201)
        };
        assert!(!d.wants(&tcp));
        // An IPv6 source: only the SOURCE ANY stanza applies.
        assert_eq!(
            refusal(&mut d, "2001:db8::2", pkt.as_bytes(), NOW),
            SpaRefusal::Packet(SpaError::BadHmac)
        );
        // ACCESS_EXPIRE_EPOCH passed: as if there were no stanza.
        let text = format!(
            "SOURCE ANY\n{}ACCESS_EXPIRE_EPOCH {}\n",
            b64(&keys(1)),
            NOW - 1
        );
        let access = AccessConf::parse(&text, Path::new("a.conf")).unwrap();
        let mut expired = SpaDoors::new(
            vec![SpaDoorSpec {
                port: 62201,
                target: Some("192.0.2.1".parse().unwrap()),
                access,
                default_open_secs: 30,
                info: 4,
            }],
            Destinations::Any,
        );
        assert_eq!(
            refusal(&mut expired, "192.0.2.2", pkt.as_bytes(), NOW),
            SpaRefusal::NoStanza
        );
    }

    #[test]
    fn a_reload_keeps_the_replay_cache_and_a_restart_remembers_the_journal() {
        let mut d = doors();
        let pkt = encode(&alice());
        let g = grant(&mut d, "192.0.2.2", pkt.as_bytes(), NOW);
        let mut reloaded = doors();
        reloaded.carry_over(&mut d);
        assert_eq!(
            refusal(&mut reloaded, "192.0.2.2", pkt.as_bytes(), NOW + 1),
            SpaRefusal::Replay(spa_replay::Refusal::Replay)
        );
        assert_eq!(reloaded.stats().accepted, 1);
        // A restart: only what was journaled is known.
        let mut restarted = doors();
        assert!(restarted.remember(g.digest, g.forget_at, NOW + 60));
        assert_eq!(restarted.remembered(), 1);
        assert_eq!(
            refusal(&mut restarted, "192.0.2.2", pkt.as_bytes(), NOW + 60),
            SpaRefusal::Replay(spa_replay::Refusal::Replay)
        );
        // Past its window it is stale anyway.
        assert_eq!(
            refusal(&mut doors(), "192.0.2.2", pkt.as_bytes(), NOW + 121),
            SpaRefusal::Replay(spa_replay::Refusal::TooOld {
                secs: 121,
                max: 120
            })
        );
    }

    #[test]
    fn refusals_read_as_log_lines() {
        let cases = [
            (
                SpaRefusal::Truncated {
                    captured: 200,
                    len: 1400,
                },
                "payload cut short (200 of 1400 bytes captured",
            ),
            (
                SpaRefusal::NoStanza,
                "no access.conf stanza for this source",
            ),
            (
                SpaRefusal::Packet(SpaError::BadHmac),
                "bad HMAC (wrong HMAC key, or the packet was changed)",
            ),
            (
                SpaRefusal::Replay(spa_replay::Refusal::Replay),
                "replayed packet",
            ),
            (
                SpaRefusal::User {
                    user: Username::new("mallory").unwrap(),
                },
                "user \"mallory\" is not the one REQUIRE_USERNAME allows",
            ),
            (
                SpaRefusal::Port(PortRefusal::NotOpen(ProtoPort {
                    proto: Proto::Tcp,
                    port: 80,
                })),
                "tcp/80 is not in OPEN_PORTS",
            ),
        ];
        for (r, want) in cases {
            let s = r.to_string();
            assert!(s.starts_with(want), "{s:?} should start with {want:?}");
        }
    }
}
