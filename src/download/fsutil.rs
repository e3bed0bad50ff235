//! Filesystem pieces of the cache writer: huggingface_hub-compatible lock files, free space,
//! relative snapshot symlinks (copies where symlinks fail), refs and atomic small writes.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An exclusive `flock` on `<cache>/.locks/models--org--name/<etag>.lock`, the lock
/// huggingface_hub's `WeakFileLock` (the `filelock` package's `UnixFileLock`) takes, so the two
/// never write the same blob at once. Released when dropped; the file stays, as filelock leaves it.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits for the lock, polling so that the wait can be cancelled by dropping the future.
    pub async fn acquire(path: &Path) -> std::io::Result<FileLock> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let file = open_lock_file(path)?;
        loop {
            if try_flock(&file)? {
                return Ok(FileLock { file });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor this struct owns; closing would release it anyway.
            unsafe {
                libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
            }
        }
    }
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o664); // as huggingface_hub's WeakFileLock, for shared caches
    }
    options.open(path)
}

#[cfg(unix)]
fn try_flock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a valid open descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(code) if code == libc::EWOULDBLOCK || code == libc::EINTR => Ok(false),
        // Filesystems without flock (some network mounts): proceed unlocked, as WeakFileLock's
        // soft fallback effectively does for a single writer.
        Some(code) if code == libc::ENOLCK || code == libc::ENOSYS || code == libc::EOPNOTSUPP => {
            Ok(true)
        }
        _ => Err(error),
    }
}

#[cfg(not(unix))]
fn try_flock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// Bytes available to an unprivileged user on the filesystem holding `path` (or its nearest
/// existing ancestor); `None` when it cannot be told.
pub fn free_space(path: &Path) -> Option<u64> {
    let mut probe = Some(path);
    while let Some(p) = probe {
        if p.exists() {
            return statvfs_available(p);
        }
        probe = p.parent();
    }
    None
}

#[cfg(unix)]
fn statvfs_available(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into a zeroed struct we own; the path is NUL-terminated.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path.as_ptr(), &mut stat) != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
    }
}

#[cfg(not(unix))]
fn statvfs_available(_path: &Path) -> Option<u64> {
    None
}

/// The relative symlink target from `snapshots/<commit>/<repo_path>` to `blobs/<etag>`:
/// one `..` per folder between the pointer and the repo folder.
pub fn relative_blob_target(repo_path: &str, etag: &str) -> PathBuf {
    let depth = repo_path.split('/').count() + 1; // the commit folder and sub-folders
    let mut target = PathBuf::new();
    for _ in 0..depth {
        target.push("..");
    }
    target.join("blobs").join(etag)
}

/// Makes `pointer` (a snapshot entry) point at `blob` with a relative symlink, replacing what
/// was there; where symlinks are impossible, copies the blob instead. Returns whether it copied.
pub fn link_pointer(
    blob: &Path,
    pointer: &Path,
    repo_path: &str,
    etag: &str,
) -> std::io::Result<bool> {
    if let Some(parent) = pointer.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::symlink_metadata(pointer) {
        Ok(_) => fs::remove_file(pointer)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    #[cfg(unix)]
    {
        match std::os::unix::fs::symlink(relative_blob_target(repo_path, etag), pointer) {
            Ok(()) => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(_) => {} // e.g. a filesystem without symlinks: fall back to a copy
        }
    }
    #[cfg(not(unix))]
    let _ = (repo_path, etag);
    let partial = pointer.with_extension("hubble-copy");
    fs::copy(blob, &partial)?;
    fs::rename(&partial, pointer)?;
    Ok(true)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see half.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!("{name}.{}.tmp", std::process::id()));
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
    }
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Records `revision → commit` in `refs/` (`refs/pr/1` as `refs/refs/pr/1`), like
/// huggingface_hub: nothing for a commit hash, no newline, only written when it changed.
pub fn write_ref(repo_folder: &Path, revision: &str, commit: &str) -> std::io::Result<()> {
    if revision == commit {
        return Ok(());
    }
    let Some(path) = crate::cache::safe_join(&repo_folder.join("refs"), revision) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("unsafe revision name {revision:?}"),
        ));
    };
    if fs::read_to_string(&path).is_ok_and(|old| old == commit) {
        return Ok(());
    }
    atomic_write(&path, commit.as_bytes())
}

/// Reads exactly `buf.len()` bytes at `offset` without moving a shared cursor, so several range
/// streams can use one file handle at once.
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// Writes all of `buf` at `offset` (see [`read_exact_at`]).
pub fn write_all_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_write(
                file,
                &buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_are_relative_to_the_pointer() {
        assert_eq!(
            relative_blob_target("config.json", "abc"),
            PathBuf::from("../../blobs/abc")
        );
        assert_eq!(
            relative_blob_target("onnx/sub/model.onnx", "abc"),
            PathBuf::from("../../../../blobs/abc")
        );
    }

    #[test]
    fn links_refs_and_locks() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("models--a--b");
        let blob = repo.join("blobs/e1");
        fs::create_dir_all(blob.parent().unwrap()).unwrap();
        fs::write(&blob, "hi").unwrap();
        let pointer = repo.join("snapshots/c0/sub/x.txt");
        assert!(!link_pointer(&blob, &pointer, "sub/x.txt", "e1").unwrap());
        assert_eq!(fs::read_to_string(&pointer).unwrap(), "hi");
        assert!(
            fs::symlink_metadata(&pointer)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        write_ref(&repo, "refs/pr/1", "c0").unwrap();
        assert_eq!(
            fs::read_to_string(repo.join("refs/refs/pr/1")).unwrap(),
            "c0"
        );
        assert!(write_ref(&repo, "../x", "c0").is_err());
        assert!(free_space(&repo.join("missing/deeper")).unwrap() > 0);

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let path = dir.path().join(".locks/models--a--b/e1.lock");
            let lock = FileLock::acquire(&path).await.unwrap();
            let second = tokio::time::timeout(Duration::from_millis(200), FileLock::acquire(&path));
            assert!(second.await.is_err(), "a second flock must wait");
            drop(lock);
            FileLock::acquire(&path).await.unwrap();
        });
    }
}
