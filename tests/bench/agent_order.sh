#!/usr/bin/env bash
# agent_order.sh - writes agent/cf-agent.order, the link order of cf-agent's code: the
# functions a real `cf-agent run --interval 2` executes, in three groups: first those of its
# STEADY STATE (check-ins and broker heartbeats after start-up, once it has given memory
# back), then those of its start-up (enrolled, first check-ins, broker link up), then those
# of a renew job (key, CSR, enrollment over HTTPS, install, handshake check, report); in
# each group in the order callgrind lists them. agent/CMakeLists.txt hands it to lld
# (--symbol-ordering-file) so the code the agent runs all the time sits together at the
# front and, after cf_agent_trim gave the rest back, the daemon maps fewer 64 KiB windows of
# its binary (docs/BENCHMARKS.md, memory of a real agent). A stale list costs memory, never
# correctness: names no longer there are skipped. Rerun after large changes to the agent.
#
#   tests/bench/agent_order.sh [--bin DIR] [--out FILE] [--keep] [--help]
#
# Runs a local cluster (deploy/cluster.sh) on loopback in a fresh directory and stops it by
# PID at the end. Needs valgrind; --bin (default build/normal) must hold a static cf-agent.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

bin=$root/build/normal out=$root/agent/cf-agent.order keep=0
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "agent_order: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ -x "$bin/agent/cf-agent" ] || { echo "agent_order: no $bin/agent/cf-agent" >&2; exit 2; }
command -v callgrind_control >/dev/null || { echo "agent_order: valgrind is needed" >&2; exit 2; }

dir=$(mktemp -d /tmp/agent_order.XXXXXX)
agent_pid=""
cleanup() {
  if [ -n "$agent_pid" ]; then kill -INT "$agent_pid" 2>/dev/null || true; wait "$agent_pid" || true; fi
  "$root/deploy/cluster.sh" stop --dir "$dir/cluster" >/dev/null 2>&1 || true
  if [ "$keep" = 1 ]; then echo "work directory kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "agent_order: $* (logs in $dir)" >&2; keep=1; exit 1; }
wait_log() { # file pattern seconds
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

"$root/deploy/cluster.sh" start --dir "$dir/cluster" --bin "$bin" >"$dir/cluster.log" 2>&1 ||
  die "cluster.sh start failed"
# shellcheck source=/dev/null
. "$dir/cluster/env"
cf-console package create --out "$dir/agent.pkg" --token-uses 2 --token-ttl 1d >/dev/null ||
  die "package create failed"
st=$dir/agent-state
"$bin/agent/cf-agent" install --bundle "$dir/agent.pkg" --state-dir "$st" --id order-1 \
  >"$dir/agent.log" 2>&1 || die "cf-agent install failed"
"$bin/agent/cf-agent" enroll --state-dir "$st" >>"$dir/agent.log" 2>&1 || die "cf-agent enroll failed"
valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" --demangle=no \
  "$bin/agent/cf-agent" run --state-dir "$st" --interval 2 --log-level info >"$dir/run.log" 2>&1 &
agent_pid=$!
wait_log "$dir/run.log" "broker=up" 120 || die "the agent's broker link did not come up"
wait_log "$dir/run.log" "checkin=ok" 120 || die "the agent did not check in"
wait_log "$dir/run.log" "memory=given-back" 120 || die "the agent gave no memory back"
sleep 2
callgrind_control -d startup "$agent_pid" >/dev/null 2>&1 || die "callgrind_control -d failed"
sleep 30 # steady state: check-ins every 2 s, broker heartbeats every 10 s
callgrind_control -d steady "$agent_pid" >/dev/null 2>&1 || die "callgrind_control -d failed"
cf-console job renew --agents order-1 >"$dir/job.log" 2>&1 || die "job renew failed"
wait_log "$dir/run.log" "outcome=" 300 || die "the renew job did not end"
sleep 4
kill -INT "$agent_pid"
wait "$agent_pid" || true
agent_pid=""
dumps=$(grep -l '^desc: Trigger: .*steady' "$dir"/callgrind.out* || true)
[ -n "$dumps" ] || die "no callgrind dump of the steady state"
first=$(grep -l '^desc: Trigger: .*startup' "$dir"/callgrind.out* || true)
last=$(grep -L '^desc: Trigger: .*\(steady\|startup\)' "$dir"/callgrind.out* || true)

# callgrind names each function once per file as "fn=(N) name" under the object it is in
# ("ob="); a function a dump lists ran in that part of the run. Steady first, then the rest.
awk -v exe="$(basename "$bin/agent/cf-agent")" '
  function take(s) { sub(/^\([0-9]+\) ?/, "", s); return s }
  FNR == 1 { delete name; delete fn }
  /^ob=/ { s = substr($0, 4); id = s; sub(/\).*/, ")", id); n = take(s)
           if (n != "") name[id] = n; cur = name[id]; next }
  /^fn=/ { s = substr($0, 4); id = s; sub(/\).*/, ")", id); n = take(s)
           if (n != "") fn[id] = n
           f = fn[id]; sub(/\047[0-9]+$/, "", f)
           if (cur ~ ("/" exe "$") && f != "" && !(f in seen)) { seen[f] = 1; print f } }
  /^cob=/ { s = substr($0, 5); id = s; sub(/\).*/, ")", id); n = take(s); if (n != "") name[id] = n; next }
  /^cfn=/ { s = substr($0, 5); id = s; sub(/\).*/, ")", id); n = take(s); if (n != "") fn[id] = n }
' $dumps $first $last >"$dir/order"
steady_n=$(awk -v exe="$(basename "$bin/agent/cf-agent")" '
  function take(s) { sub(/^\([0-9]+\) ?/, "", s); return s }
  /^ob=/ { s = substr($0, 4); id = s; sub(/\).*/, ")", id); n = take(s); if (n != "") name[id] = n; cur = name[id]; next }
  /^fn=/ { s = substr($0, 4); id = s; sub(/\).*/, ")", id); n = take(s); if (n != "") fn[id] = n
           f = fn[id]; sub(/\047[0-9]+$/, "", f); if (cur ~ ("/" exe "$") && f != "") seen[f] = 1 }
  /^cob=/ { s = substr($0, 5); id = s; sub(/\).*/, ")", id); n = take(s); if (n != "") name[id] = n; next }
  END { print length(seen) }' $dumps)
lines=$(wc -l <"$dir/order")
[ "$lines" -gt 100 ] || die "only $lines functions found"
{
  echo "# cf-agent.order - the link order of cf-agent's code (tests/bench/agent_order.sh wrote it;"
  echo "# $lines functions a real agent ran; the first $steady_n in its steady state: check-ins and"
  echo "# broker heartbeats; then start-up, then a renew job)"
  cat "$dir/order"
} >"$out"
echo "agent_order: $lines functions -> $out"
