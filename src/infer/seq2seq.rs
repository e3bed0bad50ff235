//! Translation and summarisation with T5-family encoder–decoders (T5, T5 v1.1, FLAN-T5, mT5
//! layouts that candle-transformers' `t5` loads): the task prefix from config.json's
//! `task_specific_params`, encode once, then decode token by token with the KV cache, streaming
//! text pieces and stopping at `</s>`, max tokens or the stop button.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::generation::LogitsProcessor;
use candle_transformers::models::t5::{Config as T5Config, T5ForConditionalGeneration};
use serde::Serialize;
use serde_json::Value;
use tokenizers::Tokenizer;

use super::causal::safetensors_files;
use super::pipeline::{Event, Pipeline, RunContext};
use super::registry::{Plan, Task};
use super::text_generation::{GenerationParams, StopReason, TokenStream, rate};
use super::{InferError, device, read_json};

/// One translation or summarisation job.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Seq2SeqRequest {
    /// The text to translate or summarise.
    pub text: String,
    /// The prefix to put before it (`translate English to German: `); `None` uses the task's
    /// own from config.json.
    pub prefix: Option<String>,
    /// Sampling and length (temperature 0 is greedy, as transformers' default).
    pub params: GenerationParams,
}

/// A finished translation or summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seq2SeqOutput {
    /// The generated text.
    pub text: String,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Input tokens (with the prefix).
    pub input_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Decoder steps per second.
    pub decode_tokens_per_s: f64,
    /// The generated ids.
    pub token_ids: Vec<u32>,
}

/// A loaded T5 model for one task.
pub struct Seq2Seq {
    model: T5ForConditionalGeneration,
    /// Multiplies candle's logits into transformers' (see `load_dir`).
    logit_scale: f64,
    tokenizer: Tokenizer,
    config: Value,
    task: Task,
    start_id: u32,
    eos_id: u32,
    device: Device,
    description: String,
}

impl Seq2Seq {
    /// Loads config.json, the safetensors weights and tokenizer.json from `dir`.
    pub fn load_dir(dir: &Path, task: Task, device: &Device) -> Result<Seq2Seq, InferError> {
        let config_path = dir.join("config.json");
        let config = read_json(&config_path)?;
        let mut t5: T5Config = serde_json::from_value(config.clone())
            .map_err(|e| InferError::file(&config_path, e))?;
        let files = safetensors_files(dir)?;
        // SAFETY: read-only mmap of files nobody truncates while loaded (see causal.rs).
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, DType::F32, device)? };
        // The output projection is `lm_head` when the checkpoint has one, else the shared
        // embeddings; transformers scales the decoder output by d_model^-0.5 when
        // `scale_decoder_outputs` says so (configs saved by transformers 5) or, in older configs,
        // when the embeddings are tied. candle scales by d_model^+0.5 whenever it ties, so the
        // logits are corrected by the ratio (they are linear in that factor).
        t5.tie_word_embeddings = !vb.contains_tensor("lm_head.weight");
        let hf_scales = config
            .get("scale_decoder_outputs")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| {
                config
                    .get("tie_word_embeddings")
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
            });
        let d_model = t5.d_model as f64;
        let wanted = if hf_scales { d_model.powf(-0.5) } else { 1.0 };
        let candle = if t5.tie_word_embeddings {
            d_model.sqrt()
        } else {
            1.0
        };
        let model = T5ForConditionalGeneration::load(vb, &t5)?;
        let tokenizer = super::read_tokenizer(dir)?;
        Ok(Seq2Seq {
            model,
            logit_scale: wanted / candle,
            tokenizer,
            task,
            start_id: t5.decoder_start_token_id.unwrap_or(t5.pad_token_id) as u32,
            eos_id: t5.eos_token_id as u32,
            description: format!(
                "t5 ({} layers, {}) for {task} on {}",
                t5.num_layers,
                if t5.feed_forward_proj.gated {
                    "gated feed-forward"
                } else {
                    "dense feed-forward"
                },
                device::describe(device)
            ),
            config,
            device: device.clone(),
        })
    }

    /// The prefixes config.json declares for this task, as (name, prefix):
    /// `summarization`, `translation_en_to_de`, ….
    pub fn prefixes(&self) -> Vec<(String, String)> {
        task_prefixes(&self.config, self.task)
    }

    /// The logits of one decoder step after `decoded` (which starts with the start token),
    /// recomputed from scratch (for parity checks).
    pub fn step_logits(&mut self, input: &[u32], decoded: &[u32]) -> Result<Vec<f32>, InferError> {
        self.model.clear_kv_cache();
        let input = Tensor::new(input, &self.device)?.unsqueeze(0)?;
        let decoded = Tensor::new(decoded, &self.device)?.unsqueeze(0)?;
        let logits = (self.model.forward(&input, &decoded)? * self.logit_scale)?;
        Ok(logits.squeeze(0)?.to_vec1::<f32>()?)
    }

    /// Tokenizes `prefix + text`.
    pub fn encode(&self, prefix: &str, text: &str) -> Result<Vec<u32>, InferError> {
        let encoding = self
            .tokenizer
            .encode(format!("{prefix}{text}"), true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Translates or summarises, streaming pieces through `ctx`.
    pub fn generate(
        &mut self,
        request: &Seq2SeqRequest,
        ctx: &RunContext,
    ) -> Result<Seq2SeqOutput, InferError> {
        if request.text.trim().is_empty() {
            return Err(InferError::InvalidInput("type some text first".into()));
        }
        let prefix = match &request.prefix {
            Some(prefix) => prefix.clone(),
            None => self
                .prefixes()
                .first()
                .map(|(_, p)| p.clone())
                .unwrap_or_default(),
        };
        let ids = self.encode(&prefix, &request.text)?;
        self.model.clear_kv_cache();
        let input = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?;
        let encoded = self.model.encode(&input)?;
        let params = &request.params;
        let mut sampler = LogitsProcessor::from_sampling(params.seed, params.sampling());
        let mut decoded = vec![self.start_id];
        let mut stream = TokenStream::default();
        let mut text = String::new();
        let mut stop_reason = StopReason::MaxTokens;
        let start = Instant::now();
        while decoded.len() <= params.max_tokens {
            if ctx.is_cancelled() {
                stop_reason = StopReason::Cancelled;
                break;
            }
            // With the KV cache only the newest token is fed.
            let last = Tensor::new(&decoded[decoded.len() - 1..], &self.device)?.unsqueeze(0)?;
            let logits = (self.model.decode(&last, &encoded)?.squeeze(0)? * self.logit_scale)?;
            let next = sampler.sample(&logits)?;
            if next == self.eos_id {
                stop_reason = StopReason::Eos;
                break;
            }
            decoded.push(next);
            if let Some(piece) = stream.push(&self.tokenizer, next)? {
                ctx.emit(Event::Token(piece.clone()));
                text.push_str(&piece);
            }
        }
        if let Some(rest) = stream.finish(&self.tokenizer)? {
            ctx.emit(Event::Token(rest.clone()));
            text.push_str(&rest);
        }
        let generated: Vec<u32> = decoded[1..].to_vec();
        Ok(Seq2SeqOutput {
            text,
            stop_reason,
            input_tokens: ids.len(),
            generated_tokens: generated.len(),
            decode_tokens_per_s: rate(generated.len(), start.elapsed().as_secs_f64()),
            token_ids: generated,
        })
    }
}

/// `task_specific_params` entries for `task`: `summarization`, or every `translation_*`.
pub fn task_prefixes(config: &Value, task: Task) -> Vec<(String, String)> {
    let Some(params) = config
        .get("task_specific_params")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let wanted = match task {
        Task::Summarization => "summarization",
        _ => "translation",
    };
    params
        .iter()
        .filter(|(name, _)| name.starts_with(wanted))
        .filter_map(|(name, p)| {
            let prefix = p.get("prefix")?.as_str()?;
            // transformers 5 trims the trailing space when it saves the config.
            let prefix = if prefix.ends_with(':') {
                format!("{prefix} ")
            } else {
                prefix.to_string()
            };
            Some((name.clone(), prefix))
        })
        .collect()
}

impl Pipeline for Seq2Seq {
    type Input = Seq2SeqRequest;
    type Output = Seq2SeqOutput;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<Seq2Seq, InferError> {
        ctx.emit(Event::Status("loading T5 weights".into()));
        Seq2Seq::load_dir(dir, plan.task, device)
    }

    fn run(
        &mut self,
        input: Seq2SeqRequest,
        ctx: &RunContext,
    ) -> Result<Seq2SeqOutput, InferError> {
        self.generate(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_come_from_task_specific_params() {
        let config = serde_json::json!({"task_specific_params": {
            "summarization": {"prefix": "summarize:"},
            "translation_en_to_de": {"prefix": "translate English to German: "},
            "translation_en_to_fr": {"prefix": "translate English to French: "},
            "broken": 3
        }});
        assert_eq!(
            task_prefixes(&config, Task::Summarization),
            [("summarization".to_string(), "summarize: ".to_string())]
        );
        let translation = task_prefixes(&config, Task::Translation);
        assert_eq!(translation.len(), 2);
        assert_eq!(translation[0].1, "translate English to German: ");
        assert!(task_prefixes(&serde_json::json!({}), Task::Translation).is_empty());
    }
}
