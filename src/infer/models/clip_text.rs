//! CLIP's text encoder (transformers' `CLIPTextModel`, and `CLIPTextModelWithProjection`'s
//! pooled projection) as diffusion pipelines use it: token and position embeddings,
//! pre-LayerNorm layers with causal self-attention, and the final LayerNorm; the whole
//! sequence's hidden states come out (Stable Diffusion's conditioning), with the penultimate
//! layer's and the projected end-of-text state that SDXL reads.
//! Unlike candle's CLIP text model it takes the config's activation (`quick_gelu` for SD 1.x,
//! exact `gelu` for SD 2.x's OpenCLIP encoder) and LayerNorm epsilon, and reads weights saved
//! with or without the `text_model.` prefix (transformers 4 and 5).

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder, embedding, layer_norm};
use serde_json::Value;

use super::elementwise::{gelu_erf, softmax_last_dim};
use super::linear::{Linear, linear, linear_no_bias};

/// The MLP's activation (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClipActivation {
    /// `x · sigmoid(1.702 x)` (OpenAI's CLIP).
    QuickGelu,
    /// Exact (erf) GELU (OpenCLIP).
    Gelu,
    /// GELU's tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
}

impl ClipActivation {
    fn apply(self, xs: &Tensor) -> Result<Tensor> {
        match self {
            ClipActivation::QuickGelu => xs * candle_nn::ops::sigmoid(&(xs * 1.702)?)?,
            ClipActivation::Gelu => gelu_erf(xs),
            ClipActivation::GeluTanh => xs.gelu(),
        }
    }
}

/// The shape of a CLIP text encoder, from its config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipTextSpec {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden width.
    pub hidden: usize,
    /// MLP width.
    pub intermediate: usize,
    /// Attention heads.
    pub heads: usize,
    /// Layers.
    pub layers: usize,
    /// Longest sequence (77 in every Stable Diffusion).
    pub max_positions: usize,
    /// LayerNorm epsilon.
    pub eps: f64,
    /// The MLP's activation.
    pub activation: ClipActivation,
    /// The end-of-text token whose state is pooled.
    pub eos_token_id: u32,
    /// Width of the pooled projection (`CLIPTextModelWithProjection`).
    pub projection_dim: usize,
}

impl ClipTextSpec {
    /// Reads a `CLIPTextModel` config.json (a `text_config` section is read when present).
    pub fn from_config(config: &Value) -> std::result::Result<ClipTextSpec, String> {
        let section = config.get("text_config").unwrap_or(config);
        let size = |key: &str| {
            section
                .get(key)
                .and_then(Value::as_u64)
                .map(|v| v as usize)
                .ok_or_else(|| format!("config.json has no {key}"))
        };
        let activation = match section
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("quick_gelu")
        {
            "quick_gelu" => ClipActivation::QuickGelu,
            "gelu" => ClipActivation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" => ClipActivation::GeluTanh,
            other => return Err(format!("CLIP text encoder with hidden_act {other:?}")),
        };
        let spec = ClipTextSpec {
            vocab_size: size("vocab_size")?,
            hidden: size("hidden_size")?,
            intermediate: size("intermediate_size")?,
            heads: size("num_attention_heads")?,
            layers: size("num_hidden_layers")?,
            max_positions: size("max_position_embeddings")?,
            eps: section
                .get("layer_norm_eps")
                .and_then(Value::as_f64)
                .unwrap_or(1e-5),
            activation,
            eos_token_id: section
                .get("eos_token_id")
                .and_then(Value::as_u64)
                .unwrap_or(49407) as u32,
            projection_dim: size("projection_dim").unwrap_or(512),
        };
        if spec.heads == 0 || !spec.hidden.is_multiple_of(spec.heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                spec.hidden, spec.heads
            ));
        }
        Ok(spec)
    }
}

struct Layer {
    norm1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// A loaded CLIP text encoder.
pub struct ClipTextEncoder {
    token_embedding: Embedding,
    position_embedding: Embedding,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    projection: Option<Linear>,
    spec: ClipTextSpec,
}

/// What one pass gives.
pub struct ClipTextOutput {
    /// The last layer's states after the final LayerNorm `(batch, seq, hidden)`.
    pub last: Tensor,
    /// The second-to-last layer's states, without the final LayerNorm (SDXL's conditioning).
    pub penultimate: Tensor,
    /// The end-of-text token's final state through the text projection `(batch, projection)`,
    /// when the checkpoint has one.
    pub pooled: Option<Tensor>,
}

impl ClipTextEncoder {
    /// Loads the weights (`text_model.…` or bare `embeddings.…`, `encoder.…`).
    pub fn new(root: VarBuilder, spec: &ClipTextSpec) -> Result<ClipTextEncoder> {
        let projection = root
            .contains_tensor("text_projection.weight")
            .then(|| linear_no_bias(spec.hidden, spec.projection_dim, root.pp("text_projection")))
            .transpose()?;
        let vb = if root.contains_tensor("text_model.embeddings.token_embedding.weight") {
            root.pp("text_model")
        } else {
            root
        };
        let (hidden, eps) = (spec.hidden, spec.eps);
        let embeddings = vb.pp("embeddings");
        let token_embedding = embedding(spec.vocab_size, hidden, embeddings.pp("token_embedding"))?;
        let position_embedding = embedding(
            spec.max_positions,
            hidden,
            embeddings.pp("position_embedding"),
        )?;
        let layers = (0..spec.layers)
            .map(|i| {
                let vb = vb.pp("encoder.layers").pp(i);
                let attn = vb.pp("self_attn");
                Ok(Layer {
                    norm1: layer_norm(hidden, eps, vb.pp("layer_norm1"))?,
                    q: linear(hidden, hidden, attn.pp("q_proj"))?,
                    k: linear(hidden, hidden, attn.pp("k_proj"))?,
                    v: linear(hidden, hidden, attn.pp("v_proj"))?,
                    out: linear(hidden, hidden, attn.pp("out_proj"))?,
                    norm2: layer_norm(hidden, eps, vb.pp("layer_norm2"))?,
                    fc1: linear(hidden, spec.intermediate, vb.pp("mlp.fc1"))?,
                    fc2: linear(spec.intermediate, hidden, vb.pp("mlp.fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ClipTextEncoder {
            token_embedding,
            position_embedding,
            layers,
            final_norm: layer_norm(hidden, eps, vb.pp("final_layer_norm"))?,
            projection,
            spec: spec.clone(),
        })
    }

    /// Whether the checkpoint has `CLIPTextModelWithProjection`'s text projection.
    pub fn has_projection(&self) -> bool {
        self.projection.is_some()
    }

    /// The states one pass gives for token ids `(batch, seq)` ([`ClipTextOutput`]).
    pub fn encode(&self, ids: &Tensor) -> Result<ClipTextOutput> {
        let (batch, seq) = ids.dims2()?;
        let device = ids.device();
        let positions = Tensor::arange(0u32, seq as u32, device)?;
        let mut xs = self
            .token_embedding
            .forward(ids)?
            .broadcast_add(&self.position_embedding.forward(&positions)?)?;
        let mask = causal_mask(seq, device)?;
        let heads = self.spec.heads;
        let head_dim = self.spec.hidden / heads;
        let scale = (head_dim as f64).powf(-0.5);
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((batch, seq, heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let mut penultimate = xs.clone();
        for (index, layer) in self.layers.iter().enumerate() {
            if index + 1 == self.layers.len() {
                penultimate = xs.clone();
            }
            let normed = layer.norm1.forward(&xs)?;
            let q = split((layer.q.forward(&normed)? * scale)?)?;
            let k = split(layer.k.forward(&normed)?)?;
            let v = split(layer.v.forward(&normed)?)?;
            let scores = q.matmul(&k.t()?)?.broadcast_add(&mask)?;
            let weights = softmax_last_dim(&scores)?;
            let attended =
                weights
                    .matmul(&v)?
                    .transpose(1, 2)?
                    .reshape((batch, seq, self.spec.hidden))?;
            xs = (xs + layer.out.forward(&attended)?)?;
            let normed = layer.norm2.forward(&xs)?;
            let hidden = self.spec.activation.apply(&layer.fc1.forward(&normed)?)?;
            xs = (xs + layer.fc2.forward(&hidden)?)?;
        }
        let last = self.final_norm.forward(&xs)?;
        let pooled = match &self.projection {
            Some(projection) => {
                let rows = ids.to_vec2::<u32>()?;
                let states = rows
                    .iter()
                    .enumerate()
                    .map(|(b, row)| last.get(b)?.get(self.end_of_text(row)))
                    .collect::<Result<Vec<_>>>()?;
                Some(projection.forward(&Tensor::stack(&states, 0)?)?)
            }
            None => None,
        };
        Ok(ClipTextOutput {
            last,
            penultimate,
            pooled,
        })
    }

    /// Where transformers pools: the first end-of-text token (the largest id for the old
    /// checkpoints whose config says 2).
    fn end_of_text(&self, ids: &[u32]) -> usize {
        let eos = self.spec.eos_token_id;
        if eos == 2 {
            ids.iter()
                .enumerate()
                .max_by_key(|(i, id)| (**id, std::cmp::Reverse(*i)))
                .map_or(0, |(i, _)| i)
        } else {
            ids.iter().position(|id| *id == eos).unwrap_or(0)
        }
    }
}

/// `(seq, seq)` with `-inf` above the diagonal.
fn causal_mask(seq: usize, device: &Device) -> Result<Tensor> {
    let values: Vec<f32> = (0..seq)
        .flat_map(|i| (0..seq).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(values, (seq, seq), device)?.to_dtype(DType::F32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_activation_and_shape_errors_are_read() {
        let config = json!({"vocab_size": 600, "hidden_size": 32, "intermediate_size": 37,
            "num_attention_heads": 4, "num_hidden_layers": 2, "max_position_embeddings": 77,
            "hidden_act": "gelu"});
        let spec = ClipTextSpec::from_config(&config).unwrap();
        assert_eq!(spec.activation, ClipActivation::Gelu);
        assert_eq!((spec.hidden, spec.heads, spec.eps), (32, 4, 1e-5));
        let mut odd = config.clone();
        odd["num_attention_heads"] = json!(5);
        assert!(
            ClipTextSpec::from_config(&odd)
                .unwrap_err()
                .contains("multiple")
        );
        odd["hidden_act"] = json!("relu");
        assert!(
            ClipTextSpec::from_config(&odd)
                .unwrap_err()
                .contains("relu")
        );
    }

    #[test]
    fn the_mask_hides_later_positions() {
        let mask = causal_mask(3, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(mask[0][0], 0.0);
        assert!(mask[0][1].is_infinite() && mask[1][2].is_infinite());
        assert_eq!(mask[2], [0.0, 0.0, 0.0]);
    }
}
