#!/usr/bin/env bash
# Installs what building Roost needs on Debian (run as root): a C/C++ toolchain and libclang for
# RocksDB, protoc for the gRPC definitions, curl for the scripts, iproute2, nftables and
# libfaketime for the chaos tests, and Rust when it is missing.
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -n "$(ls /usr/lib/llvm-*/lib/libclang*.so* 2>/dev/null | head -n1)" ] || need+=(libclang-dev)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# The partition chaos test puts nodes in network namespaces and cuts links with nftables.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
# The clock-skew chaos test runs nodes under libfaketime.
[ -n "$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n1)" ] || need+=(libfaketime)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    :
  else
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
fi
