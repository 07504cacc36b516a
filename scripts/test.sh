#!/usr/bin/env bash
# `npm test`: every test. Installs what it needs (scripts/setup.sh), then runs
#   1. the native tests on a real wgpu adapter (lavapipe without a GPU), unit tests included;
#   2. `cargo check` of the Metal (aarch64-apple-darwin) and D3D12 (x86_64-pc-windows-msvc)
#      builds, then the scenarios written once for both targets (tests/{pool,precision,ops}.rs)
#      again in headless Chromium's WebGPU (wasm-bindgen-test + Debian's chromedriver);
#   3. a TypeScript check of the declarations, then the JS-level tests (node --test +
#      playwright-core driving /usr/bin/chromium) on the built package and its npm tarball, and
#      the shared scenarios in Chromium's workers, in Node on Dawn and in Deno.
# A missing adapter fails loudly; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Mesa's loader complains on every device open when this is unset.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}

echo "== adapter check"
if command -v vulkaninfo >/dev/null 2>&1; then
  vulkaninfo --summary 2>/dev/null | grep -E "deviceName" || true
fi

echo "== native tests (cargo test)"
cargo test --all-targets

echo "== the other native backends still compile (Metal on Apple Silicon, D3D12 on Windows)"
cargo check --lib --target aarch64-apple-darwin
cargo check --lib --target x86_64-pc-windows-msvc

echo "== browser tests (wasm-bindgen-test in headless Chromium)"
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver} \
  cargo test --target wasm32-unknown-unknown --test pool --test precision --test ops

echo "== TypeScript declarations (tsc on tests/types/usage.ts)"
node node_modules/typescript/bin/tsc -p tests/types

echo "== JS API tests (node --test, playwright-core, Chromium)"
bash scripts/build-web.sh
node --test tests/js/
