//! Translation and summarisation with encoder–decoders: T5-family (T5, T5 v1.1, FLAN-T5, mT5
//! layouts that candle-transformers' `t5` loads) and Marian ([`marian`](crate::infer::models::marian), with its
//! SentencePiece [`MarianTokenizer`]): the task prefix from config.json's
//! `task_specific_params`, encode once, then decode token by token with the KV cache (ids in
//! `bad_words_ids` never picked), streaming text pieces and stopping at `</s>`, max tokens, the
//! model's last position or the stop button.

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_transformers::generation::LogitsProcessor;
use candle_transformers::models::t5::{Config as T5Config, T5ForConditionalGeneration};
use serde::Serialize;
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::infer::facts::ModelFacts;
use crate::infer::models::causal::safetensors_files;
use crate::infer::models::marian::Marian;
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, guess_by_head, not_supported};
use crate::infer::tasks::common::decoding::{GenerationParams, StopReason, TokenStream, rate};
use crate::infer::tokenizers::Detokenize;
use crate::infer::tokenizers::marian_tokenizer::MarianTokenizer;
use crate::infer::{InferError, device, read_json};

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

/// A loaded encoder–decoder for one task.
pub struct Seq2Seq {
    network: Network,
    tokenizer: Codec,
    config: Value,
    task: Task,
    start_id: u32,
    eos_id: u32,
    /// Never generated: the single-token `bad_words_ids` (Marian's pad token).
    suppressed: Vec<u32>,
    /// The most input and output positions (Marian's sinusoidal tables), if bounded.
    max_positions: Option<usize>,
    device: Device,
    description: String,
}

/// The encoder–decoder behind a [`Seq2Seq`].
enum Network {
    /// candle-transformers' T5; its logits are multiplied by `logit_scale` (see `load_t5`).
    T5 {
        model: Box<T5ForConditionalGeneration>,
        logit_scale: f64,
    },
    /// Marian (opus-mt).
    Marian(Box<Marian>),
}

impl Network {
    /// The encoder's output for `input` (1 × tokens), caches cleared first.
    fn encode(&mut self, input: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Network::T5 { model, .. } => {
                model.clear_kv_cache();
                model.encode(input)
            }
            Network::Marian(model) => model.encode(input),
        }
    }

    /// The next-token logits after `tokens` (1 × n), `past` earlier tokens being cached.
    fn decode(
        &mut self,
        tokens: &Tensor,
        past: usize,
        encoded: &Tensor,
    ) -> candle_core::Result<Tensor> {
        match self {
            Network::T5 { model, logit_scale } => {
                model.decode(tokens, encoded)?.squeeze(0)? * *logit_scale
            }
            Network::Marian(model) => model.decode(tokens, past, encoded),
        }
    }
}

/// The tokenizer behind a [`Seq2Seq`]: tokenizer.json, or Marian's SentencePiece files.
enum Codec {
    Json(Box<Tokenizer>),
    Marian(Box<MarianTokenizer>),
}

impl Codec {
    fn encode(&self, text: &str) -> Result<Vec<u32>, InferError> {
        match self {
            Codec::Json(tokenizer) => Ok(tokenizer
                .encode(text, true)
                .map_err(|e| InferError::Tokenizer(e.to_string()))?
                .get_ids()
                .to_vec()),
            Codec::Marian(tokenizer) => tokenizer.encode(text),
        }
    }
}

impl Detokenize for Codec {
    fn detokenize(&self, ids: &[u32]) -> Result<String, InferError> {
        match self {
            Codec::Json(tokenizer) => tokenizer.detokenize(ids),
            Codec::Marian(tokenizer) => tokenizer.detokenize(ids),
        }
    }
}

impl Seq2Seq {
    /// Loads config.json, the safetensors weights and the tokenizer (tokenizer.json, or
    /// Marian's SentencePiece files) from `dir`, for the plan's model family.
    pub fn load_dir(dir: &Path, plan: &Plan, device: &Device) -> Result<Seq2Seq, InferError> {
        let config = read_json(&dir.join("config.json"))?;
        let suppressed = suppressed_ids(dir, &config);
        let task = plan.task;
        let (network, tokenizer, start_id, eos_id, max_positions, model) = match plan
            .loader::<Seq2SeqModel>()?
        {
            Seq2SeqModel::Marian => {
                let model = Marian::load(dir, device)?;
                let tokenizer = MarianTokenizer::load(dir)?;
                let (start, eos) = (model.start_id(), model.eos_id());
                let (max, described) = (model.max_positions(), model.describe());
                let network = Network::Marian(Box::new(model));
                let codec = Codec::Marian(Box::new(tokenizer));
                (network, codec, start, eos, Some(max), described)
            }
            Seq2SeqModel::T5 => {
                let (network, t5) = load_t5(dir, &config, device)?;
                let codec = Codec::Json(Box::new(crate::infer::tokenizers::read_tokenizer(dir)?));
                let start = t5.decoder_start_token_id.unwrap_or(t5.pad_token_id) as u32;
                let described = format!(
                    "t5 ({} layers, {})",
                    t5.num_layers,
                    if t5.feed_forward_proj.gated {
                        "gated feed-forward"
                    } else {
                        "dense feed-forward"
                    }
                );
                (
                    network,
                    codec,
                    start,
                    t5.eos_token_id as u32,
                    None,
                    described,
                )
            }
        };
        Ok(Seq2Seq {
            network,
            tokenizer,
            config,
            task,
            start_id,
            eos_id,
            suppressed,
            max_positions,
            description: format!("{model} for {task} on {}", device::describe(device)),
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
        let encoded = self.encode_ids(input)?;
        let decoded = Tensor::new(decoded, &self.device)?.unsqueeze(0)?;
        let logits = self.network.decode(&decoded, 0, &encoded)?;
        Ok(logits.to_vec1::<f32>()?)
    }

    /// The logits after each token of `decoded`, fed one at a time through the KV cache as
    /// generation does (for parity checks).
    pub fn cached_logits(
        &mut self,
        input: &[u32],
        decoded: &[u32],
    ) -> Result<Vec<Vec<f32>>, InferError> {
        let encoded = self.encode_ids(input)?;
        let mut out = Vec::with_capacity(decoded.len());
        for (past, token) in decoded.iter().enumerate() {
            let token = Tensor::new(&[*token], &self.device)?.unsqueeze(0)?;
            let logits = self.network.decode(&token, past, &encoded)?;
            out.push(logits.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// Tokenizes `prefix + text`.
    pub fn encode(&self, prefix: &str, text: &str) -> Result<Vec<u32>, InferError> {
        self.tokenizer.encode(&format!("{prefix}{text}"))
    }

    /// The encoder's output for `ids`, checked against the model's positions.
    fn encode_ids(&mut self, ids: &[u32]) -> Result<Tensor, InferError> {
        if let Some(max) = self.max_positions
            && ids.len() > max
        {
            return Err(InferError::InvalidInput(format!(
                "the text is {} tokens long; this model reads at most {max}",
                ids.len()
            )));
        }
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        Ok(self.network.encode(&input)?)
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
        let encoded = self.encode_ids(&ids)?;
        let params = &request.params;
        let max_tokens = match self.max_positions {
            // The start token takes a position too.
            Some(max) => params.max_tokens.min(max.saturating_sub(1)),
            None => params.max_tokens,
        };
        let mut sampler = LogitsProcessor::from_sampling(params.seed, params.sampling());
        let mut decoded = vec![self.start_id];
        let mut stream = TokenStream::default();
        let mut text = String::new();
        let mut stop_reason = StopReason::MaxTokens;
        let start = Instant::now();
        while decoded.len() <= max_tokens {
            if ctx.is_cancelled() {
                stop_reason = StopReason::Cancelled;
                break;
            }
            // With the KV cache only the newest token is fed.
            let past = decoded.len() - 1;
            let last = Tensor::new(&decoded[past..], &self.device)?.unsqueeze(0)?;
            let logits = self.network.decode(&last, past, &encoded)?;
            let next = sampler.sample(&self.suppress(logits)?)?;
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

    /// `logits` with the suppressed ids at −∞.
    fn suppress(&self, logits: Tensor) -> Result<Tensor, InferError> {
        if self.suppressed.is_empty() {
            return Ok(logits);
        }
        let mut values = logits.to_vec1::<f32>()?;
        for id in &self.suppressed {
            if let Some(v) = values.get_mut(*id as usize) {
                *v = f32::NEG_INFINITY;
            }
        }
        Ok(Tensor::new(values, &self.device)?)
    }
}

/// A T5 checkpoint and its config. The output projection is `lm_head` when the checkpoint has
/// one, else the shared embeddings; transformers scales the decoder output by d_model^-0.5 when
/// `scale_decoder_outputs` says so (configs saved by transformers 5) or, in older configs, when
/// the embeddings are tied. candle scales by d_model^+0.5 whenever it ties, so the logits are
/// corrected by the ratio (they are linear in that factor).
fn load_t5(dir: &Path, config: &Value, device: &Device) -> Result<(Network, T5Config), InferError> {
    let mut t5: T5Config = serde_json::from_value(config.clone())
        .map_err(|e| InferError::file(&dir.join("config.json"), e))?;
    let files = safetensors_files(dir)?;
    let vb = crate::infer::models::mmap_weights(&files, device)?;
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
    let network = Network::T5 {
        model: Box::new(model),
        logit_scale: wanted / candle,
    };
    Ok((network, t5))
}

/// The single-token `bad_words_ids` of generation_config.json (else config.json): ids never to
/// generate, as transformers' generation applies them (Marian lists its pad token).
fn suppressed_ids(dir: &Path, config: &Value) -> Vec<u32> {
    let generation = read_json(&dir.join("generation_config.json")).ok();
    let lists = generation
        .as_ref()
        .and_then(|g| g.get("bad_words_ids"))
        .or_else(|| config.get("bad_words_ids"))
        .and_then(Value::as_array);
    lists
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .filter(|words| words.len() == 1)
        .filter_map(|words| words[0].as_u64())
        .filter_map(|id| u32::try_from(id).ok())
        .collect()
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
        SUMMARIZATION => "summarization",
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
        ctx.emit(Event::Status("loading the encoder–decoder weights".into()));
        Seq2Seq::load_dir(dir, plan, device)
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

/// `translation`.
pub const TRANSLATION: Task = Task::new("translation");
/// `summarization`.
pub const SUMMARIZATION: Task = Task::new("summarization");

/// The plan's loader: which encoder–decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seq2SeqModel {
    /// T5, T5 v1.1, FLAN-T5, mT5.
    T5,
    /// Marian (opus-mt: SentencePiece `source.spm` + vocab.json).
    Marian,
}

/// The translation and summarisation task file, as the registry lists it.
pub struct Seq2SeqTask;

/// This task in the registry's list.
pub static MODULE: Seq2SeqTask = Seq2SeqTask;

impl TaskModule for Seq2SeqTask {
    fn tasks(&self) -> &'static [Task] {
        &[TRANSLATION, SUMMARIZATION]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        guess_by_head(facts, "ForConditionalGeneration", TRANSLATION)
            .or_else(|| guess_by_head(facts, "MarianMTModel", TRANSLATION))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        match facts.model_type.as_deref() {
            Some("t5" | "mt5") if facts.has_safetensors() => Ok(Plan::new(task, Seq2SeqModel::T5)),
            Some("t5" | "mt5") => Err(not_supported(
                format!("{} without safetensors weights", facts.architecture_name()),
                task,
            )),
            Some("marian") if task == TRANSLATION => {
                match ["source.spm", "vocab.json"]
                    .into_iter()
                    .find(|f| !facts.has(f))
                {
                    Some(missing) => Err(not_supported(format!("Marian without {missing}"), task)),
                    None if !facts.has_safetensors() => {
                        Err(not_supported("Marian without safetensors weights", task))
                    }
                    None => Ok(Plan::new(task, Seq2SeqModel::Marian)),
                }
            }
            _ => Err(not_supported(facts.architecture_name(), task)),
        }
    }

    fn loader(&self) -> LoadFn {
        erase::<Seq2Seq>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![clap::Arg::new("prefix").long("prefix").value_name("TEXT").help(
            "Translation / summarisation: the prefix before the input (default: the model's own \
             from config.json, e.g. \"translate English to German: \")",
        )]
    }

    fn cli_request(&self, _task: Task, input: &RunInput) -> Result<Request, InferError> {
        Ok(Request::new(Seq2SeqRequest {
            text: input.texts()?.join("\n"),
            prefix: input.value::<String>("prefix"),
            params: GenerationParams::from_input(input),
        }))
    }
}

impl HumanOutput for Seq2SeqOutput {
    /// Ends the streamed text's line; the speed goes to the log.
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(
            log,
            "[{} input tokens, {} generated at {:.1} tok/s, stop: {:?}]",
            self.input_tokens, self.generated_tokens, self.decode_tokens_per_s, self.stop_reason
        )
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
            task_prefixes(&config, SUMMARIZATION),
            [("summarization".to_string(), "summarize: ".to_string())]
        );
        let translation = task_prefixes(&config, TRANSLATION);
        assert_eq!(translation.len(), 2);
        assert_eq!(translation[0].1, "translate English to German: ");
        assert!(task_prefixes(&serde_json::json!({}), TRANSLATION).is_empty());
    }
}
