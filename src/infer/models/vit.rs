//! ViT (`ViTForImageClassification`) with transformers' weight names, and the pre-norm encoder
//! layer it shares with YOLOS and the Audio Spectrogram Transformer (`encoder.layer.N`:
//! `attention.attention.{query,key,value}`, `attention.output.dense`, `intermediate.dense`,
//! `output.dense`, `layernorm_before`, `layernorm_after`).
//!
//! The image is cut into `patch_size²` patches by a strided convolution, a `[CLS]` token goes in
//! front, learned position embeddings are added (the checkpoint's grid: no interpolation), the
//! layers run, and the classifier reads the `[CLS]` token after the final layer norm. The
//! layers' products go through [`super::linear`] (weights kept `(in, out)`).

use candle_core::{D, Module, Tensor};
use candle_nn::{Activation, Conv2dConfig, LayerNorm, VarBuilder, conv2d, layer_norm};
use serde::Deserialize;

use super::attention::MultiHeadAttention;
use super::conv::Conv2dLayer;
use super::conv_cpu::OutputMap;
use super::linear::{Linear, linear, linear_b};
use crate::infer::InferError;

/// The encoder fields of a ViT-shaped config.json (defaults as transformers' `ViTConfig`'s),
/// flattened into ViT's, YOLOS' and AST's configs.
#[derive(Debug, Clone, Deserialize)]
pub struct EncoderConfig {
    /// Width.
    #[serde(default = "hidden")]
    pub hidden_size: usize,
    /// Layers.
    #[serde(default = "twelve")]
    pub num_hidden_layers: usize,
    /// Attention heads (divides the width: [`EncoderConfig::check`]).
    #[serde(default = "twelve")]
    pub num_attention_heads: usize,
    /// Feed-forward width.
    #[serde(default = "intermediate")]
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default = "gelu")]
    pub hidden_act: Activation,
    /// Layer norm epsilon.
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    /// Whether query, key and value have biases.
    #[serde(default = "yes")]
    pub qkv_bias: bool,
}

impl EncoderConfig {
    /// An error naming `model` unless the heads divide the width.
    pub fn check(&self, model: &str) -> Result<(), InferError> {
        let (d, heads) = (self.hidden_size, self.num_attention_heads);
        if heads == 0 || !d.is_multiple_of(heads) {
            return Err(InferError::Model(format!(
                "config.json ({model}): num_attention_heads {heads} does not divide hidden_size {d}"
            )));
        }
        Ok(())
    }
}

fn hidden() -> usize {
    768
}
fn twelve() -> usize {
    12
}
fn intermediate() -> usize {
    3072
}
fn gelu() -> Activation {
    Activation::Gelu
}
fn eps() -> f64 {
    1e-12
}
fn yes() -> bool {
    true
}

/// One pre-norm ViT layer: `x + attention(norm(x))`, then `h + mlp(norm(h))`.
pub struct Layer {
    /// `attention.attention.{query,key,value}` and `attention.output.dense`.
    attention: MultiHeadAttention,
    intermediate: Linear,
    output: Linear,
    norm_before: LayerNorm,
    norm_after: LayerNorm,
    act: MlpActivation,
}

/// The activation between a layer's two fully connected layers.
#[derive(Debug, Clone, Copy)]
pub enum MlpActivation {
    /// One of candle's (the exact GELU fused into the product on the CPU).
    Candle(Activation),
    /// CLIP's quick GELU, `x · σ(1.702 x)` (fused into the product on the CPU).
    QuickGelu,
}

impl Layer {
    /// Loads `encoder.layer.N` under `vb`.
    pub fn load(vb: VarBuilder, c: &EncoderConfig) -> candle_core::Result<Layer> {
        let (d, i, bias) = (c.hidden_size, c.intermediate_size, c.qkv_bias);
        let a = vb.pp("attention.attention");
        let projections = [
            linear_b(d, d, bias, a.pp("query"))?,
            linear_b(d, d, bias, a.pp("key"))?,
            linear_b(d, d, bias, a.pp("value"))?,
            linear(d, d, vb.pp("attention.output.dense"))?,
        ];
        Ok(Layer {
            attention: MultiHeadAttention::from_projections(projections, d, c.num_attention_heads),
            intermediate: linear(d, i, vb.pp("intermediate.dense"))?,
            output: linear(i, d, vb.pp("output.dense"))?,
            norm_before: layer_norm(d, c.layer_norm_eps, vb.pp("layernorm_before"))?,
            norm_after: layer_norm(d, c.layer_norm_eps, vb.pp("layernorm_after"))?,
            act: MlpActivation::Candle(c.hidden_act),
        })
    }

    /// From its parts: the attention, the MLP's two layers and activation, and the norms before
    /// the attention and before the MLP.
    pub fn from_parts(
        attention: MultiHeadAttention,
        (intermediate, act, output): (Linear, MlpActivation, Linear),
        (norm_before, norm_after): (LayerNorm, LayerNorm),
    ) -> Layer {
        Layer {
            attention,
            intermediate,
            output,
            norm_before,
            norm_after,
            act,
        }
    }

    /// `(batch, tokens, hidden)` → the same shape.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let n = self.norm_before.forward(x)?;
        let h = (self.attention.self_attention(&n)? + x)?;
        let normed = self.norm_after.forward(&h)?;
        let m = match self.act {
            MlpActivation::Candle(act) => self.intermediate.forward_activated(&normed, act)?,
            MlpActivation::QuickGelu => self
                .intermediate
                .forward_mapped(&normed, OutputMap::QuickGelu)?,
        };
        self.output.forward(&m)? + h
    }
}

/// Layers `encoder.layer.0 …` run in order.
pub struct Encoder {
    layers: Vec<Layer>,
}

impl Encoder {
    /// Loads the config's layers under `vb` (the `encoder` prefix).
    pub fn load(vb: VarBuilder, c: &EncoderConfig) -> candle_core::Result<Encoder> {
        let layers = (0..c.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("layer.{i}")), c))
            .collect::<candle_core::Result<_>>()?;
        Ok(Encoder { layers })
    }

    /// `(batch, tokens, hidden)` → the same shape.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.layers.iter().try_fold(x.clone(), |x, l| l.forward(&x))
    }
}

/// The config.json fields ViT needs (defaults as `ViTConfig`'s).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    encoder: EncoderConfig,
    #[serde(default = "image_size")]
    image_size: usize,
    #[serde(default = "patch_size")]
    patch_size: usize,
    #[serde(default = "channels")]
    num_channels: usize,
}

fn image_size() -> usize {
    224
}
fn patch_size() -> usize {
    16
}
fn channels() -> usize {
    3
}

/// Patches cut by a strided convolution, a `[CLS]` token in front, learned positions added
/// (ViT's and CLIP's embeddings).
pub struct PatchEmbedding {
    patches: Conv2dLayer,
    /// `(1, 1, hidden)`.
    cls_token: Tensor,
    /// `(1, 1 + patches, hidden)`.
    positions: Tensor,
}

impl PatchEmbedding {
    /// From the patch convolution, the `[CLS]` token and the position embeddings (any shapes
    /// holding `hidden` and `(1 + patches) · hidden` values).
    pub fn new(
        patches: Conv2dLayer,
        cls_token: &Tensor,
        positions: &Tensor,
    ) -> candle_core::Result<Self> {
        let d = cls_token.elem_count();
        Ok(PatchEmbedding {
            patches,
            cls_token: cls_token.reshape((1, 1, d))?,
            positions: positions.reshape((1, (), d))?,
        })
    }

    /// Pixel values `(batch, channels, size, size)` → `(batch, 1 + patches, hidden)`.
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor, InferError> {
        let patches = self
            .patches
            .forward(pixels)?
            .flatten_from(2)?
            .transpose(1, 2)?;
        let (batch, count, d) = patches.dims3()?;
        if count + 1 != self.positions.dim(1)? {
            return Err(InferError::InvalidInput(format!(
                "the model takes {} patches (config.json's image_size), the image makes \
                 {count}: check preprocessor_config.json's size against config.json",
                self.positions.dim(1)? - 1
            )));
        }
        let cls = self.cls_token.broadcast_as((batch, 1, d))?;
        Ok(Tensor::cat(&[&cls, &patches], 1)?.broadcast_add(&self.positions)?)
    }
}

/// A `ViTForImageClassification`.
pub struct VitClassifier {
    embedding: PatchEmbedding,
    encoder: Encoder,
    norm: LayerNorm,
    classifier: Linear,
}

impl VitClassifier {
    /// Loads the checkpoint's root `vb` with `num_labels` outputs.
    pub fn load(
        vb: VarBuilder,
        c: &Config,
        num_labels: usize,
    ) -> Result<VitClassifier, InferError> {
        let (e, p) = (&c.encoder, c.patch_size);
        e.check("ViT")?;
        if p == 0 {
            return Err(InferError::Model(
                "config.json (ViT): patch_size must be positive".into(),
            ));
        }
        let d = e.hidden_size;
        let vit = vb.pp("vit");
        let emb = vit.pp("embeddings");
        let grid = c.image_size / p;
        let stride = Conv2dConfig {
            stride: p,
            ..Default::default()
        };
        let patches = Conv2dLayer::new(conv2d(
            c.num_channels,
            d,
            p,
            stride,
            emb.pp("patch_embeddings.projection"),
        )?)?;
        Ok(VitClassifier {
            embedding: PatchEmbedding::new(
                patches,
                &emb.get((1, 1, d), "cls_token")?,
                &emb.get((1, 1 + grid * grid, d), "position_embeddings")?,
            )?,
            encoder: Encoder::load(vit.pp("encoder"), e)?,
            norm: layer_norm(d, e.layer_norm_eps, vit.pp("layernorm"))?,
            classifier: linear(d, num_labels, vb.pp("classifier"))?,
        })
    }

    /// Pixel values `(batch, channels, size, size)` → logits `(batch, labels)`.
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor, InferError> {
        let x = self.embedding.forward(pixels)?;
        let x = self.norm.forward(&self.encoder.forward(&x)?)?;
        Ok(self
            .classifier
            .forward(&x.narrow(D::Minus2, 0, 1)?.squeeze(1)?)?)
    }
}
