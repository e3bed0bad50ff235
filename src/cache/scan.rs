//! Listing what the hub cache holds: the cached model repositories and a snapshot's files.
//! Used where the network is not (the desktop app's offline mode).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{CachedRepo, files_under};
use crate::hub::RepoId;

/// One model repository found in the hub cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedModel {
    /// The repository id, from the folder name (`models--org--name` → `org/name`).
    pub repo: RepoId,
    /// Its `models--org--name/` folder.
    pub folder: PathBuf,
    /// Branches and tags under `refs/` (`main`, `refs/pr/1`, ...), sorted.
    pub refs: Vec<String>,
    /// When the folder last changed (the latest snapshot written), if known.
    pub modified: Option<SystemTime>,
}

/// Every `models--*` repository under `hub_cache`, sorted by id. A missing or unreadable cache
/// is an empty list; folders whose names are not valid repo ids are skipped.
pub fn cached_models(hub_cache: &Path) -> Vec<CachedModel> {
    let Ok(entries) = std::fs::read_dir(hub_cache) else {
        return Vec::new();
    };
    let mut models: Vec<CachedModel> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let repo = super::model_repo_of_folder(&name)?;
            let folder = entry.path();
            let refs = files_under(&folder.join("refs"))
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            let modified = std::fs::metadata(folder.join("snapshots"))
                .and_then(|m| m.modified())
                .ok();
            Some(CachedModel {
                repo,
                folder,
                refs,
                modified,
            })
        })
        .collect();
    models.sort_by(|a, b| a.repo.as_str().cmp(b.repo.as_str()));
    models
}

impl CachedRepo {
    /// The files of the snapshot `revision` points to, as (repo path, size in bytes), sorted by
    /// path; `None` when that revision is not cached. Sizes are the blobs' (links followed).
    pub fn snapshot_files(&self, revision: &str) -> Option<Vec<(String, u64)>> {
        let commit = self.resolve_revision(revision)?;
        let root = self.folder().join("snapshots").join(commit);
        // Sizes are the blobs' (links followed); a dangling link (blob gone) is skipped.
        let files = files_under(&root)
            .into_iter()
            .filter_map(|(path, full)| Some((path, std::fs::metadata(full).ok()?.len())))
            .collect();
        Some(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_cached_models_and_snapshot_files() {
        let dir = tempfile::tempdir().unwrap();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        for id in ["org/model", "gpt2"] {
            let repo = CachedRepo::new(dir.path(), &RepoId::parse(id).unwrap());
            let snapshot = repo.folder().join("snapshots").join(commit);
            std::fs::create_dir_all(snapshot.join("sub")).unwrap();
            std::fs::write(snapshot.join("README.md"), "# hi").unwrap();
            std::fs::write(snapshot.join("sub/a.bin"), [0u8; 10]).unwrap();
            std::fs::create_dir_all(repo.folder().join("refs/refs/pr")).unwrap();
            std::fs::write(repo.folder().join("refs/main"), commit).unwrap();
            std::fs::write(repo.folder().join("refs/refs/pr/1"), commit).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("datasets--x--y")).unwrap();
        std::fs::create_dir_all(dir.path().join("models--bad..name")).unwrap();

        let models = cached_models(dir.path());
        let ids: Vec<&str> = models.iter().map(|m| m.repo.as_str()).collect();
        assert_eq!(ids, ["gpt2", "org/model"]);
        assert_eq!(models[1].refs, ["main", "refs/pr/1"]);
        let files = CachedRepo::new(dir.path(), &models[1].repo)
            .snapshot_files("main")
            .unwrap();
        assert_eq!(
            files,
            [("README.md".to_string(), 4), ("sub/a.bin".to_string(), 10)]
        );
        assert!(cached_models(&dir.path().join("missing")).is_empty());
    }
}
