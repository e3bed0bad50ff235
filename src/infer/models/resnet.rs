//! ResNet (basic and bottleneck blocks) with transformers' weight names (`resnet.embedder`,
//! `resnet.encoder.stages.N.layers.M.{layer.K,shortcut}`, `classifier.1`), written here because
//! candle-transformers' `resnet` reads torchvision's layout (`conv1`, `layer1.0.bn1`).
//! Batch norms run in inference mode (running statistics, eps 1e-5), folded at load into the
//! convolution before them (its weight scaled per output channel, plus a bias): one pass over
//! each activation instead of the convolution's and four more of candle's `BatchNorm`.
//! [`Backbone`] (stem + stages, no head) is shared with DETR, which also loads it from timm's
//! names (`crate::infer::models::timm_resnet`) through `ConvLayer::load` and `Block::new`.

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder, batch_norm, conv2d_no_bias};
use serde::Deserialize;

use super::conv::Conv2dLayer;
use super::conv_cpu::{InputMap, OutputMap};
use super::linear::{Linear, linear};

/// The config.json fields ResNet needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Input channels.
    #[serde(default = "three")]
    pub num_channels: usize,
    /// Channels after the stem.
    pub embedding_size: usize,
    /// Channels per stage.
    pub hidden_sizes: Vec<usize>,
    /// Blocks per stage.
    pub depths: Vec<usize>,
    /// `basic` or `bottleneck`.
    #[serde(default = "bottleneck")]
    pub layer_type: String,
    /// Only `relu` is supported.
    #[serde(default = "relu")]
    pub hidden_act: String,
    /// Whether the first stage halves the resolution.
    #[serde(default)]
    pub downsample_in_first_stage: bool,
    /// Whether a bottleneck strides in its first 1×1 convolution (else in the 3×3).
    #[serde(default)]
    pub downsample_in_bottleneck: bool,
}

fn three() -> usize {
    3
}
fn bottleneck() -> String {
    "bottleneck".into()
}
fn relu() -> String {
    "relu".into()
}

/// Convolution (padding k/2, no bias) + batch norm + optional ReLU, the batch norm folded into
/// the convolution; stride-1 ones (1 × 1, 3 × 3) as `conv`'s chunked products, strided ones
/// through candle.
pub(crate) struct ConvLayer {
    conv: Conv2dLayer,
    relu: bool,
}

impl ConvLayer {
    /// The convolution's weight from `conv`, the batch norm's from `norm`.
    pub(crate) fn load(
        conv: VarBuilder,
        norm: VarBuilder,
        (c_in, c_out, kernel, stride): (usize, usize, usize, usize),
        relu: bool,
    ) -> candle_core::Result<ConvLayer> {
        let cfg = Conv2dConfig {
            padding: kernel / 2,
            stride,
            ..Default::default()
        };
        let conv = conv2d_no_bias(c_in, c_out, kernel, cfg, conv)?;
        let norm = batch_norm(c_out, 1e-5, norm)?;
        // y = (conv(x) − mean) · γ / √(var + eps) + β = conv'(x) + β − mean · γ / √(var + eps),
        // conv' the convolution with each output channel's filter scaled by γ / √(var + eps);
        // computed in F64 on the host, each folded value rounded once.
        let host = |t: &Tensor| {
            t.to_device(&Device::Cpu)?
                .to_dtype(DType::F64)?
                .flatten_all()?
                .to_vec1::<f64>()
        };
        let (mean, var) = (host(norm.running_mean())?, host(norm.running_var())?);
        let (gamma, beta) = match norm.weight_and_bias() {
            Some((gamma, beta)) => (host(gamma)?, host(beta)?),
            None => (vec![1.; c_out], vec![0.; c_out]),
        };
        let scale: Vec<f64> = (0..c_out)
            .map(|o| gamma[o] / (var[o] + norm.eps()).sqrt())
            .collect();
        let shift: Vec<f64> = (0..c_out).map(|o| beta[o] - mean[o] * scale[o]).collect();
        let mut weight = host(conv.weight())?;
        let per_filter = weight.len() / c_out;
        for (filter, s) in weight.chunks_exact_mut(per_filter).zip(&scale) {
            filter.iter_mut().for_each(|w| *w *= s);
        }
        let (device, dtype) = (conv.weight().device(), conv.weight().dtype());
        let back = |values: Vec<f64>, shape: &[usize]| {
            Tensor::from_vec(values, shape, &Device::Cpu)?
                .to_dtype(dtype)?
                .to_device(device)
        };
        let weight = back(weight, conv.weight().dims())?;
        let bias = back(shift, &[c_out])?;
        Ok(ConvLayer {
            conv: Conv2dLayer::new(Conv2d::new(weight, Some(bias), cfg))?,
            relu,
        })
    }

    /// transformers' names: `convolution` and `normalization` under `vb`.
    fn load_transformers(
        vb: VarBuilder,
        shape: (usize, usize, usize, usize),
        relu: bool,
    ) -> candle_core::Result<ConvLayer> {
        ConvLayer::load(vb.pp("convolution"), vb.pp("normalization"), shape, relu)
    }

    /// The convolution with its ReLU fused on the CPU.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let output = if self.relu {
            OutputMap::Relu
        } else {
            OutputMap::Identity
        };
        self.conv.forward_fused(x, InputMap::Identity, None, output)
    }
}

/// A residual block: its layers (the last without ReLU), plus the shortcut, then ReLU.
pub(crate) struct Block {
    layers: Vec<ConvLayer>,
    shortcut: Option<ConvLayer>,
}

impl Block {
    /// A block from its layers and its projection shortcut (`None`: identity).
    pub(crate) fn new(layers: Vec<ConvLayer>, shortcut: Option<ConvLayer>) -> Block {
        Block { layers, shortcut }
    }

    fn load(
        vb: VarBuilder,
        c: &Config,
        c_in: usize,
        c_out: usize,
        stride: usize,
    ) -> candle_core::Result<Block> {
        let l = vb.pp("layer");
        let layers = if c.layer_type == "bottleneck" {
            let mid = c_out / 4;
            let (s1, s2) = if c.downsample_in_bottleneck {
                (stride, 1)
            } else {
                (1, stride)
            };
            vec![
                ConvLayer::load_transformers(l.pp("0"), (c_in, mid, 1, s1), true)?,
                ConvLayer::load_transformers(l.pp("1"), (mid, mid, 3, s2), true)?,
                ConvLayer::load_transformers(l.pp("2"), (mid, c_out, 1, 1), false)?,
            ]
        } else {
            vec![
                ConvLayer::load_transformers(l.pp("0"), (c_in, c_out, 3, stride), true)?,
                ConvLayer::load_transformers(l.pp("1"), (c_out, c_out, 3, 1), false)?,
            ]
        };
        let shortcut = if c_in != c_out || stride != 1 {
            Some(ConvLayer::load_transformers(
                vb.pp("shortcut"),
                (c_in, c_out, 1, stride),
                false,
            )?)
        } else {
            None
        };
        Ok(Block { layers, shortcut })
    }

    /// The last layer (loaded without a ReLU) adds the shortcut and applies the block's ReLU
    /// in its own passes.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let residual = match &self.shortcut {
            Some(s) => s.forward(x)?,
            None => x.clone(),
        };
        let (last, first) = self
            .layers
            .split_last()
            .ok_or_else(|| candle_core::Error::Msg("a residual block without layers".into()))?;
        let mut h = x.clone();
        for layer in first {
            h = layer.forward(&h)?;
        }
        last.conv
            .forward_fused(&h, InputMap::Identity, Some(&residual), OutputMap::Relu)
    }
}

/// The convolutional trunk: stem (7×7 stride 2 + max pool) and the residual stages.
pub struct Backbone {
    stem: ConvLayer,
    blocks: Vec<Block>,
    channels: usize,
}

impl Backbone {
    /// A trunk from its stem, its blocks in order and the last block's output channels.
    pub(crate) fn new(stem: ConvLayer, blocks: Vec<Block>, channels: usize) -> Backbone {
        Backbone {
            stem,
            blocks,
            channels,
        }
    }

    /// Loads transformers' `ResNetModel` / `ResNetBackbone` names (`embedder.embedder`,
    /// `encoder.stages.N.layers.M`) under `vb`.
    pub fn load(vb: VarBuilder, c: &Config) -> candle_core::Result<Backbone> {
        if c.hidden_act != "relu" {
            candle_core::bail!("ResNet with hidden_act {:?} (only relu)", c.hidden_act);
        }
        if !matches!(c.layer_type.as_str(), "basic" | "bottleneck") {
            candle_core::bail!("ResNet layer_type {:?} (basic or bottleneck)", c.layer_type);
        }
        if c.hidden_sizes.is_empty() || c.hidden_sizes.len() != c.depths.len() {
            candle_core::bail!("config.json: hidden_sizes and depths must have the same length");
        }
        let stem = ConvLayer::load_transformers(
            vb.pp("embedder.embedder"),
            (c.num_channels, c.embedding_size, 7, 2),
            true,
        )?;
        let mut blocks = Vec::new();
        let mut prev = c.embedding_size;
        for (i, (&dim, &depth)) in c.hidden_sizes.iter().zip(&c.depths).enumerate() {
            let s = vb.pp(format!("encoder.stages.{i}.layers"));
            let stride = if i > 0 || c.downsample_in_first_stage {
                2
            } else {
                1
            };
            for j in 0..depth {
                let (c_in, stride) = if j == 0 { (prev, stride) } else { (dim, 1) };
                blocks.push(Block::load(s.pp(j.to_string()), c, c_in, dim, stride)?);
            }
            prev = dim;
        }
        Ok(Backbone::new(stem, blocks, prev))
    }

    /// Channels of the last feature map.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The last stage's feature map `(N, channels, H/32, W/32)` of pixel values `(N, 3, H, W)`.
    pub fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.stem.forward(pixels)?;
        // MaxPool2d(3, stride 2, padding 1): the input is ReLU output (≥ 0), so zero padding
        // never wins a window that holds a real value.
        let mut x = x
            .pad_with_zeros(D::Minus1, 1, 1)?
            .pad_with_zeros(D::Minus2, 1, 1)?
            .max_pool2d_with_stride(3, 2)?;
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        Ok(x)
    }
}

/// ResNet with its classification head.
pub struct ResNet {
    backbone: Backbone,
    classifier: Linear,
}

impl ResNet {
    /// Loads `ResNetForImageClassification` weights (`vb` at the checkpoint's root).
    pub fn load(vb: VarBuilder, c: &Config, num_labels: usize) -> candle_core::Result<ResNet> {
        let backbone = Backbone::load(vb.pp("resnet"), c)?;
        let classifier = linear(backbone.channels(), num_labels, vb.pp("classifier.1"))?;
        Ok(ResNet {
            backbone,
            classifier,
        })
    }

    /// Logits `(N, labels)` of pixel values `(N, 3, H, W)`.
    pub fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.backbone.forward(pixels)?;
        let pooled = x.mean(D::Minus1)?.mean(D::Minus1)?;
        self.classifier.forward(&pooled)
    }
}
