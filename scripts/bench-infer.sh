#!/usr/bin/env bash
# Inference benchmark (not a test): prompt and decode tokens/s of SmolLM2-135M-Instruct Q4_1 on
# this CPU, Hubble (candle, `hubble run`) side by side with llama.cpp (llama-cpp-python) on the
# same GGUF and the same prompt, plus Hubble's peak RSS. Results go to stdout as a Markdown table
# (copy it into docs/BENCHMARKS.md, section "Inference").
#
#   scripts/bench-infer.sh                 # release build (cargo build --release)
#   PROFILE=dev scripts/bench-infer.sh     # the dev build (dependencies at opt-level 2)
#   PYTHON=/path/to/python scripts/bench-infer.sh   # a Python with llama-cpp-python installed
#   TORCH_PYTHON=/path/to/python ...   # a Python with torch + transformers (embeddings table)
#   HUBBLE_BIN=/path/to/hubble ...     # use this binary instead of building one
#   RUNS=3 GEN=128 THREADS=2 ...
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
bash scripts/fetch-test-weights.sh >/dev/null
weights="${HUBBLE_TEST_WEIGHTS:-$HOME/.cache/hubble-test-weights}"
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
binary="${HUBBLE_BIN:-target/$dir/hubble}"
[ -n "${HUBBLE_BIN:-}" ] || cargo build --locked --profile "$profile" --bin hubble
exec "${PYTHON:-python3}" scripts/bench_infer.py \
  --hubble "$binary" --profile "$profile" \
  --minilm "$weights/all-MiniLM-L6-v2" ${TORCH_PYTHON:+--torch-python "$TORCH_PYTHON"} \
  --gguf "$weights/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
  --runs "${RUNS:-3}" --gen "${GEN:-128}" --threads "${THREADS:-2}"
