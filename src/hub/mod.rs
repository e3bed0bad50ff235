//! An async client for the Hugging Face Hub's HTTP API.
//!
//! All network traffic goes through [`HubClient`], which owns the policy: timeouts, retries,
//! redirects and where the token may be sent. Endpoint-specific calls live in `api.rs`
//! (repositories and files), `search.rs` (model listings), `git.rs` (refs, commits),
//! `datasets.rs`, `community.rs` (discussions, Spaces) and `viewer.rs` (dataset viewer).

mod api;
mod collections;
mod community;
mod datasets;
mod error;
mod git;
mod http;
mod listing;
mod range;
mod repo_id;
mod repo_type;
mod retry;
mod search;
mod types;
pub mod viewer;

use std::sync::Arc;

pub use collections::{Collection, CollectionItem, CollectionOwner, CollectionQuery, ItemNote};
pub use community::{Discussion, DiscussionAuthor, Discussions, SpaceInfo, SpaceQuery};
pub use datasets::{DatasetInfo, DatasetQuery};
pub use error::{HUB_ADDRESS, HubError};
pub use git::{CommitAuthor, GitCommit, GitRef, GitRefs};
pub(crate) use http::{HubRequest, transport_error};
pub use range::RangeBody;
pub use repo_id::{RepoId, encode_path, encode_revision};
pub use repo_type::RepoType;
pub use retry::RetryPolicy;
pub use search::{ModelPage, ModelQuery, SortKey};
pub use types::{
    FileMetadata, Gated, GgufInfo, LfsInfo, ModelInfo, SafetensorsInfo, Sibling, TreeEntry, WhoAmI,
};

use crate::config::HubConfig;

/// The `User-Agent` Hubble sends.
pub const USER_AGENT: &str = concat!("hubble/", env!("CARGO_PKG_VERSION"));

/// A cheap-to-clone handle for talking to one Hub endpoint.
#[derive(Clone)]
pub struct HubClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: HubConfig,
    endpoint: url::Url,
    retry: RetryPolicy,
}

impl HubClient {
    /// Builds a client for `config` with the default retry policy.
    pub fn new(config: HubConfig) -> Result<HubClient, HubError> {
        Self::with_retry_policy(config, RetryPolicy::default())
    }

    /// Builds a client with an explicit retry policy.
    pub fn with_retry_policy(config: HubConfig, retry: RetryPolicy) -> Result<HubClient, HubError> {
        let endpoint = url::Url::parse(&config.endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                HubError::InvalidInput(format!(
                    "The endpoint {:?} is not an http(s) URL. Set --endpoint or HF_ENDPOINT to \
                     something like https://huggingface.co.",
                    config.endpoint
                ))
            })?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.metadata_timeout)
            .read_timeout(config.download_timeout)
            .build()
            .map_err(|e| HubError::InvalidInput(format!("Could not set up HTTP: {e}")))?;
        Ok(HubClient {
            inner: Arc::new(Inner {
                http,
                config,
                endpoint,
                retry,
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    fn endpoint_url(&self) -> &url::Url {
        &self.inner.endpoint
    }

    fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// An absolute URL on the endpoint; `path` starts with `/` and is already encoded.
    fn url(&self, path: &str) -> Result<url::Url, HubError> {
        let base = self.config().endpoint.trim_end_matches('/');
        url::Url::parse(&format!("{base}{path}"))
            .map_err(|e| HubError::InvalidInput(format!("bad URL {base}{path}: {e}")))
    }
}
