#!/usr/bin/env bash
# test_units.sh - the systemd units in deploy/systemd: 'systemd-analyze verify' finds no
# error or warning (ExecStart pointed at the binaries of this build), and each has the
# hardening keys deploy/ promises. Usage: test_units.sh SRC_DIR BIN_DIR
set -euo pipefail
src=${1:?SRC_DIR}
bin=${2:?BIN_DIR}
units=("$src"/deploy/systemd/*.service)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cf-units.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bad=0
fail() { echo "FAIL: $*"; bad=1; }

# the keys every unit carries
for u in "${units[@]}"; do
  name=$(basename "$u")
  for key in 'User=' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' \
    'PrivateTmp=yes' 'ExecStart=/usr/local/bin/cf-' 'Restart=on-failure' 'UMask=0077' \
    'WantedBy=multi-user.target'; do
    grep -q "^$key" "$u" || fail "$name lacks $key"
  done
done
grep -q '^LimitNOFILE=' "$src/deploy/systemd/cf-broker.service" || fail "cf-broker.service lacks LimitNOFILE"
grep -q '^StateDirectory=' "$src/deploy/systemd/cf-agent.service" || fail "cf-agent.service lacks StateDirectory"
grep -q '^StateDirectory=' "$src/deploy/systemd/cf-server@.service" || fail "cf-server@.service lacks StateDirectory"
# shellcheck disable=SC2016 # a literal $MAINPID
grep -qF 'ExecReload=/bin/kill -HUP $MAINPID' "$src/deploy/systemd/cf-agent.service" ||
  fail "cf-agent.service lacks ExecReload"

if command -v systemd-analyze >/dev/null; then
  for u in "${units[@]}"; do
    sed -e "s#/usr/local/bin/cf-broker#$bin/broker/cf-broker#" \
      -e "s#/usr/local/bin/cf-server#$bin/server/cf-server#" \
      -e "s#/usr/local/bin/cf-agent#$bin/agent/cf-agent#" "$u" >"$tmp/$(basename "$u")"
  done
  # systemd 252 exits 0 on unknown keys and prints them: any output is a finding
  out=$(cd "$tmp" && systemd-analyze verify ./*.service 2>&1) || fail "systemd-analyze verify failed"
  if [ -n "$out" ]; then
    echo "$out"
    fail "systemd-analyze verify printed findings"
  fi
  # the verifier does see a broken unit (an unknown key, a missing binary)
  mkdir "$tmp/bad"
  sed -e 's/^NoNewPrivileges=yes$/NoNewPrivilege=yes/' \
    -e "s#^ExecStart=[^ ]*#ExecStart=$tmp/missing#" "$tmp/cf-agent.service" >"$tmp/bad/cf-bad.service"
  out=$(cd "$tmp/bad" && systemd-analyze verify ./cf-bad.service 2>&1) || true
  grep -q "NoNewPrivilege" <<<"$out" || fail "systemd-analyze verify missed an unknown key: $out"
  grep -q "missing" <<<"$out" || fail "systemd-analyze verify missed a missing binary: $out"
else
  echo "systemd-analyze not found: checked the keys only"
fi
[ "$bad" -eq 0 ] && echo "units: ${#units[@]} verified"
exit "$bad"
