//! A compact byte-level BPE tokenizer built from a GGUF file's own vocabulary, for GGUF repos
//! that ship no tokenizer.json (`tokenizer.ggml.model = "gpt2"`: SmolLM, Llama 3, Qwen 2/3, ...),
//! with the pre-tokenizer named by `tokenizer.ggml.pre`.
//!
//! It encodes and decodes exactly as the `tokenizers` crate does with the same vocabulary,
//! merges, added tokens and pre-tokenizer (the tests compare the two on the real SmolLM2
//! vocabulary), in about a fifth of the memory: the token texts live in one string, lookups are
//! binary searches over sorted id and merge tables, and nothing is cached. For SmolLM2's
//! 49152 tokens and 48900 merges that is about 1.6 MB instead of 8.4 MB, which is what keeps a
//! run's peak memory near the GGUF file's size.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use fancy_regex::Regex;

use crate::infer::InferError;
use crate::infer::tokenizers::gguf_tokenizer::GgufVocab;

/// GGUF token types (llama.cpp's `llama_token_type`).
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// GPT-2's split pattern (the `tokenizers` ByteLevel pre-tokenizer's).
const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Llama 3's split pattern (llama.cpp `llama-bpe`).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen 2's split pattern (llama.cpp `qwen2`): like Llama 3 but one digit at a time.
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How text is cut into words before BPE (llama.cpp's pre-tokenizer names, grouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's pattern (the default).
    Gpt2,
    /// Every digit on its own, then GPT-2's pattern (`smollm`, `starcoder`, `refact`).
    DigitsThenGpt2,
    /// Llama 3's pattern, and a word already in the vocabulary is not merged (`llama-bpe`).
    Llama3,
    /// Qwen 2's pattern (`qwen2`, `qwen35`, `deepseek-r1-qwen`).
    Qwen2,
}

impl PreTokenizer {
    /// The pre-tokenizer `tokenizer.ggml.pre` names (GPT-2's when absent or unknown).
    pub fn named(pre: Option<&str>) -> PreTokenizer {
        match pre.unwrap_or("default") {
            "llama-bpe" | "llama3" | "smaug-bpe" => PreTokenizer::Llama3,
            "qwen2" | "qwen35" | "deepseek-r1-qwen" => PreTokenizer::Qwen2,
            "smollm" | "starcoder" | "refact" => PreTokenizer::DigitsThenGpt2,
            _ => PreTokenizer::Gpt2,
        }
    }

    fn pattern(self) -> &'static str {
        match self {
            PreTokenizer::Gpt2 | PreTokenizer::DigitsThenGpt2 => GPT2_PATTERN,
            PreTokenizer::Llama3 => LLAMA3_PATTERN,
            PreTokenizer::Qwen2 => QWEN2_PATTERN,
        }
    }
}

/// One merge rule: the pair `(left, right)` (as `left << 32 | right`) becomes `id` at `rank`.
#[derive(Debug, Clone, Copy)]
struct Merge {
    pair: u64,
    rank: u32,
    id: u32,
}

/// A byte-level BPE tokenizer over a GGUF vocabulary.
#[derive(Debug)]
pub struct GgufBpe {
    /// Every token's text, one after another.
    texts: String,
    /// `ends[id]`: where token `id`'s text ends in `texts` (it starts where `id - 1`'s ends).
    ends: Vec<u32>,
    /// Token ids sorted by text (then id), for text → id lookups.
    by_text: Vec<u32>,
    /// Merge rules sorted by pair.
    merges: Vec<Merge>,
    /// Control tokens: matched in the raw text first, skipped when decoding without specials.
    special: Vec<u32>,
    /// User-defined tokens: matched in what the control tokens leave.
    user_defined: Vec<u32>,
    pre: PreTokenizer,
    split: Regex,
    byte_chars: [char; 256],
}

impl GgufBpe {
    /// Builds the tokenizer from a GGUF vocabulary (byte-level BPE only).
    pub fn new(vocab: &GgufVocab) -> Result<GgufBpe, InferError> {
        if vocab.model != "gpt2" {
            return Err(InferError::NotSupported {
                architecture: format!(
                    "a GGUF-embedded {:?} (SentencePiece) vocabulary without tokenizer.json",
                    vocab.model
                ),
                task: "text-generation".into(),
            });
        }
        if vocab.tokens.is_empty() {
            return Err(InferError::Tokenizer("the GGUF vocabulary is empty".into()));
        }
        let too_large = || InferError::Tokenizer("the GGUF vocabulary is too large".into());
        let mut texts = String::new();
        let mut ends = Vec::with_capacity(vocab.tokens.len());
        for token in &vocab.tokens {
            texts.push_str(token);
            ends.push(u32::try_from(texts.len()).map_err(|_| too_large())?);
        }
        let count = u32::try_from(ends.len()).map_err(|_| too_large())?;
        let mut by_text: Vec<u32> = (0..count).collect();
        by_text.sort_by(|&a, &b| {
            slice(&texts, &ends, a)
                .cmp(slice(&texts, &ends, b))
                .then(a.cmp(&b))
        });
        let pre = PreTokenizer::named(vocab.pre.as_deref());
        let mut bpe = GgufBpe {
            texts,
            ends,
            by_text,
            merges: Vec::with_capacity(vocab.merges.len()),
            special: Vec::new(),
            user_defined: Vec::new(),
            pre,
            split: Regex::new(pre.pattern())
                .map_err(|e| InferError::Tokenizer(format!("split pattern: {e}")))?,
            byte_chars: byte_chars(),
        };
        for (rank, merge) in vocab.merges.iter().enumerate() {
            let bad = |why: &str| {
                InferError::Tokenizer(format!("GGUF merge {} {why}: {merge:?}", rank + 1))
            };
            let (left, right) = match merge.split_once(' ') {
                Some((left, right)) if !right.contains(' ') => (left, right),
                _ => return Err(bad("is not two tokens")),
            };
            let id = |text: &str| {
                bpe.id(text)
                    .ok_or_else(|| bad("names a token not in the vocabulary"))
            };
            let (l, r, joined) = (id(left)?, id(right)?, id(&format!("{left}{right}"))?);
            bpe.merges.push(Merge {
                pair: pair(l, r),
                rank: rank as u32,
                id: joined,
            });
        }
        // A repeated pair keeps its last rule, as a map filled in order would.
        bpe.merges
            .sort_by_key(|m| (m.pair, std::cmp::Reverse(m.rank)));
        bpe.merges.dedup_by_key(|m| m.pair);
        for (id, kind) in vocab.token_types.iter().enumerate().take(count as usize) {
            // The id the text looks up to (the first of repeated texts), as for added tokens.
            let Some(id) = bpe.id(bpe.text(id as u32)) else {
                continue;
            };
            match *kind {
                TOKEN_TYPE_CONTROL => bpe.special.push(id),
                TOKEN_TYPE_USER_DEFINED => bpe.user_defined.push(id),
                _ => {}
            }
        }
        bpe.special.sort_unstable();
        bpe.special.dedup();
        bpe.user_defined.sort_unstable();
        bpe.user_defined.dedup();
        bpe.user_defined
            .retain(|id| bpe.special.binary_search(id).is_err());
        Ok(bpe)
    }

    /// The id of a token's text.
    pub fn id(&self, text: &str) -> Option<u32> {
        let at = self.by_text.partition_point(|&id| self.text(id) < text);
        self.by_text
            .get(at)
            .copied()
            .filter(|&id| self.text(id) == text)
    }

    /// The text of a token id (empty for an id outside the vocabulary).
    pub fn text(&self, id: u32) -> &str {
        slice(&self.texts, &self.ends, id)
    }

    /// Token ids of `text`; control and user-defined tokens in it are kept whole.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, InferError> {
        let mut ids = Vec::new();
        for (piece, added) in self.split_added(text, &self.special) {
            if let Some(id) = added {
                ids.push(id);
                continue;
            }
            for (piece, added) in self.split_added(piece, &self.user_defined) {
                match added {
                    Some(id) => ids.push(id),
                    None => self.encode_plain(piece, &mut ids)?,
                }
            }
        }
        Ok(ids)
    }

    /// The text of `ids` (ids outside the vocabulary, or repeating an earlier id's text, are
    /// skipped; control tokens too when `skip_special`).
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let text = self.text(id);
            // A repeated text has one id, its first, as in a text → id map turned around.
            let special = self.special.binary_search(&id).is_ok();
            if self.id(text) != Some(id) || (skip_special && special) {
                continue;
            }
            let start = bytes.len();
            for c in text.chars() {
                match byte_of(c) {
                    Some(b) => bytes.push(b),
                    None => {
                        // Not all byte-level characters: the token's own UTF-8.
                        bytes.truncate(start);
                        bytes.extend_from_slice(text.as_bytes());
                        break;
                    }
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Cuts `text` at the leftmost-longest occurrences of `tokens`: `(piece, Some(id))` for a
    /// token, `(piece, None)` for the text between.
    fn split_added<'t>(&self, text: &'t str, tokens: &[u32]) -> Vec<(&'t str, Option<u32>)> {
        let mut pieces = Vec::new();
        let mut plain_from = 0;
        let mut at = 0;
        while at < text.len() {
            let rest = &text[at..];
            let longest = tokens
                .iter()
                .map(|&id| (id, self.text(id)))
                .filter(|(_, token)| !token.is_empty() && rest.starts_with(token))
                .max_by_key(|(_, token)| token.len());
            match longest {
                Some((id, token)) => {
                    if plain_from < at {
                        pieces.push((&text[plain_from..at], None));
                    }
                    pieces.push((&text[at..at + token.len()], Some(id)));
                    at += token.len();
                    plain_from = at;
                }
                None => at += rest.chars().next().map_or(1, char::len_utf8),
            }
        }
        if plain_from < text.len() {
            pieces.push((&text[plain_from..], None));
        }
        pieces
    }

    /// Pre-tokenizes and BPE-encodes text with no added tokens in it.
    fn encode_plain(&self, text: &str, ids: &mut Vec<u32>) -> Result<(), InferError> {
        let mut words = Vec::new();
        if self.pre == PreTokenizer::DigitsThenGpt2 {
            for piece in split_digits(text) {
                self.split_words(piece, &mut words)?;
            }
        } else {
            self.split_words(text, &mut words)?;
        }
        let mut word = String::new();
        for piece in words {
            word.clear();
            word.extend(piece.bytes().map(|b| self.byte_chars[b as usize]));
            self.encode_word(&word, ids);
        }
        Ok(())
    }

    /// Appends the pieces the split pattern cuts `text` into: each match, and the text between.
    fn split_words<'t>(&self, text: &'t str, words: &mut Vec<&'t str>) -> Result<(), InferError> {
        let mut prev = 0;
        for found in self.split.find_iter(text) {
            let found = found.map_err(|e| InferError::Tokenizer(format!("split pattern: {e}")))?;
            if prev < found.start() {
                words.push(&text[prev..found.start()]);
            }
            if found.start() < found.end() {
                words.push(found.as_str());
            }
            prev = found.end();
        }
        if prev < text.len() {
            words.push(&text[prev..]);
        }
        Ok(())
    }

    /// BPE over one byte-level word: the lowest-ranked pair merges first, the leftmost on ties.
    /// Symbols are a linked list and candidate pairs a heap, so a long word (a pasted blob with
    /// no spaces) costs O(n log n), not O(n²).
    fn encode_word(&self, word: &str, ids: &mut Vec<u32>) {
        if self.pre == PreTokenizer::Llama3
            && let Some(id) = self.id(word)
        {
            ids.push(id);
            return;
        }
        let mut symbols: Vec<u32> = Vec::with_capacity(word.len());
        let mut buf = [0u8; 4];
        for c in word.chars() {
            // A character with no token is dropped (a byte-level vocabulary has all 256).
            if let Some(id) = self.id(c.encode_utf8(&mut buf)) {
                symbols.push(id);
            }
        }
        let n = symbols.len();
        // `next[i]` / `prev[i]`: the neighbours of a live symbol (`n` / `usize::MAX` for none).
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        let candidate = |at: usize, symbols: &[u32], next: &[usize]| {
            let right = *next.get(at)?;
            let m = self.merge(symbols[at], *symbols.get(right)?)?;
            Some(Reverse((m.rank, at, m.id)))
        };
        heap.extend((0..n).filter_map(|at| candidate(at, &symbols, &next)));
        while let Some(Reverse((rank, at, id))) = heap.pop() {
            // Skip a pair that an earlier merge changed.
            let right = next[at];
            let current = (alive[at] && right < n)
                .then(|| self.merge(symbols[at], symbols[right]))
                .flatten();
            if current.is_none_or(|m| (m.rank, m.id) != (rank, id)) {
                continue;
            }
            symbols[at] = id;
            alive[right] = false;
            next[at] = next[right];
            if next[at] < n {
                prev[next[at]] = at;
            }
            if let Some(pair) = candidate(at, &symbols, &next) {
                heap.push(pair);
            }
            if let Some(pair) = prev.get(at).and_then(|&p| candidate(p, &symbols, &next)) {
                heap.push(pair);
            }
        }
        ids.extend((0..n).filter(|&i| alive[i]).map(|i| symbols[i]));
    }

    fn merge(&self, left: u32, right: u32) -> Option<&Merge> {
        let key = pair(left, right);
        self.merges
            .binary_search_by_key(&key, |m| m.pair)
            .ok()
            .map(|at| &self.merges[at])
    }
}

/// Token `id`'s text in the concatenated `texts` (empty outside the vocabulary).
fn slice<'t>(texts: &'t str, ends: &[u32], id: u32) -> &'t str {
    let Some(&end) = ends.get(id as usize) else {
        return "";
    };
    let start = match id {
        0 => 0,
        _ => ends[id as usize - 1],
    };
    &texts[start as usize..end as usize]
}

fn pair(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

/// Each numeric character on its own, and the runs between (the `Digits` pre-tokenizer).
fn split_digits(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut from = 0;
    for (at, c) in text.char_indices() {
        if c.is_numeric() {
            if from < at {
                pieces.push(&text[from..at]);
            }
            pieces.push(&text[at..at + c.len_utf8()]);
            from = at + c.len_utf8();
        }
    }
    if from < text.len() {
        pieces.push(&text[from..]);
    }
    pieces
}

/// Whether GPT-2 shows byte `b` as itself: printable Latin-1 other than the soft hyphen.
const fn prints_as_itself(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The 68 bytes GPT-2 shows as U+0100 onwards, in that order.
const HIDDEN_BYTES: [u8; 68] = {
    let mut bytes = [0u8; 68];
    let (mut b, mut n) = (0usize, 0usize);
    while b < 256 {
        if !prints_as_itself(b as u8) {
            bytes[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    bytes
};

/// GPT-2's byte → character table: printable bytes are themselves, the others U+0100 onwards.
fn byte_chars() -> [char; 256] {
    let mut chars: [char; 256] = std::array::from_fn(|b| char::from(b as u8));
    for (n, &b) in HIDDEN_BYTES.iter().enumerate() {
        chars[b as usize] = char::from_u32(0x100 + n as u32).unwrap_or('\0');
    }
    chars
}

/// The byte a byte-level character stands for.
fn byte_of(c: char) -> Option<u8> {
    match u32::from(c) {
        code @ 0..=0xFF => prints_as_itself(code as u8).then_some(code as u8),
        code => HIDDEN_BYTES.get(code as usize - 0x100).copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::bpe::{BPE, Vocab};
    use tokenizers::pre_tokenizers::PreTokenizerWrapper;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::pre_tokenizers::digits::Digits;
    use tokenizers::pre_tokenizers::sequence::Sequence;
    use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
    use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

    /// The reference: the same vocabulary through the `tokenizers` crate (what Hubble used
    /// before, itself checked against transformers' GGUF tokenizer by the real-weights tests).
    fn reference(vocab: &GgufVocab) -> Tokenizer {
        let mut ids = Vocab::default();
        for (id, token) in vocab.tokens.iter().enumerate() {
            ids.entry(token.clone()).or_insert(id as u32);
        }
        let merges = vocab
            .merges
            .iter()
            .map(|m| {
                let (l, r) = m.split_once(' ').unwrap();
                (l.to_string(), r.to_string())
            })
            .collect();
        let added: Vec<AddedToken> = vocab
            .tokens
            .iter()
            .zip(&vocab.token_types)
            .filter(|(_, kind)| matches!(**kind, TOKEN_TYPE_CONTROL | TOKEN_TYPE_USER_DEFINED))
            .map(|(token, &kind)| {
                AddedToken::from(token.clone(), kind == TOKEN_TYPE_CONTROL)
                    .normalized(kind == TOKEN_TYPE_USER_DEFINED)
            })
            .collect();
        let byte_level = |use_regex: bool| ByteLevel::new(false, true, use_regex);
        let split = |pattern: &str| -> PreTokenizerWrapper {
            Split::new(
                SplitPattern::Regex(pattern.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .unwrap()
            .into()
        };
        let pre = PreTokenizer::named(vocab.pre.as_deref());
        let pre_tokenizer: PreTokenizerWrapper = match pre {
            PreTokenizer::Llama3 | PreTokenizer::Qwen2 => {
                Sequence::new(vec![split(pre.pattern()), byte_level(false).into()]).into()
            }
            PreTokenizer::DigitsThenGpt2 => {
                Sequence::new(vec![Digits::new(true).into(), byte_level(true).into()]).into()
            }
            PreTokenizer::Gpt2 => byte_level(true).into(),
        };
        let bpe = BPE::builder()
            .vocab_and_merges(ids, merges)
            .ignore_merges(pre == PreTokenizer::Llama3)
            .build()
            .unwrap();
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
        tokenizer.with_decoder(Some(byte_level(true)));
        tokenizer.add_tokens(added).unwrap();
        tokenizer
    }

    /// Texts that exercise the pre-tokenizers: contractions, digits, whitespace runs, line
    /// breaks, punctuation, accents, CJK, emoji, control tokens inside and around words.
    const TEXTS: &[&str] = &[
        "",
        "hello world",
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        "I'm sure they'll say we've DONE it, isn't it? You'd think so.",
        "Numbers: 1234567 and 3.14159, 2026-12-03, ½ ² ٣",
        "   leading spaces, trailing spaces   ",
        "tabs\tand\r\nwindows\n\n\nlines  \n  indented",
        "def f(x):\n    return x ** 2  # squared\n",
        "Ünïcödé café naïve — “quotes” … ¿qué?",
        "中文文本，日本語のテキスト、한국어 텍스트",
        "emoji 🤗🚀 and ZWJ 👩‍💻 family",
        "special<|im_end|>glued<|endoftext|>tokens <|im_start|> spaced",
        "<|im_start|><|im_start|>",
        "\u{0}\u{1}\u{7f} control bytes \u{ad} soft hyphen",
        "hellohellohello lllll heeeello",
    ];

    fn assert_same_as_reference(vocab: &GgufVocab) {
        let ours = GgufBpe::new(vocab).unwrap();
        let theirs = reference(vocab);
        for text in TEXTS {
            let want = theirs.encode(*text, false).unwrap().get_ids().to_vec();
            let got = ours.encode(text).unwrap();
            assert_eq!(got, want, "encoding {text:?}");
            for skip in [false, true] {
                assert_eq!(
                    ours.decode(&got, skip),
                    theirs.decode(&want, skip).unwrap(),
                    "decoding {text:?} (skip specials: {skip})"
                );
            }
        }
        let every_id: Vec<u32> = (0..vocab.tokens.len() as u32 + 2).collect();
        for skip in [false, true] {
            assert_eq!(
                ours.decode(&every_id, skip),
                theirs.decode(&every_id, skip).unwrap()
            );
        }
    }

    /// A tiny byte-level vocabulary: every byte, some merges and control tokens.
    fn tiny(pre: &str) -> GgufVocab {
        let mut tokens = vec!["<|endoftext|>".to_string(), "<|im_start|>".to_string()];
        let mut token_types = vec![3, 3];
        tokens.push("<|im_end|>".into());
        token_types.push(3);
        tokens.push("lll".into());
        token_types.push(4);
        for c in byte_chars() {
            tokens.push(c.to_string());
            token_types.push(1);
        }
        let merges = [
            "h e", "l l", "he ll", "hell o", "Ġ Ġ", "ĠĠ Ġ", "e e", "'l l", "' l",
        ];
        for merge in merges {
            tokens.push(merge.replace(' ', ""));
            token_types.push(1);
        }
        tokens.push("hello".into());
        token_types.push(1);
        GgufVocab {
            model: "gpt2".into(),
            pre: Some(pre.into()),
            tokens,
            token_types,
            merges: merges.map(String::from).to_vec(),
            bos_token_id: Some(1),
            eos_token_id: Some(0),
            ..GgufVocab::default()
        }
    }

    #[test]
    fn every_pre_tokenizer_encodes_and_decodes_as_the_tokenizers_crate() {
        for pre in ["smollm", "llama-bpe", "qwen2", "gpt2"] {
            assert_same_as_reference(&tiny(pre));
        }
    }

    #[test]
    fn control_tokens_stay_whole_and_decoding_can_skip_them() {
        let bpe = GgufBpe::new(&tiny("smollm")).unwrap();
        let ids = bpe.encode("<|im_start|>hello world 12").unwrap();
        let pieces: Vec<&str> = ids.iter().map(|&id| bpe.text(id)).collect();
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
        assert_eq!(bpe.decode(&ids, false), "<|im_start|>hello world 12");
        assert_eq!(bpe.decode(&ids, true), "hello world 12");
        assert_eq!(bpe.id("<|im_end|>"), Some(2));
        assert_eq!(bpe.id("not a token"), None);
    }

    #[test]
    fn bad_vocabularies_are_errors_not_panics() {
        let spm = GgufVocab {
            model: "llama".into(),
            ..tiny("smollm")
        };
        let err = GgufBpe::new(&spm).unwrap_err().to_string();
        assert!(
            err.starts_with("not supported yet: a GGUF-embedded \"llama\""),
            "{err}"
        );
        let empty = GgufVocab {
            tokens: Vec::new(),
            ..tiny("smollm")
        };
        assert!(GgufBpe::new(&empty).is_err());
        for merge in ["h", "h e l", "h zz"] {
            let mut bad = tiny("smollm");
            bad.merges.push(merge.into());
            let err = GgufBpe::new(&bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("merge {}", bad.merges.len())),
                "{err}"
            );
        }
    }

    /// The real SmolLM2 vocabulary (49152 tokens, 48900 merges), when the test weights are here.
    #[test]
    fn the_real_smollm2_vocabulary_encodes_and_decodes_as_the_tokenizers_crate() {
        if std::env::var("HUBBLE_SKIP_REAL_WEIGHTS").is_ok_and(|v| v == "1") {
            return;
        }
        let dir = match std::env::var_os("HUBBLE_TEST_WEIGHTS") {
            Some(dir) => std::path::PathBuf::from(dir),
            None => std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/hubble-test-weights"),
        };
        let path = dir.join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
        let mut file = std::fs::File::open(&path).unwrap_or_else(|e| {
            panic!("{}: {e}: run scripts/fetch-test-weights.sh", path.display())
        });
        let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
        let vocab = GgufVocab::from_metadata(&content.metadata).unwrap();
        assert_eq!((vocab.tokens.len(), vocab.merges.len()), (49152, 48900));
        assert_same_as_reference(&vocab);
        let bpe = GgufBpe::new(&vocab).unwrap();
        // Long input, and one 40,000-letter word with no space in it (a pasted blob).
        let blob: String = (0..40_000u32)
            .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
            .collect();
        let long = TEXTS.concat().repeat(20) + &blob;
        assert_eq!(
            bpe.encode(&long).unwrap(),
            reference(&vocab)
                .encode(long.as_str(), false)
                .unwrap()
                .get_ids()
        );
    }
}
