//! The worker thread: everything slow, off the packet path.
//!
//! It receives [`Message`]s over a bounded channel, logs in knockd's words,
//! runs Start_Command via `/bin/sh -c` without waiting for it, schedules
//! each Stop_Command on a timer (a map ordered by due time, not a sleeping
//! child per door), kills a command that outlives a bound, and journals
//! pending stops on disk. On shutdown it runs every pending stop first.
//!
//! Bounded: at most [`Limits::running`] commands run at once. An open that
//! finds no free slot waits, in order, in a queue of [`Limits::queued`]
//! small fixed-size entries (its commands are made when it starts), large
//! enough for a burst of thousands of knockers; beyond it an open is not
//! run, and logged. Stops are never dropped, they wait for a free slot and
//! go before waiting opens. At most [`Limits::pending_stops`] stops are
//! pending: when that many doors are open (or waiting to), a new OPEN is
//! refused (fail closed) and logged. A door opened
//! again runs its start command again and gets a stop of its own, as in
//! knockd: rules inserted and deleted stay balanced, and a door that a
//! close sequence shut meanwhile really opens again.
//!
//! Timers run on the monotonic clock ([`Clocks::now`]); the wall clock is
//! only used for the journal's due times, which a restart turns back into
//! remaining durations (overdue stops run at once).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{
    Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError, sync_channel,
};
use std::time::{Duration, Instant};

use knock_profiles::Knock;
use knock_profiles::knockd_conf::{names_port, substitute};
use knock_profiles::spa::ProtoPort;

use crate::clock::{Clocks, SystemClocks, unix_ms};
use crate::detector::Notice;
use crate::doors::DoorInfo;
use crate::event::Millis;
use crate::journal::{Entry, Journal};
use crate::logger::Logger;
use crate::lookup::Lookup;
use crate::one_time::OneTimeFile;
use crate::source::Source;
use crate::spa_doors::{SpaGrant, SpaRefused};
use crate::sys;

/// A message to the worker.
#[derive(Debug)]
pub enum Message {
    /// Something the detector reported, at packet time.
    Notice(Notice, Millis),
    /// This many Stage/timeout lines were not logged (rate limit).
    Suppressed(u64),
    /// Packet time advanced (offline replay drives timers with it).
    Time(Millis),
    /// An SPA packet was accepted at this packet time: its grant waits on
    /// the grant channel. One grant per message, in the same order, so the
    /// worker takes it in its place among opens, reloads and time.
    SpaOpen(Millis),
    /// An SPA packet was refused (a log line, rate-limited like Stage lines).
    SpaRefused(SpaRefused, Millis),
    /// The doors after a reload (indexes of later notices refer to these),
    /// with their one-time sequence files.
    Doors(Arc<Vec<DoorInfo>>, OneTime),
    /// Something waits on the control channel.
    Wake,
    /// Run every pending stop, wait for commands, and return.
    Shutdown,
}

/// The one-time sequence files of the doors (by detector door), moved on
/// by the worker after each use; the next sequence goes back to the packet
/// thread over `reply`, which applies it between batches.
#[derive(Debug, Default)]
pub struct OneTime {
    pub files: Vec<Option<OneTimeFile>>,
    pub reply: Option<SyncSender<OneTimeUpdate>>,
}

/// A one-time door's next sequence (`None`: used up or unreadable, the
/// door stays disabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeUpdate {
    pub door: usize,
    pub knocks: Option<Vec<Knock>>,
}

/// The packet thread's end of the channels to the worker: `control`
/// (opens, reloads, shutdown; read first), `events` (log lines and time,
/// dropped and counted when full) and `grants` (accepted SPA packets, each
/// announced by a [`Message::SpaOpen`] on `control`). None is ever waited
/// on from the packet path.
#[derive(Debug, Clone)]
pub struct ToWorker {
    control: SyncSender<Message>,
    events: SyncSender<Message>,
    grants: SyncSender<SpaGrant>,
}

/// The worker's end.
pub struct WorkerRx {
    pub control: Receiver<Message>,
    pub events: Receiver<Message>,
    pub grants: Receiver<SpaGrant>,
}

/// Accepted SPA packets waiting for the worker. They are rare (each is made
/// by a key holder and accepted once), and kept out of [`Message`] so that
/// every message stays small: a grant is about 270 bytes.
pub const GRANT_QUEUE: usize = 256;

/// Bounded channels to the worker.
pub fn channels(control: usize, events: usize) -> (ToWorker, WorkerRx) {
    let (ctx, crx) = sync_channel(control);
    let (etx, erx) = sync_channel(events);
    let (gtx, grx) = sync_channel(GRANT_QUEUE);
    (
        ToWorker {
            control: ctx,
            events: etx,
            grants: gtx,
        },
        WorkerRx {
            control: crx,
            events: erx,
            grants: grx,
        },
    )
}

impl ToWorker {
    /// Queues an open (or other control message) without waiting: `Err` gives
    /// it back when the control channel is full. A worker that is gone
    /// counts as done.
    #[inline]
    pub fn try_control(&self, msg: Message) -> Result<(), Message> {
        match self.control.try_send(msg) {
            Ok(()) => {
                // The worker may be waiting on the event channel.
                let _ = self.events.try_send(Message::Wake);
                Ok(())
            }
            Err(TrySendError::Full(msg)) => Err(msg),
            Err(TrySendError::Disconnected(_)) => Ok(()),
        }
    }

    /// Queues a control message, waiting for room (reload and shutdown only,
    /// never per packet).
    pub fn control(&self, msg: Message) {
        if self.control.send(msg).is_ok() {
            let _ = self.events.try_send(Message::Wake);
        }
    }

    /// Puts an accepted SPA packet on the grant channel without waiting;
    /// `false` when it is full. The caller then sends its
    /// [`Message::SpaOpen`]. A worker that is gone counts as done.
    #[inline]
    pub fn try_grant(&self, grant: SpaGrant) -> bool {
        !matches!(self.grants.try_send(grant), Err(TrySendError::Full(_)))
    }

    /// [`ToWorker::try_grant`], waiting for room (`--read` only).
    pub fn grant(&self, grant: SpaGrant) {
        let _ = self.grants.send(grant);
    }

    /// Queues a log-only event; `false` if the channel is full (the caller
    /// counts it).
    #[inline]
    pub fn event(&self, msg: Message) -> bool {
        !matches!(self.events.try_send(msg), Err(TrySendError::Full(_)))
    }
}

/// The worker's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Commands running at once.
    pub running: usize,
    /// Start commands waiting for a free slot.
    pub queued: usize,
    /// Stop commands pending (scheduled, or waiting for their start).
    pub pending_stops: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            running: 64,
            queued: 16_384,
            pending_stops: 16_384,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    pub dry_run: bool,
    /// A command still running after this long is killed.
    pub kill_after: Duration,
    /// `-l`: reverse-resolve knocker addresses in OPEN SESAME lines.
    pub lookup: bool,
    pub limits: Limits,
}

/// What the worker did, returned when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerReport {
    /// Doors opened: start commands run (or none to run).
    pub opened: u64,
    pub commands: u64,
    pub failed: u64,
    pub killed: u64,
    pub stops_run: u64,
    /// Opens refused: too many stops pending, or a stop not journaled.
    pub refused: u64,
    /// Opens not run: the queue of opens waiting for a command slot was
    /// full, or they were still waiting at exit.
    pub dropped: u64,
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

impl Kind {
    fn has_stop(&self) -> bool {
        matches!(self, Kind::Start(Some(_)))
    }
}

/// A command the worker started.
pub trait Process: Send {
    /// Its exit status once it has ended (`None` while it runs).
    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>>;
    /// Kills it with everything it started (its process group).
    fn kill(&mut self);
}

/// Starts the worker's commands: [`Shell`] in the daemon, a fake in tests.
pub trait Spawner: Send {
    fn spawn(&mut self, command: &str) -> std::io::Result<Box<dyn Process>>;
}

/// `/bin/sh -c COMMAND`, as knockd runs commands, in a process group of its
/// own (so a kill reaches what it started), stdin from /dev/null.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shell;

impl Spawner for Shell {
    fn spawn(&mut self, command: &str) -> std::io::Result<Box<dyn Process>> {
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(Box::new(child))
    }
}

impl Process for Child {
    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        Child::try_wait(self)
    }

    fn kill(&mut self) {
        let _ = sys::kill_group(self.id());
        let _ = Child::kill(self);
    }
}

struct Running {
    process: Box<dyn Process>,
    door: String,
    command: String,
    since: Instant,
    killed: bool,
    kind: Kind,
}

/// A door knocked open, waiting for a command slot to run its start. Of
/// one small size whatever the commands (they are made from `doors`, the
/// doors it was knocked on, when it starts), so a queue large enough for a
/// burst of thousands of knockers costs tens of bytes per entry.
struct Open {
    /// The address to open for (`%IP%`): the knocker's, or the one an SPA
    /// packet asked for.
    addr: IpAddr,
    door: usize,
    doors: Arc<Vec<DoorInfo>>,
    /// An SPA door's port (`%PORT%`, `%PROTO%`).
    port: Option<ProtoPort>,
    /// An SPA door's stop delay (else the door's Cmd_Timeout).
    stop_after: Option<Duration>,
}

impl Open {
    /// A knock door opened for `src`.
    fn knock(src: IpAddr, door: usize, doors: Arc<Vec<DoorInfo>>) -> Open {
        Open {
            addr: src,
            door,
            doors,
            port: None,
            stop_after: None,
        }
    }

    /// The door and its start command for this knocker (`None`: nothing to
    /// run).
    fn start(&self) -> Option<(&DoorInfo, String)> {
        let info = self.doors.get(self.door)?;
        let start = info.commands.start_for(self.addr.is_ipv6())?;
        Some((info, substitute(start, &self.addr, self.port)))
    }

    fn has_stop(&self) -> bool {
        self.doors
            .get(self.door)
            .is_some_and(|d| d.commands.stop_for(self.addr.is_ipv6()).is_some())
    }
}

/// Control messages the worker handles before it reaps ended commands and
/// starts waiting opens again.
const CONTROL_BATCH: usize = 256;

/// Every this many opens waiting, a log line says how many.
const QUEUE_NOTE: usize = 1024;

/// Where the worker's time comes from (its [`Source`] decides).
#[derive(Debug, Clone, Copy)]
enum Timeline {
    /// Live: the monotonic clock, in ms since this origin.
    Monotonic(Instant),
    /// Replay: the latest packet time seen.
    Packet(Millis),
}

struct Runner {
    doors: Arc<Vec<DoorInfo>>,
    log: Logger,
    opts: RunnerOptions,
    /// Where pending stops are journaled ([`Source::Live`] only).
    journal_path: Option<PathBuf>,
    open_without_journal: bool,
    journal: Option<Journal>,
    clock: Box<dyn Clocks>,
    spawner: Box<dyn Spawner>,
    timeline: Timeline,
    next_id: u64,
    timers: BTreeMap<(Millis, u64), PendingStop>,
    /// Due time of each scheduled stop, by id.
    due: HashMap<u64, Millis>,
    running: Vec<Running>,
    queue: VecDeque<Open>,
    /// Waiting opens that will have a stop.
    queued_stops: usize,
    lookup: Option<Lookup>,
    one_time: OneTime,
    /// Where accepted SPA packets wait ([`Message::SpaOpen`]).
    grants: Option<Receiver<SpaGrant>>,
    report: RunnerReport,
}

/// Starts the worker for packets from `source` on its own thread, on the
/// system clocks.
pub fn spawn(
    source: &Source,
    doors: Arc<Vec<DoorInfo>>,
    one_time: OneTime,
    log: Logger,
    opts: RunnerOptions,
    rx: WorkerRx,
) -> std::io::Result<std::thread::JoinHandle<RunnerReport>> {
    let mut r = Runner::new(
        source,
        doors,
        log,
        opts,
        Box::new(SystemClocks),
        Box::new(Shell),
    )?;
    r.one_time = one_time;
    std::thread::Builder::new()
        .name("knock-worker".into())
        .spawn(move || r.run(rx))
}

impl Runner {
    fn new(
        source: &Source,
        doors: Arc<Vec<DoorInfo>>,
        log: Logger,
        opts: RunnerOptions,
        clock: Box<dyn Clocks>,
        spawner: Box<dyn Spawner>,
    ) -> std::io::Result<Runner> {
        let lookup = if opts.lookup {
            Some(Lookup::spawn(log.clone(), Box::new(sys::reverse_lookup))?)
        } else {
            None
        };
        let (timeline, journal_path, open_without_journal) = match source {
            Source::Live {
                journal,
                open_without_journal,
                ..
            } => (
                Timeline::Monotonic(clock.now()),
                journal.clone(),
                *open_without_journal,
            ),
            Source::Replay { .. } => (Timeline::Packet(0), None, false),
        };
        let mut r = Runner {
            doors,
            log,
            journal_path,
            open_without_journal,
            journal: None,
            clock,
            spawner,
            timeline,
            next_id: 1,
            timers: BTreeMap::new(),
            due: HashMap::new(),
            running: Vec::new(),
            queue: VecDeque::with_capacity(opts.limits.queued),
            queued_stops: 0,
            lookup,
            one_time: OneTime::default(),
            grants: None,
            report: RunnerReport::default(),
            opts,
        };
        if let Err(why) = r.open_journal() {
            let what = if r.open_without_journal {
                "doors open anyway (--open-without-journal): a crash leaves them open"
            } else {
                "doors with a Stop_Command stay shut until it can be written \
                 (--open-without-journal opens them anyway)"
            };
            r.log.error(&format!("{why}; {what}"));
        }
        Ok(r)
    }

    /// The worker's time in ms: monotonic (live) or packet time (replay).
    fn now(&self) -> Millis {
        match self.timeline {
            Timeline::Monotonic(origin) => {
                let d = self.clock.now().saturating_duration_since(origin);
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
            }
            Timeline::Packet(now) => now,
        }
    }

    /// The wall-clock time (Unix ms) at worker time `t`, for the journal.
    fn wall_at(&self, t: Millis) -> Millis {
        let now = self.now();
        let wall = unix_ms(self.clock.wall());
        if t >= now {
            wall.saturating_add(t - now)
        } else {
            wall.saturating_sub(now - t)
        }
    }

    /// Opens the journal (once it opens: it is kept) and schedules the stops
    /// a previous run left in it. `Err` says why it cannot be used.
    fn open_journal(&mut self) -> Result<(), String> {
        let Some(path) = self.journal_path.clone() else {
            return Ok(());
        };
        if self.journal.is_some() {
            return Ok(());
        }
        let opened = Journal::open(&path)
            .map_err(|e| format!("cannot open journal {}: {e}", path.display()))?;
        for why in &opened.skipped {
            self.log
                .warn(&format!("journal {}: {why}; not replayed", path.display()));
        }
        let j = opened.journal;
        self.next_id = self.next_id.max(j.max_id() + 1);
        self.journal = Some(j);
        let now = self.now();
        let wall = unix_ms(self.clock.wall());
        for (id, e) in opened.left {
            // Wall due time -> remaining duration on the monotonic
            // clock; overdue stops run at once.
            let remaining = e.due_ms.saturating_sub(wall);
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
                if remaining == 0 {
                    "now".to_string()
                } else {
                    format!("in {}s", remaining.div_ceil(1000))
                },
                e.command
            ));
            self.schedule(now.saturating_add(remaining), stop);
        }
        Ok(())
    }

    /// Records pending stop `id` (or its new due time). `Err` says why it
    /// could not be: then a crash would leave its door open.
    fn journal_put(
        &mut self,
        id: u64,
        due: Millis,
        door: &str,
        command: &str,
    ) -> Result<(), String> {
        self.open_journal()?;
        let due_ms = self.wall_at(due);
        let Some(j) = self.journal.as_mut() else {
            return Ok(()); // no journal asked for (--no-journal, --read)
        };
        j.put(
            id,
            Entry {
                due_ms,
                door: door.to_string(),
                command: command.to_string(),
            },
        )
        .map_err(|e| format!("cannot write journal {}: {e}", j.path().display()))
    }

    fn journal_remove(&mut self, id: u64) {
        if let Some(j) = self.journal.as_mut()
            && let Err(err) = j.remove(id)
        {
            let p = j.path().display().to_string();
            self.log.error(&format!("cannot write journal {p}: {err}"));
        }
    }

    fn door_name(&self, door: usize) -> String {
        self.doors
            .get(door)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| format!("door#{door}"))
    }

    fn run(mut self, rx: WorkerRx) -> RunnerReport {
        let WorkerRx {
            control,
            events,
            grants,
        } = rx;
        let rx = (control, events);
        self.grants = Some(grants);
        'outer: loop {
            // Opens, reloads and shutdown first, a batch at a time: between
            // batches ended commands are reaped and waiting opens started,
            // so a burst of opens does not hold every slot while it is read.
            let mut more = true;
            for _ in 0..CONTROL_BATCH {
                match rx.0.try_recv() {
                    Ok(Message::Shutdown) | Err(TryRecvError::Disconnected) => break 'outer,
                    Ok(msg) => self.handle(msg),
                    Err(TryRecvError::Empty) => {
                        more = false;
                        break;
                    }
                }
            }
            let idle = if more {
                Duration::ZERO
            } else if self.running.is_empty() {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(20)
            };
            let wait = match (self.timeline, self.timers.keys().next()) {
                (Timeline::Monotonic(_), Some((due, _))) => {
                    Duration::from_millis(due.saturating_sub(self.now())).min(idle)
                }
                _ => idle,
            };
            match rx.1.recv_timeout(wait) {
                Ok(Message::Shutdown) => break,
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
                // The control channel is checked (and ends the loop) next.
                Err(RecvTimeoutError::Disconnected) => {
                    if let Ok(msg) = rx.0.recv_timeout(wait) {
                        if matches!(msg, Message::Shutdown) {
                            break;
                        }
                        self.handle(msg);
                    }
                }
            }
            self.tick();
        }
        // Log lines and time queued before the shutdown still count.
        while let Ok(msg) = rx.1.try_recv() {
            self.handle(msg);
        }
        self.shutdown();
        self.report
    }

    /// Reaps ended commands, runs due stops, then queued starts.
    fn tick(&mut self) {
        self.reap();
        self.fire_due(false);
        self.start_queued();
    }

    /// Packet time moved to `t`: in a replay, the stops it passed run now,
    /// before what happened at `t`, so a replay closes doors at their
    /// Cmd_Timeout in packet time, in order. Live, timers do not follow
    /// packet time.
    fn packet_time(&mut self, t: Millis) {
        if let Timeline::Packet(now) = &mut self.timeline {
            *now = (*now).max(t);
            self.fire_due(false);
        }
    }

    fn handle(&mut self, msg: Message) {
        match msg {
            Message::Notice(n, at) => {
                self.packet_time(at);
                self.notice(n);
            }
            Message::Suppressed(n) => self.log.info(&format!(
                "{n} log line(s) suppressed (knocks and SPA packets beyond the log rate limit)"
            )),
            Message::Time(t) => self.packet_time(t),
            Message::SpaOpen(at) => {
                self.packet_time(at);
                match self.grants.as_ref().map(Receiver::try_recv) {
                    Some(Ok(g)) => self.spa_open(g),
                    // Cannot happen: each message follows its grant.
                    _ => self
                        .log
                        .error("an accepted SPA packet was announced but not found"),
                }
            }
            Message::SpaRefused(r, at) => {
                self.packet_time(at);
                let line = format!(
                    "{}: {}: SPA packet refused: {}",
                    r.src,
                    self.door_name(r.door),
                    r.why
                );
                self.log.info(&line);
            }
            Message::Doors(d, one_time) => {
                self.doors = d;
                self.one_time = one_time;
            }
            Message::Wake | Message::Shutdown => {}
        }
    }

    fn notice(&mut self, n: Notice) {
        // Addresses only: reverse lookups are for OPEN SESAME lines, on
        // the lookup thread.
        match n {
            Notice::Stage { src, door, stage } => {
                let line = format!("{src}: {}: Stage {stage}", self.door_name(door));
                self.log.info(&line);
            }
            Notice::Timeout { src, door, stage } => {
                let line = format!(
                    "{src}: {}: sequence timeout (stage {stage})",
                    self.door_name(door)
                );
                self.log.info(&line);
            }
            Notice::Broken { src, door, stage } => {
                if self.log.is_debug() {
                    let line = format!(
                        "{src}: {}: sequence broken at stage {stage}",
                        self.door_name(door)
                    );
                    self.log.debug(&line);
                }
            }
            Notice::Dropped { .. } => {}
            Notice::Replayed { src, door } => {
                let line = format!(
                    "{src}: {}: sequence already used in this period (replay?), not opening",
                    self.door_name(door)
                );
                self.log.info(&line);
            }
            Notice::Opened { src, door } => {
                self.open(src, door);
                self.next_one_time(door);
            }
        }
    }

    /// A one-time door opened (or was refused): its sequence is used.
    /// Disables it in the file and sends the next one to the packet thread.
    fn next_one_time(&mut self, door: usize) {
        let Some(file) = self.one_time.files.get_mut(door).and_then(Option::take) else {
            return;
        };
        let name = self.door_name(door);
        let (knocks, msg) = match file.advance(self.opts.dry_run) {
            Ok(Some(f)) => {
                let knocks = f.sequence.knocks().to_vec();
                let msg = format!("{name}: next one-time sequence is {}", f.sequence);
                self.one_time.files[door] = Some(f);
                (Some(knocks), msg)
            }
            Ok(None) => (
                None,
                format!("{name}: one-time sequences used up; door disabled"),
            ),
            Err(e) => (None, format!("{name}: {e}; door disabled")),
        };
        self.log.info(&msg);
        if let Some(reply) = &self.one_time.reply {
            // One update per door at most is outstanding (the door stays
            // disabled until it is applied): the channel has room.
            let _ = reply.try_send(OneTimeUpdate { door, knocks });
        }
    }

    /// Stops pending: scheduled, or following a start still running or queued.
    fn pending_stops(&self) -> usize {
        self.timers.len()
            + self.running.iter().filter(|r| r.kind.has_stop()).count()
            + self.queued_stops
    }

    fn log_open(&self, src: IpAddr, door: &str, note: &str) {
        let rest = format!("{door}: OPEN SESAME{note}");
        match &self.lookup {
            Some(l) => l.log(src, rest),
            None => self.log.info(&format!("{src}: {rest}")),
        }
    }

    /// A door was knocked open. Every open runs its start command and
    /// schedules its own stop, as knockd does: n inserted rules are deleted
    /// by n stops, and a door closed by something else in the meantime
    /// opens again. The start runs now if a command slot is free, else the
    /// open waits in the queue for one (in order).
    fn open(&mut self, src: IpAddr, door: usize) {
        let Some(info) = self.doors.get(door) else {
            return;
        };
        let ipv6 = src.is_ipv6();
        let has_stop = info.commands.stop_for(ipv6).is_some();
        if has_stop && self.pending_stops() >= self.opts.limits.pending_stops {
            self.report.refused += 1;
            self.log.error(&format!(
                "{src}: {}: OPEN SESAME refused: {} stop commands pending (the limit); \
                 not opening until some have run",
                info.name, self.opts.limits.pending_stops
            ));
            return;
        }
        let name = info.name.clone();
        self.log_open(src, &name, "");
        if info.commands.start_for(ipv6).is_none() {
            // Nothing to run: open as far as this server is concerned.
            self.report.opened += 1;
            return;
        }
        let open = Open::knock(src, door, Arc::clone(&self.doors));
        self.enqueue(open, has_stop, &name);
    }

    /// An SPA packet was accepted: its digest is journaled first (so that
    /// after a crash it is still refused as a replay), then the door opens
    /// for the address it asked for, once per port it asked for (once in
    /// all when neither command names `%PORT%` or `%PROTO%`), each with
    /// its own stop after the packet's open time.
    fn spa_open(&mut self, g: SpaGrant) {
        let Some(info) = self.doors.get(g.door) else {
            return;
        };
        let name = info.name.clone();
        let ipv6 = g.addr.is_ipv6();
        let (start, stop) = (info.commands.start_for(ipv6), info.commands.stop_for(ipv6));
        let per_port = start.is_some_and(names_port) || stop.is_some_and(names_port);
        let ports = g.ports.as_slice();
        let runs = if per_port { ports.len() } else { 1 };
        let has_stop = stop.is_some();
        let has_start = start.is_some();
        let limit = self.opts.limits.pending_stops;
        if has_stop && self.pending_stops() + runs > limit {
            self.report.refused += 1;
            self.log.error(&format!(
                "{}: {name}: SPA packet accepted but not opening: {limit} stop commands \
                 pending (the limit); not opening until some have run",
                g.src
            ));
            return;
        }
        if let Err(why) = self.journal_digest(&g) {
            if self.open_without_journal {
                self.log.error(&format!(
                    "{}: {name}: {why}; opening anyway (--open-without-journal)",
                    g.src
                ));
            } else {
                self.report.refused += 1;
                self.log.error(&format!(
                    "{}: {name}: SPA packet accepted but not opening: {why}, so after a crash \
                     it could be replayed (--open-without-journal opens it anyway)",
                    g.src
                ));
                return;
            }
        }
        let note = format!(
            " (SPA, user {}: {} for {}, {} s)",
            g.user, g.ports, g.addr, g.open_secs
        );
        self.log_open(g.src, &name, &note);
        if !has_start {
            self.report.opened += 1;
            return;
        }
        let stop_after = Some(Duration::from_secs(u64::from(g.open_secs)));
        let each: &[ProtoPort] = if per_port { ports } else { &[] };
        let runs = each
            .iter()
            .map(|&p| Some(p))
            .chain(each.is_empty().then_some(None));
        for port in runs {
            let open = Open {
                addr: g.addr,
                door: g.door,
                doors: Arc::clone(&self.doors),
                port,
                stop_after,
            };
            self.enqueue(open, has_stop, &name);
        }
    }

    /// Records an accepted SPA packet's digest (synced). `Err` says why it
    /// could not be.
    fn journal_digest(&mut self, g: &SpaGrant) -> Result<(), String> {
        self.open_journal()?;
        let now = unix_ms(self.clock.wall()) / 1000;
        let Some(j) = self.journal.as_mut() else {
            return Ok(()); // no journal asked for (--no-journal, --read)
        };
        j.put_digest(g.digest, g.forget_at, now)
            .map_err(|e| format!("cannot write journal {}: {e}", j.path().display()))
    }

    /// Runs an open's start command now if a command slot is free, else
    /// queues it (in order), else drops it (logged).
    fn enqueue(&mut self, open: Open, has_stop: bool, name: &str) {
        if self.running.len() < self.opts.limits.running && self.queue.is_empty() {
            self.start(open);
        } else if self.queue.len() < self.opts.limits.queued {
            self.queued_stops += usize::from(has_stop);
            self.queue.push_back(open);
            if self.queue.len() == 1 || self.queue.len().is_multiple_of(QUEUE_NOTE) {
                self.log.info(&format!(
                    "{} open(s) waiting for a command slot ({} commands running, the limit)",
                    self.queue.len(),
                    self.running.len()
                ));
            }
        } else {
            self.report.dropped += 1;
            let start = open.start().map(|(_, c)| c).unwrap_or_default();
            self.log.error(&format!(
                "{name}: {} commands running and {} waiting (the limits); not running: {start}",
                self.opts.limits.running, self.opts.limits.queued
            ));
        }
    }

    /// Runs an open's start command, its stop journaled first (fail-closed):
    /// a door whose stop cannot be recorded does not open, unless the
    /// operator said so.
    fn start(&mut self, open: Open) {
        let Some((info, start)) = open.start() else {
            return;
        };
        let src = open.addr;
        let stop = info
            .commands
            .stop_for(src.is_ipv6())
            .map(|c| substitute(c, &src, open.port))
            .map(|command| {
                let id = self.next_id;
                self.next_id += 1;
                PendingStop {
                    door: info.name.clone(),
                    src: Some(src),
                    command,
                    id,
                    delay: open.stop_after.unwrap_or(info.commands.cmd_timeout),
                }
            });
        if let Some(s) = &stop {
            let due = self
                .now()
                .saturating_add((s.delay + self.opts.kill_after).as_millis() as Millis);
            if let Err(why) = self.journal_put(s.id, due, &s.door, &s.command) {
                if self.open_without_journal {
                    self.log.error(&format!(
                        "{src}: {}: {why}; opening anyway (--open-without-journal)",
                        info.name
                    ));
                } else {
                    self.report.refused += 1;
                    self.log.error(&format!(
                        "{src}: {}: not opening: {why}, so a crash would leave the \
                         door open (--open-without-journal opens it anyway)",
                        info.name
                    ));
                    return;
                }
            }
        }
        self.report.opened += 1;
        self.spawn_command(&info.name, start, Kind::Start(stop));
    }

    /// Starts waiting opens while command slots are free (stops, which
    /// [`Runner::fire_due`] runs first, are never queued here).
    fn start_queued(&mut self) {
        while self.running.len() < self.opts.limits.running {
            let Some(open) = self.queue.pop_front() else {
                break;
            };
            self.queued_stops -= usize::from(open.has_stop());
            self.start(open);
        }
    }

    fn spawn_command(&mut self, door: &str, command: String, kind: Kind) {
        self.report.commands += 1;
        if self.opts.dry_run {
            // One line per command, saying it did not run: stdout keeps the
            // `dry-run: DOOR: COMMAND` form scripts read; the log file and
            // syslog get it in knockd's place instead of "running command".
            println!("dry-run: {door}: {command}");
            self.log
                .info_not_stderr(&format!("{door}: dry-run, not running: {command}"));
            self.finished(kind);
            return;
        }
        self.log
            .info(&format!("{door}: running command: {command}"));
        match self.spawner.spawn(&command) {
            Ok(process) => {
                self.running.push(Running {
                    process,
                    door: door.to_string(),
                    command,
                    since: self.clock.now(),
                    killed: false,
                    kind,
                });
                if matches!(self.timeline, Timeline::Packet(_)) {
                    self.wait_running();
                }
            }
            Err(e) => {
                self.report.failed += 1;
                self.log
                    .error(&format!("{door}: command could not start: {e}: {command}"));
                self.finished(kind);
            }
        }
    }

    /// Waits for the running commands (each still bounded by `kill_after`).
    /// Offline replay runs commands one at a time, as knockd does: packet
    /// time does not move while a command runs, so its stop is due exactly
    /// Cmd_Timeout of packet time after it, and the output is in order.
    fn wait_running(&mut self) {
        loop {
            self.reap();
            if self.running.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn schedule(&mut self, due: Millis, stop: PendingStop) {
        self.due.insert(stop.id, due);
        self.timers.insert((due, stop.id), stop);
    }

    /// A command ended (or was never run): schedule what follows it.
    fn finished(&mut self, kind: Kind) {
        match kind {
            Kind::Start(Some(stop)) => {
                let due = self.now().saturating_add(stop.delay.as_millis() as Millis);
                // On an error the journal keeps the earlier, later due time:
                // after a crash the stop still runs, a little late.
                if let Err(why) = self.journal_put(stop.id, due, &stop.door, &stop.command) {
                    self.log.error(&format!(
                        "{}: {why} (a restart after a crash runs this stop late)",
                        stop.door
                    ));
                }
                self.schedule(due, stop);
            }
            Kind::Start(None) => {}
            Kind::Stop(id) => self.journal_remove(id),
        }
    }

    fn reap(&mut self) {
        let now = self.clock.now();
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            match r.process.try_wait() {
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
                    if !r.killed && now.saturating_duration_since(r.since) > self.opts.kill_after {
                        r.killed = true;
                        r.process.kill();
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

    /// Runs the stops that are due (all of them if `all`), as long as a
    /// command slot is free; the others wait for the next round.
    fn fire_due(&mut self, all: bool) {
        let now = self.now();
        while self.running.len() < self.opts.limits.running
            && let Some(entry) = self.timers.first_entry()
        {
            if !all && entry.key().0 > now {
                break;
            }
            let early = entry.key().0 > now;
            let stop = entry.remove();
            self.due.remove(&stop.id);
            match stop.src {
                Some(src) => {
                    let line = if early {
                        format!("{src}: {}: closing before exit", stop.door)
                    } else {
                        format!("{src}: {}: command timeout", stop.door)
                    };
                    self.log.info(&line);
                }
                None => self
                    .log
                    .info(&format!("{}: pending stop from a previous run", stop.door)),
            }
            self.report.stops_run += 1;
            let door = stop.door.clone();
            self.spawn_command(&door, stop.command, Kind::Stop(stop.id));
        }
    }

    fn shutdown(&mut self) {
        // Opens still waiting for a slot never run: their doors stay shut.
        if !self.queue.is_empty() {
            let n = self.queue.len();
            self.report.dropped += n as u64;
            self.log.error(&format!(
                "{n} open(s) still waiting for a command slot at exit: not run (those doors \
                 stay shut)"
            ));
            self.queue.clear();
            self.queued_stops = 0;
        }
        // Let start commands finish (bounded) so their stops follow them.
        while self.running.iter().any(|r| r.kind.has_stop()) {
            std::thread::sleep(Duration::from_millis(10));
            self.reap();
        }
        // Stops already due (in packet time, for `--read`) run as timeouts;
        // only the others close early.
        self.fire_due(false);
        let pending = self.pending_stops();
        if pending > 0 {
            self.log.info(&format!(
                "running {pending} pending stop command(s) before exit"
            ));
        }
        self.fire_due(true);
        while !self.running.is_empty() || !self.timers.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
            self.reap();
            self.fire_due(true);
        }
        // Every stop ran: leave an empty journal behind.
        if let Some(j) = self.journal.as_mut()
            && let Err(e) = j.compact()
        {
            let p = j.path().display().to_string();
            self.log.error(&format!("cannot write journal {p}: {e}"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::clock::FakeClocks;
    use knock_profiles::knockd_conf::DoorCommands;
    use std::path::Path;
    use std::time::UNIX_EPOCH;

    fn info(name: &str, start: &str, stop: Option<&str>, timeout_s: u64) -> DoorInfo {
        DoorInfo {
            name: name.into(),
            commands: DoorCommands {
                start: Some(start.into()),
                start_6: Some(start.replace("v4", "v6")),
                stop: stop.map(Into::into),
                stop_6: stop.map(|s| s.replace("v4", "v6")),
                cmd_timeout: Duration::from_secs(timeout_s),
            },
        }
    }

    fn opts(dry_run: bool) -> RunnerOptions {
        RunnerOptions {
            dry_run,
            kill_after: Duration::from_secs(5),
            lookup: false,
            limits: Limits::default(),
        }
    }

    fn live(journal: Option<PathBuf>) -> Source {
        Source::Live {
            interface: "veth0".into(),
            journal,
            open_without_journal: false,
        }
    }

    fn replay() -> Source {
        Source::Replay {
            file: "knocks.pcap".into(),
        }
    }

    /// Commands that run until the test lets them end ([`FakeShell::release`]),
    /// recorded in the order they started.
    #[derive(Clone, Default)]
    struct FakeShell {
        state: Arc<std::sync::Mutex<FakeState>>,
    }

    #[derive(Default)]
    struct FakeState {
        started: Vec<String>,
        released: bool,
    }

    struct FakeProcess {
        state: Arc<std::sync::Mutex<FakeState>>,
        killed: bool,
    }

    impl FakeShell {
        fn release(&self) {
            self.state.lock().unwrap().released = true;
        }

        fn started(&self) -> Vec<String> {
            self.state.lock().unwrap().started.clone()
        }
    }

    impl Spawner for FakeShell {
        fn spawn(&mut self, command: &str) -> std::io::Result<Box<dyn Process>> {
            self.state.lock().unwrap().started.push(command.to_string());
            Ok(Box::new(FakeProcess {
                state: Arc::clone(&self.state),
                killed: false,
            }))
        }
    }

    impl Process for FakeProcess {
        fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
            Ok(if self.killed {
                Some(ExitStatus::from_raw(libc::SIGKILL))
            } else if self.state.lock().unwrap().released {
                Some(ExitStatus::from_raw(0))
            } else {
                None
            })
        }

        fn kill(&mut self) {
            self.killed = true;
        }
    }

    /// [`runner`] with the commands run by `shell`.
    fn runner_with(
        source: &Source,
        doors: Vec<DoorInfo>,
        o: RunnerOptions,
        shell: &FakeShell,
    ) -> (Runner, FakeClocks, Logger) {
        let (mut r, clock, log) = runner(source, doors, o);
        r.spawner = Box::new(shell.clone());
        (r, clock, log)
    }

    /// A worker the test drives itself (no thread): on fake clocks, which
    /// move only when the test says, at a wall time in 2027.
    fn runner(
        source: &Source,
        doors: Vec<DoorInfo>,
        o: RunnerOptions,
    ) -> (Runner, FakeClocks, Logger) {
        let clock = FakeClocks::new(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let log = Logger::memory();
        let r = Runner::new(
            source,
            Arc::new(doors),
            log.clone(),
            o,
            Box::new(clock.clone()),
            Box::new(Shell),
        )
        .unwrap();
        (r, clock, log)
    }

    fn opened(src: &str, door: usize, at: Millis) -> Message {
        Message::Notice(
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
        let doors = vec![info(
            "ssh",
            &format!("echo open v4 %IP% >> {o}"),
            Some(&format!("echo close v4 %IP% >> {o}")),
            10,
        )];
        let (mut r, _clock, log) = runner(&replay(), doors, opts(false));
        // A replay runs each command to its end before it reads on, and
        // schedules its stop at once: nothing to wait for here.
        r.handle(opened("192.0.2.7", 0, 1_000));
        r.handle(opened("2001:db8::7", 0, 1_000));
        r.handle(Message::Time(5_000));
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text.lines().count(),
            2,
            "no stop before Cmd_Timeout: {text}"
        );
        r.handle(Message::Time(11_500));
        r.shutdown();
        let report = r.report;
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
        let doors = vec![info(
            "ssh",
            "true",
            Some(&format!("echo closed %IP% >> {}", out.display())),
            3600,
        )];
        let (mut r, _clock, _log) = runner(&live(Some(journal.clone())), doors, opts(false));
        r.handle(opened("192.0.2.9", 0, 1_000));
        // The start command ("true") ends; its stop is due in an hour.
        r.wait_running();
        let j = std::fs::read_to_string(&journal).unwrap();
        assert!(j.contains("echo closed 192.0.2.9"), "journaled: {j}");
        r.shutdown();
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
        let (tx, rx) = channels(16, 16);
        let log = Logger::memory();
        let h = spawn(
            &live(Some(journal.clone())),
            Arc::new(vec![]),
            OneTime::default(),
            log.clone(),
            opts(false),
            rx,
        )
        .unwrap();
        tx.control(Message::Shutdown);
        h.join().unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "closed-after-crash\n"
        );
        assert_eq!(std::fs::read_to_string(&journal).unwrap(), "");
    }

    #[test]
    fn failing_and_hanging_commands_are_logged_and_killed() {
        let doors = [
            info("bad", "exit 3", None, 1),
            info("slow", "sleep 30", None, 1),
        ];
        let mut o = opts(false);
        o.kill_after = Duration::from_millis(300);
        let t0 = Instant::now();
        let (mut r, clock, log) = runner(&live(None), doors.to_vec(), o);
        r.handle(opened("192.0.2.7", 0, 0));
        r.handle(opened("192.0.2.7", 1, 0));
        // "sleep 30" outlives the bound (on the fake clock): shutdown,
        // which waits for both, kills it.
        clock.advance(Duration::from_millis(301));
        r.shutdown();
        let report = r.report;
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
        let (tx, rx) = channels(16, 16);
        let h = spawn(
            &replay(),
            doors,
            OneTime::default(),
            log.clone(),
            opts(true),
            rx,
        )
        .unwrap();
        tx.control(opened("192.0.2.7", 0, 0));
        tx.control(Message::Time(2_000));
        tx.control(Message::Shutdown);
        let report = h.join().unwrap();
        assert!(!out.exists());
        assert_eq!(
            (report.commands, report.stops_run, report.failed),
            (2, 1, 0)
        );
        // One line per command in the log, saying it did not run.
        let logs = log.lines();
        assert!(
            logs.iter()
                .any(|l| l.starts_with("ssh: dry-run, not running: touch ")),
            "{logs:?}"
        );
        assert!(
            !logs.iter().any(|l| l.contains("running command")),
            "{logs:?}"
        );
    }

    fn fake_runner(
        doors: Vec<DoorInfo>,
        journal: Option<PathBuf>,
        limits: Limits,
    ) -> (Runner, FakeClocks, Logger) {
        let mut o = opts(true);
        o.limits = limits;
        runner(&live(journal), doors, o)
    }

    fn open_now(r: &mut Runner, src: &str, door: usize) {
        r.handle(opened(src, door, 0));
        r.tick();
    }

    #[test]
    fn stops_follow_the_monotonic_clock_not_a_wall_clock_step() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("pending");
        let (mut r, clock, _log) = fake_runner(
            vec![info("ssh", "open", Some("close %IP%"), 10)],
            Some(journal.clone()),
            Limits::default(),
        );
        open_now(&mut r, "192.0.2.7", 0);
        assert_eq!(r.report.stops_run, 0);
        // The journal has the wall-clock due time.
        let wall = unix_ms(clock.wall());
        let text = std::fs::read_to_string(&journal).unwrap();
        assert!(
            text.contains(&format!("\t{}\tssh\tclose 192.0.2.7", wall + 10_000)),
            "{text}"
        );
        // NTP steps the wall clock back an hour; ten seconds pass.
        clock.step_wall(-3600);
        clock.advance(Duration::from_millis(9_900));
        r.tick();
        assert_eq!(r.report.stops_run, 0, "not before Cmd_Timeout");
        clock.advance(Duration::from_millis(200));
        r.tick();
        assert_eq!(r.report.stops_run, 1, "closed on time despite the step");
        // And a step forward does not close early.
        open_now(&mut r, "192.0.2.8", 0);
        clock.step_wall(7200);
        r.tick();
        assert_eq!(r.report.stops_run, 1);
    }

    #[test]
    fn a_restart_turns_journal_wall_times_into_remaining_durations() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("pending");
        let wall = 1_800_000_000_000u64;
        std::fs::write(
            &journal,
            format!(
                "+3\t{}\tssh\tlater\n+4\t{}\tssh\toverdue\n",
                wall + 6_000,
                wall - 1_000
            ),
        )
        .unwrap();
        let (mut r, clock, log) = fake_runner(vec![], Some(journal.clone()), Limits::default());
        r.tick();
        assert_eq!(r.report.stops_run, 1, "the overdue stop runs at once");
        assert!(
            log.lines()
                .iter()
                .any(|l| l == "ssh: dry-run, not running: overdue")
        );
        clock.step_wall(-3600);
        clock.advance(Duration::from_millis(5_900));
        r.tick();
        assert_eq!(r.report.stops_run, 1);
        clock.advance(Duration::from_millis(200));
        r.tick();
        assert_eq!(r.report.stops_run, 2);
        assert!(
            log.lines()
                .iter()
                .any(|l| l == "ssh: dry-run, not running: later")
        );
        // New ids do not reuse the journal's.
        assert!(r.next_id > 4);
    }

    #[test]
    fn too_many_pending_stops_refuse_new_opens() {
        let limits = Limits {
            pending_stops: 2,
            ..Limits::default()
        };
        let (mut r, clock, log) = fake_runner(
            vec![info("ssh", "open %IP%", Some("close %IP%"), 10)],
            None,
            limits,
        );
        for src in ["198.18.0.1", "198.18.0.2", "198.18.0.3"] {
            open_now(&mut r, src, 0);
        }
        assert_eq!(r.report.refused, 1);
        assert_eq!(r.report.commands, 2, "the third door was not opened");
        assert!(
            log.lines().iter().any(|l| l.starts_with(
                "198.18.0.3: ssh: OPEN SESAME refused: 2 stop commands pending (the limit)"
            )),
            "{:?}",
            log.lines()
        );
        clock.advance(Duration::from_secs(11));
        r.tick();
        assert_eq!(r.report.stops_run, 2);
        open_now(&mut r, "198.18.0.3", 0);
        assert_eq!(r.report.refused, 1);
        assert_eq!(r.pending_stops(), 1);
    }

    #[test]
    fn opening_an_open_door_again_runs_start_again_with_its_own_stop() {
        // knockd's behaviour: each open inserts its rule and deletes it after
        // Cmd_Timeout, so the rules stay balanced, and a door closed by
        // something else meanwhile (a close sequence) opens again.
        let (mut r, clock, _log) = fake_runner(
            vec![info("ssh", "open %IP%", Some("close %IP%"), 10)],
            None,
            Limits::default(),
        );
        open_now(&mut r, "192.0.2.7", 0);
        clock.advance(Duration::from_secs(8));
        open_now(&mut r, "192.0.2.7", 0);
        assert_eq!(r.report.commands, 2, "the start command ran twice");
        assert_eq!(r.timers.len(), 2, "each open has its own stop");
        clock.advance(Duration::from_millis(2_100));
        r.tick();
        assert_eq!(r.report.stops_run, 1, "the first stop at 10 s");
        clock.advance(Duration::from_secs(8));
        r.tick();
        assert_eq!(r.report.stops_run, 2, "the second at 18 s");
    }

    #[test]
    fn commands_beyond_the_limits_wait_then_are_refused() {
        let mut o = opts(false);
        o.limits = Limits {
            running: 2,
            queued: 1,
            pending_stops: 16,
        };
        o.kill_after = Duration::from_millis(200);
        // Live: commands run side by side (a replay runs them one by one).
        let (mut r, clock, log) = runner(&live(None), vec![info("slow", "sleep 30", None, 1)], o);
        for i in 1..=4 {
            r.handle(opened(&format!("198.18.0.{i}"), 0, 0));
        }
        assert_eq!((r.running.len(), r.queue.len()), (2, 1));
        assert_eq!(r.report.dropped, 1);
        assert!(
            log.lines().iter().any(|l| l
                == "slow: 2 commands running and 1 waiting (the limits); not running: sleep 30"),
            "{:?}",
            log.lines()
        );
        // Past the bound, shutdown kills what still runs; the open still
        // waiting never runs, and the report says what did.
        clock.advance(Duration::from_millis(201));
        r.shutdown();
        assert!(r.running.is_empty());
        assert_eq!((r.report.opened, r.report.dropped), (2, 2));
        assert!(
            log.lines()
                .iter()
                .any(|l| l
                    .starts_with("1 open(s) still waiting for a command slot at exit: not run")),
            "{:?}",
            log.lines()
        );
    }
    /// Ticks until nothing runs, waits or is due, at most `n` times.
    fn settle(r: &mut Runner, n: usize) {
        for _ in 0..n {
            r.tick();
            let due = r.timers.keys().next().is_some_and(|(t, _)| *t <= r.now());
            if r.running.is_empty() && r.queue.is_empty() && !due {
                return;
            }
        }
    }

    /// 5,000 knockers complete in one burst (the worker reads them all
    /// before a command ends): each open waits for a command slot instead
    /// of being dropped, every start runs and gets its stop, and the report
    /// counts what ran.
    #[test]
    fn a_burst_of_opens_waits_for_slots_and_every_start_gets_its_stop() {
        const BURST: usize = 5_000;
        let shell = FakeShell::default();
        let doors = vec![info("ssh", "open %IP%", Some("close %IP%"), 10)];
        let (mut r, clock, log) = runner_with(&live(None), doors, opts(false), &shell);
        let src = |i: usize| format!("198.18.{}.{}", i / 256, i % 256);
        for i in 0..BURST {
            r.handle(opened(&src(i), 0, 0));
        }
        r.tick();
        assert_eq!((r.report.dropped, r.report.refused), (0, 0));
        assert_eq!(r.running.len(), Limits::default().running);
        // The commands end: the waiting opens run, in order.
        shell.release();
        settle(&mut r, BURST);
        let started = shell.started();
        assert_eq!(started.len(), BURST);
        assert!(
            started
                .iter()
                .enumerate()
                .all(|(i, c)| *c == format!("open {}", src(i)))
        );
        assert_eq!(r.timers.len(), BURST, "every start has its stop");
        clock.advance(Duration::from_secs(11));
        settle(&mut r, BURST);
        assert_eq!(r.report.stops_run, BURST as u64);
        let closes = shell
            .started()
            .iter()
            .filter(|c| c.starts_with("close "))
            .count();
        assert_eq!(closes, BURST);
        assert_eq!(r.report.opened, BURST as u64);
        let lines = log.lines();
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("not running") || l.contains("refused")),
            "{:?}",
            lines
                .iter()
                .filter(|l| l.contains("not running"))
                .take(3)
                .collect::<Vec<_>>()
        );
    }

    fn spa_grant(ports: &str, open_secs: u32, digest: u8) -> SpaGrant {
        SpaGrant {
            src: "192.0.2.9".parse().unwrap(),
            door: 0,
            addr: "192.0.2.2".parse().unwrap(),
            user: knock_profiles::spa::Username::new("alice").unwrap(),
            ports: knock_profiles::spa::PortList::parse(ports).unwrap(),
            open_secs,
            digest: [digest; 32],
            forget_at: 1_800_000_120,
        }
    }

    /// A runner with `doors`, commands run by `shell`, a journal in `dir`,
    /// and the sending end of its grant channel.
    fn spa_runner(
        doors: Vec<DoorInfo>,
        shell: &FakeShell,
        journal: &Path,
    ) -> (Runner, FakeClocks, Logger, ToWorker) {
        let (mut r, clock, log) = runner_with(
            &live(Some(journal.to_path_buf())),
            doors,
            opts(false),
            shell,
        );
        let (tx, rx) = channels(4, 4);
        r.grants = Some(rx.grants);
        (r, clock, log, tx)
    }

    #[test]
    fn an_spa_packet_opens_each_port_it_asks_with_its_own_stop_after_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("pending");
        let shell = FakeShell::default();
        let doors = vec![info(
            "vault",
            "open %IP% %PROTO% %PORT%",
            Some("close %IP% %PROTO% %PORT%"),
            10,
        )];
        let (mut r, clock, log, tx) = spa_runner(doors, &shell, &journal);
        assert!(tx.try_grant(spa_grant("tcp/22,udp/53", 3, 0xab)));
        r.handle(Message::SpaOpen(0));
        assert_eq!(
            shell.started(),
            ["open 192.0.2.2 tcp 22", "open 192.0.2.2 udp 53"]
        );
        assert!(
            log.lines().iter().any(|l| l
                == "192.0.2.9: vault: OPEN SESAME (SPA, user alice: tcp/22,udp/53 for 192.0.2.2, 3 s)"),
            "{:?}",
            log.lines()
        );
        // The digest is on disk (before the doors opened), and each stop.
        let text = std::fs::read_to_string(&journal).unwrap();
        assert!(
            text.starts_with(&format!("={}\t1800000120\t#", "ab".repeat(32))),
            "{text}"
        );
        assert!(text.contains("close 192.0.2.2 udp 53"), "{text}");
        shell.release();
        r.tick();
        clock.advance(Duration::from_millis(2_900));
        r.tick();
        assert_eq!(r.report.stops_run, 0, "not before the packet's 3 s");
        clock.advance(Duration::from_millis(200));
        r.tick();
        assert_eq!(r.report.stops_run, 2);
        assert_eq!(
            shell.started()[2..],
            ["close 192.0.2.2 tcp 22", "close 192.0.2.2 udp 53"]
        );
        assert!(
            log.lines()
                .contains(&"192.0.2.2: vault: command timeout".to_string())
        );
        // The stops are done; the digest stays journaled.
        r.shutdown();
        let text = std::fs::read_to_string(&journal).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with('='), "{text}");
    }

    #[test]
    fn a_command_without_port_runs_once_per_spa_packet() {
        let dir = tempfile::tempdir().unwrap();
        let shell = FakeShell::default();
        let doors = vec![info("vault", "allow %IP%", Some("deny %IP%"), 10)];
        let (mut r, clock, _log, tx) = spa_runner(doors, &shell, &dir.path().join("j"));
        assert!(tx.try_grant(spa_grant("tcp/22,udp/53,tcp/443", 5, 1)));
        r.handle(Message::SpaOpen(0));
        shell.release();
        r.tick();
        clock.advance(Duration::from_secs(6));
        r.tick();
        assert_eq!(shell.started(), ["allow 192.0.2.2", "deny 192.0.2.2"]);
    }

    #[test]
    fn an_spa_packet_whose_digest_cannot_be_journaled_opens_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let shell = FakeShell::default();
        // No Stop_Command: only the digest needs the journal.
        let doors = vec![info("vault", "open %IP% %PORT%", None, 10)];
        let (mut r, _clock, log, tx) = spa_runner(doors, &shell, &dir.path().join("j"));
        r.open_journal().unwrap();
        r.journal.as_mut().unwrap().fill_disk();
        assert!(tx.try_grant(spa_grant("tcp/22", 5, 2)));
        r.handle(Message::SpaOpen(0));
        assert!(shell.started().is_empty());
        assert_eq!(r.report.refused, 1);
        assert!(
            log.lines().iter().any(|l| l.starts_with(
                "192.0.2.9: vault: SPA packet accepted but not opening: cannot write journal"
            ) && l.contains("No space left on device")),
            "{:?}",
            log.lines()
        );
        // A refused packet is a log line with its reason.
        r.handle(Message::SpaRefused(
            crate::spa_doors::SpaRefused {
                src: "198.18.0.7".parse().unwrap(),
                door: 0,
                why: crate::spa_doors::SpaRefusal::NoStanza,
            },
            0,
        ));
        assert!(
            log.lines().contains(
                &"198.18.0.7: vault: SPA packet refused: no access.conf stanza for this source"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_door_whose_stop_cannot_be_journaled_stays_shut() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("pending");
        let doors = vec![
            info("ssh", "open %IP%", Some("close %IP%"), 10),
            // Without a Stop_Command there is nothing to journal.
            info("ping", "ping %IP%", None, 10),
        ];
        let (mut r, _clock, log) = fake_runner(doors, Some(journal.clone()), Limits::default());
        open_now(&mut r, "192.0.2.7", 0);
        assert_eq!(r.report.commands, 1);
        // The disk fills up: every knock is refused, and said so each time.
        r.journal.as_mut().unwrap().fill_disk();
        for _ in 0..3 {
            open_now(&mut r, "192.0.2.8", 0);
        }
        assert_eq!(r.report.commands, 1, "no start command ran");
        assert_eq!(r.report.refused, 3);
        let refusals = log
            .lines()
            .iter()
            .filter(|l| {
                l.starts_with("192.0.2.8: ssh: not opening: cannot write journal")
                    && l.contains("No space left on device")
            })
            .count();
        assert_eq!(refusals, 3, "{:?}", log.lines());
        open_now(&mut r, "192.0.2.9", 1);
        assert_eq!(r.report.commands, 2, "a door without a stop still opens");
        // Only the first open is on disk for a restart.
        let text = std::fs::read_to_string(&journal).unwrap();
        assert!(
            text.contains("close 192.0.2.7") && !text.contains("192.0.2.8"),
            "{text}"
        );
    }

    #[test]
    fn a_journal_that_cannot_be_opened_refuses_opens_until_it_can() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the journal's directory should be: even root cannot
        // create the journal under it.
        let blocker = dir.path().join("state");
        std::fs::write(&blocker, "").unwrap();
        let journal = blocker.join("pending");
        let doors = vec![info("ssh", "open %IP%", Some("close %IP%"), 10)];
        let (mut r, _clock, log) = fake_runner(doors, Some(journal.clone()), Limits::default());
        assert!(
            log.lines()
                .iter()
                .any(|l| l.starts_with("cannot open journal")
                    && l.contains("stay shut until it can be written")),
            "{:?}",
            log.lines()
        );
        open_now(&mut r, "192.0.2.7", 0);
        open_now(&mut r, "192.0.2.7", 0);
        assert_eq!((r.report.commands, r.report.refused), (0, 2));
        // The operator fixes it: the next knock opens, journaled.
        std::fs::remove_file(&blocker).unwrap();
        open_now(&mut r, "192.0.2.7", 0);
        assert_eq!(r.report.commands, 1);
        assert!(
            std::fs::read_to_string(&journal)
                .unwrap()
                .contains("close 192.0.2.7")
        );
    }

    #[test]
    fn open_without_journal_opens_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("state");
        std::fs::write(&blocker, "").unwrap();
        let source = Source::Live {
            interface: "veth0".into(),
            journal: Some(blocker.join("pending")),
            open_without_journal: true,
        };
        let doors = vec![info("ssh", "open %IP%", Some("close %IP%"), 10)];
        let (mut r, _clock, log) = runner(&source, doors, opts(true));
        open_now(&mut r, "192.0.2.7", 0);
        assert_eq!((r.report.commands, r.report.refused), (1, 0));
        assert!(
            log.lines()
                .iter()
                .any(|l| l.starts_with("192.0.2.7: ssh: cannot open journal")
                    && l.ends_with("opening anyway (--open-without-journal)")),
            "{:?}",
            log.lines()
        );
    }

    #[test]
    fn a_damaged_journal_line_is_reported_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("pending");
        // A checked line whose command was changed after its checksum, and
        // a legacy line cut short by a crash (no newline).
        std::fs::write(
            &journal,
            "*4\t0\tssh\tclose 192.0.2.7\t#00000000\n+5\t0\tssh\tclose 192.0",
        )
        .unwrap();
        let (r, _clock, log) = fake_runner(
            vec![info("ssh", "open", Some("close"), 10)],
            Some(journal),
            Limits::default(),
        );
        assert!(r.timers.is_empty(), "nothing replayed");
        let lines = log.lines();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("line 1: checksum mismatch")),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("line 2: incomplete")),
            "{lines:?}"
        );
    }
}
