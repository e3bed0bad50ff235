//! Wav2Vec2 and HuBERT for sequence (audio) classification, with transformers' weight names
//! (`wav2vec2.` or `hubert.` + `feature_extractor.conv_layers.N`, `feature_projection`,
//! `encoder.pos_conv_embed`, `encoder.layers.N`; `projector`, `classifier`, `layer_weights`).
//! The two share the architecture; `model_type` picks the prefix and HuBERT's optional
//! projection layer norm (`feat_proj_layer_norm`).
//!
//! Raw 16 kHz samples → a stack of strided 1-D convolutions (GroupNorm on the first,
//! `feat_extract_norm="group"`, or LayerNorm on each, `"layer"`) → layer norm + linear
//! projection → a weight-normed grouped convolution added as positional embedding → a
//! Transformer encoder (post-LN, or pre-LN with a final norm when `do_stable_layer_norm`) →
//! projector → mean over time → classifier. With `use_weighted_layer_sum` the projector reads a
//! softmax-weighted sum of the encoder's input and each layer's output instead of the last
//! hidden state; as in transformers 5 that list holds the last layer's output before the
//! stable layout's final norm.

use candle_core::{D, Module, Tensor};
use candle_nn::{
    Activation, Conv1d, Conv1dConfig, GroupNorm, LayerNorm, VarBuilder, conv1d, conv1d_no_bias,
    group_norm, layer_norm,
};
use serde::Deserialize;

use super::elementwise::{activate, softmax_last_dim};
use super::linear::{Linear, linear};
use crate::infer::InferError;

/// The config.json fields Wav2Vec2 / HuBERT classification needs (defaults: wav2vec2-base).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `wav2vec2` or `hubert`.
    #[serde(default = "wav2vec2")]
    pub model_type: String,
    /// Encoder width.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default = "gelu")]
    pub hidden_act: Activation,
    /// Activation of the convolutions and the positional embedding.
    #[serde(default = "gelu")]
    pub feat_extract_activation: Activation,
    /// Epsilon of the projection and encoder layer norms.
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    /// `group` (GroupNorm on the first convolution) or `layer` (LayerNorm on each).
    #[serde(default = "group")]
    pub feat_extract_norm: String,
    /// Channels of each convolution.
    #[serde(default = "conv_dim")]
    pub conv_dim: Vec<usize>,
    /// Stride of each convolution.
    #[serde(default = "conv_stride")]
    pub conv_stride: Vec<usize>,
    /// Kernel of each convolution.
    #[serde(default = "conv_kernel")]
    pub conv_kernel: Vec<usize>,
    /// Whether the convolutions have biases.
    #[serde(default)]
    pub conv_bias: bool,
    /// Kernel of the positional convolution.
    #[serde(default = "pos_kernel")]
    pub num_conv_pos_embeddings: usize,
    /// Groups of the positional convolution.
    #[serde(default = "pos_groups")]
    pub num_conv_pos_embedding_groups: usize,
    /// Pre-LN encoder layers with a final layer norm.
    #[serde(default)]
    pub do_stable_layer_norm: bool,
    /// HuBERT: whether the feature projection starts with a layer norm (wav2vec2 always does).
    #[serde(default = "yes")]
    pub feat_proj_layer_norm: bool,
    /// HuBERT variants with a batch norm instead of weight norm in the positional embedding
    /// (not supported).
    #[serde(default)]
    pub conv_pos_batch_norm: bool,
    /// Wav2Vec2 adapters after the encoder (transformers refuses them for classification).
    #[serde(default)]
    pub add_adapter: bool,
    /// Per-layer attention adapters (MMS; not supported).
    #[serde(default)]
    pub adapter_attn_dim: Option<usize>,
    /// Classify a softmax-weighted sum of all hidden states.
    #[serde(default)]
    pub use_weighted_layer_sum: bool,
    /// Width of the projector before pooling.
    #[serde(default = "proj_size")]
    pub classifier_proj_size: usize,
}

fn wav2vec2() -> String {
    "wav2vec2".into()
}
fn gelu() -> Activation {
    Activation::Gelu
}
fn eps() -> f64 {
    1e-5
}
fn group() -> String {
    "group".into()
}
fn conv_dim() -> Vec<usize> {
    vec![512; 7]
}
fn conv_stride() -> Vec<usize> {
    vec![5, 2, 2, 2, 2, 2, 2]
}
fn conv_kernel() -> Vec<usize> {
    vec![10, 3, 3, 3, 3, 2, 2]
}
fn pos_kernel() -> usize {
    128
}
fn pos_groups() -> usize {
    16
}
fn yes() -> bool {
    true
}
fn proj_size() -> usize {
    256
}

/// The epsilon of torch's `GroupNorm` / `LayerNorm` defaults, used by the convolution norms.
const CONV_NORM_EPS: f64 = 1e-5;

enum ConvNorm {
    None,
    Group(GroupNorm),
    Layer(LayerNorm),
}

/// One strided convolution of the feature encoder, its optional norm and the activation.
struct ConvLayer {
    conv: Conv1d,
    norm: ConvNorm,
    act: Activation,
}

impl ConvLayer {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.conv.forward(x)?;
        let x = match &self.norm {
            ConvNorm::None => x,
            ConvNorm::Group(norm) => norm.forward(&x)?,
            ConvNorm::Layer(norm) => norm.forward(&x.transpose(1, 2)?)?.transpose(1, 2)?,
        };
        activate(self.act, &x)
    }
}

fn feature_encoder(c: &Config, vb: VarBuilder) -> Result<Vec<ConvLayer>, InferError> {
    let n = c.conv_dim.len();
    if n == 0 || c.conv_stride.len() != n || c.conv_kernel.len() != n {
        return Err(InferError::Model(format!(
            "config.json: conv_dim, conv_stride and conv_kernel must have the same non-zero length (got {}, {}, {})",
            n,
            c.conv_stride.len(),
            c.conv_kernel.len()
        )));
    }
    let layer_norms = match c.feat_extract_norm.as_str() {
        "group" => false,
        "layer" => true,
        other => {
            return Err(InferError::Model(format!(
                "config.json: feat_extract_norm {other:?} is neither \"group\" nor \"layer\""
            )));
        }
    };
    let mut layers = Vec::with_capacity(n);
    for i in 0..n {
        let vb = vb.pp(format!("conv_layers.{i}"));
        let (c_in, c_out) = (if i == 0 { 1 } else { c.conv_dim[i - 1] }, c.conv_dim[i]);
        let cfg = Conv1dConfig {
            stride: c.conv_stride[i],
            ..Default::default()
        };
        let conv = if c.conv_bias {
            conv1d(c_in, c_out, c.conv_kernel[i], cfg, vb.pp("conv"))?
        } else {
            conv1d_no_bias(c_in, c_out, c.conv_kernel[i], cfg, vb.pp("conv"))?
        };
        let norm = if layer_norms {
            ConvNorm::Layer(layer_norm(c_out, CONV_NORM_EPS, vb.pp("layer_norm"))?)
        } else if i == 0 {
            ConvNorm::Group(group_norm(
                c_out,
                c_out,
                CONV_NORM_EPS,
                vb.pp("layer_norm"),
            )?)
        } else {
            ConvNorm::None
        };
        layers.push(ConvLayer {
            conv,
            norm,
            act: c.feat_extract_activation,
        });
    }
    Ok(layers)
}

/// The positional embedding: a grouped convolution whose weight is stored weight-normed
/// (`weight_g`/`weight_v`, or `parametrizations.weight.original0/1` as transformers 5 saves
/// it; the norm runs over all but the kernel axis), trimmed by one frame for even kernels.
struct PositionalConv {
    conv: Conv1d,
    trim: bool,
    act: Activation,
}

impl PositionalConv {
    fn load(c: &Config, vb: VarBuilder) -> Result<PositionalConv, InferError> {
        let (h, k, groups) = (
            c.hidden_size,
            c.num_conv_pos_embeddings,
            c.num_conv_pos_embedding_groups,
        );
        if groups == 0 || !h.is_multiple_of(groups) {
            return Err(InferError::Model(format!(
                "config.json: num_conv_pos_embedding_groups {groups} does not divide hidden_size {h}"
            )));
        }
        let (g, v) = if vb.contains_tensor("weight_g") {
            (
                vb.get((1, 1, k), "weight_g")?,
                vb.get((h, h / groups, k), "weight_v")?,
            )
        } else {
            let p = vb.pp("parametrizations.weight");
            (
                p.get((1, 1, k), "original0")?,
                p.get((h, h / groups, k), "original1")?,
            )
        };
        let norm = v.sqr()?.sum_keepdim(0)?.sum_keepdim(1)?.sqrt()?;
        let weight = v.broadcast_mul(&g.broadcast_div(&norm)?)?;
        let cfg = Conv1dConfig {
            padding: k / 2,
            groups,
            ..Default::default()
        };
        Ok(PositionalConv {
            conv: Conv1d::new(weight, Some(vb.get(h, "bias")?), cfg),
            trim: k.is_multiple_of(2),
            act: c.feat_extract_activation,
        })
    }

    /// `[batch, time, hidden]` → the embedding of the same shape.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut y = self.conv.forward(&x.transpose(1, 2)?)?;
        if self.trim {
            y = y.narrow(2, 0, y.dim(2)? - 1)?;
        }
        activate(self.act, &y)?.transpose(1, 2)
    }
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let split = |y: Tensor| {
            y.reshape((b, t, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.q.forward(x)?)?;
        let k = split(self.k.forward(x)?)?;
        let v = split(self.v.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? * (self.head_dim as f64).powf(-0.5))?;
        let probs = softmax_last_dim(&scores)?;
        let y = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, t, h))?;
        self.out.forward(&y)
    }
}

struct EncoderLayer {
    attention: Attention,
    layer_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    act: Activation,
    final_layer_norm: LayerNorm,
    pre_ln: bool,
}

impl EncoderLayer {
    fn load(c: &Config, vb: VarBuilder) -> Result<EncoderLayer, InferError> {
        let (h, heads) = (c.hidden_size, c.num_attention_heads);
        if heads == 0 || !h.is_multiple_of(heads) {
            return Err(InferError::Model(format!(
                "config.json: num_attention_heads {heads} does not divide hidden_size {h}"
            )));
        }
        let a = vb.pp("attention");
        let ff = vb.pp("feed_forward");
        Ok(EncoderLayer {
            attention: Attention {
                q: linear(h, h, a.pp("q_proj"))?,
                k: linear(h, h, a.pp("k_proj"))?,
                v: linear(h, h, a.pp("v_proj"))?,
                out: linear(h, h, a.pp("out_proj"))?,
                heads,
                head_dim: h / heads,
            },
            layer_norm: layer_norm(h, c.layer_norm_eps, vb.pp("layer_norm"))?,
            intermediate: linear(h, c.intermediate_size, ff.pp("intermediate_dense"))?,
            output: linear(c.intermediate_size, h, ff.pp("output_dense"))?,
            act: c.hidden_act,
            final_layer_norm: layer_norm(h, c.layer_norm_eps, vb.pp("final_layer_norm"))?,
            pre_ln: c.do_stable_layer_norm,
        })
    }

    fn feed_forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.output
            .forward(&self.intermediate.forward_activated(x, self.act)?)
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.pre_ln {
            let x = (x + self.attention.forward(&self.layer_norm.forward(x)?)?)?;
            &x + self.feed_forward(&self.final_layer_norm.forward(&x)?)?
        } else {
            let x = self
                .layer_norm
                .forward(&(x + self.attention.forward(x)?)?)?;
            self.final_layer_norm
                .forward(&(&x + self.feed_forward(&x)?)?)
        }
    }
}

/// A Wav2Vec2ForSequenceClassification or HubertForSequenceClassification.
pub struct Wav2Vec2Classifier {
    convs: Vec<ConvLayer>,
    projection_norm: Option<LayerNorm>,
    projection: Linear,
    positional: PositionalConv,
    encoder_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
    pre_ln: bool,
    /// Softmax of `layer_weights` when `use_weighted_layer_sum`.
    layer_weights: Option<Tensor>,
    projector: Linear,
    classifier: Linear,
    min_samples: usize,
}

impl Wav2Vec2Classifier {
    /// Loads the model with `num_labels` outputs; `vb` is the checkpoint's root.
    pub fn new(
        c: &Config,
        num_labels: usize,
        vb: VarBuilder,
    ) -> Result<Wav2Vec2Classifier, InferError> {
        let hubert = match c.model_type.as_str() {
            "wav2vec2" => false,
            "hubert" => true,
            other => {
                return Err(InferError::NotSupported {
                    architecture: other.to_string(),
                    task: "audio classification with the wav2vec2 model code".into(),
                });
            }
        };
        let refuse = |what: &str| {
            Err(InferError::NotSupported {
                architecture: format!("{} with {what}", c.model_type),
                task: "audio classification".into(),
            })
        };
        if c.add_adapter {
            return refuse("add_adapter");
        }
        if c.adapter_attn_dim.is_some() {
            return refuse("adapter_attn_dim (attention adapters)");
        }
        if c.conv_pos_batch_norm {
            return refuse("conv_pos_batch_norm");
        }
        let base = vb.pp(&c.model_type);
        let convs = feature_encoder(c, base.pp("feature_extractor"))?;
        let conv_out = *c.conv_dim.last().unwrap_or(&0);
        let fp = base.pp("feature_projection");
        let projection_norm = if !hubert || c.feat_proj_layer_norm {
            Some(layer_norm(conv_out, c.layer_norm_eps, fp.pp("layer_norm"))?)
        } else {
            None
        };
        let encoder = base.pp("encoder");
        let layers = (0..c.num_hidden_layers)
            .map(|i| EncoderLayer::load(c, encoder.pp(format!("layers.{i}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let layer_weights = if c.use_weighted_layer_sum {
            let w = vb.get(c.num_hidden_layers + 1, "layer_weights")?;
            Some(softmax_last_dim(&w)?)
        } else {
            None
        };
        // The shortest input that leaves one frame after every convolution.
        let min_samples = c
            .conv_kernel
            .iter()
            .zip(&c.conv_stride)
            .rev()
            .fold(1, |frames, (k, s)| (frames - 1) * s + k);
        Ok(Wav2Vec2Classifier {
            convs,
            projection_norm,
            projection: linear(conv_out, c.hidden_size, fp.pp("projection"))?,
            positional: PositionalConv::load(c, encoder.pp("pos_conv_embed.conv"))?,
            encoder_norm: layer_norm(c.hidden_size, c.layer_norm_eps, encoder.pp("layer_norm"))?,
            layers,
            pre_ln: c.do_stable_layer_norm,
            layer_weights,
            projector: linear(c.hidden_size, c.classifier_proj_size, vb.pp("projector"))?,
            classifier: linear(c.classifier_proj_size, num_labels, vb.pp("classifier"))?,
            min_samples,
        })
    }

    /// The fewest samples a clip needs (the convolutions' receptive field: 400 for wav2vec2-base).
    pub fn min_samples(&self) -> usize {
        self.min_samples
    }

    /// `input_values` `[batch, samples]` (the feature extractor's waveform) → logits
    /// `[batch, num_labels]`.
    pub fn forward(&self, input_values: &Tensor) -> Result<Tensor, InferError> {
        let (_, samples) = input_values.dims2()?;
        if samples < self.min_samples {
            return Err(InferError::InvalidInput(format!(
                "the audio is {samples} samples long; this model needs at least {} (use a longer clip)",
                self.min_samples
            )));
        }
        let mut x = input_values.unsqueeze(1)?;
        for conv in &self.convs {
            x = conv.forward(&x)?;
        }
        let mut x = x.transpose(1, 2)?;
        if let Some(norm) = &self.projection_norm {
            x = norm.forward(&x)?;
        }
        let x = self.projection.forward(&x)?;
        let mut x = (&x + self.positional.forward(&x)?)?;
        if !self.pre_ln {
            x = self.encoder_norm.forward(&x)?;
        }
        let mut states = Vec::new();
        for layer in &self.layers {
            if self.layer_weights.is_some() {
                states.push(x.clone());
            }
            x = layer.forward(&x)?;
        }
        let hidden = match &self.layer_weights {
            Some(weights) => {
                states.push(x);
                let stacked = Tensor::stack(&states, 0)?;
                stacked
                    .broadcast_mul(&weights.reshape((states.len(), 1, 1, 1))?)?
                    .sum(0)?
            }
            None if self.pre_ln => self.encoder_norm.forward(&x)?,
            None => x,
        };
        let pooled = self.projector.forward(&hidden)?.mean(D::Minus2)?;
        Ok(self.classifier.forward(&pooled)?)
    }
}
