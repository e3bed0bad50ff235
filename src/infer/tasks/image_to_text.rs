//! Image-to-text: a caption for an image with a BLIP captioner ([`crate::infer::models::blip`]), as
//! transformers' `BlipForConditionalGeneration.generate` makes it: the image encoded once, the
//! decoder started from `[DEC]` (or from `[DEC]` + an optional prompt such as
//! "a photography of", BLIP's conditional captioning), then greedy or sampled tokens with the KV
//! cache until `[SEP]`, max tokens, the decoder's position limit or the stop button. Pieces are
//! streamed as [`Event::Token`]s (the prompt first), like text generation.
//!
//! Supported: `model_type = "blip"` with `BlipForConditionalGeneration`. BLIP-2, GIT,
//! VisionEncoderDecoder and the others are "not supported yet" ([`MODULE`]).

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, IndexOp, Module, Tensor};
use candle_transformers::generation::LogitsProcessor;
use candle_transformers::models::blip::BlipForConditionalGeneration;
use image::RgbImage;
use serde::Serialize;
use tokenizers::Tokenizer;

use crate::infer::facts::ModelFacts;
use crate::infer::models::blip::BlipSpec;
use crate::infer::models::{pixel_tensor, weights};
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
use crate::infer::tasks::common::decoding::{GenerationParams, StopReason, TokenStream, rate};
use crate::infer::tasks::common::images::check_vision_files;
use crate::infer::{InferError, device};
use crate::media::ImageProcessor;

/// How many tokens a caption may have unless asked otherwise (the Try tab's limit; BLIP's
/// captions are a sentence).
pub const DEFAULT_MAX_TOKENS: usize = 40;

/// One image to caption.
#[derive(Debug, Clone)]
pub struct CaptionRequest {
    /// The image, 8-bit RGB (decoded by the front end).
    pub image: Arc<RgbImage>,
    /// The caption's beginning (conditional captioning); `None` or blank: unconditional.
    pub prompt: Option<String>,
    /// Sampling and length (temperature 0 is greedy, transformers' default).
    pub params: GenerationParams,
}

/// A finished caption.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptionOutput {
    /// The caption, the prompt included (as transformers decodes it).
    pub text: String,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// The input's width in pixels.
    pub width: u32,
    /// The input's height in pixels.
    pub height: u32,
    /// Tokens generated after the prompt.
    pub generated_tokens: usize,
    /// Decoder steps per second.
    pub decode_tokens_per_s: f64,
    /// The generated ids (after `[DEC]` and the prompt).
    pub token_ids: Vec<u32>,
}

/// A loaded BLIP captioner with its tokenizer and image processor.
pub struct Captioner {
    model: BlipForConditionalGeneration,
    tokenizer: Tokenizer,
    processor: ImageProcessor,
    bos_id: u32,
    sep_id: u32,
    max_positions: usize,
    device: Device,
    description: String,
}

impl Captioner {
    /// Loads `dir` (config.json, safetensors, tokenizer.json, preprocessor_config.json).
    pub fn load_dir(dir: &Path, device: &Device) -> Result<Captioner, InferError> {
        let config_path = dir.join("config.json");
        let config = crate::infer::read_json(&config_path)?;
        let spec = BlipSpec::from_config(&config).map_err(|e| InferError::file(&config_path, e))?;
        let tokenizer = crate::infer::tokenizers::read_tokenizer(dir)?;
        let processor = ImageProcessor::from_dir(dir)?;
        let model = spec.load(weights(dir, device)?)?;
        let (vision, text) = (&spec.config.vision_config, &spec.config.text_config);
        Ok(Captioner {
            model,
            tokenizer,
            processor,
            bos_id: spec.bos_id,
            sep_id: spec.sep_id,
            max_positions: text.max_position_embeddings,
            description: format!(
                "BLIP captioner (vision {} layers at {} px, text {} layers), safetensors on {}",
                vision.num_hidden_layers,
                vision.image_size,
                text.num_hidden_layers,
                device::describe(device)
            ),
            device: device.clone(),
        })
    }

    /// The decoder's first ids: `[DEC]`, then the prompt's tokens (without `[CLS]`/`[SEP]`),
    /// what transformers' generate feeds after the processor tokenized the prompt.
    pub fn prompt_ids(&self, prompt: Option<&str>) -> Result<Vec<u32>, InferError> {
        let mut ids = vec![self.bos_id];
        if let Some(prompt) = prompt.map(str::trim).filter(|p| !p.is_empty()) {
            let encoding = self
                .tokenizer
                .encode(prompt, false)
                .map_err(|e| InferError::Tokenizer(e.to_string()))?;
            ids.extend_from_slice(encoding.get_ids());
        }
        if ids.len() >= self.max_positions {
            return Err(InferError::InvalidInput(format!(
                "the prompt is {} tokens; this model's decoder takes at most {}: shorten it",
                ids.len() - 1,
                self.max_positions - 1
            )));
        }
        Ok(ids)
    }

    /// The vision model's last hidden states `(1, patches + 1, hidden)` for one image.
    pub fn image_embeds(&self, image: &RgbImage) -> Result<Tensor, InferError> {
        let pixels = pixel_tensor(self.processor.preprocess(image)?, &self.device)?;
        Ok(self.model.vision_model().forward(&pixels)?)
    }

    /// The next-token logits after `ids` (starting with `[DEC]`), recomputed without the KV
    /// cache (for parity checks).
    pub fn step_logits(&mut self, image: &RgbImage, ids: &[u32]) -> Result<Vec<f32>, InferError> {
        let embeds = self.image_embeds(image)?;
        self.model.reset_kv_cache();
        let logits = self.decode(ids, &embeds)?;
        self.model.reset_kv_cache();
        Ok(logits.to_vec1()?)
    }

    /// The last position's logits after feeding `ids` to the decoder (its cache holds the ids
    /// fed before).
    fn decode(&mut self, ids: &[u32], embeds: &Tensor) -> Result<Tensor, InferError> {
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let logits = self.model.text_decoder().forward(&input, embeds)?;
        Ok(logits.i((0, ids.len() - 1))?)
    }

    /// Captions the image, streaming the prompt and then each piece through `ctx`.
    pub fn caption(
        &mut self,
        request: &CaptionRequest,
        ctx: &RunContext,
    ) -> Result<CaptionOutput, InferError> {
        let mut ids = self.prompt_ids(request.prompt.as_deref())?;
        let prompt_len = ids.len();
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        let embeds = self.image_embeds(&request.image)?;
        let params = &request.params;
        let mut sampler = LogitsProcessor::from_sampling(params.seed, params.sampling());
        let mut stream = TokenStream::default();
        let mut prompt_text = String::new();
        for &id in &ids {
            if let Some(piece) = stream.push(&self.tokenizer, id)? {
                prompt_text.push_str(&piece);
            }
        }
        if !prompt_text.is_empty() {
            ctx.emit(Event::Token(prompt_text));
        }
        self.model.reset_kv_cache();
        let mut fed = 0;
        let mut stop_reason = StopReason::MaxTokens;
        let start = Instant::now();
        while ids.len() - prompt_len < params.max_tokens {
            if ctx.is_cancelled() {
                stop_reason = StopReason::Cancelled;
                break;
            }
            if ids.len() >= self.max_positions {
                stop_reason = StopReason::ContextFull;
                break;
            }
            // With the KV cache only the ids not fed yet go in (the whole prompt first).
            let logits = self.decode(&ids[fed..], &embeds)?;
            fed = ids.len();
            let next = sampler.sample(&params.penalize(logits, &ids)?)?;
            if next == self.sep_id {
                stop_reason = StopReason::Eos;
                break;
            }
            ids.push(next);
            if let Some(piece) = stream.push(&self.tokenizer, next)? {
                ctx.emit(Event::Token(piece));
            }
        }
        self.model.reset_kv_cache();
        if let Some(rest) = stream.finish(&self.tokenizer)? {
            ctx.emit(Event::Token(rest));
        }
        let generated = ids[prompt_len..].to_vec();
        Ok(CaptionOutput {
            text: self
                .tokenizer
                .decode(&ids, true)
                .map_err(|e| InferError::Tokenizer(e.to_string()))?,
            stop_reason,
            width: request.image.width(),
            height: request.image.height(),
            generated_tokens: generated.len(),
            decode_tokens_per_s: rate(generated.len(), start.elapsed().as_secs_f64()),
            token_ids: generated,
        })
    }
}

impl Pipeline for Captioner {
    type Input = CaptionRequest;
    type Output = CaptionOutput;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<Captioner, InferError> {
        plan.loader::<BlipCaptioner>()?;
        ctx.emit(Event::Status("loading BLIP weights".into()));
        Captioner::load_dir(dir, device)
    }

    fn run(
        &mut self,
        input: CaptionRequest,
        ctx: &RunContext,
    ) -> Result<CaptionOutput, InferError> {
        self.caption(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
/// `image-to-text`: a caption for an image.
pub const IMAGE_TO_TEXT: Task = Task::new("image-to-text");

/// The image-to-text architecture Hubble runs: BLIP captioners in the
/// Salesforce/blip-image-captioning-base/-large layout (config.json with `text_config` and
/// `vision_config`, a BERT tokenizer.json with `[DEC]`, BlipImageProcessor's
/// preprocessor_config.json, safetensors).
pub const BLIP_CAPTIONER: &str = "BlipForConditionalGeneration";

/// `model_type`s of other image-to-text models (BLIP-2, GIT, VisionEncoderDecoder such as
/// TrOCR, Pix2Struct): planned for image-to-text so the answer is "not supported yet".
const OTHER_CAPTIONERS: [&str; 4] = ["blip-2", "git", "vision-encoder-decoder", "pix2struct"];

/// The plan's loader: a BLIP captioner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlipCaptioner;

/// The image-to-text task file, as the registry lists it.
pub struct ImageToTextTask;

/// This task in the registry's list.
pub static MODULE: ImageToTextTask = ImageToTextTask;

impl TaskModule for ImageToTextTask {
    fn tasks(&self) -> &'static [Task] {
        &[IMAGE_TO_TEXT]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[
            ("caption", IMAGE_TO_TEXT),
            ("image-captioning", IMAGE_TO_TEXT),
        ]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        let model_type = facts.model_type.as_deref().unwrap_or_default();
        ((model_type == "blip" && facts.has_architecture(BLIP_CAPTIONER))
            || OTHER_CAPTIONERS.contains(&model_type))
        .then_some((Evidence::ModelType, IMAGE_TO_TEXT))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        // BLIP's other heads (question answering, retrieval) are other tasks.
        if facts.model_type.as_deref() != Some("blip")
            || (!facts.architectures.is_empty() && !facts.has_architecture(BLIP_CAPTIONER))
        {
            return Err(not_supported(facts.architecture_name(), task));
        }
        check_vision_files(facts, task, true)?;
        Ok(Plan::new(task, BlipCaptioner))
    }

    fn loader(&self) -> LoadFn {
        erase::<Captioner>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![
            clap::Arg::new("prompt")
                .long("prompt")
                .value_name("TEXT")
                .help(
                    "Image-to-text: how the caption starts (BLIP's conditional captioning, e.g. \
             \"a photography of\"); the caption printed includes it",
                ),
        ]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        Ok(Request::new(CaptionRequest {
            image: input.image(task)?,
            prompt: input.value::<String>("prompt"),
            params: GenerationParams::from_input(input),
        }))
    }
}

impl HumanOutput for CaptionOutput {
    /// Ends the streamed caption's line; the run's numbers go to the log.
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(
            log,
            "[{} × {} image, {} tokens at {:.1} tok/s, stop: {:?}]",
            self.width,
            self.height,
            self.generated_tokens,
            self.decode_tokens_per_s,
            self.stop_reason
        )
    }
}
