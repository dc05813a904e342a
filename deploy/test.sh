#!/usr/bin/env bash
# test.sh - run every certfleet test: a normal and an ASan+UBSan build (-Werror both),
# ctest on each (unit and integration), then every fuzz target for a bounded run.
# Exits non-zero on any failure; ends with the totals line.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
./deploy/install-deps.sh || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
status=0

run_ctest() { # flavour, then extra ctest args
  local flavour=$1; shift
  local log=build/$flavour/ctest.log
  echo "== ctest ($flavour)"
  (cd "build/$flavour" && ctest --output-on-failure -j "$jobs" "$@") 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    local total fail
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    fail=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - fail))
    failed=$((failed + fail))
  elif [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
  fi
  [ "$rc" -eq 0 ] || status=1
}

for flavour in normal asan fuzz; do
  if ! ./deploy/build.sh "$flavour"; then
    echo "test.sh: $flavour build failed" >&2
    failed=$((failed + 1))
    status=1
    continue
  fi
  case "$flavour" in
    fuzz) run_ctest fuzz -L fuzz ;;
    *)    run_ctest "$flavour" -L 'unit|integration' ;;
  esac
done

echo "total: $passed passed, $failed failed"
exit $status
