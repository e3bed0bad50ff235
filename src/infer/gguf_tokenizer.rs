//! A `tokenizers::Tokenizer` built from a GGUF file's own vocabulary, for GGUF repos that ship
//! no tokenizer.json. Supports the byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`:
//! SmolLM, Llama 3, Qwen 2/3, ...) with the pre-tokenizer named by `tokenizer.ggml.pre`.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use super::InferError;

/// GGUF token types (llama.cpp's `llama_token_type`).
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// Llama 3's split pattern (llama.cpp `llama-bpe`).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen 2's split pattern (llama.cpp `qwen2`): like Llama 3 but one digit at a time.
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

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

    /// Builds the tokenizer (byte-level BPE only for now).
    pub fn to_tokenizer(&self) -> Result<Tokenizer, InferError> {
        if self.model != "gpt2" {
            return Err(InferError::NotSupported {
                architecture: format!(
                    "a GGUF-embedded {:?} (SentencePiece) vocabulary without tokenizer.json",
                    self.model
                ),
                task: "text-generation".into(),
            });
        }
        if self.tokens.is_empty() {
            return Err(InferError::Tokenizer("the GGUF vocabulary is empty".into()));
        }
        // Built through the tokenizers API rather than a tokenizer.json text: the JSON detour
        // held the vocabulary three more times (a JSON tree, its text, the parser's copy), about
        // 25 MB for a 49152-token vocabulary.
        let mut vocab = Vocab::default();
        for (id, token) in self.tokens.iter().enumerate() {
            vocab.entry(token.clone()).or_insert(id as u32);
        }
        // tokenizers' own rule for `"left right"` merges: exactly two space-separated tokens.
        let merges = self
            .merges
            .iter()
            .enumerate()
            .map(|(rank, merge)| match merge.split_once(' ') {
                Some((left, right)) if !right.contains(' ') => {
                    Ok((left.to_string(), right.to_string()))
                }
                _ => Err(InferError::Tokenizer(format!(
                    "GGUF merge {} is not two tokens: {merge:?}",
                    rank + 1
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let added: Vec<AddedToken> = self
            .tokens
            .iter()
            .enumerate()
            .filter_map(|(id, token)| {
                let kind = self.token_types.get(id).copied().unwrap_or(1);
                (kind == TOKEN_TYPE_CONTROL || kind == TOKEN_TYPE_USER_DEFINED).then(|| {
                    AddedToken::from(token.clone(), kind == TOKEN_TYPE_CONTROL)
                        .normalized(kind == TOKEN_TYPE_USER_DEFINED)
                })
            })
            .collect();
        let byte_level = |use_regex: bool| ByteLevel::new(false, true, use_regex);
        let split = |pattern: &str| -> Result<PreTokenizerWrapper, InferError> {
            Split::new(
                SplitPattern::Regex(pattern.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map(PreTokenizerWrapper::from)
            .map_err(|e| InferError::Tokenizer(format!("split pattern: {e}")))
        };
        let sequence = |parts: Vec<PreTokenizerWrapper>| Sequence::new(parts).into();
        let pre = self.pre.as_deref().unwrap_or("default");
        let (pre_tokenizer, ignore_merges): (PreTokenizerWrapper, bool) = match pre {
            "llama-bpe" | "llama3" | "smaug-bpe" => (
                sequence(vec![split(LLAMA3_PATTERN)?, byte_level(false).into()]),
                true,
            ),
            "qwen2" | "qwen35" | "deepseek-r1-qwen" => (
                sequence(vec![split(QWEN2_PATTERN)?, byte_level(false).into()]),
                false,
            ),
            "smollm" | "starcoder" | "refact" => (
                sequence(vec![Digits::new(true).into(), byte_level(true).into()]),
                false,
            ),
            // GPT-2's own regex inside ByteLevel.
            _ => (byte_level(true).into(), false),
        };
        let failed = |e: tokenizers::Error| {
            InferError::Tokenizer(format!("building from GGUF vocabulary: {e}"))
        };
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .ignore_merges(ignore_merges)
            .build()
            .map_err(failed)?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
        tokenizer.with_decoder(Some(byte_level(true)));
        tokenizer.add_tokens(added).map_err(failed)?;
        Ok(tokenizer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny byte-level vocabulary: the printable bytes we need, two merges and control tokens.
    fn tiny() -> GgufVocab {
        let mut tokens = vec!["<|endoftext|>".to_string(), "<|im_start|>".to_string()];
        let mut token_types = vec![3, 3];
        for c in [
            "h", "e", "l", "o", "Ġ", "w", "r", "d", "1", "2", "he", "ll", "hell", "hello",
        ] {
            tokens.push(c.to_string());
            token_types.push(1);
        }
        GgufVocab {
            model: "gpt2".into(),
            pre: Some("smollm".into()),
            tokens,
            token_types,
            merges: vec!["h e".into(), "l l".into(), "he ll".into(), "hell o".into()],
            bos_token_id: Some(1),
            eos_token_id: Some(0),
            ..GgufVocab::default()
        }
    }

    #[test]
    fn byte_level_bpe_round_trips_and_keeps_special_tokens_whole() {
        let vocab = tiny();
        let tokenizer = vocab.to_tokenizer().unwrap();
        let enc = tokenizer
            .encode("<|im_start|>hello world 12", false)
            .unwrap();
        let pieces: Vec<&str> = enc.get_tokens().iter().map(String::as_str).collect();
        assert_eq!(
            pieces,
            [
                "<|im_start|>",
                "hello",
                "Ġ",
                "w",
                "o",
                "r",
                "l",
                "d",
                "Ġ",
                "1",
                "2"
            ]
        );
        let text = tokenizer.decode(enc.get_ids(), false).unwrap();
        assert_eq!(text, "<|im_start|>hello world 12");
        let text = tokenizer.decode(enc.get_ids(), true).unwrap();
        assert_eq!(text, "hello world 12");
        assert_eq!(vocab.token(vocab.eos_token_id), Some("<|endoftext|>"));
    }

    #[test]
    fn sentencepiece_vocabularies_are_not_supported_yet() {
        let vocab = GgufVocab {
            model: "llama".into(),
            ..tiny()
        };
        let err = vocab.to_tokenizer().unwrap_err().to_string();
        assert!(
            err.starts_with("not supported yet: a GGUF-embedded \"llama\""),
            "{err}"
        );
    }
}
