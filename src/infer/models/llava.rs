//! LLaVA-1.5 (`LlavaForConditionalGeneration` in llava-hf's layout): a CLIP vision tower whose
//! hidden states of `vision_feature_layer` (without the CLS position for the `default`
//! strategy) go through the two-layer GELU projector into the Llama decoder's embedding space,
//! where they replace the prompt's `<image>` tokens (the processor expanded `<image>` to one token
//! per patch). The vision tower is [`super::clip_vision`] (Hubble's layers, only as deep as the
//! features read); the decoder candle-transformers' Llama (whose `forward_input_embed` takes the
//! merged embeddings), which keeps a KV cache.
//!
//! Weights are read under either of transformers' names: llava-hf's Hub checkpoints
//! (`vision_tower.vision_model.*`, `language_model.model.*`, `language_model.lm_head`) and what
//! transformers 5 saves (`vision_tower.*` without `vision_model`, or `model.vision_tower.*`,
//! `model.language_model.*`, `lm_head`). config.json leaves transformers' defaults out
//! (llava-hf/llava-1.5-7b-hf's `text_config` names little more than its vocabulary), so the
//! defaults of `LlamaConfig`, `CLIPVisionConfig` and `LlavaConfig` are filled in here.

use candle_core::{D, DType, Device, IndexOp, Module, Tensor};
use candle_nn::{Activation, VarBuilder};
use candle_transformers::models::clip::text_model::Activation as ClipActivation;
use candle_transformers::models::clip::vision_model::ClipVisionConfig;
use candle_transformers::models::llama;
use serde_json::{Map, Value};

use super::clip_vision::{ClipVision, ClipVisionShape};
use super::linear::{Linear, linear, linear_no_bias};
use crate::infer::models::causal::normalize_config;
use crate::infer::models::vlm_layout::VlmLayout;

/// Which vision positions go to the projector (`vision_feature_select_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureSelect {
    /// `default`: every patch, the CLS position dropped.
    Default,
    /// `full`: CLS and patches.
    Full,
}

/// What config.json says about a LLaVA model, transformers' defaults filled in.
#[derive(Debug, Clone)]
pub struct LlavaSpec {
    /// The Llama decoder's configuration (candle's).
    pub text: llama::Config,
    /// The CLIP vision tower's configuration (candle's).
    pub vision: ClipVisionConfig,
    /// `image_token_index`: the id the processor repeats once per image feature.
    pub image_token_id: u32,
    /// `vision_feature_layer` as indices into transformers' `hidden_states` (embeddings first),
    /// made non-negative; several are concatenated along the features.
    pub feature_layers: Vec<usize>,
    /// `vision_feature_select_strategy`.
    pub select: FeatureSelect,
    /// `projector_hidden_act`.
    pub projector_act: Activation,
    /// `multimodal_projector_bias`.
    pub projector_bias: bool,
    /// The decoder's end-of-sequence ids from config.json (`text_config.eos_token_id`).
    pub eos_ids: Vec<u32>,
}

impl LlavaSpec {
    /// Reads config.json (`model_type: llava`); an option Hubble can't run is an error naming it.
    pub fn from_config(config: &Value) -> Result<LlavaSpec, String> {
        let empty = Value::Object(Map::new());
        let text = config.get("text_config").unwrap_or(&empty);
        let text_type = text.get("model_type").and_then(Value::as_str);
        if text_type.is_some_and(|t| t != "llama") {
            return Err(format!(
                "a {} language model (LLaVA with llama only)",
                text_type.unwrap_or_default()
            ));
        }
        let text = llama_config(text)?;
        let vision_json = config.get("vision_config").unwrap_or(&empty);
        let vision_type = vision_json.get("model_type").and_then(Value::as_str);
        if vision_type.is_some_and(|t| t != "clip_vision_model") {
            return Err(format!(
                "a {} vision tower (LLaVA with CLIP only)",
                vision_type.unwrap_or_default()
            ));
        }
        let vision = clip_config(vision_json)?;
        let layers = vision.num_hidden_layers as i64;
        let wanted: Vec<i64> = match config.get("vision_feature_layer") {
            None | Some(Value::Null) => vec![-2],
            Some(Value::Number(n)) => vec![n.as_i64().ok_or("vision_feature_layer")?],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_i64().ok_or("vision_feature_layer must hold integers"))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("vision_feature_layer = {other}")),
        };
        let mut feature_layers = Vec::new();
        for layer in wanted {
            let index = if layer < 0 { layers + 1 + layer } else { layer };
            // Index 0 is the embeddings, which candle's tower does not hand out.
            if index < 1 || index > layers {
                return Err(format!(
                    "vision_feature_layer {layer} of a {layers}-layer vision tower"
                ));
            }
            feature_layers.push(index as usize);
        }
        let select = match config
            .get("vision_feature_select_strategy")
            .and_then(Value::as_str)
            .unwrap_or("default")
        {
            "default" => FeatureSelect::Default,
            "full" => FeatureSelect::Full,
            other => return Err(format!("vision_feature_select_strategy {other:?}")),
        };
        let projector_act = match config
            .get("projector_hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("gelu")
        {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::NewGelu,
            "relu" => Activation::Relu,
            "silu" => Activation::Silu,
            other => return Err(format!("projector_hidden_act {other:?}")),
        };
        let image_token_id = config
            .get("image_token_index")
            .or_else(|| config.get("image_token_id"))
            .and_then(Value::as_u64)
            .unwrap_or(32000) as u32;
        let eos_ids = match &text.eos_token_id {
            Some(llama::LlamaEosToks::Single(id)) => vec![*id],
            Some(llama::LlamaEosToks::Multiple(ids)) => ids.clone(),
            None => Vec::new(),
        };
        Ok(LlavaSpec {
            image_token_id,
            feature_layers,
            select,
            projector_act,
            projector_bias: config
                .get("multimodal_projector_bias")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            eos_ids,
            text,
            vision,
        })
    }

    /// How many image tokens one image becomes (patches, plus CLS for `full`).
    pub fn image_tokens(&self) -> usize {
        let patches = (self.vision.image_size / self.vision.patch_size).pow(2);
        match self.select {
            FeatureSelect::Default => patches,
            FeatureSelect::Full => patches + 1,
        }
    }
}

/// `text_config` with `LlamaConfig`'s defaults, as candle's config.
fn llama_config(text: &Value) -> Result<llama::Config, String> {
    let mut text = normalize_config(text.clone());
    let obj = text.as_object_mut().ok_or("text_config is not an object")?;
    for (key, default) in [
        ("vocab_size", Value::from(32000)),
        ("hidden_size", 4096.into()),
        ("intermediate_size", 11008.into()),
        ("num_hidden_layers", 32.into()),
        ("num_attention_heads", 32.into()),
        ("rms_norm_eps", 1e-6.into()),
        ("max_position_embeddings", 2048.into()),
    ] {
        if obj.get(key).is_none_or(Value::is_null) {
            obj.insert(key.into(), default);
        }
    }
    let config: llama::LlamaConfig =
        serde_json::from_value(text.clone()).map_err(|e| format!("text_config: {e}"))?;
    let heads = config.num_attention_heads;
    let kv_heads = config.num_key_value_heads();
    if heads == 0
        || !config.hidden_size.is_multiple_of(heads)
        || kv_heads == 0
        || !heads.is_multiple_of(kv_heads)
    {
        return Err(format!(
            "text_config: hidden_size {} with {heads} attention heads and {kv_heads} key/value \
             heads",
            config.hidden_size
        ));
    }
    if let Some(head_dim) = text.get("head_dim").and_then(Value::as_u64)
        && head_dim as usize != config.hidden_size / heads
    {
        return Err(format!(
            "text_config: head_dim {head_dim} other than hidden_size / num_attention_heads"
        ));
    }
    Ok(config.into_config(false))
}

/// `vision_config` with `CLIPVisionConfig`'s defaults as `LlavaConfig` sets them (CLIP
/// ViT-L/14 at 336 px), as candle's config.
fn clip_config(vision: &Value) -> Result<ClipVisionConfig, String> {
    let num = |key: &str, default: usize| -> Result<usize, String> {
        match vision.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| format!("vision_config.{key} = {v}")),
        }
    };
    let act = vision
        .get("hidden_act")
        .and_then(Value::as_str)
        .unwrap_or("quick_gelu");
    if act != "quick_gelu" {
        return Err(format!(
            "vision_config.hidden_act {act:?} (only quick_gelu)"
        ));
    }
    let eps = vision
        .get("layer_norm_eps")
        .and_then(Value::as_f64)
        .unwrap_or(1e-5);
    if eps != 1e-5 {
        return Err(format!("vision_config.layer_norm_eps {eps} (only 1e-5)"));
    }
    let config = ClipVisionConfig {
        embed_dim: num("hidden_size", 1024)?,
        activation: ClipActivation::QuickGelu,
        intermediate_size: num("intermediate_size", 4096)?,
        num_hidden_layers: num("num_hidden_layers", 24)?,
        num_attention_heads: num("num_attention_heads", 16)?,
        projection_dim: num("projection_dim", 768)?,
        num_channels: num("num_channels", 3)?,
        image_size: num("image_size", 336)?,
        patch_size: num("patch_size", 14)?,
    };
    if config.patch_size == 0 || config.image_size < config.patch_size {
        return Err("vision_config: patch_size must be between 1 and image_size".into());
    }
    if config.num_attention_heads == 0
        || !config.embed_dim.is_multiple_of(config.num_attention_heads)
    {
        return Err("vision_config: hidden_size is not a multiple of num_attention_heads".into());
    }
    Ok(config)
}

/// A loaded LLaVA model with its decoder's KV cache.
pub struct Llava {
    vision: ClipVision,
    linear_1: Linear,
    linear_2: Linear,
    act: Activation,
    decoder: llama::Llama,
    cache: llama::Cache,
    spec: LlavaSpec,
    device: Device,
}

impl Llava {
    /// Builds the model from `vb` (either weight layout).
    pub fn load(spec: &LlavaSpec, vb: VarBuilder<'static>) -> Result<Llava, String> {
        let layout = VlmLayout::detect(&vb, "linear_1.weight")?;
        let device = vb.device().clone();
        let model_err = |e: candle_core::Error| e.to_string();
        let v = &spec.vision;
        let shape = ClipVisionShape {
            hidden: v.embed_dim,
            intermediate: v.intermediate_size,
            layers: v.num_hidden_layers,
            heads: v.num_attention_heads,
            channels: v.num_channels,
            image_size: v.image_size,
            patch_size: v.patch_size,
        };
        let vision = ClipVision::load(vb.pp(layout.vision), &shape).map_err(model_err)?;
        let projector = vb.pp(layout.projector);
        let width = spec.vision.embed_dim * spec.feature_layers.len();
        let hidden = spec.text.hidden_size;
        let linear = |inp, out, vb: VarBuilder| {
            if spec.projector_bias {
                linear(inp, out, vb)
            } else {
                linear_no_bias(inp, out, vb)
            }
        };
        let linear_1 = linear(width, hidden, projector.pp("linear_1")).map_err(model_err)?;
        let linear_2 = linear(hidden, hidden, projector.pp("linear_2")).map_err(model_err)?;
        let mut text = spec.text.clone();
        if layout.head.is_empty() {
            // No head saved: transformers ties it to the embeddings.
            text.tie_word_embeddings = true;
        }
        // candle's Llama asks for `model.*` and `lm_head.*`.
        let (decoder_prefix, head_prefix) = (layout.decoder, layout.head);
        let text_vb = vb.clone().rename_f(move |name| {
            if let Some(rest) = name.strip_prefix("model.") {
                format!("{decoder_prefix}.{rest}")
            } else if let Some(rest) = name.strip_prefix("lm_head.") {
                format!("{head_prefix}.{rest}")
            } else {
                name.to_string()
            }
        });
        let decoder = llama::Llama::load(text_vb, &text).map_err(model_err)?;
        let cache = llama::Cache::new(true, DType::F32, &text, &device).map_err(model_err)?;
        Ok(Llava {
            vision,
            linear_1,
            linear_2,
            act: spec.projector_act,
            decoder,
            cache,
            spec: LlavaSpec {
                text,
                ..spec.clone()
            },
            device,
        })
    }

    /// The configuration it was built from.
    pub fn spec(&self) -> &LlavaSpec {
        &self.spec
    }

    /// The device it runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// One image's projected features `(image tokens, hidden)` from `pixels` `(1, 3, H, W)`.
    pub fn image_features(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        // Only the layers up to the deepest one read run; the list starts after the
        // embeddings: transformers' index i is its i - 1.
        let deepest = self.spec.feature_layers.iter().copied().max().unwrap_or(1);
        let states = self.vision.hidden_states(pixels, deepest)?;
        let picked: Vec<Tensor> = self
            .spec
            .feature_layers
            .iter()
            .map(|&i| {
                let state = &states[i - 1];
                match self.spec.select {
                    FeatureSelect::Default => state.i((.., 1..)),
                    FeatureSelect::Full => Ok(state.clone()),
                }
            })
            .collect::<candle_core::Result<_>>()?;
        let features = Tensor::cat(&picked, D::Minus1)?;
        let projected = self
            .linear_2
            .forward(&self.linear_1.forward_activated(&features, self.act)?)?;
        projected.squeeze(0)
    }

    /// The decoder's input embeddings `(1, ids, hidden)` for `ids`, each image token's row
    /// replaced by the next row of `features` (in order), as transformers' `masked_scatter`.
    pub fn merge(&self, ids: &[u32], features: &Tensor) -> Result<Tensor, String> {
        let err = |e: candle_core::Error| e.to_string();
        let input = Tensor::new(ids, &self.device).map_err(err)?;
        let text = self.decoder.embed(&input).map_err(err)?;
        super::replace_rows(ids, self.spec.image_token_id, &text, features)
            .and_then(|t| t.unsqueeze(0))
            .map_err(err)
    }

    /// The next-token logits (1-D) after `embeds` `(1, n, hidden)` at positions `pos..`,
    /// extending the KV cache.
    pub fn forward_embeds(&mut self, embeds: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        self.decoder
            .forward_input_embed(embeds, pos, &mut self.cache)?
            .squeeze(0)
    }

    /// The next-token logits after text `ids` (no image token) at `pos..`.
    pub fn forward_ids(&mut self, ids: &[u32], pos: usize) -> candle_core::Result<Tensor> {
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        self.decoder
            .forward(&input, pos, &mut self.cache)?
            .squeeze(0)
    }

    /// Forgets the KV cache (a new prompt starts at position 0).
    pub fn clear_kv_cache(&mut self) -> candle_core::Result<()> {
        self.cache = llama::Cache::new(true, DType::F32, &self.spec.text, &self.device)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn llava_hf_configs_take_transformers_defaults() {
        // llava-hf/llava-1.5-7b-hf's config.json, abridged as it ships.
        let spec = LlavaSpec::from_config(&json!({
            "architectures": ["LlavaForConditionalGeneration"],
            "image_token_index": 32000, "model_type": "llava", "projector_hidden_act": "gelu",
            "text_config": {"max_position_embeddings": 4096, "model_type": "llama",
                            "rms_norm_eps": 1e-05, "vocab_size": 32064},
            "vision_config": {"hidden_size": 1024, "image_size": 336, "intermediate_size": 4096,
                              "model_type": "clip_vision_model", "num_attention_heads": 16,
                              "num_hidden_layers": 24, "patch_size": 14, "projection_dim": 768},
            "vision_feature_layer": -2, "vision_feature_select_strategy": "default"
        }))
        .unwrap();
        assert_eq!(spec.text.hidden_size, 4096);
        assert_eq!(spec.text.num_hidden_layers, 32);
        assert_eq!(spec.text.num_key_value_heads, 32);
        assert_eq!(spec.text.vocab_size, 32064);
        assert_eq!(spec.vision.embed_dim, 1024);
        assert_eq!(spec.feature_layers, [23]);
        assert_eq!(spec.image_tokens(), 576);
        assert_eq!(spec.image_token_id, 32000);
        assert_eq!(spec.projector_act, Activation::Gelu);
    }

    #[test]
    fn options_it_cannot_run_are_named() {
        let err = |config| LlavaSpec::from_config(&config).unwrap_err();
        assert!(err(json!({"text_config": {"model_type": "mistral"}})).contains("mistral"));
        assert!(
            err(json!({"vision_config": {"model_type": "siglip_vision_model"}}))
                .contains("siglip_vision_model")
        );
        assert!(err(json!({"vision_config": {"hidden_act": "gelu"}})).contains("only quick_gelu"));
        assert!(err(json!({"vision_feature_layer": -30})).contains("-30"));
        assert!(err(json!({"vision_feature_layer": 0})).contains("vision_feature_layer 0"));
        let full = LlavaSpec::from_config(&json!({
            "vision_feature_select_strategy": "full", "vision_feature_layer": [-2, -5]
        }))
        .unwrap();
        assert_eq!(full.feature_layers, [23, 20]);
        assert_eq!(full.image_tokens(), 577);
    }
}
