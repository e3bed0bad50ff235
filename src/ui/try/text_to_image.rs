//! The Try tab's text-to-image view: prompt and negative prompt, steps, guidance, seed (🎲 for
//! a fresh one), width, height and scheduler; **Generate** (Ctrl+Enter) shows each step's preview as it
//! comes with a progress bar and Stop, then the picture with its settings and **Save PNG…**
//! (a native dialog; the PNG carries the prompt and settings in its text chunks).

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, ColorImage, RichText};
use image::RgbImage;

use crate::infer::models::diffusion_scheduler::SchedulerKind;
use crate::infer::tasks::text_to_image::{
    DEFAULT_GUIDANCE, DEFAULT_STEPS, TEXT_TO_IMAGE, TextToImageOutput, TextToImageRequest,
};
use crate::infer::{Output, Request, Task};
use crate::ui::runtime::background::Background;
use crate::ui::r#try::file_input::{poll_save, save_dialog};
use crate::ui::r#try::{RunClick, TaskView, ViewContext, ViewRequest, run_row};

/// Sides the pickers offer besides the model's own (multiples of 64, as SD needs).
const SIDES: [usize; 6] = [256, 512, 640, 768, 896, 1024];

/// The side the picture is drawn at, at most.
const SHOWN_SIDE: f32 = 512.0;

/// The view's state.
pub struct TextToImageView {
    prompt: String,
    negative_prompt: String,
    steps: usize,
    guidance: f64,
    seed: u64,
    /// `None`: the model's own width.
    width: Option<usize>,
    /// `None`: the model's own height.
    height: Option<usize>,
    /// `None`: the model's own scheduler.
    scheduler: Option<SchedulerKind>,
    progress: Option<(usize, usize)>,
    texture: Option<egui::TextureHandle>,
    /// A preview or picture not yet made a texture (events arrive outside `show`).
    pending: Option<Arc<RgbImage>>,
    result: Option<TextToImageOutput>,
    saving: Option<Background<Result<Option<PathBuf>, String>>>,
    saved: Option<String>,
    error: Option<String>,
}

impl Default for TextToImageView {
    fn default() -> TextToImageView {
        TextToImageView {
            prompt: "a photo of an astronaut riding a horse on the moon".into(),
            negative_prompt: String::new(),
            steps: DEFAULT_STEPS,
            guidance: DEFAULT_GUIDANCE,
            seed: 42,
            width: None,
            height: None,
            scheduler: None,
            progress: None,
            texture: None,
            pending: None,
            result: None,
            saving: None,
            saved: None,
            error: None,
        }
    }
}

impl TextToImageView {
    fn settings(&mut self, ui: &mut egui::Ui) {
        let label = ui.label("Prompt:");
        ui.add(
            egui::TextEdit::multiline(&mut self.prompt)
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.horizontal(|ui| {
            let label = ui.label("Negative prompt");
            ui.add(egui::TextEdit::singleline(&mut self.negative_prompt).desired_width(360.0))
                .labelled_by(label.id)
                .on_hover_text("What to steer away from (used when guidance is above 1).");
        });
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Steps");
            ui.add(egui::DragValue::new(&mut self.steps).range(1..=150))
                .labelled_by(label.id)
                .on_hover_text("Denoising steps: 20–30 for SD 1.5/2.1, 1–4 for Turbo and LCM.");
            let label = ui.label("Guidance");
            ui.add(
                egui::DragValue::new(&mut self.guidance)
                    .range(0.0..=20.0)
                    .speed(0.1),
            )
            .labelled_by(label.id)
            .on_hover_text("How strongly the prompt steers (7.5 usual; 0 for Turbo models).");
            let label = ui.label("Seed");
            ui.add(egui::DragValue::new(&mut self.seed))
                .labelled_by(label.id);
            if ui
                .small_button("🎲")
                .on_hover_text("A new random seed")
                .clicked()
            {
                self.seed = fresh_seed();
            }
            side_picker(ui, "Width", &mut self.width);
            side_picker(ui, "Height", &mut self.height);
            let label = ui.label("Scheduler");
            egui::ComboBox::from_id_salt("t2i-scheduler")
                .selected_text(scheduler_name(self.scheduler))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.scheduler, None, scheduler_name(None));
                    for kind in SchedulerKind::ALL {
                        ui.selectable_value(&mut self.scheduler, Some(kind), kind.name());
                    }
                })
                .response
                .labelled_by(label.id);
        });
    }

    fn request(&self) -> TextToImageRequest {
        TextToImageRequest {
            negative_prompt: self.negative_prompt.trim().to_string(),
            steps: self.steps,
            guidance: self.guidance,
            seed: self.seed,
            width: self.width,
            height: self.height,
            scheduler: self.scheduler,
            ..TextToImageRequest::new(self.prompt.trim())
        }
    }

    fn picture(&mut self, ui: &mut egui::Ui, busy: bool) {
        if let Some(image) = self.pending.take() {
            let color = ColorImage::from_rgb(
                [image.width() as usize, image.height() as usize],
                image.as_raw(),
            );
            self.texture = Some(ui.ctx().load_texture(
                "text-to-image",
                color,
                egui::TextureOptions::LINEAR,
            ));
        }
        if let Some((done, total)) = self.progress.filter(|_| busy) {
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .text(if done < total {
                        format!("Step {done} of {total}")
                    } else {
                        "Decoding the picture…".to_string()
                    })
                    .desired_width(SHOWN_SIDE),
            );
        }
        if let Some(texture) = &self.texture {
            let [w, h] = texture.size().map(|s| s as f32);
            let scale = SHOWN_SIDE / w.max(h);
            ui.add(
                egui::Image::new(texture)
                    .fit_to_exact_size(egui::vec2(w * scale, h * scale))
                    .alt_text(if busy { "Preview" } else { "Generated image" }),
            );
        }
    }

    fn result_line(&mut self, ui: &mut egui::Ui) {
        match poll_save(&mut self.saving) {
            Some(Ok(saved)) => self.saved = Some(saved),
            Some(Err(e)) => self.error = Some(format!("Could not save the PNG: {e}")),
            None => {}
        }
        let Some(result) = &self.result else {
            return;
        };
        ui.label(
            RichText::new(format!(
                "{} × {} px · {} {} steps · guidance {} · seed {} · {:.1} s ({:.2} s/step)",
                result.width,
                result.height,
                result.steps,
                result.scheduler,
                result.guidance,
                result.seed,
                result.seconds,
                result.seconds_per_step
            ))
            .weak(),
        );
        ui.horizontal(|ui| {
            let save = ui
                .add_enabled(self.saving.is_none(), egui::Button::new("Save PNG…"))
                .on_hover_text("Save the picture with its prompt and settings in the file");
            if save.clicked() {
                let (image, text) = (result.image.clone(), result.png_text());
                self.saved = None;
                self.saving = Some(save_dialog(
                    ui.ctx(),
                    "Save the picture",
                    "hubble.png",
                    "png",
                    move |path| crate::media::png_text::save(path, &image, &text),
                ));
            }
            if let Some(saved) = &self.saved {
                ui.label(saved);
            }
        });
    }
}

/// A seed from the clock (any number will do; the seed shown is what makes it repeatable).
fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos() % 1_000_000))
}

fn side_name(side: Option<usize>) -> String {
    side.map_or("Model's own".into(), |s| format!("{s} px"))
}

/// A labelled picker of one side of the picture.
fn side_picker(ui: &mut egui::Ui, name: &str, side: &mut Option<usize>) {
    let label = ui.label(name);
    egui::ComboBox::from_id_salt(("t2i-side", name))
        .selected_text(side_name(*side))
        .show_ui(ui, |ui| {
            ui.selectable_value(side, None, side_name(None));
            for value in SIDES {
                ui.selectable_value(side, Some(value), side_name(Some(value)));
            }
        })
        .response
        .labelled_by(label.id);
}

fn scheduler_name(kind: Option<SchedulerKind>) -> &'static str {
    kind.map_or("Model's own", SchedulerKind::name)
}

impl TaskView for TextToImageView {
    fn shows(&self, task: Task) -> bool {
        task == TEXT_TO_IMAGE
    }

    fn show(&mut self, ui: &mut egui::Ui, _context: &ViewContext, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        self.settings(ui);
        match run_row(ui, "Generate", !self.prompt.trim().is_empty(), busy) {
            RunClick::Run => {
                self.error = None;
                self.saved = None;
                self.progress = Some((0, self.steps));
                request = ViewRequest::Run(Request::new(self.request()));
            }
            RunClick::Stop => request = ViewRequest::Stop,
            RunClick::None => {}
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        self.picture(ui, busy);
        if !busy {
            self.result_line(ui);
        }
        request
    }

    fn on_progress(&mut self, done: usize, total: usize, preview: Option<Arc<RgbImage>>) {
        self.progress = Some((done, total));
        if preview.is_some() {
            self.pending = preview;
        }
    }

    fn on_finished(&mut self, output: Output) {
        self.progress = None;
        if let Ok(result) = output.take::<TextToImageOutput>() {
            self.pending = Some(result.image.clone());
            self.result = Some(result);
        }
    }

    fn on_failed(&mut self, message: &str) {
        self.progress = None;
        self.error = Some(message.to_string());
    }
}
