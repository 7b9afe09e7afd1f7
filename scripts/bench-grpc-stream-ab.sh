#!/usr/bin/env bash
# A/B of two roost binaries on the gRPC publish stream: for each of ROUNDS rounds, starts the
# local three-node cluster (fsync on) from A, then from B, and runs the pipelined gRPC publish
# at windows 128 and 256 (COUNT messages, REPS repetitions, server CPU from the three pids).
# Each binary gets a fresh cluster per round; alternating them spreads the machine's drift
# over both. Prints, per binary and window, the median (min-max) over every repetition of
# every round. JSON reports go to $OUT (default ./data/stream-ab-<UTC time>).
#   A, B     the two release binaries (required)
#   ROUNDS   alternations (default 3); COUNT (default 20000); REPS (default 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${A:?set A to the first binary}" "${B:?set B to the second binary}"
rounds="${ROUNDS:-3}"
count="${COUNT:-20000}"
reps="${REPS:-3}"
out="${OUT:-$root/data/stream-ab-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
for round in $(seq 1 "$rounds"); do
  for which in A B; do
    export ROOST_BIN="${!which}" DATA_DIR="$out/cluster-$which-$round"
    trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
    "$root/cluster-config/local-3/start.sh"
    pids="$(paste -sd, "$DATA_DIR/pids")"
    for w in 128 256; do
      timeout 600 "$ROOST_BIN" bench --url "$urls" --grpc-url http://127.0.0.1:7281 \
        --workload window --window "$w" --count "$count" --reps "$reps" --pids "$pids" --json \
        >"$out/$which-w$w-r$round.json"
      echo "== round $round $which window $w"
      python3 "$root/scripts/bench_summary.py" "$out/$which-w$w-r$round.json"
    done
    "$root/cluster-config/local-3/stop.sh" >&2
    trap - EXIT
    rm -rf "$DATA_DIR"
  done
done
python3 - "$out" <<'PY'
import glob, json, statistics, sys
def spread(xs):
    return f"{statistics.median(xs):,.1f} ({min(xs):,.1f}-{max(xs):,.1f})"
print("| binary | window | msgs/s | server CPU us/msg |\n|---|---|---|---|")
for which in "AB":
    for w in (128, 256):
        rate, cpu = [], []
        for f in sorted(glob.glob(f"{sys.argv[1]}/{which}-w{w}-r*.json")):
            for rep in json.load(open(f))["repetitions"]:
                for p in rep["phases"]:
                    if p["phase"] == "publish":
                        rate.append(p["msgs_per_sec"]); cpu.append(p["server_cpu_us_per_msg"])
        print(f"| {which} | {w} | {spread(rate)} ({len(rate)} runs) | {spread(cpu)} |")
PY
echo "reports in $out"
