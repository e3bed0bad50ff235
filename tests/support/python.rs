//! Running the repository's Python helper scripts (`tests/python/`) against huggingface_hub,
//! pyarrow, …: installed by `.ci/run`; a machine without them fails loudly unless
//! `HUBBLE_SKIP_PYTHON=1`.

use std::path::Path;
use std::process::Command;

/// `python3 tests/python/SCRIPT ARGS` → stdout; `None` (skip) when python3 lacks `module` and
/// `HUBBLE_SKIP_PYTHON=1`.
pub fn python(module: &str, script: &str, args: &[&str]) -> Option<String> {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("HUBBLE_SKIP_PYTHON").is_ok_and(|v| v == "1") {
            eprintln!("NOTICE: skipping: python3 with {module} is not installed");
            return None;
        }
        panic!(
            "python3 with {module} is needed (pip install -r scripts/requirements-test.txt), \
             or set HUBBLE_SKIP_PYTHON=1"
        );
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new("python3")
        .arg(path)
        .args(args)
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
