//! BLIP captioners (`BlipForConditionalGeneration` in the Salesforce/blip-image-captioning-base
//! and -large layout) on candle-transformers' `blip` model, whose weight names and arithmetic
//! are transformers' (pre-LN ViT with fused qkv, exact-erf GELU, a BERT decoder with
//! cross-attention on the image and a KV cache). Two things are done here because candle's
//! loader does not: its `Config` needs every field while transformers' config.json leaves
//! defaults out (and transformers sets the decoder's `encoder_hidden_size` to the vision width
//! itself), and the LM head is tied to the word embeddings, so checkpoints saved by
//! transformers 5 have no `cls.predictions.decoder.weight`.

use candle_nn::{Activation, VarBuilder};
use candle_transformers::models::{blip, blip_text};
use serde::de::DeserializeOwned;
use serde_json::Value;

const HEAD_WEIGHT: &str = "text_decoder.cls.predictions.decoder.weight";
const HEAD_BIAS: &str = "text_decoder.cls.predictions.bias";
const HEAD_DECODER_BIAS: &str = "text_decoder.cls.predictions.decoder.bias";
const WORD_EMBEDDINGS: &str = "text_decoder.bert.embeddings.word_embeddings.weight";

/// What config.json says about a BLIP captioner.
#[derive(Debug, Clone)]
pub struct BlipSpec {
    /// candle's configuration, every field filled (transformers' defaults where absent).
    pub config: blip::Config,
    /// `text_config.bos_token_id`: `[DEC]`, the decoder's first token (30522 in BLIP's vocab).
    pub bos_id: u32,
    /// `text_config.sep_token_id`: `[SEP]`, which ends a caption (102).
    pub sep_id: u32,
    /// Whether the LM head is the word embeddings (`tie_word_embeddings`, on by default).
    pub tied: bool,
}

impl BlipSpec {
    /// Reads config.json's `text_config` and `vision_config` with transformers' defaults.
    pub fn from_config(config: &Value) -> Result<BlipSpec, String> {
        let text = config.get("text_config").unwrap_or(&Value::Null);
        let vision = config.get("vision_config").unwrap_or(&Value::Null);
        let t = |key: &str, default| field(text, "text_config", key, default);
        let v = |key: &str, default| field(vision, "vision_config", key, default);
        let vision_config = blip::VisionConfig {
            hidden_size: v("hidden_size", 768)?,
            intermediate_size: v("intermediate_size", 3072)?,
            projection_dim: v("projection_dim", 512)?,
            num_hidden_layers: v("num_hidden_layers", 12)?,
            num_attention_heads: v("num_attention_heads", 12)?,
            image_size: v("image_size", 384)?,
            patch_size: v("patch_size", 16)?,
            hidden_act: activation(vision, "vision_config")?,
            layer_norm_eps: field(vision, "vision_config", "layer_norm_eps", 1e-5)?,
        };
        if vision_config.patch_size == 0 || vision_config.image_size < vision_config.patch_size {
            return Err("vision_config: patch_size must be between 1 and image_size".into());
        }
        let text_config = blip_text::Config {
            vocab_size: t("vocab_size", 30524)?,
            hidden_size: t("hidden_size", 768)?,
            // transformers' BlipConfig overwrites this with the vision width.
            encoder_hidden_size: vision_config.hidden_size,
            intermediate_size: t("intermediate_size", 3072)?,
            projection_dim: t("projection_dim", 768)?,
            num_hidden_layers: t("num_hidden_layers", 12)?,
            num_attention_heads: t("num_attention_heads", 8)?,
            max_position_embeddings: t("max_position_embeddings", 512)?,
            hidden_act: activation(text, "text_config")?,
            layer_norm_eps: field(text, "text_config", "layer_norm_eps", 1e-12)?,
            is_decoder: true,
        };
        for (name, hidden, heads) in [
            (
                "vision_config",
                vision_config.hidden_size,
                vision_config.num_attention_heads,
            ),
            (
                "text_config",
                text_config.hidden_size,
                text_config.num_attention_heads,
            ),
        ] {
            if heads == 0 || hidden % heads != 0 {
                return Err(format!(
                    "{name}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}"
                ));
            }
        }
        let tied = field(config, "config", "tie_word_embeddings", true)?
            || field(text, "text_config", "tie_word_embeddings", true)?;
        Ok(BlipSpec {
            bos_id: field(text, "text_config", "bos_token_id", 30522)?,
            sep_id: field(text, "text_config", "sep_token_id", 102)?,
            tied,
            config: blip::Config {
                text_config,
                vision_config,
                projection_dim: field(config, "config", "projection_dim", 512)?,
                image_text_hidden_size: field(config, "config", "image_text_hidden_size", 256)?,
            },
        })
    }

    /// Builds the model from `vb` (transformers' names), the LM head tied as transformers ties
    /// it: a tied head is the word embeddings with `cls.predictions.bias`, an untied one its own
    /// weight and (when saved) `decoder.bias`.
    pub fn load(
        &self,
        vb: VarBuilder<'static>,
    ) -> candle_core::Result<blip::BlipForConditionalGeneration> {
        let tied = self.tied;
        let own_bias = !tied && vb.contains_tensor(HEAD_DECODER_BIAS);
        let vb = vb.rename_f(move |name| match name {
            HEAD_WEIGHT if tied => WORD_EMBEDDINGS.to_string(),
            HEAD_BIAS if own_bias => HEAD_DECODER_BIAS.to_string(),
            other => other.to_string(),
        });
        blip::BlipForConditionalGeneration::new(&self.config, vb)
    }
}

/// `section[key]`, or `default` when absent; a value of the wrong type is an error naming it.
fn field<T: DeserializeOwned>(
    section: &Value,
    name: &str,
    key: &str,
    default: T,
) -> Result<T, String> {
    match section.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| format!("config.json {name}.{key} = {value}: {e}")),
    }
}

/// `hidden_act` as candle's activation, for the names transformers' BLIP configs use.
fn activation(section: &Value, name: &str) -> Result<Activation, String> {
    let act: String = field(section, name, "hidden_act", "gelu".to_string())?;
    match act.as_str() {
        "gelu" => Ok(Activation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::NewGelu),
        "relu" => Ok(Activation::Relu),
        "silu" | "swish" => Ok(Activation::Silu),
        other => Err(format!(
            "{name}.hidden_act {other:?} is not supported (gelu, gelu_new, relu, silu)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_transformers_and_the_decoder_reads_the_vision_width() {
        let spec = BlipSpec::from_config(&json!({
            "vision_config": {"hidden_size": 1024, "num_hidden_layers": 24,
                              "num_attention_heads": 16},
            "text_config": {"encoder_hidden_size": 768}
        }))
        .unwrap();
        assert_eq!(spec.config.text_config.encoder_hidden_size, 1024);
        assert_eq!(spec.config.vision_config.image_size, 384);
        assert_eq!(spec.config.text_config.vocab_size, 30524);
        assert_eq!(spec.config.text_config.hidden_act, Activation::Gelu);
        assert_eq!((spec.bos_id, spec.sep_id, spec.tied), (30522, 102, true));
    }

    #[test]
    fn bad_values_are_errors_that_name_the_field() {
        let err =
            BlipSpec::from_config(&json!({"vision_config": {"image_size": "big"}})).unwrap_err();
        assert!(err.contains("vision_config.image_size"), "{err}");
        let err =
            BlipSpec::from_config(&json!({"text_config": {"hidden_act": "mish"}})).unwrap_err();
        assert!(err.contains("\"mish\" is not supported"), "{err}");
        let err =
            BlipSpec::from_config(&json!({"text_config": {"num_attention_heads": 7}})).unwrap_err();
        assert!(err.contains("not a multiple"), "{err}");
        let untied = BlipSpec::from_config(&json!({
            "tie_word_embeddings": false, "text_config": {"tie_word_embeddings": false}}))
        .unwrap();
        assert!(!untied.tied);
    }
}
