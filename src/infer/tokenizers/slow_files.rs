//! Tokenizers for repositories without tokenizer.json, built from the "slow" tokenizer files
//! as transformers' `convert_slow_tokenizer` builds them: BERT's WordPiece `vocab.txt`
//! (BERT, DistilBERT), RoBERTa's byte-level BPE `vocab.json` + `merges.txt`, and CLIP's BPE over
//! the same two files (`tokenizer_class` CLIPTokenizer: words end in `</w>`). Many older
//! checkpoints (deepset/roberta-base-squad2, the first fine-tunes) and every Stable Diffusion
//! repository's `tokenizer/` folder ship only these.

use std::path::Path;

use serde_json::Value;
use tokenizers::SplitDelimiterBehavior;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::bpe::{BPE, BpeBuilder};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::normalizers::replace::{Replace, ReplacePattern};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::normalizers::utils::{Lowercase, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::bert::BertProcessing;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::infer::{InferError, read_json};

/// Whether `dir` has slow tokenizer files this module converts.
pub fn present(dir: &Path) -> bool {
    dir.join("vocab.txt").is_file()
        || (dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file())
}

/// The tokenizer converted from `dir`'s slow files, special tokens from
/// tokenizer_config.json / special_tokens_map.json or the family's defaults.
pub fn convert(dir: &Path) -> Result<Tokenizer, InferError> {
    let config = read_json(&dir.join("tokenizer_config.json")).unwrap_or(Value::Null);
    let specials = read_json(&dir.join("special_tokens_map.json")).unwrap_or(Value::Null);
    let token = |key: &str, default: &str| -> String {
        [&config, &specials]
            .iter()
            .find_map(|source| match source.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("content")?.as_str().map(String::from),
                _ => None,
            })
            .unwrap_or_else(|| default.to_string())
    };
    if dir.join("vocab.txt").is_file() {
        let lowercase = config
            .get("do_lower_case")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let names = [
            ("cls_token", "[CLS]"),
            ("sep_token", "[SEP]"),
            ("unk_token", "[UNK]"),
            ("pad_token", "[PAD]"),
            ("mask_token", "[MASK]"),
        ]
        .map(|(key, default)| token(key, default));
        wordpiece(dir, lowercase, &names)
    } else if is_clip(&config) {
        let names = [
            ("bos_token", "<|startoftext|>"),
            ("eos_token", "<|endoftext|>"),
            ("unk_token", "<|endoftext|>"),
            ("pad_token", "<|endoftext|>"),
        ]
        .map(|(key, default)| token(key, default));
        clip_bpe(dir, &names)
    } else if dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file() {
        let names = [
            ("bos_token", "<s>"),
            ("eos_token", "</s>"),
            ("unk_token", "<unk>"),
            ("pad_token", "<pad>"),
            ("mask_token", "<mask>"),
        ]
        .map(|(key, default)| token(key, default));
        let add_prefix_space = config
            .get("add_prefix_space")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        byte_level_bpe(dir, add_prefix_space, &names)
    } else {
        Err(InferError::MissingFile {
            what: "tokenizer.json (or vocab.txt, or vocab.json with merges.txt)".into(),
            dir: dir.to_path_buf(),
        })
    }
}

/// BERT: `[cls, sep, unk, pad, mask]`.
fn wordpiece(dir: &Path, lowercase: bool, names: &[String; 5]) -> Result<Tokenizer, InferError> {
    let [cls, sep, unk, pad, mask] = names;
    let path = dir.join("vocab.txt");
    let model = WordPiece::from_file(&path.to_string_lossy())
        .unk_token(unk.clone())
        .build()
        .map_err(|e| InferError::file(&path, e))?;
    let id = |t: &str| -> Result<u32, InferError> {
        model_id(&model, t)
            .ok_or_else(|| InferError::file(&path, format!("no {t} in the vocabulary")))
    };
    let processor = BertProcessing::new((sep.clone(), id(sep)?), (cls.clone(), id(cls)?));
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
        .map_err(|e| InferError::Tokenizer(e.to_string()))?
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_post_processor(Some(processor))
        .with_decoder(Some(WordPieceDecoder::default()));
    tokenizer
        .add_special_tokens([cls, sep, unk, pad, mask].map(|t| AddedToken::from(t.clone(), true)))
        .map_err(|e| InferError::Tokenizer(e.to_string()))?;
    Ok(tokenizer)
}

/// RoBERTa: `[bos, eos, unk, pad, mask]`.
fn byte_level_bpe(
    dir: &Path,
    add_prefix_space: bool,
    names: &[String; 5],
) -> Result<Tokenizer, InferError> {
    let [bos, eos, unk, pad, mask] = names;
    let (model, processor) = bpe_and_ends(dir, |bpe| bpe, bos, eos)?;
    let processor = processor
        .trim_offsets(true)
        .add_prefix_space(add_prefix_space);
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_pre_tokenizer(Some(ByteLevel::new(add_prefix_space, true, true)))
        .with_post_processor(Some(processor))
        .with_decoder(Some(ByteLevelDecoder::default()));
    let mut specials: Vec<AddedToken> = [bos, eos, unk, pad]
        .map(|t| AddedToken::from(t.clone(), true))
        .to_vec();
    specials.push(AddedToken::from(mask.clone(), true).lstrip(true));
    tokenizer
        .add_special_tokens(specials)
        .map_err(|e| InferError::Tokenizer(e.to_string()))?;
    Ok(tokenizer)
}

/// The BPE model of `dir`'s vocab.json + merges.txt (`configure` sets the family's options) and
/// the processor that wraps a text in `bos … eos`.
fn bpe_and_ends(
    dir: &Path,
    configure: impl FnOnce(BpeBuilder) -> BpeBuilder,
    bos: &str,
    eos: &str,
) -> Result<(BPE, RobertaProcessing), InferError> {
    let (vocab, merges) = (dir.join("vocab.json"), dir.join("merges.txt"));
    let model = configure(BPE::from_file(
        &vocab.to_string_lossy(),
        &merges.to_string_lossy(),
    ))
    .build()
    .map_err(|e| InferError::file(&vocab, e))?;
    let id = |t: &str| -> Result<(String, u32), InferError> {
        model_id(&model, t)
            .map(|id| (t.to_string(), id))
            .ok_or_else(|| InferError::file(&vocab, format!("no {t} in the vocabulary")))
    };
    let processor = RobertaProcessing::new(id(eos)?, id(bos)?);
    Ok((model, processor))
}

/// Whether tokenizer_config.json names CLIP's tokenizer (the slow or the fast class).
fn is_clip(config: &Value) -> bool {
    config
        .get("tokenizer_class")
        .and_then(Value::as_str)
        .is_some_and(|class| class.starts_with("CLIPTokenizer"))
}

/// CLIP: `[bos, eos, unk, pad]`. Text is NFC-normalised, runs of white space become one space
/// and everything is lower-cased; words (letters, single digits, runs of other symbols, English
/// contractions) are split off, byte-mapped, and merged with `</w>` marking a word's end.
fn clip_bpe(dir: &Path, names: &[String; 4]) -> Result<Tokenizer, InferError> {
    let [bos, eos, unk, pad] = names;
    let end_of_word =
        |bpe: BpeBuilder| bpe.unk_token(unk.clone()).end_of_word_suffix("</w>".into());
    let (model, processor) = bpe_and_ends(dir, end_of_word, bos, eos)?;
    let processor = processor.trim_offsets(false).add_prefix_space(false);
    let tokenizer_error = |e: tokenizers::Error| InferError::Tokenizer(e.to_string());
    let spaces =
        Replace::new(ReplacePattern::Regex(r"\s+".into()), " ").map_err(tokenizer_error)?;
    let normalizer = NormalizerSequence::new(vec![NFC.into(), spaces.into(), Lowercase.into()]);
    let words = Split::new(
        SplitPattern::Regex(r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+".into()),
        SplitDelimiterBehavior::Removed,
        true,
    )
    .map_err(tokenizer_error)?;
    let pre_tokenizer = PreTokenizerSequence::new(vec![
        words.into(),
        ByteLevel::new(false, true, false).into(),
    ]);
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(tokenizer_error)?
        .with_pre_tokenizer(Some(pre_tokenizer))
        .with_post_processor(Some(processor))
        .with_decoder(Some(ByteLevelDecoder::default()));
    let mut specials = vec![bos, eos, unk, pad];
    specials.dedup();
    tokenizer
        .add_special_tokens(
            specials
                .into_iter()
                .map(|t| AddedToken::from(t.clone(), true)),
        )
        .map_err(tokenizer_error)?;
    Ok(tokenizer)
}

fn model_id(model: &impl tokenizers::Model, token: &str) -> Option<u32> {
    model.token_to_id(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bert_vocab_txt_becomes_a_wordpiece_tokenizer_with_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nwhere\nis\nthe\ncat\n?\nit\nsleeps\n##s\n";
        std::fs::write(dir.path().join("vocab.txt"), vocab).unwrap();
        assert!(present(dir.path()));
        let tokenizer = convert(dir.path()).unwrap();
        let encoding = tokenizer
            .encode(("Where is the cat?", "It sleeps"), true)
            .unwrap();
        assert_eq!(
            encoding.get_tokens(),
            [
                "[CLS]", "where", "is", "the", "cat", "?", "[SEP]", "it", "sleeps", "[SEP]"
            ]
        );
        assert_eq!(encoding.get_type_ids(), [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn roberta_vocab_and_merges_become_a_byte_level_bpe_tokenizer() {
        let dir = tempfile::tempdir().unwrap();
        let vocab = serde_json::json!({
            "<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4,
            "c": 5, "a": 6, "t": 7, "ca": 8, "cat": 9, "Ġ": 10, "Ġcat": 11
        });
        std::fs::write(dir.path().join("vocab.json"), vocab.to_string()).unwrap();
        std::fs::write(
            dir.path().join("merges.txt"),
            "#version: 0.2\nc a\nca t\nĠ cat\n",
        )
        .unwrap();
        let tokenizer = convert(dir.path()).unwrap();
        let encoding = tokenizer.encode(("cat", "cat cat"), true).unwrap();
        assert_eq!(
            encoding.get_tokens(),
            ["<s>", "cat", "</s>", "</s>", "cat", "Ġcat", "</s>"]
        );
        assert!(!present(tempfile::tempdir().unwrap().path()));
    }
}
