//! The llama family of decoders on a wgpu device: GGUF `llama`, `qwen2`, `qwen3` and `phi3`
//! (the same layouts as [`crate::infer::models::gguf_llama`]; loader in `gpu_llama/gguf.rs`),
//! and transformers' llama, mistral, qwen2, qwen3, phi3 and Gemma 1–3 checkpoints in F32, F16
//! or BF16 (`gpu_llama/transformers.rs`; Gemma's GeGLU, embedding scale, soft caps, sandwich
//! norms, sliding layers with their own rotary base). The weights go from the file to the
//! GPU as stored (quantised blocks, no F32 copy in RAM), the KV cache lives on the GPU, and a
//! pass of every layer is recorded into one command buffer and submitted once. Only the
//! last position's logits come back (or just the greedy token, [`GpuLlama::next_greedy`]).
//!
//! Rotary angles are computed on the host exactly as the CPU path computes them (GPU `sin`
//! and `cos` are only promised to 2⁻¹¹), and uploaded per pass: a few hundred floats.

use std::sync::Arc;

use hubble_gpu::ops::{self, Attention, KvCache, Rotation, Rows};
use hubble_gpu::{Buffer, Gate, Gpu, GpuError, KvType, Pass, Weight};

use crate::infer::InferError;
use crate::infer::models::gpu_tensors::gpu_error;

mod gguf;
mod transformers;

pub use gguf::weight_type;

/// The most tokens one pass records (a longer prompt runs in passes of this many).
const PASS_TOKENS: usize = 64;

/// Positions a fresh model's cache holds before the first generation reserves its own.
const INITIAL_POSITIONS: usize = 256;

/// The sizes the kernels need.
#[derive(Debug, Clone, Copy)]
struct Dims {
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    rope_dim: usize,
    ff: usize,
    vocab: usize,
    eps: f32,
    neox: bool,
    /// Embeddings are multiplied by this (Gemma: √hidden; 1 elsewhere).
    embed_scale: f32,
    /// The feed-forward's activation.
    gate: Gate,
    /// Attention score scale (1/√head_dim, or Gemma 2/3's query_pre_attn_scalar).
    attn_scale: f32,
    /// Gemma 2's soft caps on attention scores and final logits (0: none).
    attn_softcap: f32,
    final_softcap: f32,
}

impl Dims {
    fn q_width(&self) -> usize {
        self.heads * self.head_dim
    }

    fn kv_width(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

enum Qkv {
    Separate([Weight; 3]),
    Fused(Weight),
}

enum GateUp {
    Separate(Weight, Weight),
    Fused(Weight),
}

struct Layer {
    attn_norm: Buffer,
    ffn_norm: Buffer,
    /// Gemma 2/3's norms of the attention and feed-forward outputs before their residual adds.
    post_norms: Option<(Buffer, Buffer)>,
    /// Sliding window in positions (0: full attention).
    window: usize,
    /// Rotates with the local frequencies (Gemma 3's sliding layers).
    local_rope: bool,
    qkv: Qkv,
    biases: [Option<Buffer>; 3],
    qk_norms: Option<(Buffer, Buffer)>,
    o: Weight,
    gate_up: GateUp,
    down: Weight,
}

/// The weights outside the layers' loop, and the layers, as a loader reads them.
struct Parts {
    gguf: bool,
    embedding: Weight,
    head: Option<Weight>,
    norm: Buffer,
    layers: Vec<Layer>,
}

/// Activations for up to [`PASS_TOKENS`] tokens, allocated once.
struct Scratch {
    ids: Buffer,
    angles: Buffer,
    local_angles: Buffer,
    x: Buffer,
    normed: Buffer,
    /// Queries, keys and values side by side (`q | k | v` per token).
    qkv: Buffer,
    /// Per-head normed queries and keys (qwen3), same layout.
    qkv_normed: Buffer,
    attn: Buffer,
    projected: Buffer,
    gate_up: Buffer,
    gated: Buffer,
    logits: Buffer,
    token: Buffer,
    /// Attention scores; grows with the context.
    scores: Option<Buffer>,
}

/// A llama-family decoder on a wgpu device, with its KV cache there.
pub struct GpuLlama {
    gpu: Arc<Gpu>,
    dims: Dims,
    embedding: Weight,
    /// `output.weight`; `None` when tied to the embedding.
    head: Option<Weight>,
    norm: Buffer,
    layers: Vec<Layer>,
    inv_freq: Vec<f32>,
    /// Gemma 3's sliding layers' frequencies (empty elsewhere).
    local_inv_freq: Vec<f32>,
    kv_type: KvType,
    caches: Vec<KvCache>,
    scratch: Scratch,
    arch: &'static str,
    /// Loaded from a GGUF (else from safetensors).
    gguf: bool,
}

impl GpuLlama {
    /// The model from its parts; `frequencies` are the rotary inverse frequencies of the full
    /// layers and of the sliding ones (empty: the same).
    fn assemble(
        gpu: Arc<Gpu>,
        dims: Dims,
        parts: Parts,
        frequencies: [Vec<f32>; 2],
        arch: &'static str,
    ) -> Result<GpuLlama, InferError> {
        let [inv_freq, local_inv_freq] = frequencies;
        let scratch = Scratch::new(&gpu, &dims)?;
        let mut model = GpuLlama {
            dims,
            embedding: parts.embedding,
            head: parts.head,
            norm: parts.norm,
            layers: parts.layers,
            inv_freq,
            local_inv_freq,
            kv_type: KvType::F16,
            caches: Vec::new(),
            scratch,
            gguf: parts.gguf,
            arch,
            gpu,
        };
        model.reserve_kv_cache(INITIAL_POSITIONS)?;
        Ok(model)
    }

    /// The architecture it was loaded as (a GGUF's, or `mistral` from safetensors).
    pub fn architecture(&self) -> &'static str {
        self.arch
    }

    /// Whether it was loaded from a GGUF (else from safetensors).
    pub fn is_gguf(&self) -> bool {
        self.gguf
    }

    /// Its vocabulary size (the logits' length).
    pub fn vocab(&self) -> usize {
        self.dims.vocab
    }

    /// The device it computes on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The same model with its KV cache in `kv_type` (F16 unless asked); clears the cache.
    pub fn with_kv_type(mut self, kv_type: KvType) -> Result<GpuLlama, InferError> {
        self.kv_type = kv_type;
        self.caches.clear();
        self.reserve_kv_cache(INITIAL_POSITIONS)?;
        Ok(self)
    }

    /// Starts an empty cache with room for `positions` positions in every layer.
    pub fn reserve_kv_cache(&mut self, positions: usize) -> Result<(), InferError> {
        let positions = positions.max(1);
        if self
            .caches
            .first()
            .is_some_and(|c| c.capacity() >= positions)
        {
            return Ok(());
        }
        self.caches.clear();
        for _ in &self.layers {
            let cache = KvCache::new(&self.gpu, self.dims.kv_width(), positions, self.kv_type);
            self.caches.push(cache.map_err(gpu_error)?);
        }
        Ok(())
    }

    /// Runs `tokens` at positions `pos..` (extending the cache) and returns the last
    /// position's logits.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, InferError> {
        self.prepare(tokens, pos)?;
        let pass = self.record(tokens, pos)?;
        let mut logits = pass.submit_and_read_f32(&self.scratch.logits, 0, self.dims.vocab);
        // Gemma 2's final soft cap (monotonic: the greedy token needs none).
        let cap = self.dims.final_softcap;
        if let Ok(logits) = &mut logits
            && cap > 0.0
        {
            logits.iter_mut().for_each(|l| *l = (*l / cap).tanh() * cap);
        }
        logits.map_err(gpu_error)
    }

    /// Runs `tokens` at positions `pos..` and returns only the most likely next token: one
    /// number read back instead of the vocabulary.
    pub fn next_greedy(&mut self, tokens: &[u32], pos: usize) -> Result<u32, InferError> {
        self.prepare(tokens, pos)?;
        let mut pass = self.record(tokens, pos)?;
        let scratch = &self.scratch;
        ops::argmax(
            &mut pass,
            &scratch.logits,
            0,
            self.dims.vocab,
            &scratch.token,
        )
        .map_err(gpu_error)?;
        let token = pass
            .submit_and_read_u32(&scratch.token, 0, 1)
            .map_err(gpu_error)?;
        Ok(token[0])
    }

    /// Checks `tokens` and makes room for them at `pos` in the cache and the score scratch.
    fn prepare(&mut self, tokens: &[u32], pos: usize) -> Result<(), InferError> {
        if tokens.is_empty() {
            return Err(InferError::InvalidInput("no tokens".into()));
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.dims.vocab) {
            return Err(InferError::InvalidInput(format!(
                "token {bad} is outside the vocabulary of {}",
                self.dims.vocab
            )));
        }
        self.fit_cache(pos + tokens.len())?;
        self.fit_scores(pos + tokens.len(), tokens.len().min(PASS_TOKENS))
    }

    /// Submits every pass but the last, and returns the last one recorded (its logits at the
    /// start of `scratch.logits`); [`GpuLlama::prepare`] first.
    fn record(&self, tokens: &[u32], pos: usize) -> Result<Pass<'_>, InferError> {
        let chunks: Vec<&[u32]> = tokens.chunks(PASS_TOKENS).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let at = pos + i * PASS_TOKENS;
            let pass = self.layers_pass(chunk, at).map_err(gpu_error)?;
            if i + 1 == chunks.len() {
                return Ok(pass);
            }
            pass.submit().map_err(gpu_error)?;
        }
        Err(InferError::InvalidInput("no tokens".into()))
    }

    fn fit_cache(&mut self, positions: usize) -> Result<(), InferError> {
        let capacity = self.caches.first().map_or(0, KvCache::capacity);
        if positions <= capacity {
            return Ok(());
        }
        let wanted = positions.max(capacity * 2);
        let grown: Result<Vec<KvCache>, GpuError> = self
            .caches
            .iter()
            .map(|cache| cache.grown(&self.gpu, wanted))
            .collect();
        self.caches = grown.map_err(gpu_error)?;
        Ok(())
    }

    fn fit_scores(&mut self, ctx: usize, tokens: usize) -> Result<(), InferError> {
        let needed = (self.dims.heads * tokens * ctx) as u64 * 4;
        if self
            .scratch
            .scores
            .as_ref()
            .is_some_and(|s| s.bytes() >= needed)
        {
            return Ok(());
        }
        let room = needed
            .max(self.dims.heads as u64 * 4 * 1024)
            .next_power_of_two();
        self.scratch.scores = Some(
            self.gpu
                .buffer(room, "attention scores")
                .map_err(gpu_error)?,
        );
        Ok(())
    }

    /// Records one pass of `tokens` at `pos`: embedding, every layer, the final norm and head
    /// for the last token (its logits land at the start of `scratch.logits`).
    fn layers_pass(&self, tokens: &[u32], pos: usize) -> Result<Pass<'_>, GpuError> {
        let (d, s, gpu) = (&self.dims, &self.scratch, &*self.gpu);
        let n = tokens.len();
        gpu.write(&s.ids, 0, bytemuck::cast_slice(tokens));
        gpu.write_f32(&s.angles, 0, &angles(&self.inv_freq, pos, n));
        if !self.local_inv_freq.is_empty() {
            gpu.write_f32(&s.local_angles, 0, &angles(&self.local_inv_freq, pos, n));
        }
        let mut pass = Pass::new(gpu);
        ops::get_rows(&mut pass, &self.embedding, &s.ids, &s.x, n)?;
        if d.embed_scale != 1.0 {
            ops::scale(&mut pass, &s.x, n * d.hidden, d.embed_scale)?;
        }
        for (layer, cache) in self.layers.iter().zip(&self.caches) {
            self.attention_block(&mut pass, layer, cache, pos, n)?;
            self.feed_forward_block(&mut pass, layer, n)?;
        }
        let last = Rows::new(&s.x, d.hidden).shifted((n - 1) * d.hidden);
        let normed = Rows::new(&s.normed, d.hidden);
        ops::rms_norm(&mut pass, last, &self.norm, normed, 1, 1, d.hidden, d.eps)?;
        let head = self.head.as_ref().unwrap_or(&self.embedding);
        ops::matmul(&mut pass, head, normed, Rows::new(&s.logits, d.vocab), 1)?;
        Ok(pass)
    }

    fn attention_block(
        &self,
        pass: &mut Pass<'_>,
        layer: &Layer,
        cache: &KvCache,
        pos: usize,
        n: usize,
    ) -> Result<(), GpuError> {
        let (d, s) = (&self.dims, &self.scratch);
        let (qw, kvw) = (d.q_width(), d.kv_width());
        let width = qw + 2 * kvw;
        let x = Rows::new(&s.x, d.hidden);
        let normed = Rows::new(&s.normed, d.hidden);
        ops::rms_norm(pass, x, &layer.attn_norm, normed, n, 1, d.hidden, d.eps)?;
        let qkv = Rows::new(&s.qkv, width);
        match &layer.qkv {
            Qkv::Fused(w) => ops::matmul(pass, w, normed, qkv, n)?,
            Qkv::Separate([q, k, v]) => {
                ops::matmul(pass, q, normed, qkv, n)?;
                ops::matmul(pass, k, normed, qkv.shifted(qw), n)?;
                ops::matmul(pass, v, normed, qkv.shifted(qw + kvw), n)?;
            }
        }
        // qwen2's biases: one row added to every token's queries, keys and values.
        for (bias, offset) in layer.biases.iter().zip([0, qw, qw + kvw]) {
            if let Some(bias) = bias {
                let rows = Rows {
                    buffer: bias,
                    offset: 0,
                    stride: 0,
                };
                let width = if offset == 0 { qw } else { kvw };
                ops::add(pass, qkv.shifted(offset), rows, width, n)?;
            }
        }
        // qwen3's per-head norms, into the same layout of another buffer.
        let (q, k) = match &layer.qk_norms {
            Some((q_norm, k_norm)) => {
                let normed = Rows::new(&s.qkv_normed, width);
                let (hd, eps) = (d.head_dim, d.eps);
                ops::rms_norm(pass, qkv, q_norm, normed, n, d.heads, hd, eps)?;
                let (k_in, k_out) = (qkv.shifted(qw), normed.shifted(qw));
                ops::rms_norm(pass, k_in, k_norm, k_out, n, d.kv_heads, hd, eps)?;
                (normed, k_out)
            }
            None => (qkv, qkv.shifted(qw)),
        };
        let rotation = |heads| Rotation {
            heads,
            head_dim: d.head_dim,
            rope_dim: d.rope_dim,
            neox: d.neox,
        };
        let angles = if layer.local_rope {
            &s.local_angles
        } else {
            &s.angles
        };
        ops::rope(pass, q, angles, rotation(d.heads), n)?;
        ops::rope(pass, k, angles, rotation(d.kv_heads), n)?;
        ops::kv_store(pass, cache, k, qkv.shifted(qw + kvw), pos, n)?;
        let scores = s
            .scores
            .as_ref()
            .ok_or_else(|| GpuError::Shape("no score buffer".into()))?;
        let attention = Attention {
            heads: d.heads,
            kv_heads: d.kv_heads,
            head_dim: d.head_dim,
            pos0: pos,
            tokens: n,
            keys: pos + n,
            window: layer.window,
            scale: d.attn_scale,
            causal: true,
            softcap: d.attn_softcap,
        };
        ops::attention(pass, q, cache, scores, &s.attn, attention)?;
        let projected = Rows::new(&s.projected, d.hidden);
        ops::matmul(pass, &layer.o, Rows::new(&s.attn, qw), projected, n)?;
        self.residual(pass, layer.post_norms.as_ref().map(|(attn, _)| attn), n)
    }

    fn feed_forward_block(
        &self,
        pass: &mut Pass<'_>,
        layer: &Layer,
        n: usize,
    ) -> Result<(), GpuError> {
        let (d, s) = (&self.dims, &self.scratch);
        let x = Rows::new(&s.x, d.hidden);
        let normed = Rows::new(&s.normed, d.hidden);
        ops::rms_norm(pass, x, &layer.ffn_norm, normed, n, 1, d.hidden, d.eps)?;
        let both = Rows::new(&s.gate_up, 2 * d.ff);
        match &layer.gate_up {
            GateUp::Fused(w) => ops::matmul(pass, w, normed, both, n)?,
            GateUp::Separate(gate, up) => {
                ops::matmul(pass, gate, normed, both, n)?;
                ops::matmul(pass, up, normed, both.shifted(d.ff), n)?;
            }
        }
        ops::gated(pass, both, both.shifted(d.ff), &s.gated, d.gate, d.ff, n)?;
        let projected = Rows::new(&s.projected, d.hidden);
        ops::matmul(pass, &layer.down, Rows::new(&s.gated, d.ff), projected, n)?;
        self.residual(pass, layer.post_norms.as_ref().map(|(_, ffn)| ffn), n)
    }

    /// `x += projected`, normed first where the layer norms its outputs (Gemma 2/3).
    fn residual(
        &self,
        pass: &mut Pass<'_>,
        norm: Option<&Buffer>,
        n: usize,
    ) -> Result<(), GpuError> {
        let (d, s) = (&self.dims, &self.scratch);
        let (x, projected) = (Rows::new(&s.x, d.hidden), Rows::new(&s.projected, d.hidden));
        match norm {
            Some(norm) => {
                // `normed` is free again: the block's input was read by its projections.
                let normed = Rows::new(&s.normed, d.hidden);
                ops::rms_norm(pass, projected, norm, normed, n, 1, d.hidden, d.eps)?;
                ops::add(pass, x, normed, d.hidden, n)
            }
            None => ops::add(pass, x, projected, d.hidden, n),
        }
    }
}

/// cos and sin of every rotated pair at positions `pos..pos + n`, as the CPU path computes
/// them.
fn angles(inv_freq: &[f32], pos: usize, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * inv_freq.len() * 2);
    for p in pos..pos + n {
        for freq in inv_freq {
            let angle = p as f32 * freq;
            out.extend([angle.cos(), angle.sin()]);
        }
    }
    out
}

impl Scratch {
    fn new(gpu: &Gpu, d: &Dims) -> Result<Scratch, InferError> {
        let floats = |n: usize, label: &str| gpu.buffer(n as u64 * 4, label);
        let t = PASS_TOKENS;
        let width = d.q_width() + 2 * d.kv_width();
        let scratch = (|| {
            Ok::<_, GpuError>(Scratch {
                ids: floats(t, "token ids")?,
                angles: floats(t * d.rope_dim, "rotary angles")?,
                local_angles: floats(t * d.rope_dim, "local rotary angles")?,
                x: floats(t * d.hidden, "hidden states")?,
                normed: floats(t * d.hidden, "normed states")?,
                qkv: floats(t * width, "queries, keys, values")?,
                qkv_normed: floats(t * width, "normed queries and keys")?,
                attn: floats(t * d.q_width(), "attention output")?,
                projected: floats(t * d.hidden, "projection")?,
                gate_up: floats(t * 2 * d.ff, "gate and up")?,
                gated: floats(t * d.ff, "gated")?,
                logits: floats(d.vocab, "logits")?,
                token: floats(1, "next token")?,
                scores: None,
            })
        })();
        scratch.map_err(gpu_error)
    }
}
