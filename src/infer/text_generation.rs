//! Text generation: GGUF and safetensors causal LMs, chat templates, sampling, a KV cache,
//! tokens streamed as they are decoded, a stop flag, and prompt/decode speed.

use std::path::Path;
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use serde::Serialize;
use tokenizers::Tokenizer;

use super::causal::CausalModel;
pub use super::chat_template::ChatMessage;
use super::chat_template::{self, ChatTemplate};
use super::gguf_bpe::GgufBpe;
use super::gguf_llama;
use super::gguf_tokenizer::GgufVocab;
use super::pipeline::{Event, Pipeline, RunContext};
use super::registry::{Backend, Plan};
use super::text_tokenizer::TextTokenizer;
use super::{InferError, device, read_json};

/// Sampling and length settings.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GenerationParams {
    /// The most new tokens to generate.
    pub max_tokens: usize,
    /// 0 (or less) is greedy decoding.
    pub temperature: f64,
    /// Nucleus sampling threshold (1.0 = off).
    pub top_p: Option<f64>,
    /// Keep only the k most likely tokens (None = off).
    pub top_k: Option<usize>,
    /// Penalty for tokens already in the context (1.0 = off).
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    pub repeat_last_n: usize,
    /// Random seed (the same seed and settings give the same text).
    pub seed: u64,
}

impl Default for GenerationParams {
    fn default() -> GenerationParams {
        GenerationParams {
            max_tokens: 256,
            temperature: 0.7,
            top_p: Some(0.9),
            top_k: None,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 299_792_458,
        }
    }
}

impl GenerationParams {
    /// Greedy decoding without a repeat penalty (for reproducible checks).
    pub fn greedy(max_tokens: usize) -> GenerationParams {
        GenerationParams {
            max_tokens,
            temperature: 0.0,
            top_p: None,
            top_k: None,
            repeat_penalty: 1.0,
            ..GenerationParams::default()
        }
    }

    /// `logits` with the repeat penalty applied to the last `repeat_last_n` ids of `context`
    /// (unchanged when the penalty is 1).
    pub(crate) fn penalize(&self, logits: Tensor, context: &[u32]) -> Result<Tensor, InferError> {
        if self.repeat_penalty == 1.0 {
            return Ok(logits);
        }
        let start = context.len().saturating_sub(self.repeat_last_n);
        Ok(candle_transformers::utils::apply_repeat_penalty(
            &logits,
            self.repeat_penalty,
            &context[start..],
        )?)
    }

    pub(crate) fn sampling(&self) -> Sampling {
        if self.temperature <= 0.0 {
            return Sampling::ArgMax;
        }
        let temperature = self.temperature;
        let top_p = self.top_p.filter(|p| *p > 0.0 && *p < 1.0);
        match (self.top_k, top_p) {
            (None, None) => Sampling::All { temperature },
            (Some(k), None) => Sampling::TopK { k, temperature },
            (None, Some(p)) => Sampling::TopP { p, temperature },
            (Some(k), Some(p)) => Sampling::TopKThenTopP { k, p, temperature },
        }
    }
}

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

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-sequence token.
    Eos,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The model's context window is full.
    ContextFull,
    /// The user pressed stop.
    Cancelled,
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
        match &plan.backend {
            Backend::Gguf { file, .. } => {
                let path = crate::cache::safe_join(dir, file)
                    .ok_or_else(|| InferError::InvalidInput(format!("bad file name {file:?}")))?;
                TextGenerator::load_gguf(&path, device, ctx)
            }
            Backend::Causal { architecture } => {
                ctx.emit(Event::Status("loading safetensors weights".into()));
                let model = CausalModel::from_safetensors(dir, *architecture, device)?;
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
                let description = format!("{} (safetensors, F32)", model.name());
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
            Backend::Bert
            | Backend::Encoder { .. }
            | Backend::T5
            | Backend::Marian
            | Backend::Vision { .. }
            | Backend::Whisper => Err(InferError::NotSupported {
                architecture: "bert".into(),
                task: "text-generation".into(),
            }),
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
        let model = CausalModel::from_gguf(content, &mut file, device)?;
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
        let mut sampler = LogitsProcessor::from_sampling(params.seed, params.sampling());
        let mut context: Vec<u32> = prompt.to_vec();
        let mut generated: Vec<u32> = Vec::new();
        let mut stream = TokenStream::default();
        let mut text = String::new();

        let start = Instant::now();
        let mut logits = self.model.forward(prompt, 0)?;
        let prompt_secs = start.elapsed().as_secs_f64();
        let decode_start = Instant::now();
        let mut stop_reason = StopReason::MaxTokens;
        while generated.len() < params.max_tokens {
            if ctx.is_cancelled() {
                stop_reason = StopReason::Cancelled;
                break;
            }
            logits = params.penalize(logits, &context)?;
            let next = sampler.sample(&logits)?;
            if self.eos_ids.contains(&next) {
                stop_reason = StopReason::Eos;
                break;
            }
            generated.push(next);
            context.push(next);
            if let Some(piece) = stream.push(&self.tokenizer, next)? {
                ctx.emit(Event::Token(piece.clone()));
                text.push_str(&piece);
            }
            if generated.len() >= params.max_tokens {
                break;
            }
            if context.len() >= self.context_len {
                stop_reason = StopReason::ContextFull;
                break;
            }
            logits = self.model.forward(&[next], context.len() - 1)?;
        }
        if let Some(rest) = stream.finish(&self.tokenizer)? {
            ctx.emit(Event::Token(rest.clone()));
            text.push_str(&rest);
        }
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
        generator.description =
            format!("{} on {}", generator.description, device::describe(device));
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

pub(crate) fn rate(tokens: usize, secs: f64) -> f64 {
    if secs > 0.0 {
        tokens as f64 / secs
    } else {
        0.0
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
    super::read_tokenizer(dir).map(|t| Some(TextTokenizer::Json(Box::new(t))))
}

/// Turns ids into text pieces as soon as they decode to whole characters (byte-level BPE can
/// split a character across tokens).
#[derive(Debug, Default)]
pub(crate) struct TokenStream {
    ids: Vec<u32>,
    emitted: usize,
}

impl TokenStream {
    pub(crate) fn push(
        &mut self,
        tokenizer: &impl Detokenize,
        id: u32,
    ) -> Result<Option<String>, InferError> {
        self.ids.push(id);
        let text = tokenizer.detokenize(&self.ids)?;
        if text.len() > self.emitted
            && !text.ends_with('\u{FFFD}')
            && text.is_char_boundary(self.emitted)
        {
            let piece = text[self.emitted..].to_string();
            self.emitted = text.len();
            Ok(Some(piece))
        } else {
            Ok(None)
        }
    }

    pub(crate) fn finish(
        &mut self,
        tokenizer: &impl Detokenize,
    ) -> Result<Option<String>, InferError> {
        let text = tokenizer.detokenize(&self.ids)?;
        if text.len() > self.emitted && text.is_char_boundary(self.emitted) {
            let piece = text[self.emitted..].to_string();
            self.emitted = text.len();
            Ok(Some(piece))
        } else {
            Ok(None)
        }
    }
}

/// Ids back to text, special tokens skipped (what [`TokenStream`] streams).
pub(crate) trait Detokenize {
    /// The text of `ids`.
    fn detokenize(&self, ids: &[u32]) -> Result<String, InferError>;
}

impl Detokenize for Tokenizer {
    fn detokenize(&self, ids: &[u32]) -> Result<String, InferError> {
        self.decode(ids, true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_settings() {
        assert_eq!(GenerationParams::greedy(5).sampling(), Sampling::ArgMax);
        let p = GenerationParams {
            temperature: 0.8,
            top_p: Some(1.0),
            top_k: None,
            ..GenerationParams::default()
        };
        assert_eq!(p.sampling(), Sampling::All { temperature: 0.8 });
        let p = GenerationParams {
            top_k: Some(40),
            top_p: Some(0.9),
            temperature: 0.5,
            ..GenerationParams::default()
        };
        assert_eq!(
            p.sampling(),
            Sampling::TopKThenTopP {
                k: 40,
                p: 0.9,
                temperature: 0.5
            }
        );
    }

    #[test]
    fn streamed_pieces_never_split_a_character() {
        let vocab = crate::infer::gguf_tokenizer::GgufVocab {
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
