/**
 * The LDAP benchmark's load generator (bench/support/ldap-load.ts) counts an answer only after
 * checking it, so a server that answered fast but wrong would not look fast. These tests hold the
 * checks to that: the filters are nslcd's (the strings nslcd 0.9.12 logged in the lab), a wrong or
 * leaking answer is refused, and the client frames answers split anywhere across TCP chunks and
 * refuses an answer to a message it did not send. The fake server is on 127.0.0.1 (no lab needed).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { validatePassword } from '../../../src/core/domain/user/password';
import { decodeRequest, encodeResponse, messageLength } from '../../../src/plugins/ldap/ldap.codec';
import { filterToString } from '../../../src/plugins/ldap/ldap.filter';
import { ResultCode, type LdapResponse } from '../../../src/plugins/ldap/ldap.types';
import {
  benchPassword,
  checkGroupAnswer,
  checkUserAnswer,
  groupFilter,
  LdapClientConnection,
  percentile,
  USER_ATTRIBUTES,
  userFilter,
} from '../../../bench/support/ldap-load';

const BASE = 'dc=bramble,dc=local';
const OK = { code: ResultCode.success, matchedDN: '', message: '' };

type Entry = Extract<LdapResponse, { op: 'searchEntry' }>;

function userEntry(username: string, extra: Entry['attributes'] = []): Entry {
  return {
    op: 'searchEntry',
    messageId: 2,
    dn: `uid=${username},ou=people,${BASE}`,
    attributes: [
      { type: 'objectClass', values: ['inetOrgPerson', 'posixAccount', 'shadowAccount'] },
      { type: 'uid', values: [username] },
      { type: 'cn', values: ['Pupil 1'] },
      { type: 'uidNumber', values: ['10001'] },
      { type: 'gidNumber', values: ['10000'] },
      { type: 'homeDirectory', values: [`/home/${username}`] },
      { type: 'loginShell', values: ['/bin/bash'] },
      { type: 'gecos', values: ['Pupil 1'] },
      ...extra,
    ],
  };
}

describe('LDAP bench load generator: what it sends and what it accepts', () => {
  it("sends nslcd's filters, byte for byte as nslcd 0.9.12 wrote them in the lab", () => {
    assert.equal(filterToString(userFilter('pupil7')), '(&(objectClass=posixAccount)(uid=pupil7))');
    assert.equal(
      filterToString(groupFilter('pupil7', BASE)),
      '(&(objectClass=posixGroup)(|(memberUid=pupil7)(member=uid=pupil7,ou=people,dc=bramble,dc=local)))',
    );
  });

  it('accepts the right user entry whatever the case of its attribute names', () => {
    assert.equal(checkUserAnswer('pupil1', BASE, { result: OK, entries: [userEntry('pupil1')] }), null);
    const lower = userEntry('pupil1');
    lower.attributes = lower.attributes.map((a) => ({ ...a, type: a.type.toLowerCase() }));
    assert.equal(checkUserAnswer('pupil1', BASE, { result: OK, entries: [lower] }), null);
  });

  it('refuses a user answer that leaks a password, names someone else, lacks an attribute or is not one entry', () => {
    const leak = userEntry('pupil1', [{ type: 'userPassword', values: ['{CRYPT}$2y$10$x'] }]);
    assert.match(checkUserAnswer('pupil1', BASE, { result: OK, entries: [leak] }) ?? '', /userPassword/);
    assert.match(checkUserAnswer('pupil1', BASE, { result: OK, entries: [userEntry('pupil2')] }) ?? '', /gave uid=pupil2/);
    for (const name of USER_ATTRIBUTES) {
      const e = userEntry('pupil1');
      e.attributes = e.attributes.filter((a) => a.type !== name);
      assert.notEqual(checkUserAnswer('pupil1', BASE, { result: OK, entries: [e] }), null, `without ${name}`);
    }
    assert.match(checkUserAnswer('pupil1', BASE, { result: OK, entries: [] }) ?? '', /0 entries/);
    assert.match(checkUserAnswer('pupil1', BASE, { result: OK, entries: [userEntry('pupil1'), userEntry('pupil1')] }) ?? '', /2 entries/);
    const busy = { code: ResultCode.busy, matchedDN: '', message: 'busy' };
    assert.match(checkUserAnswer('pupil1', BASE, { result: busy, entries: [userEntry('pupil1')] }) ?? '', /result 51/);
  });

  it('refuses a group answer with no group, or a group without cn or gidNumber', () => {
    const group = (attributes: Entry['attributes']): Entry => ({
      op: 'searchEntry',
      messageId: 3,
      dn: `cn=pupils,ou=groups,${BASE}`,
      attributes,
    });
    const good = group([
      { type: 'cn', values: ['pupils'] },
      { type: 'gidNumber', values: ['10000'] },
    ]);
    assert.equal(checkGroupAnswer('pupil1', { result: OK, entries: [good] }), null);
    assert.match(checkGroupAnswer('pupil1', { result: OK, entries: [] }) ?? '', /no groups/);
    assert.match(checkGroupAnswer('pupil1', { result: OK, entries: [group([{ type: 'cn', values: ['pupils'] }])] }) ?? '', /lacks/);
  });

  it('derives passwords bramble accepts, the same for the same secret and user, different otherwise', () => {
    const p = benchPassword('secret-1', 'pupil1');
    validatePassword(p);
    assert.equal(benchPassword('secret-1', 'pupil1'), p);
    assert.notEqual(benchPassword('secret-1', 'pupil2'), p);
    assert.notEqual(benchPassword('secret-2', 'pupil1'), p);
    assert.doesNotMatch(p, /[,"\s]/); // goes into a CSV row as is
  });

  it('takes nearest-rank percentiles (p99 of 30 logins is the slowest)', () => {
    const thirty = Array.from({ length: 30 }, (_, i) => i + 1);
    assert.equal(percentile(thirty, 99), 30);
    assert.equal(percentile(thirty, 50), 15);
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([7], 1), 7);
  });
});

describe('LDAP bench load generator: the client connection', () => {
  let server: net.Server;
  let port: number;
  /** What the fake server does with each search it receives: the bytes to send, in chunks. */
  let answer: (messageId: number) => Buffer[];

  before(async () => {
    server = net.createServer((socket) => {
      let input = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        input = Buffer.concat([input, chunk]);
        for (let n = 0; n < 100; n++) {
          const length = messageLength(input, 0, 65536);
          if (length === null) break;
          const request = decodeRequest(input.subarray(0, length));
          input = input.subarray(length);
          if (request.op !== 'search') continue;
          const chunks = answer(request.messageId);
          // One chunk per turn of the loop: the client sees them arrive separately.
          chunks.forEach((c, i) => setTimeout(() => socket.write(c), i * 5));
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const open = (): Promise<LdapClientConnection> =>
    LdapClientConnection.open({ host: '127.0.0.1', port, localAddress: '127.0.0.1', timeoutMs: 2000 });

  it('frames an entry and its searchDone split at every byte boundary, and counts the entry once', async () => {
    answer = (id) => {
      const bytes = Buffer.concat([
        encodeResponse({ ...userEntry('pupil1'), messageId: id }),
        encodeResponse({ op: 'searchDone', messageId: id, result: OK }),
      ]);
      // Cut into 3-byte pieces: headers and lengths are split too.
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += 3) pieces.push(bytes.subarray(i, i + 3));
      return [Buffer.concat(pieces.slice(0, 1)), ...pieces.slice(1, 4), Buffer.concat(pieces.slice(4))];
    };
    const c = await open();
    try {
      for (let i = 0; i < 3; i++) {
        const r = await c.search(BASE, userFilter('pupil1'), USER_ATTRIBUTES);
        assert.equal(r.entries.length, 1);
        assert.equal(checkUserAnswer('pupil1', BASE, r), null);
      }
    } finally {
      c.destroy();
    }
  });

  it('fails a request answered under another message ID, and the connection with it', async () => {
    answer = (id) => [encodeResponse({ op: 'searchDone', messageId: id + 1, result: OK })];
    const c = await open();
    try {
      await assert.rejects(c.search(BASE, userFilter('pupil1'), USER_ATTRIBUTES), /unexpected searchDone for message 2 \(waiting for 1\)/);
      await assert.rejects(c.search(BASE, userFilter('pupil1'), USER_ATTRIBUTES));
    } finally {
      c.destroy();
    }
  });

  it('gives up on a request with no answer after its timeout', async () => {
    answer = () => [];
    const c = await LdapClientConnection.open({ host: '127.0.0.1', port, localAddress: '127.0.0.1', timeoutMs: 100 });
    try {
      const started = Date.now();
      await assert.rejects(c.search(BASE, userFilter('pupil1'), USER_ATTRIBUTES), /no answer to search within 100 ms/);
      assert.ok(Date.now() - started < 2000);
    } finally {
      c.destroy();
    }
  });
});
