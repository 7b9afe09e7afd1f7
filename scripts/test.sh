#!/usr/bin/env bash
# Installs build dependencies, validates the manifests in deploy/, installs the test tools and
# clients from PyPI (scripts/requirements-test.txt) into a venv, checks that no crate's modules
# import each other in a cycle (scripts/check_cycles.py), then checks formatting and
# runs every test of the workspace and of the deterministic simulation (crates/roost-sim).
# Build output goes to $CARGO_TARGET_DIR (default ~/.cache/roost-target, outside the clone, so
# repeated runs on one machine reuse the RocksDB build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roost-target}"
cd "$root"
./scripts/check-deploy.sh
# The cluster tests drive nodes with real clients and tools from PyPI (the MCP client,
# schemathesis), from the venv check-deploy.sh made.
"${ROOST_VENV:-$HOME/.cache/roost-venv}/bin/pip" install -q --disable-pip-version-check \
  -r scripts/requirements-test.txt
python3 scripts/check_cycles.py
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
# The deterministic simulation is a workspace of its own, built with `--cfg tokio_unstable`
# (seeded schedulers: a seed replays exactly; its .cargo/config.toml sets the flag) in a build
# directory of its own.
(
  cd crates/roost-sim
  export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/sim"
  cargo fmt -- --check
  cargo clippy --all-targets -- -D warnings
  cargo test
)
