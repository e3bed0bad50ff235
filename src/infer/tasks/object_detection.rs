//! Object detection: DETR (`DetrForObjectDetection`, with its ResNet backbone in timm's layout
//! as facebook/detr-resnet-50 ships it or in transformers' own) and YOLOS
//! (`YolosForObjectDetection`), as transformers' `object-detection` pipeline: the checkpoint's
//! image processor → the model → softmax per query, the no-object class dropped, queries above
//! the threshold kept (in query order), boxes in the original image's pixels.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use image::RgbImage;
use serde::Serialize;

use crate::infer::facts::ModelFacts;
use crate::infer::models::detection_boxes::{Detection, detections};
use crate::infer::models::detr::Detr;
use crate::infer::models::yolos::Yolos;
use crate::infer::models::{id2label, pixel_tensor, weights};
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, guess_by_head, not_supported};
use crate::infer::tasks::common::images::check_vision_files;
use crate::infer::{InferError, device, read_json};
use crate::media::detection_preprocess::DetectionProcessor;

/// `object-detection`.
pub const OBJECT_DETECTION: Task = Task::new("object-detection");

/// transformers' default threshold.
pub const DEFAULT_THRESHOLD: f32 = 0.9;

/// One image to find objects in.
#[derive(Debug, Clone)]
pub struct DetectionRequest {
    /// The image, 8-bit RGB.
    pub image: Arc<RgbImage>,
    /// Keep objects scoring above this.
    pub threshold: f32,
}

/// The objects found (`{"detections": [...]}` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detections {
    /// The input's width in pixels.
    pub width: u32,
    /// The input's height in pixels.
    pub height: u32,
    /// The threshold used.
    pub threshold: f32,
    /// Every query above the threshold, in the model's query order.
    pub detections: Vec<Detection>,
}

/// The detectors Hubble runs (the plan's loader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorArch {
    /// `DetrForObjectDetection`.
    Detr,
    /// `YolosForObjectDetection`.
    Yolos,
}

enum Model {
    Detr(Box<Detr>),
    Yolos(Box<Yolos>),
}

/// A loaded detector with its image processor.
pub struct ObjectDetector {
    model: Model,
    processor: DetectionProcessor,
    labels: Vec<String>,
    device: Device,
    description: String,
}

impl ObjectDetector {
    /// Loads `dir` (config.json, safetensors, preprocessor_config.json) as `arch`.
    pub fn load_dir(
        dir: &Path,
        arch: DetectorArch,
        device: &Device,
    ) -> Result<ObjectDetector, InferError> {
        let config = read_json(&dir.join("config.json"))?;
        let labels = id2label(&config);
        let processor = DetectionProcessor::from_dir(dir)?;
        let vb = weights(dir, device)?;
        let model = match arch {
            DetectorArch::Detr => Model::Detr(Box::new(Detr::load(vb, &config)?)),
            DetectorArch::Yolos => Model::Yolos(Box::new(Yolos::load(vb, &config)?)),
        };
        Ok(ObjectDetector {
            model,
            processor,
            description: format!(
                "{arch:?} object detector, {} labels, safetensors on {}",
                labels.len(),
                device::describe(device)
            ),
            labels,
            device: device.clone(),
        })
    }

    /// The raw logits `(queries × (labels + 1))` and boxes `(queries × 4)` of one image.
    pub fn raw(&self, image: &RgbImage) -> Result<(Vec<f32>, Vec<f32>), InferError> {
        let pixels = pixel_tensor(self.processor.preprocess(image)?, &self.device)?;
        let (logits, boxes) = match &self.model {
            Model::Detr(m) => m.forward(&pixels)?,
            Model::Yolos(m) => m.forward(&pixels)?,
        };
        Ok((
            logits.flatten_all()?.to_vec1()?,
            boxes.flatten_all()?.to_vec1()?,
        ))
    }

    /// The objects above `threshold`.
    pub fn detect(&self, image: &RgbImage, threshold: f32) -> Result<Detections, InferError> {
        let (logits, boxes) = self.raw(image)?;
        let size = (image.width(), image.height());
        Ok(Detections {
            width: size.0,
            height: size.1,
            threshold,
            detections: detections(&logits, &boxes, &self.labels, threshold, size)?,
        })
    }
}

impl Pipeline for ObjectDetector {
    type Input = DetectionRequest;
    type Output = Detections;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<ObjectDetector, InferError> {
        let arch = *plan.loader::<DetectorArch>()?;
        ctx.emit(Event::Status(format!("loading {arch:?} weights")));
        ObjectDetector::load_dir(dir, arch, device)
    }

    fn run(&mut self, input: DetectionRequest, ctx: &RunContext) -> Result<Detections, InferError> {
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        if !(0.0..=1.0).contains(&input.threshold) {
            return Err(InferError::InvalidInput(format!(
                "the threshold {} is not between 0 and 1",
                input.threshold
            )));
        }
        self.detect(&input.image, input.threshold)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The object-detection task file, as the registry lists it.
pub struct ObjectDetectionTask;

/// This task in the registry's list.
pub static MODULE: ObjectDetectionTask = ObjectDetectionTask;

impl TaskModule for ObjectDetectionTask {
    fn tasks(&self) -> &'static [Task] {
        &[OBJECT_DETECTION]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        guess_by_head(facts, "ForObjectDetection", OBJECT_DETECTION)
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let arch = match facts.model_type.as_deref() {
            Some("detr") => DetectorArch::Detr,
            Some("yolos") => DetectorArch::Yolos,
            _ => return Err(not_supported(facts.architecture_name(), task)),
        };
        if !facts.architectures.is_empty() && self.guess(facts).is_none() {
            return Err(not_supported(
                format!("{} without a detection head", facts.architecture_name()),
                task,
            ));
        }
        check_vision_files(facts, task, false)?;
        Ok(Plan::new(task, arch))
    }

    fn loader(&self) -> LoadFn {
        erase::<ObjectDetector>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![
            clap::Arg::new("threshold")
                .long("threshold")
                .value_name("SCORE")
                .value_parser(clap::value_parser!(f32))
                .help("Object detection: keep objects scoring above this (default 0.9)"),
        ]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        Ok(Request::new(DetectionRequest {
            image: input.image(task)?,
            threshold: input.value::<f32>("threshold").unwrap_or(DEFAULT_THRESHOLD),
        }))
    }
}

impl HumanOutput for Detections {
    /// One line per object: score, label, box corners.
    fn write_human(&self, out: &mut dyn Write, _log: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{} × {} image, {} objects above {}",
            self.width,
            self.height,
            self.detections.len(),
            self.threshold
        )?;
        for d in &self.detections {
            let b = &d.bbox;
            writeln!(
                out,
                "  {:>6.2}%  {:<16} [{:.0}, {:.0}, {:.0}, {:.0}]",
                d.score * 100.0,
                d.label,
                b.xmin,
                b.ymin,
                b.xmax,
                b.ymax
            )?;
        }
        Ok(())
    }
}
