//! Runs the real `hubble` binary with a clean Hugging Face environment.
#![allow(dead_code)] // Shared by several test binaries; each uses a part.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The path of `path` under `tests/fixtures`, as an argument.
pub fn fixture(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
        .display()
        .to_string()
}

/// What one run of `hubble` did.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Parses stdout as JSON, failing the test with both streams shown otherwise.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the run succeeded.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.status,
            Some(0),
            "hubble failed:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `hubble ARGS` with HF_HOME in `home`, no token and no inherited HF_* variables;
/// `env` adds variables.
pub fn hubble(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    hubble_with_stdin(home, args, env, "")
}

/// [`hubble`] with `stdin` as its standard input.
pub fn hubble_with_stdin(home: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let mut command = command(home, args, env);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn().expect("the hubble binary runs");
    let mut input = child.stdin.take().expect("a piped stdin");
    // A command that never reads its input closes the pipe early: not a failure here.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("the hubble binary runs");
    Run {
        status: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Runs `hubble ARGS` (HF_HOME in `home`) with stdout a pipe whose reader is already gone, as
/// in `hubble … | head` once head has quit; returns what it did.
#[cfg(unix)]
pub fn hubble_into_closed_pipe(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe() fills two new descriptors; each is owned by exactly one File below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (reader, writer) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    command(home, args, env)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("the hubble binary runs")
}

/// The `hubble ARGS` command with HF_HOME in `home`, no token and no inherited HF_* variables.
fn command(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hubble"));
    for (key, _) in std::env::vars() {
        if key.starts_with("HF_") || key.starts_with("HUGGING") || key == "TRANSFORMERS_OFFLINE" {
            command.env_remove(key);
        }
    }
    command.env("HF_HOME", home).env("HF_HUB_ETAG_TIMEOUT", "5");
    command.envs(env.iter().copied()).args(args);
    command
}

/// Runs `hubble --endpoint ENDPOINT ARGS` with a fresh, empty HF_HOME.
pub fn hubble_at(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().expect("a temp dir");
    let mut full = vec!["--endpoint", endpoint];
    full.extend_from_slice(args);
    hubble(home.path(), &full, env)
}
