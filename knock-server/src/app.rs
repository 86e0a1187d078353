//! What `main` runs: `--check`, `--read` replay, or the live daemon.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use knock_profiles::knockd_conf::{KnockdConfError, KnockdConfig};
use pcap::{Active, Capture};

use crate::capture::{self, CaptureError, Ended};
use crate::cli::Args;
use crate::clock::wall_ms;
use crate::detector::{Destinations, Detector};
use crate::doors::{self, DoorInfo};
use crate::event::Link;
use crate::filter;
use crate::journal::Journal;
use crate::logger::Logger;
use crate::one_time::OneTimeFile;
use crate::pipeline::Pipeline;
use crate::rotation::{self, Rotating, Rotator};
use crate::runner::{self, Message, OneTime, RunnerOptions, RunnerReport, ToWorker, WorkerRx};
use crate::source::Source;
use crate::spa_doors::{self, SpaDoorSpec, SpaDoors};
use crate::sys;

/// Bounded queue between the packet thread and the worker.
const QUEUE: usize = 4096;

/// An error and its causes on one line (see [`knock_profiles::message::one_line`]).
pub fn one_line(err: &anyhow::Error) -> String {
    knock_profiles::message::one_line(err.as_ref())
}

fn load(path: &Path) -> Result<KnockdConfig> {
    Ok(KnockdConfig::load(path)?)
}

/// Everything built from one config for the packet thread.
struct Built {
    pipeline: Pipeline,
    infos: Arc<Vec<DoorInfo>>,
    /// For the worker: the one-time sequence files.
    one_time: OneTime,
}

/// What `--check`, start-up and reload all check and build from a config:
/// the detector's limits, the rotating doors' secrets and the one-time
/// sequence files, with the same errors (`conf:line: door "NAME": ...`).
struct Prepared {
    rotating: Vec<(String, knock_profiles::rotate::Rotation)>,
    layout: doors::Layout,
    files: Vec<Option<OneTimeFile>>,
    /// The SPA doors, their access files read.
    spa: Vec<SpaDoorSpec>,
}

fn prepare(cfg: &KnockdConfig, config: &Path, log: &Logger) -> Result<Prepared> {
    doors::check_capacity(cfg, config)?;
    let rotating = load_rotations(cfg, config)?;
    let mut layout = doors::layout(cfg);
    let spa = load_spa(cfg, config, layout.spa_base, log)?;
    let mut files = Vec::new();
    for (i, path) in layout.one_time.iter().enumerate() {
        let Some(path) = path else {
            files.push(None);
            continue;
        };
        let name = &layout.infos[i].name;
        let line = cfg.doors.get(i).map_or(0, |d| d.line);
        match OneTimeFile::open(path) {
            Ok(Some(f)) => {
                let len = f.sequence.knocks().len();
                doors::check_length(config, name, line, len, "one-time sequence")?;
                layout.specs[i].knocks = f.sequence.knocks().to_vec();
                files.push(Some(f));
            }
            Ok(None) => {
                log.warn(&format!(
                    "{name}: one-time sequences used up; door disabled"
                ));
                layout.specs[i].enabled = false;
                files.push(None);
            }
            Err(e) => return Err(KnockdConfError::door(config, line, name, e).into()),
        }
    }
    Ok(Prepared {
        rotating,
        layout,
        files,
        spa,
    })
}

/// Each SPA door with its access file read (refused when group or others
/// can read it); the lines of it that fwknopd would ignore are warned
/// about. `base` is the worker index of the first SPA door.
fn load_spa(
    cfg: &KnockdConfig,
    config: &Path,
    base: usize,
    log: &Logger,
) -> Result<Vec<SpaDoorSpec>> {
    let mut out = Vec::with_capacity(cfg.spa.len());
    for (i, d) in cfg.spa.iter().enumerate() {
        let access = spa_doors::load_access(&d.access_file)
            .map_err(|e| KnockdConfError::door(config, d.line, &d.name, e))?;
        for w in &access.warnings {
            log.warn_as_is(&w.to_string());
        }
        out.push(SpaDoorSpec {
            port: d.port,
            target: d.target,
            access,
            default_open_secs: u32::try_from(d.commands.cmd_timeout.as_secs()).unwrap_or(u32::MAX),
            info: base + i,
        });
    }
    Ok(out)
}

fn build(
    cfg: &KnockdConfig,
    args: &Args,
    source: &Source,
    destinations: Destinations,
    to: ToWorker,
    log: &Logger,
) -> Result<Built> {
    let Prepared {
        rotating,
        layout,
        files,
        spa,
    } = prepare(cfg, &args.config, log)?;
    let spa = SpaDoors::new(spa, destinations.clone());
    let detector = Detector::new(layout.specs, destinations, args.table_size)
        .with_context(|| format!("{}", args.config.display()))?;
    let rotator = Rotator::new(
        rotating
            .into_iter()
            .zip(&layout.rotating_base)
            .map(|((name, rotation), base)| Rotating {
                name,
                rotation,
                base: *base,
            })
            .collect(),
    );
    // One update per door at most is outstanding.
    let (reply, updates) = sync_channel(layout.one_time.len() + 1);
    let one_time_doors = layout.one_time.iter().map(Option::is_some).collect();
    let pipeline = Pipeline::new(source, detector, to, args.log_rate, log.clone())
        .with_rotator(rotator)
        .with_one_time(one_time_doors, updates)
        .with_spa(spa)
        .ipv4_only(args.only_ipv4);
    Ok(Built {
        pipeline,
        infos: Arc::new(layout.infos),
        one_time: OneTime {
            files,
            reply: Some(reply),
        },
    })
}

/// Each rotating door's name and rotation, its secret read from its
/// Secret_File (refused when group or others can read it).
fn load_rotations(
    cfg: &KnockdConfig,
    config: &Path,
) -> Result<Vec<(String, knock_profiles::rotate::Rotation)>> {
    cfg.rotating
        .iter()
        .map(|d| {
            rotation::load(d)
                .map(|r| (d.name.clone(), r))
                .map_err(|e| KnockdConfError::door(config, d.line, &d.name, e).into())
        })
        .collect()
}

/// The capture filter as it may be logged: with rotating doors, their
/// ports are the current sequences, so only the fixed doors are shown.
fn loggable_filter(p: &Pipeline, addrs: &[std::net::IpAddr]) -> String {
    let det = &p.detector;
    let fixed: Vec<_> = det
        .doors()
        .iter()
        .enumerate()
        .filter(|(i, _)| det.step_of(*i).is_none())
        .map(|(_, d)| d.clone())
        .collect();
    let shown = filter::build(&fixed, p.spa().doors(), addrs).unwrap_or_else(|| "(none)".into());
    if p.rotator().is_empty() {
        shown
    } else {
        format!(
            "{shown} [+ the ports of {} rotating door(s), not logged]",
            p.rotator().doors().len()
        )
    }
}

/// `conf:line: warning: message`, compiler style: "warning:" once.
fn print_warnings(cfg: &KnockdConfig, log: &Logger) {
    for w in &cfg.warnings {
        log.warn_as_is(&w.to_string());
    }
}

fn summary(p: &Pipeline, r: &RunnerReport) -> String {
    let s = p.detector.stats();
    let spa = if p.spa().is_empty() && p.spa().stats().packets == 0 {
        String::new()
    } else {
        let t = p.spa().stats();
        format!(
            ", {} SPA packets ({} accepted, {} refused, of them {} replayed or stale; {} lost)",
            t.packets,
            t.accepted,
            t.refused,
            t.replayed,
            p.spa_lost()
        )
    };
    format!(
        "{} packets ({} TCP/UDP), {} considered, {} opened, {} commands ({} failed, {} killed), \
         {} stage-1 attempts evicted, {} first knocks dropped, {} replays refused, \
         {} opens refused (pending stops limit or journal), \
         {} opens not run (waiting queue full, or still waiting at exit), \
         {} opens lost (worker queue and backlog full){spa}",
        p.frames(),
        s.events,
        s.considered,
        r.opened,
        r.commands,
        r.failed,
        r.killed,
        s.evicted,
        s.dropped,
        s.replayed,
        r.refused,
        r.dropped,
        p.backlog().1
    )
}

/// Where packets come from, as the flags and the config say.
fn source(args: &Args, cfg: &KnockdConfig) -> Source {
    match &args.read {
        Some(file) => Source::Replay { file: file.clone() },
        None => Source::Live {
            interface: args
                .interface
                .clone()
                .or_else(|| cfg.options.interface.clone())
                .unwrap_or_else(|| "eth0".to_string()),
            // A dry run opens nothing, so it must not leave stops for a later run.
            journal: (!args.no_journal && !args.dry_run).then(|| args.journal.clone()),
            open_without_journal: args.open_without_journal,
        },
    }
}

fn worker_options(args: &Args) -> RunnerOptions {
    RunnerOptions {
        dry_run: args.dry_run,
        kill_after: Duration::from_secs(args.kill_after),
        lookup: args.lookup,
        limits: Default::default(),
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let log = Logger::new(args.verbose || args.read.is_some(), args.debug);
    let cfg = load(&args.config)?;
    if args.check {
        print_warnings(&cfg, &log);
        let prepared = prepare(&cfg, &args.config, &log)?;
        let access: Vec<_> = prepared.spa.iter().map(|s| s.access.clone()).collect();
        print!(
            "{}",
            doors::describe(&cfg, &args.config.display().to_string(), &access)
        );
        // Rotating doors' slots are disabled in the layout: their ports are not shown.
        if let Some(f) = filter::build(&doors::layout(&cfg).specs, &prepared.spa, &[]) {
            println!("capture filter (ports and flags; destinations added at start): {f}");
        }
        if !cfg.rotating.is_empty() {
            println!("rotating doors: their ports join the capture filter each period (not shown)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    print_warnings(&cfg, &log);
    let source = source(&args, &cfg);
    match &source {
        Source::Replay { file } => replay(&args, &cfg, &source, file, log),
        Source::Live { interface, .. } => {
            let iface = interface.clone();
            let (daemon, worker) = Daemon::start(args, cfg, source, iface, log)?;
            daemon.run(worker)
        }
    }
}

fn replay(
    args: &Args,
    cfg: &KnockdConfig,
    source: &Source,
    file: &Path,
    log: Logger,
) -> Result<ExitCode> {
    if let Some(f) = &args.logfile {
        log.open_file(f)
            .with_context(|| format!("cannot open log file {}", f.display()))?;
    }
    let (to, rx) = runner::channels(QUEUE, QUEUE);
    let Built {
        mut pipeline,
        infos,
        one_time,
    } = build(cfg, args, source, Destinations::Any, to.clone(), &log)?;
    let (mut cap, link) = capture::open_file(file)?;
    // No BPF filter offline: the detector's own port check is cheaper than
    // libpcap's filter interpreter, and every packet of the file counts.
    let worker = runner::spawn(
        source,
        infos,
        one_time,
        log.clone(),
        worker_options(args),
        rx,
    )?;
    let never = AtomicBool::new(false);
    let t0 = std::time::Instant::now();
    let ended = capture::run(
        &mut cap,
        None,
        link,
        &mut pipeline,
        &never,
        &never,
        &mut |_, _| {},
    );
    let elapsed = t0.elapsed();
    pipeline.finish();
    to.control(Message::Shutdown);
    let report = worker
        .join()
        .map_err(|_| anyhow::anyhow!("worker thread panicked"))?;
    ended?;
    let n = pipeline.frames();
    log.info(&format!(
        "read {}: {} in {:.3}s ({:.0} packets/s)",
        file.display(),
        summary(&pipeline, &report),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64().max(1e-9)
    ));
    Ok(ExitCode::SUCCESS)
}

/// Puts the SPA replay digests a previous run journaled back into the
/// pipeline's replay cache, so a packet accepted before a crash or a
/// restart is still refused as a replay (live, with a journal and SPA doors).
fn remember_journaled(pipeline: &mut Pipeline, source: &Source, log: &Logger) {
    let Source::Live {
        journal: Some(path),
        ..
    } = source
    else {
        return;
    };
    if pipeline.spa().is_empty() {
        return;
    }
    let digests = match Journal::read_digests(path) {
        Ok(d) => d,
        Err(e) => {
            log.warn(&format!(
                "cannot read SPA replay digests from journal {}: {e}; packets accepted before \
                 this start could be replayed within their 2 minutes",
                path.display()
            ));
            return;
        }
    };
    let now = wall_ms() / 1000;
    let before = pipeline.spa().remembered();
    let mut full = 0;
    for (d, t) in digests {
        if !pipeline.spa_mut().remember(d, t, now) {
            full += 1;
        }
    }
    let n = pipeline.spa().remembered() - before;
    if n > 0 {
        log.info(&format!(
            "{n} SPA packet digest(s) from journal {} stay refused as replays",
            path.display()
        ));
    }
    if full > 0 {
        log.error(&format!(
            "{full} SPA packet digest(s) from journal {} did not fit the replay cache",
            path.display()
        ));
    }
}

fn write_pidfile(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).ok();
    }
    // Replaced, never written through: a symlink planted at the path is
    // swapped out, not followed.
    crate::files::replace(path, format!("{}\n", std::process::id()).as_bytes(), 0o644)
        .map(drop)
        .with_context(|| format!("cannot write pid file {}", path.display()))
}

/// The live daemon: the capture, what it feeds, and what a reload needs.
/// Doors without `Target` count knocks to `addrs`; with none known, to
/// any destination.
fn destinations_of(addrs: &[IpAddr]) -> Destinations {
    if addrs.is_empty() {
        Destinations::Any
    } else {
        Destinations::Only(addrs.to_vec())
    }
}

struct Daemon {
    args: Args,
    cfg: KnockdConfig,
    source: Source,
    log: Logger,
    iface: String,
    cap: Capture<Active>,
    link: Link,
    /// The capture's snap length (longer with SPA doors).
    snaplen: i32,
    /// The interface's addresses (the capture filter's destinations).
    addrs: Vec<IpAddr>,
    destinations: Destinations,
    /// pcap's counters when losses were last reported.
    counters: capture::Counters,
    /// The counters of captures closed before this one (the interface
    /// went away and came back), for the exit summary.
    earlier: capture::Counters,
    to: ToWorker,
    pipeline: Pipeline,
}

/// What the worker starts with, once the daemon has detached (a fork keeps
/// no thread).
struct WorkerStart {
    infos: Arc<Vec<DoorInfo>>,
    one_time: OneTime,
    rx: WorkerRx,
}

impl Daemon {
    /// Opens the capture (still privileged, before daemonizing) and builds
    /// the pipeline for `cfg`, with its capture filter in place.
    fn start(
        mut args: Args,
        cfg: KnockdConfig,
        source: Source,
        iface: String,
        log: Logger,
    ) -> Result<(Daemon, WorkerStart)> {
        // Reloads must find the file after daemonizing (which changes to /).
        if let Ok(abs) = std::fs::canonicalize(&args.config) {
            args.config = abs;
        }
        if let Some(f) = args.logfile.as_ref().or(cfg.options.log_file.as_ref())
            && let Err(e) = log.open_file(f)
        {
            log.warn(&format!("cannot open logfile {}: {e}", f.display()));
        }
        let snaplen = capture::snaplen(!cfg.spa.is_empty());
        let (mut cap, link) = capture::open_live(&iface, args.capture_buffer, snaplen)?;
        let addrs = capture::interface_addresses(&iface).unwrap_or_default();
        if addrs.is_empty() {
            log.warn(&format!(
                "{iface} has no IP address: knocks to any destination count"
            ));
        }
        let destinations = destinations_of(&addrs);
        let (to, rx) = runner::channels(QUEUE, QUEUE);
        let Built {
            mut pipeline,
            infos,
            one_time,
        } = build(&cfg, &args, &source, destinations.clone(), to.clone(), &log)?;
        pipeline.rotate(wall_ms());
        remember_journaled(&mut pipeline, &source, &log);
        let f = pipeline.filter(&addrs);
        capture::set_filter(&mut cap, f.as_deref())?;
        log.debug(&format!(
            "capture filter: {}",
            loggable_filter(&pipeline, &addrs)
        ));
        let daemon = Daemon {
            args,
            cfg,
            source,
            log,
            iface,
            cap,
            link,
            snaplen,
            addrs,
            destinations,
            counters: capture::Counters::default(),
            earlier: capture::Counters::default(),
            to,
            pipeline,
        };
        Ok((
            daemon,
            WorkerStart {
                infos,
                one_time,
                rx,
            },
        ))
    }

    /// Daemonizes (with `-d`), starts the worker, captures until SIGTERM or
    /// SIGINT (reloading on SIGHUP), then runs the pending stops.
    fn run(mut self, start: WorkerStart) -> Result<ExitCode> {
        if self.args.daemon {
            sys::daemonize().context("cannot daemonize")?;
        }
        // After daemonizing: syslog lines carry the pid of the process that
        // writes them (the syslog connection records it when opened).
        if self.cfg.options.use_syslog
            && let Err(e) = self.log.open_syslog()
        {
            self.log.warn(&format!("cannot open syslog: {e}"));
        }
        let pidfile: Option<PathBuf> = self
            .args
            .pidfile
            .clone()
            .or_else(|| self.cfg.options.pid_file.clone())
            .or_else(|| {
                self.args
                    .daemon
                    .then(|| PathBuf::from("/run/knock-server.pid"))
            });
        if let Some(p) = &pidfile {
            write_pidfile(p)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, Arc::clone(&stop))
                .context("cannot set signal handler")?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload))
            .context("cannot set signal handler")?;
        let worker = runner::spawn(
            &self.source,
            start.infos,
            start.one_time,
            self.log.clone(),
            worker_options(&self.args),
            start.rx,
        )?;
        self.log
            .info(&format!("starting up, listening on {}", self.iface));

        let result = self.capture(&stop, &reload);
        if let Err(e) = &result {
            // In the log file and syslog too, not only on stderr (gone
            // with -d): why the daemon stops.
            self.log
                .error(&format!("{e}; running pending stops and exiting"));
        }
        let now = self
            .cap
            .stats()
            .map(capture::Counters::from)
            .unwrap_or_default();
        self.log.info(&self.earlier.plus(&now).summary());
        self.log.info("shutting down");
        self.to.control(Message::Shutdown);
        let report = worker
            .join()
            .map_err(|_| anyhow::anyhow!("worker thread panicked"))?;
        self.log.info(&summary(&self.pipeline, &report));
        if let Some(p) = &pidfile {
            let _ = std::fs::remove_file(p);
        }
        result?;
        Ok(ExitCode::SUCCESS)
    }

    /// Feeds the pipeline until `stop`, reloading whenever `reload` is
    /// raised, looking at the interface every [`capture::HOUSEKEEPING`],
    /// and reopening it when it goes away and comes back.
    fn capture(&mut self, stop: &AtomicBool, reload: &AtomicBool) -> Result<(), CaptureError> {
        loop {
            let fd = capture::selectable_fd(&self.cap);
            let Daemon {
                cap,
                link,
                pipeline,
                addrs,
                log,
                ..
            } = self;
            let ended = capture::run(
                cap,
                Some(fd),
                *link,
                pipeline,
                stop,
                reload,
                &mut |cap, p| {
                    let f = p.filter(addrs);
                    if let Err(e) = capture::set_filter(cap, f.as_deref()) {
                        log.error(&e.to_string());
                    }
                },
            );
            match ended {
                Ok(Ended::Reload) => {
                    reload.store(false, Ordering::SeqCst);
                    self.reload();
                    self.follow_addresses();
                }
                Ok(Ended::Housekeeping) => {
                    self.follow_addresses();
                    self.report_losses();
                }
                Ok(Ended::Stopped | Ended::Eof) => return Ok(()),
                // The interface went away: a read or the wait for packets
                // fails first, whichever the kernel reports first.
                Err(CaptureError::Read(e)) => {
                    if !self.reopen(&e, stop)? {
                        return Ok(());
                    }
                }
                Err(CaptureError::Wait(e)) => {
                    if !self.reopen(&e, stop)? {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The capture failed (the interface went away): says so, then waits,
    /// up to `--interface-wait`, for the interface to come back and captures
    /// again. Pending stops keep running on time meanwhile (the worker is
    /// its own thread). `Ok(false)`: stopped while waiting.
    fn reopen(
        &mut self,
        error: &dyn std::fmt::Display,
        stop: &AtomicBool,
    ) -> Result<bool, CaptureError> {
        let wait = Duration::from_secs(self.args.interface_wait);
        self.log.error(&format!(
            "capture on {} failed: {error}; waiting up to {}s for it to come back",
            self.iface,
            wait.as_secs()
        ));
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(500);
        loop {
            // Sleep in short steps so SIGTERM is still prompt.
            let until = std::time::Instant::now() + pause;
            while std::time::Instant::now() < until {
                if stop.load(Ordering::Relaxed) {
                    return Ok(false);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            match capture::open_live(&self.iface, self.args.capture_buffer, self.snaplen) {
                Ok((cap, link)) => {
                    // The counters of the capture that failed are gone
                    // with it: what was last read of them is kept.
                    self.earlier = self.earlier.plus(&self.counters);
                    self.cap = cap;
                    self.link = link;
                    self.counters = capture::Counters::default();
                    self.addrs.clear();
                    self.follow_addresses();
                    self.refilter();
                    self.log
                        .info(&format!("{} is back: capturing again", self.iface));
                    return Ok(true);
                }
                Err(e) if started.elapsed() >= wait => {
                    return Err(CaptureError::Gone {
                        iface: self.iface.clone(),
                        secs: wait.as_secs(),
                        last: e.to_string(),
                    });
                }
                Err(_) => pause = (pause * 2).min(Duration::from_secs(10)),
            }
        }
    }

    /// Installs the filter for the doors and addresses as they are now.
    fn refilter(&mut self) {
        let f = self.pipeline.filter(&self.addrs);
        if let Err(e) = capture::set_filter(&mut self.cap, f.as_deref()) {
            self.log.error(&e.to_string());
        }
    }

    /// Picks up addresses added to or removed from the interface (DHCP, a
    /// second address, IPv6 autoconfiguration): knocks to a new address
    /// count from now on.
    fn follow_addresses(&mut self) {
        let Ok(now) = capture::interface_addresses(&self.iface) else {
            return;
        };
        if now == self.addrs {
            return;
        }
        let list = |a: &[IpAddr]| {
            if a.is_empty() {
                "none".to_string()
            } else {
                a.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        self.log.info(&format!(
            "{}: addresses now {} (were {})",
            self.iface,
            list(&now),
            list(&self.addrs)
        ));
        self.addrs = now;
        self.destinations = destinations_of(&self.addrs);
        self.pipeline
            .detector
            .set_destinations(self.destinations.clone());
        self.pipeline
            .spa_mut()
            .set_destinations(self.destinations.clone());
        self.refilter();
    }

    /// Says how many packets the kernel or the interface dropped since the
    /// last report, if any.
    fn report_losses(&mut self) {
        let Ok(st) = self.cap.stats() else {
            return;
        };
        let now = capture::Counters::from(st);
        if let Some(line) = now.losses_since(&self.counters, self.args.capture_buffer) {
            self.log.warn(&line);
        }
        self.counters = now;
    }

    /// SIGHUP: the config as it is on disk now replaces the running one,
    /// unless it does not load, build or filter; then the running one
    /// stays, and the log says why.
    fn reload(&mut self) {
        self.log.info(&format!(
            "re-reading config file {}",
            self.args.config.display()
        ));
        match self.replacement() {
            Ok((cfg, built)) => self.switch_to(cfg, built),
            Err(e) => self
                .log
                .error(&format!("reload failed: {e:#}; keeping the running config")),
        }
    }

    /// A pipeline for the config on disk, its capture filter installed.
    fn replacement(&mut self) -> Result<(KnockdConfig, Built)> {
        let cfg = load(&self.args.config)?;
        let mut built = build(
            &cfg,
            &self.args,
            &self.source,
            self.destinations.clone(),
            self.to.clone(),
            &self.log,
        )?;
        built.pipeline.rotate(wall_ms());
        let snaplen = capture::snaplen(!cfg.spa.is_empty());
        if snaplen > self.snaplen {
            // SPA doors need longer frames: a new capture (the old one's
            // counters are kept for the summary).
            let (cap, link) = capture::open_live(&self.iface, self.args.capture_buffer, snaplen)
                .map_err(|e| anyhow!(e.to_string()))?;
            if let Ok(st) = self.cap.stats() {
                self.earlier = self.earlier.plus(&capture::Counters::from(st));
            }
            self.counters = capture::Counters::default();
            self.cap = cap;
            self.link = link;
            self.snaplen = snaplen;
        }
        let f = built.pipeline.filter(&self.addrs);
        capture::set_filter(&mut self.cap, f.as_deref()).map_err(|e| anyhow!(e.to_string()))?;
        Ok((cfg, built))
    }

    fn switch_to(&mut self, cfg: KnockdConfig, built: Built) {
        print_warnings(&cfg, &self.log);
        if cfg.options.interface.is_some()
            && cfg.options.interface != self.cfg.options.interface
            && self.args.interface.is_none()
        {
            self.log
                .warn("a new Interface takes effect after a restart");
        }
        let had_spa = !self.pipeline.spa().is_empty();
        self.pipeline
            .reload(built.pipeline, built.infos, built.one_time);
        if !had_spa {
            // The first SPA doors since start: what the journal holds.
            remember_journaled(&mut self.pipeline, &self.source, &self.log);
        }
        self.log.info(&format!(
            "config reloaded: {} door(s)",
            cfg.doors.len() + cfg.rotating.len() + cfg.spa.len()
        ));
        self.cfg = cfg;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Says its cause in its message, so it has no `source()`.
    #[derive(Debug, thiserror::Error)]
    #[error("could not open eth9: {0}")]
    struct Quoting(std::io::Error);

    #[test]
    fn one_line_prints_each_cause_once() {
        let err = anyhow::Error::new(Quoting(std::io::Error::other("no such device")))
            .context("cannot start");
        assert_eq!(
            one_line(&err),
            "cannot start: could not open eth9: no such device"
        );
    }
}
