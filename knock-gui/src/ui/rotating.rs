//! A rotating profile (`rotate = true`): its form (target, rotation,
//! secret source, and the keys every profile has), the Secret area
//! (generate into the keyring, show with its knock:// URI), and the Knock /
//! Save buttons.

use egui::{RichText, TextWrapMode};
use knock_profiles::rotate::ProtoChoice;
use knock_profiles::secret::{KEYRING_SERVICE, SecretSource};

use super::form::{
    ActionState, FIELD_WIDTH, SMALL_WIDTH, actions, connect_ui, delay_ui, grid, header_ui, section,
    target_ui, verify_ui,
};
use super::widgets::{field_ui, problem_ui};
use crate::app::{App, Intent, SecretPanel};
use crate::draft::rotating::{RotatingDraft, SecretChoice};

pub(super) fn show(ui: &mut egui::Ui, app: &mut App, name: &str, intents: &mut Vec<Intent>) {
    let (Some(saved), Some(inherited)) = (
        app.rotating(name).map(|p| p.rotation.secret.clone()),
        app.rotating_settings(name),
    ) else {
        ui.label(format!("The profile {name} is no longer in the file."));
        return;
    };
    let dirty = app.is_dirty(name);
    let running = app.run.as_ref().is_some_and(|r| r.is_running());
    let can_save = app.can_save();
    let defaults = app
        .store
        .as_ref()
        .map(|s| s.file().defaults.clone())
        .unwrap_or_default();
    // The Secret area is drawn from the panel while the form is borrowed.
    let panel = app.secret_panel.take();
    let Some(draft) = app.rotating_draft_mut(name) else {
        app.secret_panel = panel;
        return;
    };
    let checked = draft.check(name);
    let problems = checked
        .as_ref()
        .err()
        .map(|p| (**p).clone())
        .unwrap_or_default();
    // Generate / Show act on the saved source of the secret.
    let source_edited = draft.secret_source() != saved;

    header_ui(ui, name, Some("rotating"), dirty, can_save, intents);
    ui.label(
        RichText::new(
            "Each knock uses the sequence of the current period, derived from a shared secret and the clock. The secret is never written to the profile file.",
        )
        .weak(),
    );
    ui.add_space(4.0);

    egui::Panel::bottom("knock-rotating-actions")
        .frame(egui::Frame::NONE.inner_margin(egui::Margin::symmetric(0, 10)))
        .show(ui, |ui| {
            let state = ActionState {
                valid: checked.is_ok(),
                dirty,
                running,
                can_save,
            };
            actions(
                ui,
                name,
                state,
                &problems,
                "Load the secret, then knock the sequence of the current period (Enter)",
                intents,
            );
        });

    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            section(ui, "Target");
            target_ui(ui, &mut draft.common, &problems, &defaults);

            section(ui, "Rotation");
            grid(ui, "knock-rotating-rotation", |ui| {
                field_ui(
                    ui,
                    "Door",
                    &mut draft.door,
                    &format!("default {name} (the profile name)"),
                    FIELD_WIDTH,
                    problems.door.as_deref(),
                );
                field_ui(
                    ui,
                    "Period (s)",
                    &mut draft.period_s,
                    "default 30",
                    SMALL_WIDTH,
                    problems.period_s.as_deref(),
                );
                field_ui(
                    ui,
                    "Length",
                    &mut draft.length,
                    "default 4 knocks",
                    SMALL_WIDTH,
                    problems.length.as_deref(),
                );
                field_ui(
                    ui,
                    "Port range",
                    &mut draft.port_range,
                    "default 10000-60000",
                    SMALL_WIDTH,
                    problems.port_range.as_deref(),
                );
                field_ui(
                    ui,
                    "Exclude ports",
                    &mut draft.exclude_ports,
                    "none, e.g. 22, 443",
                    FIELD_WIDTH,
                    problems.exclude_ports.as_deref(),
                );
                let label = ui.label("Protocol");
                ui.vertical(|ui| {
                    protocol_ui(ui, &mut draft.protocol, label.id);
                    problem_ui(ui, problems.protocol.as_deref());
                });
                ui.end_row();
                delay_ui(ui, &mut draft.common, &problems, Some(&inherited));
            });

            section(ui, "Secret");
            secret_source_ui(ui, name, draft, problems.secret.as_deref());
            secret_ui(
                ui,
                name,
                &saved,
                source_edited,
                panel.as_ref().filter(|p| p.name == name),
                intents,
            );

            section(ui, "Verify");
            verify_ui(ui, &mut draft.common, &problems, Some(&inherited));

            section(ui, "Connect");
            connect_ui(
                ui,
                &mut draft.common,
                &problems,
                Some(&inherited),
                &defaults,
            );
        });
    app.secret_panel = panel;
}

fn protocol_ui(ui: &mut egui::Ui, protocol: &mut ProtoChoice, label: egui::Id) {
    let text = |p: ProtoChoice| match p {
        ProtoChoice::Tcp => "TCP",
        ProtoChoice::Udp => "UDP",
        ProtoChoice::Both => "Both (picked per knock)",
    };
    let response = egui::ComboBox::from_id_salt("knock-protocol")
        .selected_text(text(*protocol))
        .width(SMALL_WIDTH)
        .show_ui(ui, |ui| {
            for choice in [ProtoChoice::Tcp, ProtoChoice::Udp, ProtoChoice::Both] {
                ui.selectable_value(protocol, choice, text(choice));
            }
        })
        .response;
    response.labelled_by(label);
}

/// Keyring or command, and the command.
fn secret_source_ui(
    ui: &mut egui::Ui,
    name: &str,
    draft: &mut RotatingDraft,
    problem: Option<&str>,
) {
    grid(ui, "knock-rotating-secret", |ui| {
        ui.label("Secret from");
        ui.horizontal(|ui| {
            ui.radio_value(&mut draft.secret, SecretChoice::Keyring, "OS keyring")
                .on_hover_text("secret = \"keyring\"");
            ui.radio_value(&mut draft.secret, SecretChoice::Command, "A command")
                .on_hover_text(
                    "secret_cmd: a command that prints the secret (pass, gopass, op read ...)",
                );
        });
        ui.end_row();
        match draft.secret {
            SecretChoice::Keyring => {
                ui.label("Stored in");
                ui.vertical(|ui| {
                    ui.label(
                        RichText::new(format!(
                            "OS keyring (service \"{KEYRING_SERVICE}\", account \"{name}\")"
                        ))
                        .strong(),
                    );
                    ui.label(
                        RichText::new(
                            "One secret per profile name: a copy or a new profile starts without one.",
                        )
                        .small()
                        .weak(),
                    );
                    problem_ui(ui, problem);
                });
                ui.end_row();
            }
            SecretChoice::Command => {
                field_ui(
                    ui,
                    "Secret command",
                    &mut draft.secret_cmd,
                    &format!("e.g. pass show knock/{name}"),
                    FIELD_WIDTH,
                    problem,
                );
            }
        }
    });
}

/// Generate / Show for the saved source of the secret, the last action's
/// message, and a revealed secret.
fn secret_ui(
    ui: &mut egui::Ui,
    name: &str,
    source: &SecretSource,
    source_edited: bool,
    panel: Option<&SecretPanel>,
    intents: &mut Vec<Intent>,
) {
    ui.add_space(4.0);
    // Until saved, an edited source is not the one the keyring task would use.
    let busy = panel.is_some_and(SecretPanel::is_busy) || source_edited;
    let revealed = panel.and_then(|p| p.revealed.as_ref());
    ui.horizontal(|ui| {
        let (label, hover) = match source {
            SecretSource::Keyring => (
                "Generate & store in keyring",
                "A new 160-bit secret into the OS keyring; never into the profile file",
            ),
            SecretSource::Command(_) => (
                "Generate new secret",
                "A new 160-bit secret to store where secret_cmd reads it (nothing is written)",
            ),
        };
        if ui
            .add_enabled(!busy, egui::Button::new(label))
            .on_hover_text(hover)
            .on_disabled_hover_text("Save the profile first: its secret source changed")
            .clicked()
        {
            intents.push(Intent::GenerateSecret {
                name: name.to_string(),
                replace: false,
            });
        }
        if revealed.is_some() {
            if ui.button("Hide secret").clicked() {
                intents.push(Intent::HideSecret);
            }
        } else if ui
            .add_enabled(!busy, egui::Button::new("Show secret"))
            .on_hover_text("The secret and a knock:// URI, for the server or another device")
            .clicked()
        {
            intents.push(Intent::ShowSecret(name.to_string()));
        }
        if panel.is_some_and(SecretPanel::is_busy) {
            ui.add(egui::Spinner::new().size(14.0));
        }
    });
    if let Some(message) = panel.and_then(|p| p.message.as_ref()) {
        let text = RichText::new(&message.text);
        let text = if message.error {
            text.color(ui.visuals().error_fg_color)
        } else {
            text.weak()
        };
        ui.add(egui::Label::new(text).wrap());
    }
    if let Some(revealed) = revealed {
        egui::Frame::group(ui.style())
            .corner_radius(6.0)
            .inner_margin(egui::Margin::same(10))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                let grouped = revealed.secret.to_base32_grouped();
                ui.horizontal(|ui| {
                    ui.label(RichText::new(&grouped).monospace().strong().size(15.0));
                    if ui.button("Copy secret").clicked() {
                        ui.ctx().copy_text(revealed.secret.to_base32());
                    }
                });
                ui.horizontal(|ui| {
                    if ui.button("Copy URI").clicked() {
                        ui.ctx().copy_text(revealed.uri.clone());
                    }
                    ui.add(
                        egui::Label::new(RichText::new(&revealed.uri).monospace().small())
                            .wrap_mode(TextWrapMode::Wrap),
                    );
                });
                ui.label(
                    RichText::new(
                        "Anyone with this secret can knock this door. The server reads it from its Secret_File (mode 0600).",
                    )
                    .small()
                    .weak(),
                );
            });
    }
}
