//! Marian encoder–decoders (Helsinki-NLP opus-mt, `MarianMTModel`) on candle-transformers'
//! `marian` model: transformers' config.json completed with `MarianConfig`'s defaults for
//! candle's `Config`, and the checkpoint's tensors under the names candle reads (the shared
//! embeddings under any of their tied names, a zero `final_logits_bias` when none was saved).
//! Sinusoidal positions, scaled embeddings, post-layer-norm blocks and the tied output
//! projection are candle's; its encoder caches keys and values too, so every encode starts by
//! clearing the caches.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::marian::{Config, MTModel};
use serde_json::{Value, json};

use crate::infer::models::causal::safetensors_files;
use crate::infer::{InferError, read_json};

/// The embeddings' names in transformers checkpoints; they are tied, so any one will do.
const EMBEDDING_NAMES: [&str; 4] = [
    "model.shared.weight",
    "model.encoder.embed_tokens.weight",
    "model.decoder.embed_tokens.weight",
    "lm_head.weight",
];

/// A loaded Marian model.
pub struct Marian {
    model: MTModel,
    config: Config,
}

impl Marian {
    /// Loads config.json and the safetensors weights from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Marian, InferError> {
        let path = dir.join("config.json");
        let config = candle_config(&read_json(&path)?).map_err(|e| match e {
            ConfigError::Unsupported(what) => InferError::NotSupported {
                architecture: format!("Marian with {what}"),
                task: "translation".into(),
            },
            ConfigError::Invalid(message) => InferError::file(&path, message),
        })?;
        let mut tensors = HashMap::new();
        for file in safetensors_files(dir)? {
            tensors.extend(candle_core::safetensors::load(&file, device)?);
        }
        if !tensors.contains_key(EMBEDDING_NAMES[0]) {
            let shared = EMBEDDING_NAMES[1..]
                .iter()
                .find_map(|name| tensors.get(*name).cloned())
                .ok_or_else(|| InferError::MissingFile {
                    what: "the token embeddings (model.shared.weight)".into(),
                    dir: dir.to_path_buf(),
                })?;
            tensors.insert(EMBEDDING_NAMES[0].into(), shared);
        }
        if !tensors.contains_key("final_logits_bias") {
            let vocab = config.decoder_vocab_size.unwrap_or(config.vocab_size);
            let zeros = Tensor::zeros((1, vocab), DType::F32, device)?;
            tensors.insert("final_logits_bias".into(), zeros);
        }
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let model = MTModel::new(&config, vb)?;
        Ok(Marian { model, config })
    }

    /// The token the decoder starts from (the pad token in Marian).
    pub fn start_id(&self) -> u32 {
        self.config.decoder_start_token_id
    }

    /// `</s>`.
    pub fn eos_id(&self) -> u32 {
        self.config.eos_token_id
    }

    /// The most positions the sinusoidal tables hold, for the input and for the output.
    pub fn max_positions(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// A one-line description: layers and width.
    pub fn describe(&self) -> String {
        format!(
            "marian ({}+{} layers, {} wide, {:?})",
            self.config.encoder_layers,
            self.config.decoder_layers,
            self.config.d_model,
            self.config.activation_function
        )
    }

    /// The encoder's output for `input` (1 × tokens); clears every cache first.
    pub fn encode(&mut self, input: &Tensor) -> candle_core::Result<Tensor> {
        self.model.reset_kv_cache();
        self.model.encoder().forward(input, 0)
    }

    /// The logits after `tokens` (1 × n), `past` earlier tokens being in the KV cache.
    pub fn decode(
        &mut self,
        tokens: &Tensor,
        past: usize,
        encoded: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let logits = self.model.decode(tokens, encoded, past)?;
        let last = logits.dim(1)? - 1;
        logits.i((0, last))
    }
}

/// Why a config.json can't be used.
#[derive(Debug, PartialEq)]
enum ConfigError {
    /// A valid Marian that candle's model can't represent.
    Unsupported(String),
    /// Not a usable Marian config.
    Invalid(String),
}

/// transformers' Marian config.json → candle's `Config`, missing keys filled with
/// `MarianConfig`'s defaults (configs saved by older transformers lack some, and candle's
/// wants them all), lists of eos ids reduced to the first.
fn candle_config(config: &Value) -> Result<Config, ConfigError> {
    let mut obj = config
        .as_object()
        .cloned()
        .ok_or_else(|| ConfigError::Invalid("config.json is not an object".into()))?;
    let defaults = json!({
        "vocab_size": 58101, "max_position_embeddings": 1024, "encoder_layers": 12,
        "encoder_ffn_dim": 4096, "encoder_attention_heads": 16, "decoder_layers": 12,
        "decoder_ffn_dim": 4096, "decoder_attention_heads": 16, "use_cache": true,
        "is_encoder_decoder": true, "activation_function": "gelu", "d_model": 1024,
        "decoder_start_token_id": 58100, "scale_embedding": false, "pad_token_id": 58100,
        "eos_token_id": 0, "share_encoder_decoder_embeddings": true,
    });
    for (key, value) in defaults.as_object().into_iter().flatten() {
        if obj.get(key).is_none_or(Value::is_null) {
            obj.insert(key.clone(), value.clone());
        }
    }
    for key in ["eos_token_id", "forced_eos_token_id"] {
        if let Some(first) = obj
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.first().cloned())
        {
            obj.insert(key.into(), first.unwrap_or(Value::Null));
        }
    }
    if obj.get("forced_eos_token_id").is_none_or(Value::is_null) {
        let eos = obj.get("eos_token_id").cloned().unwrap_or(Value::Null);
        obj.insert("forced_eos_token_id".into(), eos);
    }
    if obj.get("decoder_vocab_size").is_some_and(Value::is_null) {
        obj.remove("decoder_vocab_size");
    }
    let config: Config = serde_json::from_value(Value::Object(obj.clone()))
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    if !config.share_encoder_decoder_embeddings {
        return Err(ConfigError::Unsupported(
            "separate encoder and decoder embeddings".into(),
        ));
    }
    if obj.get("tie_word_embeddings").and_then(Value::as_bool) == Some(false) {
        return Err(ConfigError::Unsupported(
            "an untied output projection".into(),
        ));
    }
    if config
        .decoder_vocab_size
        .is_some_and(|n| n != config.vocab_size)
    {
        return Err(ConfigError::Invalid(
            "decoder_vocab_size differs from vocab_size with shared embeddings".into(),
        ));
    }
    let heads_fit = |heads: usize| heads > 0 && config.d_model.is_multiple_of(heads);
    if !heads_fit(config.encoder_attention_heads) || !heads_fit(config.decoder_attention_heads) {
        return Err(ConfigError::Invalid(
            "d_model is not a multiple of the attention heads".into(),
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_configs_get_marian_defaults() {
        let config = candle_config(&json!({
            "model_type": "marian", "vocab_size": 100, "d_model": 64,
            "encoder_attention_heads": 4, "decoder_attention_heads": 4,
            "activation_function": "swish", "eos_token_id": [0, 3], "pad_token_id": 99,
            "decoder_start_token_id": 99, "decoder_vocab_size": null,
        }))
        .unwrap();
        assert_eq!(config.eos_token_id, 0);
        assert_eq!(config.forced_eos_token_id, 0);
        assert_eq!(config.decoder_layers, 12);
        assert!(config.share_encoder_decoder_embeddings && config.use_cache);
        assert_eq!(config.activation_function, candle_nn::Activation::Swish);
        assert_eq!(config.decoder_vocab_size, None);
    }

    #[test]
    fn what_candle_cannot_run_is_said() {
        let base = json!({"vocab_size": 10, "d_model": 8, "encoder_attention_heads": 2,
                          "decoder_attention_heads": 2});
        let with = |key: &str, value: Value| {
            let mut config = base.clone();
            config[key] = value;
            candle_config(&config).map(|_| ())
        };
        assert_eq!(with("vocab_size", json!(10)), Ok(()));
        assert!(matches!(
            with("share_encoder_decoder_embeddings", json!(false)),
            Err(ConfigError::Unsupported(_))
        ));
        assert!(matches!(
            with("tie_word_embeddings", json!(false)),
            Err(ConfigError::Unsupported(_))
        ));
        assert!(matches!(
            with("decoder_attention_heads", json!(3)),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            with("activation_function", json!("quick_gelu")),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            candle_config(&json!([1])),
            Err(ConfigError::Invalid(_))
        ));
    }
}
