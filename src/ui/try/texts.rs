//! The Try tab's view for the encoder tasks: text classification (labelled probability bars),
//! token classification (the text with its entities highlighted, and a table) and fill-mask
//! (the top candidates per mask). Texts go one per line.

use eframe::egui::{self, Color32, RichText, text::LayoutJob};

use crate::infer::task_module::TaskModule;
use crate::infer::tasks::text_classification::{
    FILL_MASK, MODULE, Results, TOKEN_CLASSIFICATION, TextEntities, TextFills, TextLabels,
    TextsRequest,
};
use crate::infer::{Output, Request, Task};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};
use crate::ui::widgets::{label_bars, nonempty_lines};

/// The view's state.
#[derive(Default)]
pub struct TextsView {
    text: String,
    result: Option<Output>,
    error: Option<String>,
}

impl TextsView {
    /// The results are here.
    pub fn on_finished(&mut self, output: Output) {
        self.result = Some(output);
        self.error = None;
    }

    /// The job failed.
    pub fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    /// Shows the view for `task`; `busy` while a job runs.
    pub fn show(&mut self, ui: &mut egui::Ui, task: Task, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        if self.text.is_empty() {
            self.text = example(task).into();
        }
        let label = ui.label(match task {
            FILL_MASK => "Texts with [MASK] (or <mask>) where a word is missing, one per line:",
            _ => "Texts, one per line:",
        });
        ui.add(
            egui::TextEdit::multiline(&mut self.text)
                .desired_rows(3)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        let texts = nonempty_lines(&self.text);
        ui.horizontal(|ui| {
            let ready = !busy && !texts.is_empty();
            let clicked = ui
                .add_enabled(ready, egui::Button::new("Run"))
                .on_hover_text("Ctrl+Enter")
                .clicked();
            let shortcut = ready
                && ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter));
            if clicked || shortcut {
                request = ViewRequest::Run(Request::new(TextsRequest { texts }));
            }
            if busy {
                ui.spinner();
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if let Some(result) = &self.result {
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    if let Some(r) = result.get::<Results<TextLabels>>() {
                        r.results.iter().for_each(|t| labels(ui, t));
                    } else if let Some(r) = result.get::<Results<TextEntities>>() {
                        r.results.iter().for_each(|t| entities(ui, t));
                    } else if let Some(r) = result.get::<Results<TextFills>>() {
                        r.results.iter().for_each(|t| fills(ui, t));
                    }
                });
        }
        request
    }
}

fn example(task: Task) -> &'static str {
    match task {
        TOKEN_CLASSIFICATION => "My name is Sarah Connor and I live in Los Angeles.",
        FILL_MASK => "Paris is the [MASK] of France.",
        _ => "I love this movie, it was wonderful!",
    }
}

fn labels(ui: &mut egui::Ui, result: &TextLabels) {
    ui.label(RichText::new(&result.text).strong());
    label_bars(ui, &result.labels[..result.labels.len().min(10)]);
    ui.add_space(8.0);
}

/// A colour per entity type, stable across frames.
fn group_color(group: &str) -> Color32 {
    const PALETTE: [Color32; 6] = [
        Color32::from_rgb(230, 120, 80),
        Color32::from_rgb(80, 150, 230),
        Color32::from_rgb(90, 190, 110),
        Color32::from_rgb(200, 110, 210),
        Color32::from_rgb(220, 190, 60),
        Color32::from_rgb(60, 190, 190),
    ];
    let hash = group
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31) + b as usize);
    PALETTE[hash % PALETTE.len()]
}

fn entities(ui: &mut egui::Ui, result: &TextEntities) {
    // The text with each entity on a coloured background and its type after it.
    let mut job = LayoutJob::default();
    let body = egui::TextFormat {
        color: ui.visuals().text_color(),
        ..Default::default()
    };
    let mut at = 0;
    for entity in &result.entities {
        let (Some(before), Some(word)) = (
            result.text.get(at..entity.start),
            result.text.get(entity.start..entity.end),
        ) else {
            continue;
        };
        job.append(before, 0.0, body.clone());
        let color = group_color(&entity.group);
        job.append(
            word,
            0.0,
            egui::TextFormat {
                background: color.gamma_multiply(0.45),
                ..body.clone()
            },
        );
        job.append(
            &format!(" {}", entity.group),
            0.0,
            egui::TextFormat {
                color,
                font_id: egui::FontId::proportional(10.0),
                ..Default::default()
            },
        );
        at = entity.end;
    }
    job.append(result.text.get(at..).unwrap_or_default(), 0.0, body);
    ui.label(job);
    if result.entities.is_empty() {
        ui.label(RichText::new("No entities found.").weak());
    }
    egui::Grid::new(("entities", result.text.as_str()))
        .striped(true)
        .show(ui, |ui| {
            for entity in &result.entities {
                ui.colored_label(group_color(&entity.group), &entity.group);
                ui.label(&entity.word);
                ui.label(format!("{:.1}%", entity.score * 100.0));
                ui.end_row();
            }
        });
    ui.add_space(8.0);
}

fn fills(ui: &mut egui::Ui, result: &TextFills) {
    ui.label(RichText::new(&result.text).strong());
    for (i, candidates) in result.masks.iter().enumerate() {
        if result.masks.len() > 1 {
            ui.label(format!("Mask {}", i + 1));
        }
        for fill in candidates {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(fill.score)
                        .desired_width(160.0)
                        .text(format!("{:.1}%", fill.score * 100.0)),
                );
                ui.label(RichText::new(&fill.token).strong());
                ui.label(RichText::new(&fill.sequence).weak());
            });
        }
    }
    ui.add_space(8.0);
}

impl TaskView for TextsView {
    fn shows(&self, task: Task) -> bool {
        MODULE.tasks().contains(&task)
    }

    fn show(&mut self, ui: &mut egui::Ui, context: &ViewContext, busy: bool) -> ViewRequest {
        TextsView::show(self, ui, context.task, busy)
    }

    fn on_finished(&mut self, output: Output) {
        TextsView::on_finished(self, output);
    }

    fn on_failed(&mut self, message: &str) {
        TextsView::on_failed(self, message);
    }
}
