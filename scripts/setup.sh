#!/usr/bin/env bash
# Installs what building, running and testing Hubble needs on Debian/Ubuntu, as root or through
# sudo, and skips what is already there (a second run takes a second):
#   build and run: pkg-config, ALSA headers (cpal), fontconfig and a CJK font (model cards)
#   tests:         espeak-ng (speech fixtures), PulseAudio + ALSA's pulse plugin (microphone and
#                  playback tests), Mesa's software Vulkan and Xvfb (GPU-less rendering), the
#                  Python packages of scripts/requirements-test.txt (olah, huggingface_hub, …)
#                  and the real test weights (scripts/fetch-test-weights.sh)
# Usage: scripts/setup.sh [--run-only]
set -euo pipefail
cd "$(dirname "$0")/.."
run_packages=(pkg-config git ca-certificates libasound2-dev fontconfig fonts-wqy-microhei)
test_packages=(espeak-ng pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
    mesa-vulkan-drivers libvulkan1 xvfb xauth python3-pip python3-venv)
packages=("${run_packages[@]}")
[ "${1:-}" = "--run-only" ] || packages+=("${test_packages[@]}")

# Root runs apt-get itself; anyone else through sudo.
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
    as_root=(sudo)
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update
    "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
[ "${1:-}" = "--run-only" ] && exit 0

# Debian 12's pip refuses to touch the system Python (PEP 668) unless told; a root CI machine
# installs there, anyone else into their user site.
pip_flags=(--quiet --disable-pip-version-check)
python3 -m pip install --help | grep -q -- --break-system-packages && pip_flags+=(--break-system-packages)
[ "$(id -u)" -ne 0 ] && pip_flags+=(--user)
if ! python3 - <<'PY' 2>/dev/null
import importlib.metadata as m, re, sys
for line in open("scripts/requirements-test.txt"):
    name = re.split(r"[<>=!~ ]", line.strip(), maxsplit=1)[0]
    if name and not line.startswith("#"):
        m.version(name)
PY
then
    python3 -m pip install "${pip_flags[@]}" -r scripts/requirements-test.txt
fi
bash scripts/fetch-test-weights.sh
