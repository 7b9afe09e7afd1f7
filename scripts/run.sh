#!/usr/bin/env bash
# Builds Roost (installing build dependencies first) and runs `roost serve` with any arguments
# given: with none, a one-node cluster with data in ./data and HTTP on 127.0.0.1:7070.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
export PATH="$HOME/.cargo/bin:$PATH"
target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -p roost)
exec "$target/release/roost" serve "$@"
