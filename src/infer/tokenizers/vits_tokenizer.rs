//! VITS's character tokenizer (transformers' `VitsTokenizer`, as MMS-TTS ships it: vocab.json of
//! characters + tokenizer_config.json): with `normalize`, text is lower-cased except where a
//! vocabulary entry matches as written, and characters outside the vocabulary are dropped and
//! the ends trimmed; Romanian's ț becomes ţ; with `add_blank`, the blank (id 0) goes between and
//! around the characters. Models that need a phonemizer (espeak) or uroman romanisation for
//! non-Latin text say so instead of guessing.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::infer::{InferError, read_json};

/// A loaded VITS tokenizer.
#[derive(Debug, Clone)]
pub struct VitsTokenizer {
    vocab: HashMap<String, u32>,
    /// Entries tried at each position when normalising, longest first.
    words: Vec<String>,
    unk: Option<u32>,
    add_blank: bool,
    normalize: bool,
    phonemize: bool,
    uroman: bool,
    language: Option<String>,
}

impl VitsTokenizer {
    /// Reads `dir/vocab.json` and `dir/tokenizer_config.json` (VitsTokenizer's defaults where
    /// keys are missing).
    pub fn from_dir(dir: &Path) -> Result<VitsTokenizer, InferError> {
        let path = dir.join("vocab.json");
        let vocab: HashMap<String, u32> =
            serde_json::from_value(read_json(&path)?).map_err(|e| InferError::file(&path, e))?;
        let config = read_json(&dir.join("tokenizer_config.json")).unwrap_or(Value::Null);
        let flag =
            |key: &str, default: bool| config.get(key).and_then(Value::as_bool).unwrap_or(default);
        let added: Vec<String> = config
            .get("added_tokens_decoder")
            .and_then(Value::as_object)
            .map(|tokens| {
                tokens
                    .values()
                    .filter_map(|t| t.get("content")?.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut words: Vec<String> = vocab.keys().cloned().chain(added).collect();
        words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
        let unk = config
            .get("unk_token")
            .and_then(Value::as_str)
            .and_then(|t| vocab.get(t).copied());
        Ok(VitsTokenizer {
            unk,
            words,
            add_blank: flag("add_blank", true),
            normalize: flag("normalize", true),
            phonemize: flag("phonemize", true),
            uroman: flag("is_uroman", false),
            language: config
                .get("language")
                .and_then(Value::as_str)
                .map(String::from),
            vocab,
        })
    }

    /// The ids VitsModel reads for `text`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, InferError> {
        let mut text = if self.normalize {
            self.lower_case(text)
        } else {
            text.to_string()
        };
        if self.language.as_deref() == Some("ron") {
            text = text.replace('ț', "ţ");
        }
        if self.uroman && !text.is_ascii() {
            return Err(InferError::InvalidInput(
                "this voice reads romanised text (uroman), which Hubble doesn't do yet: type the text in Latin letters"
                    .into(),
            ));
        }
        if self.phonemize {
            return Err(InferError::NotSupported {
                architecture: "VITS with an espeak phonemizer (phonemize: true)".into(),
                task: "text-to-speech".into(),
            });
        }
        if self.normalize {
            text = text
                .chars()
                .filter(|c| self.vocab.contains_key(c.encode_utf8(&mut [0; 4]) as &str))
                .collect::<String>()
                .trim()
                .to_string();
        }
        let ids: Vec<u32> = text
            .chars()
            .map(|c| {
                self.vocab
                    .get(c.encode_utf8(&mut [0; 4]) as &str)
                    .copied()
                    .or(self.unk)
                    .ok_or_else(|| {
                        InferError::InvalidInput(format!("{c:?} is not in this voice's alphabet"))
                    })
            })
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Err(InferError::InvalidInput(
                "nothing to say: the text has no letters this voice knows".into(),
            ));
        }
        if !self.add_blank {
            return Ok(ids);
        }
        let mut spaced = vec![0; ids.len() * 2 + 1];
        for (i, id) in ids.into_iter().enumerate() {
            spaced[2 * i + 1] = id;
        }
        Ok(spaced)
    }

    /// Lower-cases `text` except where a vocabulary entry matches as written.
    fn lower_case(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match self
                .words
                .iter()
                .find(|w| !w.is_empty() && rest.starts_with(w.as_str()))
            {
                Some(word) => {
                    out.push_str(word);
                    rest = &rest[word.len()..];
                }
                None => {
                    out.extend(c.to_lowercase());
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer(config: serde_json::Value) -> (tempfile::TempDir, VitsTokenizer) {
        let dir = tempfile::tempdir().unwrap();
        let vocab = serde_json::json!({"_": 0, "a": 1, "b": 2, " ": 3, "ţ": 4, "K": 5});
        std::fs::write(dir.path().join("vocab.json"), vocab.to_string()).unwrap();
        std::fs::write(dir.path().join("tokenizer_config.json"), config.to_string()).unwrap();
        let tokenizer = VitsTokenizer::from_dir(dir.path()).unwrap();
        (dir, tokenizer)
    }

    #[test]
    fn normalises_drops_unknown_characters_and_adds_blanks() {
        let (_dir, t) = tokenizer(serde_json::json!({"phonemize": false}));
        // "K" is in the vocabulary as written; "B" lower-cases to "b"; "!" and "x" are dropped.
        assert_eq!(t.encode(" AB, Kx! ").unwrap(), [0, 1, 0, 2, 0, 3, 0, 5, 0]);
        assert!(
            t.encode("!!!")
                .unwrap_err()
                .to_string()
                .contains("nothing to say")
        );
    }

    #[test]
    fn romanian_cedillas_phonemizers_and_uroman_are_handled() {
        let (_dir, ron) = tokenizer(
            serde_json::json!({"phonemize": false, "language": "ron", "add_blank": false}),
        );
        assert_eq!(ron.encode("ța").unwrap(), [4, 1]);
        let (_dir, espeak) = tokenizer(serde_json::json!({}));
        assert!(
            espeak
                .encode("ab")
                .unwrap_err()
                .to_string()
                .contains("phonemizer")
        );
        let (_dir, uroman) = tokenizer(serde_json::json!({"phonemize": false, "is_uroman": true}));
        assert!(
            uroman
                .encode("αβ")
                .unwrap_err()
                .to_string()
                .contains("uroman")
        );
        assert_eq!(uroman.encode("ab").unwrap().len(), 5);
    }
}
