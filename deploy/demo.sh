#!/usr/bin/env bash
# demo.sh - certfleet's main job, end to end on this machine: a certificate rollout to a
# simulated fleet, the seed's option 1 ("SSL configuration") with our commands.
#
#   ./deploy/demo.sh [--agents N] [--keep] [--check] [--no-deps] [--no-build]
#                    [--dir D] [--bin DIR] [--help]
#
# It installs the Debian packages (deploy/install-deps.sh) and builds (deploy/build.sh
# normal), then starts a local cluster with deploy/cluster.sh: redis-server (own
# directory, loopback, AOF on), one broker, two servers (priorities 10 and 5, primary IP
# ranges 127.0.0.0/16 and 127.1.0.0/16). With cf-console it then generates all
# certificates, enables SSL with communication without SSL allowed, makes an install
# package, starts a simulated fleet (N agents, default 1,000, without certificates),
# installs certificates on all agents by one job and follows it, shows the agent table all
# secure, switches communication without SSL off and shows that a client without a
# certificate is refused. Everything it started is stopped on exit, Ctrl-C included.
#
#   --agents N   simulated agents (default 1000)
#   --keep       leave the cluster running (stop it with: deploy/cluster.sh stop --dir D)
#   --check      exit non-zero unless every agent ends secure, the job's counts match the
#                fleet and its entries, and the client without a certificate is refused
#   --no-deps    do not run deploy/install-deps.sh;  --no-build  do not build
#   --dir D      cluster directory (default: a new /tmp/certfleet-demo.XXXXXX)
#   --bin DIR    build directory with the binaries (default build/normal)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

agents=1000
keep=0
check=0
deps=1
build=1
dir=""
bin=$root/build/normal
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --agents) agents=${2:?--agents needs a number}; shift 2 ;;
    --keep) keep=1; shift ;;
    --check) check=1; shift ;;
    --no-deps) deps=0; shift ;;
    --no-build) build=0; shift ;;
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --bin) bin=${2:?--bin needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$agents" =~ ^[1-9][0-9]*$ ]] || { echo "demo.sh: --agents takes a positive number" >&2; exit 2; }

[ "$deps" = 0 ] || ./deploy/install-deps.sh
[ "$build" = 0 ] || ./deploy/build.sh normal
[ -n "$dir" ] || dir=$(mktemp -d /tmp/certfleet-demo.XXXXXX)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cluster() { "$root/deploy/cluster.sh" "$@" --dir "$dir" --bin "$bin"; }

bold=""
plain=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  bold=$'\033[1m'
  plain=$'\033[0m'
fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
failures=0
# An assertion: fatal with --check, a warning otherwise.
expect() { # description, then a command
  local what=$1
  shift
  if "$@"; then
    echo "check: ok: $what"
  else
    echo "check: FAILED: $what" >&2
    failures=$((failures + 1))
  fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # --keep keeps the cluster also after a failed step (to look into it), not after Ctrl-C
  if [ "$keep" = 1 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; then
    echo
    echo "The cluster keeps running in $dir. Use it:  . $dir/env; cf-console agent list"
    echo "Stop it with:  deploy/cluster.sh stop --dir $dir"
  else
    cluster stop >/dev/null 2>&1 || true
    echo "demo.sh: stopped everything it started (files kept in $dir)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=SCRIPTDIR/demo_lib.sh
. "$root/deploy/demo_lib.sh"

step "1. Start the cluster: Redis, a broker, two servers (deploy/cluster.sh)"
cluster start
# shellcheck disable=SC1091
. "$dir/env"
run deploy/cluster.sh status --dir "$dir"
run cf-console server list

step "2. Generate all certificates (the seed's option 1: CA-signed server, console, agent)"
run cf-console cert generate-all
run cf-console cert list

step "3. Enable SSL, with communication without SSL still allowed (the migration phase)"
run cf-console ssl enable
run cf-console ssl allow-plain on

step "4. Make an install package for the agents (servers, brokers, CA, an enrollment token)"
run cf-console package create --out "$dir/agent.bundle" --token-uses "$agents" --token-ttl 1d

step "5. Start a simulated fleet of $agents agents (they enroll without a certificate)"
cluster fleet --agents "$agents" --bundle "$dir/agent.bundle"
echo "waiting for $agents agents to check in"
if ! wait_fleet all "$agents" 300; then
  echo
  echo "demo.sh: only $(fleet_count all) of $agents agents checked in (see $dir/logs/fleet.log)" >&2
  exit 1
fi
echo
run cf-console agent list --limit 5
run cf-console ssl insecure --limit 3

step "6. Install certificates on all agents: one job, sealed per agent, through the broker"
install_all
show_job "$job"

step "7. The agent table: every agent secure"
echo "waiting for the agents to check in with their certificates"
wait_fleet secure "$agents" 120 || true
echo
run cf-console agent list --limit 10
expect "all $agents agents secure" [ "$(fleet_count secure)" = "$agents" ]
expect "the fleet has $agents agents" [ "$(fleet_count all)" = "$agents" ]
expect "the job's counts equal its entries and all $agents installed" job_matches "$job" "$agents"

step "8. Switch communication without SSL off: certificates only from now on"
run cf-console ssl allow-plain off
show_refusals
expect "a client without a certificate is refused" plain_refused

step "Where to look next"
cat <<EOT
  . $dir/env                     # then any cf-console command, e.g.:
  cf-console agent list --state secure
  cf-console job list; cf-console job show $job
  cf-console ssl show; cf-console cert list; cf-console audit
  deploy/cluster.sh status --dir $dir
  logs: $dir/logs/ (redis, broker, srv1, srv2, fleet)
  broker metrics: $CF_BROKER_METRICS
  docs: README.md, docs/console.md, docs/jobs.md, docs/broker.md, docs/agent.md
EOT

if [ "$failures" -gt 0 ]; then
  echo "demo.sh: $failures check(s) failed" >&2
  [ "$check" = 0 ] || exit 1
elif [ "$check" = 1 ]; then
  echo "demo.sh: all checks passed"
fi
