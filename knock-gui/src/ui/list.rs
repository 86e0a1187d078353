//! Left side: the filter box, Quick knock, the profiles, and the buttons
//! that add, duplicate and delete.

use egui::{RichText, TextEdit};

use super::widgets::profile_row_ui;
use crate::app::{App, Dialog, Intent, Selection};

pub(super) fn show(ui: &mut egui::Ui, app: &mut App, intents: &mut Vec<Intent>) {
    let names = app.filtered_names();
    let total = app.names().len();

    ui.horizontal(|ui| {
        ui.label(RichText::new("Profiles").strong());
        ui.label(RichText::new(total.to_string()).weak());
    });
    let filter = ui
        .add(
            TextEdit::singleline(&mut app.filter)
                .id_salt("knock-filter")
                .hint_text("Filter  (Ctrl+F)")
                .desired_width(f32::INFINITY),
        )
        .accessible_name("Filter");
    if app.focus_filter {
        filter.request_focus();
        app.focus_filter = false;
    }
    // Enter in the filter box picks the first match.
    if filter.lost_focus()
        && ui.input(|i| i.key_pressed(egui::Key::Enter))
        && let Some(first) = names.first()
    {
        intents.push(Intent::Select(Selection::Profile(first.clone())));
    }
    ui.add_space(4.0);

    let quick = app.selection == Selection::Quick;
    if profile_row_ui(
        ui,
        "Quick knock",
        "host + ports, without a profile",
        None,
        quick,
        false,
    )
    .clicked()
    {
        intents.push(Intent::Select(Selection::Quick));
    }
    ui.separator();

    egui::Panel::bottom("knock-list-buttons")
        .frame(egui::Frame::NONE.inner_margin(egui::Margin::symmetric(0, 6)))
        .show_separator_line(false)
        .show(ui, |ui| buttons(ui, app, intents));

    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if total == 0 {
                ui.label(RichText::new("No profiles yet. Click New to add one.").weak());
            } else if names.is_empty() {
                ui.label(RichText::new("No profile matches the filter.").weak());
            }
            for name in &names {
                // A rotating profile shows a tag where the sequence would be.
                let (subtitle, tag) = if let Some(profile) = app.profile(name) {
                    (format!("{}  ·  {}", profile.host, profile.sequence), None)
                } else if let Some(profile) = app.rotating(name) {
                    (profile.host.to_string(), Some("rotating"))
                } else {
                    continue;
                };
                let selected = app.selection == Selection::Profile(name.clone());
                let row = profile_row_ui(ui, name, &subtitle, tag, selected, app.is_dirty(name));
                if selected && app.take_scroll_to_selection() {
                    row.scroll_to_me(None);
                }
                if row.clicked() {
                    intents.push(Intent::Select(Selection::Profile(name.clone())));
                }
                if row.double_clicked() {
                    intents.push(Intent::Knock { connect: false });
                }
            }
        });
}

fn buttons(ui: &mut egui::Ui, app: &App, intents: &mut Vec<Intent>) {
    let selected = match &app.selection {
        Selection::Profile(name) if app.exists(name) => Some(name.clone()),
        _ => None,
    };
    let editable = app.can_save();
    ui.horizontal(|ui| {
        if ui
            .add_enabled(editable, egui::Button::new("New…"))
            .on_hover_text("Add a profile")
            .clicked()
        {
            intents.push(Intent::OpenDialog(Dialog::Add {
                name: String::new(),
                host: String::new(),
                sequence: String::new(),
                rotating: false,
            }));
        }
        if ui
            .add_enabled(
                editable && selected.is_some(),
                egui::Button::new("Duplicate"),
            )
            .on_hover_text("Copy the selected profile (a rotating one without its secret)")
            .on_disabled_hover_text("Select a profile first")
            .clicked()
            && let Some(name) = &selected
        {
            intents.push(Intent::Duplicate(name.clone()));
        }
        if ui
            .add_enabled(editable && selected.is_some(), egui::Button::new("Delete…"))
            .on_hover_text("Remove the selected profile from the file")
            .clicked()
            && let Some(name) = &selected
        {
            intents.push(Intent::OpenDialog(Dialog::ConfirmDelete(name.clone())));
        }
    });
}
