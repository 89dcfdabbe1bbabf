#!/usr/bin/env bash
# Installs the Debian packages the test suite needs. Idempotent and quiet when all are present.
# Each package is here because a test runs it (see the comment beside it).
set -euo pipefail
packages=(
  iproute2   # ip netns / veth for network tests
  procps     # pkill/ps in test teardown
  busybox          # udhcpc: a Pi-like DHCP client (test/dhcp)
  isc-dhcp-client  # dhclient (test/dhcp)
  nmap             # broadcast-dhcp-discover lists every offer (test/dhcp)
  dnsmasq-base     # the reference DHCP/proxy-DHCP server (test/dhcp, bench/dhcp)
  kea-admin        # perfdhcp, ISC's DHCP load generator (bench/dhcp)
  chromium         # GraphiQL rendered offline in a real browser (test/graphql-graphiql)
  curl             # the audit export aborted mid-stream, as curl sees it (test/core/audit-export); a TFTP client (test/plugins/tftp)
  tftp-hpa         # tftp: a TFTP client (test/plugins/tftp)
  atftp            # a TFTP client that asks for windowsize (test/plugins/tftp, bench/tftp)
  openssl          # openssl verify / x509 -text of bramble's CA and LDAP certificate (test/plugins/ldap/tls)
  gnutls-bin       # gnutls-cli: GnuTLS, what nslcd's libldap uses, against the LDAP certificate (test/plugins/ldap/tls)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-test-deps: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
  exit 1
fi
echo "ensure-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1 || {
  cat "$log" >&2
  echo "ensure-test-deps: apt-get failed" >&2
  exit 1
}
