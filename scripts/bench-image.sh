#!/usr/bin/env bash
# Image-classification latency benchmark (not a test): Hubble (candle, examples/bench_image.rs)
# side by side with PyTorch transformers (PIL image processor + forward) on full-size random
# ViT-B/16, ResNet-50 and ConvNeXt-T checkpoints and a real photo; prints a Markdown table (copy
# it into docs/BENCHMARKS.md, section "Image classification").
#
#   scripts/bench-image.sh                          # dev build (dependencies at opt-level 2)
#   PROFILE=release scripts/bench-image.sh          # release build
#   PYTHON=/path/to/python scripts/bench-image.sh   # a Python with torch, transformers, pillow
#   RUNS=10 THREADS=2 WORK=/tmp/hubble-bench-image ...
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-dev}"
cargo build --locked --profile "$profile" --example bench_image
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
work="${WORK:-${TMPDIR:-/tmp}/hubble-bench-image}"
mkdir -p "$work"
exec "${PYTHON:-python3}" scripts/bench_image.py --bench "target/$dir/examples/bench_image" \
  --image tests/fixtures/images/chelsea.png --work "$work" --profile "$profile" \
  --runs "${RUNS:-10}" --threads "${THREADS:-2}"
