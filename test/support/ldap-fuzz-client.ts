/**
 * A hostile LDAP client, in a process of its own (run on a lab host with runReportChild's
 * `netns`), for the LDAP plugin's hostile-input test. BRAMBLE_TEST_LDAP_FUZZ=<json FuzzConfig>.
 *
 * Each message goes on a connection of its own (so a verdict is about that message alone): random
 * bytes, and valid requests (searches, anonymous binds, extended operations, unbinds, abandons,
 * writes) encoded by the codec and then mutated: bytes flipped, lengths changed, cut short,
 * extended, spliced, nested. The client decides with the same codec what the server should do with
 * each (decodeRequest throws → the server must close the connection after a Notice of
 * Disconnection; `bad-auth-choice` → an answer; anything else → an answer or, for unbind, a close)
 * and counts what happened. Password binds are never sent: their answers wait for bcrypt and the
 * throttle, which this test does not measure. Prints one JSON line (FuzzReport).
 */
import * as net from 'node:net';
import { decodeRequest, encodeRequest, LdapDecodeError, messageLength } from '../../src/plugins/ldap/ldap.codec';
import type { LdapRequest } from '../../src/plugins/ldap/ldap.types';
import { Rng } from './rng';

export interface FuzzConfig {
  host: string;
  port: number;
  seed: number;
  count: number;
  concurrency: number;
  baseDn: string;
  maxMessageBytes: number;
}

export interface FuzzReport {
  sent: number;
  /** Messages the codec refuses: the server must count each and close. */
  expectedMalformed: number;
  /** Of those, how many connections the server closed. */
  closedAfterMalformed: number;
  /** Messages the codec refuses with bad-auth-choice (answered, counted as malformed). */
  badAuthChoice: number;
  /** Valid messages that got at least one answer (or a close, for unbind). */
  answeredValid: number;
  valid: number;
  /** Messages the codec cannot frame yet (incomplete): the server waits; the client gives up. */
  incomplete: number;
  /** Connections that saw neither an answer nor a close within the wait. */
  silent: number;
  /** Connections refused or reset at connect. */
  connectErrors: number;
  durationMs: number;
}

function seeds(baseDn: string): LdapRequest[] {
  const search = (filter: Extract<LdapRequest, { op: 'search' }>['filter'], attributes: string[] = []): LdapRequest => ({
    op: 'search',
    messageId: 2,
    controls: [],
    baseObject: baseDn,
    scope: 'sub',
    derefAliases: 0,
    sizeLimit: 0,
    timeLimit: 0,
    typesOnly: false,
    filter,
    attributes,
  });
  return [
    search(
      {
        type: 'and',
        filters: [
          { type: 'equality', attribute: 'objectClass', value: 'posixAccount' },
          { type: 'equality', attribute: 'uid', value: 'alice' },
        ],
      },
      ['uid', 'uidNumber', 'gidNumber', 'homeDirectory', 'userPassword'],
    ),
    search({
      type: 'or',
      filters: [
        { type: 'present', attribute: 'objectClass' },
        { type: 'not', filter: { type: 'ge', attribute: 'uidNumber', value: '10000' } },
      ],
    }),
    search({ type: 'substrings', attribute: 'cn', initial: 'a', any: ['l'], final: 'e' }, ['*', '+']),
    search({ type: 'extensible', matchingRule: '2.5.13.2', attribute: 'cn', value: 'Alice', dnAttributes: true }),
    search({ type: 'approx', attribute: 'uid', value: 'alice' }),
    { op: 'bind', messageId: 1, controls: [], version: 3, name: '', auth: { type: 'simple', password: Buffer.alloc(0) } },
    { op: 'extended', messageId: 3, controls: [], oid: '1.3.6.1.4.1.4203.1.11.3', value: null },
    { op: 'abandon', messageId: 4, controls: [], abandonId: 2 },
    { op: 'unsupported', messageId: 5, controls: [], protocolOp: 8, responseOp: 9 },
    {
      op: 'search',
      messageId: 6,
      controls: [{ oid: '1.2.840.113556.1.4.319', critical: true, value: Buffer.from([0x30, 0x05, 0x02, 0x01, 0x02, 0x04, 0x00]) }],
      baseObject: baseDn,
      scope: 'one',
      derefAliases: 0,
      sizeLimit: 3,
      timeLimit: 0,
      typesOnly: true,
      filter: { type: 'present', attribute: 'uid' },
      attributes: ['1.1'],
    },
  ];
}

function mutate(rng: Rng, seed: Buffer): Buffer {
  const b = Buffer.from(seed);
  switch (rng.int(8)) {
    case 0: // flip a few bytes
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) b[rng.int(b.length)] = rng.int(256);
      return b;
    case 1: // cut short
      return b.subarray(0, rng.int(b.length));
    case 2: // garbage appended
      return Buffer.concat([b, rng.bytes(1 + rng.int(40))]);
    case 3: // a length byte changed
      b[1 + rng.int(Math.min(b.length - 1, 12))] = rng.pick([0x00, 0x7f, 0x80, 0x81, 0x84, 0x85, 0xff, rng.int(256)]);
      return b;
    case 4: // a long-form length of a huge size
      return Buffer.concat([Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]), b.subarray(2)]);
    case 5: // bytes spliced from another place
      {
        const from = rng.int(b.length);
        const to = rng.int(b.length);
        b.copy(b, to, from, Math.min(b.length, from + 1 + rng.int(8)));
      }
      return b;
    case 6: // deep nesting in a filter-like shape
      return Buffer.concat([Buffer.from([0x30, 0x82, 0x0f, 0xa0, 0x02, 0x01, 0x07, 0x63, 0x82, 0x0f, 0x99]), Buffer.alloc(4000, 0xa0)]);
    default: // pure noise
      return rng.bytes(1 + rng.int(300));
  }
}

type Verdict = 'valid' | 'malformed' | 'bad-auth-choice' | 'incomplete' | 'password-bind' | 'no-answer';

function verdictOf(message: Buffer, maxBytes: number): Verdict {
  try {
    const length = messageLength(message, 0, maxBytes);
    if (length === null) return 'incomplete';
    // The server frames by the declared length: bytes after it are the next message. The
    // verdict is about this first one; the rest would be another message on the same connection.
    const request = decodeRequest(message.subarray(0, length));
    if (request.op === 'bind' && request.auth.type === 'simple' && request.auth.password.length > 0) return 'password-bind';
    if (length !== message.length) return 'incomplete';
    return request.op === 'abandon' ? 'no-answer' : 'valid';
  } catch (error) {
    if (error instanceof LdapDecodeError && error.reason === 'bad-auth-choice') return 'bad-auth-choice';
    return 'malformed';
  }
}

/**
 * Sends one message on a new connection; what came back within `waitMs`. With `untilAnswer` the
 * first answer is enough (a valid request: the server keeps the connection open).
 */
function exchange(
  c: FuzzConfig,
  message: Buffer,
  waitMs: number,
  untilAnswer: boolean,
): Promise<{ answered: boolean; closed: boolean; error: boolean }> {
  return new Promise((resolve) => {
    let answered = false;
    let done = false;
    const socket = net.connect({ host: c.host, port: c.port });
    const finish = (closed: boolean, error = false): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answered, closed, error });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('connect', () => socket.write(message));
    socket.on('data', () => {
      answered = true;
      if (untilAnswer) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(answered, !answered));
  });
}

async function main(): Promise<void> {
  const c = JSON.parse(process.env.BRAMBLE_TEST_LDAP_FUZZ ?? '') as FuzzConfig;
  const rng = new Rng(c.seed);
  const corpus = seeds(c.baseDn).map((r) => encodeRequest(r));
  const report: FuzzReport = {
    sent: 0,
    expectedMalformed: 0,
    closedAfterMalformed: 0,
    badAuthChoice: 0,
    answeredValid: 0,
    valid: 0,
    incomplete: 0,
    silent: 0,
    connectErrors: 0,
    durationMs: 0,
  };
  const started = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < c.count) {
      next++;
      let message: Buffer;
      let verdict: Verdict;
      do {
        message = rng.chance(0.1) ? rng.bytes(1 + rng.int(200)) : mutate(rng, rng.pick(corpus));
        verdict = message.length === 0 ? 'incomplete' : verdictOf(message, c.maxMessageBytes);
      } while (verdict === 'password-bind' || verdict === 'no-answer' || message.length === 0);
      report.sent++;
      // Incomplete messages would wait for the server's partial-message timer: cut the wait short.
      const r = await exchange(c, message, verdict === 'incomplete' ? 30 : 2000, verdict === 'valid');
      if (r.error) report.connectErrors++;
      if (verdict === 'malformed') {
        report.expectedMalformed++;
        if (r.closed) report.closedAfterMalformed++;
      } else if (verdict === 'bad-auth-choice') {
        report.badAuthChoice++;
      } else if (verdict === 'valid') {
        report.valid++;
        if (r.answered || r.closed) report.answeredValid++;
        else report.silent++;
      } else {
        report.incomplete++;
      }
    }
  };
  await Promise.all(Array.from({ length: c.concurrency }, worker));
  report.durationMs = Date.now() - started;
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (process.env.BRAMBLE_TEST_LDAP_FUZZ) {
  main().catch((error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exitCode = 1;
  });
}
