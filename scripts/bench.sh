#!/usr/bin/env bash
# `npm run bench`: the main job. Builds what is missing and runs every native suite on this
# machine's adapter (lavapipe without a GPU), ending with the seed's table measured, then the
# browser comparison with TensorFlow.js in headless Chromium. Pass suite names or --json through
# to the native part:   npm run bench -- pool --json
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Mesa's loader complains on every device open when this is unset.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cargo build --release --bin tmath-bench
if [ $# -eq 0 ]; then
  ./target/release/tmath-bench pool transfer precision matmul e2e
  [ -f pkg/tmath_bg.wasm ] || bash scripts/build-web.sh
  node bench/browser-matmul.mjs
else
  ./target/release/tmath-bench "$@"
fi
