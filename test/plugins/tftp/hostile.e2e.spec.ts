/**
 * Hostile input to the TFTP server over a real (namespaced) LAN: "a malformed packet is dropped and
 * counted while the server keeps serving; nothing a client sends blocks the event loop all
 * protocols share".
 *
 * bramble runs in this process (tftp-lab.ts) with retransmitMs 200 and maxRetries 2, so a transfer
 * nobody acknowledges is given up after 3 × 200 ms. The clients are node scripts (`node -e`) and
 * curl, run in the approved Pi's namespace; the Pi's host also carries extra addresses (the same Pi
 * asking from other source addresses by its serial prefix, and a stranger's address). Seeded
 * traffic comes from test/support/rng.ts: BRAMBLE_TEST_TFTP_FUZZ_SEED reproduces a run (the seed is
 * printed).
 *
 *  1. udp/69 fuzz: thousands of random and mutated datagrams, each accounted for exactly once in
 *     the malformed or requests counters; then a real download is byte-identical and no transfer
 *     is left.
 *  2. transfer-port fuzz: garbage to a running transfer's port is counted by the worker and
 *     ignored; duplicate (old) ACKs never cause a resend (Sorcerer's Apprentice): every DATA copy
 *     the client got beyond the first of each block is one the timer sent. ERRORs cut short of
 *     their 4-byte header are garbage; a whole ERROR without its terminating NUL is an ERROR (the
 *     codec is lenient on purpose) and ends the transfer, so that one is checked on a second one.
 *  3. strangers (another port of the same host, another address) sending ACKs and ERRORs to a
 *     transfer's port change nothing: its socket is connected, the kernel drops them.
 *  4. slow peers: 30 silent clients end as 'timeout' after exactly 1 + maxRetries packets each,
 *     while a real download and a slow (300 ms per ACK) client complete.
 *  5. per-client cap: 20 requests at once from one address start 8 transfers, the rest get "busy".
 *  6. duplicate RRQ: the same request twice from the same port is one transfer; a different
 *     request right behind one for a missing file is served.
 *  7. the event loop: 20 concurrent 20 MiB downloads leave bramble's main-thread loop responsive
 *     and nearly idle (see LOOP_BOUNDS); a download under a GraphQL load stays within 3× of the
 *     same download without it.
 *  8. netascii requests for a large file keep the event loop free: the netascii copy is made
 *     once per file version, in slices (found by this test: it was made whole, per request).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { JsonLogger } from '../../../src/core/logging/logger';
import { Metrics } from '../../../src/core/observability/metrics';
import { MAX_TRANSFERS_PER_CLIENT } from '../../../src/plugins/tftp/tftp.server';
import { DATA_SOCKETS } from '../../../src/plugins/tftp/tftp.worker';
import { TEST_TOKEN } from '../../support/core-app';
import { patternFile, startTftpLab, tftpLabUnavailable, type TftpLab } from '../../support/tftp-lab';
import { counterValues, diff, sum } from '../../support/metric-values';

const RETRANSMIT_MS = 200;
const MAX_RETRIES = 2;
/** When a transfer nobody acknowledges is given up: (maxRetries + 1) timeouts, plus the worker's 50 ms timer tick. */
const GIVE_UP_MS = (MAX_RETRIES + 1) * RETRANSMIT_MS + 50;

const PI = { mac: 'dc:a6:32:7f:00:01', serial: '7f000001' };
/** Host parts of extra addresses of the Pi's host: the same Pi asking from other source addresses. */
const EXTRA_HOSTS = [60, 61, 62, 63, 64, 65, 66, 67, 68, 69];
/** Host part of a stranger's address (no client has it), also on the Pi's host. */
const STRANGER_HOST = 70;

const FILES = {
  small: patternFile(200 * 1024, 11),
  /** 50 blocks of 512 and a short one. */
  medium: patternFile(50 * 512 + 100, 12),
  /** 9 blocks of 512 and a short one: the slow client's file. */
  ten: patternFile(9 * 512 + 300, 13),
  big10: patternFile(10 * 1024 * 1024, 14),
  big20: patternFile(20 * 1024 * 1024, 15),
};

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Client scripts, run with `node -e` in a lab host; their one argument is a JSON config, and they
// print one JSON line. Every wait is bounded; every script ends by itself.

const CLIENT_LIB = String.raw`
const dgram = require('node:dgram');
const crypto = require('node:crypto');
const { performance } = require('node:perf_hooks');
const cfg = JSON.parse(process.argv[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const u16 = (n) => Buffer.from([(n >> 8) & 255, n & 255]);
const cstr = (s) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0])]);
function request(opcode, name, mode, opts) {
  return Buffer.concat([u16(opcode), cstr(name), cstr(mode), ...(opts || []).flatMap(([k, v]) => [cstr(k), cstr(v)])]);
}
const ack = (b) => Buffer.concat([u16(4), u16(b)]);
const op = (p) => (p.msg.length >= 2 ? p.msg.readUInt16BE(0) : -1);
const blockOf = (p) => p.msg.readUInt16BE(2);
function open(address, port) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const q = [];
    let waiter = null;
    s.on('message', (msg, r) => {
      const p = { msg, port: r.port, address: r.address, at: performance.now() };
      if (waiter) { const w = waiter; waiter = null; w(p); } else q.push(p);
    });
    s.next = (ms) => q.length ? Promise.resolve(q.shift()) : new Promise((res) => {
      const t = setTimeout(() => { waiter = null; res(null); }, ms);
      waiter = (p) => { clearTimeout(t); res(p); };
    });
    s.drain = () => q.splice(0);
    s.once('error', reject);
    s.bind({ port: port || 0, address }, () => { s.removeListener('error', reject); s.on('error', () => {}); resolve(s); });
  });
}
const send = (s, buf, port, host) => new Promise((res) => s.send(buf, port, host || cfg.server, (e) => res(e ? 1 : 0)));
/** Receives blocks from 'expected' on, acknowledging each new one, until the short last block. */
async function finish(s, tport, expected, blksize, chunks, copies, deadlineMs) {
  const end = performance.now() + deadlineMs;
  for (;;) {
    const p = await s.next(Math.max(1, end - performance.now()));
    if (!p) throw new Error('transfer stalled at block ' + expected);
    if (p.port !== tport) continue;
    if (op(p) === 5) throw new Error('server error: ' + p.msg.toString('latin1', 4));
    if (op(p) !== 3) continue;
    const b = blockOf(p);
    copies[b] = (copies[b] || 0) + 1;
    if (b !== (expected & 0xffff)) continue;
    chunks.push(p.msg.subarray(4));
    await send(s, ack(b), tport);
    if (p.msg.length - 4 < blksize) return;
    expected++;
  }
}
const hash = (chunks) => crypto.createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
const main = (fn) => fn().then((r) => { console.log(JSON.stringify(r)); process.exit(0); }, (e) => { console.error(e && e.stack || e); process.exit(1); });
`;

/** 1. Seeded random and mutated datagrams to udp/69, paced; prints what it sent, by kind. */
const FUZZ69_SCRIPT = String.raw`
const { Rng } = require(cfg.rngPath);
const r = new Rng(cfg.seed);
const printable = (n) => Buffer.from(Array.from({ length: n }, () => 0x21 + r.int(94)));
const nonNul = (n) => Buffer.from(Array.from({ length: n }, () => 1 + r.int(255)));
const goodOpts = () => r.pick([[], [['blksize', '1468']], [['tsize', '0'], ['blksize', '1024']], [['windowsize', '4']]]);
const oddOpts = () => {
  const list = [];
  const pool = [['blksize', r.pick(['abc', '1e3', '0', '7', '65465', '99999999999999999999', ' 512', '-1'])], ['tsize', r.pick(['-1', 'x', ''])], ['timeout', r.pick(['0', '256', '1.5'])], ['windowsize', r.pick(['0', '65536', '99999'])], ['x-' + printable(1 + r.int(8)).toString('latin1'), printable(r.int(20)).toString('latin1')]];
  for (const o of pool) if (r.chance(0.4)) list.push(o);
  return list;
};
const HOSTILE = ['../../etc/passwd', '/etc/passwd', '..', '.', 'a/../../x', 'overlays/../../../etc/shadow', 'a\\..\\b', 'x/./y', 'a//b', 'config.txt/', '\x1b[31mred', 'line\nbreak', 'caf\xe9.txt', 'x'.repeat(300), '7f000001/../../etc/passwd', 'del\x7f'];
// [kind, weight, make, socket]: requests that reach the file system (valid ones, missing files) come
// from sockets of their own: while one is opened or served, any request from its port is a
// duplicate, whatever it asks. The other sockets' requests are all refused before that point.
const KINDS = [
  ['empty', 3, () => Buffer.alloc(0)],
  ['one-byte', 3, () => r.bytes(1)],
  ['unknown-opcode', 8, () => Buffer.concat([u16(7 + r.int(65529)), r.bytes(r.int(100))])],
  ['random', 8, () => r.bytes(4 + r.int(700))],
  // Cut anywhere but right after a NUL: the last string is always unterminated (never a complete request).
  ['truncated-rrq', 8, () => { const b = request(1, r.pick(['start4.elf', 'config.txt', 'small.bin']), 'octet', goodOpts()); let cut = 2 + r.int(b.length - 2); if (b[cut - 1] === 0) cut--; return b.subarray(0, cut); }],
  ['rrq-without-nul', 5, () => Buffer.concat([u16(1), nonNul(1 + r.int(400))])],
  ['oversized-600', 4, () => Buffer.concat([u16(r.pick([1, 2])), printable(598)])],
  ['oversized-65000', 1, () => { const b = Buffer.concat([u16(1), printable(20), Buffer.from([0]), Buffer.from('octet\0'), r.bytes(65000 - 29)]); return b; }],
  ['many-options', 4, () => { const n = 17 + r.int(20); const opts = Array.from({ length: n }, (_, i) => ['o' + i, String(i)]); return request(1, 'small.bin', 'octet', opts); }],
  ['duplicate-options', 4, () => request(1, 'small.bin', 'octet', [['blksize', '512'], ['tsize', '0'], [r.pick(['blksize', 'BLKSIZE', 'BlkSize', 'tsize']), '1024']])],
  ['bad-mode', 4, () => request(1, 'small.bin', r.pick(['', 'binary', 'octet ', 'OCTETX', 'netascii\x01', 'ascii', printable(1 + r.int(30)).toString('latin1')]), [])],
  ['trailing-bytes', 2, () => Buffer.concat([request(1, 'small.bin', 'octet', [['blksize', '512']]), Buffer.from([0]), printable(1 + r.int(20))])],
  ['wrq', 4, () => request(2, r.pick(['small.bin', 'new.bin', '../x']), r.pick(['octet', 'netascii']), [])],
  ['data', 3, () => Buffer.concat([u16(3), u16(r.int(65536)), r.bytes(r.int(600))])],
  ['ack', 3, () => ack(r.int(65536))],
  ['error', 3, () => Buffer.concat([u16(5), u16(r.int(9)), printable(r.int(40)), r.chance(0.5) ? Buffer.from([0]) : Buffer.alloc(0)])],
  ['oack', 3, () => Buffer.concat([u16(6), cstr('blksize'), cstr('512')])],
  ['hostile-name', 8, () => request(1, r.pick(HOSTILE), 'octet', r.chance(0.5) ? goodOpts() : [])],
  ['not-found', 4, () => request(1, 'missing-' + r.int(1000) + '.bin', 'octet', goodOpts()), 'missing'],
  ['mail-mode', 2, () => request(1, 'small.bin', r.pick(['mail', 'MAIL', 'Mail']), [])],
  ['valid', 6, () => request(1, 'small.bin', r.pick(['octet', 'OCTET', 'netascii']), r.chance(0.5) ? goodOpts() : oddOpts()), 'valid'],
];
const total = KINDS.reduce((n, k) => n + k[1], 0);
function pickKind() { let x = r.int(total); for (const k of KINDS) { if ((x -= k[1]) < 0) return k; } return KINDS[0]; }
main(async () => {
  const other = await Promise.all([open(), open(), open()]);
  const valid = await Promise.all([open(), open()]);
  const missing = await open();
  const kinds = {};
  let sent = 0, sendErrors = 0;
  const start = performance.now();
  const interval = 1000 * cfg.burst / cfg.rate;
  while (sent < cfg.count && performance.now() - start < cfg.maxSeconds * 1000) {
    const burstStart = performance.now();
    for (let i = 0; i < cfg.burst && sent < cfg.count; i++) {
      const [name, , make, socket] = pickKind();
      const s = socket === 'valid' ? r.pick(valid) : socket === 'missing' ? missing : r.pick(other);
      const buf = make();
      kinds[name] = (kinds[name] || 0) + 1;
      sendErrors += await send(s, buf, 69);
      sent++;
    }
    const wait = interval - (performance.now() - burstStart);
    if (wait > 0) await sleep(wait);
  }
  // The transfers the valid requests started see an open port until they are given up.
  await sleep(cfg.holdMs);
  return { seed: cfg.seed, sent, sendErrors, seconds: (performance.now() - start) / 1000, kinds };
});
`;

/** 2. Garbage to a running transfer's port, duplicate ACKs, then the transfer to its end. */
const TRANSFER_FUZZ_SCRIPT = String.raw`
const { Rng } = require(cfg.rngPath);
const r = new Rng(cfg.seed);
/** Random bytes that are neither a 4-byte ACK nor an ERROR (those are real transfer events). */
function randomJunk() {
  const b = r.bytes(1 + r.int(600));
  if (b.length >= 2 && b[0] === 0 && (b[1] === 4 || b[1] === 5)) b[0] = 0xff;
  return b;
}
const GARBAGE = [
  ['random', randomJunk],
  ['unknown-opcode', () => Buffer.concat([u16(r.pick([0, 7, 8, 255, 0x1234, 0xffff])), r.bytes(r.int(50))])],
  ['request', () => request(r.pick([1, 2]), cfg.file, 'octet', [['blksize', '512']])],
  ['data', () => Buffer.concat([u16(3), u16(r.int(65536)), r.bytes(r.int(512))])],
  ['oack', () => Buffer.concat([u16(6), cstr('blksize'), cstr('512')])],
  ['future-ack', () => ack(60000)],
  ['bad-ack-length', () => Buffer.concat([u16(4), r.bytes(r.pick([0, 1, 3, 4, 20]))])],
  ['short-error', () => r.chance(0.5) ? u16(5) : Buffer.concat([u16(5), Buffer.from([0])])],
];
main(async () => {
  const s = await open();
  await send(s, request(1, cfg.file, 'octet', [['blksize', '512']]), 69);
  let p = await s.next(2000);
  if (!p || op(p) !== 6) throw new Error('no OACK: ' + (p ? p.msg.toString('hex') : 'nothing'));
  const tport = p.port;
  const copies = {};
  const chunks = [];
  const early = [];
  await send(s, ack(0), tport);
  p = await s.next(2000);
  if (!p || op(p) !== 3 || blockOf(p) !== 1) throw new Error('no block 1');
  copies[1] = 1;
  chunks.push(p.msg.subarray(4));
  const kinds = {};
  for (let i = 0; i < cfg.garbage; i++) {
    const [name, make] = r.pick(GARBAGE);
    kinds[name] = (kinds[name] || 0) + 1;
    await send(s, make(), tport);
  }
  // ACK 0 (the OACK's, already acknowledged) again and again while block 1 waits for its ACK.
  for (let i = 0; i < 100; i++) await send(s, ack(0), tport);
  // Wait for the timer to send block 1 again; anything else here is a reply to garbage.
  for (;;) {
    p = await s.next(2000);
    if (!p) throw new Error('block 1 was never sent again');
    if (op(p) === 3 && blockOf(p) === 1) { copies[1]++; break; }
    early.push(op(p) + ':' + (p.msg.length >= 4 ? blockOf(p) : -1));
  }
  // The ACK of block 1, then the same ACK 100 times: the Sorcerer's Apprentice would answer each with block 2.
  await send(s, ack(1), tport);
  for (let i = 0; i < 100; i++) await send(s, ack(1), tport);
  await finish(s, tport, 2, 512, chunks, copies, 10000);
  // Leftovers: a copy that crossed our last ACK.
  await sleep(100);
  for (const q of s.drain()) if (op(q) === 3) copies[blockOf(q)] = (copies[blockOf(q)] || 0) + 1;

  // An ERROR without its terminating NUL still ends a transfer (the codec is lenient on purpose).
  const e = await open();
  await send(e, request(1, cfg.file, 'octet', [['blksize', '512']]), 69);
  const oack = await e.next(2000);
  if (!oack || op(oack) !== 6) throw new Error('no OACK for the ERROR transfer');
  await send(e, Buffer.concat([u16(5), u16(0), Buffer.from('bye, no terminator', 'latin1')]), oack.port);
  const afterError = await e.next(cfg.retransmitMs * 2);
  return { tport, hash: hash(chunks), bytes: Buffer.concat(chunks).length, copies, early, kinds, afterError: afterError ? afterError.msg.toString('hex') : null };
});
`;

/** 3. A transfer whose port gets ACKs and ERRORs from strangers before it goes on. */
const STRANGER_SCRIPT = String.raw`
main(async () => {
  const s = await open(cfg.clientIp);
  // timeout 1 (s): no resend during the strangers' turn.
  await send(s, request(1, cfg.file, 'octet', [['blksize', '512'], ['timeout', '1']]), 69);
  let p = await s.next(2000);
  if (!p || op(p) !== 6) throw new Error('no OACK');
  const tport = p.port;
  const copies = {};
  const chunks = [];
  await send(s, ack(0), tport);
  p = await s.next(2000);
  if (!p || op(p) !== 3 || blockOf(p) !== 1) throw new Error('no block 1');
  copies[1] = 1;
  chunks.push(p.msg.subarray(4));
  const strangers = [await open(cfg.clientIp), await open(cfg.strangerIp), await open(cfg.strangerIp, s.address().port)];
  let sent = 0;
  for (const x of strangers) {
    for (let b = 1; b <= cfg.blocks; b++) { await send(x, ack(b), tport); sent++; }
    await send(x, Buffer.concat([u16(5), u16(0), cstr('stranger says stop')]), tport); sent++;
    await send(x, Buffer.concat([u16(3), u16(2), Buffer.alloc(10)]), tport); sent++;
  }
  await sleep(300);
  const during = s.drain().map((q) => op(q) + ':' + (q.msg.length >= 4 ? blockOf(q) : -1));
  const strangerGot = strangers.reduce((n, x) => n + x.drain().length, 0);
  await send(s, ack(1), tport);
  await finish(s, tport, 2, 512, chunks, copies, 10000);
  return { hash: hash(chunks), sent, during, strangerGot };
});
`;

/** 4. Clients that ask and then never answer; each counts what it gets. */
const SILENT_SCRIPT = String.raw`
main(async () => {
  const clients = [];
  for (let i = 0; i < cfg.clients; i++) clients.push(await open(cfg.addresses[i % cfg.addresses.length]));
  const start = performance.now();
  await Promise.all(clients.map((s, i) => send(s, request(1, cfg.file, cfg.mode || 'octet', i % 2 ? [['blksize', '1024'], ['tsize', '0']] : []), 69)));
  await sleep(cfg.holdMs);
  return clients.map((s) => { const got = s.drain(); return { packets: got.length, opcodes: [...new Set(got.map(op))], ports: new Set(got.map((q) => q.port)).size, lastMs: got.length ? got[got.length - 1].at - start : null }; });
});
`;

/** 4. A client that acknowledges each block 300 ms after it came (below the give-up time). */
const SLOW_ACK_SCRIPT = String.raw`
main(async () => {
  const s = await open();
  const start = performance.now();
  await send(s, request(1, cfg.file, 'octet', []), 69);
  const chunks = [];
  const copies = {};
  let expected = 1;
  let tport = null;
  const end = start + 10000;
  for (;;) {
    const p = await s.next(Math.max(1, end - performance.now()));
    if (!p) throw new Error('stalled at block ' + expected);
    if (op(p) === 5) throw new Error('server error: ' + p.msg.toString('latin1', 4));
    if (op(p) !== 3) continue;
    tport ??= p.port;
    const b = blockOf(p);
    copies[b] = (copies[b] || 0) + 1;
    if (b !== expected) continue;
    chunks.push(p.msg.subarray(4));
    await sleep(cfg.ackDelayMs);
    await send(s, ack(b), tport);
    if (p.msg.length - 4 < 512) break;
    expected++;
  }
  return { hash: hash(chunks), blocks: expected, copies, ms: performance.now() - start };
});
`;

/** 5. Many requests at once from one address (different ports); what each socket heard first. */
const CAP_SCRIPT = String.raw`
main(async () => {
  const sockets = [];
  for (let i = 0; i < cfg.clients; i++) sockets.push(await open());
  await Promise.all(sockets.map((s) => send(s, request(1, cfg.file, 'octet', [['blksize', '1024']]), 69)));
  const first = await Promise.all(sockets.map((s) => s.next(1000)));
  // Keep the ports open until the started transfers are given up (no ICMP shortcut).
  await sleep(cfg.holdMs);
  return first.map((p) => (p ? { opcode: op(p), message: op(p) === 5 ? p.msg.toString('latin1', 4, p.msg.length - 1) : null, port: p.port } : null));
});
`;

/** 6. The same request twice from the same port, then the transfer; every source port seen. */
const DUPLICATE_SCRIPT = String.raw`
main(async () => {
  const s = await open();
  const rrq = request(1, cfg.file, 'octet', [['blksize', '512'], ['tsize', '0']]);
  await send(s, rrq, 69);
  await send(s, rrq, 69);
  await sleep(150);
  const early = s.drain();
  const ports = new Set(early.map((p) => p.port));
  const oacks = early.filter((p) => op(p) === 6);
  if (oacks.length === 0) throw new Error('no OACK: ' + early.map((p) => op(p)).join(','));
  const tport = oacks[0].port;
  const chunks = [];
  const copies = {};
  await send(s, ack(0), tport);
  const seen = [];
  const orig = s.next;
  s.next = async (ms) => { const p = await orig(ms); if (p) { ports.add(p.port); seen.push(op(p)); } return p; };
  await finish(s, tport, 1, 512, chunks, copies, 10000);
  await sleep(100);
  for (const p of s.drain()) ports.add(p.port);
  return { hash: hash(chunks), ports: [...ports], oacks: oacks.length, errors: early.filter((p) => op(p) === 5).length };
});
`;

/**
 * 6. Two different requests back to back from one port, the first for a missing file: the second
 * waits for the first to end (not found) and is then served.
 */
const AFTER_MISSING_SCRIPT = String.raw`
main(async () => {
  const s = await open();
  s.send(request(1, cfg.missing, 'octet', [['blksize', '512']]), 69, cfg.server);
  s.send(request(1, cfg.file, 'octet', [['blksize', '512']]), 69, cfg.server);
  const first = await s.next(2000);
  const second = await s.next(2000);
  const heard = [first, second].map((p) => (p ? op(p) : null));
  const oack = [first, second].find((p) => p && op(p) === 6);
  if (!oack) return { heard, hash: null };
  const chunks = [];
  await send(s, ack(0), oack.port);
  await finish(s, oack.port, 1, 512, chunks, {}, 10000);
  return { heard, hash: hash(chunks) };
});
`;

/** 7. HTTP load on the API: `loops` concurrent loops of a GraphQL query for `ms`. */
const LOAD_SCRIPT = String.raw`
const cfg = JSON.parse(process.argv[1]);
let requests = 0, failures = 0;
const end = Date.now() + cfg.ms;
async function loop() {
  while (Date.now() < end) {
    try {
      const res = await fetch(cfg.url + '/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + cfg.token }, body: JSON.stringify({ query: '{ clients { mac name status } }' }) });
      const body = await res.json();
      if (res.ok && body.data) requests++; else failures++;
    } catch { failures++; }
  }
}
Promise.all(Array.from({ length: cfg.loops }, loop)).then(() => console.log(JSON.stringify({ requests, failures })));
`;

// ---------------------------------------------------------------------------------------------
// The test

const skip = tftpLabUnavailable();
describe('TFTP hostile input over a namespaced LAN', { skip: skip ?? false }, () => {
  let lab: TftpLab;
  let metrics: Metrics;
  const problems: string[] = [];
  const logged: Array<{ level: string; msg: string; component?: string }> = [];
  const onUncaught = (error: Error): void => void problems.push(`uncaughtException: ${error.stack ?? error.message}`);
  const onRejection = (reason: unknown): void => void problems.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
  const rngPath = require.resolve('../../support/rng');
  const seed = process.env.BRAMBLE_TEST_TFTP_FUZZ_SEED ? Number(process.env.BRAMBLE_TEST_TFTP_FUZZ_SEED) >>> 0 : 0x7f7f00;

  const run = async (script: string, cfg: object, timeoutMs = 20_000): Promise<any> => {
    const { stdout } = await lab.exec(
      'pi',
      process.execPath,
      ['-e', CLIENT_LIB + script, JSON.stringify({ server: lab.serverIp, ...cfg })],
      {
        timeoutMs,
      },
    );
    return JSON.parse(stdout.trim().split('\n').pop()!);
  };

  const counter = (name: string, label: string): Promise<Map<string, number>> => counterValues(metrics, `bramble_tftp_${name}`, label);
  const total = async (name: string): Promise<number> => sum(await counter(name, ''));
  const active = async (): Promise<number> => total('active_transfers');
  /** Waits until no transfer runs and the worker's counters (posted every 500 ms) have caught up. */
  const settle = async (ms = 5000): Promise<void> => {
    await waitFor(async () => (await active()) === 0, ms, 'active transfers back to 0');
    await sleep(600);
  };

  /**
   * curl from the Pi's host (optionally from another of its addresses): curl's own time, and the
   * file's bytes read (and the copy removed) only when asked, outside any measurement.
   */
  const curl = async (
    file: string,
    options: { blksize?: number; from?: string } = {},
  ): Promise<{ seconds: number; data: () => Buffer }> => {
    const out = path.join(lab.dir, `curl-${Math.random().toString(36).slice(2)}.bin`);
    const args = ['-s', '-S', '--max-time', '30', '--tftp-blksize', String(options.blksize ?? 1468), '-o', out, '-w', '%{time_total}'];
    if (options.from) args.push('--interface', options.from);
    const { stdout } = await lab.exec('pi', 'curl', [...args, `tftp://${lab.serverIp}/${file}`], { timeoutMs: 40_000 });
    return {
      seconds: Number(stdout.trim()),
      data: () => {
        const data = readFileSync(out);
        rmSync(out, { force: true });
        return data;
      },
    };
  };

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onRejection);
    const logger = new JsonLogger('warn', undefined, (line) => {
      const entry = JSON.parse(line) as { level: string; msg: string; component?: string };
      if ((entry.component ?? '').includes('tftp')) logged.push(entry);
    });
    lab = await startTftpLab({ settings: { retransmitMs: RETRANSMIT_MS, maxRetries: MAX_RETRIES }, logger });
    metrics = lab.core.app.nest.get(Metrics);
    await lab.addPi('pi', { mac: PI.mac, serial: PI.serial });
    for (const host of [...EXTRA_HOSTS, STRANGER_HOST]) {
      await lab.lab.ipIn(lab.lab.ns('pi'), ['addr', 'add', `${lab.lab.ip(host)}/24`, 'dev', 'eth0']);
    }
    for (const [name, data] of Object.entries(FILES)) lab.writeBootFile(`${name}.bin`, data);
    process.stdout.write(`# tftp hostile: seed=${seed} (BRAMBLE_TEST_TFTP_FUZZ_SEED=${seed} reproduces it)\n`);
  });

  after(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
    await lab?.close();
  });

  it(
    '1. udp/69: every random or mutated datagram is dropped and counted, or answered; the server keeps serving',
    { timeout: 60_000 },
    async () => {
      await settle();
      const malformedBefore = await counter('packets_malformed_total', 'reason');
      const requestsBefore = await counter('requests_total', 'result');
      const refusedBefore = await counter('requests_refused_total', 'reason');
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const report = (await run(
        FUZZ69_SCRIPT,
        { rngPath, seed, count: 3000, rate: 1500, burst: 30, maxSeconds: 10, holdMs: 300 },
        30_000,
      )) as {
        sent: number;
        sendErrors: number;
        seconds: number;
        kinds: Record<string, number>;
      };
      loop.disable();
      const k = (name: string): number => report.kinds[name] ?? 0;
      // Requests for files still being opened (or waiting behind one) are counted a moment later.
      await waitFor(
        async () =>
          sum(diff(await counter('packets_malformed_total', 'reason'), malformedBefore)) +
            sum(diff(await counter('requests_total', 'result'), requestsBefore)) >=
          report.sent,
        3000,
        'every datagram counted',
      ).catch(() => undefined); // the exact assertion below says what is missing
      const malformed = diff(await counter('packets_malformed_total', 'reason'), malformedBefore);
      const requests = diff(await counter('requests_total', 'result'), requestsBefore);
      const refused = diff(await counter('requests_refused_total', 'reason'), refusedBefore);
      process.stdout.write(
        `# tftp fuzz69 seed=${seed} sent=${report.sent} send_errors=${report.sendErrors} seconds=${report.seconds.toFixed(2)} loop_p99_ms=${(loop.percentile(99) / 1e6).toFixed(1)} loop_max_ms=${(loop.max / 1e6).toFixed(1)}\n` +
          `#   kinds=${JSON.stringify(report.kinds)}\n#   malformed=${JSON.stringify(Object.fromEntries(malformed))}\n#   requests=${JSON.stringify(Object.fromEntries(requests))} refused=${JSON.stringify(Object.fromEntries(refused))}\n`,
      );
      assert.equal(report.sendErrors, 0, 'the sender sent everything');
      assert.ok(loop.max / 1e6 < LOOP_MAX_MS, `the flood never held the event loop ${LOOP_MAX_MS} ms`);
      // Each datagram to udp/69 is exactly one of: a malformed packet, or a request with a result.
      assert.equal(sum(malformed) + sum(requests), report.sent, 'every datagram accounted for exactly once (seed ' + seed + ')');
      assert.equal(malformed.get('too-short') ?? 0, k('empty') + k('one-byte'), 'too-short: the empty and 1-byte datagrams');
      assert.equal(
        malformed.get('request-too-long') ?? 0,
        k('oversized-600') + k('oversized-65000'),
        'request-too-long: the 600 and 65,000-byte requests',
      );
      assert.ok((malformed.get('unknown-opcode') ?? 0) >= k('unknown-opcode'), 'unknown-opcode');
      assert.ok(
        (malformed.get('unexpected-opcode') ?? 0) >= k('data') + k('oack') + k('ack') + k('error'),
        'DATA/ACK/ERROR/OACK to udp/69',
      );
      assert.ok((malformed.get('unterminated-filename') ?? 0) >= k('rrq-without-nul'), 'RRQs without a NUL');
      assert.equal(malformed.get('too-many-options') ?? 0, k('many-options'), 'too-many-options');
      assert.equal(malformed.get('duplicate-option') ?? 0, k('duplicate-options'), 'duplicate-option');
      assert.ok((malformed.get('unknown-mode') ?? 0) >= k('bad-mode'), 'unknown-mode');
      assert.ok((malformed.get('trailing-bytes') ?? 0) >= k('trailing-bytes'), 'trailing-bytes');
      assert.equal(refused.get('hostile-name') ?? 0, k('hostile-name'), 'every hostile name refused as one');
      assert.equal(refused.get('write-request') ?? 0, k('wrq'), 'every WRQ refused');
      assert.equal(refused.get('bad-mode') ?? 0, k('mail-mode'), 'mail mode refused');
      assert.equal(
        ['started', 'duplicate', 'busy', 'not-found'].reduce((n, key) => n + (requests.get(key) ?? 0), 0),
        k('valid') + k('not-found'),
        'the valid and missing-file requests: started, not found, or duplicates of one in progress from the same port',
      );
      assert.ok((requests.get('started') ?? 0) >= 1, 'some valid requests started transfers');
      assert.ok((requests.get('not-found') ?? 0) >= 1, 'missing files: not found');
      assert.ok(!malformed.has('undecodable'), 'no decode failure outside the codec');

      // The transfers the fuzzer started end within the retry policy; a real client is served.
      await waitFor(async () => (await active()) === 0, GIVE_UP_MS * 2 + 500, 'no transfer left active');
      const got = await curl('small.bin');
      assert.ok(got.data().equals(FILES.small), 'a real download after the flood is byte-identical');
      assert.deepEqual(problems, []);
      assert.deepEqual(
        logged.filter((l) => l.level === 'error'),
        [],
        'the plugin logged no error',
      );
    },
  );

  it(
    '2. a transfer port: garbage is counted and ignored, duplicate ACKs cause no resend, the file arrives whole',
    { timeout: 30_000 },
    async () => {
      await settle();
      const malformedBefore = await counter('packets_malformed_total', 'reason');
      const resentBefore = await total('retransmissions_total');
      const outcomesBefore = await counter('transfers_total', 'outcome');
      const r = (await run(TRANSFER_FUZZ_SCRIPT, {
        rngPath,
        seed: seed ^ 0x2222,
        file: 'medium.bin',
        garbage: 300,
        retransmitMs: RETRANSMIT_MS,
      })) as {
        hash: string;
        bytes: number;
        copies: Record<string, number>;
        early: string[];
        kinds: Record<string, number>;
        afterError: string | null;
      };
      await settle();
      const malformed = diff(await counter('packets_malformed_total', 'reason'), malformedBefore);
      const resent = (await total('retransmissions_total')) - resentBefore;
      const outcomes = diff(await counter('transfers_total', 'outcome'), outcomesBefore);
      const copies = Object.values(r.copies);
      const extraCopies = sum(new Map(copies.map((c, i) => [String(i), c]))) - copies.length;
      process.stdout.write(
        `# tftp transfer-port seed=${seed ^ 0x2222} garbage=${JSON.stringify(r.kinds)} malformed=${JSON.stringify(Object.fromEntries(malformed))} block1_copies=${r.copies['1']} extra_copies=${extraCopies} timer_resends=${resent} early=${JSON.stringify(r.early)}\n`,
      );
      assert.equal(r.hash, sha256(FILES.medium), 'the file arrived whole');
      assert.equal(r.bytes, FILES.medium.length);
      assert.deepEqual(r.early, [], 'garbage and old ACKs drew no packet from the server');
      // Sorcerer's Apprentice: every copy beyond the first of a block is one the timer sent.
      assert.ok(r.copies['1'] >= 2, 'block 1 was sent again by the timer (the test waited for it)');
      assert.equal(extraCopies, resent, 'DATA copies beyond the first of each block = the timer resends, none for the 200 duplicate ACKs');
      const garbage = 300 - (r.kinds['future-ack'] ?? 0);
      assert.equal(
        sum(malformed),
        garbage,
        'every garbage datagram counted by the worker (ACKs of future blocks are ignored, not malformed)',
      );
      assert.ok((malformed.get('unknown-opcode') ?? 0) >= (r.kinds['unknown-opcode'] ?? 0));
      assert.ok((malformed.get('unexpected-opcode') ?? 0) >= (r.kinds.request ?? 0) + (r.kinds.data ?? 0) + (r.kinds.oack ?? 0));
      assert.ok((malformed.get('bad-ack-length') ?? 0) >= (r.kinds['bad-ack-length'] ?? 0));
      assert.ok((malformed.get('too-short') ?? 0) >= (r.kinds['short-error'] ?? 0));
      assert.equal(outcomes.get('complete'), 1, 'the fuzzed transfer completed');
      // An ERROR without its NUL is still an ERROR: it ended the second transfer, nothing was resent.
      assert.equal(r.afterError, null, 'no resend after the client ERROR');
      assert.equal(outcomes.get('client-error'), 1, 'the unterminated ERROR ended its transfer');
    },
  );

  it('3. strangers sending ACKs and ERRORs to a transfer port change nothing', { timeout: 30_000 }, async () => {
    await settle();
    const malformedBefore = await total('packets_malformed_total');
    const straysBefore = await total('packets_stray_total');
    const outcomesBefore = await counter('transfers_total', 'outcome');
    const r = (await run(STRANGER_SCRIPT, {
      file: 'medium.bin',
      blocks: 51,
      clientIp: lab.lab.ip(50),
      strangerIp: lab.lab.ip(STRANGER_HOST),
    })) as { hash: string; sent: number; during: string[]; strangerGot: number };
    await settle();
    const outcomes = diff(await counter('transfers_total', 'outcome'), outcomesBefore);
    const strays = (await total('packets_stray_total')) - straysBefore;
    process.stdout.write(
      `# tftp strangers sent=${r.sent} client_got_meanwhile=${JSON.stringify(r.during)} strangers_got=${r.strangerGot} strays=${strays}\n`,
    );
    assert.deepEqual(r.during, [], 'the strangers moved the transfer neither forward nor to its end');
    assert.equal(r.strangerGot, 0, 'nothing was sent to the strangers');
    // The transfer port is shared with other clients' transfers: the worker drops what comes from an
    // address and port with no transfer on it, counted apart from malformed packets.
    assert.equal(strays, r.sent, 'every stranger datagram dropped and counted as a stray');
    assert.equal((await total('packets_malformed_total')) - malformedBefore, 0, 'none counted as a malformed packet of the transfer');
    assert.equal(r.hash, sha256(FILES.medium), 'the transfer completed with the right bytes');
    assert.deepEqual(Object.fromEntries(outcomes), { complete: 1 });
  });

  it(
    '4. slow peers: 30 silent clients time out within the retry policy while a real and a slow client are served',
    { timeout: 30_000 },
    async () => {
      await settle();
      const outcomesBefore = await counter('transfers_total', 'outcome');
      const start = performance.now();
      // The Pi asks by its serial prefix from 10 addresses (3 silent clients each: under the per-client cap).
      const silent = run(SILENT_SCRIPT, {
        clients: 30,
        addresses: EXTRA_HOSTS.map((h) => lab.lab.ip(h)),
        file: `${PI.serial}/small.bin`,
        holdMs: GIVE_UP_MS + 1000,
      }) as Promise<Array<{ packets: number; opcodes: number[]; ports: number; lastMs: number | null }>>;
      let timedOutMs = -1;
      const watch = waitFor(
        async () => ((await counter('transfers_total', 'outcome')).get('timeout') ?? 0) - (outcomesBefore.get('timeout') ?? 0) >= 30,
        5000,
        '30 timeouts',
      ).then(() => (timedOutMs = performance.now() - start));
      const slow = run(SLOW_ACK_SCRIPT, { file: 'ten.bin', ackDelayMs: 300 }) as Promise<{
        hash: string;
        blocks: number;
        copies: object;
        ms: number;
      }>;
      await sleep(100);
      const real = await curl('small.bin');
      const realMs = performance.now() - start;
      const [clients, slowResult] = await Promise.all([silent, slow, watch]);
      await waitFor(async () => (await active()) === 0, 3000, 'active transfers back to 0');
      const outcomes = diff(await counter('transfers_total', 'outcome'), outcomesBefore);
      process.stdout.write(
        `# tftp slow peers: 30 timeouts after ${timedOutMs.toFixed(0)} ms; real download ${(real.seconds * 1000).toFixed(0)} ms (done at ${realMs.toFixed(0)} ms); slow client ${slowResult.ms.toFixed(0)} ms copies=${JSON.stringify(slowResult.copies)}; packets per silent client=${JSON.stringify(clients.map((c) => c.packets))}\n`,
      );
      assert.ok(real.data().equals(FILES.small), 'the real download meanwhile is byte-identical');
      assert.equal(slowResult.hash, sha256(FILES.ten), 'the slow client got its file');
      assert.equal(slowResult.blocks, 10);
      assert.ok(timedOutMs > 0 && timedOutMs < 2000, `the silent transfers ended within 2 s (${timedOutMs.toFixed(0)} ms)`);
      assert.deepEqual(Object.fromEntries(outcomes), { timeout: 30, complete: 2 });
      for (const c of clients) {
        assert.equal(c.packets, 1 + MAX_RETRIES, 'a silent client gets the first packet and maxRetries resends, then nothing');
        assert.equal(c.ports, 1);
      }
    },
  );

  it(
    `5. one client address opening 20 transfers at once: ${MAX_TRANSFERS_PER_CLIENT} start, the rest are told the server is busy`,
    { timeout: 30_000 },
    async () => {
      await settle();
      const requestsBefore = await counter('requests_total', 'result');
      const replies = (await run(CAP_SCRIPT, { clients: 20, file: 'small.bin', holdMs: GIVE_UP_MS + 200 })) as Array<{
        opcode: number;
        message: string | null;
        port: number;
      } | null>;
      await waitFor(async () => (await active()) === 0, 3000, 'active transfers back to 0');
      const requests = diff(await counter('requests_total', 'result'), requestsBefore);
      const started = replies.filter((p) => p?.opcode === 6).length;
      const busy = replies.filter((p) => p?.opcode === 5 && /busy/.test(p.message ?? '')).length;
      process.stdout.write(`# tftp cap: oack=${started} busy=${busy} requests=${JSON.stringify(Object.fromEntries(requests))}\n`);
      assert.equal(started, MAX_TRANSFERS_PER_CLIENT);
      assert.equal(busy, 20 - MAX_TRANSFERS_PER_CLIENT);
      assert.equal(requests.get('busy'), 20 - MAX_TRANSFERS_PER_CLIENT);
      assert.equal(requests.get('started'), MAX_TRANSFERS_PER_CLIENT);
      assert.equal(
        new Set(replies.filter((p) => p?.opcode === 6).map((p) => p!.port)).size,
        Math.min(MAX_TRANSFERS_PER_CLIENT, DATA_SOCKETS),
        'spread over as many transfer sockets (each goes to the one with fewest transfers)',
      );
    },
  );

  it(
    '6. the same RRQ twice from the same port is one transfer; a different one behind a missing file is served',
    { timeout: 30_000 },
    async () => {
      await settle();
      const requestsBefore = await counter('requests_total', 'result');
      const r = (await run(DUPLICATE_SCRIPT, { file: 'medium.bin' })) as { hash: string; ports: number[]; oacks: number; errors: number };
      const requests = diff(await counter('requests_total', 'result'), requestsBefore);
      assert.equal(r.hash, sha256(FILES.medium));
      assert.equal(r.ports.length, 1, `one transfer port (${r.ports.join(', ')})`);
      assert.equal(r.oacks, 1, 'one OACK');
      assert.equal(r.errors, 0);
      assert.deepEqual(Object.fromEntries(requests), { started: 1, duplicate: 1 });

      // A different request right behind one that ends without a transfer is no duplicate: it is served.
      await settle();
      const before2 = await counter('requests_total', 'result');
      const r2 = (await run(AFTER_MISSING_SCRIPT, { missing: 'no-such-file.bin', file: 'medium.bin' })) as {
        heard: number[];
        hash: string | null;
      };
      const requests2 = diff(await counter('requests_total', 'result'), before2);
      assert.deepEqual(r2.heard, [5, 6], 'not found (ERROR), then the OACK of the second request');
      assert.equal(r2.hash, sha256(FILES.medium));
      assert.deepEqual(Object.fromEntries(requests2), { 'not-found': 1, started: 1 });
    },
  );

  it(
    '7. the event loop stays free during 20 concurrent 20 MiB downloads, and the packet path keeps its pace under API load',
    { timeout: 60_000 },
    async () => {
      await settle();
      // Warm the file cache (the first request reads the file) so every download below is the data path only.
      (await curl('big20.bin')).data();
      (await curl('big10.bin')).data();

      // (a) 20 downloads at once, 2 from each of 10 addresses (the per-client cap is 8), by the Pi's serial prefix.
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const elu0 = performance.eventLoopUtilization();
      const t0 = performance.now();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => curl(`${PI.serial}/big20.bin`, { from: lab.lab.ip(EXTRA_HOSTS[i % EXTRA_HOSTS.length]) })),
      );
      const wallMs = performance.now() - t0;
      const elu = performance.eventLoopUtilization(elu0).utilization;
      loop.disable();
      const p99 = loop.percentile(99) / 1e6;
      const max = loop.max / 1e6;
      process.stdout.write(
        `# tftp 20x20MiB: wall=${wallMs.toFixed(0)} ms aggregate=${((20 * 20) / (wallMs / 1000)).toFixed(0)} MiB/s loop_p50_ms=${(loop.percentile(50) / 1e6).toFixed(1)} loop_p99_ms=${p99.toFixed(1)} loop_max_ms=${max.toFixed(1)} main_thread_elu=${elu.toFixed(3)}\n`,
      );
      for (const res of results) assert.ok(res.data().equals(FILES.big20), 'each concurrent download is byte-identical');
      // Bounds: see LOOP_BOUNDS (below the tests) for what they catch and what they do not.
      assert.ok(p99 < LOOP_P99_MS, `event-loop delay p99 ${p99.toFixed(1)} ms < ${LOOP_P99_MS} ms`);
      assert.ok(max < LOOP_MAX_MS, `event-loop delay max ${max.toFixed(1)} ms < ${LOOP_MAX_MS} ms`);
      assert.ok(
        elu < MAX_MAIN_THREAD_ELU,
        `main-thread event-loop utilization ${elu.toFixed(3)} < ${MAX_MAIN_THREAD_ELU}: the data path is not on it`,
      );

      // (b) The same 10 MiB download without and with a GraphQL load on bramble's HTTP API.
      const url = await lab.core.app.listen();
      const reference = await curl('big10.bin');
      const load = new Promise<{ requests: number; failures: number }>((resolve, reject) => {
        execFile(
          process.execPath,
          ['-e', LOAD_SCRIPT, JSON.stringify({ url, token: TEST_TOKEN, loops: 4, ms: 3000 })],
          { timeout: 20_000 },
          (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout.trim()) as { requests: number; failures: number })),
        );
      });
      await sleep(500);
      const loaded = await curl('big10.bin');
      const loadReport = await load;
      process.stdout.write(
        `# tftp 10MiB under API load: reference=${(reference.seconds * 1000).toFixed(0)} ms loaded=${(loaded.seconds * 1000).toFixed(0)} ms ratio=${(loaded.seconds / reference.seconds).toFixed(2)} graphql_requests=${loadReport.requests} failures=${loadReport.failures}\n`,
      );
      assert.ok(reference.data().equals(FILES.big10) && loaded.data().equals(FILES.big10), 'both downloads byte-identical');
      assert.ok(loadReport.requests > 100 && loadReport.failures === 0, 'the API load really ran');
      assert.ok(loaded.seconds < 2.5, 'the loaded download ran inside the load window');
      assert.ok(loaded.seconds <= 3 * reference.seconds, `under API load ${loaded.seconds}s ≤ 3 × ${reference.seconds}s`);
      assert.deepEqual(problems, []);
      assert.deepEqual(
        logged.filter((l) => l.level === 'error'),
        [],
        'the plugin logged no error',
      );
    },
  );

  it('8. netascii requests for a large file keep the event loop free', { timeout: 30_000 }, async () => {
    await settle();
    (await curl('big20.bin')).data();
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const clients = (await run(SILENT_SCRIPT, {
      clients: 4,
      addresses: [lab.lab.ip(50)],
      file: 'big20.bin',
      mode: 'netascii',
      holdMs: GIVE_UP_MS + 500,
    })) as Array<{ packets: number }>;
    loop.disable();
    await waitFor(async () => (await active()) === 0, 3000, 'active transfers back to 0');
    const max = loop.max / 1e6;
    process.stdout.write(
      `# tftp netascii 4 x 20 MiB: loop_p99_ms=${(loop.percentile(99) / 1e6).toFixed(1)} loop_max_ms=${max.toFixed(1)}\n`,
    );
    assert.ok(
      clients.every((c) => c.packets >= 1),
      'each request was answered',
    );
    assert.ok(max < LOOP_MAX_MS, `event-loop delay max ${max.toFixed(1)} ms < ${LOOP_MAX_MS} ms`);
  });
});

/**
 * LOOP_BOUNDS. On this 2-core box the transfers' worker, 20 curls and the kernel's packet work
 * compete with the main thread; with the data path in the worker, bramble's loop measured p99
 * 1.7–11 ms and max 10–23 ms (resolution 1 ms) during the 20 × 20 MiB downloads, and utilization
 * (ELU) of a few percent. These delay bounds catch blocking work on the main thread: the worker's
 * epoll loop run there would never yield, and a synchronous read or conversion of a boot file per
 * request does (test 8: four netascii copies of a 20 MiB file held the loop 336 ms). They would NOT
 * catch transfers done with node:dgram on the main thread: an experiment (20 lock-step 20 MiB
 * transfers, 1468-byte blocks, over loopback, served by a main-thread dgram loop) measured p99
 * 1.6–2.2 ms and max 6–26 ms, well inside them, because each packet's callback is short. What
 * gives such a design away is the main thread's event-loop utilization: 0.90 in that experiment,
 * so MAX_MAIN_THREAD_ELU below fails it.
 */
const LOOP_P99_MS = 50;
const LOOP_MAX_MS = 200;
const MAX_MAIN_THREAD_ELU = 0.25;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
}
