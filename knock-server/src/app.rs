//! What `main` runs: `--check`, `--read` replay, or the live daemon.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use knock_profiles::knockd_conf::KnockdConfig;

use crate::capture::{self, Ended};
use crate::cli::Args;
use crate::clock::wall_ms;
use crate::detector::{Destinations, Detector};
use crate::doors::{self, DoorInfo};
use crate::filter;
use crate::logger::Logger;
use crate::one_time::OneTimeFile;
use crate::pipeline::Pipeline;
use crate::rotation::{self, Rotating, Rotator};
use crate::runner::{self, ClockMode, Job, OneTime, RunnerOptions, RunnerReport, ToWorker};
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
    plan: doors::Plan,
    files: Vec<Option<OneTimeFile>>,
}

fn prepare(cfg: &KnockdConfig, config: &Path, log: &Logger) -> Result<Prepared> {
    doors::check_capacity(cfg, config).map_err(anyhow::Error::msg)?;
    let rotating = load_rotations(cfg, config)?;
    let mut plan = doors::plan(cfg);
    let mut files = Vec::new();
    for (i, path) in plan.one_time.iter().enumerate() {
        let Some(path) = path else {
            files.push(None);
            continue;
        };
        let name = &plan.infos[i].name;
        let line = cfg.doors.get(i).map_or(0, |d| d.line);
        match OneTimeFile::open(path) {
            Ok(Some(f)) => {
                let len = f.sequence.knocks().len();
                doors::check_length(config, name, line, len, "one-time sequence")
                    .map_err(anyhow::Error::msg)?;
                plan.specs[i].knocks = f.sequence.knocks().to_vec();
                files.push(Some(f));
            }
            Ok(None) => {
                log.warn(&format!(
                    "{name}: one-time sequences used up; door disabled"
                ));
                plan.specs[i].enabled = false;
                files.push(None);
            }
            Err(e) => bail!("{}:{line}: door \"{name}\": {e}", config.display()),
        }
    }
    Ok(Prepared {
        rotating,
        plan,
        files,
    })
}

fn build(
    cfg: &KnockdConfig,
    args: &Args,
    destinations: Destinations,
    to: ToWorker,
    log: &Logger,
) -> Result<Built> {
    let Prepared {
        rotating,
        plan,
        files,
    } = prepare(cfg, &args.config, log)?;
    let specs = plan.specs;
    let detector = Detector::new(specs, destinations, args.table_size)
        .with_context(|| format!("{}", args.config.display()))?;
    let mut pipeline = Pipeline::new(detector, to, args.log_rate, log.clone());
    // One update per door at most is outstanding.
    let (reply, updates) = sync_channel(plan.one_time.len() + 1);
    pipeline.set_one_time(plan.one_time.iter().map(Option::is_some).collect(), updates);
    pipeline.ipv4_only = args.only_ipv4;
    pipeline.rotator = Rotator::new(
        rotating
            .into_iter()
            .zip(&plan.rotating_base)
            .map(|((name, rotation), base)| Rotating {
                name,
                rotation,
                base: *base,
            })
            .collect(),
    );
    Ok(Built {
        pipeline,
        infos: Arc::new(plan.infos),
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
                .map_err(|e| anyhow::anyhow!(rotation::load_error(config, d, &e)))
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
    let shown = filter::build(&fixed, addrs).unwrap_or_else(|| "(none)".into());
    if p.rotator.is_empty() {
        shown
    } else {
        format!(
            "{shown} [+ the ports of {} rotating door(s), not logged]",
            p.rotator.doors().len()
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
    format!(
        "{} packets, {} considered, {} opened, {} commands ({} failed, {} killed), \
         {} stage-1 attempts evicted, {} first knocks dropped, {} replays refused, \
         {} opens refused (pending stops limit), \
         {} start commands dropped (queue full)",
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
        r.dropped
    )
}

pub fn run(args: Args) -> Result<ExitCode> {
    let log = Logger::new(args.verbose || args.read.is_some(), args.debug);
    let cfg = load(&args.config)?;
    if args.check {
        print_warnings(&cfg, &log);
        prepare(&cfg, &args.config, &log)?;
        print!(
            "{}",
            doors::describe(&cfg, &args.config.display().to_string())
        );
        // Rotating doors' slots are disabled in the plan: their ports are not shown.
        if let Some(f) = filter::build(&doors::plan(&cfg).specs, &[]) {
            println!("capture filter (ports and flags; destinations added at start): {f}");
        }
        if !cfg.rotating.is_empty() {
            println!("rotating doors: their ports join the capture filter each period (not shown)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    print_warnings(&cfg, &log);
    if let Some(path) = args.read.clone() {
        return replay(&args, &cfg, &path, log);
    }
    live(args, cfg, log)
}

fn replay(args: &Args, cfg: &KnockdConfig, path: &Path, log: Logger) -> Result<ExitCode> {
    if let Some(f) = &args.logfile {
        log.open_file(f)
            .with_context(|| format!("cannot open log file {}", f.display()))?;
    }
    let (to, rx) = runner::channels(QUEUE, QUEUE);
    let Built {
        mut pipeline,
        infos,
        one_time,
    } = build(cfg, args, Destinations::Any, to.clone(), &log)?;
    let (mut cap, link) = capture::open_file(path)?;
    pipeline.drive_clock = true;
    pipeline.sync_one_time = true;
    pipeline.in_order = true;
    // No BPF filter offline: the detector's own port check is cheaper than
    // libpcap's filter interpreter, and every packet of the file counts.
    let worker = runner::spawn(
        infos,
        one_time,
        log.clone(),
        RunnerOptions {
            dry_run: args.dry_run,
            kill_after: Duration::from_secs(args.kill_after),
            clock: ClockMode::Packet,
            lookup: args.lookup,
            journal: None,
            open_without_journal: false,
            limits: Default::default(),
        },
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
    to.control(Job::Shutdown);
    let report = worker
        .join()
        .map_err(|_| anyhow::anyhow!("worker thread panicked"))?;
    ended?;
    let n = pipeline.detector.stats().events;
    log.info(&format!(
        "read {}: {} in {:.3}s ({:.0} packets/s)",
        path.display(),
        summary(&pipeline, &report),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64().max(1e-9)
    ));
    Ok(ExitCode::SUCCESS)
}

fn write_pidfile(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(path, format!("{}\n", std::process::id()))
        .with_context(|| format!("cannot write pid file {}", path.display()))
}

fn live(mut args: Args, mut cfg: KnockdConfig, log: Logger) -> Result<ExitCode> {
    // Reloads must find the file after daemonizing (which changes to /).
    if let Ok(abs) = std::fs::canonicalize(&args.config) {
        args.config = abs;
    }
    let iface = args
        .interface
        .clone()
        .or_else(|| cfg.options.interface.clone())
        .unwrap_or_else(|| "eth0".to_string());
    if let Some(f) = args.logfile.as_ref().or(cfg.options.log_file.as_ref())
        && let Err(e) = log.open_file(f)
    {
        log.warn(&format!("cannot open logfile {}: {e}", f.display()));
    }
    let (mut cap, link) = capture::open_live(&iface)?;
    let fd = capture::selectable_fd(&cap);
    let addrs = capture::interface_addresses(&iface).unwrap_or_default();
    let destinations = if addrs.is_empty() {
        log.warn(&format!(
            "{iface} has no IP address: knocks to any destination count"
        ));
        Destinations::Any
    } else {
        Destinations::Only(addrs.clone())
    };
    let (to, rx) = runner::channels(QUEUE, QUEUE);
    let Built {
        mut pipeline,
        infos,
        one_time,
    } = build(&cfg, &args, destinations.clone(), to.clone(), &log)?;
    pipeline.rotate(wall_ms());
    let f = filter::build(pipeline.detector.doors(), &addrs);
    capture::set_filter(&mut cap, f.as_deref())?;
    log.debug(&format!(
        "capture filter: {}",
        loggable_filter(&pipeline, &addrs)
    ));

    if args.daemon {
        sys::daemonize().context("cannot daemonize")?;
    }
    // After daemonizing: syslog lines carry the pid of the process that
    // writes them (the syslog connection records it when opened).
    if cfg.options.use_syslog
        && let Err(e) = log.open_syslog()
    {
        log.warn(&format!("cannot open syslog: {e}"));
    }
    let pidfile: Option<PathBuf> = args
        .pidfile
        .clone()
        .or_else(|| cfg.options.pid_file.clone())
        .or_else(|| args.daemon.then(|| PathBuf::from("/run/knock-server.pid")));
    if let Some(p) = &pidfile {
        write_pidfile(p)?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot set signal handler")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload))
        .context("cannot set signal handler")?;

    let worker = runner::spawn(
        infos,
        one_time,
        log.clone(),
        RunnerOptions {
            dry_run: args.dry_run,
            kill_after: Duration::from_secs(args.kill_after),
            clock: ClockMode::Wall,
            lookup: args.lookup,
            // A dry run opens nothing, so it must not leave stops for a later run.
            journal: (!args.no_journal && !args.dry_run).then(|| args.journal.clone()),
            open_without_journal: args.open_without_journal,
            limits: Default::default(),
        },
        rx,
    )?;
    log.info(&format!("starting up, listening on {iface}"));

    let result = loop {
        let ended = capture::run(
            &mut cap,
            Some(fd),
            link,
            &mut pipeline,
            &stop,
            &reload,
            &mut |cap, p| {
                let f = filter::build(p.detector.doors(), &addrs);
                if let Err(e) = capture::set_filter(cap, f.as_deref()) {
                    log.error(&e.to_string());
                }
            },
        );
        match ended {
            Ok(Ended::Reload) => {
                reload.store(false, Ordering::SeqCst);
                log.info(&format!("re-reading config file {}", args.config.display()));
                match load(&args.config).and_then(|new| {
                    let mut built = build(&new, &args, destinations.clone(), to.clone(), &log)?;
                    let p = &mut built.pipeline;
                    p.rotate(wall_ms());
                    p.rotator
                        .carry_burns(&mut p.detector, &pipeline.rotator, &pipeline.detector);
                    Ok((new, built))
                }) {
                    Ok((new, built)) => {
                        let f = filter::build(built.pipeline.detector.doors(), &addrs);
                        match capture::set_filter(&mut cap, f.as_deref()) {
                            Ok(()) => {
                                print_warnings(&new, &log);
                                if new.options.interface.is_some()
                                    && new.options.interface != cfg.options.interface
                                    && args.interface.is_none()
                                {
                                    log.warn("a new Interface takes effect after a restart");
                                }
                                to.control(Job::Doors(built.infos, built.one_time));
                                let old = pipeline.detector.stats();
                                pipeline = built.pipeline;
                                pipeline.detector.carry_stats(old);
                                log.info(&format!(
                                    "config reloaded: {} door(s)",
                                    new.doors.len() + new.rotating.len()
                                ));
                                cfg = new;
                            }
                            Err(e) => log
                                .error(&format!("reload failed: {e}; keeping the running config")),
                        }
                    }
                    Err(e) => {
                        log.error(&format!("reload failed: {e:#}; keeping the running config"))
                    }
                }
            }
            Ok(Ended::Stopped) | Ok(Ended::Eof) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    if let Ok(st) = cap.stats() {
        log.info(&format!(
            "capture: {} packets received, {} dropped (ring full), {} dropped by the interface",
            st.received, st.dropped, st.if_dropped
        ));
    }
    log.info("shutting down");
    to.control(Job::Shutdown);
    let report = worker
        .join()
        .map_err(|_| anyhow::anyhow!("worker thread panicked"))?;
    log.info(&summary(&pipeline, &report));
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    result?;
    Ok(ExitCode::SUCCESS)
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
