//! The Try tab's image view (image classification, zero-shot image classification,
//! image-to-text, object detection): an image dropped on the view, opened with Open… or pasted
//! is decoded on its own thread (size limits in [`crate::media`]), shown, and classified,
//! captioned or searched for objects; labels come back as ranked probability bars, a caption
//! streams in beside the image, detected objects are drawn over it ([`boxes`]) with a
//! threshold slider. Zero-shot models get a text box for the candidate labels, captioners one
//! for the caption's beginning.
//!
//! [`boxes`]: crate::ui::r#try::boxes

use std::sync::Arc;

use eframe::egui::{self, ColorImage, RichText};
use image::RgbImage;

use crate::infer::tasks::common::decoding::GenerationParams;
use crate::infer::tasks::image_classification::{IMAGE_CLASSIFICATION, ImageLabels, ImageRequest};
use crate::infer::tasks::image_to_text::DEFAULT_MAX_TOKENS;
use crate::infer::tasks::image_to_text::{CaptionOutput, CaptionRequest, IMAGE_TO_TEXT};
use crate::infer::tasks::object_detection::{
    DEFAULT_THRESHOLD, DetectionRequest, Detections, OBJECT_DETECTION,
};
use crate::infer::tasks::zero_shot_image::ZERO_SHOT_IMAGE_CLASSIFICATION;
use crate::infer::{Output, Request, Task};
use crate::media;
use crate::results::Detection;
use crate::ui::runtime::background::Background;
use crate::ui::r#try::boxes::{detection_list, image_with_boxes};
use crate::ui::r#try::file_input::{Accept, FileInput, Picked, pasted_rgba};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};
use crate::ui::widgets::label_bars;

/// The longest side of the preview texture (the model gets the full image).
const PREVIEW_SIDE: u32 = 1024;

/// A decoded image: the pixels for the model and a preview for the screen.
pub(crate) struct Decoded {
    /// The file's name (or "pasted image").
    pub(crate) name: String,
    /// The pixels the model gets.
    pub(crate) image: Arc<RgbImage>,
    /// At most [`PREVIEW_SIDE`] pixels on its longest side.
    pub(crate) preview: ColorImage,
}

struct Shown {
    name: String,
    image: Arc<RgbImage>,
    texture: egui::TextureHandle,
}

/// The image view's state.
pub struct ImageView {
    input: FileInput,
    decoding: Option<Background<Result<Decoded, String>>>,
    shown: Option<Shown>,
    labels: String,
    result: Option<ImageLabels>,
    /// Image-to-text: how the caption starts (may be empty).
    prompt: String,
    /// Image-to-text: the caption so far (streamed pieces, then the finished text).
    caption: Option<String>,
    /// Image-to-text: tokens, speed and why the last caption stopped.
    caption_stats: Option<String>,
    /// Object detection: every query the model scored (the slider filters them here).
    detections: Option<Detections>,
    /// Object detection: the threshold slider.
    threshold: f32,
    /// Object detection: the box under the pointer or its row in the list.
    hovered: Option<usize>,
    error: Option<String>,
}

impl Default for ImageView {
    fn default() -> ImageView {
        ImageView {
            input: FileInput::new(Accept::IMAGES),
            decoding: None,
            shown: None,
            labels: "cat, dog, car".into(),
            result: None,
            prompt: String::new(),
            caption: None,
            caption_stats: None,
            detections: None,
            threshold: DEFAULT_THRESHOLD,
            hovered: None,
            error: None,
        }
    }
}

impl ImageView {
    /// The labels are here.
    pub fn on_finished(&mut self, labels: ImageLabels) {
        self.result = Some(labels);
        self.error = None;
    }

    /// A streamed piece of the caption.
    pub fn on_token(&mut self, piece: &str) {
        self.caption.get_or_insert_default().push_str(piece);
    }

    /// The caption is finished (its text replaces the streamed pieces).
    pub fn on_caption(&mut self, caption: &CaptionOutput) {
        self.caption = Some(caption.text.clone());
        self.caption_stats = Some(format!(
            "{} tokens at {:.1} tok/s · {:?}",
            caption.generated_tokens, caption.decode_tokens_per_s, caption.stop_reason
        ));
        self.error = None;
    }

    /// The job failed.
    pub fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    /// Shows the view for `task`; `busy` while a job runs.
    pub fn show(&mut self, ui: &mut egui::Ui, task: Task, busy: bool) -> ViewRequest {
        let zero_shot = task == ZERO_SHOT_IMAGE_CLASSIFICATION;
        let captioning = task == IMAGE_TO_TEXT;
        let detecting = task == OBJECT_DETECTION;
        let area = ui.max_rect();
        let mut picked = self.input.drop_zone(ui, area);
        let mut run = false;
        let mut stop = false;
        ui.horizontal(|ui| {
            if let Some(p) = self.input.open_button(ui) {
                picked = Some(p);
            }
            ui.label(RichText::new("or drop an image anywhere here, or paste one (Ctrl+V)").weak());
        });
        let ready = !busy && self.shown.is_some();
        if zero_shot {
            run |= text_and_button(
                ui,
                "Candidate labels (comma-separated):",
                &mut self.labels,
                "Classify",
                ready,
            );
        }
        if detecting {
            ui.horizontal(|ui| {
                let label = ui.label("Threshold");
                ui.add(egui::Slider::new(&mut self.threshold, 0.0..=1.0).step_by(0.01))
                    .labelled_by(label.id)
                    .on_hover_text("Objects scoring above this are shown");
                run |= ui.add_enabled(ready, egui::Button::new("Detect")).clicked();
            });
        }
        if captioning {
            ui.horizontal(|ui| {
                run |= text_and_button(
                    ui,
                    "Caption starts with (optional):",
                    &mut self.prompt,
                    "Caption",
                    ready,
                );
                stop = ui.add_enabled(busy, egui::Button::new("Stop")).clicked();
            });
        }
        self.input.show_refusal(ui);
        if let Some(picked) = picked {
            self.start_decoding(ui.ctx(), picked);
        }
        run |= self.poll_decoding(ui.ctx());
        if self.decoding.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the image…");
            });
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if self.shown.is_none() {
            ui.add_space(24.0);
            ui.label("No image yet.");
            return ViewRequest::None;
        }
        if detecting {
            self.image_with_detections(ui, busy);
        } else {
            self.image_and_result(ui, captioning, busy);
        }
        let Some(shown) = &self.shown else {
            return ViewRequest::None;
        };
        if stop {
            return ViewRequest::Stop;
        }
        if !run || busy {
            return ViewRequest::None;
        }
        let image = shown.image.clone();
        if detecting {
            // Every query comes back; the slider picks among them without running again.
            self.detections = None;
            return ViewRequest::Run(Request::new(DetectionRequest {
                image,
                threshold: 0.0,
            }));
        }
        if captioning {
            self.caption = None;
            self.caption_stats = None;
            let prompt = self.prompt.trim();
            return ViewRequest::Run(Request::new(CaptionRequest {
                image,
                prompt: (!prompt.is_empty()).then(|| prompt.to_string()),
                params: GenerationParams::greedy(DEFAULT_MAX_TOKENS),
            }));
        }
        self.result = None;
        ViewRequest::Run(Request::new(ImageRequest {
            image,
            top_k: None,
            labels: if zero_shot {
                self.labels
                    .split(',')
                    .map(|l| l.trim().to_string())
                    .collect()
            } else {
                Vec::new()
            },
        }))
    }

    /// The image with its name, and beside it the labels or the caption.
    fn image_and_result(&self, ui: &mut egui::Ui, captioning: bool, busy: bool) {
        let Some(shown) = &self.shown else { return };
        ui.horizontal_top(|ui| {
            let size = shown.texture.size_vec2();
            let scale = (320.0 / size.x.max(size.y)).min(1.0);
            ui.vertical(|ui| {
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
            });
            ui.vertical(|ui| {
                if busy {
                    ui.spinner();
                }
                if captioning {
                    if let Some(caption) = &self.caption {
                        ui.add(egui::Label::new(RichText::new(caption).size(18.0)).wrap());
                    }
                    if let Some(stats) = self.caption_stats.as_ref().filter(|_| !busy) {
                        ui.label(RichText::new(stats).weak().small());
                    }
                } else if let Some(result) = &self.result {
                    label_bars(ui, &result.labels);
                }
            });
        });
    }

    /// Object detection: the image with its boxes, and the list of objects beside it.
    fn image_with_detections(&mut self, ui: &mut egui::Ui, busy: bool) {
        let Some(shown) = &self.shown else { return };
        let dimensions = (shown.image.width(), shown.image.height());
        let found: &[Detection] = self.detections.as_ref().map_or(&[], |d| &d.detections);
        let (threshold, previous) = (self.threshold, self.hovered);
        let mut hovered = None;
        ui.horizontal_top(|ui| {
            let width = (ui.available_width() - 320.0).clamp(240.0, 720.0);
            hovered = image_with_boxes(
                ui,
                &shown.texture,
                dimensions,
                width,
                found,
                threshold,
                previous,
            );
            ui.vertical(|ui| {
                if busy {
                    ui.spinner();
                }
                if !found.is_empty() {
                    hovered = hovered.or(detection_list(ui, found, threshold));
                }
            });
        });
        self.hovered = hovered;
    }

    fn start_decoding(&mut self, ctx: &egui::Context, picked: Picked) {
        self.decoding = Some(Background::spawn_thread(ctx, move || decode(picked)));
        self.error = None;
    }

    /// Takes a finished decode; true when a new image is ready to classify.
    fn poll_decoding(&mut self, ctx: &egui::Context) -> bool {
        let Some(result) = self.decoding.as_ref().and_then(Background::poll) else {
            return false;
        };
        self.decoding = None;
        let result = result.and_then(|decoded| decoded);
        match result {
            Ok(decoded) => {
                let texture =
                    ctx.load_texture("try-image", decoded.preview, egui::TextureOptions::LINEAR);
                self.shown = Some(Shown {
                    name: decoded.name,
                    image: decoded.image,
                    texture,
                });
                self.result = None;
                self.caption = None;
                self.caption_stats = None;
                true
            }
            Err(message) => {
                self.error = Some(message);
                false
            }
        }
    }
}

/// Reads and decodes an input (on a background thread; the vision chat view's too).
pub(crate) fn decode(picked: Picked) -> Result<Decoded, String> {
    let (name, image) = match picked {
        Picked::File(path) => {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let image = media::load_image(&path).map_err(|e| format!("{name}: {e}"))?;
            (name, image)
        }
        Picked::Bytes { name, bytes } => {
            let image = media::decode_image(&bytes).map_err(|e| format!("{name}: {e}"))?;
            (name, image)
        }
        Picked::Pasted(color) => (
            "pasted image".to_string(),
            media::rgba_to_rgb(&pasted_rgba(&color)?),
        ),
    };
    let preview = preview(&image);
    Ok(Decoded {
        name,
        image: Arc::new(image),
        preview,
    })
}

fn preview(image: &RgbImage) -> ColorImage {
    let (w, h) = image.dimensions();
    let scale = (f64::from(PREVIEW_SIDE) / f64::from(w.max(h))).min(1.0);
    let small;
    let shown = if scale < 1.0 {
        let (pw, ph) = (
            ((f64::from(w) * scale) as u32).max(1),
            ((f64::from(h) * scale) as u32).max(1),
        );
        small = media::resample::resize(image, pw, ph, media::resample::Filter::Bilinear);
        &small
    } else {
        image
    };
    ColorImage::from_rgb(
        [shown.width() as usize, shown.height() as usize],
        shown.as_raw(),
    )
}

/// A labelled one-line text box and a button in a row; true when the button is clicked or
/// Enter pressed in the box while `enabled`.
fn text_and_button(
    ui: &mut egui::Ui,
    label: &str,
    text: &mut String,
    button: &str,
    enabled: bool,
) -> bool {
    ui.horizontal(|ui| {
        let label = ui.label(label);
        let edit = ui
            .add(egui::TextEdit::singleline(text).desired_width(320.0))
            .labelled_by(label.id);
        let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let clicked = ui.add_enabled(enabled, egui::Button::new(button)).clicked();
        (entered && enabled) || clicked
    })
    .inner
}

impl TaskView for ImageView {
    fn shows(&self, task: Task) -> bool {
        [
            IMAGE_CLASSIFICATION,
            ZERO_SHOT_IMAGE_CLASSIFICATION,
            IMAGE_TO_TEXT,
            OBJECT_DETECTION,
        ]
        .contains(&task)
    }

    fn show(&mut self, ui: &mut egui::Ui, context: &ViewContext, busy: bool) -> ViewRequest {
        ImageView::show(self, ui, context.task, busy)
    }

    fn on_token(&mut self, piece: &str) {
        ImageView::on_token(self, piece);
    }

    fn on_finished(&mut self, output: Output) {
        match output.take::<ImageLabels>() {
            Ok(labels) => ImageView::on_finished(self, labels),
            Err(output) => match output.take::<Detections>() {
                Ok(detections) => {
                    self.detections = Some(detections);
                    self.error = None;
                }
                Err(output) => {
                    if let Some(caption) = output.get::<CaptionOutput>() {
                        self.on_caption(caption);
                    }
                }
            },
        }
    }

    fn on_failed(&mut self, message: &str) {
        ImageView::on_failed(self, message);
    }
}
