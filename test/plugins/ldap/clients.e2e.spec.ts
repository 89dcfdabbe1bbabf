/**
 * bramble's LDAP plugin against real clients, from a Pi's network namespace: ldapsearch and
 * ldapwhoami (ldap-utils), and the Pi's own login stack, nslcd + libnss-ldapd + pam_ldap, with
 * `getent`, `id` and pamtester, in a private mount namespace (test/support/ldap-lab.ts). Every TLS
 * connection demands bramble's certificate, checked against the CA bramble made on first start.
 * Users and groups are created over GraphQL, as an admin would; nothing is written to the directory
 * any other way. The same lab proves these clients against slapd (lab-slapd.e2e.spec.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DetectClientCommand, ApproveClientCommand, LearnClientAddressCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { BootSessions } from '../../../src/core/boot/boot-sessions';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { createLdapLab, ldapLabUnavailable, makeThrowawayCa, type LdapLab, type PiStack } from '../../support/ldap-lab';
import { BASE_DN, startLdapBramble, type LdapBramble } from '../../support/ldap-bramble';
import { eventually } from '../../support/temp';

const skip = ldapLabUnavailable();
const PI_MAC = 'b8:27:eb:12:34:56';
const dnOf = (uid: string): string => `uid=${uid},ou=people,${BASE_DN}`;
const PASSWORDS: Record<string, string> = {
  alice: 'alice-Pa55word',
  carol: 'carol-Pa55word',
  dora: 'dora-Pa55word',
  erin: 'erin-Pa55word',
};

describe('LDAP plugin with real clients', { skip: skip ?? false }, () => {
  let lab: LdapLab;
  let bramble: LdapBramble;
  let pi: PiStack;
  let otherCa: string;
  let numbers: { alice: number; pupils: number };

  before(async () => {
    lab = await createLdapLab();
    bramble = await startLdapBramble(lab);
    otherCa = (await makeThrowawayCa(lab.dir, { serverIp: lab.serverIp, name: 'other-ca' })).caFile;
    // `pupils` and `teachers` exist from the first start (DEFAULT_GROUPS).
    for (const u of ['alice', 'carol', 'dora', 'erin']) {
      await bramble.createUser(u, PASSWORDS[u], { fullName: u === 'alice' ? 'Alice Liddell' : undefined, groups: ['pupils'] });
    }
    const data = await bramble.ok<{ user: { uidNumber: number; gidNumber: number } }>(
      '{ user(username: "alice") { uidNumber gidNumber } }',
    );
    numbers = { alice: data.user.uidNumber, pupils: data.user.gidNumber };
    pi = await lab.startPiStack({ uri: bramble.uri, baseDn: BASE_DN, caFile: bramble.caFile, extraConfig: ['reconnect_retrytime 1'] });
  });

  after(async () => {
    await lab?.close();
    await bramble?.close();
  });

  it('the CA is a certificate a Pi can install, and the key never sits beside it for anyone to read', () => {
    const pem = readFileSync(bramble.caFile, 'utf8');
    assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
    assert.doesNotMatch(pem, /PRIVATE KEY/);
  });

  it("ldapsearch with nslcd's user filter over StartTLS: alice with her numbers, never a password (also for * and by name)", async () => {
    const attrs = ['uid', 'uidNumber', 'gidNumber', 'homeDirectory', 'loginShell', 'gecos', 'cn', 'userPassword', 'objectClass'];
    const r = await lab.ldapsearch(['-LLL', '-b', BASE_DN, '(&(objectClass=posixAccount)(uid=alice))', ...attrs], {
      startTls: true,
      caFile: bramble.caFile,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^dn: ${dnOf('alice')}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^uidNumber: ${numbers.alice}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^gidNumber: ${numbers.pupils}$`, 'm'));
    assert.match(r.stdout, /^homeDirectory: \/home\/alice$/m);
    assert.match(r.stdout, /^loginShell: \/bin\/bash$/m);
    assert.match(r.stdout, /^cn: Alice Liddell$/m);
    assert.match(r.stdout, /^objectClass: posixAccount$/m);
    assert.doesNotMatch(r.stdout, /userPassword|CRYPT/i);
    assert.ok(numbers.alice >= 10000 && numbers.pupils >= 10000);
    const all = await lab.ldapsearch(['-LLL', '-b', BASE_DN, '(objectClass=*)', '*', '+'], { startTls: true, caFile: bramble.caFile });
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^dn: cn=pupils,ou=groups,dc=bramble,dc=local$/m);
    assert.doesNotMatch(all.stdout, /userPassword|CRYPT|\$2y\$/i);
    const bound = await lab.ldapsearch(['-LLL', '-b', dnOf('alice'), '-s', 'base', '(objectClass=*)', 'userPassword', '*'], {
      startTls: true,
      caFile: bramble.caFile,
      bind: { dn: dnOf('alice'), password: PASSWORDS.alice },
    });
    assert.equal(bound.code, 0, bound.stderr);
    assert.match(bound.stdout, /^uid: alice$/m);
    assert.doesNotMatch(bound.stdout, /userPassword|CRYPT/i, 'not even to the user herself');
  });

  it('ldapwhoami as alice: StartTLS on 389 and LDAPS on 636 both answer with her DN', async () => {
    const bind = { dn: dnOf('alice'), password: PASSWORDS.alice };
    const starttls = await lab.ldapwhoami({ startTls: true, caFile: bramble.caFile, bind });
    assert.equal(starttls.code, 0, starttls.stderr);
    assert.equal(starttls.stdout.trim(), `dn:${dnOf('alice')}`);
    const ldaps = await lab.ldapwhoami({ uri: bramble.ldapsUri, caFile: bramble.caFile, bind });
    assert.equal(ldaps.code, 0, ldaps.stderr);
    assert.equal(ldaps.stdout.trim(), `dn:${dnOf('alice')}`);
    const anonymous = await lab.ldapwhoami({ startTls: true, caFile: bramble.caFile });
    assert.equal(anonymous.code, 0, anonymous.stderr);
    assert.equal(anonymous.stdout.trim(), 'anonymous');
  });

  // Before any failed bind from the Pi's address: its failures would (rightly) slow this login.
  it('a user created over GraphQL logs in on the Pi at the first try, at once; a password changed over GraphQL refuses the old one at once', async (t) => {
    await bramble.createUser('frank', 'frank-Pa55word', { groups: ['pupils'] });
    // The API has acknowledged the user: the very next login, with no retry, must work.
    const started = Date.now();
    const login = await pi.pam('frank', 'frank-Pa55word');
    const elapsed = Date.now() - started;
    t.diagnostic(`acknowledged → logged in: ${elapsed} ms (pamtester's start, nslcd's lookups, StartTLS, bcrypt)`);
    assert.equal(login.code, 0, login.stderr + pi.log().slice(-2000));
    assert.ok(elapsed < 1000, `the login took ${elapsed} ms`);
    await bramble.ok('mutation { setUserPassword(username: "frank", password: "frank-New-Pa55word") { username } }');
    const old = await lab.ldapwhoami({ startTls: true, caFile: bramble.caFile, bind: { dn: dnOf('frank'), password: 'frank-Pa55word' } });
    assert.equal(old.code, 49, old.stderr);
    const fresh = await lab.ldapwhoami({
      startTls: true,
      caFile: bramble.caFile,
      bind: { dn: dnOf('frank'), password: 'frank-New-Pa55word' },
    });
    assert.equal(fresh.code, 0, fresh.stderr);
  });

  it('a wrong password is result 49, also for a user that does not exist; a password in clear is refused (13)', async () => {
    const wrong = await lab.ldapwhoami({ startTls: true, caFile: bramble.caFile, bind: { dn: dnOf('carol'), password: PASSWORDS.alice } });
    assert.equal(wrong.code, 49, wrong.stderr);
    assert.match(wrong.stderr, /Invalid credentials/);
    const nobody = await lab.ldapwhoami({ startTls: true, caFile: bramble.caFile, bind: { dn: dnOf('nobody'), password: 'x-Pa55word' } });
    assert.equal(nobody.code, 49, nobody.stderr);
    const clear = await lab.ldapwhoami({ bind: { dn: dnOf('alice'), password: PASSWORDS.alice } });
    assert.equal(clear.code, 13, clear.stderr);
    assert.match(clear.stderr, /Confidentiality required/i);
  });

  it('the client demands the certificate: a CA it does not trust fails StartTLS and LDAPS', async () => {
    const starttls = await lab.ldapsearch(['-LLL', '-b', BASE_DN, '(uid=alice)', 'uid'], { startTls: true, caFile: otherCa });
    assert.notEqual(starttls.code, 0);
    assert.equal(starttls.stdout, '');
    const ldaps = await lab.ldapsearch(['-LLL', '-b', BASE_DN, '(uid=alice)', 'uid'], { uri: bramble.ldapsUri, caFile: otherCa });
    assert.notEqual(ldaps.code, 0);
    assert.equal(ldaps.stdout, '');
  });

  it('getent passwd / group / shadow and id on the Pi, through nslcd over StartTLS', async () => {
    const byName = await pi.getent('passwd', 'alice');
    assert.equal(byName.code, 0, byName.stderr + pi.log().slice(-2000));
    assert.equal(byName.stdout, `alice:x:${numbers.alice}:${numbers.pupils}:Alice Liddell:/home/alice:/bin/bash\n`);
    const byNumber = await pi.getent('passwd', String(numbers.alice));
    assert.equal(byNumber.stdout, byName.stdout);
    assert.equal((await pi.getent('passwd', 'nobody-in-ldap')).code, 2);
    const group = await pi.getent('group', 'pupils');
    assert.equal(group.code, 0, group.stderr);
    const [name, , gid, members] = group.stdout.trimEnd().split(':');
    assert.deepEqual(
      [name, gid, members.split(',').sort()],
      ['pupils', String(numbers.pupils), ['alice', 'carol', 'dora', 'erin', 'frank']],
    );
    const shadow = await pi.getent('shadow', 'alice');
    assert.equal(shadow.code, 0, shadow.stderr);
    assert.match(shadow.stdout, /^alice:\*:\d+:0:99999:7:/);
    const id = await pi.id('alice');
    assert.equal(id.code, 0, id.stderr);
    assert.equal(id.stdout.trim(), `uid=${numbers.alice}(alice) gid=${numbers.pupils}(pupils) groups=${numbers.pupils}(pupils)`);
    assert.match(pi.log(), /ldap_start_tls_s\(\)/);
  });

  it('pamtester through pam_ldap: the right password logs in; wrong, disabled and deleted users do not', async () => {
    const right = await pi.pam('alice', PASSWORDS.alice, { operations: ['authenticate', 'acct_mgmt'] });
    assert.equal(right.code, 0, right.stderr + pi.log().slice(-2000));
    const wrong = await pi.pam('alice', PASSWORDS.carol);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Authentication failure/);
    await bramble.ok('mutation { disableUser(username: "dora") { username } }');
    const disabled = await pi.pam('dora', PASSWORDS.dora);
    assert.notEqual(disabled.code, 0, 'a disabled user cannot log in');
    await bramble.ok('mutation { deleteUser(username: "erin") }');
    const deleted = await pi.pam('erin', PASSWORDS.erin);
    assert.notEqual(deleted.code, 0, 'a deleted user cannot log in');
    assert.equal((await pi.getent('passwd', 'erin')).code, 2, 'and is gone from the directory');
    assert.doesNotMatch(pi.log(), new RegExp(Object.values(PASSWORDS).join('|')));
  });

  it("a login from an approved Pi's address is a boot fact on that Pi (who is on which Pi)", async () => {
    const meta = commandMeta('admin:test');
    await bramble.harness.bus.execute(new DetectClientCommand({ mac: PI_MAC, via: 'test' }, meta));
    await bramble.harness.bus.execute(new ApproveClientCommand({ mac: PI_MAC, imageId: null }, meta));
    await bramble.harness.bus.execute(new LearnClientAddressCommand({ mac: PI_MAC, ip: lab.clientIp }, meta));
    const r = await pi.pam('carol', PASSWORDS.carol);
    assert.equal(r.code, 0, r.stderr);
    // Facts are kept by the core's live boot sessions (only stage changes are stored).
    const boot = bramble.harness.app.nest.get(BootSessions);
    const facts = () => boot.recentFacts(PI_MAC).filter((f) => f.fact === 'ldap.user-logged-in');
    await eventually(() => facts().length > 0, 5000, 'the login fact');
    const recorded = facts();
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0].plugin, 'ldap');
    assert.deepEqual(recorded[0].detail, { username: 'carol' });
    assert.doesNotMatch(JSON.stringify(recorded[0]), /Pa55word/);
    const store = bramble.harness.app.nest.get<EventStore>(EVENT_STORE);
    assert.doesNotMatch(JSON.stringify(await store.readStream(`boot-${PI_MAC}`)), /Pa55word/);
  });
});
