//! [`GpuLlama::from_safetensors`]: transformers' llama, mistral, qwen2, qwen3, phi3 and Gemma
//! 1–3 checkpoints, their matrices uploaded as stored (F32, F16 or BF16).

use std::sync::Arc;

use hubble_gpu::{Buffer, Gate, Gpu};

use super::{Dims, GateUp, GpuLlama, Layer, Parts, Qkv};
use crate::infer::InferError;
use crate::infer::models::gguf_blocks::inverse_frequencies;
use crate::infer::models::gpu_tensors::{SafetensorsUpload, gpu_error};

impl GpuLlama {
    /// Uploads a transformers checkpoint of `arch` (`llama`, `mistral`, `qwen2`, `qwen3`,
    /// `phi3`; config.json as [`crate::infer::models::causal::normalize_config`] leaves it)
    /// to `gpu`, its matrices as stored (F32, F16 or BF16).
    pub fn from_safetensors(
        config: &serde_json::Value,
        files: &[std::path::PathBuf],
        arch: &'static str,
        gpu: Arc<Gpu>,
    ) -> Result<GpuLlama, InferError> {
        let count = |key: &str| {
            config
                .get(key)
                .and_then(serde_json::Value::as_u64)
                .map(|n| n as usize)
        };
        let float = |key: &str| config.get(key).and_then(serde_json::Value::as_f64);
        let need = |key: &str| {
            count(key).ok_or_else(|| InferError::Model(format!("config.json has no {key}")))
        };
        let (hidden, heads) = (need("hidden_size")?, need("num_attention_heads")?);
        let kv_heads = count("num_key_value_heads").unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            return Err(InferError::Model(format!(
                "{heads} heads over {kv_heads} key heads"
            )));
        }
        let head_dim = count("head_dim").unwrap_or(hidden / heads);
        let rope_dim = (head_dim as f64 * float("partial_rotary_factor").unwrap_or(1.0)) as usize;
        if head_dim % 2 == 1 || rope_dim == 0 || rope_dim % 2 == 1 {
            return Err(InferError::Model(format!(
                "a rotary size of {rope_dim} in heads of {head_dim}"
            )));
        }
        let frequencies = |base: f32| inverse_frequencies(rope_dim, base, 1.);
        // The full layers' rotary parameters (Gemma 3 nests them per layer kind).
        let full_rope = [
            "/rope_parameters/full_attention",
            "/rope_parameters",
            "/rope_scaling",
        ]
        .into_iter()
        .find_map(|pointer| {
            config
                .pointer(pointer)
                .filter(|v| v.get("rope_type").is_some())
        });
        let mut inv_freq = frequencies(float("rope_theta").unwrap_or(10000.) as f32);
        if let Some(rope) = full_rope {
            scale_frequencies(&mut inv_freq, rope)?;
        }
        let gemma = arch.starts_with("gemma");
        // Gemma 3's sliding layers rotate with their own base.
        let local_inv_freq = match float("rope_local_base_freq") {
            Some(base) if arch == "gemma3" => {
                let mut local = frequencies(base as f32);
                if let Some(rope) = config.pointer("/rope_parameters/sliding_attention") {
                    scale_frequencies(&mut local, rope)?;
                }
                local
            }
            _ => Vec::new(),
        };
        let sliding_window = count("sliding_window").unwrap_or(0);
        let layer_types: Vec<String> = config
            .get("layer_types")
            .and_then(|t| serde_json::from_value(t.clone()).ok())
            .unwrap_or_default();
        let pattern = count("sliding_window_pattern").unwrap_or(6).max(1);
        // Which layers attend through the window.
        let slides = |i: usize| -> bool {
            match layer_types.get(i) {
                Some(kind) => kind == "sliding_attention",
                None => match arch {
                    "mistral" | "phi3" => true,
                    "gemma2" => i.is_multiple_of(2),
                    "gemma3" => !(i + 1).is_multiple_of(pattern),
                    _ => {
                        config
                            .get("use_sliding_window")
                            .and_then(serde_json::Value::as_bool)
                            == Some(true)
                    }
                },
            }
        };
        let up = SafetensorsUpload::open(files, &gpu)?;
        // Gemma's RMSNorms scale by 1 + weight: the 1 is added once here.
        let norm = |name: &str| -> Result<Buffer, InferError> {
            let mut values = up.host_f32(name)?;
            if gemma {
                values.iter_mut().for_each(|v| *v += 1.0);
            }
            gpu.upload_f32(&values, name).map_err(gpu_error)
        };
        let mut layers = Vec::new();
        for i in 0..need("num_hidden_layers")? {
            let name = |part: &str| format!("model.layers.{i}.{part}");
            let weight = |part: &str| up.weight(&name(&format!("{part}.weight")));
            let optional = |part: &str| -> Result<Option<Buffer>, InferError> {
                let full = name(part);
                if up.has(&full) {
                    up.vector(&full).map(Some)
                } else {
                    Ok(None)
                }
            };
            let optional_norm = |part: &str| -> Result<Option<Buffer>, InferError> {
                let full = name(part);
                if up.has(&full) {
                    norm(&full).map(Some)
                } else {
                    Ok(None)
                }
            };
            let qkv = if up.has(&name("self_attn.qkv_proj.weight")) {
                Qkv::Fused(weight("self_attn.qkv_proj")?)
            } else {
                Qkv::Separate([
                    weight("self_attn.q_proj")?,
                    weight("self_attn.k_proj")?,
                    weight("self_attn.v_proj")?,
                ])
            };
            let gate_up = if up.has(&name("mlp.gate_up_proj.weight")) {
                GateUp::Fused(weight("mlp.gate_up_proj")?)
            } else {
                GateUp::Separate(weight("mlp.gate_proj")?, weight("mlp.up_proj")?)
            };
            let qk_norms = match (
                optional_norm("self_attn.q_norm.weight")?,
                optional_norm("self_attn.k_norm.weight")?,
            ) {
                (Some(q), Some(k)) => Some((q, k)),
                _ => None,
            };
            // Gemma 2/3 norm before and after each block; the others before only.
            let sandwich = up.has(&name("pre_feedforward_layernorm.weight"));
            let (ffn_norm, post_norms) = if sandwich {
                (
                    norm(&name("pre_feedforward_layernorm.weight"))?,
                    Some((
                        norm(&name("post_attention_layernorm.weight"))?,
                        norm(&name("post_feedforward_layernorm.weight"))?,
                    )),
                )
            } else {
                (norm(&name("post_attention_layernorm.weight"))?, None)
            };
            layers.push(Layer {
                attn_norm: norm(&name("input_layernorm.weight"))?,
                ffn_norm,
                post_norms,
                window: if slides(i) { sliding_window } else { 0 },
                local_rope: slides(i) && !local_inv_freq.is_empty(),
                biases: [
                    optional("self_attn.q_proj.bias")?,
                    optional("self_attn.k_proj.bias")?,
                    optional("self_attn.v_proj.bias")?,
                ],
                qk_norms,
                o: weight("self_attn.o_proj")?,
                down: weight("mlp.down_proj")?,
                qkv,
                gate_up,
            });
        }
        let embedding = up.weight("model.embed_tokens.weight")?;
        let head = if up.has("lm_head.weight") {
            Some(up.weight("lm_head.weight")?)
        } else {
            None
        };
        let dims = Dims {
            hidden,
            heads,
            kv_heads,
            head_dim,
            rope_dim,
            ff: layers.first().map_or(0, |l| l.down.cols()),
            vocab: embedding.rows(),
            eps: float("rms_norm_eps").unwrap_or(1e-6) as f32,
            neox: true,
            embed_scale: if gemma {
                (hidden as f64).sqrt() as f32
            } else {
                1.0
            },
            gate: if gemma { Gate::GeluTanh } else { Gate::Silu },
            attn_scale: match float("query_pre_attn_scalar") {
                Some(scalar) if gemma => 1.0 / (scalar as f32).sqrt(),
                _ => 1.0 / (head_dim as f32).sqrt(),
            },
            attn_softcap: float("attn_logit_softcapping").unwrap_or(0.0) as f32,
            final_softcap: float("final_logit_softcapping").unwrap_or(0.0) as f32,
        };
        let parts = Parts {
            gguf: false,
            norm: norm("model.norm.weight")?,
            embedding,
            head,
            layers,
        };
        GpuLlama::assemble(gpu, dims, parts, [inv_freq, local_inv_freq], arch)
    }
}

/// Applies a config's rotary scaling (`rope_parameters` or `rope_scaling`) to the inverse
/// frequencies, as transformers' `ROPE_INIT_FUNCTIONS` do: `default`, `linear` (all divided by
/// the factor) and `llama3` (long wavelengths divided, short kept, a smooth blend between).
/// Others (YaRN, LongRoPE, dynamic) are not supported on wgpu: the model runs on the CPU.
fn scale_frequencies(inv_freq: &mut [f32], rope: &serde_json::Value) -> Result<(), InferError> {
    let kind = rope
        .get("rope_type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("default");
    let get = |key: &str| rope.get(key).and_then(serde_json::Value::as_f64);
    match kind {
        "default" => {}
        "linear" => {
            let factor = get("factor").unwrap_or(1.0) as f32;
            inv_freq.iter_mut().for_each(|f| *f /= factor);
        }
        "llama3" => {
            let factor = get("factor").unwrap_or(8.0);
            let low = get("low_freq_factor").unwrap_or(1.0);
            let high = get("high_freq_factor").unwrap_or(4.0);
            let old_context = get("original_max_position_embeddings").unwrap_or(8192.0);
            let (low_wavelen, high_wavelen) = (old_context / low, old_context / high);
            for f in inv_freq.iter_mut() {
                let freq = f64::from(*f);
                let wavelen = 2.0 * std::f64::consts::PI / freq;
                let scaled = if wavelen < high_wavelen {
                    freq
                } else if wavelen > low_wavelen {
                    freq / factor
                } else {
                    let smooth = (old_context / wavelen - low) / (high - low);
                    (1.0 - smooth) * freq / factor + smooth * freq
                };
                *f = scaled as f32;
            }
        }
        other => {
            return Err(InferError::NotSupported {
                architecture: format!("{other} rope scaling on wgpu"),
                task: "text-generation".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rotary_scalings_follow_transformers() {
        let base = inverse_frequencies(64, 500_000., 1.);
        let mut linear = base.clone();
        scale_frequencies(&mut linear, &json!({"rope_type": "linear", "factor": 4.0})).unwrap();
        assert!(
            linear
                .iter()
                .zip(&base)
                .all(|(l, b)| (l * 4.0 - b).abs() <= 1e-7 * b)
        );
        // Llama 3.1's: short wavelengths kept, long ones divided by 8, a blend between.
        let mut llama3 = base.clone();
        let params = json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192});
        scale_frequencies(&mut llama3, &params).unwrap();
        assert_eq!(llama3[0], base[0]);
        let last = base.len() - 1;
        assert!((llama3[last] * 8.0 - base[last]).abs() <= 1e-6 * base[last]);
        let blended =
            (0..base.len()).filter(|&i| llama3[i] < base[i] && llama3[i] * 8.0 > base[i] * 1.0001);
        assert!(blended.count() > 0, "{llama3:?}");
        let error = scale_frequencies(&mut llama3, &json!({"rope_type": "yarn"})).unwrap_err();
        assert!(matches!(error, InferError::NotSupported { .. }), "{error}");
    }
}
