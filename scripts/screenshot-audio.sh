#!/usr/bin/env bash
# Screenshot of the Try tab's speech view while the microphone records: a private PulseAudio
# (scripts/audio-test-env.sh) whose null-sink monitor is the default input plays the espeak-ng
# fixture in a loop, the app runs offline under Xvfb on a cache holding the tiny Whisper
# fixture, and xdotool opens the model, loads it and presses Record.
#
#   scripts/screenshot-audio.sh [OUT_DIR]     (default /tmp/hubble-shots; writes audio-recording.png)
#
# Needs what scripts/screenshots.sh needs plus pulseaudio, pulseaudio-utils, libasound2-plugins.
# The click positions fit the 1400×900 window at scale 1.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/hubble-shots}
mkdir -p "$out"
cargo build --bin hubble
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    scripts/audio-test-env.sh stop "$work/pulse" || true
    rm -rf "$work"
}
trap cleanup EXIT

# A cache with one Whisper snapshot.
export HF_HOME=$work/hf XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config
unset HF_TOKEN HF_ENDPOINT
repo=$HF_HOME/hub/models--hubble--tiny-whisper
commit=0123456789abcdef0123456789abcdef01234567
mkdir -p "$repo/snapshots/$commit" "$repo/refs"
cp tests/fixtures/tiny/whisper/{config.json,generation_config.json,model.safetensors,tokenizer.json} \
    "$repo/snapshots/$commit/"
printf '%s' "$commit" >"$repo/refs/main"

mkdir -p "$work/pulse"
eval "export $(scripts/audio-test-env.sh start "$work/pulse")"
( while true; do scripts/audio-test-env.sh play "$work/pulse" tests/fixtures/audio/speech.wav; done ) &
pids+=($!)

display=:${DISPLAY_NUMBER:-96}
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=$display
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

target/debug/hubble --offline --renderer wgpu >"$work/hubble.log" 2>&1 &
pids+=($!)
window=$(xdotool search --sync --onlyvisible --name '^Hubble$' | head -1)
xdotool windowsize "$window" 1400 900 windowmove "$window" 0 0
for _ in $(seq 20); do xdotool windowfocus --sync "$window" 2>/dev/null && break; sleep 0.25; done
sleep 3
shot() { import -window root "$out/$1.png"; echo "wrote $out/$1.png"; }
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-1}"; }

xdotool key ctrl+k; sleep 0.3; xdotool type --delay 30 "tiny-whisper"; sleep 2
xdotool key Return; sleep 3
xdotool key ctrl+4; sleep 3
shot audio-try-tab
click "${LOAD_X:-453}" "${LOAD_Y:-185}" 4
shot audio-loaded
click "${RECORD_X:-561}" "${RECORD_Y:-248}" 4
shot audio-recording
