#!/usr/bin/env bash
# test_shellcheck.sh - every shell script of deploy/ and tests/deploy/ passes shellcheck
# (sourced helpers followed). Exit 77 (ctest: skipped) when shellcheck is not there.
# Usage: test_shellcheck.sh SRC_DIR
set -euo pipefail
cd "${1:?SRC_DIR}"
if ! command -v shellcheck >/dev/null; then
  echo "shellcheck not found: nothing checked"
  exit 77
fi
mapfile -t scripts < <(ls deploy/*.sh deploy/sentinel/*.sh tests/deploy/*.sh)
shellcheck -x "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean"
