#!/usr/bin/env bash
# Profiles the local three-node cluster under load: starts it (release build, fsync on), runs
# one `roost bench` workload (ARGS, default pipelined HTTP publishing at window 128), samples
# all three nodes with `perf record` for SECS seconds meanwhile, and prints where their CPU
# went: by shared object, by thread, and the top symbols. Stops exactly the nodes it started.
#   ARGS  roost bench arguments (default: --workload window --window 128 --count 60000 --reps 3)
#   SECS  seconds to sample (default 10)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
args="${ARGS:---workload window --window 128 --count 60000 --reps 3}"
secs="${SECS:-10}"
out="${OUT:-$root/data/profile-$(date -u +%Y%m%dT%H%M%SZ)}"
command -v perf >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf; }
. "$root/scripts/local3.sh"
pids="$(paste -sd, "$DATA_DIR/pids")"
# shellcheck disable=SC2086 # ARGS is a list of arguments
timeout 900 "$ROOST_BIN" bench --url "$urls" --pids "$pids" $args >"$out/bench.txt" &
bench=$!
sleep 2
perf record -F 499 -g -o "$out/perf.data" -p "$pids" -- sleep "$secs" 2>"$out/perf-record.txt"
wait "$bench"
tail -n 4 "$out/bench.txt"
report() { perf report -i "$out/perf.data" --stdio --no-children -g none "$@" 2>/dev/null | grep -v '^#' | grep -v '^$'; }
echo "== CPU by shared object"; report --sort dso | head -n 6
echo "== CPU by thread"; report --sort comm | head -n 6
echo "== top symbols"; report --sort sym | head -n 30
