#!/usr/bin/env bash
# test_demo.sh - the demo's flow end to end against this build (deploy/demo.sh --check):
# a cluster, all certificates generated, SSL on with allow-plain, an install package, a
# fleet of simulated agents, one install job to all; it fails unless every agent ends
# secure, the job's counts equal the fleet and its entries, and after allow-plain is
# switched off a client without a certificate is refused on both servers (plain and
# HTTPS). Usage: test_demo.sh SRC_DIR BIN_DIR [AGENTS]
set -euo pipefail
src=${1:?SRC_DIR}
bin=${2:?BIN_DIR}
n=${3:-200}
mkdir -p "${CF_TEST_TMP:-/tmp}"
tmp=$(mktemp -d "${CF_TEST_TMP:-/tmp}/demo.XXXXXX")
export HOME=$tmp/home # the console's session stays here
mkdir -p "$HOME"
export NO_COLOR=1
"$src/deploy/demo.sh" --agents "$n" --check --no-deps --no-build --bin "$bin" --dir "$tmp/cluster"
# nothing of the cluster is left running
if [ -f "$tmp/cluster/pids" ]; then
  echo "FAIL: the demo left $tmp/cluster/pids behind"
  exit 1
fi
rm -rf "$tmp"
echo "PASS: demo flow with $n agents"
