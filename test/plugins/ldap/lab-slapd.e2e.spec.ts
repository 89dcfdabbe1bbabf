/**
 * The LDAP lab proven against OpenLDAP's slapd, the reference server: the same real clients that
 * will test bramble's LDAP plugin (ldapsearch, ldapwhoami, and a Pi's nslcd + NSS + pam_ldap) get
 * the answers a correct directory gives, over StartTLS and LDAPS with a throwaway CA, and fail
 * where they must (wrong password, a CA they do not trust). Also checked: the host is untouched
 * (its nsswitch.conf, its mount table) and close() leaves no process or namespace behind.
 *
 * The directory is written here by hand (bramble's own LDIF export is a separate piece of work):
 * alice (uid 10000) and carol (uid 10002) in the group pupils (gid 10001), passwords stored as
 * bramble stores them, `{CRYPT}$2y$10$...` from its own bcrypt hasher.
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { BcryptPasswordHasher } from '../../../src/core/adapters/bcrypt-password-hasher';
import {
  createLdapLab,
  ldapLabUnavailable,
  makeThrowawayCa,
  processIs,
  removeStaleLabProcesses,
  type LdapLab,
  type PiStack,
  type TestCa,
} from '../../support/ldap-lab';
import { waitForExit } from '../../support/netlab';
import { slapdUnavailable, startSlapd, type Slapd } from '../../support/slapd';

const skip = ldapLabUnavailable() ?? slapdUnavailable();
const BASE = 'dc=bramble,dc=local';
const ALICE_DN = `uid=alice,ou=people,${BASE}`;
const ALICE_PASSWORD = 'alice-Pa55word';
const CAROL_PASSWORD = 'carol-Pa55word';

function ldif(aliceHash: string, carolHash: string): string {
  const user = (uid: string, uidNumber: number, cn: string, sn: string, hash: string): string =>
    [
      `dn: uid=${uid},ou=people,${BASE}`,
      'objectClass: inetOrgPerson',
      'objectClass: posixAccount',
      'objectClass: shadowAccount',
      `uid: ${uid}`,
      `cn: ${cn}`,
      `sn: ${sn}`,
      `displayName: ${cn}`,
      `uidNumber: ${uidNumber}`,
      'gidNumber: 10001',
      `homeDirectory: /home/${uid}`,
      'loginShell: /bin/bash',
      `gecos: ${cn}`,
      `userPassword: ${hash}`,
      'shadowLastChange: 19000',
      'shadowMin: 0',
      'shadowMax: 99999',
      'shadowWarning: 7',
    ].join('\n');
  return [
    [`dn: ${BASE}`, 'objectClass: dcObject', 'objectClass: organization', 'dc: bramble', 'o: bramble'].join('\n'),
    [`dn: ou=people,${BASE}`, 'objectClass: organizationalUnit', 'ou: people'].join('\n'),
    [`dn: ou=groups,${BASE}`, 'objectClass: organizationalUnit', 'ou: groups'].join('\n'),
    user('alice', 10000, 'Alice Liddell', 'Liddell', aliceHash),
    user('carol', 10002, 'Carol Ann', 'Ann', carolHash),
    [
      `dn: cn=pupils,ou=groups,${BASE}`,
      'objectClass: posixGroup',
      'cn: pupils',
      'gidNumber: 10001',
      'memberUid: alice',
      'memberUid: carol',
    ].join('\n'),
    '',
  ].join('\n\n');
}

/** The host's mount table as this process sees it (the lab's mounts must never appear in it). */
const hostMounts = (): string => readFileSync('/proc/self/mountinfo', 'utf8');

describe('LDAP lab against slapd', { skip: skip ?? false }, () => {
  let lab: LdapLab;
  let ca: TestCa;
  let otherCa: TestCa;
  let slapd: Slapd;
  let pi: PiStack;
  let hostNsswitch: string;

  before(async () => {
    hostNsswitch = readFileSync('/etc/nsswitch.conf', 'utf8');
    lab = await createLdapLab();
    ca = await makeThrowawayCa(lab.dir, { serverIp: lab.serverIp, name: 'lab-ca' });
    otherCa = await makeThrowawayCa(lab.dir, { serverIp: lab.serverIp, name: 'other-ca' });
    const hasher = new BcryptPasswordHasher();
    const [aliceHash, carolHash] = await Promise.all([hasher.hash(ALICE_PASSWORD), hasher.hash(CAROL_PASSWORD)]);
    // bramble's stored form, as slapd gets it: the point of checking slapd's crypt(3) with it.
    assert.match(aliceHash, /^\{CRYPT\}\$2y\$10\$/);
    slapd = await startSlapd(lab, { ldif: ldif(aliceHash, carolHash), tls: ca });
    pi = await lab.startPiStack({ uri: `ldap://${lab.serverIp}/`, baseDn: BASE, caFile: ca.caFile });
  });

  after(async () => {
    await lab?.close();
  });

  it('ldapsearch with nslcd’s user filter over StartTLS returns alice with her numbers, never her password', async () => {
    const r = await lab.ldapsearch(
      ['-LLL', '-b', BASE, '(&(objectClass=posixAccount)(uid=alice))', 'uid', 'uidNumber', 'gidNumber', 'homeDirectory', 'userPassword'],
      { startTls: true, caFile: ca.caFile },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^dn: ${ALICE_DN}$`, 'm'));
    assert.match(r.stdout, /^uidNumber: 10000$/m);
    assert.match(r.stdout, /^gidNumber: 10001$/m);
    assert.match(r.stdout, /^homeDirectory: \/home\/alice$/m);
    assert.doesNotMatch(r.stdout, /userPassword/i);
    assert.equal(r.stdout.match(/^dn: /gm)?.length, 1);
  });

  it('ldapwhoami as alice: StartTLS on 389 and LDAPS on 636 both answer with her DN', async () => {
    const bind = { dn: ALICE_DN, password: ALICE_PASSWORD };
    const starttls = await lab.ldapwhoami({ startTls: true, caFile: ca.caFile, bind });
    assert.equal(starttls.code, 0, starttls.stderr);
    assert.equal(starttls.stdout.trim(), `dn:${ALICE_DN}`);
    const ldaps = await lab.ldapwhoami({ uri: slapd.ldapsUri ?? '', caFile: ca.caFile, bind });
    assert.equal(ldaps.code, 0, ldaps.stderr);
    assert.equal(ldaps.stdout.trim(), `dn:${ALICE_DN}`);
  });

  it('a wrong password is invalidCredentials (exit 49), also for a user that does not exist', async () => {
    const wrong = await lab.ldapwhoami({ startTls: true, caFile: ca.caFile, bind: { dn: ALICE_DN, password: CAROL_PASSWORD } });
    assert.equal(wrong.code, 49, wrong.stderr);
    assert.match(wrong.stderr, /Invalid credentials/);
    const nobody = await lab.ldapwhoami({ startTls: true, caFile: ca.caFile, bind: { dn: `uid=nobody,ou=people,${BASE}`, password: 'x' } });
    assert.equal(nobody.code, 49, nobody.stderr);
  });

  it('the client demands the certificate: a CA it does not trust fails StartTLS and LDAPS', async () => {
    const starttls = await lab.ldapsearch(['-LLL', '-b', BASE, '(uid=alice)', 'uid'], { startTls: true, caFile: otherCa.caFile });
    assert.notEqual(starttls.code, 0);
    assert.equal(starttls.stdout, '');
    assert.match(starttls.stderr, /ldap_start_tls/);
    const ldaps = await lab.ldapsearch(['-LLL', '-b', BASE, '(uid=alice)', 'uid'], { uri: slapd.ldapsUri ?? '', caFile: otherCa.caFile });
    assert.notEqual(ldaps.code, 0);
    assert.equal(ldaps.stdout, '');
  });

  it('getent passwd alice (by name and by number) gives her passwd line from LDAP', async () => {
    const byName = await pi.getent('passwd', 'alice');
    assert.equal(byName.code, 0, byName.stderr + pi.log().slice(-2000));
    assert.equal(byName.stdout, 'alice:x:10000:10001:Alice Liddell:/home/alice:/bin/bash\n');
    const byNumber = await pi.getent('passwd', '10002');
    assert.equal(byNumber.code, 0, byNumber.stderr);
    assert.equal(byNumber.stdout, 'carol:x:10002:10001:Carol Ann:/home/carol:/bin/bash\n');
    const missing = await pi.getent('passwd', 'nobody-in-ldap');
    assert.equal(missing.code, 2);
    // nslcd sent the filter the protocol notes give (§5.3), and it went over TLS.
    assert.match(pi.log(), /filter="\(&\(objectClass=posixAccount\)\(uid=alice\)\)"/);
    assert.match(pi.log(), /ldap_start_tls_s\(\)/);
    assert.match(slapd.log(), /EXT oid=1\.3\.6\.1\.4\.1\.1466\.20037/);
  });

  it('getent group pupils lists alice and carol; getent shadow gives the shadow fields without a hash', async () => {
    const group = await pi.getent('group', 'pupils');
    assert.equal(group.code, 0, group.stderr);
    // name:password:gid:members — nslcd gives the members in no particular order.
    const [name, password, gid, members, ...rest] = group.stdout.trimEnd().split(':');
    assert.deepEqual({ name, password, gid, rest }, { name: 'pupils', password: '*', gid: '10001', rest: [] });
    assert.deepEqual(members.split(',').sort(), ['alice', 'carol']);
    const shadow = await pi.getent('shadow', 'alice');
    assert.equal(shadow.code, 0, shadow.stderr);
    // No shadowInactive/shadowExpire: empty fields; no shadowFlag: nslcd prints 0.
    assert.equal(shadow.stdout, 'alice:*:19000:0:99999:7:::0\n');
  });

  it('id alice shows her primary group and her membership of pupils', async () => {
    const r = await pi.id('alice');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'uid=10000(alice) gid=10001(pupils) groups=10001(pupils)');
    assert.match(
      pi.log(),
      /filter="\(&\(objectClass=posixGroup\)\(\|\(memberUid=alice\)\(member=uid=alice,ou=people,dc=bramble,dc=local\)\)\)"/,
    );
  });

  it('pamtester through pam_ldap: the right password authenticates, a wrong one or an unknown user does not', async () => {
    const right = await pi.pam('alice', ALICE_PASSWORD);
    assert.equal(right.code, 0, right.stderr + pi.log().slice(-2000));
    assert.match(right.stderr + right.stdout, /successfully authenticated/);
    const wrong = await pi.pam('alice', CAROL_PASSWORD);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Authentication failure/);
    const unknown = await pi.pam('nobody-in-ldap', ALICE_PASSWORD);
    assert.notEqual(unknown.code, 0);
    // The account phase too: nslcd finds alice and lets her in.
    const account = await pi.pam('carol', CAROL_PASSWORD, { operations: ['authenticate', 'acct_mgmt'] });
    assert.equal(account.code, 0, account.stderr);
    // nslcd bound as the user's DN and logged no password.
    assert.match(pi.log(), /ldap_sasl_bind\("uid=alice,ou=people,dc=bramble,dc=local","\*\*\*"\)/);
    assert.doesNotMatch(pi.log(), new RegExp(`${ALICE_PASSWORD}|${CAROL_PASSWORD}`));
  });

  it('a Pi that trusts another CA resolves nobody (TLS demanded), and says why', async () => {
    const wrongCa = await lab.startPiStack({
      uri: `ldap://${lab.serverIp}/`,
      baseDn: BASE,
      caFile: otherCa.caFile,
      // nslcd retries a failing server for 10 s by default; the verdict is the same after 1 s.
      extraConfig: ['reconnect_retrytime 1'],
    });
    try {
      const r = await wrongCa.getent('passwd', 'alice');
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(wrongCa.log(), /ldap_start_tls_s\(\) failed/);
    } finally {
      await wrongCa.stop();
    }
    // The control: the same lookup over LDAPS (636) with the right CA succeeds.
    const ldaps = await lab.startPiStack({ uri: slapd.ldapsUri ?? '', baseDn: BASE, caFile: ca.caFile });
    try {
      const r = await ldaps.getent('passwd', 'alice');
      assert.equal(r.code, 0, r.stderr + ldaps.log().slice(-2000));
      assert.match(r.stdout, /^alice:x:10000:/);
    } finally {
      await ldaps.stop();
    }
  });

  it('the host is untouched: its nsswitch.conf, its mount table, its own lookups', () => {
    assert.equal(readFileSync('/etc/nsswitch.conf', 'utf8'), hostNsswitch);
    assert.doesNotMatch(hostMounts(), /bramble-lab-run|bramble-ldap-lab-/);
    // The pi stack's mounts exist in its own namespace only.
    assert.match(readFileSync(`/proc/${pi.pid}/mountinfo`, 'utf8'), /bramble-lab-run/);
    let hostCode = 0;
    try {
      execFileSync('getent', ['passwd', 'alice'], { stdio: 'ignore' });
    } catch (error) {
      hostCode = (error as { status: number }).status;
    }
    assert.equal(hostCode, 2, 'the host itself must not resolve the lab’s users');
  });

  it('close() stops slapd and nslcd and removes the namespaces', async () => {
    const pids = { slapd: slapd.pid, nslcd: pi.pid };
    assert.ok(processIs(pids.slapd, 'slapd') && processIs(pids.nslcd, 'nslcd'), 'both run before close()');
    const namespaces = [lab.netlab.ns(lab.serverHost), lab.netlab.ns(lab.clientHost)];
    await lab.close();
    assert.equal(processIs(pids.slapd, 'slapd'), false);
    assert.equal(processIs(pids.nslcd, 'nslcd'), false);
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const ns of namespaces) assert.ok(!left.includes(ns), `${ns} was left`);
  });
});

describe('LDAP lab: leftovers of a killed run', { skip: skip ?? false }, () => {
  it('a process marked with a dead owner is killed at the next start; one of a live owner is not', async () => {
    // A pid that certainly ran and ended.
    const gone = spawn('true');
    await waitForExit(gone, 5000);
    const mark = (owner: number): ReturnType<typeof spawn> =>
      spawn('sleep', ['30'], { env: { PATH: '/usr/bin:/bin', BRAMBLE_LDAP_LAB_OWNER: String(owner) }, stdio: 'ignore' });
    const orphan = mark(gone.pid ?? 0);
    const mine = mark(process.pid);
    try {
      await new Promise((r) => setTimeout(r, 50));
      // No count asserted: a lab starting in a parallel test process may kill the orphan first.
      removeStaleLabProcesses();
      await waitForExit(orphan, 5000);
      assert.equal(orphan.signalCode, 'SIGKILL');
      assert.equal(mine.exitCode, null);
      assert.equal(mine.signalCode, null);
    } finally {
      orphan.kill('SIGKILL');
      mine.kill('SIGKILL');
      await Promise.all([waitForExit(orphan, 5000), waitForExit(mine, 5000)]);
    }
  });
});
