#!/usr/bin/env bash
# Installs what building and testing Roost needs on Debian (run as root), checking for what the
# build really uses rather than for files that merely look like it:
# - a C and a C++ compiler for RocksDB, and `libclang.so` itself for bindgen (clang-sys loads
#   exactly `libclang.so` or `libclang-<version>.so`; the `libclang-cpp.so.N` that Debian
#   preinstalls is a different library and does not count);
# - protoc for the gRPC definitions, curl for the scripts;
# - iproute2, nftables and libfaketime for the chaos tests, python3 with venv for the manifest
#   checks of the test command, chromium for the status page's headless-browser test;
# - Rust, when it is missing.
set -euo pipefail
need=()
has_libclang() {
  local f
  for f in /usr/lib/llvm-*/lib/libclang.so /usr/lib/llvm-*/lib/libclang-*.so \
    /usr/lib/*-linux-gnu/libclang.so /usr/lib/*-linux-gnu/libclang-*.so; do
    [ -e "$f" ] && return 0
  done
  return 1
}
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v clang >/dev/null 2>&1 || need+=(clang)
has_libclang || need+=(libclang-dev)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# The partition chaos test puts nodes in network namespaces and cuts links with nftables.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
# The clock-skew chaos test runs nodes under libfaketime.
[ -n "$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n1)" ] || need+=(libfaketime)
# The test command validates deploy/ with schema validators from PyPI, in a venv.
{ command -v python3 >/dev/null 2>&1 && python3 -m venv --help >/dev/null 2>&1; } \
  || need+=(python3 python3-venv)
# The status page's test loads it in headless chromium (run as root: --no-sandbox).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The alert rules are tested with promtool, which Debian ships in its Prometheus package. Only
# the tool is wanted: no recommended exporters, and no server left running, so service starts
# are refused while it installs (the image's own policy-rc.d does the same where there is one).
if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard"
    chmod +x "$guard"
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  [ -z "$guard" ] || rm -f "$guard"
fi
has_libclang || { echo "deps.sh: libclang.so still missing after installing libclang-dev" >&2; exit 1; }
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    :
  else
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
fi
