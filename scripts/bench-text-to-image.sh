#!/usr/bin/env bash
# Text-to-image benchmark (not a test): one 512 × 512 SD-Turbo-shaped picture (1 step, guidance
# 0, random weights) through `hubble run` and through PyTorch diffusers side by side; prints a
# Markdown table (copy it into docs/BENCHMARKS.md, section "Text-to-image").
#
#   scripts/bench-text-to-image.sh                          # dev build (dependencies at opt-level 2)
#   PROFILE=release scripts/bench-text-to-image.sh          # release build
#   PYTHON=/path/to/python scripts/bench-text-to-image.sh   # a Python with torch, diffusers, transformers
#   RUNS=3 THREADS=2 WORK=/tmp/hubble-bench-t2i ...
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-dev}"
cargo build --locked --profile "$profile" --bin hubble
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
work="${WORK:-${TMPDIR:-/tmp}/hubble-bench-t2i}"
mkdir -p "$work"
exec "${PYTHON:-python3}" scripts/bench_text_to_image.py --hubble "target/$dir/hubble" \
  --work "$work" --profile "$profile" --runs "${RUNS:-3}" --threads "${THREADS:-2}"
