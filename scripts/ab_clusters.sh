# Sourced by the A/B scripts that compare two server binaries: `ab_rounds` runs `measure`
# (defined by the sourcing script) once per round and server, A then B, each time on a fresh
# local three-node cluster (fsync on) started from that server's binary, and stops exactly the
# nodes it started. Expects `root`, `out` and `rounds` to be set, and A_BIN and B_BIN (checked
# here); `measure` sees `round`, `server`, `pids` (the nodes' pids, comma-separated), and the
# nodes' HTTP and client gRPC addresses in `urls` and `grpc`.
: "${A_BIN:?set A_BIN to the release binary before the change}"
: "${B_BIN:?set B_BIN to the release binary after the change}"
urls="http://127.0.0.1:7081,http://127.0.0.1:7082,http://127.0.0.1:7083"
grpc="http://127.0.0.1:7281,http://127.0.0.1:7282,http://127.0.0.1:7283"
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
