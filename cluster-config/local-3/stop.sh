#!/usr/bin/env bash
# Stops exactly the processes start.sh recorded: SIGTERM (graceful), then SIGKILL after 10 s.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${DATA_DIR:-$root/data/local-3}"
[ -s "$data/pids" ] || { echo "no pids file at $data/pids: nothing to stop"; exit 0; }
pids=()
while read -r pid; do
  # Only signal a pid that is still a roost process (pids can be reused).
  if [ -n "$pid" ] && grep -q roost "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
done <"$data/pids"
for _ in $(seq 1 100); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
rm -f "$data/pids"
echo "local-3 stopped"
