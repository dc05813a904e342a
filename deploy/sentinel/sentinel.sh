#!/usr/bin/env bash
# sentinel.sh - a Redis Sentinel setup on loopback for certfleet: a master, two replicas
# and three Sentinels (quorum 2), each in its own directory under D, on free ports.
#
#   deploy/sentinel/sentinel.sh start  [--dir D] [--name NAME]
#   deploy/sentinel/sentinel.sh status [--dir D]
#   deploy/sentinel/sentinel.sh failover [--dir D]   # SENTINEL FAILOVER; waits for the new
#                                                    # master and a replica following it
#   deploy/sentinel/sentinel.sh kill-master [--dir D]   # SIGKILL the master (by PID), wait
#                                                    # for the failover, restart it (a replica)
#   deploy/sentinel/sentinel.sh stop   [--dir D]
#
# start writes D/env: CF_REDIS_SENTINELS (for --redis-sentinel), CF_REDIS_MASTER_NAME (for
# --redis-master), CF_REDIS_MASTER_PORT and CF_REDIS_REPLICA_PORTS (the initial roles),
# CF_SENTINEL_PORTS. It returns once both replicas are in sync and every Sentinel knows
# them and the two other Sentinels. Two replicas, because the master refuses writes
# without one (min-replicas-to-write 1, see redis.conf.example): after a failover the
# new master still has one while the old master comes back as a replica. Configurations: redis.conf.example and
# sentinel.conf.example beside this script. stop: SIGTERM by PID (D/pids), never by name.
# Defaults: --dir $CF_SENTINEL_DIR or /tmp/certfleet-sentinel, --name certfleet.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
[ $# -gt 0 ] && shift
dir=${CF_SENTINEL_DIR:-/tmp/certfleet-sentinel}
name=certfleet

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "sentinel.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --name) name=${2:?--name needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "sentinel.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$cmd" in
  -h|--help) usage; exit 0 ;;
  start|stop|status|failover|kill-master) ;;
  *) echo "usage: deploy/sentinel/sentinel.sh start|stop|status|failover|kill-master [--dir D] (try --help)" >&2; exit 2 ;;
esac
[[ "$name" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || { echo "sentinel.sh: bad --name" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# shellcheck source=SCRIPTDIR/../proc.sh
. "$here/../proc.sh"

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

# Wait up to $3 s until the reply of command ${@:4} on port $1 contains $2.
wait_reply() {
  local port=$1 want=$2 secs=$3
  shift 3
  for _ in $(seq 1 $((secs * 10))); do
    if cli "$port" "$@" 2>/dev/null | grep -q -- "$want"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Fill a template: @PORT@, @DIR@, @NAME@, @MASTER_PORT@.
render() { # template port subdir master_port
  sed -e "s#@PORT@#$2#g" -e "s#@DIR@#$dir/$3#g" -e "s#@NAME@#$name#g" \
    -e "s#@MASTER_PORT@#$4#g" "$here/$1"
}

start_redis() { # role port master_port
  local role=$1 port=$2 mport=$3
  mkdir -p "$dir/$role"
  render redis.conf.example "$port" "$role" "$mport" >"$dir/$role/redis.conf"
  [ "$role" = master ] || echo "replicaof 127.0.0.1 $mport" >>"$dir/$role/redis.conf"
  launch "$role" redis-server "$dir/$role/redis.conf"
  wait_port "$role" "$port"
}

do_start() {
  [ ! -f "$dir/pids" ] || [ "$(alive_count)" -eq 0 ] ||
    die "already running in $dir (sentinel.sh stop --dir $dir)"
  rm -f "$dir/pids"
  command -v redis-server >/dev/null || die "redis-server not found (deploy/install-deps.sh)"
  local mport r1 r2 s ports=() list=""
  mport=$(free_port)
  r1=$(free_port)
  r2=$(free_port)
  for _ in 1 2 3; do ports+=("$(free_port)"); done
  start_redis master "$mport" "$mport"
  start_redis replica1 "$r1" "$mport"
  start_redis replica2 "$r2" "$mport"
  # Sentinels learn replicas from the master's INFO (every 10 s): start them once the
  # replicas are on line so the first INFO already lists them
  wait_reply "$mport" connected_slaves:2 20 INFO replication || die "the replicas did not connect"
  for _ in $(seq 1 200); do
    [ "$(cli "$mport" INFO replication | grep -c state=online)" -eq 2 ] && break
    sleep 0.1
  done
  [ "$(cli "$mport" INFO replication | grep -c state=online)" -eq 2 ] || die "the replicas did not sync"
  for i in 0 1 2; do
    s=${ports[$i]}
    mkdir -p "$dir/sentinel$i"
    render sentinel.conf.example "$s" "sentinel$i" "$mport" >"$dir/sentinel$i/sentinel.conf"
    launch "sentinel$i" redis-server "$dir/sentinel$i/sentinel.conf" --sentinel
    list="$list${list:+,}127.0.0.1:$s"
  done
  for i in 0 1 2; do
    wait_port "sentinel$i" "${ports[$i]}"
    wait_reply "${ports[$i]}" "slaves=2,sentinels=3" 30 INFO sentinel ||
      die "sentinel$i does not see the replicas and the other Sentinels"
  done
  {
    echo "export CF_REDIS_SENTINELS=$list"
    echo "export CF_REDIS_MASTER_NAME=$name"
    echo "export CF_REDIS_MASTER_PORT=$mport"
    echo "export CF_REDIS_REPLICA_PORTS=\"$r1 $r2\""
    echo "export CF_SENTINEL_PORTS=\"${ports[*]}\""
  } >"$dir/env"
  echo "sentinel.sh: master 127.0.0.1:$mport, replicas 127.0.0.1:$r1 and :$r2, Sentinels $list (name $name)"
}

# The port of the current master, as the first Sentinel that answers says.
master_port() {
  local s
  # shellcheck disable=SC1091
  . "$dir/env"
  for s in $CF_SENTINEL_PORTS; do
    if cli "$s" SENTINEL get-master-addr-by-name "$CF_REDIS_MASTER_NAME" 2>/dev/null | sed -n 2p | grep -q .; then
      cli "$s" SENTINEL get-master-addr-by-name "$CF_REDIS_MASTER_NAME" | sed -n 2p
      return 0
    fi
  done
  return 1
}

# Wait until a master other than port $1 is named by the Sentinels, says so itself, and
# has a replica on line again (writes resume: min-replicas-to-write).
wait_new_master() {
  local old=$1 new
  for _ in $(seq 1 300); do
    new=$(master_port || true)
    if [ -n "$new" ] && [ "$new" != "$old" ] && cli "$new" INFO replication 2>/dev/null | grep -q role:master; then
      wait_reply "$new" state=online 30 INFO replication || die "no replica follows the new master"
      echo "sentinel.sh: master moved from 127.0.0.1:$old to 127.0.0.1:$new"
      return 0
    fi
    sleep 0.1
  done
  die "no new master after 30 s"
}

# A forced failover (SENTINEL FAILOVER: no agreement asked, the old master is told to
# follow the new one only afterwards). Beware: writes the old master takes and
# acknowledges between the promotion and its reconfiguration are discarded.
do_failover() {
  [ -f "$dir/env" ] || die "no Sentinel setup in $dir"
  # shellcheck disable=SC1091
  . "$dir/env"
  local old
  old=$(master_port) || die "no Sentinel answers"
  cli "${CF_SENTINEL_PORTS%% *}" SENTINEL FAILOVER "$CF_REDIS_MASTER_NAME" | grep -q OK ||
    die "SENTINEL FAILOVER refused"
  wait_new_master "$old"
}

# The master dies (SIGKILL by its recorded PID); the Sentinels notice after
# down-after-milliseconds and promote a replica; the dead one is then started again on
# its configuration and port and the Sentinels make it a replica of the new master.
do_kill_master() {
  [ -f "$dir/env" ] || die "no Sentinel setup in $dir"
  local old n role=""
  old=$(master_port) || die "no Sentinel answers"
  for n in master replica1 replica2; do
    if grep -q "^port $old\$" "$dir/$n/redis.conf"; then role=$n; fi
  done
  if [ -z "$role" ] || ! ours "$role"; then die "the master (port $old) is not one of ours"; fi
  kill -KILL "$(pid_of "$role")"
  wait_new_master "$old"
  launch "$role" redis-server "$dir/$role/redis.conf"
  wait_port "$role" "$old"
}

do_status() {
  [ -f "$dir/pids" ] || { echo "sentinel.sh: nothing runs in $dir"; return 3; }
  local n state port down=0
  while read -r n; do
    if ours "$n"; then state=running; else state=stopped; down=1; fi
    port=$(sed -n 's/^port //p' "$dir/$n/"*.conf | head -n 1)
    printf '%-10s %-8s %-8s 127.0.0.1:%s\n' "$n" "$(pid_of "$n")" "$state" "$port"
  done < <(proc_names)
  echo "master now: 127.0.0.1:$(master_port || echo '?')"
  return "$down"
}

case "$cmd" in
  start) do_start ;;
  stop) stop_all; echo "sentinel.sh: stopped (files kept in $dir)" ;;
  status) do_status ;;
  failover) do_failover ;;
  kill-master) do_kill_master ;;
  *) usage; exit 2 ;;
esac
