//! Modal dialogs: new profile, rename, delete, file changed, settings,
//! replacing a rotating profile's secret.

use egui::{Id, RichText, TextEdit};

use crate::draft::check_new;
use crate::state::{Dialog, Intent};

/// The open dialog and what it needs to know.
pub struct DialogView<'a> {
    pub dialog: &'a mut Dialog,
    /// Saved profile names (a new name must not be one of them).
    pub names: Vec<String>,
    /// Profiles with unsaved edits.
    pub dirty: Vec<String>,
}

pub(super) fn show(
    ctx: &egui::Context,
    view: DialogView<'_>,
    path: &str,
    intents: &mut Vec<Intent>,
) {
    let DialogView {
        dialog,
        names,
        dirty,
    } = view;
    let modal = egui::Modal::new(Id::unique("knock-dialog")).show(ctx, |ui| {
        ui.set_width(420.0);
        match &mut *dialog {
            Dialog::None => {}
            Dialog::Add {
                name,
                host,
                sequence,
                rotating,
            } => {
                heading_ui(ui, "New profile");
                grid(ui, "knock-add", |ui| {
                        text_row(ui, "Name", name, "myserver");
                        text_row(ui, "Host or address", host, "myserver.example.org");
                        if !*rotating {
                            text_row(ui, "Sequence", sequence, "7000,8000:udp,9000");
                        }
                    });
                ui.checkbox(rotating, "Rotating sequence").on_hover_text(
                    "Knock a sequence derived from a shared secret and the clock instead of a fixed one",
                );
                if *rotating {
                    ui.label(
                        RichText::new(
                            "The knocks change every period (default 30 s, 4 ports of 10000-60000); adjust them in the form. The new profile has no secret yet: generate one there.",
                        )
                        .small()
                        .weak(),
                    );
                }
                let exists = names.iter().any(|n| n == name.trim());
                let checked = check_new(name.trim(), host, sequence, *rotating, exists);
                let untouched = name.is_empty() && host.is_empty() && sequence.is_empty();
                if let (Err(e), false) = (&checked, untouched) {
                    ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
                }
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.add_enabled(checked.is_ok(), egui::Button::new("Add")).clicked() {
                        intents.push(Intent::Add {
                            name: name.trim().to_string(),
                            host: host.clone(),
                            sequence: sequence.clone(),
                            rotating: *rotating,
                        });
                    }
                    if ui.button("Cancel").clicked() {
                        intents.push(Intent::CloseDialog);
                    }
                });
            }
            Dialog::Rename { old, new } => {
                heading_ui(ui, format!("Rename {old}"));
                grid(ui, "knock-rename", |ui| text_row(ui, "New name", new, "name"));
                let problem = knock_profiles::profile::validate_name(new.trim())
                    .err()
                    .map(|e| e.to_string())
                    .or_else(|| {
                        (new.trim() != old && names.iter().any(|n| n == new.trim()))
                            .then(|| format!("a profile named {} already exists", new.trim()))
                    });
                if let Some(p) = &problem {
                    ui.label(RichText::new(p).color(ui.visuals().error_fg_color));
                }
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(problem.is_none(), egui::Button::new("Rename"))
                        .clicked()
                    {
                        intents.push(Intent::Rename {
                            old: old.clone(),
                            new: new.trim().to_string(),
                        });
                    }
                    if ui.button("Cancel").clicked() {
                        intents.push(Intent::CloseDialog);
                    }
                });
            }
            Dialog::ConfirmDelete(name) => {
                heading_ui(ui, format!("Delete {name}?"));
                ui.label(format!("This removes [profiles.{name}] from {path}."));
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    let delete = egui::Button::new(
                        RichText::new("Delete").color(egui::Color32::WHITE),
                    )
                    .fill(ui.visuals().error_fg_color);
                    if ui.add(delete).clicked() {
                        intents.push(Intent::Delete(name.clone()));
                    }
                    if ui.button("Cancel").clicked() {
                        intents.push(Intent::CloseDialog);
                    }
                });
            }
            Dialog::Conflict => {
                heading_ui(ui, "The profile file changed");
                ui.label(format!(
                    "{path} was changed by another program, and you have unsaved edits ({}).",
                    dirty.join(", ")
                ));
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui
                        .button("Reload, keep my edits")
                        .on_hover_text("Load the new file; your edits stay unsaved in the form")
                        .clicked()
                    {
                        intents.push(Intent::Reload { keep_edits: true });
                    }
                    if ui.button("Reload, discard my edits").clicked() {
                        intents.push(Intent::Reload { keep_edits: false });
                    }
                });
            }
            Dialog::ReplaceSecret(name) => {
                heading_ui(ui, format!("Replace the secret of {name}?"));
                ui.label(format!(
                    "The keyring already holds a secret for {name}. A new one stops the old sequences: put the new secret in the server's Secret_File (and on your other devices) right after."
                ));
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("Replace").clicked() {
                        intents.push(Intent::GenerateSecret {
                            name: name.clone(),
                            replace: true,
                        });
                    }
                    if ui.button("Keep the old one").clicked() {
                        intents.push(Intent::CloseDialog);
                    }
                });
            }
            Dialog::Settings { putty } => {
                heading_ui(ui, "Settings");
                grid(ui, "knock-settings", |ui| {
                        text_row(ui, "PuTTY", putty, "found on PATH");
                        ui.label("Theme");
                        theme_ui(ui);
                        ui.end_row();
                    });
                ui.label(
                    RichText::new("Path to putty.exe; leave empty to look for it on PATH. Linux terminals: $TERMINAL, then x-terminal-emulator, gnome-terminal, konsole, xterm.")
                        .small()
                        .weak(),
                );
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("OK").clicked() {
                        intents.push(Intent::SetPutty(putty.clone()));
                    }
                    if ui.button("Cancel").clicked() {
                        intents.push(Intent::CloseDialog);
                    }
                });
            }
        }
    });
    if modal.should_close() && *dialog != Dialog::Conflict {
        intents.push(Intent::CloseDialog);
    }
}

/// A dialog's title and the space under it.
fn heading_ui(ui: &mut egui::Ui, title: impl Into<RichText>) {
    ui.heading(title);
    ui.add_space(6.0);
}

/// A dialog's two-column grid of fields.
fn grid(ui: &mut egui::Ui, id: &str, rows: impl FnOnce(&mut egui::Ui)) {
    egui::Grid::new(id)
        .num_columns(2)
        .spacing([12.0, 8.0])
        .show(ui, rows);
}

fn text_row(ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str) {
    let label = ui.label(label);
    ui.add(
        TextEdit::singleline(text)
            .id_salt(("dialog", label.id))
            .hint_text(hint)
            .desired_width(280.0),
    )
    .labelled_by(label.id);
    ui.end_row();
}

/// Follow the system (the default), or force light or dark.
fn theme_ui(ui: &mut egui::Ui) {
    let mut preference = ui.options(|o| o.theme_preference);
    let before = preference;
    ui.horizontal(|ui| {
        ui.radio_value(&mut preference, egui::ThemePreference::System, "System");
        ui.radio_value(&mut preference, egui::ThemePreference::Light, "Light");
        ui.radio_value(&mut preference, egui::ThemePreference::Dark, "Dark");
    });
    if preference != before {
        ui.ctx().set_theme(preference);
    }
}
