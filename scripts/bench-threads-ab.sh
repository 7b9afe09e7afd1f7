#!/usr/bin/env bash
# Runtime shapes of three nodes on this machine's cores: for each of ROUNDS rounds and each
# worker-thread count in THREADS, a fresh local three-node cluster (fsync on) from ROOST_BIN
# whose nodes run with that many tokio worker threads (`TOKIO_WORKER_THREADS`; the load
# generator keeps its default), WARM messages published and not reported (the WAL rolls, as
# on a node in service), then, each request straight to its queue's shard leader: sequential
# publishes over gRPC, and pipelined publishes at window 128 over gRPC and over HTTP. Prints,
# per workload and thread count, the median (min-max) over every repetition of every round.
# JSON reports go to $OUT (default ./data/threads-ab-<UTC time>).
#   ROOST_BIN  the release binary (required)
#   THREADS (default "1 2 3"); ROUNDS (default 3); COUNT (default 20000; sequential uses
#   COUNT/4); REPS (default 3); WARM (default 300000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${ROOST_BIN:?set ROOST_BIN to a release binary}"
threads="${THREADS:-1 2 3}"
rounds="${ROUNDS:-3}"
count="${COUNT:-20000}"
reps="${REPS:-3}"
warm="${WARM:-300000}"
out="${OUT:-$root/data/threads-ab-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
grpc="http://127.0.0.1:7281,http://127.0.0.1:7282,http://127.0.0.1:7283"
export ROOST_BIN DATA_DIR="$out/cluster"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
for round in $(seq 1 "$rounds"); do
  for t in $threads; do
    rm -rf "$DATA_DIR"
    TOKIO_WORKER_THREADS="$t" "$root/cluster-config/local-3/start.sh"
    pids="$(paste -sd, "$DATA_DIR/pids")"
    run() {
      timeout 600 "$ROOST_BIN" bench --url "$urls" --leader-aware --pids "$pids" --json "$@"
    }
    run --grpc-url "$grpc" --workload window --window 256 --count "$warm" --reps 1 \
      --timeout-secs 600 >/dev/null
    run --grpc-url "$grpc" --workload seq --count $((count / 4)) --reps "$reps" \
      >"$out/seq-grpc-t$t-r$round.json"
    run --grpc-url "$grpc" --workload window --window 128 --count "$count" \
      --reps "$reps" >"$out/w128-grpc-t$t-r$round.json"
    run --workload window --window 128 --count "$count" --reps "$reps" \
      >"$out/w128-http-t$t-r$round.json"
    echo "== round $round, $t worker threads per node"
    "$root/cluster-config/local-3/stop.sh" >&2
  done
done
trap - EXIT
rm -rf "$DATA_DIR"
for w in seq-grpc w128-grpc w128-http; do
  modes=()
  for t in $threads; do modes+=("$w, $t threads=$w-t$t-r*.json"); done
  python3 "$root/scripts/ab_summary.py" "$out" publish "${modes[@]}"
done
echo "reports in $out"
