#!/usr/bin/env bash
# Side by side in one run: NATS JetStream and RabbitMQ (peerbench's three-node clusters and
# load client) and Roost's local three-node cluster, one system at a time on this machine,
# then one table (median (min-max) of REPS repetitions, ratios against the targets).
#   PEERBENCH_SRC  the peerbench directory (default <repo>/../shared/peerbench)
#   PEERBENCH_DIR  where peerbench is installed and run (default ${TMPDIR:-/tmp}/roost-peerbench);
#                  installed (Debian packages + its load client) when missing
#   COUNT, REPS    messages per measurement and repetitions (default 20000 and 3)
#   OUT            where Roost's reports and the table go (default ./data/peers-<UTC time>)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="${PEERBENCH_SRC:-$root/../shared/peerbench}"
export PEERBENCH_DIR="${PEERBENCH_DIR:-${TMPDIR:-/tmp}/roost-peerbench}"
export COUNT="${COUNT:-20000}" REPS="${REPS:-3}"
out="${OUT:-$root/data/peers-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
if [ ! -x "$PEERBENCH_DIR/qbench/target/release/qbench" ]; then
  timeout 3000 "$src/install.sh"
fi
# Peerbench's own round: each peer's cluster is started on a wiped data dir, measured and
# stopped (by the pids it recorded) before the next one starts.
N="$COUNT" SYSTEMS="nats rabbit" timeout 4000 "$PEERBENCH_DIR/run_all.sh"
OUT="$out/roost" timeout 1800 "$root/scripts/bench-local3.sh"
python3 "$root/scripts/peers_table.py" \
  "$(readlink -f "$PEERBENCH_DIR/logs/latest-nats")" \
  "$(readlink -f "$PEERBENCH_DIR/logs/latest-rabbit")" \
  "$out/roost" | tee "$out/table.md"
echo "table in $out/table.md"
