//! The application state and the one place that changes it.
//!
//! Every frame, [`App::show`] hands the views (`crate::ui`) the parts of
//! the state they draw (a [`ui::Window`]) and gets back [`Intent`]s, which
//! [`App::apply`] carries out: store edits and saves, starting and
//! cancelling knocks, launching, the Secret actions of rotating profiles.
//! Text fields edit the form they are given (a [`crate::draft::Draft`] or a
//! [`crate::draft::rotating::RotatingDraft`] of the [`Document`]) directly.
//!
//! Rotating profiles (`rotate = true`) are listed, edited, duplicated and
//! knocked like the others; their secret lives in the keyring (per profile
//! name) or behind `secret_cmd`, never in the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use knock_profiles::options::Launch;
use knock_profiles::profile::{AnyProfile, Profile, validate_name};
use knock_profiles::resolve::{Overrides, Resolved, resolve};
use knock_profiles::secret::{SecretError, SecretSource};

use crate::document::{Document, Reload};
use crate::draft::check_new;
use crate::knocker::{Knocker, SystemKnocker, Work};
use crate::launch::{self, Launcher, SystemLauncher};
use crate::progress::{Run, RunState, StepKind};
use crate::rotation::{self, OsSecrets, SecretAction, SecretBackend, SecretOutcome};
use crate::state::{Dialog, Intent, Quick, Revealed, Selection, Status};
use crate::ui;
use crate::worker::{Task, Worker};

/// How often the profile file is checked for outside changes.
pub const DISK_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// eframe storage keys.
const KEY_SELECTED: &str = "knock.selected";
const KEY_PUTTY: &str = "knock.putty";

/// The Secret area of the selected rotating profile.
#[derive(Debug)]
struct SecretPanel {
    name: String,
    /// What the last action came to (or why it failed).
    message: Option<Status>,
    revealed: Option<Revealed>,
    /// The action running off the UI thread.
    task: Option<Task<Result<SecretOutcome, SecretError>>>,
}

impl SecretPanel {
    fn is_busy(&self) -> bool {
        self.task.is_some()
    }
}

/// A renamed rotating profile's secret on its way to the new name.
struct SecretMove {
    old: String,
    new: String,
    task: Task<Result<bool, SecretError>>,
}

/// What the app needs from the outside world besides the sender and the
/// launcher: where secrets live and where background work runs.
#[derive(Clone)]
pub struct Env {
    pub secrets: Arc<dyn SecretBackend>,
    pub worker: Worker,
}

impl Env {
    /// The OS keyring, a thread per job.
    pub fn os() -> Env {
        Env {
            secrets: Arc::new(OsSecrets),
            worker: Worker::Threads,
        }
    }
}

pub struct App {
    doc: Document,
    selection: Selection,
    filter: String,
    focus_filter: bool,
    /// Scroll the list to the selection (after moving it with the keys).
    scroll_to_selection: bool,
    quick: Quick,
    run: Option<Run>,
    dialog: Dialog,
    status: Option<Status>,
    putty: String,
    secret_panel: Option<SecretPanel>,
    /// A renamed profile's secret moving in the keyring, off the UI thread.
    secret_move: Option<SecretMove>,
    knocker: Arc<dyn Knocker>,
    launcher: Box<dyn Launcher>,
    env: Env,
    last_disk_check: Option<f64>,
}

impl App {
    /// The app on the profile file at `path`, with the given sender and
    /// launcher (tests pass fakes) and the OS keyring.
    pub fn new(path: &Path, knocker: Box<dyn Knocker>, launcher: Box<dyn Launcher>) -> App {
        let doc = Document::open(path);
        let selection = match doc.names().first() {
            Some(first) => Selection::Profile(first.clone()),
            None => Selection::Quick,
        };
        App {
            doc,
            selection,
            filter: String::new(),
            focus_filter: false,
            scroll_to_selection: false,
            quick: Quick::default(),
            run: None,
            dialog: Dialog::None,
            status: None,
            putty: String::new(),
            secret_panel: None,
            secret_move: None,
            knocker: Arc::from(knocker),
            launcher,
            env: Env::os(),
            last_disk_check: None,
        }
    }

    /// Uses `env` for rotating profiles' secrets and background work
    /// (tests pass the keyring crate's mock store and run jobs inline).
    pub fn with_env(mut self, env: Env) -> App {
        self.env = env;
        self
    }

    /// The real app: `KNOCK_PROFILES` or the default path, the real sender,
    /// selection and settings restored from eframe's storage.
    pub fn from_creation_context(cc: &eframe::CreationContext<'_>) -> anyhow::Result<App> {
        let path = knock_profiles::store::locate(None)?;
        let mut app = App::new(&path, Box::new(SystemKnocker), Box::new(SystemLauncher));
        if let Some(storage) = cc.storage {
            app.restore_state(storage);
        }
        ui::setup_style(&cc.egui_ctx);
        Ok(app)
    }

    pub fn path(&self) -> &Path {
        self.doc.path()
    }

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    pub fn run(&self) -> Option<&Run> {
        self.run.as_ref()
    }

    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// Whether `name` has edits not saved to the file.
    pub fn is_dirty(&self, name: &str) -> bool {
        self.doc.is_dirty(name)
    }

    /// The configured PuTTY path (empty = look on PATH).
    pub fn putty(&self) -> &str {
        &self.putty
    }

    fn ok(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    fn fail(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
        });
    }

    /// Draws one frame: takes in worker reports, checks the file now and
    /// then, shows the views, then applies what they asked for.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.poll_run();
        self.poll_secret();
        self.poll_secret_move();
        let now = ui.input(|i| i.time);
        if self
            .last_disk_check
            .is_none_or(|t| now - t >= DISK_CHECK_INTERVAL.as_secs_f64())
        {
            self.last_disk_check = Some(now);
            self.check_disk();
        }
        ctx.request_repaint_after(DISK_CHECK_INTERVAL);

        let intents = ui::show(ui, self.window());
        for intent in intents {
            self.apply(intent, &ctx);
        }
        self.forget_other_secret();
    }

    /// What the views show this frame.
    fn window(&mut self) -> ui::Window<'_> {
        let running = self.run.as_ref().is_some_and(Run::is_running);
        let rows = self
            .doc
            .filtered_names(&self.filter)
            .into_iter()
            .filter_map(|name| self.list_row(name))
            .collect();
        let selection_saved =
            matches!(&self.selection, Selection::Profile(name) if self.doc.exists(name));
        let dialog =
            (self.dialog != Dialog::None).then(|| (self.doc.names(), self.doc.dirty_names()));
        let path = self.doc.path().display().to_string();
        let load_error = self.doc.load_error().map(str::to_string);
        let total = self.doc.names().len();
        let editable = self.doc.can_save();
        let page = match &self.selection {
            Selection::Nothing => ui::Page::Nothing,
            Selection::Quick => ui::Page::Quick(ui::QuickView {
                quick: &mut self.quick,
                running,
            }),
            Selection::Profile(name) => {
                let secret = self.secret_panel.as_ref().filter(|p| p.name == *name);
                page(&mut self.doc, name, running, secret)
            }
        };
        ui::Window {
            path,
            putty: &self.putty,
            load_error,
            status: self.status.as_ref(),
            list: ui::ListView {
                filter: &mut self.filter,
                focus_filter: std::mem::take(&mut self.focus_filter),
                rows,
                total,
                selection: &self.selection,
                selection_saved,
                scroll_to_selection: std::mem::take(&mut self.scroll_to_selection),
                editable,
            },
            run: self.run.as_ref(),
            page,
            dialog: dialog.map(|(names, dirty)| ui::DialogView {
                dialog: &mut self.dialog,
                names,
                dirty,
            }),
        }
    }

    /// A profile's row in the list: a rotating profile shows a tag where
    /// the sequence would be.
    fn list_row(&self, name: String) -> Option<ui::ListRow> {
        let (subtitle, tag) = if let Some(profile) = self.doc.profile(&name) {
            (format!("{}  ·  {}", profile.host, profile.sequence), None)
        } else {
            (self.doc.rotating(&name)?.host.to_string(), Some("rotating"))
        };
        Some(ui::ListRow {
            dirty: self.doc.is_dirty(&name),
            name,
            subtitle,
            tag,
        })
    }

    /// A revealed secret goes away when its profile is no longer selected.
    fn forget_other_secret(&mut self) {
        let Some(panel) = &mut self.secret_panel else {
            return;
        };
        if self.selection != Selection::Profile(panel.name.clone()) {
            panel.revealed = None;
            if !panel.is_busy() {
                self.secret_panel = None;
            }
        }
    }

    /// Starts a Secret action off the UI thread.
    fn secret_action(&mut self, name: &str, action: SecretAction, ctx: &egui::Context) {
        if self.secret_panel.as_ref().is_some_and(SecretPanel::is_busy) {
            return;
        }
        let Some(profile) = self.doc.rotating(name) else {
            self.fail(format!("{name} is not a rotating profile"));
            return;
        };
        let source = profile.rotation.secret.clone();
        let secrets = Arc::clone(&self.env.secrets);
        let account = name.to_string();
        let task = self
            .env
            .worker
            .start("knock-secret", Some(ctx), move |emit| {
                emit.send(rotation::secret_task(
                    secrets.as_ref(),
                    &account,
                    &source,
                    action,
                ));
            });
        self.secret_panel = Some(SecretPanel {
            name: name.to_string(),
            message: None,
            revealed: None,
            task: Some(task),
        });
        self.poll_secret();
    }

    /// Takes in the result of a Secret action, if it is there.
    fn poll_secret(&mut self) {
        let Some(panel) = &mut self.secret_panel else {
            return;
        };
        let Some(task) = &panel.task else {
            return;
        };
        let Some(result) = task.try_next(|| Err(no_answer(&panel.name))) else {
            return;
        };
        panel.task = None;
        let name = panel.name.clone();
        let told = rotation::tell(&name, self.doc.rotating(&name), result);
        panel.message = Some(told.message.clone());
        panel.revealed = told.revealed;
        self.status = Some(told.message);
        if told.ask_replace {
            self.dialog = Dialog::ReplaceSecret(name);
        }
    }

    fn poll_run(&mut self) {
        let Some(run) = &mut self.run else {
            return;
        };
        run.poll();
        if let RunState::Done(_) = run.state
            && let Some(connect) = run.connect.take()
        {
            let addr = run.addr;
            self.connect(&connect, addr);
        }
    }

    /// Starts the ssh client / PuTTY / custom command after a knock.
    fn connect(&mut self, knock: &Resolved, addr: Option<std::net::IpAddr>) {
        let Some(launch) = &knock.connect else {
            return;
        };
        let putty = Some(PathBuf::from(self.putty.trim())).filter(|p| !p.as_os_str().is_empty());
        let terminal = std::env::var("TERMINAL").ok();
        let programs = launch::Programs {
            putty: putty.as_deref(),
            terminal: terminal.as_deref(),
        };
        let result = launch::command(
            launch::Os::current(),
            launch,
            &knock.target(addr),
            &programs,
            &launch::which,
        )
        .and_then(|cmd| match cmd {
            Some(cmd) => self.launcher.launch(&cmd).map(|()| Some(cmd)),
            None => Ok(None),
        });
        let Some(run) = &mut self.run else {
            return;
        };
        match result {
            Ok(Some(cmd)) => run.push(StepKind::Good, format!("Started {}", cmd.display())),
            Ok(None) => run.push(StepKind::Info, "Nothing to launch (launch = none)"),
            Err(e) => {
                let text = e.to_string();
                run.push(StepKind::Bad, text.clone());
                run.state = RunState::Failed(text);
            }
        }
    }

    /// Reloads the file if it changed on disk; asks first if there are
    /// unsaved edits.
    fn check_disk(&mut self) {
        if self.dialog == Dialog::Conflict || !self.doc.changed_on_disk() {
            return;
        }
        if self.doc.any_dirty() && self.doc.can_save() {
            self.dialog = Dialog::Conflict;
        } else {
            self.reload(true);
        }
    }

    fn reload(&mut self, keep_edits: bool) {
        let Reload::Loaded { announce } = self.doc.reload(keep_edits) else {
            return;
        };
        if let Selection::Profile(name) = &self.selection
            && !self.doc.exists(name)
            && self.doc.edit(name).is_none()
        {
            self.selection = match self.doc.names().first() {
                Some(n) => Selection::Profile(n.clone()),
                None => Selection::Quick,
            };
        }
        if announce {
            self.ok(format!(
                "Reloaded {} (changed on disk)",
                self.doc.path().display()
            ));
        }
    }

    /// Carries out one intent.
    pub fn apply(&mut self, intent: Intent, ctx: &egui::Context) {
        match intent {
            Intent::Select(sel) => self.selection = sel,
            Intent::Move(step) => self.move_selection(step),
            Intent::FocusFilter => self.focus_filter = true,
            Intent::OpenDialog(d) => self.dialog = d,
            Intent::CloseDialog => self.dialog = Dialog::None,
            Intent::Add {
                name,
                host,
                sequence,
                rotating,
            } => self.add(&name, &host, &sequence, rotating),
            Intent::Duplicate(name) => self.duplicate(&name),
            Intent::Rename { old, new } => self.rename(&old, &new, ctx),
            Intent::Delete(name) => self.delete(&name),
            Intent::Save(name) => self.save(&name),
            Intent::Revert(name) => {
                self.doc.forget_edit(&name);
                self.ok(format!("Reverted {name} to the saved profile"));
            }
            Intent::Knock { connect } => self.knock(connect, ctx),
            Intent::Cancel => {
                if let Some(run) = &self.run {
                    run.cancel();
                }
            }
            Intent::DismissRun => {
                if self.run.as_ref().is_some_and(|r| !r.is_running()) {
                    self.run = None;
                }
            }
            Intent::Reload { keep_edits } => {
                self.dialog = Dialog::None;
                self.reload(keep_edits);
            }
            Intent::SetPutty(path) => {
                self.putty = path.trim().to_string();
                self.dialog = Dialog::None;
            }
            Intent::GenerateSecret { name, replace } => {
                self.dialog = Dialog::None;
                self.secret_action(&name, SecretAction::Generate { replace }, ctx);
            }
            Intent::ShowSecret(name) => self.secret_action(&name, SecretAction::Show, ctx),
            Intent::HideSecret => {
                if let Some(panel) = &mut self.secret_panel {
                    panel.revealed = None;
                    panel.message = None;
                }
            }
        }
    }

    fn move_selection(&mut self, step: i32) {
        let names = self.doc.filtered_names(&self.filter);
        if names.is_empty() {
            return;
        }
        let current = match &self.selection {
            Selection::Profile(name) => names.iter().position(|n| n == name),
            _ => None,
        };
        let last = names.len() - 1;
        let next = match current {
            None if step >= 0 => 0,
            None => last,
            Some(i) if step < 0 => i.saturating_sub(1),
            Some(i) => (i + 1).min(last),
        };
        self.selection = Selection::Profile(names[next].clone());
        self.scroll_to_selection = true;
    }

    fn add(&mut self, name: &str, host: &str, sequence: &str, rotating: bool) {
        let name = name.trim();
        let exists = self.doc.exists(name);
        let profile = match check_new(name, host, sequence, rotating, exists) {
            Ok(p) => p,
            Err(e) => {
                self.fail(e);
                return;
            }
        };
        match self.doc.put(name, &profile) {
            Ok(()) => {
                self.dialog = Dialog::None;
                self.filter.clear();
                self.selection = Selection::Profile(name.to_string());
                self.ok(format!("Added {name} to {}", self.doc.path().display()));
                if let AnyProfile::Rotating(p) = &profile {
                    let note = rotation::no_secret_yet(name, p, None);
                    self.secret_note(name, note);
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn duplicate(&mut self, name: &str) {
        let mut copy = format!("{name}-copy");
        let mut n = 2;
        while self.doc.exists(&copy) {
            copy = format!("{name}-copy{n}");
            n += 1;
        }
        // The form's version if it is valid, else the saved one.
        let Some(mut profile) = self.doc.as_typed(name) else {
            return;
        };
        // A door left at its default (the profile's name) follows the
        // copy's name, as if the table had been copied by hand.
        if let AnyProfile::Rotating(rotating) = &mut profile
            && rotating.rotation.door == name
        {
            rotating.rotation.door.clone_from(&copy);
        }
        match self.doc.put(&copy, &profile) {
            Ok(()) => {
                self.selection = Selection::Profile(copy.clone());
                self.ok(format!("Duplicated {name} as {copy}"));
                if let AnyProfile::Rotating(p) = &profile {
                    let note = rotation::no_secret_yet(&copy, p, Some(name));
                    self.secret_note(&copy, note);
                }
            }
            Err(e) => self.fail(e),
        }
    }

    /// A message in the Secret area of rotating profile `name`.
    fn secret_note(&mut self, name: &str, text: String) {
        self.secret_panel = Some(SecretPanel {
            name: name.to_string(),
            message: Some(Status { text, error: false }),
            revealed: None,
            task: None,
        });
    }

    fn rename(&mut self, old: &str, new: &str, ctx: &egui::Context) {
        let new = new.trim();
        if let Err(e) = validate_name(new) {
            self.fail(e.to_string());
            return;
        }
        // The keyring holds a rotating profile's secret under its name.
        let keyring_secret = self
            .doc
            .rotating(old)
            .is_some_and(|p| matches!(p.rotation.secret, SecretSource::Keyring));
        match self.doc.change(|s| s.rename(old, new)) {
            Ok(()) => {
                self.doc.rename_edit(old, new);
                self.dialog = Dialog::None;
                self.selection = Selection::Profile(new.to_string());
                self.ok(format!("Renamed {old} to {new}"));
                if keyring_secret {
                    self.move_secret(old, new, ctx);
                }
            }
            Err(e) => self.fail(e),
        }
    }

    /// Moves the keyring secret of renamed profile `old` to `new` off the
    /// UI thread (keyring access can block on a D-Bus round trip or an
    /// unlock prompt); [`App::poll_secret_move`] reports how it went.
    fn move_secret(&mut self, old: &str, new: &str, ctx: &egui::Context) {
        let secrets = Arc::clone(&self.env.secrets);
        let (from, to) = (old.to_string(), new.to_string());
        let task = self
            .env
            .worker
            .start("knock-secret", Some(ctx), move |emit| {
                emit.send(
                    secrets
                        .keyring(&from)
                        .and_then(|ring| ring.rename(&from, &to)),
                );
            });
        self.secret_move = Some(SecretMove {
            old: old.to_string(),
            new: new.to_string(),
            task,
        });
        self.poll_secret_move();
    }

    /// Takes in the result of a secret move, if it is there.
    fn poll_secret_move(&mut self) {
        let Some(task) = &self.secret_move else {
            return;
        };
        let Some(moved) = task.task.try_next(|| Err(no_answer(&task.old))) else {
            return;
        };
        let (old, new) = (task.old.clone(), task.new.clone());
        self.secret_move = None;
        match moved {
            Ok(true) => self.ok(format!(
                "Renamed {old} to {new}; its secret moved with it in the keyring"
            )),
            Ok(false) => {}
            Err(e) => self.fail(format!(
                "Renamed {old} to {new}, but its secret stays under \"{old}\" in the keyring: {e}"
            )),
        }
    }

    fn delete(&mut self, name: &str) {
        let names = self.doc.filtered_names(&self.filter);
        let next = names
            .iter()
            .position(|n| n == name)
            .and_then(|i| {
                names
                    .get(i + 1)
                    .or_else(|| i.checked_sub(1).and_then(|j| names.get(j)))
            })
            .cloned();
        match self.doc.change(|s| s.remove(name).map(|_| ())) {
            Ok(()) => {
                self.doc.forget_edit(name);
                self.dialog = Dialog::None;
                self.selection = match next {
                    Some(n) => Selection::Profile(n),
                    None => Selection::Quick,
                };
                self.ok(format!("Deleted {name} from {}", self.doc.path().display()));
            }
            Err(e) => self.fail(e),
        }
    }

    fn save(&mut self, name: &str) {
        let profile = match self.doc.checked(name) {
            None => return,
            Some(Ok(p)) => p,
            Some(Err(problems)) => {
                self.fail(format!("Not saved: {}", problems.first()));
                return;
            }
        };
        match self.doc.put(name, &profile) {
            Ok(()) => {
                self.doc.forget_edit(name);
                self.ok(format!("Saved {name} to {}", self.doc.path().display()));
            }
            Err(e) => self.fail(e),
        }
    }

    /// What is selected, ready to knock: the form as typed (saved or not)
    /// with `[defaults]` applied, resolved like `knock NAME` (with
    /// `connect`, like `knock NAME --ssh`: the knock waits for the ssh port
    /// when no `open_port` is set).
    fn knock_resolved(&self, connect: bool) -> Result<Resolved, String> {
        let defaults = self.doc.defaults();
        let settings = match &self.selection {
            Selection::Nothing => return Err("nothing selected".to_string()),
            Selection::Quick => {
                let ports = self.quick.ports().map_err(|e| e.to_string())?;
                let host = self.quick.host().map_err(|e| e.to_string())?;
                Profile::new(host, ports).settings("quick knock", &defaults)
            }
            Selection::Profile(name) => {
                // Knock is off while the form has a problem.
                let profile = match self.doc.checked(name) {
                    Some(checked) => checked.map_err(|p| p.first().to_string())?,
                    None => self
                        .doc
                        .saved(name)
                        .ok_or_else(|| format!("no profile named {name}"))?,
                };
                profile.settings(name, &defaults)
            }
        };
        let overrides = Overrides {
            connect,
            ..Overrides::default()
        };
        resolve(settings, &overrides).map_err(|e| e.to_string())
    }

    fn knock(&mut self, connect: bool, ctx: &egui::Context) {
        if self.run.as_ref().is_some_and(Run::is_running) {
            return;
        }
        let mut resolved = match self.knock_resolved(connect) {
            Ok(resolved) => resolved,
            Err(e) => {
                self.fail(format!("Cannot knock: {e}"));
                return;
            }
        };
        let quick = self.selection == Selection::Quick;
        if quick && resolved.connect.is_some() {
            // "Knock & connect" means connect: a quick knock opens ssh
            // (resolve already makes a profile that launches nothing
            // connect with ssh).
            resolved.connect = Some(Launch::Ssh);
        }
        let connect = resolved.connect.is_some().then(|| resolved.clone());
        let title = if quick {
            "Quick knock".to_string()
        } else {
            resolved.name.clone()
        };
        let (host, total) = (resolved.host.to_string(), resolved.knocks.len());
        // A rotating profile's secret is loaded on the worker.
        let work = Work {
            resolved,
            secrets: Arc::clone(&self.env.secrets),
        };
        let knocker = Arc::clone(&self.knocker);
        let task = self
            .env
            .worker
            .start("knock", Some(ctx), move |emit| knocker.knock(work, emit));
        self.run = Some(Run::new(title, host, total, Some(task), connect));
        self.status = None;
        self.poll_run();
    }

    /// Restores what [`App::save_state`] kept: the selected profile (if it
    /// still exists) and the PuTTY path.
    pub fn restore_state(&mut self, storage: &dyn eframe::Storage) {
        if let Some(name) = storage.get_string(KEY_SELECTED)
            && self.doc.exists(&name)
        {
            self.selection = Selection::Profile(name);
        }
        if let Some(putty) = storage.get_string(KEY_PUTTY) {
            self.putty = putty;
        }
    }

    /// Persists selection and settings (eframe storage).
    pub fn save_state(&self, storage: &mut dyn eframe::Storage) {
        if let Selection::Profile(name) = &self.selection {
            storage.set_string(KEY_SELECTED, name.clone());
        }
        storage.set_string(KEY_PUTTY, self.putty.clone());
    }
}

/// Why a keyring job for `account` has no result: it went away.
fn no_answer(account: &str) -> SecretError {
    SecretError::Keyring {
        account: account.to_string(),
        detail: "the keyring task ended without an answer".to_string(),
    }
}

/// The form of profile `name` as the views get it: its draft (created on
/// first use), what is wrong with it, and what its empty fields inherit.
fn page<'a>(
    doc: &'a mut Document,
    name: &'a str,
    running: bool,
    secret: Option<&'a SecretPanel>,
) -> ui::Page<'a> {
    let state = ui::ActionState {
        valid: false,
        dirty: doc.is_dirty(name),
        running,
        can_save: doc.can_save(),
    };
    let defaults = doc.defaults();
    if let Some(saved) = doc.rotating(name) {
        let inherited = saved.settings(name, &defaults);
        let saved_source = saved.rotation.secret.clone();
        let Some((draft, problems)) = doc.rotating_mut(name) else {
            return ui::Page::Gone(name.to_string());
        };
        let form = ui::FormView::new(name, draft, problems, state, Some(inherited), defaults);
        let secret = secret.map_or_else(ui::SecretView::default, |p| ui::SecretView {
            busy: p.is_busy(),
            message: p.message.as_ref(),
            revealed: p.revealed.as_ref(),
        });
        return ui::Page::Rotating(ui::RotatingView {
            form,
            saved_source,
            secret,
        });
    }
    let inherited = doc.profile(name).map(|p| p.settings(name, &defaults));
    match doc.fixed_mut(name) {
        Some((draft, problems)) => ui::Page::Fixed(ui::FormView::new(
            name, draft, problems, state, inherited, defaults,
        )),
        None => ui::Page::Gone(name.to_string()),
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.save_state(storage);
    }
}
