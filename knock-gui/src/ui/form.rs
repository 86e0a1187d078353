//! The selected profile's form: target, sequence editor, verify, connect;
//! and the Knock / Save buttons. The parts every profile has (target,
//! verify, connect, the buttons) are shared with the rotating form.

use egui::{RichText, TextEdit};
use knock_profiles::Proto;
use knock_profiles::options::{Family, Launch, Options};
use knock_profiles::profile::Settings;

use super::widgets::{
    RowAction, field_ui, knock_buttons_ui, knock_row_ui, problem_ui, tag_label_ui,
};
use crate::draft::{Common, Draft, KnockRow, LaunchChoice, Problems};
use crate::state::{Dialog, Intent};

pub(super) const LABEL_WIDTH: f32 = 120.0;
pub(super) const FIELD_WIDTH: f32 = 260.0;
pub(super) const SMALL_WIDTH: f32 = 120.0;

/// The form of a profile: its draft (a [`Draft`] for a fixed sequence,
/// a rotating one for the rotating form) and what it shows around it.
pub struct FormView<'a, D> {
    pub name: &'a str,
    pub draft: &'a mut D,
    /// What is wrong with the form as typed (empty when it is valid).
    pub problems: Problems,
    pub state: ActionState,
    /// The saved profile with `[defaults]` applied: what an empty field
    /// falls back to.
    pub inherited: Option<Settings>,
    pub defaults: Options,
}

impl<'a, D> FormView<'a, D> {
    /// The form of `name`; `problems` is `None` when it is valid (and
    /// Knock and Save may be on).
    pub fn new(
        name: &'a str,
        draft: &'a mut D,
        problems: Option<Problems>,
        state: ActionState,
        inherited: Option<Settings>,
        defaults: Options,
    ) -> Self {
        FormView {
            name,
            draft,
            state: ActionState {
                valid: problems.is_none(),
                ..state
            },
            problems: problems.unwrap_or_default(),
            inherited,
            defaults,
        }
    }
}

pub(super) fn show(ui: &mut egui::Ui, view: FormView<'_, Draft>, intents: &mut Vec<Intent>) {
    let FormView {
        name,
        draft,
        problems,
        state,
        inherited,
        defaults,
    } = view;
    let frame = PageFrame {
        name,
        tag: None,
        about: None,
        knock_hover: "Send the knock sequence (Enter)",
        actions_id: "knock-form-actions",
    };
    page_frame_ui(ui, &frame, state, &problems, intents);

    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            section(ui, "Target");
            target_ui(ui, &mut draft.common, &problems, &defaults);

            section(ui, "Knock sequence");
            grid(ui, "knock-form-sequence", |ui| {
                ui.label("Knocks");
                ui.vertical(|ui| sequence_rows_ui(ui, draft, &problems));
                ui.end_row();
                sequence_text_ui(ui, draft, &problems);
                delay_ui(ui, &mut draft.common, &problems, inherited.as_ref());
                field_ui(
                    ui,
                    "Close sequence",
                    &mut draft.close_sequence,
                    "optional, e.g. 9000,8000,7000",
                    FIELD_WIDTH,
                    problems.get("close_sequence"),
                );
            });

            section(ui, "Verify");
            verify_ui(ui, &mut draft.common, &problems, inherited.as_ref());

            section(ui, "Connect");
            connect_ui(
                ui,
                &mut draft.common,
                &problems,
                inherited.as_ref(),
                &defaults,
            );
        });
}

/// What frames a profile's form: its heading and its actions.
pub(super) struct PageFrame<'a> {
    pub name: &'a str,
    /// A tag after the name ("rotating").
    pub tag: Option<&'a str>,
    /// A line under the heading.
    pub about: Option<&'a str>,
    /// The Knock button's tooltip.
    pub knock_hover: &'a str,
    /// The id of the bottom panel with the actions.
    pub actions_id: &'a str,
}

/// The heading and, at the bottom so they stay in view, the actions; the
/// caller then draws the fields in what is left.
pub(super) fn page_frame_ui(
    ui: &mut egui::Ui,
    frame: &PageFrame<'_>,
    state: ActionState,
    problems: &Problems,
    intents: &mut Vec<Intent>,
) {
    header_ui(ui, frame.name, frame.tag, state, intents);
    match frame.about {
        Some(about) => {
            ui.label(RichText::new(about).weak());
            ui.add_space(4.0);
        }
        None => ui.add_space(6.0),
    }
    egui::Panel::bottom(frame.actions_id)
        .frame(egui::Frame::NONE.inner_margin(egui::Margin::symmetric(0, 10)))
        .show(ui, |ui| {
            actions(ui, frame.name, state, problems, frame.knock_hover, intents);
        });
}

/// The form's heading: name, an optional tag, "unsaved changes", Rename.
fn header_ui(
    ui: &mut egui::Ui,
    name: &str,
    tag: Option<&str>,
    state: ActionState,
    intents: &mut Vec<Intent>,
) {
    ui.horizontal(|ui| {
        ui.heading(RichText::new(name).strong());
        if let Some(tag) = tag {
            tag_label_ui(ui, tag);
        }
        if state.dirty {
            ui.label(
                RichText::new("unsaved changes")
                    .color(ui.visuals().warn_fg_color)
                    .small(),
            );
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(state.can_save, egui::Button::new("Rename…"))
                .clicked()
            {
                intents.push(Intent::OpenDialog(Dialog::Rename {
                    old: name.to_string(),
                    new: name.to_string(),
                }));
            }
        });
    });
}

/// A two-column grid of labelled fields.
pub(super) fn grid(ui: &mut egui::Ui, id: &str, rows: impl FnOnce(&mut egui::Ui)) {
    egui::Grid::new(id)
        .num_columns(2)
        .min_col_width(LABEL_WIDTH)
        .spacing([12.0, 8.0])
        .show(ui, rows);
}

/// "default X" from the merged settings, for an empty field's hint.
fn inherit(inherited: Option<&Settings>, f: &dyn Fn(&Settings) -> String) -> String {
    inherited
        .map(|s| format!("default {}", f(s)))
        .unwrap_or_default()
}

/// Host and address family.
pub(super) fn target_ui(
    ui: &mut egui::Ui,
    common: &mut Common,
    problems: &Problems,
    defaults: &Options,
) {
    grid(ui, "knock-form-target", |ui| {
        field_ui(
            ui,
            "Host",
            &mut common.host,
            "name or address",
            FIELD_WIDTH,
            problems.get("host"),
        );
        let label = ui.label("Address family");
        family_ui(ui, &mut common.family, label.id, defaults.family);
        ui.end_row();
    });
}

/// The pause between knocks (a row of the caller's grid).
pub(super) fn delay_ui(
    ui: &mut egui::Ui,
    common: &mut Common,
    problems: &Problems,
    inherited: Option<&Settings>,
) {
    field_ui(
        ui,
        "Delay (ms)",
        &mut common.delay_ms,
        &inherit(inherited, &|s| s.options.delay_ms.to_string()),
        SMALL_WIDTH,
        problems.get("delay_ms"),
    );
}

/// Open port, wait, retries.
pub(super) fn verify_ui(
    ui: &mut egui::Ui,
    common: &mut Common,
    problems: &Problems,
    inherited: Option<&Settings>,
) {
    grid(ui, "knock-form-verify", |ui| {
        field_ui(
            ui,
            "Open port",
            &mut common.open_port,
            &inherited
                .and_then(|s| s.options.open_port)
                .map_or_else(|| "none (no check)".to_string(), |p| format!("default {p}")),
            SMALL_WIDTH,
            problems.get("open_port"),
        );
        field_ui(
            ui,
            "Wait (ms)",
            &mut common.wait_ms,
            &inherit(inherited, &|s| s.options.wait_ms.to_string()),
            SMALL_WIDTH,
            problems.get("wait_ms"),
        );
        field_ui(
            ui,
            "Retries",
            &mut common.retries,
            &inherit(inherited, &|s| s.options.retries.to_string()),
            SMALL_WIDTH,
            problems.get("retries"),
        );
    });
}

/// What to start after knocking, user, ssh port, identity file.
pub(super) fn connect_ui(
    ui: &mut egui::Ui,
    common: &mut Common,
    problems: &Problems,
    inherited: Option<&Settings>,
    defaults: &Options,
) {
    grid(ui, "knock-form-connect", |ui| {
        let label = ui.label("Then start");
        ui.vertical(|ui| {
            launch_ui(ui, common, label.id, defaults.launch.as_ref());
            if common.launch == LaunchChoice::Custom {
                let edit = TextEdit::singleline(&mut common.custom)
                    .id_salt("knock-custom")
                    .hint_text("e.g. xterm -e mosh {user}@{host}")
                    .desired_width(FIELD_WIDTH);
                ui.add(edit).accessible_name("Custom command");
            }
            problem_ui(ui, problems.get("launch"));
        });
        ui.end_row();
        field_ui(
            ui,
            "User",
            &mut common.user,
            &inherited
                .and_then(|s| s.options.user.clone())
                .map(|u| format!("default {u}"))
                .unwrap_or_else(|| "your login name".into()),
            FIELD_WIDTH,
            problems.get("user"),
        );
        field_ui(
            ui,
            "SSH port",
            &mut common.ssh_port,
            &inherit(inherited, &|s| s.options.ssh_port.to_string()),
            SMALL_WIDTH,
            problems.get("ssh_port"),
        );
        field_ui(
            ui,
            "Identity file",
            &mut common.identity_file,
            &inherited
                .and_then(|s| s.options.identity_file.as_ref())
                .map_or_else(|| "ssh's default key".into(), |k| format!("default {k}")),
            FIELD_WIDTH,
            problems.get("identity_file"),
        )
        .on_hover_text("The private key to log in with: ssh -i, PuTTY -i for a .ppk, {identity} in a custom command");
    });
}

pub(super) fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(8.0);
    ui.label(RichText::new(title).strong().size(15.0));
    ui.add_space(2.0);
}

/// The knocks as rows, and an "add knock" button.
fn sequence_rows_ui(ui: &mut egui::Ui, draft: &mut Draft, problems: &Problems) {
    let count = draft.knocks.len();
    let mut action = None;
    for i in 0..count {
        let problem = problems.knocks.get(i).and_then(|p| p.as_deref());
        if let Some(row) = draft.knocks.get_mut(i) {
            match knock_row_ui(ui, i, count, row, problem) {
                RowAction::None => {}
                a => action = Some((i, a)),
            }
        }
    }
    if let Some((i, a)) = action {
        match a {
            RowAction::Up if i > 0 => draft.knocks.swap(i, i - 1),
            RowAction::Down if i + 1 < count => draft.knocks.swap(i, i + 1),
            RowAction::Remove => {
                draft.knocks.remove(i);
            }
            _ => {}
        }
        draft.rows_changed();
    }
    if ui.button("+ Add knock").clicked() {
        let proto = draft.knocks.last().map_or(Proto::Tcp, |k| k.proto);
        draft.knocks.push(KnockRow::new("", proto));
        draft.rows_changed();
    }
}

/// The same sequence in knockd syntax: paste here to replace the rows.
fn sequence_text_ui(ui: &mut egui::Ui, draft: &mut Draft, problems: &Problems) {
    let label = ui.label("knockd syntax");
    ui.vertical(|ui| {
        let edit = TextEdit::singleline(&mut draft.sequence_text)
            .id_salt("knock-sequence-text")
            .font(egui::TextStyle::Monospace)
            .hint_text("7000,8000:udp,9000")
            .desired_width(FIELD_WIDTH);
        let response = ui.add(edit).labelled_by(label.id);
        if response.changed() {
            draft.sequence_text_changed();
        }
        if response.lost_focus() {
            draft.rows_changed();
        }
        problem_ui(ui, problems.get("sequence"));
    });
    ui.end_row();
}

fn family_ui(
    ui: &mut egui::Ui,
    family: &mut Option<Family>,
    label: egui::Id,
    default: Option<Family>,
) {
    let text = |f: Option<Family>| match f {
        None => format!("Default ({})", default.unwrap_or_default().as_str()),
        Some(Family::Any) => "Any (first address)".to_string(),
        Some(Family::Ipv4) => "IPv4 only".to_string(),
        Some(Family::Ipv6) => "IPv6 only".to_string(),
    };
    let response = egui::ComboBox::from_id_salt("knock-family")
        .selected_text(text(*family))
        .width(FIELD_WIDTH)
        .show_ui(ui, |ui| {
            for choice in [
                None,
                Some(Family::Any),
                Some(Family::Ipv4),
                Some(Family::Ipv6),
            ] {
                ui.selectable_value(family, choice, text(choice));
            }
        })
        .response;
    response.labelled_by(label);
}

fn launch_ui(ui: &mut egui::Ui, common: &mut Common, label: egui::Id, default: Option<&Launch>) {
    let text = |c: LaunchChoice| match c {
        LaunchChoice::Inherit => format!(
            "Default ({})",
            default.map_or_else(|| "ssh".to_string(), |l| l.to_string())
        ),
        c => c.label().to_string(),
    };
    let response = egui::ComboBox::from_id_salt("knock-launch")
        .selected_text(text(common.launch))
        .width(FIELD_WIDTH)
        .show_ui(ui, |ui| {
            for choice in LaunchChoice::ALL {
                ui.selectable_value(&mut common.launch, choice, text(choice));
            }
        })
        .response;
    response.labelled_by(label);
}

/// What the Knock / Save / Revert buttons depend on.
#[derive(Debug, Clone, Copy)]
pub struct ActionState {
    /// The form has no problems.
    pub valid: bool,
    pub dirty: bool,
    /// A knock is running.
    pub running: bool,
    pub can_save: bool,
}

/// Knock, Knock & connect, Save, Revert; and the first problem, if any.
fn actions(
    ui: &mut egui::Ui,
    name: &str,
    state: ActionState,
    problems: &Problems,
    knock_hover: &str,
    intents: &mut Vec<Intent>,
) {
    let ActionState {
        valid,
        dirty,
        running,
        can_save,
    } = state;
    ui.horizontal(|ui| {
        let connect_hover = "Knock, wait for the port, then start ssh / PuTTY";
        if let Some(connect) =
            knock_buttons_ui(ui, valid && !running, Some(knock_hover), connect_hover)
        {
            intents.push(Intent::Knock { connect });
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(dirty, egui::Button::new("Revert"))
                .on_hover_text("Forget the edits and show the saved profile")
                .clicked()
            {
                intents.push(Intent::Revert(name.to_string()));
            }
            let save = egui::Button::new("Save").min_size(egui::vec2(80.0, 28.0));
            if ui
                .add_enabled(valid && dirty && can_save, save)
                .on_hover_text("Write this profile to the profile file (comments are kept)")
                .clicked()
            {
                intents.push(Intent::Save(name.to_string()));
            }
        });
    });
    if let Some(first) = problems.messages().next() {
        ui.label(
            RichText::new(format!("Fix before knocking or saving: {first}"))
                .color(ui.visuals().error_fg_color),
        );
    }
}
