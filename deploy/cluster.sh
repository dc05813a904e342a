#!/usr/bin/env bash
# cluster.sh - a local multi-server certfleet cluster for development, on loopback.
#
#   deploy/cluster.sh start  [--dir D] [--agents N] [--bin DIR]
#   deploy/cluster.sh fleet  [--dir D] --agents N     # add a simulated fleet to a running cluster
#   deploy/cluster.sh status [--dir D]
#   deploy/cluster.sh stop   [--dir D]
#
# start: redis-server (own directory D/redis, 127.0.0.1 only, AOF on), a broker
# (cf-broker --keygen, then serving), srv1 (cf-server --init: CA, certificates, the admin
# login from the 0600 file D/admin.pass; ca.pem, console.p12 and p12.pass in D) and srv2
# joining the same Redis, with different priorities (10, 5) and primary IP ranges
# (127.0.0.0/16, 127.1.0.0/16), both linked to the broker. Ports are free ones picked at
# start. Writes D/env (source it: '. D/env; cf-console agent list'), D/pids and D/ports,
# and logs the console in as admin. With --agents N also a simulated fleet of N agents.
# stop: SIGTERM to each PID recorded in D/pids (never by name), waits, SIGKILL after 10 s.
#
# Options: --dir D (default $CF_CLUSTER_DIR or /tmp/certfleet-cluster), --agents N,
# --bin DIR (the build directory; default $CF_BIN_DIR, else the one start used, else
# build/normal), -h/--help.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
[ $# -gt 0 ] && shift
dir=${CF_CLUSTER_DIR:-/tmp/certfleet-cluster}
agents=0
bin=${CF_BIN_DIR:-}

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "cluster.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --agents) agents=${2:?--agents needs a value}; shift 2 ;;
    --bin) bin=${2:?--bin needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cluster.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$cmd" in
  -h|--help) usage; exit 0 ;;
  start|stop|status|fleet) ;;
  *) echo "usage: deploy/cluster.sh start|stop|status|fleet [--dir D] [--agents N] (try --help)" >&2; exit 2 ;;
esac
[[ "$agents" =~ ^[0-9]+$ ]] || { echo "cluster.sh: --agents takes a number" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# the build directory: --bin, $CF_BIN_DIR, the one the cluster was started with, build/normal
if [ -z "$bin" ] && [ -f "$dir/bin" ]; then bin=$(cat "$dir/bin"); fi
bin=${bin:-$root/build/normal}
[ ! -d "$bin" ] || bin=$(cd "$bin" && pwd)
server=$bin/server/cf-server
broker=$bin/broker/cf-broker
console=$bin/console/cf-console
agent=$bin/agent/cf-agent
agentsim=$bin/agent/cf-agent-sim

# shellcheck source=SCRIPTDIR/proc.sh
. "$root/deploy/proc.sh"

port_of() { awk -v n="$1" '$1 == n { print $2 }' "$dir/ports"; }

# ---- start ----------------------------------------------------------------------------

start_redis() {
  local port=$1
  mkdir -p "$dir/redis"
  launch redis redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/redis" \
    --appendonly yes --save '' --protected-mode yes --daemonize no \
    --logfile "$dir/redis/redis.log"
  wait_port redis "$port"
}

start_broker() {
  local rport=$1 aport=$2 sport=$3 mport=$4
  mkdir -p "$dir/broker"
  [ -f "$dir/broker/broker.key_secret" ] || "$broker" --keygen --out "$dir/broker" >/dev/null
  launch broker "$broker" --key-file "$dir/broker/broker.key_secret" \
    --redis "127.0.0.1:$rport" --agents-bind "tcp://127.0.0.1:$aport" \
    --servers-bind "tcp://127.0.0.1:$sport" --metrics-port "$mport"
  wait_port broker "$aport"
}

# The broker's CURVE public key (Z85, 40 characters) from the public certificate file.
broker_key() {
  sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$dir/broker/broker.key" | head -n 1
}

start_server() { # name port plain priority range [extra...]
  local name=$1 port=$2 plain=$3 prio=$4 range=$5; shift 5
  local key rport
  key=$(broker_key)
  rport=$(port_of redis)
  launch "$name" "$server" --alias "$name" --host 127.0.0.1 --bind 127.0.0.1 \
    --port "$port" --plain-port "$plain" --priority "$prio" --ip-range "$range" \
    --redis "127.0.0.1:$rport" --secret-file "$dir/secret" \
    --broker "tcp://127.0.0.1:$(port_of broker-servers)#$key" \
    --agent-broker "tcp://127.0.0.1:$(port_of broker-agents)#$key" \
    --sweep-check 5s --renew-check 60s "$@"
  wait_port "$name" "$port"
}

# export NAME=VALUE, quoted for the shell (broker keys hold $, # and quotes).
kv() { printf 'export %s=%q\n' "$1" "$2"; }

write_env() {
  local key
  key=$(broker_key)
  {
    echo "# certfleet local cluster in $dir: source this file ('. $dir/env')"
    # shellcheck disable=SC2016 # $PATH expands when the file is sourced
    printf 'export PATH=%q:"$PATH"\n' "$bin/console:$bin/server:$bin/broker:$bin/agent"
    kv CF_CLUSTER_DIR "$dir"
    kv CF_CONSOLE_SERVER "https://127.0.0.1:$(port_of srv1)"
    kv CF_CONSOLE_CA "$dir/ca.pem"
    kv CF_CONSOLE_CERT "$dir/console.p12"
    kv CF_CONSOLE_CERT_PASSWORD_FILE "$dir/p12.pass"
    kv CF_CONSOLE_USER admin
    kv CF_CONSOLE_PASSWORD_FILE "$dir/admin.pass"
    kv CF_REDIS "127.0.0.1:$(port_of redis)"
    kv CF_SRV1_URL "https://127.0.0.1:$(port_of srv1)"
    kv CF_SRV2_URL "https://127.0.0.1:$(port_of srv2)"
    kv CF_SRV1_PLAIN "http://127.0.0.1:$(port_of srv1-plain)"
    kv CF_SRV2_PLAIN "http://127.0.0.1:$(port_of srv2-plain)"
    kv CF_BROKER_AGENTS "tcp://127.0.0.1:$(port_of broker-agents)#$key"
    kv CF_BROKER_SERVERS "tcp://127.0.0.1:$(port_of broker-servers)#$key"
    kv CF_BROKER_METRICS "http://127.0.0.1:$(port_of broker-metrics)/metrics"
  } >"$dir/env"
}

do_start() {
  if [ -f "$dir/pids" ]; then
    local n
    n=$(alive_count)
    [ "$n" -eq 0 ] || die "a cluster runs in $dir already ($n processes; cluster.sh stop --dir $dir)"
    rm -f "$dir/pids"
  fi
  local b
  for b in "$server" "$broker" "$console"; do
    [ -x "$b" ] || die "$b missing (run deploy/build.sh normal)"
  done
  command -v redis-server >/dev/null || die "redis-server not found (deploy/install-deps.sh)"
  umask 077
  : >"$dir/ports"
  local name
  for name in redis broker-agents broker-servers broker-metrics srv1 srv1-plain srv2 srv2-plain; do
    echo "$name $(free_port)" >>"$dir/ports"
  done
  [ -f "$dir/admin.pass" ] || head -c 18 /dev/urandom | base64 >"$dir/admin.pass"
  chmod 600 "$dir/admin.pass"
  start_redis "$(port_of redis)"
  start_broker "$(port_of redis)" "$(port_of broker-agents)" "$(port_of broker-servers)" \
    "$(port_of broker-metrics)"
  local init=()
  [ -f "$dir/ca.pem" ] || init=(--init --admin-password-file "$dir/admin.pass" --out "$dir")
  start_server srv1 "$(port_of srv1)" "$(port_of srv1-plain)" 10 127.0.0.0/16 "${init[@]}"
  start_server srv2 "$(port_of srv2)" "$(port_of srv2-plain)" 5 127.1.0.0/16
  echo "$bin" >"$dir/bin"
  write_env
  console_login
  echo "cluster.sh: started in $dir (redis, broker, srv1, srv2); '. $dir/env' then cf-console ..."
  [ "$agents" -eq 0 ] || do_fleet
}

# Log the console in as admin (the session is kept under ~/.config/certfleet).
console_login() {
  # shellcheck disable=SC1091
  (. "$dir/env" && "$console" login >/dev/null) || die "console login failed"
}

# ---- the simulated fleet --------------------------------------------------------------

do_fleet() {
  [ "$agents" -gt 0 ] || die "fleet needs --agents N"
  [ -f "$dir/env" ] || die "no cluster in $dir (cluster.sh start --dir $dir)"
  ours srv1 || die "srv1 is not running"
  ! ours fleet || die "a fleet runs already"
  mkdir -p "$dir/fleet"
  if "$agent" --help 2>&1 | grep -q -- '--simulate'; then
    (
      # shellcheck disable=SC1091
      . "$dir/env"
      "$console" package create --out "$dir/fleet/agent.bundle" --token-uses "$agents" \
        --token-ttl 1d >/dev/null
    ) || die "package create failed"
    launch fleet "$agent" --simulate "$agents" --bundle "$dir/fleet/agent.bundle" \
      --state-dir "$dir/fleet" --source-net 127.0.0.0/16
  else
    # the fleet core before cf-agent --simulate: keys and records straight into Redis
    launch fleet "$agentsim" --count "$agents" --prefix sim- --ca "$dir/ca.pem" \
      --broker "tcp://127.0.0.1:$(port_of broker-agents)#$(broker_key)" \
      --redis "127.0.0.1:$(port_of redis)" --server-alias srv1 --online-after-keys --online-rate 2000
  fi
  echo "cluster.sh: fleet of $agents simulated agents started (log: $dir/logs/fleet.log)"
}

# ---- status and stop ------------------------------------------------------------------

do_status() {
  [ -f "$dir/pids" ] || { echo "cluster.sh: no cluster in $dir"; return 3; }
  local name state port down=0
  printf '%-8s %-8s %-8s %s\n' NAME PID STATE PORTS
  while read -r name; do
    if ours "$name"; then state=running; else state=stopped; down=1; fi
    case "$name" in
      broker) port="agents $(port_of broker-agents), servers $(port_of broker-servers), metrics $(port_of broker-metrics)" ;;
      srv1|srv2) port="https $(port_of "$name"), plain $(port_of "$name-plain")" ;;
      redis) port=$(port_of redis) ;;
      *) port=- ;;
    esac
    printf '%-8s %-8s %-8s %s\n' "$name" "$(pid_of "$name")" "$state" "$port"
  done < <(proc_names)
  echo "env: $dir/env"
  return "$down"
}

do_stop() {
  [ -f "$dir/pids" ] || { echo "cluster.sh: no cluster in $dir"; return 0; }
  stop_all
  echo "cluster.sh: stopped (files kept in $dir)"
}

case "$cmd" in
  start) do_start ;;
  fleet) do_fleet ;;
  status) do_status ;;
  stop) do_stop ;;
  *) usage; exit 2 ;;
esac
