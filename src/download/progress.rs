//! How a running download reports: per-file and overall progress, events, and the
//! [`DownloadHandle`] a front end polls and controls (pause, resume, cancel).

use std::path::PathBuf;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::*;

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
    pub(super) events: mpsc::UnboundedReceiver<DownloadEvent>,
    pub(super) control: watch::Sender<Control>,
    pub(super) task: tokio::task::JoinHandle<Result<DownloadOutcome, DownloadError>>,
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
