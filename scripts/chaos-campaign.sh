#!/usr/bin/env bash
# A chaos campaign: runs every chaos run (`crates/roost/tests/cluster/chaos.rs`: kills, pauses,
# partitions, five-node schedules, clock skew; `membership.rs`: nodes added and removed, a dead
# node replaced; `rolling.rs`: rolling restarts) RUNS times, each lasting SECS seconds instead of
# CI's few seconds, one at a time. Every run leaves a directory under OUT (history.jsonl,
# final.json, results.json, summary.txt, latency.png, throughput.png with faults shaded);
# the table of runs goes to OUT/table.md. Needs root (network namespaces).
#   RUNS  how many times (default 4)      SECS  seconds per run (default 300)
#   OUT   where runs go (default ./data/chaos-<UTC time>)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-4}"
secs="${SECS:-300}"
out="${OUT:-$root/data/chaos-$(date -u +%Y%m%dT%H%M%SZ)}"
# The same build directory as scripts/test.sh, so a campaign reuses the test build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roost-target}"
"$root/scripts/deps.sh"
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q matplotlib
mkdir -p "$out"
cd "$root"
for r in $(seq 1 "$runs"); do
  echo "== run $r of $runs ($secs s each)"
  # A failing run (an anomaly) must not stop the campaign: its directory says what it found.
  # The whole output (failure messages included) stays in the run's test.log.
  mkdir -p "$out/run-$r"
  ROOST_CHAOS_SECS="$secs" ROOST_CHAOS_OUT="$out/run-$r" timeout $((secs * 12 + 900)) \
    cargo test -p roost --test cluster -- chaos membership rolling --test-threads 1 --nocapture \
    >"$out/run-$r/test.log" 2>&1 || echo "run $r: some runs failed (see $out/run-$r/test.log)"
  grep -E '^(test |[a-z_]+: (valid|INVALID))' "$out/run-$r/test.log" || true
done
for dir in "$out"/run-*/*/; do
  python3 "$root/jepsen-tests/scripts/plot.py" "$dir"
done
python3 "$root/jepsen-tests/scripts/table.py" "$out" | tee "$out/table.md"
echo "runs in $out"
