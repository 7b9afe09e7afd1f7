#!/usr/bin/env bash
# Installs build dependencies, then checks formatting and runs every test of the workspace.
# Build output goes to $CARGO_TARGET_DIR (default ~/.cache/roost-target, outside the clone, so
# repeated runs on one machine reuse the RocksDB build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roost-target}"
cd "$root"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
