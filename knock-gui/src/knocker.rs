//! Knocking, as a job of the app's [`crate::worker::Worker`].
//!
//! A [`Knocker`] knocks a [`Work`] and reports [`KnockEvent`]s on the
//! job's emitter. The real [`SystemKnocker`] runs [`run_work`] with the
//! system's sockets and clocks. A rotating profile's secret is loaded on
//! the same worker ([`Prep`]), then [`knock_profiles::send::run`] derives,
//! waits and knocks.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use knock_profiles::resolve::{LoadError, Resolved};
use knock_profiles::send::{
    self, KnockPlan, Net, Outcome, Progress, SendError, SystemNet, SystemTimer, SystemWall, Timer,
    WallClock,
};

use crate::rotation::{Prep, SecretBackend};
use crate::worker::Emitter;

/// What to knock.
pub enum Work {
    /// A fixed sequence (a profile or the quick knock).
    Fixed(KnockPlan),
    /// A rotating profile: its secret is loaded and its sequences derived
    /// on the worker.
    Rotating(Box<Prep>),
}

impl Work {
    /// The work for a resolved knock: a fixed sequence as it is, a rotating
    /// profile with where its secret is loaded from.
    pub fn new(resolved: Resolved, secrets: Arc<dyn SecretBackend>) -> Work {
        match resolved.fixed_plan() {
            Some(plan) => Work::Fixed(plan),
            None => Work::Rotating(Box::new(Prep { resolved, secrets })),
        }
    }
}

/// What a running knock reports.
#[derive(Debug)]
pub enum KnockEvent {
    Progress(Progress),
    /// The knock could not start (a rotating profile's secret); nothing
    /// was sent. The last event of a job.
    NotStarted(LoadError),
    /// The last event of a job.
    Finished(Result<Outcome, SendError>),
}

impl KnockEvent {
    /// Whether this is the last event of a job.
    pub fn is_last(&self) -> bool {
        matches!(self, KnockEvent::Finished(_) | KnockEvent::NotStarted(_))
    }
}

/// Knocks `work` to the end with [`send::run`]: a rotating profile's
/// secret first (if it cannot be read, [`KnockEvent::NotStarted`] and
/// nothing is sent), with time steps from `wall`. Every event, the last one
/// included, goes to `emit`.
pub fn run_work(
    work: Work,
    net: &mut dyn Net,
    timer: &dyn Timer,
    wall: &dyn WallClock,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(KnockEvent),
) {
    let plan = match work {
        Work::Fixed(plan) => plan,
        Work::Rotating(prep) => match prep.load() {
            Ok(plan) => plan,
            Err(e) => {
                emit(KnockEvent::NotStarted(e));
                return;
            }
        },
    };
    let mut progress = |p: &Progress| emit(KnockEvent::Progress(p.clone()));
    let result = send::run(&plan, net, timer, wall, cancel, &mut progress);
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
            &SystemTimer,
            &SystemWall,
            emit.cancel_flag(),
            &mut |e| emit.send(e),
        );
    }
}
