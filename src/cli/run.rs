//! `hubble run REPO --task … --input …`: runs a downloaded model from the local Hugging Face
//! cache (or `--model-dir DIR`) on the inference thread, streaming generated text to stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::exit;
use super::run_image;
use crate::cache::CachedRepo;
use crate::config::HubConfig;
use crate::hub::RepoId;
use crate::infer::registry::{self, ModelFacts, Task};
use crate::infer::{
    ChatMessage, DeviceRequest, EmbeddingRequest, Event, GenerationParams, GenerationRequest,
    InferError, InferenceWorker, Output, Prompt, Request, Seq2SeqRequest, SpeechRequest,
    SpeechTask, TextsRequest, Transcript,
};
use crate::media::audio::load_16k_mono;

/// Arguments of `hubble run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Repository id of a downloaded model, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.
    #[arg(required_unless_present = "model_dir")]
    pub repo: Option<RepoId>,
    /// Run from this folder instead of the cache.
    #[arg(long, value_name = "DIR", conflicts_with = "repo")]
    pub model_dir: Option<PathBuf>,
    /// Branch, tag or commit in the cache (default: main).
    #[arg(long)]
    pub revision: Option<String>,
    /// text-generation, feature-extraction, sentence-similarity, text-classification,
    /// token-classification (ner), fill-mask, translation, summarization, image-classification,
    /// zero-shot-image-classification, automatic-speech-recognition (asr), image-to-text
    /// (caption) (default: the model's own).
    #[arg(long)]
    pub task: Option<String>,
    /// The input text; repeat for several sentences (similarity).
    #[arg(long, conflicts_with = "input_file")]
    pub input: Vec<String>,
    /// Read the input from a file (one sentence per line for embeddings; `-` is stdin; an image
    /// for the image tasks; an audio file — WAV, FLAC, MP3, Ogg/Vorbis, M4A/AAC — for speech
    /// recognition).
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// Image-to-text: how the caption starts (BLIP's conditional captioning, e.g.
    /// "a photography of"); the caption printed includes it.
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Candidate labels for zero-shot image classification, comma-separated.
    #[arg(long, value_name = "A,B,C")]
    pub labels: Option<String>,
    /// The GGUF file to use when the repo has several.
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
    /// auto (CUDA → Metal → CPU), cpu, cuda[:N], metal[:N].
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Print JSON instead of text (generation is then not streamed).
    #[arg(long)]
    pub json: bool,
    /// Most new tokens to generate.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy (default: 0.7 for chat, 0 for translation,
    /// summarisation and image-to-text).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Translation / summarisation: the prefix before the input (default: the model's own from
    /// config.json, e.g. "translate English to German: ").
    #[arg(long)]
    pub prefix: Option<String>,
    /// Nucleus sampling threshold (1 turns it off).
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f64,
    /// Sample only among the k most likely tokens (generation); labels to print (images).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Penalty for repeating recent tokens (1 turns it off).
    #[arg(long, default_value_t = 1.1)]
    pub repeat_penalty: f32,
    /// Random seed.
    #[arg(long, default_value_t = 299_792_458)]
    pub seed: u64,
    /// A system message (implies --chat).
    #[arg(long)]
    pub system: Option<String>,
    /// Use the model's chat template (the default when it has one).
    #[arg(long, conflicts_with = "raw")]
    pub chat: bool,
    /// Continue the raw text, without the chat template.
    #[arg(long)]
    pub raw: bool,
    /// Speech recognition: the spoken language (`en`, `de`, …; default: detected).
    #[arg(long, value_name = "CODE")]
    pub language: Option<String>,
    /// Speech recognition: translate into English instead of transcribing.
    #[arg(long)]
    pub translate: bool,
    /// Speech recognition: predict segment timestamps.
    #[arg(long)]
    pub timestamps: bool,
}

/// Runs `hubble run` and returns the exit status.
pub fn main(config: &HubConfig, args: RunArgs) -> ExitCode {
    let json = args.json;
    match run(config, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((status, kind, message)) => {
            if json {
                let value = serde_json::json!({"error": {"kind": kind, "message": message}});
                eprintln!("{value}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(status)
        }
    }
}

type Failure = (u8, &'static str, String);

fn fail(e: InferError) -> Failure {
    let status = match &e {
        InferError::InvalidInput(_) | InferError::Device(_) => exit::USAGE,
        InferError::MissingFile { .. } => exit::NOT_FOUND,
        _ => exit::FAILURE,
    };
    (status, e.kind(), e.to_string())
}

fn run(config: &HubConfig, args: RunArgs) -> Result<(), Failure> {
    let dir = model_folder(config, &args)?;
    let device: DeviceRequest = args.device.parse().map_err(fail)?;
    let task = args
        .task
        .as_deref()
        .map(str::parse::<Task>)
        .transpose()
        .map_err(fail)?;
    let mut facts = ModelFacts::from_dir(&dir).map_err(fail)?;
    if let Some(file) = &args.file {
        if !facts.has(file) {
            return Err(fail(InferError::MissingFile {
                what: file.clone(),
                dir: dir.clone(),
            }));
        }
        facts.files.retain(|f| f == file || !f.ends_with(".gguf"));
        facts.gguf_architecture = registry::gguf_architecture(&dir.join(file)).ok();
    }
    let plan = registry::plan(&facts, task).map_err(|e| {
        let no_weights = facts.gguf_files().is_empty() && !facts.has_safetensors();
        match (&args.repo, no_weights) {
            (Some(repo), true) => (
                exit::NOT_FOUND,
                "not_downloaded",
                format!("not downloaded: the weights of {repo} are not in the cache; run `hubble download {repo}`"),
            ),
            _ => fail(e),
        }
    })?;
    let request = match plan.task {
        Task::AutomaticSpeechRecognition => speech_request(&args)?,
        Task::ImageClassification | Task::ZeroShotImageClassification => run_image::request(
            plan.task,
            args.input_file.as_deref(),
            args.labels.as_deref(),
            args.top_k,
        )
        .map_err(|e| (run_image::status(&e), e.kind(), e.to_string()))?,
        Task::ImageToText => run_image::caption_request(
            args.input_file.as_deref(),
            args.prompt.as_deref(),
            decoding_params(&args),
        )
        .map_err(|e| (run_image::status(&e), e.kind(), e.to_string()))?,
        task => text_request(&args, task)?,
    };
    let worker = InferenceWorker::spawn(dir, plan, device);
    let mut submitted = false;
    let mut request = Some(request);
    let stdout = std::io::stdout();
    while let Some(event) = worker.recv() {
        match event {
            Event::Status(line) if !args.json => eprintln!("{line}"),
            Event::Status(_) => {}
            Event::Loaded(description) => {
                if !args.json {
                    eprintln!("loaded {description}");
                }
                if let Some(request) = request.take() {
                    worker.submit(request).map_err(fail)?;
                    submitted = true;
                }
            }
            Event::Token(piece) if !args.json => {
                let mut out = stdout.lock();
                let _ = out.write_all(piece.as_bytes());
                let _ = out.flush();
            }
            Event::Segment(segment) if !args.json => {
                println!(
                    "[{}] {}",
                    crate::media::transcript::span(segment.start, segment.end),
                    segment.text
                );
            }
            Event::Token(_) | Event::Segment(_) => {}
            Event::Finished(output) => {
                print_output(&output, args.json)?;
                return Ok(());
            }
            Event::Failed(message) => {
                let kind = if submitted { "inference" } else { "load" };
                return Err((exit::FAILURE, kind, message));
            }
        }
    }
    Err(fail(InferError::WorkerGone))
}

/// The audio of `--input-file`, decoded to 16 kHz mono, with the speech options.
fn speech_request(args: &RunArgs) -> Result<Request, Failure> {
    let Some(path) = &args.input_file else {
        return Err(fail(InferError::InvalidInput(
            "speech recognition needs an audio file: pass --input-file FILE".into(),
        )));
    };
    let clip = load_16k_mono(path).map_err(|e| (exit::USAGE, "invalid_input", e.to_string()))?;
    Ok(Request::Transcribe(SpeechRequest {
        samples: clip.samples,
        language: args.language.clone(),
        task: if args.translate {
            SpeechTask::Translate
        } else {
            SpeechTask::Transcribe
        },
        timestamps: args.timestamps,
    }))
}

fn text_request(args: &RunArgs, task: Task) -> Result<Request, Failure> {
    let inputs = read_inputs(args)?;
    Ok(match task {
        Task::TextGeneration => {
            let text = inputs.join("\n");
            let mut messages = Vec::new();
            if let Some(system) = &args.system {
                messages.push(ChatMessage::new("system", system));
            }
            messages.push(ChatMessage::new("user", &text));
            let prompt = if args.raw {
                Prompt::Raw(text)
            } else if args.chat || args.system.is_some() {
                Prompt::Chat(messages)
            } else {
                Prompt::ChatIfTemplate(messages)
            };
            Request::Generate(GenerationRequest {
                prompt,
                params: GenerationParams {
                    max_tokens: args.max_tokens,
                    temperature: args.temperature.unwrap_or(0.7),
                    top_p: Some(args.top_p),
                    top_k: args.top_k,
                    repeat_penalty: args.repeat_penalty,
                    seed: args.seed,
                    ..GenerationParams::default()
                },
            })
        }
        Task::FeatureExtraction | Task::SentenceSimilarity => {
            Request::Embed(EmbeddingRequest { sentences: inputs })
        }
        Task::Translation | Task::Summarization => Request::Seq2Seq(Seq2SeqRequest {
            text: inputs.join("\n"),
            prefix: args.prefix.clone(),
            params: decoding_params(args),
        }),
        _ => Request::Texts(TextsRequest { texts: inputs }),
    })
}

/// Sampling for translation, summarisation and captions: greedy unless `--temperature`, no
/// repeat penalty (transformers' defaults for these models).
fn decoding_params(args: &RunArgs) -> GenerationParams {
    GenerationParams {
        max_tokens: args.max_tokens,
        temperature: args.temperature.unwrap_or(0.0),
        top_p: Some(args.top_p),
        top_k: args.top_k,
        repeat_penalty: 1.0,
        seed: args.seed,
        ..GenerationParams::default()
    }
}

fn print_output(output: &Output, json: bool) -> Result<(), Failure> {
    if json {
        let text = serde_json::to_string_pretty(output)
            .map_err(|e| (exit::FAILURE, "json", e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    match output {
        Output::TextClassification(_) | Output::TokenClassification(_) | Output::FillMask(_) => {
            print_encoder(output)
        }
        Output::AutomaticSpeechRecognition(t) => print_transcript(t),
        Output::Translation(g) | Output::Summarization(g) => {
            println!();
            eprintln!(
                "[{} input tokens, {} generated at {:.1} tok/s, stop: {:?}]",
                g.input_tokens, g.generated_tokens, g.decode_tokens_per_s, g.stop_reason
            );
        }
        Output::ImageClassification(r) | Output::ZeroShotImageClassification(r) => {
            run_image::print(r)
        }
        Output::ImageToText(caption) => run_image::print_caption(caption),
        Output::TextGeneration(g) => {
            println!();
            eprintln!(
                "[{} prompt tokens at {:.1} tok/s, {} generated at {:.1} tok/s, stop: {:?}]",
                g.prompt_tokens,
                g.prompt_tokens_per_s,
                g.generated_tokens,
                g.decode_tokens_per_s,
                g.stop_reason
            );
        }
        Output::FeatureExtraction(e) => {
            if e.sentences.len() == 1 {
                let dims = e.embeddings[0].len();
                let shown: Vec<String> = e.embeddings[0]
                    .iter()
                    .take(8)
                    .map(|x| format!("{x:.4}"))
                    .collect();
                println!("{dims} dimensions: [{}, …]", shown.join(", "));
            } else {
                println!("cosine similarity to {:?}:", e.sentences[0]);
                for (i, score) in e.ranked_against_first() {
                    println!("  {score:>7.4}  {}", e.sentences[i]);
                }
            }
        }
    }
    Ok(())
}

fn print_transcript(t: &Transcript) {
    eprintln!(
        "[{:.1} s of audio in {:.1} s (real-time factor {:.2}){}{}]",
        t.audio_seconds,
        t.elapsed_seconds,
        t.real_time_factor,
        t.language
            .as_ref()
            .map(|l| format!(", language {l}"))
            .unwrap_or_default(),
        if t.cancelled { ", cancelled" } else { "" }
    );
}

fn print_encoder(output: &Output) {
    match output {
        Output::TextClassification(texts) => {
            for text in &texts.results {
                println!("{}", text.text);
                for label in text.labels.iter().take(5) {
                    println!("  {:>6.2}%  {}", label.score * 100.0, label.label);
                }
            }
        }
        Output::TokenClassification(texts) => {
            for text in &texts.results {
                println!("{}", text.text);
                if text.entities.is_empty() {
                    println!("  (no entities)");
                }
                for entity in &text.entities {
                    println!(
                        "  {:<6} {:>6.2}%  {}  [{}..{}]",
                        entity.group,
                        entity.score * 100.0,
                        entity.word,
                        entity.start,
                        entity.end
                    );
                }
            }
        }
        Output::FillMask(texts) => {
            for text in &texts.results {
                println!("{}", text.text);
                for (i, fills) in text.masks.iter().enumerate() {
                    if text.masks.len() > 1 {
                        println!(" mask {}:", i + 1);
                    }
                    for fill in fills {
                        println!(
                            "  {:>6.2}%  {:<12} {}",
                            fill.score * 100.0,
                            fill.token,
                            fill.sequence
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

fn read_inputs(args: &RunArgs) -> Result<Vec<String>, Failure> {
    let inputs: Vec<String> = match &args.input_file {
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(path)
            }
            .map_err(|e| fail(InferError::file(path, e)))?;
            if args
                .task
                .as_deref()
                .is_some_and(|t| t.contains("generat") || t == "chat")
            {
                vec![text]
            } else {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            }
        }
        None => args.input.clone(),
    };
    if inputs.is_empty() || inputs.iter().all(|i| i.trim().is_empty()) {
        return Err(fail(InferError::InvalidInput(
            "no input: pass --input TEXT or --input-file FILE".into(),
        )));
    }
    Ok(inputs)
}

/// The snapshot folder to load: `--model-dir`, or the cached snapshot of REPO at the revision.
fn model_folder(config: &HubConfig, args: &RunArgs) -> Result<PathBuf, Failure> {
    if let Some(dir) = &args.model_dir {
        return if dir.is_dir() {
            Ok(dir.clone())
        } else {
            Err((
                exit::NOT_FOUND,
                "not_found",
                format!("{} is not a folder", dir.display()),
            ))
        };
    }
    let Some(repo) = &args.repo else {
        return Err((
            exit::USAGE,
            "invalid_input",
            "pass REPO or --model-dir DIR".into(),
        ));
    };
    let revision = args.revision.as_deref().unwrap_or("main");
    let cached = CachedRepo::new(&config.hub_cache, repo);
    match cached.resolve_revision(revision) {
        Some(commit) => Ok(cached.folder().join("snapshots").join(commit)),
        None => Err((
            exit::NOT_FOUND,
            "not_downloaded",
            format!(
                "not downloaded: {repo} ({revision}) is not in the cache at {}; run `hubble download {repo}`",
                config.hub_cache.display()
            ),
        )),
    }
}
