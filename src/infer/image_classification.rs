//! Image classification (ViT, ConvNeXt, ResNet with transformers' `*ForImageClassification`
//! heads): preprocessor_config.json's processor → the model → softmax → labels from `id2label`,
//! most likely first. ViT is candle-transformers' (its names and exact GELU match
//! transformers'); ConvNeXt and ResNet are Hubble's ([`super::convnext`], [`super::resnet`]).

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_nn::ops::softmax_last_dim;
use candle_transformers::models::vit;
use image::RgbImage;
use serde::Serialize;
use serde_json::Value;

use super::causal::safetensors_files;
use super::pipeline::{Event, Output, Pipeline, RunContext};
use super::registry::{Plan, VisionArch};
use super::text_classification::{LabelScore, ranked};
use super::{InferError, convnext, device, resnet};
use crate::media::ImageProcessor;
use crate::media::preprocess::PixelValues;

/// How many labels the Try tab and `hubble run` show by default.
pub const DEFAULT_TOP_K: usize = 5;

/// One image to classify (decoded already, so the front end decodes it off its own thread and
/// shows the same pixels).
#[derive(Debug, Clone)]
pub struct ImageRequest {
    /// The image, 8-bit RGB.
    pub image: Arc<RgbImage>,
    /// How many labels to return (`None`: [`DEFAULT_TOP_K`]; zero-shot returns every label).
    pub top_k: Option<usize>,
    /// Candidate labels (zero-shot only).
    pub labels: Vec<String>,
}

/// One image's labels, most likely first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageLabels {
    /// The input's width in pixels.
    pub width: u32,
    /// The input's height in pixels.
    pub height: u32,
    /// Labels with scores (softmax; sigmoid for SigLIP), sorted by score.
    pub labels: Vec<LabelScore>,
}

/// Builds `(1, 3, H, W)` from preprocessed pixels.
pub(crate) fn pixel_tensor(pixels: PixelValues, device: &Device) -> Result<Tensor, InferError> {
    Ok(Tensor::from_vec(
        pixels.data,
        (1, 3, pixels.height, pixels.width),
        device,
    )?)
}

/// Mmaps the folder's safetensors as f32.
pub(crate) fn weights(dir: &Path, device: &Device) -> Result<VarBuilder<'static>, InferError> {
    let files = safetensors_files(dir)?;
    // SAFETY: the files are not modified while mapped (the cache never rewrites a blob).
    Ok(unsafe { VarBuilder::from_mmaped_safetensors(&files, DType::F32, device)? })
}

enum Model {
    Vit(vit::Model),
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
        arch: VisionArch,
        device: &Device,
    ) -> Result<ImageClassifier, InferError> {
        let config_path = dir.join("config.json");
        let config = super::read_json(&config_path)?;
        let labels = id2label(&config);
        let processor = ImageProcessor::from_dir(dir)?;
        let vb = weights(dir, device)?;
        let parse = |e: serde_json::Error| InferError::file(&config_path, e);
        let model = match arch {
            VisionArch::Vit => {
                let c: vit::Config = serde_json::from_value(config.clone()).map_err(parse)?;
                Model::Vit(vit::Model::new(&c, labels.len(), vb)?)
            }
            VisionArch::ConvNext => {
                let c = serde_json::from_value(config.clone()).map_err(parse)?;
                Model::ConvNext(convnext::ConvNext::load(vb, &c, labels.len())?)
            }
            VisionArch::ResNet => {
                let c = serde_json::from_value(config.clone()).map_err(parse)?;
                Model::ResNet(resnet::ResNet::load(vb, &c, labels.len())?)
            }
            other => {
                return Err(InferError::NotSupported {
                    architecture: format!("{other:?}"),
                    task: "image-classification".into(),
                });
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

/// config.json's `id2label` in id order; without one, `num_labels` (transformers' default 2)
/// labels named `LABEL_i`, as transformers names them.
pub(crate) fn id2label(config: &Value) -> Vec<String> {
    let map = config.get("id2label").and_then(Value::as_object);
    let count = map
        .and_then(|m| m.keys().filter_map(|k| k.parse::<usize>().ok()).max())
        .map(|max| max + 1)
        .or_else(|| {
            config
                .get("num_labels")
                .and_then(Value::as_u64)
                .map(|n| n as usize)
        })
        .unwrap_or(2);
    labels_for(config, count)
}

/// The first `count` labels of config.json's `id2label` (`LABEL_i` where one is missing).
pub(crate) fn labels_for(config: &Value, count: usize) -> Vec<String> {
    let map = config.get("id2label").and_then(Value::as_object);
    (0..count)
        .map(|i| {
            map.and_then(|m| m.get(&i.to_string()))
                .and_then(Value::as_str)
                .map_or_else(|| format!("LABEL_{i}"), str::to_string)
        })
        .collect()
}

impl Pipeline for ImageClassifier {
    type Input = ImageRequest;
    type Output = Output;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<ImageClassifier, InferError> {
        let arch = plan.vision_arch()?;
        ctx.emit(Event::Status(format!("loading {arch:?} weights")));
        ImageClassifier::load_dir(dir, arch, device)
    }

    fn run(&mut self, input: ImageRequest, ctx: &RunContext) -> Result<Output, InferError> {
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        let scores = self.probabilities(&input.image)?;
        let top_k = input.top_k.unwrap_or(DEFAULT_TOP_K).max(1);
        Ok(Output::ImageClassification(ImageLabels {
            width: input.image.width(),
            height: input.image.height(),
            labels: ranked(&self.labels, &scores, top_k),
        }))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_rank_and_id2label_fills_gaps() {
        let labels = ["a".to_string(), "b".into(), "c".into()];
        let out = ranked(&labels, &[0.2, 0.7, 0.1], 2);
        assert_eq!(
            out.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        let config = serde_json::json!({"id2label": {"0": "x", "2": "z"}});
        assert_eq!(id2label(&config), ["x", "LABEL_1", "z"]);
        assert_eq!(id2label(&serde_json::json!({})), ["LABEL_0", "LABEL_1"]);
        assert_eq!(id2label(&serde_json::json!({"num_labels": 3})).len(), 3);
    }
}
