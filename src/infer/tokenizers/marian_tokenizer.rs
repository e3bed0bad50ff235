//! transformers' `MarianTokenizer` (Helsinki-NLP opus-mt repos: `source.spm`, `target.spm`,
//! `vocab.json`, no tokenizer.json): special tokens in the text are kept whole, a leading
//! target-language code (`>>de<<`) is one token, the rest is segmented by the source
//! SentencePiece model, and pieces map to ids through vocab.json (a piece it lacks is `<unk>`),
//! then `</s>`. Decoding skips the special ids, maps ids to pieces through vocab.json (the
//! target vocabulary with `separate_vocabs`), joins them like SentencePiece and trims.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use tokenizers::Tokenizer;

use crate::infer::InferError;
use crate::infer::tokenizers::Detokenize;
use crate::infer::tokenizers::sentencepiece::{SPACE, SentencePieceModel};

/// A loaded Marian tokenizer.
pub struct MarianTokenizer {
    /// The source model's segmentation.
    source: Tokenizer,
    /// The model whose pieces decoding joins: the source one when the vocabulary is shared (as
    /// transformers 5 does), the target one with separate vocabularies.
    decoding: SentencePieceModel,
    /// vocab.json: piece → id.
    vocab: HashMap<String, u32>,
    /// id → piece for decoding (target_vocab.json with separate vocabularies).
    pieces: HashMap<u32, String>,
    /// The special tokens (`</s>`, `<unk>`, `<pad>`, extra ones) and their ids.
    specials: Vec<(String, u32)>,
    unk_id: u32,
    unk: String,
    eos_id: u32,
    clean_up_spaces: bool,
}

impl MarianTokenizer {
    /// Loads the tokenizer files from `dir` (tokenizer_config.json is optional).
    pub fn load(dir: &Path) -> Result<MarianTokenizer, InferError> {
        let config = match dir.join("tokenizer_config.json") {
            path if path.is_file() => crate::infer::read_json(&path)?,
            _ => Value::Null,
        };
        let token = |key: &str, default: &str| -> String {
            config
                .get(key)
                .and_then(token_text)
                .unwrap_or(default)
                .to_string()
        };
        let separate = config
            .get("separate_vocabs")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let vocab = read_vocab(&dir.join("vocab.json"))?;
        let target_vocab = if separate {
            Some(read_vocab(&dir.join("target_vocab.json"))?)
        } else {
            None
        };
        let spm = |name: &str| {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(InferError::MissingFile {
                    what: name.into(),
                    dir: dir.to_path_buf(),
                });
            }
            SentencePieceModel::read(&path)
        };
        let source_spm = spm("source.spm")?;
        let source = source_spm
            .to_tokenizer()
            .map_err(|e| InferError::file(&dir.join("source.spm"), e))?;
        let decoding = if separate {
            spm("target.spm")?
        } else {
            source_spm
        };
        let unk = token("unk_token", "<unk>");
        let unk_id = *vocab.get(&unk).ok_or_else(|| {
            InferError::file(
                &dir.join("vocab.json"),
                format!("{unk} is not in the vocabulary"),
            )
        })?;
        let id_of = |t: &str| vocab.get(t).copied().unwrap_or(unk_id);
        let eos = token("eos_token", "</s>");
        let mut names = vec![eos.clone(), unk.clone(), token("pad_token", "<pad>")];
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            if let Some(list) = config.get(key).and_then(Value::as_array) {
                names.extend(list.iter().filter_map(token_text).map(String::from));
            }
        }
        let mut specials: Vec<(String, u32)> = Vec::new();
        for name in names {
            if !name.is_empty() && !specials.iter().any(|(n, _)| *n == name) {
                let id = id_of(&name);
                specials.push((name, id));
            }
        }
        let pieces = target_vocab
            .as_ref()
            .unwrap_or(&vocab)
            .iter()
            .map(|(piece, id)| (*id, piece.clone()))
            .collect();
        Ok(MarianTokenizer {
            eos_id: id_of(&eos),
            source,
            decoding,
            pieces,
            specials,
            unk_id,
            unk,
            clean_up_spaces: config
                .get("clean_up_tokenization_spaces")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            vocab,
        })
    }

    /// The id of `</s>`.
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    /// The input ids for `text`, `</s>` last.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, InferError> {
        let mut ids = Vec::new();
        for segment in self.split_specials(text) {
            let chunk = match segment {
                Segment::Special(id) => {
                    ids.push(id);
                    continue;
                }
                Segment::Text(chunk) => chunk,
            };
            let (code, rest) = split_language_code(chunk);
            if let Some(code) = code {
                ids.push(self.id_of(code));
            }
            let encoding = self
                .source
                .encode(rest, false)
                .map_err(|e| InferError::Tokenizer(e.to_string()))?;
            ids.extend(encoding.get_tokens().iter().map(|piece| self.id_of(piece)));
        }
        ids.push(self.eos_id);
        Ok(ids)
    }

    /// The text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> String {
        let special_ids: HashSet<u32> = self.specials.iter().map(|(_, id)| *id).collect();
        let tokens =
            ids.iter()
                .filter(|id| !special_ids.contains(id))
                .map(|id| match self.pieces.get(id) {
                    Some(piece) => piece.as_str(),
                    None => self
                        .decoding
                        .piece(*id as usize)
                        .unwrap_or(self.unk.as_str()),
                });
        // A token spelled like a special token is not joined by SentencePiece but kept,
        // followed by a space (transformers' `convert_tokens_to_string`).
        let mut text = String::new();
        let mut group: Vec<&str> = Vec::new();
        for token in tokens {
            if self.specials.iter().any(|(name, _)| name == token) {
                text.push_str(&self.decoding.decode_pieces(&group));
                text.push_str(token);
                text.push(' ');
                group.clear();
            } else {
                group.push(token);
            }
        }
        text.push_str(&self.decoding.decode_pieces(&group));
        let text = text.replace(SPACE, " ");
        let text = python_strip(&text);
        if self.clean_up_spaces {
            clean_up_tokenization(text)
        } else {
            text.to_string()
        }
    }

    fn id_of(&self, piece: &str) -> u32 {
        self.vocab.get(piece).copied().unwrap_or(self.unk_id)
    }

    /// The text cut at each special token (leftmost, longest first), as transformers'
    /// added-tokens trie does.
    fn split_specials<'a>(&self, text: &'a str) -> Vec<Segment<'a>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut at = 0;
        while at < text.len() {
            let found = self
                .specials
                .iter()
                .filter(|(name, _)| text[at..].starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len());
            match found {
                Some((name, id)) => {
                    if start < at {
                        out.push(Segment::Text(&text[start..at]));
                    }
                    out.push(Segment::Special(*id));
                    at += name.len();
                    start = at;
                }
                None => at += text[at..].chars().next().map_or(1, char::len_utf8),
            }
        }
        if start < text.len() {
            out.push(Segment::Text(&text[start..]));
        }
        out
    }
}

impl Detokenize for MarianTokenizer {
    fn detokenize(&self, ids: &[u32]) -> Result<String, InferError> {
        Ok(self.decode(ids))
    }
}

enum Segment<'a> {
    Text(&'a str),
    Special(u32),
}

/// A special token in tokenizer_config.json: a string or an `AddedToken` object.
fn token_text(value: &Value) -> Option<&str> {
    value
        .as_str()
        .or_else(|| value.get("content").and_then(Value::as_str))
}

fn read_vocab(path: &Path) -> Result<HashMap<String, u32>, InferError> {
    if !path.is_file() {
        return Err(InferError::MissingFile {
            what: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        });
    }
    serde_json::from_value(crate::infer::read_json(path)?).map_err(|e| InferError::file(path, e))
}

/// `>>de<< text` → (`>>de<<`, ` text`), like `MarianTokenizer.remove_language_code`.
fn split_language_code(text: &str) -> (Option<&str>, &str) {
    if text.starts_with(">>")
        && let Some(end) = text.find("<<")
    {
        return (Some(&text[..end + 2]), &text[end + 2..]);
    }
    (None, text)
}

/// Python's `str.strip()`: Unicode whitespace and the separators U+001C..U+001F.
fn python_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// transformers' `clean_up_tokenization`: no space before punctuation and English clitics.
fn clean_up_tokenization(text: &str) -> String {
    [
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ]
    .iter()
    .fold(text.to_string(), |text, (from, to)| text.replace(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_split_off_the_front_only() {
        assert_eq!(
            split_language_code(">>de<< Hallo"),
            (Some(">>de<<"), " Hallo")
        );
        assert_eq!(split_language_code(">>fr<<x<<y"), (Some(">>fr<<"), "x<<y"));
        assert_eq!(split_language_code("a >>de<<"), (None, "a >>de<<"));
        assert_eq!(split_language_code(">>open"), (None, ">>open"));
    }

    #[test]
    fn strips_like_python_and_cleans_up_like_transformers() {
        assert_eq!(python_strip("\u{1f} a b\u{3000}\n"), "a b");
        assert_eq!(
            clean_up_tokenization("I do n't know , really . It 's ok !"),
            "I don't know, really. It's ok!"
        );
    }
}
