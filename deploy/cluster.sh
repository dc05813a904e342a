#!/usr/bin/env bash
# cluster.sh - a local multi-server certfleet cluster for development, on loopback.
#
#   deploy/cluster.sh start  [--dir D] [--agents N] [--bin DIR]
#   deploy/cluster.sh fleet  [--dir D] --agents N [--bundle F]  # add a simulated fleet
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
# build/normal), --redis-sentinel H:P,... [--redis-master NAME] (no redis-server of its
# own: broker and servers find the master through these Sentinels, e.g. the ones of
# deploy/sentinel/sentinel.sh), -h/--help.
# The fleet is 'cf-agent --simulate N --push' with an install package (made with
# 'cf-console package create --token-uses N', or --bundle F): agents enroll, check in
# without a certificate (insecure) and get one by an install job. --legacy-sim instead runs
# the fleet core alone (cf-agent-sim: keys registered straight into Redis, no HTTPS) and
# brings it on line at --online-rate R agents per second (default 2000).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
[ $# -gt 0 ] && shift
dir=${CF_CLUSTER_DIR:-/tmp/certfleet-cluster}
agents=0
rate=2000
legacy=0
bundle=""
sentinels=""
master=certfleet
bin=${CF_BIN_DIR:-}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "cluster.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --agents) agents=${2:?--agents needs a value}; shift 2 ;;
    --online-rate) rate=${2:?--online-rate needs a value}; shift 2 ;;
    --legacy-sim) legacy=1; shift ;;
    --bundle) bundle=${2:?--bundle needs a value}; shift 2 ;;
    --bin) bin=${2:?--bin needs a value}; shift 2 ;;
    --redis-sentinel) sentinels=${2:?--redis-sentinel needs a value}; shift 2 ;;
    --redis-master) master=${2:?--redis-master needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cluster.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$cmd" in
  -h|--help) usage; exit 0 ;;
  start|stop|status|fleet) ;;
  *) echo "usage: deploy/cluster.sh start|stop|status|fleet [--dir D] [--agents N] (try --help)" >&2; exit 2 ;;
esac
[[ "$agents$rate" =~ ^[0-9]+$ ]] || { echo "cluster.sh: --agents and --online-rate take numbers" >&2; exit 2; }
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

# How broker and servers reach Redis: the Sentinels, or our own redis-server.
redis_args() {
  if [ -f "$dir/sentinels" ]; then
    echo --redis-sentinel "$(sed -n 1p "$dir/sentinels")" --redis-master "$(sed -n 2p "$dir/sentinels")"
  else
    echo --redis "127.0.0.1:$(port_of redis)"
  fi
}

# HOST:PORT of the Redis master now (asks the Sentinels in Sentinel mode).
redis_addr() {
  local s a
  if [ ! -f "$dir/sentinels" ]; then echo "127.0.0.1:$(port_of redis)"; return 0; fi
  for s in $(sed -n 1p "$dir/sentinels" | tr ',' ' '); do
    a=$(redis-cli -h "${s%:*}" -p "${s##*:}" SENTINEL get-master-addr-by-name \
      "$(sed -n 2p "$dir/sentinels")" 2>/dev/null | paste -sd: -) || continue
    [[ "$a" == *:* ]] && { echo "$a"; return 0; }
  done
  die "no Sentinel answers"
}

start_broker() {
  local aport=$1 sport=$2 mport=$3 ra
  read -r -a ra <<<"$(redis_args)"
  mkdir -p "$dir/broker"
  [ -f "$dir/broker/broker.key_secret" ] || "$broker" --keygen --out "$dir/broker" >/dev/null
  launch broker "$broker" --key-file "$dir/broker/broker.key_secret" \
    "${ra[@]}" --agents-bind "tcp://127.0.0.1:$aport" \
    --servers-bind "tcp://127.0.0.1:$sport" --metrics-port "$mport"
  wait_port broker "$aport"
}

# The broker's CURVE public key (Z85, 40 characters) from the public certificate file.
broker_key() {
  sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$dir/broker/broker.key" | head -n 1
}

start_server() { # name port plain priority range [extra...]
  local name=$1 port=$2 plain=$3 prio=$4 range=$5; shift 5
  local key ra
  key=$(broker_key)
  read -r -a ra <<<"$(redis_args)"
  launch "$name" "$server" --alias "$name" --host 127.0.0.1 --bind 127.0.0.1 \
    --port "$port" --plain-port "$plain" --priority "$prio" --ip-range "$range" \
    "${ra[@]}" --secret-file "$dir/secret" \
    --broker "tcp://127.0.0.1:$(port_of broker-servers)#$key" \
    --agent-broker "tcp://127.0.0.1:$(port_of broker-agents)#$key" \
    --sweep-check 5s --renew-check 60s "$@"
  wait_port "$name" "$port"
}

# export NAME=VALUE, quoted for the shell (broker keys hold $, # and quotes).
kv() { printf 'export %s=%q\n' "$1" "$2"; }

write_env() {
  local key ra
  key=$(broker_key)
  read -r -a ra <<<"$(redis_args)"
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
    kv CF_REDIS "$(redis_addr)"
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
  local name port
  if [ -f "$dir/ports" ]; then
    # a restart keeps its ports: the servers' records in Redis (what agents and install
    # packages are given) name the ports of the first start
    while read -r name port; do
      if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port ($name) is taken now; free it or start in a new --dir"
      fi
    done <"$dir/ports"
  else
    for name in redis broker-agents broker-servers broker-metrics srv1 srv1-plain srv2 srv2-plain; do
      echo "$name $(free_port)" >>"$dir/ports.new"
    done
    mv "$dir/ports.new" "$dir/ports"
  fi
  [ -f "$dir/admin.pass" ] || head -c 18 /dev/urandom | base64 >"$dir/admin.pass"
  chmod 600 "$dir/admin.pass"
  rm -f "$dir/sentinels"
  if [ -n "$sentinels" ]; then
    printf '%s\n%s\n' "$sentinels" "$master" >"$dir/sentinels"
  else
    start_redis "$(port_of redis)"
  fi
  start_broker "$(port_of broker-agents)" "$(port_of broker-servers)" \
    "$(port_of broker-metrics)"
  local init=()
  [ -f "$dir/ca.pem" ] || init=(--init --admin-password-file "$dir/admin.pass" --out "$dir")
  start_server srv1 "$(port_of srv1)" "$(port_of srv1-plain)" 10 127.0.0.0/16 "${init[@]}"
  start_server srv2 "$(port_of srv2)" "$(port_of srv2-plain)" 5 127.1.0.0/16
  echo "$bin" >"$dir/bin"
  write_env
  console_login
  echo "cluster.sh: started in $dir ($(proc_names | paste -sd' ' -)); '. $dir/env' then cf-console ..."
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
  ! ours fleet1 || die "a fleet runs already"
  mkdir -p "$dir/fleet"
  if [ "$legacy" = 1 ]; then
    # the fleet core alone: keys and records straight into Redis, jobs over the broker
    # only (no enrollment, no HTTPS check-ins), on line at --online-rate agents/s
    launch fleet1 "$agentsim" --count "$agents" --prefix sim- --ca "$dir/ca.pem" \
      --broker "tcp://127.0.0.1:$(port_of broker-agents)#$(broker_key)" \
      --redis "$(redis_addr)" --server-alias srv1 --online-after-keys --online-rate "$rate"
  else
    if [ -z "$bundle" ]; then
      bundle=$dir/fleet/agent.bundle
      rm -f "$bundle"
      (
        # shellcheck disable=SC1091
        . "$dir/env"
        "$console" package create --out "$bundle" --token-uses "$agents" --token-ttl 1d >/dev/null
      ) || die "package create failed"
    fi
    # push mode: agents enroll without a certificate and get one by an install job. Two
    # simulator processes, one from 127.0.0.0/16 (srv1's primary range) and one from
    # 127.1.0.0/16 (srv2's), so each server is the primary one of half the fleet.
    local half=$(((agents + 1) / 2))
    launch fleet1 "$agent" --simulate "$half" --bundle "$bundle" --push \
      --source-net 127.0.0.0/16
    [ "$agents" -eq "$half" ] || launch fleet2 "$agent" --simulate $((agents - half)) \
      --first "$half" --bundle "$bundle" --push --source-net 127.1.0.0/16
  fi
  echo "cluster.sh: fleet of $agents simulated agents started (logs: $dir/logs/fleet*.log)"
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
