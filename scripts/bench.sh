#!/usr/bin/env bash
# `npm run bench`: the main job. Builds what is missing, runs every native suite on this machine's
# adapter (`tmath-bench all`: lavapipe without a GPU), then the benchmark page www/index.html
# with ?auto=1 in headless Chromium (WebGPU; SwiftShader without a GPU), and prints the seed's
# table measured both ways plus the comparison with TensorFlow.js and ONNX Runtime Web as text.
# Without Chromium, the page's suites run in Node on Dawn instead (bench/node.mjs).
# The page's full results and a screenshot land in bench/out/. Pass suite names or --json through
# to the native part only:   npm run bench -- pool --json
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Mesa's loader complains on every device open when this is unset.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cargo build --release --features bench --bin tmath-bench
if [ $# -eq 0 ]; then
  echo "== native: tmath-bench all"
  ./target/release/tmath-bench all
  [ -f pkg/tmath_bg.wasm ] || bash scripts/build-web.sh
  echo
  if [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "== browser: www/index.html?auto=1 in headless Chromium"
    node bench/page.mjs
  else
    # No browser (a GPU server): the same suites in Node on Dawn.
    echo "== no Chromium: the page's suites in Node on Dawn (bench/node.mjs)"
    node bench/node.mjs
  fi
else
  ./target/release/tmath-bench "$@"
fi
