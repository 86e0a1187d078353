//! Small widgets: `fn thing_ui(ui, &mut T) -> Response`.

use egui::{Color32, Response, RichText, Role, Sense, TextEdit, WidgetInfo};
use knock_profiles::Proto;

use crate::draft::KnockRow;
use crate::progress::{Step, StepKind};

/// A labelled one-line text field in a two-column grid, with its problem
/// (if any) under it. Ends the grid row.
pub fn field_ui(
    ui: &mut egui::Ui,
    label: &str,
    text: &mut String,
    hint: &str,
    width: f32,
    problem: Option<&str>,
) -> Response {
    let label_response = ui.label(label);
    let response = ui
        .vertical(|ui| {
            let edit = TextEdit::singleline(text)
                .id_salt(("field", label))
                .hint_text(RichText::new(hint).weak())
                .desired_width(width);
            let response = ui.add(edit).labelled_by(label_response.id);
            problem_ui(ui, problem);
            response
        })
        .inner;
    ui.end_row();
    response
}

/// A problem message in the error colour (nothing when `None`).
pub fn problem_ui(ui: &mut egui::Ui, problem: Option<&str>) {
    if let Some(problem) = problem {
        ui.label(
            RichText::new(problem)
                .small()
                .color(ui.visuals().error_fg_color),
        );
    }
}

/// The Knock and Knock & connect buttons, side by side; `Some(connect)`
/// when one was clicked.
pub fn knock_buttons_ui(
    ui: &mut egui::Ui,
    enabled: bool,
    knock_hover: Option<&str>,
    connect_hover: &str,
) -> Option<bool> {
    let knock = egui::Button::new(RichText::new("Knock").strong().color(Color32::WHITE))
        .fill(super::accent(ui.visuals()))
        .min_size(egui::vec2(110.0, 34.0));
    let mut knock = ui.add_enabled(enabled, knock);
    if let Some(hover) = knock_hover {
        knock = knock.on_hover_text(hover);
    }
    let connect = egui::Button::new(RichText::new("Knock & connect").strong())
        .min_size(egui::vec2(150.0, 34.0));
    let connect = ui
        .add_enabled(enabled, connect)
        .on_hover_text(connect_hover);
    if knock.clicked() {
        Some(false)
    } else if connect.clicked() {
        Some(true)
    } else {
        None
    }
}

/// What a knock row asked for besides editing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    None,
    Changed,
    Up,
    Down,
    Remove,
}

/// One knock of the sequence editor: number, port, TCP/UDP switch, and
/// move/remove buttons.
pub fn knock_row_ui(
    ui: &mut egui::Ui,
    index: usize,
    count: usize,
    row: &mut KnockRow,
    problem: Option<&str>,
) -> RowAction {
    let mut action = RowAction::None;
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("{:>2}.", index + 1))
                .monospace()
                .weak(),
        );
        let bad = problem.is_some();
        let mut edit = TextEdit::singleline(&mut row.port)
            .id_salt(("knock-port", index))
            .desired_width(72.0)
            .hint_text("port");
        if bad {
            edit = edit.text_color(ui.visuals().error_fg_color);
        }
        let port = ui
            .add(edit)
            .accessible_name(format!("Knock {} port", index + 1));
        if port.changed() {
            action = RowAction::Changed;
        }
        let proto_text = match row.proto {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        };
        let proto = ui
            .add(
                egui::Button::new(RichText::new(proto_text).monospace())
                    .min_size(egui::vec2(48.0, 0.0)),
            )
            .on_hover_text("Click to switch between TCP and UDP")
            .accessible_name(format!("Knock {} protocol {proto_text}", index + 1));
        if proto.clicked() {
            row.proto = match row.proto {
                Proto::Tcp => Proto::Udp,
                Proto::Udp => Proto::Tcp,
            };
            action = RowAction::Changed;
        }
        let up = ui
            .add_enabled(index > 0, egui::Button::new(RichText::new("↑").monospace()))
            .on_hover_text("Move up")
            .accessible_name(format!("Move knock {} up", index + 1));
        if up.clicked() {
            action = RowAction::Up;
        }
        let down = ui
            .add_enabled(
                index + 1 < count,
                egui::Button::new(RichText::new("↓").monospace()),
            )
            .on_hover_text("Move down")
            .accessible_name(format!("Move knock {} down", index + 1));
        if down.clicked() {
            action = RowAction::Down;
        }
        let remove = ui
            .add(egui::Button::new("×"))
            .on_hover_text("Remove this knock")
            .accessible_name(format!("Remove knock {}", index + 1));
        if remove.clicked() {
            action = RowAction::Remove;
        }
        if let Some(problem) = problem {
            ui.label(
                RichText::new(problem)
                    .small()
                    .color(ui.visuals().error_fg_color),
            );
        }
    });
    action
}

/// A profile in the list: name (with a dot when unsaved) over its host and
/// sequence, or a small `tag` after the host (like "rotating"); selectable.
/// The subtitle and tag are the row's accessible description.
pub fn profile_row_ui(
    ui: &mut egui::Ui,
    name: &str,
    subtitle: &str,
    tag: Option<&str>,
    selected: bool,
    dirty: bool,
) -> Response {
    let width = ui.available_width();
    let height = 44.0;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, height), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::Button, ui.is_enabled(), selected, name));
    let description = match tag {
        Some(tag) => format!("{subtitle}  ·  {tag}"),
        None => subtitle.to_string(),
    };
    ui.ctx()
        .accesskit_node_builder(response.id, |node| node.set_description(description));
    if ui.is_rect_visible(rect) {
        let visuals = ui.visuals();
        let fill = if selected {
            visuals.selection.bg_fill
        } else if response.hovered() {
            visuals.widgets.hovered.weak_bg_fill
        } else {
            Color32::TRANSPARENT
        };
        ui.painter().rect_filled(rect, 6.0, fill);
        let text_color = if selected {
            visuals.selection.stroke.color
        } else {
            visuals.strong_text_color()
        };
        let sub_color = if selected {
            visuals.selection.stroke.color.gamma_multiply(0.8)
        } else {
            visuals.weak_text_color()
        };
        let left = rect.left() + 10.0;
        let title = ui.painter().text(
            egui::pos2(left, rect.top() + 6.0),
            egui::Align2::LEFT_TOP,
            name,
            egui::FontId::proportional(15.0),
            text_color,
        );
        if dirty {
            let center = egui::pos2(title.right() + 9.0, title.center().y);
            ui.painter()
                .circle_filled(center, 3.5, visuals.warn_fg_color);
        }
        let room = if tag.is_some() { width - 90.0 } else { width };
        let sub = clip(subtitle, ((room - 20.0) / 6.5).max(8.0) as usize);
        let sub_rect = ui.painter().text(
            egui::pos2(left, rect.top() + 25.0),
            egui::Align2::LEFT_TOP,
            sub,
            egui::FontId::proportional(12.0),
            sub_color,
        );
        if let Some(tag) = tag {
            tag_ui(
                ui,
                egui::pos2(sub_rect.right() + 8.0, sub_rect.center().y),
                tag,
            );
        }
    }
    response
}

/// A small rounded tag whose left edge centre is at `at`.
fn tag_ui(ui: &egui::Ui, at: egui::Pos2, tag: &str) {
    let color = super::accent(ui.visuals());
    let galley =
        ui.painter()
            .layout_no_wrap(tag.to_string(), egui::FontId::proportional(10.5), color);
    let pad = egui::vec2(6.0, 1.5);
    let rect = egui::Rect::from_min_size(
        egui::pos2(at.x, at.y - galley.size().y / 2.0 - pad.y),
        galley.size() + 2.0 * pad,
    );
    ui.painter()
        .rect_filled(rect, 7.0, color.gamma_multiply(0.15));
    ui.painter().rect_stroke(
        rect,
        7.0,
        egui::Stroke::new(1.0, color.gamma_multiply(0.7)),
        egui::StrokeKind::Inside,
    );
    ui.painter().galley(rect.min + pad, galley, color);
}

/// The same tag, laid out in a `Ui` (next to a heading); labelled for
/// screen readers.
pub fn tag_label_ui(ui: &mut egui::Ui, tag: &str) -> Response {
    let color = super::accent(ui.visuals());
    egui::Frame::new()
        .fill(color.gamma_multiply(0.15))
        .stroke(egui::Stroke::new(1.0, color.gamma_multiply(0.7)))
        .corner_radius(8.0)
        .inner_margin(egui::Margin::symmetric(7, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(tag).size(11.5).color(color))
        })
        .inner
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A small round status icon: a check, a cross, a dot; a spinner while waiting.
pub fn step_icon_ui(ui: &mut egui::Ui, kind: StepKind) -> Response {
    if kind == StepKind::Waiting {
        return ui.add(egui::Spinner::new().size(14.0));
    }
    let (rect, response) = ui.allocate_exact_size(egui::vec2(16.0, 16.0), Sense::hover());
    let visuals = ui.visuals();
    let painter = ui.painter();
    let c = rect.center();
    let white = egui::Stroke::new(2.0, Color32::WHITE);
    match kind {
        StepKind::Good => {
            painter.circle_filled(c, 7.5, super::good_color(visuals));
            painter.line_segment(
                [c + egui::vec2(-3.5, 0.0), c + egui::vec2(-1.0, 2.8)],
                white,
            );
            painter.line_segment(
                [c + egui::vec2(-1.0, 2.8), c + egui::vec2(3.8, -2.8)],
                white,
            );
        }
        StepKind::Bad => {
            painter.circle_filled(c, 7.5, visuals.error_fg_color);
            painter.line_segment(
                [c + egui::vec2(-3.0, -3.0), c + egui::vec2(3.0, 3.0)],
                white,
            );
            painter.line_segment(
                [c + egui::vec2(-3.0, 3.0), c + egui::vec2(3.0, -3.0)],
                white,
            );
        }
        StepKind::Knock => {
            painter.circle_filled(c, 4.5, super::accent(visuals));
        }
        StepKind::Info | StepKind::Waiting => {
            painter.circle_stroke(c, 4.0, egui::Stroke::new(1.5, visuals.weak_text_color()));
        }
    }
    response
}

/// One line of the progress view.
pub fn step_ui(ui: &mut egui::Ui, step: &Step) -> Response {
    ui.horizontal(|ui| {
        let visuals = ui.visuals().clone();
        step_icon_ui(ui, step.kind);
        let text = RichText::new(&step.text);
        let text = match step.kind {
            StepKind::Good => text.color(super::good_color(&visuals)),
            StepKind::Bad => text.color(visuals.error_fg_color),
            StepKind::Info => text.color(visuals.weak_text_color()),
            _ => text,
        };
        ui.add(egui::Label::new(text).wrap());
    })
    .response
}
