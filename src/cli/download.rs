//! `hubble download`: a repository (or some of its files) into the Hugging Face cache, with a
//! progress line on stderr; prints the snapshot folder (or JSON) on stdout.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::exit;
use super::format::bytes;
use crate::config::HubConfig;
use crate::download::{
    self, DownloadError, DownloadEvent, DownloadOptions, DownloadOutcome, DownloadSpec,
};
use crate::hub::{HubClient, RepoId, RepoType};

/// Arguments of `hubble download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Repository id, e.g. google-bert/bert-base-uncased.
    pub repo: RepoId,
    /// Only these files (paths inside the repository); default: every file.
    pub files: Vec<String>,
    /// Only files matching this pattern (`*.safetensors`, `onnx/`); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip files matching this pattern; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Branch, tag or commit (default: main).
    #[arg(long)]
    pub revision: Option<String>,
    /// `model` (default), `dataset` or `space`.
    #[arg(long, value_name = "TYPE", default_value = "model", value_parser = super::revisions::parse_repo_type)]
    pub repo_type: RepoType,
    /// Files downloaded at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_workers: usize,
    /// Range streams per large file.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub streams: usize,
    /// Size of each range of a large file, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub chunk_mib: u64,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print JSON instead of the path.
    #[arg(long)]
    pub json: bool,
}

/// Runs `hubble download` and returns the exit status.
pub async fn run(config: HubConfig, args: DownloadArgs) -> ExitCode {
    let json = args.json;
    match download(config, args).await {
        Ok(outcome) => {
            if json {
                if let Err(e) = super::print_json(&outcome) {
                    eprintln!("error: {e}");
                    return ExitCode::from(exit::FAILURE);
                }
            } else {
                println!("{}", outcome.path.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => report(&error, json),
    }
}

async fn download(config: HubConfig, args: DownloadArgs) -> Result<DownloadOutcome, DownloadError> {
    let spec = DownloadSpec {
        repo: args.repo,
        revision: args.revision,
        files: args.files,
        include: args.include,
        exclude: args.exclude,
        repo_type: args.repo_type,
    };
    if config.offline {
        return download::offline(&config.hub_cache, &spec);
    }
    let options = DownloadOptions {
        parallel_files: args.max_workers.max(1),
        streams_per_file: args.streams.max(1),
        chunk_size: args.chunk_mib.max(1) << 20,
        ..DownloadOptions::default()
    };
    let client = HubClient::new(config)?;
    let mut handle = download::start(client, spec, options);
    let show = !args.quiet && std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut shown = false;
    while let Some(event) = handle.next_event().await {
        match event {
            DownloadEvent::Progress(p) if show => {
                let eta = p
                    .eta_secs
                    .map(|s| format!(", {:.0} s left", s.ceil()))
                    .unwrap_or_default();
                let percent = if p.total_bytes == 0 {
                    100.0
                } else {
                    p.done_bytes as f64 * 100.0 / p.total_bytes as f64
                };
                let width = 24;
                let filled = ((percent / 100.0) * width as f64).round() as usize;
                let bar = format!(
                    "{}{}",
                    "#".repeat(filled.min(width)),
                    "-".repeat(width - filled.min(width))
                );
                eprint!(
                    "\r\x1b[2K[{bar}] {percent:5.1}%  {} / {}  {}/s  {}/{} files{eta}",
                    bytes(p.done_bytes),
                    bytes(p.total_bytes),
                    bytes(p.bytes_per_sec as u64),
                    p.files_done,
                    p.files_total,
                );
                let _ = std::io::stderr().flush();
                shown = true;
            }
            DownloadEvent::Finished(_) => break,
            _ => {}
        }
    }
    let result = handle.wait().await;
    if shown {
        eprint!("\r\x1b[2K");
        if let Ok(outcome) = &result {
            eprintln!(
                "Downloaded {} in {:.1} s ({} files).",
                bytes(outcome.downloaded_bytes),
                started.elapsed().as_secs_f64(),
                outcome.files.len()
            );
        }
    }
    result
}

/// Prints the error (JSON on stderr with `--json`) and picks the exit status.
fn report(error: &DownloadError, json: bool) -> ExitCode {
    if json {
        let mut value = serde_json::json!({
            "error": { "kind": error.kind(), "message": error.to_string() }
        });
        if !error.missing().is_empty() {
            value["error"]["missing"] = serde_json::json!(error.missing());
        }
        eprintln!("{value}");
    } else {
        eprintln!("error: {error}");
    }
    ExitCode::from(status(error))
}

fn status(error: &DownloadError) -> u8 {
    match error {
        DownloadError::Hub(e) => super::exit_status(e),
        DownloadError::UnsafePath(_) => exit::FAILURE,
        DownloadError::NotCached { .. } | DownloadError::Incomplete { .. } => exit::NETWORK,
        DownloadError::Io { .. }
        | DownloadError::Integrity { .. }
        | DownloadError::NoSpace { .. }
        | DownloadError::Cancelled
        | DownloadError::Paused => exit::FAILURE,
    }
}
