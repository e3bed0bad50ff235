//! The runtime memory estimate: weights + KV cache + overhead.
//!
//! ```text
//! total    = weights + kv_cache + overhead
//! weights  = exact tensor bytes as stored, or, with a target dtype/quant, float parameters ×
//!            bits/8 + non-float tensors as stored
//! kv_cache = Σ_layers 2 × kv_heads × head_dim × tokens × kv_bytes, tokens = context, or
//!            min(context, sliding_window) on sliding-window layers (0 for encoders)
//! overhead = 5% of weights (allocator slack, runtime context)
//!          + compute buffer: 512-token batch × (4 × hidden_size + vocab_size) × 4 bytes
//!            (256 MiB when the shape is unknown)
//! ```

use serde::Serialize;

use super::dtype::{safetensors_is_float, target_bits};
use super::shape::ModelShape;
use super::weights::Weights;

/// Tokens processed per batch by the runtimes (llama.cpp's default `n_ubatch`).
pub const BATCH_TOKENS: u64 = 512;

/// Compute buffer assumed when the model's hidden and vocabulary sizes are unknown.
pub const UNKNOWN_COMPUTE_BUFFER: u64 = 256 * 1024 * 1024;

/// Context used when none is asked for: the model's own, capped at this.
pub const DEFAULT_CONTEXT_CAP: u64 = 4096;

/// KV-cache element type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KvType {
    /// 2 bytes (the default of llama.cpp and of transformers in half precision).
    F16,
    /// 4 bytes.
    F32,
    /// 34 bytes per 32 values.
    Q8_0,
}

impl KvType {
    /// Every KV-cache type, the default first.
    pub const ALL: [KvType; 3] = [KvType::F16, KvType::F32, KvType::Q8_0];

    /// The name used by `--kv-type` and llama.cpp: `f16`, `f32`, `q8_0`.
    pub fn name(self) -> &'static str {
        match self {
            KvType::F16 => "f16",
            KvType::F32 => "f32",
            KvType::Q8_0 => "q8_0",
        }
    }

    /// The type named `name` (as [`KvType::name`] writes it).
    pub fn parse(name: &str) -> Option<KvType> {
        KvType::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Bytes per cached value.
    pub fn bytes(self) -> f64 {
        match self {
            KvType::F16 => 2.0,
            KvType::F32 => 4.0,
            KvType::Q8_0 => 34.0 / 32.0,
        }
    }
}

/// What to estimate for.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateOptions {
    /// Context tokens; `None`: the model's trained context capped at [`DEFAULT_CONTEXT_CAP`].
    pub context: Option<u64>,
    /// Target dtype or quantisation of the float weights (`bf16`, `q4_k_m`…); `None`: as stored.
    pub dtype: Option<String>,
    /// KV cache element type.
    pub kv_type: KvType,
    /// The picture (width, height) a diffusion pipeline is sized for; `None`: its own size.
    pub picture: Option<(u64, u64)>,
}

impl Default for EstimateOptions {
    fn default() -> Self {
        EstimateOptions {
            context: None,
            dtype: None,
            kv_type: KvType::F16,
            picture: None,
        }
    }
}

/// The estimate, with its terms and the formula that produced them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Bytes of weights at the chosen dtype.
    pub weights_bytes: u64,
    /// What the weights are stored as (`F32`, `Q4_1 (GGUF)`, or the target dtype).
    pub weights_dtype: String,
    /// Whether the weights term is exact (headers read, no conversion).
    pub weights_exact: bool,
    /// Context tokens the KV cache is sized for.
    pub context: u64,
    /// KV-cache bytes.
    pub kv_cache_bytes: u64,
    /// KV-cache element type.
    pub kv_type: KvType,
    /// Overhead bytes (see the module docs).
    pub overhead_bytes: u64,
    /// weights + KV cache + overhead.
    pub total_bytes: u64,
    /// Transformer layers, when known (for partial offload).
    pub layers: Option<u64>,
    /// The formula with the numbers filled in, one term per line.
    pub formula: Vec<String>,
    /// Caveats (approximate sizes, unknown shape, …).
    pub notes: Vec<String>,
}

/// An error in the options (unknown dtype).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OptionError(pub String);

/// Estimates the memory to run `weights` of shape `shape`.
pub fn estimate(
    weights: &Weights,
    shape: &ModelShape,
    options: &EstimateOptions,
) -> Result<Estimate, OptionError> {
    let mut notes = Vec::new();
    let pipeline = weights.format == super::weights::WeightFormat::DiffusersPipeline;
    let (weights_bytes, weights_dtype, weights_exact) = match options.dtype.as_deref() {
        // Hubble computes diffusion pipelines in f32, whatever the files hold.
        None if pipeline => {
            notes.push(match options.picture {
                None => "a diffusers pipeline: every component's weights, computed in F32 here, \
                         and the picture's activations at the model's own size (larger pictures \
                         need more)"
                    .into(),
                Some((w, h)) => format!(
                    "a diffusers pipeline: every component's weights, computed in F32 here, and \
                     the picture's activations at {w}×{h}"
                ),
            });
            (
                converted_bytes(weights, 32.0, &mut notes),
                "F32".into(),
                weights.exact,
            )
        }
        None if computes_in_f32(weights, shape) => {
            let architecture = shape.architecture.as_deref().unwrap_or_default();
            notes.push(format!(
                "{architecture}: Hubble computes every weight in F32, whatever the files hold"
            ));
            if architecture == "speecht5" {
                notes.push(
                    "plus the vocoder it speaks through (microsoft/speecht5_hifigan, 50 MB)".into(),
                );
            }
            (
                converted_bytes(weights, 32.0, &mut notes),
                "F32".into(),
                weights.exact,
            )
        }
        None => (weights.bytes, stored_dtype(weights), weights.exact),
        Some(name) => {
            let bits = target_bits(name).ok_or_else(|| {
                OptionError(format!(
                    "unknown dtype {name:?}: use {}",
                    super::dtype::target_list()
                ))
            })?;
            if weights.format == super::weights::WeightFormat::Gguf {
                notes.push(
                    "a GGUF file is already quantised: pick another GGUF file instead of \
                     converting this one"
                        .into(),
                );
            }
            let converted = converted_bytes(weights, bits, &mut notes);
            (converted, name.to_ascii_uppercase(), false)
        }
    };
    if !weights.exact {
        notes.push(
            "only PyTorch pickles: the weights term is their file size, not read from headers"
                .into(),
        );
    }
    Ok(finish(
        (weights_bytes, weights_dtype, weights_exact),
        shape,
        options,
        notes,
    ))
}

/// The safetensors architectures Hubble loads as F32 whatever they store (the speech, music
/// and vision-language models, as the diffusion pipelines).
const F32_ARCHITECTURES: [&str; 5] = ["vits", "speecht5", "musicgen", "llava", "paligemma"];

fn computes_in_f32(weights: &Weights, shape: &ModelShape) -> bool {
    weights.format == super::weights::WeightFormat::Safetensors
        && shape
            .architecture
            .as_deref()
            .is_some_and(|a| F32_ARCHITECTURES.contains(&a))
}

/// The estimate for weights known only by their file size (a GGUF quant whose header is not
/// read yet): `weights_bytes` of `weights_dtype`, not exact; `options.dtype` is not applied.
pub fn estimate_sized(
    weights_bytes: u64,
    weights_dtype: &str,
    shape: &ModelShape,
    options: &EstimateOptions,
) -> Estimate {
    let notes = vec!["the weights term is the file's size (its header is not read yet)".into()];
    finish(
        (weights_bytes, weights_dtype.to_string(), false),
        shape,
        options,
        notes,
    )
}

/// KV cache and overhead for weights of `(bytes, dtype, exact)`.
fn finish(
    (weights_bytes, weights_dtype, weights_exact): (u64, String, bool),
    shape: &ModelShape,
    options: &EstimateOptions,
    mut notes: Vec<String>,
) -> Estimate {
    let context = options.context.unwrap_or_else(|| default_context(shape));
    if let Some(max) = shape.max_context
        && context > max
    {
        notes.push(format!(
            "the context {context} is longer than the {max} tokens the model was trained for"
        ));
    }
    let kv_cache_bytes = shape.kv_cache_bytes(context, options.kv_type.bytes());
    let kv_line = kv_formula(shape, context, options.kv_type, kv_cache_bytes, &mut notes);
    let slack = weights_bytes / 20;
    let picture = shape
        .picture
        .map(|p| options.picture.map_or(p, |size| p.at(size)));
    let compute = match (picture, shape.hidden_size, shape.vocab_size) {
        (Some(picture), _, _) => picture.activation_bytes(),
        (None, Some(h), Some(v)) => BATCH_TOKENS * (4 * h + v) * 4,
        _ => {
            notes.push("hidden or vocabulary size unknown: compute buffer assumed 256 MiB".into());
            UNKNOWN_COMPUTE_BUFFER
        }
    };
    let overhead_bytes = slack + compute;
    let total_bytes = weights_bytes + kv_cache_bytes + overhead_bytes;
    let formula = vec![
        format!(
            "total {} = weights {} + KV cache {} + overhead {}",
            gb(total_bytes),
            gb(weights_bytes),
            gb(kv_cache_bytes),
            gb(overhead_bytes)
        ),
        format!("weights = {weights_dtype} tensors: {weights_bytes} bytes"),
        kv_line,
        match (picture, shape.hidden_size, shape.vocab_size) {
            (Some(p), _, _) => format!(
                "overhead = 5% of weights ({slack}) + picture activations {} maps × {} channels \
                 × {}×{} px × 4 B ({compute})",
                crate::fit::shape::PictureShape::LIVE_MAPS,
                p.decoder_channels,
                p.width,
                p.height
            ),
            (None, Some(h), Some(v)) => format!(
                "overhead = 5% of weights ({slack}) + compute buffer {BATCH_TOKENS} tokens × \
                 (4 × {h} hidden + {v} vocab) × 4 B ({compute})"
            ),
            _ => format!("overhead = 5% of weights ({slack}) + 256 MiB compute buffer"),
        },
    ];
    Estimate {
        weights_bytes,
        weights_dtype,
        weights_exact,
        context,
        kv_cache_bytes,
        kv_type: options.kv_type,
        overhead_bytes,
        total_bytes,
        layers: shape.layers,
        formula,
        notes,
    }
}

/// The context estimated for when none is asked for: the model's trained context, capped at
/// [`DEFAULT_CONTEXT_CAP`] (or the cap when the model does not say).
pub fn default_context(shape: &ModelShape) -> u64 {
    shape
        .max_context
        .map_or(DEFAULT_CONTEXT_CAP, |c| c.min(DEFAULT_CONTEXT_CAP))
}

/// The dtype the weights are stored in: the dominant one (`BF16`), with the file type for GGUF
/// (`Q4_K_M (GGUF)`).
pub fn stored_dtype(weights: &Weights) -> String {
    let main = weights
        .by_dtype
        .iter()
        .max_by_key(|(_, t)| t.bytes)
        .map(|(d, _)| d.clone());
    match (weights.format, main) {
        (super::weights::WeightFormat::Gguf, Some(d)) => {
            let file_type = weights.gguf.as_ref().and_then(|g| g.file_type());
            format!("{} (GGUF)", file_type.map_or(d, str::to_string))
        }
        (_, Some(d)) => d,
        (_, None) => "unknown dtype".into(),
    }
}

/// Float parameters at `bits` each, other tensors as stored.
fn converted_bytes(weights: &Weights, bits: f64, notes: &mut Vec<String>) -> u64 {
    if weights.by_dtype.is_empty() {
        notes.push("the dtype of the pickled weights is unknown; assumed F32".into());
        return (weights.bytes as f64 / 4.0 * bits / 8.0).round() as u64;
    }
    weights
        .by_dtype
        .iter()
        .map(|(dtype, t)| {
            let float = safetensors_is_float(dtype) || super::dtype::target_bits(dtype).is_some();
            if float {
                (t.parameters as f64 * bits / 8.0).round() as u64
            } else {
                t.bytes
            }
        })
        .sum()
}

fn kv_formula(
    shape: &ModelShape,
    context: u64,
    kv: KvType,
    bytes: u64,
    notes: &mut Vec<String>,
) -> String {
    if shape.picture.is_some() {
        return "KV cache = 0 (a diffusion pipeline keeps none)".into();
    }
    if !shape.decoder {
        return "KV cache = 0 (an encoder keeps no KV cache)".into();
    }
    let Some(first) = shape.kv_layers.first() else {
        notes.push("layer count or head sizes unknown: KV cache not included".into());
        return "KV cache = unknown (no layer/head counts in config.json or GGUF metadata)".into();
    };
    let uniform = shape
        .kv_layers
        .iter()
        .all(|l| l.kv_heads == first.kv_heads && l.key_length == first.key_length);
    let sliding = shape
        .kv_layers
        .iter()
        .filter(|l| l.attention == super::shape::Attention::Sliding)
        .count();
    let mut line = if uniform && first.key_length == first.value_length {
        format!(
            "KV cache = {} layers × 2 × {} KV heads × {} head dim × {context} tokens × {} B",
            shape.kv_layers.len(),
            first.kv_heads,
            first.key_length,
            kv.bytes()
        )
    } else {
        format!(
            "KV cache = Σ over {} layers of KV heads × (key + value length) × {context} tokens × \
             {} B",
            shape.kv_layers.len(),
            kv.bytes()
        )
    };
    if sliding > 0
        && let Some(window) = shape.sliding_window
    {
        line.push_str(&format!(
            ", {sliding} sliding-window layers capped at {window} tokens"
        ));
    }
    format!("{line} = {bytes} bytes")
}

/// Bytes as GB with two decimals (decimal units, as the Hub shows sizes).
pub fn gb(bytes: u64) -> String {
    if bytes < 10_000_000 {
        format!("{:.2} MB", bytes as f64 / 1e6)
    } else if bytes < 1_000_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.2} GB", bytes as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::fit::safetensors::DtypeTotals;
    use crate::fit::shape::{Attention, LayerKv};

    fn llama_shape() -> ModelShape {
        let layer = LayerKv {
            kv_heads: 3,
            key_length: 64,
            value_length: 64,
            attention: Attention::Full,
        };
        ModelShape {
            source: "test".into(),
            architecture: Some("llama".into()),
            decoder: true,
            layers: Some(30),
            hidden_size: Some(576),
            vocab_size: Some(49152),
            max_context: Some(8192),
            sliding_window: None,
            kv_layers: vec![layer; 30],
            picture: None,
        }
    }

    #[test]
    fn speech_music_and_vision_language_models_are_sized_in_f32() {
        let mut by_dtype = BTreeMap::new();
        by_dtype.insert(
            "F16".to_string(),
            DtypeTotals {
                parameters: 1_000_000,
                bytes: 2_000_000,
            },
        );
        let weights = Weights {
            format: crate::fit::weights::WeightFormat::Safetensors,
            files: Vec::new(),
            parameters: Some(1_000_000),
            bytes: 2_000_000,
            by_dtype,
            exact: true,
            hub_total: None,
            gguf: None,
            gguf_files: Vec::new(),
        };
        let shape = |architecture: &str| ModelShape {
            architecture: Some(architecture.into()),
            decoder: false,
            kv_layers: Vec::new(),
            ..llama_shape()
        };
        let options = EstimateOptions::default();
        let llava = estimate(&weights, &shape("llava"), &options).unwrap();
        assert_eq!(llava.weights_bytes, 4_000_000);
        assert!(
            llava.notes.iter().any(|n| n.contains("F32")),
            "{:?}",
            llava.notes
        );
        let speecht5 = estimate(&weights, &shape("speecht5"), &options).unwrap();
        assert!(
            speecht5
                .notes
                .iter()
                .any(|n| n.contains("speecht5_hifigan"))
        );
        let bert = estimate(&weights, &shape("bert"), &options).unwrap();
        assert_eq!(bert.weights_bytes, 2_000_000);
    }

    #[test]
    fn kv_type_names_round_trip() {
        for kv in KvType::ALL {
            assert_eq!(KvType::parse(kv.name()), Some(kv));
        }
        assert_eq!(KvType::parse("q4"), None);
    }

    #[test]
    fn an_estimate_from_a_file_size_is_not_exact() {
        let options = EstimateOptions {
            context: Some(2048),
            ..EstimateOptions::default()
        };
        let e = estimate_sized(100_000_000, "Q8_0 (GGUF)", &llama_shape(), &options);
        assert_eq!(e.weights_bytes, 100_000_000);
        assert!(!e.weights_exact);
        assert_eq!(e.kv_cache_bytes, 30 * 2 * 3 * 64 * 2048 * 2);
        assert_eq!(
            e.overhead_bytes,
            100_000_000 / 20 + BATCH_TOKENS * (4 * 576 + 49152) * 4
        );
        assert_eq!(
            e.total_bytes,
            e.weights_bytes + e.kv_cache_bytes + e.overhead_bytes
        );
        assert!(e.notes.iter().any(|n| n.contains("file's size")));
        assert!(e.formula[1].starts_with("weights = Q8_0 (GGUF) tensors"));
    }
}
