//! Cache management like `hf cache ls/rm/prune/verify`: a full scan (repos, revisions, refs,
//! sizes counting each blob once, access and modification times, as huggingface_hub's
//! `scan_cache_dir`), removal of repos or revisions with the blobs no longer referenced,
//! pruning of detached revisions and unreferenced blobs, and re-hashing blobs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use sha2::Digest;

use super::files_under;

/// One revision (snapshot) of a cached repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevisionReport {
    /// The commit hash (snapshot folder name).
    pub commit: String,
    /// Refs pointing at it (`main`, `refs/pr/1`, tags).
    pub refs: Vec<String>,
    /// Files in the snapshot.
    pub nb_files: usize,
    /// Bytes of its distinct blobs.
    pub size_on_disk: u64,
    /// Latest blob modification (RFC 3339).
    pub last_modified: Option<String>,
    /// The snapshot folder.
    pub snapshot_path: PathBuf,
}

/// One cached repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoReport {
    /// `org/name`.
    pub repo_id: String,
    /// `model`, `dataset` or `space`.
    pub repo_type: String,
    /// Its `models--org--name` folder.
    pub repo_path: PathBuf,
    /// Bytes of the distinct blobs its snapshots reference.
    pub size_on_disk: u64,
    /// Distinct blobs referenced.
    pub nb_files: usize,
    /// Latest blob access (RFC 3339).
    pub last_accessed: Option<String>,
    /// Latest blob modification (RFC 3339).
    pub last_modified: Option<String>,
    /// Every ref name.
    pub refs: Vec<String>,
    /// The snapshots, newest first.
    pub revisions: Vec<RevisionReport>,
    /// Bytes of partial downloads (`*.incomplete`).
    pub incomplete_bytes: u64,
}

/// What [`scan`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheReport {
    /// The hub cache folder.
    pub cache_dir: PathBuf,
    /// Repositories, sorted by type and id.
    pub repos: Vec<RepoReport>,
    /// Sum of the repos' sizes.
    pub size_on_disk: u64,
    /// Folders that could not be read as repos (like huggingface_hub's `warnings`).
    pub warnings: Vec<String>,
}

/// Scans the whole cache. A missing cache folder is an empty report.
pub fn scan(hub_cache: &Path) -> CacheReport {
    let mut repos = Vec::new();
    let mut warnings = Vec::new();
    if let Ok(entries) = std::fs::read_dir(hub_cache) {
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !path.is_dir() || name == "CACHEDIR.TAG" {
                continue;
            }
            match scan_repo(&path) {
                Ok(repo) => repos.push(repo),
                Err(why) => warnings.push(format!("{}: {why}", path.display())),
            }
        }
    }
    repos.sort_by(|a, b| (&a.repo_type, &a.repo_id).cmp(&(&b.repo_type, &b.repo_id)));
    CacheReport {
        cache_dir: hub_cache.to_path_buf(),
        size_on_disk: repos.iter().map(|r| r.size_on_disk).sum(),
        repos,
        warnings,
    }
}

/// `models--org--name` → (`model`, `org/name`).
fn parse_folder_name(name: &str) -> Option<(String, String)> {
    let (kind, id) = name.split_once("--")?;
    let kind = match kind {
        "models" => "model",
        "datasets" => "dataset",
        "spaces" => "space",
        _ => return None,
    };
    Some((kind.to_string(), id.replace("--", "/")))
}

/// The refs of a repo folder: ref name → commit.
fn read_refs(repo: &Path) -> BTreeMap<String, String> {
    files_under(&repo.join("refs"))
        .into_iter()
        .filter_map(|(name, path)| {
            let commit = std::fs::read_to_string(path).ok()?;
            Some((name, commit.trim().to_string()))
        })
        .collect()
}

/// The blob a snapshot entry stands for: its symlink target (first hop), or itself (a copy).
fn blob_of(entry: &Path) -> PathBuf {
    match std::fs::read_link(entry) {
        Ok(target) => {
            let joined = entry.parent().unwrap_or(Path::new("")).join(target);
            normalize(&joined)
        }
        Err(_) => entry.to_path_buf(),
    }
}

/// Resolves `.` and `..` lexically (like Python's `os.path.abspath`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn rfc3339(time: Option<SystemTime>) -> Option<String> {
    time.map(|t| {
        chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

fn scan_repo(repo: &Path) -> Result<RepoReport, String> {
    let name = repo.file_name().unwrap_or_default().to_string_lossy();
    let (repo_type, repo_id) =
        parse_folder_name(&name).ok_or("not a models--/datasets--/spaces-- folder")?;
    let snapshots = repo.join("snapshots");
    if !snapshots.is_dir() {
        return Err("no snapshots folder".into());
    }
    let refs = read_refs(repo);
    let mut blob_stats: HashMap<PathBuf, std::fs::Metadata> = HashMap::new();
    let mut revisions = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&snapshots)
        .map_err(|e| e.to_string())?
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let commit = entry.file_name().to_string_lossy().into_owned();
        let mut blobs = BTreeSet::new();
        let mut nb_files = 0;
        for (_, file) in files_under(&entry.path()) {
            let blob = blob_of(&file);
            let Ok(meta) = std::fs::metadata(&blob) else {
                return Err(format!(
                    "broken symlink {} → {}",
                    file.display(),
                    blob.display()
                ));
            };
            nb_files += 1;
            blob_stats.entry(blob.clone()).or_insert(meta);
            blobs.insert(blob);
        }
        let size = blobs.iter().map(|b| blob_stats[b].len()).sum();
        let modified = blobs
            .iter()
            .filter_map(|b| blob_stats[b].modified().ok())
            .max()
            .or_else(|| entry.metadata().and_then(|m| m.modified()).ok());
        revisions.push(RevisionReport {
            refs: refs
                .iter()
                .filter(|(_, c)| **c == commit)
                .map(|(r, _)| r.clone())
                .collect(),
            commit,
            nb_files,
            size_on_disk: size,
            last_modified: rfc3339(modified),
            snapshot_path: entry.path(),
        });
    }
    revisions.sort_by(|a, b| b.last_modified.cmp(&a.last_modified));
    let incomplete_bytes = std::fs::read_dir(repo.join("blobs"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    Ok(RepoReport {
        repo_id,
        repo_type,
        repo_path: repo.to_path_buf(),
        size_on_disk: blob_stats.values().map(|m| m.len()).sum(),
        nb_files: blob_stats.len(),
        last_accessed: rfc3339(blob_stats.values().filter_map(|m| m.accessed().ok()).max()),
        last_modified: rfc3339(blob_stats.values().filter_map(|m| m.modified().ok()).max()),
        refs: refs.keys().cloned().collect(),
        revisions,
        incomplete_bytes,
    })
}

/// What a removal did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// `org/name@commit` of each revision removed.
    pub revisions: Vec<String>,
    /// Repos removed entirely.
    pub repos: Vec<String>,
    /// Blobs deleted.
    pub blobs: usize,
    /// Bytes freed.
    pub freed_bytes: u64,
    /// Whether nothing was deleted (a preview).
    pub dry_run: bool,
}

/// Why a removal could not be done.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// No such repo or revision in the cache.
    #[error("{0} is not in the cache (see `hubble cache ls`).")]
    NotFound(String),
    /// A file could not be deleted.
    #[error("Could not delete {}: {message}", path.display())]
    Io {
        /// What failed.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
}

fn find_repo(hub_cache: &Path, repo_id: &str) -> Option<RepoReport> {
    let id = repo_id.trim();
    let (kind, id) = match id.split_once('/') {
        Some((k @ ("models" | "datasets" | "spaces"), rest)) if rest.contains('/') => {
            (Some(k.trim_end_matches('s').to_string()), rest)
        }
        _ => (None, id),
    };
    scan(hub_cache)
        .repos
        .into_iter()
        .filter(|r| kind.as_deref().is_none_or(|k| r.repo_type == k))
        .find(|r| r.repo_id == id)
}

fn remove_path(path: &Path, dry_run: bool) -> Result<(), CacheError> {
    if dry_run {
        return Ok(());
    }
    let result = if path.is_dir() && !path.is_symlink() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CacheError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Removes a repo (`revision` = None) or one revision of it (a commit or a ref), and the blobs
/// no other revision references; a repo left without revisions is removed entirely.
pub fn remove(
    hub_cache: &Path,
    repo_id: &str,
    revision: Option<&str>,
    dry_run: bool,
) -> Result<Removal, CacheError> {
    let repo = find_repo(hub_cache, repo_id).ok_or_else(|| CacheError::NotFound(repo_id.into()))?;
    let commits: Vec<String> = match revision {
        None => repo.revisions.iter().map(|r| r.commit.clone()).collect(),
        Some(rev) => {
            let commit = repo
                .revisions
                .iter()
                .find(|r| r.commit == rev || r.refs.iter().any(|x| x == rev))
                .map(|r| r.commit.clone())
                .ok_or_else(|| CacheError::NotFound(format!("{repo_id}@{rev}")))?;
            vec![commit]
        }
    };
    remove_revisions(hub_cache, &repo, &commits, dry_run)
}

fn remove_revisions(
    hub_cache: &Path,
    repo: &RepoReport,
    commits: &[String],
    dry_run: bool,
) -> Result<Removal, CacheError> {
    let mut removal = Removal {
        dry_run,
        ..Removal::default()
    };
    let folder = &repo.repo_path;
    let remaining: Vec<&RevisionReport> = repo
        .revisions
        .iter()
        .filter(|r| !commits.contains(&r.commit))
        .collect();
    if remaining.is_empty() {
        removal.freed_bytes = dir_size(folder);
        removal.blobs = std::fs::read_dir(folder.join("blobs"))
            .map(|d| d.count())
            .unwrap_or(0);
        removal.repos.push(repo.repo_id.clone());
        removal.revisions = commits
            .iter()
            .map(|c| format!("{}@{c}", repo.repo_id))
            .collect();
        remove_path(folder, dry_run)?;
        if let Some(name) = folder.file_name() {
            remove_path(&hub_cache.join(".locks").join(name), dry_run)?;
        }
        return Ok(removal);
    }
    let kept: BTreeSet<PathBuf> = remaining
        .iter()
        .flat_map(|r| files_under(&r.snapshot_path))
        .map(|(_, f)| blob_of(&f))
        .collect();
    let mut doomed = BTreeSet::new();
    for commit in commits {
        let snapshot = folder.join("snapshots").join(commit);
        for (_, file) in files_under(&snapshot) {
            let blob = blob_of(&file);
            if !kept.contains(&blob) && blob.starts_with(folder.join("blobs")) {
                doomed.insert(blob);
            }
        }
        remove_path(&snapshot, dry_run)?;
        remove_path(&folder.join(".no_exist").join(commit), dry_run)?;
        remove_path(
            &folder.join("trees").join(format!("{commit}.json")),
            dry_run,
        )?;
        for (name, target) in read_refs(folder) {
            if &target == commit {
                remove_path(&folder.join("refs").join(name), dry_run)?;
            }
        }
        removal.revisions.push(format!("{}@{commit}", repo.repo_id));
    }
    for blob in doomed {
        removal.freed_bytes += std::fs::metadata(&blob).map(|m| m.len()).unwrap_or(0);
        removal.blobs += 1;
        remove_path(&blob, dry_run)?;
    }
    Ok(removal)
}

fn dir_size(dir: &Path) -> u64 {
    files_under(dir)
        .into_iter()
        .filter_map(|(_, p)| std::fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Removes detached revisions (no ref points at them) of every repo, and blobs no snapshot
/// references. Partial downloads (`*.incomplete`) are kept: they resume.
pub fn prune(hub_cache: &Path, dry_run: bool) -> Result<Removal, CacheError> {
    let mut total = Removal {
        dry_run,
        ..Removal::default()
    };
    for repo in scan(hub_cache).repos {
        let detached: Vec<String> = repo
            .revisions
            .iter()
            .filter(|r| r.refs.is_empty())
            .map(|r| r.commit.clone())
            .collect();
        if !detached.is_empty() {
            let removal = remove_revisions(hub_cache, &repo, &detached, dry_run)?;
            merge(&mut total, removal);
            if !repo.repo_path.exists() || dry_run && detached.len() == repo.revisions.len() {
                continue;
            }
        }
        // Blobs nothing references any more.
        let referenced: BTreeSet<PathBuf> = repo
            .revisions
            .iter()
            .filter(|r| !detached.contains(&r.commit))
            .flat_map(|r| files_under(&r.snapshot_path))
            .map(|(_, f)| blob_of(&f))
            .collect();
        let blobs_dir = repo.repo_path.join("blobs");
        for (name, blob) in files_under(&blobs_dir) {
            if name.contains(".incomplete") || referenced.contains(&normalize(&blob)) {
                continue;
            }
            // Already counted when its detached revision went.
            if !dry_run && !blob.exists() {
                continue;
            }
            total.freed_bytes += std::fs::metadata(&blob).map(|m| m.len()).unwrap_or(0);
            total.blobs += 1;
            remove_path(&blob, dry_run)?;
        }
    }
    Ok(total)
}

fn merge(total: &mut Removal, part: Removal) {
    total.revisions.extend(part.revisions);
    total.repos.extend(part.repos);
    total.blobs += part.blobs;
    total.freed_bytes += part.freed_bytes;
}

/// One blob whose content does not match its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadBlob {
    /// The repository.
    pub repo_id: String,
    /// The blob file.
    pub path: PathBuf,
    /// `sha256`, `git blob sha1`, or `missing`.
    pub algorithm: String,
    /// The blob's name.
    pub expected: String,
    /// What the content hashes to (empty when missing).
    pub actual: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Blobs re-hashed.
    pub checked: usize,
    /// Bytes read.
    pub checked_bytes: u64,
    /// Blobs whose name is neither a sha256 nor a git sha1 (not checked).
    pub skipped: usize,
    /// Mismatches and missing blobs.
    pub bad: Vec<BadBlob>,
}

/// Re-hashes the blobs of every repo (or of those in `only`): 64-hex names as sha256, 40-hex
/// names as git blob sha1s.
pub fn verify(hub_cache: &Path, only: &[String]) -> Result<VerifyReport, CacheError> {
    let mut report = VerifyReport::default();
    let repos = scan(hub_cache).repos;
    for wanted in only {
        if !repos.iter().any(|r| &r.repo_id == wanted) {
            return Err(CacheError::NotFound(wanted.clone()));
        }
    }
    for repo in repos
        .iter()
        .filter(|r| only.is_empty() || only.contains(&r.repo_id))
    {
        for (name, blob) in files_under(&repo.repo_path.join("blobs")) {
            if name.contains('.') || name.contains('/') {
                continue; // partial downloads and their sidecars
            }
            let hex = name.bytes().all(|b| b.is_ascii_hexdigit());
            let algorithm = match name.len() {
                64 if hex => "sha256",
                40 if hex => "git blob sha1",
                _ => {
                    report.skipped += 1;
                    continue;
                }
            };
            let actual = hash_file(&blob, algorithm == "sha256").unwrap_or_default();
            report.checked += 1;
            report.checked_bytes += std::fs::metadata(&blob).map(|m| m.len()).unwrap_or(0);
            if actual != name.to_ascii_lowercase() {
                report.bad.push(BadBlob {
                    repo_id: repo.repo_id.clone(),
                    path: blob.clone(),
                    algorithm: algorithm.to_string(),
                    expected: name.clone(),
                    actual,
                });
            }
        }
    }
    Ok(report)
}

/// sha256 of a file, or git's blob sha1 (`sha1("blob <len>\0" + bytes)`), in hex.
pub fn hash_file(path: &Path, sha256: bool) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut buf = vec![0u8; 1 << 20];
    let mut s256 = sha2::Sha256::new();
    let mut s1 = sha1_smol::Sha1::new();
    if !sha256 {
        s1.update(format!("blob {len}\0").as_bytes());
    }
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if sha256 {
            s256.update(&buf[..n]);
        } else {
            s1.update(&buf[..n]);
        }
    }
    Ok(if sha256 {
        s256.finalize().iter().map(|b| format!("{b:02x}")).collect()
    } else {
        s1.digest().to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn link(repo: &Path, commit: &str, file: &str, blob: &str) {
        let pointer = repo.join("snapshots").join(commit).join(file);
        std::fs::create_dir_all(pointer.parent().unwrap()).unwrap();
        let depth = file.split('/').count() + 1;
        let target = format!("{}blobs/{blob}", "../".repeat(depth));
        std::os::unix::fs::symlink(target, pointer).unwrap();
    }

    #[test]
    fn scan_rm_prune_verify() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("models--org--m");
        let (c1, c2) = ("1".repeat(40), "2".repeat(40));
        let sha = hash_file_of("weights");
        put(&repo.join("blobs").join(&sha), "weights");
        let git = git_sha1_of("cfg");
        put(&repo.join("blobs").join(&git), "cfg");
        put(&repo.join("blobs").join("3".repeat(40)), "old");
        put(&repo.join("blobs").join("f".repeat(64)), "orphan");
        link(&repo, &c1, "w/model.bin", &sha);
        link(&repo, &c1, "config.json", &git);
        link(&repo, &c2, "config.json", &"3".repeat(40));
        put(&repo.join("refs/main"), &c1);

        let report = scan(dir.path());
        assert_eq!(report.repos.len(), 1);
        let r = &report.repos[0];
        assert_eq!(
            (r.repo_id.as_str(), r.repo_type.as_str()),
            ("org/m", "model")
        );
        assert_eq!(r.size_on_disk, 7 + 3 + 3);
        assert_eq!(
            r.revisions.iter().find(|v| v.commit == c1).unwrap().refs,
            ["main"]
        );

        let checked = verify(dir.path(), &[]).unwrap();
        assert_eq!(checked.checked, 4);
        assert_eq!(checked.bad.len(), 2, "{checked:?}"); // "old" and "orphan" are misnamed

        let pruned = prune(dir.path(), false).unwrap();
        assert_eq!(pruned.revisions, [format!("org/m@{c2}")]);
        assert_eq!(pruned.blobs, 2);
        assert!(!repo.join("blobs").join("f".repeat(64)).exists());
        assert!(repo.join("blobs").join(&sha).exists());

        assert!(matches!(
            remove(dir.path(), "org/x", None, false),
            Err(CacheError::NotFound(_))
        ));
        let removed = remove(dir.path(), "org/m", Some("main"), false).unwrap();
        assert_eq!(removed.repos, ["org/m"]);
        assert!(!repo.exists());
    }

    fn hash_file_of(text: &str) -> String {
        sha2::Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn git_sha1_of(text: &str) -> String {
        let mut h = sha1_smol::Sha1::new();
        h.update(format!("blob {}\0{text}", text.len()).as_bytes());
        h.digest().to_string()
    }
}
