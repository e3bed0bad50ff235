//! Multi-head attention as transformers writes it (SpeechT5, MusicGen, and ViT's layers under
//! their own names): `q_proj`, `k_proj`, `v_proj`, `out_proj` (with or without biases) over
//! `(batch, tokens, hidden)`; keys and values split into heads once (cross-attention) or
//! appended to a cache (self-attention); queries scaled by `head_dim^-0.5`; an optional term
//! added to the scores (SpeechT5's relative positions).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::elementwise::softmax_last_dim;
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
        let (batch, _, tokens, _) = queries.dims4()?;
        let mut weights = queries.matmul(&keys.transpose(2, 3)?.contiguous()?)?;
        if let Some(scores) = scores {
            weights = (weights + scores)?;
        }
        let weights = softmax_last_dim(&weights)?;
        let context = weights.matmul(values)?.transpose(1, 2)?.reshape((
            batch,
            tokens,
            self.heads * self.head_dim,
        ))?;
        self.out.forward(&context)
    }

    /// Attends from `xs` over split keys and values.
    pub fn forward(&self, xs: &Tensor, keys: &Tensor, values: &Tensor) -> Result<Tensor> {
        self.attend(&self.queries(xs)?, keys, values, None)
    }

    /// Self-attention over `xs` `(B, T, hidden)`, no mask.
    pub fn self_attention(&self, xs: &Tensor) -> Result<Tensor> {
        let (keys, values) = self.keys_values(xs)?;
        self.forward(xs, &keys, &values)
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
