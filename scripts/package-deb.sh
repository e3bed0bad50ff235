#!/usr/bin/env bash
# Builds the .deb from an already built binary (no second build), installs it with dpkg, and
# checks the installed package: `/usr/bin/hubble --version`, desktop-file-validate, appstreamcli
# validate, the icons and the hubble:// handler, then launches the installed app under Xvfb
# until its first frame (`--exit-after-first-frame`, exit code 0), plain and with a link.
#
#   scripts/package-deb.sh                  (target/debug/hubble: what the tests built)
#   BINARY=target/release/hubble scripts/package-deb.sh
#
# The binary is stripped into a staging target dir whose release/hubble cargo-deb packages
# (`cargo deb --no-build`), so nothing is compiled here unless target/debug/hubble is missing.
# Installing needs root (CI runs as root). As root with apt-get, the packages it needs are
# installed first: dpkg-dev (dpkg-shlibdeps for `$auto`), desktop-file-utils, appstream, Xvfb
# and Mesa's software Vulkan/GL. cargo-deb is installed with `cargo install` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BINARY:-target/debug/hubble}
export DEBIAN_FRONTEND=noninteractive

packages=(dpkg-dev desktop-file-utils appstream xvfb xauth x11-utils mesa-vulkan-drivers
    libvulkan1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6
    libwayland-client0 libwayland-egl1 libfontconfig1)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y --no-install-recommends "${packages[@]}" \
        || { apt-get update && apt-get install -y --no-install-recommends "${packages[@]}"; }
fi
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --locked --version "^3"
fi

# The binary: the one already built; only built here when it is missing.
if [ ! -x "$bin" ]; then
    cargo build --locked --bin hubble
fi
out=target/debian
rm -f "$out"/hubble_*.deb
# cargo-deb takes the binary from <target dir>/release/ (its `dev` profile is deprecated) and
# leaves it unstripped when the release profile strips: stage a stripped copy there.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/release"
strip -o "$stage/release/hubble" "$bin"
CARGO_TARGET_DIR=$stage cargo deb --no-build --locked --output "$out/"
deb=$(ls "$out"/hubble_*.deb)
echo "package-deb: built $deb ($(stat -c %s "$deb") bytes; stripped binary $(stat -c %s "$stage/release/hubble") bytes)"
dpkg-deb --info "$deb" | sed -n 's/^ \(Depends\|Installed-Size\):/  \1:/p'

if [ "$(id -u)" != 0 ]; then
    echo "package-deb: not root, so the package is built but not installed or checked"
    exit 0
fi
dpkg -i "$deb" || { apt-get install -f -y --no-install-recommends && dpkg -s hubble >/dev/null; }

version=$(/usr/bin/hubble --version)
echo "package-deb: $version"
pattern='^hubble [0-9.]+ \(commit ([0-9a-f]+|unknown); backends: cpu'
[[ $version =~ $pattern ]] || { echo "package-deb: unexpected --version output" >&2; exit 1; }

desktop=/usr/share/applications/io.github.hubble.Hubble.desktop
desktop-file-validate "$desktop"
appstreamcli validate --no-net /usr/share/metainfo/io.github.hubble.Hubble.metainfo.xml
for size in 16x16 24x24 32x32 48x48 64x64 128x128 256x256 512x512; do
    test -s "/usr/share/icons/hicolor/$size/apps/hubble.png"
done
test -s /usr/share/icons/hicolor/scalable/apps/hubble.svg
# desktop-file-utils' dpkg trigger registers the URL scheme handler.
grep -q '^x-scheme-handler/hubble=.*io.github.hubble.Hubble.desktop' \
    /usr/share/applications/mimeinfo.cache

# Launch the installed app under Xvfb (lavapipe through wgpu) until its first frame.
work=$(mktemp -d)
xvfb_pid=
cleanup() {
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
    rm -rf "$work" "$stage"
}
trap cleanup EXIT
export HF_HOME=$work/hf XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config \
    XDG_RUNTIME_DIR=$work/run HF_HUB_OFFLINE=1
mkdir -m 700 "$work/run"
unset HF_TOKEN HF_ENDPOINT
display=:${DISPLAY_NUMBER:-96}
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
export DISPLAY=$display
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
for args in "" "hubble://model/hubble-tests/tiny-model"; do
    # shellcheck disable=SC2086 # an empty $args adds no argument
    timeout 300 /usr/bin/hubble --exit-after-first-frame $args | tee "$work/run.log"
    grep -q '^first frame:' "$work/run.log"
done
echo "package-deb: OK"
