#!/usr/bin/env bash
# Runs a steady publish-then-drain-and-ack load against the local three-node cluster for
# ROUNDS rounds (COUNT messages each, one fresh queue per round) and prints the cluster's disk
# use after every round, to show it stays flat: acked messages are reaped, logs are compacted.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-20}"
count="${COUNT:-20000}"
out="${OUT:-$root/data/soak-$(date -u +%Y%m%dT%H%M%SZ)}"
export DATA_DIR="$out/cluster"
(cd "$root" && cargo build --release -p roost >&2)
export ROOST_BIN="${CARGO_TARGET_DIR:-$root/target}/release/roost"
mkdir -p "$out"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
"$root/cluster-config/local-3/start.sh"
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
echo "round,messages_total,disk_bytes_all_nodes"
for r in $(seq 1 "$rounds"); do
  timeout 600 "$ROOST_BIN" bench --url "$urls" --workload drain --count "$count" --reps 1 --json >"$out/round-$r.json"
  echo "$r,$((r * count)),$(du -sb "$DATA_DIR" | cut -f1)"
done
