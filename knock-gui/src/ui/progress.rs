//! Right side: the last knock, step by step, and how it ended.

use egui::RichText;

use super::widgets::step_ui;
use crate::progress::{Run, RunState};
use crate::state::Intent;

pub(super) fn show(ui: &mut egui::Ui, run: Option<&Run>, intents: &mut Vec<Intent>) {
    let Some(run) = run else {
        ui.label(RichText::new("Progress").strong());
        ui.add_space(8.0);
        ui.label(
            RichText::new("Nothing knocked yet.\n\nPick a profile and press Knock (or Enter). Each knock shows here as it goes out, then whether the port opened.")
                .weak(),
        );
        return;
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(&run.title).strong());
        ui.label(RichText::new(&run.host).weak());
    });
    ui.add_space(6.0);

    let visuals = ui.visuals().clone();
    let (headline, color) = match &run.state {
        RunState::Running => ("Knocking…".to_string(), super::accent(&visuals)),
        RunState::Done(text) => (text.clone(), super::good_color(&visuals)),
        RunState::Failed(text) => (text.clone(), visuals.error_fg_color),
        RunState::Cancelled => ("Cancelled".to_string(), visuals.warn_fg_color),
    };
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, color))
        .corner_radius(6.0)
        .inner_margin(egui::Margin::same(10))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(headline).strong().size(16.0).color(color));
            let bar = egui::ProgressBar::new(run.fraction())
                .text(format!("{} of {} knocks", run.sent, run.total))
                .desired_height(14.0);
            ui.add(bar);
        });
    ui.add_space(8.0);

    egui::Panel::bottom("knock-progress-buttons")
        .frame(egui::Frame::NONE.inner_margin(egui::Margin::symmetric(0, 6)))
        .show_separator_line(false)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if run.is_running() {
                    if ui.button("Cancel").clicked() {
                        intents.push(Intent::Cancel);
                    }
                } else if ui.button("Clear").clicked() {
                    intents.push(Intent::DismissRun);
                }
            });
        });
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show(ui, |ui| {
            for step in &run.steps {
                step_ui(ui, step);
            }
        });
}
