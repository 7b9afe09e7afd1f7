#!/usr/bin/env bash
# What idle queues and retained messages cost a node, and how soon a node serves again after
# a restart. Starts the local three-node cluster (release build, fsync on), creates QUEUES idle
# queues and publishes MESSAGES messages that are never acked, prints every node's resident
# memory and the cluster's disk use, restarts node NODE (SIGNAL, then the same command) and
# prints the seconds until it answers /readyz and until a publish+pull through it succeeds,
# and its memory then. Stops exactly the nodes it started.
#   QUEUES    idle queues to create (default 100000)
#   MESSAGES  retained messages (default 0), published over gRPC, window 256, into PARTS queues
#   PARTS     queues the messages are spread over (default 8)
#   NODE      which node to restart (default 1)
#   SIGNAL    how it is stopped: TERM (graceful, default) or KILL (a crash: no flush)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
queues="${QUEUES:-100000}"
messages="${MESSAGES:-0}"
parts="${PARTS:-8}"
node="${NODE:-1}"
signal="${SIGNAL:-TERM}"
out="${OUT:-$root/data/footprint-$(date -u +%Y%m%dT%H%M%SZ)}"
# The load generator creates every queue from this one address: lift the per-address limit.
export ROOST_CREATES_PER_MINUTE=100000000
. "$root/scripts/local3.sh"
rss() { # resident memory of each node, in MB
  local line=""
  while read -r pid; do
    line+="$(awk '/^VmRSS/ {printf "%d", $2 / 1024}' "/proc/$pid/status") "
  done <"$DATA_DIR/pids"
  echo "$line"
}
echo "rss_mb_per_node_at_start: $(rss)"
if [ "$queues" -gt 0 ]; then
  timeout 1800 "$ROOST_BIN" bench --url "$urls" --workload create --count "$queues" --window 64 \
    --reps 1 --timeout-secs 1700 --json >"$out/create.json"
  python3 "$root/scripts/bench_summary.py" "$out/create.json"
fi
if [ "$messages" -gt 0 ]; then
  timeout 7200 "$ROOST_BIN" bench --url "$urls" --grpc-url http://127.0.0.1:7281 --workload window \
    --window 256 --count $((messages / parts)) --reps "$parts" --timeout-secs 7000 --json >"$out/fill.json"
  python3 "$root/scripts/bench_summary.py" "$out/fill.json"
fi
sleep 10 # let background flushes and compactions settle
echo "queues=$queues retained_messages=$((messages / parts * parts))"
echo "rss_mb_per_node_after_fill: $(rss)"
echo "disk_mb_all_nodes: $(du -sm "$DATA_DIR" | cut -f1)"
# Restart one node with the command start.sh used, and time how soon it serves.
pid="$(sed -n "${node}p" "$DATA_DIR/pids")"
kill "-$signal" "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$pid" 2>/dev/null || true
start=$(date +%s.%N)
"$ROOST_BIN" serve --config "$root/cluster-config/local-3/node$node.toml" \
  --data-dir "$DATA_DIR/node$node" >>"$DATA_DIR/node$node.log" 2>&1 &
newpid=$!
sed -i "${node}s/.*/$newpid/" "$DATA_DIR/pids"
elapsed() { echo "$(date +%s.%N) - $start" | bc; }
ready=""
for _ in $(seq 1 1200); do
  if curl -fsS "http://127.0.0.1:708$node/readyz" >/dev/null 2>&1; then ready="$(elapsed)"; break; fi
  sleep 0.05
done
echo "restarted_node=$node signal=$signal seconds_to_readyz=${ready:-never (120 s)}"
served=""
for _ in $(seq 1 120); do
  if timeout 20 "$ROOST_BIN" bench --url "http://127.0.0.1:708$node" --workload drain --count 1 \
    --reps 1 --timeout-secs 10 >/dev/null 2>&1; then served="$(elapsed)"; break; fi
  sleep 0.2
done
echo "restarted_node=$node seconds_to_first_publish_and_pull=${served:-never}"
sleep 5
echo "rss_mb_per_node_after_restart: $(rss)"
