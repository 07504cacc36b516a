#!/usr/bin/env bash
# `npm run bench`: the main job. Builds the native benchmark and runs every suite on this
# machine's adapter (lavapipe without a GPU). Pass suite names or --json through:
#   npm run bench -- pool --json
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Mesa's loader complains on every device open when this is unset.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cargo build --release --bin tmath-bench
./target/release/tmath-bench "${@:-all}"
