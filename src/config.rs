//! Hub configuration resolved exactly as Python's `huggingface_hub` does, from the `HF_*`
//! environment variables, then overridden by Hubble's command-line flags or settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The public Hub, used when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// huggingface_hub's default for `HF_HUB_ETAG_TIMEOUT` and `HF_HUB_DOWNLOAD_TIMEOUT`, in seconds.
const DEFAULT_TIMEOUT_SECS: f64 = 10.0;

/// Where the Hub's dataset viewer API lives.
pub const DEFAULT_VIEWER_ENDPOINT: &str = "https://datasets-server.huggingface.co";

/// The environment variable that overrides [`DEFAULT_VIEWER_ENDPOINT`] (read into
/// [`HubConfig::viewer_endpoint`]).
pub const VIEWER_ENDPOINT_ENV: &str = "HUBBLE_VIEWER_ENDPOINT";

/// The inference router's OpenAI-compatible API.
pub const DEFAULT_ROUTER_ENDPOINT: &str = "https://router.huggingface.co/v1";

/// The environment variable that overrides [`DEFAULT_ROUTER_ENDPOINT`] (read into
/// [`HubConfig::router_endpoint`]).
pub const ROUTER_ENDPOINT_ENV: &str = "HUBBLE_ROUTER_ENDPOINT";

/// Where a token came from, so the UI can say why a token is (not) being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// `--token` on the command line or the token field of the settings window.
    Explicit,
    /// `HF_TOKEN` (or the legacy `HUGGING_FACE_HUB_TOKEN`).
    Environment,
    /// The token file (`HF_TOKEN_PATH`, else `$HF_HOME/token`), as written by `hf auth login`.
    File,
}

/// Everything a Hub client and the cache need to know about the user's setup.
#[derive(Clone, PartialEq, serde::Serialize)]
pub struct HubConfig {
    /// Base URL of the Hub, without a trailing slash.
    pub endpoint: String,
    /// `HF_HOME`: the root of Hugging Face's local state.
    pub hf_home: PathBuf,
    /// `HF_HUB_CACHE`: where repositories are cached (`models--org--name/...`).
    pub hub_cache: PathBuf,
    /// Path of the token file.
    pub token_path: PathBuf,
    /// The token sent to the endpoint, if any.
    #[serde(skip)]
    pub token: Option<String>,
    /// Where [`HubConfig::token`] came from.
    pub token_source: Option<TokenSource>,
    /// `HF_HUB_OFFLINE`: never touch the network.
    pub offline: bool,
    /// Connect and per-read timeout for metadata requests (`HF_HUB_ETAG_TIMEOUT`).
    #[serde(with = "secs")]
    pub metadata_timeout: Duration,
    /// Connect and per-read timeout for file transfers (`HF_HUB_DOWNLOAD_TIMEOUT`).
    #[serde(with = "secs")]
    pub download_timeout: Duration,
    /// The dataset viewer API (`HUBBLE_VIEWER_ENDPOINT`, default the Hub's), no trailing slash.
    pub viewer_endpoint: String,
    /// The inference router's OpenAI-compatible API (`HUBBLE_ROUTER_ENDPOINT`, default
    /// `https://router.huggingface.co/v1`), no trailing slash. Remote inference sends the token
    /// here.
    pub router_endpoint: String,
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("hf_home", &self.hf_home)
            .field("hub_cache", &self.hub_cache)
            .field("token_path", &self.token_path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_source", &self.token_source)
            .field("offline", &self.offline)
            .field("metadata_timeout", &self.metadata_timeout)
            .field("download_timeout", &self.download_timeout)
            .field("viewer_endpoint", &self.viewer_endpoint)
            .field("router_endpoint", &self.router_endpoint)
            .finish()
    }
}

/// Values that take precedence over the environment (command-line flags, app settings).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--cache-dir`: replaces the hub cache folder (like `cache_dir=` in huggingface_hub).
    pub cache_dir: Option<PathBuf>,
    /// `--token`: an explicit token, sent even when implicit tokens are disabled.
    pub token: Option<String>,
    /// `--offline`: forces offline mode on (it can't force it off).
    pub offline: bool,
}

/// A source of environment variables; a closure in tests, the process environment otherwise.
pub trait Env {
    /// The variable's value, if set (set-but-empty is `Some("")`, as in Python's `os.getenv`).
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory, for `~` expansion.
    fn home(&self) -> Option<PathBuf>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
    fn home(&self) -> Option<PathBuf> {
        std::env::home_dir()
    }
}

impl HubConfig {
    /// Resolves the configuration from the process environment and the given overrides.
    pub fn from_env(overrides: &Overrides) -> HubConfig {
        Self::resolve(&ProcessEnv, overrides)
    }

    /// Resolves the configuration from `env`, mirroring `huggingface_hub.constants`.
    pub fn resolve(env: &dyn Env, overrides: &Overrides) -> HubConfig {
        let expand = |value: &str| expand_user(value, env.home().as_deref());
        let endpoint = overrides
            .endpoint
            .clone()
            .or_else(|| env.var("HF_ENDPOINT"))
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let hf_home = match env.var("HF_HOME") {
            Some(home) => expand(&home),
            None => {
                let xdg = env
                    .var("XDG_CACHE_HOME")
                    .unwrap_or_else(|| "~/.cache".into());
                expand(&xdg).join("huggingface")
            }
        };
        let hub_cache = match overrides.cache_dir.clone() {
            Some(dir) => dir,
            None => env
                .var("HF_HUB_CACHE")
                .or_else(|| env.var("HUGGINGFACE_HUB_CACHE"))
                .map(|dir| expand(&dir))
                .unwrap_or_else(|| hf_home.join("hub")),
        };
        let token_path = env
            .var("HF_TOKEN_PATH")
            .map(|p| expand(&p))
            .unwrap_or_else(|| hf_home.join("token"));
        let (token, token_source) = resolve_token(env, overrides, &token_path);
        let offline = overrides.offline
            || is_true(
                env.var("HF_HUB_OFFLINE")
                    .or_else(|| env.var("TRANSFORMERS_OFFLINE")),
            );
        HubConfig {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            hf_home,
            hub_cache,
            token_path,
            token,
            token_source,
            offline,
            metadata_timeout: timeout_from(env.var("HF_HUB_ETAG_TIMEOUT")),
            download_timeout: timeout_from(env.var("HF_HUB_DOWNLOAD_TIMEOUT")),
            viewer_endpoint: env
                .var(VIEWER_ENDPOINT_ENV)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_VIEWER_ENDPOINT.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            router_endpoint: env
                .var(ROUTER_ENDPOINT_ENV)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_ROUTER_ENDPOINT.to_owned())
                .trim_end_matches('/')
                .to_owned(),
        }
    }

    /// The web page of a repository on this endpoint.
    pub fn repo_url(&self, repo_id: &str) -> String {
        format!("{}/{}", self.endpoint, repo_id)
    }
}

/// huggingface_hub's token lookup: explicit, then `HF_TOKEN`/`HUGGING_FACE_HUB_TOKEN`, then the
/// token file; implicit tokens are skipped when `HF_HUB_DISABLE_IMPLICIT_TOKEN` is true.
fn resolve_token(
    env: &dyn Env,
    overrides: &Overrides,
    token_path: &Path,
) -> (Option<String>, Option<TokenSource>) {
    if let Some(token) = overrides.token.as_deref().and_then(clean_token) {
        return (Some(token), Some(TokenSource::Explicit));
    }
    if is_true(env.var("HF_HUB_DISABLE_IMPLICIT_TOKEN")) {
        return (None, None);
    }
    let from_env = env
        .var("HF_TOKEN")
        .filter(|t| !t.is_empty())
        .or_else(|| env.var("HUGGING_FACE_HUB_TOKEN"));
    if let Some(token) = from_env.as_deref().and_then(clean_token) {
        return (Some(token), Some(TokenSource::Environment));
    }
    match std::fs::read_to_string(token_path)
        .ok()
        .as_deref()
        .and_then(clean_token)
    {
        Some(token) => (Some(token), Some(TokenSource::File)),
        None => (None, None),
    }
}

/// Strips whitespace and line breaks the way huggingface_hub's `_clean_token` does.
fn clean_token(raw: &str) -> Option<String> {
    let token: String = raw.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// huggingface_hub's `_is_true`: `1`, `ON`, `YES`, `TRUE` in any case.
pub fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|v| matches!(v.to_uppercase().as_str(), "1" | "ON" | "YES" | "TRUE"))
}

/// Python's `os.path.expanduser` for `~` and `~/...` (other users' `~name` is left as is).
fn expand_user(value: &str, home: Option<&Path>) -> PathBuf {
    match (value.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home.to_path_buf(),
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(value),
    }
}

fn timeout_from(value: Option<String>) -> Duration {
    let secs = value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(DEFAULT_TIMEOUT_SECS);
    Duration::from_secs_f64(secs)
}

mod secs {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests;
