//! Tokenizers Hubble reads itself: GGUF vocabularies ([`gguf_bpe`], [`gguf_tokenizer`]),
//! SentencePiece models ([`sentencepiece`] over [`protobuf`]) for Marian ([`marian_tokenizer`]),
//! chat templates ([`chat_template`]), VITS's characters ([`vits_tokenizer`]), SpeechT5's
//! SentencePiece characters ([`speecht5_tokenizer`]), and
//! [`text_tokenizer`], one type over them and tokenizer.json.

pub mod chat_template;
pub mod gguf_bpe;
pub mod gguf_tokenizer;
pub mod marian_tokenizer;
pub mod protobuf;
pub mod sentencepiece;
pub mod slow_files;
pub mod speecht5_tokenizer;
pub mod text_tokenizer;
pub mod vits_tokenizer;

use std::path::Path;

use ::tokenizers::Tokenizer;

use super::InferError;

/// `dir/tokenizer.json`, else one converted from the slow tokenizer files ([`slow_files`]),
/// else a "missing file" error naming what it looked for.
pub fn read_tokenizer(dir: &Path) -> Result<Tokenizer, InferError> {
    let path = dir.join("tokenizer.json");
    if path.is_file() {
        return Tokenizer::from_file(&path).map_err(|e| InferError::file(&path, e));
    }
    slow_files::convert(dir)
}

/// Ids back to text, special tokens skipped (what [`TokenStream`] streams).
pub trait Detokenize {
    /// The text of `ids`.
    fn detokenize(&self, ids: &[u32]) -> Result<String, InferError>;
}

impl Detokenize for Tokenizer {
    fn detokenize(&self, ids: &[u32]) -> Result<String, InferError> {
        self.decode(ids, true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))
    }
}
