//! Left side: the filter box, Quick knock, the profiles, and the buttons
//! that add, duplicate and delete.

use egui::{RichText, TextEdit};

use super::widgets::profile_row_ui;
use crate::state::{Dialog, Intent, Selection};

/// The profile list as drawn this frame.
pub struct ListView<'a> {
    /// The filter box's text.
    pub filter: &'a mut String,
    /// Put the cursor in the filter box (Ctrl+F).
    pub focus_filter: bool,
    /// The profiles matching the filter, sorted.
    pub rows: Vec<ListRow>,
    /// How many profiles the file has.
    pub total: usize,
    pub selection: &'a Selection,
    /// The selection is a profile saved in the file.
    pub selection_saved: bool,
    /// Scroll the list to the selection (after moving it with the keys).
    pub scroll_to_selection: bool,
    /// The file can be saved (New, Duplicate, Delete).
    pub editable: bool,
}

/// One profile in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub name: String,
    /// Host and sequence, or just the host.
    pub subtitle: String,
    /// Shown where the sequence would be ("rotating").
    pub tag: Option<&'static str>,
    pub dirty: bool,
}

pub(super) fn show(ui: &mut egui::Ui, view: ListView<'_>, intents: &mut Vec<Intent>) {
    let ListView {
        filter,
        focus_filter,
        rows,
        total,
        selection,
        selection_saved,
        scroll_to_selection,
        editable,
    } = view;

    ui.horizontal(|ui| {
        ui.label(RichText::new("Profiles").strong());
        ui.label(RichText::new(total.to_string()).weak());
    });
    let filter = ui
        .add(
            TextEdit::singleline(filter)
                .id_salt("knock-filter")
                .hint_text("Filter  (Ctrl+F)")
                .desired_width(f32::INFINITY),
        )
        .accessible_name("Filter");
    if focus_filter {
        filter.request_focus();
    }
    // Enter in the filter box picks the first match.
    if filter.lost_focus()
        && ui.input(|i| i.key_pressed(egui::Key::Enter))
        && let Some(first) = rows.first()
    {
        intents.push(Intent::Select(Selection::Profile(first.name.clone())));
    }
    ui.add_space(4.0);

    let quick = *selection == Selection::Quick;
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
        .show(ui, |ui| {
            // Duplicate and Delete act on a selected profile.
            let selected = match selection {
                Selection::Profile(name) if selection_saved => Some(name.as_str()),
                _ => None,
            };
            buttons(ui, selected, editable, intents);
        });

    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if total == 0 {
                ui.label(RichText::new("No profiles yet. Click New to add one.").weak());
            } else if rows.is_empty() {
                ui.label(RichText::new("No profile matches the filter.").weak());
            }
            for row in &rows {
                let selected = *selection == Selection::Profile(row.name.clone());
                let response =
                    profile_row_ui(ui, &row.name, &row.subtitle, row.tag, selected, row.dirty);
                if selected && scroll_to_selection {
                    response.scroll_to_me(None);
                }
                if response.clicked() {
                    intents.push(Intent::Select(Selection::Profile(row.name.clone())));
                }
                if response.double_clicked() {
                    intents.push(Intent::Knock { connect: false });
                }
            }
        });
}

fn buttons(ui: &mut egui::Ui, selected: Option<&str>, editable: bool, intents: &mut Vec<Intent>) {
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
            && let Some(name) = selected
        {
            intents.push(Intent::Duplicate(name.to_string()));
        }
        if ui
            .add_enabled(editable && selected.is_some(), egui::Button::new("Delete…"))
            .on_hover_text("Remove the selected profile from the file")
            .clicked()
            && let Some(name) = selected
        {
            intents.push(Intent::OpenDialog(Dialog::ConfirmDelete(name.to_string())));
        }
    });
}
