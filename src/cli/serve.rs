//! `hubble serve`: the cached models over the OpenAI API on 127.0.0.1 (or another address
//! when asked, with a warning), until interrupted.

use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;

use clap::Args;

use crate::config::HubConfig;
use crate::serve::{API_KEY_VARIABLE, DEFAULT_PORT, ServeOptions, ServerHandle, is_exposed};

/// Arguments of `hubble serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; anything but a loopback address exposes the models to the
    /// network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The port (0: any free one, printed at start).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Require `Authorization: Bearer KEY` (default: $HUBBLE_API_KEY; none when unset).
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Where models compute: auto, cpu, cuda[:N], metal[:N], wgpu[:N|:NAME].
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Memory the loaded models may take together, in GB (default: the RAM free at start);
    /// past it the least recently used model is unloaded.
    #[arg(long, value_name = "GB")]
    pub memory_budget: Option<f64>,
    /// Print the address as JSON (`{"base_url": …}`) when listening.
    #[arg(long)]
    pub json: bool,
}

/// Runs `hubble serve` until the process is stopped.
pub fn run(config: &HubConfig, args: ServeArgs) -> ExitCode {
    let device = match args.device.parse() {
        Ok(device) => device,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::exit::USAGE);
        }
    };
    let memory_budget = match args.memory_budget {
        Some(gb) if !(gb > 0.0 && gb.is_finite()) => {
            eprintln!("error: --memory-budget is a positive number of GB");
            return ExitCode::from(super::exit::USAGE);
        }
        other => other.map(|gb| (gb * 1e9) as u64),
    };
    let api_key = args
        .api_key
        .or_else(|| std::env::var(API_KEY_VARIABLE).ok())
        .filter(|key| !key.is_empty());
    if is_exposed(args.host) {
        eprintln!(
            "warning: listening on {}: any machine that reaches this address can use the models{}",
            args.host,
            if api_key.is_none() {
                ", and no API key is set (--api-key)"
            } else {
                ""
            }
        );
    }
    let options = ServeOptions {
        host: args.host,
        port: args.port,
        api_key,
        device,
        memory_budget,
    };
    let server = match ServerHandle::start(config.clone(), options) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::exit::FAILURE);
        }
    };
    server.log().echo_to_stderr();
    let mut out = std::io::stdout().lock();
    let started = if args.json {
        let line = serde_json::json!({
            "base_url": server.base_url(),
            "address": server.address().to_string(),
            "memory_budget": server.memory_budget(),
        });
        writeln!(out, "{line}")
    } else {
        writeln!(
            out,
            "serving the models in {} at {} (memory budget {}); Ctrl+C stops",
            config.hub_cache.display(),
            server.base_url(),
            crate::format::bytes(server.memory_budget())
        )
    };
    let _ = started.and_then(|()| out.flush());
    drop(out);
    loop {
        std::thread::park();
    }
}
