//! The command line: `hubble search|info|card ...`, each with human output and `--json`.

mod cache;
mod card;
mod collections;
mod compare;
mod datasets;
mod download;
mod fit;
mod format;
mod info;
mod remote;
mod revisions;
mod run;
mod search;
mod serve;
mod spaces;
mod system;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{HubConfig, Overrides};
use crate::hub::{HubClient, HubError};
use crate::link::ModelLink;

/// `hubble --version`: version, git commit and the inference backends compiled in.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HUBBLE_GIT_COMMIT"),
    "; backends: ",
    env!("HUBBLE_BACKENDS"),
    ")"
);

/// Hubble: explore the Hugging Face Hub from your desktop or terminal.
#[derive(Debug, Parser)]
#[command(name = "hubble", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// Hub endpoint URL (overrides HF_ENDPOINT).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Hub cache folder (overrides HF_HUB_CACHE / HF_HOME).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Never use the network (like HF_HUB_OFFLINE=1).
    #[arg(long, global = true)]
    pub offline: bool,
    /// Hugging Face access token (overrides HF_TOKEN and the token file).
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// CPU threads for inference (default: RAYON_NUM_THREADS, else the physical cores).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Desktop app: close after the first frame (start-up benchmarks, CI).
    #[arg(long)]
    pub exit_after_first_frame: bool,
    /// Desktop app: the renderer, `wgpu` or `glow` (default: wgpu, falling back to glow).
    #[arg(long, value_name = "NAME")]
    pub renderer: Option<String>,
    /// A model page for the app to open: hubble://model/<org>/<name>[?revision=<rev>] or
    /// <org>/<name> (with a window already open, the link goes to that window).
    #[arg(value_name = "LINK")]
    pub link: Option<String>,
    /// What to do; without one, the desktop app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search models on the Hub.
    Search(Box<search::SearchArgs>),
    /// Show a model's details: task, license, parameters and files.
    Info(info::InfoArgs),
    /// Show a model's card (README) with its metadata and license.
    Card(card::CardArgs),
    /// Download a repository (or some files) into the Hugging Face cache; prints the snapshot path.
    Download(Box<download::DownloadArgs>),
    /// Manage the Hugging Face cache: ls, rm, prune, verify.
    Cache(cache::CacheArgs),
    /// Run a downloaded model: generate text, embed sentences (streams to stdout).
    Run(Box<run::RunArgs>),
    /// Run 2–4 downloaded models (or quants) on one input: answers side by side, with speed and memory.
    Compare(Box<compare::CompareArgs>),
    /// Will a model fit this machine? Exact weight sizes from file headers, KV cache, verdicts.
    Fit(Box<fit::FitArgs>),
    /// Show this machine: CPU, RAM, GPUs and inference backends.
    System(system::SystemArgs),
    /// List a repository's branches and tags, and the newest commits of a revision.
    Revisions(revisions::RevisionsArgs),
    /// Datasets: search with facets, info, preview of the first rows.
    Datasets(datasets::DatasetsArgs),
    /// Search Spaces, or list those using a model (`--model REPO`).
    Spaces(spaces::SpacesArgs),
    /// Chat with a model on the Hub's inference router (remote, with your token), streamed.
    RemoteChat(remote::RemoteChatArgs),
    /// Run a text/image classifier or speech recognizer on the Hub's inference router (remote).
    Remote(remote::RemoteArgs),
    /// Search collections, or show one (`collections show SLUG`).
    Collections(collections::CollectionsArgs),
    /// Serve the cached models to other programs over the OpenAI API (127.0.0.1:8080).
    Serve(serve::ServeArgs),
}

/// Exit statuses, documented in README.md.
pub mod exit {
    /// Anything not covered below.
    pub const FAILURE: u8 = 1;
    /// Bad arguments (clap's own status).
    pub const USAGE: u8 = 2;
    /// Repository, revision or file not found.
    pub const NOT_FOUND: u8 = 3;
    /// Gated repository, rejected token, or access denied.
    pub const ACCESS: u8 = 4;
    /// Offline, unreachable, timed out, rate-limited or a server error.
    pub const NETWORK: u8 = 5;
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::infer::cpu_threads::configure(cli.threads);
    crate::fit::system::cuda_driver::announce();
    let overrides = Overrides {
        endpoint: cli.endpoint.clone(),
        cache_dir: cli.cache_dir.clone(),
        token: cli.token.clone(),
        offline: cli.offline,
    };
    if let (Some(link), Some(_)) = (&cli.link, &cli.command) {
        eprintln!(
            "error: {link:?} is neither a subcommand nor a global option; a model link opens the app and takes no subcommand"
        );
        return ExitCode::from(exit::USAGE);
    }
    let Some(command) = cli.command else {
        let link = match cli.link.as_deref().map(ModelLink::parse).transpose() {
            Ok(link) => link,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(exit::USAGE);
            }
        };
        return crate::ui::run(crate::ui::UiOptions {
            command_line: overrides,
            exit_after_first_frame: cli.exit_after_first_frame,
            renderer: cli.renderer,
            link,
        });
    };
    end_quietly_on_closed_pipe();
    let config = HubConfig::from_env(&overrides);
    // Inference runs on its own thread and needs no async runtime.
    let command = match command {
        Command::Run(args) => return run::main(&config, *args),
        Command::Serve(args) => return serve::run(&config, args),
        Command::Compare(args) => return compare::main(&config, *args),
        Command::Cache(args) => return cache::run(&config, args),
        Command::System(args) => return system::run(args),
        other => other,
    };
    let json = command.wants_json();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let command = match command {
        Command::Download(args) => return runtime.block_on(download::run(config, *args)),
        Command::Datasets(args) => {
            return match HubClient::new(config) {
                Ok(client) => runtime.block_on(datasets::run(&client, args)),
                Err(error) => report(&error, json),
            };
        }
        Command::Fit(args) => return runtime.block_on(fit::run(config, *args)),
        other => other,
    };
    let result = runtime.block_on(async move {
        let client = HubClient::new(config)?;
        match command {
            Command::Search(args) => search::run(&client, *args).await,
            Command::Info(args) => info::run(&client, args).await,
            Command::Card(args) => card::run(&client, args).await,
            Command::Revisions(args) => revisions::run(&client, args).await,
            Command::Spaces(args) => spaces::run(&client, args).await,
            Command::RemoteChat(args) => remote::run(&client, args).await,
            Command::Remote(args) => remote::run_task(&client, args).await,
            Command::Collections(args) => collections::run(&client, args).await,
            Command::Run(_) | Command::Compare(_) => {
                unreachable!("inference returns before the runtime starts")
            }
            Command::Download(_)
            | Command::Cache(_)
            | Command::Fit(_)
            | Command::System(_)
            | Command::Serve(_)
            | Command::Datasets(_) => {
                unreachable!("handled above")
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error, json),
    }
}

impl Command {
    fn wants_json(&self) -> bool {
        match self {
            Command::Search(a) => a.json,
            Command::Info(a) => a.json,
            Command::Card(a) => a.json,
            Command::Run(a) => a.common.json,
            Command::Compare(a) => a.common.json,
            Command::Download(a) => a.json,
            Command::Cache(a) => a.json(),
            Command::Fit(a) => a.json,
            Command::System(a) => a.json,
            Command::Revisions(a) => a.json,
            Command::Datasets(a) => a.json(),
            Command::Spaces(a) => a.json,
            Command::RemoteChat(a) => a.json,
            Command::Remote(a) => a.json,
            Command::Collections(a) => a.json(),
            Command::Serve(a) => a.json,
        }
    }
}

/// Prints `error` for a person (and as JSON on stderr with `--json`) and picks the exit status.
fn report(error: &HubError, json: bool) -> ExitCode {
    if json {
        let value = serde_json::json!({
            "error": { "kind": error.kind(), "message": error.to_string() }
        });
        eprintln!("{value}");
    } else {
        eprintln!("error: {error}");
    }
    ExitCode::from(exit_status(error))
}

fn exit_status(error: &HubError) -> u8 {
    match error {
        HubError::RepoNotFound { .. }
        | HubError::RevisionNotFound { .. }
        | HubError::EntryNotFound { .. } => exit::NOT_FOUND,
        HubError::GatedRepo { .. } | HubError::Unauthorized { .. } | HubError::Forbidden { .. } => {
            exit::ACCESS
        }
        HubError::InvalidInput(_) => exit::USAGE,
        e if e.is_transient() || matches!(e, HubError::Offline { .. }) => exit::NETWORK,
        _ => exit::FAILURE,
    }
}

/// Prints a value as pretty JSON on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> Result<(), HubError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| HubError::InvalidInput(format!("could not write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A subcommand whose reader goes away (`hubble system --json | head`) ends quietly, as
/// ripgrep and the coreutils do, instead of panicking in `println!`: the default action of
/// SIGPIPE is restored (Rust ignores it, turning it into errors at every print). Sockets are
/// unaffected: the standard library sends with MSG_NOSIGNAL. Not for the GUI.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: resetting a signal's disposition to its default has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    #[test]
    fn a_link_and_subcommands_after_global_flags_parse() {
        let cli = Cli::try_parse_from(["hubble", "--offline", "download", "org/name"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Download(_))));
        assert_eq!(cli.link, None);

        let cli = Cli::try_parse_from(["hubble", "--offline", "hubble://model/org/name"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.link.as_deref(), Some("hubble://model/org/name"));
    }
}
