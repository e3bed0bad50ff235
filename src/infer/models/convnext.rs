//! ConvNeXt (v1) with transformers' weight names (`convnext.embeddings.patch_embeddings`,
//! `convnext.encoder.stages.N.{downsampling_layer,layers.M}`, `classifier`), written here because
//! candle-transformers' `convnext` reads timm's layout (`stem`, `stages.N.blocks`).
//! GELU is the exact (erf) one, as transformers' `"gelu"`.

use candle_core::{D, Module, Tensor};
use candle_nn::{Activation, Conv2dConfig, LayerNorm, VarBuilder, conv2d, layer_norm};
use serde::Deserialize;

use super::conv::{Conv2dLayer, DepthwiseConv2d};
use super::conv_cpu::PointwiseToPlanes;
use super::linear::{Linear, linear};

/// LayerNorm epsilon transformers uses inside ConvNeXt (the final one reads the config).
const EPS: f64 = 1e-6;

/// The config.json fields ConvNeXt needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Input channels.
    #[serde(default = "three")]
    pub num_channels: usize,
    /// Stem patch size.
    #[serde(default = "four")]
    pub patch_size: usize,
    /// Channels per stage.
    pub hidden_sizes: Vec<usize>,
    /// Blocks per stage.
    pub depths: Vec<usize>,
    /// `gelu` (exact) is the only activation transformers' checkpoints use.
    #[serde(default = "gelu")]
    pub hidden_act: String,
    /// Epsilon of the final LayerNorm.
    #[serde(default = "final_eps")]
    pub layer_norm_eps: f64,
    /// Whether blocks have a layer-scale vector (`layer_scale_parameter`).
    #[serde(default = "layer_scale")]
    pub layer_scale_init_value: f64,
}

fn three() -> usize {
    3
}
fn four() -> usize {
    4
}
fn gelu() -> String {
    "gelu".into()
}
fn final_eps() -> f64 {
    1e-12
}
fn layer_scale() -> f64 {
    1e-6
}

/// LayerNorm over channels of an `(N, C, H, W)` tensor. Channels-last is made contiguous first:
/// candle's fused LayerNorm takes only contiguous input (otherwise it runs eight separate ops).
fn norm_channels_first(norm: &LayerNorm, x: &Tensor) -> candle_core::Result<Tensor> {
    norm.forward(&x.permute((0, 2, 3, 1))?.contiguous()?)?
        .permute((0, 3, 1, 2))
}

struct Block {
    /// The 7 × 7 depthwise convolution (`hubble_kernels`' on the CPU).
    dwconv: DepthwiseConv2d,
    norm: LayerNorm,
    pw1: Linear,
    /// The second pointwise layer with the layer scale folded into its weight and bias, written
    /// channels-first over the block's input.
    pw2: PointwiseToPlanes,
}

impl Block {
    fn load(dim: usize, layer_scale: bool, vb: VarBuilder) -> candle_core::Result<Block> {
        let dw = Conv2dConfig {
            padding: 3,
            groups: dim,
            ..Default::default()
        };
        // scale · (h W2ᵀ + b2) = h (scale · W2)ᵀ + scale · b2, scale per output channel.
        let pw2 = vb.pp("pwconv2");
        let (mut weight, mut bias) = (pw2.get((dim, 4 * dim), "weight")?, pw2.get(dim, "bias")?);
        if layer_scale {
            let scale = vb.get(dim, "layer_scale_parameter")?;
            weight = weight.broadcast_mul(&scale.unsqueeze(1)?)?;
            bias = (bias * scale)?;
        }
        Ok(Block {
            dwconv: DepthwiseConv2d::new(conv2d(dim, dim, 7, dw, vb.pp("dwconv"))?)?,
            norm: layer_norm(dim, EPS, vb.pp("layernorm"))?,
            pw1: linear(dim, 4 * dim, vb.pp("pwconv1"))?,
            pw2: PointwiseToPlanes::new(weight.t()?, Some(bias))?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        // Contiguous channels-last: candle's fused LayerNorm, one product per pointwise layer.
        let h = self
            .dwconv
            .forward(x)?
            .permute((0, 2, 3, 1))?
            .contiguous()?;
        let h = self.norm.forward(&h)?;
        self.pw2
            .forward(&self.pw1.forward_activated(&h, Activation::Gelu)?, x)
    }
}

struct Stage {
    down: Option<(LayerNorm, Conv2dLayer)>,
    blocks: Vec<Block>,
}

/// ConvNeXt with its classification head.
pub struct ConvNext {
    stem: Conv2dLayer,
    stem_norm: LayerNorm,
    stages: Vec<Stage>,
    norm: LayerNorm,
    classifier: Linear,
}

impl ConvNext {
    /// Loads `ConvNextForImageClassification` weights (`vb` at the checkpoint's root).
    pub fn load(vb: VarBuilder, c: &Config, num_labels: usize) -> candle_core::Result<ConvNext> {
        if c.hidden_act != "gelu" {
            candle_core::bail!("ConvNeXt with hidden_act {:?} (only gelu)", c.hidden_act);
        }
        if c.hidden_sizes.is_empty() || c.hidden_sizes.len() != c.depths.len() {
            candle_core::bail!("config.json: hidden_sizes and depths must have the same length");
        }
        let m = vb.pp("convnext");
        let e = m.pp("embeddings");
        let patch = Conv2dConfig {
            stride: c.patch_size,
            ..Default::default()
        };
        let first = c.hidden_sizes[0];
        let mut stages = Vec::new();
        let mut prev = first;
        for (i, (&dim, &depth)) in c.hidden_sizes.iter().zip(&c.depths).enumerate() {
            let s = m.pp(format!("encoder.stages.{i}"));
            let down = if i > 0 || prev != dim {
                let d = s.pp("downsampling_layer");
                let stride = Conv2dConfig {
                    stride: 2,
                    ..Default::default()
                };
                Some((
                    layer_norm(prev, EPS, d.pp("0"))?,
                    Conv2dLayer::new(conv2d(prev, dim, 2, stride, d.pp("1"))?)?,
                ))
            } else {
                None
            };
            let blocks = (0..depth)
                .map(|j| {
                    Block::load(
                        dim,
                        c.layer_scale_init_value > 0.0,
                        s.pp(format!("layers.{j}")),
                    )
                })
                .collect::<candle_core::Result<_>>()?;
            stages.push(Stage { down, blocks });
            prev = dim;
        }
        Ok(ConvNext {
            stem: Conv2dLayer::new(conv2d(
                c.num_channels,
                first,
                c.patch_size,
                patch,
                e.pp("patch_embeddings"),
            )?)?,
            stem_norm: layer_norm(first, EPS, e.pp("layernorm"))?,
            stages,
            norm: layer_norm(prev, c.layer_norm_eps, m.pp("layernorm"))?,
            classifier: linear(prev, num_labels, vb.pp("classifier"))?,
        })
    }

    /// Logits `(N, labels)` of pixel values `(N, 3, H, W)`.
    pub fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = norm_channels_first(&self.stem_norm, &self.stem.forward(pixels)?)?;
        for stage in &self.stages {
            if let Some((norm, conv)) = &stage.down {
                x = conv.forward(&norm_channels_first(norm, &x)?)?;
            }
            for block in &stage.blocks {
                x = block.forward(&x)?;
            }
        }
        let pooled = x.mean(D::Minus1)?.mean(D::Minus1)?;
        self.classifier.forward(&self.norm.forward(&pooled)?)
    }
}
