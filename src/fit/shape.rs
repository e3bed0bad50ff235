//! What the KV cache and compute buffers depend on: layers, KV heads, head sizes, context and
//! sliding windows, read from `config.json` (transformers) or GGUF metadata (llama.cpp).

use serde::Serialize;
use serde_json::Value;

use super::gguf::{GgufHeader, GgufValue};

/// How a layer attends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attention {
    /// Over the whole context.
    Full,
    /// Over the last `sliding_window` tokens only.
    Sliding,
}

/// One layer's KV-cache geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LayerKv {
    /// KV heads of the layer.
    pub kv_heads: u64,
    /// Key size per head.
    pub key_length: u64,
    /// Value size per head.
    pub value_length: u64,
    /// How it attends.
    pub attention: Attention,
}

/// A model's shape, as far as memory estimates need it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelShape {
    /// Where it was read: `config.json` or `gguf`.
    pub source: String,
    /// `model_type` or `general.architecture`.
    pub architecture: Option<String>,
    /// Whether it generates text with a KV cache (decoder); encoders (BERT) keep none.
    pub decoder: bool,
    /// Transformer blocks.
    pub layers: Option<u64>,
    /// Hidden size (embedding length).
    pub hidden_size: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// Trained context length.
    pub max_context: Option<u64>,
    /// Sliding-window size for sliding layers.
    pub sliding_window: Option<u64>,
    /// Per-layer KV geometry (empty when unknown).
    pub kv_layers: Vec<LayerKv>,
    /// A diffusion pipeline's picture: what its activations scale with.
    pub picture: Option<PictureShape>,
}

/// A diffusion pipeline's picture: the model's own size, or the size asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PictureShape {
    /// Width in pixels (the model's own: the UNet's `sample_size` × the VAE's factor).
    pub width: u64,
    /// Height in pixels.
    pub height: u64,
    /// Channels of the VAE decoder's full-resolution blocks.
    pub decoder_channels: u64,
}

impl PictureShape {
    /// Full-resolution maps alive at once in a VAE decoder block (input, normalised, activated,
    /// convolved, sum…; 8.7 GB peak against 7.8 GB of weights and mapped files measured for an
    /// SD-Turbo-shaped pipeline at 512 px gives ~7).
    pub const LIVE_MAPS: u64 = 7;

    /// Bytes of those maps in f32.
    pub fn activation_bytes(&self) -> u64 {
        Self::LIVE_MAPS * self.decoder_channels * self.width * self.height * 4
    }

    /// The same pipeline making a `width` × `height` picture.
    pub fn at(self, (width, height): (u64, u64)) -> PictureShape {
        PictureShape {
            width,
            height,
            ..self
        }
    }
}

impl ModelShape {
    /// Bytes of KV cache for `context` tokens at `bytes_per_value` (sliding layers hold at
    /// most their window): Σ over layers of kv_heads × (key_length + value_length) ×
    /// min(context, window) × bytes — i.e. layers × 2 × kv_heads × head_dim × context × bytes
    /// when every layer is alike.
    pub fn kv_cache_bytes(&self, context: u64, bytes_per_value: f64) -> u64 {
        if !self.decoder {
            return 0;
        }
        let values: u64 = self
            .kv_layers
            .iter()
            .map(|l| {
                let tokens = match (l.attention, self.sliding_window) {
                    (Attention::Sliding, Some(window)) => context.min(window),
                    _ => context,
                };
                l.kv_heads
                    .saturating_mul(l.key_length + l.value_length)
                    .saturating_mul(tokens)
            })
            .fold(0u64, u64::saturating_add);
        (values as f64 * bytes_per_value).round() as u64
    }

    /// A diffusers pipeline's shape from its `unet/config.json` and `vae/config.json`.
    pub fn from_pipeline(unet: &Value, vae: &Value) -> ModelShape {
        let channels: Vec<u64> = vae
            .get("block_out_channels")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let sample = unet.get("sample_size").and_then(Value::as_u64);
        let picture = match (channels.first(), sample) {
            (Some(first), Some(sample)) => {
                let side = sample << (channels.len() as u64).saturating_sub(1);
                Some(PictureShape {
                    width: side,
                    height: side,
                    decoder_channels: *first,
                })
            }
            _ => None,
        };
        ModelShape {
            source: "unet/config.json + vae/config.json".into(),
            architecture: Some("diffusers pipeline".into()),
            picture,
            ..ModelShape::default()
        }
    }

    /// Reads `config.json` (using `text_config` for multimodal models when present).
    pub fn from_config(config: &Value) -> ModelShape {
        let text = config
            .get("text_config")
            .filter(|t| t.is_object())
            .unwrap_or(config);
        let num = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| text.get(*k).and_then(Value::as_u64))
        };
        let model_type = text
            .get("model_type")
            .or_else(|| config.get("model_type"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let architectures: Vec<&str> = config
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let decoder = architectures.iter().any(|a| {
            a.ends_with("ForCausalLM")
                || a.ends_with("LMHeadModel")
                || a.ends_with("ForConditionalGeneration")
        }) || config.get("is_decoder").and_then(Value::as_bool) == Some(true);
        let layers = num(&["num_hidden_layers", "n_layer", "num_layers", "n_layers"]);
        let hidden = num(&["hidden_size", "n_embd", "d_model", "dim"]);
        let heads = num(&["num_attention_heads", "n_head", "num_heads", "n_heads"]);
        let kv_heads = num(&["num_key_value_heads", "n_kv_heads", "num_kv_heads"]).or_else(|| {
            (text.get("multi_query").and_then(Value::as_bool) == Some(true)).then_some(1)
        });
        let kv_heads = kv_heads.or(heads);
        let head_dim = num(&["head_dim"]).or_else(|| Some(hidden? / heads.filter(|h| *h > 0)?));
        let max_context = num(&[
            "max_position_embeddings",
            "n_positions",
            "max_seq_len",
            "seq_length",
            "n_ctx",
        ]);
        let use_sliding = text.get("use_sliding_window").and_then(Value::as_bool) != Some(false);
        let sliding_window = num(&["sliding_window"]).filter(|w| *w > 0 && use_sliding);
        let mut shape = ModelShape {
            source: "config.json".into(),
            architecture: model_type.clone(),
            decoder,
            layers,
            hidden_size: hidden,
            vocab_size: num(&["vocab_size", "n_vocab", "padded_vocab_size"]),
            max_context,
            sliding_window,
            kv_layers: Vec::new(),
            picture: None,
        };
        let (Some(layers), Some(kv_heads), Some(head_dim)) = (layers, kv_heads, head_dim) else {
            return shape;
        };
        let layers = layers.min(100_000);
        let layer_types: Option<Vec<&str>> = text
            .get("layer_types")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect());
        let pattern = num(&["sliding_window_pattern"]);
        shape.kv_layers = (0..layers)
            .map(|i| {
                let sliding = sliding_window.is_some()
                    && match (&layer_types, pattern, model_type.as_deref()) {
                        (Some(types), _, _) => types
                            .get(i as usize)
                            .is_some_and(|t| t.contains("sliding") || t.contains("local")),
                        (None, Some(p), _) if p > 0 => (i + 1) % p != 0,
                        (None, _, Some(t)) if t.starts_with("gemma3") => (i + 1) % 6 != 0,
                        (None, _, Some(t)) if t.starts_with("gemma2") => i % 2 == 0,
                        _ => true,
                    };
                LayerKv {
                    kv_heads,
                    key_length: head_dim,
                    value_length: head_dim,
                    attention: if sliding {
                        Attention::Sliding
                    } else {
                        Attention::Full
                    },
                }
            })
            .collect();
        shape
    }

    /// Reads GGUF metadata (`{arch}.block_count`, `.attention.head_count[_kv]` (numbers or
    /// per-layer arrays), `.attention.key_length`/`.value_length`, `.context_length`,
    /// `.attention.sliding_window`).
    pub fn from_gguf(header: &GgufHeader) -> ModelShape {
        let arch = header.architecture().map(str::to_string);
        let layers = header.arch_u64("block_count");
        let hidden = header.arch_u64("embedding_length");
        let vocab =
            header
                .arch_u64("vocab_size")
                .or_else(|| match header.get("tokenizer.ggml.tokens") {
                    Some(GgufValue::Array { len, .. }) => Some(*len),
                    _ => None,
                });
        let sliding_window = header
            .arch_u64("attention.sliding_window")
            .filter(|w| *w > 0);
        let mut shape = ModelShape {
            source: "gguf".into(),
            architecture: arch.clone(),
            // llama.cpp keeps a KV cache for every architecture it runs.
            decoder: !matches!(
                arch.as_deref(),
                Some("bert" | "nomic-bert" | "jina-bert-v2")
            ),
            layers,
            hidden_size: hidden,
            vocab_size: vocab,
            max_context: header.arch_u64("context_length"),
            sliding_window,
            kv_layers: Vec::new(),
            picture: None,
        };
        let Some(layers) = layers else {
            return shape;
        };
        let layers = layers.min(100_000);
        let per_layer = |key: &str, i: u64| match header.arch_value(key) {
            Some(GgufValue::Array { values, .. }) => {
                values.get(i as usize).and_then(GgufValue::as_u64)
            }
            Some(value) => value.as_u64(),
            None => None,
        };
        let pattern = header.arch_u64("attention.sliding_window_pattern");
        let mut kv_layers = Vec::new();
        for i in 0..layers {
            let heads = per_layer("attention.head_count", i);
            let kv_heads = per_layer("attention.head_count_kv", i).or(heads);
            let head_dim = hidden.zip(heads.filter(|h| *h > 0)).map(|(h, n)| h / n);
            let key = header.arch_u64("attention.key_length").or(head_dim);
            let value = header.arch_u64("attention.value_length").or(key);
            let (Some(kv_heads), Some(key), Some(value)) = (kv_heads, key, value) else {
                return shape;
            };
            let sliding = sliding_window.is_some()
                && match (pattern, arch.as_deref()) {
                    (Some(p), _) if p > 0 => (i + 1) % p != 0,
                    (_, Some(a)) if a.starts_with("gemma3") => (i + 1) % 6 != 0,
                    (_, Some("gemma2" | "cohere2")) => i % 2 == 0,
                    _ => false,
                };
            kv_layers.push(LayerKv {
                kv_heads,
                key_length: key,
                value_length: value,
                attention: if sliding {
                    Attention::Sliding
                } else {
                    Attention::Full
                },
            });
        }
        shape.kv_layers = kv_layers;
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn llama_style_config() {
        let shape = ModelShape::from_config(&json!({
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "num_hidden_layers": 30, "hidden_size": 576, "num_attention_heads": 9,
            "num_key_value_heads": 3, "max_position_embeddings": 8192, "vocab_size": 49152
        }));
        assert!(shape.decoder);
        assert_eq!(shape.kv_layers.len(), 30);
        assert_eq!(shape.kv_layers[0].key_length, 64);
        // 30 × 2 × 3 × 64 × 2048 × 2 bytes
        assert_eq!(shape.kv_cache_bytes(2048, 2.0), 30 * 2 * 3 * 64 * 2048 * 2);
    }

    #[test]
    fn sliding_windows() {
        let mistral = ModelShape::from_config(&json!({
            "architectures": ["MistralForCausalLM"], "num_hidden_layers": 2, "hidden_size": 64,
            "num_attention_heads": 4, "num_key_value_heads": 2, "sliding_window": 100
        }));
        assert_eq!(mistral.kv_cache_bytes(1000, 1.0), 2 * 2 * 2 * 16 * 100);
        let qwen = ModelShape::from_config(&json!({
            "architectures": ["Qwen2ForCausalLM"], "num_hidden_layers": 2, "hidden_size": 64,
            "num_attention_heads": 4, "num_key_value_heads": 2, "sliding_window": 100,
            "use_sliding_window": false
        }));
        assert_eq!(qwen.kv_cache_bytes(1000, 1.0), 2 * 2 * 2 * 16 * 1000);
        let typed = ModelShape::from_config(&json!({
            "architectures": ["Gemma3ForConditionalGeneration"],
            "text_config": { "model_type": "gemma3_text", "num_hidden_layers": 2, "hidden_size": 64,
              "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 32,
              "sliding_window": 10, "layer_types": ["sliding_attention", "full_attention"] }
        }));
        assert_eq!(typed.kv_layers[0].attention, Attention::Sliding);
        assert_eq!(typed.kv_layers[1].attention, Attention::Full);
        assert_eq!(
            typed.kv_cache_bytes(100, 2.0),
            (2 * 32 * 10 + 2 * 32 * 100) * 2
        );
    }

    #[test]
    fn encoders_keep_no_kv_cache() {
        let bert = ModelShape::from_config(&json!({
            "architectures": ["BertModel"], "model_type": "bert", "num_hidden_layers": 6,
            "hidden_size": 384, "num_attention_heads": 12, "max_position_embeddings": 512
        }));
        assert!(!bert.decoder);
        assert_eq!(bert.kv_cache_bytes(512, 2.0), 0);
        assert_eq!(bert.layers, Some(6));
    }
}
