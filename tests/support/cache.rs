//! Hugging Face cache folders made for a test: a snapshot of links to real files, with
//! `refs/main` pointing at it.
#![allow(dead_code)] // Shared by several test binaries; each uses a part.

use std::path::{Path, PathBuf};

/// The commit every test snapshot is filed under.
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Files `repo` (`org/name`) in the hub cache `hub` with a link to each file of `source` (a
/// folder, or one file); returns the snapshot folder.
pub fn install(hub: &Path, repo: &str, source: &Path) -> PathBuf {
    let folder = hub.join(format!("models--{}", repo.replace('/', "--")));
    let snapshot = folder.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), COMMIT).unwrap();
    let files: Vec<PathBuf> = if source.is_dir() {
        std::fs::read_dir(source)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect()
    } else {
        vec![source.to_path_buf()]
    };
    for file in files {
        let link = snapshot.join(file.file_name().unwrap());
        if !link.exists() {
            std::os::unix::fs::symlink(&file, &link).unwrap();
        }
    }
    snapshot
}
