//! Text-to-speech: speech from text with
//! - a VITS voice ([`crate::infer::models::vits`]): MMS-TTS's one model per language
//!   (facebook/mms-tts-eng, -deu, -fra, … over 1,100 languages; those that read
//!   uroman-romanised text take Latin-letter input) and other VITS checkpoints in transformers'
//!   layout. The characters are tokenised as `VitsTokenizer` does, the waveform made as
//!   `VitsModel` makes it, with the speaking rate and both noise scales settable (0 noise is
//!   deterministic; the seed fixes the rest);
//! - a SpeechT5 voice ([`speecht5_voice`]) with its HiFi-GAN vocoder and a speaker embedding.
//!
//! `hubble run --task text-to-speech --input TEXT --output out.wav [--speaker X.npy]`.

mod speecht5_voice;

pub use speecht5_voice::{SpeechT5Voice, VOCODER_REPO, find_vocoder};

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use crate::infer::facts::ModelFacts;
use crate::infer::models::speecht5::StopRule;
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
    /// Seed of the noise (VITS) or of the prenet's dropout (SpeechT5).
    pub seed: u64,
    /// SpeechT5: the speaker embedding, a `.npy` x-vector (`None`: the neutral voice).
    pub speaker: Option<PathBuf>,
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
    /// The settings used (VITS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaking_rate: Option<f64>,
    /// The prior's noise scale used (VITS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_scale: Option<f64>,
    /// The duration predictor's noise scale used (VITS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_scale_duration: Option<f64>,
    /// The speaker embedding used (SpeechT5): its file, or "neutral".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// Where the WAV was saved, when a path was given.
    pub saved_to: Option<PathBuf>,
    /// The mono samples in −1..1.
    #[serde(skip)]
    pub samples: Arc<Vec<f32>>,
}

/// A loaded voice: VITS with its tokenizer, or SpeechT5 with its tokenizer and vocoder.
pub struct Speaker {
    engine: Engine,
    description: String,
}

enum Engine {
    Vits {
        model: Box<Vits>,
        tokenizer: VitsTokenizer,
    },
    SpeechT5(Box<SpeechT5Voice>),
}

impl Speaker {
    /// Loads `dir`: a VITS voice (config.json, model.safetensors, vocab.json,
    /// tokenizer_config.json), or a SpeechT5 one (spm_char.model) with the vocoder
    /// [`find_vocoder`] finds.
    pub fn load_dir(dir: &Path, device: &Device) -> Result<Speaker, InferError> {
        let config_path = dir.join("config.json");
        let config = read_json(&config_path)?;
        if config.get("model_type").and_then(|t| t.as_str()) == Some("speecht5") {
            return Speaker::load_speecht5(dir, &find_vocoder(dir)?, device);
        }
        let spec = VitsSpec::from_config(&config).map_err(|e| InferError::file(&config_path, e))?;
        let tokenizer = VitsTokenizer::from_dir(dir)?;
        let model = Vits::new(weights(dir, device)?, &spec, device)?;
        Ok(Speaker {
            description: format!(
                "VITS voice ({} Hz), safetensors on {}",
                spec.sampling_rate,
                device::describe(device)
            ),
            engine: Engine::Vits {
                model: Box::new(model),
                tokenizer,
            },
        })
    }

    /// Loads the SpeechT5 model in `dir` with the vocoder in `vocoder_dir`.
    pub fn load_speecht5(
        dir: &Path,
        vocoder_dir: &Path,
        device: &Device,
    ) -> Result<Speaker, InferError> {
        let (voice, description) = SpeechT5Voice::load(dir, vocoder_dir, device)?;
        Ok(Speaker {
            engine: Engine::SpeechT5(Box::new(voice)),
            description,
        })
    }

    /// The SpeechT5 voice, when this is one.
    pub fn speecht5(&self) -> Option<&SpeechT5Voice> {
        match &self.engine {
            Engine::SpeechT5(voice) => Some(voice),
            Engine::Vits { .. } => None,
        }
    }

    /// The token ids of `text`.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, InferError> {
        match &self.engine {
            Engine::Vits { tokenizer, .. } => tokenizer.encode(text),
            Engine::SpeechT5(voice) => voice.token_ids(text),
        }
    }

    /// The VITS voice a request asks for (the model's settings where it is silent), checked.
    pub fn voice(&self, request: &SpeechRequest) -> Result<Voice, InferError> {
        let Engine::Vits { model, .. } = &self.engine else {
            return Err(InferError::InvalidInput(
                "SpeechT5 has no speaking rate or noise scales: its voice is the speaker \
                 embedding (--speaker FILE.npy)"
                    .into(),
            ));
        };
        let default = model.default_voice();
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

    /// The VITS waveform for `text`, with noise from `noise`.
    pub fn waveform(
        &self,
        text: &str,
        voice: &Voice,
        noise: &mut dyn NoiseSource,
    ) -> Result<Vec<f32>, InferError> {
        let Engine::Vits { model, .. } = &self.engine else {
            return Err(InferError::InvalidInput("not a VITS voice".into()));
        };
        let ids = self.token_ids(text)?;
        let mut draw = |shape: &[usize]| {
            noise
                .draw(shape, &Device::Cpu)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))
        };
        Ok(model.synthesize(&ids, voice, &mut draw)?)
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
        if request.text.chars().count() > MAX_CHARACTERS {
            return Err(InferError::InvalidInput(format!(
                "the text has more than {MAX_CHARACTERS} characters: speak it in parts"
            )));
        }
        let start = Instant::now();
        let (samples, rate, settings, speaker) = match &self.engine {
            Engine::Vits { model, .. } => {
                if request.speaker.is_some() {
                    return Err(InferError::InvalidInput(
                        "a VITS voice has no speaker embedding: --speaker is for SpeechT5".into(),
                    ));
                }
                let voice = self.voice(request)?;
                let samples =
                    self.waveform(&request.text, &voice, &mut SeededNoise::new(request.seed))?;
                (samples, model.spec().sampling_rate, Some(voice), None)
            }
            Engine::SpeechT5(t5) => {
                if request.speaking_rate.is_some()
                    || request.noise_scale.is_some()
                    || request.noise_scale_duration.is_some()
                {
                    self.voice(request)?;
                }
                let speaker = t5.speaker(request.speaker.as_deref())?;
                let stop = StopRule::default();
                let spectrogram =
                    t5.spectrogram(&request.text, &speaker, &stop, request.seed, ctx)?;
                let named = request
                    .speaker
                    .as_ref()
                    .map_or_else(|| "neutral".to_string(), |path| path.display().to_string());
                (
                    t5.vocode(&spectrogram)?,
                    t5.sampling_rate(),
                    None,
                    Some(named),
                )
            }
        };
        let seconds = start.elapsed().as_secs_f64();
        let audio_seconds = samples.len() as f64 / rate as f64;
        let mut output = SpeechOutput {
            text: request.text.clone(),
            sampling_rate: rate,
            audio_seconds,
            seconds,
            real_time_factor: seconds / audio_seconds.max(1e-9),
            speaking_rate: settings.map(|v| v.speaking_rate),
            noise_scale: settings.map(|v| v.noise_scale),
            noise_scale_duration: settings.map(|v| v.noise_scale_duration),
            speaker,
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
        plan.loader::<VoiceFiles>()?;
        ctx.emit(Event::Status("loading the voice".into()));
        Speaker::load_dir(dir, device)
    }

    fn run(&mut self, input: SpeechRequest, ctx: &RunContext) -> Result<SpeechOutput, InferError> {
        self.speak(&input, ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The plan's loader: a VITS or SpeechT5 voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceFiles;

/// The voice family a model is, with the tokenizer files it needs: VITS, or SpeechT5's
/// text-to-speech model (not its speech recognition or voice conversion ones).
fn voice_kind(facts: &ModelFacts) -> Option<(&'static str, &'static [&'static str])> {
    match facts.model_type.as_deref() {
        Some("vits") => Some(("VITS", &["vocab.json", "tokenizer_config.json"])),
        Some("speecht5")
            if facts
                .architectures
                .iter()
                .any(|a| a == "SpeechT5ForTextToSpeech") =>
        {
            Some(("SpeechT5", &["spm_char.model"]))
        }
        _ => None,
    }
}

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
        voice_kind(facts).map(|_| (Evidence::ModelType, TEXT_TO_SPEECH))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let Some((name, files)) = voice_kind(facts) else {
            return Err(not_supported(facts.architecture_name(), task));
        };
        for file in files {
            if !facts.has(file) {
                return Err(not_supported(
                    format!("a {name} model without {file}"),
                    task,
                ));
            }
        }
        if !facts.has_safetensors() {
            return Err(not_supported(
                format!("a {name} model without safetensors weights"),
                task,
            ));
        }
        Ok(Plan::new(task, VoiceFiles))
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
            clap::Arg::new("speaker")
                .long("speaker")
                .value_name("X.npy")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Text-to-speech with SpeechT5: the speaker embedding, a float32 .npy x-vector (default: a neutral voice)"),
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
            speaker: input.value::<PathBuf>("speaker"),
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
