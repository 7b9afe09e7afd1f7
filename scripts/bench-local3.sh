#!/usr/bin/env bash
# Starts the local three-node cluster (fsync on, release build), runs the load generator's
# W1 sequential, W1 pipelined (windows 64/128/256) and W2 drain workloads against it, prints
# the tables, and stops exactly the nodes it started. JSON reports go to $OUT (default
# ./data/bench-<UTC time>).
#   COUNT  messages per repetition (default 20000; sequential uses COUNT/4)
#   REPS   repetitions per workload (default 3)
#   URLS   which nodes the client talks to (default all three, round-robin)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
count="${COUNT:-20000}"
reps="${REPS:-3}"
urls="${URLS:-http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083}"
out="${OUT:-$root/data/bench-$(date -u +%Y%m%dT%H%M%SZ)}"
export DATA_DIR="$out/cluster"
(cd "$root" && cargo build --release -p roost >&2)
export ROOST_BIN="${CARGO_TARGET_DIR:-$root/target}/release/roost"
mkdir -p "$out"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
"$root/cluster-config/local-3/start.sh"
bench() {
  local name="$1"; shift
  timeout 900 "$ROOST_BIN" bench --url "$urls" --reps "$reps" --json "$@" >"$out/$name.json"
  echo "== $name"; python3 "$root/scripts/bench_summary.py" "$out/$name.json"
}
bench seq --workload seq --count $((count / 4))
for w in 64 128 256; do
  bench "window-$w" --workload window --window "$w" --count "$count"
done
bench drain --workload drain --window 128 --count "$count"
# The same window over the client gRPC API: one bidirectional stream to node 1.
bench window-128-grpc --workload window --window 128 --count "$count" --grpc-url http://127.0.0.1:7281
echo "reports in $out"
