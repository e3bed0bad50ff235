//! `hubble serve`: the models in the Hugging Face cache, served to other programs over the
//! OpenAI API as its official clients speak it.
//!
//! ```text
//!  client ── HTTP ──▶ http.rs (auth, routing, OpenAI errors)
//!                        │ chat.rs  embeddings.rs  audio.rs  images.rs  catalog.rs
//!                        ▼
//!                     pool.rs: one InferenceWorker per (model, task), loaded on first use,
//!                     least recently used unloaded past the memory budget; one job at a time
//!                     per model (the others queue); a client that hangs up cancels its job
//! ```
//!
//! The server has its own tokio runtime (two threads: the models run on inference threads),
//! so the app and `hubble serve` start it the same way; [`ServerHandle`] stops it when dropped.

mod audio;
mod catalog;
mod chat;
mod embeddings;
mod http;
mod images;
pub mod log;
mod multipart;
mod openai;
pub mod pool;
mod stop;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::config::HubConfig;
use crate::infer::DeviceRequest;

pub use log::{LogEntry, RequestLog};
pub use pool::{LoadedSummary, ModelPool};

/// The port `hubble serve` takes unless told.
pub const DEFAULT_PORT: u16 = 8080;

/// The environment variable that sets the API key when `--api-key` is not given.
pub const API_KEY_VARIABLE: &str = "HUBBLE_API_KEY";

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to bind: 127.0.0.1 unless the user asks for another.
    pub host: IpAddr,
    /// The port (0: any free one; [`ServerHandle::address`] says which).
    pub port: u16,
    /// Requests must carry `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// Where models compute.
    pub device: DeviceRequest,
    /// Memory the loaded models may take together, in bytes (default: the RAM free at start).
    pub memory_budget: Option<u64>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            api_key: None,
            device: DeviceRequest::Auto,
            memory_budget: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is taken or not ours.
    #[error("could not listen on {address}: {source} (pick another port with --port)")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The runtime could not start.
    #[error("could not start the server's runtime: {0}")]
    Runtime(std::io::Error),
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) config: HubConfig,
    pub(crate) api_key: Option<String>,
    pub(crate) pool: Arc<ModelPool>,
    pub(crate) log: RequestLog,
}

/// A running server: its address, its models and its log. Dropping it stops the server and
/// unloads the models.
pub struct ServerHandle {
    address: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ServerHandle {
    /// Binds `options`' address and starts serving the models of `config`'s cache.
    pub fn start(config: HubConfig, options: ServeOptions) -> Result<ServerHandle, ServeError> {
        let wanted = SocketAddr::new(options.host, options.port);
        let listener = std::net::TcpListener::bind(wanted).map_err(|source| ServeError::Bind {
            address: wanted,
            source,
        })?;
        let address = listener.local_addr().map_err(ServeError::Runtime)?;
        listener
            .set_nonblocking(true)
            .map_err(ServeError::Runtime)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hubble-serve")
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        let budget = options.memory_budget.unwrap_or_else(pool::free_memory);
        let shared = Arc::new(Shared {
            pool: Arc::new(ModelPool::new(
                config.hub_cache.clone(),
                options.device,
                budget,
            )),
            config,
            api_key: options.api_key.filter(|key| !key.is_empty()),
            log: RequestLog::default(),
        });
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(ServeError::Runtime)?
        };
        runtime.spawn(http::accept(listener, shared.clone()));
        Ok(ServerHandle {
            address,
            shared,
            runtime: Some(runtime),
        })
    }

    /// The address it listens on (the port the system gave for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The API's base URL, as clients take it (`http://127.0.0.1:8080/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// The request log.
    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }

    /// The models loaded now, most recently used first.
    pub fn loaded(&self) -> Vec<LoadedSummary> {
        self.shared.pool.loaded()
    }

    /// The memory budget the models share, in bytes.
    pub fn memory_budget(&self) -> u64 {
        self.shared.pool.budget()
    }
}

impl Drop for ServerHandle {
    /// Stops accepting and answering at once; the models are unloaded on their own threads.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        self.shared.pool.unload_all();
    }
}

/// Whether serving on `host` exposes the models beyond this machine (worth a warning).
pub fn is_exposed(host: IpAddr) -> bool {
    !host.is_loopback()
}
