#!/usr/bin/env bash
# Desktop app benchmark (not a test): start-up to first frame, idle CPU, memory with 1,000
# results loaded, and frame times while scrolling them. Runs the real binary under Xvfb
# (software rendering) against the fixture hub serving 1,000 synthetic repos.
# Results go into docs/BENCHMARKS.md ("Desktop app") by hand.
#
#   scripts/bench-ui.sh            (PROFILE=debug for a debug build; default release)
#
# Needs the packages scripts/screenshots.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build "${flag[@]}" --bin hubble && cargo build "${flag[@]}" -p fixture-hub --bin fixture-hub
bin=target/$profile

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
export HF_HOME=$work/hf XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config
unset HF_TOKEN HF_ENDPOINT HF_HUB_OFFLINE

display=:${DISPLAY_NUMBER:-98}
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=$display
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

"$bin/fixture-hub" --synthetic 1000 >"$work/hub.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/hub.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/hub.log")
tick=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "== start-up to first frame (5 runs; wall = process start to exit after the first frame)"
for i in 1 2 3 4 5; do
    t0=$(date +%s%N)
    line=$("$bin/hubble" --endpoint "$url" --exit-after-first-frame 2>/dev/null | grep 'first frame')
    t1=$(date +%s%N)
    echo "run $i: wall $(( (t1 - t0) / 1000000 )) ms; app: $line"
done

start_app() {
    "$bin/hubble" --endpoint "$url" "$@" >"$work/hubble.log" 2>&1 &
    app=$!
    pids+=($app)
    window=$(xdotool search --sync --name '^Hubble$' | head -1)
    xdotool windowsize "$window" 1400 900 windowmove "$window" 0 0 windowfocus "$window"
    sleep 3
}

echo "== idle CPU over 10 s (after the first page has loaded)"
start_app
before=$(cpu_ticks "$app")
sleep 10
after=$(cpu_ticks "$app")
echo "idle: $(( after - before )) ticks in 10 s = $(awk "BEGIN{printf \"%.2f\", ($after-$before)/$tick/10*100}") % of one core"
echo "RSS with the first page: $(awk '/VmRSS/{print $2, $3}' "/proc/$app/status")"
xdotool key ctrl+q
sleep 1

echo "== RSS after loading 1,000 results, then frame times while scrolling them"
stats=$work/frames.txt
HUBBLE_FRAME_STATS=$stats start_app
xdotool key ctrl+k
sleep 0.3
xdotool type --delay 20 "hubble-synthetic"
sleep 2
for _ in $(seq 24); do xdotool key End; sleep 0.5; done
sleep 1
import -window root "$work/loaded.png"
echo "RSS with 1,000 results: $(awk '/VmRSS/{print $2, $3}' "/proc/$app/status")"
[ -n "${KEEP_SHOT:-}" ] && cp "$work/loaded.png" "$KEEP_SHOT"
xdotool key Home
sleep 1
xdotool mousemove 800 500
scroll_start=$(date +%s.%N)
xdotool click --repeat 400 --delay 8 5
xdotool click --repeat 400 --delay 8 4
scroll_end=$(date +%s.%N)
sleep 0.5
xdotool key ctrl+q
for _ in $(seq 50); do [ -s "$stats" ] && break; sleep 0.1; done
awk -v a="$scroll_start" -v b="$scroll_end" '$1 >= a && $1 <= b {print $2}' "$stats" | sort -n >"$work/scroll.txt"
n=$(wc -l <"$work/scroll.txt")
secs=$(awk "BEGIN{print $scroll_end - $scroll_start}")
pick() { sed -n "$(awk "BEGIN{n=int($n*$1); if (n<1) n=1; print n}")p" "$work/scroll.txt"; }
echo "scrolling: $n frames in ${secs} s ($(awk "BEGIN{printf \"%.1f\", $n/$secs}") fps); CPU per frame p50 $(pick 0.5) ms, p95 $(pick 0.95) ms, max $(tail -1 "$work/scroll.txt") ms"
