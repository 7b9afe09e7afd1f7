#!/usr/bin/env bash
# A/B of publishing one message per request against batches (`POST /q/{id}/publish/batch`):
# one local three-node cluster (fsync on) from ROOST_BIN, and ROUNDS alternations of the
# pipelined publish with WINDOW messages in flight, leader-aware (each request straight to the
# queue's shard leader): one message per request, then BATCH messages per request (WINDOW /
# BATCH requests in flight). COUNT messages, REPS repetitions each on a fresh queue, server CPU
# from the three pids. Prints, per mode, the median (min-max) over every repetition of every
# round. JSON reports go to $OUT (default ./data/batch-ab-<UTC time>).
#   ROOST_BIN  the release binary (required)
#   ROUNDS (default 3); COUNT (default 20000); REPS (default 3); WINDOW (default 128);
#   BATCH (default 32)
#   GRPC=1     over the client gRPC API of node 1 instead (not leader-aware): the publish
#              stream with WINDOW in flight, then unary `PublishBatch` calls
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${ROOST_BIN:?set ROOST_BIN to a release binary}"
export ROOST_BIN
rounds="${ROUNDS:-3}"
count="${COUNT:-20000}"
reps="${REPS:-3}"
window="${WINDOW:-128}"
batch="${BATCH:-32}"
out="${OUT:-$root/data/batch-ab-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
export DATA_DIR="$out/cluster"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
"$root/cluster-config/local-3/start.sh"
pids="$(paste -sd, "$DATA_DIR/pids")"
for round in $(seq 1 "$rounds"); do
  for per in 1 "$batch"; do
    via=(--leader-aware)
    [ "${GRPC:-0}" = 1 ] && via=(--grpc-url http://127.0.0.1:7281)
    timeout 600 "$ROOST_BIN" bench --url "$urls" "${via[@]}" --batch "$per" \
      --workload window --window "$window" --count "$count" --reps "$reps" --pids "$pids" \
      --json >"$out/b$per-r$round.json"
    echo "== round $round, $per per request"
    python3 "$root/scripts/bench_summary.py" "$out/b$per-r$round.json"
  done
done
"$root/cluster-config/local-3/stop.sh" >&2
trap - EXIT
rm -rf "$DATA_DIR"
python3 "$root/scripts/ab_summary.py" "$out" publish "1 per request=b1-r*.json" \
  "$batch per request=b$batch-r*.json"
echo "reports in $out"
