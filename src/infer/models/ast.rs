//! The Audio Spectrogram Transformer (ASTForAudioClassification) with transformers' weight
//! names (`audio_spectrogram_transformer.embeddings`, `.encoder.layer.N`, `.layernorm`;
//! `classifier.layernorm`, `classifier.dense`).
//!
//! Filter banks `[max_length frames, num_mel_bins]` are read as a one-channel image (mel bins
//! as rows, frames as columns) and cut into `patch_size²` patches every `frequency_stride` bins
//! and `time_stride` frames by a convolution; a CLS and a distillation token go in front,
//! learned position embeddings are added, ViT's encoder ([`super::vit::Encoder`],
//! same weight layout) runs, and the mean of the two tokens after the final layer norm goes
//! through the head's layer norm and dense layer.

use candle_core::{Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, LayerNorm, VarBuilder, layer_norm};
use serde::Deserialize;

use super::linear::{Linear, linear};
use super::vit::{Encoder, EncoderConfig};
use crate::infer::InferError;

/// The config.json fields AST needs (defaults: ASTConfig's, i.e. the AudioSet checkpoints).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// The ViT encoder's fields.
    #[serde(flatten)]
    pub encoder: EncoderConfig,
    /// Side of the square patches.
    #[serde(default = "sixteen")]
    pub patch_size: usize,
    /// Mel bins between patches.
    #[serde(default = "ten")]
    pub frequency_stride: usize,
    /// Frames between patches.
    #[serde(default = "ten")]
    pub time_stride: usize,
    /// Frames of the input (the feature extractor pads or cuts to this).
    #[serde(default = "max_length")]
    pub max_length: usize,
    /// Mel bins of the input.
    #[serde(default = "mel_bins")]
    pub num_mel_bins: usize,
}

fn sixteen() -> usize {
    16
}
fn ten() -> usize {
    10
}
fn max_length() -> usize {
    1024
}
fn mel_bins() -> usize {
    128
}

/// An ASTForAudioClassification.
pub struct AstClassifier {
    cls_token: Tensor,
    distillation_token: Tensor,
    position_embeddings: Tensor,
    patches: Conv2d,
    encoder: Encoder,
    layernorm: LayerNorm,
    head_norm: LayerNorm,
    head: Linear,
    c: Config,
    frequency_patches: usize,
}

impl AstClassifier {
    /// Loads the model with `num_labels` outputs; `vb` is the checkpoint's root.
    pub fn new(c: &Config, num_labels: usize, vb: VarBuilder) -> Result<AstClassifier, InferError> {
        let p = c.patch_size;
        if p == 0 || c.frequency_stride == 0 || c.time_stride == 0 {
            return Err(InferError::Model(
                "config.json: patch_size, frequency_stride and time_stride must be positive".into(),
            ));
        }
        if c.num_mel_bins < p || c.max_length < p {
            return Err(InferError::Model(format!(
                "config.json: patch_size {p} is larger than num_mel_bins {} or max_length {}",
                c.num_mel_bins, c.max_length
            )));
        }
        c.encoder.check("AST")?;
        let frequency_patches = (c.num_mel_bins - p) / c.frequency_stride + 1;
        let time_patches = (c.max_length - p) / c.time_stride + 1;
        let h = c.encoder.hidden_size;
        let base = vb.pp("audio_spectrogram_transformer");
        let emb = base.pp("embeddings");
        // Each band of `patch_size` bins is convolved separately with the time stride, so the
        // two strides may differ (candle's Conv2d has one stride).
        let cfg = Conv2dConfig {
            stride: c.time_stride,
            ..Default::default()
        };
        let projection = emb.pp("patch_embeddings.projection");
        let patches = Conv2d::new(
            projection.get((h, 1, p, p), "weight")?,
            Some(projection.get(h, "bias")?),
            cfg,
        );
        let head = vb.pp("classifier");
        Ok(AstClassifier {
            cls_token: emb.get((1, 1, h), "cls_token")?,
            distillation_token: emb.get((1, 1, h), "distillation_token")?,
            position_embeddings: emb.get(
                (1, frequency_patches * time_patches + 2, h),
                "position_embeddings",
            )?,
            patches,
            encoder: Encoder::load(base.pp("encoder"), &c.encoder)?,
            layernorm: layer_norm(h, c.encoder.layer_norm_eps, base.pp("layernorm"))?,
            head_norm: layer_norm(h, c.encoder.layer_norm_eps, head.pp("layernorm"))?,
            head: linear(h, num_labels, head.pp("dense"))?,
            c: c.clone(),
            frequency_patches,
        })
    }

    /// `input_values` `[batch, max_length, num_mel_bins]` (the feature extractor's filter
    /// banks) → logits `[batch, num_labels]`.
    pub fn forward(&self, input_values: &Tensor) -> Result<Tensor, InferError> {
        let (b, frames, bins) = input_values.dims3()?;
        if (frames, bins) != (self.c.max_length, self.c.num_mel_bins) {
            return Err(InferError::InvalidInput(format!(
                "AST takes {} frames of {} mel bins, got {frames} × {bins}: check preprocessor_config.json against config.json",
                self.c.max_length, self.c.num_mel_bins
            )));
        }
        // [batch, 1, mel bins, frames]
        let image = input_values.transpose(1, 2)?.unsqueeze(1)?;
        let bands = (0..self.frequency_patches)
            .map(|f| {
                let band = image.narrow(2, f * self.c.frequency_stride, self.c.patch_size)?;
                self.patches.forward(&band)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        // [batch, hidden, frequency patches, time patches] → [batch, patches, hidden]
        let patches = Tensor::cat(&bands, 2)?.flatten_from(2)?.transpose(1, 2)?;
        let h = self.c.encoder.hidden_size;
        let tokens = Tensor::cat(
            &[
                self.cls_token.expand((b, 1, h))?,
                self.distillation_token.expand((b, 1, h))?,
                patches,
            ],
            1,
        )?
        .broadcast_add(&self.position_embeddings)?;
        let x = self.layernorm.forward(&self.encoder.forward(&tokens)?)?;
        let pooled = ((x.narrow(1, 0, 1)? + x.narrow(1, 1, 1)?)? / 2.0)?.squeeze(1)?;
        Ok(self.head.forward(&self.head_norm.forward(&pooled)?)?)
    }
}
