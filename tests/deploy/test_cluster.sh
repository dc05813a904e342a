#!/usr/bin/env bash
# test_cluster.sh - deploy/cluster.sh on its own: start writes an env file the console
# works with (logged in, both servers listed with their ranges and priorities), status
# shows every process and its ports, a second start in the same directory is refused,
# stop ends everything by PID and never signals a PID whose start time differs from the
# recorded one (a reused PID), a restart keeps the data (AOF) and the ports.
# Usage: test_cluster.sh SRC_DIR BIN_DIR
set -euo pipefail
src=${1:?SRC_DIR}
bin=${2:?BIN_DIR}
mkdir -p "${CF_TEST_TMP:-/tmp}"
tmp=$(mktemp -d "${CF_TEST_TMP:-/tmp}/cluster.XXXXXX")
export HOME=$tmp/home
mkdir -p "$HOME"
c=$tmp/c
cluster() { "$src/deploy/cluster.sh" "$@" --dir "$c"; }
decoy=""
cleanup() {
  cluster stop >/dev/null 2>&1 || true
  if [ -n "$decoy" ]; then kill "$decoy" 2>/dev/null || true; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

cluster start --bin "$bin"
[ "$(stat -c %a "$c/admin.pass")" = 600 ] || fail "admin.pass is not 0600"
cluster status | tee "$tmp/status"
for name in redis broker srv1 srv2; do
  grep -Eq "^$name +[0-9]+ +running" "$tmp/status" || fail "status does not show $name running"
done
(
  # shellcheck disable=SC1091
  . "$c/env"
  cf-console server list >"$tmp/servers"
  cf-console agent list >/dev/null
) || fail "the console does not work with $c/env"
grep -Eq '^srv1 .* 10 +127\.0\.0\.0/16 ' "$tmp/servers" || fail "srv1 record: $(cat "$tmp/servers")"
grep -Eq '^srv2 .* 5 +127\.1\.0\.0/16 ' "$tmp/servers" || fail "srv2 record: $(cat "$tmp/servers")"
if cluster start >/dev/null 2>&1; then fail "a second start in the same directory was not refused"; fi

# a decoy recorded under a wrong start time stands for a reused PID: stop leaves it alone
sleep 300 &
decoy=$!
echo "decoy $decoy 1" >>"$c/pids"
cluster stop
kill -0 "$decoy" 2>/dev/null || fail "stop signalled a PID whose start time differs"
if cluster status >/dev/null 2>&1; then fail "status after stop says something runs"; fi
# running: /proc has it and it is not a zombie waiting for init to reap it
running() { [ -r "/proc/$1/stat" ] && ! awk '{ exit ($3 == "Z") ? 0 : 1 }' "/proc/$1/stat"; }
while read -r pid; do
  if running "$pid"; then fail "PID $pid still runs after stop"; fi
done < <(awk '$2 ~ /^[0-9]+$/ { print $2 }' "$tmp/status")

cp "$c/ports" "$tmp/ports.before"
cluster start >/dev/null
cmp -s "$c/ports" "$tmp/ports.before" || fail "the restart changed the ports"
(
  # shellcheck disable=SC1091
  . "$c/env"
  cf-console server list
) | grep -q '^srv2 ' || fail "the data did not survive the restart"
cluster stop >/dev/null
echo "PASS: cluster.sh start, status, stop, restart"
