//! The BERT-family encoders behind the text classification, token classification and fill-mask
//! pipelines: BERT, DistilBERT and RoBERTa / XLM-RoBERTa from candle-transformers, loaded from
//! a folder (config.json, safetensors, tokenizer.json) into one type that returns the last
//! hidden states of one text.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use candle_transformers::models::debertav2::{Config as DebertaConfig, DebertaV2Model};
use candle_transformers::models::xlm_roberta::{Config as RobertaConfig, XLMRobertaModel};
use serde::Serialize;
use serde_json::Value;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use crate::infer::models::causal::safetensors_files;
use crate::infer::models::distilbert::{Config as DistilBertConfig, DistilBert};
use crate::infer::{InferError, read_json};

/// The encoder families Hubble runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// `bert`.
    Bert,
    /// `distilbert`.
    DistilBert,
    /// `roberta`, `xlm-roberta`, `camembert` (the same layout under `roberta.`).
    Roberta,
    /// `deberta-v2` (DeBERTa v2 and v3).
    DebertaV2,
}

impl Family {
    /// The family of a config.json `model_type`.
    pub fn from_model_type(model_type: &str) -> Option<Family> {
        match model_type {
            "bert" => Some(Family::Bert),
            "distilbert" => Some(Family::DistilBert),
            "roberta" | "xlm-roberta" | "camembert" => Some(Family::Roberta),
            "deberta-v2" => Some(Family::DebertaV2),
            _ => None,
        }
    }

    /// The weight-name prefix of the encoder inside a checkpoint with a task head.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::DistilBert => "distilbert",
            Family::Roberta => "roberta",
            Family::DebertaV2 => "deberta",
        }
    }
}

enum Model {
    Bert(BertModel),
    DistilBert(DistilBert),
    Roberta(XLMRobertaModel),
    DebertaV2(Box<DebertaV2Model>),
}

/// A loaded encoder with its tokenizer, config and weights (the heads load from `weights`).
pub struct Encoder {
    model: Model,
    /// The family.
    pub family: Family,
    /// config.json as read.
    pub config: Value,
    /// The hidden size.
    pub hidden_size: usize,
    /// The tokenizer (truncating to the model's positions).
    pub tokenizer: Tokenizer,
    /// The checkpoint's tensors, for the task heads.
    pub weights: VarBuilder<'static>,
    device: Device,
}

impl Encoder {
    /// Loads the encoder of `family` from `dir` onto `device` (fp32).
    pub fn load(dir: &Path, family: Family, device: &Device) -> Result<Encoder, InferError> {
        let config_path = dir.join("config.json");
        let config = read_json(&config_path)?;
        let files = safetensors_files(dir)?;
        let weights = crate::infer::models::mmap_weights(&files, device)?;
        let bad_config = |e: serde_json::Error| InferError::file(&config_path, e);
        let prefixed = weights.contains_tensor(&format!(
            "{}.embeddings.word_embeddings.weight",
            family.prefix()
        ));
        let vb = if prefixed {
            weights.pp(family.prefix())
        } else {
            weights.clone()
        };
        let (model, hidden_size, positions) = match family {
            Family::Bert => {
                let c: BertConfig = serde_json::from_value(config.clone()).map_err(bad_config)?;
                let model = BertModel::load(vb, &c)?;
                (Model::Bert(model), c.hidden_size, c.max_position_embeddings)
            }
            Family::DistilBert => {
                let c: DistilBertConfig =
                    serde_json::from_value(config.clone()).map_err(bad_config)?;
                (
                    Model::DistilBert(DistilBert::load(vb, &c)?),
                    c.dim,
                    c.max_position_embeddings,
                )
            }
            Family::Roberta => {
                let c: RobertaConfig =
                    serde_json::from_value(with_defaults(&config, ROBERTA_DEFAULTS))
                        .map_err(bad_config)?;
                // Positions start after the padding index (RoBERTa's offset of 2).
                let positions = c.max_position_embeddings.saturating_sub(2);
                (
                    Model::Roberta(XLMRobertaModel::new(&c, vb)?),
                    c.hidden_size,
                    positions,
                )
            }
            Family::DebertaV2 => {
                let c: DebertaConfig =
                    serde_json::from_value(config.clone()).map_err(bad_config)?;
                let positions = c.max_position_embeddings;
                (
                    Model::DebertaV2(Box::new(DebertaV2Model::load(vb, &c)?)),
                    c.hidden_size,
                    positions,
                )
            }
        };
        let tokenizer = load_tokenizer(dir, positions)?;
        Ok(Encoder {
            model,
            family,
            config,
            hidden_size,
            tokenizer,
            weights,
            device: device.clone(),
        })
    }

    /// Tokenizes one text with its special tokens (truncated to the model's length).
    pub fn encode(&self, text: &str) -> Result<Encoding, InferError> {
        self.tokenizer
            .encode(text, true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))
    }

    /// Tokenizes a pair (question and context, premise and hypothesis) with the tokenizer's
    /// pair template, offsets in characters.
    pub fn encode_pair(&self, first: &str, second: &str) -> Result<Encoding, InferError> {
        self.tokenizer
            .encode_char_offsets((first, second), true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))
    }

    /// The last hidden states `(tokens, hidden)` of one tokenized text.
    pub fn hidden(&self, ids: &[u32]) -> Result<Tensor, InferError> {
        self.hidden_typed(ids, None)
    }

    /// The last hidden states of a tokenized text or pair; `type_ids` are the tokenizer's
    /// segment ids (0 for the first text, 1 for the second), `None` for all zeros. Families
    /// without segment embeddings (DistilBERT, DeBERTa v3) ignore them.
    pub fn hidden_typed(
        &self,
        ids: &[u32],
        type_ids: Option<&[u32]>,
    ) -> Result<Tensor, InferError> {
        if ids.is_empty() {
            return Err(InferError::InvalidInput("the text is empty".into()));
        }
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let types = match type_ids {
            Some(types) if types.len() == ids.len() => {
                Tensor::new(types, &self.device)?.unsqueeze(0)?
            }
            _ => input.zeros_like()?,
        };
        let hidden = match &self.model {
            Model::Bert(model) => model.forward(&input, &types, None)?,
            Model::DistilBert(model) => model.forward(&input)?,
            Model::Roberta(model) => {
                let mask = input.ones_like()?;
                model.forward(&input, &mask, &types, None, None, None)?
            }
            Model::DebertaV2(model) => {
                let has_types = config_usize(&self.config, "type_vocab_size").unwrap_or(0) > 0;
                model.forward(&input, has_types.then_some(types), None)?
            }
        };
        Ok(hidden.squeeze(0)?)
    }

    /// The labels of config.json's `id2label`, in id order (`LABEL_i` where one is missing).
    pub fn labels(&self, count: usize) -> Vec<String> {
        crate::infer::models::labels_for(&self.config, count)
    }
}

/// config.json keys transformers may leave out and candle requires (RoBERTa / XLM-RoBERTa).
const ROBERTA_DEFAULTS: &[(&str, &str)] = &[
    ("position_embedding_type", "\"absolute\""),
    ("attention_probs_dropout_prob", "0.1"),
    ("hidden_dropout_prob", "0.1"),
    ("hidden_act", "\"gelu\""),
    ("layer_norm_eps", "1e-5"),
    ("type_vocab_size", "1"),
    ("pad_token_id", "1"),
];

fn with_defaults(config: &Value, defaults: &[(&str, &str)]) -> Value {
    let mut config = config.clone();
    if let Some(map) = config.as_object_mut() {
        for (key, value) in defaults {
            if map.get(*key).is_none_or(Value::is_null) {
                let value = serde_json::from_str(value).expect("defaults are valid JSON");
                map.insert((*key).to_string(), value);
            }
        }
    }
    config
}

/// A non-negative integer from config.json.
pub fn config_usize(config: &Value, key: &str) -> Option<usize> {
    config.get(key)?.as_u64().map(|n| n as usize)
}

fn load_tokenizer(dir: &Path, max_length: usize) -> Result<Tokenizer, InferError> {
    let mut tokenizer = crate::infer::tokenizers::read_tokenizer(dir)?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length,
            ..TruncationParams::default()
        }))
        .map_err(|e| InferError::Tokenizer(e.to_string()))?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_by_model_type() {
        assert_eq!(Family::from_model_type("bert"), Some(Family::Bert));
        assert_eq!(
            Family::from_model_type("xlm-roberta"),
            Some(Family::Roberta)
        );
        assert_eq!(Family::from_model_type("camembert"), Some(Family::Roberta));
        assert_eq!(
            Family::from_model_type("distilbert"),
            Some(Family::DistilBert)
        );
        assert_eq!(
            Family::from_model_type("deberta-v2"),
            Some(Family::DebertaV2)
        );
        assert_eq!(Family::from_model_type("electra"), None);
    }

    #[test]
    fn missing_config_keys_get_transformers_defaults_but_present_ones_stay() {
        let config = serde_json::json!({"hidden_act": "relu", "position_embedding_type": null});
        let filled = with_defaults(&config, ROBERTA_DEFAULTS);
        assert_eq!(filled["hidden_act"], "relu");
        assert_eq!(filled["position_embedding_type"], "absolute");
        assert_eq!(filled["pad_token_id"], 1);
    }
}
