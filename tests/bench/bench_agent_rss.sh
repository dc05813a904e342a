#!/usr/bin/env bash
# bench_agent_rss.sh - agent memory (issue 5): the RSS of one real cf-agent process, and the
# RSS per simulated agent of `cf-agent --simulate N` (one process; every agent enrolled,
# checked in and linked). Goals: a real agent at most 8 MiB in steady state; a simulated
# agent at most 64 KiB. Prints the figures, the goals and MET or MISSED. A benchmark, not a
# test: it fails only when it cannot run.
#
#   tests/bench/bench_agent_rss.sh [--agents 1000,9000] [--bin DIR] [--agent FILE]
#                                  [--steady S] [--keep] [--help]
#
# The real agent (`cf-agent run --interval 2`) is measured three times: in STEADY STATE
# (after start-up, once it has given memory back, S seconds (default 25: twelve check-ins
# and two broker heartbeats of 10 s) with no further give-back, so the pages its recurring
# work needs are back), its PEAK (VmHWM over the whole run, start-up and the job included),
# and right AFTER A RENEW JOB and three more check-ins. The goal is judged on the steady
# state. --agent runs another cf-agent binary (a before/after comparison). Runs a local
# cluster (deploy/cluster.sh: Redis, a broker, two servers) on loopback in a fresh
# directory and stops it by PID at the end, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

sizes=1000,9000 bin=$root/build/normal keep=0 agent="" steady=25
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --agents) sizes=${2:?}; shift 2 ;;
    --bin) bin=${2:?}; shift 2 ;;
    --agent) agent=${2:?}; shift 2 ;;
    --steady) steady=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench_agent_rss: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$sizes" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "bench_agent_rss: --agents N[,N...]" >&2; exit 2; }
[[ "$steady" =~ ^[1-9][0-9]*$ ]] || { echo "bench_agent_rss: --steady SECONDS" >&2; exit 2; }
[ -x "$bin/agent/cf-agent" ] || { echo "bench_agent_rss: no $bin/agent/cf-agent (./deploy/build.sh normal)" >&2; exit 2; }
agent=${agent:-$bin/agent/cf-agent}
[ -x "$agent" ] || { echo "bench_agent_rss: no $agent" >&2; exit 2; }

dir=$(mktemp -d /tmp/bench_agent_rss.XXXXXX)
agent_pid="" sim_pid=""
stop_pid() {
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  stop_pid "$agent_pid"
  stop_pid "$sim_pid"
  "$root/deploy/cluster.sh" stop --dir "$dir/cluster" >/dev/null 2>&1 || true
  if [ "$keep" = 1 ]; then echo "work directory kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench_agent_rss: $* (logs in $dir)" >&2; keep=1; exit 1; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status" 2>/dev/null; }
wait_log() { # file pattern seconds
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

echo "== agent memory, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$root/deploy/cluster.sh" start --dir "$dir/cluster" --bin "$bin" >"$dir/cluster.log" 2>&1 ||
  die "cluster.sh start failed"
# shellcheck source=/dev/null
. "$dir/cluster/env"
total=$(( $(tr ',' '+' <<<"$sizes") + 10 ))
cf-console package create --out "$dir/agent.pkg" --token-uses "$total" --token-ttl 1d \
  >/dev/null || die "package create failed"

# ---- one real agent -------------------------------------------------------------------------
st=$dir/agent-state
log=$dir/agent.log
"$agent" install --bundle "$dir/agent.pkg" --state-dir "$st" --id rss-real-1 >"$log" 2>&1 ||
  die "cf-agent install failed"
"$agent" enroll --state-dir "$st" >>"$log" 2>&1 || die "cf-agent enroll failed"
"$agent" run --state-dir "$st" --interval 2 --log-level info >>"$log" 2>&1 &
agent_pid=$!
wait_log "$log" "broker=up" 60 || die "the real agent's broker link did not come up"
wait_log "$log" "checkin=ok" 60 || die "the real agent did not check in"
count() { grep -c "$1" "$log" 2>/dev/null || true; }
# Steady state: S seconds in which the agent checks in and its link heartbeats and it gives
# nothing back (an agent without cf_agent_trim never does; one with it trims after start-up:
# the window starts after its last trim). At most four windows.
sleep 3 # the give-back due 2 s after the link's check-in
for _ in 1 2 3 4; do
  trims=$(count "memory=given-back") checkins=$(count "checkin=ok")
  sleep "$steady"
  kill -0 "$agent_pid" 2>/dev/null || die "the real agent exited"
  [ "$(count "memory=given-back")" = "$trims" ] && break
done
[ "$(count "memory=given-back")" = "$trims" ] || die "the agent kept giving memory back"
checkins=$(( $(count "checkin=ok") - checkins ))
rss=$(kib "$agent_pid" VmRSS) hwm=$(kib "$agent_pid" VmHWM)
anon=$(kib "$agent_pid" RssAnon) file=$(kib "$agent_pid" RssFile)
threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$agent_pid/status" 2>/dev/null)
[ -n "$rss" ] || die "the real agent exited"
# where it goes: Rss per mapping of /proc/PID/smaps, summed by file (or [heap], [anon]...)
awk -v exe="$(readlink "/proc/$agent_pid/exe")" '
  /^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]"; next }
  $1 == "Rss:" { rss[name] += $2 }
  END {
    for (n in rss) {
      if (n == exe) bin += rss[n]
      else if (n ~ /\.so/) { lib += rss[n]; nlib++; if (rss[n] > top[0]) { top[0] = rss[n]; tn = n } }
      else if (n == "[heap]") heap += rss[n]
      else other += rss[n]
    }
    sub(/.*\//, "", tn)
    printf "   where: cf-agent binary %d KiB, %d shared libraries %d KiB (largest %s %d KiB), heap %d KiB, stacks/arenas/other %d KiB\n", bin, nlib, lib, tn, top[0], heap, other
  }' "/proc/$agent_pid/smaps" >"$dir/where.txt" 2>/dev/null || true
gave=$({ grep -o 'memory=given-back kib=[0-9]*' "$log" || true; } | cut -d= -f3 | awk '{ s += $1 } END { print s + 0 }')
# then work: a renew job (a new key and CSR, enrollment over HTTPS, install, handshake
# check), and three check-ins after it
job_rss="" job_hwm=""
if cf-console job renew --agents rss-real-1 >"$dir/job.log" 2>&1 &&
  wait_log "$log" "outcome=" 60; then
  outcome=$(grep -o 'outcome=[a-z]*' "$log" | tail -1)
  after=$(( $(count "checkin=ok") + 3 ))
  for _ in $(seq 300); do [ "$(count "checkin=ok")" -ge "$after" ] && break; sleep 0.1; done
  job_rss=$(kib "$agent_pid" VmRSS) job_hwm=$(kib "$agent_pid" VmHWM)
fi
stop_pid "$agent_pid"
agent_pid=""
echo "real agent ($agent run --interval 2: enrolled, checked in, broker link up), load average $(cut -d' ' -f1-3 /proc/loadavg):"
echo "   steady state ($steady s, $checkins check-ins and the link's heartbeats after the last give-back): VmRSS $rss KiB (private $anon KiB, mapped files and shared libraries $file KiB; $threads threads)"
cat "$dir/where.txt"
echo "   given back after start-up: $gave KiB ($trims times)"
if [ -n "$job_hwm" ]; then
  echo "   after a renew job ($outcome) and three check-ins: VmRSS $job_rss KiB"
  echo "   peak (VmHWM, start-up and the job included): $job_hwm KiB"
else
  echo "   after a renew job: no outcome within 60 s (logs in $dir)"
  echo "   peak (VmHWM, start-up included): $hwm KiB"
  keep=1
fi
echo "   goal: at most 8 MiB (8192 KiB) in steady state: $([ "$rss" -le 8192 ] && echo MET || echo MISSED) ($rss KiB)"

# ---- simulated agents ---------------------------------------------------------------------
for n in ${sizes//,/ }; do
  log=$dir/sim-$n.log
  "$bin/agent/cf-agent" --simulate "$n" --bundle "$dir/agent.pkg" --id-prefix "rss$n-" \
    --interval 600 --log-level warn >"$log" 2>&1 &
  sim_pid=$!
  line=""
  for _ in $(seq 6000); do
    line=$(grep '^sim stats' "$log" | tail -1 || true)
    awk -v n="$n" '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
      END { exit !(v["enrolled"] == n && v["up"] == n && v["checkins"] >= n) }' <<<"$line" && break
    kill -0 "$sim_pid" 2>/dev/null || die "cf-agent --simulate $n exited"
    sleep 0.1
  done
  first=$(grep '^sim stats' "$log" | head -1 | grep -o 'rss_kib=[0-9]*' | cut -d= -f2 || true)
  sleep 2
  now=$(kib "$sim_pid" VmRSS)
  stop_pid "$sim_pid"
  sim_pid=""
  if [ -z "$now" ] || [ -z "$first" ]; then die "no RSS for $n simulated agents"; fi
  awk -v n="$n" -v r="$now" -v f="$first" 'BEGIN {
    per = r / n; printf "%d simulated agents (one process, all enrolled, checked in, linked): VmRSS %d KiB = %.1f KiB per agent (%.1f KiB per agent above the empty process)\n", n, r, per, (r - f) / n
    printf "   goal: at most 64 KiB per simulated agent: %s\n", per <= 64 ? "MET" : "MISSED" }'
done
