//! The kernels, recorded onto a [`Pass`] with their shapes checked on the host. Activations are
//! F32 rows; a [`Rows`] names where a kernel reads them (a fused projection's queries, keys
//! and values are three windows of one buffer).

use crate::buffer::Buffer;
use crate::error::{GpuError, Result};
use crate::gpu::Gpu;
use crate::pass::Pass;
use crate::shaders::{Kernel, KvType};
use crate::weight::Weight;

/// Threads per workgroup of the element-wise kernels.
const WG: usize = 64;
/// The most workgroups along one dimension.
const MAX_GROUPS: usize = 65535;

/// Rows of F32 values in a buffer: the first at element `offset`, each `stride` apart.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    /// The buffer.
    pub buffer: &'a Buffer,
    /// Element offset of the first row.
    pub offset: usize,
    /// Elements from one row to the next.
    pub stride: usize,
}

impl<'a> Rows<'a> {
    /// Rows `stride` wide from the start of `buffer`.
    pub fn new(buffer: &'a Buffer, stride: usize) -> Rows<'a> {
        Rows {
            buffer,
            offset: 0,
            stride,
        }
    }

    /// The same rows starting `offset` elements further in (a column window).
    pub fn shifted(self, offset: usize) -> Rows<'a> {
        Rows {
            offset: self.offset + offset,
            ..self
        }
    }
}

fn word(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| GpuError::Shape(format!("{n} is too large for a kernel")))
}

fn groups(n: usize, per_group: usize) -> usize {
    n.div_ceil(per_group)
}

/// `n` workgroups laid out as x (up to 65535) then y.
fn spread(n: usize) -> (u32, u32) {
    let x = n.clamp(1, MAX_GROUPS);
    (x as u32, n.div_ceil(x) as u32)
}

fn check_fits(rows: Rows<'_>, count: usize, width: usize, what: &str) -> Result<()> {
    let last = rows.offset + rows.stride * count.saturating_sub(1) + width;
    if count > 0 && last as u64 * 4 > rows.buffer.bytes() {
        return Err(GpuError::Shape(format!(
            "{what}: {count} rows of {width} need {last} floats; the buffer holds {}",
            rows.buffer.bytes() / 4
        )));
    }
    Ok(())
}

/// Tokens from which a product stages tiles of weights and activations (fewer: one
/// workgroup per output value, reading the weights once per token).
const TILED_FROM: usize = 4;

/// `out[t] = w · x[t]` for `tokens` rows of activations: a matrix–vector product for a decode
/// step, a tiled matrix–matrix product for a prompt or an encoder.
pub fn matmul(
    pass: &mut Pass<'_>,
    w: &Weight,
    x: Rows<'_>,
    out: Rows<'_>,
    tokens: usize,
) -> Result<()> {
    check_fits(x, tokens, w.cols, "matmul input")?;
    check_fits(out, tokens, w.rows, "matmul output")?;
    for chunk in &w.chunks {
        // One-row-per-workgroup kernels spread the rows over x then y; tiles cover 16 × 16.
        let (gx, gy) = spread(chunk.rows);
        let (kernel, groups) = if tokens >= TILED_FROM {
            let tiles = [word(groups(chunk.rows, 16))?, word(groups(tokens, 16))?, 1];
            (Kernel::MatmulTiled(w.ty), tiles)
        } else if pass.gpu().subgroups() {
            (Kernel::MatmulSubgroup(w.ty), [gx, gy, word(tokens)?])
        } else {
            (Kernel::Matmul(w.ty), [gx, gy, word(tokens)?])
        };
        let params = [
            word(chunk.rows)?,
            word(w.cols)?,
            gx,
            word(tokens)?,
            word(x.offset)?,
            word(x.stride)?,
            word(out.offset + chunk.first_row)?,
            word(out.stride)?,
        ];
        let buffers = [&chunk.buffer, x.buffer, out.buffer];
        pass.dispatch(kernel, &params, &buffers, groups)?;
    }
    Ok(())
}

/// `out[t] = table[ids[t]]`, dequantised (an embedding lookup).
pub fn get_rows(
    pass: &mut Pass<'_>,
    table: &Weight,
    ids: &Buffer,
    out: &Buffer,
    tokens: usize,
) -> Result<()> {
    check_fits(
        Rows::new(out, table.cols),
        tokens,
        table.cols,
        "embedding output",
    )?;
    for chunk in &table.chunks {
        let params = [word(table.cols)?, word(chunk.first_row)?, word(chunk.rows)?];
        let x = groups(table.cols / 4, WG);
        pass.dispatch(
            Kernel::GetRows(table.ty),
            &params,
            &[&chunk.buffer, ids, out],
            [word(x)?, word(tokens)?, 1],
        )?;
    }
    Ok(())
}

/// `out = rms_norm(x) * weight` over `groups` consecutive groups of `cols` values in each of
/// `rows` rows (1 group: a layer's norm; `heads` groups of `head_dim`: per-head norms).
#[allow(clippy::too_many_arguments)]
pub fn rms_norm(
    pass: &mut Pass<'_>,
    x: Rows<'_>,
    weight: &Buffer,
    out: Rows<'_>,
    rows: usize,
    groups: usize,
    cols: usize,
    eps: f32,
) -> Result<()> {
    check_fits(x, rows, groups * cols, "norm input")?;
    check_fits(out, rows, groups * cols, "norm output")?;
    let params = [
        word(cols)?,
        eps.to_bits(),
        word(groups)?,
        word(x.offset)?,
        word(x.stride)?,
        word(out.offset)?,
        word(out.stride)?,
    ];
    let buffers = [x.buffer, weight, out.buffer];
    pass.dispatch(
        Kernel::RmsNorm,
        &params,
        &buffers,
        [word(rows * groups)?, 1, 1],
    )
}

/// `out[r] = layer_norm(x[r]) * weight + bias` for `rows` rows of `cols` (out is dense).
#[allow(clippy::too_many_arguments)]
pub fn layer_norm(
    pass: &mut Pass<'_>,
    x: Rows<'_>,
    weight: &Buffer,
    bias: &Buffer,
    out: &Buffer,
    rows: usize,
    cols: usize,
    eps: f32,
) -> Result<()> {
    check_fits(x, rows, cols, "norm input")?;
    check_fits(Rows::new(out, cols), rows, cols, "norm output")?;
    let params = [word(cols)?, eps.to_bits(), word(x.offset)?, word(x.stride)?];
    let buffers = [x.buffer, weight, bias, out];
    pass.dispatch(Kernel::LayerNorm, &params, &buffers, [word(rows)?, 1, 1])
}

/// `x = gelu(x)` (exact, erf) for the first `n` values, in place.
pub fn gelu(pass: &mut Pass<'_>, x: &Buffer, n: usize) -> Result<()> {
    unary(pass, x, n, 0, 0.0)
}

/// `x *= factor` for the first `n` values, in place.
pub fn scale(pass: &mut Pass<'_>, x: &Buffer, n: usize, factor: f32) -> Result<()> {
    unary(pass, x, n, 1, factor)
}

fn unary(pass: &mut Pass<'_>, x: &Buffer, n: usize, op: u32, factor: f32) -> Result<()> {
    check_fits(Rows::new(x, n), 1, n, "element-wise")?;
    let (gx, gy) = spread(groups(n, WG));
    let params = [word(n)?, gx * WG as u32, op, factor.to_bits()];
    pass.dispatch(Kernel::Unary, &params, &[x], [gx, gy, 1])
}

/// The shape of a 1-D convolution's input and window.
#[derive(Debug, Clone, Copy)]
pub struct Conv1d {
    /// Input channels.
    pub channels: usize,
    /// Input positions.
    pub in_len: usize,
    /// Window size.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros on each side.
    pub pad: usize,
    /// The input is `[channel][position]` (else `[position][channel]`).
    pub channel_major: bool,
}

impl Conv1d {
    /// Output positions.
    pub fn out_len(&self) -> usize {
        (self.in_len + 2 * self.pad).saturating_sub(self.kernel) / self.stride.max(1) + 1
    }
}

/// Writes the convolution's patches of `x` into `out` as `out_len × channels · kernel` rows.
pub fn im2col(pass: &mut Pass<'_>, x: &Buffer, out: &Buffer, c: Conv1d) -> Result<()> {
    let width = c.channels * c.kernel;
    check_fits(
        Rows::new(x, c.in_len * c.channels),
        1,
        c.in_len * c.channels,
        "conv input",
    )?;
    check_fits(Rows::new(out, width), c.out_len(), width, "conv patches")?;
    let params = [
        word(c.channels)?,
        word(c.in_len)?,
        word(c.out_len())?,
        word(c.kernel)?,
        word(c.stride)?,
        word(c.pad)?,
        u32::from(c.channel_major),
    ];
    let groups_x = word(groups(width, WG))?;
    pass.dispatch(
        Kernel::Im2col,
        &params,
        &[x, out],
        [groups_x, word(c.out_len())?, 1],
    )
}

/// How rotary embedding turns each head.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// Heads per token.
    pub heads: usize,
    /// Values per head.
    pub head_dim: usize,
    /// How many of each head's leading values rotate.
    pub rope_dim: usize,
    /// Halves (NeoX, Hugging Face) rather than interleaved pairs (llama.cpp's llama).
    pub neox: bool,
}

/// Rotates `x` in place by `angles` (`tokens × rope_dim / 2` pairs of cos, sin).
pub fn rope(
    pass: &mut Pass<'_>,
    x: Rows<'_>,
    angles: &Buffer,
    r: Rotation,
    tokens: usize,
) -> Result<()> {
    check_fits(x, tokens, r.heads * r.head_dim, "rotary input")?;
    let pairs = r.rope_dim / 2;
    let params = [
        word(r.heads)?,
        word(r.head_dim)?,
        word(r.rope_dim)?,
        u32::from(r.neox),
        word(x.offset)?,
        word(x.stride)?,
        word(tokens)?,
    ];
    let threads = groups(r.heads * pairs, WG);
    pass.dispatch(
        Kernel::Rope,
        &params,
        &[x.buffer, angles],
        [word(threads)?, word(tokens)?, 1],
    )
}

/// A layer's keys and values on the GPU, `capacity` positions of `kv_dim` values each.
pub struct KvCache {
    keys: Buffer,
    values: Buffer,
    kv_dim: usize,
    capacity: usize,
    ty: KvType,
}

impl KvCache {
    /// Room for `capacity` positions.
    pub fn new(gpu: &Gpu, kv_dim: usize, capacity: usize, ty: KvType) -> Result<KvCache> {
        if !kv_dim.is_multiple_of(2) {
            return Err(GpuError::Shape(format!(
                "a cache row of {kv_dim} values is not pairs"
            )));
        }
        let bytes = (kv_dim * capacity) as u64 * ty.bytes();
        Ok(KvCache {
            keys: gpu.buffer(bytes, "key cache")?,
            values: gpu.buffer(bytes, "value cache")?,
            kv_dim,
            capacity,
            ty,
        })
    }

    /// Positions it has room for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Writes `tokens` keys and values (rows of the cache's width) at positions `pos0..`.
pub fn kv_store(
    pass: &mut Pass<'_>,
    cache: &KvCache,
    k: Rows<'_>,
    v: Rows<'_>,
    pos0: usize,
    tokens: usize,
) -> Result<()> {
    if pos0 + tokens > cache.capacity {
        return Err(GpuError::Shape(format!(
            "positions {pos0}..{} don't fit a cache of {}",
            pos0 + tokens,
            cache.capacity
        )));
    }
    check_fits(k, tokens, cache.kv_dim, "keys")?;
    check_fits(v, tokens, cache.kv_dim, "values")?;
    if k.stride != v.stride {
        return Err(GpuError::Shape(
            "keys and values with different strides".into(),
        ));
    }
    let params = [
        word(cache.kv_dim)?,
        word(pos0)?,
        word(k.offset)?,
        word(v.offset)?,
        word(k.stride)?,
    ];
    let x = groups(cache.kv_dim / 2, WG);
    pass.dispatch(
        Kernel::KvStore(cache.ty),
        &params,
        &[k.buffer, v.buffer, &cache.keys, &cache.values],
        [word(x)?, word(tokens)?, 1],
    )
}

/// The shape of one attention step.
#[derive(Debug, Clone, Copy)]
pub struct Attention {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (a divisor of `heads`).
    pub kv_heads: usize,
    /// Values per head.
    pub head_dim: usize,
    /// The first query's position (for the causal mask and the window).
    pub pos0: usize,
    /// Queries in this pass.
    pub tokens: usize,
    /// Keys attended: the cache's first `keys` positions (`pos0 + tokens` in a decoder's
    /// self-attention; the source's length in cross-attention).
    pub keys: usize,
    /// Sliding window in positions (0: none).
    pub window: usize,
    /// Score scale (1/√head_dim unless the model says).
    pub scale: f32,
    /// Whether later keys are hidden (decoders) or every key is seen (encoders).
    pub causal: bool,
    /// Scores pass through `tanh(s / c) · c` when `c > 0` (Gemma 2's soft cap).
    pub softcap: f32,
}

impl Attention {
    /// Floats of score scratch it needs.
    pub fn scratch_len(&self) -> usize {
        self.heads * self.tokens * self.keys
    }
}

/// Causal grouped-query attention of queries `q` over the cache (already holding this pass's
/// keys and values); `scores` is scratch of [`Attention::scratch_len`] floats, `out` gets
/// `tokens × heads × head_dim`.
pub fn attention(
    pass: &mut Pass<'_>,
    q: Rows<'_>,
    cache: &KvCache,
    scores: &Buffer,
    out: &Buffer,
    a: Attention,
) -> Result<()> {
    let ctx = a.keys;
    if a.kv_heads == 0
        || !a.heads.is_multiple_of(a.kv_heads)
        || a.kv_heads * a.head_dim != cache.kv_dim
    {
        return Err(GpuError::Shape(format!(
            "{} heads over {} key heads of {} don't fit a cache row of {}",
            a.heads, a.kv_heads, a.head_dim, cache.kv_dim
        )));
    }
    if ctx > cache.capacity {
        return Err(GpuError::Shape(format!(
            "{ctx} positions exceed the cache's {}",
            cache.capacity
        )));
    }
    check_fits(q, a.tokens, a.heads * a.head_dim, "queries")?;
    check_fits(
        Rows::new(scores, ctx),
        a.heads * a.tokens,
        ctx,
        "attention scores",
    )?;
    check_fits(
        Rows::new(out, a.heads * a.head_dim),
        a.tokens,
        a.heads * a.head_dim,
        "attention output",
    )?;
    let params = [
        word(a.heads)?,
        word(a.kv_heads)?,
        word(a.head_dim)?,
        word(a.pos0)?,
        word(ctx)?,
        word(a.window)?,
        a.scale.to_bits(),
        word(q.offset)?,
        word(q.stride)?,
        u32::from(a.causal),
        a.softcap.to_bits(),
    ];
    pass.dispatch(
        Kernel::AttnScores(cache.ty),
        &params,
        &[q.buffer, &cache.keys, scores],
        [word(groups(ctx, WG))?, word(a.heads)?, word(a.tokens)?],
    )?;
    softmax(pass, scores, a.heads * a.tokens, ctx)?;
    let params = [
        word(a.heads)?,
        word(a.kv_heads)?,
        word(a.head_dim)?,
        word(ctx)?,
    ];
    pass.dispatch(
        Kernel::AttnValues(cache.ty),
        &params,
        &[scores, &cache.values, out],
        [
            word(groups(a.heads * a.head_dim / 2, WG))?,
            word(a.tokens)?,
            1,
        ],
    )
}

/// Softmax of each of `rows` rows of `cols` in place.
pub fn softmax(pass: &mut Pass<'_>, x: &Buffer, rows: usize, cols: usize) -> Result<()> {
    check_fits(Rows::new(x, cols), rows, cols, "softmax")?;
    let (gx, gy) = spread(rows);
    pass.dispatch(
        Kernel::Softmax,
        &[word(cols)?, word(rows)?],
        &[x],
        [gx, gy, 1],
    )
}

/// The activation of a gated feed-forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// SiLU (SwiGLU: llama, qwen, phi3).
    Silu,
    /// GELU with the tanh approximation (GeGLU: Gemma).
    GeluTanh,
}

/// `out[t] = act(gate[t]) * up[t]`, `n` wide (gate and up share a stride).
pub fn gated(
    pass: &mut Pass<'_>,
    gate: Rows<'_>,
    up: Rows<'_>,
    out: &Buffer,
    act: Gate,
    n: usize,
    tokens: usize,
) -> Result<()> {
    check_fits(gate, tokens, n, "gate")?;
    check_fits(up, tokens, n, "up")?;
    check_fits(Rows::new(out, n), tokens, n, "gated output")?;
    if gate.stride != up.stride {
        return Err(GpuError::Shape("gate and up with different strides".into()));
    }
    let params = [
        word(n)?,
        word(tokens)?,
        word(gate.offset)?,
        word(up.offset)?,
        word(gate.stride)?,
        u32::from(act == Gate::GeluTanh),
    ];
    pass.dispatch(
        Kernel::Gated,
        &params,
        &[gate.buffer, up.buffer, out],
        [word(groups(n, WG))?, word(tokens)?, 1],
    )
}

/// `a[t] += b[t]` for `rows` rows of `n` values; a `b` with stride 0 is a bias added to every
/// row.
pub fn add(pass: &mut Pass<'_>, a: Rows<'_>, b: Rows<'_>, n: usize, rows: usize) -> Result<()> {
    check_fits(a, rows, n, "sum")?;
    check_fits(b, if b.stride == 0 { 1 } else { rows }, n, "addend")?;
    if b.offset != 0 {
        return Err(GpuError::Shape("an addend starts its buffer".into()));
    }
    let params = [
        word(n)?,
        word(rows)?,
        word(a.offset)?,
        word(a.stride)?,
        word(b.stride)?,
    ];
    pass.dispatch(
        Kernel::Add,
        &params,
        &[a.buffer, b.buffer],
        [word(groups(n, WG))?, word(rows)?, 1],
    )
}

/// `out[0]` = the index of the largest of `n` floats at `offset` of `x` (lowest among equals).
pub fn argmax(
    pass: &mut Pass<'_>,
    x: &Buffer,
    offset: usize,
    n: usize,
    out: &Buffer,
) -> Result<()> {
    check_fits(Rows::new(x, n).shifted(offset), 1, n, "argmax input")?;
    pass.dispatch(
        Kernel::Argmax,
        &[word(n)?, word(offset)?],
        &[x, out],
        [1, 1, 1],
    )
}

impl KvCache {
    /// A cache with room for `capacity` positions holding this one's contents (a generation
    /// longer than the room reserved for it).
    pub fn grown(&self, gpu: &Gpu, capacity: usize) -> Result<KvCache> {
        let bigger = KvCache::new(gpu, self.kv_dim, capacity.max(self.capacity), self.ty)?;
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for (from, to) in [(&self.keys, &bigger.keys), (&self.values, &bigger.values)] {
            encoder.copy_buffer_to_buffer(&from.inner, 0, &to.inner, 0, from.bytes());
        }
        gpu.queue.submit([encoder.finish()]);
        gpu.check()?;
        Ok(bigger)
    }
}
