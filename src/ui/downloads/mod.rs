//! The app's downloads: each one started from a Files tab or restored from the queue file at
//! start-up runs in the download engine ([`crate::download::start_on`]) on the worker runtime.
//! The UI thread only polls each [`DownloadHandle`] (`try_next_event`) once a frame, and asks
//! for a repaint every [`TICK`] while a download transfers (none while all are idle or
//! paused). Status changes are mirrored into `$HF_HOME/hubble/downloads.json` through
//! [`QueueSync`], so interrupted downloads resume on the next start.

pub(crate) mod panel;
pub(crate) mod queue_sync;

use std::path::PathBuf;
use std::time::Duration;

use eframe::egui;

use crate::download::{
    self, DownloadEvent, DownloadHandle, DownloadOptions, DownloadQueue, DownloadSpec, Progress,
    QueueEntry, QueueStatus,
};
use crate::ui::downloads::queue_sync::{QueueNotice, QueueOp, QueueSync};
use crate::ui::runtime::worker::Worker;
use crate::ui::toasts::Toasts;

/// How often the UI repaints while a download transfers.
const TICK: Duration = Duration::from_millis(150);

/// Where a download stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowState {
    /// Waiting for the user to start it; the text says why.
    Queued(String),
    /// Listing files or transferring.
    Running,
    /// Paused by the user (partial data kept).
    Paused,
    /// Complete: the snapshot folder.
    Done(PathBuf),
    /// Failed: the engine's message.
    Failed(String),
    /// Cancelled by the user.
    Cancelled,
}

impl RowState {
    /// Done, failed or cancelled.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            RowState::Done(_) | RowState::Failed(_) | RowState::Cancelled
        )
    }
}

/// One file of a download and how much of it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// Path inside the repository.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Bytes on disk.
    pub done_bytes: u64,
}

/// One download in the panel.
pub struct DownloadRow {
    key: u64,
    /// What it downloads.
    pub spec: DownloadSpec,
    /// Where it stands.
    pub state: RowState,
    /// The commit, once listed.
    pub commit: Option<String>,
    /// The last progress report.
    pub progress: Option<Progress>,
    /// The selected files, once listed.
    pub files: Vec<FileRow>,
    handle: Option<DownloadHandle>,
}

impl DownloadRow {
    /// The row's id within the panel.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// Bytes on disk and bytes in all, once known.
    pub fn bytes(&self) -> Option<(u64, u64)> {
        if let Some(p) = &self.progress {
            return Some((p.done_bytes, p.total_bytes));
        }
        (!self.files.is_empty()).then(|| {
            let done = self.files.iter().map(|f| f.done_bytes).sum();
            (done, self.files.iter().map(|f| f.size).sum())
        })
    }

    /// Whether the engine is working on it (running or paused).
    pub fn has_task(&self) -> bool {
        self.handle.is_some()
    }

    /// Whether the UI must keep polling: transferring or listing, or cancelled and not yet
    /// ended (paused ones send nothing worth drawing).
    fn needs_ticks(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| {
            self.state == RowState::Running || h.control() == download::Control::Cancel
        })
    }

    fn file_mut(&mut self, path: &str) -> Option<&mut FileRow> {
        self.files.iter_mut().find(|f| f.path == path)
    }
}

/// What the panel's buttons ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelAction {
    /// Pause a running download.
    Pause(u64),
    /// Resume a paused one.
    Resume(u64),
    /// Cancel one (partial data stays in the cache for a later resume).
    Cancel(u64),
    /// Start a queued, failed or cancelled one again.
    Retry(u64),
    /// Drop finished, failed and cancelled rows.
    ClearFinished,
}

/// Every download of this session and of the queue file.
pub struct Downloads {
    rows: Vec<DownloadRow>,
    next_key: u64,
    sync: QueueSync,
    /// Whether the panel is shown.
    pub open: bool,
}

impl Downloads {
    /// Starts the queue task, which loads the queue file; its resumable entries start on a
    /// later [`Downloads::poll`].
    pub fn new(worker: &Worker, ctx: &egui::Context) -> Downloads {
        let queue = DownloadQueue::new(&worker.config().hf_home);
        Downloads {
            rows: Vec::new(),
            next_key: 0,
            sync: QueueSync::start(&worker.handle(), ctx, queue),
            open: false,
        }
    }

    /// The downloads, oldest first.
    pub fn rows(&self) -> &[DownloadRow] {
        &self.rows
    }

    /// How many are running or paused.
    pub fn active(&self) -> usize {
        self.rows.iter().filter(|r| r.has_task()).count()
    }

    /// Adds `spec` to the queue and starts it (unless the same download runs already).
    pub fn start(&mut self, spec: DownloadSpec, worker: &Worker, toasts: &mut Toasts) {
        self.open = true;
        if self.rows.iter().any(|r| r.has_task() && r.spec == spec) {
            toasts.info(format!("{} is already downloading.", spec.repo));
            return;
        }
        let key = self.push(spec.clone(), RowState::Queued(String::new()));
        self.sync.send(QueueOp::Add { key, spec });
        self.launch(key, worker, toasts);
    }

    /// Applies a button of the panel.
    pub fn apply(&mut self, action: PanelAction, worker: &Worker, toasts: &mut Toasts) {
        let (key, status) = match action {
            PanelAction::ClearFinished => {
                self.rows.retain(|r| !r.state.is_finished());
                self.sync.send(QueueOp::ClearFinished);
                return;
            }
            PanelAction::Retry(key) => return self.launch(key, worker, toasts),
            PanelAction::Pause(key) => (key, QueueStatus::Paused),
            PanelAction::Resume(key) => (key, QueueStatus::Running),
            PanelAction::Cancel(key) => (key, QueueStatus::Cancelled),
        };
        let Some(row) = self.rows.iter_mut().find(|r| r.key == key) else {
            return;
        };
        match (&row.handle, action) {
            (Some(handle), PanelAction::Pause(_)) => {
                handle.pause();
                row.state = RowState::Paused;
            }
            (Some(handle), PanelAction::Resume(_)) => {
                handle.resume();
                row.state = RowState::Running;
            }
            // The engine ends with `Cancelled`; the row follows on that event.
            (Some(handle), _) => return handle.cancel(),
            (None, PanelAction::Cancel(_)) => row.state = RowState::Cancelled,
            (None, _) => return,
        }
        self.sync.send(QueueOp::Status {
            key,
            status,
            error: None,
        });
    }

    /// Takes the queue file's entries and every download's events; asks for a repaint in
    /// [`TICK`] while any transfers. Call once a frame. Returns whether a download completed
    /// (so the cache changed).
    pub fn poll(&mut self, ctx: &egui::Context, worker: &Worker, toasts: &mut Toasts) -> bool {
        for notice in self.sync.poll() {
            match notice {
                QueueNotice::Loaded(entries) => self.restore(entries, worker, toasts),
                QueueNotice::Failed(message) => toasts.error(message),
            }
        }
        let mut completed = false;
        for row in &mut self.rows {
            completed |= drain(row, &self.sync, toasts);
        }
        if self.rows.iter().any(DownloadRow::needs_ticks) {
            ctx.request_repaint_after(TICK);
        }
        completed
    }

    fn push(&mut self, spec: DownloadSpec, state: RowState) -> u64 {
        self.next_key += 1;
        self.rows.push(DownloadRow {
            key: self.next_key,
            spec,
            state,
            commit: None,
            progress: None,
            files: Vec::new(),
            handle: None,
        });
        self.next_key
    }

    /// Rows for the queue file's entries; interrupted ones start again (paused ones paused),
    /// except offline, where they wait for the user.
    fn restore(&mut self, entries: Vec<QueueEntry>, worker: &Worker, toasts: &mut Toasts) {
        let offline = worker.config().offline;
        for entry in entries {
            let snapshot = |commit: &str| {
                worker
                    .config()
                    .hub_cache
                    .join(entry.spec.folder_name())
                    .join("snapshots")
                    .join(commit)
            };
            let state = match entry.status {
                QueueStatus::Done => match &entry.commit {
                    Some(commit) => RowState::Done(snapshot(commit)),
                    None => {
                        RowState::Done(worker.config().hub_cache.join(entry.spec.folder_name()))
                    }
                },
                QueueStatus::Failed => RowState::Failed(
                    entry
                        .error
                        .clone()
                        .unwrap_or_else(|| "The download failed.".into()),
                ),
                QueueStatus::Cancelled => RowState::Cancelled,
                QueueStatus::Queued | QueueStatus::Running | QueueStatus::Paused if offline => {
                    RowState::Queued(
                        "Offline mode is on (HF_HUB_OFFLINE or --offline), so this interrupted \
                         download was not restarted. Go online and press Start."
                            .into(),
                    )
                }
                QueueStatus::Queued | QueueStatus::Running | QueueStatus::Paused => {
                    RowState::Running
                }
            };
            let resume = state == RowState::Running;
            // Unfinished downloads (running again, or waiting) show the panel.
            self.open |= !state.is_finished();
            let key = self.push(entry.spec.clone(), state);
            if let Some(row) = self.rows.last_mut() {
                row.commit = entry.commit.clone();
            }
            self.sync.send(QueueOp::Adopt { key, id: entry.id });
            if resume {
                self.launch(key, worker, toasts);
                if entry.status == QueueStatus::Paused {
                    self.apply(PanelAction::Pause(key), worker, toasts);
                }
            }
        }
    }

    /// Starts (or restarts) the engine for row `key`.
    fn launch(&mut self, key: u64, worker: &Worker, toasts: &mut Toasts) {
        let Some(row) = self.rows.iter_mut().find(|r| r.key == key) else {
            return;
        };
        if row.has_task() {
            return;
        }
        let client = worker
            .shared_client()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (status, error) = match client {
            Ok(client) => {
                let handle = download::start_on(
                    &worker.handle(),
                    client,
                    row.spec.clone(),
                    DownloadOptions::default(),
                );
                row.handle = Some(handle);
                row.state = RowState::Running;
                row.progress = None;
                (QueueStatus::Running, None)
            }
            Err(message) => {
                let message = format!(
                    "Could not start the download of {}: {message}",
                    row.spec.repo
                );
                toasts.error(message.clone());
                row.state = RowState::Failed(message.clone());
                (QueueStatus::Failed, Some(message))
            }
        };
        self.sync.send(QueueOp::Status { key, status, error });
    }
}

/// Applies the events waiting on a row's handle; returns whether the download completed.
fn drain(row: &mut DownloadRow, sync: &QueueSync, toasts: &mut Toasts) -> bool {
    let mut completed = false;
    while let Some(event) = row.handle.as_mut().and_then(DownloadHandle::try_next_event) {
        match event {
            DownloadEvent::Planned(plan) => {
                row.files = plan
                    .files
                    .iter()
                    .map(|f| FileRow {
                        path: f.path.clone(),
                        size: f.size,
                        done_bytes: if f.cached { f.size } else { f.resumed_bytes },
                    })
                    .collect();
                row.commit = Some(plan.commit.clone());
                sync.send(QueueOp::Planned {
                    key: row.key,
                    commit: plan.commit,
                    total_bytes: plan.total_bytes,
                });
            }
            DownloadEvent::Progress(progress) => {
                for active in &progress.active {
                    if let Some(file) = row.file_mut(&active.path) {
                        file.done_bytes = active.done_bytes;
                    }
                }
                row.progress = Some(progress);
            }
            DownloadEvent::FileDone { path, size, .. } => {
                if let Some(file) = row.file_mut(&path) {
                    file.done_bytes = size;
                }
            }
            DownloadEvent::Paused => row.state = RowState::Paused,
            DownloadEvent::Resumed => row.state = RowState::Running,
            DownloadEvent::Finished(result) => {
                row.handle = None;
                let (status, error) = match result {
                    Ok(outcome) => {
                        for file in &mut row.files {
                            file.done_bytes = file.size;
                        }
                        if let Some(p) = &mut row.progress {
                            p.done_bytes = p.total_bytes;
                            p.files_done = p.files_total;
                        }
                        toasts.info(format!(
                            "Downloaded {} ({} files).",
                            outcome.repo,
                            outcome.files.len()
                        ));
                        row.commit = Some(outcome.commit);
                        row.state = RowState::Done(outcome.path);
                        completed = true;
                        (QueueStatus::Done, None)
                    }
                    Err(failure) if failure.kind == "cancelled" => {
                        row.state = RowState::Cancelled;
                        (QueueStatus::Cancelled, None)
                    }
                    Err(failure) => {
                        toasts.error(failure.message.clone());
                        row.state = RowState::Failed(failure.message.clone());
                        (QueueStatus::Failed, Some(failure.message))
                    }
                };
                sync.send(QueueOp::Status {
                    key: row.key,
                    status,
                    error,
                });
            }
        }
    }
    completed
}
