#!/usr/bin/env bash
# How long a new node takes to become a caught-up voter of every group while the cluster holds
# MESSAGES retained messages. Starts the local three-node cluster (release build, fsync on),
# publishes MESSAGES messages that are never acked (over gRPC, window 256, into PARTS queues),
# starts node 4 empty with --join, adds it with `roost admin add-node`, and prints the seconds
# until it is a learner of every group and until it is a voter of every group with no learner
# left (`roost admin nodes`), and its data dir's size then. Stops exactly the nodes it started.
#   MESSAGES  retained messages (default 1000000)
#   PARTS     queues the messages are spread over (default 8)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
messages="${MESSAGES:-1000000}"
parts="${PARTS:-8}"
out="${OUT:-$root/data/add-node-$(date -u +%Y%m%dT%H%M%SZ)}"
# The operator key every node reads, and `roost admin` sends.
export ROOST_ADMIN__OPERATOR_KEY="bench-add-node-operator-key"
export ROOST_OPERATOR_KEY="$ROOST_ADMIN__OPERATOR_KEY"
. "$root/scripts/local3.sh"
timeout 7200 "$ROOST_BIN" bench --url "$urls" --grpc-url http://127.0.0.1:7281 --workload window \
  --window 256 --count $((messages / parts)) --reps "$parts" --timeout-secs 7000 --json >"$out/fill.json"
python3 "$root/scripts/bench_summary.py" "$out/fill.json"
echo "retained_messages=$((messages / parts * parts)) disk_mb_all_nodes=$(du -sm "$DATA_DIR" | cut -f1)"
admin=("$ROOST_BIN" admin --url http://127.0.0.1:7081)
mkdir -p "$DATA_DIR/node4"
"$ROOST_BIN" serve --node-id 4 --peer-addr 127.0.0.1:7184 --http-addr 127.0.0.1:7084 \
  --data-dir "$DATA_DIR/node4" --join http://127.0.0.1:7081 >>"$DATA_DIR/node4.log" 2>&1 &
echo $! >>"$DATA_DIR/pids"
start=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) - $start" | bc; }
"${admin[@]}" add-node --id 4 --peer-addr 127.0.0.1:7184 --http-addr 127.0.0.1:7084 >/dev/null
# "learner" once node 4 receives every group's log; "voter" once it votes in every group and
# no group has a learner left.
stage() {
  "${admin[@]}" nodes 2>/dev/null | python3 -c '
import json, sys
groups = json.load(sys.stdin).get("groups", [])
if groups and all(4 in g["voters"] and not g["learners"] for g in groups):
    print("voter")
elif groups and all(4 in g["voters"] + g["learners"] for g in groups):
    print("learner")
else:
    print("none")'
}
learner="" voter=""
for _ in $(seq 1 36000); do
  now="$(stage || echo none)"
  if [ -z "$learner" ] && [ "$now" != none ]; then learner="$(elapsed)"; fi
  if [ "$now" = voter ]; then voter="$(elapsed)"; break; fi
  sleep 0.1
done
echo "added_node=4 seconds_to_learner_everywhere=${learner:-never} seconds_to_caught_up_voter_everywhere=${voter:-never (1 h)}"
echo "node4_disk_mb=$(du -sm "$DATA_DIR/node4" | cut -f1)"
