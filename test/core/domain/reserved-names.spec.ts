/** The names of the Pi OS's own accounts and groups, refused for new users and groups. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RESERVED_NAME_LISTS, RESERVED_PREFIXES } from '../../../src/core/domain/user/reserved-names.data';
import { RESERVED_REASON, isReservedName, reservedName, validateNotReserved } from '../../../src/core/domain/user/reserved-names';
import { USERNAME_PATTERN } from '../../../src/core/domain/user/user.decider';
import { assertDomainError } from '../../support/given-when-then';

describe('reserved names', () => {
  describe('the names the Pi OS has are reserved', () => {
    const table: Array<[string, string]> = [
      // Debian base-passwd users and groups.
      ['root', 'name'],
      ['daemon', 'name'],
      ['nobody', 'name'],
      ['www-data', 'name'],
      ['sudo', 'name'],
      ['adm', 'name'],
      ['disk', 'name'],
      ['video', 'name'],
      ['audio', 'name'],
      ['dialout', 'name'],
      ['plugdev', 'name'],
      ['shadow', 'name'],
      ['staff', 'name'],
      ['users', 'name'],
      ['nogroup', 'name'],
      // Raspberry Pi OS (pi-gen, userconf-pi).
      ['pi', 'name'],
      ['rpi-first-boot-wizard', 'name'],
      ['gpio', 'name'],
      ['i2c', 'name'],
      ['spi', 'name'],
      ['netdev', 'name'],
      ['lpadmin', 'name'],
      ['input', 'name'],
      ['render', 'name'],
      // Debian packages in the image and the LDAP client stack.
      ['lightdm', 'name'],
      ['avahi', 'name'],
      ['messagebus', 'name'],
      ['sshd', 'name'],
      ['polkitd', 'name'],
      ['nslcd', 'name'],
      ['statd', 'name'],
      ['colord', 'name'],
      ['pulse', 'name'],
      ['rtkit', 'name'],
      ['saned', 'name'],
      ['sddm', 'name'],
      ['dnsmasq', 'name'],
      ['tss', 'name'],
      ['usbmux', 'name'],
      ['geoclue', 'name'],
      ['bluetooth', 'name'],
      ['kvm', 'name'],
      // Exact names that the prefixes would also catch are still found by name first.
      ['_apt', 'name'],
      // Prefixes.
      ['systemd-network', 'prefix'],
      ['systemd-timesync', 'prefix'],
      ['systemd-whatever-comes-next', 'prefix'],
      ['_ssh', 'prefix'],
      ['_chrony', 'prefix'],
      ['_', 'prefix'],
    ];
    for (const [name, rule] of table) {
      it(`${name}: by ${rule}`, () => {
        assert.equal(reservedName(name)?.rule, rule);
        assert.equal(isReservedName(name), true);
      });
    }
  });

  describe('other names are free', () => {
    for (const name of [
      'alice',
      'pupils',
      'teachers',
      'lab',
      'pi2',
      'pie',
      'pi-lab',
      'gpio1',
      'rooted',
      'sudoers',
      'systemd',
      'a_b',
      'users2',
    ]) {
      it(name, () => {
        assert.equal(reservedName(name), null);
        assert.equal(isReservedName(name), false);
        validateNotReserved(name, 'username');
      });
    }
  });

  it('matching is on the lower-case name', () => {
    assert.equal(reservedName('SUDO')?.rule, 'name');
    assert.equal(reservedName('Pi')?.rule, 'name');
    assert.equal(reservedName('SystemD-Network')?.rule, 'prefix');
  });

  it('a match says where the name was read', () => {
    const sudo = reservedName('sudo');
    assert.ok(sudo?.rule === 'name');
    assert.ok(sudo.sources.some((s) => s.includes('group.master')));
    const pi = reservedName('pi');
    assert.ok(pi?.rule === 'name');
    assert.ok(pi.sources.some((s) => s.includes('RPi-Distro/pi-gen')));
    // netdev comes from two places: pi-gen and avahi-daemon.
    const netdev = reservedName('netdev');
    assert.ok(netdev?.rule === 'name');
    assert.equal(netdev.sources.length, 2);
    const prefix = reservedName('systemd-journal');
    assert.ok(prefix?.rule === 'prefix');
    assert.equal(prefix.prefix, 'systemd-');
  });

  it('validateNotReserved: VALIDATION on the field, with the stable reason and the name or prefix', () => {
    const byName = assertDomainError(() => validateNotReserved('sudo', 'groups'), 'VALIDATION', 'groups');
    assert.equal(byName.field, 'groups');
    assert.equal(byName.message, `groups: ${RESERVED_REASON} (\`sudo\`)`);
    const byPrefix = assertDomainError(() => validateNotReserved('systemd-oomd', 'username'), 'VALIDATION', 'username');
    assert.equal(byPrefix.message, "username: reserved: a system account of the Pi's OS (names starting with `systemd-`)");
    // The source paths stay out of the message (they are for the data file's reader).
    assert.doesNotMatch(byName.message, /base-passwd|master/);
  });

  describe('the data', () => {
    it('every listed name is lower-case, a valid name (else the pattern would refuse it anyway), and listed once per source', () => {
      for (const list of RESERVED_NAME_LISTS) {
        assert.ok(list.source.length > 20, 'each list names its source');
        assert.equal(new Set(list.names).size, list.names.length, `duplicates in ${list.source}`);
        for (const name of list.names) {
          assert.equal(name, name.toLowerCase());
          assert.match(name, USERNAME_PATTERN);
        }
      }
      for (const { prefix, source } of RESERVED_PREFIXES) {
        assert.ok(source.length > 20);
        assert.equal(prefix, prefix.toLowerCase());
      }
    });

    // A cross-check against the list this machine's Debian ships, where it has one.
    const masters = ['/usr/share/base-passwd/passwd.master', '/usr/share/base-passwd/group.master'];
    for (const file of masters) {
      it(`every name in ${file} is reserved`, (t) => {
        if (!existsSync(file)) {
          t.skip(`${file} is not on this machine (not Debian): the check did not run`);
          return;
        }
        const names = readFileSync(file, 'utf8')
          .split('\n')
          .filter((line) => line.includes(':'))
          .map((line) => line.split(':')[0]);
        assert.ok(names.length >= 18, `${file} read`);
        const free = names.filter((n) => !isReservedName(n));
        assert.deepEqual(free, [], `names of ${file} not reserved`);
      });
    }
  });
});
