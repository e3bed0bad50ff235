//! The standard Hugging Face cache, read the way huggingface_hub reads it:
//! `models--org--name/{blobs/<etag>, snapshots/<commit>/<path>, refs/<revision>}`.

use std::path::{Component, Path, PathBuf};

pub mod manage;
mod scan;

pub use scan::{CachedModel, cached_models};

use crate::hub::{RepoId, RepoType};

/// One model repository's folder in the hub cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRepo {
    folder: PathBuf,
}

impl CachedRepo {
    /// The cache folder of model `repo` under `hub_cache` (which need not exist).
    pub fn new(hub_cache: &Path, repo: &RepoId) -> CachedRepo {
        CachedRepo::of_type(hub_cache, RepoType::Model, repo)
    }

    /// The cache folder of a repo of any type (`datasets--org--name`).
    pub fn of_type(hub_cache: &Path, repo_type: RepoType, repo: &RepoId) -> CachedRepo {
        CachedRepo {
            folder: hub_cache.join(typed_folder_name(repo_type, repo)),
        }
    }

    /// `models--org--name/`.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The commit a revision points to: a branch or tag through `refs/` (`refs/pr/1` is stored
    /// as `refs/refs/pr/1`), or a full commit hash that has a snapshot.
    pub fn resolve_revision(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) && self.folder.join("snapshots").join(revision).is_dir() {
            return Some(revision.to_string());
        }
        let ref_path = safe_join(&self.folder.join("refs"), revision)?;
        let commit = std::fs::read_to_string(ref_path).ok()?;
        let commit = commit.trim();
        is_commit_hash(commit).then(|| commit.to_string())
    }

    /// The snapshot folder `revision` points to, if it is cached.
    pub fn snapshot_dir(&self, revision: &str) -> Option<PathBuf> {
        let commit = self.resolve_revision(revision)?;
        Some(self.folder.join("snapshots").join(commit))
    }

    /// The cached copy of `path` at `revision`, if it is there.
    pub fn snapshot_file(&self, revision: &str, path: &str) -> Option<PathBuf> {
        let commit = self.resolve_revision(revision)?;
        let file = safe_join(&self.folder.join("snapshots").join(commit), path)?;
        file.is_file().then_some(file)
    }
}

/// `org/name` → `models--org--name`, as huggingface_hub's `repo_folder_name`.
pub fn repo_folder_name(repo: &RepoId) -> String {
    typed_folder_name(RepoType::Model, repo)
}

/// `models--org--name` → `org/name`: the model repository a cache folder holds (`None` for
/// other folders and invalid ids).
pub fn model_repo_of_folder(name: &str) -> Option<RepoId> {
    RepoId::parse(&name.strip_prefix("models--")?.replace("--", "/")).ok()
}

/// `org/name` → `models--org--name`, `datasets--org--name` or `spaces--org--name`.
pub fn typed_folder_name(repo_type: RepoType, repo: &RepoId) -> String {
    format!(
        "{}--{}",
        repo_type.plural(),
        repo.as_str().replace('/', "--")
    )
}

/// Every file under `dir` as (`/`-separated relative path, full path), sorted by path.
/// Symlinked folders are not followed (snapshot entries are links to blob files, not folders);
/// a missing or unreadable folder has no files.
pub fn files_under(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((entry.path(), rel));
            } else {
                out.push((rel, entry.path()));
            }
        }
    }
    out.sort();
    out
}

/// Whether `s` is a full 40-character hex git commit hash.
pub fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Joins a repository-relative path under `base`, refusing absolute paths, `..`, backslashes
/// (a separator on Windows) and NUL, so a hostile file name can never point outside the cache.
pub fn safe_join(base: &Path, relative: &str) -> Option<PathBuf> {
    if relative.contains(['\\', '\0']) {
        return None;
    }
    let relative = Path::new(relative);
    let all_normal = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    (all_normal && !relative.as_os_str().is_empty()).then(|| base.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_match_huggingface_hub() {
        let repo = RepoId::parse("google-bert/bert-base-uncased").unwrap();
        assert_eq!(
            repo_folder_name(&repo),
            "models--google-bert--bert-base-uncased"
        );
        assert_eq!(
            repo_folder_name(&RepoId::parse("gpt2").unwrap()),
            "models--gpt2"
        );
    }

    #[test]
    fn hostile_paths_are_refused() {
        let base = Path::new("/cache/x");
        assert_eq!(
            safe_join(base, "a/b.txt"),
            Some(PathBuf::from("/cache/x/a/b.txt"))
        );
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "a/../../b",
            "",
            "./a/..",
            "..\\..\\x",
            "a\0b",
        ] {
            assert_eq!(safe_join(base, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn resolves_refs_and_snapshot_files() {
        let dir = tempfile::tempdir().unwrap();
        let repo = CachedRepo::new(dir.path(), &RepoId::parse("org/model").unwrap());
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let snapshot = repo.folder().join("snapshots").join(commit);
        std::fs::create_dir_all(&snapshot).unwrap();
        std::fs::write(snapshot.join("README.md"), "# hi").unwrap();
        std::fs::create_dir_all(repo.folder().join("refs/refs/pr")).unwrap();
        std::fs::write(repo.folder().join("refs/main"), commit).unwrap();
        std::fs::write(repo.folder().join("refs/refs/pr/1"), format!("{commit}\n")).unwrap();

        assert_eq!(repo.resolve_revision("main").as_deref(), Some(commit));
        assert_eq!(repo.resolve_revision("refs/pr/1").as_deref(), Some(commit));
        assert_eq!(repo.resolve_revision(commit).as_deref(), Some(commit));
        assert_eq!(repo.resolve_revision("dev"), None);
        assert_eq!(repo.resolve_revision("../../x"), None);
        assert_eq!(
            repo.snapshot_file("main", "README.md"),
            Some(snapshot.join("README.md"))
        );
        assert_eq!(repo.snapshot_file("main", "config.json"), None);
    }
}
