//! The models in the hub cache as the front ends name and run them: `org/name`, or
//! `org/name:FILE.gguf` for one quant of a repository with several, with the snapshot folder
//! they load from; and every cached model that can run a task here (`hubble serve`'s model
//! list, the arena's picker). Reads config.json and GGUF headers: call it off a UI thread.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cache::{CachedRepo, cached_models};
use crate::hub::RepoId;
use crate::infer::{InferError, ModelFacts, Plan, Task, registry};

/// A cached model, or one GGUF file of it, with the snapshot folder it loads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedEntry {
    /// The repository.
    pub repo: RepoId,
    /// The GGUF file, when the repo has several quants and one is picked.
    pub file: Option<String>,
    /// The snapshot folder it loads from.
    pub dir: PathBuf,
}

impl CachedEntry {
    /// Its plan for `task` (the model's own task when `None`), read from its folder.
    pub fn plan(&self, task: Option<Task>) -> Result<Plan, InferError> {
        let mut facts = ModelFacts::from_dir(&self.dir)?;
        if let Some(file) = &self.file {
            facts.choose_gguf(&self.dir, file)?;
        }
        registry::plan(&facts, task)
    }
}

impl fmt::Display for CachedEntry {
    /// `org/name`, or `org/name:file.gguf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{file}", self.repo),
            None => write!(f, "{}", self.repo),
        }
    }
}

/// Splits `REPO[:FILE]` (how the command line, the server and the arena name a model).
pub fn parse_name(text: &str) -> Result<(RepoId, Option<String>), String> {
    let (repo, file) = match text.split_once(':') {
        Some((repo, file)) if !file.is_empty() => (repo, Some(file.to_string())),
        Some(_) => return Err(format!("{text:?}: a file name should follow the ':'")),
        None => (text, None),
    };
    let repo = RepoId::parse(repo).map_err(|e| e.to_string())?;
    Ok((repo, file))
}

/// A cached model, or one GGUF file of it, and the tasks it can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runnable {
    /// What would be run.
    pub entry: CachedEntry,
    /// The tasks it can run, its own first (never empty).
    pub tasks: Vec<Task>,
}

/// The cached models under `hub_cache` that can run a task, sorted by repo then file. Each
/// model's `main` snapshot is used, else that of its first ref.
pub fn runnable(hub_cache: &Path) -> Vec<Runnable> {
    let mut found = Vec::new();
    for model in cached_models(hub_cache) {
        let cached = CachedRepo::new(hub_cache, &model.repo);
        let Some(dir) = std::iter::once("main")
            .chain(model.refs.iter().map(String::as_str))
            .find_map(|revision| cached.snapshot_dir(revision))
        else {
            continue;
        };
        let Ok(facts) = ModelFacts::from_dir(&dir) else {
            continue;
        };
        let ggufs = facts.gguf_files();
        let files: Vec<Option<String>> = if ggufs.len() > 1 {
            ggufs.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        for file in files {
            let mut facts = facts.clone();
            if let Some(file) = &file
                && facts.choose_gguf(&dir, file).is_err()
            {
                continue;
            }
            let mut tasks = registry::supported_tasks(&facts);
            // Its own task first (a classifier's text-classification before feature-extraction).
            if let Some(own) = registry::default_task(&facts)
                && let Some(at) = tasks.iter().position(|t| *t == own)
            {
                tasks[..=at].rotate_right(1);
            }
            if !tasks.is_empty() {
                let entry = CachedEntry {
                    repo: model.repo.clone(),
                    file,
                    dir: dir.clone(),
                };
                found.push(Runnable { entry, tasks });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::tasks::text_generation::TEXT_GENERATION;

    #[test]
    fn cached_models_with_weights_are_candidates_for_their_tasks() {
        let hub = tempfile::tempdir().unwrap();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/llama");
        for (id, files) in [
            (
                "acme/llama",
                &["config.json", "model.safetensors", "tokenizer.json"][..],
            ),
            ("acme/config-only", &["config.json"][..]),
        ] {
            let repo = crate::hub::RepoId::parse(id).unwrap();
            let folder = CachedRepo::new(hub.path(), &repo).folder().to_path_buf();
            let snapshot = folder.join("snapshots").join(commit);
            std::fs::create_dir_all(&snapshot).unwrap();
            for file in files {
                std::fs::copy(fixture.join(file), snapshot.join(file)).unwrap();
            }
            std::fs::create_dir_all(folder.join("refs")).unwrap();
            std::fs::write(folder.join("refs/main"), commit).unwrap();
        }
        let found = runnable(hub.path());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].entry.to_string(), "acme/llama");
        assert!(found[0].tasks.contains(&TEXT_GENERATION));
        assert!(found[0].entry.dir.ends_with(commit));
        assert_eq!(
            found[0].entry.plan(None).unwrap().task,
            TEXT_GENERATION,
            "the entry plans from its folder"
        );
    }

    #[test]
    fn entry_names_split_into_repo_and_file() {
        let (repo, file) = parse_name("org/name:model-Q4_K_M.gguf").unwrap();
        assert_eq!(repo.as_str(), "org/name");
        assert_eq!(file.as_deref(), Some("model-Q4_K_M.gguf"));
        assert_eq!(parse_name("gpt2").unwrap().1, None);
        assert!(parse_name("org/name:").is_err());
        assert!(parse_name("not a repo").is_err());
        let entry = CachedEntry {
            repo,
            file,
            dir: PathBuf::new(),
        };
        assert_eq!(entry.to_string(), "org/name:model-Q4_K_M.gguf");
    }
}
