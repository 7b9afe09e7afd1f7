#!/usr/bin/env bash
# A/B of job claim→complete cycles between two server binaries: for each of ROUNDS rounds and
# each server (A, then B) and each claim batch (1, then BATCH), a fresh local three-node
# cluster (fsync on) is started from that binary, a workspace token minted, and COUNT jobs
# enqueued and run through claim→complete by WORKERS workers round-robin over the nodes
# (REPS repetitions). The load generator is always B's `roost bench` (its `--claim-batch`
# only changes what the client asks for: a claim of up to N jobs, then their completions
# concurrently). Prints, per server and batch, the median (min-max) over every repetition of
# every round. JSON reports go to $OUT (default ./data/jobs-ab-<UTC time>).
#   A_BIN, B_BIN  the release binaries (required)
#   ROUNDS (default 3); COUNT (default 2000); WORKERS (default 16); REPS (default 3);
#   BATCH (default 8)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${A_BIN:?set A_BIN to the release binary before the change}"
: "${B_BIN:?set B_BIN to the release binary after the change}"
rounds="${ROUNDS:-3}"
count="${COUNT:-2000}"
workers="${WORKERS:-16}"
reps="${REPS:-3}"
batch="${BATCH:-8}"
out="${OUT:-$root/data/jobs-ab-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
export DATA_DIR="$out/cluster"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
for round in $(seq 1 "$rounds"); do
  for server in A B; do
    for claim in 1 "$batch"; do
      bin_var="${server}_BIN"
      export ROOST_BIN="${!bin_var}"
      rm -rf "$DATA_DIR"
      "$root/cluster-config/local-3/start.sh"
      pids="$(paste -sd, "$DATA_DIR/pids")"
      token=$("$ROOST_BIN" token create --config "$root/cluster-config/local-3/node1.toml" \
        --workspace bench)
      timeout 900 "$B_BIN" bench --url "$urls" --workload jobs --count "$count" \
        --window "$workers" --claim-batch "$claim" --reps "$reps" --pids "$pids" \
        --token "$token" --json >"$out/$server-b$claim-r$round.json"
      "$root/cluster-config/local-3/stop.sh" >&2
      echo "== round $round server $server claim batch $claim"
      python3 "$root/scripts/bench_summary.py" "$out/$server-b$claim-r$round.json"
    done
  done
done
trap - EXIT
rm -rf "$DATA_DIR"
python3 "$root/scripts/ab_summary.py" "$out" cycle "A, claim 1=A-b1-r*.json" \
  "A, claim $batch=A-b$batch-r*.json" "B, claim 1=B-b1-r*.json" "B, claim $batch=B-b$batch-r*.json"
echo "reports in $out"
