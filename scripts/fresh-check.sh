#!/usr/bin/env bash
# The README's two commands on a fresh machine, as root: removes the packages scripts/deps.sh
# installs, clones the committed HEAD of this repository, runs `./scripts/run.sh` until /readyz
# answers and stops it, then runs `./scripts/test.sh` with an empty build directory and an empty
# cargo home (every crate downloaded and built again). Prints both cold wall times.
#
#   FRESH_DIR     where the clone, data and cargo home go (default: a new temp dir)
#   FRESH_TARGET  the test command's build directory; must be empty or absent
#                 (default: $FRESH_DIR/target)
#   FRESH_KEEP_CARGO_HOME=1  reuse ~/.cargo's download cache instead of an empty one
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "fresh-check: run as root (it removes and installs packages)" >&2; exit 1; }
dir="${FRESH_DIR:-$(mktemp -d /tmp/roost-fresh.XXXXXX)}"
target="${FRESH_TARGET:-$dir/target}"
if [ -n "$(ls -A "$target" 2>/dev/null)" ]; then
  echo "fresh-check: $target is not empty" >&2; exit 1
fi
mkdir -p "$dir"
log="$dir/log"
echo "fresh-check: working in $dir (logs in $log.*)"

# 1. Remove what deps.sh installs for the build (and the chaos and browser tests), so
#    nothing left on this machine hides a missing install step.
export DEBIAN_FRONTEND=noninteractive
mapfile -t installed < <(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' 2>/dev/null \
  | awk '$1 ~ /^ii/ {print $2}' \
  | grep -E '^(clang(-[0-9]+)?|libclang-dev|libclang-[0-9]+-dev|libclang1(-[0-9]+)?|libclang-common-[0-9]+-dev|protobuf-compiler|libprotoc[0-9a-z]*|nftables|libfaketime|faketime|chromium|prometheus)$' || true)
if [ ${#installed[@]} -gt 0 ]; then
  echo "fresh-check: removing ${installed[*]}"
  apt-get remove -y -qq "${installed[@]}" >/dev/null
fi
for c in clang protoc nft chromium promtool; do
  ! command -v "$c" >/dev/null 2>&1 || { echo "fresh-check: $c is still installed" >&2; exit 1; }
done
ls /usr/lib/llvm-*/lib/libclang.so /usr/lib/llvm-*/lib/libclang-*.so >/dev/null 2>&1 \
  && { echo "fresh-check: libclang.so is still installed" >&2; exit 1; }

# 2. A clean clone, an empty cargo home.
git clone -q "$root" "$dir/clone"
if [ "${FRESH_KEEP_CARGO_HOME:-0}" != 1 ]; then
  export CARGO_HOME="$dir/cargo-home"
  mkdir -p "$CARGO_HOME"
fi
export PATH="$HOME/.cargo/bin:$PATH"

# 3. The run command, until /readyz answers (at most an hour), then stop it by its pid.
for port in 7070 7170 7270; do
  ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
    || { echo "fresh-check: port $port is in use" >&2; exit 1; }
done
start=$(date +%s)
(cd "$dir/clone" && exec ./scripts/run.sh --data-dir "$dir/data") >"$log.run" 2>&1 &
pid=$!
ready=""
for _ in $(seq 1 3600); do
  if curl -fsS -m 2 http://127.0.0.1:7070/readyz >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
run_secs=$(( $(date +%s) - start ))
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [ -z "$ready" ]; then
  echo "fresh-check: ./scripts/run.sh did not serve /readyz (see $log.run)" >&2; tail -n 20 "$log.run" >&2; exit 1
fi
echo "fresh-check: ./scripts/run.sh served /readyz after ${run_secs} s"

# 4. The test command, with an empty build directory.
start=$(date +%s)
if ! (cd "$dir/clone" && CARGO_TARGET_DIR="$target" ./scripts/test.sh) >"$log.test" 2>&1; then
  echo "fresh-check: ./scripts/test.sh failed after $(( $(date +%s) - start )) s (see $log.test)" >&2
  tail -n 30 "$log.test" >&2; exit 1
fi
test_secs=$(( $(date +%s) - start ))
echo "fresh-check: ./scripts/test.sh passed after ${test_secs} s"
echo "fresh-check: cold run ${run_secs} s, cold test ${test_secs} s"
