//! The Try tab: [`tab`] finds the model, loads it on an inference thread and routes its events
//! to the view of the task's family (one file each: chat, embeddings, texts, translation, images,
//! vision chat, audio), with the shared file input, audio visuals and stream pacing.

pub(crate) mod audio;
pub(crate) mod audio_visual;
pub(crate) mod boxes;
pub(crate) mod chat;
pub(crate) mod conversation;
pub(crate) mod embed;
pub(crate) mod file_input;
pub(crate) mod image;
pub(crate) mod music;
pub(crate) mod question;
pub(crate) mod seq2seq;
pub(crate) mod sound;
pub(crate) mod speech;
pub(crate) mod stream_pace;
pub(crate) mod tab;
pub(crate) mod text_to_image;
pub(crate) mod texts;
pub(crate) mod vision_chat;
pub(crate) mod zero_shot;

use std::sync::Arc;

use ::image::RgbImage;
use eframe::egui;

use crate::infer::{Output, Request, Task};
use crate::results::Segment;

/// What a task view asks the tab to do.
pub enum ViewRequest {
    /// Nothing.
    None,
    /// Run this request on the loaded model.
    Run(Request),
    /// Stop the running job.
    Stop,
}

/// What a view knows of the loaded model.
pub struct ViewContext<'a> {
    /// The task it was loaded for.
    pub task: Task,
    /// Its config.json (empty when there is none).
    pub config: &'a serde_json::Value,
}

/// One task family's view: its inputs, its results, and what it does with the model's events.
pub trait TaskView {
    /// Whether this view shows `task`.
    fn shows(&self, task: Task) -> bool;
    /// Draws the view; `busy` while a job runs.
    fn show(&mut self, ui: &mut egui::Ui, context: &ViewContext, busy: bool) -> ViewRequest;
    /// A streamed piece of text.
    fn on_token(&mut self, _piece: &str) {}
    /// A streamed piece of a transcript.
    fn on_segment(&mut self, _segment: Segment) {}
    /// Progress through a long job, with a preview picture when the task makes one.
    fn on_progress(&mut self, _done: usize, _total: usize, _preview: Option<Arc<RgbImage>>) {}
    /// A job finished.
    fn on_finished(&mut self, output: Output);
    /// A job failed.
    fn on_failed(&mut self, message: &str);
}

/// What the run row was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunClick {
    /// Nothing.
    None,
    /// Run (the button, or Ctrl+Enter).
    Run,
    /// Stop the running job.
    Stop,
}

/// The run row of the generating views: Stop and a spinner while a job runs; otherwise `label`,
/// enabled when `ready`, also pressed by Ctrl+Enter.
pub fn run_row(ui: &mut egui::Ui, label: &str, ready: bool, busy: bool) -> RunClick {
    ui.horizontal(|ui| {
        if busy {
            let stop = ui.button("Stop").clicked();
            ui.spinner();
            return if stop { RunClick::Stop } else { RunClick::None };
        }
        let clicked = ui
            .add_enabled(ready, egui::Button::new(label))
            .on_hover_text("Ctrl+Enter")
            .clicked();
        let keyed =
            ready && ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter));
        if clicked || keyed {
            RunClick::Run
        } else {
            RunClick::None
        }
    })
    .inner
}

/// Every view, one per task family; the tab shows the first that [`TaskView::shows`] the task.
pub fn views() -> Vec<Box<dyn TaskView>> {
    vec![
        Box::<chat::ChatView>::default(),
        Box::<embed::EmbedView>::default(),
        Box::<texts::TextsView>::default(),
        Box::<question::QuestionView>::default(),
        Box::<zero_shot::ZeroShotView>::default(),
        Box::<seq2seq::Seq2SeqView>::default(),
        Box::<image::ImageView>::default(),
        Box::<vision_chat::VisionChatView>::default(),
        Box::<audio::AudioView>::default(),
        Box::<text_to_image::TextToImageView>::default(),
        Box::<speech::SpeechView>::default(),
        Box::<music::MusicView>::default(),
    ]
}
