/**
 * Directory users get no sudo on the Pis (docs/pi-netboot-protocol.md §5.3). Pure: file text in,
 * file text out.
 *
 * Raspberry Pi OS grants its first user password-less sudo in `/etc/sudoers.d/010_pi-nopasswd`
 * (`pi ALL=(ALL) NOPASSWD: ALL`). Once accounts come from the directory, a directory user with
 * that name (or any rule naming a user who is not a local system account) would get root on every
 * Pi. So every rule in `/etc/sudoers.d` whose user list could match a directory user is commented
 * out, with a `bramble:` note saying why:
 * - a user name that is not a local system account (uid < 1000 in the image's /etc/passwd; a
 *   directory user never shadows one, since nsswitch puts `files` first and nslcd has nss_min_uid);
 * - `#uid` with uid >= 1000; `ALL`; a `+netgroup` (netgroups may come from the directory);
 * - a `%group` (or `%:group`, `%#gid`) that is not a local system group (gid < 1000 in the
 *   image's /etc/group), or is `users` (gid 100, the usual primary group of ordinary accounts);
 * - a User_Alias name (conservatively: aliases are not expanded).
 * Defaults lines, aliases' definitions and rules for root, system users and local system groups
 * such as `%sudo` stay: local administration keeps working. The main /etc/sudoers is not edited
 * (Debian's has only root and %sudo); a rule there is reported when it would match.
 *
 * Remaining risk, outside the image: a directory group with a system gid (27 = sudo) would make its
 * members match `%sudo`. The directory must not hand out gids below 1000.
 */

export interface LocalAccounts {
  /** name → uid, from the image's /etc/passwd */
  users: Map<string, number>;
  /** name → gid, from the image's /etc/group */
  groups: Map<string, number>;
}

export const SYSTEM_ID_LIMIT = 1000;

export function parseAccounts(passwd: string | null, group: string | null): LocalAccounts {
  const table = (text: string | null): Map<string, number> => {
    const map = new Map<string, number>();
    for (const line of (text ?? '').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 3 && /^\d+$/.test(fields[2])) map.set(fields[0], Number(fields[2]));
    }
    return map;
  };
  return { users: table(passwd), groups: table(group) };
}

/** Why a user-list item could match a directory user, or null when it cannot. */
export function directoryMatch(item: string, accounts: LocalAccounts): string | null {
  const name = item.replace(/^!/, '').trim();
  if (name === 'ALL') return 'ALL';
  if (name.startsWith('+')) return `netgroup ${name}`;
  if (name.startsWith('%')) {
    const group = name.replace(/^%:?/, '');
    if (group.startsWith('#')) return Number(group.slice(1)) >= SYSTEM_ID_LIMIT ? `group ${name}` : null;
    const gid = accounts.groups.get(group);
    if (gid === undefined || gid >= SYSTEM_ID_LIMIT || group === 'users') return `group ${name}`;
    return null;
  }
  if (name.startsWith('#')) return Number(name.slice(1)) >= SYSTEM_ID_LIMIT ? `user ${name}` : null;
  if (/^[A-Z][A-Z0-9_]*$/.test(name)) return `alias ${name}`;
  const uid = accounts.users.get(name);
  if (uid === undefined || uid >= SYSTEM_ID_LIMIT) return `user ${name}`;
  return null;
}

const NOT_RULES = /^(Defaults|User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias|#include|#includedir|@include|@includedir)\b/;

/** The user list of a sudoers rule (`alice,%staff host=(...) cmd`), or null for other lines. */
export function ruleUsers(logicalLine: string): string[] | null {
  const line = logicalLine.trim();
  if (line === '' || NOT_RULES.test(line) || (line.startsWith('#') && !/^#\d/.test(line))) return null;
  const m = /^((?:[^\s,]+\s*,\s*)*[^\s,]+)\s+\S/.exec(line);
  return m ? m[1].split(',').map((s) => s.trim()) : null;
}

export const DISABLED_MARK = '# bramble: disabled';

export interface SudoersEdit {
  /** The new text, or null when nothing changed. */
  text: string | null;
  /** One line per disabled rule: `<why>: <rule>`. */
  disabled: string[];
}

/**
 * Comments out the rules of one sudoers file that could match a directory user. Continuation lines
 * (`\` at the end) are one rule. Idempotent: disabled rules are comments.
 */
export function neutralizeSudoers(text: string, accounts: LocalAccounts): SudoersEdit {
  const lines = text.split('\n');
  const out: string[] = [];
  const disabled: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const physical = [lines[i]];
    while (physical[physical.length - 1].endsWith('\\') && i + 1 < lines.length) physical.push(lines[++i]);
    const logical = physical.map((l) => l.replace(/\\$/, '')).join(' ');
    const users = ruleUsers(logical);
    const why = users?.map((u) => directoryMatch(u, accounts)).find((w) => w !== null) ?? null;
    if (why === null) {
      out.push(...physical);
      continue;
    }
    disabled.push(`${why}: ${logical.trim()}`);
    out.push(`${DISABLED_MARK} (${why} could be a directory user): directory users get no sudo on network-booted Pis`);
    out.push(...physical.map((l) => `# ${l}`));
  }
  return { text: disabled.length > 0 ? out.join('\n') : null, disabled };
}

/** Names sudo's `@includedir` reads: no `.` in the name and no trailing `~` (sudoers(5)). */
export function isReadBySudo(name: string): boolean {
  return !name.includes('.') && !name.endsWith('~');
}

/** bramble's drop-in: grants nothing; records that the image was checked and why. */
export const SUDOERS_DROP_IN = [
  "# Written by bramble's image conversion. Users from bramble's directory (LDAP) get no sudo on",
  '# network-booted Pis: rules in /etc/sudoers.d that could match them were commented out (marked',
  '# "bramble: disabled"). Root and local system accounts and groups (such as %sudo) keep theirs.',
  '# This file grants nothing. Do not add rules for directory users or groups here.',
  '',
].join('\n');
