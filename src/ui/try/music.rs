//! The Try tab's text-to-audio view (MusicGen): the description, the duration, the guidance,
//! the temperature and the seed; **Compose** (Ctrl+Enter) makes the music with a progress bar
//! (Stop answers within a step), then the sound panel: waveform, Play/Stop, Save WAV….

use eframe::egui;

use crate::infer::tasks::text_to_audio::{MAX_SECONDS, MusicOutput, MusicRequest, TEXT_TO_AUDIO};
use crate::infer::{Output, Request, Task};
use crate::ui::r#try::sound::SoundPanel;
use crate::ui::r#try::{RunClick, TaskView, ViewContext, ViewRequest, run_row};

/// The view's state.
pub struct MusicView {
    text: String,
    request: MusicRequest,
    progress: Option<(usize, usize)>,
    result: Option<SoundPanel>,
    error: Option<String>,
}

impl Default for MusicView {
    fn default() -> MusicView {
        MusicView {
            text: "Lo-fi hip hop with a warm piano and soft drums".into(),
            request: MusicRequest::default(),
            progress: None,
            result: None,
            error: None,
        }
    }
}

impl MusicView {
    fn settings(&mut self, ui: &mut egui::Ui) {
        let label = ui.label("Describe the music:");
        ui.add(
            egui::TextEdit::multiline(&mut self.text)
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        let settings = &mut self.request;
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Seconds");
            ui.add(egui::Slider::new(&mut settings.seconds, 1.0..=MAX_SECONDS).step_by(0.5))
                .labelled_by(label.id);
            let label = ui.label("Guidance");
            ui.add(egui::Slider::new(&mut settings.guidance_scale, 1.0..=10.0).step_by(0.5))
                .labelled_by(label.id)
                .on_hover_text("How closely to follow the description (MusicGen: 3)");
            let label = ui.label("Temperature");
            ui.add(egui::Slider::new(&mut settings.temperature, 0.0..=2.0).step_by(0.05))
                .labelled_by(label.id)
                .on_hover_text("0 always picks the likeliest code");
            let label = ui.label("Seed");
            ui.add(egui::DragValue::new(&mut settings.seed))
                .labelled_by(label.id);
        });
    }
}

impl TaskView for MusicView {
    fn shows(&self, task: Task) -> bool {
        task == TEXT_TO_AUDIO
    }

    fn show(&mut self, ui: &mut egui::Ui, _context: &ViewContext, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        self.settings(ui);
        match run_row(ui, "Compose", !self.text.trim().is_empty(), busy) {
            RunClick::Run => {
                self.error = None;
                self.progress = None;
                if let Some(result) = &mut self.result {
                    result.stop();
                }
                request = ViewRequest::Run(Request::new(MusicRequest {
                    text: self.text.trim().to_string(),
                    ..self.request.clone()
                }));
            }
            RunClick::Stop => request = ViewRequest::Stop,
            RunClick::None => {}
        }
        if let (true, Some((done, total))) = (busy, self.progress) {
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .text(format!("step {done} of {total}")),
            );
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if !busy && let Some(error) = self.result.as_mut().and_then(|result| result.show(ui)) {
            self.error = Some(error);
        }
        request
    }

    fn on_progress(
        &mut self,
        done: usize,
        total: usize,
        _preview: Option<std::sync::Arc<image::RgbImage>>,
    ) {
        self.progress = Some((done, total));
    }

    fn on_finished(&mut self, output: Output) {
        self.progress = None;
        if let Ok(result) = output.take::<MusicOutput>() {
            self.result = Some(SoundPanel::new(
                result.samples,
                result.sampling_rate,
                "music",
                result.seconds,
                &result.text,
            ));
        }
    }

    fn on_failed(&mut self, message: &str) {
        self.progress = None;
        self.error = Some(message.to_string());
    }
}
