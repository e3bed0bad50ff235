//! Text-to-speech: speech from text with a VITS voice ([`crate::infer::models::vits`]): MMS-TTS's
//! one model per language (facebook/mms-tts-eng, -deu, -fra, … over 1,100 languages; those that
//! read uroman-romanised text take Latin-letter input) and other VITS checkpoints in
//! transformers' layout. The characters are tokenised as `VitsTokenizer` does, the waveform made
//! as `VitsModel` makes it, with the speaking rate and both noise scales settable (0 noise is
//! deterministic; the seed fixes the rest).
//!
//! `hubble run --task text-to-speech --input TEXT --output out.wav`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use crate::infer::facts::ModelFacts;
use crate::infer::models::vits::{Vits, VitsSpec, Voice};
use crate::infer::models::weights;
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
use crate::infer::tasks::common::noise::{NoiseSource, SeededNoise};
use crate::infer::tokenizers::vits_tokenizer::VitsTokenizer;
use crate::infer::{InferError, device, read_json};

/// `text-to-speech`.
pub const TEXT_TO_SPEECH: Task = Task::new("text-to-speech");

/// The longest text spoken at once, in characters. VITS attends over the whole text (twice as
/// many tokens with the blanks), so memory grows with its square: 2000 characters hold the
/// attention near 0.5 GB.
pub const MAX_CHARACTERS: usize = 2000;

/// Text to speak and how.
#[derive(Debug, Clone, Default)]
pub struct SpeechRequest {
    /// The text.
    pub text: String,
    /// Speed (1 as trained, 2 twice as fast); `None`: the model's.
    pub speaking_rate: Option<f64>,
    /// Variation of the sound; `None`: the model's (MMS: 0.667).
    pub noise_scale: Option<f64>,
    /// Variation of the rhythm; `None`: the model's (MMS: 0.8).
    pub noise_scale_duration: Option<f64>,
    /// Seed of the noise.
    pub seed: u64,
    /// Where to save the WAV (the command line); the app saves from its view.
    pub output: Option<PathBuf>,
}

/// Speech made from text.
#[derive(Debug, Clone, Serialize)]
pub struct SpeechOutput {
    /// The text.
    pub text: String,
    /// Samples per second.
    pub sampling_rate: u32,
    /// Length of the speech in seconds.
    pub audio_seconds: f64,
    /// Seconds it took to make.
    pub seconds: f64,
    /// Seconds of work per second of speech (below 1: faster than real time).
    pub real_time_factor: f64,
    /// The settings used.
    pub speaking_rate: f64,
    /// The prior's noise scale used.
    pub noise_scale: f64,
    /// The duration predictor's noise scale used.
    pub noise_scale_duration: f64,
    /// Where the WAV was saved, when a path was given.
    pub saved_to: Option<PathBuf>,
    /// The mono samples in −1..1.
    #[serde(skip)]
    pub samples: Arc<Vec<f32>>,
}

/// A loaded VITS voice with its tokenizer.
pub struct Speaker {
    model: Vits,
    tokenizer: VitsTokenizer,
    description: String,
}

impl Speaker {
    /// Loads `dir` (config.json, model.safetensors, vocab.json, tokenizer_config.json).
    pub fn load_dir(dir: &Path, device: &Device) -> Result<Speaker, InferError> {
        let config_path = dir.join("config.json");
        let spec = VitsSpec::from_config(&read_json(&config_path)?)
            .map_err(|e| InferError::file(&config_path, e))?;
        let tokenizer = VitsTokenizer::from_dir(dir)?;
        let model = Vits::new(weights(dir, device)?, &spec, device)?;
        Ok(Speaker {
            description: format!(
                "VITS voice ({} Hz), safetensors on {}",
                spec.sampling_rate,
                device::describe(device)
            ),
            model,
            tokenizer,
        })
    }

    /// The token ids of `text`.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, InferError> {
        self.tokenizer.encode(text)
    }

    /// The voice a request asks for (the model's settings where it is silent), checked.
    pub fn voice(&self, request: &SpeechRequest) -> Result<Voice, InferError> {
        let default = self.model.default_voice();
        let voice = Voice {
            speaking_rate: request.speaking_rate.unwrap_or(default.speaking_rate),
            noise_scale: request.noise_scale.unwrap_or(default.noise_scale),
            noise_scale_duration: request
                .noise_scale_duration
                .unwrap_or(default.noise_scale_duration),
        };
        if !(0.1..=10.0).contains(&voice.speaking_rate) {
            return Err(InferError::InvalidInput(format!(
                "the speaking rate must be between 0.1 and 10, not {}",
                voice.speaking_rate
            )));
        }
        if !(0.0..=2.0).contains(&voice.noise_scale)
            || !(0.0..=2.0).contains(&voice.noise_scale_duration)
        {
            return Err(InferError::InvalidInput(
                "noise scales must be between 0 and 2".into(),
            ));
        }
        Ok(voice)
    }

    /// The waveform for `text`, with noise from `noise`.
    pub fn waveform(
        &self,
        text: &str,
        voice: &Voice,
        noise: &mut dyn NoiseSource,
    ) -> Result<Vec<f32>, InferError> {
        if text.chars().count() > MAX_CHARACTERS {
            return Err(InferError::InvalidInput(format!(
                "the text has more than {MAX_CHARACTERS} characters: speak it in parts"
            )));
        }
        let ids = self.token_ids(text)?;
        let mut draw = |shape: &[usize]| {
            noise
                .draw(shape, &Device::Cpu)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))
        };
        Ok(self.model.synthesize(&ids, voice, &mut draw)?)
    }

    /// Speaks the request, saving a WAV when it names a file.
    pub fn speak(
        &self,
        request: &SpeechRequest,
        ctx: &RunContext,
    ) -> Result<SpeechOutput, InferError> {
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        let voice = self.voice(request)?;
        let start = Instant::now();
        let samples = self.waveform(&request.text, &voice, &mut SeededNoise::new(request.seed))?;
        let seconds = start.elapsed().as_secs_f64();
        let rate = self.model.spec().sampling_rate;
        let audio_seconds = samples.len() as f64 / rate as f64;
        let mut output = SpeechOutput {
            text: request.text.clone(),
            sampling_rate: rate,
            audio_seconds,
            seconds,
            real_time_factor: seconds / audio_seconds.max(1e-9),
            speaking_rate: voice.speaking_rate,
            noise_scale: voice.noise_scale,
            noise_scale_duration: voice.noise_scale_duration,
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
}

impl Pipeline for Speaker {
    type Input = SpeechRequest;
    type Output = SpeechOutput;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<Speaker, InferError> {
        plan.loader::<VitsVoice>()?;
        ctx.emit(Event::Status("loading the VITS voice".into()));
        Speaker::load_dir(dir, device)
    }

    fn run(&mut self, input: SpeechRequest, ctx: &RunContext) -> Result<SpeechOutput, InferError> {
        self.speak(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The plan's loader: a VITS voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VitsVoice;

/// The text-to-speech task file, as the registry lists it.
pub struct TextToSpeechTask;

/// This task in the registry's list.
pub static MODULE: TextToSpeechTask = TextToSpeechTask;

impl TaskModule for TextToSpeechTask {
    fn tasks(&self) -> &'static [Task] {
        &[TEXT_TO_SPEECH]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[("tts", TEXT_TO_SPEECH), ("speech", TEXT_TO_SPEECH)]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        (facts.model_type.as_deref() == Some("vits"))
            .then_some((Evidence::ModelType, TEXT_TO_SPEECH))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        if facts.model_type.as_deref() != Some("vits") {
            return Err(not_supported(facts.architecture_name(), task));
        }
        for file in ["vocab.json", "tokenizer_config.json"] {
            if !facts.has(file) {
                return Err(not_supported(format!("a VITS model without {file}"), task));
            }
        }
        if !facts.has_safetensors() {
            return Err(not_supported(
                "a VITS model without safetensors weights",
                task,
            ));
        }
        Ok(Plan::new(task, VitsVoice))
    }

    fn loader(&self) -> LoadFn {
        erase::<Speaker>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        let scale = |id: &'static str, long: &'static str, help: &'static str| {
            clap::Arg::new(id)
                .long(long)
                .value_name("X")
                .value_parser(clap::value_parser!(f64))
                .help(help)
        };
        vec![
            scale(
                "speaking_rate",
                "speaking-rate",
                "Text-to-speech: speed (1 as trained; 1.5 faster)",
            ),
            scale(
                "noise_scale",
                "noise-scale",
                "Text-to-speech: variation of the voice (default: the model's; 0 is deterministic)",
            ),
            scale(
                "noise_scale_duration",
                "noise-scale-duration",
                "Text-to-speech: variation of the rhythm (default: the model's; 0 is deterministic)",
            ),
        ]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        let output = input.value::<PathBuf>("output").ok_or_else(|| {
            InferError::InvalidInput(format!("{task} writes audio: pass --output FILE.wav"))
        })?;
        Ok(Request::new(SpeechRequest {
            text: input.text()?,
            speaking_rate: input.value::<f64>("speaking_rate"),
            noise_scale: input.value::<f64>("noise_scale"),
            noise_scale_duration: input.value::<f64>("noise_scale_duration"),
            seed: input.value::<u64>("seed").unwrap_or_default(),
            output: Some(output),
        }))
    }
}

impl HumanOutput for SpeechOutput {
    /// The saved file on stdout; length and speed on the log.
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        if let Some(path) = &self.saved_to {
            writeln!(out, "{}", path.display())?;
        }
        writeln!(
            log,
            "[{:.2} s of speech at {} Hz in {:.2} s (real-time factor {:.3})]",
            self.audio_seconds, self.sampling_rate, self.seconds, self.real_time_factor
        )
    }
}
