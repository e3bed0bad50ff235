//! The command line: `hubble search|info|card ...`, each with human output and `--json`.

mod card;
mod format;
mod info;
mod search;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{HubConfig, Overrides};
use crate::hub::{HubClient, HubError};

/// Hubble: explore the Hugging Face Hub from your desktop or terminal.
#[derive(Debug, Parser)]
#[command(name = "hubble", version, about, long_about = None)]
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
    let overrides = Overrides {
        endpoint: cli.endpoint.clone(),
        cache_dir: cli.cache_dir.clone(),
        token: cli.token.clone(),
        offline: cli.offline,
    };
    let config = HubConfig::from_env(&overrides);
    let Some(command) = cli.command else {
        eprintln!(
            "The desktop app is not part of this build yet; use a subcommand (see `hubble --help`)."
        );
        return ExitCode::from(exit::USAGE);
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
    let result = runtime.block_on(async move {
        let client = HubClient::new(config)?;
        match command {
            Command::Search(args) => search::run(&client, *args).await,
            Command::Info(args) => info::run(&client, args).await,
            Command::Card(args) => card::run(&client, args).await,
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
