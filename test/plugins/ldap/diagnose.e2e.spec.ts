/**
 * diagnose(mac) with the LDAP plugin and real clients in the LDAP lab: a Pi whose StartTLS fails
 * (it trusts another CA, as a Pi with a wrong clock or an old image would fail) and whose logins
 * fail shows both, attributed to its address; a login that works clears them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApproveClientCommand, DetectClientCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { createLdapLab, ldapLabUnavailable, makeThrowawayCa, type LdapLab } from '../../support/ldap-lab';
import { BASE_DN, startLdapBramble, type LdapBramble } from '../../support/ldap-bramble';

const skip = ldapLabUnavailable();
const MAC = 'dc:a6:32:00:00:77';
const DIAGNOSE = `{ diagnose(mac: "${MAC}") { ok findings { code severity message source } } }`;

describe('diagnose(mac): the LDAP plugin\u2019s part, with real clients', { skip: skip ?? false }, () => {
  let lab: LdapLab;
  let bramble: LdapBramble;
  let otherCa: string;

  before(async () => {
    lab = await createLdapLab();
    bramble = await startLdapBramble(lab);
    otherCa = (await makeThrowawayCa(lab.dir, { serverIp: lab.serverIp, name: 'other-ca' })).caFile;
    await bramble.createUser('alice', 'correct horse', { groups: ['pupils'] });
    await bramble.harness.bus.execute(
      new DetectClientCommand({ mac: MAC, model: 'RPi4', ip: lab.clientIp, via: 'dhcp' }, commandMeta('test')),
    );
    await bramble.harness.bus.execute(new ApproveClientCommand({ mac: MAC }, commandMeta('test')));
  });
  after(async () => {
    await lab?.close();
    await bramble?.close();
  });

  const ldapFindings = async () =>
    (await bramble.ok(DIAGNOSE)).diagnose.findings.filter((f: { source: string }) => f.source === 'ldap') as {
      code: string;
      severity: string;
      message: string;
    }[];

  it('nothing to say before the Pi talks to the directory', async () => {
    assert.deepEqual(await ldapFindings(), []);
  });

  it('a StartTLS refused by the Pi (it trusts another CA) and a wrong password: both found, from its address', async () => {
    const tls = await lab.ldapsearch(['-LLL', '-b', BASE_DN, '(uid=alice)', 'uid'], { startTls: true, caFile: otherCa });
    assert.notEqual(tls.code, 0);
    const wrong = await lab.ldapwhoami({
      startTls: true,
      caFile: bramble.caFile,
      bind: { dn: `uid=alice,ou=people,${BASE_DN}`, password: 'nope' },
    });
    assert.equal(wrong.code, 49, wrong.stderr);
    const findings = await ldapFindings();
    assert.deepEqual(
      findings.map((f) => [f.code, f.severity]),
      [
        ['LDAP_TLS_FAILING', 'error'],
        ['LDAP_LOGINS_FAILING', 'warning'],
      ],
    );
    assert.match(findings[0].message, new RegExp(`from ${lab.clientIp.replace(/\./g, '\\.')}`));
    assert.doesNotMatch(JSON.stringify(findings), /nope/, 'no password in a finding');
  });

  it('a login that works clears them', async () => {
    const right = await lab.ldapwhoami({
      startTls: true,
      caFile: bramble.caFile,
      bind: { dn: `uid=alice,ou=people,${BASE_DN}`, password: 'correct horse' },
    });
    assert.equal(right.code, 0, right.stderr);
    assert.deepEqual(await ldapFindings(), []);
  });
});
