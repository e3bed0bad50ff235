//! The download engine: plans the files, then fetches them several at a time into the cache
//! (resumable, verified), sending progress; and the offline path that answers from the cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::*;
use crate::cache::{CachedRepo, safe_join};
use crate::hub::{HubClient, HubError};

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
