#!/usr/bin/env bash
# Prefill and decode tok/s of one GGUF on the CPU, on a wgpu adapter (and on CUDA in a CUDA
# build with a GPU), side by side in one
# run, and decode as a fraction of the adapter's measured copy bandwidth (benches/gpu_decode.rs).
# Not a test. On lavapipe (software Vulkan) it only shows that it runs: the real figures come
# from a real GPU.
#
#   scripts/bench-gpu.sh [FILE] [--device wgpu[:N|:NAME]] [--prompt N] [--decode N]
#
# FILE defaults to the test weights' SmolLM2-135M Q4_1 (scripts/fetch-test-weights.sh); the
# device to the best hardware adapter (`hubble system` lists them; wgpu:llvmpipe for lavapipe).
set -euo pipefail
cd "$(dirname "$0")/.."
weights="${HUBBLE_TEST_WEIGHTS:-$HOME/.cache/hubble-test-weights}"
file="$weights/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [[ $# -gt 0 && $1 != --* ]]; then
    file="$1"
    shift
fi
[[ -f $file ]] || { echo "error: $file not found (run scripts/fetch-test-weights.sh)" >&2; exit 1; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
# The release profile by default (a cold fat-LTO build takes ~30 minutes on 2 cores);
# HUBBLE_BENCH_PROFILE=dev for a quick look.
profile="${HUBBLE_BENCH_PROFILE:-release}"
echo "command: cargo bench --profile $profile --bench gpu_decode -- $file $*"
cargo bench --profile "$profile" --bench gpu_decode -- "$file" "$@"
