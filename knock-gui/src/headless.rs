//! `knock-gui --knock-headless NAME`: knock a saved profile through the
//! app's own worker, sender ([`SystemKnocker`]) and progress model,
//! printing each step, without opening a window. Used by the end-to-end
//! test against knockd; exit codes follow the `knock` CLI (a rotating profile whose
//! secret cannot be read is a config error, 3).

use std::process::ExitCode;

use std::sync::Arc;

use knock_profiles::resolve::{Overrides, resolve};
use knock_profiles::send::SendError;
use knock_profiles::send::exit_code as code;
use knock_profiles::store::{self, Store};

use crate::knocker::{KnockEvent, Knocker, SystemKnocker, Work};
use crate::progress::Run;
use crate::rotation::OsSecrets;
use crate::worker::Worker;

pub fn run(name: &str) -> ExitCode {
    let store = match store::locate(None).and_then(|path| Store::open(&path)) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("knock-gui: {e}");
            return ExitCode::from(code::CONFIG);
        }
    };
    let resolved = match store
        .settings(name)
        .map_err(|e| e.to_string())
        .and_then(|s| resolve(s, &Overrides::default()).map_err(|e| e.to_string()))
    {
        Ok(resolved) => resolved,
        Err(e) => {
            eprintln!("knock-gui: {e}");
            return ExitCode::from(code::CONFIG);
        }
    };
    let (host, total) = (resolved.host.to_string(), resolved.knocks.len());
    // A rotating profile loads its secret on the worker, like in the window.
    let work = Work {
        resolved,
        secrets: Arc::new(OsSecrets),
    };
    let task = Worker::Threads.start("knock", None, move |emit| SystemKnocker.knock(work, emit));
    let mut view = Run::new(name, &host, total, None, None);
    let mut status = code::OTHER;
    let mut printed = 0;
    let mut last: Option<String> = None;
    loop {
        // A worker that went away without finishing counts as cancelled.
        let event = task
            .wait()
            .unwrap_or(KnockEvent::Finished(Err(SendError::Cancelled)));
        let last_event = event.is_last();
        if let KnockEvent::NotStarted(_) = &event {
            // No secret: a config problem, as in the CLI.
            status = code::CONFIG;
        }
        if let KnockEvent::Finished(result) = &event {
            status = match result {
                Ok(_) => code::OK,
                Err(e) => e.exit_code(),
            };
        }
        view.apply(event);
        // A finished wait replaces its "waiting" line: print the new one.
        let mut from = printed.min(view.steps.len());
        if from > 0 && view.steps.get(from - 1).map(|s| &s.text) != last.as_ref() {
            from -= 1;
        }
        for step in &view.steps[from..] {
            println!("{}", step.text);
        }
        printed = view.steps.len();
        last = view.steps.last().map(|s| s.text.clone());
        if last_event {
            break;
        }
    }
    if let crate::progress::RunState::Done(text) = &view.state {
        println!("{text}");
    }
    ExitCode::from(status)
}
