//! A dataset's first rows from wherever they can be had: the dataset viewer API, else the
//! downloaded snapshot in the cache. Shared by `hubble datasets preview` and the dataset page.

use super::{Preview, preview_file, preview_snapshot};
use crate::cache::{CachedRepo, safe_join};
use crate::hub::{HubClient, HubError, RepoId, RepoType};

/// What to preview and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRequest {
    /// The dataset.
    pub repo: RepoId,
    /// The viewer API's base URL; `None` skips the viewer (local files only).
    pub viewer: Option<String>,
    /// Revision of the downloaded files (`main`).
    pub revision: String,
    /// A file in the repo to read instead of the first data file.
    pub file: Option<String>,
    /// Rows to show.
    pub rows: usize,
}

/// Why no preview could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    /// The viewer could not answer (or was skipped) and the revision is not downloaded.
    #[error(
        "{}{repo} at {revision} is not downloaded: run `hubble download {repo} --repo-type dataset` \
         (or Download in the Files tab) and preview again.",
        viewer.as_ref().map(|e| format!("The dataset viewer could not answer ({e}); ")).unwrap_or_default()
    )]
    NotCached {
        /// The dataset.
        repo: String,
        /// The revision looked for.
        revision: String,
        /// The viewer's error, when it was asked.
        viewer: Option<String>,
    },
    /// The downloaded file could not be read.
    #[error("{0}")]
    Unreadable(String),
}

impl PreviewError {
    /// A stable name for `--json` errors: `not_cached` or `preview`.
    pub fn kind(&self) -> &'static str {
        match self {
            PreviewError::NotCached { .. } => "not_cached",
            PreviewError::Unreadable(_) => "preview",
        }
    }
}

/// The viewer's first rows when it answers (not offline, `viewer` set), else the downloaded
/// files'.
pub async fn load_preview(
    client: &HubClient,
    request: &PreviewRequest,
) -> Result<Preview, PreviewError> {
    let mut viewer_error = None;
    if let Some(viewer) = request
        .viewer
        .as_deref()
        .filter(|_| !client.config().offline)
    {
        match from_viewer(client, viewer, request).await {
            Ok(preview) => return Ok(preview),
            Err(error) => viewer_error = Some(error.to_string()),
        }
    }
    let hub_cache = client.config().hub_cache.clone();
    let request = request.clone();
    tokio::task::spawn_blocking(move || from_cache(&hub_cache, &request, viewer_error))
        .await
        .map_err(|e| PreviewError::Unreadable(format!("the preview task failed: {e}")))?
}

async fn from_viewer(
    client: &HubClient,
    viewer: &str,
    request: &PreviewRequest,
) -> Result<Preview, HubError> {
    let splits = client.dataset_splits(viewer, &request.repo).await?;
    let split = splits
        .iter()
        .find(|s| s.split == "train")
        .or_else(|| splits.first())
        .ok_or_else(|| HubError::InvalidResponse {
            url: viewer.to_owned(),
            detail: format!("the viewer lists no split for {}", request.repo),
        })?;
    let first = client.first_rows(viewer, &request.repo, split).await?;
    Ok(Preview::from_viewer(
        &first,
        &split.config,
        &split.split,
        request.rows,
    ))
}

fn from_cache(
    hub_cache: &std::path::Path,
    request: &PreviewRequest,
    viewer: Option<String>,
) -> Result<Preview, PreviewError> {
    let cached = CachedRepo::of_type(hub_cache, RepoType::Dataset, &request.repo);
    let commit =
        cached
            .resolve_revision(&request.revision)
            .ok_or_else(|| PreviewError::NotCached {
                repo: request.repo.to_string(),
                revision: request.revision.clone(),
                viewer,
            })?;
    let snapshot = cached.folder().join("snapshots").join(commit);
    match &request.file {
        Some(file) => match safe_join(&snapshot, file) {
            Some(path) => preview_file(&path, file, request.rows),
            None => Err(format!("{file:?} is not a path inside the repository.")),
        },
        None => preview_snapshot(&snapshot, request.rows),
    }
    .map_err(PreviewError::Unreadable)
}
