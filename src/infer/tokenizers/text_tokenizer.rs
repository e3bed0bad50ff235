//! The tokenizer of a causal LM: a repo's tokenizer.json through the `tokenizers` crate, or the
//! compact byte-level BPE built from a GGUF file's own vocabulary.

use tokenizers::Tokenizer;

use crate::infer::InferError;
use crate::infer::tokenizers::Detokenize;
use crate::infer::tokenizers::gguf_bpe::GgufBpe;

/// Text ↔ token ids for text generation.
#[derive(Debug)]
pub enum TextTokenizer {
    /// tokenizer.json.
    Json(Box<Tokenizer>),
    /// Built from the GGUF's vocabulary and merges.
    Gguf(Box<GgufBpe>),
}

impl TextTokenizer {
    /// Token ids of `text`; special tokens written in it are parsed as such.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, InferError> {
        match self {
            TextTokenizer::Json(t) => t
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| InferError::Tokenizer(e.to_string())),
            TextTokenizer::Gguf(t) => t.encode(text),
        }
    }

    /// The text of `ids`, special tokens left out when `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, InferError> {
        match self {
            TextTokenizer::Json(t) => t
                .decode(ids, skip_special)
                .map_err(|e| InferError::Tokenizer(e.to_string())),
            TextTokenizer::Gguf(t) => Ok(t.decode(ids, skip_special)),
        }
    }

    /// The id of a token's text.
    pub fn token_to_id(&self, text: &str) -> Option<u32> {
        match self {
            TextTokenizer::Json(t) => t.token_to_id(text),
            TextTokenizer::Gguf(t) => t.id(text),
        }
    }
}

impl Detokenize for TextTokenizer {
    fn detokenize(&self, ids: &[u32]) -> Result<String, InferError> {
        self.decode(ids, true)
    }
}
