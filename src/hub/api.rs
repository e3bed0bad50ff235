//! Repository calls: model info, tree listings, file metadata and small file contents.

use reqwest::header::{self, HeaderValue};
use reqwest::{Method, Response};

use super::http::{Follow, HubRequest, read_limited};
use super::search::next_link;
use super::{
    FileMetadata, HubClient, HubError, ModelInfo, RepoId, RepoType, TreeEntry, WhoAmI, encode_path,
    encode_revision,
};

/// The branch used when no revision is given.
pub const DEFAULT_REVISION: &str = "main";

/// Largest JSON answer accepted from the API.
const MAX_JSON_BYTES: usize = 64 * 1024 * 1024;

impl HubClient {
    /// Model info at `revision` (default `main`), with file sizes.
    ///
    /// Asks for `blobs=true`; if the server leaves sizes out (mirrors often do), they are filled
    /// in from a recursive tree listing of the same commit.
    pub async fn model_info(
        &self,
        repo: &RepoId,
        revision: Option<&str>,
    ) -> Result<ModelInfo, HubError> {
        self.repo_info(RepoType::Model, repo, revision).await
    }

    /// Like [`HubClient::model_info`] for any repo type: the fields models, datasets and
    /// Spaces share (`id`, `sha`, `siblings` with sizes, `tags`, `cardData`, counts) are read
    /// into a [`ModelInfo`]; the model-only ones stay empty for the others.
    pub async fn repo_info(
        &self,
        repo_type: RepoType,
        repo: &RepoId,
        revision: Option<&str>,
    ) -> Result<ModelInfo, HubError> {
        let revision = revision.unwrap_or(DEFAULT_REVISION);
        self.ensure_online(&format!("fetching {} info for {repo}", repo_type.as_str()))?;
        let path = format!(
            "/api/{}/{repo}/revision/{}?blobs=true",
            repo_type.plural(),
            encode_revision(revision)
        );
        let request =
            HubRequest::get(self, self.url(&path)?).about(repo.as_str(), Some(revision), None);
        let mut info: ModelInfo = self.json(&request).await?;
        if info.siblings.iter().any(|s| s.size.is_none()) {
            let commit = info.sha.clone().unwrap_or_else(|| revision.to_string());
            // Best effort: the info itself is already valid without sizes.
            let tree = self
                .list_repo_tree(repo_type, repo, Some(&commit), None, true)
                .await
                .unwrap_or_default();
            for sibling in info.siblings.iter_mut().filter(|s| s.size.is_none()) {
                if let Some(entry) = tree.iter().find(|e| e.path == sibling.path) {
                    sibling.size = Some(entry.lfs.as_ref().map_or(entry.size, |l| l.size));
                    if sibling.lfs.is_none() {
                        sibling.lfs = entry.lfs.clone();
                    }
                }
            }
        }
        Ok(info)
    }

    /// Lists the files (and with `recursive`, every nested file) under `path` at `revision`,
    /// following the `Link` cursor through every page.
    pub async fn list_tree(
        &self,
        repo: &RepoId,
        revision: Option<&str>,
        path: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<TreeEntry>, HubError> {
        self.list_repo_tree(RepoType::Model, repo, revision, path, recursive)
            .await
    }

    /// [`HubClient::list_tree`] for any repo type.
    pub async fn list_repo_tree(
        &self,
        repo_type: RepoType,
        repo: &RepoId,
        revision: Option<&str>,
        path: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<TreeEntry>, HubError> {
        let revision = revision.unwrap_or(DEFAULT_REVISION);
        self.ensure_online(&format!("listing the files of {repo}"))?;
        let sub_path = path
            .map(|p| format!("/{}", encode_path(p)))
            .unwrap_or_default();
        let api = format!(
            "/api/{}/{repo}/tree/{}{sub_path}?recursive={recursive}&expand=false",
            repo_type.plural(),
            encode_revision(revision)
        );
        let mut url = Some(self.url(&api)?);
        let mut entries = Vec::new();
        while let Some(next) = url.take() {
            let request = HubRequest::get(self, next).about(repo.as_str(), Some(revision), path);
            let response = self.send(&request).await?;
            url = response
                .headers()
                .get_all(header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link)
                .and_then(|link| response.url().join(&link).ok());
            let mut page: Vec<TreeEntry> = parse_json(response, &request).await?;
            entries.append(&mut page);
        }
        Ok(entries)
    }

    /// Reads a (small) file's content, e.g. `README.md`, following redirects to wherever the
    /// content is served. At most `max_bytes` are accepted.
    pub async fn fetch_file(
        &self,
        repo: &RepoId,
        revision: Option<&str>,
        path: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, HubError> {
        self.fetch_repo_file(RepoType::Model, repo, revision, path, max_bytes)
            .await
    }

    /// [`HubClient::fetch_file`] for any repo type (a dataset's README.md).
    pub async fn fetch_repo_file(
        &self,
        repo_type: RepoType,
        repo: &RepoId,
        revision: Option<&str>,
        path: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, HubError> {
        let revision = revision.unwrap_or(DEFAULT_REVISION);
        self.ensure_online(&format!("downloading {path} from {repo}"))?;
        let url = self.repo_resolve_url(repo_type, repo, revision, path)?;
        let mut request =
            HubRequest::get(self, url).about(repo.as_str(), Some(revision), Some(path));
        request.timeout = self.config().download_timeout;
        let response = self.send(&request).await?;
        read_limited(response, request.timeout, max_bytes).await
    }

    /// Reads a small resource by URL (an image a model card shows), through the same policy as
    /// every other request: the token goes only to the endpoint's origin. At most `max_bytes`.
    pub async fn fetch_url(&self, url: &url::Url, max_bytes: usize) -> Result<Vec<u8>, HubError> {
        self.ensure_online(&format!("downloading {url}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HubError::InvalidInput(format!(
                "{url} is not an http(s) URL."
            )));
        }
        let mut request = HubRequest::get(self, url.clone());
        request.timeout = self.config().download_timeout;
        let response = self.send(&request).await?;
        read_limited(response, request.timeout, max_bytes).await
    }

    /// `HEAD` on a file's resolve URL: its commit, etag (sha256 for LFS), size and location,
    /// without downloading it. Relative redirects are followed; an absolute one (to a CDN) is
    /// not, and its linked headers are read instead, as huggingface_hub does.
    pub async fn file_metadata(
        &self,
        repo: &RepoId,
        revision: Option<&str>,
        path: &str,
    ) -> Result<FileMetadata, HubError> {
        let revision = revision.unwrap_or(DEFAULT_REVISION);
        self.ensure_online(&format!("checking {path} in {repo}"))?;
        let mut request = HubRequest::get(self, self.resolve_url(repo, revision, path)?).about(
            repo.as_str(),
            Some(revision),
            Some(path),
        );
        request.method = Method::HEAD;
        request.follow = Follow::RelativeOnly;
        request.headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let response = self.send(&request).await?;
        Ok(metadata_from(&response))
    }

    /// The account behind the configured token.
    pub async fn whoami(&self) -> Result<WhoAmI, HubError> {
        self.ensure_online("checking who the token belongs to")?;
        if self.config().token.is_none() {
            return Err(HubError::Unauthorized {
                endpoint: self.config().endpoint.clone(),
                message: "no token is set".into(),
            });
        }
        let request = HubRequest::get(self, self.url("/api/whoami-v2")?);
        self.json(&request).await
    }

    /// The URL a file's content is served from.
    pub fn resolve_url(
        &self,
        repo: &RepoId,
        revision: &str,
        path: &str,
    ) -> Result<url::Url, HubError> {
        self.repo_resolve_url(RepoType::Model, repo, revision, path)
    }

    /// [`HubClient::resolve_url`] for any repo type (`/datasets/{id}/resolve/…`).
    pub fn repo_resolve_url(
        &self,
        repo_type: RepoType,
        repo: &RepoId,
        revision: &str,
        path: &str,
    ) -> Result<url::Url, HubError> {
        self.url(&format!(
            "/{}{repo}/resolve/{}/{}",
            repo_type.url_prefix(),
            encode_revision(revision),
            encode_path(path)
        ))
    }

    pub(super) fn ensure_online(&self, what: &str) -> Result<(), HubError> {
        if self.config().offline {
            return Err(HubError::Offline { what: what.into() });
        }
        Ok(())
    }

    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: &HubRequest,
    ) -> Result<T, HubError> {
        let response = self.send(request).await?;
        parse_json(response, request).await
    }
}

async fn parse_json<T: serde::de::DeserializeOwned>(
    response: Response,
    request: &HubRequest,
) -> Result<T, HubError> {
    let url = response.url().to_string();
    let body = read_limited(response, request.timeout, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| HubError::InvalidResponse {
        url,
        detail: format!("not the JSON the Hub API sends: {e}"),
    })
}

/// Reads file metadata from a resolve response (a 2xx or an absolute redirect).
fn metadata_from(response: &Response) -> FileMetadata {
    let headers = response.headers();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = text("x-linked-etag")
        .or_else(|| text("etag"))
        .map(|e| normalize_etag(&e));
    let size = text("x-linked-size")
        .or_else(|| text("content-length"))
        .and_then(|s| s.trim().parse().ok());
    let location = text("location")
        .and_then(|l| response.url().join(&l).ok())
        .unwrap_or_else(|| response.url().clone())
        .to_string();
    FileMetadata {
        commit: text("x-repo-commit"),
        etag,
        size,
        location,
        xet_hash: text("x-xet-hash"),
    }
}

/// Strips the weak marker and quotes from an etag: `W/"abc"` → `abc`.
pub(crate) fn normalize_etag(etag: &str) -> String {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::normalize_etag;

    #[test]
    fn etags_are_normalized() {
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("W/\"8c-6WrD\""), "8c-6WrD");
        assert_eq!(normalize_etag("plain"), "plain");
    }
}
