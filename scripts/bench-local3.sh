#!/usr/bin/env bash
# Starts the local three-node cluster (fsync on, release build), runs the load generator's
# W1 sequential, W1 pipelined (windows 64/128/256), W2 drain and open-loop workloads against
# it over HTTP and over the client gRPC API, prints the tables, and stops exactly the nodes
# it started. Every phase also reports the three servers' CPU time. JSON reports go to $OUT
# (default ./data/bench-<UTC time>).
#   COUNT  messages per repetition (default 20000; sequential uses COUNT/4)
#   REPS   repetitions per workload (default 3)
#   URLS   which nodes the HTTP client talks to (default all three, round-robin)
#   GRPC   the client gRPC address used for the gRPC rows (default node 1)
#   RATE   open-loop arrival rate in msgs/s (default 5000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
count="${COUNT:-20000}"
reps="${REPS:-3}"
urls="${URLS:-http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083}"
grpc="${GRPC:-http://127.0.0.1:7281}"
rate="${RATE:-5000}"
out="${OUT:-$root/data/bench-$(date -u +%Y%m%dT%H%M%SZ)}"
. "$root/scripts/local3.sh"
pids="$(paste -sd, "$DATA_DIR/pids")"
bench() {
  local name="$1"; shift
  timeout 900 "$ROOST_BIN" bench --url "$urls" --reps "$reps" --pids "$pids" --json "$@" >"$out/$name.json"
  echo "== $name"; python3 "$root/scripts/bench_summary.py" "$out/$name.json"
}
for api in http grpc; do
  extra=()
  [ "$api" = grpc ] && extra=(--grpc-url "$grpc")
  bench "seq-$api" --workload seq --count $((count / 4)) "${extra[@]}"
  for w in 64 128 256; do
    bench "window-$w-$api" --workload window --window "$w" --count "$count" "${extra[@]}"
  done
  bench "drain-$api" --workload drain --window 128 --count "$count" "${extra[@]}"
  # The same drain with up to 8 acks in flight while the next batches are pulled.
  bench "drain-acks8-$api" --workload drain --window 128 --ack-window 8 --count "$count" "${extra[@]}"
  # Open loop: a fixed arrival rate, latency counted from each message's due time.
  bench "open-$rate-$api" --workload window --window 256 --rate "$rate" --count "$count" "${extra[@]}"
done
echo "reports in $out"
