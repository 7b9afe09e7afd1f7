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
. "$root/scripts/local3.sh"
token=$("$ROOST_BIN" token create --config "$root/cluster-config/local-3/node1.toml" --workspace bench)
timeout 900 "$ROOST_BIN" bench --url "$urls" --workload jobs --count "$count" --window "$workers" \
  --reps "$reps" --token "$token" --json >"$out/jobs.json"
python3 "$root/scripts/bench_summary.py" "$out/jobs.json"
