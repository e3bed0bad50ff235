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

mod candidates;
mod comparison;
mod markdown;
mod memory;
mod runner;

pub use candidates::{Candidate, candidates};
pub use comparison::{Comparison, Figures, RunResult, blind_order, label};
pub use memory::{MemoryPeak, PeakSampler};
pub use runner::{Job, Progress, RequestFn, Runner};

use std::fmt;
use std::path::PathBuf;

use crate::hub::RepoId;
use crate::infer::{InferError, ModelFacts, Plan, Task, registry};

/// The fewest models a comparison takes.
pub const MIN_ENTRIES: usize = 2;
/// The most models a comparison takes.
pub const MAX_ENTRIES: usize = 4;

/// One contender: a cached model, or one GGUF file of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The repository.
    pub repo: RepoId,
    /// The GGUF file, when the repo has several quants and one is picked.
    pub file: Option<String>,
    /// The snapshot folder it loads from.
    pub dir: PathBuf,
}

impl Entry {
    /// Its plan for `task` (the model's own task when `None`), read from its folder.
    pub fn plan(&self, task: Option<Task>) -> Result<Plan, InferError> {
        let mut facts = ModelFacts::from_dir(&self.dir)?;
        if let Some(file) = &self.file {
            facts.choose_gguf(&self.dir, file)?;
        }
        registry::plan(&facts, task)
    }
}

impl fmt::Display for Entry {
    /// `org/name`, or `org/name:file.gguf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{file}", self.repo),
            None => write!(f, "{}", self.repo),
        }
    }
}

/// Splits `REPO[:FILE]` (the command line's way to name an entry).
pub fn parse_entry_name(text: &str) -> Result<(RepoId, Option<String>), String> {
    let (repo, file) = match text.split_once(':') {
        Some((repo, file)) if !file.is_empty() => (repo, Some(file.to_string())),
        Some(_) => return Err(format!("{text:?}: a file name should follow the ':'")),
        None => (text, None),
    };
    let repo = RepoId::parse(repo).map_err(|e| e.to_string())?;
    Ok((repo, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_split_into_repo_and_file() {
        let (repo, file) = parse_entry_name("org/name:model-Q4_K_M.gguf").unwrap();
        assert_eq!(repo.as_str(), "org/name");
        assert_eq!(file.as_deref(), Some("model-Q4_K_M.gguf"));
        assert_eq!(parse_entry_name("gpt2").unwrap().1, None);
        assert!(parse_entry_name("org/name:").is_err());
        assert!(parse_entry_name("not a repo").is_err());
        let entry = Entry {
            repo,
            file,
            dir: PathBuf::new(),
        };
        assert_eq!(entry.to_string(), "org/name:model-Q4_K_M.gguf");
    }
}
