#!/usr/bin/env bash
# A/B of the publish-then-drain workload between two server binaries: for each of ROUNDS
# rounds and each server (A, then B), a fresh local three-node cluster (fsync on) is started
# from that binary and COUNT messages published at window 128 and drained (pulls of up to 100,
# then their acks), once with each ack awaited and once with up to 8 acks in flight, over HTTP,
# every request straight to the queue's shard leader. The load generator is always B's
# `roost bench`. Prints, per server and ack window, the median (min-max) over every repetition
# of every round. JSON reports go to $OUT (default ./data/drain-ab-<UTC time>).
#   A_BIN, B_BIN  the release binaries (required)
#   ROUNDS (default 3); COUNT (default 20000); REPS (default 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-3}"
count="${COUNT:-20000}"
reps="${REPS:-3}"
out="${OUT:-$root/data/drain-ab-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
measure() {
  for acks in 1 8; do
    timeout 600 "$B_BIN" bench --url "$urls" --leader-aware --workload drain --window 128 \
      --ack-window "$acks" --count "$count" --reps "$reps" --pids "$pids" --json \
      >"$out/$server-acks$acks-r$round.json"
  done
}
. "$root/scripts/ab_clusters.sh"
ab_rounds
python3 "$root/scripts/ab_summary.py" "$out" drain \
  "A, acks awaited=A-acks1-r*.json" "B, acks awaited=B-acks1-r*.json" \
  "A, 8 acks in flight=A-acks8-r*.json" "B, 8 acks in flight=B-acks8-r*.json"
echo "reports in $out"
