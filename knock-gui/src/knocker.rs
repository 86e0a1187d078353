//! Knocking off the UI thread.
//!
//! A [`Knocker`] starts a [`Job`]: the knock runs elsewhere and reports
//! [`Event`]s on a channel, waking the UI after each one. The real
//! [`ThreadKnocker`] runs [`knock_profiles::send::run`] with the system's
//! sockets and clock on a worker thread; tests plug in a fake that replays
//! scripted events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

use knock_profiles::send::{self, Outcome, Plan, Progress, SendError, SystemClock, SystemNet};

/// What a running knock reports.
#[derive(Debug)]
pub enum Event {
    Progress(Progress),
    /// The last event of a job.
    Finished(Result<Outcome, SendError>),
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
                    self.finished = matches!(event, Event::Finished(_));
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
        self.finished = matches!(event, Event::Finished(_));
        Some(event)
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// Starts knocks. `wake` is called after every event (the UI repaints).
pub trait Knocker {
    fn start(&mut self, plan: Plan, wake: Box<dyn Fn() + Send>) -> Job;
}

/// The real sender on a worker thread.
#[derive(Debug, Default)]
pub struct ThreadKnocker;

impl Knocker for ThreadKnocker {
    fn start(&mut self, plan: Plan, wake: Box<dyn Fn() + Send>) -> Job {
        let (job, tx, cancel) = Job::channel();
        let spawned = std::thread::Builder::new()
            .name("knock".into())
            .spawn(move || {
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
