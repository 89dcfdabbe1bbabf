import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addLdapToNsswitch, installedPackages, renderNslcdConf } from '../../../src/core/adapters/images/nss-ldap.edit';
import {
  directoryMatch,
  isReadBySudo,
  neutralizeSudoers,
  parseAccounts,
  SUDOERS_DROP_IN,
} from '../../../src/core/adapters/images/sudoers.edit';
import { tempDir } from '../../support/temp';
import { visudoCheck } from '../../support/visudo';
import { BOOKWORM_NSSWITCH, DEBIAN_SUDOERS, GROUP, PASSWD, PI_NOPASSWD } from './fixtures';

const LDAP = { host: '10.42.0.1', port: 389, baseDn: 'dc=bramble,dc=local', startTls: true, caPath: '/etc/ssl/certs/bramble-ca.pem' };

describe('renderNslcdConf', () => {
  it('StartTLS on the plain port, byte for byte', () => {
    assert.equal(
      renderNslcdConf(LDAP),
      [
        "# Written by bramble's image conversion from the LDAP plugin's settings; rewritten by every",
        '# conversion (change the settings, not this file). See nslcd.conf(5).',
        'uid nslcd',
        'gid nslcd',
        'uri ldap://10.42.0.1:389/',
        'base dc=bramble,dc=local',
        'ssl start_tls',
        'tls_reqcert demand',
        'tls_cacertfile /etc/ssl/certs/bramble-ca.pem',
        '# local system users never wait for the directory; directory entries cannot be system users',
        'nss_initgroups_ignoreusers ALLLOCAL',
        'nss_min_uid 1000',
        '',
      ].join('\n'),
    );
  });

  it('LDAPS: an ldaps:// URI and ssl on; IPv6 hosts in brackets', () => {
    const text = renderNslcdConf({ ...LDAP, startTls: false, port: 636, host: 'fd00::1' });
    assert.match(text, /^uri ldaps:\/\/\[fd00::1\]:636\/$/m);
    assert.match(text, /^ssl on$/m);
    assert.doesNotMatch(text, /start_tls/);
  });
});

describe('addLdapToNsswitch', () => {
  it('appends ldap to passwd, group and shadow only, keeping the spacing and every other line', () => {
    const expected = BOOKWORM_NSSWITCH.replace('passwd:         files\n', 'passwd:         files ldap\n')
      .replace('group:          files\n', 'group:          files ldap\n')
      .replace('shadow:         files\n', 'shadow:         files ldap\n');
    assert.equal(addLdapToNsswitch(BOOKWORM_NSSWITCH), expected);
    assert.match(expected, /^gshadow: {8}files$/m);
  });

  it('is idempotent, keeps other services, and adds missing lines', () => {
    const once = addLdapToNsswitch(BOOKWORM_NSSWITCH);
    assert.equal(addLdapToNsswitch(once), once);
    assert.equal(addLdapToNsswitch('passwd: files systemd\n'), 'passwd: files systemd ldap\ngroup: files ldap\nshadow: files ldap\n');
    assert.equal(addLdapToNsswitch(null), 'passwd: files ldap\ngroup: files ldap\nshadow: files ldap\n');
    assert.equal(addLdapToNsswitch('group: ldap files\n'), 'group: ldap files\npasswd: files ldap\nshadow: files ldap\n');
  });
});

describe('installedPackages', () => {
  it('reads installed packages from dpkg status, ignoring removed ones', () => {
    const status = [
      'Package: nslcd\nStatus: install ok installed\nVersion: 0.9.12-4',
      'Package: libnss-ldapd\nStatus: deinstall ok config-files\nVersion: 0.9.12-4',
      'Package: curl\nStatus: install ok installed',
      '',
    ].join('\n\n');
    assert.deepEqual([...installedPackages(status)].sort(), ['curl', 'nslcd']);
    assert.deepEqual([...installedPackages(null)], []);
  });
});

/** Rules of every kind that could match a directory user, and some that cannot. */
const MIXED_RULES = [
  'ALL ALL=(ALL) ALL',
  '%staff ALL=(ALL) ALL',
  '%users ALL=(ALL) ALL',
  '%#2000 ALL=(ALL) ALL',
  '#1001 ALL=(ALL) ALL',
  '+admins ALL=(ALL) ALL',
  'ADMINS ALL=(ALL) ALL',
  'daemon, root ALL=(ALL) NOPASSWD: /bin/true',
  '%sudo, alice ALL=(ALL) \\',
  '    NOPASSWD: ALL',
  'User_Alias ADMINS = alice',
  'Defaults:alice !lecture',
  '',
].join('\n');

describe('neutralizeSudoers', () => {
  const accounts = parseAccounts(PASSWD, GROUP);
  let tmp: { dir: string; cleanup(): void };
  before(() => {
    tmp = tempDir('bramble-sudoers-');
  });
  after(() => tmp.cleanup());

  it("comments out Raspberry Pi OS's 010_pi-nopasswd rule, byte for byte", () => {
    const edit = neutralizeSudoers(PI_NOPASSWD, accounts);
    assert.equal(
      edit.text,
      [
        '# bramble: disabled (user pi could be a directory user): directory users get no sudo on network-booted Pis',
        '# pi ALL=(ALL) NOPASSWD: ALL',
        '',
      ].join('\n'),
    );
    assert.deepEqual(edit.disabled, ['user pi: pi ALL=(ALL) NOPASSWD: ALL']);
    assert.equal(neutralizeSudoers(edit.text as string, accounts).text, null, 'idempotent');
  });

  it("leaves Debian's sudoers alone: root, %sudo, Defaults, includes", () => {
    assert.deepEqual(neutralizeSudoers(DEBIAN_SUDOERS, accounts), { text: null, disabled: [] });
  });

  it('disables ALL, unknown or high groups, %users, high uids, netgroups and aliases; keeps system accounts', () => {
    const edit = neutralizeSudoers(MIXED_RULES, accounts);
    assert.deepEqual(
      edit.disabled.map((d) => d.split(':')[0]),
      ['ALL', 'group %staff', 'group %users', 'group %#2000', 'user #1001', 'netgroup +admins', 'alias ADMINS', 'user alice'],
    );
    const out = edit.text as string;
    assert.match(out, /^daemon, root ALL=\(ALL\) NOPASSWD: \/bin\/true$/m);
    assert.match(out, /^# %sudo, alice ALL=\(ALL\) \\\n# {5}NOPASSWD: ALL$/m, 'a continued rule is commented out whole');
    assert.match(out, /^User_Alias ADMINS = alice$/m);
    assert.match(out, /^Defaults:alice !lecture$/m);
  });

  it('directoryMatch and the names sudo reads', () => {
    assert.equal(directoryMatch('root', accounts), null);
    assert.equal(directoryMatch('%sudo', accounts), null);
    assert.equal(directoryMatch('%:sudo', accounts), null);
    assert.equal(directoryMatch('bob', accounts), 'user bob');
    assert.equal(isReadBySudo('010_pi-nopasswd'), true);
    assert.equal(isReadBySudo('README.md'), false);
    assert.equal(isReadBySudo('x~'), false);
  });

  it("sudo's own parser (visudo -c) accepts what was written, and the drop-in", () => {
    const bad = join(tmp.dir, 'bad');
    writeFileSync(bad, 'pi ALL=(ALL NOPASSWD: ALL\n');
    assert.equal(visudoCheck(bad).ok, false, 'visudo does reject bad syntax');
    for (const [i, text] of [
      neutralizeSudoers(PI_NOPASSWD, accounts).text,
      neutralizeSudoers(MIXED_RULES, accounts).text,
      MIXED_RULES,
      SUDOERS_DROP_IN,
    ].entries()) {
      const file = join(tmp.dir, `f${i}`);
      assert.ok(text !== null);
      writeFileSync(file, text);
      const check = visudoCheck(file);
      assert.ok(check.ok, check.output);
    }
  });
});
