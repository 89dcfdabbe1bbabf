/** The LDAP plugin's diagnosis (pure): failed logins and failed TLS handshakes per address. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ldapFindings, LdapNotes } from '../../../src/plugins/ldap/ldap.diagnose';

const T = 1_000_000_000;
const IP = '10.0.0.21';

describe('LDAP diagnosis', () => {
  it('failed TLS handshakes are an error naming the clock and the CA; failed binds a warning; nothing for an unknown address', () => {
    const notes = new LdapNotes();
    assert.deepEqual(ldapFindings(notes.get(IP, T), IP, T), []);
    notes.tlsFailed(IP, 'handshake', T);
    notes.bindFailed(IP, T + 1000);
    notes.bindFailed(IP, T + 2000);
    const findings = ldapFindings(notes.get(IP, T + 120_000), IP, T + 120_000);
    assert.deepEqual(
      findings.map((f) => [f.code, f.severity]),
      [
        ['LDAP_TLS_FAILING', 'error'],
        ['LDAP_LOGINS_FAILING', 'warning'],
      ],
    );
    assert.match(findings[0].message, /1 TLS handshake\(s\) from 10\.0\.0\.21 .*last 2 min ago, handshake/);
    assert.match(findings[0].message, /NTP/);
    assert.match(findings[1].message, /^2 login\(s\) from 10\.0\.0\.21 failed/);
    assert.deepEqual(ldapFindings(notes.get('10.0.0.99', T), '10.0.0.99', T), []);
  });

  it('a login that works afterwards clears both; a failure after it brings the warning back', () => {
    const notes = new LdapNotes();
    notes.tlsFailed(IP, 'handshake', T);
    notes.bindFailed(IP, T + 1);
    notes.loggedIn(IP, T + 2);
    assert.deepEqual(ldapFindings(notes.get(IP, T + 3), IP, T + 3), []);
    notes.bindFailed(IP, T + 4);
    assert.deepEqual(
      ldapFindings(notes.get(IP, T + 5), IP, T + 5).map((f) => f.code),
      ['LDAP_LOGINS_FAILING'],
    );
  });

  it('forgets an address after 30 quiet minutes, and keeps at most 10,000 addresses', () => {
    const notes = new LdapNotes();
    notes.bindFailed(IP, T);
    assert.equal(notes.get(IP, T + 29 * 60_000)?.failedBinds, 1);
    assert.equal(notes.get(IP, T + 31 * 60_000), null);
    notes.bindFailed(IP, T + 31 * 60_000);
    assert.equal(notes.get(IP, T + 31 * 60_000)?.failedBinds, 1, 'counting starts again');
    for (let i = 0; i < 10_001; i++) notes.bindFailed(`10.1.${i >> 8}.${i & 255}`, T + 31 * 60_000);
    assert.equal(notes.get(IP, T + 31 * 60_000), null, 'the oldest address was dropped');
  });
});
