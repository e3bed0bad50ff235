//! Text-to-audio: music from a description with MusicGen ([`crate::infer::models::musicgen`]):
//! the prompt through the model's T5 tokenizer, codes for the asked duration with
//! classifier-free guidance (MusicGen's 3 by default) sampled among the top 250 at temperature
//! 1 as MusicGen's generation config says (temperature 0 is greedy), then EnCodec's waveform.
//! Progress every step; Stop answers within one step.
//!
//! `hubble run --task text-to-audio --input TEXT --duration 5 --output music.wav`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use serde::Serialize;
use tokenizers::Tokenizer;

use crate::infer::facts::ModelFacts;
use crate::infer::models::musicgen::Musicgen;
use crate::infer::models::weights;
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
use crate::infer::tokenizers::read_tokenizer;
use crate::infer::{InferError, device, read_json};

/// `text-to-audio`.
pub const TEXT_TO_AUDIO: Task = Task::new("text-to-audio");

/// The longest piece made at once, in seconds (MusicGen was trained on 30 s pieces).
pub const MAX_SECONDS: f64 = 30.0;

/// Music to make and how.
#[derive(Debug, Clone, PartialEq)]
pub struct MusicRequest {
    /// The description.
    pub text: String,
    /// Length in seconds.
    pub seconds: f64,
    /// Classifier-free guidance (1 or less: the text alone).
    pub guidance_scale: f64,
    /// Sampling temperature (0: greedy).
    pub temperature: f64,
    /// Sample among the k most likely codes.
    pub top_k: usize,
    /// Seed of the sampling.
    pub seed: u64,
    /// Where to save the WAV (the command line); the app saves from its view.
    pub output: Option<PathBuf>,
}

impl Default for MusicRequest {
    /// MusicGen's generation config: 5 s, guidance 3, top 250 at temperature 1.
    fn default() -> MusicRequest {
        MusicRequest {
            text: String::new(),
            seconds: 5.0,
            guidance_scale: 3.0,
            temperature: 1.0,
            top_k: 250,
            seed: 0,
            output: None,
        }
    }
}

/// Music made from text.
#[derive(Debug, Clone, Serialize)]
pub struct MusicOutput {
    /// The description.
    pub text: String,
    /// Samples per second.
    pub sampling_rate: u32,
    /// Length in seconds.
    pub audio_seconds: f64,
    /// Seconds it took to make.
    pub seconds: f64,
    /// Seconds of work per second of audio.
    pub real_time_factor: f64,
    /// Code frames made.
    pub frames: usize,
    /// The guidance used.
    pub guidance_scale: f64,
    /// The temperature used.
    pub temperature: f64,
    /// The seed used.
    pub seed: u64,
    /// Where the WAV was saved, when a path was given.
    pub saved_to: Option<PathBuf>,
    /// The mono samples in −1..1.
    #[serde(skip)]
    pub samples: Arc<Vec<f32>>,
}

/// A loaded MusicGen with its tokenizer.
pub struct Composer {
    model: Musicgen,
    tokenizer: Tokenizer,
    description: String,
}

impl Composer {
    /// Loads `dir` (config.json, model.safetensors, the T5 tokenizer).
    pub fn load_dir(dir: &Path, device: &Device) -> Result<Composer, InferError> {
        let config_path = dir.join("config.json");
        let config = read_json(&config_path)?;
        let model = Musicgen::new(&config, weights(dir, device)?, device)
            .map_err(|e| InferError::file(&config_path, e))?;
        Ok(Composer {
            description: format!(
                "MusicGen, {} codebooks, EnCodec at {} Hz, safetensors on {}",
                model.spec().codebooks,
                model.sampling_rate(),
                device::describe(device)
            ),
            tokenizer: read_tokenizer(dir)?,
            model,
        })
    }

    /// The prompt's token ids (`</s>` last, as T5's tokenizer adds it).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, InferError> {
        Ok(self
            .tokenizer
            .encode(text, true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?
            .get_ids()
            .to_vec())
    }

    /// The delayed codes of `steps` decoder steps for `text` (see [`Musicgen::generate`]),
    /// every chosen code's guided logits handed to `seen`.
    pub fn codes(
        &mut self,
        text: &str,
        steps: usize,
        request: &MusicRequest,
        ctx: &RunContext,
        seen: &mut dyn FnMut(usize, &candle_core::Tensor),
    ) -> Result<Vec<Vec<u32>>, InferError> {
        let ids = self.token_ids(text)?;
        let sampling = if request.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::TopK {
                k: request.top_k.max(1),
                temperature: request.temperature,
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(request.seed, sampling);
        let mut pick = |codebook: usize, logits: &candle_core::Tensor| {
            seen(codebook, logits);
            sampler.sample(logits)
        };
        let mut step = |done: usize| {
            ctx.emit(Event::Progress {
                done,
                total: steps,
                preview: None,
            });
            !ctx.is_cancelled()
        };
        self.model
            .generate(&ids, steps, request.guidance_scale, &mut pick, &mut step)?
            .ok_or(InferError::Cancelled)
    }

    /// Makes the request's music, saving a WAV when it names a file.
    pub fn compose(
        &mut self,
        request: &MusicRequest,
        ctx: &RunContext,
    ) -> Result<MusicOutput, InferError> {
        if request.text.trim().is_empty() {
            return Err(InferError::InvalidInput(
                "describe the music to make: pass --input TEXT".into(),
            ));
        }
        if !(request.seconds > 0.0 && request.seconds <= MAX_SECONDS) {
            return Err(InferError::InvalidInput(format!(
                "the duration must be above 0 and at most {MAX_SECONDS} seconds, not {}",
                request.seconds
            )));
        }
        if !(0.0..=20.0).contains(&request.guidance_scale) {
            return Err(InferError::InvalidInput(
                "the guidance scale must be between 0 and 20".into(),
            ));
        }
        let start = Instant::now();
        let frames = (request.seconds * self.model.frame_rate()).round().max(1.0) as usize;
        let steps = frames + self.model.spec().codebooks - 1;
        let delayed = self.codes(&request.text, steps, request, ctx, &mut |_, _| {})?;
        let codes = self.model.undelay(&delayed);
        let samples = self.model.decode(&codes)?;
        let seconds = start.elapsed().as_secs_f64();
        let rate = self.model.sampling_rate();
        let audio_seconds = samples.len() as f64 / f64::from(rate);
        let mut output = MusicOutput {
            text: request.text.clone(),
            sampling_rate: rate,
            audio_seconds,
            seconds,
            real_time_factor: seconds / audio_seconds.max(1e-9),
            frames: codes.first().map_or(0, Vec::len),
            guidance_scale: request.guidance_scale,
            temperature: request.temperature,
            seed: request.seed,
            saved_to: None,
            samples: Arc::new(samples),
        };
        if let Some(path) = &request.output {
            crate::media::audio::write_wav(path, &output.samples, rate)
                .map_err(|e| InferError::file(path, e))?;
            output.saved_to = Some(path.clone());
        }
        Ok(output)
    }

    /// The loaded model.
    pub fn model(&self) -> &Musicgen {
        &self.model
    }
}

impl Pipeline for Composer {
    type Input = MusicRequest;
    type Output = MusicOutput;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<Composer, InferError> {
        plan.loader::<MusicgenFiles>()?;
        ctx.emit(Event::Status("loading MusicGen".into()));
        Composer::load_dir(dir, device)
    }

    fn run(&mut self, input: MusicRequest, ctx: &RunContext) -> Result<MusicOutput, InferError> {
        self.compose(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The plan's loader: a MusicGen checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MusicgenFiles;

/// The text-to-audio task file, as the registry lists it.
pub struct TextToAudioTask;

/// This task in the registry's list.
pub static MODULE: TextToAudioTask = TextToAudioTask;

impl TaskModule for TextToAudioTask {
    fn tasks(&self) -> &'static [Task] {
        &[TEXT_TO_AUDIO]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[("music", TEXT_TO_AUDIO), ("tta", TEXT_TO_AUDIO)]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        (facts.model_type.as_deref() == Some("musicgen"))
            .then_some((Evidence::ModelType, TEXT_TO_AUDIO))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        if facts.model_type.as_deref() != Some("musicgen") {
            return Err(not_supported(facts.architecture_name(), task));
        }
        if !facts.has("tokenizer.json") {
            return Err(not_supported(
                "a MusicGen model without tokenizer.json",
                task,
            ));
        }
        if !facts.has_safetensors() {
            return Err(not_supported(
                "a MusicGen model without safetensors weights",
                task,
            ));
        }
        Ok(Plan::new(task, MusicgenFiles))
    }

    fn loader(&self) -> LoadFn {
        erase::<Composer>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![
            clap::Arg::new("duration")
                .long("duration")
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(f64))
                .help("Text-to-audio: length of the music (default 5)"),
        ]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        let output = input.value::<PathBuf>("output").ok_or_else(|| {
            InferError::InvalidInput(format!("{task} writes audio: pass --output FILE.wav"))
        })?;
        let defaults = MusicRequest::default();
        Ok(Request::new(MusicRequest {
            text: input.text()?,
            seconds: input.value::<f64>("duration").unwrap_or(defaults.seconds),
            guidance_scale: input
                .value::<f64>("guidance")
                .unwrap_or(defaults.guidance_scale),
            temperature: input
                .value::<f64>("temperature")
                .unwrap_or(defaults.temperature),
            top_k: input.value::<usize>("top_k").unwrap_or(defaults.top_k),
            seed: input.value::<u64>("seed").unwrap_or_default(),
            output: Some(output),
        }))
    }
}

impl HumanOutput for MusicOutput {
    /// The saved file on stdout; length and speed on the log.
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        if let Some(path) = &self.saved_to {
            writeln!(out, "{}", path.display())?;
        }
        writeln!(
            log,
            "[{:.2} s of audio at {} Hz in {:.2} s (real-time factor {:.3})]",
            self.audio_seconds, self.sampling_rate, self.seconds, self.real_time_factor
        )
    }
}
