//! The Try tab's text-to-speech view: the text, then for VITS the speaking rate and both noise
//! scales (VITS's defaults), for SpeechT5 the speaker embedding (a `.npy` x-vector, opened or
//! dropped; none is the neutral voice), and the seed; **Speak** (Ctrl+Enter) makes the speech,
//! drawn as a waveform with its length and speed, **Play**/**Stop** through the default
//! speaker, **Save WAV…** (a native dialog).

use std::path::PathBuf;

use eframe::egui::{self, Color32, RichText, Stroke};

use crate::infer::tasks::text_to_speech::{SpeechOutput, SpeechRequest, TEXT_TO_SPEECH};
use crate::infer::{Output, Request, Task};
use crate::media::playback::{Playback, PlaybackState};
use crate::ui::runtime::background::Background;
use crate::ui::r#try::file_input::{Accept, FileInput, Picked, poll_save, save_dialog};
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
    result: Option<SpeechOutput>,
    /// The result's waveform, `[min, max]` per column, worked out once.
    peaks: Vec<[f32; 2]>,
    playback: Option<Playback>,
    saving: Option<Background<Result<Option<PathBuf>, String>>>,
    note: Option<String>,
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
            peaks: Vec::new(),
            playback: None,
            saving: None,
            note: None,
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

    fn result(&mut self, ui: &mut egui::Ui) {
        match poll_save(&mut self.saving) {
            Some(Ok(saved)) => self.note = Some(saved),
            Some(Err(e)) => self.error = Some(format!("Could not save the WAV: {e}")),
            None => {}
        }
        let Some(result) = &self.result else {
            return;
        };
        ui.label(
            RichText::new(format!(
                "{:.2} s of speech at {} Hz, made in {:.2} s (real-time factor {:.3})",
                result.audio_seconds, result.sampling_rate, result.seconds, result.real_time_factor
            ))
            .weak(),
        );
        waveform(ui, &self.peaks);
        let playing = self.playback.as_ref().is_some_and(|p| {
            matches!(
                p.state(),
                PlaybackState::Starting | PlaybackState::Playing { .. }
            )
        });
        if let Some(PlaybackState::Failed(message)) = self.playback.as_ref().map(Playback::state) {
            self.error = Some(format!("Playback failed: {message}"));
            self.playback = None;
        }
        let rate = result.sampling_rate;
        ui.horizontal(|ui| {
            if playing {
                if ui.button("Stop").clicked() {
                    self.playback = None;
                }
            } else if ui.button("Play").clicked() {
                let ctx = ui.ctx().clone();
                self.error = None;
                self.playback = Some(Playback::start(
                    result.samples.to_vec(),
                    rate,
                    None,
                    move || ctx.request_repaint(),
                ));
            }
            let save = ui
                .add_enabled(self.saving.is_none(), egui::Button::new("Save WAV…"))
                .on_hover_text("Save the speech as 16-bit WAV");
            if save.clicked() {
                self.note = None;
                let samples = result.samples.clone();
                self.saving = Some(save_dialog(
                    ui.ctx(),
                    "Save the speech",
                    &wav_name(&result.text),
                    "wav",
                    move |path| {
                        crate::media::audio::write_wav(path, &samples, rate)
                            .map_err(|e| e.to_string())
                    },
                ));
            }
            if let Some(note) = &self.note {
                ui.label(note);
            }
        });
    }
}

/// A file name from the spoken text's first words.
fn wav_name(text: &str) -> String {
    let name: String = text
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .take(32)
        .collect::<String>()
        .trim()
        .replace(' ', "-");
    format!("{}.wav", if name.is_empty() { "speech" } else { &name })
}

/// Columns of the drawn waveform.
const WAVE_COLUMNS: usize = 720;

/// `[min, max]` of the samples in each of (at most) [`WAVE_COLUMNS`] equal stretches.
fn peaks(samples: &[f32]) -> Vec<[f32; 2]> {
    let per = samples.len().div_ceil(WAVE_COLUMNS).max(1);
    samples
        .chunks(per)
        .map(|chunk| {
            chunk
                .iter()
                .fold([0f32, 0f32], |[lo, hi], s| [lo.min(*s), hi.max(*s)])
        })
        .collect()
}

/// The waveform: per column, a line from its lowest to its highest sample.
fn waveform(ui: &mut egui::Ui, peaks: &[[f32; 2]]) {
    let width = ui.available_width().min(WAVE_COLUMNS as f32);
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, 80.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    let color = Color32::from_rgb(90, 160, 255);
    let columns = peaks.len().max(1) as f32;
    let y = |v: f32| rect.center().y - v.clamp(-1.0, 1.0) * rect.height() * 0.5;
    for (c, [lo, hi]) in peaks.iter().enumerate() {
        let x = rect.left() + (c as f32 + 0.5) * rect.width() / columns;
        painter.line_segment(
            [egui::pos2(x, y(*hi)), egui::pos2(x, y(*lo))],
            Stroke::new(1.0, color),
        );
    }
    response.on_hover_text("The speech's waveform");
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
                self.note = None;
                self.playback = None;
                request = ViewRequest::Run(Request::new(self.request(speecht5)));
            }
            RunClick::Stop => request = ViewRequest::Stop,
            RunClick::None => {}
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if !busy {
            self.result(ui);
        }
        request
    }

    fn on_finished(&mut self, output: Output) {
        if let Ok(result) = output.take::<SpeechOutput>() {
            self.peaks = peaks(&result.samples);
            self.result = Some(result);
        }
    }

    fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }
}
