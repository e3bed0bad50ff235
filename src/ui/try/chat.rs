//! The chat view of the Try tab: the conversation with streamed replies, a message box (Enter
//! sends, Shift+Enter starts a new line), Stop, and a settings side panel (system prompt and
//! every sampling setting). Prompt and decode speeds of the last reply are shown under it.

use eframe::egui;

use crate::infer::tasks::text_generation::{
    ChatMessage, GenerationOutput, GenerationParams, GenerationRequest, Prompt, TEXT_GENERATION,
};
use crate::infer::{Output, Request, Task};
use crate::ui::r#try::conversation::{Conversation, ReplyStats, RowAction};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};

/// The chat's state.
pub struct ChatView {
    conversation: Conversation,
    system: String,
    params: GenerationParams,
    top_p_on: bool,
    top_k: usize,
    top_k_on: bool,
}

impl Default for ChatView {
    fn default() -> ChatView {
        let params = GenerationParams::default();
        ChatView {
            conversation: Conversation::default(),
            system: String::new(),
            top_p_on: params.top_p.is_some(),
            top_k: params.top_k.unwrap_or(40),
            top_k_on: params.top_k.is_some(),
            params,
        }
    }
}

impl ChatView {
    /// A streamed piece of the reply.
    pub fn on_token(&mut self, piece: &str) {
        self.conversation.on_token(piece);
    }

    /// The reply is complete (or was stopped).
    pub fn on_finished(&mut self, output: &GenerationOutput) {
        let stats = ReplyStats {
            prompt_tokens: output.prompt_tokens,
            prompt_tokens_per_s: output.prompt_tokens_per_s,
            generated_tokens: output.generated_tokens,
            decode_tokens_per_s: output.decode_tokens_per_s,
            stop_reason: output.stop_reason,
        };
        self.conversation
            .finish(&output.text, &stats, "prompt tokens");
    }

    /// The job failed: the message is shown and the partial reply dropped.
    pub fn on_failed(&mut self, message: &str) {
        self.conversation.fail(message, false);
    }

    /// Shows the chat; `busy` while a reply is being generated.
    pub fn show(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        egui::Panel::right("chat-settings")
            .resizable(true)
            .default_size(240.0)
            .show(ui, |ui| self.settings(ui));
        egui::Panel::bottom("chat-input")
            .resizable(false)
            .show(ui, |ui| request = self.input(ui, busy));
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .stick_to_bottom(true)
            .show(ui, |ui| {
                self.conversation
                    .transcript(ui, "Say something to the model.")
            });
        request
    }

    fn input(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let row = self.conversation.message_row(
            ui,
            (
                "Message",
                "Message (Enter sends, Shift+Enter for a new line)",
            ),
            busy,
            (true, ""),
        );
        match row {
            RowAction::Send => self.send(),
            RowAction::Stop => ViewRequest::Stop,
            RowAction::None => ViewRequest::None,
        }
    }

    /// The request for the conversation so far (the user's message already in it).
    fn send(&self) -> ViewRequest {
        let mut messages = Vec::new();
        if !self.system.trim().is_empty() {
            messages.push(ChatMessage::new("system", self.system.trim()));
        }
        messages.extend(self.conversation.messages.iter().cloned());
        let params = GenerationParams {
            top_p: self.top_p_on.then_some(self.params.top_p.unwrap_or(0.9)),
            top_k: self.top_k_on.then_some(self.top_k),
            ..self.params.clone()
        };
        ViewRequest::Run(Request::new(GenerationRequest {
            prompt: Prompt::ChatIfTemplate(messages),
            params,
        }))
    }

    fn settings(&mut self, ui: &mut egui::Ui) {
        ui.heading("Settings");
        let label = ui.label("System prompt");
        ui.add(
            egui::TextEdit::multiline(&mut self.system)
                .desired_rows(3)
                .hint_text("You are a helpful assistant."),
        )
        .labelled_by(label.id);
        let p = &mut self.params;
        ui.add(egui::Slider::new(&mut p.temperature, 0.0..=2.0).text("temperature"))
            .on_hover_text("0 always picks the most likely token (greedy).");
        ui.horizontal(|ui| {
            let toggle = ui.checkbox(&mut self.top_p_on, "top-p");
            let mut top_p = p.top_p.unwrap_or(0.9);
            if ui
                .add_enabled(self.top_p_on, egui::Slider::new(&mut top_p, 0.05..=1.0))
                .labelled_by(toggle.id)
                .changed()
            {
                p.top_p = Some(top_p);
            }
        });
        ui.horizontal(|ui| {
            let toggle = ui.checkbox(&mut self.top_k_on, "top-k");
            ui.add_enabled(self.top_k_on, egui::Slider::new(&mut self.top_k, 1..=200))
                .labelled_by(toggle.id);
        });
        ui.add(egui::Slider::new(&mut p.repeat_penalty, 1.0..=2.0).text("repeat penalty"));
        ui.add(egui::Slider::new(&mut p.max_tokens, 1..=4096).text("max tokens"));
        ui.horizontal(|ui| {
            let label = ui.label("seed");
            ui.add(egui::DragValue::new(&mut p.seed))
                .labelled_by(label.id);
        });
        if ui.button("Reset to defaults").clicked() {
            *self = ChatView {
                conversation: std::mem::take(&mut self.conversation),
                ..ChatView::default()
            };
        }
    }
}

impl TaskView for ChatView {
    fn shows(&self, task: Task) -> bool {
        task == TEXT_GENERATION
    }

    fn show(&mut self, ui: &mut egui::Ui, _context: &ViewContext, busy: bool) -> ViewRequest {
        ChatView::show(self, ui, busy)
    }

    fn on_token(&mut self, piece: &str) {
        ChatView::on_token(self, piece);
    }

    fn on_finished(&mut self, output: Output) {
        if let Some(output) = output.get::<GenerationOutput>() {
            ChatView::on_finished(self, output);
        }
    }

    fn on_failed(&mut self, message: &str) {
        ChatView::on_failed(self, message);
    }
}
