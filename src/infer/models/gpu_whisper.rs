//! Whisper on a wgpu device, computing as [`crate::infer::models::whisper`] does
//! (transformers' `modeling_whisper.py`: erf GELU, the checkpoint's positions): the two
//! convolutions as patches × weight products, pre-LN encoder layers, and a decoder whose
//! self-attention cache and cross-attention keys/values (computed once per window) live on the
//! GPU. The encoder runs in one submission; each decode step in one more, reading back one
//! row of logits.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use hubble_gpu::ops::{self, Attention, Conv1d, KvCache, Rows};
use hubble_gpu::{Buffer, Gpu, GpuError, KvType, Pass, Weight};

use crate::infer::InferError;
use crate::infer::models::gpu_tensors::{SafetensorsUpload, gpu_error, linear};
use crate::infer::models::whisper::WhisperConfig;

/// The LayerNorm epsilon of every Whisper norm.
const EPS: f32 = 1e-5;

struct AttentionWeights {
    q: (Weight, Buffer),
    k: Weight,
    v: (Weight, Buffer),
    out: (Weight, Buffer),
}

impl AttentionWeights {
    fn load(up: &SafetensorsUpload<'_>, name: &str) -> Result<AttentionWeights, InferError> {
        Ok(AttentionWeights {
            q: up.linear(&format!("{name}.q_proj"))?,
            k: up.weight(&format!("{name}.k_proj.weight"))?,
            v: up.linear(&format!("{name}.v_proj"))?,
            out: up.linear(&format!("{name}.out_proj"))?,
        })
    }
}

struct Layer {
    self_attn: AttentionWeights,
    self_norm: (Buffer, Buffer),
    cross: Option<(AttentionWeights, (Buffer, Buffer))>,
    fc1: (Weight, Buffer),
    fc2: (Weight, Buffer),
    final_norm: (Buffer, Buffer),
}

impl Layer {
    fn load(up: &SafetensorsUpload<'_>, name: &str, cross: bool) -> Result<Layer, InferError> {
        let cross = if cross {
            Some((
                AttentionWeights::load(up, &format!("{name}.encoder_attn"))?,
                up.norm(&format!("{name}.encoder_attn_layer_norm"))?,
            ))
        } else {
            None
        };
        Ok(Layer {
            self_attn: AttentionWeights::load(up, &format!("{name}.self_attn"))?,
            self_norm: up.norm(&format!("{name}.self_attn_layer_norm"))?,
            cross,
            fc1: up.linear(&format!("{name}.fc1"))?,
            fc2: up.linear(&format!("{name}.fc2"))?,
            final_norm: up.norm(&format!("{name}.final_layer_norm"))?,
        })
    }
}

/// The activations of one pass of `n` rows.
struct Scratch {
    x: Buffer,
    normed: Buffer,
    qkv: Buffer,
    attn: Buffer,
    projected: Buffer,
    inner: Buffer,
    scores: Buffer,
}

impl Scratch {
    fn new(
        gpu: &Gpu,
        n: usize,
        d: usize,
        ffn: usize,
        heads: usize,
        keys: usize,
    ) -> Result<Scratch, GpuError> {
        let floats = |count: usize, label: &str| gpu.buffer(count as u64 * 4, label);
        Ok(Scratch {
            x: floats(n * d, "hidden")?,
            normed: floats(n * d, "normed")?,
            qkv: floats(n * 3 * d, "queries, keys, values")?,
            attn: floats(n * d, "attention")?,
            projected: floats(n * d, "projection")?,
            inner: floats(n * ffn, "feed-forward")?,
            scores: floats(heads * n * keys, "scores")?,
        })
    }
}

/// A Whisper model on a wgpu device: [`GpuWhisper::encode`] a window, then
/// [`GpuWhisper::decode`] tokens against it.
pub struct GpuWhisper {
    gpu: Arc<Gpu>,
    config: WhisperConfig,
    conv1: (Weight, Buffer),
    conv2: (Weight, Buffer),
    encoder_positions: Buffer,
    encoder_layers: Vec<Layer>,
    encoder_norm: (Buffer, Buffer),
    embed_tokens: Weight,
    decoder_positions: Weight,
    decoder_layers: Vec<Layer>,
    decoder_norm: (Buffer, Buffer),
    self_caches: Vec<KvCache>,
    cross_caches: Vec<KvCache>,
    /// Encoder positions of the current window (0 before the first).
    source_len: usize,
    past: usize,
}

impl GpuWhisper {
    /// Uploads a transformers Whisper checkpoint to `gpu`.
    pub fn load(
        config: WhisperConfig,
        files: &[std::path::PathBuf],
        gpu: Arc<Gpu>,
    ) -> Result<GpuWhisper, InferError> {
        let c = &config;
        if c.scale_embedding {
            return Err(InferError::Model(
                "scaled token embeddings have no wgpu path yet".into(),
            ));
        }
        let d = c.d_model;
        for heads in [c.encoder_attention_heads, c.decoder_attention_heads] {
            if heads == 0 || !d.is_multiple_of(heads) || (d / heads) % 2 == 1 {
                return Err(InferError::Model(format!(
                    "{d} dimensions in {heads} heads"
                )));
            }
        }
        let up = SafetensorsUpload::open(files, &gpu)?;
        let encoder_layers = (0..c.encoder_layers)
            .map(|i| Layer::load(&up, &format!("model.encoder.layers.{i}"), false))
            .collect::<Result<Vec<_>, _>>()?;
        let decoder_layers = (0..c.decoder_layers)
            .map(|i| Layer::load(&up, &format!("model.decoder.layers.{i}"), true))
            .collect::<Result<Vec<_>, _>>()?;
        let cache = |capacity| KvCache::new(&gpu, d, capacity, KvType::F32).map_err(gpu_error);
        let self_caches = (0..c.decoder_layers)
            .map(|_| cache(c.max_target_positions))
            .collect::<Result<Vec<_>, _>>()?;
        let cross_caches = (0..c.decoder_layers)
            .map(|_| cache(c.max_source_positions))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GpuWhisper {
            conv1: up.linear("model.encoder.conv1")?,
            conv2: up.linear("model.encoder.conv2")?,
            encoder_positions: up.vector("model.encoder.embed_positions.weight")?,
            encoder_layers,
            encoder_norm: up.norm("model.encoder.layer_norm")?,
            embed_tokens: up.weight("model.decoder.embed_tokens.weight")?,
            decoder_positions: up.weight("model.decoder.embed_positions.weight")?,
            decoder_layers,
            decoder_norm: up.norm("model.decoder.layer_norm")?,
            self_caches,
            cross_caches,
            source_len: 0,
            past: 0,
            config,
            gpu,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }

    /// The adapter it runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Encodes one window of log-mel features `(1, n_mels, frames)` and computes every decoder
    /// layer's cross-attention keys and values from it; the decoder restarts.
    pub fn encode(&mut self, mel: &Tensor) -> Result<(), InferError> {
        let (_, mels, frames) = mel.dims3()?;
        let values: Vec<f32> = mel.flatten_all()?.to_vec1()?;
        self.source_len = self
            .encode_on_gpu(&values, mels, frames)
            .map_err(gpu_error)?;
        self.past = 0;
        Ok(())
    }

    fn encode_on_gpu(
        &mut self,
        mel: &[f32],
        mels: usize,
        frames: usize,
    ) -> Result<usize, GpuError> {
        let (gpu, c) = (&*self.gpu, &self.config);
        let d = c.d_model;
        let first = Conv1d {
            channels: mels,
            in_len: frames,
            kernel: 3,
            stride: 1,
            pad: 1,
            channel_major: true,
        };
        let second = Conv1d {
            channels: d,
            in_len: first.out_len(),
            kernel: 3,
            stride: 2,
            pad: 1,
            channel_major: false,
        };
        let n = second.out_len();
        if n > c.max_source_positions {
            return Err(GpuError::Shape(format!(
                "{n} encoder positions exceed {}",
                c.max_source_positions
            )));
        }
        let mel = gpu.upload_f32(mel, "log-mel")?;
        let patches = gpu.buffer(
            (first.out_len() * (mels * 3).max(d * 3)) as u64 * 4,
            "patches",
        )?;
        let convolved = gpu.buffer((first.out_len() * d) as u64 * 4, "convolved")?;
        let heads = c.encoder_attention_heads;
        let s = Scratch::new(gpu, n, d, c.encoder_ffn_dim, heads, n)?;
        let cache = KvCache::new(gpu, d, n, KvType::F32)?;
        let mut pass = Pass::new(gpu);
        let p = &mut pass;
        let rows = |buffer| Rows::new(buffer, d);
        ops::im2col(p, &mel, &patches, first)?;
        linear(
            p,
            &self.conv1,
            Rows::new(&patches, mels * 3),
            rows(&convolved),
            first.out_len(),
        )?;
        ops::gelu(p, &convolved, first.out_len() * d)?;
        ops::im2col(p, &convolved, &patches, second)?;
        linear(p, &self.conv2, Rows::new(&patches, d * 3), rows(&s.x), n)?;
        ops::gelu(p, &s.x, n * d)?;
        ops::add(p, rows(&s.x), rows(&self.encoder_positions), d, n)?;
        let attention = Attention {
            heads,
            kv_heads: heads,
            head_dim: d / heads,
            pos0: 0,
            tokens: n,
            keys: n,
            window: 0,
            scale: 1.0 / ((d / heads) as f32).sqrt(),
            causal: false,
            softcap: 0.0,
        };
        for layer in &self.encoder_layers {
            self_attention_block(p, layer, &s, &cache, attention, d)?;
            feed_forward_block(p, layer, &s, n, d)?;
        }
        let (w, b) = &self.encoder_norm;
        ops::layer_norm(p, rows(&s.x), w, b, &s.normed, n, d, EPS)?;
        // Every decoder layer's cross-attention keys and values, once per window.
        for (layer, cache) in self.decoder_layers.iter().zip(&self.cross_caches) {
            let Some((cross, _)) = &layer.cross else {
                continue;
            };
            let kv = Rows::new(&s.qkv, 2 * d);
            ops::matmul(p, &cross.k, rows(&s.normed), kv, n)?;
            linear(p, &cross.v, rows(&s.normed), kv.shifted(d), n)?;
            ops::kv_store(p, cache, kv, kv.shifted(d), 0, n)?;
        }
        pass.submit()?;
        Ok(n)
    }

    /// Forgets the decoded tokens, keeping the window (a new prompt, same audio).
    pub fn restart(&mut self) {
        self.past = 0;
    }

    /// Feeds `tokens` after those already decoded; returns the last one's logits `(1, vocab)`.
    pub fn decode(&mut self, tokens: &[u32]) -> Result<Tensor, InferError> {
        let n = tokens.len();
        if self.source_len == 0 {
            return Err(InferError::Model("decode before encode".into()));
        }
        if n == 0 || self.past + n > self.config.max_target_positions {
            return Err(InferError::InvalidInput(format!(
                "{n} tokens after {} exceed {} decoder positions",
                self.past, self.config.max_target_positions
            )));
        }
        if let Some(bad) = tokens
            .iter()
            .find(|&&t| t as usize >= self.embed_tokens.rows())
        {
            return Err(InferError::InvalidInput(format!(
                "token {bad} is outside the vocabulary"
            )));
        }
        let logits = self.decode_on_gpu(tokens).map_err(gpu_error)?;
        self.past += n;
        let vocab = logits.len();
        Ok(Tensor::from_vec(logits, (1, vocab), &Device::Cpu)?)
    }

    fn decode_on_gpu(&self, tokens: &[u32]) -> Result<Vec<f32>, GpuError> {
        let (gpu, c) = (&*self.gpu, &self.config);
        let (n, d, heads) = (tokens.len(), c.d_model, c.decoder_attention_heads);
        let keys = self.source_len.max(self.past + n);
        let s = Scratch::new(gpu, n, d, c.decoder_ffn_dim, heads, keys)?;
        let ids = gpu.upload(bytemuck::cast_slice(tokens), "token ids")?;
        let positions: Vec<u32> = (self.past as u32..(self.past + n) as u32).collect();
        let positions = gpu.upload(bytemuck::cast_slice(&positions), "positions")?;
        let vocab = self.embed_tokens.rows();
        let logits = gpu.buffer(vocab as u64 * 4, "logits")?;
        let mut pass = Pass::new(gpu);
        let p = &mut pass;
        let rows = |buffer| Rows::new(buffer, d);
        ops::get_rows(p, &self.embed_tokens, &ids, &s.x, n)?;
        ops::get_rows(p, &self.decoder_positions, &positions, &s.projected, n)?;
        ops::add(p, rows(&s.x), rows(&s.projected), d, n)?;
        let self_attention = Attention {
            heads,
            kv_heads: heads,
            head_dim: d / heads,
            pos0: self.past,
            tokens: n,
            keys: self.past + n,
            window: 0,
            scale: 1.0 / ((d / heads) as f32).sqrt(),
            causal: true,
            softcap: 0.0,
        };
        let cross_attention = Attention {
            keys: self.source_len,
            causal: false,
            ..self_attention
        };
        for ((layer, own), source) in self
            .decoder_layers
            .iter()
            .zip(&self.self_caches)
            .zip(&self.cross_caches)
        {
            self_attention_block(p, layer, &s, own, self_attention, d)?;
            if let Some((cross, (w, b))) = &layer.cross {
                ops::layer_norm(p, rows(&s.x), w, b, &s.normed, n, d, EPS)?;
                linear(p, &cross.q, rows(&s.normed), rows(&s.qkv), n)?;
                ops::attention(p, rows(&s.qkv), source, &s.scores, &s.attn, cross_attention)?;
                linear(p, &cross.out, rows(&s.attn), rows(&s.projected), n)?;
                ops::add(p, rows(&s.x), rows(&s.projected), d, n)?;
            }
            feed_forward_block(p, layer, &s, n, d)?;
        }
        let (w, b) = &self.decoder_norm;
        let last = rows(&s.x).shifted((n - 1) * d);
        ops::layer_norm(p, last, w, b, &s.normed, 1, d, EPS)?;
        ops::matmul(
            p,
            &self.embed_tokens,
            rows(&s.normed),
            Rows::new(&logits, vocab),
            1,
        )?;
        pass.submit_and_read_f32(&logits, 0, vocab)
    }
}

/// `x += attention(LN(x))`, its keys and values stored in `cache` at `a.pos0`.
fn self_attention_block(
    p: &mut Pass<'_>,
    layer: &Layer,
    s: &Scratch,
    cache: &KvCache,
    a: Attention,
    d: usize,
) -> Result<(), GpuError> {
    let n = a.tokens;
    let rows = |buffer| Rows::new(buffer, d);
    let (w, b) = &layer.self_norm;
    ops::layer_norm(p, rows(&s.x), w, b, &s.normed, n, d, EPS)?;
    let qkv = Rows::new(&s.qkv, 3 * d);
    let weights = &layer.self_attn;
    linear(p, &weights.q, rows(&s.normed), qkv, n)?;
    ops::matmul(p, &weights.k, rows(&s.normed), qkv.shifted(d), n)?;
    linear(p, &weights.v, rows(&s.normed), qkv.shifted(2 * d), n)?;
    ops::kv_store(p, cache, qkv.shifted(d), qkv.shifted(2 * d), a.pos0, n)?;
    ops::attention(p, qkv, cache, &s.scores, &s.attn, a)?;
    linear(p, &weights.out, rows(&s.attn), rows(&s.projected), n)?;
    ops::add(p, rows(&s.x), rows(&s.projected), d, n)
}

/// `x += fc2(gelu(fc1(LN(x))))`.
fn feed_forward_block(
    p: &mut Pass<'_>,
    layer: &Layer,
    s: &Scratch,
    n: usize,
    d: usize,
) -> Result<(), GpuError> {
    let rows = |buffer| Rows::new(buffer, d);
    let ffn = layer.fc1.0.rows();
    let (w, b) = &layer.final_norm;
    ops::layer_norm(p, rows(&s.x), w, b, &s.normed, n, d, EPS)?;
    linear(p, &layer.fc1, rows(&s.normed), Rows::new(&s.inner, ffn), n)?;
    ops::gelu(p, &s.inner, n * ffn)?;
    linear(
        p,
        &layer.fc2,
        Rows::new(&s.inner, ffn),
        rows(&s.projected),
        n,
    )?;
    ops::add(p, rows(&s.x), rows(&s.projected), d, n)
}
