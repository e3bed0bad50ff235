#!/usr/bin/env bash
# Builds Hubble-<version>-x86_64.AppImage from a release binary.
#
#   packaging/appimage/build-appimage.sh [BINARY]     (default target/release/hubble)
#
# The binary links only libasound, libstdc++, libgcc_s, libm and libc (all on AppImage's
# excludelist: taken from the host); X11/Wayland, Vulkan/EGL and fontconfig are loaded at run
# time from the host too, so the AppDir needs no bundled libraries (no linuxdeploy step).
# Needs appimagetool on PATH (https://github.com/AppImage/appimagetool/releases, or set
# APPIMAGETOOL=/path/to/appimagetool-x86_64.AppImage); without it the AppDir is left in
# target/appimage/Hubble.AppDir and the script says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:-target/release/hubble}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
out=target/appimage
appdir=$out/Hubble.AppDir
id=io.github.hubble.Hubble

[ -x "$binary" ] || { echo "no binary at $binary: run cargo build --release first" >&2; exit 1; }
rm -rf "$appdir"
install -Dm755 "$binary" "$appdir/usr/bin/hubble"
install -Dm755 packaging/appimage/AppRun "$appdir/AppRun"
install -Dm644 packaging/linux/$id.desktop "$appdir/usr/share/applications/$id.desktop"
# appimagetool looks for <desktop id>.appdata.xml.
install -Dm644 packaging/linux/$id.metainfo.xml "$appdir/usr/share/metainfo/$id.appdata.xml"
for size in 16 24 32 48 64 128 256 512; do
    install -Dm644 "assets/icon-$size.png" \
        "$appdir/usr/share/icons/hicolor/${size}x${size}/apps/hubble.png"
done
install -Dm644 assets/icon.svg "$appdir/usr/share/icons/hicolor/scalable/apps/hubble.svg"
# The AppDir's top level: the desktop entry, its icon and .DirIcon.
cp packaging/linux/$id.desktop "$appdir/"
cp assets/icon-256.png "$appdir/hubble.png"
ln -s hubble.png "$appdir/.DirIcon"

tool=${APPIMAGETOOL:-$(command -v appimagetool || true)}
if [ -z "$tool" ]; then
    echo "appimagetool not found: the AppDir is ready at $appdir; run" >&2
    echo "  ARCH=x86_64 appimagetool $appdir $out/Hubble-$version-x86_64.AppImage" >&2
    exit 2
fi
ARCH=x86_64 "$tool" "$appdir" "$out/Hubble-$version-x86_64.AppImage"
echo "wrote $out/Hubble-$version-x86_64.AppImage"
