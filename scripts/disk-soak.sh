#!/usr/bin/env bash
# Runs a steady publish-then-drain-and-ack load against the local three-node cluster for
# ROUNDS rounds (COUNT messages each, one fresh queue per round) and prints the cluster's disk
# use after every round, to show it stays flat: acked messages are reaped, logs are compacted.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-20}"
count="${COUNT:-20000}"
out="${OUT:-$root/data/soak-$(date -u +%Y%m%dT%H%M%SZ)}"
. "$root/scripts/local3.sh"
echo "round,messages_total,disk_bytes_all_nodes"
for r in $(seq 1 "$rounds"); do
  timeout 600 "$ROOST_BIN" bench --url "$urls" --workload drain --count "$count" --reps 1 --json >"$out/round-$r.json"
  echo "$r,$((r * count)),$(du -sb "$DATA_DIR" | cut -f1)"
done
