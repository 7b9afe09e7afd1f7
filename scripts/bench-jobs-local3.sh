#!/usr/bin/env bash
# Starts the local three-node cluster (release build, fsync on), mints a workspace token, and
# measures job claim→complete cycles: COUNT jobs are enqueued, then WORKERS concurrent workers
# claim and complete them over HTTP, round-robin over the nodes. Stops exactly the nodes it
# started. JSON reports go to $OUT.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
count="${COUNT:-2000}"
workers="${WORKERS:-16}"
reps="${REPS:-3}"
out="${OUT:-$root/data/bench-jobs-$(date -u +%Y%m%dT%H%M%SZ)}"
export DATA_DIR="$out/cluster"
(cd "$root" && cargo build --release -p roost >&2)
export ROOST_BIN="${CARGO_TARGET_DIR:-$root/target}/release/roost"
mkdir -p "$out"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
"$root/cluster-config/local-3/start.sh"
token=$("$ROOST_BIN" token create --config "$root/cluster-config/local-3/node1.toml" --workspace bench)
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
timeout 900 "$ROOST_BIN" bench --url "$urls" --workload jobs --count "$count" --window "$workers" \
  --reps "$reps" --token "$token" --json >"$out/jobs.json"
python3 "$root/scripts/bench_summary.py" "$out/jobs.json"
