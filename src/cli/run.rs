//! `hubble run REPO --task … --input …`: runs a downloaded model from the local Hugging Face
//! cache (or `--model-dir DIR`) on the inference thread, streaming generated text to stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::exit;
use crate::cache::CachedRepo;
use crate::config::HubConfig;
use crate::hub::RepoId;
use crate::infer::registry;
use crate::infer::run_input::RunInput;
use crate::infer::{DeviceRequest, Event, InferError, InferenceWorker, ModelFacts, Output, Task};

/// A subcommand's own arguments, the shared ones every task reads ([`CommonArgs`]) and each
/// task's own from its task file (`registry::cli_args`), all parsed by clap.
#[derive(Debug)]
pub struct TaskArgs<T> {
    /// The subcommand's own arguments (`hubble run`'s model, `hubble compare`'s models).
    pub own: T,
    /// The shared arguments.
    pub common: CommonArgs,
    /// Everything clap parsed, for the task file to read its own arguments from.
    pub input: RunInput,
}

/// Arguments of `hubble run`.
pub type RunArgs = TaskArgs<ModelArgs>;

/// Which model `hubble run` loads.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// Repository id of a downloaded model, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.
    #[arg(required_unless_present = "model_dir")]
    pub repo: Option<RepoId>,
    /// Run from this folder instead of the cache.
    #[arg(long, value_name = "DIR", conflicts_with = "repo")]
    pub model_dir: Option<PathBuf>,
    /// Branch, tag or commit in the cache (default: main).
    #[arg(long)]
    pub revision: Option<String>,
    /// The GGUF file to use when the repo has several.
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
}

/// The arguments every task shares.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// The task (default: the model's own); `hubble run --help` lists the tasks' own options,
    /// `hubble system` the tasks.
    #[arg(long)]
    pub task: Option<String>,
    /// The input text; repeat for several sentences (similarity).
    #[arg(long, conflicts_with = "input_file")]
    pub input: Vec<String>,
    /// Read the input from a file (one sentence per line for embeddings; `-` is stdin; an image
    /// for the image tasks; an audio file — WAV, FLAC, MP3, Ogg/Vorbis, M4A/AAC — for the
    /// audio tasks).
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// auto (CUDA → Metal → a hardware GPU through wgpu → CPU), cpu, cuda[:N], metal[:N],
    /// wgpu[:N|:NAME] (`hubble system` lists the adapters).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Print JSON instead of text (generation is then not streamed).
    #[arg(long)]
    pub json: bool,
    /// Most new tokens to generate.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy (default: 0.7 for chat, 0 for translation,
    /// summarisation, image-to-text and image-text-to-text).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus sampling threshold (1 turns it off).
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f64,
    /// Sample only among the k most likely tokens (generation); how many results to print
    /// (classifiers, answers).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Penalty for repeating recent tokens (1 turns it off).
    #[arg(long, default_value_t = 1.1)]
    pub repeat_penalty: f32,
    /// Random seed.
    #[arg(long, default_value_t = 299_792_458)]
    pub seed: u64,
}

impl CommonArgs {
    /// `--task`, parsed.
    pub fn task(&self) -> Result<Option<Task>, Failure> {
        self.task
            .as_deref()
            .map(registry::parse_task)
            .transpose()
            .map_err(fail)
    }

    /// `--device`, parsed.
    pub fn device(&self) -> Result<DeviceRequest, Failure> {
        self.device.parse().map_err(fail)
    }
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for TaskArgs<T> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<TaskArgs<T>, clap::Error> {
        Ok(TaskArgs {
            own: T::from_arg_matches(matches)?,
            common: CommonArgs::from_arg_matches(matches)?,
            input: RunInput::new(matches.clone()),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = TaskArgs::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<T: clap::Args> clap::Args for TaskArgs<T> {
    fn augment_args(command: clap::Command) -> clap::Command {
        CommonArgs::augment_args(T::augment_args(command)).args(registry::cli_args())
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        TaskArgs::<T>::augment_args(command)
    }
}

/// Runs `hubble run` and returns the exit status.
pub fn main(config: &HubConfig, args: RunArgs) -> ExitCode {
    let json = args.common.json;
    exit_status(run(config, args), json)
}

/// The exit status of a finished command, its failure printed on stderr (as JSON with `--json`).
pub fn exit_status(result: Result<(), Failure>, json: bool) -> ExitCode {
    match result {
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

/// A failed command: exit status, error kind (for `--json`), message.
pub type Failure = (u8, &'static str, String);

/// The exit status and kind of an inference error.
pub fn fail(e: InferError) -> Failure {
    let status = match &e {
        InferError::InvalidInput(_) | InferError::Device(_) | InferError::File { .. } => {
            exit::USAGE
        }
        InferError::MissingFile { .. } => exit::NOT_FOUND,
        _ => exit::FAILURE,
    };
    (status, e.kind(), e.to_string())
}

fn run(config: &HubConfig, args: RunArgs) -> Result<(), Failure> {
    let common = &args.common;
    let model = &args.own;
    let dir = model_folder(config, model)?;
    let device = common.device()?;
    let task = common.task()?;
    let mut facts = ModelFacts::from_dir(&dir).map_err(fail)?;
    if let Some(file) = &model.file {
        facts.choose_gguf(&dir, file).map_err(fail)?;
    }
    let plan =
        registry::plan(&facts, task).map_err(|e| plan_failure(e, &facts, model.repo.as_ref()))?;
    let request = registry::cli_request(plan.task, &args.input).map_err(fail)?;
    let worker = InferenceWorker::spawn(dir, plan, device);
    let mut request = Some(request);
    let mut submitted = false;
    let stdout = std::io::stdout();
    while let Some(event) = worker.recv() {
        match event {
            Event::Status(line) if !common.json => eprintln!("{line}"),
            Event::GpuMemory { device, bytes } if !common.json => {
                eprintln!(
                    "{:.0} MiB of GPU memory on {device}",
                    bytes as f64 / (1 << 20) as f64
                );
            }
            Event::Status(_) | Event::GpuMemory { .. } => {}
            Event::Loaded(description) => {
                if !common.json {
                    eprintln!("loaded {description}");
                }
                if let Some(request) = request.take() {
                    worker.submit(request).map_err(fail)?;
                    submitted = true;
                }
            }
            Event::Token(piece) if !common.json => {
                let mut out = stdout.lock();
                let _ = out.write_all(piece.as_bytes());
                let _ = out.flush();
            }
            Event::Segment(segment) if !common.json => {
                let mut out = stdout.lock();
                let _ = writeln!(
                    out,
                    "[{}] {}",
                    crate::media::transcript::span(segment.start, segment.end),
                    segment.text
                );
            }
            Event::Progress { done, total, .. } if !common.json => {
                eprintln!("step {done}/{total}");
            }
            Event::Token(_) | Event::Segment(_) | Event::Progress { .. } => {}
            Event::Finished(output) => return print_output(&output, common.json),
            Event::Failed(message) => {
                let kind = if submitted { "inference" } else { "load" };
                return Err((exit::FAILURE, kind, message));
            }
        }
    }
    Err(fail(InferError::WorkerGone))
}

fn print_output(output: &Output, json: bool) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let written = if json {
        let text = output
            .to_json(true)
            .map_err(|e| (exit::FAILURE, "json", e.to_string()))?;
        writeln!(out, "{text}")
    } else {
        output.write_human(&mut out, &mut std::io::stderr().lock())
    };
    written_out(written.and_then(|()| out.flush()))
}

/// What writing to stdout came to: a closed pipe (`| head`) is the reader's choice, not a
/// failure.
pub fn written_out(written: std::io::Result<()>) -> Result<(), Failure> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err((exit::FAILURE, "io", e.to_string()))
        }
        _ => Ok(()),
    }
}

/// Why a model can't be planned: its weights not downloaded (when it came from the cache and
/// has neither GGUF nor safetensors files), else the planner's error.
fn plan_failure(e: InferError, facts: &ModelFacts, repo: Option<&RepoId>) -> Failure {
    let no_weights = facts.gguf_files().is_empty() && !facts.has_safetensors();
    match repo {
        Some(repo) if no_weights => (
            exit::NOT_FOUND,
            "not_downloaded",
            format!(
                "not downloaded: the weights of {repo} are not in the cache; run `hubble download {repo}`"
            ),
        ),
        _ => fail(e),
    }
}

/// The cached snapshot of `repo` at `revision`, or the "not downloaded" failure.
pub fn cached_snapshot(
    config: &HubConfig,
    repo: &RepoId,
    revision: &str,
) -> Result<PathBuf, Failure> {
    CachedRepo::new(&config.hub_cache, repo)
        .snapshot_dir(revision)
        .ok_or_else(|| {
            (
                exit::NOT_FOUND,
                "not_downloaded",
                format!(
                    "not downloaded: {repo} ({revision}) is not in the cache at {}; run `hubble download {repo}`",
                    config.hub_cache.display()
                ),
            )
        })
}

/// The snapshot folder to load: `--model-dir`, or the cached snapshot of REPO at the revision.
fn model_folder(config: &HubConfig, args: &ModelArgs) -> Result<PathBuf, Failure> {
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
    cached_snapshot(config, repo, args.revision.as_deref().unwrap_or("main"))
}
