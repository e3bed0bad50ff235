//! [`GpuLlama::from_gguf`]: a GGUF's tensors, read as stored and uploaded one at a time.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, gguf_file};
use hubble_gpu::{Buffer, Gate, Gpu, GpuError, Weight, WeightType};

use super::{Dims, GateUp, GpuLlama, Layer, Parts, Qkv};
use crate::infer::InferError;
use crate::infer::models::gguf_blocks::{ArchMetadata, DecoderShape, inverse_frequencies};
use crate::infer::models::gguf_gemma3::Gemma3Layout;
use crate::infer::models::gguf_llama::ARCHITECTURES;
use crate::infer::models::gpu_tensors::gpu_error;

/// Reads one tensor's bytes as stored and uploads them.
struct Uploader<'a, R> {
    content: &'a gguf_file::Content,
    reader: &'a mut R,
    gpu: &'a Gpu,
}

impl<R: Read + Seek> Uploader<'_, R> {
    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn bytes(&mut self, name: &str) -> Result<(WeightType, Vec<usize>, Vec<u8>), InferError> {
        if crate::infer::pipeline::load_cancelled() {
            return Err(InferError::Cancelled);
        }
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| InferError::Model(format!("the GGUF has no tensor {name}")))?;
        let ty = weight_type(info.ggml_dtype).ok_or_else(|| {
            gpu_error(GpuError::UnsupportedType(format!(
                "{name}: {:?}",
                info.ggml_dtype
            )))
        })?;
        let elements = info.shape.elem_count();
        let size = elements / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
        let mut bytes = vec![0u8; size];
        let at = self.content.tensor_data_offset + info.offset;
        self.reader
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.reader.read_exact(&mut bytes))
            .map_err(|e| InferError::Model(format!("{name}: {e}")))?;
        Ok((ty, info.shape.dims().to_vec(), bytes))
    }

    /// A matrix (`rows × cols`, GGUF's dims reversed by candle already).
    fn weight(&mut self, name: &str) -> Result<Weight, InferError> {
        let (ty, dims, bytes) = self.bytes(name)?;
        let [rows, cols] = dims[..] else {
            return Err(InferError::Model(format!(
                "{name} is not a matrix: {dims:?}"
            )));
        };
        self.gpu
            .upload_weight(ty, rows, cols, &bytes, name)
            .map_err(gpu_error)
    }

    /// A vector (norms, biases) as F32.
    fn vector(&mut self, name: &str) -> Result<Buffer, InferError> {
        let (ty, _, bytes) = self.bytes(name)?;
        let values: Vec<f32> = match ty {
            WeightType::F32 => bytemuck::pod_collect_to_vec(&bytes),
            WeightType::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(InferError::Model(format!("{name}: a {other:?} vector")));
            }
        };
        self.gpu.upload_f32(&values, name).map_err(gpu_error)
    }

    fn optional_vector(&mut self, name: &str) -> Result<Option<Buffer>, InferError> {
        if self.has(name) {
            self.vector(name).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The kernels' type for a GGUF tensor type, if they have one.
pub fn weight_type(dtype: GgmlDType) -> Option<WeightType> {
    Some(match dtype {
        GgmlDType::F32 => WeightType::F32,
        GgmlDType::F16 => WeightType::F16,
        GgmlDType::BF16 => WeightType::Bf16,
        GgmlDType::Q4_0 => WeightType::Q4_0,
        GgmlDType::Q4_1 => WeightType::Q4_1,
        GgmlDType::Q5_0 => WeightType::Q5_0,
        GgmlDType::Q5_1 => WeightType::Q5_1,
        GgmlDType::Q8_0 => WeightType::Q8_0,
        GgmlDType::Q4K => WeightType::Q4K,
        GgmlDType::Q5K => WeightType::Q5K,
        GgmlDType::Q6K => WeightType::Q6K,
        _ => return None,
    })
}

impl GpuLlama {
    /// Uploads the weights named in `content` (architecture `arch`, one of
    /// [`ARCHITECTURES`]) from `reader` to `gpu`, one tensor at a time.
    pub fn from_gguf<R: Read + Seek>(
        content: &gguf_file::Content,
        arch: &str,
        reader: &mut R,
        gpu: Arc<Gpu>,
    ) -> Result<GpuLlama, InferError> {
        let Some(arch) = ARCHITECTURES.into_iter().find(|known| *known == arch) else {
            return Err(InferError::Model(format!(
                "{arch} is not a llama-family GGUF"
            )));
        };
        if content
            .tensor_infos
            .contains_key("rope_factors_long.weight")
        {
            return Err(InferError::Model(
                "LongRoPE scaling is not supported yet".into(),
            ));
        }
        let md = ArchMetadata::new(content, arch);
        let DecoderShape {
            heads,
            kv_heads,
            blocks,
            hidden,
            eps,
        } = md.decoder_shape()?;
        let head_dim = md.count_or("attention.key_length", hidden / heads.max(1));
        let rope_dim = md.count_or("rope.dimension_count", head_dim);
        if rope_dim == 0 || rope_dim > head_dim || rope_dim % 2 == 1 || head_dim % 2 == 1 {
            return Err(InferError::Model(format!(
                "a rotary size of {rope_dim} does not fit heads of {head_dim}"
            )));
        }
        let base = md.float_or("rope.freq_base", 10000.);
        let mut up = Uploader {
            content,
            reader,
            gpu: &gpu,
        };
        let mut inv_freq = inverse_frequencies(rope_dim, base, 1.);
        if up.has("rope_freqs.weight") {
            let (_, _, bytes) = up.bytes("rope_freqs.weight")?;
            let factors: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
            if factors.len() != inv_freq.len() {
                return Err(InferError::Model(format!(
                    "{} rope factors for {} rotated pairs",
                    factors.len(),
                    inv_freq.len()
                )));
            }
            for (freq, factor) in inv_freq.iter_mut().zip(factors) {
                *freq /= factor;
            }
        }
        let embedding = up.weight("token_embd.weight")?;
        let head = if up.has("output.weight") {
            Some(up.weight("output.weight")?)
        } else {
            None
        };
        let norm = up.vector("output_norm.weight")?;
        let window = if arch == "phi3" {
            md.count_or("attention.sliding_window", 0)
        } else {
            0
        };
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            let qkv = if up.has(&name("attn_qkv")) {
                Qkv::Fused(up.weight(&name("attn_qkv"))?)
            } else {
                Qkv::Separate([
                    up.weight(&name("attn_q"))?,
                    up.weight(&name("attn_k"))?,
                    up.weight(&name("attn_v"))?,
                ])
            };
            let gate_up = if up.has(&name("ffn_gate")) {
                GateUp::Separate(up.weight(&name("ffn_gate"))?, up.weight(&name("ffn_up"))?)
            } else {
                GateUp::Fused(up.weight(&name("ffn_up"))?)
            };
            let bias = |part: &str| format!("blk.{i}.{part}.bias");
            let qk_norms = match (
                up.optional_vector(&name("attn_q_norm"))?,
                up.optional_vector(&name("attn_k_norm"))?,
            ) {
                (Some(q), Some(k)) => Some((q, k)),
                _ => None,
            };
            layers.push(Layer {
                biases: [
                    up.optional_vector(&bias("attn_q"))?,
                    up.optional_vector(&bias("attn_k"))?,
                    up.optional_vector(&bias("attn_v"))?,
                ],
                qk_norms,
                attn_norm: up.vector(&name("attn_norm"))?,
                ffn_norm: up.vector(&name("ffn_norm"))?,
                post_norms: None,
                window,
                local_rope: false,
                o: up.weight(&name("attn_output"))?,
                down: up.weight(&name("ffn_down"))?,
                qkv,
                gate_up,
            });
        }
        let dims = Dims {
            hidden,
            heads,
            kv_heads,
            head_dim,
            rope_dim,
            ff: layers.first().map_or(0, |l| l.down.cols()),
            vocab: embedding.rows(),
            eps: eps as f32,
            neox: arch != "llama",
            embed_scale: 1.0,
            gate: Gate::Silu,
            attn_scale: 1.0 / (head_dim as f32).sqrt(),
            attn_softcap: 0.0,
            final_softcap: 0.0,
        };
        let parts = Parts {
            gguf: true,
            embedding,
            head,
            norm,
            layers,
        };
        GpuLlama::assemble(gpu, dims, parts, [inv_freq, Vec::new()], arch)
    }
}

impl GpuLlama {
    /// Uploads a GGUF Gemma 3 (llama.cpp's `gemma3`, text only) to `gpu`, read as
    /// [`crate::infer::models::gguf_gemma3`] reads it: norms stored as `1 + w` already, the
    /// embedding scaled by √hidden and shared with the head, per-head query/key norms, norms
    /// before and after both blocks, sliding layers rotating with `rope.local_freq_base`, the
    /// global ones with `rope.freq_base` and its linear `rope.scaling.factor`.
    pub fn from_gguf_gemma3<R: Read + Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
        gpu: Arc<Gpu>,
    ) -> Result<GpuLlama, InferError> {
        let Gemma3Layout {
            shape:
                DecoderShape {
                    heads,
                    kv_heads,
                    blocks,
                    hidden,
                    eps,
                },
            head_dim,
            window,
            sliding,
            global_base,
            local_base,
            rope_scale,
            score_dim,
        } = Gemma3Layout::read(content)?;
        let global = inverse_frequencies(head_dim, global_base, rope_scale);
        let local = inverse_frequencies(head_dim, local_base, 1.);
        let mut up = Uploader {
            content,
            reader,
            gpu: &gpu,
        };
        let embedding = up.weight("token_embd.weight")?;
        let head = if up.has("output.weight") {
            Some(up.weight("output.weight")?)
        } else {
            None
        };
        let norm = up.vector("output_norm.weight")?;
        let mut layers = Vec::with_capacity(blocks);
        for (i, &slides) in sliding.iter().enumerate() {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            layers.push(Layer {
                qkv: Qkv::Separate([
                    up.weight(&name("attn_q"))?,
                    up.weight(&name("attn_k"))?,
                    up.weight(&name("attn_v"))?,
                ]),
                o: up.weight(&name("attn_output"))?,
                gate_up: GateUp::Separate(
                    up.weight(&name("ffn_gate"))?,
                    up.weight(&name("ffn_up"))?,
                ),
                down: up.weight(&name("ffn_down"))?,
                biases: [None, None, None],
                qk_norms: Some((
                    up.vector(&name("attn_q_norm"))?,
                    up.vector(&name("attn_k_norm"))?,
                )),
                attn_norm: up.vector(&name("attn_norm"))?,
                ffn_norm: up.vector(&name("ffn_norm"))?,
                post_norms: Some((
                    up.vector(&name("post_attention_norm"))?,
                    up.vector(&name("post_ffw_norm"))?,
                )),
                window: if slides { window } else { 0 },
                local_rope: slides,
            });
        }
        let dims = Dims {
            hidden,
            heads,
            kv_heads,
            head_dim,
            rope_dim: head_dim,
            ff: layers.first().map_or(0, |l| l.down.cols()),
            vocab: embedding.rows(),
            eps: eps as f32,
            neox: true,
            embed_scale: (hidden as f64).sqrt() as f32,
            gate: Gate::GeluTanh,
            attn_scale: 1.0 / (score_dim as f32).sqrt(),
            attn_softcap: 0.0,
            final_softcap: 0.0,
        };
        let parts = Parts {
            gguf: true,
            embedding,
            head,
            norm,
            layers,
        };
        GpuLlama::assemble(gpu, dims, parts, [global, local], "gemma3")
    }
}
