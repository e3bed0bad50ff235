//! A made sound in the Try tab (speech, music): its summary line, the waveform, **Play**/**Stop**
//! through the default speaker and **Save WAV…** (a native dialog), shared by the generating
//! audio views.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, Color32, RichText, Stroke};

use crate::media::playback::{Playback, PlaybackState};
use crate::ui::runtime::background::Background;
use crate::ui::r#try::file_input::{poll_save, save_dialog};

/// Columns of the drawn waveform.
const WAVE_COLUMNS: usize = 720;

/// A sound with its playback and saving.
pub struct SoundPanel {
    samples: Arc<Vec<f32>>,
    rate: u32,
    summary: String,
    file_name: String,
    /// `[min, max]` per column, worked out once.
    peaks: Vec<[f32; 2]>,
    playback: Option<Playback>,
    saving: Option<Background<Result<Option<PathBuf>, String>>>,
    note: Option<String>,
}

impl SoundPanel {
    /// A panel for `samples` at `rate`, `what` they are ("speech", "music") made in
    /// `made_in` seconds, saved as a name made from `text`'s first words.
    pub fn new(
        samples: Arc<Vec<f32>>,
        rate: u32,
        what: &str,
        made_in: f64,
        text: &str,
    ) -> SoundPanel {
        let audio_seconds = samples.len() as f64 / f64::from(rate.max(1));
        SoundPanel {
            summary: format!(
                "{audio_seconds:.2} s of {what} at {rate} Hz, made in {made_in:.2} s \
                 (real-time factor {:.3})",
                made_in / audio_seconds.max(1e-9)
            ),
            peaks: peaks(&samples),
            samples,
            rate,
            file_name: wav_name(text),
            playback: None,
            saving: None,
            note: None,
        }
    }

    /// Stops playing.
    pub fn stop(&mut self) {
        self.playback = None;
    }

    /// Draws the panel; returns a message when playing or saving failed.
    pub fn show(&mut self, ui: &mut egui::Ui) -> Option<String> {
        let mut error = None;
        match poll_save(&mut self.saving) {
            Some(Ok(saved)) => self.note = Some(saved),
            Some(Err(e)) => error = Some(format!("Could not save the WAV: {e}")),
            None => {}
        }
        ui.label(RichText::new(&self.summary).weak());
        waveform(ui, &self.peaks);
        if let Some(PlaybackState::Failed(message)) = self.playback.as_ref().map(Playback::state) {
            error = Some(format!("Playback failed: {message}"));
            self.playback = None;
        }
        let playing = self.playback.as_ref().is_some_and(|p| {
            matches!(
                p.state(),
                PlaybackState::Starting | PlaybackState::Playing { .. }
            )
        });
        ui.horizontal(|ui| {
            if playing {
                if ui.button("Stop").clicked() {
                    self.playback = None;
                }
            } else if ui.button("Play").clicked() {
                let ctx = ui.ctx().clone();
                self.playback = Some(Playback::start(
                    self.samples.to_vec(),
                    self.rate,
                    None,
                    move || ctx.request_repaint(),
                ));
            }
            let save = ui
                .add_enabled(self.saving.is_none(), egui::Button::new("Save WAV…"))
                .on_hover_text("Save as 16-bit WAV");
            if save.clicked() {
                self.note = None;
                let (samples, rate) = (self.samples.clone(), self.rate);
                self.saving = Some(save_dialog(
                    ui.ctx(),
                    "Save the sound",
                    &self.file_name,
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
        error
    }
}

/// A file name from the text's first words.
fn wav_name(text: &str) -> String {
    let name: String = text
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .take(32)
        .collect::<String>()
        .trim()
        .replace(' ', "-");
    format!("{}.wav", if name.is_empty() { "sound" } else { &name })
}

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
    response.on_hover_text("The waveform");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_the_first_words() {
        assert_eq!(
            wav_name("Hello, world! How are you?"),
            "Hello-world-How-are-you.wav"
        );
        assert_eq!(wav_name("!!!"), "sound.wav");
    }

    #[test]
    fn peaks_cover_every_sample_in_at_most_720_columns() {
        let samples: Vec<f32> = (0..10_080).map(|i| ((i % 7) as f32 - 3.0) / 3.0).collect();
        let peaks = peaks(&samples);
        assert!(peaks.len() <= WAVE_COLUMNS);
        assert!(peaks.iter().all(|[lo, hi]| *lo == -1.0 && *hi == 1.0));
    }
}
