//! Log lines in knockd's words, to the log file, syslog and/or stderr.
//!
//! The log file gets knockd's format, `[YYYY-MM-DD HH:MM] message` (UTC).
//! stderr gets every line with `-v`/`-D`, and warnings and errors always.
//! The logger is shared by the threads behind a mutex; nothing on the packet
//! path logs directly (it sends Copy notices to the worker).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// How a line goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stderr {
    /// With "warning: " / "error: " in front.
    Prefixed,
    /// As it is (it names its level itself).
    AsIs,
    /// Not at all.
    No,
}

type Syslog = syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>;

struct Sinks {
    file: Option<File>,
    syslog: Option<Syslog>,
    /// Lines at or above this level go to stderr.
    stderr_from: Level,
    /// Lines below this level are dropped everywhere.
    min: Level,
    /// Captured lines (tests).
    memory: Option<Vec<String>>,
}

/// A cheap clonable handle.
#[derive(Clone)]
pub struct Logger {
    inner: Arc<Mutex<Sinks>>,
}

impl Logger {
    /// `verbose`: info lines to stderr; `debug`: debug lines too.
    pub fn new(verbose: bool, debug: bool) -> Logger {
        let stderr_from = if debug {
            Level::Debug
        } else if verbose {
            Level::Info
        } else {
            Level::Warn
        };
        Logger {
            inner: Arc::new(Mutex::new(Sinks {
                file: None,
                syslog: None,
                stderr_from,
                min: if debug { Level::Debug } else { Level::Info },
                memory: None,
            })),
        }
    }

    /// A logger that keeps lines in memory (a fake for tests: unit tests,
    /// and integration tests through the `testing` feature).
    #[cfg(any(test, feature = "testing"))]
    pub fn memory() -> Logger {
        let l = Logger::new(false, true);
        if let Ok(mut s) = l.inner.lock() {
            s.memory = Some(Vec::new());
            s.stderr_from = Level::Error;
        }
        l
    }

    /// Lines logged so far by a `Logger::memory` logger.
    #[cfg(any(test, feature = "testing"))]
    pub fn lines(&self) -> Vec<String> {
        self.inner
            .lock()
            .ok()
            .and_then(|s| s.memory.clone())
            .unwrap_or_default()
    }

    pub fn open_file(&self, path: &Path) -> std::io::Result<()> {
        // Never through a symlink; a new log is 0640.
        let f = crate::files::open_append(path, crate::files::GROUP_READABLE)?;
        if let Ok(mut s) = self.inner.lock() {
            s.file = Some(f);
        }
        Ok(())
    }

    pub fn open_syslog(&self) -> Result<(), String> {
        let formatter = syslog::Formatter3164 {
            facility: syslog::Facility::LOG_DAEMON,
            hostname: None,
            process: "knock-server".into(),
            pid: std::process::id(),
        };
        let logger = syslog::unix(formatter).map_err(|e| e.to_string())?;
        if let Ok(mut s) = self.inner.lock() {
            s.syslog = Some(logger);
        }
        Ok(())
    }

    pub fn log(&self, level: Level, msg: &str) {
        self.write(level, msg, Stderr::Prefixed);
    }

    /// A warning that says so itself, compiler style (`conf:3: warning:
    /// ...`): stderr gets it without a second "warning: " in front.
    pub fn warn_as_is(&self, msg: &str) {
        self.write(Level::Warn, msg, Stderr::AsIs);
    }

    /// An info line for the log file, syslog (and memory) only: the caller
    /// has shown it on stdout in another form (`--dry-run`).
    pub fn info_not_stderr(&self, msg: &str) {
        self.write(Level::Info, msg, Stderr::No);
    }

    fn write(&self, level: Level, msg: &str, stderr: Stderr) {
        let Ok(mut s) = self.inner.lock() else {
            return;
        };
        if level < s.min {
            return;
        }
        if stderr != Stderr::No && level >= s.stderr_from {
            let prefix = match (level, stderr) {
                (_, Stderr::AsIs) => "",
                (Level::Warn, _) => "warning: ",
                (Level::Error, _) => "error: ",
                _ => "",
            };
            eprintln!("{prefix}{msg}");
        }
        if let Some(f) = s.file.as_mut() {
            let _ = writeln!(f, "[{}] {msg}", stamp(SystemTime::now()));
        }
        if let Some(sys) = s.syslog.as_mut() {
            let _ = match level {
                Level::Debug => sys.debug(msg),
                Level::Info => sys.info(msg),
                Level::Warn => sys.warning(msg),
                Level::Error => sys.err(msg),
            };
        }
        if let Some(m) = s.memory.as_mut() {
            m.push(msg.to_string());
        }
    }

    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg);
    }
    pub fn debug(&self, msg: &str) {
        self.log(Level::Debug, msg);
    }
    pub fn warn(&self, msg: &str) {
        self.log(Level::Warn, msg);
    }
    pub fn error(&self, msg: &str) {
        self.log(Level::Error, msg);
    }
    pub fn is_debug(&self) -> bool {
        self.inner
            .lock()
            .map(|s| s.min == Level::Debug)
            .unwrap_or(false)
    }
}

/// `YYYY-MM-DD HH:MM` in UTC.
pub fn stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem / 60 % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_like_knockd() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(stamp(t), "2023-11-14 22:13");
        assert_eq!(stamp(UNIX_EPOCH), "1970-01-01 00:00");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(stamp(t), "2000-02-29 00:00");
    }

    #[test]
    fn memory_logger_keeps_lines_at_or_above_info() {
        let l = Logger::memory();
        l.info("a");
        l.debug("b");
        assert_eq!(l.lines(), vec!["a", "b"]);
    }
}
