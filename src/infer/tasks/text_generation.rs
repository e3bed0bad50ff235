//! Text generation: GGUF and safetensors causal LMs, chat templates, sampling, a KV cache,
//! tokens streamed as they are decoded, a stop flag, and prompt/decode speed.

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use candle_core::quantized::gguf_file;
use serde::Serialize;

use crate::infer::cpu_threads::on_pool;
use crate::infer::facts::{ModelFacts, is_split_gguf};
use crate::infer::models::causal::CausalModel;
use crate::infer::models::causal::{self, CausalArch};
use crate::infer::models::gguf_llama;
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, guess_by_head, not_supported};
use crate::infer::tasks::common::decoding::{Decoded, NextToken, decode, rate};
pub use crate::infer::tasks::common::decoding::{GenerationParams, StopReason};
pub use crate::infer::tokenizers::chat_template::ChatMessage;
use crate::infer::tokenizers::chat_template::{self, ChatTemplate};
use crate::infer::tokenizers::gguf_bpe::GgufBpe;
use crate::infer::tokenizers::gguf_tokenizer::GgufVocab;
use crate::infer::tokenizers::text_tokenizer::TextTokenizer;
use crate::infer::{InferError, read_json};

/// What to generate from.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Prompt {
    /// A conversation, rendered through the model's chat template.
    Chat(Vec<ChatMessage>),
    /// Plain text to continue (no template).
    Raw(String),
    /// The chat template when the model has one, else the messages' text joined raw.
    ChatIfTemplate(Vec<ChatMessage>),
}

/// One generation job.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GenerationRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// Sampling settings.
    pub params: GenerationParams,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationOutput {
    /// The generated text (without the prompt).
    pub text: String,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Prompt processing speed (tokens/s).
    pub prompt_tokens_per_s: f64,
    /// Generation speed after the first token (tokens/s).
    pub decode_tokens_per_s: f64,
    /// The generated token ids.
    pub token_ids: Vec<u32>,
}

/// A loaded causal LM with its tokenizer and chat template.
pub struct TextGenerator {
    model: CausalModel,
    tokenizer: TextTokenizer,
    template: Option<ChatTemplate>,
    eos_ids: Vec<u32>,
    bos: Option<String>,
    context_len: usize,
    description: String,
}

impl TextGenerator {
    /// Loads a GGUF file or a safetensors checkpoint as `plan` says.
    pub fn load_plan(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<TextGenerator, InferError> {
        match plan.loader::<CausalSource>()? {
            CausalSource::Gguf { file, .. } => {
                let path = crate::cache::safe_join(dir, file)
                    .ok_or_else(|| InferError::InvalidInput(format!("bad file name {file:?}")))?;
                TextGenerator::load_gguf(&path, device, ctx)
            }
            CausalSource::Safetensors { architecture } => {
                ctx.emit(Event::Status("loading safetensors weights".into()));
                let model = match ctx.gpu() {
                    Some(gpu) => CausalModel::from_safetensors_on_gpu(dir, *architecture, gpu)?,
                    None => CausalModel::from_safetensors(dir, *architecture, device)?,
                };
                let tokenizer = load_tokenizer_json(dir)?.ok_or(InferError::MissingFile {
                    what: "tokenizer.json".into(),
                    dir: dir.to_path_buf(),
                })?;
                let config = read_json(&dir.join("config.json"))?;
                let context_len = config
                    .get("max_position_embeddings")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(4096) as usize;
                let mut eos_ids = ids_of(config.get("eos_token_id"));
                if let Ok(generation) = read_json(&dir.join("generation_config.json")) {
                    eos_ids.extend(ids_of(generation.get("eos_token_id")));
                }
                // candle widens the weights to F32; wgpu computes on them as stored.
                let stored = if ctx.gpu().is_some() { "" } else { ", F32" };
                let description = format!("{} (safetensors{stored})", model.name());
                TextGenerator::assemble(
                    model,
                    tokenizer,
                    dir,
                    None,
                    eos_ids,
                    context_len,
                    description,
                )
            }
        }
    }

    /// Loads a single GGUF file; the tokenizer is tokenizer.json beside it, else built from the
    /// GGUF's vocabulary; the chat template is tokenizer_config.json's, else the GGUF's.
    pub fn load_gguf(
        path: &Path,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<TextGenerator, InferError> {
        ctx.emit(Event::Status(format!("reading {}", path.display())));
        let mut file = std::fs::File::open(path).map_err(|e| InferError::file(path, e))?;
        let mut content =
            gguf_file::Content::read(&mut file).map_err(|e| InferError::file(path, e))?;
        let vocab = GgufVocab::from_metadata(&content.metadata)?;
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        // candle-transformers' quantized llama (used for mixture-of-experts llamas) precomputes
        // rotary tables for 4096 positions; Hubble's own GGUF llama has no such limit.
        let rotary_limit = if arch == "llama" && !gguf_llama::is_dense(&content) {
            4096
        } else {
            usize::MAX
        };
        let context_len = content
            .metadata
            .get(&format!("{arch}.context_length"))
            .and_then(|v| v.to_u32().ok())
            .map(|n| n as usize)
            .unwrap_or(4096)
            .min(rotary_limit);
        // The tokenizer is built, and the vocabulary's copies dropped, before any weight is
        // loaded, so their transient memory never adds to the weights'.
        let dir = path.parent().unwrap_or(Path::new("."));
        let tokenizer = match load_tokenizer_json(dir)? {
            Some(t) => t,
            None => TextTokenizer::Gguf(Box::new(GgufBpe::new(&vocab)?)),
        };
        let mut eos_ids: Vec<u32> = vocab.eos_token_id.into_iter().collect();
        if let Ok(generation) = read_json(&dir.join("generation_config.json")) {
            eos_ids.extend(ids_of(generation.get("eos_token_id")));
        }
        let bos = vocab
            .add_bos_token
            .then(|| vocab.token(vocab.bos_token_id).map(String::from))
            .flatten();
        let gguf_template = vocab.chat_template.clone().map(|t| {
            (
                t,
                vocab.token(vocab.bos_token_id).unwrap_or("").to_string(),
                vocab.token(vocab.eos_token_id).unwrap_or("").to_string(),
            )
        });
        drop(vocab);
        content
            .metadata
            .retain(|key, _| !key.starts_with("tokenizer."));
        ctx.emit(Event::Status("loading quantised weights".into()));
        let model = CausalModel::from_gguf(content, &mut file, device, ctx.gpu())?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let description = format!("{} ({name})", model.name());
        let mut generator = TextGenerator::assemble(
            model,
            tokenizer,
            dir,
            gguf_template,
            eos_ids,
            context_len,
            description,
        )?;
        if generator.bos.is_none() {
            generator.bos = bos;
        }
        Ok(generator)
    }

    fn assemble(
        model: CausalModel,
        tokenizer: TextTokenizer,
        dir: &Path,
        fallback_template: Option<(String, String, String)>,
        mut eos_ids: Vec<u32>,
        context_len: usize,
        description: String,
    ) -> Result<TextGenerator, InferError> {
        let tok_config = read_json(&dir.join("tokenizer_config.json")).ok();
        let from_config = tok_config.as_ref().and_then(|c| {
            let source = chat_template::from_tokenizer_config(c)?;
            let bos = chat_template::special_token(c, "bos_token").unwrap_or_default();
            let eos = chat_template::special_token(c, "eos_token").unwrap_or_default();
            Some((source, bos, eos))
        });
        // chat_template.jinja (newer repos) beside tokenizer_config.json.
        let from_jinja = std::fs::read_to_string(dir.join("chat_template.jinja"))
            .ok()
            .map(|source| {
                let c = tok_config.as_ref();
                let token = |k| c.and_then(|c| chat_template::special_token(c, k));
                (
                    source,
                    token("bos_token").unwrap_or_default(),
                    token("eos_token").unwrap_or_default(),
                )
            });
        let template = match from_config.or(from_jinja).or(fallback_template) {
            Some((source, bos, eos)) => Some(ChatTemplate::new(&source, &bos, &eos)?),
            None => None,
        };
        let mut bos = None;
        if let Some(c) = &tok_config {
            if let Some(eos) = chat_template::special_token(c, "eos_token")
                && let Some(id) = tokenizer.token_to_id(&eos)
            {
                eos_ids.push(id);
            }
            if c.get("add_bos_token").and_then(|v| v.as_bool()) == Some(true) {
                bos = chat_template::special_token(c, "bos_token");
            }
        }
        // End-of-turn markers of the common chat formats.
        for marker in [
            "<|im_end|>",
            "<|eot_id|>",
            "<end_of_turn>",
            "<|end|>",
            "<|endoftext|>",
        ] {
            if let Some(id) = tokenizer.token_to_id(marker) {
                eos_ids.push(id);
            }
        }
        eos_ids.sort_unstable();
        eos_ids.dedup();
        Ok(TextGenerator {
            model,
            tokenizer,
            template,
            eos_ids,
            bos,
            context_len,
            description,
        })
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Whether the model has a chat template.
    pub fn has_chat_template(&self) -> bool {
        self.template.is_some()
    }

    /// Token ids that end generation.
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    /// The prompt text a request becomes (the chat template applied, or the raw text).
    pub fn prompt_text(&self, prompt: &Prompt) -> Result<String, InferError> {
        match prompt {
            Prompt::Raw(text) => Ok(format!("{}{text}", self.bos.as_deref().unwrap_or(""))),
            Prompt::Chat(messages) => match &self.template {
                Some(template) => template.render(messages, true),
                None => Err(InferError::InvalidInput(
                    "this model has no chat template; send a raw prompt instead (--raw)".into(),
                )),
            },
            Prompt::ChatIfTemplate(messages) => match &self.template {
                Some(template) => template.render(messages, true),
                None => {
                    let text: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
                    Ok(format!(
                        "{}{}",
                        self.bos.as_deref().unwrap_or(""),
                        text.join("\n")
                    ))
                }
            },
        }
    }

    /// Tokenizes a prompt (special tokens in the text are parsed as such).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, InferError> {
        self.tokenizer.encode(text)
    }

    /// The next-token logits after `tokens` (a fresh KV cache), for parity checks.
    pub fn logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>, InferError> {
        self.model.clear_kv_cache(tokens.len())?;
        Ok(self.model.forward(tokens, 0)?.to_vec1::<f32>()?)
    }

    /// Generates from token ids, streaming text through `ctx`.
    pub fn generate_ids(
        &mut self,
        prompt: &[u32],
        params: &GenerationParams,
        ctx: &RunContext,
    ) -> Result<GenerationOutput, InferError> {
        if prompt.is_empty() {
            return Err(InferError::InvalidInput("the prompt is empty".into()));
        }
        if prompt.len() >= self.context_len {
            return Err(InferError::InvalidInput(format!(
                "the prompt has {} tokens; this model's context holds {}",
                prompt.len(),
                self.context_len
            )));
        }
        self.model
            .clear_kv_cache((prompt.len() + params.max_tokens).min(self.context_len))?;
        // Greedy decoding on a wgpu model reads back one token a step, not the logits.
        let token_only = params.is_greedy() && self.model.gpu_model().is_some();
        let start = Instant::now();
        let first = model_step(&mut self.model, prompt, 0, token_only)?;
        let prompt_secs = start.elapsed().as_secs_f64();
        let decode_start = Instant::now();
        let model = &mut self.model;
        let Decoded {
            text,
            ids: generated,
            stop_reason,
        } = decode(
            first,
            prompt.to_vec(),
            params,
            (&self.eos_ids, self.context_len),
            &self.tokenizer,
            ctx,
            &mut |next, pos| model_step(model, &[next], pos, token_only),
        )?;
        let decode_secs = decode_start.elapsed().as_secs_f64();
        // The first generated token comes from the prompt pass; the rest each cost one step.
        let steps = generated.len().saturating_sub(1);
        Ok(GenerationOutput {
            text,
            stop_reason,
            prompt_tokens: prompt.len(),
            generated_tokens: generated.len(),
            prompt_tokens_per_s: rate(prompt.len(), prompt_secs),
            decode_tokens_per_s: rate(steps, decode_secs),
            token_ids: generated,
        })
    }

    /// Renders, tokenizes and generates.
    pub fn generate(
        &mut self,
        request: &GenerationRequest,
        ctx: &RunContext,
    ) -> Result<GenerationOutput, InferError> {
        let text = self.prompt_text(&request.prompt)?;
        let ids = self.encode(&text)?;
        self.generate_ids(&ids, &request.params, ctx)
    }
}

/// One model step over `tokens` at `pos`: the greedy token alone from a GPU model when
/// `token_only`, else the logits.
fn model_step(
    model: &mut CausalModel,
    tokens: &[u32],
    pos: usize,
    token_only: bool,
) -> Result<NextToken, InferError> {
    match model.gpu_model() {
        Some(gpu) if token_only => Ok(NextToken::Chosen(gpu.next_greedy(tokens, pos)?)),
        _ => Ok(NextToken::Logits(on_pool(|| model.forward(tokens, pos))?)),
    }
}

impl Pipeline for TextGenerator {
    type Input = GenerationRequest;
    type Output = GenerationOutput;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<TextGenerator, InferError> {
        let mut generator = TextGenerator::load_plan(dir, plan, device, ctx)?;
        generator.description = format!(
            "{} on {}",
            generator.description,
            generator.model.placement()
        );
        Ok(generator)
    }

    fn run(
        &mut self,
        input: GenerationRequest,
        ctx: &RunContext,
    ) -> Result<GenerationOutput, InferError> {
        self.generate(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

fn ids_of(value: Option<&serde_json::Value>) -> Vec<u32> {
    match value {
        Some(serde_json::Value::Number(n)) => n.as_u64().map(|n| n as u32).into_iter().collect(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_u64().map(|n| n as u32))
            .collect(),
        _ => Vec::new(),
    }
}

fn load_tokenizer_json(dir: &Path) -> Result<Option<TextTokenizer>, InferError> {
    if !dir.join("tokenizer.json").is_file() {
        return Ok(None);
    }
    crate::infer::tokenizers::read_tokenizer(dir).map(|t| Some(TextTokenizer::Json(Box::new(t))))
}

/// `text-generation`.
pub const TEXT_GENERATION: Task = Task::new("text-generation");

/// Where a causal LM's weights come from (the plan's loader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CausalSource {
    /// A single GGUF file, quantised or not.
    Gguf {
        /// The GGUF file, relative to the model folder.
        file: String,
        /// `general.architecture`.
        architecture: String,
    },
    /// A safetensors checkpoint with config.json and tokenizer.json.
    Safetensors {
        /// The architecture.
        architecture: CausalArch,
    },
}

/// The text-generation task file, as the registry lists it.
pub struct TextGenerationTask;

/// This task in the registry's list.
pub static MODULE: TextGenerationTask = TextGenerationTask;

impl TaskModule for TextGenerationTask {
    fn tasks(&self) -> &'static [Task] {
        &[TEXT_GENERATION]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[
            ("generate", TEXT_GENERATION),
            ("chat", TEXT_GENERATION),
            ("text2text-generation", TEXT_GENERATION),
        ]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        if !facts.gguf_files().is_empty() {
            return Some((Evidence::Files, TEXT_GENERATION));
        }
        guess_by_head(facts, "ForCausalLM", TEXT_GENERATION)
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        if let Some(file) = facts.gguf_files().into_iter().next() {
            let architecture = facts
                .gguf_architecture
                .clone()
                .unwrap_or_else(|| "unknown".into());
            return if causal::loads_gguf(&architecture) {
                Ok(Plan::new(task, CausalSource::Gguf { file, architecture }))
            } else {
                Err(not_supported(format!("gguf {architecture}"), task))
            };
        }
        if facts.files.iter().any(|f| is_split_gguf(f)) {
            return Err(not_supported("split (multi-file) GGUF", task));
        }
        match facts
            .model_type
            .as_deref()
            .and_then(CausalArch::from_model_type)
        {
            Some(architecture) if facts.has_safetensors() => {
                Ok(Plan::new(task, CausalSource::Safetensors { architecture }))
            }
            Some(_) => Err(not_supported(
                format!("{} without safetensors weights", facts.architecture_name()),
                task,
            )),
            None => Err(not_supported(facts.architecture_name(), task)),
        }
    }

    fn loader(&self) -> LoadFn {
        erase::<TextGenerator>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![
            clap::Arg::new("system")
                .long("system")
                .value_name("TEXT")
                .help("Text generation: a system message (implies --chat)"),
            clap::Arg::new("chat")
                .long("chat")
                .action(clap::ArgAction::SetTrue)
                .conflicts_with("raw")
                .help(
                    "Text generation: use the model's chat template (the default when it has one)",
                ),
            clap::Arg::new("raw")
                .long("raw")
                .action(clap::ArgAction::SetTrue)
                .help("Text generation: continue the raw text, without the chat template"),
        ]
    }

    fn cli_request(&self, _task: Task, input: &RunInput) -> Result<Request, InferError> {
        let text = input.text()?;
        let system = input.string("system");
        let mut messages = Vec::new();
        if let Some(system) = &system {
            messages.push(ChatMessage::new("system", system));
        }
        messages.push(ChatMessage::new("user", &text));
        let prompt = if input.flag("raw") {
            Prompt::Raw(text)
        } else if input.flag("chat") || system.is_some() {
            Prompt::Chat(messages)
        } else {
            Prompt::ChatIfTemplate(messages)
        };
        Ok(Request::new(GenerationRequest {
            prompt,
            params: GenerationParams {
                temperature: input.value::<f64>("temperature").unwrap_or(0.7),
                repeat_penalty: input.value::<f32>("repeat_penalty").unwrap_or(1.1),
                ..GenerationParams::from_input(input)
            },
        }))
    }
}

impl HumanOutput for GenerationOutput {
    /// Ends the streamed text's line; the speeds go to the log.
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(
            log,
            "[{} prompt tokens at {:.1} tok/s, {} generated at {:.1} tok/s, stop: {:?}]",
            self.prompt_tokens,
            self.prompt_tokens_per_s,
            self.generated_tokens,
            self.decode_tokens_per_s,
            self.stop_reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::tasks::common::decoding::TokenStream;

    #[test]
    fn streamed_pieces_never_split_a_character() {
        let vocab = crate::infer::tokenizers::gguf_tokenizer::GgufVocab {
            model: "gpt2".into(),
            tokens: ["c", "af", "\u{c3}", "\u{a9}", "Ġ"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        };
        let tokenizer = TextTokenizer::Gguf(Box::new(GgufBpe::new(&vocab).unwrap()));
        let mut stream = TokenStream::default();
        let mut pieces = Vec::new();
        for id in [0, 1, 2, 3, 4, 0] {
            pieces.push(stream.push(&tokenizer, id).unwrap());
        }
        let want = [
            Some("c"),
            Some("af"),
            None,
            Some("\u{e9}"),
            Some(" "),
            Some("c"),
        ];
        assert_eq!(pieces, want.map(|p| p.map(String::from)));
        assert_eq!(stream.finish(&tokenizer).unwrap(), None);
    }

    #[test]
    fn eos_ids_read_single_and_lists() {
        assert_eq!(ids_of(Some(&serde_json::json!(2))), [2]);
        assert_eq!(ids_of(Some(&serde_json::json!([1, 7]))), [1, 7]);
        assert!(ids_of(None).is_empty());
    }
}
