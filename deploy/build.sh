#!/usr/bin/env bash
# build.sh - configure and build one flavour of certfleet.
#   deploy/build.sh [normal|asan|fuzz]   (default normal) -> build/<flavour>
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-normal}
jobs=$(nproc 2>/dev/null || echo 2)
case "$flavour" in
  normal) cc=${CC:-gcc}; opts=() ;;
  asan)   cc=${CC:-gcc}; opts=(-DCF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCF_BENCH=OFF) ;;
  fuzz)   cc=clang; opts=(-DCF_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCF_BENCH=OFF) ;;
  *) echo "usage: deploy/build.sh [normal|asan|fuzz]" >&2; exit 2 ;;
esac
dir=build/$flavour
CC=$cc cmake -S . -B "$dir" -DCF_WERROR=ON "${opts[@]}" >/dev/null
cmake --build "$dir" -j "$jobs" -- --no-print-directory >/dev/null
echo "build: $flavour ok ($dir)"
