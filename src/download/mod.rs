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

mod engine;
mod fetch;
mod fsutil;
pub mod glob;
mod plan;
mod progress;
mod queue;
mod types;

pub use engine::{download, offline, start, start_on};
pub use plan::RemoteFile;
pub use progress::*;
pub use queue::{DownloadQueue, QueueEntry, QueueStatus};
pub use types::*;
