//! BART for sequence classification (`BartForSequenceClassification`, e.g. facebook/bart-large-mnli
//! behind zero-shot classification), with transformers' weight names.
//!
//! The token embeddings are shared by the encoder and the decoder (scaled by √d_model when
//! `scale_embedding`); each stack adds learned positions (offset by 2, BART's quirk) and
//! `layernorm_embedding`, then runs post-layer-norm blocks. The decoder reads the input shifted
//! right (`decoder_start_token_id` first); the decoder's hidden state at the LAST `</s>` of the
//! input goes through the classification head: dense → tanh → out_proj. candle-transformers'
//! Marian is the same block layout but keeps its layers private and has sinusoidal positions
//! without `layernorm_embedding`, so the model is written here.

use std::path::Path;

use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::{Activation, Embedding, LayerNorm, VarBuilder, embedding, layer_norm};
use serde::Deserialize;

use super::elementwise::softmax_last_dim;
use super::linear::{Linear, linear};
use crate::infer::models::causal::safetensors_files;
use crate::infer::{InferError, read_json};

/// PyTorch's `nn.LayerNorm` default, which BART's norms use.
const LAYER_NORM_EPS: f64 = 1e-5;
/// BART's learned position tables start 2 rows in.
const POSITION_OFFSET: usize = 2;
/// Where a checkpoint may keep the shared token embeddings (they are tied: any one will do).
const EMBEDDING_NAMES: [&str; 3] = [
    "model.shared.weight",
    "model.encoder.embed_tokens.weight",
    "model.decoder.embed_tokens.weight",
];

/// The config.json keys BART reads, with `BartConfig`'s defaults for the missing ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Vocabulary size (rows of the shared embeddings).
    pub vocab_size: usize,
    /// Hidden size.
    pub d_model: usize,
    /// Encoder blocks.
    pub encoder_layers: usize,
    /// Decoder blocks.
    pub decoder_layers: usize,
    /// Attention heads in the encoder.
    pub encoder_attention_heads: usize,
    /// Attention heads in the decoder.
    pub decoder_attention_heads: usize,
    /// Feed-forward width in the encoder.
    pub encoder_ffn_dim: usize,
    /// Feed-forward width in the decoder.
    pub decoder_ffn_dim: usize,
    /// Positions each stack holds (the tables have 2 more rows).
    pub max_position_embeddings: usize,
    /// The feed-forward activation (`gelu` is the exact, erf one).
    pub activation_function: Activation,
    /// Whether token embeddings are multiplied by √d_model.
    pub scale_embedding: bool,
    /// `</s>`: the classifier reads the decoder at the last one.
    pub eos_token_id: u32,
    /// The first decoder token (`</s>` in BART).
    pub decoder_start_token_id: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            vocab_size: 50265,
            d_model: 1024,
            encoder_layers: 12,
            decoder_layers: 12,
            encoder_attention_heads: 16,
            decoder_attention_heads: 16,
            encoder_ffn_dim: 4096,
            decoder_ffn_dim: 4096,
            max_position_embeddings: 1024,
            activation_function: Activation::Gelu,
            scale_embedding: false,
            eos_token_id: 2,
            decoder_start_token_id: 2,
        }
    }
}

impl Config {
    /// Reads `config.json` of a BART checkpoint.
    pub fn from_file(path: &Path) -> Result<Config, InferError> {
        let config: Config =
            serde_json::from_value(read_json(path)?).map_err(|e| InferError::file(path, e))?;
        for (heads, name) in [
            (config.encoder_attention_heads, "encoder_attention_heads"),
            (config.decoder_attention_heads, "decoder_attention_heads"),
        ] {
            if heads == 0 || !config.d_model.is_multiple_of(heads) {
                return Err(InferError::file(
                    path,
                    format!(
                        "d_model {} is not a multiple of {name} {heads}",
                        config.d_model
                    ),
                ));
            }
        }
        Ok(config)
    }
}

/// Multi-head attention: queries from `xs`, keys and values from `kv` (itself, or the encoder).
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
}

impl Attention {
    fn new(hidden: usize, heads: usize, vb: VarBuilder) -> candle_core::Result<Attention> {
        Ok(Attention {
            q_proj: linear(hidden, hidden, vb.pp("q_proj"))?,
            k_proj: linear(hidden, hidden, vb.pp("k_proj"))?,
            v_proj: linear(hidden, hidden, vb.pp("v_proj"))?,
            out_proj: linear(hidden, hidden, vb.pp("out_proj"))?,
            heads,
        })
    }

    /// `(tokens, hidden)` → `(heads, tokens, head_dim)`.
    fn split(&self, xs: Tensor) -> candle_core::Result<Tensor> {
        let (tokens, hidden) = xs.dims2()?;
        xs.reshape((tokens, self.heads, hidden / self.heads))?
            .transpose(0, 1)?
            .contiguous()
    }

    fn forward(
        &self,
        xs: &Tensor,
        kv: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (tokens, hidden) = xs.dims2()?;
        let scale = ((hidden / self.heads) as f64).powf(-0.5);
        let q = self.split((self.q_proj.forward(xs)? * scale)?)?;
        let k = self.split(self.k_proj.forward(kv)?)?;
        let v = self.split(self.v_proj.forward(kv)?)?;
        let mut weights = q.matmul(&k.t()?)?;
        if let Some(mask) = mask {
            weights = weights.broadcast_add(mask)?;
        }
        let out = softmax_last_dim(&weights)?.matmul(&v)?;
        let out = out.transpose(0, 1)?.reshape((tokens, hidden))?;
        self.out_proj.forward(&out)
    }
}

/// fc1 → activation → fc2.
struct FeedForward {
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl FeedForward {
    fn new(
        hidden: usize,
        width: usize,
        activation: Activation,
        vb: &VarBuilder,
    ) -> candle_core::Result<FeedForward> {
        Ok(FeedForward {
            fc1: linear(hidden, width, vb.pp("fc1"))?,
            fc2: linear(width, hidden, vb.pp("fc2"))?,
            activation,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        self.fc2
            .forward(&self.activation.forward(&self.fc1.forward(xs)?)?)
    }
}

/// A post-LN block: self-attention, cross-attention (decoder only), feed-forward, each added to
/// its input and then normalised.
struct Block {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    cross: Option<(Attention, LayerNorm)>,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
}

impl Block {
    fn new(config: &Config, decoder: bool, vb: VarBuilder) -> candle_core::Result<Block> {
        let hidden = config.d_model;
        let (heads, width) = if decoder {
            (config.decoder_attention_heads, config.decoder_ffn_dim)
        } else {
            (config.encoder_attention_heads, config.encoder_ffn_dim)
        };
        let norm = |name: &str| layer_norm(hidden, LAYER_NORM_EPS, vb.pp(name));
        let cross = if decoder {
            Some((
                Attention::new(hidden, heads, vb.pp("encoder_attn"))?,
                norm("encoder_attn_layer_norm")?,
            ))
        } else {
            None
        };
        Ok(Block {
            self_attn: Attention::new(hidden, heads, vb.pp("self_attn"))?,
            self_attn_layer_norm: norm("self_attn_layer_norm")?,
            cross,
            ffn: FeedForward::new(hidden, width, config.activation_function, &vb)?,
            final_layer_norm: norm("final_layer_norm")?,
        })
    }

    fn forward(
        &self,
        xs: &Tensor,
        mask: Option<&Tensor>,
        encoder_out: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let xs = (xs + self.self_attn.forward(xs, xs, mask)?)?;
        let mut xs = self.self_attn_layer_norm.forward(&xs)?;
        if let (Some((attn, norm)), Some(encoder_out)) = (&self.cross, encoder_out) {
            xs = norm.forward(&(&xs + attn.forward(&xs, encoder_out, None)?)?)?;
        }
        self.final_layer_norm
            .forward(&(&xs + self.ffn.forward(&xs)?)?)
    }
}

/// The encoder or the decoder: token embeddings + learned positions, `layernorm_embedding`,
/// blocks.
struct Stack {
    positions: Embedding,
    layernorm_embedding: LayerNorm,
    blocks: Vec<Block>,
}

impl Stack {
    fn new(config: &Config, decoder: bool, vb: VarBuilder) -> candle_core::Result<Stack> {
        let count = if decoder {
            config.decoder_layers
        } else {
            config.encoder_layers
        };
        Ok(Stack {
            positions: embedding(
                config.max_position_embeddings + POSITION_OFFSET,
                config.d_model,
                vb.pp("embed_positions"),
            )?,
            layernorm_embedding: layer_norm(
                config.d_model,
                LAYER_NORM_EPS,
                vb.pp("layernorm_embedding"),
            )?,
            blocks: (0..count)
                .map(|i| Block::new(config, decoder, vb.pp(format!("layers.{i}"))))
                .collect::<candle_core::Result<_>>()?,
        })
    }

    /// `(tokens, hidden)` from the scaled token embeddings `(tokens, hidden)`.
    fn forward(
        &self,
        embeds: &Tensor,
        mask: Option<&Tensor>,
        encoder_out: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let tokens = embeds.dim(0)?;
        let rows = Tensor::arange(
            POSITION_OFFSET as u32,
            (tokens + POSITION_OFFSET) as u32,
            embeds.device(),
        )?;
        let xs = (embeds + self.positions.forward(&rows)?)?;
        let mut xs = self.layernorm_embedding.forward(&xs)?;
        for block in &self.blocks {
            xs = block.forward(&xs, mask, encoder_out)?;
        }
        Ok(xs)
    }
}

/// A loaded `BartForSequenceClassification`.
pub struct BartForSequenceClassification {
    shared: Embedding,
    embed_scale: f64,
    encoder: Stack,
    decoder: Stack,
    dense: Linear,
    out_proj: Linear,
    config: Config,
    labels: usize,
}

impl BartForSequenceClassification {
    /// Builds the model from checkpoint tensors under transformers' names (`model.shared`,
    /// `model.encoder.*`, `model.decoder.*`, `classification_head.*`); the label count comes from
    /// `classification_head.out_proj`.
    pub fn new(
        config: &Config,
        vb: VarBuilder,
    ) -> Result<BartForSequenceClassification, InferError> {
        let hidden = config.d_model;
        let name = EMBEDDING_NAMES
            .iter()
            .find(|name| vb.contains_tensor(name))
            .ok_or_else(|| {
                InferError::Model(
                    "this checkpoint has no BART token embeddings (model.shared.weight)".into(),
                )
            })?;
        let shared = Embedding::new(vb.get((config.vocab_size, hidden), name)?, hidden);
        let head = vb.pp("classification_head");
        let labels = head
            .get_unchecked("out_proj.bias")
            .and_then(|bias| bias.dims1())
            .map_err(|_| {
                InferError::Model(
                    "this checkpoint has no classification head (classification_head.out_proj); \
                     it was not fine-tuned for classification"
                        .into(),
                )
            })?;
        Ok(BartForSequenceClassification {
            shared,
            embed_scale: if config.scale_embedding {
                (hidden as f64).sqrt()
            } else {
                1.0
            },
            encoder: Stack::new(config, false, vb.pp("model.encoder"))?,
            decoder: Stack::new(config, true, vb.pp("model.decoder"))?,
            dense: linear(hidden, hidden, head.pp("dense"))?,
            out_proj: linear(hidden, labels, head.pp("out_proj"))?,
            config: config.clone(),
            labels,
        })
    }

    /// Loads config.json and the safetensors weights of `dir` onto `device` (fp32).
    pub fn load(dir: &Path, device: &Device) -> Result<BartForSequenceClassification, InferError> {
        let config = Config::from_file(&dir.join("config.json"))?;
        let files = safetensors_files(dir)?;
        let vb = crate::infer::models::mmap_weights(&files, device)?;
        BartForSequenceClassification::new(&config, vb)
    }

    /// The number of labels the head outputs.
    pub fn labels(&self) -> usize {
        self.labels
    }

    /// The config it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The logits `(labels)` of one tokenized input (with its special tokens, e.g.
    /// `<s> premise </s></s> hypothesis </s>`), read at its last `</s>`.
    pub fn forward(&self, ids: &[u32]) -> Result<Tensor, InferError> {
        let last_eos = self.check(ids)?;
        let device = self.shared.embeddings().device();
        let input = Tensor::new(ids, device)?;
        let mut shifted = Vec::with_capacity(ids.len());
        shifted.push(self.config.decoder_start_token_id);
        shifted.extend_from_slice(&ids[..ids.len() - 1]);
        let shifted = Tensor::new(shifted.as_slice(), device)?;

        let embed = |ids: &Tensor| self.shared.forward(ids)? * self.embed_scale;
        let encoder_out = self.encoder.forward(&embed(&input)?, None, None)?;
        let mask = causal_mask(ids.len(), device)?;
        let decoder_out =
            self.decoder
                .forward(&embed(&shifted)?, Some(&mask), Some(&encoder_out))?;
        let state = decoder_out.i(last_eos)?.unsqueeze(0)?;
        let logits = self
            .out_proj
            .forward(&self.dense.forward(&state)?.tanh()?)?;
        Ok(logits.squeeze(0)?)
    }

    /// Validates `ids`; returns the index of the last `</s>`.
    fn check(&self, ids: &[u32]) -> Result<usize, InferError> {
        if ids.is_empty() {
            return Err(InferError::InvalidInput("the text is empty".into()));
        }
        let max = self.config.max_position_embeddings;
        if ids.len() > max {
            return Err(InferError::InvalidInput(format!(
                "the input is {} tokens long; this BART model reads at most {max}: shorten the text",
                ids.len()
            )));
        }
        if let Some(bad) = ids
            .iter()
            .find(|&&id| id as usize >= self.config.vocab_size)
        {
            return Err(InferError::InvalidInput(format!(
                "token id {bad} is outside the model's vocabulary of {}: the tokenizer does not \
                 match the model",
                self.config.vocab_size
            )));
        }
        ids.iter()
            .rposition(|&id| id == self.config.eos_token_id)
            .ok_or_else(|| {
                InferError::InvalidInput(format!(
                    "BART classifies at the last </s> (id {}) and the input has none: encode it \
                     with the tokenizer's special tokens",
                    self.config.eos_token_id
                ))
            })
    }
}

/// `(tokens, tokens)`: 0 on and below the diagonal, -∞ above.
fn causal_mask(tokens: usize, device: &Device) -> candle_core::Result<Tensor> {
    let rows = Tensor::arange(0u32, tokens as u32, device)?;
    let future = rows.unsqueeze(0)?.broadcast_gt(&rows.unsqueeze(1)?)?;
    let zeros = Tensor::zeros((tokens, tokens), DType::F32, device)?;
    let blocked = Tensor::full(f32::NEG_INFINITY, (tokens, tokens), device)?;
    future.where_cond(&blocked, &zeros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_config_keys_get_bart_defaults() {
        let config: Config = serde_json::from_value(
            serde_json::json!({"d_model": 32, "activation_function": "relu"}),
        )
        .unwrap();
        assert_eq!(config.d_model, 32);
        assert_eq!(config.activation_function, Activation::Relu);
        assert_eq!(config.max_position_embeddings, 1024);
        assert_eq!((config.eos_token_id, config.decoder_start_token_id), (2, 2));
        assert!(!config.scale_embedding);
    }

    #[test]
    fn the_causal_mask_hides_later_tokens() {
        let mask: Vec<Vec<f32>> = causal_mask(3, &Device::Cpu).unwrap().to_vec2().unwrap();
        assert_eq!(mask[0][0], 0.0);
        assert_eq!(mask[2][1], 0.0);
        assert_eq!(mask[0][1], f32::NEG_INFINITY);
        assert_eq!(mask[1][2], f32::NEG_INFINITY);
    }
}
