//! The real model weights `scripts/fetch-test-weights.sh` puts in `$HUBBLE_TEST_WEIGHTS`
//! (default `~/.cache/hubble-test-weights`). Missing weights fail the test loudly, unless
//! `HUBBLE_SKIP_REAL_WEIGHTS=1` says to skip.
#![allow(dead_code)] // Shared by several test binaries; each uses a part.

use std::path::PathBuf;

/// The folder holding the weights.
pub fn weights_dir() -> PathBuf {
    match std::env::var_os("HUBBLE_TEST_WEIGHTS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/hubble-test-weights"),
    }
}

/// `relative` inside the weights folder, or `None` when real-weight tests are skipped.
pub fn real_weights(relative: &str) -> Option<PathBuf> {
    if std::env::var("HUBBLE_SKIP_REAL_WEIGHTS").is_ok_and(|v| v == "1") {
        eprintln!("HUBBLE_SKIP_REAL_WEIGHTS=1: skipping a test on {relative}");
        return None;
    }
    let path = weights_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-test-weights.sh (or set HUBBLE_TEST_WEIGHTS, or \
         HUBBLE_SKIP_REAL_WEIGHTS=1 to skip)",
        path.display()
    );
    Some(path)
}
