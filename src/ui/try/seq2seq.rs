//! The Try tab's translation / summarisation view: the task prefix (the model's own from
//! config.json, or typed), the input, and the output streaming in, with Stop and the speed.

use eframe::egui::{self, RichText};

use crate::infer::tasks::common::decoding::GenerationParams;
use crate::infer::tasks::seq2seq::{
    SUMMARIZATION, Seq2SeqOutput, Seq2SeqRequest, TRANSLATION, task_prefixes,
};
use crate::infer::{Output, Request, Task};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};

/// The view's state.
#[derive(Default)]
pub struct Seq2SeqView {
    input: String,
    prefix: String,
    prefix_set: bool,
    output: String,
    stats: Option<String>,
    error: Option<String>,
}

impl Seq2SeqView {
    /// A streamed piece of the output.
    pub fn on_token(&mut self, piece: &str) {
        self.output.push_str(piece);
    }

    /// The job finished (or was stopped).
    pub fn on_finished(&mut self, output: &Seq2SeqOutput) {
        self.output = output.text.clone();
        self.stats = Some(format!(
            "{} input tokens · {} generated at {:.1} tok/s · {:?}",
            output.input_tokens,
            output.generated_tokens,
            output.decode_tokens_per_s,
            output.stop_reason
        ));
    }

    /// The job failed.
    pub fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    /// Shows the view; `prefixes` are the model's own (name, prefix) for this task.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        task: Task,
        prefixes: &[(String, String)],
        busy: bool,
    ) -> ViewRequest {
        if !self.prefix_set {
            self.prefix = prefixes.first().map(|(_, p)| p.clone()).unwrap_or_default();
            self.prefix_set = true;
        }
        let mut request = ViewRequest::None;
        ui.horizontal(|ui| {
            let label = ui.label("Prefix");
            ui.add(egui::TextEdit::singleline(&mut self.prefix).desired_width(320.0))
                .labelled_by(label.id)
                .on_hover_text("What the model was trained to see before the text.");
            for (name, prefix) in prefixes {
                if ui.small_button(name).clicked() {
                    self.prefix = prefix.clone();
                }
            }
        });
        let label = ui.label(if task == SUMMARIZATION {
            "Text to summarise:"
        } else {
            "Text to translate:"
        });
        ui.add(
            egui::TextEdit::multiline(&mut self.input)
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.horizontal(|ui| {
            if busy {
                if ui.button("Stop").clicked() {
                    request = ViewRequest::Stop;
                }
                ui.spinner();
            } else {
                let verb = if task == SUMMARIZATION {
                    "Summarize"
                } else {
                    "Translate"
                };
                let ready = !self.input.trim().is_empty();
                if ui.add_enabled(ready, egui::Button::new(verb)).clicked() {
                    self.output.clear();
                    self.stats = None;
                    self.error = None;
                    request = ViewRequest::Run(Request::new(Seq2SeqRequest {
                        text: self.input.clone(),
                        prefix: Some(self.prefix.clone()),
                        params: GenerationParams {
                            temperature: 0.0,
                            repeat_penalty: 1.0,
                            ..GenerationParams::default()
                        },
                    }));
                }
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if !self.output.is_empty() || busy {
            ui.separator();
            ui.add(egui::Label::new(RichText::new(&self.output).size(15.0)).selectable(true));
            if ui.small_button("Copy").clicked() {
                ui.ctx().copy_text(self.output.clone());
            }
        }
        if let Some(stats) = &self.stats {
            ui.label(RichText::new(stats).small().weak());
        }
        request
    }
}

impl TaskView for Seq2SeqView {
    fn shows(&self, task: Task) -> bool {
        task == TRANSLATION || task == SUMMARIZATION
    }

    fn show(&mut self, ui: &mut egui::Ui, context: &ViewContext, busy: bool) -> ViewRequest {
        let prefixes = task_prefixes(context.config, context.task);
        Seq2SeqView::show(self, ui, context.task, &prefixes, busy)
    }

    fn on_token(&mut self, piece: &str) {
        Seq2SeqView::on_token(self, piece);
    }

    fn on_finished(&mut self, output: Output) {
        if let Some(output) = output.get::<Seq2SeqOutput>() {
            Seq2SeqView::on_finished(self, output);
        }
    }

    fn on_failed(&mut self, message: &str) {
        Seq2SeqView::on_failed(self, message);
    }
}
