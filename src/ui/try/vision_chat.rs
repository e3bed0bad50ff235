//! The Try tab's vision chat view (image-text-to-text): an image beside the conversation. The
//! image comes from **Open…**, a file dropped anywhere on the view or a pasted one (decoded on
//! its own thread, as the image view does), the question from the message box (Enter or
//! **Send**); the answer streams into the transcript, **Stop** ends it. A new image starts a
//! new conversation; temperature, max tokens and seed sit under the image.

use std::sync::Arc;

use eframe::egui::{self, RichText};
use image::RgbImage;

use crate::infer::tasks::common::decoding::GenerationParams;
use crate::infer::tasks::image_text_to_text::{
    DEFAULT_MAX_TOKENS, IMAGE_TEXT_TO_TEXT, VisionChatOutput, VisionChatRequest,
};
use crate::infer::{Output, Request, Task};
use crate::ui::runtime::background::Background;
use crate::ui::r#try::conversation::{Conversation, ReplyStats, RowAction};
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
    conversation: Conversation,
    params: GenerationParams,
}

impl Default for VisionChatView {
    fn default() -> VisionChatView {
        VisionChatView {
            input: FileInput::new(Accept::IMAGES),
            decoding: None,
            shown: None,
            conversation: Conversation::default(),
            // Greedy, as the model cards' `generate(do_sample=False)`.
            params: GenerationParams::greedy(DEFAULT_MAX_TOKENS),
        }
    }
}

impl VisionChatView {
    /// A streamed piece of the answer.
    pub fn on_token(&mut self, piece: &str) {
        self.conversation.on_token(piece);
    }

    /// The answer is complete (or was stopped).
    pub fn on_finished(&mut self, output: &VisionChatOutput) {
        let stats = ReplyStats {
            prompt_tokens: output.prompt_tokens,
            prompt_tokens_per_s: output.prompt_tokens_per_s,
            generated_tokens: output.generated_tokens,
            decode_tokens_per_s: output.decode_tokens_per_s,
            stop_reason: output.stop_reason,
        };
        self.conversation
            .finish(&output.text, &stats, "prompt tokens (the image's included)");
    }

    /// The job failed: the message is shown, the partial answer and its question dropped.
    pub fn on_failed(&mut self, message: &str) {
        self.conversation.fail(message, true);
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
        let hint = if self.shown.is_some() {
            "Ask something about the image."
        } else {
            "Open, drop or paste an image, then ask about it."
        };
        self.conversation.transcript(ui, hint);
    }

    fn message_row(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let row = self.conversation.message_row(
            ui,
            (
                "Question",
                "Ask about the image (Enter sends, Shift+Enter for a new line)",
            ),
            busy,
            (self.shown.is_some(), "Open an image and type a question"),
        );
        match row {
            RowAction::Send => self.send(),
            RowAction::Stop => ViewRequest::Stop,
            RowAction::None => ViewRequest::None,
        }
    }

    /// The request for the conversation so far (the question already in it).
    fn send(&self) -> ViewRequest {
        let Some(shown) = &self.shown else {
            return ViewRequest::None;
        };
        ViewRequest::Run(Request::new(VisionChatRequest {
            image: shown.image.clone(),
            messages: self.conversation.messages.clone(),
            params: self.params.clone(),
        }))
    }

    fn start_decoding(&mut self, ctx: &egui::Context, picked: Picked) {
        self.decoding = Some(Background::spawn_thread(ctx, move || decode(picked)));
        self.conversation.set_error(None);
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
                self.conversation.clear();
            }
            Err(message) => self.conversation.set_error(Some(message)),
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
