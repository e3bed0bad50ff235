//! The Whisper encoder-decoder on candle, loading transformers' `WhisperForConditionalGeneration`
//! checkpoints as they are (`model.encoder.*`, `model.decoder.*`, output tied to `embed_tokens`).
//!
//! candle-transformers has a Whisper too, but it uses the tanh approximation of GELU, fixes the
//! MLP width at 4 × d_model and recomputes the encoder's positions instead of reading
//! `embed_positions`, so it drifts from transformers by ~1e-3; this one follows
//! `modeling_whisper.py` exactly (erf GELU, checkpoint positions, configurable widths) and keeps
//! its own self- and cross-attention caches for incremental decoding.

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Activation, Conv1dConfig, Embedding, LayerNorm, VarBuilder};
use serde::Deserialize;

use super::attention::dense_attention;
use super::conv::ChunkedConv1d;
use super::conv_cpu::{InputMap, OutputMap};
use super::elementwise::softmax_last_dim;
use super::linear::{Linear, linear, linear_no_bias};

/// The fields of config.json the model needs (transformers' `WhisperConfig`).
#[derive(Debug, Clone, Deserialize)]
pub struct WhisperConfig {
    /// Mel bins of the input (80, or 128 for large-v3).
    pub num_mel_bins: usize,
    /// Hidden width.
    pub d_model: usize,
    /// Encoder layers.
    pub encoder_layers: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
    /// Encoder attention heads.
    pub encoder_attention_heads: usize,
    /// Decoder attention heads.
    pub decoder_attention_heads: usize,
    /// Encoder MLP width.
    pub encoder_ffn_dim: usize,
    /// Decoder MLP width.
    pub decoder_ffn_dim: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Encoder positions (1500: 30 s of audio after the stride-2 convolution).
    pub max_source_positions: usize,
    /// Decoder positions (448).
    pub max_target_positions: usize,
    /// Whether token embeddings are scaled by √d_model.
    #[serde(default)]
    pub scale_embedding: bool,
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    cache: Option<(Tensor, Tensor)>,
}

impl Attention {
    fn load(d: usize, heads: usize, vb: VarBuilder) -> candle_core::Result<Attention> {
        Ok(Attention {
            q: linear(d, d, vb.pp("q_proj"))?,
            k: linear_no_bias(d, d, vb.pp("k_proj"))?,
            v: linear(d, d, vb.pp("v_proj"))?,
            out: linear(d, d, vb.pp("out_proj"))?,
            heads,
            cache: None,
        })
    }

    fn split(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        x.reshape((b, t, self.heads, d / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Keys and values for `x`: appended to the cache (self-attention) or computed once from
    /// the encoder output and kept (cross-attention).
    fn keys_values(&mut self, x: &Tensor, cross: bool) -> candle_core::Result<(Tensor, Tensor)> {
        if cross && let Some(kv) = &self.cache {
            return Ok(kv.clone());
        }
        let k = self.split(&self.k.forward(x)?)?;
        let v = self.split(&self.v.forward(x)?)?;
        let kv = match (&self.cache, cross) {
            (Some((pk, pv)), false) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
            _ => (k, v),
        };
        self.cache = Some(kv.clone());
        Ok(kv)
    }

    fn forward(
        &mut self,
        x: &Tensor,
        source: Option<&Tensor>,
        mask: Option<&Tensor>,
        cache: bool,
    ) -> candle_core::Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let scale = ((d / self.heads) as f64).powf(-0.5);
        if source.is_none() && !cache && mask.is_none() {
            // The encoder: attention by blocks of queries, no score tensor on the CPU.
            let context = dense_attention(
                &self.q.forward(x)?,
                &self.k.forward(x)?,
                &self.v.forward(x)?,
                self.heads,
                scale,
            )?;
            return self.out.forward(&context);
        }
        let q = self.split(&(self.q.forward(x)? * scale)?)?;
        let (k, v) = match source {
            Some(source) => self.keys_values(source, true)?,
            None => self.keys_values(x, false)?,
        };
        let mut scores = q.matmul(&k.t()?)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let weights = softmax_last_dim(&scores)?;
        let y = weights.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out.forward(&y)
    }
}

struct Layer {
    self_attn: Attention,
    self_norm: LayerNorm,
    cross: Option<(Attention, LayerNorm)>,
    fc1: Linear,
    fc2: Linear,
    final_norm: LayerNorm,
}

impl Layer {
    fn load(
        d: usize,
        heads: usize,
        ffn: usize,
        cross: bool,
        vb: VarBuilder,
    ) -> candle_core::Result<Layer> {
        let cross = if cross {
            Some((
                Attention::load(d, heads, vb.pp("encoder_attn"))?,
                candle_nn::layer_norm(d, 1e-5, vb.pp("encoder_attn_layer_norm"))?,
            ))
        } else {
            None
        };
        Ok(Layer {
            self_attn: Attention::load(d, heads, vb.pp("self_attn"))?,
            self_norm: candle_nn::layer_norm(d, 1e-5, vb.pp("self_attn_layer_norm"))?,
            cross,
            fc1: linear(d, ffn, vb.pp("fc1"))?,
            fc2: linear(ffn, d, vb.pp("fc2"))?,
            final_norm: candle_nn::layer_norm(d, 1e-5, vb.pp("final_layer_norm"))?,
        })
    }

    fn forward(
        &mut self,
        x: &Tensor,
        encoder: Option<&Tensor>,
        mask: Option<&Tensor>,
        cache: bool,
    ) -> candle_core::Result<Tensor> {
        let h = self.self_norm.forward(x)?;
        let mut x = (x + self.self_attn.forward(&h, None, mask, cache)?)?;
        if let (Some((attn, norm)), Some(encoder)) = (&mut self.cross, encoder) {
            let h = norm.forward(&x)?;
            x = (&x + attn.forward(&h, Some(encoder), None, cache)?)?;
        }
        let h = self.final_norm.forward(&x)?;
        let h = self
            .fc2
            .forward(&self.fc1.forward_activated(&h, Activation::Gelu)?)?;
        x + h
    }

    fn clear(&mut self) {
        self.self_attn.cache = None;
        if let Some((attn, _)) = &mut self.cross {
            attn.cache = None;
        }
    }
}

/// A loaded Whisper: [`Whisper::encode`] a mel window, then [`Whisper::decode`] tokens
/// incrementally against it.
pub struct Whisper {
    conv1: ChunkedConv1d,
    conv2: ChunkedConv1d,
    encoder_positions: Tensor,
    encoder_layers: Vec<Layer>,
    encoder_norm: LayerNorm,
    embed_tokens: Embedding,
    decoder_positions: Tensor,
    decoder_layers: Vec<Layer>,
    decoder_norm: LayerNorm,
    embed_scale: f64,
    encoded: Option<Tensor>,
    past: usize,
    config: WhisperConfig,
}

impl Whisper {
    /// Builds the model from a transformers checkpoint.
    pub fn load(vb: VarBuilder, config: WhisperConfig) -> candle_core::Result<Whisper> {
        let c = &config;
        let enc = vb.pp("model.encoder");
        let dec = vb.pp("model.decoder");
        let conv = |stride| Conv1dConfig {
            padding: 1,
            stride,
            ..Conv1dConfig::default()
        };
        let encoder_layers = (0..c.encoder_layers)
            .map(|i| {
                let vb = enc.pp(format!("layers.{i}"));
                Layer::load(
                    c.d_model,
                    c.encoder_attention_heads,
                    c.encoder_ffn_dim,
                    false,
                    vb,
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let decoder_layers = (0..c.decoder_layers)
            .map(|i| {
                let vb = dec.pp(format!("layers.{i}"));
                Layer::load(
                    c.d_model,
                    c.decoder_attention_heads,
                    c.decoder_ffn_dim,
                    true,
                    vb,
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Whisper {
            conv1: ChunkedConv1d::new(candle_nn::conv1d(
                c.num_mel_bins,
                c.d_model,
                3,
                conv(1),
                enc.pp("conv1"),
            )?)?,
            conv2: ChunkedConv1d::new(candle_nn::conv1d(
                c.d_model,
                c.d_model,
                3,
                conv(2),
                enc.pp("conv2"),
            )?)?,
            encoder_positions: enc.get(
                (c.max_source_positions, c.d_model),
                "embed_positions.weight",
            )?,
            encoder_layers,
            encoder_norm: candle_nn::layer_norm(c.d_model, 1e-5, enc.pp("layer_norm"))?,
            embed_tokens: candle_nn::embedding(c.vocab_size, c.d_model, dec.pp("embed_tokens"))?,
            decoder_positions: dec.get(
                (c.max_target_positions, c.d_model),
                "embed_positions.weight",
            )?,
            decoder_layers,
            decoder_norm: candle_nn::layer_norm(c.d_model, 1e-5, dec.pp("layer_norm"))?,
            embed_scale: if c.scale_embedding {
                (c.d_model as f64).sqrt()
            } else {
                1.0
            },
            encoded: None,
            past: 0,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }

    /// Encodes one window of log-mel features `(1, n_mels, 3000)` → `(1, 1500, d_model)`, and
    /// makes it the source for the following [`Whisper::decode`] calls (caches cleared).
    pub fn encode(&mut self, mel: &Tensor) -> candle_core::Result<Tensor> {
        let gelu = |conv: &ChunkedConv1d, x: &Tensor| {
            conv.forward_fused(x, InputMap::Identity, None, OutputMap::GeluErf)
        };
        let x = gelu(&self.conv2, &gelu(&self.conv1, mel)?)?.transpose(1, 2)?;
        let len = x.dim(1)?;
        let mut x = x.broadcast_add(&self.encoder_positions.narrow(0, 0, len)?)?;
        for layer in &mut self.encoder_layers {
            x = layer.forward(&x, None, None, false)?;
        }
        let x = self.encoder_norm.forward(&x)?;
        self.set_encoded(x.clone());
        Ok(x)
    }

    /// Uses `encoded` (an encoder output) as the source for decoding; clears the caches.
    pub fn set_encoded(&mut self, encoded: Tensor) {
        self.encoded = Some(encoded);
        self.past = 0;
        self.decoder_layers.iter_mut().for_each(Layer::clear);
    }

    /// Clears the decoder's caches, keeping the encoder output (a new prompt, same audio).
    pub fn restart(&mut self) {
        self.past = 0;
        self.decoder_layers.iter_mut().for_each(Layer::clear);
    }

    /// Feeds `tokens` after those already decoded; returns their logits `(tokens, vocab)`.
    pub fn decode(&mut self, tokens: &[u32]) -> candle_core::Result<Tensor> {
        let encoded = self
            .encoded
            .clone()
            .ok_or_else(|| candle_core::Error::Msg("decode before encode".into()))?;
        let device = encoded.device().clone();
        let n = tokens.len();
        if self.past + n > self.config.max_target_positions {
            return Err(candle_core::Error::Msg(format!(
                "more than {} decoder positions",
                self.config.max_target_positions
            )));
        }
        let ids = Tensor::new(tokens, &device)?.unsqueeze(0)?;
        let x = (self.embed_tokens.forward(&ids)? * self.embed_scale)?;
        let mut x = x.broadcast_add(&self.decoder_positions.narrow(0, self.past, n)?)?;
        let mask = causal_mask(n, self.past, &device)?;
        for layer in &mut self.decoder_layers {
            x = layer.forward(&x, Some(&encoded), mask.as_ref(), true)?;
        }
        self.past += n;
        let x = self.decoder_norm.forward(&x)?.squeeze(0)?;
        x.matmul(&self.embed_tokens.embeddings().t()?)
    }
}

/// `(n, past + n)` additive mask letting token i see positions ≤ past + i; None for one token.
fn causal_mask(n: usize, past: usize, device: &Device) -> candle_core::Result<Option<Tensor>> {
    if n <= 1 {
        return Ok(None);
    }
    let values: Vec<f32> = (0..n)
        .flat_map(|i| {
            (0..past + n).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
        })
        .collect();
    Ok(Some(
        Tensor::from_vec(values, (n, past + n), device)?.to_dtype(DType::F32)?,
    ))
}

/// Index of the largest value of a 1-D tensor.
pub fn argmax(logits: &Tensor) -> candle_core::Result<u32> {
    logits.argmax(D::Minus1)?.to_scalar::<u32>()
}
