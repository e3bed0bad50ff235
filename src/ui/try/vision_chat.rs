//! The Try tab's vision chat view (image-text-to-text): an image beside the conversation. The
//! image comes from **Open…**, a file dropped anywhere on the view or a pasted one (decoded on
//! its own thread, as the image view does), the question from the message box (Enter or
//! **Send**); the answer streams into the transcript, **Stop** ends it. A new image starts a
//! new conversation; temperature, max tokens and seed sit under the image.

use std::sync::Arc;

use eframe::egui::{self, RichText};
use image::RgbImage;

use crate::infer::tasks::common::decoding::{GenerationParams, StopReason};
use crate::infer::tasks::image_text_to_text::{
    DEFAULT_MAX_TOKENS, IMAGE_TEXT_TO_TEXT, VisionChatOutput, VisionChatRequest,
};
use crate::infer::tasks::text_generation::ChatMessage;
use crate::infer::{Output, Request, Task};
use crate::ui::runtime::background::Background;
use crate::ui::r#try::chat::bubble;
use crate::ui::r#try::file_input::{Accept, FileInput, Picked};
use crate::ui::r#try::image::{Decoded, decode};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};

struct Shown {
    name: String,
    image: Arc<RgbImage>,
    texture: egui::TextureHandle,
}

/// The vision chat's state.
pub struct VisionChatView {
    input: FileInput,
    decoding: Option<Background<Result<Decoded, String>>>,
    shown: Option<Shown>,
    messages: Vec<ChatMessage>,
    /// The answer being streamed, if any.
    streaming: Option<String>,
    draft: String,
    params: GenerationParams,
    last_stats: Option<String>,
    error: Option<String>,
}

impl Default for VisionChatView {
    fn default() -> VisionChatView {
        VisionChatView {
            input: FileInput::new(Accept::IMAGES),
            decoding: None,
            shown: None,
            messages: Vec::new(),
            streaming: None,
            draft: String::new(),
            // Greedy, as the model cards' `generate(do_sample=False)`.
            params: GenerationParams::greedy(DEFAULT_MAX_TOKENS),
            last_stats: None,
            error: None,
        }
    }
}

impl VisionChatView {
    /// A streamed piece of the answer.
    pub fn on_token(&mut self, piece: &str) {
        self.streaming
            .get_or_insert_with(String::new)
            .push_str(piece);
    }

    /// The answer is complete (or was stopped).
    pub fn on_finished(&mut self, output: &VisionChatOutput) {
        let text = self.streaming.take().unwrap_or_else(|| output.text.clone());
        self.messages.push(ChatMessage::new("assistant", &text));
        let stop = match output.stop_reason {
            StopReason::Eos => "end of answer",
            StopReason::MaxTokens => "max tokens reached",
            StopReason::ContextFull => "context window full",
            StopReason::Cancelled => "stopped",
        };
        self.last_stats = Some(format!(
            "{} prompt tokens (the image's included) at {:.1} tok/s · {} generated at {:.1} \
             tok/s · {stop}",
            output.prompt_tokens,
            output.prompt_tokens_per_s,
            output.generated_tokens,
            output.decode_tokens_per_s,
        ));
    }

    /// The job failed: the message is shown, the partial answer and its question dropped.
    pub fn on_failed(&mut self, message: &str) {
        if self.streaming.take().is_some() && self.messages.last().is_some_and(|m| m.role == "user")
        {
            let question = self.messages.pop().map(|m| m.content).unwrap_or_default();
            self.draft = question;
        }
        self.error = Some(message.to_string());
    }

    /// Shows the view; `busy` while an answer is being generated.
    pub fn show(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let area = ui.max_rect();
        let picked = self.input.drop_zone(ui, area);
        if let Some(picked) = picked {
            self.start_decoding(ui.ctx(), picked);
        }
        self.poll_decoding(ui.ctx());
        let mut request = ViewRequest::None;
        egui::Panel::left("vision-chat-image")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| self.image_side(ui, busy));
        egui::Panel::bottom("vision-chat-input")
            .resizable(false)
            .show(ui, |ui| request = self.message_row(ui, busy));
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .stick_to_bottom(true)
            .show(ui, |ui| self.transcript(ui));
        request
    }

    fn image_side(&mut self, ui: &mut egui::Ui, busy: bool) {
        ui.horizontal(|ui| {
            let picked = ui
                .add_enabled_ui(!busy, |ui| self.input.open_button(ui))
                .inner;
            if let Some(picked) = picked {
                self.start_decoding(ui.ctx(), picked);
            }
            ui.label(RichText::new("or drop or paste (Ctrl+V) an image").weak());
        });
        self.input.show_refusal(ui);
        if self.decoding.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the image…");
            });
        }
        match &self.shown {
            Some(shown) => {
                let size = shown.texture.size_vec2();
                let scale = ((ui.available_width() - 8.0).max(64.0) / size.x.max(size.y)).min(1.0);
                ui.add(egui::Image::new(&shown.texture).fit_to_exact_size(size * scale));
                ui.label(
                    RichText::new(format!(
                        "{} · {} × {}",
                        shown.name,
                        shown.image.width(),
                        shown.image.height()
                    ))
                    .weak()
                    .small(),
                );
            }
            None => {
                ui.add_space(16.0);
                ui.label("No image yet.");
            }
        }
        ui.add_space(8.0);
        egui::CollapsingHeader::new("Settings").show(ui, |ui| {
            let p = &mut self.params;
            ui.add(egui::Slider::new(&mut p.temperature, 0.0..=2.0).text("temperature"))
                .on_hover_text("0 always picks the most likely token (greedy).");
            ui.add(egui::Slider::new(&mut p.max_tokens, 1..=2048).text("max tokens"));
            ui.horizontal(|ui| {
                let label = ui.label("seed");
                ui.add(egui::DragValue::new(&mut p.seed))
                    .labelled_by(label.id);
            });
        });
    }

    fn transcript(&self, ui: &mut egui::Ui) {
        if self.messages.is_empty() && self.streaming.is_none() {
            let hint = if self.shown.is_some() {
                "Ask something about the image."
            } else {
                "Open, drop or paste an image, then ask about it."
            };
            ui.label(RichText::new(hint).weak());
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

    fn message_row(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label("Question");
            let edit = egui::TextEdit::multiline(&mut self.draft)
                .hint_text("Ask about the image (Enter sends, Shift+Enter for a new line)")
                .desired_rows(2)
                .desired_width(ui.available_width() - 140.0);
            let response = ui.add(edit).labelled_by(label.id);
            let enter = response.has_focus()
                && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Enter));
            if busy {
                if ui.button("Stop").clicked() {
                    request = ViewRequest::Stop;
                }
                ui.spinner();
                return;
            }
            let ready = !self.draft.trim().is_empty() && self.shown.is_some();
            let send = ui
                .add_enabled(ready, egui::Button::new("Send"))
                .on_disabled_hover_text("Open an image and type a question")
                .clicked();
            if (send || enter) && ready {
                request = self.send();
            }
            if ui.button("Clear").clicked() {
                self.clear();
            }
        });
        ui.add_space(4.0);
        request
    }

    fn send(&mut self) -> ViewRequest {
        let Some(shown) = &self.shown else {
            return ViewRequest::None;
        };
        let text = std::mem::take(&mut self.draft).trim_end().to_string();
        self.messages.push(ChatMessage::new("user", &text));
        self.error = None;
        self.streaming = Some(String::new());
        ViewRequest::Run(Request::new(VisionChatRequest {
            image: shown.image.clone(),
            messages: self.messages.clone(),
            params: self.params.clone(),
        }))
    }

    fn clear(&mut self) {
        self.messages.clear();
        self.last_stats = None;
        self.error = None;
    }

    fn start_decoding(&mut self, ctx: &egui::Context, picked: Picked) {
        self.decoding = Some(Background::spawn_thread(ctx, move || decode(picked)));
        self.error = None;
    }

    /// Takes a finished decode: the new image starts a new conversation.
    fn poll_decoding(&mut self, ctx: &egui::Context) {
        let Some(result) = self.decoding.as_ref().and_then(Background::poll) else {
            return;
        };
        self.decoding = None;
        match result.and_then(|decoded| decoded) {
            Ok(decoded) => {
                let texture = ctx.load_texture(
                    "try-vision-chat-image",
                    decoded.preview,
                    egui::TextureOptions::LINEAR,
                );
                self.shown = Some(Shown {
                    name: decoded.name,
                    image: decoded.image,
                    texture,
                });
                self.clear();
            }
            Err(message) => self.error = Some(message),
        }
    }
}

impl TaskView for VisionChatView {
    fn shows(&self, task: Task) -> bool {
        task == IMAGE_TEXT_TO_TEXT
    }

    fn show(&mut self, ui: &mut egui::Ui, _context: &ViewContext, busy: bool) -> ViewRequest {
        VisionChatView::show(self, ui, busy)
    }

    fn on_token(&mut self, piece: &str) {
        VisionChatView::on_token(self, piece);
    }

    fn on_finished(&mut self, output: Output) {
        if let Some(output) = output.get::<VisionChatOutput>() {
            VisionChatView::on_finished(self, output);
        }
    }

    fn on_failed(&mut self, message: &str) {
        VisionChatView::on_failed(self, message);
    }
}
