//! The persistent download queue, `$HF_HOME/hubble/downloads.json`, so a front end's
//! downloads survive restarts: entries that were queued, running or paused when the app quit
//! are started again on the next start (their bytes resume from the `.incomplete` files).
//!
//! Every change is a read-modify-write under an flock on `downloads.json.lock` and lands with
//! an atomic rename, so two Hubble processes never lose each other's entries.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DownloadSpec, fsutil};

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueStatus {
    /// Waiting to start.
    Queued,
    /// Transferring (if found at start-up, the app quit mid-way: resume it).
    Running,
    /// Paused by the user.
    Paused,
    /// Complete.
    Done,
    /// Failed; `error` says why.
    Failed,
    /// Cancelled by the user.
    Cancelled,
}

/// One download in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Unique within the file.
    pub id: u64,
    /// What to download.
    pub spec: DownloadSpec,
    /// Where it stands.
    pub status: QueueStatus,
    /// When it was added (RFC 3339).
    pub added_at: String,
    /// Last status change (RFC 3339).
    pub updated_at: String,
    /// The commit, once known.
    #[serde(default)]
    pub commit: Option<String>,
    /// Total bytes, once known.
    #[serde(default)]
    pub total_bytes: Option<u64>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct QueueFile {
    version: u32,
    #[serde(default)]
    downloads: Vec<QueueEntry>,
}

/// The queue file of one `HF_HOME`.
#[derive(Debug, Clone)]
pub struct DownloadQueue {
    path: PathBuf,
}

impl DownloadQueue {
    /// The queue under `hf_home` (`$HF_HOME/hubble/downloads.json`); nothing is read yet.
    pub fn new(hf_home: &Path) -> DownloadQueue {
        DownloadQueue {
            path: hf_home.join("hubble").join("downloads.json"),
        }
    }

    /// The queue file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, oldest first (an unreadable or missing file is an empty queue).
    pub fn entries(&self) -> Vec<QueueEntry> {
        self.read().downloads
    }

    /// Entries to start again at start-up: queued, running (interrupted) or paused.
    pub fn resumable(&self) -> Vec<QueueEntry> {
        self.entries()
            .into_iter()
            .filter(|e| {
                matches!(
                    e.status,
                    QueueStatus::Queued | QueueStatus::Running | QueueStatus::Paused
                )
            })
            .collect()
    }

    /// Adds `spec` as queued and returns its id.
    pub fn add(&self, spec: DownloadSpec) -> std::io::Result<u64> {
        self.modify(|file| {
            let id = file.downloads.iter().map(|e| e.id).max().unwrap_or(0) + 1;
            let now = now();
            file.downloads.push(QueueEntry {
                id,
                spec,
                status: QueueStatus::Queued,
                added_at: now.clone(),
                updated_at: now,
                commit: None,
                total_bytes: None,
                error: None,
            });
            id
        })
    }

    /// Changes an entry (no-op when the id is gone).
    pub fn update(&self, id: u64, change: impl FnOnce(&mut QueueEntry)) -> std::io::Result<()> {
        self.modify(|file| {
            if let Some(entry) = file.downloads.iter_mut().find(|e| e.id == id) {
                change(entry);
                entry.updated_at = now();
            }
        })
    }

    /// Sets an entry's status (and error).
    pub fn set_status(
        &self,
        id: u64,
        status: QueueStatus,
        error: Option<String>,
    ) -> std::io::Result<()> {
        self.update(id, |e| {
            e.status = status;
            e.error = error;
        })
    }

    /// Removes an entry.
    pub fn remove(&self, id: u64) -> std::io::Result<()> {
        self.modify(|file| file.downloads.retain(|e| e.id != id))
    }

    /// Removes finished entries (done, failed, cancelled).
    pub fn clear_finished(&self) -> std::io::Result<()> {
        self.modify(|file| {
            file.downloads.retain(|e| {
                matches!(
                    e.status,
                    QueueStatus::Queued | QueueStatus::Running | QueueStatus::Paused
                )
            })
        })
    }

    fn read(&self) -> QueueFile {
        std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn modify<T>(&self, change: impl FnOnce(&mut QueueFile) -> T) -> std::io::Result<T> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.with_extension("json.lock"))?;
        flock_blocking(&lock);
        let mut file = self.read();
        file.version = 1;
        let value = change(&mut file);
        let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        fsutil::atomic_write(&self.path, &bytes)?;
        Ok(value)
    }
}

#[cfg(unix)]
fn flock_blocking(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; released when it is closed.
    unsafe {
        libc::flock(file.as_raw_fd(), libc::LOCK_EX);
    }
}

#[cfg(not(unix))]
fn flock_blocking(_file: &std::fs::File) {}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::RepoId;

    #[test]
    fn survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let queue = DownloadQueue::new(dir.path());
        let mut spec = DownloadSpec::new(RepoId::parse("org/model").unwrap());
        spec.include = vec!["*.gguf".into()];
        let a = queue.add(spec.clone()).unwrap();
        let b = queue
            .add(DownloadSpec::new(RepoId::parse("org/other").unwrap()))
            .unwrap();
        queue.set_status(a, QueueStatus::Running, None).unwrap();
        queue.set_status(b, QueueStatus::Done, None).unwrap();

        let reopened = DownloadQueue::new(dir.path());
        let resumable = reopened.resumable();
        assert_eq!(resumable.len(), 1);
        assert_eq!(resumable[0].spec, spec);
        reopened.clear_finished().unwrap();
        assert_eq!(reopened.entries().len(), 1);
        let text = std::fs::read_to_string(dir.path().join("hubble/downloads.json")).unwrap();
        assert!(text.contains("\"status\": \"running\""), "{text}");
    }
}
