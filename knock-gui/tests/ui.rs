//! The real UI, driven with egui_kittest (no display, no network): a fake
//! sender replays what `send::run` would report, a fake launcher records
//! what would be started, and the profile file is a temp file. Rotating
//! profiles get the keyring crate's in-memory mock store, and the library's
//! `send::run` runs for real on a fake network and a fixed clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use knock_gui::App;
use knock_gui::app::Env;
use knock_gui::knocker::{self, KnockEvent, Knocker, Work};
use knock_gui::launch::{Command, LaunchError, Launcher};
use knock_gui::rotation::{SecretBackend, StoreSecrets};
use knock_gui::state::Selection;
use knock_gui::worker::{Emitter, Worker};
use knock_profiles::options::Family;
use knock_profiles::rotate::{self, Params, Rotation};
use knock_profiles::secret::{Keyring, Secret, SecretError, SecretSource};
use knock_profiles::send::{KnockPlan, Outcome, Progress, SendError, Sequences};
use knock_profiles::send::{Net, Timer, WallClock};
use knock_profiles::{Knock, Proto};

const FILE: &str = r#"# My servers. Comments like this one must survive the GUI's edits.

[defaults]
delay_ms = 100   # pause between knocks

# The main box.
[profiles.alpha]
host = "192.0.2.1"
sequence = "7000,8000:udp,9000"   # knockd's door
open_port = 22

[profiles.beta]
host = "192.0.2.2"
sequence = "1111,2222"
launch = "true {host}"

# Knocks a sequence derived from the secret in the keyring and the clock.
[profiles.vault]
host = "192.0.2.7"
rotate = true
secret = "keyring"
open_port = 2222   # the vault's sshd

[profiles.zeta]
host = "192.0.2.26"
sequence = "2626"
launch = "putty"
user = "admin"
"#;

/// The test's fixed wall clock: 1_700_000_000 s, 20 s into a 30 s period
/// (step 56_666_666). Sleeping moves it on.
const NOW_MS: u64 = 1_700_000_000_000;
const SECRET: &str = "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK";

/// The wall clock and the sender's monotonic clock in one: both move only
/// when slept on.
struct FakeWall {
    base: Instant,
    now: Mutex<Duration>,
    slept: Mutex<Vec<Duration>>,
}

impl WallClock for FakeWall {
    fn since_epoch(&self) -> Duration {
        *self.now.lock().unwrap()
    }
}

impl Timer for FakeWall {
    fn now(&self) -> Instant {
        self.base + *self.now.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
        self.slept.lock().unwrap().push(d);
    }
}

/// What the library's sender sent: knocks and verify probes.
#[derive(Default)]
struct Wire {
    knocks: Vec<(SocketAddr, Proto)>,
    probes: Vec<SocketAddr>,
}

/// A network where IP literals resolve to themselves and the verify port
/// opens or not.
struct FakeNet {
    wire: Arc<Mutex<Wire>>,
    opens: bool,
}

impl Net for FakeNet {
    fn resolve(&mut self, host: &str, _family: Family) -> io::Result<Vec<IpAddr>> {
        host.parse()
            .map(|ip| vec![ip])
            .map_err(|_| io::Error::other("no DNS in tests"))
    }
    fn knock(&mut self, to: SocketAddr, proto: Proto) -> io::Result<()> {
        self.wire.lock().unwrap().knocks.push((to, proto));
        Ok(())
    }
    fn probe(&mut self, to: SocketAddr, _timeout: Duration) -> io::Result<bool> {
        self.wire.lock().unwrap().probes.push(to);
        Ok(self.opens)
    }
}

/// A machine without a keyring service (a headless box, CI).
struct NoKeyringService;

impl SecretBackend for NoKeyringService {
    fn keyring(&self, account: &str) -> Result<Keyring, SecretError> {
        Err(SecretError::NoKeyringService {
            detail: "no D-Bus session bus".into(),
            account: account.into(),
        })
    }
    fn load(&self, account: &str, source: &SecretSource) -> Result<Secret, SecretError> {
        match source {
            SecretSource::Keyring => self.keyring(account).map(|_| unreachable!()),
            SecretSource::Command(_) => source.load(account),
        }
    }
}

/// How the fake sender's run ends.
#[derive(Clone, Copy)]
enum Ending {
    Opens,
    StaysShut,
    /// Sends the first knock, then waits for the test (cancel).
    Hangs,
}

/// The worker's ends of a hanging job.
type Hanging = Arc<Mutex<Option<(Emitter<KnockEvent>, Arc<std::sync::atomic::AtomicBool>)>>>;

/// The sequence of a fixed plan.
fn fixed(plan: &KnockPlan) -> &knock_profiles::Sequence {
    match &plan.sequences {
        Sequences::Fixed(sequence) => sequence,
        Sequences::Rotating { .. } => panic!("not a fixed plan: {plan:?}"),
    }
}

/// Replays, at once, the events `send::run` sends for a fixed plan; runs
/// the library's `send::run` on the fake network and clock for a
/// rotating profile.
struct FakeKnocker {
    plans: Arc<Mutex<Vec<KnockPlan>>>,
    ending: Ending,
    hanging: Hanging,
    wire: Arc<Mutex<Wire>>,
    wall: Arc<FakeWall>,
    /// What the sender verified and the launcher started, in order.
    log: Arc<Mutex<Vec<String>>>,
}

impl Knocker for FakeKnocker {
    fn knock(&self, work: Work, tx: Emitter<KnockEvent>) {
        let plan = match work.resolved.fixed_plan() {
            Some(plan) => plan,
            None => {
                let mut net = FakeNet {
                    wire: Arc::clone(&self.wire),
                    opens: matches!(self.ending, Ending::Opens),
                };
                let wall = &*self.wall;
                knocker::run_work(work, &mut net, wall, wall, tx.cancel_flag(), &mut |e| {
                    tx.send(e);
                });
                return;
            }
        };
        self.plans.lock().unwrap().push(plan.clone());
        let addr: IpAddr = plan.host.parse().unwrap();
        let sequence = fixed(&plan);
        if let Ending::Hangs = self.ending {
            let knock = sequence.knocks()[0];
            tx.send(KnockEvent::Progress(Progress::Knocked {
                attempt: 1,
                index: 0,
                total: sequence.len(),
                knock,
                to: SocketAddr::new(addr, knock.port),
            }));
            let cancel = Arc::clone(tx.cancel_flag());
            *self.hanging.lock().unwrap() = Some((tx, cancel));
            return;
        }
        let total = sequence.len();
        let mut events = vec![Progress::Resolved {
            host: plan.host.clone(),
            addr,
            others: 0,
        }];
        for (index, knock) in sequence.knocks().iter().enumerate() {
            events.push(Progress::Knocked {
                attempt: 1,
                index,
                total,
                knock: *knock,
                to: SocketAddr::new(addr, knock.port),
            });
        }
        let mut result = Ok(Outcome {
            addr,
            attempts: 1,
            opened: None,
        });
        if let Some(verify) = plan.verify {
            let to = SocketAddr::new(addr, verify.port);
            self.log.lock().unwrap().push(format!("verify {to}"));
            events.push(Progress::Verifying { attempt: 1, to });
            match self.ending {
                Ending::Opens => {
                    events.push(Progress::Opened {
                        to,
                        after: Duration::from_millis(300),
                    });
                    result = Ok(Outcome {
                        addr,
                        attempts: 1,
                        opened: Some(true),
                    });
                }
                Ending::StaysShut | Ending::Hangs => {
                    events.push(Progress::NotOpened { attempt: 1, to });
                    result = Err(SendError::NotOpened {
                        to,
                        attempts: 1,
                        wait: verify.wait,
                    });
                }
            }
        }
        for e in events {
            tx.send(KnockEvent::Progress(e));
        }
        tx.send(KnockEvent::Finished(result));
    }
}

#[derive(Default, Clone)]
struct FakeLauncher {
    started: Arc<Mutex<Vec<Vec<String>>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Launcher for FakeLauncher {
    fn launch(&mut self, cmd: &Command) -> Result<(), LaunchError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("launch {}", cmd.argv().join(" ")));
        self.started.lock().unwrap().push(cmd.argv());
        Ok(())
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    plans: Arc<Mutex<Vec<KnockPlan>>>,
    started: Arc<Mutex<Vec<Vec<String>>>>,
    hanging: Hanging,
    wire: Arc<Mutex<Wire>>,
    ring: Keyring,
    wall: Arc<FakeWall>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, FILE).unwrap();
        Fixture {
            _dir: dir,
            path,
            plans: Arc::default(),
            started: Arc::default(),
            hanging: Arc::default(),
            wire: Arc::default(),
            ring: Keyring::mock().unwrap(),
            wall: Arc::new(FakeWall {
                base: Instant::now(),
                now: Mutex::new(Duration::from_millis(NOW_MS)),
                slept: Mutex::default(),
            }),
            log: Arc::default(),
        }
    }

    /// The mock keyring; keyring work and knocks run inline.
    fn env(&self) -> Env {
        Env {
            secrets: Arc::new(StoreSecrets(self.ring.clone())),
            worker: Worker::Inline,
        }
    }

    fn harness(&self, ending: Ending) -> Harness<'static, App> {
        self.harness_with(ending, self.env())
    }

    fn harness_with(&self, ending: Ending, env: Env) -> Harness<'static, App> {
        let knocker = FakeKnocker {
            plans: Arc::clone(&self.plans),
            ending,
            hanging: Arc::clone(&self.hanging),
            wire: Arc::clone(&self.wire),
            wall: Arc::clone(&self.wall),
            log: Arc::clone(&self.log),
        };
        let launcher = FakeLauncher {
            started: Arc::clone(&self.started),
            log: Arc::clone(&self.log),
        };
        let app = App::new(&self.path, Box::new(knocker), Box::new(launcher)).with_env(env);
        let mut harness = Harness::builder()
            .with_size([1200.0, 860.0])
            .with_context_setup(knock_gui::ui::setup_style)
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        harness.run();
        harness
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap()
    }

    /// The knocks the library's sender sent, as a sequence.
    fn knocked(&self) -> Vec<Knock> {
        let wire = self.wire.lock().unwrap();
        wire.knocks
            .iter()
            .map(|(to, proto)| Knock {
                port: to.port(),
                proto: *proto,
            })
            .collect()
    }

    /// Where the knocks and probes went.
    fn destinations(&self) -> Vec<SocketAddr> {
        let wire = self.wire.lock().unwrap();
        wire.knocks
            .iter()
            .map(|(to, _)| *to)
            .chain(wire.probes.iter().copied())
            .collect()
    }
}

/// The app on the sample file, its fake sender ending as `ending`.
fn start(ending: Ending) -> (Fixture, Harness<'static, App>) {
    let f = Fixture::new();
    let harness = f.harness(ending);
    (f, harness)
}

fn disabled(harness: &Harness<'_, App>, label: &str) -> bool {
    harness.get_by_label(label).accesskit_node().is_disabled()
}

/// Replaces the text of the input named `label`.
fn set_text(harness: &mut Harness<'_, App>, label: &str, text: &str) {
    harness.get_by_label(label).set_text_value_accesskit(text);
    harness.run();
}

/// Clicks the widget named `label` and lets the app react.
fn click(harness: &mut Harness<'_, App>, label: &str) {
    harness.get_by_label(label).click();
    harness.run();
}

/// Clicks a profile's row in the list (the form's heading has the same
/// text).
fn click_row(harness: &mut Harness<'_, App>, name: &str) {
    harness.get_by_role_and_label(Role::Button, name).click();
    harness.run();
}

fn shows(harness: &Harness<'_, App>, text: &str) -> bool {
    harness.query_by_label(text).is_some()
}

/// The list row of a profile (the form's heading has the same text).
fn in_list(harness: &Harness<'_, App>, name: &str) -> bool {
    harness
        .query_by_role_and_label(Role::Button, name)
        .is_some()
}

fn path_of(harness: &Harness<'_, App>) -> PathBuf {
    harness.state().path().to_path_buf()
}

#[test]
fn edit_a_port_see_the_error_fix_it_and_save_keeping_comments() {
    let (f, mut harness) = start(Ending::Opens);
    assert_eq!(path_of(&harness), f.path);

    click_row(&mut harness, "beta");
    assert_eq!(
        *harness.state().selection(),
        Selection::Profile("beta".into())
    );
    assert!(!disabled(&harness, "Knock"));
    assert!(disabled(&harness, "Save"), "nothing to save yet");

    set_text(&mut harness, "Knock 1 port", "70000");
    assert!(shows(
        &harness,
        "port out of range in \"70000\" (expected 1-65535)"
    ));
    assert!(disabled(&harness, "Knock"));
    assert!(disabled(&harness, "Knock & connect"));
    assert!(disabled(&harness, "Save"));
    // The list marks the unsaved profile; nothing was written.
    assert!(harness.state().is_dirty("beta"));
    assert_eq!(f.text(), FILE);

    set_text(&mut harness, "Knock 1 port", "1212");
    assert!(!shows(
        &harness,
        "port out of range in \"70000\" (expected 1-65535)"
    ));
    assert!(!disabled(&harness, "Knock"));
    assert!(!disabled(&harness, "Save"));
    click(&mut harness, "Save");

    let text = f.text();
    assert!(text.contains("sequence = \"1212,2222\""), "{text}");
    for comment in [
        "# My servers. Comments like this one must survive the GUI's edits.",
        "delay_ms = 100   # pause between knocks",
        "# The main box.",
        "sequence = \"7000,8000:udp,9000\"   # knockd's door",
    ] {
        assert!(text.contains(comment), "lost {comment:?} in:\n{text}");
    }
    assert!(!harness.state().is_dirty("beta"));
    assert!(disabled(&harness, "Save"));
    let status = harness.state().status().map(|s| s.text.clone());
    assert_eq!(status, Some(format!("Saved beta to {}", f.path.display())));
}

#[test]
fn an_empty_host_gets_the_library_message() {
    let (_f, mut harness) = start(Ending::Opens);
    set_text(&mut harness, "Host", "");
    assert!(shows(
        &harness,
        "host is empty (expected a name or address)"
    ));
    assert!(disabled(&harness, "Knock"));
    set_text(&mut harness, "Open port", "0");
    assert!(shows(
        &harness,
        "open_port 0 is out of range (expected 1-65535)"
    ));
}

#[test]
fn knock_shows_each_knock_then_the_verify_result() {
    let (f, mut harness) = start(Ending::Opens);
    // alpha is selected first (sorted names).
    assert_eq!(
        *harness.state().selection(),
        Selection::Profile("alpha".into())
    );
    click(&mut harness, "Knock");

    let plans = f.plans.lock().unwrap().clone();
    assert_eq!(plans.len(), 1);
    assert_eq!(fixed(&plans[0]).to_string(), "7000,8000:udp,9000");
    assert_eq!(plans[0].delay, Duration::from_millis(100));
    assert_eq!(plans[0].verify.map(|v| v.port), Some(22));

    for line in [
        "Knocking 192.0.2.1",
        "Knock 1 of 3: TCP 7000 to 192.0.2.1",
        "Knock 2 of 3: UDP 8000 to 192.0.2.1",
        "Knock 3 of 3: TCP 9000 to 192.0.2.1",
        "Port 22 opened after 0.3 s",
        "Door open on 192.0.2.1",
        "3 of 3 knocks",
    ] {
        assert!(shows(&harness, line), "missing {line:?}");
    }
    // Knock only: nothing launched.
    assert!(f.started.lock().unwrap().is_empty());
    assert!(!disabled(&harness, "Knock"), "ready for the next knock");
}

#[test]
fn a_port_that_stays_shut_is_reported() {
    let (f, mut harness) = start(Ending::StaysShut);
    click(&mut harness, "Knock & connect");
    assert!(shows(&harness, "Port 22 did not open (attempt 1)"));
    let headline = "port 22 on 192.0.2.1 did not open within 3000 ms (after 1 attempt)";
    assert!(harness.query_all_by_label(headline).next().is_some());
    assert!(
        f.started.lock().unwrap().is_empty(),
        "no ssh when the door stayed shut"
    );
}

#[test]
fn knock_and_connect_starts_the_launch_command() {
    let (f, mut harness) = start(Ending::Opens);
    click_row(&mut harness, "beta");
    click(&mut harness, "Knock & connect");
    let started = f.started.lock().unwrap().clone();
    let shell = if cfg!(windows) {
        vec!["cmd", "/C", "true 192.0.2.2"]
    } else {
        vec!["/bin/sh", "-c", "true 192.0.2.2"]
    };
    assert_eq!(started, vec![shell]);
    assert!(shows(&harness, "Door open on 192.0.2.2"));
}

#[test]
fn an_identity_file_is_saved_and_used_when_connecting() {
    let (f, mut harness) = start(Ending::Opens);
    click_row(&mut harness, "beta");
    set_text(&mut harness, "Identity file", " ");
    assert!(!disabled(&harness, "Knock"), "blank is not set");
    set_text(&mut harness, "Identity file", "/home/me/.ssh/id_beta");
    set_text(&mut harness, "Custom command", "true {host} {identity}");
    click(&mut harness, "Save");
    let text = f.text();
    assert!(
        text.contains("identity_file = \"/home/me/.ssh/id_beta\""),
        "{text}"
    );
    assert!(text.contains("# The main box."), "{text}");
    click(&mut harness, "Knock & connect");
    let started = f.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    let line = started[0].last().unwrap();
    assert!(
        line.starts_with("true 192.0.2.2 ") && line.contains("/home/me/.ssh/id_beta"),
        "{started:?}"
    );
}

#[test]
fn knock_and_connect_waits_for_the_ssh_port_before_launching() {
    // beta sets no open_port: connecting still waits for its ssh port (22),
    // like `knock beta --ssh`, and launches only once it is open.
    let shell = if cfg!(windows) {
        "launch cmd /C true 192.0.2.2"
    } else {
        "launch /bin/sh -c true 192.0.2.2"
    };
    let (f, mut harness) = start(Ending::Opens);
    click_row(&mut harness, "beta");
    click(&mut harness, "Knock & connect");
    assert_eq!(*f.log.lock().unwrap(), ["verify 192.0.2.2:22", shell]);
    assert!(shows(&harness, "Door open on 192.0.2.2"));

    let (f, mut harness) = start(Ending::StaysShut);
    click_row(&mut harness, "beta");
    click(&mut harness, "Knock & connect");
    assert_eq!(*f.log.lock().unwrap(), ["verify 192.0.2.2:22"]);
    assert!(f.started.lock().unwrap().is_empty(), "nothing launched");

    // A plain Knock of beta does not wait for anything.
    let (f, mut harness) = start(Ending::StaysShut);
    click_row(&mut harness, "beta");
    click(&mut harness, "Knock");
    assert!(f.log.lock().unwrap().is_empty());
    assert_eq!(f.plans.lock().unwrap()[0].verify, None);
}

#[test]
fn add_then_delete_a_profile() {
    let (f, mut harness) = start(Ending::Opens);
    click(&mut harness, "New…");
    set_text(&mut harness, "Name", "gamma");
    set_text(&mut harness, "Host or address", "192.0.2.3");
    set_text(&mut harness, "Sequence", "5000:udp 6000");
    click(&mut harness, "Add");

    assert_eq!(
        *harness.state().selection(),
        Selection::Profile("gamma".into())
    );
    let text = f.text();
    assert!(text.contains("[profiles.gamma]"), "{text}");
    assert!(text.contains("sequence = \"5000:udp,6000\""), "{text}");
    assert!(text.contains("# The main box."), "{text}");
    assert!(in_list(&harness, "gamma"));

    click(&mut harness, "Delete…");
    assert!(shows(&harness, "Delete gamma?"));
    click(&mut harness, "Delete");
    let text = f.text();
    assert!(!text.contains("gamma"), "{text}");
    assert!(text.contains("[profiles.beta]"));
    assert!(text.contains("# The main box."));
    assert!(!in_list(&harness, "gamma"));
}

#[test]
fn add_dialog_refuses_a_bad_name() {
    let (f, mut harness) = start(Ending::Opens);
    click(&mut harness, "New…");
    set_text(&mut harness, "Name", "-x");
    set_text(&mut harness, "Host or address", "192.0.2.3");
    set_text(&mut harness, "Sequence", "1");
    assert!(shows(
        &harness,
        "bad profile name \"-x\" (must not start with -)"
    ));
    assert!(disabled(&harness, "Add"));
    set_text(&mut harness, "Name", "alpha");
    assert!(shows(&harness, "a profile named alpha already exists"));
    click(&mut harness, "Cancel");
    assert_eq!(f.text(), FILE);
}

#[test]
fn sequence_rows_reorder_add_remove_and_paste() {
    let (_f, mut harness) = start(Ending::Opens);
    click(&mut harness, "Move knock 1 down");
    assert_eq!(
        harness.get_by_label("knockd syntax").value().as_deref(),
        Some("8000:udp,7000,9000")
    );
    click(&mut harness, "Remove knock 3");
    click(&mut harness, "+ Add knock");
    set_text(&mut harness, "Knock 3 port", "4444");
    click(&mut harness, "Knock 3 protocol TCP");
    assert_eq!(
        harness.get_by_label("knockd syntax").value().as_deref(),
        Some("8000:udp,7000,4444:udp")
    );
    set_text(&mut harness, "knockd syntax", "1 2 3:udp 4");
    assert_eq!(
        harness.get_by_label("Knock 4 port").value().as_deref(),
        Some("4")
    );
    assert!(harness.query_by_label("Knock 3 protocol UDP").is_some());
    set_text(&mut harness, "knockd syntax", "1,,2");
    assert!(shows(
        &harness,
        "empty knock between separators (expected ports like \"7000,8000:udp,9000\")"
    ));
    assert!(disabled(&harness, "Knock"));
}

#[test]
fn keyboard_moves_filters_and_knocks() {
    let (f, mut harness) = start(Ending::Opens);
    harness.key_press(egui::Key::ArrowDown);
    harness.run();
    assert_eq!(
        *harness.state().selection(),
        Selection::Profile("beta".into())
    );
    harness.key_press(egui::Key::Enter);
    harness.run();
    let plans = f.plans.lock().unwrap().clone();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].host, "192.0.2.2");

    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    harness.run();
    assert!(harness.get_by_label("Filter").is_focused());
    harness.get_by_label("Filter").type_text("alp");
    harness.run();
    assert!(in_list(&harness, "alpha"));
    assert!(!in_list(&harness, "beta"));
}

#[test]
fn quick_knock_without_a_profile() {
    let (f, mut harness) = start(Ending::Opens);
    click(&mut harness, "Quick knock");
    set_text(&mut harness, "Host", "192.0.2.9");
    set_text(&mut harness, "Ports", "7000 8000");
    harness
        .get_by_role_and_label(Role::CheckBox, "UDP for ports without :tcp/:udp")
        .click();
    harness.run();
    click(&mut harness, "Knock");
    let plans = f.plans.lock().unwrap().clone();
    assert_eq!(plans.len(), 1);
    assert_eq!(fixed(&plans[0]).to_string(), "7000:udp,8000:udp");
    assert!(shows(&harness, "Knock 2 of 2: UDP 8000 to 192.0.2.9"));
    assert_eq!(f.text(), FILE, "a quick knock saves nothing");
}

#[test]
fn outside_edits_reload_and_unsaved_edits_ask_first() {
    let (f, mut harness) = start(Ending::Opens);
    // Another program adds a profile: picked up within about a second.
    let mut text = f.text();
    text.push_str("\n[profiles.delta]\nhost = \"192.0.2.4\"\nsequence = \"1\"\n");
    std::fs::write(&f.path, &text).unwrap();
    harness.run_steps(90);
    assert!(in_list(&harness, "delta"));

    // With an unsaved edit, the app asks before reloading.
    set_text(&mut harness, "Host", "192.0.2.100");
    text.push_str("\n[profiles.epsilon]\nhost = \"192.0.2.5\"\nsequence = \"1\"\n");
    std::fs::write(&f.path, &text).unwrap();
    harness.run_steps(90);
    assert!(shows(&harness, "The profile file changed"));
    click(&mut harness, "Reload, keep my edits");
    assert!(in_list(&harness, "epsilon"));
    assert!(harness.state().is_dirty("alpha"));
    assert_eq!(
        harness.get_by_label("Host").value().as_deref(),
        Some("192.0.2.100")
    );
}

#[test]
fn a_running_knock_can_be_cancelled() {
    let (f, mut harness) = start(Ending::Hangs);
    click(&mut harness, "Knock");
    assert!(shows(&harness, "Knock 1 of 3: TCP 7000 to 192.0.2.1"));
    assert!(shows(&harness, "Knocking…"));
    assert!(disabled(&harness, "Knock"), "one knock at a time");

    click(&mut harness, "Cancel");
    let (tx, cancel) = f.hanging.lock().unwrap().take().unwrap();
    assert!(cancel.load(std::sync::atomic::Ordering::Relaxed));
    // The worker notices at its next step and ends the run.
    tx.send(KnockEvent::Finished(Err(SendError::Cancelled)));
    harness.run();
    assert!(harness.query_all_by_label("Cancelled").next().is_some());
    assert!(!disabled(&harness, "Knock"));
    click(&mut harness, "Clear");
    assert!(harness.state().run().is_none());
}

/// eframe's storage, in memory.
#[derive(Default)]
struct Memory(std::collections::HashMap<String, String>);

impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn selection_and_putty_path_are_persisted() {
    let (f, mut harness) = start(Ending::Opens);
    click_row(&mut harness, "beta");
    click(&mut harness, "Settings");
    set_text(&mut harness, "PuTTY", r"C:\Tools\putty.exe");
    click(&mut harness, "Light");
    assert_eq!(harness.ctx.theme(), egui::Theme::Light);
    click(&mut harness, "OK");

    let mut storage = Memory::default();
    harness.state().save_state(&mut storage);
    let mut app = App::new(
        &f.path,
        Box::new(knock_gui::knocker::SystemKnocker),
        Box::new(FakeLauncher::default()),
    );
    app.restore_state(&storage);
    assert_eq!(*app.selection(), Selection::Profile("beta".into()));
    assert_eq!(app.putty(), r"C:\Tools\putty.exe");
}

#[test]
fn rename_and_duplicate_keep_the_file_tidy() {
    let (f, mut harness) = start(Ending::Opens);
    click(&mut harness, "Rename…");
    set_text(&mut harness, "New name", "bad name");
    assert!(disabled(&harness, "Rename"));
    set_text(&mut harness, "New name", "main");
    click(&mut harness, "Rename");
    let text = f.text();
    assert!(text.contains("[profiles.main]"), "{text}");
    assert!(!text.contains("[profiles.alpha]"), "{text}");
    assert!(
        text.contains("sequence = \"7000,8000:udp,9000\"   # knockd's door"),
        "{text}"
    );
    assert_eq!(
        *harness.state().selection(),
        Selection::Profile("main".into())
    );

    click(&mut harness, "Duplicate");
    assert_eq!(
        *harness.state().selection(),
        Selection::Profile("main-copy".into())
    );
    let text = f.text();
    assert!(text.contains("[profiles.main-copy]"), "{text}");
    assert!(in_list(&harness, "main-copy"));
}

#[test]
fn launch_errors_show_in_the_window() {
    let (f, mut harness) = start(Ending::Opens);
    click(&mut harness, "Settings");
    set_text(&mut harness, "PuTTY", "/nonexistent/putty.exe");
    click(&mut harness, "OK");
    click_row(&mut harness, "zeta");
    click(&mut harness, "Knock & connect");
    let message = "PuTTY not found at /nonexistent/putty.exe (fix the path in Settings, or clear it to search PATH)";
    assert!(harness.query_all_by_label(message).next().is_some());
    assert!(f.started.lock().unwrap().is_empty());
}

#[test]
fn a_broken_file_is_shown_and_never_overwritten() {
    let f = Fixture::new();
    let broken = "[profiles.alpha]\nhost = \"192.0.2.1\"\nsequnce = \"1\"\n";
    std::fs::write(&f.path, broken).unwrap();
    let mut harness = f.harness(Ending::Opens);
    let shown = harness
        .query_all_by_label_contains("unknown key \"sequnce\" (did you mean \"sequence\"?)")
        .next()
        .is_some();
    assert!(shown, "the parse error with its hint is on screen");
    assert!(disabled(&harness, "New…"));
    // Quick knock still works without the file.
    assert_eq!(*harness.state().selection(), Selection::Quick);
    set_text(&mut harness, "Host", "192.0.2.9");
    set_text(&mut harness, "Ports", "1 2");
    click(&mut harness, "Knock");
    assert_eq!(f.plans.lock().unwrap().len(), 1);
    assert_eq!(f.text(), broken);

    // Fixed outside the app: picked up.
    std::fs::write(&f.path, FILE).unwrap();
    harness.run_steps(90);
    assert!(in_list(&harness, "alpha"));
    assert!(!disabled(&harness, "New…"));
}

fn select(harness: &mut Harness<'_, App>, name: &str) {
    click_row(harness, name);
    assert_eq!(
        *harness.state().selection(),
        Selection::Profile(name.into())
    );
}

fn known_secret() -> Secret {
    Secret::parse_base32(SECRET).unwrap()
}

/// What the library derives for door "vault" at the fake clock's time
/// plus `later_ms`.
fn derived(later_ms: u64) -> (u64, knock_profiles::Sequence) {
    let rotation = Rotation::new(Params::default(), known_secret()).unwrap();
    let step = Params::default().step((NOW_MS + later_ms) / 1000);
    (step, rotation.sequence_at("vault", step))
}

/// The value of the input named `label`.
fn value_of(harness: &Harness<'_, App>, label: &str) -> Option<String> {
    harness.get_by_label(label).value()
}

#[test]
fn a_rotating_profile_is_listed_with_a_tag_and_its_keys_fill_the_form() {
    let (_f, mut harness) = start(Ending::Opens);
    assert!(in_list(&harness, "vault"));
    let row = harness.get_by_role_and_label(Role::Button, "vault");
    assert_eq!(
        row.accesskit_node().description().as_deref(),
        Some("192.0.2.7  ·  rotating"),
        "a tag instead of the sequence"
    );
    select(&mut harness, "vault");
    for (label, value) in [
        ("Host", "192.0.2.7"),
        ("Door", ""),
        ("Period (s)", "30"),
        ("Length", "4"),
        ("Port range", "10000-60000"),
        ("Exclude ports", ""),
        ("Open port", "2222"),
        ("Delay (ms)", ""),
    ] {
        assert_eq!(value_of(&harness, label).as_deref(), Some(value), "{label}");
    }
    assert_eq!(value_of(&harness, "Protocol").as_deref(), Some("TCP"));
    assert!(shows(
        &harness,
        "OS keyring (service \"knock\", account \"vault\")"
    ));
    // The Secret area, and the buttons of an editable profile.
    assert!(shows(&harness, "Generate & store in keyring"));
    assert!(shows(&harness, "Show secret"));
    assert!(disabled(&harness, "Save"), "nothing to save yet");
    assert!(!disabled(&harness, "Duplicate"));
    assert!(!disabled(&harness, "Knock"));
    // The filter finds it by host too.
    set_text(&mut harness, "Filter", "192.0.2.7");
    assert!(in_list(&harness, "vault"));
    assert!(!in_list(&harness, "alpha"));
}

/// Steps a few frames and returns what the app copied to the clipboard.
fn copied_after_click(harness: &mut Harness<'_, App>, label: &str) -> Vec<String> {
    harness.get_by_label(label).click();
    let mut copied = Vec::new();
    for _ in 0..3 {
        harness.step();
        for command in &harness.output().platform_output.commands {
            if let egui::OutputCommand::CopyText(text) = command {
                copied.push(text.clone());
            }
        }
    }
    copied
}

#[test]
fn generate_stores_the_secret_in_the_keyring_and_never_in_the_file() {
    let (f, mut harness) = start(Ending::Opens);
    select(&mut harness, "vault");
    assert!(f.ring.get("vault").is_err(), "no secret yet");
    click(&mut harness, "Generate & store in keyring");

    let stored = f.ring.get("vault").expect("the mock keyring has it");
    assert_eq!(stored.bits(), 160);
    let text = f.text();
    assert_eq!(text, FILE, "the profile file is untouched");
    assert!(!text.contains(&stored.to_base32()));
    // Revealed once, for the server's Secret_File, with its URI.
    assert!(shows(&harness, &stored.to_base32_grouped()));
    let uri = rotate::share_uri("vault", &Params::default(), &stored);
    assert!(shows(&harness, &uri));
    assert_eq!(copied_after_click(&mut harness, "Copy URI"), [uri]);
    assert_eq!(
        copied_after_click(&mut harness, "Copy secret"),
        [stored.to_base32()]
    );

    // A second Generate asks before replacing it.
    click(&mut harness, "Generate & store in keyring");
    assert!(shows(&harness, "Replace the secret of vault?"));
    click(&mut harness, "Keep the old one");
    assert_eq!(f.ring.get("vault").unwrap(), stored);
    click(&mut harness, "Generate & store in keyring");
    click(&mut harness, "Replace");
    let replaced = f.ring.get("vault").unwrap();
    assert_ne!(replaced, stored);
    assert!(shows(&harness, &replaced.to_base32_grouped()));
    assert_eq!(f.text(), FILE);
}

#[test]
fn show_secret_reveals_it_until_hidden_or_another_profile_is_picked() {
    let f = Fixture::new();
    f.ring.set("vault", &known_secret()).unwrap();
    let mut harness = f.harness(Ending::Opens);
    select(&mut harness, "vault");
    assert!(!shows(&harness, &known_secret().to_base32_grouped()));
    click(&mut harness, "Show secret");
    assert!(shows(&harness, "GAYT EMZU GU3D OOBZ MFRG GZDF MZTW Q2LK"));
    assert!(shows(
        &harness,
        "knock://rotate?door=vault&secret=GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK&period=30&length=4&range=10000-60000"
    ));
    click(&mut harness, "Hide secret");
    assert!(!shows(&harness, "GAYT EMZU GU3D OOBZ MFRG GZDF MZTW Q2LK"));

    click(&mut harness, "Show secret");
    select(&mut harness, "beta");
    select(&mut harness, "vault");
    assert!(!shows(&harness, "GAYT EMZU GU3D OOBZ MFRG GZDF MZTW Q2LK"));
}

#[test]
fn knock_on_a_rotating_profile_sends_the_sequence_of_the_current_step() {
    let f = Fixture::new();
    f.ring.set("vault", &known_secret()).unwrap();
    let mut harness = f.harness(Ending::Opens);
    select(&mut harness, "vault");
    click(&mut harness, "Knock");

    let (step, want) = derived(0);
    assert_eq!(step, 56_666_666);
    assert_eq!(f.knocked(), want.knocks());
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let probe = SocketAddr::new(ip, 2222);
    assert!(f.destinations().iter().all(|to| to.ip() == ip));
    assert_eq!(f.wire.lock().unwrap().probes, [probe]);
    assert!(
        harness
            .query_all_by_label_contains("for the next period")
            .next()
            .is_none(),
        "no wait mid-period"
    );
    assert!(shows(
        &harness,
        &format!("Rotating sequence of step {step}: {want}")
    ));
    for (i, k) in want.knocks().iter().enumerate() {
        let line = format!("Knock {} of 4: TCP {} to 192.0.2.7", i + 1, k.port);
        assert!(shows(&harness, &line), "missing {line:?}");
    }
    assert!(shows(&harness, "Door open on 192.0.2.7"));
}

#[test]
fn near_the_end_of_a_period_the_knock_waits_for_the_next_one() {
    let f = Fixture::new();
    f.ring.set("vault", &known_secret()).unwrap();
    // 29.4 s into the period: 0.6 s left, less than 1 s + 3 gaps of 100 ms.
    *f.wall.now.lock().unwrap() += Duration::from_millis(9_400);
    let mut harness = f.harness(Ending::Opens);
    select(&mut harness, "vault");
    click(&mut harness, "Knock");

    assert!(shows(&harness, "Waiting 600 ms for the next period (30 s)"));
    // The wait, then the 3 gaps between the knocks.
    let slept: Duration = f.wall.slept.lock().unwrap().iter().sum();
    assert_eq!(slept, Duration::from_millis(900));
    let (step, want) = derived(10_000);
    assert_eq!(step, 56_666_667);
    assert_ne!(want, derived(0).1);
    assert_eq!(f.knocked(), want.knocks());
    assert!(shows(
        &harness,
        &format!("Rotating sequence of step {step}: {want}")
    ));
}

#[test]
fn a_missing_secret_is_shown_and_nothing_is_sent() {
    let (f, mut harness) = start(Ending::Opens);
    select(&mut harness, "vault");
    click(&mut harness, "Knock & connect");
    let message = "cannot get the secret of \"vault\" from the OS keyring (service \"knock\"): no secret for \"vault\" in the keyring (service \"knock\"); create one with knock --gen-secret vault";
    assert!(harness.query_all_by_label(message).next().is_some());
    assert!(f.destinations().is_empty(), "nothing sent");
    assert!(f.started.lock().unwrap().is_empty(), "nothing launched");
    assert!(!disabled(&harness, "Knock"));
}

#[test]
fn without_a_keyring_service_the_window_points_to_secret_cmd() {
    let f = Fixture::new();
    let env = Env {
        secrets: Arc::new(NoKeyringService),
        ..f.env()
    };
    let mut harness = f.harness_with(Ending::Opens, env);
    select(&mut harness, "vault");
    click(&mut harness, "Generate & store in keyring");
    let message = "no keyring service is available (no D-Bus session bus); use secret_cmd = \"pass show knock/vault\" instead";
    // In the Secret area and the status bar.
    assert_eq!(harness.query_all_by_label(message).count(), 2);
    assert_eq!(f.text(), FILE);
    click(&mut harness, "Show secret");
    assert_eq!(harness.query_all_by_label(message).count(), 2);
}

#[test]
fn a_secret_cmd_profile_generates_without_touching_the_keyring() {
    let f = Fixture::new();
    let mut text = FILE.to_string();
    text.push_str(&format!(
        "\n[profiles.lab]\nhost = \"192.0.2.8\"\nrotate = true\nsecret_cmd = \"echo {SECRET}\"\ndoor = \"openSSH\"\n"
    ));
    std::fs::write(&f.path, &text).unwrap();
    let mut harness = f.harness(Ending::Opens);
    select(&mut harness, "lab");
    assert_eq!(
        value_of(&harness, "Secret command"),
        Some(format!("echo {SECRET}"))
    );
    assert_eq!(value_of(&harness, "Door").as_deref(), Some("openSSH"));
    click(&mut harness, "Generate new secret");
    assert!(f.ring.get("lab").is_err());
    assert_eq!(f.text(), text);
    click(&mut harness, "Hide secret");
    click(&mut harness, "Show secret");
    assert!(shows(&harness, "GAYT EMZU GU3D OOBZ MFRG GZDF MZTW Q2LK"));
    click(&mut harness, "Knock");
    let rotation = Rotation::new(Params::default(), known_secret()).unwrap();
    let want = rotation.sequence_at("openSSH", Params::default().step(NOW_MS / 1000));
    assert_eq!(f.knocked(), want.knocks());
}

#[test]
fn a_rotating_profile_can_be_renamed_and_deleted() {
    let f = Fixture::new();
    f.ring.set("vault", &known_secret()).unwrap();
    let mut harness = f.harness(Ending::Opens);
    select(&mut harness, "vault");
    click(&mut harness, "Rename…");
    set_text(&mut harness, "New name", "vault2");
    click(&mut harness, "Rename");
    let text = f.text();
    assert!(
        text.contains("[profiles.vault2]\nhost = \"192.0.2.7\"\nrotate = true"),
        "{text}"
    );
    assert!(in_list(&harness, "vault2"));
    // The secret moved with the profile: the keyring is per profile name.
    assert_eq!(f.ring.get("vault2").unwrap(), known_secret());
    assert!(
        f.ring.get("vault").is_err(),
        "no secret left under the old name"
    );
    assert!(shows(
        &harness,
        "Renamed vault to vault2; its secret moved with it in the keyring"
    ));
    click(&mut harness, "Delete…");
    click(&mut harness, "Delete");
    let text = f.text();
    assert!(!text.contains("vault"), "{text}");
    assert!(text.contains("[profiles.zeta]"), "{text}");
}

/// The profile file on disk, parsed by the library.
fn parsed(f: &Fixture) -> knock_profiles::profile::ProfileFile {
    knock_profiles::profile::ProfileFile::parse(&f.text(), &f.path).unwrap()
}

#[test]
fn edit_a_rotating_period_see_the_error_fix_it_and_save_keeping_comments() {
    let f = Fixture::new();
    f.ring.set("vault", &known_secret()).unwrap();
    let mut harness = f.harness(Ending::Opens);
    select(&mut harness, "vault");
    assert!(disabled(&harness, "Save"), "nothing to save yet");

    set_text(&mut harness, "Period (s)", "3");
    let message = "period_s 3 is out of range (expected 5-86400 seconds)";
    assert!(shows(&harness, message));
    assert!(shows(
        &harness,
        &format!("Fix before knocking or saving: {message}")
    ));
    assert!(disabled(&harness, "Knock"));
    assert!(disabled(&harness, "Knock & connect"));
    assert!(disabled(&harness, "Save"));
    assert!(harness.state().is_dirty("vault"));
    assert_eq!(f.text(), FILE, "nothing written");

    set_text(&mut harness, "Period (s)", "60");
    assert!(!shows(&harness, message));
    assert!(!disabled(&harness, "Knock"));
    assert!(!disabled(&harness, "Save"));
    click(&mut harness, "Save");

    let text = f.text();
    assert_ne!(text, FILE);
    for kept in [
        "# My servers. Comments like this one must survive the GUI's edits.",
        "# Knocks a sequence derived from the secret in the keyring and the clock.",
        "open_port = 2222   # the vault's sshd",
        "secret = \"keyring\"",
        "sequence = \"7000,8000:udp,9000\"   # knockd's door",
    ] {
        assert!(text.contains(kept), "lost {kept:?} in:\n{text}");
    }
    assert!(
        !text.contains(SECRET),
        "the secret is not in the file:\n{text}"
    );
    let file = parsed(&f);
    let vault = &file.rotating["vault"];
    assert_eq!(vault.rotation.params.period, Duration::from_secs(60));
    assert_eq!(vault.rotation.door, "vault");
    assert_eq!(vault.options.text("open_port").as_deref(), Some("2222"));
    assert_eq!(file.profiles.len(), 3, "the fixed profiles are untouched");
    assert!(!harness.state().is_dirty("vault"));
    assert!(disabled(&harness, "Save"));
    assert_eq!(
        harness.state().status().map(|s| s.text.clone()),
        Some(format!("Saved vault to {}", f.path.display()))
    );

    // The knock derives the sequence with the saved period.
    click(&mut harness, "Knock");
    let params = Params {
        period: Duration::from_secs(60),
        ..Params::default()
    };
    let rotation = Rotation::new(params.clone(), known_secret()).unwrap();
    let want = rotation.sequence_at("vault", params.step(NOW_MS / 1000));
    assert_eq!(f.knocked(), want.knocks());
}

#[test]
fn a_rotating_profile_switches_to_secret_cmd_and_back_to_the_keyring() {
    let (f, mut harness) = start(Ending::Opens);
    select(&mut harness, "vault");
    click(&mut harness, "A command");
    // The command is required, in the parser's words.
    assert!(
        harness
            .query_all_by_label_contains("secret_cmd is empty")
            .next()
            .is_some()
    );
    assert!(disabled(&harness, "Save"));
    // Until saved, the Secret actions would use the old source.
    assert!(disabled(&harness, "Generate & store in keyring"));
    set_text(&mut harness, "Secret command", &format!("echo {SECRET}"));
    click(&mut harness, "Save");
    let text = f.text();
    assert!(
        text.contains(&format!("secret_cmd = \"echo {SECRET}\"")),
        "{text}"
    );
    assert!(!text.contains("secret = \"keyring\""), "{text}");
    assert!(!disabled(&harness, "Generate new secret"));

    click(&mut harness, "OS keyring");
    click(&mut harness, "Save");
    let text = f.text();
    assert!(!text.contains("secret_cmd"), "{text}");
    assert_eq!(
        parsed(&f).rotating["vault"].rotation.secret,
        SecretSource::Keyring
    );
}

#[test]
fn duplicate_a_rotating_profile_without_its_secret() {
    let f = Fixture::new();
    f.ring.set("vault", &known_secret()).unwrap();
    let mut harness = f.harness(Ending::Opens);
    select(&mut harness, "vault");
    set_text(&mut harness, "Length", "6");
    click(&mut harness, "Duplicate");

    assert_eq!(
        *harness.state().selection(),
        Selection::Profile("vault-copy".into())
    );
    assert!(in_list(&harness, "vault-copy"));
    let text = f.text();
    assert!(text.contains("[profiles.vault-copy]"), "{text}");
    assert!(text.contains("# The main box."), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    let file = parsed(&f);
    let copy = &file.rotating["vault-copy"];
    // The form as typed; a default door follows the copy's name.
    assert_eq!(&*copy.host, "192.0.2.7");
    assert_eq!(copy.options.text("open_port").as_deref(), Some("2222"));
    assert_eq!(copy.rotation.params.length, 6);
    assert_eq!(copy.rotation.door, "vault-copy");
    assert_eq!(file.rotating["vault"].rotation.params.length, 4);
    // Secrets belong to a profile name: the copy has none, and says so.
    assert!(f.ring.get("vault-copy").is_err());
    assert!(shows(
        &harness,
        "vault-copy has no secret yet: the keyring holds secrets per profile name (account \"vault-copy\"), so it does not share vault's. Generate one, then put it in the server's Secret_File."
    ));
    assert_eq!(value_of(&harness, "Length").as_deref(), Some("6"));
    click(&mut harness, "Knock");
    assert!(
        harness
            .query_all_by_label_contains("no secret for \"vault-copy\" in the keyring")
            .next()
            .is_some()
    );
    assert!(f.destinations().is_empty(), "nothing sent");
    click(&mut harness, "Generate & store in keyring");
    assert_ne!(f.ring.get("vault-copy").unwrap(), known_secret());
    assert_eq!(f.ring.get("vault").unwrap(), known_secret());
}

#[test]
fn create_a_new_rotating_profile() {
    let (f, mut harness) = start(Ending::Opens);
    click(&mut harness, "New…");
    assert!(harness.query_by_label("Sequence").is_some());
    harness
        .get_by_role_and_label(Role::CheckBox, "Rotating sequence")
        .click();
    harness.run();
    assert!(
        harness.query_by_label("Sequence").is_none(),
        "no fixed sequence"
    );
    set_text(&mut harness, "Name", "lab");
    set_text(&mut harness, "Host or address", "192.0.2 .30");
    assert!(shows(
        &harness,
        "bad host \"192.0.2 .30\" (contains whitespace)"
    ));
    assert!(disabled(&harness, "Add"));
    set_text(&mut harness, "Host or address", "192.0.2.30");
    click(&mut harness, "Add");

    assert_eq!(
        *harness.state().selection(),
        Selection::Profile("lab".into())
    );
    assert!(in_list(&harness, "lab"));
    let text = f.text();
    assert!(
        text.contains(
            "[profiles.lab]\nhost = \"192.0.2.30\"\nrotate = true\nsecret = \"keyring\"\n"
        ),
        "{text}"
    );
    assert!(text.contains("# The main box."), "{text}");
    let file = parsed(&f);
    let lab = &file.rotating["lab"];
    assert_eq!(lab.rotation.params, Params::default());
    assert_eq!(lab.rotation.door, "lab");
    // The rotating form, with the library's defaults and a note on the secret.
    assert_eq!(value_of(&harness, "Period (s)").as_deref(), Some("30"));
    assert!(shows(
        &harness,
        "lab has no secret yet: generate one into the keyring (account \"lab\"), then put it in the server's Secret_File."
    ));
    click(&mut harness, "Generate & store in keyring");
    assert_eq!(f.ring.get("lab").unwrap().bits(), 160);
    assert_eq!(f.text(), text, "the secret is not in the file");
}

#[test]
fn a_rotating_retry_waits_for_the_next_period_and_knocks_its_sequence() {
    let f = Fixture::new();
    f.ring.set("vault", &known_secret()).unwrap();
    let mut harness = f.harness(Ending::StaysShut);
    select(&mut harness, "vault");
    // An unsaved edit counts: the form is what knocks.
    set_text(&mut harness, "Retries", "1");
    click(&mut harness, "Knock");

    let (step, first) = derived(0);
    let (next, second) = derived(10_000);
    assert_eq!(next, step + 1);
    let mut both = first.knocks().to_vec();
    both.extend_from_slice(second.knocks());
    assert_eq!(f.knocked(), both, "the retry knocks the next step");
    for line in [
        format!("Rotating sequence of step {step}: {first}"),
        "Port 2222 did not open (attempt 1)".to_string(),
        "Attempt 2: knocking again".to_string(),
        format!("Rotating sequence of step {next}: {second}"),
        "Port 2222 did not open (attempt 2)".to_string(),
    ] {
        assert!(shows(&harness, &line), "missing {line:?}");
    }
    assert!(
        harness
            .query_all_by_label_contains("for the next period (30 s)")
            .next()
            .is_some()
    );
    assert!(harness.state().is_dirty("vault"));
    assert_eq!(f.text(), FILE);
}
