//! A rotating profile (`rotate = true`): its form (target, rotation,
//! secret source, and the keys every profile has), the Secret area
//! (generate into the keyring, show with its knock:// URI), and the Knock /
//! Save buttons.

use egui::{RichText, TextWrapMode};
use knock_profiles::rotate::ProtoChoice;
use knock_profiles::secret::{KEYRING_SERVICE, SecretSource};

use super::form::{
    FIELD_WIDTH, FormView, PageFrame, SMALL_WIDTH, connect_ui, delay_ui, grid, page_frame_ui,
    section, target_ui, verify_ui,
};
use super::widgets::{field_ui, problem_ui};
use crate::draft::rotating::{RotatingDraft, SecretChoice};
use crate::state::{Intent, Revealed, Status};

/// The form of a rotating profile and its Secret area.
pub struct RotatingView<'a> {
    /// `inherited` is the saved profile with `[defaults]` applied, but its
    /// sequence.
    pub form: FormView<'a, RotatingDraft>,
    /// Where the saved profile reads its secret (what Generate and Show
    /// act on).
    pub saved_source: SecretSource,
    pub secret: SecretView<'a>,
}

/// The Secret area of a rotating profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretView<'a> {
    /// A Secret action is running.
    pub busy: bool,
    /// What the last action came to.
    pub message: Option<&'a Status>,
    pub revealed: Option<&'a Revealed>,
}

pub(super) fn show(ui: &mut egui::Ui, view: RotatingView<'_>, intents: &mut Vec<Intent>) {
    let RotatingView {
        form,
        saved_source,
        secret,
    } = view;
    let (name, draft, problems) = (form.name, form.draft, &form.problems);
    let (inherited, defaults) = (form.inherited.as_ref(), &form.defaults);
    // Generate / Show act on the saved source of the secret.
    let source_edited = draft.secret_source() != saved_source;

    let frame = PageFrame {
        name,
        tag: Some("rotating"),
        about: Some(
            "Each knock uses the sequence of the current period, derived from a shared secret and the clock. The secret is never written to the profile file.",
        ),
        knock_hover: "Load the secret, then knock the sequence of the current period (Enter)",
        actions_id: "knock-rotating-actions",
    };
    page_frame_ui(ui, &frame, form.state, problems, intents);

    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            section(ui, "Target");
            target_ui(ui, &mut draft.common, problems, defaults);

            section(ui, "Rotation");
            grid(ui, "knock-rotating-rotation", |ui| {
                field_ui(
                    ui,
                    "Door",
                    &mut draft.door,
                    &format!("default {name} (the profile name)"),
                    FIELD_WIDTH,
                    problems.get("door"),
                );
                field_ui(
                    ui,
                    "Period (s)",
                    &mut draft.period_s,
                    "default 30",
                    SMALL_WIDTH,
                    problems.get("period_s"),
                );
                field_ui(
                    ui,
                    "Length",
                    &mut draft.length,
                    "default 4 knocks",
                    SMALL_WIDTH,
                    problems.get("length"),
                );
                field_ui(
                    ui,
                    "Port range",
                    &mut draft.port_range,
                    "default 10000-60000",
                    SMALL_WIDTH,
                    problems.get("port_range"),
                );
                field_ui(
                    ui,
                    "Exclude ports",
                    &mut draft.exclude_ports,
                    "none, e.g. 22, 443",
                    FIELD_WIDTH,
                    problems.get("exclude_ports"),
                );
                let label = ui.label("Protocol");
                ui.vertical(|ui| {
                    protocol_ui(ui, &mut draft.protocol, label.id);
                    problem_ui(ui, problems.get("protocol"));
                });
                ui.end_row();
                delay_ui(ui, &mut draft.common, problems, inherited);
            });

            section(ui, "Secret");
            secret_source_ui(ui, name, draft, problems.get("secret"));
            secret_ui(ui, name, &saved_source, source_edited, secret, intents);

            section(ui, "Verify");
            verify_ui(ui, &mut draft.common, problems, inherited);

            section(ui, "Connect");
            connect_ui(ui, &mut draft.common, problems, inherited, defaults);
        });
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
    secret: SecretView<'_>,
    intents: &mut Vec<Intent>,
) {
    ui.add_space(4.0);
    // Until saved, an edited source is not the one the keyring task would use.
    let busy = secret.busy || source_edited;
    let revealed = secret.revealed;
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
        if secret.busy {
            ui.add(egui::Spinner::new().size(14.0));
        }
    });
    if let Some(message) = secret.message {
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
