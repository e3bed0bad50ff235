#!/usr/bin/env bash
# Whisper benchmark (not a test): real-time factor (transcription time / audio length; lower is
# faster) of Hubble and of PyTorch transformers on this CPU, same model folder, same WAV, best of
# RUNS, greedy. Prints a Markdown table for docs/BENCHMARKS.md ("Speech recognition").
#
#   scripts/bench-whisper.sh                                 # the tiny random test checkpoint
#   MODEL=/path/to/whisper-folder LABEL=tiny.en scripts/bench-whisper.sh
#   PROFILE=dev PYTHON=/path/to/python-with-torch RUNS=3 THREADS=2 scripts/bench-whisper.sh
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
cargo build --locked --profile "$profile" --bin hubble
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
exec "${PYTHON:-python3}" scripts/bench_whisper.py --hubble "target/$dir/hubble" \
  --model "${MODEL:-tests/fixtures/tiny/whisper}" --label "${LABEL:-tiny random (2+2 layers, 32 wide)}" \
  --wav "${WAV:-tests/fixtures/audio/speech.wav}" --runs "${RUNS:-3}" --threads "${THREADS:-2}"
