//! Knocking off the UI thread.
//!
//! A [`Knocker`] starts a [`Job`]: the knock runs elsewhere and reports
//! [`Event`]s on a channel, waking the UI after each one. The real
//! [`ThreadKnocker`] runs [`run_work`] with the system's sockets and clocks
//! on a worker thread; tests plug in a fake (scripted events, or
//! [`run_work`] on a fake network and clock). A rotating profile's secret
//! is loaded on the same worker ([`Prep`]), then
//! [`knock_profiles::send::run`] derives, waits and knocks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

use knock_profiles::resolve::LoadError;
use knock_profiles::send::{
    self, KnockPlan, Net, Outcome, Progress, SendError, SystemNet, SystemTimer, SystemWall, Timer,
    WallClock,
};

use crate::rotation::Prep;

/// What to knock.
pub enum Work {
    /// A fixed sequence (a profile or the quick knock).
    Fixed(KnockPlan),
    /// A rotating profile: its secret is loaded and its sequences derived
    /// on the worker.
    Rotating(Box<Prep>),
}

/// What a running knock reports.
#[derive(Debug)]
pub enum Event {
    Progress(Progress),
    /// The knock could not start (a rotating profile's secret); nothing
    /// was sent. The last event of a job.
    NotStarted(LoadError),
    /// The last event of a job.
    Finished(Result<Outcome, SendError>),
}

impl Event {
    /// Whether this is the last event of a job.
    pub fn is_last(&self) -> bool {
        matches!(self, Event::Finished(_) | Event::NotStarted(_))
    }
}

/// Knocks `work` to the end with [`send::run`]: a rotating profile's
/// secret first (if it cannot be read, [`Event::NotStarted`] and nothing is
/// sent), with time steps from `wall`. Every event, the last one included,
/// goes to `emit`.
pub fn run_work(
    work: Work,
    net: &mut dyn Net,
    clock: &dyn Timer,
    wall: &dyn WallClock,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
) {
    let plan = match work {
        Work::Fixed(plan) => plan,
        Work::Rotating(prep) => match prep.load() {
            Ok(plan) => plan,
            Err(e) => {
                emit(Event::NotStarted(e));
                return;
            }
        },
    };
    let mut progress = |p: &Progress| emit(Event::Progress(p.clone()));
    let result = send::run(&plan, net, clock, wall, cancel, &mut progress);
    emit(Event::Finished(result));
}

/// A knock in flight: its events and its cancel flag.
#[derive(Debug)]
pub struct Job {
    events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    finished: bool,
}

impl Job {
    /// A job fed by the returned sender (for [`Knocker`] implementations).
    pub fn channel() -> (Job, Sender<Event>, Arc<AtomicBool>) {
        let (tx, rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let job = Job {
            events: rx,
            cancel: Arc::clone(&cancel),
            finished: false,
        };
        (job, tx, cancel)
    }

    /// Asks the worker to stop at its next step.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Events that arrived so far, without blocking. A worker that went away
    /// without finishing is reported as a failure.
    pub fn poll(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while !self.finished {
            match self.events.try_recv() {
                Ok(event) => {
                    self.finished = event.is_last();
                    out.push(event);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.finished = true;
                    out.push(Event::Finished(Err(SendError::Cancelled)));
                }
            }
        }
        out
    }

    /// Waits for the next event (the headless mode).
    pub fn wait(&mut self) -> Option<Event> {
        if self.finished {
            return None;
        }
        let event = self
            .events
            .recv()
            .unwrap_or(Event::Finished(Err(SendError::Cancelled)));
        self.finished = event.is_last();
        Some(event)
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// Starts knocks. `wake` is called after every event (the UI repaints).
pub trait Knocker {
    fn start(&mut self, work: Work, wake: Box<dyn Fn() + Send>) -> Job;
}

/// The real sender on a worker thread.
#[derive(Debug, Default)]
pub struct ThreadKnocker;

impl Knocker for ThreadKnocker {
    fn start(&mut self, work: Work, wake: Box<dyn Fn() + Send>) -> Job {
        let (job, tx, cancel) = Job::channel();
        let spawned = std::thread::Builder::new()
            .name("knock".into())
            .spawn(move || {
                // A closed receiver means the UI moved on; keep going quietly.
                run_work(
                    work,
                    &mut SystemNet,
                    &SystemTimer,
                    &SystemWall,
                    &cancel,
                    &mut |e| {
                        let _ = tx.send(e);
                        wake();
                    },
                );
            });
        // If the thread cannot start, the sender is dropped with it and the
        // job reports a failure on the next poll.
        let _ = spawned;
        job
    }
}
