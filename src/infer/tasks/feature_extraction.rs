//! Feature extraction / sentence similarity: a BERT encoder, the sentence-transformers pooling
//! named in modules.json + 1_Pooling/config.json (mean, CLS or max), optional L2 normalisation,
//! and a cosine-similarity matrix.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use candle_core::{D, DType, Device, Tensor};
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use hubble_gpu::Gpu;
use serde::Serialize;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::infer::facts::ModelFacts;
use crate::infer::models::causal::safetensors_files;
use crate::infer::models::gpu_bert::GpuBert;
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
use crate::infer::{InferError, device, read_json};

/// How token embeddings become one sentence embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean of the non-padding tokens.
    Mean,
    /// The first ([CLS]) token.
    Cls,
    /// Element-wise max over the non-padding tokens.
    Max,
}

/// Sentences to embed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct EmbeddingRequest {
    /// The sentences (one embedding each).
    pub sentences: Vec<String>,
}

/// Embeddings and their pairwise cosine similarities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingOutput {
    /// The input sentences.
    pub sentences: Vec<String>,
    /// One vector per sentence.
    pub embeddings: Vec<Vec<f32>>,
    /// `similarity[i][j]` = cosine similarity of sentences i and j.
    pub similarity: Vec<Vec<f32>>,
    /// The pooling used.
    pub pooling: Pooling,
    /// Whether the vectors were L2-normalised.
    pub normalized: bool,
    /// Tokens read, special tokens included.
    pub tokens: usize,
}

impl EmbeddingOutput {
    /// The other sentences as (index, similarity to the first), most similar first.
    pub fn ranked_against_first(&self) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> = self
            .similarity
            .first()
            .map(|row| row.iter().copied().enumerate().skip(1).collect())
            .unwrap_or_default();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }
}

/// Where the encoder computes.
enum Backend {
    Candle(BertModel),
    Gpu(GpuBert),
}

/// A loaded BERT sentence encoder.
pub struct Embedder {
    model: Backend,
    tokenizer: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    device: Device,
    description: String,
}

impl Embedder {
    /// Loads config.json, model.safetensors, tokenizer.json and the sentence-transformers files,
    /// onto `gpu` when one is offered, else onto `device`.
    pub fn load_dir(
        dir: &Path,
        device: &Device,
        gpu: Option<&Arc<Gpu>>,
    ) -> Result<Embedder, InferError> {
        let config_path = dir.join("config.json");
        let raw_config = read_json(&config_path)?;
        let config: BertConfig = serde_json::from_value(raw_config.clone())
            .map_err(|e| InferError::file(&config_path, e))?;
        let files = safetensors_files(dir)?;
        let (model, placement) = match gpu {
            Some(gpu) => {
                let model = GpuBert::load(&raw_config, &files, Arc::clone(gpu))?;
                (Backend::Gpu(model), device::describe_gpu(gpu))
            }
            None => {
                let vb = crate::infer::models::mmap_weights(&files, device)?;
                (
                    Backend::Candle(BertModel::load(vb, &config)?),
                    device::describe(device),
                )
            }
        };
        let mut tokenizer = crate::infer::tokenizers::read_tokenizer(dir)?;
        let max_len = read_json(&dir.join("sentence_bert_config.json"))
            .ok()
            .and_then(|c| c.get("max_seq_length").and_then(|v| v.as_u64()))
            .map(|n| n as usize)
            .unwrap_or(config.max_position_embeddings)
            .min(config.max_position_embeddings);
        let pad_id = config.pad_token_id as u32;
        let pad_token = tokenizer
            .id_to_token(pad_id)
            .unwrap_or_else(|| "[PAD]".into());
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..TruncationParams::default()
            }))
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        let (pooling, normalize) = sentence_transformers_head(dir)?;
        Ok(Embedder {
            model,
            tokenizer,
            pooling,
            normalize,
            device: device.clone(),
            description: format!(
                "bert ({pooling:?} pooling{}, max {max_len} tokens) on {placement}",
                if normalize { ", normalised" } else { "" }
            ),
        })
    }

    /// Embeds sentences (one batch); also returns the tokens read (special tokens included).
    pub fn embed(&self, sentences: &[String]) -> Result<(Vec<Vec<f32>>, usize), InferError> {
        if sentences.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let encodings = self
            .tokenizer
            .encode_batch(sentences.to_vec(), true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> Result<Tensor, InferError> {
            let rows: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(f(e).as_slice(), &self.device))
                .collect::<Result<_, _>>()?;
            Ok(Tensor::stack(&rows, 0)?)
        };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let type_ids = rows(&|e| e.get_type_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        let tokens = encodings
            .iter()
            .map(|e| e.get_attention_mask().iter().filter(|&&m| m == 1).count())
            .sum();
        let hidden = match &self.model {
            Backend::Candle(model) => model.forward(&ids, &type_ids, Some(&mask))?,
            Backend::Gpu(model) => gpu_hidden_states(model, &encodings)?,
        }; // (batch, seq, dim)
        let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (batch, seq, 1)
        let pooled = match self.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean => {
                let sum = hidden.broadcast_mul(&mask_f)?.sum(1)?;
                let count = mask_f.sum(1)?.clamp(1e-9, f64::MAX)?;
                sum.broadcast_div(&count)?
            }
            Pooling::Max => {
                // Padding positions get a very negative value so they never win the max.
                let penalty = ((mask_f.ones_like()? - &mask_f)? * -1e9)?;
                hidden.broadcast_add(&penalty)?.max(1)?
            }
        };
        let pooled = if self.normalize {
            let norm = pooled
                .sqr()?
                .sum_keepdim(D::Minus1)?
                .sqrt()?
                .clamp(1e-12, f64::MAX)?;
            pooled.broadcast_div(&norm)?
        } else {
            pooled
        };
        Ok((pooled.to_vec2::<f32>()?, tokens))
    }
}

impl Pipeline for Embedder {
    type Input = EmbeddingRequest;
    type Output = EmbeddingOutput;

    fn load(
        dir: &Path,
        _plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<Embedder, InferError> {
        ctx.emit(Event::Status("loading BERT weights".into()));
        Embedder::load_dir(dir, device, ctx.gpu())
    }

    fn run(
        &mut self,
        input: EmbeddingRequest,
        ctx: &RunContext,
    ) -> Result<EmbeddingOutput, InferError> {
        let mut embeddings = Vec::with_capacity(input.sentences.len());
        let mut tokens = 0;
        // Batches of 32 so a long list can be stopped between batches.
        for chunk in input.sentences.chunks(32) {
            if ctx.is_cancelled() {
                return Err(InferError::Cancelled);
            }
            let (vectors, read) = self.embed(chunk)?;
            embeddings.extend(vectors);
            tokens += read;
        }
        Ok(EmbeddingOutput {
            similarity: similarity_matrix(&embeddings),
            sentences: input.sentences,
            embeddings,
            pooling: self.pooling,
            normalized: self.normalize,
            tokens,
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The last hidden states of a padded batch from the GPU encoder, one text per pass over its
/// own tokens (so no mask is needed), zero at the padding (which pooling masks out anyway):
/// `(batch, seq, hidden)` on the CPU.
fn gpu_hidden_states(
    model: &GpuBert,
    encodings: &[tokenizers::Encoding],
) -> Result<Tensor, InferError> {
    let seq = encodings.first().map_or(0, |e| e.get_ids().len());
    let mut rows = Vec::with_capacity(encodings.len());
    let mut hidden = 0;
    for encoding in encodings {
        let len = encoding
            .get_attention_mask()
            .iter()
            .filter(|&&m| m == 1)
            .count()
            .max(1);
        let states = model.forward(&encoding.get_ids()[..len], &encoding.get_type_ids()[..len])?;
        hidden = states.len() / len;
        let mut padded = states;
        padded.resize(seq * hidden, 0.0);
        rows.push(padded);
    }
    let flat: Vec<f32> = rows.concat();
    Ok(Tensor::from_vec(
        flat,
        (encodings.len(), seq, hidden),
        &Device::Cpu,
    )?)
}

/// The pooling and normalisation a sentence-transformers folder declares (modules.json with a
/// Pooling module and its config.json; a Normalize module). Without modules.json: mean pooling,
/// no normalisation.
pub fn sentence_transformers_head(dir: &Path) -> Result<(Pooling, bool), InferError> {
    let Ok(modules) = read_json(&dir.join("modules.json")) else {
        return Ok((Pooling::Mean, false));
    };
    let modules = modules.as_array().cloned().unwrap_or_default();
    let kind = |m: &serde_json::Value| {
        m.get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let normalize = modules.iter().any(|m| kind(m) == "Normalize");
    let mut pooling = Pooling::Mean;
    if let Some(module) = modules.iter().find(|m| kind(m) == "Pooling") {
        let path = module
            .get("path")
            .and_then(|p| p.as_str())
            .unwrap_or("1_Pooling");
        let config_path = crate::cache::safe_join(dir, path)
            .map(|p| p.join("config.json"))
            .ok_or_else(|| InferError::InvalidInput(format!("bad pooling path {path:?}")))?;
        let config = read_json(&config_path)?;
        let flag = |k: &str| config.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
        pooling = if flag("pooling_mode_cls_token") {
            Pooling::Cls
        } else if flag("pooling_mode_max_tokens") {
            Pooling::Max
        } else if flag("pooling_mode_mean_tokens") {
            Pooling::Mean
        } else {
            return Err(InferError::NotSupported {
                architecture: format!("the pooling in {}", config_path.display()),
                task: "feature-extraction".into(),
            });
        };
    }
    Ok((pooling, normalize))
}

/// Cosine similarity of every pair.
pub fn similarity_matrix(embeddings: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let norms: Vec<f32> = embeddings
        .iter()
        .map(|e| e.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12))
        .collect();
    embeddings
        .iter()
        .enumerate()
        .map(|(i, a)| {
            embeddings
                .iter()
                .enumerate()
                .map(|(j, b)| {
                    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (norms[i] * norms[j])
                })
                .collect()
        })
        .collect()
}

/// `feature-extraction`: one embedding per input.
pub const FEATURE_EXTRACTION: Task = Task::new("feature-extraction");
/// `sentence-similarity`: embeddings and their cosine similarity matrix.
pub const SENTENCE_SIMILARITY: Task = Task::new("sentence-similarity");

/// The plan's loader: a BERT sentence encoder (the only one so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BertEncoder;

/// The embeddings task file, as the registry lists it.
pub struct EmbeddingTask;

/// This task in the registry's list.
pub static MODULE: EmbeddingTask = EmbeddingTask;

impl TaskModule for EmbeddingTask {
    fn tasks(&self) -> &'static [Task] {
        &[FEATURE_EXTRACTION, SENTENCE_SIMILARITY]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[
            ("embed", FEATURE_EXTRACTION),
            ("embeddings", FEATURE_EXTRACTION),
            ("similarity", SENTENCE_SIMILARITY),
        ]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        (facts.has("modules.json")
            || facts.library_name.as_deref() == Some("sentence-transformers"))
        .then_some((Evidence::Files, SENTENCE_SIMILARITY))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        if facts.model_type.as_deref() == Some("bert") && facts.has_safetensors() {
            Ok(Plan::new(task, BertEncoder))
        } else {
            Err(not_supported(facts.architecture_name(), task))
        }
    }

    fn loader(&self) -> LoadFn {
        erase::<Embedder>
    }

    fn cli_request(&self, _task: Task, input: &RunInput) -> Result<Request, InferError> {
        Ok(Request::new(EmbeddingRequest {
            sentences: input.texts()?,
        }))
    }
}

impl HumanOutput for EmbeddingOutput {
    /// One sentence: its first values; several: the others ranked by similarity to the first.
    fn write_human(&self, out: &mut dyn Write, _log: &mut dyn Write) -> io::Result<()> {
        if self.sentences.len() == 1 {
            let dims = self.embeddings[0].len();
            let shown: Vec<String> = self.embeddings[0]
                .iter()
                .take(8)
                .map(|x| format!("{x:.4}"))
                .collect();
            return writeln!(out, "{dims} dimensions: [{}, …]", shown.join(", "));
        }
        writeln!(out, "cosine similarity to {:?}:", self.sentences[0])?;
        for (i, score) in self.ranked_against_first() {
            writeln!(out, "  {score:>7.4}  {}", self.sentences[i])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_similarity_matrix() {
        let m = similarity_matrix(&[vec![1.0, 0.0], vec![0.0, 2.0], vec![1.0, 1.0]]);
        assert!((m[0][0] - 1.0).abs() < 1e-6);
        assert!(m[0][1].abs() < 1e-6);
        assert!((m[0][2] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(m[1][2], m[2][1]);
    }

    #[test]
    fn reads_sentence_transformers_pooling() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            sentence_transformers_head(dir.path()).unwrap(),
            (Pooling::Mean, false)
        );
        std::fs::write(
            dir.path().join("modules.json"),
            r#"[{"idx":0,"path":"","type":"sentence_transformers.models.Transformer"},
                {"idx":1,"path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
                {"idx":2,"path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#,
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        std::fs::write(
            dir.path().join("1_Pooling/config.json"),
            r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
        )
        .unwrap();
        assert_eq!(
            sentence_transformers_head(dir.path()).unwrap(),
            (Pooling::Cls, true)
        );
        std::fs::write(
            dir.path().join("1_Pooling/config.json"),
            r#"{"pooling_mode_lasttoken": true}"#,
        )
        .unwrap();
        assert!(sentence_transformers_head(dir.path()).is_err());
    }
}
