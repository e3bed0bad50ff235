//! SentencePiece models (`source.spm`, `*.model`: a serialised `ModelProto`) read with the
//! bounded [`protobuf`](crate::infer::tokenizers::protobuf) reader, turned into a `tokenizers` Unigram tokenizer
//! that segments like SentencePiece (precompiled charsmap, its whitespace rules, the Metaspace
//! pre-tokenizer, the pieces' scores), and pieces decoded back to text like
//! `SentencePieceProcessor::DecodePieces`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tokenizers::Tokenizer;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{NormalizerWrapper, Precompiled, Replace, Sequence};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};

use crate::infer::InferError;
use crate::infer::tokenizers::protobuf::{Fields, Value, WireError};

/// SentencePiece's whitespace symbol (U+2581).
pub const SPACE: char = '\u{2581}';

/// The most bytes a model file may have (real ones are a few MB at most).
const MAX_FILE_BYTES: u64 = 64 << 20;

/// What a piece is (`ModelProto.SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    /// An ordinary piece, matched in text.
    Normal,
    /// The unknown piece (`<unk>`).
    Unknown,
    /// A control symbol (`<s>`, `</s>`), never matched in text.
    Control,
    /// A user-defined symbol, always matched whole.
    UserDefined,
    /// A byte (`<0x41>`) for byte fallback.
    Byte,
    /// Declared but unused.
    Unused,
}

impl PieceKind {
    fn from_wire(value: u64) -> PieceKind {
        match value {
            2 => PieceKind::Unknown,
            3 => PieceKind::Control,
            4 => PieceKind::UserDefined,
            5 => PieceKind::Unused,
            6 => PieceKind::Byte,
            // NORMAL, and what proto2 reads an unknown enum value as: the default.
            _ => PieceKind::Normal,
        }
    }
}

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The piece's text (`▁` for spaces).
    pub text: String,
    /// Its log probability.
    pub score: f32,
    /// Its kind.
    pub kind: PieceKind,
}

/// The parts of a `ModelProto` that segmentation and decoding need.
#[derive(Debug, Clone, PartialEq)]
pub struct SentencePieceModel {
    /// The vocabulary, in id order.
    pub pieces: Vec<Piece>,
    /// `TrainerSpec.model_type`: 1 unigram, 2 BPE, 3 word, 4 char.
    pub model_type: u64,
    /// `TrainerSpec.byte_fallback`.
    pub byte_fallback: bool,
    /// `TrainerSpec.split_by_whitespace`.
    pub split_by_whitespace: bool,
    /// `TrainerSpec.treat_whitespace_as_suffix`.
    pub treat_whitespace_as_suffix: bool,
    /// `TrainerSpec.unk_surface`: what `<unk>` decodes to.
    pub unk_surface: String,
    /// `NormalizerSpec.precompiled_charsmap` (empty: no normalisation).
    pub precompiled_charsmap: Vec<u8>,
    /// `NormalizerSpec.add_dummy_prefix`.
    pub add_dummy_prefix: bool,
    /// `NormalizerSpec.remove_extra_whitespaces`.
    pub remove_extra_whitespaces: bool,
    /// `NormalizerSpec.escape_whitespaces`.
    pub escape_whitespaces: bool,
}

/// Why a model file can't be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpmError {
    /// The bytes are not a protobuf message.
    #[error("not a SentencePiece model: {0}")]
    Wire(#[from] WireError),
    /// A well-formed message that SentencePiece itself would refuse.
    #[error("bad SentencePiece model: {0}")]
    Invalid(String),
    /// A valid model using a feature this reader does not implement.
    #[error("not supported yet: SentencePiece {0}")]
    Unsupported(String),
}

impl SentencePieceModel {
    /// Reads and parses a model file (at most 64 MiB).
    pub fn read(path: &Path) -> Result<SentencePieceModel, InferError> {
        let size = std::fs::metadata(path)
            .map_err(|e| InferError::file(path, e))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(InferError::file(
                path,
                format!("{size} bytes is too large for a SentencePiece model"),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| InferError::file(path, e))?;
        SentencePieceModel::parse(&bytes).map_err(|e| InferError::file(path, e))
    }

    /// Parses a serialised `ModelProto`.
    pub fn parse(bytes: &[u8]) -> Result<SentencePieceModel, SpmError> {
        let mut model = SentencePieceModel {
            pieces: Vec::new(),
            model_type: 1,
            byte_fallback: false,
            split_by_whitespace: true,
            treat_whitespace_as_suffix: false,
            unk_surface: " \u{2047} ".into(),
            precompiled_charsmap: Vec::new(),
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        };
        for field in Fields::new(bytes) {
            // A known field with another wire type is skipped, as protobuf skips unknown ones.
            match field? {
                (1, Value::Bytes(piece)) => model.pieces.push(parse_piece(piece)?),
                (2, Value::Bytes(trainer)) => model.merge_trainer_spec(trainer)?,
                (3, Value::Bytes(normalizer)) => model.merge_normalizer_spec(normalizer)?,
                _ => {}
            }
        }
        model.validate()?;
        Ok(model)
    }

    fn merge_trainer_spec(&mut self, bytes: &[u8]) -> Result<(), SpmError> {
        for field in Fields::new(bytes) {
            let (number, value) = field?;
            match number {
                3 => self.model_type = value.varint().unwrap_or(self.model_type),
                22 => self.split_by_whitespace = value.bool().unwrap_or(true),
                24 => self.treat_whitespace_as_suffix = value.bool().unwrap_or(false),
                35 => self.byte_fallback = value.bool().unwrap_or(false),
                44 => {
                    if let Some(bytes) = value.bytes() {
                        self.unk_surface = utf8(bytes, "unk_surface")?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn merge_normalizer_spec(&mut self, bytes: &[u8]) -> Result<(), SpmError> {
        for field in Fields::new(bytes) {
            let (number, value) = field?;
            match number {
                2 => {
                    if let Some(bytes) = value.bytes() {
                        self.precompiled_charsmap = bytes.to_vec();
                    }
                }
                3 => self.add_dummy_prefix = value.bool().unwrap_or(true),
                4 => self.remove_extra_whitespaces = value.bool().unwrap_or(true),
                5 => self.escape_whitespaces = value.bool().unwrap_or(true),
                _ => {}
            }
        }
        Ok(())
    }

    /// SentencePiece's own load-time checks: one `<unk>`, no empty or repeated pieces.
    fn validate(&self) -> Result<(), SpmError> {
        let unknown = self
            .pieces
            .iter()
            .filter(|p| p.kind == PieceKind::Unknown)
            .count();
        if unknown != 1 {
            return Err(SpmError::Invalid(format!(
                "{unknown} unknown pieces (exactly one is needed)"
            )));
        }
        let mut seen = HashSet::new();
        for (id, piece) in self.pieces.iter().enumerate() {
            if piece.text.is_empty() {
                return Err(SpmError::Invalid(format!("piece {id} is empty")));
            }
            if !seen.insert(piece.text.as_str()) {
                return Err(SpmError::Invalid(format!(
                    "piece {:?} is defined twice",
                    piece.text
                )));
            }
        }
        Ok(())
    }

    /// A tokenizer whose tokens are this model's pieces as SentencePiece's unigram segmentation
    /// gives them (token ids are not SentencePiece ids: callers map the token strings).
    /// Unknown characters come back as their own text (fused when consecutive), like
    /// `encode(out_type=str)`.
    /// A char model (SpeechT5's `spm_char.model`) is read as a unigram whose pieces are all one
    /// character long: its only segmentation is SentencePiece's character split.
    pub fn to_tokenizer(&self) -> Result<Tokenizer, SpmError> {
        let chars = self.model_type == 4;
        if chars
            && self
                .pieces
                .iter()
                .any(|p| p.kind == PieceKind::Normal && p.text.chars().count() != 1)
        {
            return Err(SpmError::Invalid(
                "a char model with a piece longer than one character".into(),
            ));
        }
        if self.model_type != 1 && !chars {
            let kind = match self.model_type {
                2 => "BPE",
                3 => "word",
                _ => "unknown-type",
            };
            return Err(SpmError::Unsupported(format!("{kind} models")));
        }
        if self.treat_whitespace_as_suffix || !self.escape_whitespaces {
            return Err(SpmError::Unsupported(
                "whitespace as suffix or unescaped whitespace".into(),
            ));
        }
        // The lattice holds normal and user-defined pieces (bytes too, for byte fallback);
        // user-defined ones score like SentencePiece's `length * max_score - 0.1`.
        let max_score = self
            .pieces
            .iter()
            .filter(|p| p.kind == PieceKind::Normal)
            .map(|p| f64::from(p.score))
            .fold(f64::NEG_INFINITY, f64::max);
        let mut vocab = Vec::with_capacity(self.pieces.len());
        let mut unk_id = 0;
        for piece in &self.pieces {
            match piece.kind {
                PieceKind::Normal => vocab.push((piece.text.clone(), f64::from(piece.score))),
                PieceKind::UserDefined => vocab.push((
                    piece.text.clone(),
                    piece.text.len() as f64 * max_score - 0.1,
                )),
                PieceKind::Byte if self.byte_fallback => vocab.push((piece.text.clone(), 0.0)),
                PieceKind::Unknown => {
                    // Under a name no pre-tokenized word can contain (Metaspace has replaced
                    // every space), so the text `<unk>` is segmented like any other.
                    unk_id = vocab.len();
                    vocab.push((format!(" {}", piece.text), 0.0));
                }
                _ => {}
            }
        }
        let unigram = Unigram::from(vocab, Some(unk_id), self.byte_fallback)
            .map_err(|e| SpmError::Invalid(e.to_string()))?;
        let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
        if !self.precompiled_charsmap.is_empty() {
            check_charsmap(&self.precompiled_charsmap)?;
            let charsmap = Precompiled::from(&self.precompiled_charsmap)
                .map_err(|e| SpmError::Invalid(format!("precompiled_charsmap: {e}")))?;
            normalizers.push(charsmap.into());
        }
        if self.remove_extra_whitespaces {
            // Only U+0020 counts, as in SentencePiece: runs become one, the ends are trimmed.
            for (pattern, with) in [(" {2,}", " "), ("^ | $", "")] {
                let replace = Replace::new(ReplacePattern::Regex(pattern.into()), with)
                    .map_err(|e| SpmError::Invalid(e.to_string()))?;
                normalizers.push(replace.into());
            }
        }
        let mut tokenizer = Tokenizer::new(unigram);
        tokenizer
            .with_normalizer(Some(Sequence::new(normalizers)))
            .map_err(|e| SpmError::Invalid(e.to_string()))?;
        let prepend = if self.add_dummy_prefix {
            PrependScheme::Always
        } else {
            PrependScheme::Never
        };
        tokenizer.with_pre_tokenizer(Some(Metaspace::new(
            SPACE,
            prepend,
            self.split_by_whitespace,
        )));
        Ok(tokenizer)
    }

    /// Pieces back to text like `SentencePieceProcessor::DecodePieces`: control pieces vanish,
    /// `<unk>` is its surface, a piece this model lacks is kept as it is, byte pieces join into
    /// UTF-8, `▁` is a space and the first one (the dummy prefix) is dropped.
    pub fn decode_pieces<S: AsRef<str>>(&self, pieces: &[S]) -> String {
        let ids: HashMap<&str, &Piece> = self.pieces.iter().map(|p| (p.text.as_str(), p)).collect();
        let mut out = String::new();
        let mut bytes = Vec::new();
        let mut at_start = true;
        for piece in pieces {
            let text = piece.as_ref();
            let kind = ids.get(text).map(|p| p.kind);
            if kind == Some(PieceKind::Byte)
                && let Some(byte) = parse_byte_piece(text)
            {
                bytes.push(byte);
                continue;
            }
            if !bytes.is_empty() {
                out.push_str(&String::from_utf8_lossy(&bytes));
                bytes.clear();
                at_start = false;
            }
            let surface = match kind {
                Some(PieceKind::Control) => String::new(),
                Some(PieceKind::Unknown) => self.unk_surface.clone(),
                None => text.to_string(),
                Some(_) => {
                    let text = if at_start && self.add_dummy_prefix {
                        text.strip_prefix(SPACE).unwrap_or(text)
                    } else {
                        text
                    };
                    text.replace(SPACE, " ")
                }
            };
            at_start &= surface.is_empty();
            out.push_str(&surface);
        }
        out.push_str(&String::from_utf8_lossy(&bytes));
        out
    }

    /// The piece with SentencePiece id `id`.
    pub fn piece(&self, id: usize) -> Option<&str> {
        self.pieces.get(id).map(|p| p.text.as_str())
    }
}

fn parse_piece(bytes: &[u8]) -> Result<Piece, SpmError> {
    let mut piece = Piece {
        text: String::new(),
        score: 0.0,
        kind: PieceKind::Normal,
    };
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(text)) => piece.text = utf8(text, "piece")?,
            (2, value) => piece.score = value.float().unwrap_or(piece.score),
            (3, value) => piece.kind = value.varint().map_or(piece.kind, PieceKind::from_wire),
            _ => {}
        }
    }
    Ok(piece)
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, SpmError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SpmError::Invalid(format!("{what} is not UTF-8")))
}

/// `<0x41>` → 0x41.
fn parse_byte_piece(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// Checks a precompiled charsmap (u32 trie size, a darts double-array trie, NUL-separated
/// normalised strings) so that `Precompiled`'s lookups can't index out of bounds: from every
/// reachable node, each next byte must land inside the array, and each leaf must point at the
/// start of a character of the strings.
fn check_charsmap(blob: &[u8]) -> Result<(), SpmError> {
    let bad = |why: &str| SpmError::Invalid(format!("precompiled_charsmap: {why}"));
    let (size, rest) = blob
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("too short"))?;
    let units = u32::from_le_bytes(*size) as usize / 4;
    if rest.len() / 4 < units {
        return Err(bad("the trie is truncated"));
    }
    let (trie, normalized) = rest.split_at(units * 4);
    let trie: Vec<usize> = trie
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let normalized = std::str::from_utf8(normalized).map_err(|_| bad("not UTF-8"))?;
    // The unit layout of darts-clone, as spm_precompiled reads it.
    let offset = |unit: usize| (unit >> 10) << ((unit & (1 << 9)) >> 6);
    let label = |unit: usize| unit & ((1 << 31) | 0xff);
    let has_leaf = |unit: usize| (unit >> 8) & 1 == 1;
    let value = |unit: usize| unit & ((1 << 31) - 1);
    let unit_at = |i: usize| {
        trie.get(i)
            .copied()
            .ok_or_else(|| bad("a node is outside the trie"))
    };
    let mut stack = vec![offset(unit_at(0)?)];
    let mut seen = HashSet::new();
    while let Some(node) = stack.pop() {
        if !seen.insert(node) {
            continue;
        }
        for byte in 1..=255usize {
            let position = node ^ byte;
            let unit = unit_at(position)?;
            if label(unit) != byte {
                continue;
            }
            let child = position ^ offset(unit);
            if has_leaf(unit) {
                let start = value(unit_at(child)?);
                if !normalized.is_char_boundary(start) {
                    return Err(bad("a replacement is outside the strings"));
                }
            }
            stack.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serialises a model the way protobuf does (pieces, trainer spec, normalizer spec).
    fn model_bytes(pieces: &[(&str, f32, u64)], trainer: &[u8], normalizer: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (text, score, kind) in pieces {
            let mut piece = vec![0x0a, text.len() as u8];
            piece.extend(text.as_bytes());
            piece.push(0x15);
            piece.extend(score.to_le_bytes());
            piece.extend([0x18, *kind as u8]);
            out.extend([0x0a, piece.len() as u8]);
            out.extend(piece);
        }
        out.extend([0x12, trainer.len() as u8]);
        out.extend(trainer);
        out.extend([0x1a, normalizer.len() as u8]);
        out.extend(normalizer);
        out
    }

    fn tiny() -> Vec<u8> {
        model_bytes(
            &[
                ("<unk>", 0.0, 2),
                ("<s>", 0.0, 3),
                ("</s>", 0.0, 3),
                ("\u{2581}", -2.0, 1),
                ("\u{2581}ab", -1.0, 1),
                ("a", -3.0, 1),
                ("b", -3.0, 1),
                ("c", -3.0, 1),
                ("<0x41>", 0.0, 6),
            ],
            // model_type UNIGRAM
            &[0x18, 0x01],
            // no charsmap, defaults for the whitespace rules
            &[],
        )
    }

    #[test]
    fn parses_pieces_and_specs() {
        let model = SentencePieceModel::parse(&tiny()).unwrap();
        assert_eq!(model.pieces.len(), 9);
        assert_eq!(model.pieces[4].text, "\u{2581}ab");
        assert_eq!(model.pieces[4].score, -1.0);
        assert_eq!(model.pieces[2].kind, PieceKind::Control);
        assert!(model.add_dummy_prefix && model.remove_extra_whitespaces);
        assert_eq!(model.piece(0), Some("<unk>"));
        assert_eq!(model.piece(99), None);
    }

    #[test]
    fn segments_like_sentencepiece() {
        let tokenizer = SentencePieceModel::parse(&tiny())
            .unwrap()
            .to_tokenizer()
            .unwrap();
        let tokens = |text: &str| tokenizer.encode(text, false).unwrap().get_tokens().to_vec();
        // Extra spaces collapse, the dummy prefix is added, unknown runs are fused, and the
        // control and unknown pieces' own text is not matched.
        assert_eq!(
            tokens("  ab   cab "),
            ["\u{2581}ab", "\u{2581}", "c", "a", "b"]
        );
        assert_eq!(tokens("xyz b"), ["\u{2581}", "xyz", "\u{2581}", "b"]);
        assert_eq!(tokens("</s>"), ["\u{2581}", "</s>"]);
        assert!(tokens("   ").is_empty());
    }

    #[test]
    fn decodes_pieces_like_sentencepiece() {
        let model = SentencePieceModel::parse(&tiny()).unwrap();
        let text = model.decode_pieces(&[
            "\u{2581}ab",
            "</s>",
            "\u{2581}",
            "c",
            "<unk>",
            "<0x41>",
            ">>de<<",
            "\u{2581}ab",
            "\u{2581}a",
        ]);
        // `▁a` is no piece of this model, so it stays as it is.
        assert_eq!(text, "ab c \u{2047} A>>de<< ab\u{2581}a");
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        let good = tiny();
        for cut in 0..good.len() {
            // Every prefix either parses (a field boundary) or is a clear error.
            if let Ok(model) = SentencePieceModel::parse(&good[..cut]) {
                let _ = model.to_tokenizer();
            }
        }
        let err = SentencePieceModel::parse(&good[..good.len() - 3]).unwrap_err();
        assert!(
            matches!(err, SpmError::Wire(WireError::Truncated { .. })),
            "{err}"
        );
        assert!(matches!(
            SentencePieceModel::parse(b"\xff\xff\xff"),
            Err(SpmError::Wire(_))
        ));
        // No <unk>, a repeated piece, a piece that is not UTF-8.
        let no_unk = model_bytes(&[("a", 0.0, 1)], &[], &[]);
        assert!(matches!(
            SentencePieceModel::parse(&no_unk),
            Err(SpmError::Invalid(_))
        ));
        let twice = model_bytes(&[("<unk>", 0.0, 2), ("a", 0.0, 1), ("a", 0.0, 1)], &[], &[]);
        assert!(
            SentencePieceModel::parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let mut latin1 = model_bytes(&[("<unk>", 0.0, 2), ("\u{e9}", 0.0, 1)], &[], &[]);
        let at = latin1.iter().position(|&b| b == 0xc3).unwrap();
        latin1[at] = 0xe9;
        assert!(SentencePieceModel::parse(&latin1).is_err());
        // A BPE model parses but is refused when a tokenizer is asked for.
        let bpe = model_bytes(&[("<unk>", 0.0, 2)], &[0x18, 0x02], &[]);
        let err = SentencePieceModel::parse(&bpe)
            .unwrap()
            .to_tokenizer()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "not supported yet: SentencePiece BPE models"
        );
    }

    #[test]
    fn broken_charsmaps_are_refused() {
        for blob in [
            &[1u8, 2][..],
            &[8, 0, 0, 0, 1, 2, 3, 4][..],
            // One unit pointing far outside the array.
            &[4, 0, 0, 0, 0, 0xfc, 0xff, 0x7f, b'x'][..],
            // An empty trie.
            &[0, 0, 0, 0, b'x'][..],
        ] {
            assert!(check_charsmap(blob).is_err(), "{blob:?}");
        }
        let mut state = 7u64;
        for len in 0..300 {
            // A trie of len / 8 units, then strings.
            let mut blob = ((len / 8) as u32 * 4).to_le_bytes().to_vec();
            blob.extend((0..len).map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 33) as u8
            }));
            if check_charsmap(&blob).is_ok() {
                let charsmap = Precompiled::from(&blob).unwrap();
                let _ = charsmap.normalize_string("Zürich ﬁ ｔ 日本 \u{0}");
            }
        }
    }

    #[test]
    fn a_real_model_survives_cuts_and_flipped_bytes() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/marian/source.spm");
        let good = std::fs::read(path).unwrap();
        let model = SentencePieceModel::parse(&good).unwrap();
        assert!(!model.precompiled_charsmap.is_empty());
        check_charsmap(&model.precompiled_charsmap).unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let encode = |bytes: &[u8]| {
            if let Ok(tokenizer) = SentencePieceModel::parse(bytes).and_then(|m| m.to_tokenizer()) {
                let _ = tokenizer.encode("Zürich ﬁ ｔ 日本 a  b", false);
            }
        };
        for _ in 0..100 {
            let cut = (next() as usize) % good.len();
            encode(&good[..cut]);
        }
        // Flipped bytes land mostly in the charsmap, whose trie must then be checked.
        for _ in 0..20 {
            let mut bytes = good.clone();
            let at = (next() as usize) % bytes.len();
            bytes[at] ^= next() as u8 | 1;
            encode(&bytes);
        }
    }
}
