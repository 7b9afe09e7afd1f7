#!/usr/bin/env bash
# What idle workers cost a node: starts one node from BIN (default: this clone's release
# build) on loopback, starts WORKERS `roost worker`s waiting for jobs of a type nobody enqueues,
# and after a warm-up of 10 s measures for SECS seconds how many Raft log entries the node
# appended (the sum of last_log_index over its groups, from /cluster), how many bytes the node
# process wrote to disk (write_bytes of /proc/PID/io: log, WAL, flushes and compactions) and how
# much its data dir grew (compaction can make that negative). Prints one line, per minute.
# Everything it starts is stopped by pid.
#
#   BIN=path/to/roost WORKERS=16 SECS=60 ./scripts/bench-idle-workers.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/roost-target}/release/roost}"
workers="${WORKERS:-16}"
secs="${SECS:-60}"
port="${PORT:-7470}"
[ -x "$bin" ] || { echo "no roost binary at $bin (cargo build --release first)" >&2; exit 1; }
dir="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

url="http://127.0.0.1:$port"
ROOST_GRPC_ADDR="127.0.0.1:$((port + 200))" "$bin" serve --data-dir "$dir/data" --http-addr "127.0.0.1:$port" \
  --peer-addr "127.0.0.1:$((port + 100))" >"$dir/node.log" 2>&1 &
node=$!
pids+=("$node")
for _ in $(seq 1 120); do
  curl -fsS -m 2 "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS -m 2 "$url/readyz" >/dev/null || { cat "$dir/node.log" >&2; exit 1; }
token="$(cat "$dir/data/default-workspace.token")"
for i in $(seq 1 "$workers"); do
  "$bin" worker --url "$url" --token "$token" --type idle-bench --worker-id "idle-$i" \
    -- true >"$dir/worker-$i.log" 2>&1 &
  pids+=($!)
done

entries() {
  curl -fsS -m 5 "$url/cluster" | python3 -c \
    'import json,sys; print(sum(g["last_log_index"] or 0 for g in json.load(sys.stdin)["groups"]))'
}
bytes() { du -sb "$dir/data" | cut -f1; }
written() { awk '/^write_bytes/ {print $2}' "/proc/$node/io"; }

sleep 10
e0=$(entries); b0=$(bytes); w0=$(written)
sleep "$secs"
e1=$(entries); b1=$(bytes); w1=$(written)
python3 - "$workers" "$secs" "$e0" "$e1" "$w0" "$w1" "$b0" "$b1" <<'EOF'
import sys
workers, secs, e0, e1, w0, w1, b0, b1 = map(int, sys.argv[1:])
per_min = 60 / secs
print(f"workers={workers} log_entries_per_min={(e1 - e0) * per_min:.0f} "
      f"written_bytes_per_min={(w1 - w0) * per_min:.0f} "
      f"data_dir_growth_bytes_per_min={(b1 - b0) * per_min:.0f}")
EOF
