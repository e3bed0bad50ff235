//! Keeps `$HF_HOME/hubble/downloads.json` ([`DownloadQueue`]) in step with the Downloads panel
//! without file I/O on the UI thread: the UI sends [`QueueOp`]s over a channel, and one task on
//! the worker runtime applies them in order (each with `spawn_blocking`, as the queue file is
//! read and written under a lock). The queue's entries and any write failure come back as
//! [`QueueNotice`]s.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, channel};

use eframe::egui;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::download::{DownloadQueue, DownloadSpec, QueueEntry, QueueStatus};

/// What the UI asks the queue file to record. `key` is the panel's own row id.
#[derive(Debug)]
pub enum QueueOp {
    /// Read every entry (sent once, first, at start-up).
    Load,
    /// A new download, queued.
    Add {
        /// The row.
        key: u64,
        /// What it downloads.
        spec: DownloadSpec,
    },
    /// A row restored from the file stands for entry `id`.
    Adopt {
        /// The row.
        key: u64,
        /// The entry's id in the file.
        id: u64,
    },
    /// A row's status (and error) changed.
    Status {
        /// The row.
        key: u64,
        /// The new status.
        status: QueueStatus,
        /// Why it failed.
        error: Option<String>,
    },
    /// A row's commit and size are known.
    Planned {
        /// The row.
        key: u64,
        /// The commit.
        commit: String,
        /// Bytes of the selected files.
        total_bytes: u64,
    },
    /// Drop finished, failed and cancelled entries.
    ClearFinished,
}

/// What comes back from the queue task.
#[derive(Debug)]
pub enum QueueNotice {
    /// The entries found at start-up, oldest first.
    Loaded(Vec<QueueEntry>),
    /// Writing the queue file failed (downloads go on, but won't survive a restart).
    Failed(String),
}

/// The UI's end of the queue task.
pub struct QueueSync {
    ops: UnboundedSender<QueueOp>,
    notices: Receiver<QueueNotice>,
}

impl QueueSync {
    /// Starts the task for `queue` on `runtime` and asks it to load the entries.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        ctx: &egui::Context,
        queue: DownloadQueue,
    ) -> QueueSync {
        let (ops, mut receiver) = unbounded_channel();
        let (sender, notices) = channel();
        let ctx = ctx.clone();
        runtime.spawn(async move {
            let mut ids = HashMap::new();
            while let Some(op) = receiver.recv().await {
                let queue = queue.clone();
                let work: Box<dyn FnOnce() -> Result<Applied, String> + Send> = match op {
                    QueueOp::Load => Box::new(move || Ok(Applied::Loaded(queue.entries()))),
                    QueueOp::Add { key, spec } => Box::new(move || {
                        queue
                            .add(spec)
                            .map(|id| Applied::Added(key, id))
                            .map_err(|e| failure(&queue, e))
                    }),
                    QueueOp::Adopt { key, id } => {
                        ids.insert(key, id);
                        continue;
                    }
                    QueueOp::Status { key, status, error } => {
                        let Some(id) = ids.get(&key).copied() else {
                            continue;
                        };
                        Box::new(move || {
                            queue
                                .set_status(id, status, error)
                                .map(|()| Applied::Nothing)
                                .map_err(|e| failure(&queue, e))
                        })
                    }
                    QueueOp::Planned {
                        key,
                        commit,
                        total_bytes,
                    } => {
                        let Some(id) = ids.get(&key).copied() else {
                            continue;
                        };
                        Box::new(move || {
                            queue
                                .update(id, |e| {
                                    e.commit = Some(commit);
                                    e.total_bytes = Some(total_bytes);
                                })
                                .map(|()| Applied::Nothing)
                                .map_err(|e| failure(&queue, e))
                        })
                    }
                    QueueOp::ClearFinished => Box::new(move || {
                        queue
                            .clear_finished()
                            .map(|()| Applied::Nothing)
                            .map_err(|e| failure(&queue, e))
                    }),
                };
                let notice = match tokio::task::spawn_blocking(work).await {
                    Ok(Ok(Applied::Added(key, id))) => {
                        ids.insert(key, id);
                        None
                    }
                    Ok(Ok(Applied::Loaded(entries))) => Some(QueueNotice::Loaded(entries)),
                    Ok(Ok(Applied::Nothing)) => None,
                    Ok(Err(message)) => Some(QueueNotice::Failed(message)),
                    Err(e) => Some(QueueNotice::Failed(format!(
                        "Could not update the download queue: {e}"
                    ))),
                };
                if let Some(notice) = notice {
                    if sender.send(notice).is_err() {
                        return;
                    }
                    ctx.request_repaint();
                }
            }
        });
        let sync = QueueSync { ops, notices };
        sync.send(QueueOp::Load);
        sync
    }

    /// Queues `op` (never blocks).
    pub fn send(&self, op: QueueOp) {
        // The task ends only with the runtime, i.e. when the app closes.
        let _ = self.ops.send(op);
    }

    /// Notices that have arrived, without waiting.
    pub fn poll(&self) -> Vec<QueueNotice> {
        self.notices.try_iter().collect()
    }
}

/// What one blocking step did.
enum Applied {
    Loaded(Vec<QueueEntry>),
    Added(u64, u64),
    Nothing,
}

fn failure(queue: &DownloadQueue, error: std::io::Error) -> String {
    format!(
        "Could not save the download queue {}: {error}. Downloads go on, but won't resume after \
         a restart; check that folder's permissions and free space.",
        queue.path().display()
    )
}
