#!/usr/bin/env bash
# Installs the Debian packages the test suite needs. Idempotent and quiet when all are present.
# Each package is here because a test runs it (see the comment beside it).
#
# The LDAP test tools must not change how the host behaves: the daemons they ship (slapd, nslcd)
# are never started by the install nor at boot, and the host's /etc/nsswitch.conf and PAM stack
# stay as they are (checked below: the script fails if either changed). The NSS and PAM modules
# (libnss-ldapd, libpam-ldapd) are therefore not installed at all — installing them edits
# nsswitch.conf (libnss-ldapd's debconf) and the PAM stack (libpam-ldapd runs pam-auth-update) —
# but unpacked with `dpkg -x` into $LDAP_MODULES_DIR, where test/support/ldap-lab.ts finds them
# (the NSS module through LD_LIBRARY_PATH, the PAM module by full path in its own pam.d file).
set -euo pipefail
packages=(
  iproute2   # ip netns / veth for network tests
  procps     # pkill/ps in test teardown
  busybox          # udhcpc: a Pi-like DHCP client (test/dhcp)
  isc-dhcp-client  # dhclient (test/dhcp)
  nmap             # broadcast-dhcp-discover lists every offer (test/dhcp)
  dnsmasq-base     # the reference DHCP/proxy-DHCP server (test/dhcp, bench/dhcp)
  kea-admin        # perfdhcp, ISC's DHCP load generator (bench/dhcp)
  kea-dhcp4-server # kea-dhcp4: ISC Kea, the reference DHCP server's zero-drop rate (bench/dhcp), run in the lab only
  chromium         # GraphiQL rendered offline in a real browser (test/graphql-graphiql)
  curl             # the audit export aborted mid-stream, as curl sees it (test/core/audit-export); a TFTP client (test/plugins/tftp)
  tftp-hpa         # tftp: a TFTP client (test/plugins/tftp)
  atftp            # a TFTP client that asks for windowsize (test/plugins/tftp, bench/tftp)
  ldap-utils       # ldapsearch, ldapwhoami: LDAP clients (test/plugins/ldap)
  slapd            # OpenLDAP's server (+ slaptest, slapadd): the reference LDAP server (test/plugins/ldap)
  nslcd            # the Pi-side LDAP daemon behind getent/id/PAM, run in the lab only (test/plugins/ldap)
  pamtester        # a PAM login as the Pi does it, through pam_ldap (test/plugins/ldap)
  openssl          # a throwaway CA for the LDAP lab; openssl verify / x509 -text of bramble's CA and LDAP certificate (test/plugins/ldap)
  gnutls-bin       # gnutls-cli: GnuTLS, what nslcd's libldap uses, against the LDAP certificate (test/plugins/ldap/tls)
  nfs-ganesha       # ganesha.nfsd: the NFS plugin's default backend, run by bramble in the lab (test/plugins/nfs/ganesha.e2e, bench/nfs)
  nfs-ganesha-vfs   # ganesha's VFS FSAL, what bramble's exports use (test/plugins/nfs/ganesha.e2e, bench/nfs)
  rpcbind           # rpcbind + rpcinfo: NFSv3 registration in the lab's server namespace (test/plugins/nfs/ganesha.e2e, bench/nfs)
  libnfs-utils      # nfs-ls, nfs-cat, nfs-cp: a userspace NFS client as the Pi (test/plugins/nfs/ganesha.e2e, bench/nfs)
  nfs-kernel-server # exportfs: checks the kernel backend's exports file, in a private mount namespace (test/plugins/nfs/kernel)
  attr             # setfattr: the image importer restores file capabilities debugfs rdump drops; getfattr: the command runner reads overlayfs opaque-folder xattrs (test/core/images)
  e2fsprogs        # mke2fs -d builds the test's ext4 root, debugfs reads it back (test/core/images, src/core/adapters/images)
  mtools           # mcopy: the FAT boot partition without a mount (test/core/images, src/core/adapters/images)
  dosfstools       # mkfs.vfat for the test's boot partition (test/core/images)
  fdisk            # sfdisk writes the test disk image's partition table (test/core/images)
  xz-utils         # .img.xz / .tar.xz sources and exports (test/core/images, src/core/adapters/images)
  libcap2-bin      # setcap/getcap: a file capability that must survive an import (test/core/images)
  ipxe             # undionly.kpxe and ipxe.efi, the boot loaders the TFTP plugin serves lab PCs (test/plugins/dhcp/pc-clients.e2e, pc-qemu.e2e)
  ipxe-qemu        # QEMU's NIC ROMs: iPXE, a real PXE firmware (test/plugins/dhcp/pc-qemu.e2e, test/e2e/vm-boot*)
  qemu-system-x86  # qemu-system-x86_64: a PC network-booting from bramble (test/plugins/dhcp/pc-qemu.e2e, test/e2e/vm-boot*)
  mmdebstrap       # builds the Debian 12 root the VM boots, cached in /var/cache/bramble-test (test/support/debian-vm-image.ts for test/e2e/vm-boot*)
  radvd            # a router advertisement on the VM's LAN, so iPXE does not wait ~13 s for IPv6 (test/e2e/vm-boot*)
)
# Unpacked, not installed (see above): the NSS module (libnss_ldap.so.2) and the PAM module
# (pam_ldap.so) that talk to nslcd, at nslcd's own version.
LDAP_MODULES_DIR=/var/cache/bramble-test/nss-pam-ldapd
# visudo, unpacked from the sudo package, not installed (no setuid sudo on the test host): the image
# conversion's sudoers files are checked with `visudo -c -f` (test/core/images/nss-sudo.edit).
VISUDO_DIR=/var/cache/bramble-test/sudo

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# True when the unpacked modules are there and match the installed nslcd's version.
ldap_modules_current() {
  local version
  version=$(dpkg-query -W -f='${Version}' nslcd 2>/dev/null) || return 1
  [ -f "$LDAP_MODULES_DIR/version" ] && [ "$(cat "$LDAP_MODULES_DIR/version")" = "$version" ] &&
    [ -f "$LDAP_MODULES_DIR/nss/libnss_ldap.so.2" ] && [ -f "$LDAP_MODULES_DIR/pam/pam_ldap.so" ]
}

visudo_current() {
  [ -x "$VISUDO_DIR/usr/sbin/visudo" ] && [ -f "$VISUDO_DIR/usr/libexec/sudo/libsudo_util.so.0" ]
}

[ ${#missing[@]} -eq 0 ] && ldap_modules_current && visudo_current && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-test-deps: missing Debian packages: ${missing[*]:-none} (or the unpacked LDAP modules in $LDAP_MODULES_DIR) (run as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
work=$(mktemp -d)
created_policy=0
cleanup() {
  # Only a policy-rc.d this script made is removed; one that was there before stays.
  [ "$created_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  rm -rf "$work"
}
trap cleanup EXIT
log="$work/log"
fail() {
  [ -s "$log" ] && cat "$log" >&2
  echo "ensure-test-deps: $1" >&2
  exit 1
}

# What the host's name service and PAM look like, to prove afterwards that nothing changed.
host_state() {
  sha256sum /etc/nsswitch.conf
  (cd /etc/pam.d && find . -printf '%p %y %l\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
# Daemons started the packaged way (the lab runs them with its own -f file / in the foreground).
packaged_daemons() {
  ps -eo pid=,args= | awk '$2 ~ /(^|\/)slapd$/ && !/ -f / { print } $2 ~ /(^|\/)nslcd$/ && !/ -[dn]/ { print }
    $2 ~ /(^|\/)(rpcbind|ganesha\.nfsd|rpc\.mountd|rpc\.statd|rpc\.idmapd)$/ && !/ -[fF]( |$)/ { print }
    $2 ~ /(^|\/)radvd$/ && !/ -n / { print }
    $2 ~ /(^|\/)kea-dhcp4$/ && !/ -c / { print }'
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-test-deps: installing ${missing[*]}" >&2
  host_state >"$work/before"
  packaged_daemons >"$work/daemons-before"
  # Maintainer scripts ask invoke-rc.d to start slapd and nslcd: a policy-rc.d exiting 101 denies it.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# ensure-test-deps.sh: no service starts while test packages install\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  # slapd without a configuration of its own: no default database under /var/lib/ldap and nothing
  # in /etc/ldap/slapd.d for it to serve (the tests give slapd its own config file).
  if printf '%s\n' "${missing[@]}" | grep -qx slapd; then
    echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
  fi
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1 ||
    fail "apt-get failed"
  # Not at boot either (the packages enable their init scripts).
  for daemon in slapd nslcd; do
    if printf '%s\n' "${missing[@]}" | grep -qx "$daemon"; then
      update-rc.d "$daemon" disable >>"$log" 2>&1 || fail "could not disable $daemon at boot"
    fi
  done
  # Kea is run by bench/dhcp itself, in a lab namespace, never as the host's DHCP server.
  if printf '%s\n' "${missing[@]}" | grep -qx kea-dhcp4-server; then
    if command -v systemctl >/dev/null; then
      systemctl --no-reload disable kea-dhcp4-server.service >>"$log" 2>&1 || true
    fi
    [ -e /etc/init.d/kea-dhcp4-server ] && { update-rc.d kea-dhcp4-server disable >>"$log" 2>&1 || fail "could not disable kea-dhcp4-server at boot"; }
  fi
  # The NFS servers are run by the tests themselves, in a lab namespace: neither the packaged
  # services nor their sockets start at boot (systemd units and init scripts both).
  # Once, whichever of them was just installed.
  if printf '%s\n' "${missing[@]}" | grep -qxE 'rpcbind|nfs-kernel-server|nfs-ganesha'; then
    if command -v systemctl >/dev/null; then
      systemctl --no-reload disable rpcbind.service rpcbind.socket nfs-server.service nfs-ganesha.service \
        nfs-client.target >>"$log" 2>&1 || true
    fi
    for script in rpcbind nfs-kernel-server nfs-common; do
      [ -e "/etc/init.d/$script" ] && { update-rc.d "$script" disable >>"$log" 2>&1 || fail "could not disable $script at boot"; }
    done
  fi
  # radvd is run by the VM test in its lab namespace only: never at boot on the host.
  if printf '%s\n' "${missing[@]}" | grep -qx radvd; then
    if command -v systemctl >/dev/null; then systemctl --no-reload disable radvd.service >>"$log" 2>&1 || true; fi
    [ -e /etc/init.d/radvd ] && { update-rc.d radvd disable >>"$log" 2>&1 || fail "could not disable radvd at boot"; }
  fi
  host_state >"$work/after"
  packaged_daemons >"$work/daemons-after"
  if ! cmp -s "$work/before" "$work/after"; then
    diff "$work/before" "$work/after" >&2 || true
    fail "installing changed /etc/nsswitch.conf or /etc/pam.d (see above)"
  fi
  if ! cmp -s "$work/daemons-before" "$work/daemons-after"; then
    cat "$work/daemons-after" >&2
    fail "installing started a daemon (see above): stop it"
  fi
fi

if ! ldap_modules_current; then
  version=$(dpkg-query -W -f='${Version}' nslcd)
  echo "ensure-test-deps: unpacking libnss-ldapd and libpam-ldapd $version into $LDAP_MODULES_DIR" >&2
  mkdir -p "$work/debs" "$work/root"
  # apt's download sandbox user must be able to write here.
  chown _apt "$work/debs" 2>/dev/null || true
  (cd "$work/debs" && apt-get download -qq "libnss-ldapd=$version" "libpam-ldapd=$version") >>"$log" 2>&1 ||
    fail "apt-get download libnss-ldapd/libpam-ldapd $version failed"
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
  nss=$(find "$work/root" -name 'libnss_ldap.so.2' | head -n 1)
  pam=$(find "$work/root" -name 'pam_ldap.so' | head -n 1)
  [ -n "$nss" ] && [ -n "$pam" ] || fail "libnss_ldap.so.2 or pam_ldap.so not found in the unpacked packages"
  rm -rf "$LDAP_MODULES_DIR"
  mkdir -p "$LDAP_MODULES_DIR/nss" "$LDAP_MODULES_DIR/pam"
  cp "$nss" "$LDAP_MODULES_DIR/nss/libnss_ldap.so.2"
  cp "$pam" "$LDAP_MODULES_DIR/pam/pam_ldap.so"
  # Written last: its presence says the folder is complete.
  echo "$version" >"$LDAP_MODULES_DIR/version"
fi

if ! visudo_current; then
  echo "ensure-test-deps: unpacking sudo (for visudo) into $VISUDO_DIR" >&2
  mkdir -p "$work/sudo-deb"
  chown _apt "$work/sudo-deb" 2>/dev/null || true
  (cd "$work/sudo-deb" && apt-get download -qq sudo) >>"$log" 2>&1 || fail "apt-get download sudo failed"
  rm -rf "$VISUDO_DIR"
  mkdir -p "$VISUDO_DIR"
  dpkg -x "$work"/sudo-deb/sudo_*.deb "$VISUDO_DIR"
  visudo_current || fail "visudo or libsudo_util.so.0 not found in the unpacked sudo package"
fi
