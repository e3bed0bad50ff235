//! The chat view of the Try tab: the conversation with streamed replies, a message box (Enter
//! sends, Shift+Enter starts a new line), Stop, and a settings side panel (system prompt and
//! every sampling setting). Prompt and decode speeds of the last reply are shown under it.

use eframe::egui::{self, RichText};

use crate::infer::tasks::text_generation::{
    ChatMessage, GenerationOutput, GenerationParams, GenerationRequest, Prompt, StopReason,
    TEXT_GENERATION,
};
use crate::infer::{Output, Request, Task};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};

/// The chat's state.
pub struct ChatView {
    messages: Vec<ChatMessage>,
    /// The reply being streamed, if any.
    streaming: Option<String>,
    draft: String,
    system: String,
    params: GenerationParams,
    top_p_on: bool,
    top_k: usize,
    top_k_on: bool,
    last_stats: Option<String>,
    error: Option<String>,
}

impl Default for ChatView {
    fn default() -> ChatView {
        let params = GenerationParams::default();
        ChatView {
            messages: Vec::new(),
            streaming: None,
            draft: String::new(),
            system: String::new(),
            top_p_on: params.top_p.is_some(),
            top_k: params.top_k.unwrap_or(40),
            top_k_on: params.top_k.is_some(),
            params,
            last_stats: None,
            error: None,
        }
    }
}

impl ChatView {
    /// A streamed piece of the reply.
    pub fn on_token(&mut self, piece: &str) {
        self.streaming
            .get_or_insert_with(String::new)
            .push_str(piece);
    }

    /// The reply is complete (or was stopped).
    pub fn on_finished(&mut self, output: &GenerationOutput) {
        let text = self.streaming.take().unwrap_or_else(|| output.text.clone());
        self.messages.push(ChatMessage::new("assistant", &text));
        let stop = match output.stop_reason {
            StopReason::Eos => "end of reply",
            StopReason::MaxTokens => "max tokens reached",
            StopReason::ContextFull => "context window full",
            StopReason::Cancelled => "stopped",
        };
        self.last_stats = Some(format!(
            "{} prompt tokens at {:.1} tok/s · {} generated at {:.1} tok/s · {stop}",
            output.prompt_tokens,
            output.prompt_tokens_per_s,
            output.generated_tokens,
            output.decode_tokens_per_s,
        ));
    }

    /// The job failed: the message is shown and the partial reply dropped.
    pub fn on_failed(&mut self, message: &str) {
        self.streaming = None;
        self.error = Some(message.to_string());
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
            .show(ui, |ui| self.transcript(ui));
        request
    }

    fn transcript(&self, ui: &mut egui::Ui) {
        if self.messages.is_empty() && self.streaming.is_none() {
            ui.label(RichText::new("Say something to the model.").weak());
        }
        for message in &self.messages {
            bubble(ui, &message.role, &message.content);
        }
        if let Some(partial) = &self.streaming {
            bubble(ui, "assistant", &format!("{partial} …"));
        }
        if let Some(stats) = &self.last_stats {
            ui.label(RichText::new(stats).small().weak());
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    }

    fn input(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label("Message");
            let edit = egui::TextEdit::multiline(&mut self.draft)
                .hint_text("Message (Enter sends, Shift+Enter for a new line)")
                .desired_rows(2)
                .desired_width(ui.available_width() - 140.0);
            let response = ui.add(edit).labelled_by(label.id);
            let enter = response.has_focus()
                && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Enter));
            if busy {
                if ui.button("Stop").clicked() {
                    request = ViewRequest::Stop;
                }
            } else {
                let send = ui
                    .add_enabled(!self.draft.trim().is_empty(), egui::Button::new("Send"))
                    .clicked();
                if (send || enter) && !self.draft.trim().is_empty() {
                    request = self.send();
                }
                if ui.button("Clear").clicked() {
                    self.messages.clear();
                    self.last_stats = None;
                    self.error = None;
                }
            }
        });
        ui.add_space(4.0);
        request
    }

    fn send(&mut self) -> ViewRequest {
        let text = std::mem::take(&mut self.draft).trim_end().to_string();
        self.messages.push(ChatMessage::new("user", &text));
        self.error = None;
        self.streaming = Some(String::new());
        let mut messages = Vec::new();
        if !self.system.trim().is_empty() {
            messages.push(ChatMessage::new("system", self.system.trim()));
        }
        messages.extend(self.messages.iter().cloned());
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
                messages: std::mem::take(&mut self.messages),
                ..ChatView::default()
            };
        }
    }
}

/// One message of a conversation (the vision chat view's too).
pub(crate) fn bubble(ui: &mut egui::Ui, role: &str, text: &str) {
    let (who, fill) = match role {
        "user" => ("You", ui.visuals().selection.bg_fill.gamma_multiply(0.35)),
        _ => ("Model", ui.visuals().faint_bg_color),
    };
    egui::Frame::new()
        .fill(fill)
        .corner_radius(6.0)
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(who).strong().small());
            ui.add(egui::Label::new(text).selectable(true).wrap());
        });
    ui.add_space(4.0);
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
