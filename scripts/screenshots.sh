#!/usr/bin/env bash
# Screenshots of the desktop app: starts the fixture hub and the real `hubble` binary under Xvfb
# (software rendering: lavapipe through wgpu), drives it with xdotool and writes PNGs of the
# search view, a model page with a table-heavy card and CJK cards into a folder.
#
#   scripts/screenshots.sh [OUT_DIR]        (default /tmp/hubble-shots)
#
# Needs: xvfb xauth mesa-vulkan-drivers libvulkan1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0
# libxcursor1 libxrandr2 libxi6 imagemagick x11-apps xdotool, and a CJK font
# (fonts-wqy-microhei or fonts-noto-cjk). PROFILE=release uses a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/hubble-shots}
profile=${PROFILE:-debug}
mkdir -p "$out"

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

# Isolated state: no real token, settings or cache are read or written.
export HF_HOME=$work/hf XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config
unset HF_TOKEN HF_ENDPOINT HF_HUB_OFFLINE

display=:${DISPLAY_NUMBER:-97}
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=$display
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

"$bin/fixture-hub" >"$work/hub.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/hub.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/hub.log")

"$bin/hubble" --endpoint "$url" >"$work/hubble.log" 2>&1 &
pids+=($!)
window=$(xdotool search --sync --onlyvisible --name '^Hubble$' | head -1)
xdotool windowsize "$window" 1400 900 windowmove "$window" 0 0
# Focus can fail while a slow (software-rendered) window is still being mapped: retry.
for _ in $(seq 20); do xdotool windowfocus --sync "$window" 2>/dev/null && break; sleep 0.25; done
sleep 3

shot() { import -window root "$out/$1.png"; echo "wrote $out/$1.png"; }
search_for() {
    xdotool key ctrl+k
    sleep 0.3
    xdotool type --delay 30 "$1"
    sleep 3
}
open_first() {
    xdotool key Return
    sleep "${1:-3}"
}

# 1. The search view: trending results, then a query.
search_for "bert"
shot search

# 2. A table-heavy card (NVIDIA Nemotron: benchmark tables), scrolled to its tables.
search_for "Nemotron"
open_first 4
shot model-card
xdotool mousemove 800 600
for _ in $(seq 14); do xdotool click 5; sleep 0.05; done
sleep 1
shot model-card-tables

# 3. CJK cards: Chinese (Qwen-72B, with HTML tables) and Korean (KPFBERT).
search_for "Qwen-72B"
open_first 4
shot cjk-chinese
search_for "kpfbert"
open_first 4
shot cjk-korean

# 4. The Files tab of a repo with folders and LFS files (Ctrl+2 switches to it).
search_for "hubble-tests/tiny-model"
xdotool key Down
open_first 3
xdotool key ctrl+2
sleep 1
shot model-files
