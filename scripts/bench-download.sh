#!/usr/bin/env bash
# Download benchmark (not a test): wall time of `hubble download` vs `hf download` (Python
# huggingface_hub) for the same repos from the same loopback fixture hub:
#   hubble-bench/single-1g  one 1,000,000,000-byte LFS file
#   hubble-bench/many-40    40 LFS files of 25,000,000 bytes (1 GB in all)
# Each run starts from an empty HF_HOME; the median of RUNS runs is reported.
#
#   scripts/bench-download.sh               # release build (cold: 15+ minutes)
#   PROFILE=dev scripts/bench-download.sh   # debug build of hubble (dependencies optimised)
#   RUNS=5 PORT=18777 scripts/bench-download.sh
#   BIN_DIR=/path/with/hubble+fixture-hub scripts/bench-download.sh   # prebuilt binaries
# Needs `hf` (pip install huggingface_hub==2.4.0) on PATH. Results go in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${PROFILE:-release}
RUNS=${RUNS:-3}
PORT=${PORT:-18777}
REPOS=${REPOS:-"hubble-bench/single-1g hubble-bench/many-40"}

if [ -n "${BIN_DIR:-}" ]; then
    bin=$BIN_DIR
elif [ "$PROFILE" = release ]; then
    cargo build --release --bin hubble && cargo build --release -p fixture-hub --bin fixture-hub
    bin=target/release
else
    cargo build --bin hubble && cargo build -p fixture-hub --bin fixture-hub
    bin=target/debug
fi
command -v hf >/dev/null || { echo "hf (huggingface_hub) is not on PATH" >&2; exit 1; }

work=$(mktemp -d /tmp/hubble-bench.XXXXXX)
"$bin/fixture-hub" --port "$PORT" --bench-repos > "$work/hub.log" 2>&1 &
hub_pid=$!
trap 'kill $hub_pid 2>/dev/null || true; rm -rf "$work"' EXIT
endpoint="http://127.0.0.1:$PORT"
for _ in $(seq 100); do
    curl -sf "$endpoint/api/models/hubble-bench/many-40/revision/main" >/dev/null && break
    sleep 0.1
done
# The hub hashes its virtual files on first use: do that before timing anything.
for repo in $REPOS; do
    curl -sf "$endpoint/api/models/$repo/revision/main?blobs=true" >/dev/null
done

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "profile=$PROFILE runs=$RUNS cpus=$(nproc) huggingface_hub=$(python3 -c "import huggingface_hub as h; print(h.__version__)")"
printf '%-24s %-8s %10s %10s\n' repo tool median_s MB/s
for repo in $REPOS; do
    for tool in hubble hf; do
        times=()
        for _ in $(seq "$RUNS"); do
            home="$work/home-$tool"
            rm -rf "$home"
            start=$(now)
            if [ "$tool" = hubble ]; then
                HF_HOME="$home" HF_ENDPOINT="$endpoint" "$bin/hubble" download "$repo" --quiet >/dev/null
            else
                HF_HOME="$home" HF_ENDPOINT="$endpoint" HF_HUB_DISABLE_PROGRESS_BARS=1 \
                    HF_HUB_DISABLE_TELEMETRY=1 hf download "$repo" >/dev/null 2>&1
            fi
            end=$(now)
            times+=("$(echo "$end - $start" | bc -l)")
            size=$(du -sb --dereference "$home/hub" | cut -f1)
            [ "$size" -ge 1000000000 ] || { echo "$tool left only $size bytes for $repo" >&2; exit 1; }
        done
        m=$(printf '%s\n' "${times[@]}" | median)
        printf '%-24s %-8s %10.2f %10.0f   (runs: %s)\n' "$repo" "$tool" "$m" \
            "$(echo "1000 / $m" | bc -l)" "$(printf '%.2f ' "${times[@]}")"
    done
done
