#!/usr/bin/env bash
# install-deps.sh - install the Debian 12 packages certfleet builds and tests with.
# Idempotent and quiet when everything is there; runs apt-get update only when needed.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  lld # cf-agent's link order (agent/CMakeLists.txt); without it GNU ld links it
  libzmq3-dev libczmq-dev libssl-dev openssl libhiredis-dev libevent-dev
  libcurl4-openssl-dev curl libjansson-dev libsodium-dev libcmocka-dev redis-server pmccabe
  sslscan python3-zmq
  python3 redis-tools systemd shellcheck # deploy/: JSON and redis-cli in the scripts, systemd-analyze, shellcheck
)
# Extra packages a caller can ask for (e.g. benchmarks): CF_EXTRA_PKGS="nginx wrk".
if [ -n "${CF_EXTRA_PKGS:-}" ]; then
  read -r -a extra <<<"$CF_EXTRA_PKGS"
  PKGS+=("${extra[@]}")
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server as a service on install; certfleet's scripts run their own
# instances on free ports, so the system one is left as the operator has it.
