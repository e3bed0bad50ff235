//! Audio classification: wav2vec2 and HuBERT (`*ForSequenceClassification`) on the waveform,
//! the Audio Spectrogram Transformer (`ASTForAudioClassification`) on Kaldi filter banks, as
//! transformers' `audio-classification` pipeline: 16 kHz mono samples → the checkpoint's
//! feature extractor (preprocessor_config.json) → logits → softmax → the top labels of
//! `id2label`. A file, a dropped file or the microphone.

use std::io::{self, Write};
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::ops::softmax_last_dim;
use serde::Serialize;

use crate::infer::facts::ModelFacts;
use crate::infer::models::ast::{self, AstClassifier};
use crate::infer::models::wav2vec2::{self, Wav2Vec2Classifier};
use crate::infer::models::{id2label, weights};
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
use crate::infer::tasks::common::write_labels;
use crate::infer::{InferError, device, read_json};
use crate::media::audio_features::AudioFeatureExtractor;
use crate::results::{LabelScore, ranked};

/// `audio-classification`.
pub const AUDIO_CLASSIFICATION: Task = Task::new("audio-classification");

/// Labels returned unless asked otherwise (transformers' default).
pub const DEFAULT_TOP_K: usize = 5;

/// One clip to classify.
#[derive(Debug, Clone, Default)]
pub struct AudioRequest {
    /// Mono samples at 16 kHz (`media::audio::load_16k_mono`, the recorder).
    pub samples: Vec<f32>,
    /// How many labels (`None`: [`DEFAULT_TOP_K`]).
    pub top_k: Option<usize>,
}

/// The clip's labels, most likely first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioLabels {
    /// Length of the clip in seconds.
    pub audio_seconds: f64,
    /// The top labels with their softmax scores.
    pub labels: Vec<LabelScore>,
}

/// The audio classifiers Hubble runs (the plan's loader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioArch {
    /// `Wav2Vec2ForSequenceClassification`.
    Wav2Vec2,
    /// `HubertForSequenceClassification`.
    Hubert,
    /// `ASTForAudioClassification`.
    Ast,
}

impl AudioArch {
    fn of(model_type: &str) -> Option<AudioArch> {
        match model_type {
            "wav2vec2" => Some(AudioArch::Wav2Vec2),
            "hubert" => Some(AudioArch::Hubert),
            "audio-spectrogram-transformer" => Some(AudioArch::Ast),
            _ => None,
        }
    }
}

enum Model {
    Wav2Vec2(Box<Wav2Vec2Classifier>),
    Ast(Box<AstClassifier>),
}

/// A loaded audio classifier with its feature extractor.
pub struct AudioClassifier {
    model: Model,
    features: AudioFeatureExtractor,
    labels: Vec<String>,
    device: Device,
    description: String,
}

impl AudioClassifier {
    /// Loads `dir` (config.json, safetensors, preprocessor_config.json) as `arch`.
    pub fn load_dir(
        dir: &Path,
        arch: AudioArch,
        device: &Device,
    ) -> Result<AudioClassifier, InferError> {
        let config_path = dir.join("config.json");
        let config = read_json(&config_path)?;
        let labels = id2label(&config);
        let processor_path = dir.join("preprocessor_config.json");
        let features = AudioFeatureExtractor::from_json(&read_json(&processor_path)?)
            .map_err(|e| InferError::file(&processor_path, e))?;
        let vb = weights(dir, device)?;
        let bad = |e: serde_json::Error| InferError::file(&config_path, e);
        let model = match arch {
            AudioArch::Wav2Vec2 | AudioArch::Hubert => {
                let c: wav2vec2::Config = serde_json::from_value(config.clone()).map_err(bad)?;
                Model::Wav2Vec2(Box::new(Wav2Vec2Classifier::new(&c, labels.len(), vb)?))
            }
            AudioArch::Ast => {
                let c: ast::Config = serde_json::from_value(config.clone()).map_err(bad)?;
                Model::Ast(Box::new(AstClassifier::new(&c, labels.len(), vb)?))
            }
        };
        Ok(AudioClassifier {
            model,
            features,
            description: format!(
                "{arch:?} audio classifier, {} labels, safetensors on {}",
                labels.len(),
                device::describe(device)
            ),
            labels,
            device: device.clone(),
        })
    }

    /// The raw logits `(labels,)` for one clip.
    pub fn logits(&self, samples: &[f32]) -> Result<Tensor, InferError> {
        let features = self
            .features
            .extract(samples)
            .map_err(InferError::InvalidInput)?;
        let mut shape = vec![1];
        shape.extend(&features.shape);
        let input = Tensor::from_vec(features.values, shape, &self.device)?;
        let logits = match &self.model {
            Model::Wav2Vec2(m) => {
                if samples.len() < m.min_samples() {
                    return Err(InferError::InvalidInput(format!(
                        "the clip is too short: {} samples, the model needs at least {} \
                         ({:.3} s at 16 kHz)",
                        samples.len(),
                        m.min_samples(),
                        m.min_samples() as f64 / 16_000.0
                    )));
                }
                m.forward(&input)?
            }
            Model::Ast(m) => m.forward(&input)?,
        };
        Ok(logits.squeeze(0)?)
    }

    /// The top labels of one clip.
    pub fn classify(&self, request: &AudioRequest) -> Result<AudioLabels, InferError> {
        if request.samples.is_empty() {
            return Err(InferError::InvalidInput(
                "no audio: record or open an audio file first".into(),
            ));
        }
        let scores = softmax_last_dim(&self.logits(&request.samples)?)?.to_vec1::<f32>()?;
        let top_k = request.top_k.unwrap_or(DEFAULT_TOP_K).max(1);
        Ok(AudioLabels {
            audio_seconds: request.samples.len() as f64 / 16_000.0,
            labels: ranked(&self.labels, &scores, top_k),
        })
    }
}

impl Pipeline for AudioClassifier {
    type Input = AudioRequest;
    type Output = AudioLabels;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<AudioClassifier, InferError> {
        let arch = *plan.loader::<AudioArch>()?;
        ctx.emit(Event::Status(format!("loading {arch:?} weights")));
        AudioClassifier::load_dir(dir, arch, device)
    }

    fn run(&mut self, input: AudioRequest, ctx: &RunContext) -> Result<AudioLabels, InferError> {
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        self.classify(&input)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// The audio-classification task file, as the registry lists it.
pub struct AudioClassificationTask;

/// This task in the registry's list.
pub static MODULE: AudioClassificationTask = AudioClassificationTask;

impl TaskModule for AudioClassificationTask {
    fn tasks(&self) -> &'static [Task] {
        &[AUDIO_CLASSIFICATION]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        let audio = facts
            .model_type
            .as_deref()
            .and_then(AudioArch::of)
            .is_some();
        let classifier = facts.architectures.iter().any(|a| {
            a.ends_with("ForSequenceClassification") || a.ends_with("ForAudioClassification")
        });
        (audio && classifier).then_some((Evidence::ModelType, AUDIO_CLASSIFICATION))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        let arch = facts
            .model_type
            .as_deref()
            .and_then(AudioArch::of)
            .ok_or_else(|| not_supported(facts.architecture_name(), task))?;
        if self.guess(facts).is_none() && !facts.architectures.is_empty() {
            return Err(not_supported(
                format!(
                    "{} without a classification head",
                    facts.architecture_name()
                ),
                task,
            ));
        }
        for (present, missing) in [
            (
                facts.has("preprocessor_config.json"),
                "preprocessor_config.json",
            ),
            (facts.has_safetensors(), "safetensors weights"),
        ] {
            if !present {
                return Err(not_supported(
                    format!("{} without {missing}", facts.architecture_name()),
                    task,
                ));
            }
        }
        Ok(Plan::new(task, arch))
    }

    fn loader(&self) -> LoadFn {
        erase::<AudioClassifier>
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        Ok(Request::new(AudioRequest {
            samples: input.audio(task)?,
            top_k: input.value::<usize>("top_k"),
        }))
    }
}

impl HumanOutput for AudioLabels {
    /// The labels, most likely first, as `  97.12%  label`.
    fn write_human(&self, out: &mut dyn Write, _log: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{:.1} s of audio", self.audio_seconds)?;
        write_labels(out, &self.labels)
    }
}
