#!/usr/bin/env bash
# Starts the local three-node cluster in the background and waits until every node reports
# that all of its groups have a leader. Records the pids it started in $DATA_DIR/pids.
#   ROOST_BIN  the roost binary (default: build target/release/roost)
#   DATA_DIR   where node data, logs and pids go (default: <repo>/data/local-3)
#   TLS=1      peers speak mutual TLS, with a development CA and node certificates that
#              `roost certs` makes into $DATA_DIR/certs on the first start
#   TOKIO_WORKER_THREADS  async worker threads per node (default 1 here: three nodes share this
#              machine's cores, and one worker each costs less CPU per message than one per
#              core and answers sooner; BENCHMARKS.md §20)
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
certs="$data/certs"
if [ "${TLS:-0}" = 1 ] && [ ! -f "$certs/ca.pem" ]; then
  "$ROOST_BIN" certs --out "$certs" --node 1=127.0.0.1 --node 2=127.0.0.1 --node 3=127.0.0.1 >/dev/null
fi
for n in 1 2 3; do
  tls=()
  if [ "${TLS:-0}" = 1 ]; then
    tls=(ROOST_PEER_TLS__CERT_FILE="$certs/node$n.pem" ROOST_PEER_TLS__KEY_FILE="$certs/node$n.key"
      ROOST_PEER_TLS__CA_FILE="$certs/ca.pem")
  fi
  env "${tls[@]}" TOKIO_WORKER_THREADS="${TOKIO_WORKER_THREADS:-1}" \
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
