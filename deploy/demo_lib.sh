# demo_lib.sh - helpers of deploy/demo.sh and the shell tests in tests/deploy (sourced):
# JSON with python3, polling, the fleet's counts, a job followed to its end and checked
# against its entries, the refusal of a client without a certificate. They run cf-console
# with the cluster's environment ('. D/env').
# shellcheck shell=bash

# The value at a dotted path (numbers index arrays) of the JSON on stdin; '' when absent.
json_get() {
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    if v is None:
        break
    v = v[int(k)] if isinstance(v, list) else v.get(k)
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else v))' "$1"
}

# Wait up to $1 seconds for the command "${@:2}" to succeed (polled twice a second).
wait_for() {
  local end=$((SECONDS + $1))
  shift
  while :; do
    if "$@"; then return 0; fi
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.5
  done
}

# The number of agents in lock state $1, or in all four states for "all" ('agent list'
# counts).
fleet_count() {
  cf-console agent list --json --limit 1 | python3 -c '
import json, sys
c = json.load(sys.stdin).get("counts") or {}
print(sum(v for v in c.values() if isinstance(v, int)) if sys.argv[1] == "all" else c.get(sys.argv[1], 0))' "$1"
}

# Wait up to $3 seconds until $2 agents are in state $1 ("all": known at all); a dot per
# poll on a terminal.
wait_fleet() { wait_for "$3" s_fleet_at "$1" "$2"; }
s_fleet_at() {
  local n
  n=$(fleet_count "$1" 2>/dev/null || echo 0)
  if [ -t 1 ]; then printf '\r%s of %s agents %s ' "$n" "$2" "$1"; fi
  [ "$n" = "$2" ]
}

# Print a command (shell-quoted) and run it.
run() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }

# The job object of id $1 (JSON).
job_json() { cf-console job show "$1" --json --limit 1 | json_get job; }

# One line of a job's progress: the count of every state it has, done or not.
job_line() {
  python3 -c '
import json, sys
j = json.load(sys.stdin)
order = ["pending", "queued", "delivered", "installed", "failed", "expired", "cancelled", "too_old"]
c = j.get("counts") or {}
keys = [k for k in order if k in c] + sorted(k for k in c if k not in order)
print("  ".join("%s %d" % (k, c[k]) for k in keys) + ("  (done)" if j.get("done") else ""))'
}

# Install certificates on every agent and follow the job to its end; sets $job. Uses
# 'job install-cert --all --watch' when the console has it, else 'job create' and a
# progress line per second from 'job show'.
install_all() {
  local start=$SECONDS last="" line
  if cf-console job --help 2>&1 | grep -q 'install-cert'; then
    # --also: the watch goes on through srv2 should srv1 go away
    run cf-console job install-cert --all --watch --also "$CF_SRV2_URL" ||
      echo "(the job did not install on every agent)"
    job=$(cf-console job list --json | json_get jobs.0.id)
    return 0
  fi
  printf '$ cf-console job create install_cert --all\n'
  job=$(cf-console job create install_cert --all --json | json_get id)
  [ -n "$job" ] || { echo "demo.sh: the job was not created" >&2; return 1; }
  echo "job $job"
  while :; do
    line=$(job_json "$job" | job_line)
    if [ "$line" != "$last" ]; then
      printf '  %3ds  %s\n' $((SECONDS - start)) "$line"
      last=$line
    fi
    case "$line" in *"(done)"*) return 0 ;; esac
    [ $((SECONDS - start)) -lt 600 ] || { echo "demo.sh: the job is not done after 600 s" >&2; return 1; }
    sleep 1
  done
}

show_job() { run cf-console job show "$1" --limit 5; }

# Check a job against its entries: prints "total=N done=0|1 installed=N entries=N" and
# fails when the counts of the job object differ from the states of its entries (read
# page by page) or do not add up to total.
job_tally() {
  local id=$1 cursor="" page all="[]"
  while :; do
    if [ -n "$cursor" ]; then
      page=$(cf-console job show "$id" --json --limit 10000 --cursor "$cursor")
    else
      page=$(cf-console job show "$id" --json --limit 10000)
    fi
    all=$(printf '%s\n%s' "$all" "$page" | python3 -c '
import json, sys
first, rest = sys.stdin.read().split("\n", 1)
print(json.dumps(json.loads(first) + (json.loads(rest).get("agents") or [])))')
    cursor=$(json_get cursor <<<"$page")
    if [ -z "$cursor" ] || [ "$cursor" = 0 ]; then break; fi
  done
  printf '%s\n%s' "$all" "$page" | python3 -c '
import collections, json, sys
first, rest = sys.stdin.read().split("\n", 1)
agents = json.loads(first)
job = json.loads(rest)["job"]
counts = {k: v for k, v in job["counts"].items() if v}
tally = dict(collections.Counter(a["state"] for a in agents))
print("total=%d done=%d installed=%d entries=%d" % (job["total"], 1 if job.get("done") else 0,
      job["counts"].get("installed", 0), len(agents)))
if counts != tally:
    print("counts %s != entries %s" % (counts, tally)); sys.exit(1)
if sum(counts.values()) != job["total"]:
    print("counts %s do not add up to total %d" % (counts, job["total"])); sys.exit(1)'
}

# The job $1 is done, reached $2 agents, all installed, and its counts equal its entries.
job_matches() {
  local out
  out=$(job_tally "$1") || { echo "$out"; return 1; }
  echo "$out"
  [[ "$out" == "total=$2 done=1 installed=$2 entries=$2" ]]
}

# An agent check-in without a certificate to srv1 and srv2, over the plain port and over
# HTTPS: prints what happened to each; 0 when all four were refused.
s_probe() { # URL, then curl options
  local url=$1 code
  shift
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" \
    -H 'Content-Type: application/json' \
    -d '{"id":"demo-probe","version":"0.1.0","protocol":1}' "$url/api/v1/agent/checkin") || true
  code=${code:-000}
  if [ "$code" = 000 ]; then echo "refused"; elif [ "$code" -ge 400 ]; then echo "refused ($code)"; else echo "accepted ($code)"; fi
}
plain_refused() {
  local out
  out=$(s_refusals)
  ! grep -q accepted <<<"$out"
}
s_refusals() {
  printf 'srv1 plain  %s: %s\n' "$CF_SRV1_PLAIN" "$(s_probe "$CF_SRV1_PLAIN")"
  printf 'srv2 plain  %s: %s\n' "$CF_SRV2_PLAIN" "$(s_probe "$CF_SRV2_PLAIN")"
  printf 'srv1 https  %s: %s\n' "$CF_SRV1_URL" "$(s_probe "$CF_SRV1_URL" --cacert "$CF_CONSOLE_CA")"
  printf 'srv2 https  %s: %s\n' "$CF_SRV2_URL" "$(s_probe "$CF_SRV2_URL" --cacert "$CF_CONSOLE_CA")"
}
# Show the four refusals once the switch reached both servers (pub/sub; up to 15 s).
show_refusals() {
  wait_for 15 plain_refused || true
  echo "an agent check-in without a certificate:"
  s_refusals | sed 's/^/  /'
}
