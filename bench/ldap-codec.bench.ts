/**
 * LDAP codec micro-benchmark: the per-message costs under a search-heavy load (nslcd asks one search
 * per lookup; each answer is an entry and a searchDone). One line per figure, operations per second
 * (median of 5 rounds of about 0.5 s each, after a warm-up):
 *
 *   ldap_codec.decode_search   decodeRequest of nslcd's user lookup, as ldapsearch sends it
 *                              ('(&(objectClass=posixAccount)(uid=alice))', 10 attributes; 207 bytes)
 *   ldap_codec.encode_entry    encodeResponse of a 12-attribute posixAccount/shadowAccount entry
 *   ldap_codec.encode_done     encodeResponse of a searchDone (success)
 *   ldap_codec.frame           messageLength on the search's bytes
 *
 *   node dist/bench/ldap-codec.bench.js
 */
import { decodeRequest, encodeRequest, encodeResponse, messageLength } from '../src/plugins/ldap/ldap.codec';
import { type LdapResponse, ResultCode } from '../src/plugins/ldap/ldap.types';
import { print } from './support/report';

const SEARCH = encodeRequest({
  op: 'search',
  messageId: 2,
  controls: [],
  baseObject: 'ou=people,dc=bramble,dc=local',
  scope: 'sub',
  derefAliases: 0,
  sizeLimit: 0,
  timeLimit: 0,
  typesOnly: false,
  filter: {
    type: 'and',
    filters: [
      { type: 'equality', attribute: 'objectClass', value: 'posixAccount' },
      { type: 'equality', attribute: 'uid', value: 'alice' },
    ],
  },
  attributes: ['uid', 'userPassword', 'uidNumber', 'gidNumber', 'cn', 'homeDirectory', 'loginShell', 'gecos', 'description', 'objectClass'],
});

const ENTRY: LdapResponse = {
  op: 'searchEntry',
  messageId: 2,
  dn: 'uid=alice,ou=people,dc=bramble,dc=local',
  attributes: [
    { type: 'objectClass', values: ['inetOrgPerson', 'posixAccount', 'shadowAccount'] },
    { type: 'uid', values: ['alice'] },
    { type: 'cn', values: ['Alice Liddell'] },
    { type: 'sn', values: ['Liddell'] },
    { type: 'displayName', values: ['Alice Liddell'] },
    { type: 'uidNumber', values: ['10001'] },
    { type: 'gidNumber', values: ['10001'] },
    { type: 'homeDirectory', values: ['/home/alice'] },
    { type: 'loginShell', values: ['/bin/bash'] },
    { type: 'gecos', values: ['Alice Liddell'] },
    { type: 'shadowLastChange', values: ['19700'] },
    { type: 'shadowMax', values: ['99999'] },
  ],
};

const DONE: LdapResponse = { op: 'searchDone', messageId: 2, result: { code: ResultCode.success, matchedDN: '', message: '' } };

let sink = 0;

/** Operations per second of `f`: the median of 5 rounds, each as many calls as fit in ~0.5 s. */
function measure(f: () => number): number {
  for (let i = 0; i < 20_000; i++) sink += f();
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < 0.5) {
      for (let i = 0; i < 1000; i++) sink += f();
      calls += 1000;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    }
    rates.push(calls / elapsed);
  }
  rates.sort((a, b) => a - b);
  return Math.round(rates[2]);
}

print('ldap_codec.decode_search', { ops_per_s: measure(() => decodeRequest(SEARCH).messageId), bytes: SEARCH.length });
print('ldap_codec.encode_entry', { ops_per_s: measure(() => encodeResponse(ENTRY).length), bytes: encodeResponse(ENTRY).length });
print('ldap_codec.encode_done', { ops_per_s: measure(() => encodeResponse(DONE).length) });
print('ldap_codec.frame', { ops_per_s: measure(() => messageLength(SEARCH, 0, 1 << 20) ?? 0) });
if (sink === 0.5) print('ldap_codec.sink', { sink });
