#!/usr/bin/env bash
# A/B of HTTP publishing round-robin over the three nodes against `--leader-aware` (each
# publish straight to its queue's shard leader): one local three-node cluster (fsync on) from
# ROOST_BIN, and ROUNDS alternations of the pipelined publish at window 128 (COUNT messages,
# REPS repetitions, each on a fresh queue, server CPU from the three pids). Prints, per mode,
# the median (min-max) over every repetition of every round. JSON reports go to $OUT (default
# ./data/leader-ab-<UTC time>).
#   ROOST_BIN  the release binary (required)
#   ROUNDS     alternations (default 3); COUNT (default 20000); REPS (default 3)
#   JOBS=1     the jobs workload instead: COUNT (default 2000) jobs enqueued, then run
#              claim→complete by 16 workers claiming up to 8 at once (leader-aware: every job
#              request to the workspace's shard leader once a reply named it)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${ROOST_BIN:?set ROOST_BIN to a release binary}"
export ROOST_BIN
rounds="${ROUNDS:-3}"
jobs="${JOBS:-0}"
count="${COUNT:-$([ "$jobs" = 1 ] && echo 2000 || echo 20000)}"
reps="${REPS:-3}"
out="${OUT:-$root/data/leader-ab-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
export DATA_DIR="$out/cluster"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
"$root/cluster-config/local-3/start.sh"
pids="$(paste -sd, "$DATA_DIR/pids")"
workload=(--workload window --window 128)
phase=publish
if [ "$jobs" = 1 ]; then
  token=$("$ROOST_BIN" token create --config "$root/cluster-config/local-3/node1.toml" \
    --workspace bench)
  workload=(--workload jobs --window 16 --claim-batch 8 --token "$token")
  phase=cycle
fi
for round in $(seq 1 "$rounds"); do
  for mode in round-robin leader-aware; do
    flag=()
    [ "$mode" = leader-aware ] && flag=(--leader-aware)
    timeout 600 "$ROOST_BIN" bench --url "$urls" "${flag[@]}" \
      "${workload[@]}" --count "$count" --reps "$reps" --pids "$pids" --json \
      >"$out/$mode-r$round.json"
    echo "== round $round $mode"
    python3 "$root/scripts/bench_summary.py" "$out/$mode-r$round.json"
  done
done
"$root/cluster-config/local-3/stop.sh" >&2
trap - EXIT
rm -rf "$DATA_DIR"
python3 "$root/scripts/ab_summary.py" "$out" "$phase" 'round-robin=round-robin-r*.json' \
  'leader-aware=leader-aware-r*.json'
echo "reports in $out"
