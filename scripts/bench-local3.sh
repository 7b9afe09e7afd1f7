#!/usr/bin/env bash
# Starts the local three-node cluster (fsync on, release build), runs the load generator's
# W1 sequential, W1 pipelined (windows 64/128/256, one message per request and in batches),
# W2 drain and open-loop workloads against it over HTTP and over the client gRPC API, prints
# the tables, and stops exactly the nodes it started. Every phase also reports the three
# servers' CPU time. JSON reports go to $OUT (default ./data/bench-<UTC time>).
#
# Requests go straight to the leader of their queue's shard (`--leader-aware`, as the peers'
# clients talk to their stream's or queue's leader); the `*-rr` rows send them round-robin
# over the three nodes instead (HTTP) or to node 1 (gRPC), so a node that does not lead
# forwards them. First WARM messages are published and not reported, so every node's WAL has
# rolled and is written into a recycled file, as on a node in service (BENCHMARKS.md §19).
#   COUNT  messages per repetition (default 20000; sequential uses COUNT/4)
#   REPS   repetitions per workload (default 3)
#   URLS   the nodes' HTTP addresses (default the three local ones)
#   GRPC   their client gRPC addresses, in the same order (default the three local ones)
#   RATE   open-loop arrival rate in msgs/s (default 5000)
#   WARM   messages published before measuring (default 300000; 0 to measure a fresh node)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
count="${COUNT:-20000}"
reps="${REPS:-3}"
urls="${URLS:-http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083}"
grpc="${GRPC:-http://127.0.0.1:7281,http://127.0.0.1:7282,http://127.0.0.1:7283}"
rate="${RATE:-5000}"
warm="${WARM:-300000}"
out="${OUT:-$root/data/bench-$(date -u +%Y%m%dT%H%M%SZ)}"
. "$root/scripts/local3.sh"
pids="$(paste -sd, "$DATA_DIR/pids")"
bench() {
  local name="$1"; shift
  timeout 900 "$ROOST_BIN" bench --url "$urls" --reps "$reps" --pids "$pids" --json "$@" >"$out/$name.json"
  echo "== $name"; python3 "$root/scripts/bench_summary.py" "$out/$name.json"
}
if [ "$warm" -gt 0 ]; then
  timeout 900 "$ROOST_BIN" bench --url "$urls" --leader-aware --workload window --window 256 \
    --count "$warm" --reps 1 --timeout-secs 900 >/dev/null
fi
for api in http grpc; do
  extra=(--leader-aware)
  [ "$api" = grpc ] && extra=(--leader-aware --grpc-url "$grpc")
  bench "seq-$api" --workload seq --count $((count / 4)) "${extra[@]}"
  for w in 64 128 256; do
    bench "window-$w-$api" --workload window --window "$w" --count "$count" "${extra[@]}"
  done
  bench "window-128-b32-$api" --workload window --window 128 --batch 32 --count "$count" "${extra[@]}"
  bench "window-256-b64-$api" --workload window --window 256 --batch 64 --count "$count" "${extra[@]}"
  rr=()
  [ "$api" = grpc ] && rr=(--grpc-url "${grpc%%,*}")
  bench "window-128-rr-$api" --workload window --window 128 --count "$count" "${rr[@]}"
  bench "drain-$api" --workload drain --window 128 --count "$count" "${extra[@]}"
  # The same drain with up to 8 acks in flight while the next batches are pulled.
  bench "drain-acks8-$api" --workload drain --window 128 --ack-window 8 --count "$count" "${extra[@]}"
  # Open loop: a fixed arrival rate, latency counted from each message's due time.
  bench "open-$rate-$api" --workload window --window 256 --rate "$rate" --count "$count" "${extra[@]}"
done
echo "reports in $out"
