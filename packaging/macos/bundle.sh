#!/usr/bin/env bash
# Builds target/macos/Hubble.app (and Hubble-<version>.dmg) on macOS, with candle's Metal
# backend compiled in, so inference defaults to the GPU (wgpu already renders through Metal).
#
#   packaging/macos/bundle.sh            (needs Xcode's command-line tools: iconutil, hdiutil)
#
# Code signing and notarisation are left to the release machine (codesign/notarytool with its
# own identity).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "bundle.sh runs on macOS only" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cargo build --release --locked --features metal --bin hubble

app=target/macos/Hubble.app
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp target/release/hubble "$app/Contents/MacOS/hubble"
sed "s/@VERSION@/$version/g" packaging/macos/Info.plist >"$app/Contents/Info.plist"

iconset=target/macos/hubble.iconset
rm -rf "$iconset" && mkdir -p "$iconset"
for size in 16 32 128 256 512; do
    cp "assets/icon-$size.png" "$iconset/icon_${size}x${size}.png"
done
cp assets/icon-32.png "$iconset/icon_16x16@2x.png"
cp assets/icon-64.png "$iconset/icon_32x32@2x.png"
cp assets/icon-256.png "$iconset/icon_128x128@2x.png"
cp assets/icon-512.png "$iconset/icon_256x256@2x.png"
iconutil -c icns "$iconset" -o "$app/Contents/Resources/hubble.icns"

plutil -lint "$app/Contents/Info.plist"
hdiutil create -volname Hubble -srcfolder "$app" -ov -format UDZO "target/macos/Hubble-$version.dmg"
echo "wrote $app and target/macos/Hubble-$version.dmg"
