#!/usr/bin/env bash
# Starts the local three-node cluster in the background and waits until every node reports
# that all of its groups have a leader. Records the pids it started in $DATA_DIR/pids.
#   ROOST_BIN  the roost binary (default: build target/release/roost)
#   DATA_DIR   where node data, logs and pids go (default: <repo>/data/local-3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${DATA_DIR:-$root/data/local-3}"
if [ -z "${ROOST_BIN:-}" ]; then
  (cd "$root" && cargo build --release -p roost >&2)
  ROOST_BIN="${CARGO_TARGET_DIR:-$root/target}/release/roost"
fi
mkdir -p "$data"
if [ -s "$data/pids" ]; then
  echo "pids file $data/pids exists: run stop.sh first" >&2
  exit 1
fi
for n in 1 2 3; do
  "$ROOST_BIN" serve --config "$here/node$n.toml" --data-dir "$data/node$n" \
    >>"$data/node$n.log" 2>&1 &
  echo $! >>"$data/pids"
done
deadline=$((SECONDS + 60))
for n in 1 2 3; do
  until curl -fsS "http://127.0.0.1:708$n/readyz" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "node $n not ready after 60 s; see $data/node$n.log" >&2
      exit 1
    fi
    sleep 0.2
  done
done
echo "local-3 ready: http://127.0.0.1:7081 http://127.0.0.1:7082 http://127.0.0.1:7083 (pids in $data/pids)"
