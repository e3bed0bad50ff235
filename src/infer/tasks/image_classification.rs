//! Image classification (ViT, ConvNeXt, ResNet with transformers' `*ForImageClassification`
//! heads): preprocessor_config.json's processor → the model → softmax → labels from `id2label`,
//! most likely first. The models are Hubble's ([`crate::infer::models::vit`],
//! [`crate::infer::models::convnext`], [`crate::infer::models::resnet`]).

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::ops::softmax_last_dim;
use image::RgbImage;

use crate::infer::facts::ModelFacts;
use crate::infer::models::{convnext, id2label, pixel_tensor, resnet, vit, weights};
use crate::infer::pipeline::{Event, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, guess_by_head, not_supported};
use crate::infer::tasks::common::images::check_vision_files;
pub use crate::infer::tasks::common::images::{DEFAULT_TOP_K, ImageLabels, ImageRequest};
use crate::infer::{InferError, device};
use crate::media::ImageProcessor;
use crate::results::ranked;

enum Model {
    Vit(vit::VitClassifier),
    ConvNext(convnext::ConvNext),
    ResNet(resnet::ResNet),
}

/// A loaded image classifier.
pub struct ImageClassifier {
    model: Model,
    processor: ImageProcessor,
    labels: Vec<String>,
    device: Device,
    description: String,
}

impl ImageClassifier {
    /// Loads `dir` (config.json, safetensors, preprocessor_config.json) as `arch`.
    pub fn load_dir(
        dir: &Path,
        arch: ClassifierArch,
        device: &Device,
    ) -> Result<ImageClassifier, InferError> {
        let config_path = dir.join("config.json");
        let config = crate::infer::read_json(&config_path)?;
        let labels = id2label(&config);
        let processor = ImageProcessor::from_dir(dir)?;
        let vb = weights(dir, device)?;
        let parse = |e: serde_json::Error| InferError::file(&config_path, e);
        let model = match arch {
            ClassifierArch::Vit => {
                let c = serde_json::from_value(config.clone()).map_err(parse)?;
                Model::Vit(vit::VitClassifier::load(vb, &c, labels.len())?)
            }
            ClassifierArch::ConvNext => {
                let c = serde_json::from_value(config.clone()).map_err(parse)?;
                Model::ConvNext(convnext::ConvNext::load(vb, &c, labels.len())?)
            }
            ClassifierArch::ResNet => {
                let c = serde_json::from_value(config.clone()).map_err(parse)?;
                Model::ResNet(resnet::ResNet::load(vb, &c, labels.len())?)
            }
        };
        Ok(ImageClassifier {
            model,
            processor,
            description: format!(
                "{arch:?} image classifier, {} labels, safetensors on {}",
                labels.len(),
                device::describe(device)
            ),
            labels,
            device: device.clone(),
        })
    }

    /// Softmax probabilities of every label, in id order.
    pub fn probabilities(&self, image: &RgbImage) -> Result<Vec<f32>, InferError> {
        let logits = self.logits(image)?;
        Ok(softmax_last_dim(&logits)?.to_vec1()?)
    }

    /// The raw logits `(labels,)` for one image.
    pub fn logits(&self, image: &RgbImage) -> Result<Tensor, InferError> {
        let pixels = pixel_tensor(self.processor.preprocess(image)?, &self.device)?;
        let logits = match &self.model {
            Model::Vit(m) => m.forward(&pixels)?,
            Model::ConvNext(m) => m.forward(&pixels)?,
            Model::ResNet(m) => m.forward(&pixels)?,
        };
        Ok(logits.squeeze(0)?)
    }
}

impl Pipeline for ImageClassifier {
    type Input = ImageRequest;
    type Output = ImageLabels;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<ImageClassifier, InferError> {
        let arch = *plan.loader::<ClassifierArch>()?;
        ctx.emit(Event::Status(format!("loading {arch:?} weights")));
        ImageClassifier::load_dir(dir, arch, device)
    }

    fn run(&mut self, input: ImageRequest, ctx: &RunContext) -> Result<ImageLabels, InferError> {
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        let scores = self.probabilities(&input.image)?;
        let top_k = input.top_k.unwrap_or(DEFAULT_TOP_K).max(1);
        Ok(ImageLabels {
            width: input.image.width(),
            height: input.image.height(),
            labels: ranked(&self.labels, &scores, top_k),
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// `image-classification`: labels from `id2label` for an image.
pub const IMAGE_CLASSIFICATION: Task = Task::new("image-classification");

/// The image classifiers Hubble runs (the plan's loader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassifierArch {
    /// `ViTForImageClassification`.
    Vit,
    /// `ConvNextForImageClassification` (v1).
    ConvNext,
    /// `ResNetForImageClassification`.
    ResNet,
}

/// The image-classification task file, as the registry lists it.
pub struct ImageClassificationTask;

/// This task in the registry's list.
pub static MODULE: ImageClassificationTask = ImageClassificationTask;

impl TaskModule for ImageClassificationTask {
    fn tasks(&self) -> &'static [Task] {
        &[IMAGE_CLASSIFICATION]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        guess_by_head(facts, "ForImageClassification", IMAGE_CLASSIFICATION)
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let arch = match facts.model_type.as_deref() {
            Some("vit") => ClassifierArch::Vit,
            Some("convnext") => ClassifierArch::ConvNext,
            Some("resnet") => ClassifierArch::ResNet,
            _ => return Err(not_supported(facts.architecture_name(), task)),
        };
        if guess_by_head(facts, "ForImageClassification", task).is_none() {
            return Err(not_supported(
                format!(
                    "{} without an image-classification head",
                    facts.architecture_name()
                ),
                task,
            ));
        }
        check_vision_files(facts, task, false)?;
        Ok(Plan::new(task, arch))
    }

    fn loader(&self) -> LoadFn {
        erase::<ImageClassifier>
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        Ok(Request::new(ImageRequest {
            image: input.image(task)?,
            top_k: input.value::<usize>("top_k"),
            labels: Vec::new(),
        }))
    }
}
