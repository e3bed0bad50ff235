//! What can enter a comparison: every cached model (each GGUF file of a repo with several on
//! its own) with the tasks it can run. Reads config.json and GGUF headers, so front ends call
//! it off their UI thread.

use std::path::Path;

use super::Entry;
use crate::cache::{CachedRepo, cached_models};
use crate::infer::{ModelFacts, Task, registry};

/// A cached model, or one GGUF file of it, and the tasks it can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// What would be run.
    pub entry: Entry,
    /// The tasks it can run (never empty).
    pub tasks: Vec<Task>,
}

/// The cached models under `hub_cache` that can run a task, sorted by repo then file. Each
/// model's `main` snapshot is used, else that of its first ref.
pub fn candidates(hub_cache: &Path) -> Vec<Candidate> {
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
            let tasks = registry::supported_tasks(&facts);
            if !tasks.is_empty() {
                let entry = Entry {
                    repo: model.repo.clone(),
                    file,
                    dir: dir.clone(),
                };
                found.push(Candidate { entry, tasks });
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
        let found = candidates(hub.path());
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
}
