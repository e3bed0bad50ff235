//! The Try tab's text-to-speech view: the text, then for VITS the speaking rate and both noise
//! scales (VITS's defaults), for SpeechT5 the speaker embedding (a `.npy` x-vector, opened or
//! dropped; none is the neutral voice), and the seed; **Speak** (Ctrl+Enter) makes the speech,
//! drawn as a waveform with its length and speed, **Play**/**Stop** through the default
//! speaker, **Save WAV…** (a native dialog).

use std::path::PathBuf;

use eframe::egui::{self, RichText};

use crate::infer::tasks::text_to_speech::{SpeechOutput, SpeechRequest, TEXT_TO_SPEECH};
use crate::infer::{Output, Request, Task};
use crate::ui::r#try::file_input::{Accept, FileInput, Picked};
use crate::ui::r#try::sound::SoundPanel;
use crate::ui::r#try::{RunClick, TaskView, ViewContext, ViewRequest, run_row};

/// The view's state.
pub struct SpeechView {
    text: String,
    speaking_rate: f64,
    noise_scale: f64,
    noise_scale_duration: f64,
    seed: u64,
    /// SpeechT5's speaker embedding file (`None`: the neutral voice).
    speaker: Option<PathBuf>,
    speaker_input: FileInput,
    result: Option<SoundPanel>,
    error: Option<String>,
}

impl Default for SpeechView {
    fn default() -> SpeechView {
        SpeechView {
            text: "Hello! This voice runs on your own computer.".into(),
            speaking_rate: 1.0,
            noise_scale: 0.667,
            noise_scale_duration: 0.8,
            seed: 0,
            speaker: None,
            speaker_input: FileInput::new(SPEAKER_FILES),
            result: None,
            error: None,
        }
    }
}

/// Speaker embeddings: numpy's `.npy` x-vectors.
const SPEAKER_FILES: Accept = Accept {
    what: "a speaker embedding",
    extensions: &["npy"],
};

/// Whether the loaded model is a SpeechT5 voice (its config's `model_type`).
fn is_speecht5(context: &ViewContext) -> bool {
    context.config.get("model_type").and_then(|t| t.as_str()) == Some("speecht5")
}

impl SpeechView {
    /// SpeechT5's voice: the speaker embedding file, opened or dropped.
    fn speaker_row(&mut self, ui: &mut egui::Ui) {
        let label = ui.label("Speaker embedding");
        let shown = self
            .speaker
            .as_ref()
            .and_then(|p| p.file_name())
            .map_or("none (neutral voice)".to_string(), |n| {
                n.to_string_lossy().into_owned()
            });
        ui.label(RichText::new(shown).strong())
            .labelled_by(label.id)
            .on_hover_text(
                "A 512-value x-vector saved with numpy (.npy), e.g. from the CMU ARCTIC x-vectors",
            );
        let dropped = self.speaker_input.drop_zone(ui, ui.max_rect());
        if let Some(Picked::File(path)) = self.speaker_input.open_button(ui).or(dropped) {
            self.speaker = Some(path);
        }
        if self.speaker.is_some() && ui.button("Neutral voice").clicked() {
            self.speaker = None;
        }
        self.speaker_input.show_refusal(ui);
    }

    fn settings(&mut self, ui: &mut egui::Ui, speecht5: bool) {
        let label = ui.label("Text to speak:");
        ui.add(
            egui::TextEdit::multiline(&mut self.text)
                .desired_rows(3)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        if speecht5 {
            ui.horizontal_wrapped(|ui| self.speaker_row(ui));
        }
        ui.horizontal_wrapped(|ui| {
            if speecht5 {
                let label = ui.label("Seed");
                ui.add(egui::DragValue::new(&mut self.seed))
                    .labelled_by(label.id)
                    .on_hover_text("SpeechT5 keeps some randomness (dropout) while speaking");
                return;
            }
            let label = ui.label("Speaking rate");
            ui.add(egui::Slider::new(&mut self.speaking_rate, 0.5..=2.0).step_by(0.05))
                .labelled_by(label.id)
                .on_hover_text("1 is the voice's own pace; 1.5 is half as fast again.");
            let label = ui.label("Voice noise");
            ui.add(egui::Slider::new(&mut self.noise_scale, 0.0..=1.5).step_by(0.01))
                .labelled_by(label.id)
                .on_hover_text("Variation of the sound (0: the same every time).");
            let label = ui.label("Rhythm noise");
            ui.add(egui::Slider::new(&mut self.noise_scale_duration, 0.0..=1.5).step_by(0.01))
                .labelled_by(label.id)
                .on_hover_text("Variation of the timing (0: the same every time).");
            let label = ui.label("Seed");
            ui.add(egui::DragValue::new(&mut self.seed))
                .labelled_by(label.id);
        });
    }

    fn request(&self, speecht5: bool) -> SpeechRequest {
        let vits = |value: f64| (!speecht5).then_some(value);
        SpeechRequest {
            text: self.text.trim().to_string(),
            speaking_rate: vits(self.speaking_rate),
            noise_scale: vits(self.noise_scale),
            noise_scale_duration: vits(self.noise_scale_duration),
            seed: self.seed,
            speaker: self.speaker.clone().filter(|_| speecht5),
            output: None,
        }
    }
}

impl TaskView for SpeechView {
    fn shows(&self, task: Task) -> bool {
        task == TEXT_TO_SPEECH
    }

    fn show(&mut self, ui: &mut egui::Ui, context: &ViewContext, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        let speecht5 = is_speecht5(context);
        self.settings(ui, speecht5);
        match run_row(ui, "Speak", !self.text.trim().is_empty(), busy) {
            RunClick::Run => {
                self.error = None;
                if let Some(result) = &mut self.result {
                    result.stop();
                }
                request = ViewRequest::Run(Request::new(self.request(speecht5)));
            }
            RunClick::Stop => request = ViewRequest::Stop,
            RunClick::None => {}
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if !busy && let Some(error) = self.result.as_mut().and_then(|result| result.show(ui)) {
            self.error = Some(error);
        }
        request
    }

    fn on_finished(&mut self, output: Output) {
        if let Ok(result) = output.take::<SpeechOutput>() {
            self.result = Some(SoundPanel::new(
                result.samples,
                result.sampling_rate,
                "speech",
                result.seconds,
                &result.text,
            ));
        }
    }

    fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }
}
