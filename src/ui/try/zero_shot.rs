//! The Try tab's zero-shot classification view: a text, candidate labels as editable chips
//! (type one and press Enter to add it, × to remove), the hypothesis template, multi-label,
//! and the labels ranked as probability bars.

use eframe::egui::{self, RichText};

use crate::infer::tasks::zero_shot_classification::{
    DEFAULT_TEMPLATE, ZERO_SHOT_CLASSIFICATION, ZeroShotOutput, ZeroShotRequest,
};
use crate::infer::{Output, Request, Task};
use crate::results::LabelScore;
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};
use crate::ui::widgets::label_bars;

/// The view's state.
pub struct ZeroShotView {
    text: String,
    labels: Vec<String>,
    new_label: String,
    template: String,
    multi_label: bool,
    result: Option<ZeroShotOutput>,
    error: Option<String>,
}

impl Default for ZeroShotView {
    fn default() -> ZeroShotView {
        ZeroShotView {
            text: "The striker scored twice in the second half and the crowd went wild.".into(),
            labels: ["sports", "politics", "music", "cooking"]
                .map(String::from)
                .to_vec(),
            new_label: String::new(),
            template: DEFAULT_TEMPLATE.into(),
            multi_label: false,
            result: None,
            error: None,
        }
    }
}

impl ZeroShotView {
    fn chips(&mut self, ui: &mut egui::Ui) {
        let mut remove = None;
        ui.horizontal_wrapped(|ui| {
            let title = ui.label("Labels");
            for (i, label) in self.labels.iter().enumerate() {
                if ui
                    .button(format!("{label} ×"))
                    .on_hover_text("Remove this label")
                    .clicked()
                {
                    remove = Some(i);
                }
            }
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.new_label)
                        .hint_text("add a label")
                        .desired_width(120.0),
                )
                .labelled_by(title.id);
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Add").clicked() || entered) && !self.new_label.trim().is_empty() {
                for label in self.new_label.split(',').map(str::trim) {
                    if !label.is_empty() && !self.labels.iter().any(|l| l == label) {
                        self.labels.push(label.to_string());
                    }
                }
                self.new_label.clear();
            }
        });
        if let Some(i) = remove {
            self.labels.remove(i);
        }
    }
}

impl TaskView for ZeroShotView {
    fn shows(&self, task: Task) -> bool {
        task == ZERO_SHOT_CLASSIFICATION
    }

    fn show(&mut self, ui: &mut egui::Ui, _context: &ViewContext, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        let label = ui.label("Text");
        ui.add(
            egui::TextEdit::multiline(&mut self.text)
                .desired_rows(3)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        self.chips(ui);
        ui.horizontal(|ui| {
            let label = ui.label("Hypothesis");
            ui.add(egui::TextEdit::singleline(&mut self.template).desired_width(240.0))
                .labelled_by(label.id)
                .on_hover_text("{} stands for each label");
            ui.checkbox(&mut self.multi_label, "Several labels can be true");
        });
        ui.horizontal(|ui| {
            let ready = !busy && !self.labels.is_empty() && !self.text.trim().is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Classify"))
                .clicked()
            {
                self.error = None;
                request = ViewRequest::Run(Request::new(ZeroShotRequest {
                    sequence: self.text.clone(),
                    labels: self.labels.clone(),
                    multi_label: self.multi_label,
                    hypothesis_template: self.template.clone(),
                }));
            }
            if busy {
                ui.spinner();
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if let Some(result) = &self.result {
            ui.add_space(8.0);
            ui.label(RichText::new(&result.sequence).strong());
            let ranked: Vec<LabelScore> = result
                .labels
                .iter()
                .zip(&result.scores)
                .map(|(label, score)| LabelScore {
                    label: label.clone(),
                    score: *score,
                })
                .collect();
            label_bars(ui, &ranked);
        }
        request
    }

    fn on_finished(&mut self, output: Output) {
        if let Ok(result) = output.take::<ZeroShotOutput>() {
            self.result = Some(result);
        }
    }

    fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }
}
