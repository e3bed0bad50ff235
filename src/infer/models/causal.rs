//! Causal language models behind one enum: Hubble's own GGUF llama, qwen2, qwen3, phi3 and
//! Gemma 3 ([`crate::infer::models::gguf_llama`], [`crate::infer::models::gguf_gemma3`]), candle-transformers' quantised
//! mixture-of-experts llama, and its safetensors llama, mistral, qwen2, qwen3, phi3,
//! gemma 1–3.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use candle_transformers::models as m;
use serde::Serialize;

use crate::infer::InferError;
use crate::infer::models::gguf_gemma3::GgufGemma3;
use crate::infer::models::gguf_llama::{self, GgufLlama};
use crate::infer::models::gpu_llama::GpuLlama;

/// Safetensors causal-LM architectures (config.json `model_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CausalArch {
    /// `llama` (also SmolLM, TinyLlama, ...).
    Llama,
    /// `mistral`.
    Mistral,
    /// `qwen2`.
    Qwen2,
    /// `qwen3`.
    Qwen3,
    /// `phi3`.
    Phi3,
    /// `gemma`.
    Gemma,
    /// `gemma2`.
    Gemma2,
    /// `gemma3_text` (text-only Gemma 3).
    Gemma3,
}

impl CausalArch {
    /// From config.json's `model_type`.
    pub fn from_model_type(model_type: &str) -> Option<CausalArch> {
        Some(match model_type {
            "llama" => CausalArch::Llama,
            "mistral" => CausalArch::Mistral,
            "qwen2" => CausalArch::Qwen2,
            "qwen3" => CausalArch::Qwen3,
            "phi3" => CausalArch::Phi3,
            "gemma" => CausalArch::Gemma,
            "gemma2" => CausalArch::Gemma2,
            "gemma3_text" => CausalArch::Gemma3,
            _ => return None,
        })
    }
}

/// Whether [`CausalModel::from_gguf`] loads GGUFs of `general.architecture` `arch`.
pub fn loads_gguf(arch: &str) -> bool {
    arch == "gemma3" || gguf_llama::ARCHITECTURES.contains(&arch)
}

/// The most tokens one pass of a GGUF decoder on the CPU takes (fewer cost prompt speed: 16
/// ran SmolLM2's prompt 5% slower, 64 left 1.4 MB more behind than 32).
const PASS_TOKENS: usize = 32;

/// A loaded causal LM on its device.
pub struct CausalModel {
    inner: Inner,
    device: Device,
    /// Why it runs on the CPU although a wgpu device was offered.
    gpu_declined: Option<String>,
}

enum Inner {
    /// GGUF llama (dense), qwen2, qwen3, phi3 on a wgpu device.
    Gpu(Box<GpuLlama>),
    /// GGUF llama (dense), qwen2, qwen3, phi3: Hubble's own, quantised embedding.
    GgufLlama(Box<GgufLlama>),
    /// GGUF llama with experts (Mixtral): candle-transformers'.
    QLlama(m::quantized_llama::ModelWeights),
    /// Hubble's own GGUF Gemma 3 (candle-transformers' gates with the wrong activation).
    GgufGemma3(Box<GgufGemma3>),
    /// Safetensors llama (the cache lives outside the model in candle).
    Llama(Box<m::llama::Llama>, Box<m::llama::Cache>, m::llama::Config),
    /// Safetensors mistral.
    Mistral(m::mistral::Model),
    /// Safetensors qwen2.
    Qwen2(m::qwen2::ModelForCausalLM),
    /// Safetensors qwen3.
    Qwen3(m::qwen3::ModelForCausalLM),
    /// Safetensors phi3.
    Phi3(m::phi3::Model),
    /// Safetensors gemma.
    Gemma(m::gemma::Model),
    /// Safetensors gemma2.
    Gemma2(m::gemma2::Model),
    /// Safetensors gemma3 (text).
    Gemma3(m::gemma3::Model),
}

impl CausalModel {
    /// Loads a transformers checkpoint onto `gpu` (every [`CausalArch`] has a wgpu path); a
    /// configuration the GPU path does not support yet (a rotary scaling) runs on the CPU.
    pub fn from_safetensors_on_gpu(
        dir: &Path,
        arch: CausalArch,
        gpu: &std::sync::Arc<hubble_gpu::Gpu>,
    ) -> Result<CausalModel, InferError> {
        let name = match arch {
            CausalArch::Llama => "llama",
            CausalArch::Mistral => "mistral",
            CausalArch::Qwen2 => "qwen2",
            CausalArch::Qwen3 => "qwen3",
            CausalArch::Phi3 => "phi3",
            CausalArch::Gemma => "gemma",
            CausalArch::Gemma2 => "gemma2",
            CausalArch::Gemma3 => "gemma3",
        };
        let config = normalize_config(crate::infer::read_json(&dir.join("config.json"))?);
        let files = safetensors_files(dir)?;
        match GpuLlama::from_safetensors(&config, &files, name, std::sync::Arc::clone(gpu)) {
            Ok(model) => Ok(CausalModel {
                inner: Inner::Gpu(Box::new(model)),
                device: Device::Cpu,
                gpu_declined: None,
            }),
            // What the GPU path lacks runs on the CPU, and says so.
            Err(InferError::NotSupported { architecture, .. }) => Ok(CausalModel {
                gpu_declined: Some(format!("{architecture} is not supported yet")),
                ..CausalModel::from_safetensors(dir, arch, &Device::Cpu)?
            }),
            Err(e) => Err(e),
        }
    }

    /// Loads a quantised model from GGUF content already read from `reader`: onto `gpu` when
    /// one is offered and the architecture has a wgpu path, else onto `device`.
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
        gpu: Option<&std::sync::Arc<hubble_gpu::Gpu>>,
    ) -> Result<CausalModel, InferError> {
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let on_gpu = arch == "gemma3"
            || (gguf_llama::ARCHITECTURES.contains(&arch.as_str())
                && gguf_llama::is_dense(&content));
        let gpu_declined = match gpu {
            Some(gpu) if on_gpu => {
                let gpu = std::sync::Arc::clone(gpu);
                let model = if arch == "gemma3" {
                    GpuLlama::from_gguf_gemma3(&content, reader, gpu)?
                } else {
                    GpuLlama::from_gguf(&content, &arch, reader, gpu)?
                };
                return Ok(CausalModel {
                    inner: Inner::Gpu(Box::new(model)),
                    device: Device::Cpu,
                    gpu_declined: None,
                });
            }
            Some(_) => Some(format!("gguf {arch} has no wgpu path yet")),
            None => None,
        };
        let inner = match arch.as_str() {
            "llama" if !gguf_llama::is_dense(&content) => Inner::QLlama(
                m::quantized_llama::ModelWeights::from_gguf(content, reader, device)?,
            ),
            arch if gguf_llama::ARCHITECTURES.contains(&arch) => Inner::GgufLlama(Box::new(
                GgufLlama::from_gguf(&content, arch, reader, device)?,
            )),
            "gemma3" => {
                Inner::GgufGemma3(Box::new(GgufGemma3::from_gguf(&content, reader, device)?))
            }
            other => {
                return Err(InferError::NotSupported {
                    architecture: format!("gguf {other}"),
                    task: "text-generation".into(),
                });
            }
        };
        Ok(CausalModel {
            inner,
            device: device.clone(),
            gpu_declined,
        })
    }

    /// Loads a safetensors checkpoint (config.json + model*.safetensors) in F32.
    pub fn from_safetensors(
        dir: &Path,
        arch: CausalArch,
        device: &Device,
    ) -> Result<CausalModel, InferError> {
        let config_path = dir.join("config.json");
        let config = normalize_config(crate::infer::read_json(&config_path)?);
        let files = safetensors_files(dir)?;
        let vb = crate::infer::models::mmap_weights(&files, device)?;
        let parse = |e: serde_json::Error| InferError::file(&config_path, e);
        let inner = match arch {
            CausalArch::Llama => {
                let cfg: m::llama::LlamaConfig = serde_json::from_value(config).map_err(parse)?;
                let cfg = cfg.into_config(false);
                let cache = m::llama::Cache::new(true, DType::F32, &cfg, device)?;
                let model = m::llama::Llama::load(vb, &cfg)?;
                Inner::Llama(Box::new(model), Box::new(cache), cfg)
            }
            CausalArch::Mistral => {
                let cfg: m::mistral::Config = serde_json::from_value(config).map_err(parse)?;
                Inner::Mistral(m::mistral::Model::new(&cfg, vb)?)
            }
            CausalArch::Qwen2 => {
                let cfg: m::qwen2::Config = serde_json::from_value(config).map_err(parse)?;
                Inner::Qwen2(m::qwen2::ModelForCausalLM::new(&cfg, vb)?)
            }
            CausalArch::Qwen3 => {
                let cfg: m::qwen3::Config = serde_json::from_value(config).map_err(parse)?;
                Inner::Qwen3(m::qwen3::ModelForCausalLM::new(&cfg, vb)?)
            }
            CausalArch::Phi3 => {
                let cfg: m::phi3::Config = serde_json::from_value(config).map_err(parse)?;
                Inner::Phi3(m::phi3::Model::new(&cfg, vb)?)
            }
            CausalArch::Gemma => {
                let cfg: m::gemma::Config = serde_json::from_value(config).map_err(parse)?;
                Inner::Gemma(m::gemma::Model::new(false, &cfg, vb)?)
            }
            CausalArch::Gemma2 => {
                let cfg: m::gemma2::Config = serde_json::from_value(config).map_err(parse)?;
                Inner::Gemma2(m::gemma2::Model::new(false, &cfg, vb)?)
            }
            CausalArch::Gemma3 => {
                let cfg: m::gemma3::Config = serde_json::from_value(config).map_err(parse)?;
                Inner::Gemma3(m::gemma3::Model::new(false, &cfg, vb)?)
            }
        };
        Ok(CausalModel {
            inner,
            device: device.clone(),
            gpu_declined: None,
        })
    }

    /// Runs `tokens` at positions `pos..` (using and extending the KV cache) and returns the
    /// next-token logits of the last position as a 1-D F32 tensor.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor, InferError> {
        let pass_tokens = self.pass_tokens();
        if tokens.len() > pass_tokens {
            let mut last = None;
            for (i, chunk) in tokens.chunks(pass_tokens).enumerate() {
                last = Some(self.forward(chunk, pos + i * pass_tokens)?);
            }
            return last.ok_or_else(|| InferError::InvalidInput("no tokens".into()));
        }
        if let Inner::Gpu(model) = &mut self.inner {
            let logits = model.forward(tokens, pos)?;
            return Ok(Tensor::from_vec(
                logits,
                tokens.len().min(1) * model.vocab(),
                &Device::Cpu,
            )?);
        }
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.inner {
            Inner::Gpu(_) => unreachable!("answered above"),
            Inner::GgufLlama(model) => model.forward(&input, pos)?,
            Inner::QLlama(model) => model.forward(&input, pos)?,
            Inner::GgufGemma3(model) => model.forward(&input, pos)?,
            Inner::Llama(model, cache, _) => model.forward(&input, pos, cache)?,
            Inner::Mistral(model) => model.forward(&input, pos)?,
            Inner::Qwen2(model) => model.forward(&input, pos)?,
            Inner::Qwen3(model) => model.forward(&input, pos)?,
            Inner::Phi3(model) => model.forward(&input, pos)?,
            Inner::Gemma(model) => model.forward(&input, pos)?,
            Inner::Gemma2(model) => model.forward(&input, pos)?,
            Inner::Gemma3(model) => model.forward(&input, pos)?,
        };
        Ok(logits.flatten_all()?.to_dtype(DType::F32)?)
    }

    /// Forgets the KV cache (a new conversation starts at position 0). Hubble's GGUF decoders
    /// start a new one with room for `positions` positions (the prompt and what it may
    /// generate), so that on the CPU it never grows during the conversation and keeps the room
    /// of the last one; the others ignore `positions`.
    pub fn clear_kv_cache(&mut self, positions: usize) -> Result<(), InferError> {
        match &mut self.inner {
            Inner::Gpu(model) => model.reserve_kv_cache(positions)?,
            Inner::GgufLlama(model) => model.reserve_kv_cache(positions),
            Inner::QLlama(model) => model.clear_kv_cache(),
            Inner::GgufGemma3(model) => model.reserve_kv_cache(positions),
            Inner::Llama(_, cache, cfg) => {
                **cache = m::llama::Cache::new(true, DType::F32, cfg, &self.device)?;
            }
            Inner::Mistral(model) => model.clear_kv_cache(),
            Inner::Qwen2(model) => model.clear_kv_cache(),
            Inner::Qwen3(model) => model.clear_kv_cache(),
            Inner::Phi3(model) => model.clear_kv_cache(),
            Inner::Gemma(model) => model.clear_kv_cache(),
            Inner::Gemma2(model) => model.clear_kv_cache(),
            Inner::Gemma3(model) => model.clear_kv_cache(),
        }
        Ok(())
    }

    /// The most tokens one pass takes; a longer prompt runs in passes of this many.
    fn pass_tokens(&self) -> usize {
        match self.inner {
            // candle 0.11.1's Gemma 3 appends the transposed (non-contiguous) value states to
            // its KV cache, which fails for more than one token at a time.
            Inner::Gemma3(_) => 1,
            // Hubble's GGUF decoders on the CPU: passes of a bounded size keep their activations
            // (and so the memory a prompt leaves behind in the allocator) small, as llama.cpp's
            // micro-batches do; the results are the same, since every step but attention works
            // row by row and attention reads the cache.
            Inner::GgufLlama(_) | Inner::GgufGemma3(_) if self.device.is_cpu() => PASS_TOKENS,
            _ => usize::MAX,
        }
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Where it computes, for status lines: "cpu", "cuda:0", or the wgpu adapter; with the
    /// reason when a wgpu device was offered but not used.
    pub fn placement(&self) -> String {
        match (&self.inner, &self.gpu_declined) {
            (Inner::Gpu(model), _) => crate::infer::device::describe_gpu(model.gpu()),
            (_, Some(why)) => format!("{} ({why})", crate::infer::device::describe(&self.device)),
            (_, None) => crate::infer::device::describe(&self.device),
        }
    }

    /// The wgpu model, when it computes on one (greedy steps read back one token).
    pub fn gpu_model(&mut self) -> Option<&mut GpuLlama> {
        match &mut self.inner {
            Inner::Gpu(model) => Some(model),
            _ => None,
        }
    }

    /// Short name for status lines.
    pub fn name(&self) -> &'static str {
        match &self.inner {
            Inner::Gpu(model) => match (model.is_gguf(), model.architecture()) {
                (true, "qwen2") => "gguf qwen2",
                (true, "qwen3") => "gguf qwen3",
                (true, "phi3") => "gguf phi3",
                (true, "gemma3") => "gguf gemma3",
                (true, _) => "gguf llama",
                (false, arch) => arch,
            },
            Inner::GgufLlama(model) => match model.architecture() {
                "qwen2" => "gguf qwen2",
                "qwen3" => "gguf qwen3",
                "phi3" => "gguf phi3",
                _ => "gguf llama",
            },
            Inner::QLlama(_) => "gguf llama",
            Inner::GgufGemma3(_) => "gguf gemma3",
            Inner::Llama(..) => "llama",
            Inner::Mistral(_) => "mistral",
            Inner::Qwen2(_) => "qwen2",
            Inner::Qwen3(_) => "qwen3",
            Inner::Phi3(_) => "phi3",
            Inner::Gemma(_) => "gemma",
            Inner::Gemma2(_) => "gemma2",
            Inner::Gemma3(_) => "gemma3",
        }
    }
}

/// The safetensors files of a checkpoint: `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json`.
pub fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>, InferError> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index_path = dir.join("model.safetensors.index.json");
    if index_path.is_file() {
        let index = crate::infer::read_json(&index_path)?;
        let mut files: Vec<String> = index
            .get("weight_map")
            .and_then(|m| m.as_object())
            .map(|m| {
                m.values()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.dedup();
        return files
            .iter()
            .map(|f| {
                crate::cache::safe_join(dir, f)
                    .filter(|p| p.is_file())
                    .ok_or_else(|| InferError::MissingFile {
                        what: f.clone(),
                        dir: dir.to_path_buf(),
                    })
            })
            .collect();
    }
    Err(InferError::MissingFile {
        what: "model.safetensors (or model.safetensors.index.json)".into(),
        dir: dir.to_path_buf(),
    })
}

/// Fills the fields candle's config structs expect from newer config.json layouts:
/// transformers 5 moves `rope_theta` (and `partial_rotary_factor`) into `rope_parameters`,
/// writes `sliding_window: null`, and Gemma 3 describes its sliding-window layers with
/// `layer_types` instead of `sliding_window_pattern`.
pub fn normalize_config(mut config: serde_json::Value) -> serde_json::Value {
    let Some(obj) = config.as_object_mut() else {
        return config;
    };
    if let Some(params) = obj.get("rope_parameters").cloned() {
        let full = params.get("full_attention").unwrap_or(&params);
        if !obj.contains_key("rope_theta")
            && let Some(theta) = full.get("rope_theta")
        {
            obj.insert("rope_theta".into(), theta.clone());
        }
        if !obj.contains_key("rope_local_base_freq")
            && let Some(theta) = params
                .get("sliding_attention")
                .and_then(|p| p.get("rope_theta"))
        {
            obj.insert("rope_local_base_freq".into(), theta.clone());
        }
    }
    if let Some(factor) = obj
        .get("rope_parameters")
        .and_then(|p| p.get("partial_rotary_factor"))
        .cloned()
    {
        obj.entry("partial_rotary_factor").or_insert(factor);
    }
    // `sliding_window: null` means no window; candle's Qwen2/Gemma 3 configs want a number.
    if obj.get("sliding_window").is_none_or(|w| w.is_null())
        && let Some(max) = obj.get("max_position_embeddings").cloned()
    {
        obj.insert("sliding_window".into(), max);
    }
    obj.entry("use_sliding_window").or_insert(false.into());
    if let Some(layers) = obj.get("num_hidden_layers").cloned() {
        obj.entry("max_window_layers").or_insert(layers);
    }
    if !obj.contains_key("sliding_window_pattern")
        && let Some(types) = obj.get("layer_types").and_then(|t| t.as_array())
        && let Some(first_full) = types.iter().position(|t| t == "full_attention")
    {
        obj.insert("sliding_window_pattern".into(), (first_full + 1).into());
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transformers_5_configs_are_normalised_for_candle() {
        let config = normalize_config(serde_json::json!({
            "num_hidden_layers": 2,
            "max_position_embeddings": 128,
            "sliding_window": null,
            "layer_types": ["sliding_attention", "full_attention"],
            "rope_parameters": {
                "sliding_attention": {"rope_theta": 10000.0},
                "full_attention": {"rope_theta": 1000000.0}
            }
        }));
        assert_eq!(config["rope_theta"], 1000000.0);
        assert_eq!(config["rope_local_base_freq"], 10000.0);
        assert_eq!(config["sliding_window"], 128);
        assert_eq!(config["sliding_window_pattern"], 2);
        assert_eq!(config["max_window_layers"], 2);
        assert_eq!(config["use_sliding_window"], false);
        let config = normalize_config(serde_json::json!({
            "rope_theta": 5.0, "rope_parameters": {"rope_theta": 7.0, "partial_rotary_factor": 0.5}
        }));
        assert_eq!(config["rope_theta"], 5.0);
        assert_eq!(config["partial_rotary_factor"], 0.5);
        assert_eq!(
            CausalArch::from_model_type("gemma3_text"),
            Some(CausalArch::Gemma3)
        );
        assert_eq!(CausalArch::from_model_type("gpt2"), None);
    }
}
