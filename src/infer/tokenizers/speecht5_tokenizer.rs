//! SpeechT5's tokenizer (transformers' `SpeechT5Tokenizer`): the SentencePiece *char* model
//! `spm_char.model` (one piece per character, `▁` for spaces, consecutive unknown characters
//! one `<unk>`), `</s>` appended. Numbers are read as they are written, as with the
//! tokenizer's default `normalize=False`.

use std::collections::HashMap;
use std::path::Path;

use tokenizers::Tokenizer;

use crate::infer::InferError;
use crate::infer::tokenizers::sentencepiece::{Piece, PieceKind, SentencePieceModel};

/// The vocabulary file SpeechT5 ships.
pub const VOCAB_FILE: &str = "spm_char.model";

/// A loaded SpeechT5 tokenizer.
pub struct SpeechT5Tokenizer {
    segmenter: Tokenizer,
    ids: HashMap<String, u32>,
    unk_id: u32,
    eos_id: u32,
}

impl SpeechT5Tokenizer {
    /// Reads `dir/spm_char.model`.
    pub fn from_dir(dir: &Path) -> Result<SpeechT5Tokenizer, InferError> {
        let path = dir.join(VOCAB_FILE);
        if !path.is_file() {
            return Err(InferError::MissingFile {
                what: VOCAB_FILE.into(),
                dir: dir.to_path_buf(),
            });
        }
        let model = SentencePieceModel::read(&path)?;
        let segmenter = model
            .to_tokenizer()
            .map_err(|e| InferError::file(&path, e))?;
        let find = |wanted: &dyn Fn(&Piece) -> bool| {
            model.pieces.iter().position(wanted).map(|i| i as u32)
        };
        let missing = |what: &str| InferError::file(&path, format!("the model has no {what}"));
        Ok(SpeechT5Tokenizer {
            unk_id: find(&|p| p.kind == PieceKind::Unknown).ok_or_else(|| missing("<unk>"))?,
            eos_id: find(&|p| p.text == "</s>").ok_or_else(|| missing("</s>"))?,
            ids: model
                .pieces
                .iter()
                .enumerate()
                .filter(|(_, p)| p.kind == PieceKind::Normal)
                .map(|(i, p)| (p.text.clone(), i as u32))
                .collect(),
            segmenter,
        })
    }

    /// The ids SpeechT5 reads for `text`, `</s>` last.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, InferError> {
        let encoding = self
            .segmenter
            .encode(text, false)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        let mut ids: Vec<u32> = encoding
            .get_tokens()
            .iter()
            .map(|piece| self.ids.get(piece).copied().unwrap_or(self.unk_id))
            .collect();
        ids.push(self.eos_id);
        Ok(ids)
    }
}
