//! Downloading one blob into `blobs/<etag>.incomplete`: byte ranges fetched by several streams
//! at once and written at their offsets, progress kept in a sidecar so a killed process resumes
//! where each stream was, a hash that trails the contiguous prefix, and the check before the
//! rename into `blobs/<etag>`.
//!
//! Sidecar `blobs/<etag>.incomplete.hubble`: `{"size", "chunk", "done": [bytes per range]}`;
//! range `k` is `[k*chunk, min(size, (k+1)*chunk))` and `done[k]` bytes from its start are on
//! disk. It is rewritten (atomically) at most every [`SAVE_EVERY`] and always when a stream
//! stops, so a `kill -9` loses at most that much per stream. Without a sidecar, a leftover
//! `.incomplete` is not trusted and is restarted from zero.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::sync::watch;

use super::fsutil;
use super::plan::RemoteFile;
use super::{Control, DownloadError, DownloadOptions};
use crate::hub::{HubClient, HubError, HubRequest, RepoId, RepoType};

/// How often a stream's progress is written to the sidecar.
pub(crate) const SAVE_EVERY: Duration = Duration::from_millis(200);

/// Mid-body failures (drops, stalls, short bodies) retried per range without progress.
const MAX_BODY_RETRIES: u32 = 5;

/// What the job passes down to each blob download.
pub(crate) struct BlobContext<'a> {
    pub client: &'a HubClient,
    pub repo: &'a RepoId,
    pub repo_type: RepoType,
    pub commit: &'a str,
    pub options: &'a DownloadOptions,
    pub control: watch::Receiver<Control>,
    /// Bytes of this file on disk (resumed + fetched), for progress.
    pub done: &'a AtomicU64,
    /// Bytes fetched over the network by the whole job, for the rate.
    pub fetched: &'a AtomicU64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    size: u64,
    chunk: u64,
    done: Vec<u64>,
}

/// Mutable range state shared by the streams and the hasher.
struct Ranges {
    chunk: u64,
    done: Vec<u64>,
    /// Bumped when everything restarts from zero (a server that ignored `Range`).
    generation: u64,
    /// Set when the download stops: the hasher gives up.
    stopped: bool,
}

impl Ranges {
    fn bounds(&self, k: usize, size: u64) -> (u64, u64) {
        let start = k as u64 * self.chunk;
        (start, (start + self.chunk).min(size))
    }

    /// End of the prefix that is entirely on disk.
    fn frontier(&self, size: u64) -> u64 {
        for (k, done) in self.done.iter().enumerate() {
            let (start, end) = self.bounds(k, size);
            if start + done < end {
                return start + done;
            }
        }
        size
    }

    fn total_done(&self) -> u64 {
        self.done.iter().sum()
    }
}

struct Shared {
    file: File,
    size: u64,
    sidecar: PathBuf,
    ranges: Mutex<Ranges>,
    changed: Condvar,
    last_save: Mutex<Instant>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ranges> {
        self.ranges.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self) {
        let state = {
            let r = self.lock();
            Sidecar {
                size: self.size,
                chunk: r.chunk,
                done: r.done.clone(),
            }
        };
        if let Ok(bytes) = serde_json::to_vec(&state) {
            let _ = fsutil::atomic_write(&self.sidecar, &bytes);
        }
        *self.last_save.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn save_if_due(&self) {
        let due = self
            .last_save
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            >= SAVE_EVERY;
        if due {
            self.save();
        }
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

/// Stops the hasher and saves the ranges when a blob download ends in any way.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
        if self.0.sidecar.exists() {
            self.0.save();
        }
    }
}

/// The paths of a blob's partial download.
pub(crate) fn incomplete_paths(blobs: &Path, etag: &str) -> (PathBuf, PathBuf) {
    (
        blobs.join(format!("{etag}.incomplete")),
        blobs.join(format!("{etag}.incomplete.hubble")),
    )
}

/// Bytes of `etag` already on disk from an earlier, interrupted download (0 if none usable).
pub(crate) fn resumable_bytes(blobs: &Path, etag: &str, size: u64) -> u64 {
    let (incomplete, sidecar) = incomplete_paths(blobs, etag);
    if !incomplete.exists() {
        return 0;
    }
    read_sidecar(&sidecar, size).map_or(0, |s| s.done.iter().sum())
}

fn read_sidecar(path: &Path, size: u64) -> Option<Sidecar> {
    let state: Sidecar = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let ranges = if size == 0 {
        1
    } else {
        size.div_ceil(state.chunk.max(1)) as usize
    };
    let valid = state.size == size
        && state.chunk > 0
        && state.done.len() == ranges
        && state.done.iter().enumerate().all(|(k, d)| {
            let start = k as u64 * state.chunk;
            *d <= (start + state.chunk).min(size) - start.min(size)
        });
    valid.then_some(state)
}

/// Downloads `file` into `blobs/<etag>` (the caller holds the blob's lock and has checked the
/// blob is absent). On an integrity failure the partial file is deleted; on other failures
/// it is kept for the next attempt.
pub(crate) async fn download_blob(
    ctx: &BlobContext<'_>,
    file: &RemoteFile,
    blobs: &Path,
) -> Result<(), DownloadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| DownloadError::Io {
            path,
            message: e.to_string(),
        }
    };
    std::fs::create_dir_all(blobs).map_err(io(blobs))?;
    let (incomplete, sidecar) = incomplete_paths(blobs, &file.etag);
    let size = file.size;
    let resumed = if incomplete.exists() {
        read_sidecar(&sidecar, size)
    } else {
        None
    };
    let handle = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(resumed.is_none())
        .open(&incomplete)
        .map_err(io(&incomplete))?;
    let state = resumed.unwrap_or_else(|| {
        let chunk = if ctx.options.streams_per_file > 1 {
            ctx.options.chunk_size.max(1 << 20)
        } else {
            u64::MAX
        };
        let chunk = chunk.min(size.max(1));
        let ranges = if size == 0 {
            1
        } else {
            size.div_ceil(chunk) as usize
        };
        Sidecar {
            size,
            chunk,
            done: vec![0; ranges],
        }
    });
    let shared = Arc::new(Shared {
        file: handle,
        size,
        sidecar: sidecar.clone(),
        ranges: Mutex::new(Ranges {
            chunk: state.chunk,
            done: state.done,
            generation: 0,
            stopped: false,
        }),
        changed: Condvar::new(),
        last_save: Mutex::new(Instant::now()),
    });
    shared.save();
    ctx.done
        .store(shared.lock().total_done(), Ordering::Relaxed);
    // If this future is dropped (the job aborted), the hasher stops and progress is saved.
    let _guard = StopOnDrop(shared.clone());

    let want_git_sha1 = !file.lfs && file.etag.len() == 40;
    let hasher = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || trail_hash(&shared, want_git_sha1))
    };
    let result = fetch_ranges(ctx, file, &shared).await;
    if result.is_err() {
        shared.stop();
        shared.save();
        let _ = hasher.await;
        return result;
    }
    let digests = hasher.await.ok().flatten();
    drop(shared);
    let fail = |expected: String, actual: String, what: &str| {
        let _ = std::fs::remove_file(&incomplete);
        let _ = std::fs::remove_file(&sidecar);
        Err(DownloadError::Integrity {
            path: file.path.clone(),
            what: what.to_string(),
            expected,
            actual,
        })
    };
    let on_disk = std::fs::metadata(&incomplete)
        .map_err(io(&incomplete))?
        .len();
    if on_disk != size {
        return fail(size.to_string(), on_disk.to_string(), "size");
    }
    let Some((sha256, git_sha1)) = digests else {
        return Err(DownloadError::Io {
            path: incomplete,
            message: "hashing the download failed".into(),
        });
    };
    if file.etag.len() == 64 && sha256 != file.etag.to_ascii_lowercase() {
        return fail(file.etag.clone(), sha256, "sha256");
    }
    if let Some(sha1) = git_sha1
        && sha1 != file.etag.to_ascii_lowercase()
    {
        return fail(file.etag.clone(), sha1, "git blob sha1");
    }
    let blob = blobs.join(&file.etag);
    std::fs::rename(&incomplete, &blob).map_err(io(&blob))?;
    let _ = std::fs::remove_file(&sidecar);
    Ok(())
}

/// Reads back and hashes the contiguous prefix as it grows; `None` if the download stopped.
/// Returns the sha256 and, when asked, git's blob sha1 (`sha1("blob <len>\0" + bytes)`).
fn trail_hash(shared: &Shared, git_sha1: bool) -> Option<(String, Option<String>)> {
    let new_hashers = || {
        let sha1 = git_sha1.then(|| {
            let mut h = sha1_smol::Sha1::new();
            h.update(format!("blob {}\0", shared.size).as_bytes());
            h
        });
        (sha2::Sha256::new(), sha1)
    };
    let (mut sha256, mut sha1) = new_hashers();
    let mut hashed = 0u64;
    let mut generation = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let upto = {
            let mut r = shared.lock();
            loop {
                if r.stopped {
                    return None;
                }
                if r.generation != generation {
                    break;
                }
                let frontier = r.frontier(shared.size);
                if frontier > hashed || hashed >= shared.size {
                    break;
                }
                r = shared.changed.wait(r).unwrap_or_else(|e| e.into_inner());
            }
            if r.generation != generation {
                generation = r.generation;
                (sha256, sha1) = new_hashers();
                hashed = 0;
                continue;
            }
            r.frontier(shared.size)
        };
        if hashed >= shared.size {
            let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
            return Some((
                hex(&sha256.finalize()),
                sha1.map(|h| h.digest().to_string()),
            ));
        }
        while hashed < upto {
            let n = (upto - hashed).min(buf.len() as u64) as usize;
            if fsutil::read_exact_at(&shared.file, &mut buf[..n], hashed).is_err() {
                if shared.lock().generation != generation {
                    break; // truncated by a restart: the next round starts over
                }
                return None;
            }
            sha256.update(&buf[..n]);
            if let Some(h) = sha1.as_mut() {
                h.update(&buf[..n]);
            }
            hashed += n as u64;
        }
    }
}

/// What one range request answered.
enum Answer {
    /// `206` for the range asked, or `200` for a request of the whole file.
    Fits(reqwest::Response),
    /// `200` with the whole file to a request for part of it: the server ignores `Range`.
    Whole(reqwest::Response),
}

/// Runs the streams until every range is on disk, pausing and resuming with the control.
async fn fetch_ranges(
    ctx: &BlobContext<'_>,
    file: &RemoteFile,
    shared: &Arc<Shared>,
) -> Result<(), DownloadError> {
    let mut control = ctx.control.clone();
    loop {
        wait_running(&mut control).await?;
        let pending: Vec<usize> = {
            let r = shared.lock();
            (0..r.done.len())
                .filter(|k| {
                    let (s, e) = r.bounds(*k, shared.size);
                    s + r.done[*k] < e
                })
                .collect()
        };
        let Some(&first) = pending.first() else {
            shared.changed.notify_all();
            return Ok(());
        };
        // The first request probes whether the server honours Range.
        let probe = match request_range(ctx, file, shared, first).await? {
            Answer::Fits(response) => response,
            Answer::Whole(response) => {
                restart_whole(shared);
                ctx.done.store(0, Ordering::Relaxed);
                let result = stream_range(ctx, file, shared, 0, Some(response)).await;
                shared.save();
                match result {
                    Err(DownloadError::Paused) => continue,
                    other => other?,
                }
                continue;
            }
        };
        // Ranges are taken in ascending order; the first stream continues the probe.
        let queue = Mutex::new(pending[1..].iter().rev().copied().collect::<Vec<_>>());
        let queue = &queue;
        let streams = ctx.options.streams_per_file.max(1).min(pending.len());
        let mut probe = Some(probe);
        let workers = (0..streams).map(|n| {
            let mut next = if n == 0 {
                probe.take().map(|p| (first, Some(p)))
            } else {
                None
            };
            async move {
                loop {
                    let (k, response) = match next.take() {
                        Some(start) => start,
                        None => match queue.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                            Some(k) => (k, None),
                            None => return Ok::<(), DownloadError>(()),
                        },
                    };
                    stream_range(ctx, file, shared, k, response).await?;
                }
            }
        });
        let result = futures_util::future::try_join_all(workers).await;
        shared.save();
        match result {
            Ok(_) | Err(DownloadError::Paused) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Turns the download into one range from zero (the server ignores `Range`).
fn restart_whole(shared: &Shared) {
    let mut r = shared.lock();
    r.chunk = shared.size.max(1);
    r.done = vec![0];
    r.generation += 1;
    drop(r);
    let _ = shared.file.set_len(0);
    shared.changed.notify_all();
    shared.save();
}

async fn wait_running(control: &mut watch::Receiver<Control>) -> Result<(), DownloadError> {
    loop {
        match *control.borrow_and_update() {
            Control::Run => return Ok(()),
            Control::Cancel => return Err(DownloadError::Cancelled),
            Control::Pause => {}
        }
        if control.changed().await.is_err() {
            return Err(DownloadError::Cancelled);
        }
    }
}

/// Sends the request for what is left of range `k`.
async fn request_range(
    ctx: &BlobContext<'_>,
    file: &RemoteFile,
    shared: &Shared,
    k: usize,
) -> Result<Answer, DownloadError> {
    let (from, end) = {
        let r = shared.lock();
        let (start, end) = r.bounds(k, shared.size);
        (start + r.done[k], end)
    };
    let url = ctx
        .client
        .repo_resolve_url(ctx.repo_type, ctx.repo, ctx.commit, &file.path)?;
    let mut request = HubRequest::get(ctx.client, url).about(
        ctx.repo.as_str(),
        Some(ctx.commit),
        Some(&file.path),
    );
    request.timeout = ctx.client.config().download_timeout;
    request.headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    let whole = from == 0 && end == shared.size;
    if !whole {
        let range = format!("bytes={from}-{}", end - 1);
        request.headers.insert(
            header::RANGE,
            HeaderValue::from_str(&range).map_err(|e| HubError::InvalidInput(e.to_string()))?,
        );
    }
    let response = ctx.client.send(&request).await?;
    match response.status() {
        StatusCode::PARTIAL_CONTENT => {
            let content_range = response
                .headers()
                .get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ok = parse_content_range(content_range).is_some_and(|(start, _, total)| {
                start == from && total.is_none_or(|t| t == shared.size)
            });
            if !ok {
                return Err(HubError::InvalidResponse {
                    url: response.url().to_string(),
                    detail: format!(
                        "asked for bytes {from}-{} of {}, got Content-Range {content_range:?}",
                        end - 1,
                        shared.size
                    ),
                }
                .into());
            }
            Ok(Answer::Fits(response))
        }
        _ if whole => Ok(Answer::Fits(response)),
        _ => Ok(Answer::Whole(response)),
    }
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`).
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let total = if total.trim() == "*" {
        None
    } else {
        Some(total.trim().parse().ok()?)
    };
    Some((start.trim().parse().ok()?, end.trim().parse().ok()?, total))
}

/// Streams range `k` to disk from where it stands, retrying drops and stalls with a new
/// `Range` request; `first` is an already-sent request's response for it.
async fn stream_range(
    ctx: &BlobContext<'_>,
    file: &RemoteFile,
    shared: &Shared,
    k: usize,
    first: Option<reqwest::Response>,
) -> Result<(), DownloadError> {
    let mut control = ctx.control.clone();
    let timeout = ctx.client.config().download_timeout;
    let mut pending = first;
    let mut failures = 0u32;
    loop {
        let (mut pos, end) = {
            let r = shared.lock();
            let (start, end) = r.bounds(k, shared.size);
            (start + r.done[k], end)
        };
        if pos >= end {
            return Ok(());
        }
        let mut response = match pending.take() {
            Some(response) => response,
            None => match request_range(ctx, file, shared, k).await? {
                Answer::Fits(response) => response,
                Answer::Whole(response) => {
                    if shared.lock().done.len() > 1 {
                        return Err(HubError::InvalidResponse {
                            url: response.url().to_string(),
                            detail: "the server stopped honouring Range requests".into(),
                        }
                        .into());
                    }
                    restart_whole(shared);
                    ctx.done.store(0, Ordering::Relaxed);
                    pos = 0;
                    response
                }
            },
        };
        if response.status() == StatusCode::OK && pos != 0 {
            // A 200 to a resume request of the single range: start over from zero.
            restart_whole(shared);
            ctx.done.store(0, Ordering::Relaxed);
            pos = 0;
        }
        let body_error = loop {
            let chunk = tokio::select! {
                biased;
                changed = control.changed() => {
                    if changed.is_err() || *control.borrow() != Control::Run {
                        shared.save();
                        return Err(if changed.is_ok() && *control.borrow() == Control::Pause {
                            DownloadError::Paused
                        } else {
                            DownloadError::Cancelled
                        });
                    }
                    continue;
                }
                chunk = tokio::time::timeout(timeout, response.chunk()) => chunk,
            };
            let bytes = match chunk {
                Err(_) => {
                    break HubError::Timeout {
                        url: response.url().to_string(),
                        after: timeout,
                    };
                }
                Ok(Err(e)) => {
                    break HubError::Connection {
                        url: response.url().to_string(),
                        detail: e.to_string(),
                        setting: crate::hub::HUB_ADDRESS,
                    };
                }
                Ok(Ok(None)) => {
                    break HubError::Connection {
                        url: response.url().to_string(),
                        detail: format!("the body ended at byte {pos} of {end}"),
                        setting: crate::hub::HUB_ADDRESS,
                    };
                }
                Ok(Ok(Some(bytes))) => bytes,
            };
            let take = ((end - pos) as usize).min(bytes.len());
            fsutil::write_all_at(&shared.file, &bytes[..take], pos).map_err(|e| {
                DownloadError::Io {
                    path: shared.sidecar.with_extension(""),
                    message: e.to_string(),
                }
            })?;
            pos += take as u64;
            {
                let mut r = shared.lock();
                let start = r.bounds(k, shared.size).0;
                r.done[k] = pos - start;
            }
            shared.changed.notify_all();
            ctx.done.fetch_add(take as u64, Ordering::Relaxed);
            ctx.fetched.fetch_add(take as u64, Ordering::Relaxed);
            failures = 0;
            shared.save_if_due();
            if pos >= end {
                return Ok(());
            }
        };
        shared.save();
        failures += 1;
        if failures > MAX_BODY_RETRIES {
            return Err(body_error.into());
        }
        let backoff = Duration::from_millis(100 << failures.min(5)).min(Duration::from_secs(3));
        tokio::time::sleep(backoff).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_frontier() {
        let r = Ranges {
            chunk: 10,
            done: vec![10, 4, 10],
            generation: 0,
            stopped: false,
        };
        assert_eq!(r.bounds(2, 25), (20, 25));
        assert_eq!(r.frontier(25), 14);
        let full = Ranges {
            chunk: 10,
            done: vec![10, 10, 5],
            generation: 0,
            stopped: false,
        };
        assert_eq!(full.frontier(25), 25);
    }

    #[test]
    fn content_range_parsing() {
        assert_eq!(
            parse_content_range("bytes 5-9/100"),
            Some((5, 9, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        assert_eq!(parse_content_range("items 5-9/100"), None);
    }

    #[test]
    fn sidecars_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, r#"{"size":25,"chunk":10,"done":[10,3,5]}"#).unwrap();
        assert!(read_sidecar(&path, 25).is_some());
        assert!(read_sidecar(&path, 26).is_none());
        std::fs::write(&path, r#"{"size":25,"chunk":10,"done":[10,3,6]}"#).unwrap();
        assert!(read_sidecar(&path, 25).is_none());
    }
}
