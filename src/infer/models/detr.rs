//! DETR (`DetrForObjectDetection`) with transformers' weight names: a ResNet backbone in either
//! layout (timm's, as facebook/detr-resnet-50 ships it, or transformers' own `ResNetBackbone`;
//! told apart by the names present) → 1×1 input projection → sine position embeddings → a
//! post-norm transformer encoder over the feature map and a decoder over the learned object
//! queries → class logits (labels + no-object) and sigmoid boxes `(cx, cy, w, h)` in `[0, 1]`.
//! One image at a time: a single image is never padded, so the pixel mask is all ones and the
//! masks of transformers' forward change nothing.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Activation, Conv2d, LayerNorm, VarBuilder, conv2d, layer_norm};
use serde::Deserialize;
use serde_json::Value;

use super::elementwise::softmax_last_dim;
use super::linear::{Linear, linear};
use super::timm_resnet;
use crate::infer::InferError;
use crate::infer::models::resnet::{self, Backbone};

/// The config.json fields DETR needs (defaults as `DetrConfig`'s).
#[derive(Debug, Clone, Deserialize)]
struct Config {
    #[serde(default = "d_model")]
    d_model: usize,
    #[serde(default = "six")]
    encoder_layers: usize,
    #[serde(default = "six")]
    decoder_layers: usize,
    #[serde(default = "eight")]
    encoder_attention_heads: usize,
    #[serde(default = "eight")]
    decoder_attention_heads: usize,
    #[serde(default = "ffn")]
    encoder_ffn_dim: usize,
    #[serde(default = "ffn")]
    decoder_ffn_dim: usize,
    #[serde(default = "queries")]
    num_queries: usize,
    #[serde(default = "relu")]
    activation_function: Activation,
    #[serde(default = "sine")]
    position_embedding_type: String,
    #[serde(default)]
    dilation: Option<bool>,
    #[serde(default)]
    backbone_config: Option<Value>,
    #[serde(default)]
    backbone_kwargs: Option<Value>,
}

fn d_model() -> usize {
    256
}
fn six() -> usize {
    6
}
fn eight() -> usize {
    8
}
fn ffn() -> usize {
    2048
}
fn queries() -> usize {
    100
}
fn relu() -> Activation {
    Activation::Relu
}
fn sine() -> String {
    "sine".into()
}

/// Multi-head scaled dot-product attention of projected `q` `(n, d)` over `k`, `v` `(m, d)`,
/// without masks: `(n, d)`.
pub(crate) fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: usize,
) -> candle_core::Result<Tensor> {
    let (n, d) = q.dims2()?;
    let m = k.dim(0)?;
    let head_dim = d / heads;
    let split = |t: &Tensor, len: usize| t.reshape((len, heads, head_dim))?.transpose(0, 1);
    let (q, k, v) = (split(q, n)?, split(k, m)?, split(v, m)?);
    let scores = (q.contiguous()?.matmul(&k.t()?.contiguous()?)? * (head_dim as f64).powf(-0.5))?;
    let out = softmax_last_dim(&scores)?.matmul(&v.contiguous()?)?;
    out.transpose(0, 1)?.reshape((n, d))
}

/// A stack of linear layers with ReLU between them (`layers.N`), shapes read from the weights:
/// DETR's and YOLOS' `MLPPredictionHead`.
pub(crate) struct PredictionHead {
    layers: Vec<Linear>,
}

impl PredictionHead {
    /// Loads `count` layers under `vb` (`layers.0` … `layers.{count-1}`).
    pub(crate) fn load(vb: VarBuilder, count: usize) -> candle_core::Result<PredictionHead> {
        let layers = (0..count)
            .map(|i| {
                let l = vb.pp(format!("layers.{i}"));
                let (out, input) = l.get_unchecked("weight")?.dims2()?;
                linear(input, out, l)
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(PredictionHead { layers })
    }

    /// The head's output for rows `x`.
    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x)?;
            if i + 1 < self.layers.len() {
                x = x.relu()?;
            }
        }
        Ok(x)
    }
}

/// DETR's attention: positions are added to the query and key inputs by the caller, never to
/// the values.
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn load(vb: VarBuilder, d: usize, heads: usize) -> candle_core::Result<Attention> {
        Ok(Attention {
            q: linear(d, d, vb.pp("q_proj"))?,
            k: linear(d, d, vb.pp("k_proj"))?,
            v: linear(d, d, vb.pp("v_proj"))?,
            out: linear(d, d, vb.pp("out_proj"))?,
            heads,
        })
    }

    fn forward(&self, query: &Tensor, key: &Tensor, value: &Tensor) -> candle_core::Result<Tensor> {
        let (q, k, v) = (
            self.q.forward(query)?,
            self.k.forward(key)?,
            self.v.forward(value)?,
        );
        self.out.forward(&attend(&q, &k, &v, self.heads)?)
    }
}

/// `fc1` → activation → `fc2`.
struct FeedForward {
    fc1: Linear,
    fc2: Linear,
    act: Activation,
}

impl FeedForward {
    fn load(vb: &VarBuilder, d: usize, ffn: usize, act: Activation) -> candle_core::Result<Self> {
        Ok(FeedForward {
            fc1: linear(d, ffn, vb.pp("fc1"))?,
            fc2: linear(ffn, d, vb.pp("fc2"))?,
            act,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.fc2.forward(&self.fc1.forward_activated(x, self.act)?)
    }
}

struct EncoderLayer {
    attn: Attention,
    attn_norm: LayerNorm,
    ffn: FeedForward,
    ffn_norm: LayerNorm,
}

impl EncoderLayer {
    fn load(vb: VarBuilder, c: &Config) -> candle_core::Result<EncoderLayer> {
        let d = c.d_model;
        Ok(EncoderLayer {
            attn: Attention::load(vb.pp("self_attn"), d, c.encoder_attention_heads)?,
            attn_norm: layer_norm(d, 1e-5, vb.pp("self_attn_layer_norm"))?,
            ffn: FeedForward::load(&vb, d, c.encoder_ffn_dim, c.activation_function)?,
            ffn_norm: layer_norm(d, 1e-5, vb.pp("final_layer_norm"))?,
        })
    }

    fn forward(&self, x: &Tensor, pos: &Tensor) -> candle_core::Result<Tensor> {
        let with_pos = (x + pos)?;
        let h = (x + self.attn.forward(&with_pos, &with_pos, x)?)?;
        let h = self.attn_norm.forward(&h)?;
        self.ffn_norm.forward(&(&h + self.ffn.forward(&h)?)?)
    }
}

struct DecoderLayer {
    self_attn: Attention,
    self_norm: LayerNorm,
    cross_attn: Attention,
    cross_norm: LayerNorm,
    ffn: FeedForward,
    ffn_norm: LayerNorm,
}

impl DecoderLayer {
    fn load(vb: VarBuilder, c: &Config) -> candle_core::Result<DecoderLayer> {
        let (d, heads) = (c.d_model, c.decoder_attention_heads);
        Ok(DecoderLayer {
            self_attn: Attention::load(vb.pp("self_attn"), d, heads)?,
            self_norm: layer_norm(d, 1e-5, vb.pp("self_attn_layer_norm"))?,
            cross_attn: Attention::load(vb.pp("encoder_attn"), d, heads)?,
            cross_norm: layer_norm(d, 1e-5, vb.pp("encoder_attn_layer_norm"))?,
            ffn: FeedForward::load(&vb, d, c.decoder_ffn_dim, c.activation_function)?,
            ffn_norm: layer_norm(d, 1e-5, vb.pp("final_layer_norm"))?,
        })
    }

    /// `x` the queries' states, `query_pos` their learned positions, `memory` the encoder's
    /// output with its spatial positions `memory_pos`.
    fn forward(
        &self,
        x: &Tensor,
        query_pos: &Tensor,
        memory: &Tensor,
        memory_pos: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let q = (x + query_pos)?;
        let h = self
            .self_norm
            .forward(&(x + self.self_attn.forward(&q, &q, x)?)?)?;
        let keys = (memory + memory_pos)?;
        let cross = self.cross_attn.forward(&(&h + query_pos)?, &keys, memory)?;
        let h = self.cross_norm.forward(&(&h + cross)?)?;
        self.ffn_norm.forward(&(&h + self.ffn.forward(&h)?)?)
    }
}

/// DETR's normalised sine position embeddings of an `height × width` feature map with no
/// padding: `(height · width, d_model)`, row-major positions, the y features then the x ones.
fn sine_positions(height: usize, width: usize, d_model: usize) -> Vec<f32> {
    let features = d_model / 2;
    let scale = 2.0 * std::f32::consts::PI;
    let dim_t: Vec<f32> = (0..features)
        .map(|i| 10000f32.powf((2 * (i / 2)) as f32 / features as f32))
        .collect();
    let embed = |index: usize, len: usize, out: &mut [f32]| {
        let v = (index + 1) as f32 / (len as f32 + 1e-6) * scale;
        for (j, (o, t)) in out.iter_mut().zip(&dim_t).enumerate() {
            *o = if j % 2 == 0 {
                (v / t).sin()
            } else {
                (v / t).cos()
            };
        }
    };
    let mut out = vec![0f32; height * width * d_model];
    for (p, row) in out.chunks_exact_mut(d_model).enumerate() {
        let (y, x) = (p / width, p % width);
        let (ys, xs) = row.split_at_mut(features);
        embed(y, height, ys);
        embed(x, width, &mut xs[..features]);
    }
    out
}

/// `DetrForObjectDetection` for one image.
pub struct Detr {
    backbone: Backbone,
    input_projection: Conv2d,
    query_positions: Tensor,
    encoder: Vec<EncoderLayer>,
    decoder: Vec<DecoderLayer>,
    decoder_norm: LayerNorm,
    class_head: Linear,
    box_head: PredictionHead,
    d_model: usize,
}

impl Detr {
    /// Loads the weights under `vb` (the checkpoint's root) with `config` (config.json).
    pub fn load(vb: VarBuilder, config: &Value) -> Result<Detr, InferError> {
        let c: Config = serde_json::from_value(config.clone())
            .map_err(|e| InferError::Model(format!("config.json (DETR): {e}")))?;
        let unsupported = |what: &str| InferError::NotSupported {
            architecture: format!("DETR with {what}"),
            task: "object-detection".into(),
        };
        if c.position_embedding_type != "sine" {
            return Err(unsupported(&format!(
                "{:?} position embeddings (only sine)",
                c.position_embedding_type
            )));
        }
        let output_stride = c
            .backbone_config
            .as_ref()
            .and_then(|b| b.get("output_stride"));
        if c.dilation == Some(true) || output_stride.is_some_and(|s| !s.is_null()) {
            return Err(unsupported("a dilated backbone (DC5)"));
        }
        let m = vb.pp("model");
        let b = m.pp("backbone.conv_encoder.model");
        let backbone = if b.contains_tensor("conv1.weight") {
            // DETR reads the last requested feature map; timm's `out_indices` count the stem as 0.
            let out_indices = [&c.backbone_kwargs, &c.backbone_config]
                .iter()
                .find_map(|v| v.as_ref()?.get("out_indices")?.as_array()?.last()?.as_u64());
            if out_indices.is_some_and(|last| last != 4) {
                return Err(unsupported(
                    "a timm backbone not ending at layer4 (out_indices)",
                ));
            }
            timm_resnet::load(b)?
        } else if b.contains_tensor("embedder.embedder.convolution.weight") {
            let bc = c
                .backbone_config
                .as_ref()
                .filter(|b| b.get("model_type").and_then(Value::as_str) == Some("resnet"))
                .ok_or_else(|| {
                    unsupported("transformers backbone weights but no ResNet backbone_config")
                })?;
            let rc: resnet::Config = serde_json::from_value(bc.clone())
                .map_err(|e| InferError::Model(format!("config.json backbone_config: {e}")))?;
            let last = bc
                .get("out_features")
                .and_then(Value::as_array)
                .and_then(|f| f.last());
            let stage = format!("stage{}", rc.depths.len());
            if last.is_some_and(|f| f.as_str() != Some(stage.as_str())) {
                return Err(unsupported(&format!(
                    "a ResNet backbone not ending at {stage} (out_features)"
                )));
            }
            Backbone::load(b, &rc)?
        } else {
            return Err(unsupported(
                "a backbone other than ResNet (no model.backbone.conv_encoder.model.conv1 or \
                 .embedder weights)",
            ));
        };
        let d = c.d_model;
        let input_projection = conv2d(
            backbone.channels(),
            d,
            1,
            Default::default(),
            m.pp("input_projection"),
        )?;
        let encoder = (0..c.encoder_layers)
            .map(|i| EncoderLayer::load(m.pp(format!("encoder.layers.{i}")), &c))
            .collect::<candle_core::Result<_>>()?;
        let decoder = (0..c.decoder_layers)
            .map(|i| DecoderLayer::load(m.pp(format!("decoder.layers.{i}")), &c))
            .collect::<candle_core::Result<_>>()?;
        let classes = vb.get_unchecked("class_labels_classifier.weight")?.dim(0)?;
        Ok(Detr {
            backbone,
            input_projection,
            query_positions: m.get((c.num_queries, d), "query_position_embeddings.weight")?,
            encoder,
            decoder,
            decoder_norm: layer_norm(d, 1e-5, m.pp("decoder.layernorm"))?,
            class_head: linear(d, classes, vb.pp("class_labels_classifier"))?,
            box_head: PredictionHead::load(vb.pp("bbox_predictor"), 3)?,
            d_model: d,
        })
    }

    /// Logits `(queries, labels + 1)` (the last column is no-object) and boxes `(queries, 4)`
    /// (`cx, cy, w, h` relative to the image) of pixel values `(1, 3, H, W)`.
    pub fn forward(&self, pixels: &Tensor) -> Result<(Tensor, Tensor), InferError> {
        let (batch, _, _, _) = pixels.dims4()?;
        if batch != 1 {
            return Err(InferError::InvalidInput(format!(
                "DETR runs one image at a time, not {batch}"
            )));
        }
        let features = self.backbone.forward(pixels)?;
        let (_, _, height, width) = features.dims4()?;
        let memory = self
            .input_projection
            .forward(&features)?
            .flatten_from(2)?
            .squeeze(0)?
            .t()?
            .contiguous()?;
        let pos = Tensor::from_vec(
            sine_positions(height, width, self.d_model),
            (height * width, self.d_model),
            pixels.device(),
        )?;
        let mut memory = memory;
        for layer in &self.encoder {
            memory = layer.forward(&memory, &pos)?;
        }
        let mut x = Tensor::zeros(self.query_positions.shape(), DType::F32, pixels.device())?;
        for layer in &self.decoder {
            x = layer.forward(&x, &self.query_positions, &memory, &pos)?;
        }
        let x = self.decoder_norm.forward(&x)?;
        let logits = self.class_head.forward(&x)?;
        let boxes = candle_nn::ops::sigmoid(&self.box_head.forward(&x)?)?;
        Ok((logits, boxes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_positions_interleave_sin_and_cos_y_before_x() {
        let pos = sine_positions(2, 3, 8);
        assert_eq!(pos.len(), 2 * 3 * 8);
        // Position (row 1, column 2) is the last: y = 2/2 · 2π, x = 3/3 · 2π (≈ 2π, less 1e-6).
        let last = &pos[5 * 8..];
        let v = 2.0 / (2.0 + 1e-6) * 2.0 * std::f32::consts::PI;
        assert!((last[0] - v.sin()).abs() < 1e-6);
        assert!((last[1] - v.cos()).abs() < 1e-6);
        let t = 10000f32.powf(0.5);
        assert!((last[2] - (v / t).sin()).abs() < 1e-6);
        assert!((last[3] - (v / t).cos()).abs() < 1e-6);
        // Row 0, column 0: y = 1/2 · 2π.
        let first_y = 1.0 / (2.0 + 1e-6) * 2.0 * std::f32::consts::PI;
        assert!((pos[0] - first_y.sin()).abs() < 1e-6);
    }
}
