//! Knocking off the UI thread.
//!
//! A [`Knocker`] starts a [`Job`]: the knock runs elsewhere and reports
//! [`Event`]s on a channel, waking the UI after each one. The real
//! [`ThreadKnocker`] runs [`knock_profiles::send::run`] with the system's
//! sockets and clock on a worker thread; tests plug in a fake that replays
//! scripted events. A rotating profile first goes through its [`Prep`]
//! stage on the same worker ([`prepare`]): secret, period boundary, sequence.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

use knock_profiles::send::{self, Outcome, Plan, Progress, SendError, SystemClock, SystemNet};

use crate::rotation::{Note, Prep, PrepError};

/// What to knock.
pub enum Work {
    /// A fixed sequence (a profile or the quick knock).
    Fixed(Plan),
    /// A rotating profile: its sequence is derived on the worker.
    Rotating(Box<Prep>),
}

/// What a running knock reports.
#[derive(Debug)]
pub enum Event {
    /// A rotating profile's stage before the knocks.
    Rotation(Note),
    Progress(Progress),
    /// The knock could not start (a rotating profile's secret); nothing
    /// was sent. The last event of a job.
    NotStarted(PrepError),
    /// The last event of a job.
    Finished(Result<Outcome, SendError>),
}

impl Event {
    /// Whether this is the last event of a job.
    pub fn is_last(&self) -> bool {
        matches!(self, Event::Finished(_) | Event::NotStarted(_))
    }
}

/// The plan of `work`: a fixed one as it is; a rotating one after its
/// [`Prep`] stage, whose notes go to `emit`. `None` when it cannot start
/// (the last event, [`Event::NotStarted`] or a cancel, was emitted).
pub fn prepare(work: Work, cancel: &AtomicBool, emit: &mut dyn FnMut(Event)) -> Option<Plan> {
    match work {
        Work::Fixed(plan) => Some(plan),
        Work::Rotating(prep) => match prep.run(cancel, &mut |note| emit(Event::Rotation(note))) {
            Ok(plan) => Some(plan),
            Err(PrepError::Cancelled) => {
                emit(Event::Finished(Err(SendError::Cancelled)));
                None
            }
            Err(e) => {
                emit(Event::NotStarted(e));
                None
            }
        },
    }
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
                let plan = prepare(work, &cancel, &mut |event| {
                    let _ = tx.send(event);
                    wake();
                });
                let Some(plan) = plan else {
                    return;
                };
                let mut net = SystemNet;
                let clock = SystemClock;
                let result = send::run(&plan, &mut net, &clock, &cancel, &mut |p| {
                    // A closed receiver means the UI moved on; keep going quietly.
                    let _ = tx.send(Event::Progress(p.clone()));
                    wake();
                });
                let _ = tx.send(Event::Finished(result));
                wake();
            });
        // If the thread cannot start, the sender is dropped with it and the
        // job reports a failure on the next poll.
        let _ = spawned;
        job
    }
}
