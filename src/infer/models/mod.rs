//! Model code, one architecture per file (as candle-transformers), for transformers' weight
//! names or GGUF files; and the small loading helpers they share. Nothing here knows a task.

pub mod ast;
pub mod attention;
pub mod bart;
pub mod blip;
pub mod causal;
pub mod clip_text;
pub mod clip_vision;
pub mod conv;
pub mod conv_cpu;
pub mod convnext;
pub mod detection_boxes;
pub mod detr;
pub mod diffusion_scheduler;
pub mod distilbert;
pub mod elementwise;
pub mod encodec;
pub mod encoder;
pub mod encoder_heads;
pub mod gguf_blocks;
pub mod gguf_gemma3;
pub mod gguf_llama;
pub mod gpu_bert;
pub mod gpu_llama;
pub mod gpu_tensors;
pub mod gpu_whisper;
pub mod group_norm;
pub mod hifigan;
pub mod linear;
pub mod llava;
pub mod marian;
pub mod musicgen;
pub mod paligemma;
pub mod quant_linear;
pub mod resnet;
pub mod sd_unet;
pub mod sd_vae;
pub mod speecht5;
pub mod stable_diffusion;
pub mod timm_resnet;
pub mod vit;
pub mod vits;
pub mod vlm_layout;
pub mod wav2vec2;
pub mod whisper;
pub mod whisper_mel;
pub mod yolos;

use std::path::Path;

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use serde_json::Value;

use super::InferError;
use super::pipeline::load_cancelled;
use crate::media::preprocess::PixelValues;
use causal::safetensors_files;

/// Token ids in a config value: one number or a list of them.
pub fn ids_of(value: Option<&Value>) -> Vec<u32> {
    match value {
        Some(Value::Number(n)) => n.as_u64().map(|n| n as u32).into_iter().collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_u64().map(|n| n as u32))
            .collect(),
        _ => Vec::new(),
    }
}

/// The rows of `text` `(ids, hidden)` with each position holding `image_id` replaced by the
/// next row of `features` `(n, hidden)`, in order (transformers' `masked_scatter` of image
/// features); the number of such positions must be `n`.
pub fn replace_rows(
    ids: &[u32],
    image_id: u32,
    text: &Tensor,
    features: &Tensor,
) -> candle_core::Result<Tensor> {
    let slots = ids.iter().filter(|&&id| id == image_id).count();
    let rows = features.dim(0)?;
    if slots != rows {
        candle_core::bail!(
            "the prompt has {slots} image tokens but the image gives {rows} features"
        );
    }
    let mut next = ids.len() as u32;
    let index: Vec<u32> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            if id == image_id {
                next += 1;
                next - 1
            } else {
                i as u32
            }
        })
        .collect();
    let all = Tensor::cat(&[text, features], 0)?;
    all.index_select(&Tensor::new(index.as_slice(), text.device())?, 0)
}

/// Builds `(1, 3, H, W)` from preprocessed pixels.
pub fn pixel_tensor(pixels: PixelValues, device: &Device) -> Result<Tensor, InferError> {
    Ok(Tensor::from_vec(
        pixels.data,
        (1, 3, pixels.height, pixels.width),
        device,
    )?)
}

/// Mmaps the folder's safetensors as f32 ([`mmap_weights`]).
pub fn weights(dir: &Path, device: &Device) -> Result<VarBuilder<'static>, InferError> {
    mmap_weights(&safetensors_files(dir)?, device)
}

/// [`weights`] for candle-transformers' models, whose fully connected layers are candle's
/// `Linear`: their weights (`*_proj`, `fc1`, `fc2`, `lm_head`, `linear_1`, `linear_2`) are laid
/// out column-major, still `(out, in)`, so that the transposed view candle multiplies by is
/// row-major (what [`linear::Linear`] does for Hubble's own models, and as fast).
pub fn weights_for_candle_linears(
    dir: &Path,
    device: &Device,
) -> Result<VarBuilder<'static>, InferError> {
    mmap_laid_out(&safetensors_files(dir)?, device, true)
}

/// Mmaps safetensors files as f32 weights whose reads stop, with an error, once the load
/// running on this thread is cancelled ([`load_cancelled`]): a cancelled load ends at its next
/// tensor instead of reading the rest of the checkpoint.
pub fn mmap_weights(
    files: &[std::path::PathBuf],
    device: &Device,
) -> Result<VarBuilder<'static>, InferError> {
    mmap_laid_out(files, device, false)
}

/// [`mmap_weights`], fully connected weights column-major when `linears_column_major`.
fn mmap_laid_out(
    files: &[std::path::PathBuf],
    device: &Device,
    linears_column_major: bool,
) -> Result<VarBuilder<'static>, InferError> {
    // SAFETY: the files are not modified while mapped (the cache never rewrites a blob).
    let mapped = unsafe { MmapedSafetensors::multi(files)? };
    Ok(VarBuilder::from_backend(
        Box::new(CancellableWeights {
            mapped,
            linears_column_major,
        }),
        DType::F32,
        device.clone(),
    ))
}

/// Mmaped safetensors that refuse to read once the load is cancelled.
struct CancellableWeights {
    mapped: MmapedSafetensors,
    /// Whether fully connected weights come column-major ([`weights_for_candle_linears`]).
    linears_column_major: bool,
}

impl CancellableWeights {
    fn check(&self) -> candle_core::Result<()> {
        if load_cancelled() {
            return Err(candle_core::Error::Msg("the load was cancelled".into()));
        }
        Ok(())
    }

    /// `tensor` column-major when it is a fully connected layer's weight and they are asked so.
    fn laid_out(&self, name: &str, tensor: Tensor) -> candle_core::Result<Tensor> {
        const LINEARS: [&str; 13] = [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "out_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
            "fc1",
            "fc2",
            "lm_head",
            "linear_1",
            "linear_2",
        ];
        let layer = name
            .strip_suffix(".weight")
            .and_then(|n| n.rsplit('.').next());
        let is_linear = layer.is_some_and(|l| LINEARS.contains(&l));
        if self.linears_column_major && is_linear && tensor.rank() == 2 {
            tensor.t()?.contiguous()?.t()
        } else {
            Ok(tensor)
        }
    }
}

impl SimpleBackend for CancellableWeights {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        self.check()?;
        let tensor = SimpleBackend::get(&self.mapped, shape, name, init, dtype, device)?;
        self.laid_out(name, tensor)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        self.check()?;
        let tensor = SimpleBackend::get_unchecked(&self.mapped, name, dtype, device)?;
        self.laid_out(name, tensor)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        SimpleBackend::contains_tensor(&self.mapped, name)
    }
}

/// config.json's `id2label` in id order; without one, `num_labels` (transformers' default 2)
/// labels named `LABEL_i`, as transformers names them.
pub fn id2label(config: &Value) -> Vec<String> {
    let map = config.get("id2label").and_then(Value::as_object);
    let count = map
        .and_then(|m| m.keys().filter_map(|k| k.parse::<usize>().ok()).max())
        .map(|max| max + 1)
        .or_else(|| {
            config
                .get("num_labels")
                .and_then(Value::as_u64)
                .map(|n| n as usize)
        })
        .unwrap_or(2);
    labels_for(config, count)
}

/// The first `count` labels of config.json's `id2label` (`LABEL_i` where one is missing).
pub fn labels_for(config: &Value, count: usize) -> Vec<String> {
    let map = config.get("id2label").and_then(Value::as_object);
    (0..count)
        .map(|i| {
            map.and_then(|m| m.get(&i.to_string()))
                .and_then(Value::as_str)
                .map_or_else(|| format!("LABEL_{i}"), str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_stop_reading_once_the_load_is_cancelled() {
        use crate::infer::pipeline::{CancelToken, RunContext};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let tensor = Tensor::ones((2, 3), DType::F32, &Device::Cpu).unwrap();
        candle_core::safetensors::save(&[("w", tensor)].into_iter().collect(), &path).unwrap();
        let vb = mmap_weights(&[path], &Device::Cpu).unwrap();
        let cancel = CancelToken::new();
        let ctx = RunContext::new(cancel.clone(), None);
        assert!(ctx.loading(|| vb.get((2, 3), "w")).is_ok());
        cancel.cancel();
        let error = ctx.loading(|| vb.get((2, 3), "w")).unwrap_err();
        assert!(error.to_string().contains("cancelled"), "{error}");
        // Outside a load nothing is cancelled.
        assert!(vb.get((2, 3), "w").is_ok());
    }

    #[test]
    fn id2label_fills_gaps_and_defaults_like_transformers() {
        let config = serde_json::json!({"id2label": {"0": "x", "2": "z"}});
        assert_eq!(id2label(&config), ["x", "LABEL_1", "z"]);
        assert_eq!(id2label(&serde_json::json!({})), ["LABEL_0", "LABEL_1"]);
        assert_eq!(id2label(&serde_json::json!({"num_labels": 3})).len(), 3);
    }
}
