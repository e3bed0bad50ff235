//! Image-text-to-text (vision-language chat): a conversation about one image, answered as
//! transformers' processor and `generate` answer it. The image goes through the checkpoint's
//! image processor (preprocessor_config.json, or the `image_processor` inside transformers 5's
//! processor_config.json); the prompt is the family's: LLaVA's processor chat template with the
//! image as a `{"type": "image"}` part of the first user message (then `<s>` from the
//! tokenizer), PaliGemma's `<image><bos>question\n` (no template: the last question alone). The
//! image marker is expanded to one token per image feature, and the decoder generates greedy or
//! sampled tokens with its KV cache until an end-of-sequence id, max tokens, the context or the
//! stop button, each piece streamed as an [`Event::Token`] like text generation.
//!
//! Supported: LLaVA-1.5 (`model_type = "llava"`, llava-hf's layout: CLIP + projector + Llama,
//! [`crate::infer::models::llava`]) and PaliGemma (`model_type = "paligemma"` with a Gemma 1
//! decoder: SigLIP + projector + Gemma, [`crate::infer::models::paligemma`]). The other
//! vision-language families (LLaVA-NeXT, Idefics3 / SmolVLM, Qwen2-VL, PaliGemma 2, ...) are
//! "not supported yet" ([`MODULE`]).

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};
use image::RgbImage;
use serde::Serialize;
use serde_json::{Value, json};
use tokenizers::Tokenizer;

use crate::infer::cpu_threads::on_pool;
use crate::infer::facts::ModelFacts;
use crate::infer::models::llava::{Llava, LlavaSpec};
use crate::infer::models::paligemma::{PaliGemma, PaliGemmaSpec};
use crate::infer::models::{ids_of, pixel_tensor, weights_for_candle_linears};
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
use crate::infer::tasks::common::decoding::{
    Decoded, GenerationParams, NextToken, StopReason, decode, rate,
};
use crate::infer::tokenizers::chat_template::{self, ChatMessage, ChatTemplate};
use crate::infer::{InferError, device, read_json};
use crate::media::ImageProcessor;

/// `image-text-to-text`: answers about an image.
pub const IMAGE_TEXT_TO_TEXT: Task = Task::new("image-text-to-text");

/// How many tokens an answer may have unless asked otherwise (the Try tab's limit).
pub const DEFAULT_MAX_TOKENS: usize = 256;

/// llava-hf's LLaVA-1.5 chat template (chat_template.json of llava-hf/llava-1.5-7b-hf), for
/// snapshots saved before processors carried one.
const LLAVA_TEMPLATE: &str = "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

/// One turn of a conversation about an image.
#[derive(Debug, Clone)]
pub struct VisionChatRequest {
    /// The image, 8-bit RGB (decoded by the front end); it belongs to the first user message.
    pub image: Arc<RgbImage>,
    /// The conversation so far, ending with the user's question (text only: the image is put
    /// in front of the first user message's text, as the model cards' examples do).
    pub messages: Vec<ChatMessage>,
    /// Sampling and length.
    pub params: GenerationParams,
}

/// A finished answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisionChatOutput {
    /// The answer (special tokens skipped).
    pub text: String,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// The image's width in pixels.
    pub width: u32,
    /// The image's height in pixels.
    pub height: u32,
    /// Tokens in the prompt (the image's tokens included).
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Prompt speed (the image encoded and the prompt run), tokens/s.
    pub prompt_tokens_per_s: f64,
    /// Generation speed after the first token, tokens/s.
    pub decode_tokens_per_s: f64,
    /// The generated ids.
    pub token_ids: Vec<u32>,
}

/// The vision-language families Hubble runs (the plan's loader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VisionChatFamily {
    /// LLaVA-1.5 in llava-hf's layout.
    Llava,
    /// PaliGemma (1) in google's layout.
    PaliGemma,
}

/// `model_type`s of vision-language models Hubble does not run yet: planned for this task so
/// the answer is "not supported yet".
const OTHER_FAMILIES: [&str; 11] = [
    "llava_next",
    "llava_onevision",
    "llava_next_video",
    "idefics2",
    "idefics3",
    "smolvlm",
    "qwen2_vl",
    "qwen2_5_vl",
    "mllama",
    "gemma3",
    "moondream1",
];

/// A loaded model of one of the families.
enum Model {
    Llava(Box<Llava>),
    PaliGemma(Box<PaliGemma>),
}

impl Model {
    fn image_tokens(&self) -> usize {
        match self {
            Model::Llava(m) => m.spec().image_tokens(),
            Model::PaliGemma(m) => m.spec().image_tokens(),
        }
    }

    fn device(&self) -> &Device {
        match self {
            Model::Llava(m) => m.device(),
            Model::PaliGemma(m) => m.device(),
        }
    }

    fn image_features(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Model::Llava(m) => m.image_features(pixels),
            Model::PaliGemma(m) => m.image_features(pixels),
        }
    }

    /// The prompt's logits with a fresh KV cache, which it then holds.
    fn prompt_logits(&mut self, ids: &[u32], features: &Tensor) -> Result<Tensor, InferError> {
        Ok(match self {
            Model::Llava(m) => {
                let embeds = m.merge(ids, features).map_err(InferError::InvalidInput)?;
                m.clear_kv_cache()?;
                m.forward_embeds(&embeds, 0)?
            }
            Model::PaliGemma(m) => {
                let embeds = m.merge(ids, features).map_err(InferError::InvalidInput)?;
                m.clear_kv_cache();
                m.forward_prompt(&embeds)?
            }
        })
    }

    /// The logits after one more token at position `pos`.
    fn next_logits(&mut self, id: u32, pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Model::Llava(m) => m.forward_ids(&[id], pos),
            Model::PaliGemma(m) => m.forward_id(id, pos),
        }
    }

    fn clear_kv_cache(&mut self) -> candle_core::Result<()> {
        match self {
            Model::Llava(m) => m.clear_kv_cache(),
            Model::PaliGemma(m) => {
                m.clear_kv_cache();
                Ok(())
            }
        }
    }
}

/// How a family turns the conversation into its prompt text.
enum PromptStyle {
    /// The processor's chat template with the image as a part of the first user message, then
    /// the tokenizer's special tokens (LLaVA).
    Template(Box<ChatTemplate>),
    /// PaliGemma's processor: the image, `<bos>`, the last user message and "\n", no template.
    PaliGemma {
        /// The tokenizer's `bos_token`.
        bos: String,
    },
}

/// A loaded vision-language model with its tokenizer, image processor and prompt style.
pub struct VisionChat {
    model: Model,
    tokenizer: Tokenizer,
    processor: ImageProcessor,
    style: PromptStyle,
    /// The text the prompt puts where the image goes, expanded to one per image feature.
    image_token: String,
    eos_ids: Vec<u32>,
    context_len: usize,
    description: String,
}

impl VisionChat {
    /// Loads a folder of `family`: config.json, safetensors, tokenizer.json, the image
    /// processor's settings (and LLaVA's chat template).
    pub fn load_dir(
        dir: &Path,
        family: VisionChatFamily,
        device: &Device,
    ) -> Result<VisionChat, InferError> {
        let config_path = dir.join("config.json");
        let config = read_json(&config_path)?;
        let bad_config = |e: String| InferError::file(&config_path, e);
        let tokenizer = crate::infer::tokenizers::read_tokenizer(dir)?;
        let processor_config = read_json(&dir.join("processor_config.json")).ok();
        let processor = image_processor(dir, processor_config.as_ref())?;
        let image_token = processor_config
            .as_ref()
            .and_then(|c| c.get("image_token"))
            .and_then(Value::as_str)
            .unwrap_or("<image>")
            .to_string();
        let tok_config = read_json(&dir.join("tokenizer_config.json")).ok();
        let token = |key| {
            tok_config
                .as_ref()
                .and_then(|c| chat_template::special_token(c, key))
        };
        let mut eos_ids = Vec::new();
        if let Ok(generation) = read_json(&dir.join("generation_config.json")) {
            eos_ids.extend(ids_of(generation.get("eos_token_id")));
        }
        if let Some(id) = token("eos_token").and_then(|t| tokenizer.token_to_id(&t)) {
            eos_ids.push(id);
        }
        let vb = weights_for_candle_linears(dir, device)?;
        let (model, style, context_len, description) = match family {
            VisionChatFamily::Llava => {
                let spec = LlavaSpec::from_config(&config).map_err(bad_config)?;
                let source =
                    chat_template_source(dir, processor_config.as_ref(), tok_config.as_ref())
                        .unwrap_or_else(|| LLAVA_TEMPLATE.to_string());
                let template = ChatTemplate::new(
                    &source,
                    &token("bos_token").unwrap_or_default(),
                    &token("eos_token").unwrap_or_default(),
                )?;
                eos_ids.extend(&spec.eos_ids);
                let model = Llava::load(&spec, vb)
                    .map_err(|e| InferError::Model(format!("LLaVA weights: {e}")))?;
                let (vision, text) = (&spec.vision, &spec.text);
                let description = format!(
                    "LLaVA (CLIP {} layers at {} px, {} image tokens; llama {} layers)",
                    vision.num_hidden_layers,
                    vision.image_size,
                    spec.image_tokens(),
                    text.num_hidden_layers,
                );
                (
                    Model::Llava(Box::new(model)),
                    PromptStyle::Template(Box::new(template)),
                    text.max_position_embeddings,
                    description,
                )
            }
            VisionChatFamily::PaliGemma => {
                let spec = PaliGemmaSpec::from_config(&config).map_err(bad_config)?;
                eos_ids.extend(&spec.eos_ids);
                let model = PaliGemma::load(&spec, vb)
                    .map_err(|e| InferError::Model(format!("PaliGemma weights: {e}")))?;
                let (vision, text) = (&spec.vision, &spec.text);
                let description = format!(
                    "PaliGemma (SigLIP {} layers at {} px, {} image tokens; gemma {} layers)",
                    vision.num_hidden_layers,
                    vision.image_size,
                    spec.image_tokens(),
                    text.num_hidden_layers,
                );
                (
                    Model::PaliGemma(Box::new(model)),
                    PromptStyle::PaliGemma {
                        bos: token("bos_token").unwrap_or_else(|| "<bos>".into()),
                    },
                    // Positions count from 1.
                    text.max_position_embeddings.saturating_sub(1),
                    description,
                )
            }
        };
        eos_ids.sort_unstable();
        eos_ids.dedup();
        Ok(VisionChat {
            description: format!("{description}, safetensors on {}", device::describe(device)),
            context_len,
            model,
            tokenizer,
            processor,
            style,
            image_token,
            eos_ids,
        })
    }

    /// The prompt text for `messages` (the image marker not expanded yet): LLaVA's chat
    /// template with the image in the first user message, as `processor.apply_chat_template`
    /// renders it; PaliGemma's image, `<bos>`, last user message and "\n".
    pub fn prompt_text(&self, messages: &[ChatMessage]) -> Result<String, InferError> {
        if messages.is_empty() {
            return Err(InferError::InvalidInput("the conversation is empty".into()));
        }
        match &self.style {
            PromptStyle::Template(template) => {
                let first_user = messages.iter().position(|m| m.role == "user");
                let parts: Vec<Value> = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let mut content = Vec::new();
                        if Some(i) == first_user {
                            content.push(json!({"type": "image"}));
                        }
                        content.push(json!({"type": "text", "text": m.content}));
                        json!({"role": m.role, "content": content})
                    })
                    .collect();
                template.render_json(&Value::Array(parts), true)
            }
            PromptStyle::PaliGemma { bos } => {
                let question = messages
                    .iter()
                    .rev()
                    .find(|m| m.role == "user")
                    .ok_or_else(|| InferError::InvalidInput("no question to answer".into()))?;
                Ok(format!("{}{bos}{}\n", self.image_token, question.content))
            }
        }
    }

    /// The prompt's ids: the image marker expanded to one per image feature (as the processor
    /// expands it), then tokenized (with the tokenizer's special tokens for a chat template;
    /// PaliGemma's processor turns them off and writes `<bos>` itself).
    pub fn prompt_ids(&self, prompt: &str) -> Result<Vec<u32>, InferError> {
        let marker = &self.image_token;
        let count = prompt.matches(marker.as_str()).count();
        if count != 1 {
            return Err(InferError::InvalidInput(format!(
                "the prompt has {count} image markers ({marker}); this model takes one image"
            )));
        }
        let expanded = prompt.replace(marker.as_str(), &marker.repeat(self.image_tokens()));
        let specials = matches!(self.style, PromptStyle::Template(_));
        let encoding = self
            .tokenizer
            .encode(expanded, specials)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// How many tokens the image becomes.
    pub fn image_tokens(&self) -> usize {
        self.model.image_tokens()
    }

    /// The image's projected features `(image tokens, hidden)`.
    pub fn image_features(&self, image: &RgbImage) -> Result<Tensor, InferError> {
        let pixels = pixel_tensor(self.processor.preprocess(image)?, self.model.device())?;
        Ok(self.model.image_features(&pixels)?)
    }

    /// The next-token logits after the prompt `ids` with `image` (a fresh KV cache), for
    /// parity checks.
    pub fn logits(&mut self, image: &RgbImage, ids: &[u32]) -> Result<Vec<f32>, InferError> {
        let features = self.image_features(image)?;
        let logits = self.model.prompt_logits(ids, &features)?;
        self.model.clear_kv_cache()?;
        Ok(logits.to_vec1()?)
    }

    /// Answers the conversation about the image, streaming each piece through `ctx`.
    pub fn answer(
        &mut self,
        request: &VisionChatRequest,
        ctx: &RunContext,
    ) -> Result<VisionChatOutput, InferError> {
        let prompt = self.prompt_ids(&self.prompt_text(&request.messages)?)?;
        let params = &request.params;
        if prompt.len() >= self.context_len {
            return Err(InferError::InvalidInput(format!(
                "the prompt has {} tokens (the image's {} included); this model's context holds \
                 {}",
                prompt.len(),
                self.image_tokens(),
                self.context_len
            )));
        }
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        let start = Instant::now();
        let features = self.image_features(&request.image)?;
        let logits = on_pool(|| self.model.prompt_logits(&prompt, &features))?;
        let prompt_secs = start.elapsed().as_secs_f64();
        let decode_start = Instant::now();
        let model = &mut self.model;
        let decoded = decode(
            NextToken::Logits(logits),
            prompt.clone(),
            params,
            (&self.eos_ids, self.context_len),
            &self.tokenizer,
            ctx,
            &mut |next, pos| Ok(NextToken::Logits(on_pool(|| model.next_logits(next, pos))?)),
        );
        self.model.clear_kv_cache()?;
        let Decoded {
            text,
            ids: generated,
            stop_reason,
        } = decoded?;
        let steps = generated.len().saturating_sub(1);
        Ok(VisionChatOutput {
            text,
            stop_reason,
            width: request.image.width(),
            height: request.image.height(),
            prompt_tokens: prompt.len(),
            generated_tokens: generated.len(),
            prompt_tokens_per_s: rate(prompt.len(), prompt_secs),
            decode_tokens_per_s: rate(steps, decode_start.elapsed().as_secs_f64()),
            token_ids: generated,
        })
    }
}

/// The image processor: preprocessor_config.json, else the `image_processor` section of
/// transformers 5's processor_config.json.
fn image_processor(dir: &Path, processor: Option<&Value>) -> Result<ImageProcessor, InferError> {
    if dir.join("preprocessor_config.json").is_file() {
        return Ok(ImageProcessor::from_dir(dir)?);
    }
    let path = dir.join("processor_config.json");
    match processor.and_then(|c| c.get("image_processor")) {
        Some(section) => ImageProcessor::from_json(section).map_err(|e| InferError::file(&path, e)),
        None => Err(InferError::MissingFile {
            what: "preprocessor_config.json".into(),
            dir: dir.to_path_buf(),
        }),
    }
}

/// The processor's chat template, where transformers looks for it: chat_template.jinja,
/// chat_template.json, processor_config.json, then tokenizer_config.json.
fn chat_template_source(
    dir: &Path,
    processor: Option<&Value>,
    tokenizer: Option<&Value>,
) -> Option<String> {
    std::fs::read_to_string(dir.join("chat_template.jinja"))
        .ok()
        .or_else(|| {
            read_json(&dir.join("chat_template.json"))
                .ok()
                .and_then(|c| chat_template::from_tokenizer_config(&c))
        })
        .or_else(|| processor.and_then(chat_template::from_tokenizer_config))
        .or_else(|| tokenizer.and_then(chat_template::from_tokenizer_config))
}

impl Pipeline for VisionChat {
    type Input = VisionChatRequest;
    type Output = VisionChatOutput;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<VisionChat, InferError> {
        let family = *plan.loader::<VisionChatFamily>()?;
        ctx.emit(Event::Status(format!("loading {family:?} weights")));
        VisionChat::load_dir(dir, family, device)
    }

    fn run(
        &mut self,
        input: VisionChatRequest,
        ctx: &RunContext,
    ) -> Result<VisionChatOutput, InferError> {
        self.answer(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The family of a `model_type` Hubble runs.
fn family(model_type: &str) -> Option<VisionChatFamily> {
    match model_type {
        "llava" => Some(VisionChatFamily::Llava),
        "paligemma" => Some(VisionChatFamily::PaliGemma),
        _ => None,
    }
}

/// The image-text-to-text task file, as the registry lists it.
pub struct ImageTextToTextTask;

/// This task in the registry's list.
pub static MODULE: ImageTextToTextTask = ImageTextToTextTask;

impl TaskModule for ImageTextToTextTask {
    fn tasks(&self) -> &'static [Task] {
        &[IMAGE_TEXT_TO_TEXT]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[
            ("vlm", IMAGE_TEXT_TO_TEXT),
            ("vision-chat", IMAGE_TEXT_TO_TEXT),
        ]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        let model_type = facts.model_type.as_deref().unwrap_or_default();
        (family(model_type).is_some() || OTHER_FAMILIES.contains(&model_type))
            .then_some((Evidence::ModelType, IMAGE_TEXT_TO_TEXT))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let Some(family) = facts.model_type.as_deref().and_then(family) else {
            return Err(not_supported(facts.architecture_name(), task));
        };
        let name = facts.architecture_name();
        if !facts.has("preprocessor_config.json") && !facts.has("processor_config.json") {
            return Err(not_supported(
                format!("{name} without preprocessor_config.json"),
                task,
            ));
        }
        if !facts.has("tokenizer.json") {
            return Err(not_supported(
                format!("{name} without tokenizer.json"),
                task,
            ));
        }
        if !facts.has_safetensors() {
            return Err(not_supported(
                format!("{name} without safetensors weights"),
                task,
            ));
        }
        Ok(Plan::new(task, family))
    }

    fn loader(&self) -> LoadFn {
        erase::<VisionChat>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![
            clap::Arg::new("image")
                .long("image")
                .value_name("FILE")
                .value_parser(clap::value_parser!(std::path::PathBuf))
                .help("Image-text-to-text: the image to ask about (--input is the question)"),
        ]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        // `--input-file` names the image where no `--image` is given (the Compare view's words).
        let image = input.image_at("image", task)?;
        let question = input.typed_text()?;
        let mut messages = Vec::new();
        if let Some(system) = input.string("system") {
            messages.push(ChatMessage::new("system", &system));
        }
        messages.push(ChatMessage::new("user", &question));
        Ok(Request::new(VisionChatRequest {
            image,
            messages,
            params: GenerationParams::from_input(input),
        }))
    }
}

impl HumanOutput for VisionChatOutput {
    /// Ends the streamed answer's line; the numbers go to the log.
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(
            log,
            "[{} × {} image, {} prompt tokens at {:.1} tok/s, {} generated at {:.1} tok/s, \
             stop: {:?}]",
            self.width,
            self.height,
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

    #[test]
    fn eos_ids_read_single_and_lists() {
        assert_eq!(ids_of(Some(&json!(2))), [2]);
        assert_eq!(ids_of(Some(&json!([1, 7]))), [1, 7]);
        assert!(ids_of(None).is_empty());
    }

    #[test]
    fn templates_are_found_where_transformers_looks() {
        let dir = tempfile::tempdir().unwrap();
        let tok = json!({"chat_template": "T"});
        let proc = json!({"chat_template": "P"});
        assert_eq!(
            chat_template_source(dir.path(), None, Some(&tok)).as_deref(),
            Some("T")
        );
        assert_eq!(
            chat_template_source(dir.path(), Some(&proc), Some(&tok)).as_deref(),
            Some("P")
        );
        std::fs::write(
            dir.path().join("chat_template.json"),
            r#"{"chat_template": "J"}"#,
        )
        .unwrap();
        assert_eq!(
            chat_template_source(dir.path(), Some(&proc), None).as_deref(),
            Some("J")
        );
        std::fs::write(dir.path().join("chat_template.jinja"), "K").unwrap();
        assert_eq!(
            chat_template_source(dir.path(), Some(&proc), None).as_deref(),
            Some("K")
        );
    }
}
