//! The similarity view of the Try tab (feature extraction / sentence similarity): sentences one
//! per line → the cosine-similarity matrix as coloured cells, and the others ranked against the
//! first sentence.

use eframe::egui::{self, Color32, RichText};

use crate::infer::task_module::TaskModule;
use crate::infer::tasks::feature_extraction::{EmbeddingOutput, EmbeddingRequest, MODULE};
use crate::infer::{Output, Request, Task};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};
use crate::ui::widgets::nonempty_lines;

/// The similarity view's state.
pub struct EmbedView {
    text: String,
    result: Option<EmbeddingOutput>,
    error: Option<String>,
}

impl Default for EmbedView {
    fn default() -> EmbedView {
        EmbedView {
            text:
                "A man is eating food.\nA man is eating a piece of bread.\nA man is riding a horse."
                    .into(),
            result: None,
            error: None,
        }
    }
}

impl EmbedView {
    /// The embeddings are here.
    pub fn on_finished(&mut self, output: EmbeddingOutput) {
        self.result = Some(output);
        self.error = None;
    }

    /// The job failed.
    pub fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    /// Shows the view; `busy` while embeddings are computed.
    pub fn show(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        let label = ui.label("Sentences, one per line (the first is compared with the others):");
        ui.add(
            egui::TextEdit::multiline(&mut self.text)
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        let sentences = nonempty_lines(&self.text);
        ui.horizontal(|ui| {
            let ready = !busy && !sentences.is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Compare"))
                .on_hover_text("Ctrl+Enter")
                .clicked()
                || (ready
                    && ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter)))
            {
                request = ViewRequest::Run(Request::new(EmbeddingRequest { sentences }));
            }
            if busy {
                ui.spinner();
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if let Some(result) = &self.result {
            egui::ScrollArea::both()
                .auto_shrink([false, false])
                .show(ui, |ui| results(ui, result));
        }
        request
    }
}

fn results(ui: &mut egui::Ui, result: &EmbeddingOutput) {
    let dims = result.embeddings.first().map_or(0, Vec::len);
    ui.label(
        RichText::new(format!(
            "{} sentences · {dims} dimensions · {:?} pooling{}",
            result.sentences.len(),
            result.pooling,
            if result.normalized {
                " · normalised"
            } else {
                ""
            }
        ))
        .weak(),
    );
    if result.sentences.len() > 1 {
        ui.heading(format!("Most similar to “{}”", result.sentences[0]));
        for (rank, (i, score)) in result.ranked_against_first().iter().enumerate() {
            ui.horizontal(|ui| {
                ui.label(format!("{}.", rank + 1));
                ui.add(
                    egui::ProgressBar::new(score.clamp(0.0, 1.0))
                        .desired_width(160.0)
                        .text(format!("{score:.3}")),
                );
                ui.label(&result.sentences[*i]);
            });
        }
    }
    ui.add_space(8.0);
    ui.heading("Cosine similarity");
    egui::Grid::new("similarity-matrix")
        .spacing([2.0, 2.0])
        .show(ui, |ui| {
            ui.label("");
            for j in 0..result.sentences.len() {
                ui.label(RichText::new(format!("{}", j + 1)).strong());
            }
            ui.end_row();
            for (i, row) in result.similarity.iter().enumerate() {
                ui.label(RichText::new(format!("{}", i + 1)).strong())
                    .on_hover_text(&result.sentences[i]);
                for (j, score) in row.iter().enumerate() {
                    cell(ui, (i, j), *score);
                }
                ui.end_row();
            }
        });
    for (i, sentence) in result.sentences.iter().enumerate() {
        ui.label(RichText::new(format!("{}: {sentence}", i + 1)).small());
    }
}

/// One matrix cell; screen readers (and tests) hear which pair it is.
fn cell(ui: &mut egui::Ui, (i, j): (usize, usize), score: f32) {
    let t = score.clamp(0.0, 1.0);
    let fill = Color32::from_rgb(
        (40.0 + 30.0 * (1.0 - t)) as u8,
        (70.0 + 120.0 * t) as u8,
        (120.0 + 60.0 * t) as u8,
    );
    egui::Frame::new()
        .fill(fill)
        .inner_margin(egui::Margin::symmetric(6, 3))
        .show(ui, |ui| {
            ui.label(RichText::new(format!("{score:.2}")).color(Color32::WHITE))
                .widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Label,
                        true,
                        format!("similarity of {} and {}: {score:.2}", i + 1, j + 1),
                    )
                });
        });
}

impl TaskView for EmbedView {
    fn shows(&self, task: Task) -> bool {
        MODULE.tasks().contains(&task)
    }

    fn show(&mut self, ui: &mut egui::Ui, _context: &ViewContext, busy: bool) -> ViewRequest {
        EmbedView::show(self, ui, busy)
    }

    fn on_finished(&mut self, output: Output) {
        if let Ok(output) = output.take::<EmbeddingOutput>() {
            EmbedView::on_finished(self, output);
        }
    }

    fn on_failed(&mut self, message: &str) {
        EmbedView::on_failed(self, message);
    }
}
