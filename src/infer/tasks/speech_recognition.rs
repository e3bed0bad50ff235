//! Automatic speech recognition with Whisper: 16 kHz mono samples → log-mel windows of 30 s →
//! encoder → greedy decoding with Whisper's prompt (`<|startoftranscript|>`, language, task,
//! `<|notimestamps|>` unless timestamps are wanted) and its logit rules (suppressed tokens,
//! timestamp pairing). Multilingual models detect the language from the first window when none
//! is given. Audio longer than 30 s is decoded window after window; with timestamps the next
//! window starts at the last complete segment's end. Segments stream as [`Event::Segment`]s.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};
use hubble_gpu::Gpu;
use serde::Serialize;
use tokenizers::Tokenizer;

use crate::infer::InferError;
use crate::infer::cpu_threads::on_pool;
use crate::infer::facts::ModelFacts;
use crate::infer::models::causal::safetensors_files;
use crate::infer::models::gpu_whisper::GpuWhisper;
use crate::infer::models::whisper::{Whisper, WhisperConfig};
use crate::infer::models::whisper_mel::{HOP, LogMel, N_FRAMES, N_SAMPLES, SAMPLE_RATE};
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
pub use crate::results::Segment;

/// Seconds per timestamp token step.
const TIME_STEP: f64 = 0.02;
/// Transcribe in the spoken language, or translate into English.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeechTask {
    /// Text in the spoken language.
    #[default]
    Transcribe,
    /// English text.
    Translate,
}

/// One transcription job.
#[derive(Debug, Clone, Default)]
pub struct SpeechRequest {
    /// Mono samples at 16 kHz (`media::audio::load_16k_mono`).
    pub samples: Vec<f32>,
    /// A language code (`en`, `de`, …); None detects it (multilingual models).
    pub language: Option<String>,
    /// Transcribe or translate.
    pub task: SpeechTask,
    /// Predict segment timestamps (else one segment per 30-second window).
    pub timestamps: bool,
}

/// A finished transcription.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// All segments' text joined.
    pub text: String,
    /// The segments in order.
    pub segments: Vec<Segment>,
    /// The language used (given or detected), None for English-only models.
    pub language: Option<String>,
    /// Transcribe or translate (`speech_task` in JSON: `task` names the pipeline there).
    #[serde(rename = "speech_task")]
    pub task: SpeechTask,
    /// Length of the audio in seconds.
    pub audio_seconds: f64,
    /// Time taken in seconds.
    pub elapsed_seconds: f64,
    /// elapsed / audio (below 1 is faster than real time).
    pub real_time_factor: f64,
    /// Every generated token id, window after window (prompts excluded).
    pub token_ids: Vec<u32>,
    /// Whether the user stopped it early.
    pub cancelled: bool,
}

/// The special tokens decoding needs, found in tokenizer.json.
#[derive(Debug, Clone)]
struct Specials {
    sot: u32,
    eot: u32,
    transcribe: u32,
    translate: u32,
    no_timestamps: u32,
    timestamp_begin: u32,
    languages: Vec<(String, u32)>,
}

/// Where Whisper computes: candle's device, or a wgpu one.
enum SpeechModel {
    Candle(Box<Whisper>),
    Gpu(Box<GpuWhisper>),
}

impl SpeechModel {
    fn config(&self) -> &WhisperConfig {
        match self {
            SpeechModel::Candle(model) => model.config(),
            SpeechModel::Gpu(model) => model.config(),
        }
    }

    fn encode(&mut self, features: &Tensor) -> Result<(), InferError> {
        match self {
            SpeechModel::Candle(model) => on_pool(|| model.encode(features)).map(drop)?,
            SpeechModel::Gpu(model) => model.encode(features)?,
        }
        Ok(())
    }

    fn restart(&mut self) {
        match self {
            SpeechModel::Candle(model) => model.restart(),
            SpeechModel::Gpu(model) => model.restart(),
        }
    }

    /// Logits of the tokens fed (the GPU reads back only the last row).
    fn decode(&mut self, tokens: &[u32]) -> Result<Tensor, InferError> {
        Ok(match self {
            SpeechModel::Candle(model) => on_pool(|| model.decode(tokens))?,
            SpeechModel::Gpu(model) => model.decode(tokens)?,
        })
    }
}

/// A loaded Whisper model with its tokenizer and front end.
pub struct SpeechRecognizer {
    model: SpeechModel,
    tokenizer: Tokenizer,
    mel: LogMel,
    specials: Specials,
    suppress: Vec<u32>,
    begin_suppress: Vec<u32>,
    multilingual: bool,
    device: Device,
    description: String,
}

impl SpeechRecognizer {
    /// Loads config.json, generation_config.json (optional), tokenizer.json and the weights,
    /// onto `gpu` when one is offered, else onto `device`.
    pub fn load_dir(
        dir: &Path,
        device: &Device,
        gpu: Option<&Arc<Gpu>>,
    ) -> Result<SpeechRecognizer, InferError> {
        let config_path = dir.join("config.json");
        let config_value = crate::infer::read_json(&config_path)?;
        let config: WhisperConfig = serde_json::from_value(config_value.clone())
            .map_err(|e| InferError::file(&config_path, e))?;
        let generation = crate::infer::read_json(&dir.join("generation_config.json")).ok();
        let tokenizer = crate::infer::tokenizers::read_tokenizer(dir)?;
        let specials = Specials::find(&tokenizer, generation.as_ref())?;
        let ids = |key: &str| -> Vec<u32> {
            generation
                .as_ref()
                .and_then(|g| g.get(key))
                .or_else(|| config_value.get(key))
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default()
        };
        let multilingual = generation
            .as_ref()
            .and_then(|g| g.get("is_multilingual"))
            .and_then(|v| v.as_bool())
            .unwrap_or(config.vocab_size >= 51_865);
        let files = safetensors_files(dir)?;
        let (model, placement) = match gpu {
            Some(gpu) => (
                SpeechModel::Gpu(Box::new(GpuWhisper::load(
                    config.clone(),
                    &files,
                    Arc::clone(gpu),
                )?)),
                crate::infer::device::describe_gpu(gpu),
            ),
            None => {
                let vb = crate::infer::models::mmap_weights(&files, device)?;
                (
                    SpeechModel::Candle(Box::new(Whisper::load(vb, config.clone())?)),
                    crate::infer::device::describe(device),
                )
            }
        };
        let description = format!(
            "whisper ({} layers, {} wide, {} mel bins, {}) on {}",
            config.encoder_layers,
            config.d_model,
            config.num_mel_bins,
            if multilingual {
                "multilingual"
            } else {
                "English-only"
            },
            placement
        );
        Ok(SpeechRecognizer {
            mel: LogMel::new(config.num_mel_bins),
            model,
            tokenizer,
            specials,
            suppress: ids("suppress_tokens"),
            begin_suppress: ids("begin_suppress_tokens"),
            multilingual,
            device: device.clone(),
            description,
        })
    }

    /// Log-mel features of one window as a `(1, n_mels, 3000)` tensor.
    pub fn features(&self, samples: &[f32]) -> Result<Tensor, InferError> {
        let mel = self.mel.compute(samples);
        Ok(Tensor::from_vec(
            mel,
            (1, self.mel.n_mels(), N_FRAMES),
            &self.device,
        )?)
    }

    /// The candle model, when it computes there (parity tests read the encoder output and
    /// logits).
    pub fn model_mut(&mut self) -> Option<&mut Whisper> {
        match &mut self.model {
            SpeechModel::Candle(model) => Some(model),
            SpeechModel::Gpu(_) => None,
        }
    }

    /// The language whose token is most likely right after `<|startoftranscript|>`.
    fn detect_language(&mut self) -> Result<(String, u32), InferError> {
        self.model.restart();
        let logits = self
            .model
            .decode(&[self.specials.sot])?
            .get(0)?
            .to_vec1::<f32>()?;
        self.specials
            .languages
            .iter()
            .max_by(|a, b| logits[a.1 as usize].total_cmp(&logits[b.1 as usize]))
            .cloned()
            .ok_or_else(|| InferError::Model("the tokenizer has no language tokens".into()))
    }

    fn prompt(&self, language: Option<u32>, request: &SpeechRequest) -> Vec<u32> {
        let s = &self.specials;
        let mut prompt = vec![s.sot];
        if let Some(language) = language {
            prompt.push(language);
            prompt.push(match request.task {
                SpeechTask::Transcribe => s.transcribe,
                SpeechTask::Translate => s.translate,
            });
        }
        if !request.timestamps {
            prompt.push(s.no_timestamps);
        }
        prompt
    }

    /// Greedy decoding of one encoded window; returns the generated tokens (without EOT).
    fn decode_window(
        &mut self,
        prompt: &[u32],
        timestamps: bool,
        ctx: &RunContext,
    ) -> Result<Vec<u32>, InferError> {
        self.model.restart();
        let max_new = self.model.config().max_target_positions / 2;
        let mut logits = last_row(&self.model.decode(prompt)?)?;
        let mut tokens: Vec<u32> = Vec::new();
        while tokens.len() < max_new && !ctx.is_cancelled() {
            self.apply_rules(&mut logits, &tokens, timestamps);
            let next = logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i as u32)
                .unwrap_or(self.specials.eot);
            if next == self.specials.eot {
                break;
            }
            tokens.push(next);
            logits = last_row(&self.model.decode(&[next])?)?;
        }
        Ok(tokens)
    }

    /// Whisper's logit rules: suppressed tokens, and with timestamps transformers'
    /// `WhisperTimeStampLogitsProcessor` (pairs, monotonic times, a first timestamp ≤ 1 s,
    /// a timestamp forced when all of them together outweigh any text token).
    fn apply_rules(&self, logits: &mut [f32], tokens: &[u32], timestamps: bool) {
        let s = &self.specials;
        let mut ban = |id: u32| {
            if let Some(v) = logits.get_mut(id as usize) {
                *v = f32::NEG_INFINITY;
            }
        };
        self.suppress.iter().for_each(|&id| ban(id));
        if tokens.is_empty() {
            self.begin_suppress.iter().for_each(|&id| ban(id));
        }
        ban(s.no_timestamps);
        if !timestamps {
            for v in logits.iter_mut().skip(s.timestamp_begin as usize) {
                *v = f32::NEG_INFINITY;
            }
            return;
        }
        timestamp_rules(logits, tokens, s.eot, s.timestamp_begin);
    }

    fn text(&self, tokens: &[u32]) -> Result<String, InferError> {
        self.tokenizer
            .decode(tokens, true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))
    }
}

/// The timestamp part of Whisper's logit rules, on one row of logits.
pub fn timestamp_rules(logits: &mut [f32], tokens: &[u32], eot: u32, timestamp_begin: u32) {
    let ts = timestamp_begin as usize;
    let is_ts = |t: u32| t >= timestamp_begin;
    let last = tokens.last().copied();
    let last_was_ts = last.is_some_and(is_ts);
    let penultimate_was_ts = tokens.len() < 2 || is_ts(tokens[tokens.len() - 2]);
    if last_was_ts {
        if penultimate_was_ts {
            logits
                .iter_mut()
                .skip(ts)
                .for_each(|v| *v = f32::NEG_INFINITY);
        } else {
            logits
                .iter_mut()
                .take(eot as usize)
                .for_each(|v| *v = f32::NEG_INFINITY);
        }
    }
    // Times never go back (a closing timestamp may repeat the opening one's time only after text).
    if let Some(&prev) = tokens.iter().rev().find(|&&t| is_ts(t)) {
        let floor = if last_was_ts && !penultimate_was_ts {
            prev
        } else {
            prev + 1
        } as usize;
        let len = logits.len();
        logits
            .iter_mut()
            .take(floor.min(len))
            .skip(ts)
            .for_each(|v| *v = f32::NEG_INFINITY);
    }
    if tokens.is_empty() {
        logits
            .iter_mut()
            .take(ts)
            .for_each(|v| *v = f32::NEG_INFINITY);
        logits
            .iter_mut()
            .skip(ts + 51)
            .for_each(|v| *v = f32::NEG_INFINITY);
    }
    let log_probs = log_softmax(logits);
    let ts_mass = log_sum_exp(&log_probs[ts.min(log_probs.len())..]);
    let text_max = log_probs[..ts.min(log_probs.len())]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    if ts_mass > text_max {
        logits
            .iter_mut()
            .take(ts)
            .for_each(|v| *v = f32::NEG_INFINITY);
    }
}

fn log_sum_exp(values: &[f32]) -> f32 {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + values.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
}

fn log_softmax(values: &[f32]) -> Vec<f32> {
    let total = log_sum_exp(values);
    values.iter().map(|v| v - total).collect()
}

fn last_row(logits: &Tensor) -> Result<Vec<f32>, InferError> {
    let rows = logits.dim(0)?;
    Ok(logits.get(rows - 1)?.to_vec1::<f32>()?)
}

/// A segment's start, end (seconds) and text tokens.
type TimedTokens = (f64, f64, Vec<u32>);

/// Splits one window's tokens into segments: text between timestamp tokens (times relative to
/// `offset` seconds), or all text as one segment spanning `offset..offset + window` when the
/// tokens have no timestamps. Returns the segments and the end of the last closed one.
fn segments(
    tokens: &[u32],
    timestamp_begin: u32,
    offset: f64,
    window: f64,
) -> (Vec<TimedTokens>, Option<f64>) {
    let time = |t: u32| offset + f64::from(t - timestamp_begin) * TIME_STEP;
    let mut out = Vec::new();
    let mut start: Option<f64> = None;
    let mut text: Vec<u32> = Vec::new();
    let mut last_end = None;
    for &t in tokens {
        if t >= timestamp_begin {
            match start {
                Some(s) if !text.is_empty() => {
                    out.push((s, time(t), std::mem::take(&mut text)));
                    last_end = Some(time(t));
                    start = None;
                }
                _ => start = Some(time(t)),
            }
        } else {
            text.push(t);
        }
    }
    if !text.is_empty() {
        out.push((start.unwrap_or(offset), offset + window, text));
    }
    (out, last_end)
}

impl Specials {
    fn find(
        tokenizer: &Tokenizer,
        generation: Option<&serde_json::Value>,
    ) -> Result<Specials, InferError> {
        let id = |token: &str| {
            tokenizer.token_to_id(token).ok_or_else(|| {
                InferError::Tokenizer(format!(
                    "tokenizer.json has no {token}: not a Whisper tokenizer"
                ))
            })
        };
        let no_timestamps = id("<|notimestamps|>")?;
        let mut languages: Vec<(String, u32)> = match generation
            .and_then(|g| g.get("lang_to_id"))
            .and_then(|v| v.as_object())
        {
            Some(map) => map
                .iter()
                .filter_map(|(k, v)| Some((language_code(k)?, v.as_u64()? as u32)))
                .collect(),
            None => tokenizer
                .get_vocab(true)
                .into_iter()
                .filter_map(|(k, v)| Some((language_code(&k)?, v)))
                .collect(),
        };
        languages.sort_by_key(|l| l.1);
        Ok(Specials {
            sot: id("<|startoftranscript|>")?,
            eot: id("<|endoftext|>")?,
            transcribe: id("<|transcribe|>")?,
            translate: id("<|translate|>")?,
            no_timestamps,
            timestamp_begin: no_timestamps + 1,
            languages,
        })
    }
}

/// `<|en|>` → `en` (2–3 lowercase letters, or `haw`/`yue`).
fn language_code(token: &str) -> Option<String> {
    let code = token.strip_prefix("<|")?.strip_suffix("|>")?;
    let ok = (2..=3).contains(&code.len()) && code.chars().all(|c| c.is_ascii_lowercase());
    ok.then(|| code.to_string())
}

impl Pipeline for SpeechRecognizer {
    type Input = SpeechRequest;
    type Output = Transcript;

    fn load(
        dir: &Path,
        _plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<SpeechRecognizer, InferError> {
        ctx.emit(Event::Status("loading Whisper weights".into()));
        SpeechRecognizer::load_dir(dir, device, ctx.gpu())
    }

    fn run(&mut self, request: SpeechRequest, ctx: &RunContext) -> Result<Transcript, InferError> {
        let started = Instant::now();
        if request.samples.is_empty() {
            return Err(InferError::InvalidInput(
                "no audio: record or open an audio file first".into(),
            ));
        }
        let mut language = match (&request.language, self.multilingual) {
            (Some(code), true) => {
                let code = code.trim().to_ascii_lowercase();
                let found = self.specials.languages.iter().find(|l| l.0 == code);
                Some(found.cloned().ok_or_else(|| {
                    let known: Vec<&str> = self
                        .specials
                        .languages
                        .iter()
                        .map(|l| l.0.as_str())
                        .collect();
                    InferError::InvalidInput(format!(
                        "unknown language {code:?}; this model knows: {}",
                        known.join(", ")
                    ))
                })?)
            }
            (Some(_), false) | (None, false) if request.task == SpeechTask::Translate => {
                return Err(InferError::InvalidInput(
                    "this model is English-only: it cannot translate; use a multilingual Whisper"
                        .into(),
                ));
            }
            _ => None,
        };
        let total = request.samples.len();
        let mut offset = 0usize;
        let mut transcript = Vec::new();
        let mut token_ids = Vec::new();
        while offset < total && !ctx.is_cancelled() {
            let end = (offset + N_SAMPLES).min(total);
            let window = &request.samples[offset..end];
            ctx.emit(Event::Status(format!(
                "transcribing {:.0}–{:.0} s of {:.0} s",
                offset as f64 / SAMPLE_RATE as f64,
                end as f64 / SAMPLE_RATE as f64,
                total as f64 / SAMPLE_RATE as f64
            )));
            let features = self.features(window)?;
            self.model.encode(&features)?;
            if self.multilingual && language.is_none() {
                language = Some(self.detect_language()?);
            }
            let prompt = self.prompt(language.as_ref().map(|l| l.1), &request);
            let tokens = self.decode_window(&prompt, request.timestamps, ctx)?;
            let start_s = offset as f64 / SAMPLE_RATE as f64;
            let window_s = window.len() as f64 / SAMPLE_RATE as f64;
            let (parts, last_end) =
                segments(&tokens, self.specials.timestamp_begin, start_s, window_s);
            token_ids.extend_from_slice(&tokens);
            let complete = end == total || !request.timestamps || last_end.is_none();
            for (i, (start, stop, ids)) in parts.iter().enumerate() {
                // A segment cut off by the window's end is decoded again from the next window.
                if !complete && i + 1 == parts.len() && Some(*stop) != last_end {
                    break;
                }
                let text = self.text(ids)?.trim().to_string();
                if text.is_empty() {
                    continue;
                }
                let audio_end = total as f64 / SAMPLE_RATE as f64;
                let start = start.min(audio_end);
                let segment = Segment {
                    start,
                    end: stop.min(audio_end).max(start),
                    text,
                };
                ctx.emit(Event::Segment(segment.clone()));
                transcript.push(segment);
            }
            let advance = match last_end {
                Some(t) if !complete && t > start_s => {
                    ((t - start_s) * SAMPLE_RATE as f64) as usize
                }
                _ => window.len(),
            };
            offset += advance.max(HOP);
        }
        let audio_seconds = total as f64 / SAMPLE_RATE as f64;
        let elapsed = started.elapsed().as_secs_f64();
        Ok(Transcript {
            text: transcript
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            segments: transcript,
            language: language.map(|l| l.0),
            task: request.task,
            audio_seconds,
            elapsed_seconds: elapsed,
            real_time_factor: elapsed / audio_seconds.max(1e-9),
            token_ids,
            cancelled: ctx.is_cancelled(),
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// `automatic-speech-recognition` (Whisper).
pub const AUTOMATIC_SPEECH_RECOGNITION: Task = Task::new("automatic-speech-recognition");

/// The plan's loader: a transformers Whisper checkpoint (`WhisperForConditionalGeneration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhisperCheckpoint;

/// The speech recognition task file, as the registry lists it.
pub struct SpeechRecognitionTask;

/// This task in the registry's list.
pub static MODULE: SpeechRecognitionTask = SpeechRecognitionTask;

impl TaskModule for SpeechRecognitionTask {
    fn tasks(&self) -> &'static [Task] {
        &[AUTOMATIC_SPEECH_RECOGNITION]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[
            ("asr", AUTOMATIC_SPEECH_RECOGNITION),
            ("transcribe", AUTOMATIC_SPEECH_RECOGNITION),
            ("speech-recognition", AUTOMATIC_SPEECH_RECOGNITION),
        ]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        (facts.model_type.as_deref() == Some("whisper"))
            .then_some((Evidence::ModelType, AUTOMATIC_SPEECH_RECOGNITION))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        match facts.model_type.as_deref() {
            Some("whisper") if facts.has_safetensors() => Ok(Plan::new(task, WhisperCheckpoint)),
            Some("whisper") => Err(not_supported("whisper without safetensors weights", task)),
            _ => Err(not_supported(facts.architecture_name(), task)),
        }
    }

    fn loader(&self) -> LoadFn {
        erase::<SpeechRecognizer>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        vec![
            clap::Arg::new("language")
                .long("language")
                .value_name("CODE")
                .help("Speech recognition: the spoken language (en, de, …; default: detected)"),
            clap::Arg::new("translate")
                .long("translate")
                .action(clap::ArgAction::SetTrue)
                .help("Speech recognition: translate into English instead of transcribing"),
            clap::Arg::new("timestamps")
                .long("timestamps")
                .action(clap::ArgAction::SetTrue)
                .help("Speech recognition: predict segment timestamps"),
        ]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        Ok(Request::new(SpeechRequest {
            samples: input.audio(task)?,
            language: input.string("language"),
            task: if input.flag("translate") {
                SpeechTask::Translate
            } else {
                SpeechTask::Transcribe
            },
            timestamps: input.flag("timestamps"),
        }))
    }
}

impl HumanOutput for Transcript {
    /// The segments were streamed; the log gets the speed and language.
    fn write_human(&self, _out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        writeln!(
            log,
            "[{:.1} s of audio in {:.1} s (real-time factor {:.2}){}{}]",
            self.audio_seconds,
            self.elapsed_seconds,
            self.real_time_factor,
            self.language
                .as_ref()
                .map(|l| format!(", language {l}"))
                .unwrap_or_default(),
            if self.cancelled { ", cancelled" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u32 = 100;

    #[test]
    fn tokens_split_into_timed_segments() {
        // <|0.00|> a b <|1.00|> <|1.00|> c <|2.50|> d (cut off)
        let tokens = [TS, 1, 2, TS + 50, TS + 50, 3, TS + 125, 4];
        let (parts, last_end) = segments(&tokens, TS, 30.0, 30.0);
        assert_eq!(
            parts,
            vec![
                (30.0, 31.0, vec![1, 2]),
                (31.0, 32.5, vec![3]),
                (30.0, 60.0, vec![4]),
            ]
        );
        assert_eq!(last_end, Some(32.5));
        let (parts, last_end) = segments(&[5, 6], TS, 0.0, 12.0);
        assert_eq!(parts, vec![(0.0, 12.0, vec![5, 6])]);
        assert_eq!(last_end, None);
    }

    #[test]
    fn timestamp_rules_pair_timestamps_and_start_with_one() {
        let eot = 90;
        let mut logits = vec![0.0f32; 200];
        timestamp_rules(&mut logits, &[], eot, TS);
        assert!(logits[..TS as usize].iter().all(|v| v.is_infinite()));
        assert!(
            logits[TS as usize..=TS as usize + 50]
                .iter()
                .all(|v| v.is_finite())
        );
        assert!(logits[TS as usize + 51] == f32::NEG_INFINITY);

        // After text + timestamp (a closing one): text is banned, timestamps ≥ it allowed.
        let mut logits = vec![0.0f32; 200];
        logits[eot as usize] = 5.0;
        timestamp_rules(&mut logits, &[TS, 5, TS + 10], eot, TS);
        assert!(logits[5].is_infinite() && logits[eot as usize].is_finite());
        assert!(logits[TS as usize + 9].is_infinite() && logits[TS as usize + 10].is_finite());

        // After two timestamps: no third one.
        let mut logits = vec![0.0f32; 200];
        timestamp_rules(&mut logits, &[TS, 5, TS + 10, TS + 10], eot, TS);
        assert!(logits[TS as usize..].iter().all(|v| v.is_infinite()));
        assert!(logits[5].is_finite());
    }

    #[test]
    fn language_tokens_are_recognised() {
        assert_eq!(language_code("<|en|>").as_deref(), Some("en"));
        assert_eq!(language_code("<|haw|>").as_deref(), Some("haw"));
        assert_eq!(language_code("<|0.00|>"), None);
        assert_eq!(language_code("<|endoftext|>"), None);
    }
}
