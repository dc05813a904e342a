#!/usr/bin/env bash
# bench_https.sh - the HTTPS stack benchmark (issue 3): cf-server against nginx on this
# machine, in one run, with the same certificate type and nginx given as many workers as
# cf-server has threads. Prints each figure, the ratio, the goal and MET or MISSED.
# A benchmark, not a test: it fails only when the harness itself cannot run.
# cf-server (build/normal/server/cf-server) starts with --init against a redis-server of
# its own; the console certificate it writes is the client certificate both sides see.
#
#   tests/bench/bench_https.sh [OPTIONS]
#     --key-type T       p256 (default), p384, rsa2048, rsa3072, ed25519: CA and every cert
#     --threads N        cf-server threads = nginx workers (default 1)
#     --duration S       seconds per run (default 5, at most 10)
#     --connections C    concurrent connections of every load tool (default 32)
#     --rounds R         runs per side and figure, in ABBA order (default 2, at most 4;
#                        rounds x duration at most 15 s, so a whole run stays under 2 min)
#     --stand-in nginx   harness check: a second nginx plays the cf-server side (labelled
#                        as such; its figures say nothing about cf-server)
#     --only LIST        run only these figures, comma-separated: light, hs, checkin
#                        (default all three)
#     --keep             keep the work directory (certificates, configs, logs)
#     --help
#
# Everything runs on 127.0.0.1 on free ports; every process started here is stopped by
# PID on exit, Ctrl-C included. Total time: under 2 minutes with a built tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

key_type=p256 threads=1 duration=5 conns=32 rounds=2 stand_in="" keep=0 only=light,hs,checkin
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --key-type) key_type=${2:?}; shift 2 ;;
    --threads) threads=${2:?}; shift 2 ;;
    --duration) duration=${2:?}; shift 2 ;;
    --connections) conns=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --stand-in) stand_in=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench_https: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
num() {
  if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt "$3" ]; then
    echo "bench_https: $1 must be 1..$3" >&2; exit 2
  fi
}
num --threads "$threads" 16
num --duration "$duration" 10
num --connections "$conns" 1024
num --rounds "$rounds" 4
if [ $((rounds * duration)) -gt 15 ]; then
  echo "bench_https: --rounds x --duration must be at most 15 s" >&2; exit 2
fi
case "$key_type" in p256|p384|rsa2048|rsa3072|ed25519) ;; *)
  echo "bench_https: --key-type p256|p384|rsa2048|rsa3072|ed25519" >&2; exit 2 ;; esac
case "$stand_in" in ""|nginx) ;; *) echo "bench_https: --stand-in nginx" >&2; exit 2 ;; esac
if ! [[ ",$only," =~ ^(,(light|hs|checkin))+,$ ]]; then
  echo "bench_https: --only takes light, hs and/or checkin, comma-separated" >&2; exit 2
fi
wanted() { [[ ",$only," == *",$1,"* ]]; }

if [ -z "${CF_BENCH_NO_BUILD:-}" ]; then # set it to measure the tree as it is built
  CF_EXTRA_PKGS="nginx wrk" ./deploy/install-deps.sh
  ./deploy/build.sh normal
fi
cf_console=$root/build/normal/console/cf-console
cf_server=$root/build/normal/server/cf-server
bench_tls=$root/build/normal/tests/bench_tls

work=$(mktemp -d /tmp/certfleet-bench.XXXXXX)
pids=()
cleanup() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$keep" = 1 ]; then echo "bench_https: files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '%s\n' "$*"; }
# A command as it runs, with the work directory shown as $W and the tree as ./
show() {
  local line
  line=$(printf ' %q' "$@")
  line=${line//"$work"/\$W}
  printf '$%s\n' "${line//"$root"\//./}"
}

# A free loopback TCP port below the ephemeral range (so load tools cannot take it first),
# not listed in /proc/net/tcp{,6} and not handed out before in this run.
taken=" " ng_plain="" ng_mtls=""
free_port() {
  local used p _ local_addr
  used=" "
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _ local_addr _; do used+="$((16#${local_addr##*:})) "; done < <(tail -n +2 "$f")
  done
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if [[ "$used" != *" $p "* && "$taken" != *" $p "* ]]; then taken+="$p "; printf -v "$1" '%s' "$p"; return 0; fi
  done
  echo "bench_https: no free port" >&2; exit 1
}

# Wait until something accepts on the port, while the process lives (at most 10 s).
wait_port() {
  local port=$1 pid=$2 i
  for ((i = 0; i < 200; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# ---- certificates: one CA, the server's (SAN 127.0.0.1), the console's, one per agent ----
pki=$work/pki
n_agents=$((conns < 64 ? conns : 64)) # connections beyond share them in turn
case "$key_type" in rsa*) n_agents=$((n_agents < 8 ? n_agents : 8)) ;; esac # RSA keygen is slow
say "== work directory W=$work"
say "== certificates: $key_type, 1 server, 1 console, $n_agents agents (cf-console pki)"
"$cf_console" pki create-ca --out "$pki/ca" --key-type "$key_type" --name "bench CA" >/dev/null
issue() { "$cf_console" pki issue --ca "$pki/ca" --key-type "$key_type" "$@" >/dev/null; }
issue --component server --name 127.0.0.1 --ip 127.0.0.1 --out "$pki/server"
issue --component console --name bench-console --out "$pki/console"
for ((i = 0; i < n_agents; i++)); do issue --component agent --name "agent-$i" --out "$pki/agents"; done
rm -f "$pki"/agents/*-chain.pem
srv_cert=$pki/server/127.0.0.1.pem
srv_key=$pki/server/127.0.0.1.key

# ---- which side is measured against nginx ----
# cf-server as it is built (docs/server.md): it needs Redis, and its first start (--init)
# creates the deployment's CA and its server, console and agent certificates; it writes
# ca.pem and console.p12 for the first console. Its certificates are of --key-type too.
side="" side_skip="" workers=$threads cf_help=""
has_opt() { grep -q -- "--$1\b" <<<"$cf_help"; }
if [ "$stand_in" = nginx ]; then
  side=stand-in
elif [ -x "$cf_server" ]; then
  side=cf-server
  cf_help=$("$cf_server" --help 2>&1 || true)
  for o in init alias host bind port redis secret-file out admin-password-file; do
    has_opt "$o" || side_skip="its --help has no --$o: this script does not know how to start it"
  done
  if ! has_opt threads; then
    [ "$threads" -gt 1 ] && say "cf-server has no --threads: it runs 1 thread, so nginx gets 1 worker"
    workers=1
  fi
fi

server_pid="" redis_port="" redis_pid=""
start_redis() {
  free_port redis_port
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" >"$work/redis.log" 2>&1 &
  pids+=("$!")
  redis_pid=$!
  wait_port "$redis_port" "$!" || { echo "bench_https: redis-server did not start" >&2; exit 1; }
  say "== redis-server on port $redis_port (--save '', stopped at exit)"
}
# cf-server --init on a free port against its own Redis; sets cf_cert/cf_key (its console
# certificate, which chains to its CA) and cf_ca. Admission control is opened wide: the
# benchmark measures capacity, not the token bucket (2000 check-ins/s by default).
start_cf_server() { # port
  local d=$work/cf-server
  mkdir -p "$d"
  (
    umask 077 # cf-server refuses secret files others may read
    head -c 24 /dev/urandom | base64 >"$d/admin.pass"
    head -c 24 /dev/urandom | base64 >"$d/p12.pass"
  )
  start_redis
  local args=(--init --alias bench --host 127.0.0.1 --bind 127.0.0.1 --port "$1"
    --redis "127.0.0.1:$redis_port" --secret-file "$d/secret" --out "$d/init"
    --admin-password-file "$d/admin.pass")
  has_opt san && args+=(--san 127.0.0.1)
  has_opt p12-password-file && args+=(--p12-password-file "$d/p12.pass")
  has_opt key-type && args+=(--key-type "$key_type")
  has_opt threads && args+=(--threads "$threads")
  has_opt admit-rate && args+=(--admit-rate 1000000)
  has_opt admit-burst && args+=(--admit-burst 1000000) # the bucket's cap (cf_auth.h)
  has_opt log-level && args+=(--log-level warn)
  show "$cf_server" "${args[@]}"
  "$cf_server" "${args[@]}" >"$d/log" 2>&1 &
  pids+=("$!")
  server_pid=$!
  if ! wait_port "$1" "$!"; then
    echo "bench_https: cf-server did not start; its log:" >&2
    cat "$d/log" >&2
    exit 1
  fi
  cf_ca=$d/init/ca.pem cf_cert=$d/console.pem cf_key=$d/console.key
  if ! openssl pkcs12 -in "$d/init/console.p12" -passin "file:$d/p12.pass" -nodes -clcerts \
    -nokeys -out "$cf_cert" 2>>"$d/log" ||
    ! openssl pkcs12 -in "$d/init/console.p12" -passin "file:$d/p12.pass" -nodes -nocerts \
      -out "$cf_key" 2>>"$d/log"; then
    echo "bench_https: cannot read cf-server's console.p12; its log:" >&2
    cat "$d/log" >&2
    exit 1
  fi
}

# Clients verify both servers and both servers verify clients against every CA in play,
# so one client certificate can be presented to both sides.
ca=$work/ca-bundle.pem
cp "$pki/ca/ca.pem" "$ca"
b_plain="" b_mtls="" other_pid=""
if [ "$side" = cf-server ] && [ -z "$side_skip" ]; then
  free_port b_plain
  b_mtls=$b_plain # one TLS port: client certificates are asked for and verified when sent
  start_cf_server "$b_plain"
  other_pid=$server_pid
  cat "$cf_ca" >>"$ca"
  say "== cf-server on port $b_plain: its own CA (from --init) and certificates, $key_type"
fi

# ---- nginx: a non-daemon child with its own config, pid and logs in the work dir ----
# One server block without client certificates (wrk cannot present one) and one with
# ssl_verify_client on; keep-alive without a request cap, so neither side reconnects.
nginx_conf() { # dir plain_port mtls_port
  local d=$1
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $srv_cert;
    ssl_certificate_key $srv_key;
    default_type application/json;
    server {
        listen 127.0.0.1:$2 ssl;
        location = /api/v1/health { return 200 '{"status":"ok"}'; }
        # only the harness check's stand-in is asked for this: a static answer, no Redis
        location = /api/v1/agent/checkin { return 200 '{"lock":"insecure","servers":[]}'; }
    }
    server {
        listen 127.0.0.1:$3 ssl;
        ssl_verify_client on;
        ssl_client_certificate $ca;
        location = /api/v1/health { return 200 '{"status":"ok"}'; }
        location = /api/v1/agent/checkin { return 200 '{"lock":"secure","servers":[]}'; }
    }
}
EOF
}
start_nginx() { # dir plain_port mtls_port
  nginx_conf "$1" "$2" "$3"
  nginx -c "$1/nginx.conf" -e "$1/error.log" >"$1/stdout.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  server_pid=$pid
  if ! wait_port "$2" "$pid" || ! wait_port "$3" "$pid"; then
    echo "bench_https: nginx did not start; its log:" >&2
    cat "$1/error.log" "$1/stdout.log" >&2 || true
    exit 1
  fi
}

free_port ng_plain
free_port ng_mtls
start_nginx "$work/nginx" "$ng_plain" "$ng_mtls"
ref_pid=$server_pid
say "== nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'): $workers worker(s), ports $ng_plain (no client certificate) and $ng_mtls (ssl_verify_client on)"
if [ "$side" = stand-in ]; then
  free_port b_plain
  free_port b_mtls
  start_nginx "$work/stand-in" "$b_plain" "$b_mtls"
  other_pid=$server_pid
  start_redis # unused by the stand-in: started so the check shows its start and stop
  say "== HARNESS CHECK: the cf-server side is a second nginx (ports $b_plain, $b_mtls);"
  say "   its figures measure the harness, not cf-server"
fi
[ -n "$side_skip" ] && say "== cf-server: $side_skip"

# The client certificate both sides are shown: cf-server's console certificate when
# cf-server runs (it accepts only its own CA's), else one of ours per agent.
ident=(--cert-dir "$pki/agents")
if [ "$side" = cf-server ] && [ -n "$other_pid" ]; then ident=(--cert "$cf_cert" --key "$cf_key"); fi

# ---- measurements ----
# Each figure runs its two sides in ABBA order (nginx, other, other, nginx for 2 rounds) so
# that a drift in the machine's load (other builds share it) hits both sides alike; a side's
# figure is the mean of its rounds.
logs=$work/logs
mkdir -p "$logs"
rate="" count="" note=""
# wrk, keep-alive, no client certificate. Sets rate (empty when nothing was answered) and note.
run_wrk() { # log port
  local cmd=(wrk "-t$threads" "-c$conns" "-d${duration}s" "https://127.0.0.1:$2/api/v1/health")
  show "${cmd[@]}"
  timeout --foreground -k 2 $((duration + 20)) "${cmd[@]}" >"$logs/$1" 2>&1 || true
  rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$logs/$1")
  count=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$logs/$1")
  note=$(grep -E 'Non-2xx|Socket errors' "$logs/$1" | tr -s ' ' | paste -sd ';' -) || true
  if grep -qE '^ +0 requests in' "$logs/$1"; then rate=""; fi
  if [ -n "$count" ] && grep -qE "^ *Non-2xx or 3xx responses: $count\$" "$logs/$1"; then rate=""; fi
  [ -n "$rate" ] || note="no answer (${note:-see $logs/$1})"
}
# bench_tls; sets rate (empty when nothing succeeded) and note (failures by reason).
run_bench_tls() { # log mode args...
  local log=$1 cmd=("$bench_tls" "$2" --ca "$ca" --threads "$threads" "${@:3}")
  show "${cmd[@]}"
  timeout --foreground -k 2 $((duration + 30)) "${cmd[@]}" >"$logs/$log" 2>&1 || true
  rate=$(sed -n 's/^result .* rate=\([0-9.]*\) .*/\1/p' "$logs/$log")
  count=$(sed -n 's/^result .* ok=\([0-9]*\) .*/\1/p' "$logs/$log")
  note=$(grep -E '^failed:|^non-2xx|saturated' "$logs/$log" | paste -sd ';' -) || true
  if grep -q '^result .* ok=0 ' "$logs/$log" || [ -z "$rate" ]; then
    rate=""
    note="nothing succeeded (${note:-$(tail -n 1 "$logs/$log")})"
  fi
}

tck=$(getconf CLK_TCK)
# CPU ticks (user + system) a server has used so far: the process and its children (nginx's
# workers), from /proc. Over a run this gives the server's work per operation, a figure much
# less moved by other load on the machine than a rate is.
cpu_ticks() { # pid
  local total=0 p stat f
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    read -r -a f <<<"${stat##*) }"
    total=$((total + f[11] + f[12])) # utime, stime
  done
  echo "$total"
}

summary=()
skip_other="" # why the other side of the current figure is not measured
# "per server CPU-second" line: operations per CPU-second each server used over its runs.
efficiency() { # unit ref_ops ref_ticks other_ops other_ticks
  awk -v u="${1%/s}" -v a="$2" -v ta="$3" -v b="$4" -v tb="$5" -v k="$tck" -v s="$side" 'BEGIN {
    if (ta <= 0) exit
    ea = a * k / ta
    printf "   per server CPU-second: nginx %.0f %s", ea, u
    if (tb > 0 && b > 0) printf "; %s %.0f %s: %.2fx", s, b * k / tb, u, (b * k / tb) / ea
    printf "\n" }'
}

# One figure: run fig_ref and fig_other (functions of the round number) in ABBA order, then
# print both means, their ratio, the goal and MET or MISSED, and the CPU-normalised figures.
figure() { # name title unit goal
  local name=$1 title=$2 unit=$3 goal=$4 r who line ratio verdict c0 eff
  local -A sum=([ref]=0 [other]=0) n=([ref]=0 [other]=0) why=() runs=()
  local -A ops=([ref]=0 [other]=0) ticks=([ref]=0 [other]=0) pid=([ref]=$ref_pid [other]=$other_pid)
  local r0 rticks=0 # redis-server's ticks over the other side's runs (the check-in figure)
  local load0
  load0=$(cut -d' ' -f1 /proc/loadavg)
  for ((r = 1; r <= rounds; r++)); do
    for who in $([ $((r % 2)) = 1 ] && echo ref other || echo other ref); do
      if [ "$who" = other ] && { [ -z "$side" ] || [ -n "$side_skip$skip_other" ]; }; then continue; fi
      c0=$(cpu_ticks "${pid[$who]}")
      r0=0
      [ -n "$redis_pid" ] && r0=$(cpu_ticks "$redis_pid")
      "${name}_$who" "$r"
      if [ "$who" = other ] && [ -n "$redis_pid" ]; then
        rticks=$((rticks + $(cpu_ticks "$redis_pid") - r0))
      fi
      runs[$who]+=" ${rate:-n/a}"
      [ -n "$note" ] && why[$who]=$note
      [ -n "$rate" ] || continue
      sum[$who]=$(awk -v a="${sum[$who]}" -v b="$rate" 'BEGIN { print a + b }')
      n[$who]=$((n[$who] + 1))
      ops[$who]=$((ops[$who] + ${count:-0}))
      ticks[$who]=$((ticks[$who] + $(cpu_ticks "${pid[$who]}") - c0))
    done
  done
  local ref="" other=""
  [ "${n[ref]}" = "$rounds" ] && ref=$(awk -v a="${sum[ref]}" -v n="$rounds" 'BEGIN { printf "%.1f", a / n }')
  [ "${n[other]}" = "$rounds" ] && other=$(awk -v a="${sum[other]}" -v n="$rounds" 'BEGIN { printf "%.1f", a / n }')
  line=$(printf '%-42s nginx %9s %s' "$title" "${ref:-n/a}" "$unit")
  if [ -z "$side" ]; then
    line+="; cf-server not built yet: skipped"
  elif [ -n "$side_skip" ]; then
    line+="; $side: not measured: $side_skip"
  elif [ -z "$ref" ] || [ -z "$other" ]; then
    line+="; $side: not measured: ${skip_other:-${why[other]:-nginx: ${why[ref]:-}}}"
  else
    ratio=$(awk -v a="$other" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')
    verdict=$(awk -v r="$ratio" -v g="$goal" 'BEGIN { print (r >= g ? "MET" : "MISSED") }')
    line+=$(printf '; %s %9s %s: %sx, goal >= %sx: %s' "$side" "$other" "$unit" "$ratio" "$goal" "$verdict")
    [ "$side" = stand-in ] && line+=" (harness check)"
  fi
  [ -n "${why[ref]:-}" ] && [ -n "$ref" ] && line+=" [nginx: ${why[ref]}]"
  [ -n "${why[other]:-}" ] && [ -n "$other" ] && line+=" [$side: ${why[other]}]"
  eff=$(efficiency "$unit" "${ops[ref]}" "${ticks[ref]}" "${ops[other]}" "${ticks[other]}")
  summary+=("$line")
  [ -n "$eff" ] && summary+=("$eff")
  say "$line"
  [ -n "$eff" ] && say "$eff"
  say "   each run: nginx${runs[ref]}${runs[other]:+; $side${runs[other]}}"
  if [ "$name" = light ] && [ "${ops[ref]}" -gt 0 ] && [ "${ops[other]}" -gt 0 ]; then
    # CPU (user + system) per request of each server, in microseconds, and the machine's
    # load average around the figure: rates move with other work, this much less
    eff=$(awk -v a="${ops[ref]}" -v ta="${ticks[ref]}" -v b="${ops[other]}" -v tb="${ticks[other]}" \
      -v k="$tck" -v s="$side" -v l0="$load0" -v l1="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
      printf "   CPU per request: nginx %.1f us; %s %.1f us (load average %s -> %s)", \
        ta / k * 1e6 / a, s, tb / k * 1e6 / b, l0, l1 }')
    summary+=("$eff")
    say "$eff"
  fi
  if [ "$name" = checkin ] && [ -n "$redis_pid" ] && [ "${ops[other]}" -gt 0 ]; then
    # CPU per operation of each process, in microseconds: what the machine pays per check-in
    eff=$(awk -v a="${ops[ref]}" -v ta="${ticks[ref]}" -v b="${ops[other]}" -v tb="${ticks[other]}" \
      -v tr="$rticks" -v k="$tck" -v s="$side" 'BEGIN {
      printf "   CPU per operation: nginx %.1f us; %s %.1f us + redis-server %.1f us", \
        (a > 0 ? ta / k * 1e6 / a : 0), s, tb / k * 1e6 / b, tr / k * 1e6 / b }')
    summary+=("$eff")
    say "$eff"
  fi
}

load=(--connections "$conns" --duration "$duration")
hs=(handshake --request "GET /api/v1/health" --any-status "${ident[@]}" "${load[@]}")
light_ref() { run_wrk "nginx-wrk-$1.txt" "$ng_plain"; }
light_other() { run_wrk "other-wrk-$1.txt" "$b_plain"; }
hs_ref() { run_bench_tls "nginx-handshake-$1.txt" "${hs[@]}" --port "$ng_mtls"; }
hs_other() { run_bench_tls "other-handshake-$1.txt" "${hs[@]}" --port "$b_mtls"; }
# Check-ins: each connection presents one agent certificate and checks in under its name. An
# agent certificate must come from cf-server's own CA, which --init does not hand out (the
# certificate API or enrollment will); until then cf-server's agents check in without one,
# as allow-plain (on after --init) lets them, and nginx's static reference is taken the
# same way, on its block without client certificates.
ci_ident=(--cert-dir "$pki/agents") ci_body='{"id":"%s","version":"0.1.0","protocol":3}'
ci_ref_port=$ng_mtls ci_how="one agent certificate per connection"
if [ "$side" = cf-server ]; then
  ci_ident=() ci_body='{"id":"bench-agent-%d","version":"0.1.0","protocol":3}'
  ci_ref_port=$ng_plain ci_how="no client certificate (allow-plain), agent id in the body"
fi
checkin=(requests --method POST --path /api/v1/agent/checkin --body "$ci_body" "${ci_ident[@]}")
checkin_ref() { run_bench_tls "nginx-static-$1.txt" requests "${ci_ident[@]}" "${load[@]}" --port "$ci_ref_port"; }
checkin_other() { run_bench_tls "other-checkin-$1.txt" "${checkin[@]}" "${load[@]}" --port "$b_mtls"; }

# One request on each side first: a server that does not answer is reported once, clearly,
# rather than as figures of nothing; one that answers but not yet with a 2xx is said so.
probe() { # log port args...
  "$bench_tls" requests --ca "$ca" --any-status --connections 1 --count 1 --port "$2" "${@:3}" \
    >"$logs/$1" 2>&1
}
answer() { # log: "" for a 2xx, else "HTTP <status>", or the failure
  if ! grep -q '^result .* ok=1 ' "$logs/$1"; then
    grep -m1 '^failed:' "$logs/$1" || tail -n 1 "$logs/$1"
  else
    sed -n 's/^non-2xx answers: [0-9]* (\(HTTP [0-9]*\)).*/\1/p' "$logs/$1"
  fi
}
probe probe-nginx.txt "$ng_mtls" "${ident[@]}" || true
if [ -n "$(answer probe-nginx.txt)" ]; then
  echo "bench_https: nginx does not answer GET /api/v1/health: $(answer probe-nginx.txt)" >&2
  exit 1
fi
health="" ci_answer=""
if [ -n "$other_pid" ]; then
  probe probe-other.txt "$b_mtls" "${ident[@]}" || true
  health=$(answer probe-other.txt)
  case "$health" in
    ""|HTTP*) ;;
    *) side_skip="GET /api/v1/health failed: $health" ;;
  esac
  [ -n "$health" ] && say "== $side: GET /api/v1/health: $health"
  probe probe-checkin.txt "$b_mtls" --method POST --path /api/v1/agent/checkin \
    --body "$ci_body" "${ci_ident[@]}" || true
  ci_answer=$(answer probe-checkin.txt)
  [ -n "$ci_answer" ] && say "== $side: POST /api/v1/agent/checkin: $ci_answer"
fi

if wanted light; then
  say ""
  say "== 1. light endpoint, keep-alive, no client certificate (wrk): GET /api/v1/health"
  skip_other=""
  [ -n "$health" ] && skip_other="GET /api/v1/health answers $health (not built yet?)"
  figure light "light endpoint, keep-alive (wrk)" "req/s" 0.9
fi

if wanted hs; then
  say ""
  say "== 2. full mutual-TLS handshakes, one GET /api/v1/health each (bench_tls handshake)"
  say "   (any complete HTTP answer counts: the figure is the handshake; non-2xx are noted)"
  skip_other=""
  figure hs "full mTLS handshakes (bench_tls)" "hs/s" 0.9
fi

if wanted checkin; then
  say ""
  say "== 3. agent check-ins (POST /api/v1/agent/checkin, Redis writes) against nginx's static"
  say "   200 over the same keep-alive TLS: bench_tls requests, $ci_how"
  skip_other=""
  [ -n "$ci_answer" ] && skip_other="POST /api/v1/agent/checkin answers $ci_answer (not built yet?)"
  figure checkin "agent check-ins vs static 200 (bench_tls)" "req/s" 0.5
fi

say ""
say "== summary ($(nproc) CPUs, $key_type, $workers nginx worker(s) / cf-server thread(s), $conns connections, $rounds x ${duration}s per side and figure)"
printf '%s\n' "${summary[@]}"
grep -h '^negotiated:' "$logs"/nginx-handshake-1.txt 2>/dev/null | sed 's/^/nginx /' || true
grep -h '^negotiated:' "$logs"/other-handshake-1.txt 2>/dev/null | sed "s/^/$side /" || true
for f in "$logs"/*-1.txt; do
  cpu=$(grep -h '^client CPU' "$f" 2>/dev/null) || continue
  say "load tool, $(basename "$f" -1.txt), round 1: $cpu"
done
