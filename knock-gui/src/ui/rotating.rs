//! A rotating profile (`rotate = true`): its keys, read-only (the store
//! writes fixed profiles only), the Secret area (generate into the keyring,
//! show with its knock:// URI), and the Knock buttons.

use egui::{RichText, TextWrapMode};
use knock_profiles::profile::{RotatingProfile, Settings};
use knock_profiles::rotate;
use knock_profiles::secret::{KEYRING_SERVICE, SecretSource};

use super::widgets::tag_label_ui;
use crate::app::{App, Dialog, Intent, SecretPanel};

const LABEL_WIDTH: f32 = 120.0;

pub(super) fn show(ui: &mut egui::Ui, app: &App, name: &str, intents: &mut Vec<Intent>) {
    let (Some(profile), Some(settings)) = (app.rotating(name), app.rotating_settings(name)) else {
        ui.label(format!("The profile {name} is no longer in the file."));
        return;
    };
    let running = app.run.as_ref().is_some_and(|r| r.is_running());
    let panel = app.secret_panel().filter(|p| p.name == name);

    ui.horizontal(|ui| {
        ui.heading(RichText::new(name).strong());
        tag_label_ui(ui, "rotating");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(app.can_save(), egui::Button::new("Rename…"))
                .clicked()
            {
                intents.push(Intent::OpenDialog(Dialog::Rename {
                    old: name.to_string(),
                    new: name.to_string(),
                }));
            }
        });
    });
    ui.label(
        RichText::new(format!(
            "Each knock uses the sequence of the current period, derived from a shared secret and the clock. This profile is read-only here: edit its keys in {}.",
            app.path().display()
        ))
        .weak(),
    );
    ui.add_space(4.0);

    egui::Panel::bottom("knock-rotating-actions")
        .frame(egui::Frame::NONE.inner_margin(egui::Margin::symmetric(0, 10)))
        .show(ui, |ui| actions(ui, running, intents));

    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            section(ui, "Target");
            grid(ui, "knock-rotating-target", |ui| {
                row(ui, "Host", Some(profile.host.clone()), "");
                row(
                    ui,
                    "Address family",
                    profile.family.map(|f| f.as_str().to_string()),
                    settings.family.as_str(),
                );
            });

            section(ui, "Rotation");
            rotation_ui(ui, profile);

            section(ui, "Secret");
            secret_ui(ui, name, profile, panel, intents);

            section(ui, "Knocks, verify, connect");
            shared_keys_ui(ui, profile, &settings);
        });
}

fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(8.0);
    ui.label(RichText::new(title).strong().size(15.0));
    ui.add_space(2.0);
}

fn grid(ui: &mut egui::Ui, id: &str, rows: impl FnOnce(&mut egui::Ui)) {
    egui::Grid::new(id)
        .num_columns(2)
        .min_col_width(LABEL_WIDTH)
        .spacing([12.0, 6.0])
        .show(ui, rows);
}

/// One key: its value as written, or (weak) what it inherits.
fn row(ui: &mut egui::Ui, label: &str, written: Option<String>, inherited: &str) {
    ui.label(label);
    match written {
        Some(value) => ui.label(RichText::new(value).strong()),
        None => ui.label(RichText::new(format!("default {inherited}")).weak()),
    };
    ui.end_row();
}

fn rotation_ui(ui: &mut egui::Ui, profile: &RotatingProfile) {
    let spec = &profile.rotation;
    let p = &spec.params;
    grid(ui, "knock-rotating-rotation", |ui| {
        row(ui, "Door", Some(spec.door.clone()), "");
        row(ui, "Period", Some(format!("{} s", p.period_secs())), "");
        row(ui, "Length", Some(format!("{} knocks", p.length)), "");
        row(ui, "Port range", Some(rotate::format_range(&p.range)), "");
        let exclude = if p.exclude.is_empty() {
            "none".to_string()
        } else {
            let list: Vec<String> = p.exclude.iter().map(u16::to_string).collect();
            list.join(", ")
        };
        row(ui, "Exclude ports", Some(exclude), "");
        row(ui, "Protocol", Some(p.protos.to_string()), "");
    });
}

fn secret_ui(
    ui: &mut egui::Ui,
    name: &str,
    profile: &RotatingProfile,
    panel: Option<&SecretPanel>,
    intents: &mut Vec<Intent>,
) {
    let source = &profile.rotation.secret;
    grid(ui, "knock-rotating-secret", |ui| {
        let from = match source {
            SecretSource::Keyring => {
                format!("OS keyring (service \"{KEYRING_SERVICE}\", account \"{name}\")")
            }
            SecretSource::Command(cmd) => format!("secret_cmd: {cmd}"),
        };
        row(ui, "Stored in", Some(from), "");
    });
    ui.add_space(4.0);
    let busy = panel.is_some_and(SecretPanel::is_busy);
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
        if busy {
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

fn shared_keys_ui(ui: &mut egui::Ui, profile: &RotatingProfile, s: &Settings) {
    grid(ui, "knock-rotating-shared", |ui| {
        row(
            ui,
            "Delay (ms)",
            profile.delay_ms.map(|v| v.to_string()),
            &s.delay.as_millis().to_string(),
        );
        row(
            ui,
            "Open port",
            profile.open_port.map(|v| v.to_string()),
            &s.open_port
                .map_or_else(|| "none (no check)".to_string(), |p| p.to_string()),
        );
        row(
            ui,
            "Wait (ms)",
            profile.wait_ms.map(|v| v.to_string()),
            &s.wait.as_millis().to_string(),
        );
        row(
            ui,
            "Retries",
            profile.retries.map(|v| v.to_string()),
            &s.retries.to_string(),
        );
        row(
            ui,
            "Then start",
            profile.launch.as_ref().map(ToString::to_string),
            &s.launch.to_string(),
        );
        row(
            ui,
            "User",
            profile.user.clone(),
            s.user.as_deref().unwrap_or("your login name"),
        );
        row(
            ui,
            "SSH port",
            profile.ssh_port.map(|v| v.to_string()),
            &s.ssh_port.to_string(),
        );
    });
}

fn actions(ui: &mut egui::Ui, running: bool, intents: &mut Vec<Intent>) {
    ui.horizontal(|ui| {
        let accent = super::accent(ui.visuals());
        let knock = egui::Button::new(RichText::new("Knock").strong().color(egui::Color32::WHITE))
            .fill(accent)
            .min_size(egui::vec2(110.0, 34.0));
        if ui
            .add_enabled(!running, knock)
            .on_hover_text("Load the secret, then knock the sequence of the current period (Enter)")
            .clicked()
        {
            intents.push(Intent::Knock { connect: false });
        }
        let connect = egui::Button::new(RichText::new("Knock & connect").strong())
            .min_size(egui::vec2(150.0, 34.0));
        if ui
            .add_enabled(!running, connect)
            .on_hover_text("Knock, wait for the port, then start ssh / PuTTY")
            .clicked()
        {
            intents.push(Intent::Knock { connect: true });
        }
    });
}
