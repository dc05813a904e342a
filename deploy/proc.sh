# proc.sh - process helpers sourced by cluster.sh and sentinel/sentinel.sh (not run alone).
# Processes are recorded in "$dir/pids" as lines "NAME PID STARTTIME" and are only ever
# signalled by that PID while its start time still matches: never by name, never a PID
# that was reused. The caller sets $dir (absolute) and defines die().
# shellcheck shell=bash disable=SC2154 # $dir is the caller's

# The PID recorded for name (the last one), or nothing.
pid_of() {
  [ -f "$dir/pids" ] || return 0
  awk -v n="$1" '$1 == n { p = $2 } END { if (p) print p }' "$dir/pids"
}

# The start time of pid (clock ticks since boot, /proc/PID/stat field 22), or nothing when
# it does not run or is a zombie.
started_at() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) } # the fields after the command name, from the state on
  # shellcheck disable=SC2086
  set -- $stat
  [ "$1" = Z ] || echo "${20}"
}

# 0 when the PID recorded as name runs and is the process we started.
ours() {
  local name=$1 pid t
  pid=$(pid_of "$name")
  [ -n "$pid" ] || return 1
  t=$(started_at "$pid")
  [ -n "$t" ] && [ "$t" = "$(awk -v n="$name" '$1 == n { t = $3 } END { print t }' "$dir/pids")" ]
}

# Start name (a program with its arguments) in the background in its own session (a
# Ctrl-C on the terminal does not reach it), output appended to $dir/logs/NAME.log.
launch() {
  local name=$1
  shift
  mkdir -p "$dir/logs"
  setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  echo "$name $! $(started_at $!)" >>"$dir/pids"
}

# A TCP port on 127.0.0.1 nobody listens on, below the ephemeral range, not handed out
# by this shell yet.
proc_taken=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    case "$proc_taken" in *" $p "*) continue ;; esac
    if ! (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      proc_taken="$proc_taken$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# Wait up to 30 s until 127.0.0.1:port accepts a connection; name's process must live.
wait_port() {
  local name=$1 port=$2
  for _ in $(seq 1 300); do
    if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    ours "$name" || die "$name exited at start; see $dir/logs/$name.log"
    sleep 0.1
  done
  die "$name does not listen on $port after 30 s; see $dir/logs/$name.log"
}

# The names recorded, first start first.
proc_names() { [ -f "$dir/pids" ] && awk '!seen[$1]++ { print $1 }' "$dir/pids"; }

# How many recorded processes still run.
alive_count() {
  local n=0 name
  while read -r name; do
    if ours "$name"; then n=$((n + 1)); fi
  done < <(proc_names)
  echo "$n"
}

# SIGTERM to every recorded process that still runs, last started first; wait up to 10 s,
# then SIGKILL what is left. Forgets the records.
stop_all() {
  local name names=() left=()
  mapfile -t names < <(proc_names | tac)
  for name in "${names[@]}"; do
    if ours "$name"; then kill -TERM "$(pid_of "$name")" 2>/dev/null || true; fi
  done
  for _ in $(seq 1 100); do
    left=()
    for name in "${names[@]}"; do if ours "$name"; then left+=("$name"); fi; done
    [ ${#left[@]} -eq 0 ] && break
    sleep 0.1
  done
  for name in "${left[@]}"; do
    echo "$name (PID $(pid_of "$name")) did not stop after 10 s: SIGKILL" >&2
    kill -KILL "$(pid_of "$name")" 2>/dev/null || true
  done
  rm -f "$dir/pids"
}
