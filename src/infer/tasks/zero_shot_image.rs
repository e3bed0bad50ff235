//! Zero-shot image classification: CLIP (softmax over `logits_per_image`) and SigLIP (sigmoid)
//! from candle-transformers, whose weight names are transformers'. Each candidate label becomes
//! "a photo of {label}" ([`HYPOTHESIS_TEMPLATE`]); CLIP encodes each text alone (its causal mask
//! makes padding irrelevant), SigLIP pads every text to `max_position_embeddings` as
//! transformers' pipeline does (`padding="max_length"`).

use std::path::Path;

use candle_core::{D, Device, Tensor};
use candle_nn::ops::{sigmoid, softmax_last_dim};
use candle_transformers::models::{clip, siglip};
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::infer::facts::ModelFacts;
use crate::infer::models::{pixel_tensor, weights_for_candle_linears};
use crate::infer::pipeline::{Event, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
use crate::infer::tasks::common::candidate_labels_arg;
use crate::infer::tasks::common::images::{ImageLabels, ImageRequest, check_vision_files};
use crate::infer::{InferError, device};
use crate::media::ImageProcessor;
use crate::results::ranked;

/// The text each candidate label is put into.
pub const HYPOTHESIS_TEMPLATE: &str = "a photo of {}";

enum Model {
    Clip {
        model: Box<clip::ClipModel>,
        max_len: usize,
    },
    Siglip {
        model: Box<siglip::Model>,
        max_len: usize,
        pad_id: u32,
    },
}

/// A loaded CLIP or SigLIP model with its tokenizer and image processor.
pub struct ZeroShotImage {
    model: Model,
    tokenizer: Tokenizer,
    processor: ImageProcessor,
    logit_scale: f32,
    logit_bias: f32,
    device: Device,
    description: String,
}

impl ZeroShotImage {
    /// Loads `dir` (config.json, safetensors, tokenizer.json, preprocessor_config.json).
    pub fn load_dir(
        dir: &Path,
        arch: ZeroShotArch,
        device: &Device,
    ) -> Result<ZeroShotImage, InferError> {
        let config_path = dir.join("config.json");
        let config = crate::infer::read_json(&config_path)?;
        let tokenizer = crate::infer::tokenizers::read_tokenizer(dir)?;
        let processor = ImageProcessor::from_dir(dir)?;
        let vb = weights_for_candle_linears(dir, device)?;
        let scalar = |name: &str| -> Result<f32, InferError> {
            Ok(vb
                .get_unchecked(name)?
                .flatten_all()?
                .to_vec1::<f32>()?
                .first()
                .copied()
                .unwrap_or(0.0))
        };
        let logit_scale = scalar("logit_scale")?;
        let (model, logit_bias) = match arch {
            ZeroShotArch::Clip => {
                let c = clip_config(&config).map_err(|e| InferError::file(&config_path, e))?;
                let max_len = c.text_config.max_position_embeddings;
                let model = Box::new(clip::ClipModel::new(vb, &c)?);
                (Model::Clip { model, max_len }, 0.0)
            }
            ZeroShotArch::Siglip => {
                let c: siglip::Config = serde_json::from_value(config.clone())
                    .map_err(|e| InferError::file(&config_path, e))?;
                let bias = scalar("logit_bias")?;
                let model = Model::Siglip {
                    max_len: c.text_config.max_position_embeddings,
                    pad_id: c.text_config.pad_token_id,
                    model: Box::new(siglip::Model::new(&c, vb)?),
                };
                (model, bias)
            }
        };
        Ok(ZeroShotImage {
            model,
            tokenizer,
            processor,
            logit_scale,
            logit_bias,
            description: format!(
                "{arch:?} zero-shot image classifier, safetensors on {}",
                device::describe(device)
            ),
            device: device.clone(),
        })
    }

    /// `logits_per_image` for the labels (one row: one value per label, in order).
    pub fn logits(
        &self,
        image: &image::RgbImage,
        labels: &[String],
    ) -> Result<Vec<f32>, InferError> {
        let pixels = pixel_tensor(self.processor.preprocess(image)?, &self.device)?;
        let texts: Vec<String> = labels
            .iter()
            .map(|l| HYPOTHESIS_TEMPLATE.replace("{}", l.trim()))
            .collect();
        let (image_features, text_features) = match &self.model {
            Model::Clip { model, max_len } => {
                let mut rows = Vec::with_capacity(texts.len());
                for text in &texts {
                    let ids = self.encode(text, None)?;
                    if ids.dim(1)? > *max_len {
                        return Err(InferError::InvalidInput(format!(
                            "the label text “{text}” is {} tokens, more than this model's {max_len}: shorten it",
                            ids.dim(1)?
                        )));
                    }
                    rows.push(model.get_text_features(&ids)?);
                }
                (model.get_image_features(&pixels)?, Tensor::cat(&rows, 0)?)
            }
            Model::Siglip {
                model,
                max_len,
                pad_id,
            } => {
                let rows = texts
                    .iter()
                    .map(|t| self.encode(t, Some((*max_len, *pad_id))))
                    .collect::<Result<Vec<_>, _>>()?;
                (
                    model.get_image_features(&pixels)?,
                    model.get_text_features(&Tensor::cat(&rows, 0)?)?,
                )
            }
        };
        let normalize = |t: Tensor| -> candle_core::Result<Tensor> {
            t.broadcast_div(&t.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?)
        };
        let logits = normalize(image_features)?
            .matmul(&normalize(text_features)?.t()?)?
            .affine(
                f64::from(self.logit_scale.exp()),
                f64::from(self.logit_bias),
            )?;
        Ok(logits.squeeze(0)?.to_vec1()?)
    }

    /// Scores per label: softmax (CLIP) or sigmoid (SigLIP) of the logits.
    pub fn scores(
        &self,
        image: &image::RgbImage,
        labels: &[String],
    ) -> Result<Vec<f32>, InferError> {
        let logits = Tensor::new(self.logits(image, labels)?, &self.device)?;
        let scores = match self.model {
            Model::Clip { .. } => softmax_last_dim(&logits)?,
            Model::Siglip { .. } => sigmoid(&logits)?,
        };
        Ok(scores.to_vec1()?)
    }

    fn encode(&self, text: &str, pad: Option<(usize, u32)>) -> Result<Tensor, InferError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        let mut ids = encoding.get_ids().to_vec();
        if let Some((len, pad_id)) = pad {
            ids.truncate(len);
            ids.resize(len, pad_id);
        }
        Ok(Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?)
    }
}

/// candle's [`clip::ClipConfig`] from transformers' config.json (quick_gelu models only).
fn clip_config(config: &Value) -> Result<clip::ClipConfig, String> {
    let section = |name: &str| config.get(name).cloned().unwrap_or(Value::Null);
    let (text, vision) = (section("text_config"), section("vision_config"));
    let num = |v: &Value, key: &str, default: usize| {
        v.get(key)
            .and_then(Value::as_u64)
            .map_or(default, |n| n as usize)
    };
    for (name, part) in [("text", &text), ("vision", &vision)] {
        let act = part
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("quick_gelu");
        if act != "quick_gelu" {
            return Err(format!(
                "CLIP {name} model with hidden_act {act:?} (only quick_gelu)"
            ));
        }
    }
    let projection = num(config, "projection_dim", 512);
    Ok(clip::ClipConfig {
        text_config: clip::text_model::ClipTextConfig {
            vocab_size: num(&text, "vocab_size", 49408),
            embed_dim: num(&text, "hidden_size", 512),
            activation: clip::text_model::Activation::QuickGelu,
            intermediate_size: num(&text, "intermediate_size", 2048),
            max_position_embeddings: num(&text, "max_position_embeddings", 77),
            pad_with: None,
            num_hidden_layers: num(&text, "num_hidden_layers", 12),
            num_attention_heads: num(&text, "num_attention_heads", 8),
            projection_dim: projection,
        },
        vision_config: clip::vision_model::ClipVisionConfig {
            embed_dim: num(&vision, "hidden_size", 768),
            activation: clip::text_model::Activation::QuickGelu,
            intermediate_size: num(&vision, "intermediate_size", 3072),
            num_hidden_layers: num(&vision, "num_hidden_layers", 12),
            num_attention_heads: num(&vision, "num_attention_heads", 12),
            projection_dim: projection,
            num_channels: num(&vision, "num_channels", 3),
            image_size: num(&vision, "image_size", 224),
            patch_size: num(&vision, "patch_size", 32),
        },
        logit_scale_init_value: 2.6592,
        image_size: num(&vision, "image_size", 224),
    })
}

impl Pipeline for ZeroShotImage {
    type Input = ImageRequest;
    type Output = ImageLabels;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<ZeroShotImage, InferError> {
        let arch = *plan.loader::<ZeroShotArch>()?;
        ctx.emit(Event::Status(format!("loading {arch:?} weights")));
        ZeroShotImage::load_dir(dir, arch, device)
    }

    fn run(&mut self, input: ImageRequest, ctx: &RunContext) -> Result<ImageLabels, InferError> {
        let labels: Vec<String> = input
            .labels
            .iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if labels.is_empty() {
            return Err(InferError::InvalidInput(
                "give candidate labels (e.g. cat, dog, car) to score the image against".into(),
            ));
        }
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        let scores = self.scores(&input.image, &labels)?;
        Ok(ImageLabels {
            width: input.image.width(),
            height: input.image.height(),
            labels: ranked(&labels, &scores, input.top_k.unwrap_or(labels.len()).max(1)),
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
/// `zero-shot-image-classification`: an image scored against labels the user types.
pub const ZERO_SHOT_IMAGE_CLASSIFICATION: Task = Task::new("zero-shot-image-classification");

/// The image–text models Hubble runs (the plan's loader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroShotArch {
    /// `CLIPModel` (quick_gelu).
    Clip,
    /// `SiglipModel`.
    Siglip,
}

/// The zero-shot image classification task file, as the registry lists it.
pub struct ZeroShotImageTask;

/// This task in the registry's list.
pub static MODULE: ZeroShotImageTask = ZeroShotImageTask;

fn arch_of(facts: &ModelFacts) -> Option<ZeroShotArch> {
    match facts.model_type.as_deref() {
        Some("clip") => Some(ZeroShotArch::Clip),
        Some("siglip") => Some(ZeroShotArch::Siglip),
        _ => None,
    }
}

impl TaskModule for ZeroShotImageTask {
    fn tasks(&self) -> &'static [Task] {
        &[ZERO_SHOT_IMAGE_CLASSIFICATION]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        arch_of(facts).map(|_| (Evidence::ModelType, ZERO_SHOT_IMAGE_CLASSIFICATION))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let arch = arch_of(facts).ok_or_else(|| not_supported(facts.architecture_name(), task))?;
        check_vision_files(facts, task, true)?;
        Ok(Plan::new(task, arch))
    }

    fn loader(&self) -> LoadFn {
        erase::<ZeroShotImage>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![candidate_labels_arg()]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        let labels = input.list("labels");
        if labels.is_empty() {
            return Err(InferError::InvalidInput(format!(
                "{task} needs candidate labels: pass --labels cat,dog,car"
            )));
        }
        Ok(Request::new(ImageRequest {
            image: input.image(task)?,
            top_k: input.value::<usize>("top_k"),
            labels,
        }))
    }
}
