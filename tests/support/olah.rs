//! Test support: a real `olah` Hugging Face mirror server (PyPI `olah==0.5.4`) serving
//! git repositories made in a temporary directory, fully offline, on 127.0.0.1.
//!
//! A test reaches it as `crate::support::olah`; it needs only `std` and `tempfile`.
//!
//! What olah 0.5.4 does and does not do over such mirrors is written down in
//! `tests/olah/NOTES.md` (statuses, headers, quirks).
//!
//! Repositories: every [`MirrorRepo`] becomes a non-bare git repository at
//! `<tmp>/mirrors/models/<org>/<name>` on branch `main`, with one commit holding its
//! files. Files whose extension is in [`LFS_EXTENSIONS`] (the patterns of the Hub's
//! default `.gitattributes`, e.g. `*.safetensors`, `*.bin`, `*.gguf`) and that are not
//! empty are stored the way git-LFS stores them — a pointer blob in git and the bytes in
//! `.git/lfs/objects/` — without needing the `git-lfs` binary. olah then reports them
//! like the Hub does: `lfs: {oid, size}` in the tree listing and the sha256 as ETag.
//! Everything else is plain git (ETag = git blob sha1).
//!
//! Commits use fixed author/committer dates, so the same files give the same commit.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File};

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::http;
pub use http::{HttpResponse, http_request};

/// The olah version these helpers were written against.
pub const OLAH_VERSION: &str = "0.5.4";
/// How to install olah, for error messages.
pub const INSTALL_HINT: &str = "pip install olah==0.5.4";
/// Set to `1` to let olah-backed tests skip (with a notice) when olah is not installed.
pub const SKIP_ENV: &str = "HUBBLE_SKIP_OLAH";
/// Set to the path of an `olah-cli` executable to use that instead of searching.
pub const CLI_ENV: &str = "HUBBLE_OLAH_CLI";

/// How long `start` waits for olah to answer HTTP.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Fresh ports tried when the one picked was taken before olah bound it.
const PORT_ATTEMPTS: usize = 3;
/// 2024-01-01T00:00:00Z; commit `n` of a server is dated `n` minutes later.
const BASE_EPOCH: u64 = 1_704_067_200;

/// Extensions stored as git-LFS objects (the Hub's default `.gitattributes`).
pub const LFS_EXTENSIONS: &[&str] = &[
    "7z",
    "arrow",
    "bin",
    "bz2",
    "ckpt",
    "ftz",
    "gguf",
    "gz",
    "h5",
    "joblib",
    "mlmodel",
    "model",
    "msgpack",
    "npy",
    "npz",
    "onnx",
    "ot",
    "parquet",
    "pb",
    "pickle",
    "pkl",
    "pt",
    "pth",
    "rar",
    "safetensors",
    "tar",
    "tflite",
    "tgz",
    "wasm",
    "xz",
    "zip",
    "zst",
];

/// A model repository to put on the mirror.
pub struct MirrorRepo<'a> {
    /// `"org/name"`.
    pub id: &'a str,
    /// `(path inside the repo, bytes)`; paths may contain `/` for sub-folders.
    pub files: Vec<(&'a str, Vec<u8>)>,
}

/// A running olah mirror over git repos made in a temp dir; killed on Drop.
pub struct Olah {
    // Field order matters for Drop: the child is killed in `Drop::drop`, then the
    // temp dir is removed when `dir` drops.
    child: Option<Child>,
    port: u16,
    commits: HashMap<String, String>,
    commit_count: u64,
    startup: Duration,
    log_path: PathBuf,
    dir: tempfile::TempDir,
}

#[derive(Clone, Debug)]
struct Launcher {
    program: OsString,
    args: Vec<OsString>,
    describe: String,
}

/// How olah will be run, or why it cannot be: `Err` holds a message naming
/// [`INSTALL_HINT`]. Looked up once per test binary.
fn launcher() -> Result<Launcher, String> {
    static LAUNCHER: OnceLock<Result<Launcher, String>> = OnceLock::new();
    LAUNCHER.get_or_init(find_launcher).clone()
}

fn find_launcher() -> Result<Launcher, String> {
    // 1. An explicit executable.
    if let Some(cli) = std::env::var_os(CLI_ENV).filter(|v| !v.is_empty()) {
        if Path::new(&cli).is_file() {
            return Ok(Launcher {
                describe: format!("{} (from {CLI_ENV})", Path::new(&cli).display()),
                program: cli,
                args: Vec::new(),
            });
        }
        return Err(format!(
            "{CLI_ENV}={} is not a file; unset it or `{INSTALL_HINT}`",
            Path::new(&cli).display()
        ));
    }
    // 2. A Python on PATH that can import olah: `python -m olah.server` is the same
    //    entry point as the `olah-cli` console script.
    let probe = "import importlib.util as u, sys; \
                 sys.exit(0 if u.find_spec('olah') and u.find_spec('olah.server') else 1)";
    for python in ["python3", "python"] {
        let Some(path) = find_on_path(python) else {
            continue;
        };
        let ok = Command::new(&path)
            .args(["-c", probe])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Ok(Launcher {
                describe: format!("{} -m olah.server", path.display()),
                program: path.into_os_string(),
                args: vec!["-m".into(), "olah.server".into()],
            });
        }
    }
    // 3. The console script (e.g. installed with pipx or `pip install --user`).
    if let Some(cli) = find_on_path("olah-cli") {
        return Ok(Launcher {
            describe: cli.display().to_string(),
            program: cli.into_os_string(),
            args: Vec::new(),
        });
    }
    Err(format!(
        "olah (the Hugging Face mirror server used by Hubble's offline Hub tests) is not \
         installed: no python3/python on PATH can import `olah` and there is no `olah-cli` \
         on PATH. Install it with `{INSTALL_HINT}`"
    ))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let names: Vec<String> = if cfg!(windows) {
        vec![format!("{name}.exe"), name.to_string()]
    } else {
        vec![name.to_string()]
    };
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Whether olah can be run here.
pub fn olah_installed() -> bool {
    launcher().is_ok()
}

/// How olah is run here (for messages), or why it cannot be.
pub fn olah_command() -> Result<String, String> {
    launcher().map(|l| l.describe)
}

fn skip_requested() -> bool {
    std::env::var(SKIP_ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

impl Olah {
    /// Makes the repos and starts olah over them; `Err` (with the reason, and the tail
    /// of olah's log when it was started) when olah is not installed or did not come up
    /// within ~30 s. When not installed, the message names `pip install olah==0.5.4`.
    pub fn start(repos: &[MirrorRepo]) -> Result<Olah, String> {
        let launcher = launcher()?;
        let dir = tempfile::Builder::new()
            .prefix("hubble-olah-")
            .tempdir()
            .map_err(|e| format!("cannot make a temp dir: {e}"))?;
        let mut olah = Olah {
            child: None,
            port: 0,
            commits: HashMap::new(),
            commit_count: 0,
            startup: Duration::ZERO,
            log_path: dir.path().join("olah.log"),
            dir,
        };
        fs::create_dir_all(olah.mirrors_path().join("models"))
            .map_err(|e| format!("cannot make the mirrors dir: {e}"))?;
        for repo in repos {
            olah.add_commit(repo)?;
        }

        let began = Instant::now();
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            olah.port = free_port()?;
            olah.write_config()?;
            olah.spawn(&launcher)?;
            match olah.wait_ready() {
                Ok(()) => {
                    olah.startup = began.elapsed();
                    return Ok(olah);
                }
                Err(e) => {
                    olah.kill();
                    let lower = e.to_ascii_lowercase();
                    let port_taken =
                        lower.contains("address already in use") || lower.contains("errno 98");
                    last_error = e;
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        Err(format!(
            "olah ({}) did not start: {last_error}",
            launcher.describe
        ))
    }

    /// For tests: starts olah, or — when olah is not installed — panics with a message
    /// naming `pip install olah==0.5.4`, unless `HUBBLE_SKIP_OLAH=1`, in which case it
    /// prints a notice and returns `None`. Panics when olah is installed but fails.
    pub fn start_for_test(repos: &[MirrorRepo]) -> Option<Olah> {
        if let Err(why) = launcher() {
            if skip_requested() {
                eprintln!("NOTICE: skipping an olah-backed test because {SKIP_ENV} is set: {why}");
                return None;
            }
            panic!("{why}\n(CI installs it; set {SKIP_ENV}=1 to skip olah-backed tests locally.)");
        }
        match Olah::start(repos) {
            Ok(olah) => Some(olah),
            Err(e) => panic!("{e}"),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The git commit sha (40 hex) of `main` of repo `id` ("org/name"), as last committed
    /// by this helper. Panics for an unknown id.
    pub fn commit_of(&self, id: &str) -> String {
        match self.commits.get(id) {
            Some(sha) => sha.clone(),
            None => panic!("no mirror repo {id:?} (known: {:?})", self.commits.keys()),
        }
    }

    /// How long olah took from spawn to answering HTTP.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// `<tmp>/mirrors` (olah's `mirrors-path`).
    pub fn mirrors_path(&self) -> PathBuf {
        self.dir.path().join("mirrors")
    }

    /// The git work tree of repo `id`.
    pub fn repo_dir(&self, id: &str) -> PathBuf {
        let mut p = self.mirrors_path().join("models");
        p.extend(id.split('/'));
        p
    }

    /// Runs `git <args>` in repo `id` and returns its trimmed stdout; panics on failure.
    /// E.g. `olah.git(id, &["rev-parse", "HEAD:README.md"])` is the ETag of a plain file.
    pub fn git(&self, id: &str, args: &[&str]) -> String {
        match run_git(&self.repo_dir(id), args, None) {
            Ok(out) => out,
            Err(e) => panic!("{e}"),
        }
    }

    /// Commits `repo.files` (added or overwritten) on `main` of `repo.id`, creating the
    /// repo if needed, and returns the new commit sha. olah reads the git repos on every
    /// request, so a running server sees the change at once.
    pub fn add_commit(&mut self, repo: &MirrorRepo) -> Result<String, String> {
        validate_id(repo.id)?;
        let dir = self.repo_dir(repo.id);
        if !dir.join(".git").exists() {
            fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
            run_git(&dir, &["-c", "init.defaultBranch=main", "init", "-q"], None)?;
            // Make sure of `main` even with a git older than init.defaultBranch.
            run_git(&dir, &["symbolic-ref", "HEAD", "refs/heads/main"], None)?;
            for (key, value) in [
                ("user.name", "Hubble Test"),
                ("user.email", "test@hubble.invalid"),
                ("commit.gpgsign", "false"),
                ("core.autocrlf", "false"),
            ] {
                run_git(&dir, &["config", key, value], None)?;
            }
        }
        for (path, bytes) in &repo.files {
            validate_path(path)?;
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot make {}: {e}", parent.display()))?;
            }
            let stored: Vec<u8> = if is_lfs_path(path) && !bytes.is_empty() {
                let oid = sha256_hex(bytes);
                let object = dir
                    .join(".git/lfs/objects")
                    .join(&oid[0..2])
                    .join(&oid[2..4])
                    .join(&oid);
                fs::create_dir_all(object.parent().unwrap())
                    .map_err(|e| format!("cannot make the LFS store: {e}"))?;
                fs::write(&object, bytes)
                    .map_err(|e| format!("cannot write {}: {e}", object.display()))?;
                format!(
                    "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {}\n",
                    bytes.len()
                )
                .into_bytes()
            } else {
                bytes.clone()
            };
            fs::write(&target, stored)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
        let date = format!("@{} +0000", BASE_EPOCH + 60 * self.commit_count);
        self.commit_count += 1;
        run_git(&dir, &["add", "-A"], None)?;
        let message = format!("Commit {} of {}", self.commit_count, repo.id);
        run_git(
            &dir,
            &["commit", "-q", "--allow-empty", "-m", &message],
            Some(&date),
        )?;
        let sha = run_git(&dir, &["rev-parse", "HEAD"], None)?;
        self.commits.insert(repo.id.to_string(), sha.clone());
        Ok(sha)
    }

    /// olah's combined stdout/stderr so far.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// One HTTP/1.1 request (`Connection: close`) over `std::net::TcpStream`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, String> {
        http_request(
            self.port,
            method,
            path,
            headers,
            &[],
            Duration::from_secs(30),
        )
    }

    pub fn get(&self, path: &str) -> Result<HttpResponse, String> {
        self.request("GET", path, &[])
    }

    pub fn head(&self, path: &str) -> Result<HttpResponse, String> {
        self.request("HEAD", path, &[])
    }

    fn write_config(&self) -> Result<(), String> {
        let root = self.dir.path();
        let config = format!(
            "[basic]\n\
             host = \"127.0.0.1\"\n\
             port = {port}\n\
             repos-path = {repos}\n\
             mirrors-path = [{mirrors}]\n\
             metadata-cache-ttl = 0\n\
             \n\
             [accessibility]\n\
             offline = true\n\
             \n\
             [[accessibility.proxy]]\n\
             repo = \"*\"\n\
             allow = true\n\
             \n\
             [[accessibility.proxy]]\n\
             repo = \"*/*\"\n\
             allow = true\n\
             \n\
             [[accessibility.cache]]\n\
             repo = \"*/*\"\n\
             allow = true\n",
            port = self.port,
            repos = toml_string(&root.join("repos")),
            mirrors = toml_string(&self.mirrors_path()),
        );
        let path = root.join("olah.toml");
        fs::write(&path, config).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    fn spawn(&mut self, launcher: &Launcher) -> Result<(), String> {
        let root = self.dir.path();
        let log = File::create(&self.log_path)
            .map_err(|e| format!("cannot create {}: {e}", self.log_path.display()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("cannot dup the log file: {e}"))?;
        let mut cmd = Command::new(&launcher.program);
        cmd.args(&launcher.args)
            .arg("--config")
            .arg(root.join("olah.toml"))
            .arg("--log-path")
            .arg(root.join("logs"))
            .current_dir(root)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so Drop can kill anything it forks.
            cmd.process_group(0);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", launcher.describe))?;
        self.child = Some(child);
        Ok(())
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        return Err(format!(
                            "olah exited early ({status}); log tail:\n{}",
                            self.log_tail()
                        ));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(format!("cannot poll olah: {e}")),
                }
            }
            // Any HTTP answer means it is serving (this path answers 404).
            if http_request(
                self.port,
                "GET",
                "/__hubble_ready",
                &[],
                &[],
                Duration::from_secs(2),
            )
            .is_ok()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "olah did not answer HTTP on 127.0.0.1:{} within {} s; log tail:\n{}",
                    self.port,
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        if tail.is_empty() {
            "(empty)".to_string()
        } else {
            tail
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            #[cfg(unix)]
            {
                // The child is not reaped yet, so its pid (= the group id) is still ours.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Olah {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound port: {e}"))?
        .port();
    drop(listener);
    Ok(port)
}

fn toml_string(path: &Path) -> String {
    let mut out = String::from("\"");
    for c in path.to_string_lossy().chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn validate_id(id: &str) -> Result<(), String> {
    let parts: Vec<&str> = id.split('/').collect();
    let ok = parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("repo id {id:?} is not \"org/name\""))
    }
}

fn validate_path(path: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let ok = !path.starts_with('/')
        && !path.contains('\\')
        && parts
            .iter()
            .all(|p| !p.is_empty() && *p != "." && *p != "..")
        && parts[0] != ".git";
    if ok {
        Ok(())
    } else {
        Err(format!("file path {path:?} is not a plain relative path"))
    }
}

fn is_lfs_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            LFS_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext))
        }
        _ => false,
    }
}

/// Runs git in `dir`, isolated from the user's and the system's git config.
fn run_git(dir: &Path, args: &[&str], date: Option<&str>) -> Result<String, String> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env(
            "GIT_CONFIG_GLOBAL",
            if cfg!(windows) { "NUL" } else { "/dev/null" },
        )
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(Stdio::null());
    if let Some(date) = date {
        cmd.env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `git` (is it installed and on PATH?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`git {}` in {} failed ({}): {}",
            args.join(" "),
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Lower-case hex SHA-256 (what olah sends as the ETag of an LFS file).
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (slot, word) in w.iter_mut().zip(block.chunks_exact(4)) {
            *slot = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for (k, wi) in K.iter().zip(w.iter()) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(*wi);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (slot, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *slot = slot.wrapping_add(v);
        }
    }
    h.iter().map(|v| format!("{v:08x}")).collect()
}
