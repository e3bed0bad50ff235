#!/usr/bin/env bash
# Text-to-speech benchmark (not a test): one paragraph through an MMS-TTS-shaped VITS voice
# (random weights, noise scales 0) through `hubble run` and PyTorch transformers side by side; prints a
# Markdown table (copy it into docs/BENCHMARKS.md, section "Text-to-speech").
#
#   scripts/bench-text-to-speech.sh                          # dev build (dependencies at opt-level 2)
#   PROFILE=release scripts/bench-text-to-speech.sh          # release build
#   PYTHON=/path/to/python scripts/bench-text-to-speech.sh   # a Python with torch and transformers
#   RUNS=5 THREADS=2 WORK=/tmp/hubble-bench-tts ...
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-dev}"
cargo build --locked --profile "$profile" --bin hubble
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
work="${WORK:-${TMPDIR:-/tmp}/hubble-bench-tts}"
mkdir -p "$work"
exec "${PYTHON:-python3}" scripts/bench_text_to_speech.py --hubble "target/$dir/hubble" \
  --work "$work" --profile "$profile" --runs "${RUNS:-5}" --threads "${THREADS:-2}"
