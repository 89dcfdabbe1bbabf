/**
 * Hostile input to bramble's LDAP server over the LDAP lab's LAN: "a malformed message is dropped
 * and counted while the server keeps serving; nothing a client sends blocks the event loop all
 * protocols share".
 *
 *  1. fuzz: at least 10,000 messages (random bytes, and real requests mutated), each on its own
 *     connection, from a client process on the Pi's host (test/support/ldap-fuzz-client.ts). The
 *     client judges each with the codec: every message the codec refuses gets its connection closed
 *     and is counted once in bramble_ldap_malformed_total; every valid one is answered. Meanwhile
 *     the event loop stays responsive; afterwards a real ldapsearch works and no connection is left.
 *     BRAMBLE_TEST_LDAP_FUZZ_SEED reproduces a run (the seed is printed).
 *  2. an oversized message (a declared length of 2 GiB) is refused before its bytes arrive, with
 *     a Notice of Disconnection;
 *  3. a slow drip (half a message, then nothing) is closed after the partial-message timeout while
 *     another client's searches go on;
 *  4. abandoned connections: 70 from one address, 64 are served (the per-address cap), the rest
 *     refused and counted; when the client vanishes they are all let go;
 *  5. a client that pipelines thousands of searches without reading gets no more answers than its
 *     share of memory (its requests wait); when it reads, every answer arrives, in order;
 *  6. guessing a password: after 3 free failures each further answer for that user comes later
 *     (1 s, 2 s, 4 s), from any connection; the right password still works, after its wait.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { Metrics } from '../../../src/core/observability/metrics';
import { decodeResponse, encodeRequest, messageLength } from '../../../src/plugins/ldap/ldap.codec';
import { MAX_MESSAGE_BYTES } from '../../../src/plugins/ldap/ldap.config';
import type { LdapRequest, LdapResponse } from '../../../src/plugins/ldap/ldap.types';
import { counterValues, diff, sum } from '../../support/metric-values';
import { createLdapLab, ldapLabUnavailable, type LdapLab } from '../../support/ldap-lab';
import { BASE_DN, startLdapBramble, type LdapBramble } from '../../support/ldap-bramble';
import type { FuzzConfig, FuzzReport } from '../../support/ldap-fuzz-client';
import { runReportChild } from '../../support/report-child';
import { tcpConnectInNamespace } from '../../support/tcp-listen';
import { LdapTestClient } from '../../support/ldap-test-client';
import { eventually } from '../../support/temp';

const skip = ldapLabUnavailable();
const PARTIAL_MS = 400;
const FUZZ_MESSAGES = 10_000;

function searchAll(messageId: number): Buffer {
  const request: LdapRequest = {
    op: 'search',
    messageId,
    controls: [],
    baseObject: BASE_DN,
    scope: 'sub',
    derefAliases: 0,
    sizeLimit: 0,
    timeLimit: 0,
    typesOnly: false,
    filter: { type: 'present', attribute: 'objectClass' },
    attributes: ['*'],
  };
  return encodeRequest(request);
}

/** Reads LDAP messages from a socket as they come. */
class Reader {
  private buffer = Buffer.alloc(0);
  readonly messages: LdapResponse[] = [];
  closed = false;
  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      for (let n = messageLength(this.buffer, 0, 1 << 30); n !== null; n = messageLength(this.buffer, 0, 1 << 30)) {
        this.messages.push(decodeResponse(this.buffer.subarray(0, n)));
        this.buffer = this.buffer.subarray(n);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => (this.closed = true));
  }
}

describe('LDAP server under hostile input', { skip: skip ?? false }, () => {
  let lab: LdapLab;
  let bramble: LdapBramble;
  const connect = (): Socket => tcpConnectInNamespace(lab.netlab, lab.clientHost, lab.serverIp, 389);
  const registry = (): Metrics => bramble.harness.app.nest.get(Metrics);
  const counter = (name: string, label = ''): Promise<Map<string, number>> => counterValues(registry(), name, label);
  const gauge = async (name: string): Promise<number> => sum(await counter(name));

  before(async () => {
    lab = await createLdapLab();
    bramble = await startLdapBramble(lab, { plugin: { timeouts: { partialMessageMs: PARTIAL_MS } } });
    // `pupils` and `teachers` exist from the first start (DEFAULT_GROUPS).
    for (let i = 0; i < 20; i++) await bramble.createUser(`pupil${i}`, `pupil${i}-Pa55word`, { groups: ['pupils'] });
  });

  after(async () => {
    await lab?.close();
    await bramble?.close();
  });

  it(`fuzz: ${FUZZ_MESSAGES} hostile messages are each refused and counted (or answered), the loop stays free, a real search works after`, async (t) => {
    const seed = Number(process.env.BRAMBLE_TEST_LDAP_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`seed ${seed} (BRAMBLE_TEST_LDAP_FUZZ_SEED=${seed} reproduces it)`);
    const before = await counter('bramble_ldap_malformed_total', 'reason');
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const config: FuzzConfig = {
      host: lab.serverIp,
      port: 389,
      seed,
      count: FUZZ_MESSAGES,
      concurrency: 16,
      baseDn: BASE_DN,
      maxMessageBytes: MAX_MESSAGE_BYTES,
    };
    const report = await runReportChild<FuzzReport>({
      file: path.join(__dirname, '../../support/ldap-fuzz-client.js'),
      env: { BRAMBLE_TEST_LDAP_FUZZ: JSON.stringify(config) },
      timeoutMs: 240_000,
      what: 'the LDAP fuzz client',
      netns: lab.netlab.ns(lab.clientHost),
    });
    loop.disable();
    t.diagnostic(
      `fuzz report: ${JSON.stringify(report)}; event loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`,
    );
    assert.equal(report.sent, FUZZ_MESSAGES);
    assert.equal(report.connectErrors, 0);
    assert.ok(report.expectedMalformed > 1000, 'the fuzz reached the codec with malformed messages');
    assert.ok(report.valid > 100, 'and with valid ones');
    assert.equal(report.closedAfterMalformed, report.expectedMalformed, 'every malformed message ends its connection');
    assert.equal(report.silent, 0, 'every valid message is answered');
    assert.equal(report.answeredValid, report.valid);
    const counted = sum(diff(await counter('bramble_ldap_malformed_total', 'reason'), before));
    // Each refused message once; a valid message followed by garbage (an "incomplete" verdict)
    // may add one more when its tail is malformed.
    assert.ok(counted >= report.expectedMalformed + report.badAuthChoice, `${counted} counted`);
    assert.ok(counted <= report.expectedMalformed + report.badAuthChoice + report.incomplete, `${counted} counted`);
    assert.ok(loop.percentile(99) / 1e6 < 100, `event loop p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms`);
    const r = await lab.ldapsearch(['-LLL', '-b', BASE_DN, '(uid=pupil7)', 'uidNumber'], { startTls: true, caFile: bramble.caFile });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^uidNumber: \d+$/m);
    await eventually(async () => (await gauge('bramble_ldap_connections')) <= 1, 5000, 'the fuzz connections to be let go');
  });

  it('an oversized message is refused before its bytes arrive, with a Notice of Disconnection', async () => {
    const socket = connect();
    const reader = new Reader(socket);
    // SEQUENCE with a 4-byte length of 2 GiB − 1, then a few bytes: the server must not wait for the rest.
    socket.write(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01]));
    await eventually(() => reader.closed, 3000, 'the server to close');
    assert.equal(reader.messages.length, 1);
    const notice = reader.messages[0];
    assert.equal(notice.op, 'extendedResponse');
    if (notice.op !== 'extendedResponse') return;
    assert.equal(notice.messageId, 0);
    assert.equal(notice.oid, '1.3.6.1.4.1.1466.20036');
    assert.equal(notice.result.code, 2);
  });

  it('a slow drip is closed after the partial-message timeout; another client is served meanwhile', async () => {
    const drip = connect();
    const dripReader = new Reader(drip);
    const half = searchAll(1);
    drip.write(half.subarray(0, 5));
    const started = Date.now();
    const other = connect();
    const otherReader = new Reader(other);
    other.write(searchAll(2));
    await eventually(() => otherReader.messages.some((m) => m.op === 'searchDone'), 3000, 'the other search');
    assert.equal(dripReader.closed, false);
    await eventually(() => dripReader.closed, PARTIAL_MS * 5, 'the drip to be closed');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= PARTIAL_MS - 50, `closed after ${elapsed} ms`);
    assert.ok(((await counter('bramble_ldap_malformed_total', 'reason')).get('partial-timeout') ?? 0) >= 1);
    other.destroy();
  });

  it('abandoned connections: 64 from one address are served, the rest refused; all let go when the client vanishes', async () => {
    const before = await counter('bramble_ldap_connections_refused_total', 'reason');
    const sockets = Array.from({ length: 70 }, () => connect());
    const readers = sockets.map((s) => new Reader(s));
    sockets.forEach((s, i) => s.write(searchAll(i + 1)));
    await eventually(
      () => readers.every((r) => r.closed || r.messages.some((m) => m.op === 'searchDone')),
      5000,
      'every connection settled',
    );
    const served = readers.filter((r) => r.messages.some((m) => m.op === 'searchDone')).length;
    assert.equal(served, 64);
    assert.deepEqual(diff(await counter('bramble_ldap_connections_refused_total', 'reason'), before), new Map([['per-address', 6]]));
    assert.equal(await gauge('bramble_ldap_connections'), 64);
    for (const s of sockets) s.resetAndDestroy();
    await eventually(async () => (await gauge('bramble_ldap_connections')) === 0, 5000, 'the connections to be let go');
  });

  it('guessing a password: after 3 free failures the answers come later and later, from any connection; the right one still works', async () => {
    const open = async (): Promise<LdapTestClient> => {
      const c = LdapTestClient.connect(lab.netlab, lab.clientHost, lab.serverIp, { timeoutMs: 15_000 });
      await c.startTls(readFileSync(bramble.caFile));
      return c;
    };
    const target = `uid=pupil3,ou=people,${BASE_DN}`;
    const timed = async (c: LdapTestClient, dn: string, password: string): Promise<{ code: number; ms: number }> => {
      const t0 = Date.now();
      const r = await c.bind(dn, password);
      return { code: r.code, ms: Date.now() - t0 };
    };
    const a = await open();
    const b = await open();
    try {
      const free = [];
      for (let i = 0; i < 3; i++) free.push(await timed(i % 2 ? a : b, target, `wrong-${i}`));
      assert.deepEqual(
        free.map((f) => f.code),
        [49, 49, 49],
      );
      assert.ok(
        free.every((f) => f.ms < 900),
        `free failures: ${free.map((f) => f.ms).join(', ')} ms`,
      );
      const fourth = await timed(a, target, 'wrong-3');
      assert.equal(fourth.code, 49);
      assert.ok(fourth.ms >= 900, `4th failure answered after ${fourth.ms} ms`);
      const fifth = await timed(b, target, 'wrong-4');
      assert.equal(fifth.code, 49);
      assert.ok(fifth.ms >= 1800, `5th failure, on the other connection, answered after ${fifth.ms} ms`);
      // The right password is not refused (nobody can lock a teacher out): it is checked after its wait.
      const right = await timed(a, target, 'pupil3-Pa55word');
      assert.equal(right.code, 0, 'the right password still works');
      assert.ok(right.ms >= 3600, `the right password waited ${right.ms} ms`);
      const delayed = (await counter('bramble_ldap_binds_total', 'result')).get('delayed') ?? 0;
      assert.ok(delayed >= 3, `${delayed} delayed binds counted`);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a client that pipelines 3,000 searches without reading waits for its own answers; reading them, it gets every one in order', async () => {
    const socket = connect();
    const requests = Buffer.concat(Array.from({ length: 3000 }, (_, i) => searchAll(i + 1)));
    const searches = async (): Promise<number> => (await counter('bramble_ldap_operations_total', 'op')).get('search') ?? 0;
    const searchesBefore = await searches();
    socket.pause();
    socket.write(requests);
    // Not reading: the server must stop handling its requests once its answers pile up.
    await new Promise((r) => setTimeout(r, 500));
    const searchesSoFar = (await searches()) - searchesBefore;
    const reader = new Reader(socket);
    socket.resume();
    await eventually(
      () => reader.closed || reader.messages.filter((m) => m.op === 'searchDone').length === 3000,
      30_000,
      'all 3000 answers',
    );
    const done = reader.messages.filter((m) => m.op === 'searchDone');
    assert.deepEqual(
      done.map((m) => m.messageId),
      Array.from({ length: 3000 }, (_, i) => i + 1),
    );
    assert.ok(searchesSoFar < 3000, `${searchesSoFar} searches handled while the client was not reading`);
    assert.equal(reader.closed, false);
    socket.destroy();
  });
});
