//! Quick knock: host and ports, no profile (like KnockKnock's one window).

use egui::RichText;

use crate::state::{Intent, Quick};

/// The quick knock form.
pub struct QuickView<'a> {
    pub quick: &'a mut Quick,
    /// A knock is running.
    pub running: bool,
}

pub(super) fn show(ui: &mut egui::Ui, view: QuickView<'_>, intents: &mut Vec<Intent>) {
    let QuickView { quick, running } = view;
    ui.heading(RichText::new("Quick knock").strong());
    ui.label(
        RichText::new(
            "Knock once without saving a profile. Settings not given here come from [defaults].",
        )
        .weak(),
    );
    ui.add_space(10.0);
    let ports = quick.ports();
    // Nothing to say about a field not filled in yet.
    let host_problem = match quick.host() {
        Err(e) if !quick.host.is_empty() => Some(e.to_string()),
        _ => None,
    };
    egui::Grid::new("knock-quick")
        .num_columns(2)
        .min_col_width(120.0)
        .spacing([12.0, 8.0])
        .show(ui, |ui| {
            super::widgets::field_ui(
                ui,
                "Host",
                &mut quick.host,
                "name or address",
                260.0,
                host_problem.as_deref(),
            );
            let problem = match (&ports, quick.ports.trim().is_empty()) {
                (Err(e), false) => Some(e.to_string()),
                _ => None,
            };
            super::widgets::field_ui(
                ui,
                "Ports",
                &mut quick.ports,
                "7000 8000:udp 9000",
                260.0,
                problem.as_deref(),
            );
            ui.label("");
            ui.checkbox(&mut quick.udp, "UDP for ports without :tcp/:udp");
            ui.end_row();
        });
    ui.add_space(10.0);
    let valid = ports.is_ok() && quick.host().is_ok();
    ui.horizontal(|ui| {
        let clicked =
            super::widgets::knock_buttons_ui(ui, valid && !running, None, "Knock, then start ssh");
        if let Some(connect) = clicked {
            intents.push(Intent::Knock { connect });
        }
    });
}
