//! The worker thread: everything slow, off the packet path.
//!
//! It receives [`Job`]s over a bounded channel, logs in knockd's words,
//! runs Start_Command via `/bin/sh -c` without waiting for it, schedules
//! each Stop_Command on a timer (a map ordered by due time, not a sleeping
//! child per door), kills a command that outlives a bound, and journals
//! pending stops on disk. On shutdown it runs every pending stop first.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use knock_profiles::knockd_conf::substitute_ip;

use crate::detector::Notice;
use crate::doors::DoorInfo;
use crate::event::Millis;
use crate::journal::{Entry, Journal};
use crate::logger::Logger;
use crate::sys;

/// A message to the worker.
#[derive(Debug, Clone)]
pub enum Job {
    /// Something the detector reported, at packet time.
    Notice(Notice, Millis),
    /// This many Stage/timeout lines were not logged (rate limit).
    Suppressed(u64),
    /// Packet time advanced (offline replay drives timers with it).
    Time(Millis),
    /// The doors after a reload (indexes of later notices refer to these).
    Doors(Arc<Vec<DoorInfo>>),
    /// Run every pending stop, wait for commands, and return.
    Shutdown,
}

/// Where the worker's clock comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Wall clock (live capture).
    Wall,
    /// Packet timestamps from [`Job::Time`] and notices (`--read`).
    Packet,
}

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    pub dry_run: bool,
    /// A command still running after this long is killed.
    pub kill_after: Duration,
    pub clock: ClockMode,
    /// `-l`: reverse-resolve knocker addresses in log lines.
    pub lookup: bool,
    pub journal: Option<PathBuf>,
}

/// What the worker did, returned when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerReport {
    pub opened: u64,
    pub commands: u64,
    pub failed: u64,
    pub killed: u64,
    pub stops_run: u64,
}

struct PendingStop {
    door: String,
    src: Option<IpAddr>,
    command: String,
    id: u64,
    /// Delay between the start command's end and this stop.
    delay: Duration,
}

enum Kind {
    /// A start command; its stop is scheduled when it ends.
    Start(Option<PendingStop>),
    /// A stop command; its journal entry goes when it ends.
    Stop(u64),
}

struct Running {
    child: Child,
    door: String,
    command: String,
    since: Instant,
    killed: bool,
    kind: Kind,
}

struct Runner {
    doors: Arc<Vec<DoorInfo>>,
    log: Logger,
    opts: RunnerOptions,
    journal: Option<Journal>,
    packet_now: Millis,
    next_id: u64,
    timers: BTreeMap<(Millis, u64), PendingStop>,
    running: Vec<Running>,
    report: RunnerReport,
}

fn wall_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Starts the worker on its own thread.
pub fn spawn(
    doors: Arc<Vec<DoorInfo>>,
    log: Logger,
    opts: RunnerOptions,
    rx: Receiver<Job>,
) -> std::io::Result<std::thread::JoinHandle<RunnerReport>> {
    let mut r = Runner {
        doors,
        log,
        journal: None,
        packet_now: 0,
        next_id: 1,
        timers: BTreeMap::new(),
        running: Vec::new(),
        report: RunnerReport::default(),
        opts,
    };
    r.open_journal();
    std::thread::Builder::new()
        .name("knock-worker".into())
        .spawn(move || r.run(rx))
}

impl Runner {
    fn now(&self) -> Millis {
        match self.opts.clock {
            ClockMode::Wall => wall_ms(),
            ClockMode::Packet => self.packet_now,
        }
    }

    fn open_journal(&mut self) {
        let Some(path) = self.opts.journal.clone() else {
            return;
        };
        match Journal::open(&path) {
            Ok((j, left)) => {
                self.journal = Some(j);
                let now = wall_ms();
                for e in left {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.journal_put(id, e.clone());
                    let stop = PendingStop {
                        door: e.door.clone(),
                        src: None,
                        command: e.command.clone(),
                        id,
                        delay: Duration::ZERO,
                    };
                    self.log.info(&format!(
                        "{}: stop command left pending by a previous run, due {}: {}",
                        e.door,
                        if e.due_ms <= now { "now" } else { "later" },
                        e.command
                    ));
                    self.timers
                        .insert((e.due_ms.min(now.max(e.due_ms)), id), stop);
                }
            }
            Err(e) => self.log.error(&format!(
                "cannot open journal {}: {e} (pending stops will not survive a crash)",
                path.display()
            )),
        }
    }

    fn journal_put(&mut self, id: u64, e: Entry) {
        if let Some(j) = self.journal.as_mut()
            && let Err(err) = j.put(id, e)
        {
            let p = j.path().display().to_string();
            self.log.error(&format!("cannot write journal {p}: {err}"));
        }
    }

    fn journal_remove(&mut self, id: u64) {
        if let Some(j) = self.journal.as_mut()
            && let Err(err) = j.remove(id)
        {
            let p = j.path().display().to_string();
            self.log.error(&format!("cannot write journal {p}: {err}"));
        }
    }

    fn who(&self, src: IpAddr) -> String {
        if self.opts.lookup
            && let Some(name) = sys::reverse_lookup(src)
        {
            return format!("{src} ({name})");
        }
        src.to_string()
    }

    fn door_name(&self, door: usize) -> String {
        self.doors
            .get(door)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| format!("door#{door}"))
    }

    fn run(mut self, rx: Receiver<Job>) -> RunnerReport {
        loop {
            let idle = if self.running.is_empty() {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(20)
            };
            let wait = match (self.opts.clock, self.timers.keys().next()) {
                (ClockMode::Wall, Some((due, _))) => {
                    Duration::from_millis(due.saturating_sub(self.now())).min(idle)
                }
                _ => idle,
            };
            match rx.recv_timeout(wait) {
                Ok(Job::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(job) => self.handle(job),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.reap();
            self.fire_due(false);
        }
        self.shutdown();
        self.report
    }

    fn advance_packet_clock(&mut self, t: Millis) {
        if t > self.packet_now {
            self.packet_now = t;
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Notice(n, at) => {
                self.advance_packet_clock(at);
                self.notice(n);
            }
            Job::Suppressed(n) => self.log.info(&format!(
                "{n} knock log line(s) suppressed (more than the log rate limit)"
            )),
            Job::Time(t) => self.advance_packet_clock(t),
            Job::Doors(d) => self.doors = d,
            Job::Shutdown => {}
        }
    }

    fn notice(&mut self, n: Notice) {
        match n {
            Notice::Stage { src, door, stage } => {
                let line = format!("{}: {}: Stage {stage}", self.who(src), self.door_name(door));
                self.log.info(&line);
            }
            Notice::Timeout { src, door, stage } => {
                let line = format!(
                    "{}: {}: sequence timeout (stage {stage})",
                    self.who(src),
                    self.door_name(door)
                );
                self.log.info(&line);
            }
            Notice::Broken { src, door, stage } => {
                if self.log.is_debug() {
                    let line = format!(
                        "{}: {}: sequence broken at stage {stage}",
                        self.who(src),
                        self.door_name(door)
                    );
                    self.log.debug(&line);
                }
            }
            Notice::Dropped { .. } => {}
            Notice::Replayed { src, door } => {
                let line = format!(
                    "{}: {}: sequence already used in this period (replay?), not opening",
                    self.who(src),
                    self.door_name(door)
                );
                self.log.info(&line);
            }
            Notice::Opened { src, door } => self.open(src, door),
        }
    }

    fn open(&mut self, src: IpAddr, door: usize) {
        self.report.opened += 1;
        let Some(info) = self.doors.get(door).cloned() else {
            return;
        };
        self.log
            .info(&format!("{}: {}: OPEN SESAME", self.who(src), info.name));
        let ipv6 = src.is_ipv6();
        let Some(start) = info.start_for(ipv6).map(|c| substitute_ip(c, &src)) else {
            return;
        };
        let stop = info.stop_for(ipv6).map(|c| {
            let id = self.next_id;
            self.next_id += 1;
            PendingStop {
                door: info.name.clone(),
                src: Some(src),
                command: substitute_ip(c, &src),
                id,
                delay: info.cmd_timeout,
            }
        });
        // Journal the stop before the door opens (fail-closed).
        if let Some(s) = &stop {
            let due = self.now() + (s.delay + self.opts.kill_after).as_millis() as Millis;
            self.journal_put(
                s.id,
                Entry {
                    due_ms: due,
                    door: s.door.clone(),
                    command: s.command.clone(),
                },
            );
        }
        self.start_command(&info.name, start, Kind::Start(stop));
    }

    fn start_command(&mut self, door: &str, command: String, kind: Kind) {
        self.log
            .info(&format!("{door}: running command: {command}"));
        self.report.commands += 1;
        if self.opts.dry_run {
            println!("dry-run: {door}: {command}");
            self.finished(kind);
            return;
        }
        let spawned = Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn();
        match spawned {
            Ok(child) => self.running.push(Running {
                child,
                door: door.to_string(),
                command,
                since: Instant::now(),
                killed: false,
                kind,
            }),
            Err(e) => {
                self.report.failed += 1;
                self.log
                    .error(&format!("{door}: command could not start: {e}: {command}"));
                self.finished(kind);
            }
        }
    }

    /// A command ended (or was never run): schedule what follows it.
    fn finished(&mut self, kind: Kind) {
        match kind {
            Kind::Start(Some(stop)) => {
                let due = self.now() + stop.delay.as_millis() as Millis;
                self.journal_put(
                    stop.id,
                    Entry {
                        due_ms: due,
                        door: stop.door.clone(),
                        command: stop.command.clone(),
                    },
                );
                self.timers.insert((due, stop.id), stop);
            }
            Kind::Start(None) => {}
            Kind::Stop(id) => self.journal_remove(id),
        }
    }

    fn reap(&mut self) {
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    let r = self.running.swap_remove(i);
                    if let Some(code) = status.code() {
                        if code != 0 {
                            self.report.failed += 1;
                            self.log.warn(&format!(
                                "{}: command returned non-zero status code ({code}): {}",
                                r.door, r.command
                            ));
                        }
                    } else if let Some(sig) = status.signal() {
                        self.report.failed += 1;
                        self.log.warn(&format!(
                            "{}: command was killed by signal {sig}: {}",
                            r.door, r.command
                        ));
                    }
                    self.finished(r.kind);
                    continue;
                }
                Ok(None) => {
                    if !r.killed && r.since.elapsed() > self.opts.kill_after {
                        r.killed = true;
                        let _ = sys::kill_group(r.child.id());
                        let _ = r.child.kill();
                        self.report.killed += 1;
                        let (door, cmd) = (r.door.clone(), r.command.clone());
                        self.log.warn(&format!(
                            "{door}: command still running after {}s, killed: {cmd}",
                            self.opts.kill_after.as_secs()
                        ));
                    }
                }
                Err(e) => {
                    let r = self.running.swap_remove(i);
                    self.log
                        .error(&format!("{}: cannot wait for command: {e}", r.door));
                    self.finished(r.kind);
                    continue;
                }
            }
            i += 1;
        }
    }

    /// Runs the stops that are due (all of them if `all`).
    fn fire_due(&mut self, all: bool) {
        let now = self.now();
        while let Some(entry) = self.timers.first_entry() {
            if !all && entry.key().0 > now {
                break;
            }
            let early = entry.key().0 > now;
            let stop = entry.remove();
            match stop.src {
                Some(src) => {
                    let line = if early {
                        format!("{}: {}: closing before exit", self.who(src), stop.door)
                    } else {
                        format!("{}: {}: command timeout", self.who(src), stop.door)
                    };
                    self.log.info(&line);
                }
                None => self
                    .log
                    .info(&format!("{}: pending stop from a previous run", stop.door)),
            }
            self.report.stops_run += 1;
            self.start_command(&stop.door.clone(), stop.command, Kind::Stop(stop.id));
        }
    }

    fn shutdown(&mut self) {
        let pending = self.timers.len()
            + self
                .running
                .iter()
                .filter(|r| matches!(r.kind, Kind::Start(Some(_))))
                .count();
        if pending > 0 {
            self.log.info(&format!(
                "running {pending} pending stop command(s) before exit"
            ));
        }
        // Let start commands finish (bounded) so their stops follow them.
        while self
            .running
            .iter()
            .any(|r| matches!(r.kind, Kind::Start(Some(_))))
        {
            std::thread::sleep(Duration::from_millis(10));
            self.reap();
        }
        self.fire_due(true);
        while !self.running.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
            self.reap();
            self.fire_due(true);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    fn info(name: &str, start: &str, stop: Option<&str>, timeout_s: u64) -> DoorInfo {
        DoorInfo {
            name: name.into(),
            start: Some(start.into()),
            start6: Some(start.replace("v4", "v6")),
            stop: stop.map(Into::into),
            stop6: stop.map(|s| s.replace("v4", "v6")),
            cmd_timeout: Duration::from_secs(timeout_s),
        }
    }

    fn opts(journal: Option<PathBuf>, dry_run: bool) -> RunnerOptions {
        RunnerOptions {
            dry_run,
            kill_after: Duration::from_secs(5),
            clock: ClockMode::Packet,
            lookup: false,
            journal,
        }
    }

    fn opened(src: &str, door: usize, at: Millis) -> Job {
        Job::Notice(
            Notice::Opened {
                src: src.parse().unwrap(),
                door,
            },
            at,
        )
    }

    #[test]
    fn start_then_stop_on_packet_time_with_substitution() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let o = out.display();
        let doors = Arc::new(vec![info(
            "ssh",
            &format!("echo open v4 %IP% >> {o}"),
            Some(&format!("echo close v4 %IP% >> {o}")),
            10,
        )]);
        let log = Logger::memory();
        let (tx, rx) = sync_channel(16);
        let h = spawn(doors, log.clone(), opts(None, false), rx).unwrap();
        tx.send(opened("192.0.2.7", 0, 1_000)).unwrap();
        tx.send(opened("2001:db8::7", 0, 1_000)).unwrap();
        // Wait (bounded) for the start commands to finish before time moves.
        let t0 = Instant::now();
        while std::fs::read_to_string(&out)
            .map(|s| s.lines().count())
            .unwrap_or(0)
            < 2
        {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
        // Give the worker a moment to reap and schedule the stops.
        std::thread::sleep(Duration::from_millis(100));
        tx.send(Job::Time(5_000)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text.lines().count(),
            2,
            "no stop before Cmd_Timeout: {text}"
        );
        tx.send(Job::Time(11_500)).unwrap();
        tx.send(Job::Shutdown).unwrap();
        let report = h.join().unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                "close v4 192.0.2.7",
                "close v6 2001:db8::7",
                "open v4 192.0.2.7",
                "open v6 2001:db8::7"
            ]
        );
        assert_eq!(report.stops_run, 2);
        let logs = log.lines();
        assert!(
            logs.contains(&"192.0.2.7: ssh: OPEN SESAME".to_string()),
            "{logs:?}"
        );
        assert!(
            logs.iter()
                .any(|l| l.starts_with("ssh: running command: echo open v4 192.0.2.7"))
        );
        assert!(logs.contains(&"192.0.2.7: ssh: command timeout".to_string()));
    }

    #[test]
    fn shutdown_runs_pending_stops_and_clears_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let journal = dir.path().join("pending");
        let doors = Arc::new(vec![info(
            "ssh",
            "true",
            Some(&format!("echo closed %IP% >> {}", out.display())),
            3600,
        )]);
        let (tx, rx) = sync_channel(16);
        let h = spawn(
            doors,
            Logger::memory(),
            opts(Some(journal.clone()), false),
            rx,
        )
        .unwrap();
        tx.send(opened("192.0.2.9", 0, 1_000)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let j = std::fs::read_to_string(&journal).unwrap();
        assert!(j.contains("echo closed 192.0.2.9"), "journaled: {j}");
        tx.send(Job::Shutdown).unwrap();
        h.join().unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "closed 192.0.2.9\n");
        assert_eq!(std::fs::read_to_string(&journal).unwrap(), "");
    }

    #[test]
    fn a_restart_runs_stops_left_in_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let journal = dir.path().join("pending");
        std::fs::write(
            &journal,
            format!("7\t0\tssh\techo closed-after-crash >> {}\n", out.display()),
        )
        .unwrap();
        let (tx, rx) = sync_channel(16);
        let log = Logger::memory();
        let h = spawn(
            Arc::new(vec![]),
            log.clone(),
            opts(Some(journal.clone()), false),
            rx,
        )
        .unwrap();
        tx.send(Job::Shutdown).unwrap();
        h.join().unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "closed-after-crash\n"
        );
        assert_eq!(std::fs::read_to_string(&journal).unwrap(), "");
    }

    #[test]
    fn failing_and_hanging_commands_are_logged_and_killed() {
        let doors = Arc::new(vec![
            info("bad", "exit 3", None, 1),
            info("slow", "sleep 30", None, 1),
        ]);
        let log = Logger::memory();
        let (tx, rx) = sync_channel(16);
        let mut o = opts(None, false);
        o.kill_after = Duration::from_millis(300);
        let t0 = Instant::now();
        let h = spawn(doors, log.clone(), o, rx).unwrap();
        tx.send(opened("192.0.2.7", 0, 0)).unwrap();
        tx.send(opened("192.0.2.7", 1, 0)).unwrap();
        tx.send(Job::Shutdown).unwrap();
        let report = h.join().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert_eq!(report.killed, 1);
        assert_eq!(report.failed, 2);
        let logs = log.lines();
        assert!(
            logs.iter()
                .any(|l| l == "bad: command returned non-zero status code (3): exit 3"),
            "{logs:?}"
        );
        assert!(
            logs.iter()
                .any(|l| l.starts_with("slow: command still running after 0s, killed")),
            "{logs:?}"
        );
    }

    #[test]
    fn dry_run_runs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let doors = Arc::new(vec![info(
            "ssh",
            &format!("touch {}", out.display()),
            Some("false"),
            1,
        )]);
        let log = Logger::memory();
        let (tx, rx) = sync_channel(16);
        let h = spawn(doors, log.clone(), opts(None, true), rx).unwrap();
        tx.send(opened("192.0.2.7", 0, 0)).unwrap();
        tx.send(Job::Time(2_000)).unwrap();
        tx.send(Job::Shutdown).unwrap();
        let report = h.join().unwrap();
        assert!(!out.exists());
        assert_eq!(
            (report.commands, report.stops_run, report.failed),
            (2, 1, 0)
        );
    }
}
