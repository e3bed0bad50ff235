#!/usr/bin/env bash
# Decode and prompt speed per GGUF type (not a test): SmolLM2-135M-Instruct, the real Q4_1 file
# and its requantisations by llama.cpp's own quantizer (scripts/make_quants.py: Q4_0, Q8_0,
# Q4_K_M — mostly Q5_0, SmolLM2's 576-wide rows can't take K-quants —, Q6_K), each run by
# Hubble and by llama.cpp (llama-cpp-python) side by side through scripts/bench_infer.py.
# One Markdown table per file on stdout (docs/BENCHMARKS.md, "Inference by GGUF type").
# Then (BIG=1, the default) a random-weights llama-shaped GGUF with 2048-wide rows (~1.2 B
# parameters, scripts/make_big_gguf.py) requantised to Q4_K_M and Q8_0, where the K-quant
# kernels carry the load (BIG_GEN tokens, default 64).
#
#   scripts/bench-quants.sh                         # release build (cargo build --release)
#   HUBBLE_BIN=target/release/hubble PYTHON=/path/to/python RUNS=3 GEN=128 THREADS=2 \
#     QUANTS="Q4_0 Q8_0 Q4_K_M Q6_K" scripts/bench-quants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
bash scripts/fetch-test-weights.sh >/dev/null
weights="${HUBBLE_TEST_WEIGHTS:-$HOME/.cache/hubble-test-weights}"
source_gguf="$weights/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
out="${HUBBLE_QUANTS_DIR:-$HOME/.cache/hubble-bench-quants}"
binary="${HUBBLE_BIN:-target/release/hubble}"
[ -n "${HUBBLE_BIN:-}" ] || cargo build --locked --release --bin hubble
mkdir -p "$out"
# llama.cpp's quantizer logs every tensor on stderr: kept in a file, shown if it fails.
# shellcheck disable=SC2086
"$python" scripts/make_quants.py "$source_gguf" "$out" ${QUANTS:-Q4_0 Q8_0 Q4_K_M Q6_K} \
    > "$out/files.txt" 2> "$out/quantize.log" || { tail -5 "$out/quantize.log" >&2; exit 1; }
mapfile -t files < "$out/files.txt"
for gguf in "$source_gguf" "${files[@]}"; do
    "$python" scripts/bench_infer.py --hubble "$binary" --gguf "$gguf" \
        --runs "${RUNS:-3}" --gen "${GEN:-128}" --threads "${THREADS:-2}"
    echo
done
[ "${BIG:-1}" = 1 ] || exit 0
big="$out/big"
mkdir -p "$big"
big_files=("$big/Q4_K_M/llama-1b-random.Q4_K_M.gguf" "$big/Q8_0/llama-1b-random.Q8_0.gguf")
if [ ! -f "${big_files[0]}" ] || [ ! -f "${big_files[1]}" ]; then
    f16="$big/llama-1b-random.F16.gguf"
    "$python" scripts/make_big_gguf.py "$source_gguf" "$f16" >/dev/null
    "$python" scripts/make_quants.py "$f16" "$big" Q4_K_M Q8_0 >/dev/null 2>> "$out/quantize.log"
    rm -f "$f16"
fi
for gguf in "${big_files[@]}"; do
    "$python" scripts/bench_infer.py --hubble "$binary" --gguf "$gguf" \
        --runs "${RUNS:-3}" --gen "${BIG_GEN:-64}" --threads "${THREADS:-2}"
    echo
done
