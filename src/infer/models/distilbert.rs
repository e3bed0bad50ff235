//! DistilBERT's encoder, written here because candle-transformers' version uses the tanh
//! approximation of GELU where transformers uses the exact (erf) one, which moves logits by
//! ~1e-4 and breaks parity. Weight names are transformers' (`embeddings.*`,
//! `transformer.layer.N.*`); one text at a time, so there is no padding mask.

use candle_core::{D, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder, embedding, layer_norm};
use serde::Deserialize;

use super::elementwise::{gelu_erf, softmax_last_dim};
use super::linear::{Linear, linear};

/// LayerNorm epsilon transformers hard-codes for DistilBERT.
const EPS: f64 = 1e-12;

/// The config.json fields DistilBERT needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub dim: usize,
    /// Layers.
    pub n_layers: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Feed-forward size.
    pub hidden_dim: usize,
    /// Positions.
    #[serde(default = "default_positions")]
    pub max_position_embeddings: usize,
    /// `gelu` or `relu`.
    #[serde(default = "default_activation")]
    pub activation: String,
}

fn default_positions() -> usize {
    512
}

fn default_activation() -> String {
    "gelu".into()
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    sa_norm: LayerNorm,
    lin1: Linear,
    lin2: Linear,
    out_norm: LayerNorm,
}

/// The DistilBERT encoder.
pub struct DistilBert {
    words: Embedding,
    positions: Embedding,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    relu: bool,
}

impl DistilBert {
    /// Loads from `vb` (already at the `distilbert.` prefix when the checkpoint has a head).
    pub fn load(vb: VarBuilder, c: &Config) -> candle_core::Result<DistilBert> {
        let e = vb.pp("embeddings");
        let mut layers = Vec::with_capacity(c.n_layers);
        for i in 0..c.n_layers {
            let l = vb.pp(format!("transformer.layer.{i}"));
            let a = l.pp("attention");
            layers.push(Layer {
                q: linear(c.dim, c.dim, a.pp("q_lin"))?,
                k: linear(c.dim, c.dim, a.pp("k_lin"))?,
                v: linear(c.dim, c.dim, a.pp("v_lin"))?,
                out: linear(c.dim, c.dim, a.pp("out_lin"))?,
                sa_norm: layer_norm(c.dim, EPS, l.pp("sa_layer_norm"))?,
                lin1: linear(c.dim, c.hidden_dim, l.pp("ffn.lin1"))?,
                lin2: linear(c.hidden_dim, c.dim, l.pp("ffn.lin2"))?,
                out_norm: layer_norm(c.dim, EPS, l.pp("output_layer_norm"))?,
            });
        }
        Ok(DistilBert {
            words: embedding(c.vocab_size, c.dim, e.pp("word_embeddings"))?,
            positions: embedding(
                c.max_position_embeddings,
                c.dim,
                e.pp("position_embeddings"),
            )?,
            norm: layer_norm(c.dim, EPS, e.pp("LayerNorm"))?,
            layers,
            heads: c.n_heads,
            relu: c.activation == "relu",
        })
    }

    /// Hidden states `(1, tokens, dim)` of `input_ids` `(1, tokens)`.
    pub fn forward(&self, input_ids: &Tensor) -> candle_core::Result<Tensor> {
        let (_, len) = input_ids.dims2()?;
        let positions = Tensor::arange(0u32, len as u32, input_ids.device())?.unsqueeze(0)?;
        let x = (self.words.forward(input_ids)? + self.positions.forward(&positions)?)?;
        let mut x = self.norm.forward(&x)?;
        for layer in &self.layers {
            let attended = self.attention(layer, &x)?;
            x = layer.sa_norm.forward(&(attended + &x)?)?;
            let hidden = layer.lin1.forward(&x)?;
            let hidden = if self.relu {
                hidden.relu()?
            } else {
                gelu_erf(&hidden)?
            };
            x = layer
                .out_norm
                .forward(&(layer.lin2.forward(&hidden)? + &x)?)?;
        }
        Ok(x)
    }

    fn attention(&self, layer: &Layer, x: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, len, dim) = x.dims3()?;
        let head_dim = dim / self.heads;
        let split = |t: Tensor| {
            t.reshape((batch, len, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = (split(layer.q.forward(x)?)? / (head_dim as f64).sqrt())?;
        let k = split(layer.k.forward(x)?)?;
        let v = split(layer.v.forward(x)?)?;
        let weights = softmax_last_dim(&q.matmul(&k.transpose(D::Minus2, D::Minus1)?)?)?;
        let context = weights
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, len, dim))?;
        layer.out.forward(&context)
    }
}
