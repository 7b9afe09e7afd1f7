#!/usr/bin/env bash
# What peer mutual TLS costs: the local three-node cluster (fsync on, release build) with
# plaintext peers and with mutual TLS between peers (`TLS=1 cluster-config/local-3/start.sh`),
# alternating plain, tls, plain, tls … for ROUNDS rounds, each running W1 sequential and W1
# window 128 over HTTP and over the client gRPC API. Clients speak plaintext to the nodes in
# both: only peer traffic (replication, forwarding) changes. Prints one table with the ratios
# (scripts/tls_table.py); JSON reports go to $OUT (default ./data/bench-tls-<UTC time>).
#   COUNT   messages per repetition of the window workload (default 20000; sequential COUNT/4)
#   REPS    repetitions per workload and round (default 3)
#   ROUNDS  rounds of plain + tls (default 2)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
count="${COUNT:-20000}"
reps="${REPS:-3}"
rounds="${ROUNDS:-2}"
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
grpc="http://127.0.0.1:7281"
out="${OUT:-$root/data/bench-tls-$(date -u +%Y%m%dT%H%M%SZ)}"
(cd "$root" && cargo build --release -p roost >&2)
export ROOST_BIN="${CARGO_TARGET_DIR:-$root/target}/release/roost"
mkdir -p "$out"
running=""
stop() { [ -z "$running" ] || DATA_DIR="$running" "$root/cluster-config/local-3/stop.sh" >&2; running=""; }
trap stop EXIT
for r in $(seq 1 "$rounds"); do
  for mode in plain tls; do
    dir="$out/round$r-$mode"
    mkdir -p "$dir"
    running="$dir/cluster"
    DATA_DIR="$running" TLS="$([ "$mode" = tls ] && echo 1 || echo 0)" \
      "$root/cluster-config/local-3/start.sh" >&2
    pids="$(paste -sd, "$running/pids")"
    for api in http grpc; do
      extra=()
      [ "$api" = grpc ] && extra=(--grpc-url "$grpc")
      timeout 900 "$ROOST_BIN" bench --url "$urls" --reps "$reps" --pids "$pids" --json \
        --workload seq --count $((count / 4)) "${extra[@]}" >"$dir/seq-$api.json"
      timeout 900 "$ROOST_BIN" bench --url "$urls" --reps "$reps" --pids "$pids" --json \
        --workload window --window 128 --count "$count" "${extra[@]}" >"$dir/window-128-$api.json"
    done
    stop
  done
done
python3 "$root/scripts/tls_table.py" "$out"
echo "reports in $out"
