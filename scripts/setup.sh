#!/usr/bin/env bash
# Installs what building and testing tmath needs, skipping whatever is already there:
# Debian's chromium, chromium-driver and mesa-vulkan-drivers (lavapipe) when root, the wasm32
# target, wasm-bindgen-cli at exactly the version in Cargo.lock, and the npm dev dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing ${need_apt[*]}; install them (sudo apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
fi

# The web build, and the Metal and D3D12 builds that npm test keeps compiling (cargo check needs
# no linker for them).
for target in wasm32-unknown-unknown aarch64-apple-darwin x86_64-pc-windows-msvc; do
  if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
  fi
done

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$want" != "$have" ]; then
  echo "setup: cargo install wasm-bindgen-cli --version $want (have: ${have:-none})"
  # Not --locked: one of its pinned dependencies is missing from the registry here.
  cargo install wasm-bindgen-cli --version "$want" --quiet
fi

if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error
fi
