//! What a download fetches: the commit a revision resolves to, the repository's files with
//! their sizes and etags (from model info or the tree listing, cached on disk in
//! huggingface_hub's `trees/<commit>.json` format), and the selection made by the request.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{DownloadError, DownloadSpec, fsutil, glob};
use crate::cache::{is_commit_hash, safe_join};
use crate::hub::{HubClient, HubError};

/// One file of the repository at the commit, with what identifies its blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteFile {
    /// Path inside the repository (`/`-separated, validated).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The blob name: the LFS sha256 for LFS files, the git blob id otherwise.
    pub etag: String,
    /// Whether the file is stored in LFS.
    pub lfs: bool,
}

/// huggingface_hub's `trees/<commit>.json` (format_version 1).
#[derive(Debug, Serialize, Deserialize)]
struct TreeCache {
    format_version: u32,
    files: BTreeMap<String, TreeCacheEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TreeCacheEntry {
    size: u64,
    blob_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lfs_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lfs_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xet_hash: Option<String>,
}

/// Reads the cached listing of `commit`, if any tool wrote one.
pub(crate) fn read_tree_cache(repo_folder: &Path, commit: &str) -> Option<Vec<RemoteFile>> {
    let text = std::fs::read(repo_folder.join("trees").join(format!("{commit}.json"))).ok()?;
    let cache: TreeCache = serde_json::from_slice(&text).ok()?;
    if cache.format_version != 1 {
        return None;
    }
    Some(
        cache
            .files
            .into_iter()
            .map(|(path, e)| RemoteFile {
                path,
                size: e.lfs_size.unwrap_or(e.size),
                lfs: e.lfs_sha256.is_some(),
                etag: e.lfs_sha256.unwrap_or(e.blob_id),
            })
            .collect(),
    )
}

/// Writes the listing of `commit` (best effort: it is only an accelerator).
fn write_tree_cache(
    repo_folder: &Path,
    commit: &str,
    files: &[RemoteFile],
    blob_ids: &BTreeMap<String, String>,
) {
    let cache = TreeCache {
        format_version: 1,
        files: files
            .iter()
            .map(|f| {
                let entry = TreeCacheEntry {
                    size: f.size,
                    blob_id: blob_ids
                        .get(&f.path)
                        .cloned()
                        .unwrap_or_else(|| f.etag.clone()),
                    lfs_sha256: f.lfs.then(|| f.etag.clone()),
                    lfs_size: f.lfs.then_some(f.size),
                    xet_hash: None,
                };
                (f.path.clone(), entry)
            })
            .collect(),
    };
    if let Ok(bytes) = serde_json::to_vec_pretty(&cache) {
        let _ = fsutil::atomic_write(
            &repo_folder.join("trees").join(format!("{commit}.json")),
            &bytes,
        );
    }
}

/// The commit and files of `spec.repo` at `revision`, from the network (or from the tree
/// cache when the revision is already a commit). Every path is checked before use.
pub(crate) async fn list_remote(
    client: &HubClient,
    spec: &DownloadSpec,
    repo_folder: &Path,
) -> Result<(String, Vec<RemoteFile>), DownloadError> {
    let revision = spec.revision();
    if is_commit_hash(revision)
        && let Some(files) = read_tree_cache(repo_folder, revision)
    {
        check_paths(&files)?;
        return Ok((revision.to_string(), files));
    }
    let mut blob_ids = BTreeMap::new();
    let (commit, files) = if is_commit_hash(revision) {
        (revision.to_string(), None)
    } else {
        let info = client
            .repo_info(spec.repo_type, &spec.repo, Some(revision))
            .await?;
        let commit = info
            .sha
            .clone()
            .filter(|s| is_commit_hash(s))
            .ok_or_else(|| HubError::InvalidResponse {
                url: client.config().endpoint.clone(),
                detail: format!("repo info for {} has no commit sha", spec.repo),
            })?;
        // Siblings are enough when they carry sizes and blob ids (the Hub with blobs=true).
        let complete = info
            .siblings
            .iter()
            .all(|s| s.size.is_some() && (s.lfs.is_some() || s.blob_id.is_some()));
        let files = complete.then(|| {
            info.siblings
                .iter()
                .map(|s| {
                    if let Some(id) = &s.blob_id {
                        blob_ids.insert(s.path.clone(), id.clone());
                    }
                    RemoteFile {
                        path: s.path.clone(),
                        size: s.lfs.as_ref().map_or(s.size.unwrap_or(0), |l| l.size),
                        etag: s.lfs.as_ref().map_or_else(
                            || s.blob_id.clone().unwrap_or_default(),
                            |l| l.sha256.clone(),
                        ),
                        lfs: s.lfs.is_some(),
                    }
                })
                .collect::<Vec<_>>()
        });
        (commit, files)
    };
    let files = match files {
        Some(files) => files,
        None => {
            let tree = client
                .list_repo_tree(spec.repo_type, &spec.repo, Some(&commit), None, true)
                .await?;
            tree.into_iter()
                .filter(|e| e.kind == "file")
                .map(|e| {
                    if let Some(oid) = &e.oid {
                        blob_ids.insert(e.path.clone(), oid.clone());
                    }
                    RemoteFile {
                        size: e.lfs.as_ref().map_or(e.size, |l| l.size),
                        etag: e.lfs.as_ref().map_or_else(
                            || e.oid.clone().unwrap_or_default(),
                            |l| l.sha256.clone(),
                        ),
                        lfs: e.lfs.is_some(),
                        path: e.path,
                    }
                })
                .collect()
        }
    };
    check_paths(&files)?;
    for file in &files {
        if !is_safe_etag(&file.etag) {
            return Err(HubError::InvalidResponse {
                url: client.config().endpoint.clone(),
                detail: format!("{} has no usable blob id ({:?})", file.path, file.etag),
            }
            .into());
        }
    }
    write_tree_cache(repo_folder, &commit, &files, &blob_ids);
    Ok((commit, files))
}

/// Refuses the whole listing if any name could escape the snapshot folder.
fn check_paths(files: &[RemoteFile]) -> Result<(), DownloadError> {
    let base = Path::new("/");
    match files.iter().find(|f| safe_join(base, &f.path).is_none()) {
        Some(bad) => Err(DownloadError::UnsafePath(bad.path.clone())),
        None => Ok(()),
    }
}

/// An etag usable as a file name: hex digits only (git ids and sha256).
pub(crate) fn is_safe_etag(etag: &str) -> bool {
    !etag.is_empty() && etag.len() <= 128 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The files `spec` asks for: the named ones (all must exist; the missing are returned), else
/// those the include/exclude globs select.
pub(crate) fn select(files: &[RemoteFile], spec: &DownloadSpec) -> (Vec<RemoteFile>, Vec<String>) {
    if !spec.files.is_empty() {
        let mut picked = Vec::new();
        let mut missing = Vec::new();
        for name in &spec.files {
            match files.iter().find(|f| &f.path == name) {
                Some(f) => picked.push(f.clone()),
                None => missing.push(name.clone()),
            }
        }
        picked.dedup_by(|a, b| a.path == b.path);
        return (picked, missing);
    }
    let picked = files
        .iter()
        .filter(|f| glob::selected(&f.path, &spec.include, &spec.exclude))
        .cloned()
        .collect();
    (picked, Vec::new())
}

/// Records that `path` does not exist at `commit` (`.no_exist/<commit>/<path>`), as
/// huggingface_hub does, so offline lookups can tell "missing upstream" from "not cached".
pub(crate) fn mark_missing(repo_folder: &Path, commit: &str, path: &str) {
    if let Some(marker) = safe_join(&repo_folder.join(".no_exist").join(commit), path) {
        if let Some(parent) = marker.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(marker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_cache_round_trips_in_huggingface_hub_format() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            RemoteFile {
                path: "a.json".into(),
                size: 3,
                etag: "ab".repeat(20),
                lfs: false,
            },
            RemoteFile {
                path: "w/m.bin".into(),
                size: 9,
                etag: "cd".repeat(32),
                lfs: true,
            },
        ];
        let mut ids = BTreeMap::new();
        ids.insert("w/m.bin".to_string(), "ef".repeat(20));
        write_tree_cache(dir.path(), "c0", &files, &ids);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("trees/c0.json")).unwrap())
                .unwrap();
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["files"]["w/m.bin"]["blob_id"], "ef".repeat(20));
        assert_eq!(json["files"]["w/m.bin"]["lfs_sha256"], "cd".repeat(32));
        assert!(json["files"]["a.json"].get("lfs_sha256").is_none());
        assert_eq!(read_tree_cache(dir.path(), "c0").unwrap(), files);
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in ["../../x", "/etc/passwd", "a/../../b", "a\\..\\b"] {
            let files = vec![RemoteFile {
                path: bad.into(),
                size: 1,
                etag: "ab".into(),
                lfs: false,
            }];
            assert!(
                matches!(check_paths(&files), Err(DownloadError::UnsafePath(_))),
                "{bad}"
            );
        }
        assert!(!is_safe_etag("../x"));
    }
}
