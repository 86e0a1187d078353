//! The selected profile's form: target, sequence editor, verify, connect;
//! and the Knock / Save buttons.

use egui::{RichText, TextEdit};
use knock_profiles::Proto;
use knock_profiles::profile::{Family, Launch, Settings};

use super::widgets::{RowAction, field_ui, knock_row_ui, problem_ui};
use crate::app::{App, Dialog, Intent};
use crate::draft::{Draft, KnockRow, LaunchChoice, Problems};

const LABEL_WIDTH: f32 = 120.0;
const FIELD_WIDTH: f32 = 260.0;
const SMALL_WIDTH: f32 = 120.0;

pub(super) fn show(ui: &mut egui::Ui, app: &mut App, name: &str, intents: &mut Vec<Intent>) {
    let dirty = app.is_dirty(name);
    let running = app.run.as_ref().is_some_and(|r| r.is_running());
    let can_save = app.can_save();
    // What a field left empty falls back to.
    let inherited = app.store.as_ref().and_then(|s| {
        let p = s.file().profiles.get(name)?;
        Some(Settings::merge(name, p, &s.file().defaults))
    });
    let defaults = app
        .store
        .as_ref()
        .map(|s| s.file().defaults.clone())
        .unwrap_or_default();
    let Some(draft) = app.draft_mut(name) else {
        ui.label(format!("The profile {name} is no longer in the file."));
        return;
    };
    let checked = draft.check();
    let problems = checked
        .as_ref()
        .err()
        .map(|p| (**p).clone())
        .unwrap_or_default();
    let valid = checked.is_ok();

    // Header: name, state, rename.
    ui.horizontal(|ui| {
        ui.heading(RichText::new(name).strong());
        if dirty {
            ui.label(
                RichText::new("unsaved changes")
                    .color(ui.visuals().warn_fg_color)
                    .small(),
            );
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(can_save, egui::Button::new("Rename…"))
                .clicked()
            {
                intents.push(Intent::OpenDialog(Dialog::Rename {
                    old: name.to_string(),
                    new: name.to_string(),
                }));
            }
        });
    });
    ui.add_space(6.0);

    // Actions sit at the bottom so they stay in view.
    egui::Panel::bottom("knock-form-actions")
        .frame(egui::Frame::NONE.inner_margin(egui::Margin::symmetric(0, 10)))
        .show(ui, |ui| {
            actions(
                ui, name, valid, dirty, running, can_save, &problems, intents,
            );
        });

    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let inherit = |f: &dyn Fn(&Settings) -> String| {
                inherited
                    .as_ref()
                    .map(|s| format!("default {}", f(s)))
                    .unwrap_or_default()
            };

            section(ui, "Target");
            egui::Grid::new("knock-form-target")
                .num_columns(2)
                .min_col_width(LABEL_WIDTH)
                .spacing([12.0, 8.0])
                .show(ui, |ui| {
                    field_ui(
                        ui,
                        "Host",
                        &mut draft.host,
                        "name or address",
                        FIELD_WIDTH,
                        problems.host.as_deref(),
                    );
                    let label = ui.label("Address family");
                    family_ui(ui, &mut draft.family, label.id, defaults.family);
                    ui.end_row();
                });

            section(ui, "Knock sequence");
            egui::Grid::new("knock-form-sequence")
                .num_columns(2)
                .min_col_width(LABEL_WIDTH)
                .spacing([12.0, 8.0])
                .show(ui, |ui| {
                    ui.label("Knocks");
                    ui.vertical(|ui| sequence_rows_ui(ui, draft, &problems));
                    ui.end_row();
                    sequence_text_ui(ui, draft, &problems);
                    field_ui(
                        ui,
                        "Delay (ms)",
                        &mut draft.delay_ms,
                        &inherit(&|s| s.delay.as_millis().to_string()),
                        SMALL_WIDTH,
                        problems.delay_ms.as_deref(),
                    );
                    field_ui(
                        ui,
                        "Close sequence",
                        &mut draft.close_sequence,
                        "optional, e.g. 9000,8000,7000",
                        FIELD_WIDTH,
                        problems.close_sequence.as_deref(),
                    );
                });

            section(ui, "Verify");
            egui::Grid::new("knock-form-verify")
                .num_columns(2)
                .min_col_width(LABEL_WIDTH)
                .spacing([12.0, 8.0])
                .show(ui, |ui| {
                    field_ui(
                        ui,
                        "Open port",
                        &mut draft.open_port,
                        &inherited.as_ref().and_then(|s| s.open_port).map_or_else(
                            || "none (no check)".to_string(),
                            |p| format!("default {p}"),
                        ),
                        SMALL_WIDTH,
                        problems.open_port.as_deref(),
                    );
                    field_ui(
                        ui,
                        "Wait (ms)",
                        &mut draft.wait_ms,
                        &inherit(&|s| s.wait.as_millis().to_string()),
                        SMALL_WIDTH,
                        problems.wait_ms.as_deref(),
                    );
                    field_ui(
                        ui,
                        "Retries",
                        &mut draft.retries,
                        &inherit(&|s| s.retries.to_string()),
                        SMALL_WIDTH,
                        problems.retries.as_deref(),
                    );
                });

            section(ui, "Connect");
            egui::Grid::new("knock-form-connect")
                .num_columns(2)
                .min_col_width(LABEL_WIDTH)
                .spacing([12.0, 8.0])
                .show(ui, |ui| {
                    let label = ui.label("Then start");
                    ui.vertical(|ui| {
                        launch_ui(ui, draft, label.id, defaults.launch.as_ref());
                        if draft.launch == LaunchChoice::Custom {
                            let edit = TextEdit::singleline(&mut draft.custom)
                                .id_salt("knock-custom")
                                .hint_text("e.g. xterm -e mosh {user}@{host}")
                                .desired_width(FIELD_WIDTH);
                            ui.add(edit).accessible_name("Custom command");
                        }
                        problem_ui(ui, problems.launch.as_deref());
                    });
                    ui.end_row();
                    field_ui(
                        ui,
                        "User",
                        &mut draft.user,
                        &inherited
                            .as_ref()
                            .and_then(|s| s.user.clone())
                            .map(|u| format!("default {u}"))
                            .unwrap_or_else(|| "your login name".into()),
                        FIELD_WIDTH,
                        None,
                    );
                    field_ui(
                        ui,
                        "SSH port",
                        &mut draft.ssh_port,
                        &inherit(&|s| s.ssh_port.to_string()),
                        SMALL_WIDTH,
                        problems.ssh_port.as_deref(),
                    );
                });
        });
}

fn section(ui: &mut egui::Ui, title: &str) {
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
        problem_ui(ui, problems.sequence.as_deref());
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

fn launch_ui(ui: &mut egui::Ui, draft: &mut Draft, label: egui::Id, default: Option<&Launch>) {
    let text = |c: LaunchChoice| match c {
        LaunchChoice::Inherit => format!(
            "Default ({})",
            default.map_or_else(|| "ssh".to_string(), |l| l.to_string())
        ),
        c => c.label().to_string(),
    };
    let response = egui::ComboBox::from_id_salt("knock-launch")
        .selected_text(text(draft.launch))
        .width(FIELD_WIDTH)
        .show_ui(ui, |ui| {
            for choice in LaunchChoice::ALL {
                ui.selectable_value(&mut draft.launch, choice, text(choice));
            }
        })
        .response;
    response.labelled_by(label);
}

#[allow(clippy::too_many_arguments)]
fn actions(
    ui: &mut egui::Ui,
    name: &str,
    valid: bool,
    dirty: bool,
    running: bool,
    can_save: bool,
    problems: &Problems,
    intents: &mut Vec<Intent>,
) {
    ui.horizontal(|ui| {
        let accent = super::accent(ui.visuals());
        let knock = egui::Button::new(RichText::new("Knock").strong().color(egui::Color32::WHITE))
            .fill(accent)
            .min_size(egui::vec2(110.0, 34.0));
        if ui
            .add_enabled(valid && !running, knock)
            .on_hover_text("Send the knock sequence (Enter)")
            .clicked()
        {
            intents.push(Intent::Knock { connect: false });
        }
        let connect = egui::Button::new(RichText::new("Knock & connect").strong())
            .min_size(egui::vec2(150.0, 34.0));
        if ui
            .add_enabled(valid && !running, connect)
            .on_hover_text("Knock, wait for the port, then start ssh / PuTTY")
            .clicked()
        {
            intents.push(Intent::Knock { connect: true });
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
