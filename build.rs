//! Build script: the git commit and the enabled inference backends, for `hubble --version`.
//! Without git (a source tarball) the commit is `HUBBLE_GIT_COMMIT` or "unknown"; it never fails.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HUBBLE_GIT_COMMIT");
    let commit = std::env::var("HUBBLE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HUBBLE_GIT_COMMIT={}", commit.trim());
    watch_git_head();

    let mut backends = vec!["cpu"];
    for (feature, name) in [
        ("CARGO_FEATURE_CUDA", "cuda"),
        ("CARGO_FEATURE_METAL", "metal"),
    ] {
        if std::env::var_os(feature).is_some() {
            backends.push(name);
        }
    }
    println!("cargo:rustc-env=HUBBLE_BACKENDS={}", backends.join(", "));
}

/// A git command's trimmed output, or `None` when git or the repository is missing.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// Reruns this script when HEAD moves (a commit, a checkout), also inside a git worktree.
fn watch_git_head() {
    let Some(git_dir) = git(&["rev-parse", "--git-dir"]).map(PathBuf::from) else {
        return;
    };
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    let (Some(common), Some(head_ref)) = (
        git(&["rev-parse", "--git-common-dir"]).map(PathBuf::from),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ) else {
        return;
    };
    for path in [common.join(&head_ref), common.join("packed-refs")] {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
