//! Hubble's GGUF Gemma 3 (llama.cpp's `gemma3` layout, text only). candle-transformers 0.11's
//! `quantized_gemma3` gates its feed-forward with SiLU where Gemma uses tanh-approximated GELU,
//! so its logits are wrong (0.49 off PyTorch on the tiny checkpoint of `tests/infer/parity.rs`);
//! this one follows transformers' `Gemma3ForCausalLM` and llama.cpp's reading of the file:
//! - the embedding is scaled by `sqrt(hidden)`, kept quantised and shared with the tied head;
//! - per-head RMS norms on queries and keys, norms before and after both the attention and the
//!   feed-forward (llama.cpp stores Gemma's `1 + w` norm weights already added up);
//! - sliding-window layers (`attention.sliding_window`, every layer but each sixth unless
//!   `attention.sliding_window_pattern` lists them) rotate with `rope.local_freq_base`
//!   (10,000 by default), the global ones with `rope.freq_base` and its linear
//!   `rope.scaling.factor`;
//! - scores scaled by `1 / sqrt(head_dim)`, or `1 / sqrt(hidden / heads)` for the 62-layer 27B,
//!   as llama.cpp does (transformers' `query_pre_attn_scalar`, which GGUF does not carry);
//! - the KV cache of [`crate::infer::models::gguf_blocks`]: grown in place, F16 unless asked.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::{QTensor, gguf_file};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::rotary_emb::rope;
use candle_transformers::quantized_nn::RmsNorm;

use crate::infer::models::gguf_blocks::{
    ArchMetadata, CachedAttention, DecoderShape, GgufTensors, Pass, Projections, Rotary,
    last_position_logits, token_count,
};
use crate::infer::models::quant_linear::Linear;

/// Layers per global-attention layer when the file lists none (llama.cpp's Gemma 3 default).
const SLIDING_PERIOD: usize = 6;

/// A Gemma 3 GGUF model with its KV cache.
pub struct GgufGemma3 {
    embedding: Arc<QTensor>,
    /// `sqrt(hidden)`.
    embed_scale: f64,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: Linear,
    global_rotary: Rotary,
    local_rotary: Rotary,
    window: usize,
    kv_dtype: DType,
}

struct Layer {
    attn_norm: RmsNorm,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    post_attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    post_ffn_norm: RmsNorm,
    proj: Projections,
    attention: CachedAttention,
    sliding: bool,
}

impl GgufGemma3 {
    /// Loads the weights named in `content` from `reader`, the token embedding first.
    pub fn from_gguf<R: Read + Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<GgufGemma3> {
        let Gemma3Layout {
            shape:
                DecoderShape {
                    heads,
                    kv_heads,
                    blocks,
                    hidden,
                    eps,
                },
            head_dim,
            window,
            sliding,
            global_base,
            local_base,
            rope_scale,
            score_dim,
        } = Gemma3Layout::read(content)?;
        let global_rotary = Rotary::new(head_dim, global_base, rope_scale, device)?;
        let local_rotary = Rotary::new(head_dim, local_base, 1., device)?;
        let scale = 1. / (score_dim as f64).sqrt();
        let mut tensors = GgufTensors::new(content, reader, device, eps);
        let (embedding, output) = tensors.embedding_and_head()?;
        let norm = tensors.output_norm()?;
        let mut layers = Vec::with_capacity(blocks);
        for (i, &sliding) in sliding.iter().enumerate() {
            layers.push(Layer {
                proj: tensors.projections(i, heads * head_dim, kv_heads * head_dim)?,
                attn_norm: tensors.norm(i, "attn_norm")?,
                q_norm: tensors.norm(i, "attn_q_norm")?,
                k_norm: tensors.norm(i, "attn_k_norm")?,
                post_attn_norm: tensors.norm(i, "post_attention_norm")?,
                ffn_norm: tensors.norm(i, "ffn_norm")?,
                post_ffn_norm: tensors.norm(i, "post_ffw_norm")?,
                attention: CachedAttention::new(heads, kv_heads, head_dim, scale),
                sliding,
            });
        }
        Ok(GgufGemma3 {
            embedding,
            embed_scale: (hidden as f64).sqrt(),
            layers,
            norm,
            output,
            global_rotary,
            local_rotary,
            window,
            kv_dtype: DType::F16,
        })
    }

    /// The same model with its KV cache held in `dtype` (F16 unless asked). Clears the cache.
    pub fn with_kv_dtype(mut self, dtype: DType) -> GgufGemma3 {
        self.kv_dtype = dtype;
        self.clear_kv_cache();
        self
    }

    /// Runs `tokens` (shape `(1, seq)`, U32) at positions `pos..`, extending the KV cache (a pass
    /// at position 0 starts a new one), and returns the logits of the last position, `(1, vocab)`.
    pub fn forward(&mut self, tokens: &Tensor, pos: usize) -> Result<Tensor> {
        let seq = token_count(tokens)?;
        let global = Pass::new(&self.global_rotary, pos, seq, None, self.kv_dtype)?;
        let local = Pass::new(
            &self.local_rotary,
            pos,
            seq,
            Some(self.window),
            self.kv_dtype,
        )?;
        let mut x = (self.embedding.embedding(tokens)? * self.embed_scale)?;
        for layer in &mut self.layers {
            let pass = if layer.sliding { &local } else { &global };
            let attn = layer.attention(&layer.attn_norm.forward(&x)?, pass)?;
            x = (layer.post_attn_norm.forward(&attn)? + x)?;
            let ffn = layer.mlp(&layer.ffn_norm.forward(&x)?)?;
            x = (layer.post_ffn_norm.forward(&ffn)? + x)?;
        }
        last_position_logits(&x, &self.norm, &self.output)
    }

    /// Forgets the KV cache.
    pub fn clear_kv_cache(&mut self) {
        for layer in &mut self.layers {
            layer.attention.clear();
        }
    }

    /// Starts an empty KV cache with room in every layer for `positions` positions at once (a
    /// prompt and the tokens it may generate), so that a CPU cache never grows during a
    /// generation; all layers' room is taken together, before any pass.
    pub fn reserve_kv_cache(&mut self, positions: usize) {
        let device = self.embedding.device();
        for layer in &mut self.layers {
            layer.attention.reserve(positions, &device, self.kv_dtype);
        }
    }
}

/// How a Gemma 3 GGUF is laid out, as llama.cpp reads its metadata (shared by the CPU model
/// and the wgpu one).
pub(crate) struct Gemma3Layout {
    pub shape: DecoderShape,
    /// `attention.key_length`.
    pub head_dim: usize,
    /// `attention.sliding_window`, in positions.
    pub window: usize,
    /// Which layers attend through the window ([`sliding_layers`]).
    pub sliding: Vec<bool>,
    /// `rope.freq_base` of the global layers.
    pub global_base: f32,
    /// `rope.local_freq_base` of the sliding ones (10,000 unless given).
    pub local_base: f32,
    /// The global layers' linear `rope.scaling.factor` (1: none).
    pub rope_scale: f32,
    /// Scores are scaled by `1 / sqrt(score_dim)`: the head size, or `hidden / heads` for the
    /// 62-layer 27B, as llama.cpp does (GGUF does not carry `query_pre_attn_scalar`).
    pub score_dim: usize,
}

impl Gemma3Layout {
    /// Reads it from `content`; an error without a head size or a sliding window.
    pub fn read(content: &gguf_file::Content) -> Result<Gemma3Layout> {
        let md = ArchMetadata::new(content, "gemma3");
        let shape = md.decoder_shape()?;
        let head_dim = md.count("attention.key_length")?;
        let window = md.count("attention.sliding_window")?;
        if head_dim == 0 || head_dim % 2 == 1 || window == 0 {
            candle_core::bail!("a Gemma 3 GGUF needs an even head size and a sliding window")
        }
        let score_dim = if shape.blocks == 62 {
            shape.hidden / shape.heads
        } else {
            head_dim
        };
        Ok(Gemma3Layout {
            sliding: sliding_layers(content, shape.blocks),
            global_base: md.float_or("rope.freq_base", 1_000_000.),
            local_base: md.float_or("rope.local_freq_base", 10_000.),
            rope_scale: md.float_or("rope.scaling.factor", 1.).max(1.),
            shape,
            head_dim,
            window,
            score_dim,
        })
    }
}

/// Which layers attend through the sliding window: `gemma3.attention.sliding_window_pattern`
/// (one flag per layer) when the file has it, else all but each [`SLIDING_PERIOD`]-th.
fn sliding_layers(content: &gguf_file::Content, blocks: usize) -> Vec<bool> {
    let listed = content
        .metadata
        .get("gemma3.attention.sliding_window_pattern")
        .and_then(|v| v.to_vec().ok())
        .map(|flags| {
            flags
                .iter()
                .map(|f| f.to_bool().unwrap_or(true))
                .collect::<Vec<_>>()
        })
        .filter(|flags| flags.len() == blocks);
    listed.unwrap_or_else(|| (0..blocks).map(|i| (i + 1) % SLIDING_PERIOD != 0).collect())
}

impl Layer {
    fn attention(&mut self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let (q, k, v) = self.attention.split_heads(self.proj.qkv(x)?)?;
        let q = rope(&self.q_norm.forward(&q)?, &pass.cos, &pass.sin)?;
        let k = rope(&self.k_norm.forward(&k)?, &pass.cos, &pass.sin)?;
        let y = self.attention.attend(&q, &k, &v, pass)?;
        self.proj.o.forward(&y)
    }

    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        let (gate, up) = self.proj.gate_up(x)?;
        self.proj.down.forward(&(gate.gelu()? * up)?)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::gguf_file::Value;

    use super::*;

    fn content(pattern: Option<Value>) -> gguf_file::Content {
        let mut metadata = std::collections::HashMap::new();
        if let Some(pattern) = pattern {
            metadata.insert("gemma3.attention.sliding_window_pattern".into(), pattern);
        }
        gguf_file::Content {
            magic: gguf_file::VersionedMagic::GgufV3,
            metadata,
            tensor_infos: Default::default(),
            tensor_data_offset: 0,
        }
    }

    #[test]
    fn every_sixth_layer_is_global_unless_the_file_says_otherwise() {
        let default = sliding_layers(&content(None), 7);
        assert_eq!(default, [true, true, true, true, true, false, true]);
        let listed = Value::Array(vec![Value::Bool(true), Value::Bool(false)]);
        assert_eq!(sliding_layers(&content(Some(listed)), 2), [true, false]);
        // A list of the wrong length is ignored rather than trusted.
        let short = Value::Array(vec![Value::Bool(false)]);
        assert_eq!(sliding_layers(&content(Some(short)), 2), [true, true]);
    }
}
