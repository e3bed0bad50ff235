//! Hubble's GGUF llama family: llama.cpp's `llama` layout (Llama 2/3, SmolLM, TinyLlama, ...),
//! and `qwen2`, `qwen3` and `phi3`, which differ only in query/key/value biases (qwen2),
//! per-head query/key RMS norms (qwen3), fused `attn_qkv` and gate/up projections, a partial
//! rotary size and a sliding window (phi3), a head size of their own (`attention.key_length`),
//! and rotating halves of each head (NeoX style) where llama's converted rows rotate
//! interleaved pairs. Llama 3.1+'s `rope_freqs` factors are applied; phi3's LongRoPE
//! (`rope_factors_long`/`_short`) is refused as not supported yet.
//! Written to keep memory near the file's size. For llama the math is candle-transformers'
//! `quantized_llama`, op for op (so the logits are the same), but nothing is kept twice or
//! widened to F32:
//! - the token embedding stays quantised and a pass dequantises only its tokens' rows
//!   (candle-transformers' llama, qwen2, qwen3 and phi3 dequantise the whole table: 113 MB of F32
//!   for SmolLM2's 49152 × 576, 544 MB for Qwen2.5-0.5B's 151936 × 896), and a tied output
//!   head multiplies by that same quantised tensor;
//! - rotary angles are computed for each pass's positions (no 4096-row table, so no limit on
//!   positions but the model's own context length);
//! - each layer's KV cache is never concatenated into a new tensor: on the CPU it has room for
//!   the whole generation reserved once ([`GgufLlama::reserve_kv_cache`]) and is attended where
//!   it lies by `hubble_kernels::attention` (no F32 or per-head copies of it), elsewhere it grows
//!   in place [`KV_CHUNK`] positions at a time; it holds F16 by default (as llama.cpp's does,
//!   and as the Fit tab's estimate assumes): half of F32's 46 KB per position for SmolLM2, with
//!   [`GgufLlama::with_kv_dtype`] for F32;
//! - the causal mask is built for a prompt pass and dropped, not cached per length.
//!
//! Those pieces live in [`crate::infer::models::gguf_blocks`], shared with [`crate::infer::models::gguf_gemma3`].
//! Mixture-of-experts GGUFs (`llama.expert_count` > 1, e.g. Mixtral) are not handled here
//! ([`is_dense`]); they stay on candle-transformers' model.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::{QTensor, gguf_file};
use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::ops::silu;
use candle_nn::rotary_emb::{rope, rope_i};
use candle_transformers::quantized_nn::RmsNorm;

pub use crate::infer::models::gguf_blocks::KV_CHUNK;
use crate::infer::models::gguf_blocks::{
    ArchMetadata, CachedAttention, DecoderShape, GgufTensors, Pass, Projections, Rotary,
    last_position_logits, token_count,
};
use crate::infer::models::quant_linear::Linear;

/// The `general.architecture`s this model loads.
pub const ARCHITECTURES: [&str; 4] = ["llama", "qwen2", "qwen3", "phi3"];

/// Whether the GGUF is a dense llama this model loads (not a mixture of experts).
pub fn is_dense(content: &gguf_file::Content) -> bool {
    ArchMetadata::new(content, "llama").count_or("expert_count", 0) <= 1
}

/// A llama-family GGUF model with its KV cache.
pub struct GgufLlama {
    embedding: Arc<QTensor>,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: Linear,
    rotary: Rotary,
    kv_dtype: DType,
    /// One of [`ARCHITECTURES`].
    arch: &'static str,
    /// phi3's sliding attention window, in positions.
    window: Option<usize>,
}

struct Layer {
    attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    proj: Projections,
    /// Query, key and value biases (qwen2).
    biases: [Option<Tensor>; 3],
    /// Per-head query and key norms (qwen3).
    qk_norms: Option<(RmsNorm, RmsNorm)>,
    /// Rotate interleaved pairs (llama's permuted rows) rather than halves.
    interleaved: bool,
    /// How many of each head's dimensions rotate.
    rope_dim: usize,
    attention: CachedAttention,
}

impl GgufLlama {
    /// Loads the weights named in `content` (architecture `arch`, one of [`ARCHITECTURES`])
    /// from `reader`, one tensor at a time (the token embedding, the largest, first, while
    /// nothing else is loaded).
    pub fn from_gguf<R: Read + Seek>(
        content: &gguf_file::Content,
        arch: &str,
        reader: &mut R,
        device: &Device,
    ) -> Result<GgufLlama> {
        let Some(arch) = ARCHITECTURES.into_iter().find(|known| *known == arch) else {
            candle_core::bail!("{arch} is not a llama-family GGUF architecture")
        };
        let md = ArchMetadata::new(content, arch);
        let DecoderShape {
            heads,
            kv_heads,
            blocks,
            hidden,
            eps,
        } = md.decoder_shape()?;
        if !content
            .metadata
            .contains_key(&format!("{arch}.attention.key_length"))
            && !hidden.is_multiple_of(heads)
        {
            candle_core::bail!("{hidden} dimensions do not split into {heads} heads")
        }
        let head_dim = md.count_or("attention.key_length", hidden / heads);
        let rope_dim = md.count_or("rope.dimension_count", head_dim);
        if rope_dim == 0 || rope_dim > head_dim || rope_dim % 2 == 1 {
            candle_core::bail!("a rotary size of {rope_dim} does not fit heads of {head_dim}")
        }
        let freq_base = md.float_or("rope.freq_base", 10000.);
        let scale = 1. / (head_dim as f64).sqrt();
        // Phi-3's LongRoPE (per-dimension factors switched by context length, plus an
        // attention factor) is not implemented: refuse rather than rotate wrongly.
        if let Some(name) = ["rope_factors_long.weight", "rope_factors_short.weight"]
            .into_iter()
            .find(|name| content.tensor_infos.contains_key(*name))
        {
            candle_core::bail!("{name}: LongRoPE scaling is not supported yet")
        }
        let mut tensors = GgufTensors::new(content, reader, device, eps);
        // Llama 3.1+'s frequency factors (llama.cpp's `rope_freqs`), one per rotated pair.
        let freq_factors = tensors.optional("rope_freqs.weight")?;
        let (embedding, output) = tensors.embedding_and_head()?;
        let norm = tensors.output_norm()?;
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let qk_norms = match (
                tensors.optional_norm(i, "attn_q_norm")?,
                tensors.optional_norm(i, "attn_k_norm")?,
            ) {
                (Some(q), Some(k)) => Some((q, k)),
                _ => None,
            };
            layers.push(Layer {
                proj: tensors.projections(i, heads * head_dim, kv_heads * head_dim)?,
                biases: [
                    tensors.optional_bias(i, "attn_q")?,
                    tensors.optional_bias(i, "attn_k")?,
                    tensors.optional_bias(i, "attn_v")?,
                ],
                qk_norms,
                attn_norm: tensors.norm(i, "attn_norm")?,
                ffn_norm: tensors.norm(i, "ffn_norm")?,
                interleaved: arch == "llama",
                rope_dim,
                attention: CachedAttention::new(heads, kv_heads, head_dim, scale),
            });
        }
        Ok(GgufLlama {
            embedding,
            layers,
            norm,
            output,
            rotary: Rotary::new(rope_dim, freq_base, 1., device)?
                .with_factors(freq_factors.as_ref())?,
            window: (arch == "phi3")
                .then(|| md.count("attention.sliding_window").ok())
                .flatten(),
            kv_dtype: DType::F16,
            arch,
        })
    }

    /// The GGUF architecture it was loaded as (one of [`ARCHITECTURES`]).
    pub fn architecture(&self) -> &'static str {
        self.arch
    }

    /// The same model with its KV cache held in `dtype` (F16 unless asked; F32 computes
    /// exactly as candle-transformers' quantized llama does). Clears the cache.
    pub fn with_kv_dtype(mut self, dtype: DType) -> GgufLlama {
        self.kv_dtype = dtype;
        self.clear_kv_cache();
        self
    }

    /// Runs `tokens` (shape `(1, seq)`, U32) at positions `pos..`, extending the KV cache (a pass
    /// at position 0 starts a new one), and returns the logits of the last position, `(1, vocab)`.
    pub fn forward(&mut self, tokens: &Tensor, pos: usize) -> Result<Tensor> {
        let seq = token_count(tokens)?;
        let pass = Pass::new(&self.rotary, pos, seq, self.window, self.kv_dtype)?;
        let mut x = self.embedding.embedding(tokens)?;
        for layer in &mut self.layers {
            let attn = layer.attention(&layer.attn_norm.forward(&x)?, &pass)?;
            let x1 = (attn + &x)?;
            x = (layer.mlp(&layer.ffn_norm.forward(&x1)?)? + &x1)?;
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

impl Layer {
    fn attention(&mut self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let (q, k, v) = self.proj.qkv(x)?;
        let biased = |y: Tensor, bias: &Option<Tensor>| match bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        };
        let [bq, bk, bv] = &self.biases;
        let (q, k, v) =
            self.attention
                .split_heads((biased(q, bq)?, biased(k, bk)?, biased(v, bv)?))?;
        let (q, k) = match &self.qk_norms {
            Some((q_norm, k_norm)) => (q_norm.forward(&q)?, k_norm.forward(&k)?),
            None => (q, k),
        };
        let q = self.rotate(&q, pass)?;
        let k = self.rotate(&k, pass)?;
        let y = self.attention.attend(&q, &k, &v, pass)?;
        self.proj.o.forward(&y)
    }

    fn rotate(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        rotate_first(x, self.rope_dim, self.interleaved, &pass.cos, &pass.sin)
    }

    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        let (gate, up) = self.proj.gate_up(x)?;
        self.proj.down.forward(&(silu(&gate)? * up)?)
    }
}

/// Rotates the first `rope_dim` dimensions of each head of `x` (all of them but in
/// partial-rotary models), in interleaved pairs or halves; the rest pass unchanged.
fn rotate_first(
    x: &Tensor,
    rope_dim: usize,
    interleaved: bool,
    cos: &Tensor,
    sin: &Tensor,
) -> Result<Tensor> {
    let rotate = if interleaved { rope_i } else { rope };
    let head_dim = x.dim(D::Minus1)?;
    if rope_dim == head_dim {
        return rotate(x, cos, sin);
    }
    let turned = rotate(&x.narrow(D::Minus1, 0, rope_dim)?.contiguous()?, cos, sin)?;
    let kept = x.narrow(D::Minus1, rope_dim, head_dim - rope_dim)?;
    Tensor::cat(&[&turned, &kept], D::Minus1)?.contiguous()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use candle_core::quantized::GgmlDType;
    use candle_core::quantized::gguf_file::Value;
    use candle_transformers::models::quantized_llama::ModelWeights;

    use super::*;
    use crate::infer::models::gguf_blocks::max_abs_diff;

    const VOCAB: usize = 96;
    const HIDDEN: usize = 64;
    const FFN: usize = 128;
    const HEADS: u32 = 4;
    const KV_HEADS: u32 = 2;
    const LAYERS: usize = 2;

    /// A tiny random llama GGUF (in memory) with Q8_0 embeddings, Q4_1/Q8_0 layers and F32
    /// norms; with `tied`, no `output.weight` (the head is the embedding, as in SmolLM2).
    fn tiny_gguf(tied: bool) -> Vec<u8> {
        let device = Device::Cpu;
        let mut seed = 0u32;
        let mut random = |rows: usize, cols: usize, scale: f32| {
            let values: Vec<f32> = (0..rows * cols)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    ((seed >> 8) as f32 / (1 << 24) as f32 - 0.5) * scale
                })
                .collect();
            Tensor::from_vec(values, (rows, cols), &device).unwrap()
        };
        let quantize = |t: Tensor, dtype| QTensor::quantize(&t, dtype).unwrap();
        let mut tensors = vec![(
            "token_embd.weight".to_string(),
            quantize(random(VOCAB, HIDDEN, 2.0), GgmlDType::Q8_0),
        )];
        let norm = |random: &mut dyn FnMut(usize, usize, f32) -> Tensor| {
            let t = (random(1, HIDDEN, 0.4).squeeze(0).unwrap() + 1.0).unwrap();
            quantize(t, GgmlDType::F32)
        };
        tensors.push(("output_norm.weight".into(), norm(&mut random)));
        if !tied {
            let head = random(VOCAB, HIDDEN, 0.5);
            tensors.push(("output.weight".into(), quantize(head, GgmlDType::Q4_1)));
        }
        let kv = HIDDEN / HEADS as usize * KV_HEADS as usize;
        for i in 0..LAYERS {
            let shapes = [
                ("attn_q", HIDDEN, HIDDEN, GgmlDType::Q4_1),
                ("attn_k", kv, HIDDEN, GgmlDType::Q4_1),
                ("attn_v", kv, HIDDEN, GgmlDType::Q8_0),
                ("attn_output", HIDDEN, HIDDEN, GgmlDType::Q4_1),
                ("ffn_gate", FFN, HIDDEN, GgmlDType::Q4_1),
                ("ffn_up", FFN, HIDDEN, GgmlDType::Q4_1),
                ("ffn_down", HIDDEN, FFN, GgmlDType::Q8_0),
            ];
            for (name, rows, cols, dtype) in shapes {
                let weight = quantize(random(rows, cols, 0.6), dtype);
                tensors.push((format!("blk.{i}.{name}.weight"), weight));
            }
            tensors.push((format!("blk.{i}.attn_norm.weight"), norm(&mut random)));
            tensors.push((format!("blk.{i}.ffn_norm.weight"), norm(&mut random)));
        }
        let metadata = [
            ("general.architecture", Value::String("llama".into())),
            ("llama.block_count", Value::U32(LAYERS as u32)),
            ("llama.embedding_length", Value::U32(HIDDEN as u32)),
            ("llama.attention.head_count", Value::U32(HEADS)),
            ("llama.attention.head_count_kv", Value::U32(KV_HEADS)),
            (
                "llama.rope.dimension_count",
                Value::U32(HIDDEN as u32 / HEADS),
            ),
            ("llama.rope.freq_base", Value::F32(100000.)),
            ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ];
        let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
        let mut file = Cursor::new(Vec::new());
        gguf_file::write(&mut file, &metadata, &tensors).unwrap();
        file.into_inner()
    }

    /// The prompt's logits, then greedy steps, beside candle-transformers' quantized llama
    /// (which keeps its KV cache in F32): within `tolerance` of the largest logit, and the same
    /// greedy tokens.
    fn matches_candle_transformers(tied: bool, kv_dtype: DType, tolerance: f32) {
        let bytes = tiny_gguf(tied);
        let device = Device::Cpu;
        let content = gguf_file::Content::read(&mut Cursor::new(&bytes)).unwrap();
        assert!(is_dense(&content));
        let mut ours = GgufLlama::from_gguf(&content, "llama", &mut Cursor::new(&bytes), &device)
            .unwrap()
            .with_kv_dtype(kv_dtype);
        let mut theirs =
            ModelWeights::from_gguf(content, &mut Cursor::new(&bytes), &device).unwrap();
        let mut tokens = vec![3u32, 17, 42, 5, 90, 61, 8];
        let mut pos = 0;
        // Past one KV chunk, so the cache grows in place at least once.
        while tokens.len() < KV_CHUNK + 10 {
            let input = Tensor::new(&tokens[pos..], &device)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let a = ours.forward(&input, pos).unwrap();
            let b = theirs.forward(&input, pos).unwrap();
            assert_eq!(a.dims(), [1, VOCAB]);
            let diff = max_abs_diff(&a, &b);
            let largest: f32 = b.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
            assert!(
                diff <= tolerance * largest,
                "position {pos}: logits differ by {diff} (largest {largest})"
            );
            let greedy = |logits: &Tensor| -> u32 {
                logits
                    .squeeze(0)
                    .unwrap()
                    .argmax(0)
                    .unwrap()
                    .to_scalar()
                    .unwrap()
            };
            let (next_a, next_b) = (greedy(&a), greedy(&b));
            assert_eq!(next_a, next_b, "greedy token after position {pos}");
            pos = tokens.len();
            tokens.push(next_a);
        }
        // A new conversation at position 0 starts from an empty cache in both.
        let input = Tensor::new(&tokens[..4], &device)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let a = ours.forward(&input, 0).unwrap();
        let b = theirs.forward(&input, 0).unwrap();
        let largest: f32 = b.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(max_abs_diff(&a, &b) <= tolerance * largest);
    }

    #[test]
    fn tied_head_matches_candle_transformers() {
        matches_candle_transformers(true, DType::F32, 1e-5);
    }

    #[test]
    fn separate_head_matches_candle_transformers() {
        matches_candle_transformers(false, DType::F32, 1e-5);
    }

    /// The default F16 cache rounds keys and values to 11 significant bits: the same greedy
    /// tokens, logits within 3% of the largest (this random model's weights are large, so it
    /// amplifies rounding far more than a trained one: see the SmolLM2 real-weights test).
    #[test]
    fn an_f16_kv_cache_stays_close_to_f32() {
        matches_candle_transformers(true, DType::F16, 3e-2);
        matches_candle_transformers(false, DType::F16, 3e-2);
    }

    /// A prompt run in two passes (as `CausalModel` splits long ones) gives exactly the logits
    /// of one pass: every step but attention works row by row, and attention reads the cache.
    #[test]
    fn a_prompt_split_into_passes_gives_the_same_logits() {
        let bytes = tiny_gguf(true);
        let content = gguf_file::Content::read(&mut Cursor::new(&bytes)).unwrap();
        let mut model =
            GgufLlama::from_gguf(&content, "llama", &mut Cursor::new(&bytes), &Device::Cpu)
                .unwrap();
        let tokens: Vec<u32> = (0..40).map(|i| (i * 7 + 3) % VOCAB as u32).collect();
        let input = |range: std::ops::Range<usize>| {
            Tensor::new(&tokens[range], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap()
        };
        model.reserve_kv_cache(tokens.len());
        let whole = model.forward(&input(0..40), 0).unwrap();
        model.forward(&input(0..25), 0).unwrap();
        let split = model.forward(&input(25..40), 25).unwrap();
        assert_eq!(max_abs_diff(&whole, &split), 0.);
    }

    #[test]
    fn partial_rotary_turns_only_the_first_dimensions() {
        let device = Device::Cpu;
        let x = Tensor::arange(0f32, 24., &device)
            .unwrap()
            .reshape((1, 1, 2, 12))
            .unwrap();
        let rotary = Rotary::new(8, 10000., 1., &device).unwrap();
        let (cos, sin) = rotary.angles(3, 2).unwrap();
        let partial = rotate_first(&x, 8, false, &cos, &sin).unwrap();
        let head = x.narrow(D::Minus1, 0, 8).unwrap().contiguous().unwrap();
        let full = rope(&head, &cos, &sin).unwrap();
        let got = partial.narrow(D::Minus1, 0, 8).unwrap();
        assert_eq!(max_abs_diff(&got, &full), 0.);
        let tail = |t: &Tensor| t.narrow(D::Minus1, 8, 4).unwrap().contiguous().unwrap();
        assert_eq!(max_abs_diff(&tail(&partial), &tail(&x)), 0.);
    }

    #[test]
    fn bad_head_counts_are_errors_not_panics() {
        let bytes = tiny_gguf(true);
        let mut content = gguf_file::Content::read(&mut Cursor::new(&bytes)).unwrap();
        content
            .metadata
            .insert("llama.attention.head_count_kv".into(), Value::U32(0));
        let err = GgufLlama::from_gguf(&content, "llama", &mut Cursor::new(&bytes), &Device::Cpu)
            .err()
            .unwrap();
        assert!(err.to_string().contains("KV heads"), "{err}");
        content
            .metadata
            .insert("llama.expert_count".into(), Value::U32(8));
        assert!(!is_dense(&content));
    }

    #[test]
    fn long_rope_files_are_refused_not_rotated_wrongly() {
        let bytes = tiny_gguf(true);
        let mut content = gguf_file::Content::read(&mut Cursor::new(&bytes)).unwrap();
        let norm = &content.tensor_infos["output_norm.weight"];
        let info = gguf_file::TensorInfo {
            ggml_dtype: norm.ggml_dtype,
            shape: norm.shape.clone(),
            offset: norm.offset,
        };
        content
            .tensor_infos
            .insert("rope_factors_short.weight".into(), info);
        let err = GgufLlama::from_gguf(&content, "llama", &mut Cursor::new(&bytes), &Device::Cpu)
            .err()
            .unwrap();
        assert!(err.to_string().contains("LongRoPE"), "{err}");
    }
}
