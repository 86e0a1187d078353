//! pcap at the edge: opening the interface or a capture file, the filter,
//! and the loop that feeds the pipeline until EOF or the stop flag.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use pcap::{Activated, Active, Capture, Offline};

use crate::clock::wall_ms;
use crate::event::{Link, Millis};
use crate::pipeline::Pipeline;
use crate::sys;

/// pcap read timeout: the stop and reload flags are checked at least this
/// often when no packet arrives.
pub const READ_TIMEOUT_MS: i32 = 100;
/// A drain of at least this many packets means the link is busy...
const BUSY_BURST: u32 = 32;
/// ...and the loop pauses this long before reading on, so packets are
/// handled in batches rather than one wake-up each.
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);
/// Bytes kept per packet: enough for link + IPv6 with extensions + TCP.
pub const SNAPLEN: i32 = 256;
/// Bytes kept per packet when the config has SPA doors: the longest SPA
/// payload fwknopd looks at (1500 bytes), its UDP header (8), IPv6 (40)
/// with 64 bytes of extension headers, and a Linux cooked v2 header (20).
/// A frame cut shorter is refused as cut short, never decoded in part.
pub const SPA_SNAPLEN: i32 = 1632;

/// The snap length for a config with or without SPA doors.
pub fn snaplen(spa: bool) -> i32 {
    if spa { SPA_SNAPLEN } else { SNAPLEN }
}
/// How often a live capture returns [`Ended::Housekeeping`] (addresses,
/// drop counters).
pub const HOUSEKEEPING: std::time::Duration = std::time::Duration::from_secs(2);
/// Default kernel capture buffer (`--capture-buffer`, MiB).
pub const DEFAULT_BUFFER_MIB: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("could not open {what}: {error}")]
    Open { what: String, error: pcap::Error },
    /// A capture file that cannot be read; `reason` is libpcap's, without
    /// the path it repeats.
    #[error("cannot read {path}: {reason}")]
    ReadFile { path: String, reason: String },
    #[error(
        "unsupported link-layer type {0} (expected Ethernet, Linux cooked, raw IP or loopback)"
    )]
    Link(i32),
    #[error("bad capture filter \"{filter}\": {error}")]
    Filter { filter: String, error: pcap::Error },
    #[error("capture failed: {0}")]
    Read(pcap::Error),
    #[error("{iface} did not come back within {secs}s (last try: {last})")]
    Gone {
        iface: String,
        secs: u64,
        last: String,
    },
    #[error("waiting for packets failed: {0}")]
    Wait(std::io::Error),
}

/// Opens `iface` for live capture: immediate mode, read timeout, a snap
/// length of `snaplen` bytes ([`snaplen`]), not promiscuous (like knockd),
/// a kernel buffer of `buffer_mib`.
pub fn open_live(
    iface: &str,
    buffer_mib: u32,
    snaplen: i32,
) -> Result<(Capture<Active>, Link), CaptureError> {
    let buffer = i32::try_from(u64::from(buffer_mib) << 20).unwrap_or(i32::MAX);
    let open = || -> Result<Capture<Active>, pcap::Error> {
        Capture::from_device(iface)?
            .immediate_mode(true)
            .timeout(READ_TIMEOUT_MS)
            .snaplen(snaplen)
            .promisc(false)
            .buffer_size(buffer)
            .open()?
            .setnonblock()
    };
    let cap = open().map_err(|error| CaptureError::Open {
        what: iface.to_string(),
        error,
    })?;
    let dlt = cap.get_datalink().0;
    let link = Link::from_dlt(dlt).ok_or(CaptureError::Link(dlt))?;
    Ok((cap, link))
}

/// The descriptor to wait on for a live capture.
pub fn selectable_fd(cap: &Capture<Active>) -> RawFd {
    cap.as_raw_fd()
}

pub fn open_file(path: &Path) -> Result<(Capture<Offline>, Link), CaptureError> {
    let cap = Capture::from_file(path).map_err(|e| file_error(path, e))?;
    let dlt = cap.get_datalink().0;
    let link = Link::from_dlt(dlt).ok_or(CaptureError::Link(dlt))?;
    Ok((cap, link))
}

/// `cannot read PATH: REASON`, from libpcap's "PATH: REASON" (or its own
/// words, like "unknown file format").
fn file_error(path: &Path, e: pcap::Error) -> CaptureError {
    let path = path.display().to_string();
    let reason = match e {
        pcap::Error::PcapError(m) => {
            let m = m.trim();
            m.strip_prefix(path.as_str())
                .and_then(|r| r.strip_prefix(": "))
                .unwrap_or(m)
                .to_string()
        }
        other => other.to_string(),
    };
    CaptureError::ReadFile { path, reason }
}

/// The addresses of `iface` (`any`: of every interface).
pub fn interface_addresses(iface: &str) -> Result<Vec<IpAddr>, pcap::Error> {
    let devices = pcap::Device::list()?;
    Ok(devices
        .iter()
        .filter(|d| iface == "any" || d.name == iface)
        .flat_map(|d| d.addresses.iter().map(|a| a.addr))
        .collect())
}

/// Installs `filter` (or one that matches nothing when no door is enabled).
pub fn set_filter<T: Activated + ?Sized>(
    cap: &mut Capture<T>,
    filter: Option<&str>,
) -> Result<(), CaptureError> {
    let f = filter.unwrap_or("less 1");
    cap.filter(f, true).map_err(|error| CaptureError::Filter {
        filter: f.to_string(),
        error,
    })
}

/// Why the loop returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// End of a capture file.
    Eof,
    /// The stop flag was raised.
    Stopped,
    /// The reload flag was raised; call again after reloading.
    Reload,
    /// [`HOUSEKEEPING`] has passed (live captures only): look at the
    /// interface and the counters, then call again.
    Housekeeping,
}

#[inline]
// time_t and suseconds_t are not i64 on every platform.
#[allow(clippy::useless_conversion)]
fn ts_ms(h: &pcap::PacketHeader) -> Millis {
    timeval_ms(h.ts.tv_sec.into(), h.ts.tv_usec.into())
}

/// A packet timestamp in Unix ms. A crafted capture can carry any value:
/// negative parts count as 0, and the result saturates instead of
/// overflowing.
#[inline]
pub fn timeval_ms(sec: i64, usec: i64) -> Millis {
    let s = u64::try_from(sec).unwrap_or(0);
    let us = u64::try_from(usec).unwrap_or(0);
    s.saturating_mul(1000).saturating_add(us / 1000)
}

/// Feeds packets to `pipe` until EOF, `stop`, or `reload` (checked between
/// packets and at least every read timeout). A live capture is non-blocking
/// and `fd` is its selectable descriptor: when no packet is ready the loop
/// waits on it for at most [`READ_TIMEOUT_MS`]. `refilter` is called with
/// the capture when a door's ports changed (one-time sequences, and the
/// period turning for rotating doors).
pub fn run<T: Activated + ?Sized>(
    cap: &mut Capture<T>,
    fd: Option<RawFd>,
    link: Link,
    pipe: &mut Pipeline,
    stop: &AtomicBool,
    reload: &AtomicBool,
    refilter: &mut dyn FnMut(&mut Capture<T>, &Pipeline),
) -> Result<Ended, CaptureError> {
    // Packets handled since the ring was last found empty.
    let mut burst = 0u32;
    let since = std::time::Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(Ended::Stopped);
        }
        if reload.load(Ordering::Relaxed) {
            return Ok(Ended::Reload);
        }
        let fed = match cap.next_packet() {
            Ok(p) => {
                burst = burst.saturating_add(1);
                let ts = ts_ms(p.header);
                pipe.feed(link, p.data, ts)
            }
            Err(pcap::Error::TimeoutExpired) => {
                let busy = burst >= BUSY_BURST;
                burst = 0;
                if fd.is_some() && since.elapsed() >= HOUSEKEEPING {
                    return Ok(Ended::Housekeeping);
                }
                // Between batches: opens that waited, one-time sequences.
                if pipe.between_batches().filter_changed {
                    refilter(cap, pipe);
                }
                if busy {
                    // Under load, let a batch gather instead of waking up
                    // for every packet (the ring holds far more than this).
                    std::thread::sleep(BUSY_PAUSE);
                    continue;
                }
                if let Some(fd) = fd {
                    let ready =
                        sys::wait_readable(fd, READ_TIMEOUT_MS).map_err(CaptureError::Wait)?;
                    if !ready && pipe.idle(wall_ms()).filter_changed {
                        refilter(cap, pipe);
                    }
                }
                continue;
            }
            Err(pcap::Error::NoMorePackets) => return Ok(Ended::Eof),
            Err(e) => return Err(CaptureError::Read(e)),
        };
        if fed.filter_changed {
            refilter(cap, pipe);
        }
    }
}

/// pcap's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub received: u64,
    /// Dropped by the kernel: the capture buffer was full.
    pub dropped: u64,
    /// Dropped by the interface or its driver.
    pub if_dropped: u64,
}

impl From<pcap::Stat> for Counters {
    fn from(s: pcap::Stat) -> Counters {
        Counters {
            received: s.received.into(),
            dropped: s.dropped.into(),
            if_dropped: s.if_dropped.into(),
        }
    }
}

impl Counters {
    /// Packets lost since `earlier`, as a log line, if any were (pcap's
    /// counters are 32-bit and wrap).
    pub fn losses_since(&self, earlier: &Counters, buffer_mib: u32) -> Option<String> {
        let lost = |now: u64, then: u64| now.wrapping_sub(then) & 0xFFFF_FFFF;
        let kernel = lost(self.dropped, earlier.dropped);
        let interface = lost(self.if_dropped, earlier.if_dropped);
        (kernel > 0 || interface > 0).then(|| {
            format!(
                "capture: {kernel} packet(s) dropped by the kernel (capture buffer of \
                 {buffer_mib} MiB full) and {interface} by the interface since the last report; \
                 knocks among them were not seen (--capture-buffer raises the buffer)"
            )
        })
    }

    /// Both counts added (captures one after the other).
    pub fn plus(&self, other: &Counters) -> Counters {
        Counters {
            received: self.received + other.received,
            dropped: self.dropped + other.dropped,
            if_dropped: self.if_dropped + other.if_dropped,
        }
    }

    /// The exit summary's line.
    pub fn summary(&self) -> String {
        format!(
            "capture: {} packets received, {} dropped (buffer full), {} dropped by the interface",
            self.received, self.dropped, self.if_dropped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_reported_only_when_there_are_some_and_survive_a_wrap() {
        let a = Counters {
            received: 10,
            dropped: 3,
            if_dropped: 0,
        };
        assert_eq!(a.losses_since(&a, 8), None);
        let b = Counters {
            received: 50,
            dropped: 7,
            if_dropped: 1,
        };
        let line = b.losses_since(&a, 8).unwrap();
        assert!(line.starts_with("capture: 4 packet(s) dropped by the kernel (capture buffer of 8 MiB full) and 1 by the interface"), "{line}");
        let before_wrap = Counters {
            received: 0,
            dropped: 0xFFFF_FFFE,
            if_dropped: 0,
        };
        let after = Counters {
            received: 0,
            dropped: 1,
            if_dropped: 0,
        };
        assert!(
            after
                .losses_since(&before_wrap, 8)
                .unwrap()
                .starts_with("capture: 3 packet(s)")
        );
    }

    #[test]
    fn a_missing_capture_file_is_one_clean_line() {
        let err = open_file(Path::new("nosuch.pcap")).err().unwrap();
        assert_eq!(
            err.to_string(),
            "cannot read nosuch.pcap: No such file or directory"
        );
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn timestamps_saturate_instead_of_overflowing() {
        assert_eq!(timeval_ms(1_700_000_000, 123_456), 1_700_000_000_123);
        assert_eq!(timeval_ms(i64::MAX, 999_999), u64::MAX);
        assert_eq!(timeval_ms(i64::MAX / 1000 * 100, 0), u64::MAX);
        assert_eq!(timeval_ms(-5, -1), 0);
    }
}
