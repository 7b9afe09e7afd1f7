# Sourced by the A/B scripts that compare two server binaries: `ab_rounds` runs `measure`
# (defined by the sourcing script) once per round and server, A then B, each time on a fresh
# local three-node cluster (fsync on) started from that server's binary, and stops exactly the
# nodes it started. Expects `root`, `out`, `rounds`, A_BIN and B_BIN to be set; `measure` sees
# `round`, `server` and `pids` (the nodes' pids, comma-separated).
export DATA_DIR="$out/cluster"
trap '"$root/cluster-config/local-3/stop.sh" >&2' EXIT
ab_rounds() {
  for round in $(seq 1 "$rounds"); do
    for server in A B; do
      bin_var="${server}_BIN"
      export ROOST_BIN="${!bin_var}"
      rm -rf "$DATA_DIR"
      "$root/cluster-config/local-3/start.sh"
      pids="$(paste -sd, "$DATA_DIR/pids")"
      measure
      echo "== round $round $server"
      "$root/cluster-config/local-3/stop.sh" >&2
    done
  done
  trap - EXIT
  rm -rf "$DATA_DIR"
}
