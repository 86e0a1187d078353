//! Knocking, as a job of the app's [`crate::worker::Worker`].
//!
//! A [`Knocker`] knocks a [`Work`] and reports [`KnockEvent`]s on the
//! job's emitter. The real [`SystemKnocker`] runs [`run_work`] with the
//! system's sockets and clocks. A rotating profile's secret is loaded on
//! the same worker ([`Work::load`]), then [`knock_profiles::send::run`]
//! derives, waits and knocks.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use knock_profiles::resolve::{LoadError, Resolved};
use knock_profiles::send::{
    self, KnockPlan, Net, Outcome, Progress, SendError, SystemNet, SystemTimer, SystemWall, Timer,
    WallClock,
};

use knock_profiles::secret::SecretSource;

use crate::rotation::SecretBackend;
use crate::worker::Emitter;

/// What to knock: a resolved knock, and where a rotating profile's secret
/// is loaded from.
pub struct Work {
    pub resolved: Resolved,
    pub secrets: Arc<dyn SecretBackend>,
}

impl Work {
    /// The knock ready to send: for a rotating profile, with its secret
    /// (keyring or command access: call it on the worker), like the CLI.
    pub fn load(&self) -> Result<KnockPlan, LoadError> {
        let secrets = |account: &str, source: &SecretSource| self.secrets.load(account, source);
        self.resolved.load(&secrets)
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
    let plan = match work.load() {
        Ok(plan) => plan,
        Err(e) => {
            emit(KnockEvent::NotStarted(e));
            return;
        }
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
