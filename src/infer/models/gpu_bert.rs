//! BERT (and MiniLM, its distilled sizes) on a wgpu device: word, position and token-type
//! embeddings, post-LN layers of bidirectional attention and an exact-GELU feed-forward, as
//! transformers' `BertModel` computes them. One text per pass (no padding, so no mask), the
//! whole encoder in one submission, its last hidden states read back.

use std::sync::Arc;

use hubble_gpu::ops::{self, Attention, KvCache, Rows};
use hubble_gpu::{Buffer, Gpu, GpuError, KvType, Pass, Weight};
use serde_json::Value;

use crate::infer::InferError;
use crate::infer::models::gpu_tensors::{SafetensorsUpload, gpu_error, linear};

struct Layer {
    q: (Weight, Buffer),
    k: (Weight, Buffer),
    v: (Weight, Buffer),
    o: (Weight, Buffer),
    attn_norm: (Buffer, Buffer),
    up: (Weight, Buffer),
    down: (Weight, Buffer),
    out_norm: (Buffer, Buffer),
}

/// A BERT encoder on a wgpu device.
pub struct GpuBert {
    gpu: Arc<Gpu>,
    hidden: usize,
    heads: usize,
    ff: usize,
    eps: f32,
    max_positions: usize,
    word: Weight,
    position: Weight,
    token_type: Weight,
    embedding_norm: (Buffer, Buffer),
    layers: Vec<Layer>,
}

fn count(config: &Value, key: &str) -> Result<usize, InferError> {
    config
        .get(key)
        .and_then(Value::as_u64)
        .map(|n| n as usize)
        .ok_or_else(|| InferError::Model(format!("config.json has no {key}")))
}

impl GpuBert {
    /// Uploads a BERT checkpoint (config.json as read, its safetensors files) to `gpu`.
    pub fn load(
        config: &Value,
        files: &[std::path::PathBuf],
        gpu: Arc<Gpu>,
    ) -> Result<GpuBert, InferError> {
        let hidden = count(config, "hidden_size")?;
        let heads = count(config, "num_attention_heads")?;
        if heads == 0 || !hidden.is_multiple_of(heads) || (hidden / heads) % 2 == 1 {
            return Err(InferError::Model(format!(
                "{hidden} dimensions in {heads} heads"
            )));
        }
        let act = config
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("gelu");
        if act != "gelu" {
            return Err(InferError::Model(format!(
                "{act} activations have no wgpu path yet"
            )));
        }
        let eps = config
            .get("layer_norm_eps")
            .and_then(Value::as_f64)
            .unwrap_or(1e-12) as f32;
        let mut up = SafetensorsUpload::open(files, &gpu)?;
        if up.has("bert.embeddings.word_embeddings.weight") {
            up = up.with_prefix("bert.");
        }
        let mut layers = Vec::new();
        for i in 0..count(config, "num_hidden_layers")? {
            let name = |part: &str| format!("encoder.layer.{i}.{part}");
            layers.push(Layer {
                q: up.linear(&name("attention.self.query"))?,
                k: up.linear(&name("attention.self.key"))?,
                v: up.linear(&name("attention.self.value"))?,
                o: up.linear(&name("attention.output.dense"))?,
                attn_norm: up.norm(&name("attention.output.LayerNorm"))?,
                up: up.linear(&name("intermediate.dense"))?,
                down: up.linear(&name("output.dense"))?,
                out_norm: up.norm(&name("output.LayerNorm"))?,
            });
        }
        Ok(GpuBert {
            hidden,
            heads,
            ff: count(config, "intermediate_size")?,
            eps,
            word: up.weight("embeddings.word_embeddings.weight")?,
            position: up.weight("embeddings.position_embeddings.weight")?,
            token_type: up.weight("embeddings.token_type_embeddings.weight")?,
            max_positions: count(config, "max_position_embeddings")?,
            embedding_norm: up.norm("embeddings.LayerNorm")?,
            layers,
            gpu,
        })
    }

    /// The adapter it runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The last hidden states of one text (`ids` with their `type_ids`), `len × hidden`.
    pub fn forward(&self, ids: &[u32], type_ids: &[u32]) -> Result<Vec<f32>, InferError> {
        let n = ids.len();
        if n == 0 || n > self.max_positions || type_ids.len() != n {
            return Err(InferError::InvalidInput(format!(
                "{n} tokens for an encoder of {} positions",
                self.max_positions
            )));
        }
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= self.word.rows()) {
            return Err(InferError::InvalidInput(format!(
                "token {bad} is outside the vocabulary"
            )));
        }
        self.encode(ids, type_ids).map_err(gpu_error)
    }

    fn encode(&self, ids: &[u32], type_ids: &[u32]) -> Result<Vec<f32>, GpuError> {
        let (gpu, n, h) = (&*self.gpu, ids.len(), self.hidden);
        let floats = |count: usize, label: &str| gpu.buffer(count as u64 * 4, label);
        let positions: Vec<u32> = (0..n as u32).collect();
        let upload = |values: &[u32], label: &str| gpu.upload(bytemuck::cast_slice(values), label);
        let (id_buffer, position_ids, type_buffer) = (
            upload(ids, "token ids")?,
            upload(&positions, "positions")?,
            upload(type_ids, "token types")?,
        );
        let (x, sum, scratch) = (
            floats(n * h, "hidden")?,
            floats(n * h, "sum")?,
            floats(n * h, "rows")?,
        );
        let qkv = floats(n * 3 * h, "queries, keys, values")?;
        let (attn, inner) = (
            floats(n * h, "attention")?,
            floats(n * self.ff, "feed-forward")?,
        );
        let scores = floats(self.heads * n * n, "scores")?;
        let cache = KvCache::new(gpu, h, n, KvType::F32)?;
        let mut pass = Pass::new(gpu);
        let p = &mut pass;
        // Embeddings: word + position + token type, normed.
        ops::get_rows(p, &self.word, &id_buffer, &sum, n)?;
        ops::get_rows(p, &self.position, &position_ids, &scratch, n)?;
        ops::add(p, Rows::new(&sum, h), Rows::new(&scratch, h), h, n)?;
        ops::get_rows(p, &self.token_type, &type_buffer, &scratch, n)?;
        ops::add(p, Rows::new(&sum, h), Rows::new(&scratch, h), h, n)?;
        let (w, b) = &self.embedding_norm;
        ops::layer_norm(p, Rows::new(&sum, h), w, b, &x, n, h, self.eps)?;
        let linear = |p: &mut Pass<'_>, layer, input, out| linear(p, layer, input, out, n);
        let attention = Attention {
            heads: self.heads,
            kv_heads: self.heads,
            head_dim: h / self.heads,
            pos0: 0,
            tokens: n,
            keys: n,
            window: 0,
            scale: 1.0 / ((h / self.heads) as f32).sqrt(),
            causal: false,
            softcap: 0.0,
        };
        let rows = |buffer| Rows::new(buffer, h);
        for layer in &self.layers {
            let all = Rows::new(&qkv, 3 * h);
            linear(p, &layer.q, rows(&x), all)?;
            linear(p, &layer.k, rows(&x), all.shifted(h))?;
            linear(p, &layer.v, rows(&x), all.shifted(2 * h))?;
            ops::kv_store(p, &cache, all.shifted(h), all.shifted(2 * h), 0, n)?;
            ops::attention(p, all, &cache, &scores, &attn, attention)?;
            // x = LN(x + attention · O + b)
            linear(p, &layer.o, rows(&attn), rows(&sum))?;
            ops::add(p, rows(&sum), rows(&x), h, n)?;
            let (w, b) = &layer.attn_norm;
            ops::layer_norm(p, rows(&sum), w, b, &x, n, h, self.eps)?;
            // x = LN(x + gelu(x · U + b) · D + b)
            linear(p, &layer.up, rows(&x), Rows::new(&inner, self.ff))?;
            ops::gelu(p, &inner, n * self.ff)?;
            linear(p, &layer.down, Rows::new(&inner, self.ff), rows(&sum))?;
            ops::add(p, rows(&sum), rows(&x), h, n)?;
            let (w, b) = &layer.out_norm;
            ops::layer_norm(p, rows(&sum), w, b, &x, n, h, self.eps)?;
        }
        pass.submit_and_read_f32(&x, 0, n * h)
    }
}
