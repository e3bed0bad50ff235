//! Stable Diffusion 1.x / 2.x pipelines in diffusers' layout: `model_index.json` and one folder
//! per component, each read from its own config (no fixed presets): the CLIP tokenizer and
//! text encoder ([`super::clip_text`]), the UNet ([`super::sd_unet`]), candle's `AutoencoderKL`
//! with a config built from `vae/config.json`, and the scheduler config
//! ([`super::diffusion_scheduler`]). SD-Turbo and LCM-LoRA-fused checkpoints share this layout,
//! and SDXL's (and SDXL-Turbo's) adds a second text encoder: the two encoders' penultimate states
//! side by side, the second's pooled projection and the size ids into the UNet's added
//! embedding. Guidance-embedding LCMs and refiners are "not supported yet", with the config key
//! that says so.

use std::path::{Path, PathBuf};

use candle_core::{Device, IndexOp, Tensor};
use serde_json::Value;
use tokenizers::Tokenizer;

use super::clip_text::{ClipTextEncoder, ClipTextSpec};
use super::diffusion_scheduler::{SchedulerConfig, SchedulerKind};
use super::mmap_weights;
use super::sd_unet::{AddedConditions, BlockSpec, SdUNet, UNetSpec};
use super::sd_vae::{VaeDecoder, VaeSpec};
use crate::infer::{InferError, read_json};

/// The pipeline classes this file loads (`model_index.json`'s `_class_name`).
pub const PIPELINES: [&str; 3] = [
    "StableDiffusionPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionXLPipeline",
];

/// The files a pipeline folder must have besides weights.
pub const CONFIG_FILES: [&str; 5] = [
    "model_index.json",
    "unet/config.json",
    "vae/config.json",
    "text_encoder/config.json",
    "scheduler/scheduler_config.json",
];

/// One tokenizer and its text encoder.
struct TextBranch {
    tokenizer: Tokenizer,
    pad_id: u32,
    max_length: usize,
    encoder: ClipTextEncoder,
    spec: ClipTextSpec,
}

impl TextBranch {
    /// `dir/<tokenizer>` and `dir/<encoder>` (config and weights).
    fn load(
        dir: &Path,
        tokenizer: &str,
        encoder: &str,
        device: &Device,
    ) -> Result<TextBranch, InferError> {
        let config_path = dir.join(encoder).join("config.json");
        let spec = ClipTextSpec::from_config(&read_json(&config_path)?)
            .map_err(|e| InferError::file(&config_path, e))?;
        let tokenizer_dir = dir.join(tokenizer);
        let tokenizer = crate::infer::tokenizers::read_tokenizer(&tokenizer_dir)?;
        let tokenizer_config =
            read_json(&tokenizer_dir.join("tokenizer_config.json")).unwrap_or(Value::Null);
        let max_length = tokenizer_config
            .get("model_max_length")
            .and_then(Value::as_u64)
            .map_or(spec.max_positions, |m| (m as usize).min(spec.max_positions));
        let pad_id = pad_id(&tokenizer, &tokenizer_dir)?;
        let encoder = ClipTextEncoder::new(
            mmap_weights(&[component_weights(dir, encoder, "model")?], device)?,
            &spec,
        )?;
        Ok(TextBranch {
            tokenizer,
            pad_id,
            max_length,
            encoder,
            spec,
        })
    }

    /// The text's ids as the pipeline tokenizes it: start and end tokens, truncated to the
    /// encoder's length and padded to it.
    fn token_ids(&self, text: &str) -> Result<Vec<u32>, InferError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        let mut ids = encoding.get_ids().to_vec();
        if ids.len() > self.max_length {
            // Keep the end token, as the tokenizer's truncation does.
            let end = *ids.last().unwrap_or(&self.pad_id);
            ids.truncate(self.max_length - 1);
            ids.push(end);
        }
        ids.resize(self.max_length, self.pad_id);
        Ok(ids)
    }
}

/// A text's conditioning: the states the UNet attends to and, for SDXL, the pooled text.
#[derive(Debug, Clone)]
pub struct TextConditioning {
    /// `(1, length, cross_attention_dim)`.
    pub states: Tensor,
    /// SDXL: the second encoder's pooled projection `(1, projection)`.
    pub pooled: Option<Tensor>,
}

impl TextConditioning {
    /// The same shapes, all zeros (SDXL's `force_zeros_for_empty_prompt`).
    pub fn zeros_like(&self) -> Result<TextConditioning, InferError> {
        Ok(TextConditioning {
            states: self.states.zeros_like()?,
            pooled: self.pooled.as_ref().map(Tensor::zeros_like).transpose()?,
        })
    }
}

/// A loaded pipeline's components.
pub struct StableDiffusion {
    texts: Vec<TextBranch>,
    unet: SdUNet,
    vae: VaeDecoder,
    /// The VAE's latent scaling factor (0.18215 for SD 1.x/2.x).
    pub vae_scale: f64,
    /// Latent channels (4).
    pub latent_channels: usize,
    /// Pixels per latent along each side (8 for SD's four-block VAE).
    pub vae_factor: usize,
    /// The image side the UNet was trained at, in pixels (`sample_size` × factor).
    pub default_side: usize,
    /// What every side must be a multiple of, in pixels (the VAE's factor times the UNet's
    /// downsampling: 64 for SD).
    pub side_multiple: usize,
    /// An empty negative prompt conditions on zeros rather than on the encoded empty text
    /// (SDXL's `force_zeros_for_empty_prompt`).
    pub zeros_for_empty_prompt: bool,
    scheduler_config: Value,
    device: Device,
    description: String,
}

impl StableDiffusion {
    /// Loads every component of the pipeline in `dir` onto `device` (f32).
    pub fn load(dir: &Path, device: &Device) -> Result<StableDiffusion, InferError> {
        for file in CONFIG_FILES {
            if !dir.join(file).is_file() {
                return Err(InferError::MissingFile {
                    what: file.into(),
                    dir: dir.to_path_buf(),
                });
            }
        }
        let index = read_json(&dir.join("model_index.json"))?;
        let class = index
            .get("_class_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !PIPELINES.contains(&class) {
            return Err(InferError::NotSupported {
                architecture: format!("diffusers {class}"),
                task: "text-to-image".into(),
            });
        }
        let file_error = |file: &str| {
            let path = dir.join(file);
            move |e: String| InferError::file(&path, e)
        };
        let unet_config = read_json(&dir.join("unet/config.json"))?;
        let unet_spec = unet_spec_from(&unet_config).map_err(file_error("unet/config.json"))?;
        let vae_config = read_json(&dir.join("vae/config.json"))?;
        let (vae_spec, vae_scale) =
            vae_config_from(&vae_config).map_err(file_error("vae/config.json"))?;
        let scheduler_config = read_json(&dir.join("scheduler/scheduler_config.json"))?;
        // Fail now, not at the first image, on a scheduler config this can't run.
        SchedulerConfig::from_json(&scheduler_config, None)
            .map_err(file_error("scheduler/scheduler_config.json"))?;
        let xl = unet_spec.addition.is_some();
        let mut texts = vec![TextBranch::load(dir, "tokenizer", "text_encoder", device)?];
        if xl {
            texts.push(TextBranch::load(
                dir,
                "tokenizer_2",
                "text_encoder_2",
                device,
            )?);
        }
        let width: usize = texts.iter().map(|t| t.spec.hidden).sum();
        if unet_spec.cross_attention_dim != width {
            return Err(InferError::Model(format!(
                "the UNet attends to {}-wide text but the text encoders give {width}",
                unet_spec.cross_attention_dim
            )));
        }
        if xl && !texts[1].encoder.has_projection() {
            return Err(InferError::Model(
                "SDXL's second text encoder has no text_projection to pool with".into(),
            ));
        }
        let unet_description = format!(
            "UNet of {:?} channels",
            unet_spec
                .blocks
                .iter()
                .map(|b| b.channels)
                .collect::<Vec<_>>()
        );
        let unet = SdUNet::new(
            mmap_weights(
                &[component_weights(dir, "unet", "diffusion_pytorch_model")?],
                device,
            )?,
            &unet_spec,
        )?;
        let vae_factor = 1 << (vae_spec.block_channels.len() - 1);
        let latent_channels = vae_spec.latent_channels;
        if latent_channels != unet_spec.in_channels || latent_channels != unet_spec.out_channels {
            return Err(InferError::Model(format!(
                "the UNet maps {} channels to {} but the VAE's latents have {latent_channels}",
                unet_spec.in_channels, unet_spec.out_channels
            )));
        }
        let vae = VaeDecoder::new(
            mmap_weights(
                &[component_weights(dir, "vae", "diffusion_pytorch_model")?],
                device,
            )?,
            &vae_spec,
        )?;
        Ok(StableDiffusion {
            description: format!(
                "Stable Diffusion{} ({unet_description}, CLIP text {:?} layers, {} px), safetensors on {}",
                if xl { " XL" } else { "" },
                texts.iter().map(|t| t.spec.layers).collect::<Vec<_>>(),
                unet_spec.sample_size * vae_factor,
                crate::infer::device::describe(device)
            ),
            texts,
            unet,
            vae,
            vae_scale,
            latent_channels,
            vae_factor,
            default_side: unet_spec.sample_size * vae_factor,
            side_multiple: vae_factor << unet_spec.downsamples(),
            zeros_for_empty_prompt: index
                .get("force_zeros_for_empty_prompt")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            scheduler_config,
            device: device.clone(),
        })
    }

    /// A one-line description.
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// The device the components are on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The pipeline's scheduler config, or another scheduler over its noise schedule.
    pub fn scheduler(&self, choice: Option<SchedulerKind>) -> Result<SchedulerConfig, InferError> {
        SchedulerConfig::from_json(&self.scheduler_config, choice).map_err(InferError::Model)
    }

    /// The text's ids as each tokenizer makes them (one list per text encoder).
    pub fn token_ids(&self, text: &str) -> Result<Vec<Vec<u32>>, InferError> {
        self.texts.iter().map(|t| t.token_ids(text)).collect()
    }

    /// Whether the UNet takes SDXL's pooled text and size ids.
    pub fn is_xl(&self) -> bool {
        self.texts.len() > 1
    }

    /// The conditioning of a text: SD's last hidden states, or SDXL's two penultimate states
    /// side by side and the second encoder's pooled projection.
    pub fn encode_text(&self, text: &str) -> Result<TextConditioning, InferError> {
        let mut states = Vec::with_capacity(self.texts.len());
        let mut pooled = None;
        for branch in &self.texts {
            let ids = Tensor::new(branch.token_ids(text)?, &self.device)?.unsqueeze(0)?;
            let output = branch.encoder.encode(&ids)?;
            if self.is_xl() {
                states.push(output.penultimate);
                pooled = output.pooled;
            } else {
                states.push(output.last);
            }
        }
        Ok(TextConditioning {
            states: Tensor::cat(&states, 2)?,
            pooled,
        })
    }

    /// The UNet's prediction for latents `(batch, c, h, w)` at `timestep`, conditioned on
    /// `text` `(batch, length, width)` and, for SDXL, `added`.
    pub fn predict(
        &self,
        latents: &Tensor,
        timestep: f64,
        text: &Tensor,
        added: Option<AddedConditions>,
    ) -> Result<Tensor, InferError> {
        Ok(self.unet.forward(latents, timestep, text, added)?)
    }

    /// The image `(3, H, W)` in [0, 1] for (unscaled) latents `(1, c, h, w)`; `stop()` is
    /// asked between the VAE's blocks and cancels.
    pub fn decode(&self, latents: &Tensor, stop: &dyn Fn() -> bool) -> Result<Tensor, InferError> {
        let image = self
            .vae
            .decode(&(latents / self.vae_scale)?, stop)?
            .ok_or(InferError::Cancelled)?;
        Ok(((image / 2.0)? + 0.5)?.clamp(0.0, 1.0)?.i(0)?)
    }
}

/// A component's safetensors: `<name>.safetensors`, else the `.fp16` variant (read as f32).
fn component_weights(dir: &Path, component: &str, name: &str) -> Result<PathBuf, InferError> {
    let folder = dir.join(component);
    [
        format!("{name}.safetensors"),
        format!("{name}.fp16.safetensors"),
    ]
    .iter()
    .map(|file| folder.join(file))
    .find(|path| path.is_file())
    .ok_or_else(|| InferError::MissingFile {
        what: format!("{name}.safetensors (or {name}.fp16.safetensors)"),
        dir: folder,
    })
}

/// The pad token's id (`pad_token` in the tokenizer's configs; the end token by default).
fn pad_id(tokenizer: &Tokenizer, dir: &Path) -> Result<u32, InferError> {
    let name = ["special_tokens_map.json", "tokenizer_config.json"]
        .iter()
        .filter_map(|file| read_json(&dir.join(file)).ok())
        .find_map(|config| match config.get("pad_token")? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("content")?.as_str().map(String::from),
            _ => None,
        })
        .unwrap_or_else(|| "<|endoftext|>".into());
    tokenizer.token_to_id(&name).ok_or_else(|| {
        InferError::Tokenizer(format!("the pad token {name:?} is not in the vocabulary"))
    })
}

fn usize_at(config: &Value, key: &str) -> Option<usize> {
    config.get(key).and_then(Value::as_u64).map(|v| v as usize)
}

/// A per-block setting: one number for every block, or a list with one per block.
fn per_block(
    config: &Value,
    key: &str,
    blocks: usize,
    default: usize,
) -> Result<Vec<usize>, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(vec![default; blocks]),
        Some(Value::Number(n)) => Ok(vec![n.as_u64().unwrap_or(default as u64) as usize; blocks]),
        Some(Value::Array(values)) if values.len() == blocks => values
            .iter()
            .map(|v| {
                v.as_u64()
                    .map(|v| v as usize)
                    .ok_or_else(|| format!("{key} holds {v}"))
            })
            .collect(),
        Some(other) => Err(format!("{key} = {other} for {blocks} blocks")),
    }
}

/// `block_out_channels`: one width per block, at least one.
fn block_channels(config: &Value) -> Result<Vec<usize>, String> {
    config
        .get("block_out_channels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .map(|v| v as usize)
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .ok_or_else(|| "block_out_channels is missing".to_string())
}

/// The UNet's shape from diffusers' unet/config.json; options this UNet doesn't implement are
/// refused by name.
fn unet_spec_from(config: &Value) -> Result<UNetSpec, String> {
    let non_null = |key: &str| config.get(key).is_some_and(|v| !v.is_null());
    let addition = match config.get("addition_embed_type").and_then(Value::as_str) {
        None => None,
        Some("text_time") => Some((
            usize_at(config, "addition_time_embed_dim")
                .ok_or("addition_time_embed_dim is missing")?,
            usize_at(config, "projection_class_embeddings_input_dim")
                .ok_or("projection_class_embeddings_input_dim is missing")?,
        )),
        Some(other) => {
            return Err(format!(
                "addition_embed_type {other:?} is not supported yet"
            ));
        }
    };
    for key in [
        "class_embed_type",
        "num_class_embeds",
        "time_cond_proj_dim",
        "encoder_hid_dim",
    ] {
        if non_null(key) {
            return Err(format!(
                "{key} (class- or guidance-conditioned UNets) is not supported yet"
            ));
        }
    }
    let text = |key: &str| config.get(key).and_then(Value::as_str);
    let flag = |key: &str| config.get(key).and_then(Value::as_bool);
    if text("resnet_time_scale_shift").is_some_and(|s| s != "default")
        || text("act_fn").is_some_and(|s| s != "silu")
        || text("time_embedding_type").is_some_and(|s| s != "positional")
        || text("mid_block_type").is_some_and(|s| s != "UNetMidBlock2DCrossAttn")
        || usize_at(config, "conv_in_kernel").is_some_and(|k| k != 3)
        || usize_at(config, "conv_out_kernel").is_some_and(|k| k != 3)
        || flag("only_cross_attention") == Some(true)
        || flag("dual_cross_attention") == Some(true)
        || flag("center_input_sample") == Some(true)
        || non_null("time_embedding_dim")
        || non_null("timestep_post_act")
    {
        return Err(
            "a UNet with non-standard blocks or time embedding is not supported yet".into(),
        );
    }
    let channels = block_channels(config)?;
    let blocks = channels.len();
    let names = |key: &str| -> Vec<&str> {
        config
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let (down, up) = (names("down_block_types"), names("up_block_types"));
    if down.len() != blocks || up.len() != blocks {
        return Err(format!(
            "{blocks} block widths but {} down and {} up block types",
            down.len(),
            up.len()
        ));
    }
    let heads = match config.get("num_attention_heads") {
        Some(v) if !v.is_null() => per_block(config, "num_attention_heads", blocks, 8)?,
        _ => per_block(config, "attention_head_dim", blocks, 8)?,
    };
    let layers = per_block(config, "transformer_layers_per_block", blocks, 1)?;
    let groups = usize_at(config, "norm_num_groups").unwrap_or(32);
    let mut specs = Vec::with_capacity(blocks);
    for i in 0..blocks {
        let attention = match down[i] {
            "CrossAttnDownBlock2D" => true,
            "DownBlock2D" => false,
            other => return Err(format!("down block {other} is not supported yet")),
        };
        let expected_up = if attention {
            "CrossAttnUpBlock2D"
        } else {
            "UpBlock2D"
        };
        if up[blocks - 1 - i] != expected_up {
            return Err(format!(
                "up block {} mirrors down block {}",
                up[blocks - 1 - i],
                down[i]
            ));
        }
        if heads[i] == 0 || !channels[i].is_multiple_of(heads[i]) {
            return Err(format!(
                "{} channels don't split into {} heads",
                channels[i], heads[i]
            ));
        }
        if groups == 0 || !channels[i].is_multiple_of(groups) {
            return Err(format!(
                "{} channels don't split into {groups} groups",
                channels[i]
            ));
        }
        specs.push(BlockSpec {
            channels: channels[i],
            heads: heads[i],
            attention,
            transformer_layers: layers[i],
        });
    }
    let number =
        |key: &str, default: f64| config.get(key).and_then(Value::as_f64).unwrap_or(default);
    if number("mid_block_scale_factor", 1.0) != 1.0 || number("resnet_out_scale_factor", 1.0) != 1.0
    {
        return Err("a UNet with rescaled block outputs is not supported yet".into());
    }
    Ok(UNetSpec {
        in_channels: usize_at(config, "in_channels").unwrap_or(4),
        out_channels: usize_at(config, "out_channels").unwrap_or(4),
        blocks: specs,
        layers_per_block: usize_at(config, "layers_per_block").unwrap_or(2),
        cross_attention_dim: usize_at(config, "cross_attention_dim").unwrap_or(1280),
        norm_groups: groups,
        norm_eps: number("norm_eps", 1e-5),
        linear_projection: flag("use_linear_projection").unwrap_or(false),
        flip_sin_to_cos: flag("flip_sin_to_cos").unwrap_or(true),
        freq_shift: number("freq_shift", 0.0),
        downsample_padding: usize_at(config, "downsample_padding").unwrap_or(1),
        sample_size: usize_at(config, "sample_size").unwrap_or(64),
        addition,
    })
}

/// The VAE decoder's shape and the latent scaling factor from diffusers' vae/config.json.
fn vae_config_from(config: &Value) -> Result<(VaeSpec, f64), String> {
    let channels = block_channels(config)?;
    let standard_blocks = config
        .get("up_block_types")
        .and_then(Value::as_array)
        .is_none_or(|blocks| {
            blocks
                .iter()
                .all(|b| b.as_str() == Some("UpDecoderBlock2D"))
        });
    if !standard_blocks
        || config
            .get("act_fn")
            .and_then(Value::as_str)
            .is_some_and(|a| a != "silu")
    {
        return Err("a VAE with non-standard decoder blocks is not supported yet".into());
    }
    for key in ["latents_mean", "latents_std", "shift_factor"] {
        if config.get(key).is_some_and(|v| !v.is_null()) {
            return Err(format!(
                "a VAE with {key} (SD3/Flux latents) is not supported yet"
            ));
        }
    }
    if config
        .get("mid_block_add_attention")
        .and_then(Value::as_bool)
        == Some(false)
    {
        return Err("a VAE without mid-block attention is not supported yet".into());
    }
    for (key, expected) in [("in_channels", 3), ("out_channels", 3)] {
        if usize_at(config, key).is_some_and(|v| v != expected) {
            return Err(format!("{key} must be {expected}"));
        }
    }
    let flag = |key: &str| config.get(key).and_then(Value::as_bool).unwrap_or(true);
    Ok((
        VaeSpec {
            block_channels: channels,
            layers_per_block: usize_at(config, "layers_per_block").unwrap_or(2),
            latent_channels: usize_at(config, "latent_channels").unwrap_or(4),
            norm_groups: usize_at(config, "norm_num_groups").unwrap_or(32),
            post_quant_conv: flag("use_post_quant_conv"),
        },
        config
            .get("scaling_factor")
            .and_then(Value::as_f64)
            .unwrap_or(0.18215),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sd15_unet() -> Value {
        json!({"block_out_channels": [320, 640, 1280, 1280], "attention_head_dim": 8,
            "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D", "DownBlock2D"],
            "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D"],
            "cross_attention_dim": 768, "sample_size": 64, "layers_per_block": 2})
    }

    #[test]
    fn sd15s_unet_config_is_read() {
        let unet = unet_spec_from(&sd15_unet()).unwrap();
        assert_eq!(
            (unet.in_channels, unet.out_channels, unet.sample_size),
            (4, 4, 64)
        );
        assert_eq!(unet.blocks.len(), 4);
        assert!(unet.blocks[0].attention && !unet.blocks[3].attention);
        assert!(
            unet.blocks
                .iter()
                .all(|b| b.heads == 8 && b.transformer_layers == 1)
        );
        assert_eq!((unet.cross_attention_dim, unet.norm_groups), (768, 32));
        assert_eq!(unet.downsamples(), 3);
    }

    #[test]
    fn sdxl_is_read_and_unknown_additions_and_mismatched_blocks_are_refused() {
        let mut sdxl = sd15_unet();
        sdxl["addition_embed_type"] = json!("text_time");
        assert!(
            unet_spec_from(&sdxl)
                .unwrap_err()
                .contains("addition_time_embed_dim")
        );
        sdxl["addition_time_embed_dim"] = json!(256);
        sdxl["projection_class_embeddings_input_dim"] = json!(2816);
        assert_eq!(unet_spec_from(&sdxl).unwrap().addition, Some((256, 2816)));
        sdxl["addition_embed_type"] = json!("text_image");
        assert!(unet_spec_from(&sdxl).unwrap_err().contains("text_image"));
        let mut odd = sd15_unet();
        odd["up_block_types"][0] = json!("CrossAttnUpBlock2D");
        assert!(unet_spec_from(&odd).unwrap_err().contains("mirrors"));
        let mut heads = sd15_unet();
        heads["attention_head_dim"] = json!([5, 10]);
        assert!(unet_spec_from(&heads).unwrap_err().contains("4 blocks"));
        let flux_vae = json!({"block_out_channels": [128], "shift_factor": 0.1159});
        assert!(
            vae_config_from(&flux_vae)
                .unwrap_err()
                .contains("shift_factor")
        );
    }
}
