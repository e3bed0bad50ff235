#!/usr/bin/env bash
# tests/fixtures/audio/speech_truncated.mp3: the espeak-ng speech of speech.wav encoded as MP3
# with LAME 3.100 (Debian `lame`; mono, 32 kbit/s CBR, 16 kHz, so 144-byte frames) and cut at
# byte 12000, in the middle of the 84th of its 138 frames (19 872 bytes, no ID3 tag). The
# LAME/Info header still announces the whole 4.9 s, so the decoder meets a file that ends
# earlier than it claims, mid-frame.
#
# Usage: scripts/reference/make_truncated_mp3.sh   (needs lame)
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lame --quiet -m m -b 32 tests/fixtures/audio/speech.wav "$work/full.mp3"
head -c 12000 "$work/full.mp3" >tests/fixtures/audio/speech_truncated.mp3
