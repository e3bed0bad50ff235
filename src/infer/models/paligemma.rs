//! PaliGemma (`PaliGemmaForConditionalGeneration`, google/paligemma-3b-* layout): a SigLIP
//! vision tower (last hidden state, no head), a linear projector, and a Gemma decoder whose
//! prompt (the image tokens, `<bos>`, the text, "\n") attends bidirectionally, positions counted
//! from 1, as transformers runs it; generated tokens attend causally with the KV cache. The
//! tower and the decoder are candle-transformers' SigLIP and Gemma; the image features are
//! divided by √hidden before candle's decoder scales every input embedding by it (transformers
//! scales only the text embeddings).
//!
//! Weights under llava-hf-style names (`vision_tower.vision_model.*`, `language_model.model.*`)
//! or transformers 5's (`vision_tower.*`, `model.language_model.*`); the LM head is the
//! embeddings (Gemma ties them). Config defaults are `PaliGemmaConfig`'s and `GemmaConfig`'s.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{gemma, siglip};
use serde_json::{Map, Value};

use super::linear::{Linear, linear};
use crate::infer::models::causal::normalize_config;
use crate::infer::models::vlm_layout::VlmLayout;

/// What config.json says about a PaliGemma model, transformers' defaults filled in.
#[derive(Debug, Clone)]
pub struct PaliGemmaSpec {
    /// The Gemma decoder's configuration (candle's).
    pub text: gemma::Config,
    /// The SigLIP tower's configuration (candle's).
    pub vision: siglip::VisionConfig,
    /// `projection_dim`: the projector's output, the decoder's width.
    pub projection_dim: usize,
    /// `image_token_index`.
    pub image_token_id: u32,
    /// End-of-sequence ids from config.json.
    pub eos_ids: Vec<u32>,
}

impl PaliGemmaSpec {
    /// Reads config.json (`model_type: paligemma`, a Gemma 1 decoder).
    pub fn from_config(config: &Value) -> Result<PaliGemmaSpec, String> {
        let empty = Value::Object(Map::new());
        let text = config.get("text_config").unwrap_or(&empty);
        let text_type = text.get("model_type").and_then(Value::as_str);
        if text_type.is_some_and(|t| t != "gemma") {
            return Err(format!(
                "a {} language model (PaliGemma with Gemma 1 only)",
                text_type.unwrap_or_default()
            ));
        }
        let mut text = normalize_config(text.clone());
        let obj = text.as_object_mut().ok_or("text_config is not an object")?;
        for (key, default) in [
            ("vocab_size", Value::from(257152)),
            ("hidden_size", 2048.into()),
            ("intermediate_size", 16384.into()),
            ("num_hidden_layers", 18.into()),
            ("num_attention_heads", 8.into()),
            ("num_key_value_heads", 1.into()),
            ("head_dim", 256.into()),
            ("rms_norm_eps", 1e-6.into()),
            ("rope_theta", 10000.0.into()),
            ("max_position_embeddings", 8192.into()),
            ("attention_bias", false.into()),
        ] {
            if obj.get(key).is_none_or(Value::is_null) {
                obj.insert(key.into(), default);
            }
        }
        // candle wants exactly one of the two activation keys.
        if obj.get("hidden_activation").is_some_and(|v| !v.is_null()) {
            obj.remove("hidden_act");
        } else {
            obj.remove("hidden_activation");
            if obj.get("hidden_act").is_none_or(Value::is_null) {
                obj.insert("hidden_act".into(), "gelu_pytorch_tanh".into());
            }
        }
        let eos_ids = crate::infer::models::ids_of(obj.get("eos_token_id"))
            .into_iter()
            .chain(crate::infer::models::ids_of(config.get("eos_token_id")))
            .collect();
        let text: gemma::Config =
            serde_json::from_value(text).map_err(|e| format!("text_config: {e}"))?;
        let vision_json = config.get("vision_config").unwrap_or(&empty);
        let vision_type = vision_json.get("model_type").and_then(Value::as_str);
        if vision_type.is_some_and(|t| t != "siglip_vision_model") {
            return Err(format!(
                "a {} vision tower (PaliGemma with SigLIP only)",
                vision_type.unwrap_or_default()
            ));
        }
        if vision_json.get("vision_use_head").and_then(Value::as_bool) == Some(true) {
            return Err("vision_config.vision_use_head (a pooled tower)".into());
        }
        let mut vision_json = vision_json.clone();
        let v = vision_json
            .as_object_mut()
            .ok_or("vision_config is not an object")?;
        // PaliGemmaConfig's defaults (SigLIP So400m/14 at 224 px), then SiglipVisionConfig's.
        for (key, default) in [
            ("hidden_size", Value::from(1152)),
            ("intermediate_size", 4304.into()),
            ("num_hidden_layers", 27.into()),
            ("num_attention_heads", 16.into()),
            ("patch_size", 14.into()),
            ("image_size", 224.into()),
        ] {
            if v.get(key).is_none_or(Value::is_null) {
                v.insert(key.into(), default);
            }
        }
        let vision: siglip::VisionConfig =
            serde_json::from_value(vision_json).map_err(|e| format!("vision_config: {e}"))?;
        if vision.patch_size == 0 || vision.image_size < vision.patch_size {
            return Err("vision_config: patch_size must be between 1 and image_size".into());
        }
        let projection_dim = config
            .get("projection_dim")
            .or_else(|| config.pointer("/vision_config/projection_dim"))
            .and_then(Value::as_u64)
            .map_or(text.hidden_size, |n| n as usize);
        if projection_dim != text.hidden_size {
            return Err(format!(
                "projection_dim {projection_dim} other than the decoder's hidden_size {}",
                text.hidden_size
            ));
        }
        Ok(PaliGemmaSpec {
            image_token_id: config
                .get("image_token_index")
                .or_else(|| config.get("image_token_id"))
                .and_then(Value::as_u64)
                .unwrap_or(256000) as u32,
            projection_dim,
            eos_ids,
            text,
            vision,
        })
    }

    /// How many image tokens one image becomes (one per patch).
    pub fn image_tokens(&self) -> usize {
        (self.vision.image_size / self.vision.patch_size).pow(2)
    }
}

/// A loaded PaliGemma with its decoder's KV cache.
pub struct PaliGemma {
    vision: siglip::VisionModel,
    projector: Linear,
    decoder: gemma::Model,
    spec: PaliGemmaSpec,
    device: Device,
}

impl PaliGemma {
    /// Builds the model from `vb` (either weight layout).
    pub fn load(spec: &PaliGemmaSpec, vb: VarBuilder<'static>) -> Result<PaliGemma, String> {
        let layout = VlmLayout::detect(&vb, "linear.weight")?;
        let (vision_prefix, projector_prefix, decoder_prefix) =
            (layout.vision, layout.projector, layout.decoder);
        let err = |e: candle_core::Error| e.to_string();
        let device = vb.device().clone();
        let vision =
            siglip::VisionModel::new(&spec.vision, false, vb.pp(vision_prefix)).map_err(err)?;
        let projector = linear(
            spec.vision.hidden_size,
            spec.projection_dim,
            vb.pp(projector_prefix).pp("linear"),
        )
        .map_err(err)?;
        // candle's Gemma asks for `model.*`.
        let text_vb = vb.rename_f(move |name| match name.strip_prefix("model.") {
            Some(rest) => format!("{decoder_prefix}.{rest}"),
            None => name.to_string(),
        });
        let decoder = gemma::Model::new(false, &spec.text, text_vb).map_err(err)?;
        Ok(PaliGemma {
            vision,
            projector,
            decoder,
            spec: spec.clone(),
            device,
        })
    }

    /// The configuration it was built from.
    pub fn spec(&self) -> &PaliGemmaSpec {
        &self.spec
    }

    /// The device it runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// One image's projected features `(image tokens, hidden)` from `pixels` `(1, 3, H, W)`.
    pub fn image_features(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let states = self.vision.forward(pixels)?;
        self.projector.forward(&states)?.squeeze(0)
    }

    /// The decoder's input embeddings `(1, ids, hidden)`, each image token's row replaced by
    /// the next row of `features`; everything divided by √hidden, which candle's decoder
    /// multiplies back (transformers scales the text embeddings only).
    pub fn merge(&self, ids: &[u32], features: &Tensor) -> Result<Tensor, String> {
        let err = |e: candle_core::Error| e.to_string();
        let image_id = self.spec.image_token_id;
        // An image id past the vocabulary is embedded as 0 (replaced below anyway).
        let vocab = self.spec.text.vocab_size as u32;
        let safe: Vec<u32> = ids
            .iter()
            .map(|&id| if id == image_id && id >= vocab { 0 } else { id })
            .collect();
        let input = Tensor::new(safe.as_slice(), &self.device).map_err(err)?;
        let text = self.decoder.embed_tokens().forward(&input).map_err(err)?;
        let scale = (self.spec.text.hidden_size as f64).sqrt();
        let scaled = (features / scale).map_err(err)?;
        super::replace_rows(ids, image_id, &text, &scaled)
            .and_then(|t| t.unsqueeze(0))
            .map_err(err)
    }

    /// The next-token logits (1-D) after the prompt's embeddings at position 0: the whole
    /// prompt attends bidirectionally (transformers' prefix), positions from 1.
    pub fn forward_prompt(&mut self, embeds: &Tensor) -> candle_core::Result<Tensor> {
        self.decoder
            .forward_embeds(embeds, None, 1)?
            .flatten_all()?
            .to_dtype(DType::F32)
    }

    /// The next-token logits after one generated `id` at position `pos` (0-based).
    pub fn forward_id(&mut self, id: u32, pos: usize) -> candle_core::Result<Tensor> {
        let input = Tensor::new(&[id], &self.device)?.unsqueeze(0)?;
        self.decoder
            .forward(&input, pos + 1)?
            .flatten_all()?
            .to_dtype(DType::F32)
    }

    /// Forgets the KV cache.
    pub fn clear_kv_cache(&mut self) {
        self.decoder.clear_kv_cache();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paligemma_3b_configs_take_transformers_defaults() {
        // google/paligemma-3b-pt-224's config.json, abridged as it ships.
        let spec = PaliGemmaSpec::from_config(&json!({
            "architectures": ["PaliGemmaForConditionalGeneration"], "bos_token_id": 2,
            "eos_token_id": 1, "hidden_size": 2048, "image_token_index": 257152,
            "model_type": "paligemma", "pad_token_id": 0, "projection_dim": 2048,
            "text_config": {"hidden_size": 2048, "intermediate_size": 16384, "model_type": "gemma",
                            "num_attention_heads": 8, "num_hidden_layers": 18,
                            "num_image_tokens": 256, "num_key_value_heads": 1,
                            "vocab_size": 257216},
            "vision_config": {"hidden_size": 1152, "intermediate_size": 4304,
                              "model_type": "siglip_vision_model", "num_attention_heads": 16,
                              "num_hidden_layers": 27, "num_image_tokens": 256, "patch_size": 14,
                              "projection_dim": 2048, "projector_hidden_act": "gelu_fast",
                              "vision_use_head": false},
            "vocab_size": 257152
        }))
        .unwrap();
        assert_eq!(spec.text.head_dim, 256);
        assert_eq!(spec.text.vocab_size, 257216);
        assert_eq!(spec.vision.image_size, 224);
        assert_eq!(spec.image_tokens(), 256);
        assert_eq!(spec.image_token_id, 257152);
        assert_eq!(spec.eos_ids, [1]);
        let err = PaliGemmaSpec::from_config(&json!({"text_config": {"model_type": "gemma2"}}))
            .unwrap_err();
        assert!(err.contains("gemma2"), "{err}");
    }
}
