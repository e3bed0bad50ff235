//! The Try tab's question-answering view: a context, a question, and the answers — the best one
//! highlighted inside the context, every one listed with its score (click one to highlight it).

use eframe::egui::{self, Color32, RichText, text::LayoutJob};

use crate::infer::tasks::question_answering::{
    Answer, Answers, QUESTION_ANSWERING, QuestionRequest,
};
use crate::infer::{Output, Request, Task};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};

/// How many answers the view asks for.
const ANSWERS: usize = 3;

/// The view's state.
pub struct QuestionView {
    context: String,
    question: String,
    /// The context the answers point into (the box may have been edited since).
    answered: Option<(String, Answers)>,
    /// The answer highlighted in the context.
    shown: usize,
    error: Option<String>,
}

impl Default for QuestionView {
    fn default() -> QuestionView {
        QuestionView {
            context: "Hubble is a native desktop explorer for the Hugging Face Hub. It is \
                      written in Rust and runs models on this machine."
                .into(),
            question: "What language is Hubble written in?".into(),
            answered: None,
            shown: 0,
            error: None,
        }
    }
}

impl TaskView for QuestionView {
    fn shows(&self, task: Task) -> bool {
        task == QUESTION_ANSWERING
    }

    fn show(&mut self, ui: &mut egui::Ui, _context: &ViewContext, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        let label = ui.label("Context");
        ui.add(
            egui::TextEdit::multiline(&mut self.context)
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.horizontal(|ui| {
            let label = ui.label("Question");
            let field = ui
                .add(egui::TextEdit::singleline(&mut self.question).desired_width(420.0))
                .labelled_by(label.id);
            let ready =
                !busy && !self.question.trim().is_empty() && !self.context.trim().is_empty();
            let clicked = ui
                .add_enabled(ready, egui::Button::new("Answer"))
                .on_hover_text("Enter in the question box")
                .clicked();
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ready && (clicked || entered) {
                self.error = None;
                request = ViewRequest::Run(Request::new(QuestionRequest {
                    question: self.question.clone(),
                    context: self.context.clone(),
                    top_k: ANSWERS,
                }));
            }
            if busy {
                ui.spinner();
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if let Some((context, answers)) = &self.answered {
            ui.add_space(8.0);
            match answers.answers.get(self.shown) {
                Some(answer) => {
                    ui.label(RichText::new("Answer").strong());
                    highlighted(ui, context, answer);
                }
                None => {
                    ui.label("No answer found in the context.");
                }
            }
            ui.add_space(4.0);
            for (i, answer) in answers.answers.iter().enumerate() {
                let text = format!("{:>5.1}%  {}", answer.score * 100.0, answer.answer);
                if ui.selectable_label(i == self.shown, text).clicked() {
                    self.shown = i;
                }
            }
        }
        request
    }

    fn on_finished(&mut self, output: Output) {
        if let Ok(answers) = output.take::<Answers>() {
            self.answered = Some((self.context.clone(), answers));
            self.shown = 0;
        }
    }

    fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }
}

/// The context with the answer's characters on a coloured background.
fn highlighted(ui: &mut egui::Ui, context: &str, answer: &Answer) {
    let body = egui::TextFormat {
        color: ui.visuals().text_color(),
        ..Default::default()
    };
    let mark = egui::TextFormat {
        background: Color32::from_rgb(240, 200, 60).gamma_multiply(0.55),
        color: ui.visuals().strong_text_color(),
        ..Default::default()
    };
    let chars: Vec<char> = context.chars().collect();
    let piece = |from: usize, to: usize| -> String {
        chars[from.min(chars.len())..to.min(chars.len())]
            .iter()
            .collect()
    };
    let mut job = LayoutJob::default();
    job.wrap.max_width = ui.available_width();
    job.append(&piece(0, answer.start), 0.0, body.clone());
    job.append(&piece(answer.start, answer.end), 0.0, mark);
    job.append(&piece(answer.end, chars.len()), 0.0, body);
    ui.label(job);
}
