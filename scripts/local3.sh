# Sourced by the benchmark scripts: builds the release binary and starts the local three-node
# cluster (fsync on) with its data under "$out/cluster", stopping exactly those nodes when the
# sourcing script exits. Expects `root` and `out` to be set; exports ROOST_BIN and DATA_DIR
# and sets `urls` (unless already set) to the three nodes' HTTP addresses.
export DATA_DIR="$out/cluster"
(cd "$root" && cargo build --release -p roost >&2)
export ROOST_BIN="${CARGO_TARGET_DIR:-$root/target}/release/roost"
mkdir -p "$out"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
"$root/cluster-config/local-3/start.sh"
urls="${urls:-http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083}"
