//! The views. Each takes the state it shows (a [`Window`] of borrowed
//! parts, built by [`crate::app::App`] every frame) and returns
//! [`Intent`]s; none of them changes the store or starts work itself. Text
//! fields edit the state they are given (a form's draft, the filter)
//! directly, as egui widgets do.

mod dialogs;
mod form;
mod list;
mod progress;
mod quick;
mod rotating;
pub mod widgets;

use egui::{Color32, Key, KeyboardShortcut, Modifiers, RichText};

use crate::draft::Draft;
use crate::progress::Run;
use crate::state::{Dialog, Intent, Status};

pub use dialogs::DialogView;
pub use form::{ActionState, FormView};
pub use list::{ListRow, ListView};
pub use quick::QuickView;
pub use rotating::{RotatingView, SecretView};

/// Everything one frame of the window shows.
pub struct Window<'a> {
    /// The profile file, as shown in the title bar.
    pub path: String,
    pub putty: &'a str,
    /// Why the file could not be loaded.
    pub load_error: Option<String>,
    pub status: Option<&'a Status>,
    pub list: ListView<'a>,
    pub run: Option<&'a Run>,
    pub page: Page<'a>,
    /// The modal dialog, when one is open.
    pub dialog: Option<DialogView<'a>>,
}

/// The middle of the window.
pub enum Page<'a> {
    Nothing,
    Quick(QuickView<'a>),
    Fixed(FormView<'a, Draft>),
    Rotating(RotatingView<'a>),
    /// The selected profile is no longer in the file.
    Gone(String),
}

/// Spacing and sizes; colours follow the system's light/dark theme.
pub fn setup_style(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| {
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(10.0, 4.0);
        style.spacing.interact_size.y = 24.0;
        for (text_style, size) in [
            (egui::TextStyle::Body, 14.0),
            (egui::TextStyle::Button, 14.0),
            (egui::TextStyle::Monospace, 13.5),
            (egui::TextStyle::Small, 11.5),
            (egui::TextStyle::Heading, 20.0),
        ] {
            if let Some(font) = style.text_styles.get_mut(&text_style) {
                font.size = size;
            }
        }
    });
}

/// Green for "it worked", readable on both themes.
pub(crate) fn good_color(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(0x5c, 0xd6, 0x7a)
    } else {
        Color32::from_rgb(0x1a, 0x7f, 0x37)
    }
}

/// The accent of the primary buttons.
pub(crate) fn accent(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(0x2f, 0x6f, 0xde)
    } else {
        Color32::from_rgb(0x25, 0x63, 0xd4)
    }
}

/// Draws the whole window and returns what the user asked for.
pub fn show(ui: &mut egui::Ui, window: Window<'_>) -> Vec<Intent> {
    let Window {
        path,
        putty,
        load_error,
        status,
        list,
        run,
        page,
        dialog,
    } = window;
    let mut intents = Vec::new();
    keyboard(ui, dialog.is_some(), &mut intents);

    egui::Panel::top("knock-top")
        .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(egui::Margin::symmetric(12, 8)))
        .show(ui, |ui| top_bar(ui, &path, putty, &mut intents));
    egui::Panel::bottom("knock-status")
        .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(egui::Margin::symmetric(12, 4)))
        .show(ui, |ui| status_bar(ui, load_error.as_deref(), status));
    egui::Panel::left("knock-list")
        .default_size(270.0)
        .min_size(200.0)
        .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(egui::Margin::same(10)))
        .show(ui, |ui| list::show(ui, list, &mut intents));
    egui::Panel::right("knock-progress")
        .default_size(360.0)
        .min_size(260.0)
        .frame(egui::Frame::side_top_panel(ui.style()).inner_margin(egui::Margin::same(12)))
        .show(ui, |ui| progress::show(ui, run, &mut intents));
    egui::CentralPanel::default()
        .frame(egui::Frame::central_panel(ui.style()).inner_margin(egui::Margin::same(16)))
        .show(ui, |ui| match page {
            Page::Rotating(view) => rotating::show(ui, view, &mut intents),
            Page::Fixed(view) => form::show(ui, view, &mut intents),
            Page::Quick(view) => quick::show(ui, view, &mut intents),
            Page::Gone(name) => {
                ui.label(format!("The profile {name} is no longer in the file."));
            }
            Page::Nothing => {
                ui.label("Select a profile on the left, or use Quick knock.");
            }
        });

    if let Some(dialog) = dialog {
        dialogs::show(ui.ctx(), dialog, &path, &mut intents);
    }
    intents
}

/// Enter knocks, Ctrl+F filters, arrows move in the list (unless typing or
/// a dialog is open).
fn keyboard(ui: &egui::Ui, dialog_open: bool, intents: &mut Vec<Intent>) {
    let find = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
    if ui.input_mut(|i| i.consume_shortcut(&find)) {
        intents.push(Intent::FocusFilter);
    }
    if dialog_open || ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    ui.input_mut(|i| {
        if i.consume_key(Modifiers::NONE, Key::Enter) {
            intents.push(Intent::Knock { connect: false });
        }
        if i.consume_key(Modifiers::NONE, Key::ArrowDown) {
            intents.push(Intent::Move(1));
        }
        if i.consume_key(Modifiers::NONE, Key::ArrowUp) {
            intents.push(Intent::Move(-1));
        }
    });
}

fn top_bar(ui: &mut egui::Ui, path: &str, putty: &str, intents: &mut Vec<Intent>) {
    ui.horizontal(|ui| {
        ui.label(
            RichText::new("knock")
                .heading()
                .strong()
                .color(accent(ui.visuals())),
        );
        ui.add_space(8.0);
        ui.label(RichText::new(path).weak()).on_hover_text(
            "The profile file (KNOCK_PROFILES or the default path); the CLI uses the same one",
        );
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Settings").clicked() {
                intents.push(Intent::OpenDialog(Dialog::Settings {
                    putty: putty.to_string(),
                }));
            }
        });
    });
}

fn status_bar(ui: &mut egui::Ui, load_error: Option<&str>, status: Option<&Status>) {
    ui.horizontal(|ui| match (load_error, status) {
        (Some(e), _) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Cannot load the profile file: {e}"),
            );
        }
        (None, Some(s)) if s.error => {
            ui.colored_label(ui.visuals().error_fg_color, &s.text);
        }
        (None, Some(s)) => {
            ui.label(&s.text);
        }
        (None, None) => {
            ui.label(
                RichText::new("Enter: knock    Up/Down: choose a profile    Ctrl+F: filter").weak(),
            );
        }
    });
}
