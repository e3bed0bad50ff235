//! A conversation with a local model in the Try tab, shared by the chat and vision chat views:
//! the messages as bubbles with the reply streaming into the last one, the speeds of the last
//! reply, the error, and the message row (Enter sends, Shift+Enter starts a new line; Send,
//! Clear, or Stop while a reply is made).

use eframe::egui::{self, RichText};

use crate::infer::tasks::common::decoding::StopReason;
use crate::infer::tasks::text_generation::ChatMessage;

/// The messages so far, the reply being streamed and the draft.
#[derive(Default)]
pub struct Conversation {
    /// The finished messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The reply being streamed, if any.
    streaming: Option<String>,
    /// What the user is typing.
    pub draft: String,
    last_stats: Option<String>,
    error: Option<String>,
}

/// What the message row was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    /// Nothing.
    None,
    /// Send the draft ([`Conversation::ask`] has moved it into the messages).
    Send,
    /// Stop the reply.
    Stop,
}

/// A finished reply's numbers.
pub struct ReplyStats {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Prompt speed, tokens/s.
    pub prompt_tokens_per_s: f64,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Generation speed, tokens/s.
    pub decode_tokens_per_s: f64,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

impl Conversation {
    /// A streamed piece of the reply.
    pub fn on_token(&mut self, piece: &str) {
        self.streaming
            .get_or_insert_with(String::new)
            .push_str(piece);
    }

    /// The reply is complete (or was stopped): the streamed text, else `text`, becomes the
    /// model's message; `stats` go under it, the prompt described by `prompt` ("prompt tokens").
    pub fn finish(&mut self, text: &str, stats: &ReplyStats, prompt: &str) {
        let reply = self.streaming.take().unwrap_or_else(|| text.to_string());
        self.messages.push(ChatMessage::new("assistant", &reply));
        let stop = match stats.stop_reason {
            StopReason::Eos => "end of reply",
            StopReason::MaxTokens => "max tokens reached",
            StopReason::ContextFull => "context window full",
            StopReason::Cancelled => "stopped",
        };
        self.last_stats = Some(format!(
            "{} {prompt} at {:.1} tok/s · {} generated at {:.1} tok/s · {stop}",
            stats.prompt_tokens,
            stats.prompt_tokens_per_s,
            stats.generated_tokens,
            stats.decode_tokens_per_s,
        ));
    }

    /// The job failed: the message is shown and the partial reply dropped; with
    /// `return_question`, the unanswered question goes back into the draft.
    pub fn fail(&mut self, message: &str, return_question: bool) {
        let was_replying = self.streaming.take().is_some();
        if return_question && was_replying && self.messages.last().is_some_and(|m| m.role == "user")
        {
            self.draft = self.messages.pop().map(|m| m.content).unwrap_or_default();
        }
        self.error = Some(message.to_string());
    }

    /// Moves the draft into the messages as the user's and starts the reply.
    pub fn ask(&mut self) {
        let text = std::mem::take(&mut self.draft).trim_end().to_string();
        self.messages.push(ChatMessage::new("user", &text));
        self.error = None;
        self.streaming = Some(String::new());
    }

    /// Forgets the messages, the stats and the error.
    pub fn clear(&mut self) {
        self.messages.clear();
        self.last_stats = None;
        self.error = None;
    }

    /// Shows `error` (a problem outside the conversation, such as an unreadable image).
    pub fn set_error(&mut self, error: Option<String>) {
        self.error = error;
    }

    /// The messages, the streaming reply, the last stats and the error; `empty` when there is
    /// nothing yet.
    pub fn transcript(&self, ui: &mut egui::Ui, empty: &str) {
        if self.messages.is_empty() && self.streaming.is_none() {
            ui.label(RichText::new(empty).weak());
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

    /// The message row: `label` and `hint` on the box; Send when `ready` (else `not_ready`
    /// on hover) and the draft has text, Clear, or Stop while `busy`.
    pub fn message_row(
        &mut self,
        ui: &mut egui::Ui,
        (label, hint): (&str, &str),
        busy: bool,
        (ready, not_ready): (bool, &str),
    ) -> RowAction {
        let mut action = RowAction::None;
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label(label);
            let edit = egui::TextEdit::multiline(&mut self.draft)
                .hint_text(hint)
                .desired_rows(2)
                .desired_width(ui.available_width() - 140.0);
            let response = ui.add(edit).labelled_by(label.id);
            let enter = response.has_focus()
                && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Enter));
            if busy {
                if ui.button("Stop").clicked() {
                    action = RowAction::Stop;
                }
                ui.spinner();
                return;
            }
            let ready = ready && !self.draft.trim().is_empty();
            let send = ui
                .add_enabled(ready, egui::Button::new("Send"))
                .on_disabled_hover_text(not_ready)
                .clicked();
            if (send || enter) && ready {
                self.ask();
                action = RowAction::Send;
            }
            if ui.button("Clear").clicked() {
                self.clear();
            }
        });
        ui.add_space(4.0);
        action
    }
}

/// One message as a bubble: the user's tinted, the model's plain.
fn bubble(ui: &mut egui::Ui, role: &str, text: &str) {
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
