//! The llama family on a wgpu device: GGUF `llama`, `qwen2`, `qwen3` and `phi3` (the same
//! layouts as [`crate::infer::models::gguf_llama`]), and transformers' llama, mistral, qwen2,
//! qwen3 and phi3 checkpoints in F32, F16 or BF16. The weights go from the file to the
//! GPU as stored (quantised blocks, no F32 copy in RAM), the KV cache lives on the GPU, and a
//! pass of every layer is recorded into one command buffer and submitted once. Only the
//! last position's logits come back (or just the greedy token, [`GpuLlama::next_greedy`]).
//!
//! Rotary angles are computed on the host exactly as the CPU path computes them (GPU `sin`
//! and `cos` are only promised to 2⁻¹¹), and uploaded per pass: a few hundred floats.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, gguf_file};
use hubble_gpu::ops::{self, Attention, KvCache, Rotation, Rows};
use hubble_gpu::{Buffer, Gpu, GpuError, KvType, Pass, Weight, WeightType};

use crate::infer::InferError;
use crate::infer::models::gguf_blocks::{ArchMetadata, DecoderShape};
use crate::infer::models::gguf_llama::ARCHITECTURES;
use crate::infer::models::gpu_tensors::{SafetensorsUpload, gpu_error};

/// The most tokens one pass records (a longer prompt runs in passes of this many).
const PASS_TOKENS: usize = 64;

/// Positions a fresh model's cache holds before the first generation reserves its own.
const INITIAL_POSITIONS: usize = 256;

/// The sizes the kernels need.
#[derive(Debug, Clone, Copy)]
struct Dims {
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    rope_dim: usize,
    ff: usize,
    vocab: usize,
    eps: f32,
    neox: bool,
    window: usize,
}

impl Dims {
    fn q_width(&self) -> usize {
        self.heads * self.head_dim
    }

    fn kv_width(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

enum Qkv {
    Separate([Weight; 3]),
    Fused(Weight),
}

enum GateUp {
    Separate(Weight, Weight),
    Fused(Weight),
}

struct Layer {
    attn_norm: Buffer,
    ffn_norm: Buffer,
    qkv: Qkv,
    biases: [Option<Buffer>; 3],
    qk_norms: Option<(Buffer, Buffer)>,
    o: Weight,
    gate_up: GateUp,
    down: Weight,
}

/// The weights outside the layers' loop, and the layers, as a loader reads them.
struct Parts {
    gguf: bool,
    embedding: Weight,
    head: Option<Weight>,
    norm: Buffer,
    layers: Vec<Layer>,
}

/// Activations for up to [`PASS_TOKENS`] tokens, allocated once.
struct Scratch {
    ids: Buffer,
    angles: Buffer,
    x: Buffer,
    normed: Buffer,
    /// Queries, keys and values side by side (`q | k | v` per token).
    qkv: Buffer,
    /// Per-head normed queries and keys (qwen3), same layout.
    qkv_normed: Buffer,
    attn: Buffer,
    projected: Buffer,
    gate_up: Buffer,
    gated: Buffer,
    logits: Buffer,
    token: Buffer,
    /// Attention scores; grows with the context.
    scores: Option<Buffer>,
}

/// A llama-family GGUF model on a wgpu device, with its KV cache there.
pub struct GpuLlama {
    gpu: Arc<Gpu>,
    dims: Dims,
    embedding: Weight,
    /// `output.weight`; `None` when tied to the embedding.
    head: Option<Weight>,
    norm: Buffer,
    layers: Vec<Layer>,
    inv_freq: Vec<f32>,
    kv_type: KvType,
    caches: Vec<KvCache>,
    scratch: Scratch,
    arch: &'static str,
    /// Loaded from a GGUF (else from safetensors).
    gguf: bool,
}

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
        let mut inv_freq: Vec<f32> = (0..rope_dim)
            .step_by(2)
            .map(|i| 1f32 / base.powf(i as f32 / rope_dim as f32))
            .collect();
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
            window: if arch == "phi3" {
                md.count_or("attention.sliding_window", 0)
            } else {
                0
            },
        };
        let parts = Parts {
            gguf: true,
            embedding,
            head,
            norm,
            layers,
        };
        GpuLlama::assemble(gpu, dims, parts, inv_freq, arch)
    }

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
        let rope_type = config
            .pointer("/rope_parameters/rope_type")
            .or_else(|| config.pointer("/rope_scaling/rope_type"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("default");
        if rope_type != "default" {
            return Err(InferError::Model(format!(
                "{rope_type} rope scaling has no wgpu path yet"
            )));
        }
        let base = float("rope_theta").unwrap_or(10000.) as f32;
        let inv_freq = (0..rope_dim)
            .step_by(2)
            .map(|i| 1f32 / base.powf(i as f32 / rope_dim as f32))
            .collect();
        let sliding = arch == "mistral"
            || arch == "phi3"
            || config
                .get("use_sliding_window")
                .and_then(serde_json::Value::as_bool)
                == Some(true);
        let up = SafetensorsUpload::open(files, &gpu)?;
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
                optional("self_attn.q_norm.weight")?,
                optional("self_attn.k_norm.weight")?,
            ) {
                (Some(q), Some(k)) => Some((q, k)),
                _ => None,
            };
            layers.push(Layer {
                attn_norm: up.vector(&name("input_layernorm.weight"))?,
                ffn_norm: up.vector(&name("post_attention_layernorm.weight"))?,
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
            window: if sliding {
                count("sliding_window").unwrap_or(0)
            } else {
                0
            },
        };
        let parts = Parts {
            gguf: false,
            norm: up.vector("model.norm.weight")?,
            embedding,
            head,
            layers,
        };
        GpuLlama::assemble(gpu, dims, parts, inv_freq, arch)
    }

    fn assemble(
        gpu: Arc<Gpu>,
        dims: Dims,
        parts: Parts,
        inv_freq: Vec<f32>,
        arch: &'static str,
    ) -> Result<GpuLlama, InferError> {
        let scratch = Scratch::new(&gpu, &dims)?;
        let mut model = GpuLlama {
            dims,
            embedding: parts.embedding,
            head: parts.head,
            norm: parts.norm,
            layers: parts.layers,
            inv_freq,
            kv_type: KvType::F16,
            caches: Vec::new(),
            scratch,
            gguf: parts.gguf,
            arch,
            gpu,
        };
        model.reserve_kv_cache(INITIAL_POSITIONS)?;
        Ok(model)
    }

    /// The architecture it was loaded as (a GGUF's, or `mistral` from safetensors).
    pub fn architecture(&self) -> &'static str {
        self.arch
    }

    /// Whether it was loaded from a GGUF (else from safetensors).
    pub fn is_gguf(&self) -> bool {
        self.gguf
    }

    /// Its vocabulary size (the logits' length).
    pub fn vocab(&self) -> usize {
        self.dims.vocab
    }

    /// The device it computes on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The same model with its KV cache in `kv_type` (F16 unless asked); clears the cache.
    pub fn with_kv_type(mut self, kv_type: KvType) -> Result<GpuLlama, InferError> {
        self.kv_type = kv_type;
        self.caches.clear();
        self.reserve_kv_cache(INITIAL_POSITIONS)?;
        Ok(self)
    }

    /// Starts an empty cache with room for `positions` positions in every layer.
    pub fn reserve_kv_cache(&mut self, positions: usize) -> Result<(), InferError> {
        let positions = positions.max(1);
        if self
            .caches
            .first()
            .is_some_and(|c| c.capacity() >= positions)
        {
            return Ok(());
        }
        self.caches.clear();
        for _ in &self.layers {
            let cache = KvCache::new(&self.gpu, self.dims.kv_width(), positions, self.kv_type);
            self.caches.push(cache.map_err(gpu_error)?);
        }
        Ok(())
    }

    /// Runs `tokens` at positions `pos..` (extending the cache) and returns the last
    /// position's logits.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, InferError> {
        self.prepare(tokens, pos)?;
        let pass = self.record(tokens, pos)?;
        pass.submit_and_read_f32(&self.scratch.logits, 0, self.dims.vocab)
            .map_err(gpu_error)
    }

    /// Runs `tokens` at positions `pos..` and returns only the most likely next token: one
    /// number read back instead of the vocabulary.
    pub fn next_greedy(&mut self, tokens: &[u32], pos: usize) -> Result<u32, InferError> {
        self.prepare(tokens, pos)?;
        let mut pass = self.record(tokens, pos)?;
        let scratch = &self.scratch;
        ops::argmax(
            &mut pass,
            &scratch.logits,
            0,
            self.dims.vocab,
            &scratch.token,
        )
        .map_err(gpu_error)?;
        let token = pass
            .submit_and_read_u32(&scratch.token, 0, 1)
            .map_err(gpu_error)?;
        Ok(token[0])
    }

    /// Checks `tokens` and makes room for them at `pos` in the cache and the score scratch.
    fn prepare(&mut self, tokens: &[u32], pos: usize) -> Result<(), InferError> {
        if tokens.is_empty() {
            return Err(InferError::InvalidInput("no tokens".into()));
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.dims.vocab) {
            return Err(InferError::InvalidInput(format!(
                "token {bad} is outside the vocabulary of {}",
                self.dims.vocab
            )));
        }
        self.fit_cache(pos + tokens.len())?;
        self.fit_scores(pos + tokens.len(), tokens.len().min(PASS_TOKENS))
    }

    /// Submits every pass but the last, and returns the last one recorded (its logits at the
    /// start of `scratch.logits`); [`GpuLlama::prepare`] first.
    fn record(&self, tokens: &[u32], pos: usize) -> Result<Pass<'_>, InferError> {
        let chunks: Vec<&[u32]> = tokens.chunks(PASS_TOKENS).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let at = pos + i * PASS_TOKENS;
            let pass = self.layers_pass(chunk, at).map_err(gpu_error)?;
            if i + 1 == chunks.len() {
                return Ok(pass);
            }
            pass.submit().map_err(gpu_error)?;
        }
        Err(InferError::InvalidInput("no tokens".into()))
    }

    fn fit_cache(&mut self, positions: usize) -> Result<(), InferError> {
        let capacity = self.caches.first().map_or(0, KvCache::capacity);
        if positions <= capacity {
            return Ok(());
        }
        let wanted = positions.max(capacity * 2);
        let grown: Result<Vec<KvCache>, GpuError> = self
            .caches
            .iter()
            .map(|cache| cache.grown(&self.gpu, wanted))
            .collect();
        self.caches = grown.map_err(gpu_error)?;
        Ok(())
    }

    fn fit_scores(&mut self, ctx: usize, tokens: usize) -> Result<(), InferError> {
        let needed = (self.dims.heads * tokens * ctx) as u64 * 4;
        if self
            .scratch
            .scores
            .as_ref()
            .is_some_and(|s| s.bytes() >= needed)
        {
            return Ok(());
        }
        let room = needed
            .max(self.dims.heads as u64 * 4 * 1024)
            .next_power_of_two();
        self.scratch.scores = Some(
            self.gpu
                .buffer(room, "attention scores")
                .map_err(gpu_error)?,
        );
        Ok(())
    }

    /// Records one pass of `tokens` at `pos`: embedding, every layer, the final norm and head
    /// for the last token (its logits land at the start of `scratch.logits`).
    fn layers_pass(&self, tokens: &[u32], pos: usize) -> Result<Pass<'_>, GpuError> {
        let (d, s, gpu) = (&self.dims, &self.scratch, &*self.gpu);
        let n = tokens.len();
        gpu.write(&s.ids, 0, bytemuck::cast_slice(tokens));
        gpu.write_f32(&s.angles, 0, &self.angles(pos, n));
        let mut pass = Pass::new(gpu);
        ops::get_rows(&mut pass, &self.embedding, &s.ids, &s.x, n)?;
        for (layer, cache) in self.layers.iter().zip(&self.caches) {
            self.attention_block(&mut pass, layer, cache, pos, n)?;
            self.feed_forward_block(&mut pass, layer, n)?;
        }
        let last = Rows::new(&s.x, d.hidden).shifted((n - 1) * d.hidden);
        let normed = Rows::new(&s.normed, d.hidden);
        ops::rms_norm(&mut pass, last, &self.norm, normed, 1, 1, d.hidden, d.eps)?;
        let head = self.head.as_ref().unwrap_or(&self.embedding);
        ops::matmul(&mut pass, head, normed, Rows::new(&s.logits, d.vocab), 1)?;
        Ok(pass)
    }

    fn attention_block(
        &self,
        pass: &mut Pass<'_>,
        layer: &Layer,
        cache: &KvCache,
        pos: usize,
        n: usize,
    ) -> Result<(), GpuError> {
        let (d, s) = (&self.dims, &self.scratch);
        let (qw, kvw) = (d.q_width(), d.kv_width());
        let width = qw + 2 * kvw;
        let x = Rows::new(&s.x, d.hidden);
        let normed = Rows::new(&s.normed, d.hidden);
        ops::rms_norm(pass, x, &layer.attn_norm, normed, n, 1, d.hidden, d.eps)?;
        let qkv = Rows::new(&s.qkv, width);
        match &layer.qkv {
            Qkv::Fused(w) => ops::matmul(pass, w, normed, qkv, n)?,
            Qkv::Separate([q, k, v]) => {
                ops::matmul(pass, q, normed, qkv, n)?;
                ops::matmul(pass, k, normed, qkv.shifted(qw), n)?;
                ops::matmul(pass, v, normed, qkv.shifted(qw + kvw), n)?;
            }
        }
        // qwen2's biases: one row added to every token's queries, keys and values.
        for (bias, offset) in layer.biases.iter().zip([0, qw, qw + kvw]) {
            if let Some(bias) = bias {
                let rows = Rows {
                    buffer: bias,
                    offset: 0,
                    stride: 0,
                };
                let width = if offset == 0 { qw } else { kvw };
                ops::add(pass, qkv.shifted(offset), rows, width, n)?;
            }
        }
        // qwen3's per-head norms, into the same layout of another buffer.
        let (q, k) = match &layer.qk_norms {
            Some((q_norm, k_norm)) => {
                let normed = Rows::new(&s.qkv_normed, width);
                let (hd, eps) = (d.head_dim, d.eps);
                ops::rms_norm(pass, qkv, q_norm, normed, n, d.heads, hd, eps)?;
                let (k_in, k_out) = (qkv.shifted(qw), normed.shifted(qw));
                ops::rms_norm(pass, k_in, k_norm, k_out, n, d.kv_heads, hd, eps)?;
                (normed, k_out)
            }
            None => (qkv, qkv.shifted(qw)),
        };
        let rotation = |heads| Rotation {
            heads,
            head_dim: d.head_dim,
            rope_dim: d.rope_dim,
            neox: d.neox,
        };
        ops::rope(pass, q, &s.angles, rotation(d.heads), n)?;
        ops::rope(pass, k, &s.angles, rotation(d.kv_heads), n)?;
        ops::kv_store(pass, cache, k, qkv.shifted(qw + kvw), pos, n)?;
        let scores = s
            .scores
            .as_ref()
            .ok_or_else(|| GpuError::Shape("no score buffer".into()))?;
        let attention = Attention {
            heads: d.heads,
            kv_heads: d.kv_heads,
            head_dim: d.head_dim,
            pos0: pos,
            tokens: n,
            keys: pos + n,
            window: d.window,
            scale: 1.0 / (d.head_dim as f32).sqrt(),
            causal: true,
        };
        ops::attention(pass, q, cache, scores, &s.attn, attention)?;
        let projected = Rows::new(&s.projected, d.hidden);
        ops::matmul(pass, &layer.o, Rows::new(&s.attn, qw), projected, n)?;
        ops::add(pass, x, projected, d.hidden, n)
    }

    fn feed_forward_block(
        &self,
        pass: &mut Pass<'_>,
        layer: &Layer,
        n: usize,
    ) -> Result<(), GpuError> {
        let (d, s) = (&self.dims, &self.scratch);
        let x = Rows::new(&s.x, d.hidden);
        let normed = Rows::new(&s.normed, d.hidden);
        ops::rms_norm(pass, x, &layer.ffn_norm, normed, n, 1, d.hidden, d.eps)?;
        let both = Rows::new(&s.gate_up, 2 * d.ff);
        match &layer.gate_up {
            GateUp::Fused(w) => ops::matmul(pass, w, normed, both, n)?,
            GateUp::Separate(gate, up) => {
                ops::matmul(pass, gate, normed, both, n)?;
                ops::matmul(pass, up, normed, both.shifted(d.ff), n)?;
            }
        }
        ops::silu_mul(pass, both, both.shifted(d.ff), &s.gated, d.ff, n)?;
        let projected = Rows::new(&s.projected, d.hidden);
        ops::matmul(pass, &layer.down, Rows::new(&s.gated, d.ff), projected, n)?;
        ops::add(pass, x, projected, d.hidden, n)
    }

    /// cos and sin of every rotated pair at positions `pos..pos + n`, as the CPU path computes
    /// them.
    fn angles(&self, pos: usize, n: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * self.inv_freq.len() * 2);
        for p in pos..pos + n {
            for freq in &self.inv_freq {
                let angle = p as f32 * freq;
                out.extend([angle.cos(), angle.sin()]);
            }
        }
        out
    }
}

impl Scratch {
    fn new(gpu: &Gpu, d: &Dims) -> Result<Scratch, InferError> {
        let floats = |n: usize, label: &str| gpu.buffer(n as u64 * 4, label);
        let t = PASS_TOKENS;
        let width = d.q_width() + 2 * d.kv_width();
        let scratch = (|| {
            Ok::<_, GpuError>(Scratch {
                ids: floats(t, "token ids")?,
                angles: floats(t * d.rope_dim, "rotary angles")?,
                x: floats(t * d.hidden, "hidden states")?,
                normed: floats(t * d.hidden, "normed states")?,
                qkv: floats(t * width, "queries, keys, values")?,
                qkv_normed: floats(t * width, "normed queries and keys")?,
                attn: floats(t * d.q_width(), "attention output")?,
                projected: floats(t * d.hidden, "projection")?,
                gate_up: floats(t * 2 * d.ff, "gate and up")?,
                gated: floats(t * d.ff, "gated")?,
                logits: floats(d.vocab, "logits")?,
                token: floats(1, "next token")?,
                scores: None,
            })
        })();
        scratch.map_err(gpu_error)
    }
}
