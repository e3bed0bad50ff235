//! The building blocks Hubble's GGUF decoders ([`crate::infer::models::gguf_llama`], [`crate::infer::models::gguf_gemma3`])
//! share: metadata lookups, tensors read by llama.cpp's names, rotary angles computed per pass,
//! the causal (optionally sliding-window) mask, and grouped-query attention over a KV cache
//! held in F16 by default: on the CPU, `hubble_kernels::attention` reads it where it lies (no
//! widened or per-head copies of it, room for a whole generation reserved once); elsewhere
//! candle's ops over a cache grown in chunks.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::{QTensor, gguf_file};
use candle_core::{D, DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::kv_cache::KvCache;
use candle_transformers::quantized_nn::RmsNorm;

use candle_transformers::utils::repeat_kv;
use hubble_kernels::attention::{self as kernel, CacheElement, f16};

use super::elementwise::softmax_last_dim;
use crate::infer::models::quant_linear::Linear;

/// Positions a layer's KV cache on a GPU grows by when it is full (SmolLM2: 0.35 MB of F16 over
/// its 30 layers).
pub const KV_CHUNK: usize = 16;

/// Typed reads of one architecture's GGUF metadata keys (`<arch>.<name>`).
pub struct ArchMetadata<'a> {
    content: &'a gguf_file::Content,
    arch: &'a str,
}

impl<'a> ArchMetadata<'a> {
    /// The keys of `arch` (`llama`, `gemma3`) in `content`.
    pub fn new(content: &'a gguf_file::Content, arch: &'a str) -> ArchMetadata<'a> {
        ArchMetadata { content, arch }
    }

    fn find(&self, name: &str) -> Option<&'a gguf_file::Value> {
        self.content.metadata.get(&format!("{}.{name}", self.arch))
    }

    fn get(&self, name: &str) -> Result<&'a gguf_file::Value> {
        match self.find(name) {
            Some(v) => Ok(v),
            None => candle_core::bail!("cannot find {}.{name} in the GGUF metadata", self.arch),
        }
    }

    /// A required count (`block_count`, `attention.head_count`, ...).
    pub fn count(&self, name: &str) -> Result<usize> {
        Ok(self.get(name)?.to_u32()? as usize)
    }

    /// An optional count: `default` when the key is missing (or not a count). A missing key
    /// builds no error, which would capture a backtrace where `RUST_BACKTRACE` is set.
    pub fn count_or(&self, name: &str, default: usize) -> usize {
        match self.find(name) {
            Some(value) => value.to_u32().map_or(default, |n| n as usize),
            None => default,
        }
    }

    /// A required float (`attention.layer_norm_rms_epsilon`, ...).
    pub fn float(&self, name: &str) -> Result<f32> {
        self.get(name)?.to_f32()
    }

    /// An optional float (`rope.freq_base`, ...), likewise.
    pub fn float_or(&self, name: &str, default: f32) -> f32 {
        match self.find(name) {
            Some(value) => value.to_f32().unwrap_or(default),
            None => default,
        }
    }
}

/// The sizes every GGUF decoder reads from its metadata.
pub struct DecoderShape {
    /// `attention.head_count`.
    pub heads: usize,
    /// `attention.head_count_kv`, dividing `heads` evenly.
    pub kv_heads: usize,
    /// `block_count`.
    pub blocks: usize,
    /// `embedding_length`.
    pub hidden: usize,
    /// `attention.layer_norm_rms_epsilon`.
    pub eps: f64,
}

impl ArchMetadata<'_> {
    /// The decoder's sizes; an error when its query heads don't share its KV heads evenly.
    pub fn decoder_shape(&self) -> Result<DecoderShape> {
        let heads = self.count("attention.head_count")?;
        let kv_heads = self.count("attention.head_count_kv")?;
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            candle_core::bail!("{heads} attention heads do not share {kv_heads} KV heads evenly")
        }
        Ok(DecoderShape {
            heads,
            kv_heads,
            blocks: self.count("block_count")?,
            hidden: self.count("embedding_length")?,
            eps: self.float("attention.layer_norm_rms_epsilon")? as f64,
        })
    }
}

/// What the layers of one kind share in a forward pass: positions, rotary angles, mask.
pub struct Pass {
    /// The first position.
    pub pos: usize,
    /// cos of the angles, `(seq, rope_dim / 2)`.
    pub cos: Tensor,
    /// sin of the angles, `(seq, rope_dim / 2)`.
    pub sin: Tensor,
    /// From [`attention_mask`] (candle's attention; the CPU kernel applies `window` itself).
    pub mask: Option<Tensor>,
    /// The sliding window, in positions, if the layers attend through one.
    pub window: Option<usize>,
    /// How keys and values are cached.
    pub kv_dtype: DType,
}

impl Pass {
    /// A pass of `seq` tokens from `pos`, rotated by `rotary`, attending through `window`.
    pub fn new(
        rotary: &Rotary,
        pos: usize,
        seq: usize,
        window: Option<usize>,
        kv_dtype: DType,
    ) -> Result<Pass> {
        let (cos, sin) = rotary.angles(pos, seq)?;
        let mask = attention_mask(seq, pos, window, rotary.inv_freq.device())?;
        Ok(Pass {
            pos,
            cos,
            sin,
            mask,
            window,
            kv_dtype,
        })
    }
}

/// The number of tokens in a `(1, seq)` batch; an error when there are none.
pub fn token_count(tokens: &Tensor) -> Result<usize> {
    let (_batch, seq) = tokens.dims2()?;
    if seq == 0 {
        candle_core::bail!("no tokens to run")
    }
    Ok(seq)
}

/// The logits of the last position of `x` (`(batch, seq, hidden)`): the final norm, then the
/// head. The norm works row by row, so normalising only the last position changes nothing.
pub fn last_position_logits(x: &Tensor, norm: &RmsNorm, head: &Linear) -> Result<Tensor> {
    let seq = x.dim(1)?;
    let last = x.i((.., seq - 1, ..))?.contiguous()?;
    head.forward(&norm.forward(&last)?)
}

/// Reads a GGUF's tensors by llama.cpp's names, one at a time, onto a device.
pub struct GgufTensors<'a, R> {
    content: &'a gguf_file::Content,
    reader: &'a mut R,
    device: &'a Device,
    /// The RMS norms' epsilon.
    eps: f64,
}

/// A layer's attention and feed-forward projections, separate or fused as the file stores
/// them (phi3 fuses query/key/value into `attn_qkv` and gate/up into `ffn_up`).
pub struct Projections {
    qkv: Qkv,
    /// `attn_output`.
    pub o: Linear,
    gate_up: GateUp,
    /// `ffn_down`.
    pub down: Linear,
}

enum Qkv {
    Separate(Linear, Linear, Linear),
    /// One matrix whose output holds the queries (`q_width` wide), then keys and values
    /// (`kv_width` each).
    Fused {
        qkv: Linear,
        q_width: usize,
        kv_width: usize,
    },
}

enum GateUp {
    Separate(Linear, Linear),
    /// One matrix whose output holds the gate, then the up projection, each half as wide.
    Fused(Linear),
}

impl Projections {
    /// The queries, keys and values of `x`, `(batch, seq, width)` each.
    pub fn qkv(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        match &self.qkv {
            Qkv::Separate(q, k, v) => Ok((q.forward(x)?, k.forward(x)?, v.forward(x)?)),
            Qkv::Fused {
                qkv,
                q_width,
                kv_width,
            } => {
                let all = qkv.forward(x)?;
                Ok((
                    all.narrow(D::Minus1, 0, *q_width)?,
                    all.narrow(D::Minus1, *q_width, *kv_width)?,
                    all.narrow(D::Minus1, q_width + kv_width, *kv_width)?,
                ))
            }
        }
    }

    /// The feed-forward gate and up projections of `x`.
    pub fn gate_up(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        match &self.gate_up {
            GateUp::Separate(gate, up) => Ok((gate.forward(x)?, up.forward(x)?)),
            GateUp::Fused(gate_up) => {
                let both = gate_up.forward(x)?;
                let half = both.dim(D::Minus1)? / 2;
                Ok((
                    both.narrow(D::Minus1, 0, half)?,
                    both.narrow(D::Minus1, half, half)?,
                ))
            }
        }
    }
}

impl<'a, R: Read + Seek> GgufTensors<'a, R> {
    /// The tensors named in `content`, read from `reader`; norms get `eps`.
    pub fn new(
        content: &'a gguf_file::Content,
        reader: &'a mut R,
        device: &'a Device,
        eps: f64,
    ) -> GgufTensors<'a, R> {
        GgufTensors {
            content,
            reader,
            device,
            eps,
        }
    }

    /// Reads one tensor, unless the load running on this thread was cancelled meanwhile.
    fn tensor(&mut self, name: &str) -> Result<QTensor> {
        if crate::infer::pipeline::load_cancelled() {
            candle_core::bail!("the load was cancelled");
        }
        self.content.tensor(self.reader, name, self.device)
    }

    /// The token embedding (quantised as stored) and the output head: `output.weight`, or the
    /// embedding itself when the head is tied to it. Read first, while nothing else is loaded.
    pub fn embedding_and_head(&mut self) -> Result<(Arc<QTensor>, Linear)> {
        let embedding = Arc::new(self.tensor("token_embd.weight")?);
        let head = if self.content.tensor_infos.contains_key("output.weight") {
            Linear::new(self.tensor("output.weight")?)?
        } else {
            Linear::shared(embedding.clone())?
        };
        Ok((embedding, head))
    }

    /// `output_norm.weight`.
    pub fn output_norm(&mut self) -> Result<RmsNorm> {
        RmsNorm::from_qtensor(self.tensor("output_norm.weight")?, self.eps)
    }

    /// Layer `layer`'s RMS norm `name` (`attn_norm`, `ffn_norm`, ...).
    pub fn norm(&mut self, layer: usize, name: &str) -> Result<RmsNorm> {
        RmsNorm::from_qtensor(
            self.tensor(&format!("blk.{layer}.{name}.weight"))?,
            self.eps,
        )
    }

    /// The tensor `name`, dequantised, when the file has it (`rope_freqs.weight`).
    pub fn optional(&mut self, name: &str) -> Result<Option<Tensor>> {
        if !self.content.tensor_infos.contains_key(name) {
            return Ok(None);
        }
        Ok(Some(self.tensor(name)?.dequantize(self.device)?))
    }

    /// Layer `layer`'s RMS norm `name`, when the file has it (`attn_q_norm` in qwen3).
    pub fn optional_norm(&mut self, layer: usize, name: &str) -> Result<Option<RmsNorm>> {
        let full = format!("blk.{layer}.{name}.weight");
        if !self.content.tensor_infos.contains_key(&full) {
            return Ok(None);
        }
        Ok(Some(RmsNorm::from_qtensor(self.tensor(&full)?, self.eps)?))
    }

    /// Layer `layer`'s bias `name`, dequantised, when the file has it (`attn_q` in qwen2).
    pub fn optional_bias(&mut self, layer: usize, name: &str) -> Result<Option<Tensor>> {
        let full = format!("blk.{layer}.{name}.bias");
        if !self.content.tensor_infos.contains_key(&full) {
            return Ok(None);
        }
        Ok(Some(self.tensor(&full)?.dequantize(self.device)?))
    }

    /// Layer `layer`'s projections; a fused `attn_qkv` is split `q_width`, `kv_width`,
    /// `kv_width`.
    pub fn projections(
        &mut self,
        layer: usize,
        q_width: usize,
        kv_width: usize,
    ) -> Result<Projections> {
        let has = |name: &str| {
            let full = format!("blk.{layer}.{name}.weight");
            self.content.tensor_infos.contains_key(&full)
        };
        let (fused_qkv, fused_gate_up) = (has("attn_qkv"), !has("ffn_gate"));
        let mut matmul =
            |name: &str| Linear::new(self.tensor(&format!("blk.{layer}.{name}.weight"))?);
        let qkv = if fused_qkv {
            Qkv::Fused {
                qkv: matmul("attn_qkv")?,
                q_width,
                kv_width,
            }
        } else {
            Qkv::Separate(matmul("attn_q")?, matmul("attn_k")?, matmul("attn_v")?)
        };
        let gate_up = if fused_gate_up {
            GateUp::Fused(matmul("ffn_up")?)
        } else {
            GateUp::Separate(matmul("ffn_gate")?, matmul("ffn_up")?)
        };
        Ok(Projections {
            qkv,
            o: matmul("attn_output")?,
            gate_up,
            down: matmul("ffn_down")?,
        })
    }
}

/// Rotary inverse frequencies `1 / (base^(i / rope_dim) · scale)` for even `i` below
/// `rope_dim` (`scale` > 1 stretches positions: linear RoPE scaling; 1 for none). The CPU and
/// wgpu decoders share them.
pub fn inverse_frequencies(rope_dim: usize, base: f32, scale: f32) -> Vec<f32> {
    (0..rope_dim)
        .step_by(2)
        .map(|i| 1f32 / base.powf(i as f32 / rope_dim as f32) / scale)
        .collect()
}

/// Rotary inverse frequencies; the angles of a pass's positions are computed on demand (no
/// table, so no limit on positions).
pub struct Rotary {
    /// Shape `(1, rope_dim / 2)`.
    inv_freq: Tensor,
}

impl Rotary {
    /// candle-transformers' frequencies for `rope_dim` dimensions and `base`, with positions
    /// divided by `scale` (linear RoPE scaling; 1 for none).
    pub fn new(rope_dim: usize, base: f32, scale: f32, device: &Device) -> Result<Rotary> {
        let inv_freq = inverse_frequencies(rope_dim, base, scale);
        let inv_freq = Tensor::new(inv_freq.as_slice(), device)?.unsqueeze(0)?;
        Ok(Rotary { inv_freq })
    }

    /// The same frequencies each divided by its pair's factor (llama.cpp's `rope_freqs`, which
    /// Llama 3.1+ GGUFs carry for their rope scaling); `None` keeps them.
    pub fn with_factors(self, factors: Option<&Tensor>) -> Result<Rotary> {
        let Some(factors) = factors else {
            return Ok(self);
        };
        let pairs = self.inv_freq.dim(1)?;
        let factors = factors.flatten_all()?.to_dtype(DType::F32)?;
        if factors.dim(0)? != pairs {
            candle_core::bail!("{} rope factors for {pairs} rotated pairs", factors.dim(0)?)
        }
        let inv_freq = self.inv_freq.broadcast_div(&factors.unsqueeze(0)?)?;
        Ok(Rotary { inv_freq })
    }

    /// cos and sin of the angles of positions `pos..pos + seq`, each `(seq, rope_dim / 2)`.
    pub fn angles(&self, pos: usize, seq: usize) -> Result<(Tensor, Tensor)> {
        let device = self.inv_freq.device();
        let positions = Tensor::arange(pos as u32, (pos + seq) as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((seq, 1))?;
        let angles = positions.matmul(&self.inv_freq)?;
        Ok((angles.cos()?, angles.sin()?))
    }
}

/// The mask (1 = hidden) of `seq` queries at positions `pos..` over keys `0..pos + seq`: later
/// keys are hidden, and with a `window`, keys `window` or more positions back. `None` when
/// nothing is hidden.
pub fn attention_mask(
    seq: usize,
    pos: usize,
    window: Option<usize>,
    device: &Device,
) -> Result<Option<Tensor>> {
    // A second query hides the key after the first; a lone query at `pos` sees every key
    // unless key 0 already lies a window behind it.
    if seq <= 1 && window.is_none_or(|w| pos < w) {
        return Ok(None);
    }
    let keys = pos + seq;
    let hidden = |i: usize, j: usize| j > pos + i || window.is_some_and(|w| pos + i >= j + w);
    let mask: Vec<u8> = (0..seq)
        .flat_map(|i| (0..keys).map(move |j| u8::from(hidden(i, j))))
        .collect();
    Ok(Some(Tensor::from_slice(&mask, (seq, keys), device)?))
}

/// One layer's attention over its KV cache.
pub struct CachedAttention {
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    /// What the scores `q·k` are multiplied by.
    scale: f64,
    cache: LayerCache,
    /// Positions a new cache makes room for up front ([`CachedAttention::reserve`]).
    reserved: usize,
}

/// Where a layer's keys and values are kept.
enum LayerCache {
    /// Nothing cached.
    Empty,
    /// On the CPU in F16, attended in place by `hubble_kernels`.
    HostF16(kernel::KvCache<f16>),
    /// On the CPU in F32, likewise.
    HostF32(kernel::KvCache<f32>),
    /// On other devices (or in other types): candle's cache, attended with candle's ops.
    Candle(KvCache),
}

impl CachedAttention {
    /// An empty cache for `heads` queries over `kv_heads` key/value heads of `head_dim`, with
    /// scores multiplied by `scale`.
    pub fn new(heads: usize, kv_heads: usize, head_dim: usize, scale: f64) -> CachedAttention {
        CachedAttention {
            heads,
            kv_heads,
            head_dim,
            scale,
            cache: LayerCache::Empty,
            reserved: 0,
        }
    }

    /// Splits projections `(batch, seq, width)` into heads, `(batch, heads, seq, head_dim)`:
    /// the queries into the query heads, the keys and values into the KV heads.
    pub fn split_heads(
        &self,
        (q, k, v): (Tensor, Tensor, Tensor),
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let split = |t: Tensor, heads: usize| {
            let (batch, seq, _) = t.dims3()?;
            t.reshape((batch, seq, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        Ok((
            split(q, self.heads)?,
            split(k, self.kv_heads)?,
            split(v, self.kv_heads)?,
        ))
    }

    /// Starts a new, empty cache for `device` holding `kv_dtype`, and on the CPU makes room for
    /// `positions` positions in it (and in those later passes at position 0 start) at once, so
    /// that a generation never grows it. Room never written is never touched.
    pub fn reserve(&mut self, positions: usize, device: &Device, kv_dtype: DType) {
        self.reserved = positions;
        self.start(device, kv_dtype);
    }

    /// Empties the cache for a pass at position 0 on `device`, keeping a CPU cache's room when
    /// it already holds `kv_dtype`.
    fn start(&mut self, device: &Device, kv_dtype: DType) {
        let reserved = self.reserved;
        match (&mut self.cache, device.is_cpu(), kv_dtype) {
            (LayerCache::HostF16(cache), true, DType::F16) => cache.clear(reserved),
            (LayerCache::HostF32(cache), true, DType::F32) => cache.clear(reserved),
            (_, true, DType::F16) => self.cache = LayerCache::HostF16(self.host_cache()),
            (_, true, DType::F32) => self.cache = LayerCache::HostF32(self.host_cache()),
            _ => self.cache = LayerCache::Candle(KvCache::new(2, KV_CHUNK)),
        }
    }

    /// Appends `k`, `v` (rotated, `(batch, kv_heads, seq, head_dim)`) at the pass's position
    /// (0 starts a new cache) stored as its `kv_dtype`, and attends `q` over the whole cache in
    /// F32 with its mask applied. Returns `(batch, seq, heads * head_dim)`.
    pub fn attend(&mut self, q: &Tensor, k: &Tensor, v: &Tensor, pass: &Pass) -> Result<Tensor> {
        if pass.pos == 0 || matches!(self.cache, LayerCache::Empty) {
            self.start(q.device(), pass.kv_dtype);
        }
        let shape = self.kernel_pass(pass);
        match &mut self.cache {
            LayerCache::HostF16(cache) => attend_in_place(cache, q, k, v, shape),
            LayerCache::HostF32(cache) => attend_in_place(cache, q, k, v, shape),
            LayerCache::Candle(cache) => attend_with_candle(cache, q, k, v, pass, shape),
            LayerCache::Empty => candle_core::bail!("no KV cache to attend over"),
        }
    }

    fn host_cache<T: CacheElement>(&self) -> kernel::KvCache<T> {
        kernel::KvCache::new(self.kv_heads, self.head_dim, self.reserved)
    }

    fn kernel_pass(&self, pass: &Pass) -> kernel::Pass {
        kernel::Pass {
            heads: self.heads,
            pos: pass.pos,
            window: pass.window,
            scale: self.scale as f32,
        }
    }

    /// Forgets the cached keys and values.
    pub fn clear(&mut self) {
        self.cache = LayerCache::Empty;
    }
}

/// [`CachedAttention::attend`] on the CPU: appends to `cache` and attends where it lies.
fn attend_in_place<T: CacheElement>(
    cache: &mut kernel::KvCache<T>,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    shape: kernel::Pass,
) -> Result<Tensor> {
    let (batch, _, seq, head_dim) = q.dims4()?;
    if batch != 1 {
        candle_core::bail!("a batch of {batch}: the KV cache holds one sequence")
    }
    if cache.len() != shape.pos {
        candle_core::bail!(
            "a pass at position {} over a KV cache of {} positions",
            shape.pos,
            cache.len()
        )
    }
    let values = |t: &Tensor| t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>();
    let kernel_error = |e: hubble_kernels::ShapeError| candle_core::Error::Msg(e.0);
    cache
        .append(&values(k)?, &values(v)?)
        .map_err(kernel_error)?;
    let y = kernel::attend(cache, &values(q)?, shape).map_err(kernel_error)?;
    Tensor::from_vec(y, (1, seq, shape.heads * head_dim), q.device())
}

/// [`CachedAttention::attend`] with candle's ops: the cache widened to F32 and repeated for
/// every query head, the scores masked.
fn attend_with_candle(
    cache: &mut KvCache,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    pass: &Pass,
    shape: kernel::Pass,
) -> Result<Tensor> {
    let (batch, heads, seq, head_dim) = q.dims4()?;
    let kv_dtype = pass.kv_dtype;
    let (k, v) = cache.append(&k.to_dtype(kv_dtype)?, &v.to_dtype(kv_dtype)?)?;
    let repeat = heads / k.dim(1)?;
    let k = repeat_kv(k.to_dtype(DType::F32)?.contiguous()?, repeat)?;
    let v = repeat_kv(v.to_dtype(DType::F32)?.contiguous()?, repeat)?;
    let att = (q.matmul(&k.t()?)? * f64::from(shape.scale))?;
    let att = match &pass.mask {
        None => att,
        Some(mask) => {
            let neg_inf = Tensor::new(f32::NEG_INFINITY, att.device())?;
            mask.broadcast_as(att.shape())?
                .where_cond(&neg_inf.broadcast_as(att.shape())?, &att)?
        }
    };
    let y = softmax_last_dim(&att)?.matmul(&v)?;
    y.transpose(1, 2)?.reshape((batch, seq, heads * head_dim))
}

/// The largest absolute difference between two tensors of one shape (for tests).
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar())
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(mask: Option<Tensor>) -> Vec<Vec<u8>> {
        mask.map(|m| m.to_vec2().unwrap()).unwrap_or_default()
    }

    #[test]
    fn masks_hide_later_keys_and_keys_outside_the_window() {
        let cpu = Device::Cpu;
        assert_eq!(
            rows(attention_mask(3, 0, None, &cpu).unwrap()),
            [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
        );
        // One query at position 2: every key is visible, so no mask at all.
        assert!(attention_mask(1, 2, None, &cpu).unwrap().is_none());
        assert!(attention_mask(1, 2, Some(3), &cpu).unwrap().is_none());
        // A window of 2: each query sees itself and the key before it.
        assert_eq!(
            rows(attention_mask(2, 2, Some(2), &cpu).unwrap()),
            [[1, 0, 0, 1], [1, 1, 0, 0]]
        );
    }

    /// Deterministic values in [-1, 1] of `shape`, different for each `seed`.
    fn wavy(shape: (usize, usize, usize, usize), seed: f64) -> Tensor {
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        Tensor::arange(0f32, n as f32, &Device::Cpu)
            .unwrap()
            .affine(0.37 + seed, seed)
            .unwrap()
            .sin()
            .unwrap()
            .reshape(shape)
            .unwrap()
    }

    #[test]
    fn attention_in_place_matches_candles_ops() {
        let (heads, kv_heads, d) = (6, 2, 16);
        let rotary = Rotary::new(d, 10000., 1., &Device::Cpu).unwrap();
        for window in [None, Some(3)] {
            for dtype in [DType::F32, DType::F16] {
                let mut ours = CachedAttention::new(heads, kv_heads, d, 0.3);
                let mut theirs = KvCache::new(2, KV_CHUNK);
                let mut pos = 0;
                for (step, seq) in [5, 1, 1, 1].into_iter().enumerate() {
                    let pass = Pass::new(&rotary, pos, seq, window, dtype).unwrap();
                    let seed = step as f64 * 0.1;
                    let q = (wavy((1, heads, seq, d), seed) * 3.).unwrap();
                    let k = wavy((1, kv_heads, seq, d), seed + 0.01);
                    let v = wavy((1, kv_heads, seq, d), seed + 0.02);
                    let a = ours.attend(&q, &k, &v, &pass).unwrap();
                    let shape = ours.kernel_pass(&pass);
                    let b = attend_with_candle(&mut theirs, &q, &k, &v, &pass, shape).unwrap();
                    assert_eq!(a.dims(), [1, seq, heads * d]);
                    let diff = max_abs_diff(&a, &b);
                    assert!(diff < 1e-5, "{window:?} {dtype:?} at {pos}: {diff}");
                    pos += seq;
                }
                // A pass must continue the cache where it ends.
                let pass = Pass::new(&rotary, pos + 2, 1, window, dtype).unwrap();
                let (q, k) = (wavy((1, heads, 1, d), 1.), wavy((1, kv_heads, 1, d), 2.));
                let err = ours.attend(&q, &k, &k, &pass).unwrap_err();
                assert!(err.to_string().contains("KV cache of 8 positions"), "{err}");
            }
        }
    }

    #[test]
    fn rotary_angles_grow_with_position_and_shrink_with_scale() {
        let cpu = Device::Cpu;
        let plain = Rotary::new(4, 10000., 1., &cpu).unwrap();
        let scaled = Rotary::new(4, 10000., 8., &cpu).unwrap();
        let (cos, sin) = plain.angles(3, 2).unwrap();
        assert_eq!(cos.dims(), [2, 2]);
        let sin: Vec<Vec<f32>> = sin.to_vec2().unwrap();
        assert!((sin[0][0] - 3f32.sin()).abs() < 1e-6);
        assert!((sin[1][1] - (4f32 / 100.).sin()).abs() < 1e-6);
        let (_, scaled_sin) = scaled.angles(8, 1).unwrap();
        let scaled_sin: Vec<Vec<f32>> = scaled_sin.to_vec2().unwrap();
        assert!((scaled_sin[0][0] - 1f32.sin()).abs() < 1e-6);
    }

    #[test]
    fn rope_factors_divide_each_pairs_frequency() {
        let cpu = Device::Cpu;
        let factors = Tensor::new(&[1f32, 4.], &cpu).unwrap();
        let rotary = Rotary::new(4, 10000., 1., &cpu)
            .unwrap()
            .with_factors(Some(&factors))
            .unwrap();
        let (_, sin) = rotary.angles(2, 1).unwrap();
        let sin: Vec<Vec<f32>> = sin.to_vec2().unwrap();
        assert!((sin[0][0] - 2f32.sin()).abs() < 1e-6);
        assert!((sin[0][1] - (2f32 / 100. / 4.).sin()).abs() < 1e-6);
        let wrong = Tensor::new(&[1f32, 2., 3.], &cpu).unwrap();
        let rotary = Rotary::new(4, 10000., 1., &cpu).unwrap();
        assert!(rotary.with_factors(Some(&wrong)).is_err());
    }
}
