//! Knocking, as a job of the app's [`crate::worker::Worker`].
//!
//! A [`Knocker`] knocks a [`Work`] and reports [`KnockEvent`]s on the
//! job's emitter. The real [`SystemKnocker`] runs [`run_work`] with the
//! system's sockets and clocks. A rotating profile's secret is loaded on
//! the same worker ([`Prep`]), then [`knock_profiles::send::run_rotating`]
//! derives, waits and knocks.

use std::sync::atomic::AtomicBool;

use knock_profiles::send::{
    self, Clock, Net, Outcome, Plan, Progress, SendError, SystemClock, SystemNet, SystemWall,
    WallClock,
};

use crate::rotation::{Prep, PrepError};
use crate::worker::Emitter;

/// What to knock.
pub enum Work {
    /// A fixed sequence (a profile or the quick knock).
    Fixed(Plan),
    /// A rotating profile: its secret is loaded and its sequences derived
    /// on the worker.
    Rotating(Box<Prep>),
}

/// What a running knock reports.
#[derive(Debug)]
pub enum KnockEvent {
    Progress(Progress),
    /// The knock could not start (a rotating profile's secret); nothing
    /// was sent. The last event of a job.
    NotStarted(PrepError),
    /// The last event of a job.
    Finished(Result<Outcome, SendError>),
}

impl KnockEvent {
    /// Whether this is the last event of a job.
    pub fn is_last(&self) -> bool {
        matches!(self, KnockEvent::Finished(_) | KnockEvent::NotStarted(_))
    }
}

/// Knocks `work` to the end: a fixed plan with [`send::run`]; a rotating
/// profile's secret first (if it cannot be read, [`KnockEvent::NotStarted`]
/// and nothing is sent), then [`send::run_rotating`], with time steps from
/// `wall`. Every event, the last one included, goes to `emit`.
pub fn run_work(
    work: Work,
    net: &mut dyn Net,
    clock: &dyn Clock,
    wall: &dyn WallClock,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(KnockEvent),
) {
    let mut progress = |p: &Progress| emit(KnockEvent::Progress(p.clone()));
    let result = match work {
        Work::Fixed(plan) => send::run(&plan, net, clock, cancel, &mut progress),
        Work::Rotating(prep) => match prep.load() {
            Ok(ready) => send::run_rotating(
                &ready.plan,
                &ready.rotating(wall),
                net,
                clock,
                cancel,
                &mut progress,
            ),
            Err(e) => {
                emit(KnockEvent::NotStarted(e));
                return;
            }
        },
    };
    emit(KnockEvent::Finished(result));
}

/// Runs knocks. The app calls [`Knocker::knock`] on its
/// [`crate::worker::Worker`], so an implementation may block. Tests plug
/// in a fake (scripted events, or [`run_work`] on a fake network and clock).
pub trait Knocker: Send + Sync {
    /// Knocks `work` to the end, reporting every event (the last one
    /// included) to `emit` and stopping when its cancel flag is set.
    fn knock(&self, work: Work, emit: Emitter<KnockEvent>);
}

/// The real sender: the system's sockets and clocks.
#[derive(Debug, Default)]
pub struct SystemKnocker;

impl Knocker for SystemKnocker {
    fn knock(&self, work: Work, emit: Emitter<KnockEvent>) {
        run_work(
            work,
            &mut SystemNet,
            &SystemClock,
            &SystemWall,
            emit.cancel_flag(),
            &mut |e| emit.send(e),
        );
    }
}
