#!/usr/bin/env bash
# A private PulseAudio server for the microphone test: a null sink whose monitor is the default
# capture source, so whatever is played into the sink is what ALSA programs (cpal, through
# libasound2-plugins' pulse plugin) record from their default input device.
#
#   scripts/audio-test-env.sh start DIR   start the server; prints PULSE_SERVER=unix:DIR/native
#   scripts/audio-test-env.sh play DIR WAV  play WAV into the null sink (returns when done)
#   scripts/audio-test-env.sh stop DIR    stop the server
#
# Needs: pulseaudio, pulseaudio-utils (pactl, paplay), libasound2-plugins, alsa-utils.
set -euo pipefail
cmd=${1:?usage: audio-test-env.sh start|play|stop DIR [WAV]}
dir=${2:?a folder for the server\'s socket and state}
server="unix:$dir/native"
export PULSE_SERVER=$server PULSE_RUNTIME_PATH=$dir/runtime PULSE_STATE_PATH=$dir/state
export HOME=$dir

case "$cmd" in
start)
    for tool in pulseaudio pactl paplay; do
        command -v "$tool" >/dev/null || {
            echo "audio-test-env: $tool is missing; apt-get install pulseaudio libasound2-plugins alsa-utils" >&2
            exit 3
        }
    done
    mkdir -p "$dir/runtime" "$dir/state"
    # -n: no default.pa (no hardware modules); everything the test needs is loaded here.
    pulseaudio -n --daemonize=no --exit-idle-time=-1 --disallow-exit --use-pid-file=no \
        --log-target=file:"$dir/pulse.log" \
        -L "module-native-protocol-unix auth-anonymous=1 socket=$dir/native" \
        -L "module-null-sink sink_name=hubble_null rate=48000 sink_properties=device.description=Hubble-null" \
        -L "module-always-sink" \
        >/dev/null 2>&1 &
    echo $! >"$dir/pulse.pid"
    for _ in $(seq 1 100); do
        pactl info >/dev/null 2>&1 && break
        sleep 0.1
    done
    pactl info >/dev/null 2>&1 || { echo "audio-test-env: pulseaudio did not start; see $dir/pulse.log" >&2; exit 1; }
    pactl set-default-sink hubble_null
    pactl set-default-source hubble_null.monitor
    echo "PULSE_SERVER=$server"
    ;;
play)
    paplay --device=hubble_null "${3:?a WAV file}"
    ;;
stop)
    if [[ -f "$dir/pulse.pid" ]]; then
        kill "$(cat "$dir/pulse.pid")" 2>/dev/null || true
        rm -f "$dir/pulse.pid"
    fi
    ;;
*)
    echo "usage: audio-test-env.sh start|play|stop DIR [WAV]" >&2
    exit 2
    ;;
esac
