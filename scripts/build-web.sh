#!/usr/bin/env bash
# `npm run build`: the browser package. cargo builds the wasm32 library, then wasm-bindgen (at
# exactly the version in Cargo.lock) writes pkg/ for `--target web`, which js/index.js imports.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$want" != "$have" ]; then
  echo "build: wasm-bindgen $want is needed (found: ${have:-none}); run scripts/setup.sh" >&2
  exit 1
fi
cargo build --lib --release --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir pkg --out-name tmath \
  target/wasm32-unknown-unknown/release/tmath.wasm
echo "build: pkg/ ready ($(du -h pkg/tmath_bg.wasm | cut -f1) wasm)"
