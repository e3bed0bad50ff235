//! Multi-head attention as transformers writes it (SpeechT5, MusicGen, and ViT's layers under
//! their own names): `q_proj`, `k_proj`, `v_proj`, `out_proj` (with or without biases) over
//! `(batch, tokens, hidden)`; keys and values split into heads once (cross-attention) or
//! appended to a cache (self-attention); queries scaled by `head_dim^-0.5`; an optional term
//! added to the scores (SpeechT5's relative positions).

use candle_core::{CpuStorage, CustomOp3, Layout, Module, Result, Shape, Tensor, bail};
use candle_nn::VarBuilder;

use super::elementwise::{contiguous_f32s as f32s, cpu_f32, softmax_last_dim};
use super::linear::{Linear, linear_b};

/// One attention module's projections.
pub struct MultiHeadAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
}

impl MultiHeadAttention {
    /// Loads `vb` for `hidden` wide inputs split into `heads`, with biases when `bias`.
    pub fn new(
        hidden: usize,
        heads: usize,
        bias: bool,
        vb: VarBuilder,
    ) -> Result<MultiHeadAttention> {
        let projection = |name: &str| linear_b(hidden, hidden, bias, vb.pp(name));
        Ok(MultiHeadAttention::from_projections(
            [
                projection("q_proj")?,
                projection("k_proj")?,
                projection("v_proj")?,
                projection("out_proj")?,
            ],
            hidden,
            heads,
        ))
    }

    /// From loaded query, key, value and output projections of `hidden` wide inputs.
    pub fn from_projections(
        [q, k, v, out]: [Linear; 4],
        hidden: usize,
        heads: usize,
    ) -> MultiHeadAttention {
        MultiHeadAttention {
            q,
            k,
            v,
            out,
            heads,
            head_dim: hidden / heads,
        }
    }

    /// `(B, T, hidden)` → `(B, heads, T, head_dim)`.
    fn split(&self, xs: &Tensor) -> Result<Tensor> {
        let (batch, tokens, _) = xs.dims3()?;
        xs.reshape((batch, tokens, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// The keys and values of `xs`, split into heads.
    pub fn keys_values(&self, xs: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((
            self.split(&self.k.forward(xs)?)?,
            self.split(&self.v.forward(xs)?)?,
        ))
    }

    /// The scaled queries of `xs`, split into heads.
    pub fn queries(&self, xs: &Tensor) -> Result<Tensor> {
        self.split(&(self.q.forward(xs)? * (self.head_dim as f64).powf(-0.5))?)
    }

    /// Attends from split queries over split keys and values, `scores` `(B, heads, Tq, Tk)`
    /// added when given; `(B, Tq, hidden)`.
    pub fn attend(
        &self,
        queries: &Tensor,
        keys: &Tensor,
        values: &Tensor,
        scores: Option<&Tensor>,
    ) -> Result<Tensor> {
        self.out
            .forward(&attend_heads(queries, keys, values, scores)?)
    }

    /// Attends from `xs` over split keys and values.
    pub fn forward(&self, xs: &Tensor, keys: &Tensor, values: &Tensor) -> Result<Tensor> {
        self.attend(&self.queries(xs)?, keys, values, None)
    }

    /// Self-attention over `xs` `(B, T, hidden)`, no mask, through [`dense_attention`].
    pub fn self_attention(&self, xs: &Tensor) -> Result<Tensor> {
        let context = dense_attention(
            &self.q.forward(xs)?,
            &self.k.forward(xs)?,
            &self.v.forward(xs)?,
            self.heads,
            (self.head_dim as f64).powf(-0.5),
        )?;
        self.out.forward(&context)
    }
}

/// Attends from split (and scaled) queries `(B, heads, Tq, head_dim)` over split keys and
/// values, `scores` `(B, heads, Tq, Tk)` added when given; the heads merged, `(B, Tq, heads ·
/// head_dim)`.
fn attend_heads(
    queries: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    scores: Option<&Tensor>,
) -> Result<Tensor> {
    let (batch, heads, tokens, head_dim) = queries.dims4()?;
    let mut weights = queries.matmul(&keys.transpose(2, 3)?.contiguous()?)?;
    if let Some(scores) = scores {
        weights = (weights + scores)?;
    }
    let weights = softmax_last_dim(&weights)?;
    weights
        .matmul(values)?
        .transpose(1, 2)?
        .reshape((batch, tokens, heads * head_dim))
}

/// Unmasked attention from `q` over `k` and `v`, each `(B, tokens, heads · head_dim)` as their
/// projections give them, the scores scaled by `scale`; `(B, Tq, heads · head_dim)`. F32 on the
/// CPU through `hubble_kernels::dense_attention` (blocks of queries, no score tensor), with
/// candle's ops elsewhere.
pub fn dense_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: usize,
    scale: f64,
) -> Result<Tensor> {
    if [q, k, v].into_iter().all(cpu_f32) {
        let op = DenseOp {
            heads,
            scale: scale as f32,
        };
        return q
            .contiguous()?
            .apply_op3_no_bwd(&k.contiguous()?, &v.contiguous()?, &op);
    }
    let split = |xs: &Tensor| -> Result<Tensor> {
        let (batch, tokens, width) = xs.dims3()?;
        xs.reshape((batch, tokens, heads, width / heads))?
            .transpose(1, 2)?
            .contiguous()
    };
    let (q, k, v) = (split(&(q * scale)?)?, split(k)?, split(v)?);
    // Queries a block at a time, so that no `(heads, queries, keys)` score tensor is made
    // whole (a 1024 px VAE's attention has 16384 queries and keys).
    let queries = q.dim(2)?;
    let blocks = (0..queries)
        .step_by(FALLBACK_QUERY_BLOCK)
        .map(|start| {
            let count = FALLBACK_QUERY_BLOCK.min(queries - start);
            attend_heads(&q.narrow(2, start, count)?, &k, &v, None)
        })
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&blocks, 1)
}

/// Queries per block where [`dense_attention`] runs on candle's ops.
const FALLBACK_QUERY_BLOCK: usize = 1024;

/// [`dense_attention`]'s CPU kernel as a candle operation.
struct DenseOp {
    heads: usize,
    scale: f32,
}

impl CustomOp3 for DenseOp {
    fn name(&self) -> &'static str {
        "dense-attention"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        q_layout: &Layout,
        k: &CpuStorage,
        k_layout: &Layout,
        v: &CpuStorage,
        v_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (batch, queries, width) = q_layout.shape().dims3()?;
        let (key_batch, keys, key_width) = k_layout.shape().dims3()?;
        if key_batch != batch || key_width != width || v_layout.shape() != k_layout.shape() {
            bail!(
                "attention: queries {:?}, keys {:?}, values {:?}",
                q_layout.shape(),
                k_layout.shape(),
                v_layout.shape()
            );
        }
        if self.heads == 0 || width % self.heads != 0 {
            bail!(
                "attention: {width} values do not split into {} heads",
                self.heads
            );
        }
        let shape = hubble_kernels::DenseAttention {
            batch,
            queries,
            keys,
            heads: self.heads,
            head_dim: width / self.heads,
        };
        let (q, k, v) = (f32s(q, q_layout)?, f32s(k, k_layout)?, f32s(v, v_layout)?);
        let mut out = vec![0f32; q.len()];
        hubble_kernels::dense_attention(&shape, q, k, v, self.scale, &mut out)
            .map_err(|e| candle_core::Error::Msg(e.0))?;
        Ok((CpuStorage::F32(out), q_layout.shape().clone()))
    }
}

/// A self-attention cache entry grown by one step's keys and values (on the token axis).
pub fn append(
    cached: Option<(Tensor, Tensor)>,
    keys: Tensor,
    values: Tensor,
) -> Result<(Tensor, Tensor)> {
    match cached {
        Some((k, v)) => Ok((
            Tensor::cat(&[&k, &keys], 2)?,
            Tensor::cat(&[&v, &values], 2)?,
        )),
        None => Ok((keys, values)),
    }
}
