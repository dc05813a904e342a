#!/usr/bin/env bash
# demo.sh - certfleet's main job, end to end on this machine.
#
# Today it demonstrates the PKI core: an internal CA, the server, console and agent
# certificates (one per agent, and one made from the agent's own CSR), the agent's
# PKCS#12, a CRL, each verified by the independent `openssl` tool. The local cluster and
# the fleet rollout arrive with the server, broker and agent (see README: not done yet).
#
#   ./deploy/demo.sh [--keep] [--help]
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

./deploy/install-deps.sh
./deploy/build.sh normal
cf=$PWD/build/normal/console/cf-console

work=$(mktemp -d /tmp/certfleet-demo.XXXXXX)
cleanup() {
  if [ "$keep" = 1 ]; then echo "demo files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
cd "$work"
umask 077

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }

# Passwords live in 0600 files, never on a command line; every private key is written
# encrypted (AES-256 under PBKDF2).
head -c 24 /dev/urandom | base64 >ca.pass
head -c 24 /dev/urandom | base64 >p12.pass
head -c 24 /dev/urandom | base64 >key.pass

step "1. Create the internal CA (ECDSA P-256, key encrypted with AES-256)"
run "$cf" pki create-ca --out ca --name "certfleet demo CA" --key-password-file ca.pass
capass=(--ca ca --ca-password-file ca.pass)

step "2. Issue the management server's certificate (SAN: alias, DNS name, loopback IPs)"
run "$cf" pki issue "${capass[@]}" --component server --name srv1.example.test \
  --dns srv1 --ip 127.0.0.1 --ip ::1 --out certs --key-password-file key.pass

step "3. Issue the operator console's certificate (clientAuth)"
run "$cf" pki issue "${capass[@]}" --component console --name admin-console --out certs \
  --key-password-file key.pass

step "4. Issue a per-agent certificate (CN = agent id, SAN urn:certfleet:agent:<id>)"
run "$cf" pki issue "${capass[@]}" --component agent --name agent-0001 --out certs \
  --key-password-file key.pass

step "5. Enrollment by CSR: the agent makes its key, the CA signs under policy"
run "$cf" pki csr --agent agent-0002 --out agent2 --key-password-file key.pass
run "$cf" pki sign-csr "${capass[@]}" --csr agent2/agent-0002.csr --agent agent-0002 \
  --days 90 --out agent2/agent-0002.pem
echo "-- a request for another agent's name is refused:"
if "$cf" pki sign-csr "${capass[@]}" --csr agent2/agent-0002.csr --agent agent-0003 \
  --out agent2/wrong.pem; then
  echo "demo.sh: the CA signed a request for the wrong agent" >&2; exit 1
fi

step "6. Export the agent's PKCS#12 (AES-256-CBC, PBKDF2; the seed's PKCS12_PASS)"
run "$cf" pki export-p12 --cert certs/agent-0001.pem --key certs/agent-0001.key \
  --key-password-file key.pass --ca ca/ca.pem --password-file p12.pass \
  --out certs/agent-0001.p12

step "7. Inspect what we made"
run "$cf" pki inspect certs/srv1.example.test.pem --ca ca/ca.pem
run "$cf" pki inspect certs/agent-0001.p12 --password-file p12.pass --ca ca/ca.pem

step "8. Revoke agent-0001 with a CRL"
serial=$("$cf" pki inspect certs/agent-0001.pem --json | sed -n 's/.*"serial": "\([0-9a-f]*\)".*/\1/p')
run "$cf" pki crl "${capass[@]}" --serial "$serial" --days 7 --out ca/crl.pem
run "$cf" pki inspect ca/crl.pem --ca ca/ca.pem

step "9. Held up against the independent openssl tool"
for c in certs/srv1.example.test.pem certs/admin-console.pem certs/agent-0001.pem \
  agent2/agent-0002.pem; do
  run openssl verify -CAfile ca/ca.pem "$c"
done
run openssl pkcs12 -in certs/agent-0001.p12 -passin file:p12.pass -noout -info 2>&1 |
  grep -E 'PBES2|PBKDF2|AES|MAC' | sort -u
echo "-- with the CRL, the revoked agent certificate fails verification:"
if openssl verify -crl_check -CRLfile ca/crl.pem -CAfile ca/ca.pem certs/agent-0001.pem; then
  echo "demo.sh: revoked certificate still verifies" >&2; exit 1
fi
run openssl verify -crl_check -CRLfile ca/crl.pem -CAfile ca/ca.pem agent2/agent-0002.pem

step "Done"
cat <<EOT
Every certificate chains to the CA, the PKCS#12 opens with its password, and the revoked
agent is refused. Next: 'cf-console pki --help' ($cf), docs/pki.md, docs/import.md.
EOT
