//! What a download is asked to do and what it answers: the spec, options, control states,
//! errors (each message says what to do), the plan and the outcome.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::cache::typed_folder_name;
use crate::hub::{HubError, RepoId, RepoType};

/// What to download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DownloadSpec {
    /// The model repository.
    pub repo: RepoId,
    /// Branch, tag or commit; `None` is `main`.
    pub revision: Option<String>,
    /// Exact files to fetch (e.g. one GGUF quant); empty means every file the globs select.
    pub files: Vec<String>,
    /// Patterns a file must match one of (fnmatch, see [`glob`]); empty means all.
    pub include: Vec<String>,
    /// Patterns that drop a file.
    pub exclude: Vec<String>,
    /// Model (the default), dataset or Space.
    #[serde(default, skip_serializing_if = "RepoType::is_model")]
    pub repo_type: RepoType,
}

impl DownloadSpec {
    /// The whole model repository at `main`.
    pub fn new(repo: RepoId) -> DownloadSpec {
        DownloadSpec {
            repo_type: RepoType::Model,
            repo,
            revision: None,
            files: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// The revision asked for (`main` by default).
    pub fn revision(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }

    /// Its folder in the cache: `models--org--name`, `datasets--org--name`, ….
    pub fn folder_name(&self) -> String {
        typed_folder_name(self.repo_type, &self.repo)
    }
}

/// How a download runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Files downloaded at once.
    pub parallel_files: usize,
    /// Range streams per large file (1 = one stream per file).
    pub streams_per_file: usize,
    /// Size of the ranges a large file is split into (at least 1 MiB).
    pub chunk_size: u64,
    /// How often [`DownloadEvent::Progress`] is sent.
    pub progress_interval: Duration,
    /// Bytes that must still be free on the cache's disk once the download is complete
    /// (headroom for other programs); a download that would eat into it is refused with
    /// [`DownloadError::NoSpace`] before anything is written. Default 0.
    pub keep_free_bytes: u64,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            parallel_files: 8,
            streams_per_file: 4,
            chunk_size: 64 << 20,
            progress_interval: Duration::from_millis(100),
            keep_free_bytes: 0,
        }
    }
}

/// The state a [`DownloadHandle`] asks the download to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Download.
    Run,
    /// Stop transferring (connections are closed, partial data kept) until resumed.
    Pause,
    /// Stop for good; partial data stays in the cache for a later resume.
    Cancel,
}

/// A failure, in a form that can be cloned into an event or a queue file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureInfo {
    /// [`DownloadError::kind`].
    pub kind: String,
    /// The message for people.
    pub message: String,
    /// Files missing from the cache (offline downloads).
    pub missing: Vec<String>,
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The Hub (or the network) failed; retries were already spent.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// Reading or writing the cache failed.
    #[error("Could not write {}: {message}. Check the cache folder's permissions and free space.", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
    /// The bytes received are not the file the Hub announced.
    #[error(
        "{path} failed its integrity check ({what}: expected {expected}, got {actual}). The \
         corrupt partial download was deleted and nothing was added to the cache; run the \
         download again, and if it repeats, something between you and the Hub alters files."
    )]
    Integrity {
        /// The repository file.
        path: String,
        /// What was compared: `sha256`, `git blob sha1` or `size`.
        what: String,
        /// What the Hub announced.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// The files do not fit on the cache's disk.
    #[error(
        "Not enough disk space in {}: this download needs {needed} more bytes{}, {available} \
         are free. Free some space (`hubble cache prune`, `hubble cache rm`) or pick fewer \
         files.",
        dir.display(),
        keep_note(*.keep_free)
    )]
    NoSpace {
        /// The blobs folder.
        dir: PathBuf,
        /// Bytes still to fetch.
        needed: u64,
        /// Bytes free.
        available: u64,
        /// Bytes that must stay free ([`DownloadOptions::keep_free_bytes`]).
        keep_free: u64,
    },
    /// A file name would escape the cache folder; nothing was downloaded.
    #[error(
        "The repository lists a file named {0:?}, which would be written outside the cache. \
         Refusing to download this repository."
    )]
    UnsafePath(String),
    /// Offline, and the revision is not in the cache.
    #[error(
        "{repo} at {revision:?} is not in the cache, and offline mode is on. Go online \
         (unset HF_HUB_OFFLINE) to download it."
    )]
    NotCached {
        /// The repository.
        repo: String,
        /// The revision asked for.
        revision: String,
    },
    /// Offline, and files are missing from the cached snapshot.
    #[error(
        "{repo} at {revision:?} is only partly in the cache, and offline mode is on. Missing: {}. \
         Go online (unset HF_HUB_OFFLINE) to finish the download.",
        missing.join(", ")
    )]
    Incomplete {
        /// The repository.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// The missing files.
        missing: Vec<String>,
    },
    /// Cancelled through the handle.
    #[error("The download was cancelled.")]
    Cancelled,
    /// Paused (internal: streams stop this way and wait for resume).
    #[error("The download is paused.")]
    Paused,
}

/// The part of the no-space message about the headroom asked for (none when it is 0).
fn keep_note(keep_free: u64) -> String {
    if keep_free == 0 {
        String::new()
    } else {
        format!(" and {keep_free} must stay free")
    }
}

impl DownloadError {
    /// A stable machine-readable name (the `--json` error `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            DownloadError::Hub(e) => e.kind(),
            DownloadError::Io { .. } => "io",
            DownloadError::Integrity { .. } => "integrity",
            DownloadError::NoSpace { .. } => "no_space",
            DownloadError::UnsafePath(_) => "unsafe_path",
            DownloadError::NotCached { .. } => "not_cached",
            DownloadError::Incomplete { .. } => "incomplete",
            DownloadError::Cancelled | DownloadError::Paused => "cancelled",
        }
    }

    /// The files an offline download found missing.
    pub fn missing(&self) -> &[String] {
        match self {
            DownloadError::Incomplete { missing, .. } => missing,
            _ => &[],
        }
    }

    /// A cloneable summary.
    pub fn info(&self) -> FailureInfo {
        FailureInfo {
            kind: self.kind().to_string(),
            message: self.to_string(),
            missing: self.missing().to_vec(),
        }
    }
}

/// One file of a finished download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeFile {
    /// Path inside the repository (and the snapshot folder).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The blob name (etag), when known.
    pub blob: Option<String>,
    /// Whether this run fetched it (false: it was already in the cache).
    pub downloaded: bool,
}

/// A complete download: where the snapshot is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownloadOutcome {
    /// The repository.
    pub repo: String,
    /// The revision asked for.
    pub revision: String,
    /// The commit it resolved to.
    pub commit: String,
    /// `…/models--org--name/snapshots/<commit>`.
    pub path: PathBuf,
    /// The files selected, all present.
    pub files: Vec<OutcomeFile>,
    /// Bytes fetched over the network by this run.
    pub downloaded_bytes: u64,
    /// False when offline and no tree listing was cached, so completeness could only be
    /// checked for the files present or named.
    pub file_list_known: bool,
}

/// One file in a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedFile {
    /// Path inside the repository.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Already in the snapshot (or its blob is), so nothing to fetch.
    pub cached: bool,
    /// Bytes already on disk from an interrupted download.
    pub resumed_bytes: u64,
}

/// What a download is about to do, sent once before the transfers start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The repository.
    pub repo: String,
    /// The commit.
    pub commit: String,
    /// The selected files.
    pub files: Vec<PlannedFile>,
    /// Sum of their sizes.
    pub total_bytes: u64,
    /// Bytes still to fetch.
    pub to_fetch_bytes: u64,
}
