#!/usr/bin/env bash
# Vision-language chat benchmark (not a test): one picture and one question through a
# LLaVA-1.5-shaped model (random weights: CLIP ViT-B/16 at 224 px, a Llama in SmolLM2-135M's
# shape) through `hubble run --task image-text-to-text` and PyTorch transformers side by side;
# prints a Markdown table (copy it into docs/BENCHMARKS.md, section "Vision-language chat").
#
#   scripts/bench-vlm.sh                          # dev build (dependencies at opt-level 2)
#   PROFILE=release scripts/bench-vlm.sh          # release build
#   PYTHON=/path/to/python scripts/bench-vlm.sh   # a Python with torch and transformers
#   HUBBLE_BIN=path/to/hubble PROFILE=release ...  # a binary already built (no cargo build)
#   RUNS=3 THREADS=2 TOKENS=32 WORK=/tmp/hubble-bench-vlm ...
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-dev}"
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
binary="${HUBBLE_BIN:-target/$dir/hubble}"
[ -n "${HUBBLE_BIN:-}" ] || cargo build --locked --profile "$profile" --bin hubble
work="${WORK:-${TMPDIR:-/tmp}/hubble-bench-vlm}"
mkdir -p "$work"
exec "${PYTHON:-python3}" scripts/bench_vlm.py --hubble "$binary" \
  --work "$work" --profile "$profile" --runs "${RUNS:-3}" --threads "${THREADS:-2}" \
  --tokens "${TOKENS:-32}"
