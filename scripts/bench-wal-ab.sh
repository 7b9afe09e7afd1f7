#!/usr/bin/env bash
# A/B of sequential publish latency between two server binaries on a node that has been in
# service (its WAL has rolled, so a recycling build writes into a recycled WAL file): for each
# of ROUNDS rounds and each server (A, then B), a fresh local three-node cluster (fsync on) is
# started from that binary, sequential publishes measured over gRPC (`fresh`), WARM messages
# published at window 256 (about 550 bytes of WAL each per node: 300,000 roll a 64 MiB WAL
# twice), then sequential publishes measured again over gRPC and HTTP (`warm`). Every request
# goes straight to the queue's shard leader. The load generator is always B's `roost bench`.
# Prints, per server and state, the median (min-max) over every repetition of every round.
# JSON reports go to $OUT (default ./data/wal-ab-<UTC time>).
#   A_BIN, B_BIN  the release binaries (required)
#   ROUNDS (default 3); COUNT sequential publishes per repetition (default 3000);
#   REPS (default 3); WARM (default 300000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-3}"
count="${COUNT:-3000}"
reps="${REPS:-3}"
warm="${WARM:-300000}"
out="${OUT:-$root/data/wal-ab-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
measure() {
  seq_run() {
    timeout 600 "$B_BIN" bench --url "$urls" --leader-aware --workload seq --count "$count" \
      --reps "$reps" --pids "$pids" --json "$@"
  }
  seq_run --grpc-url "$grpc" >"$out/$server-fresh-grpc-r$round.json"
  timeout 600 "$B_BIN" bench --url "$urls" --leader-aware --grpc-url "$grpc" \
    --workload window --window 256 --count "$warm" --reps 1 --timeout-secs 600 >/dev/null
  seq_run --grpc-url "$grpc" >"$out/$server-warm-grpc-r$round.json"
  seq_run >"$out/$server-warm-http-r$round.json"
  echo "WAL files of node 1: $(ls "$DATA_DIR/node1"/*.log | wc -l)"
}
. "$root/scripts/ab_clusters.sh"
ab_rounds
python3 "$root/scripts/ab_summary.py" "$out" publish \
  "A fresh gRPC=A-fresh-grpc-r*.json" "B fresh gRPC=B-fresh-grpc-r*.json" \
  "A warm gRPC=A-warm-grpc-r*.json" "B warm gRPC=B-warm-grpc-r*.json" \
  "A warm HTTP=A-warm-http-r*.json" "B warm HTTP=B-warm-http-r*.json"
echo "reports in $out"
