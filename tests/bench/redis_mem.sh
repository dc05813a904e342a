#!/usr/bin/env bash
# redis_mem.sh - Redis memory by key family (issue 6): for a running certfleet Redis, the
# keys of each family, their MEMORY USAGE summed (SAMPLES 0: every element), the encodings
# seen, and the bytes per agent of each family (families under 1 byte per agent summed in
# one line); then INFO memory's used_memory, dataset and overhead. A measuring tool, not a
# test.
#
#   tests/bench/redis_mem.sh [--port P] [--agents N]
#     --port P     the Redis port (default 6379)
#     --agents N   divide by N (default: the agents in the four cf:agents:<lock> sets)
set -euo pipefail
port=6379 agents=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=${2:?}; shift 2 ;;
    --agents) agents=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "redis_mem: unknown option '$1'" >&2; exit 2 ;;
  esac
done
cli() { redis-cli -p "$port" "$@"; }
if [ -z "$agents" ]; then
  agents=0
  for l in secure attention insecure expired; do agents=$((agents + $(cli ZCARD "cf:agents:$l"))); done
fi
[ "$agents" -gt 0 ] 2>/dev/null || { echo "redis_mem: no agents" >&2; exit 2; }
keys=$(mktemp)
trap 'rm -f "$keys"' EXIT
cli --scan >"$keys"
# one MEMORY USAGE and one OBJECT ENCODING per key, pipelined through one redis-cli
awk '{ printf "MEMORY USAGE \"%s\" SAMPLES 0\nOBJECT ENCODING \"%s\"\n", $0, $0 }' "$keys" |
  cli >"$keys.out"
paste "$keys" <(paste - - <"$keys.out") | awk -F'\t' -v n="$agents" '
  function family(k) {
    if (k ~ /^cf:agent:\{[^}]*\}$/) return "cf:agent:{id}"
    if (k ~ /^cf:agent:\{[^}]*\}:cert$/) return "cf:agent:{id}:cert"
    if (k ~ /^cf:agent:\{[^}]*\}:jobs$/) return "cf:agent:{id}:jobs"
    if (k ~ /^cf:job:\{[^}]*\}$/) return "cf:job:{id}"
    if (k ~ /^cf:job:\{[^}]*\}:/) { sub(/^cf:job:\{[^}]*\}/, "cf:job:{id}", k); return k }
    if (k ~ /^cf:enroll:/) return "cf:enroll:*"
    if (k ~ /^cf:cert:/) return "cf:cert:*"
    if (k ~ /^cf:session:/) return "cf:session:*"
    return k
  }
  { f = family($1); keys[f]++; mem[f] += $2; enc[f] = enc[f] ~ $3 ? enc[f] : enc[f] (enc[f] ? "," : "") $3; total += $2 }
  END {
    printf "%-28s %7s %11s %9s  %s\n", "family", "keys", "bytes", "B/agent", "encoding"
    for (f in keys) {
      if (mem[f] / n < 1) { ok += keys[f]; om += mem[f]; continue }
      printf "%-28s %7d %11d %9.1f  %s\n", f, keys[f], mem[f], mem[f] / n, enc[f] | "sort -k3 -n -r"
    }
    close("sort -k3 -n -r")
    printf "%-28s %7d %11d %9.1f\n", "the rest (under 1 B/agent)", ok, om, om / n
    printf "%-28s %7s %11d %9.1f\n", "all keys (MEMORY USAGE)", "", total, total / n
  }'
rm -f "$keys.out"
cli INFO memory | tr -d '\r' | awk -F: -v n="$agents" '
  /^(used_memory|used_memory_dataset|used_memory_overhead|used_memory_startup|mem_allocator):/ {
    printf "%s %s%s\n", $1, $2, ($2 ~ /^[0-9]+$/ ? sprintf(" (%.1f per agent)", $2 / n) : "") }'
echo "agents: $agents"
