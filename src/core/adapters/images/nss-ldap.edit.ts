/**
 * Directory accounts on the Pis (docs/pi-netboot-protocol.md §5.3): nslcd asks bramble's LDAP
 * server, glibc's NSS asks nslcd (libnss-ldapd), PAM checks passwords through it (libpam-ldapd).
 * Pure: inputs in, file text out.
 *
 * nslcd.conf is bramble's whole: it is rewritten from the LDAP plugin's settings on every
 * conversion (nslcd.conf(5) names every option). It holds no secret: nslcd searches anonymously
 * and binds as the user only to check a password.
 * - `ssl start_tls` (StartTLS on the plain port) or an `ldaps://` URI with `ssl on`;
 *   `tls_reqcert demand` so a wrong or missing certificate fails instead of silently trusting;
 * - `nss_initgroups_ignoreusers ALLLOCAL`: logins of local system users (root, daemons) never wait
 *   for the directory (boot does not hang when the server is slow);
 * - `nss_min_uid 1000`: a directory entry can never pose as root or a system account.
 *
 * nsswitch.conf: only the `passwd`, `group` and `shadow` lines change (`ldap` appended, after
 * `files`, so local accounts win); every other line is kept as it is.
 */

export interface LdapInputs {
  host: string;
  port: number;
  baseDn: string;
  startTls: boolean;
  caPath: string;
}

export function renderNslcdConf(ldap: LdapInputs): string {
  const uri = `${ldap.startTls ? 'ldap' : 'ldaps'}://${ldap.host.includes(':') ? `[${ldap.host}]` : ldap.host}:${ldap.port}/`;
  return [
    "# Written by bramble's image conversion from the LDAP plugin's settings; rewritten by every",
    '# conversion (change the settings, not this file). See nslcd.conf(5).',
    'uid nslcd',
    'gid nslcd',
    `uri ${uri}`,
    `base ${ldap.baseDn}`,
    `ssl ${ldap.startTls ? 'start_tls' : 'on'}`,
    'tls_reqcert demand',
    `tls_cacertfile ${ldap.caPath}`,
    '# local system users never wait for the directory; directory entries cannot be system users',
    'nss_initgroups_ignoreusers ALLLOCAL',
    'nss_min_uid 1000',
    '',
  ].join('\n');
}

/** The NSS databases looked up in the directory. */
export const LDAP_DATABASES = ['passwd', 'group', 'shadow'] as const;

/**
 * nsswitch.conf with `ldap` in the passwd, group and shadow lines (added where missing, spacing
 * kept); a missing line is added as `files ldap`. Idempotent.
 */
export function addLdapToNsswitch(original: string | null): string {
  const lines = (original ?? '').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const seen = new Set<string>();
  const out = lines.map((line) => {
    const m = /^(\s*)([a-z_]+)(\s*:\s*)([^#]*?)(\s*#.*)?$/.exec(line);
    if (!m || !(LDAP_DATABASES as readonly string[]).includes(m[2])) return line;
    seen.add(m[2]);
    const services = m[4].split(/\s+/).filter(Boolean);
    if (services.includes('ldap')) return line;
    return `${m[1]}${m[2]}${m[3]}${[...services, 'ldap'].join(' ')}${m[5] ?? ''}`;
  });
  for (const db of LDAP_DATABASES) if (!seen.has(db)) out.push(`${db}: files ldap`);
  return `${out.join('\n')}\n`;
}

/** Whether a Debian package is installed, from the text of /var/lib/dpkg/status. */
export function installedPackages(dpkgStatus: string | null): Set<string> {
  const installed = new Set<string>();
  for (const stanza of (dpkgStatus ?? '').split(/\n\s*\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    if (name && /^Status:.*\binstalled$/m.test(stanza) && !/^Status:.*\bnot-installed$/m.test(stanza)) installed.add(name);
  }
  return installed;
}

/** The packages the image needs for directory logins. */
export const LDAP_PACKAGES = ['nslcd', 'libnss-ldapd', 'libpam-ldapd'];
