//! Downloads into the standard Hugging Face cache, written exactly as huggingface_hub writes it:
//! `blobs/<etag>`, `snapshots/<commit>/<path>` as relative symlinks (copies where symlinks
//! fail), `refs/<revision>`, `.no_exist/<commit>/<path>`, `trees/<commit>.json` and the
//! `.locks/` flocks, so both tools share one cache.
//!
//! Every blob is resumable at the byte level (`blobs/<etag>.incomplete` + a range sidecar),
//! verified (sha256 for LFS blobs, git's blob sha1 for the others, sizes for all) before the
//! rename into `blobs/`, and fetched by several range streams at once; several files download
//! at once. [`start`] returns a [`DownloadHandle`] with progress events on a channel and
//! pause / resume / cancel; [`DownloadQueue`] persists a front end's queue across restarts.

mod fetch;
mod fsutil;
pub mod glob;
mod plan;
mod queue;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

pub use plan::RemoteFile;
pub use queue::{DownloadQueue, QueueEntry, QueueStatus};

use crate::cache::{CachedRepo, safe_join, typed_folder_name};
use crate::hub::{HubClient, HubError, RepoId, RepoType};

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

/// Progress of one file being fetched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileProgress {
    /// Path inside the repository.
    pub path: String,
    /// Bytes on disk.
    pub done_bytes: u64,
    /// Size in bytes.
    pub size: u64,
    /// Recent transfer rate.
    pub bytes_per_sec: f64,
}

/// Progress of the whole download.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Bytes of the selected files on disk (cached ones included).
    pub done_bytes: u64,
    /// Size of the selected files.
    pub total_bytes: u64,
    /// Recent transfer rate.
    pub bytes_per_sec: f64,
    /// Estimated seconds left, when the rate is known.
    pub eta_secs: Option<f64>,
    /// Files complete.
    pub files_done: usize,
    /// Files selected.
    pub files_total: usize,
    /// Files being fetched now.
    pub active: Vec<FileProgress>,
    /// Whether the download is paused.
    pub paused: bool,
}

/// What a running download reports on its channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DownloadEvent {
    /// The file list is known (sent once, before any transfer).
    Planned(Plan),
    /// A progress snapshot (every [`DownloadOptions::progress_interval`]).
    Progress(Progress),
    /// A file is complete in the snapshot.
    FileDone {
        /// Path inside the repository.
        path: String,
        /// Size in bytes.
        size: u64,
        /// Whether it was fetched (false: already cached).
        downloaded: bool,
    },
    /// Transfers stopped on [`DownloadHandle::pause`].
    Paused,
    /// Transfers restarted on [`DownloadHandle::resume`].
    Resumed,
    /// The download ended; always the last event.
    Finished(Result<DownloadOutcome, FailureInfo>),
}

/// A running download: events on a channel, and control. Dropping the handle does not stop
/// the download (call [`DownloadHandle::cancel`] for that).
pub struct DownloadHandle {
    events: mpsc::UnboundedReceiver<DownloadEvent>,
    control: watch::Sender<Control>,
    task: tokio::task::JoinHandle<Result<DownloadOutcome, DownloadError>>,
}

impl DownloadHandle {
    /// Stops transferring; partial data is kept and the download waits for [`Self::resume`].
    pub fn pause(&self) {
        self.set(Control::Pause);
    }

    /// Continues a paused download where each range stood.
    pub fn resume(&self) {
        self.set(Control::Run);
    }

    /// Stops the download; it ends with [`DownloadError::Cancelled`]. Partial data stays in
    /// the cache, so starting the same download later resumes it.
    pub fn cancel(&self) {
        self.set(Control::Cancel);
    }

    fn set(&self, control: Control) {
        self.control.send_if_modified(|c| {
            let changed = *c != control && *c != Control::Cancel;
            if changed {
                *c = control;
            }
            changed
        });
    }

    /// What the download was last asked to do.
    pub fn control(&self) -> Control {
        *self.control.borrow()
    }

    /// The next event if one is waiting (for a UI polling each frame).
    pub fn try_next_event(&mut self) -> Option<DownloadEvent> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event; `None` after [`DownloadEvent::Finished`].
    pub async fn next_event(&mut self) -> Option<DownloadEvent> {
        self.events.recv().await
    }

    /// Whether the download has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the end of the download.
    pub async fn wait(self) -> Result<DownloadOutcome, DownloadError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(DownloadError::Io {
                path: PathBuf::new(),
                message: format!("the download task failed: {e}"),
            }),
        }
    }
}

/// Starts a download on the current tokio runtime.
///
/// # Panics
/// Outside a tokio runtime (use [`start_on`] from other threads).
pub fn start(client: HubClient, spec: DownloadSpec, options: DownloadOptions) -> DownloadHandle {
    start_on(&tokio::runtime::Handle::current(), client, spec, options)
}

/// Starts a download on `runtime` (e.g. from a UI thread).
pub fn start_on(
    runtime: &tokio::runtime::Handle,
    client: HubClient,
    spec: DownloadSpec,
    options: DownloadOptions,
) -> DownloadHandle {
    let (events_tx, events) = mpsc::unbounded_channel();
    let (control, control_rx) = watch::channel(Control::Run);
    let task = runtime.spawn(async move {
        let result = run(client, spec, options, control_rx, events_tx.clone()).await;
        let summary = match &result {
            Ok(outcome) => Ok(outcome.clone()),
            Err(e) => Err(e.info()),
        };
        let _ = events_tx.send(DownloadEvent::Finished(summary));
        result
    });
    DownloadHandle {
        events,
        control,
        task,
    }
}

/// Downloads without events or control (a convenience for callers that only wait).
pub async fn download(
    client: &HubClient,
    spec: DownloadSpec,
    options: DownloadOptions,
) -> Result<DownloadOutcome, DownloadError> {
    let (events, _) = mpsc::unbounded_channel();
    let (_control, control_rx) = watch::channel(Control::Run);
    run(client.clone(), spec, options, control_rx, events).await
}

/// Per-file progress counters.
struct Track {
    done: AtomicU64,
    /// 0 queued, 1 fetching, 2 complete.
    state: AtomicU8,
}

/// What the file tasks of one job share.
struct Job {
    client: HubClient,
    spec: DownloadSpec,
    commit: String,
    folder: PathBuf,
    snapshot: PathBuf,
    options: DownloadOptions,
    control: watch::Receiver<Control>,
    files: Vec<RemoteFile>,
    tracks: Vec<Track>,
    fetched: AtomicU64,
    events: mpsc::UnboundedSender<DownloadEvent>,
}

async fn run(
    client: HubClient,
    spec: DownloadSpec,
    options: DownloadOptions,
    control: watch::Receiver<Control>,
    events: mpsc::UnboundedSender<DownloadEvent>,
) -> Result<DownloadOutcome, DownloadError> {
    if let Some(bad) = spec
        .files
        .iter()
        .find(|f| safe_join(Path::new("/"), f).is_none())
    {
        return Err(DownloadError::UnsafePath(bad.clone()));
    }
    let hub_cache = client.config().hub_cache.clone();
    if client.config().offline {
        return offline(&hub_cache, &spec);
    }
    let folder = hub_cache.join(spec.folder_name());
    let (commit, listing) = plan::list_remote(&client, &spec, &folder).await?;
    let (files, missing) = plan::select(&listing, &spec);
    if let Some(first) = missing.first() {
        for path in &missing {
            plan::mark_missing(&folder, &commit, path);
        }
        return Err(HubError::EntryNotFound {
            repo: spec.repo.to_string(),
            revision: spec.revision().to_string(),
            path: first.clone(),
        }
        .into());
    }
    let snapshot = folder.join("snapshots").join(&commit);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| DownloadError::Io {
            path,
            message: e.to_string(),
        }
    };
    let blobs = folder.join("blobs");
    let mut planned = Vec::new();
    let mut to_fetch = 0;
    for file in &files {
        let pointer = safe_join(&snapshot, &file.path)
            .ok_or_else(|| DownloadError::UnsafePath(file.path.clone()))?;
        let cached = pointer.metadata().is_ok() || blobs.join(&file.etag).exists();
        let resumed = if cached {
            0
        } else {
            fetch::resumable_bytes(&blobs, &file.etag, file.size)
        };
        if !cached {
            to_fetch += file.size - resumed.min(file.size);
        }
        planned.push(PlannedFile {
            path: file.path.clone(),
            size: file.size,
            cached,
            resumed_bytes: resumed,
        });
    }
    let keep_free = options.keep_free_bytes;
    if to_fetch > 0
        && let Some(available) = fsutil::free_space(&blobs)
        && available < to_fetch.saturating_add(keep_free)
    {
        return Err(DownloadError::NoSpace {
            dir: blobs,
            needed: to_fetch,
            available,
            keep_free,
        });
    }
    // Only now, so a refused download leaves no ref to an empty snapshot.
    std::fs::create_dir_all(&snapshot).map_err(io(&snapshot))?;
    fsutil::write_ref(&folder, spec.revision(), &commit).map_err(io(&folder.join("refs")))?;
    let plan = Plan {
        repo: spec.repo.to_string(),
        commit: commit.clone(),
        total_bytes: files.iter().map(|f| f.size).sum(),
        to_fetch_bytes: to_fetch,
        files: planned.clone(),
    };
    let _ = events.send(DownloadEvent::Planned(plan));

    let tracks = planned
        .iter()
        .map(|p| Track {
            done: AtomicU64::new(if p.cached { p.size } else { p.resumed_bytes }),
            state: AtomicU8::new(0),
        })
        .collect();
    let job = Arc::new(Job {
        client,
        spec,
        commit,
        folder,
        snapshot,
        options,
        control,
        files,
        tracks,
        fetched: AtomicU64::new(0),
        events,
    });
    let reporter = tokio::spawn(report_progress(job.clone()));
    let result = run_files(&job).await;
    reporter.abort();
    let _ = reporter.await;
    let results = result?;
    Ok(DownloadOutcome {
        repo: job.spec.repo.to_string(),
        revision: job.spec.revision().to_string(),
        commit: job.commit.clone(),
        path: job.snapshot.clone(),
        files: results,
        downloaded_bytes: job.fetched.load(Ordering::Relaxed),
        file_list_known: true,
    })
}

/// Runs the file tasks, at most `parallel_files` at once; the first failure stops the rest.
async fn run_files(job: &Arc<Job>) -> Result<Vec<OutcomeFile>, DownloadError> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(
        job.options.parallel_files.max(1),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    // Largest first, so the long transfers start early.
    let mut order: Vec<usize> = (0..job.files.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(job.files[*i].size));
    for index in order {
        let job = job.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            (index, ensure_file(&job, index).await)
        });
    }
    let mut outcomes: Vec<Option<OutcomeFile>> = vec![None; job.files.len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = match joined {
            Ok(pair) => pair,
            Err(e) => {
                tasks.abort_all();
                return Err(DownloadError::Io {
                    path: job.snapshot.clone(),
                    message: format!("a download task failed: {e}"),
                });
            }
        };
        match result {
            Ok(outcome) => outcomes[index] = Some(outcome),
            Err(e) => {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                return Err(e);
            }
        }
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// Makes one file present in the snapshot: already there, linked to an existing blob, or
/// downloaded (under the blob's lock) and then linked.
async fn ensure_file(job: &Job, index: usize) -> Result<OutcomeFile, DownloadError> {
    let file = &job.files[index];
    let track = &job.tracks[index];
    let pointer = safe_join(&job.snapshot, &file.path)
        .ok_or_else(|| DownloadError::UnsafePath(file.path.clone()))?;
    let blobs = job.folder.join("blobs");
    let blob = blobs.join(&file.etag);
    let mut downloaded = false;
    if pointer.metadata().is_err() {
        let lock_path = job
            .client
            .config()
            .hub_cache
            .join(".locks")
            .join(job.spec.folder_name())
            .join(format!("{}.lock", file.etag));
        let _lock = tokio::select! {
            lock = fsutil::FileLock::acquire(&lock_path) => lock.map_err(|e| DownloadError::Io {
                path: lock_path.clone(),
                message: e.to_string(),
            })?,
            _ = cancelled(job.control.clone()) => return Err(DownloadError::Cancelled),
        };
        if !blob.exists() {
            track.state.store(1, Ordering::Relaxed);
            let ctx = fetch::BlobContext {
                client: &job.client,
                repo: &job.spec.repo,
                repo_type: job.spec.repo_type,
                commit: &job.commit,
                options: &job.options,
                control: job.control.clone(),
                done: &track.done,
                fetched: &job.fetched,
            };
            fetch::download_blob(&ctx, file, &blobs).await?;
            downloaded = true;
        }
        fsutil::link_pointer(&blob, &pointer, &file.path, &file.etag).map_err(|e| {
            DownloadError::Io {
                path: pointer.clone(),
                message: e.to_string(),
            }
        })?;
    }
    track.done.store(file.size, Ordering::Relaxed);
    track.state.store(2, Ordering::Relaxed);
    let _ = job.events.send(DownloadEvent::FileDone {
        path: file.path.clone(),
        size: file.size,
        downloaded,
    });
    Ok(OutcomeFile {
        path: file.path.clone(),
        size: file.size,
        blob: Some(file.etag.clone()),
        downloaded,
    })
}

/// Resolves when the control says cancel.
async fn cancelled(mut control: watch::Receiver<Control>) {
    loop {
        if *control.borrow_and_update() == Control::Cancel {
            return;
        }
        if control.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Sends a progress snapshot every interval, and Paused/Resumed on changes.
async fn report_progress(job: Arc<Job>) {
    let mut ticker =
        tokio::time::interval(job.options.progress_interval.max(Duration::from_millis(10)));
    let mut control = job.control.clone();
    let mut last = (Instant::now(), 0u64);
    let mut rate = 0.0f64;
    let mut last_file: Vec<u64> = job
        .tracks
        .iter()
        .map(|t| t.done.load(Ordering::Relaxed))
        .collect();
    let mut file_rates = vec![0.0f64; job.tracks.len()];
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = control.changed() => {
                if changed.is_err() {
                    return;
                }
                let event = match *control.borrow() {
                    Control::Pause => DownloadEvent::Paused,
                    Control::Run => DownloadEvent::Resumed,
                    Control::Cancel => continue,
                };
                let _ = job.events.send(event);
                continue;
            }
        }
        let now = Instant::now();
        let dt = now.duration_since(last.0).as_secs_f64().max(1e-3);
        let fetched = job.fetched.load(Ordering::Relaxed);
        let instant = (fetched - last.1) as f64 / dt;
        // Smoothed over about a second.
        let alpha = (dt / 1.0).min(1.0);
        rate = if rate == 0.0 {
            instant
        } else {
            rate + alpha * (instant - rate)
        };
        last = (now, fetched);
        let mut active = Vec::new();
        let mut done_bytes = 0;
        let mut files_done = 0;
        for (i, (track, file)) in job.tracks.iter().zip(&job.files).enumerate() {
            let done = track.done.load(Ordering::Relaxed);
            done_bytes += done;
            let file_instant = done.saturating_sub(last_file[i]) as f64 / dt;
            file_rates[i] += alpha * (file_instant - file_rates[i]);
            last_file[i] = done;
            match track.state.load(Ordering::Relaxed) {
                2 => files_done += 1,
                1 => active.push(FileProgress {
                    path: file.path.clone(),
                    done_bytes: done,
                    size: file.size,
                    bytes_per_sec: file_rates[i],
                }),
                _ => {}
            }
        }
        let total_bytes: u64 = job.files.iter().map(|f| f.size).sum();
        let left = total_bytes.saturating_sub(done_bytes) as f64;
        let progress = Progress {
            done_bytes,
            total_bytes,
            bytes_per_sec: rate,
            eta_secs: (rate > 1.0).then(|| left / rate),
            files_done,
            files_total: job.files.len(),
            active,
            paused: *job.control.borrow() == Control::Pause,
        };
        if job.events.send(DownloadEvent::Progress(progress)).is_err() {
            // Nobody listens; keep the task cheap but alive for pause events.
        }
    }
}

/// Offline: the snapshot from the cache alone, or which files are missing.
pub fn offline(hub_cache: &Path, spec: &DownloadSpec) -> Result<DownloadOutcome, DownloadError> {
    let revision = spec.revision().to_string();
    let cached = CachedRepo::of_type(hub_cache, spec.repo_type, &spec.repo);
    let not_cached = || DownloadError::NotCached {
        repo: spec.repo.to_string(),
        revision: revision.clone(),
    };
    let commit = cached.resolve_revision(&revision).ok_or_else(not_cached)?;
    let snapshot = cached.folder().join("snapshots").join(&commit);
    if !snapshot.is_dir() {
        return Err(not_cached());
    }
    let listing = plan::read_tree_cache(cached.folder(), &commit);
    let file_list_known = listing.is_some();
    let expected: Vec<(String, Option<String>)> = match listing {
        Some(listing) => {
            let (picked, missing) = plan::select(&listing, spec);
            if !missing.is_empty() {
                return Err(DownloadError::Incomplete {
                    repo: spec.repo.to_string(),
                    revision,
                    missing,
                });
            }
            picked.into_iter().map(|f| (f.path, Some(f.etag))).collect()
        }
        None if !spec.files.is_empty() => spec.files.iter().map(|f| (f.clone(), None)).collect(),
        None => crate::cache::files_under(&snapshot)
            .into_iter()
            .filter(|(p, _)| glob::selected(p, &spec.include, &spec.exclude))
            .map(|(p, _)| (p, None))
            .collect(),
    };
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for (path, etag) in expected {
        let Some(pointer) = safe_join(&snapshot, &path) else {
            return Err(DownloadError::UnsafePath(path));
        };
        match pointer.metadata() {
            Ok(meta) => {
                let blob = etag.or_else(|| {
                    std::fs::read_link(&pointer)
                        .ok()
                        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                });
                files.push(OutcomeFile {
                    path,
                    size: meta.len(),
                    blob,
                    downloaded: false,
                });
            }
            Err(_) => missing.push(path),
        }
    }
    if !missing.is_empty() {
        return Err(DownloadError::Incomplete {
            repo: spec.repo.to_string(),
            revision,
            missing,
        });
    }
    Ok(DownloadOutcome {
        repo: spec.repo.to_string(),
        revision,
        commit,
        path: snapshot,
        files,
        downloaded_bytes: 0,
        file_list_known,
    })
}
