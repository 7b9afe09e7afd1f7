#!/usr/bin/env bash
# Waits until the processes PIDS (comma-separated) together use under 5 % of one core for a
# second, at most LIMIT seconds (default 120): after a warm-up, the nodes' RocksDB flushes and
# compactions finish before the next measurement instead of during it. Prints how long it
# waited; still busy at the limit is said, not an error.
set -euo pipefail
pids="${1:?usage: wait-idle.sh PID[,PID...]}"
limit="${LIMIT:-120}"
hz="$(getconf CLK_TCK)"
ticks() {
  local total=0 p f
  for p in ${pids//,/ }; do
    # Fields 14 and 15 of /proc/PID/stat: user and system time of all its threads, in ticks.
    read -ra f <"/proc/$p/stat"
    total=$((total + f[13] + f[14]))
  done
  echo "$total"
}
for waited in $(seq 0 "$limit"); do
  before="$(ticks)"
  sleep 1
  if [ $(($(ticks) - before)) -lt $((hz / 20)) ]; then
    echo "servers idle after ${waited} s"
    exit 0
  fi
done
echo "servers still busy after ${limit} s" >&2
