//! One knock run as the user sees it: a list of steps (resolved, each knock,
//! verify, launch) and where it ended. Fed by [`KnockEvent`]s.

use std::net::IpAddr;

use knock_profiles::resolve::Resolved;
use knock_profiles::send::{Outcome, Progress, SendError};

use crate::knocker::KnockEvent;
use crate::worker::Task;

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Info,
    Knock,
    Waiting,
    Good,
    Bad,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    pub text: String,
}

/// Where a run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// Knocks went out (and the port opened, if verified); the text says so.
    Done(String),
    Failed(String),
    Cancelled,
}

#[derive(Debug)]
pub struct Run {
    /// Profile name, or "Quick knock".
    pub title: String,
    pub host: String,
    /// Knocks per attempt.
    pub total: usize,
    /// Knocks sent in the current attempt.
    pub sent: usize,
    pub attempt: u32,
    pub addr: Option<IpAddr>,
    pub steps: Vec<Step>,
    pub state: RunState,
    /// Launch after a successful knock; taken when it is done.
    /// The knock of "Knock & connect": its `connect` is started after a
    /// successful knock; taken when it is done.
    pub connect: Option<Resolved>,
    task: Option<Task<KnockEvent>>,
}

impl Run {
    pub fn new(
        title: impl Into<String>,
        host: impl Into<String>,
        total: usize,
        task: Option<Task<KnockEvent>>,
        connect: Option<Resolved>,
    ) -> Run {
        Run {
            title: title.into(),
            host: host.into(),
            total,
            sent: 0,
            attempt: 1,
            addr: None,
            steps: Vec::new(),
            state: RunState::Running,
            connect,
            task,
        }
    }

    pub fn is_running(&self) -> bool {
        self.state == RunState::Running
    }

    /// Fraction of the knocks of the current attempt sent.
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            return 0.0;
        }
        self.sent as f32 / self.total as f32
    }

    pub fn cancel(&self) {
        if let Some(task) = &self.task {
            task.cancel();
        }
    }

    /// Takes in what the worker reported. A worker that went away without
    /// finishing is reported as cancelled. Returns true if something
    /// changed.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        while let Some(task) = &self.task {
            let Some(event) = task.try_next(|| KnockEvent::Finished(Err(SendError::Cancelled)))
            else {
                break;
            };
            changed = true;
            if event.is_last() {
                self.task = None;
            }
            self.apply(event);
        }
        changed
    }

    pub fn push(&mut self, kind: StepKind, text: impl Into<String>) {
        self.steps.push(Step {
            kind,
            text: text.into(),
        });
    }

    /// Replaces a trailing "waiting" step, so the list shows the result
    /// where the wait was.
    fn settle(&mut self, kind: StepKind, text: String) {
        if self
            .steps
            .last()
            .is_some_and(|s| s.kind == StepKind::Waiting)
        {
            self.steps.pop();
        }
        self.push(kind, text);
    }

    pub fn apply(&mut self, event: KnockEvent) {
        match event {
            KnockEvent::Progress(p) => self.progress(p),
            KnockEvent::NotStarted(e) => {
                self.connect = None;
                let text = e.to_string();
                self.settle(StepKind::Bad, text.clone());
                self.state = RunState::Failed(text);
            }
            KnockEvent::Finished(result) => self.finish(result),
        }
    }

    /// A line for a new attempt, once, before its first step.
    fn start_attempt(&mut self, attempt: u32) {
        if attempt != self.attempt {
            self.attempt = attempt;
            self.push(StepKind::Info, format!("Attempt {attempt}: knocking again"));
        }
    }

    fn progress(&mut self, p: Progress) {
        match p {
            Progress::Resolved { host, addr, others } => {
                self.addr = Some(addr);
                let more = match others {
                    0 => String::new(),
                    1 => " (1 more address; knocking this one)".to_string(),
                    n => format!(" ({n} more addresses; knocking this one)"),
                };
                if host == addr.to_string() {
                    self.push(StepKind::Info, format!("Knocking {addr}"));
                } else {
                    self.push(StepKind::Info, format!("Resolved {host} to {addr}{more}"));
                }
            }
            Progress::Knocked {
                attempt,
                index,
                total,
                knock,
                to,
            } => {
                self.start_attempt(attempt);
                self.total = total;
                self.sent = index + 1;
                self.push(
                    StepKind::Knock,
                    format!(
                        "Knock {} of {total}: {} {} to {}",
                        index + 1,
                        knock.proto.as_str().to_uppercase(),
                        knock.port,
                        to.ip()
                    ),
                );
            }
            Progress::Verifying { to, .. } => {
                self.push(
                    StepKind::Waiting,
                    format!("Waiting for port {} to open…", to.port()),
                );
            }
            Progress::Opened { to, after } => {
                self.settle(
                    StepKind::Good,
                    format!(
                        "Port {} opened after {:.1} s",
                        to.port(),
                        after.as_secs_f32()
                    ),
                );
            }
            Progress::NotOpened { attempt, to } => {
                self.settle(
                    StepKind::Bad,
                    format!("Port {} did not open (attempt {attempt})", to.port()),
                );
            }
            Progress::WaitingForPeriod {
                attempt,
                wait,
                period,
            } => {
                self.start_attempt(attempt);
                self.push(
                    StepKind::Waiting,
                    format!(
                        "Waiting {} ms for the next period ({} s)",
                        wait.as_millis(),
                        period.as_secs()
                    ),
                );
            }
            Progress::Derived {
                attempt,
                step,
                sequence,
            } => {
                self.start_attempt(attempt);
                // The wait is over: keep its line, without the spinner.
                if let Some(last) = self.steps.last_mut()
                    && last.kind == StepKind::Waiting
                {
                    last.kind = StepKind::Info;
                }
                self.total = sequence.len();
                self.sent = 0;
                self.push(
                    StepKind::Info,
                    format!("Rotating sequence of step {step}: {sequence}"),
                );
            }
        }
    }

    fn finish(&mut self, result: Result<Outcome, SendError>) {
        self.state = match result {
            Ok(outcome) => {
                let text = match outcome.opened {
                    Some(true) => format!("Door open on {}", outcome.addr),
                    _ => format!("Knocks sent to {}", outcome.addr),
                };
                self.addr = Some(outcome.addr);
                RunState::Done(text)
            }
            Err(SendError::Cancelled) => {
                self.connect = None;
                if self
                    .steps
                    .last()
                    .is_some_and(|s| s.kind == StepKind::Waiting)
                {
                    self.steps.pop();
                }
                self.push(StepKind::Bad, "Cancelled");
                RunState::Cancelled
            }
            Err(e) => {
                self.connect = None;
                let text = e.to_string();
                self.settle(StepKind::Bad, text.clone());
                RunState::Failed(text)
            }
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use knock_profiles::Knock;
    use std::time::Duration;

    #[test]
    fn steps_follow_the_events() {
        let (task, tx) = Task::channel(None);
        let mut run = Run::new("myserver", "myserver", 2, Some(task), None);
        let addr: IpAddr = "192.0.2.1".parse().unwrap();
        let to = |port| std::net::SocketAddr::new(addr, port);
        let events = [
            Progress::Resolved {
                host: "myserver".into(),
                addr,
                others: 1,
            },
            Progress::Knocked {
                attempt: 1,
                index: 0,
                total: 2,
                knock: Knock::tcp(7000),
                to: to(7000),
            },
            Progress::Knocked {
                attempt: 1,
                index: 1,
                total: 2,
                knock: Knock::udp(8000),
                to: to(8000),
            },
            Progress::Verifying {
                attempt: 1,
                to: to(22),
            },
            Progress::Opened {
                to: to(22),
                after: Duration::from_millis(400),
            },
        ];
        for e in events {
            tx.send(KnockEvent::Progress(e));
        }
        tx.send(KnockEvent::Finished(Ok(Outcome {
            addr,
            attempts: 1,
            opened: Some(true),
        })));
        assert!(run.poll());
        let texts: Vec<&str> = run.steps.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Resolved myserver to 192.0.2.1 (1 more address; knocking this one)",
                "Knock 1 of 2: TCP 7000 to 192.0.2.1",
                "Knock 2 of 2: UDP 8000 to 192.0.2.1",
                "Port 22 opened after 0.4 s",
            ]
        );
        assert_eq!(run.state, RunState::Done("Door open on 192.0.2.1".into()));
        assert_eq!(run.fraction(), 1.0);
        assert!(!run.poll());
    }

    #[test]
    fn a_vanished_worker_ends_the_run() {
        let (task, tx) = Task::channel(None);
        let mut run = Run::new("x", "x", 1, Some(task), None);
        drop(tx);
        run.poll();
        assert_eq!(run.state, RunState::Cancelled);
    }
}
