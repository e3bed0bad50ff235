//! The tokenizer-related metadata of a GGUF file, from which [`crate::infer::tokenizers::gguf_bpe::GgufBpe`] builds
//! a tokenizer for GGUF repos that ship no tokenizer.json.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

use crate::infer::InferError;
/// The tokenizer-related GGUF metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GgufVocab {
    /// `tokenizer.ggml.model` (`gpt2`, `llama`, ...).
    pub model: String,
    /// `tokenizer.ggml.pre` (`smollm`, `llama-bpe`, `qwen2`, ...).
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`, indexed by id.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.token_type`, indexed by id (empty when absent).
    pub token_types: Vec<i32>,
    /// `tokenizer.ggml.merges` as `"left right"`.
    pub merges: Vec<String>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_token_id: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_token_id: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`.
    pub add_bos_token: bool,
    /// `tokenizer.chat_template`.
    pub chat_template: Option<String>,
}

impl GgufVocab {
    /// Reads the tokenizer keys from GGUF metadata.
    pub fn from_metadata(md: &HashMap<String, Value>) -> Result<GgufVocab, InferError> {
        let string = |key: &str| md.get(key).and_then(|v| v.to_string().ok()).cloned();
        let u32_of = |key: &str| md.get(key).and_then(|v| v.to_u32().ok());
        let strings = |key: &str| -> Vec<String> {
            md.get(key)
                .and_then(|v| v.to_vec().ok())
                .map(|values| {
                    values
                        .iter()
                        .map(|v| v.to_string().cloned().unwrap_or_default())
                        .collect()
                })
                .unwrap_or_default()
        };
        let model = string("tokenizer.ggml.model").ok_or_else(|| {
            InferError::Tokenizer(
                "the GGUF has no tokenizer.ggml.model and no tokenizer.json".into(),
            )
        })?;
        let token_types = md
            .get("tokenizer.ggml.token_type")
            .and_then(|v| v.to_vec().ok())
            .map(|values| values.iter().map(|v| v.to_i32().unwrap_or(1)).collect())
            .unwrap_or_default();
        Ok(GgufVocab {
            model,
            pre: string("tokenizer.ggml.pre"),
            tokens: strings("tokenizer.ggml.tokens"),
            token_types,
            merges: strings("tokenizer.ggml.merges"),
            bos_token_id: u32_of("tokenizer.ggml.bos_token_id"),
            eos_token_id: u32_of("tokenizer.ggml.eos_token_id"),
            add_bos_token: md
                .get("tokenizer.ggml.add_bos_token")
                .and_then(|v| v.to_bool().ok())
                .unwrap_or(false),
            chat_template: string("tokenizer.chat_template"),
        })
    }

    /// The text of a token id.
    pub fn token(&self, id: Option<u32>) -> Option<&str> {
        id.and_then(|id| self.tokens.get(id as usize))
            .map(String::as_str)
    }
}
