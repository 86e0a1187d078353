//! Work off the UI thread, one way for all of it: a knock, a Secret action,
//! a secret moving in the keyring.
//!
//! [`Worker::start`] runs a job on a thread of its own; the job reports on
//! an [`Emitter`] (a channel that also wakes the UI with
//! `ctx.request_repaint()`), and the app takes the reports in from the
//! job's [`Task`] once per frame. A job that ends, however it ends, closes
//! its channel, so the app also learns when a worker went away without
//! saying how it did.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

/// Where jobs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Worker {
    /// A thread per job (the app).
    #[default]
    Threads,
    /// Right away on the caller's thread (tests with fakes that do not
    /// block).
    Inline,
}

impl Worker {
    /// Runs `job` with an [`Emitter`] for its reports, and returns the
    /// [`Task`] that receives them. `wake` (the UI's context) is asked to
    /// repaint after every report.
    pub fn start<T: Send + 'static>(
        self,
        name: &str,
        wake: Option<&egui::Context>,
        job: impl FnOnce(Emitter<T>) + Send + 'static,
    ) -> Task<T> {
        let (task, emitter) = Task::channel(wake.cloned());
        match self {
            Worker::Inline => job(emitter),
            Worker::Threads => {
                // If no thread can start, the job and its emitter are
                // dropped: the task reports that it closed.
                let _ = std::thread::Builder::new()
                    .name(name.to_string())
                    .spawn(move || job(emitter));
            }
        }
        task
    }
}

/// The job's end of a [`Task`]: sends reports, sees the cancel flag.
#[derive(Debug, Clone)]
pub struct Emitter<T> {
    reports: Sender<T>,
    cancel: Arc<AtomicBool>,
    wake: Option<egui::Context>,
}

impl<T> Emitter<T> {
    /// Sends one report and wakes the UI. A UI that went away is not the
    /// job's problem: the report is dropped.
    pub fn send(&self, report: T) {
        let _ = self.reports.send(report);
        if let Some(ctx) = &self.wake {
            ctx.request_repaint();
        }
    }

    /// Set when the UI asked the job to stop.
    pub fn cancel_flag(&self) -> &Arc<AtomicBool> {
        &self.cancel
    }
}

/// The UI's end of a job: its reports and its cancel flag.
#[derive(Debug)]
pub struct Task<T> {
    reports: Receiver<T>,
    cancel: Arc<AtomicBool>,
}

impl<T> Task<T> {
    /// A task and the emitter that feeds it (for [`Worker::start`], and for
    /// tests that play the job themselves).
    pub fn channel(wake: Option<egui::Context>) -> (Task<T>, Emitter<T>) {
        let (tx, rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let emitter = Emitter {
            reports: tx,
            cancel: Arc::clone(&cancel),
            wake,
        };
        (
            Task {
                reports: rx,
                cancel,
            },
            emitter,
        )
    }

    /// The next report, without blocking: `None` while there is none yet;
    /// `gone()` in its place when the job ended without sending one (it
    /// went away without its answer).
    pub fn try_next(&self, gone: impl FnOnce() -> T) -> Option<T> {
        match self.reports.try_recv() {
            Ok(report) => Some(report),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(gone()),
        }
    }

    /// The next report, waiting for it (the headless mode); `None` once
    /// the job ended.
    pub fn wait(&self) -> Option<T> {
        self.reports.recv().ok()
    }

    /// Asks the job to stop at its next step.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reports_arrive_in_order_then_the_task_closes() {
        for worker in [Worker::Inline, Worker::Threads] {
            let task = worker.start("test", None, |emit: Emitter<u32>| {
                emit.send(1);
                emit.send(2);
            });
            assert_eq!(task.wait(), Some(1));
            assert_eq!(task.wait(), Some(2));
            assert_eq!(task.wait(), None);
            assert_eq!(task.try_next(|| 0), Some(0), "closed");
        }
    }

    #[test]
    fn the_job_sees_a_cancel() {
        let (task, emit) = Task::channel(None);
        assert_eq!(task.try_next(|| "gone"), None, "nothing yet");
        task.cancel();
        assert!(emit.cancel_flag().load(Ordering::Relaxed));
        drop(emit);
        assert_eq!(task.try_next(|| "gone"), Some("gone"));
    }
}
