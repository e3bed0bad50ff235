//! The arena: 2–4 cached models (or GGUF quants of one repo) of one task answer the same input
//! in turn, each measured (load time, time to first token, speed or latency, peak memory), the
//! answers side by side, optionally blind until a vote; exported as Markdown or JSON. Shared by
//! `hubble compare` and the app's Compare view.
//!
//! ```text
//!  front end ── Runner::start(Job) ──▶ [ runner thread: plan all; per entry: PeakSampler +
//!      ▲                                 InferenceWorker (load → submit → Token… → Finished) ]
//!      └──── Progress (Planned, Status, Loaded, Token…, Done per entry, Finished | Failed) ◀──┘
//! ```

mod comparison;
mod markdown;
mod memory;
mod runner;

pub use comparison::{Comparison, Figures, RunResult, blind_order, label};
pub use memory::{MemoryPeak, PeakSampler};
pub use runner::{Job, Progress, RequestFn, Runner};

/// The fewest models a comparison takes.
pub const MIN_ENTRIES: usize = 2;
/// The most models a comparison takes.
pub const MAX_ENTRIES: usize = 4;
