//! The application state and the one place that changes it.
//!
//! Views (`crate::ui`) draw the state and return [`Intent`]s; [`App::apply`]
//! carries them out (store edits and saves, starting and cancelling knocks,
//! launching, the Secret actions of rotating profiles). Text fields of the
//! form edit the [`Edit`]s (a [`Draft`] or a [`RotatingDraft`]) directly.
//!
//! Rotating profiles (`rotate = true`) are listed, edited, duplicated and
//! knocked like the others; their secret lives in the keyring (per profile
//! name) or behind `secret_cmd`, never in the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use knock_profiles::launch::Target;
use knock_profiles::profile::{
    Defaults, Launch, Profile, RotatingProfile, Settings, validate_name,
};
use knock_profiles::rotate;
use knock_profiles::secret::{KEYRING_SERVICE, Secret, SecretError, SecretSource};
use knock_profiles::send::Plan;
use knock_profiles::store::Store;
use knock_profiles::store::StoreError;
use knock_profiles::{Proto, Sequence};

use crate::draft::Draft;
use crate::draft::rotating::RotatingDraft;
use crate::knocker::{Knocker, SystemKnocker, Work};
use crate::launch::{self, Launcher, SystemLauncher};
use crate::progress::{Connect, Run, RunState, StepKind};
use crate::rotation::{self, OsSecrets, Prep, SecretAction, SecretBackend, SecretOutcome};
use crate::worker::{Poll, Task, Worker};

/// How often the profile file is checked for outside changes.
pub const DISK_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// eframe storage keys.
const KEY_SELECTED: &str = "knock.selected";
const KEY_PUTTY: &str = "knock.putty";

/// What the right-hand side shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    #[default]
    Nothing,
    Quick,
    Profile(String),
}

/// Something the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Select(Selection),
    /// Arrow keys in the list: -1 up, +1 down (among the filtered profiles).
    Move(i32),
    FocusFilter,
    OpenDialog(Dialog),
    CloseDialog,
    Add {
        name: String,
        host: String,
        sequence: String,
        /// A rotating profile (no sequence; defaults for the rotation).
        rotating: bool,
    },
    Duplicate(String),
    Rename {
        old: String,
        new: String,
    },
    Delete(String),
    Save(String),
    Revert(String),
    /// Knock the selected profile (or the quick knock when that is shown).
    Knock {
        connect: bool,
    },
    Cancel,
    DismissRun,
    /// The file changed on disk: reload it; keep unsaved edits or not.
    Reload {
        keep_edits: bool,
    },
    SetPutty(String),
    /// A new secret for rotating profile NAME (into the keyring, replacing
    /// an existing one only when `replace`).
    GenerateSecret {
        name: String,
        replace: bool,
    },
    /// Read and reveal the secret of rotating profile NAME.
    ShowSecret(String),
    HideSecret,
}

/// The modal dialog on top, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Dialog {
    #[default]
    None,
    Add {
        name: String,
        host: String,
        sequence: String,
        rotating: bool,
    },
    Rename {
        old: String,
        new: String,
    },
    ConfirmDelete(String),
    /// The file changed on disk while there are unsaved edits.
    Conflict,
    Settings {
        putty: String,
    },
    /// The keyring already holds a secret for this rotating profile.
    ReplaceSecret(String),
}

/// The quick knock form (no profile, like KnockKnock's single window).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quick {
    pub host: String,
    pub ports: String,
    pub udp: bool,
}

impl Quick {
    /// The host's problem (if any) and the ports as a sequence, checked by
    /// the library (the same messages as the CLI).
    pub fn check(&self) -> (Option<String>, Result<Sequence, String>) {
        let proto = if self.udp { Proto::Udp } else { Proto::Tcp };
        let ports = Sequence::parse_with_default(&self.ports, proto).map_err(|e| e.to_string());
        let host = Sequence::parse("1")
            .ok()
            .and_then(|one| Profile::new(self.host.trim(), one).validate().err());
        (host, ports)
    }
}

/// The unsaved form of one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Fixed(Draft),
    Rotating(RotatingDraft),
}

/// A profile the New dialog checked, ready to add.
#[derive(Debug, Clone, PartialEq)]
pub enum NewProfile {
    Fixed(Profile),
    Rotating(RotatingProfile),
}

/// A one-line message at the bottom of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// A secret on screen (until hidden or another profile is selected).
#[derive(Debug)]
pub struct Revealed {
    pub secret: Secret,
    /// The `knock://rotate?...` URI for another device.
    pub uri: String,
}

/// The Secret area of the selected rotating profile.
#[derive(Debug)]
pub struct SecretPanel {
    pub name: String,
    /// What the last action came to (or why it failed).
    pub message: Option<Status>,
    pub revealed: Option<Revealed>,
    /// The action running off the UI thread.
    task: Option<Task<Result<SecretOutcome, SecretError>>>,
}

impl SecretPanel {
    pub fn is_busy(&self) -> bool {
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
    pub(crate) path: PathBuf,
    pub(crate) store: Option<Store>,
    /// Why the file could not be (re)loaded; saving is off while set.
    pub(crate) load_error: Option<String>,
    pub(crate) selection: Selection,
    pub(crate) filter: String,
    pub(crate) focus_filter: bool,
    /// Scroll the list to the selection (after moving it with the keys).
    pub(crate) scroll_to_selection: bool,
    /// Form state per profile; an entry equal to the saved profile is clean.
    pub(crate) drafts: BTreeMap<String, Edit>,
    pub(crate) quick: Quick,
    pub(crate) run: Option<Run>,
    pub(crate) dialog: Dialog,
    pub(crate) status: Option<Status>,
    pub(crate) putty: String,
    pub(crate) secret_panel: Option<SecretPanel>,
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
        let (store, load_error) = match Store::open(path) {
            Ok(store) => (Some(store), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let mut app = App {
            path: path.to_path_buf(),
            store,
            load_error,
            selection: Selection::Nothing,
            filter: String::new(),
            focus_filter: false,
            scroll_to_selection: false,
            drafts: BTreeMap::new(),
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
        };
        app.selection = match app.names().first() {
            Some(first) => Selection::Profile(first.clone()),
            None => Selection::Quick,
        };
        app
    }

    /// Uses `env` for rotating profiles' secrets (tests pass the keyring
    /// crate's mock store).
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
        crate::ui::setup_style(&cc.egui_ctx);
        Ok(app)
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    /// Saved profile names, fixed and rotating, sorted.
    pub fn names(&self) -> Vec<String> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        let file = store.file();
        let mut names: Vec<String> = file
            .profiles
            .keys()
            .chain(file.rotating.keys())
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Names matching the filter (name or host, case-insensitive).
    pub fn filtered_names(&self) -> Vec<String> {
        let needle = self.filter.trim().to_lowercase();
        let Some(store) = &self.store else {
            return Vec::new();
        };
        let file = store.file();
        let hosts = file
            .profiles
            .iter()
            .map(|(name, p)| (name, &p.host))
            .chain(file.rotating.iter().map(|(name, p)| (name, &p.host)));
        let mut names: Vec<String> = hosts
            .filter(|(name, host)| {
                needle.is_empty()
                    || name.to_lowercase().contains(&needle)
                    || host.to_lowercase().contains(&needle)
            })
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// A profile with a fixed sequence.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.store.as_ref()?.file().profiles.get(name)
    }

    /// A rotating profile.
    pub fn rotating(&self, name: &str) -> Option<&RotatingProfile> {
        self.store.as_ref()?.file().rotating.get(name)
    }

    /// Whether a profile, fixed or rotating, has this name.
    pub fn exists(&self, name: &str) -> bool {
        self.store.as_ref().is_some_and(|s| s.file().contains(name))
    }

    /// The Secret area of the selected rotating profile, if it has one.
    pub fn secret_panel(&self) -> Option<&SecretPanel> {
        self.secret_panel.as_ref()
    }

    /// The settings of rotating profile `name` except its sequence.
    pub(crate) fn rotating_settings(&self, name: &str) -> Option<Settings> {
        Some(self.rotating(name)?.settings(name, &self.defaults()))
    }

    fn defaults(&self) -> Defaults {
        self.store
            .as_ref()
            .map(|s| s.file().defaults.clone())
            .unwrap_or_default()
    }

    /// The form of fixed profile `name`, created from the saved profile on
    /// first use (or when the file turned it into the other kind).
    pub(crate) fn draft_mut(&mut self, name: &str) -> Option<&mut Draft> {
        if !matches!(self.drafts.get(name), Some(Edit::Fixed(_))) {
            let draft = Draft::from_profile(self.profile(name)?);
            self.drafts.insert(name.to_string(), Edit::Fixed(draft));
        }
        match self.drafts.get_mut(name) {
            Some(Edit::Fixed(draft)) => Some(draft),
            _ => None,
        }
    }

    /// The form of rotating profile `name`, like [`App::draft_mut`].
    pub(crate) fn rotating_draft_mut(&mut self, name: &str) -> Option<&mut RotatingDraft> {
        if !matches!(self.drafts.get(name), Some(Edit::Rotating(_))) {
            let draft = RotatingDraft::from_profile(name, self.rotating(name)?);
            self.drafts.insert(name.to_string(), Edit::Rotating(draft));
        }
        match self.drafts.get_mut(name) {
            Some(Edit::Rotating(draft)) => Some(draft),
            _ => None,
        }
    }

    /// Whether `name` has edits not saved to the file.
    pub fn is_dirty(&self, name: &str) -> bool {
        match self.drafts.get(name) {
            None => false,
            Some(Edit::Fixed(draft)) => self
                .profile(name)
                .is_none_or(|saved| *draft != Draft::from_profile(saved)),
            Some(Edit::Rotating(draft)) => self
                .rotating(name)
                .is_none_or(|saved| *draft != RotatingDraft::from_profile(name, saved)),
        }
    }

    /// The rotating profile `name` as the form has it (when valid), else
    /// as saved.
    fn rotating_as_typed(&self, name: &str) -> Option<RotatingProfile> {
        match self.drafts.get(name) {
            Some(Edit::Rotating(draft)) => draft.check(name).ok(),
            _ => None,
        }
        .or_else(|| self.rotating(name).cloned())
    }

    pub fn any_dirty(&self) -> bool {
        self.drafts.keys().any(|name| self.is_dirty(name))
    }

    pub(crate) fn can_save(&self) -> bool {
        self.store.is_some() && self.load_error.is_none()
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

    /// Draws one frame: takes in worker events, checks the file now and then,
    /// shows the views, then applies what they asked for.
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

        let intents = crate::ui::show(ui, self);
        for intent in intents {
            self.apply(intent, &ctx);
        }
        self.forget_other_secret();
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
        let Some(profile) = self.rotating(name) else {
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
        let result = match task.poll() {
            Poll::Report(result) => result,
            Poll::Pending => return,
            Poll::Closed => Err(SecretError::Keyring {
                account: panel.name.clone(),
                detail: "the keyring task ended without an answer".to_string(),
            }),
        };
        panel.task = None;
        let name = panel.name.clone();
        let source = self.rotating(&name).map(|p| p.rotation.secret.clone());
        let uri = |secret: &Secret| {
            self.rotating(&name)
                .map(|p| rotate::share_uri(&p.rotation.door, &p.rotation.params, secret))
                .unwrap_or_default()
        };
        let (message, revealed, dialog) = match result {
            Ok(SecretOutcome::Stored(secret)) => (
                Status {
                    text: format!(
                        "Stored a new {}-bit secret in the OS keyring (service \"{KEYRING_SERVICE}\", account \"{name}\"). Put it in the server's Secret_File: it is shown below.",
                        secret.bits()
                    ),
                    error: false,
                },
                Some(Revealed {
                    uri: uri(&secret),
                    secret,
                }),
                None,
            ),
            Ok(SecretOutcome::Generated(secret)) => {
                let cmd = match &source {
                    Some(SecretSource::Command(cmd)) => cmd.clone(),
                    _ => "secret_cmd".to_string(),
                };
                (
                    Status {
                        text: format!(
                            "New {}-bit secret, not stored: this profile reads its secret with `{cmd}`, so store it there (and in the server's Secret_File).",
                            secret.bits()
                        ),
                        error: false,
                    },
                    Some(Revealed {
                        uri: uri(&secret),
                        secret,
                    }),
                    None,
                )
            }
            Ok(SecretOutcome::Loaded(secret)) => (
                Status {
                    text: format!("The secret of {name}, from {}:", source.unwrap_or_default()),
                    error: false,
                },
                Some(Revealed {
                    uri: uri(&secret),
                    secret,
                }),
                None,
            ),
            Ok(SecretOutcome::Exists) => (
                Status {
                    text: format!("{name} already has a secret in the keyring."),
                    error: false,
                },
                None,
                Some(Dialog::ReplaceSecret(name.clone())),
            ),
            Err(e) => (
                Status {
                    text: e.to_string(),
                    error: true,
                },
                None,
                None,
            ),
        };
        self.status = Some(message.clone());
        if let Some(panel) = &mut self.secret_panel {
            panel.message = Some(message);
            panel.revealed = revealed;
        }
        if let Some(dialog) = dialog {
            self.dialog = dialog;
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
    fn connect(&mut self, c: &Connect, addr: Option<std::net::IpAddr>) {
        let target = Target {
            host: &c.host,
            addr,
            port: c.port,
            user: c.user.as_deref(),
        };
        let putty = Some(PathBuf::from(self.putty.trim())).filter(|p| !p.as_os_str().is_empty());
        let terminal = std::env::var("TERMINAL").ok();
        let opts = launch::Options {
            putty: putty.as_deref(),
            terminal: terminal.as_deref(),
        };
        let result = launch::command(
            launch::Os::current(),
            &c.launch,
            &target,
            &opts,
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
        if self.dialog == Dialog::Conflict {
            return;
        }
        let changed = match &self.store {
            Some(store) => store.changed_on_disk(),
            None => true,
        };
        if !changed {
            return;
        }
        if self.any_dirty() && self.store.is_some() && self.load_error.is_none() {
            self.dialog = Dialog::Conflict;
        } else {
            self.reload(true);
        }
    }

    fn reload(&mut self, keep_edits: bool) {
        let had_error = self.load_error.is_some();
        match Store::open(&self.path) {
            Ok(store) => {
                let was_loaded = self.store.is_some();
                self.store = Some(store);
                self.load_error = None;
                if !keep_edits {
                    self.drafts.clear();
                }
                // Forget clean forms, so they show the new file.
                let clean: Vec<String> = self
                    .drafts
                    .keys()
                    .filter(|n| !self.is_dirty(n))
                    .cloned()
                    .collect();
                for name in clean {
                    self.drafts.remove(&name);
                }
                if let Selection::Profile(name) = &self.selection
                    && !self.exists(name)
                    && !self.drafts.contains_key(name)
                {
                    self.selection = match self.names().first() {
                        Some(n) => Selection::Profile(n.clone()),
                        None => Selection::Quick,
                    };
                }
                if was_loaded || had_error {
                    self.ok(format!(
                        "Reloaded {} (changed on disk)",
                        self.path.display()
                    ));
                }
            }
            Err(e) => {
                let text = e.to_string();
                if self.load_error.as_deref() != Some(text.as_str()) {
                    self.load_error = Some(text);
                }
            }
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
                self.drafts.remove(&name);
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
        let names = self.filtered_names();
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

    pub(crate) fn take_scroll_to_selection(&mut self) -> bool {
        std::mem::take(&mut self.scroll_to_selection)
    }

    /// Applies a store edit and saves; on failure reloads the file so the
    /// in-memory document matches the disk again.
    fn edit_store(
        &mut self,
        change: impl FnOnce(&mut Store) -> Result<(), StoreError>,
    ) -> Result<(), String> {
        if !self.can_save() {
            return Err(match &self.load_error {
                Some(e) => format!("cannot save while the file has an error: {e}"),
                None => "no profile file loaded".to_string(),
            });
        }
        let Some(store) = &mut self.store else {
            return Err("no profile file loaded".to_string());
        };
        let result = change(store).and_then(|()| store.save());
        if let Err(e) = result {
            if let Ok(fresh) = Store::open(&self.path) {
                self.store = Some(fresh);
            }
            return Err(e.to_string());
        }
        Ok(())
    }

    fn add(&mut self, name: &str, host: &str, sequence: &str, rotating: bool) {
        let name = name.trim();
        let profile = match add_check(name, host, sequence, rotating, self.exists(name)) {
            Ok(p) => p,
            Err(e) => {
                self.fail(e);
                return;
            }
        };
        match self.edit_store(|s| upsert(s, name, &profile)) {
            Ok(()) => {
                self.dialog = Dialog::None;
                self.filter.clear();
                self.selection = Selection::Profile(name.to_string());
                self.ok(format!("Added {name} to {}", self.path.display()));
                if let NewProfile::Rotating(p) = &profile {
                    let note = no_secret_yet(name, p, None);
                    self.secret_note(name, note);
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn duplicate(&mut self, name: &str) {
        let mut copy = format!("{name}-copy");
        let mut n = 2;
        while self.exists(&copy) {
            copy = format!("{name}-copy{n}");
            n += 1;
        }
        // The form's version if it is valid, else the saved one.
        let profile = if let Some(mut rotating) = self.rotating_as_typed(name) {
            // A door left at its default (the profile's name) follows the
            // copy's name, as if the table had been copied by hand.
            if rotating.rotation.door == name {
                rotating.rotation.door.clone_from(&copy);
            }
            NewProfile::Rotating(rotating)
        } else if let Some(saved) = self.profile(name).cloned() {
            let fixed = match self.drafts.get(name) {
                Some(Edit::Fixed(draft)) => draft.check().ok(),
                _ => None,
            };
            NewProfile::Fixed(fixed.unwrap_or(saved))
        } else {
            return;
        };
        match self.edit_store(|s| upsert(s, &copy, &profile)) {
            Ok(()) => {
                self.selection = Selection::Profile(copy.clone());
                self.ok(format!("Duplicated {name} as {copy}"));
                if let NewProfile::Rotating(p) = &profile {
                    let note = no_secret_yet(&copy, p, Some(name));
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
            self.fail(e);
            return;
        }
        // The keyring holds a rotating profile's secret under its name.
        let keyring_secret = self
            .store
            .as_ref()
            .and_then(|s| s.file().rotating.get(old))
            .is_some_and(|p| matches!(p.rotation.secret, SecretSource::Keyring));
        match self.edit_store(|s| s.rename(old, new)) {
            Ok(()) => {
                if let Some(draft) = self.drafts.remove(old) {
                    self.drafts.insert(new.to_string(), draft);
                }
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
        let moved = match task.task.poll() {
            Poll::Report(moved) => moved,
            Poll::Pending => return,
            Poll::Closed => Err(SecretError::Keyring {
                account: task.old.clone(),
                detail: "the keyring task ended without an answer".to_string(),
            }),
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
        let names = self.filtered_names();
        let next = names
            .iter()
            .position(|n| n == name)
            .and_then(|i| {
                names
                    .get(i + 1)
                    .or_else(|| i.checked_sub(1).and_then(|j| names.get(j)))
            })
            .cloned();
        match self.edit_store(|s| s.remove(name).map(|_| ())) {
            Ok(()) => {
                self.drafts.remove(name);
                self.dialog = Dialog::None;
                self.selection = match next {
                    Some(n) => Selection::Profile(n),
                    None => Selection::Quick,
                };
                self.ok(format!("Deleted {name} from {}", self.path.display()));
            }
            Err(e) => self.fail(e),
        }
    }

    fn save(&mut self, name: &str) {
        let checked = match self.drafts.get(name) {
            None => return,
            Some(Edit::Fixed(draft)) => draft.check().map(NewProfile::Fixed),
            Some(Edit::Rotating(draft)) => draft.check(name).map(NewProfile::Rotating),
        };
        let profile = match checked {
            Ok(p) => p,
            Err(problems) => {
                let first = problems.messages().next().unwrap_or("invalid profile");
                self.fail(format!("Not saved: {first}"));
                return;
            }
        };
        match self.edit_store(|s| upsert(s, name, &profile)) {
            Ok(()) => {
                self.drafts.remove(name);
                self.ok(format!("Saved {name} to {}", self.path.display()));
            }
            Err(e) => self.fail(e),
        }
    }

    /// The settings to knock with for what is selected: the form as typed
    /// (saved or not) merged with `[defaults]`.
    pub fn knock_settings(&self) -> Result<Settings, String> {
        match &self.selection {
            Selection::Nothing => Err("nothing selected".to_string()),
            Selection::Quick => {
                let (host, ports) = self.quick.check();
                let profile = Profile::new(self.quick.host.trim(), ports?);
                host.map_or(Ok(()), Err)?;
                Ok(Settings::merge("quick knock", &profile, &self.defaults()))
            }
            Selection::Profile(name) => {
                let profile = match self.drafts.get(name) {
                    Some(Edit::Fixed(draft)) => draft.check().map_err(|p| {
                        p.messages().next().unwrap_or("invalid profile").to_string()
                    })?,
                    _ if self.rotating(name).is_some() => {
                        return Err(format!(
                            "{name} is a rotating profile: its sequence is derived when it knocks"
                        ));
                    }
                    _ => self
                        .profile(name)
                        .cloned()
                        .ok_or_else(|| format!("no profile named {name}"))?,
                };
                Ok(Settings::merge(name, &profile, &self.defaults()))
            }
        }
    }

    /// What to knock for the selection, and its settings (for a rotating
    /// profile, all but the sequence, which the worker derives). With
    /// `connect`, the knock waits for the ssh port when no `open_port` is
    /// set, like `knock NAME --ssh` (`Plan::for_connect`).
    fn knock_work(&self, connect: bool) -> Result<(Work, Settings), String> {
        if let Selection::Profile(name) = &self.selection
            && self.rotating(name).is_some()
        {
            // The form as typed, like a fixed profile (Knock is off while
            // it has a problem).
            let profile = match self.drafts.get(name) {
                Some(Edit::Rotating(draft)) => draft
                    .check(name)
                    .map_err(|p| p.messages().next().unwrap_or("invalid profile").to_string())?,
                _ => self
                    .rotating(name)
                    .cloned()
                    .ok_or_else(|| format!("no profile named {name}"))?,
            };
            let settings = profile.settings(name, &self.defaults());
            let prep = Prep {
                name: name.clone(),
                profile,
                defaults: self.defaults(),
                secrets: Arc::clone(&self.env.secrets),
                connect,
            };
            return Ok((Work::Rotating(Box::new(prep)), settings));
        }
        let settings = self.knock_settings()?;
        let mut plan = Plan::from_settings(&settings);
        if connect {
            plan = plan.for_connect(settings.ssh_port, settings.wait);
        }
        Ok((Work::Fixed(plan), settings))
    }

    fn knock(&mut self, connect: bool, ctx: &egui::Context) {
        if self.run.as_ref().is_some_and(Run::is_running) {
            return;
        }
        let (work, settings) = match self.knock_work(connect) {
            Ok(w) => w,
            Err(e) => {
                self.fail(format!("Cannot knock: {e}"));
                return;
            }
        };
        let connect = connect.then(|| Connect {
            launch: match &self.selection {
                // "Knock & connect" means connect: a quick knock opens ssh,
                // and so does a profile that launches nothing.
                Selection::Quick => Launch::Ssh,
                _ => knock_profiles::launch::for_connect(&settings.launch),
            },
            host: settings.host.clone(),
            port: settings.ssh_port,
            user: settings.user.clone(),
        });
        let total = match &work {
            Work::Fixed(plan) => plan.sequence.len(),
            Work::Rotating(prep) => prep.profile.rotation.params.length,
        };
        let knocker = Arc::clone(&self.knocker);
        let task = self
            .env
            .worker
            .start("knock", Some(ctx), move |emit| knocker.knock(work, emit));
        let title = match &self.selection {
            Selection::Quick => "Quick knock".to_string(),
            _ => settings.name.clone(),
        };
        self.run = Some(Run::new(
            title,
            settings.host.clone(),
            total,
            Some(task),
            connect,
        ));
        self.status = None;
        self.poll_run();
    }

    /// Restores what [`App::save_state`] kept: the selected profile (if it
    /// still exists) and the PuTTY path.
    pub fn restore_state(&mut self, storage: &dyn eframe::Storage) {
        if let Some(name) = storage.get_string(KEY_SELECTED)
            && self.exists(&name)
        {
            self.selection = Selection::Profile(name);
        }
        if let Some(putty) = storage.get_string(KEY_PUTTY) {
            self.putty = putty;
        }
    }

    /// The configured PuTTY path (empty = look on PATH).
    pub fn putty(&self) -> &str {
        &self.putty
    }

    /// Persists selection and settings (eframe storage).
    pub fn save_state(&self, storage: &mut dyn eframe::Storage) {
        if let Selection::Profile(name) = &self.selection {
            storage.set_string(KEY_SELECTED, name.clone());
        }
        storage.set_string(KEY_PUTTY, self.putty.clone());
    }
}

/// Checks a new profile from the Add dialog: a fixed one with its
/// sequence, or a rotating one with the library's defaults.
pub(crate) fn add_check(
    name: &str,
    host: &str,
    sequence: &str,
    rotating: bool,
    exists: bool,
) -> Result<NewProfile, String> {
    validate_name(name)?;
    if exists {
        return Err(format!("a profile named {name} already exists"));
    }
    let first = |p: Box<crate::draft::Problems>| {
        p.messages().next().unwrap_or("invalid profile").to_string()
    };
    if rotating {
        RotatingDraft::new_profile(host)
            .check(name)
            .map(NewProfile::Rotating)
            .map_err(first)
    } else {
        Draft::new_profile(host, sequence)
            .check()
            .map(NewProfile::Fixed)
            .map_err(first)
    }
}

/// Writes either kind of profile into the store.
fn upsert(store: &mut Store, name: &str, profile: &NewProfile) -> Result<(), StoreError> {
    match profile {
        NewProfile::Fixed(p) => store.upsert(name, p),
        NewProfile::Rotating(p) => store.upsert_rotating(name, p),
    }
}

/// What the Secret area says about a rotating profile that was just
/// created (`from` = None) or duplicated from `from`: secrets belong to a
/// profile name, so a keyring profile starts without one.
fn no_secret_yet(name: &str, p: &RotatingProfile, from: Option<&str>) -> String {
    match (&p.rotation.secret, from) {
        (SecretSource::Keyring, None) => format!(
            "{name} has no secret yet: generate one into the keyring (account \"{name}\"), then put it in the server's Secret_File."
        ),
        (SecretSource::Keyring, Some(from)) => format!(
            "{name} has no secret yet: the keyring holds secrets per profile name (account \"{name}\"), so it does not share {from}'s. Generate one, then put it in the server's Secret_File."
        ),
        (SecretSource::Command(cmd), None) => format!(
            "{name} reads its secret with `{cmd}`: generate one and store it there (and in the server's Secret_File)."
        ),
        (SecretSource::Command(cmd), Some(from)) => format!(
            "{name} reads its secret with `{cmd}`, the same command as {from}: change secret_cmd if the copy needs a secret of its own."
        ),
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
