#!/usr/bin/env bash
# The project's test command (README.md, .ci/run): installs what the tests need
# (scripts/setup.sh: apt packages as root or through sudo, Python packages, test weights; skipped
# with HUBBLE_SKIP_SETUP=1), then formatting, lints, and every test. The audio tests may not
# skip for want of PulseAudio here: setup installed it (HUBBLE_REQUIRE_AUDIO=1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${HUBBLE_SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh
export HUBBLE_REQUIRE_AUDIO="${HUBBLE_REQUIRE_AUDIO:-1}"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
