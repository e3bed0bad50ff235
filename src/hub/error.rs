//! Typed Hub errors, classified like huggingface_hub's `hf_raise_for_status`, each with a
//! message that tells the user what to do next.

use std::time::Duration;

/// The settings that name the Hub's address, for connection errors about the Hub (and the hosts
/// its downloads redirect to).
pub const HUB_ADDRESS: &str = "--endpoint / HF_ENDPOINT";

/// An error from talking to the Hub.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The repository is gated and the request was not authorised.
    #[error(
        "{repo} is gated: {server_message}\nAccept its terms at {repo_url}, then give Hubble a token \
         (--token, HF_TOKEN, or `hf auth login`)."
    )]
    GatedRepo {
        /// The repository id.
        repo: String,
        /// Its page, where the terms are accepted.
        repo_url: String,
        /// What the server said.
        server_message: String,
    },
    /// The repository does not exist, or is private and the request was not authorised.
    #[error(
        "Repository {repo} was not found. Check the id (org/name){}.",
        if *.authenticated { "; if it is private, make sure your token can read it" }
        else { "; if it is private or gated, give Hubble a token (--token, HF_TOKEN, or `hf auth login`)" }
    )]
    RepoNotFound {
        /// The repository id.
        repo: String,
        /// Whether a token was sent.
        authenticated: bool,
    },
    /// The branch, tag or commit does not exist in the repository.
    #[error(
        "Revision {revision:?} was not found in {repo}. Use a branch, tag or commit that exists \
         (the default branch is usually \"main\")."
    )]
    RevisionNotFound {
        /// The repository id.
        repo: String,
        /// The revision asked for.
        revision: String,
    },
    /// The file does not exist at that revision.
    #[error("{path} does not exist in {repo} at revision {revision:?}.")]
    EntryNotFound {
        /// The repository id.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// The file path inside the repository.
        path: String,
    },
    /// The token was rejected.
    #[error(
        "The Hub rejected your token ({message}). Create a new one at {endpoint}/settings/tokens \
         and pass it with --token or HF_TOKEN, or run `hf auth login`."
    )]
    Unauthorized {
        /// The endpoint, for the token settings URL.
        endpoint: String,
        /// What the server said.
        message: String,
    },
    /// The token is valid but may not do this, or the repository is disabled.
    #[error("Access denied: {message}. Check that your token has the permissions this needs.")]
    Forbidden {
        /// What the server said.
        message: String,
    },
    /// Too many requests; the server asked to wait.
    #[error(
        "The Hub is rate-limiting requests{}. Wait a little, or log in (--token / HF_TOKEN) for a \
         higher limit.",
        match .retry_after { Some(d) => format!(" (retry in {} s)", d.as_secs().max(1)), None => String::new() }
    )]
    RateLimited {
        /// How long the server asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// Offline mode is on, so the network was not used.
    #[error(
        "Offline mode is on (HF_HUB_OFFLINE or --offline), so {what} needs the network. Unset \
         HF_HUB_OFFLINE to go online, or use what is already in the cache."
    )]
    Offline {
        /// What could not be done, e.g. "searching the Hub".
        what: String,
    },
    /// The server did not answer in time.
    #[error(
        "{url} did not answer within {} s. The server may be down or slow; try again, or raise \
         HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT.",
        .after.as_secs_f64()
    )]
    Timeout {
        /// The URL that timed out.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server could not be reached at all.
    #[error(
        "Could not connect to {url}: {detail}. Check your network, or the address it was given ({setting})."
    )]
    Connection {
        /// The URL that failed.
        url: String,
        /// The underlying error.
        detail: String,
        /// The setting that names this server's address ([`HUB_ADDRESS`] for the Hub).
        setting: &'static str,
    },
    /// The server failed (5xx) even after retries.
    #[error("The Hub had a server error ({status}) for {url}: {message}. Try again later.")]
    Server {
        /// HTTP status.
        status: u16,
        /// The URL.
        url: String,
        /// What the server said.
        message: String,
    },
    /// The inference router is still loading the model (`503` with `estimated_time`).
    #[error(
        "{model} is still loading on the inference router{}. Try again in a moment.",
        match .estimated_time { Some(d) => format!(" (ready in about {} s)", d.as_secs().max(1)), None => String::new() }
    )]
    ModelLoading {
        /// The model (or the URL, when the request named none).
        model: String,
        /// How long the router expects loading to take.
        estimated_time: Option<Duration>,
    },
    /// Any other unexpected HTTP status.
    #[error("The Hub answered {status} for {url}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The URL.
        url: String,
        /// What the server said.
        message: String,
    },
    /// The server's answer could not be understood.
    #[error("Unexpected answer from {url}: {detail}")]
    InvalidResponse {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The caller's input is not valid (a malformed repo id, a bad endpoint URL, ...).
    #[error("{0}")]
    InvalidInput(String),
}

impl HubError {
    /// A stable machine-readable name of the error kind, used in `--json` error output.
    pub fn kind(&self) -> &'static str {
        match self {
            HubError::GatedRepo { .. } => "gated_repo",
            HubError::RepoNotFound { .. } => "repo_not_found",
            HubError::RevisionNotFound { .. } => "revision_not_found",
            HubError::EntryNotFound { .. } => "entry_not_found",
            HubError::Unauthorized { .. } => "unauthorized",
            HubError::Forbidden { .. } => "forbidden",
            HubError::RateLimited { .. } => "rate_limited",
            HubError::Offline { .. } => "offline",
            HubError::Timeout { .. } => "timeout",
            HubError::Connection { .. } => "connection",
            HubError::Server { .. } => "server",
            HubError::ModelLoading { .. } => "model_loading",
            HubError::Http { .. } => "http",
            HubError::InvalidResponse { .. } => "invalid_response",
            HubError::InvalidInput(_) => "invalid_input",
        }
    }

    /// Whether trying the same request again later could succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            HubError::RateLimited { .. }
                | HubError::Timeout { .. }
                | HubError::Connection { .. }
                | HubError::Server { .. }
                | HubError::ModelLoading { .. }
        )
    }
}

/// What a failed response said, gathered before it is classified.
#[derive(Debug, Clone, Default)]
pub(crate) struct FailedResponse {
    pub status: u16,
    pub url: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub body_message: Option<String>,
    pub retry_after: Option<Duration>,
    /// The inference router's `estimated_time` (seconds) in a `503` body: the model is loading.
    pub estimated_time: Option<f64>,
}

/// Which repository/revision/path a request was about, to fill in error messages.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestSubject {
    pub repo: Option<String>,
    pub revision: Option<String>,
    pub path: Option<String>,
}

impl FailedResponse {
    fn message(&self) -> String {
        self.error_message
            .clone()
            .or_else(|| self.body_message.clone())
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }

    /// Classifies the failure the way huggingface_hub does: `X-Error-Code` first, then the
    /// status code (a 401 on a repository URL means "not found or not allowed").
    pub(crate) fn classify(
        self,
        subject: &RequestSubject,
        endpoint: &str,
        authenticated: bool,
    ) -> HubError {
        let repo = subject.repo.clone().unwrap_or_default();
        let revision = subject.revision.clone().unwrap_or_else(|| "main".into());
        let message = self.message();
        match self.error_code.as_deref() {
            Some("GatedRepo") => {
                return HubError::GatedRepo {
                    repo_url: format!("{endpoint}/{repo}"),
                    repo,
                    server_message: message,
                };
            }
            Some("RepoNotFound") => {
                return HubError::RepoNotFound {
                    repo,
                    authenticated,
                };
            }
            Some("RevisionNotFound") => return HubError::RevisionNotFound { repo, revision },
            Some("EntryNotFound") => {
                let path = subject.path.clone().unwrap_or_default();
                return HubError::EntryNotFound {
                    repo,
                    revision,
                    path,
                };
            }
            _ => {}
        }
        if self.status == 503
            && let Some(seconds) = self.estimated_time
        {
            return HubError::ModelLoading {
                model: subject.repo.clone().unwrap_or(self.url),
                estimated_time: Duration::try_from_secs_f64(seconds).ok(),
            };
        }
        let invalid_credentials = message == "Invalid credentials in Authorization header";
        match self.status {
            401 if subject.repo.is_some() && !invalid_credentials => HubError::RepoNotFound {
                repo,
                authenticated,
            },
            401 => HubError::Unauthorized {
                endpoint: endpoint.to_string(),
                message,
            },
            403 => HubError::Forbidden { message },
            404 if subject.path.is_some() => HubError::EntryNotFound {
                repo,
                revision,
                path: subject.path.clone().unwrap_or_default(),
            },
            404 if subject.repo.is_some() => HubError::RepoNotFound {
                repo,
                authenticated,
            },
            429 => HubError::RateLimited {
                retry_after: self.retry_after,
            },
            500..=599 => HubError::Server {
                status: self.status,
                url: self.url,
                message,
            },
            status => HubError::Http {
                status,
                url: self.url,
                message,
            },
        }
    }
}
