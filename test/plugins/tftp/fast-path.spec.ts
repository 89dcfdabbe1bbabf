/**
 * Requests started in the transfer worker (tftp.mirror.ts), over real sockets on loopback: the
 * worker serves what the main thread has checked, the main thread still records every transfer
 * (metrics, boot facts, the generated copies), and whatever the worker cannot decide (a file it
 * has not got, a changed file, a client no longer approved) is decided on the main thread as
 * before. The client is node:dgram speaking plain RFC 1350.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderCmdline } from '../../../src/plugins/tftp/tftp.generated';
import { TftpServer } from '../../../src/plugins/tftp/tftp.server';
import { freePort } from '../../support/server-process';
import { eventually, tempDir } from '../../support/temp';
import {
  fetchOverLoopback,
  loopbackClient,
  loopbackContext,
  loopbackImage,
  loopbackServerOptions,
  loopbackViews,
} from '../../support/tftp-loopback';

describe('TFTP requests started in the transfer worker', () => {
  const dir = tempDir('bramble-tftp-fast-');
  const root = path.join(dir.dir, 'image');
  const boot = path.join(root, 'boot');
  const generatedRoot = path.join(dir.dir, 'generated');
  const counters = new Map<string, number>();
  const facts: Array<{ mac: string; stage: string; detail: Record<string, unknown> }> = [];
  const views = loopbackViews();
  let server: TftpServer;
  let port: number;
  const count = (key: string): number => counters.get(key) ?? 0;
  const started = (): number => server.workerCounters?.fastStarted ?? 0;
  /** The worker's counters as of now (they are reported twice a second). */
  const settle = async (): Promise<void> => {
    const before = server.workerCounters;
    await eventually(() => server.workerCounters !== before && server.activeTransfers === 0, 3000, 'the worker’s next counters');
  };

  before(async () => {
    mkdirSync(boot, { recursive: true });
    writeFileSync(path.join(boot, 'small.txt'), Buffer.alloc(700, 0x33));
    writeFileSync(path.join(boot, 'cmdline.txt'), 'console=serial0,115200 root=PARTUUID=1 rootwait\n');
    writeFileSync(path.join(boot, 'big.bin'), Buffer.alloc(4_000_000, 0x42));
    views.clients.put(loopbackClient({ cmdlineArgs: 'quiet' }));
    views.images.put(loopbackImage(root, boot));
    port = await freePort();
    server = new TftpServer(loopbackContext(views, counters, facts), loopbackServerOptions(generatedRoot));
    // Loopback only (SO_BINDTODEVICE lo): nothing of this test is reachable from a real interface.
    await server.listen('lo', '127.0.0.1', port);
  });

  after(async () => {
    await server.close();
    dir.cleanup();
  });

  it('a small file is read and served by the worker from the first request; a large one is opened by the main thread first; all are recorded alike', async () => {
    assert.deepEqual(await fetchOverLoopback(port, 'small.txt'), Buffer.alloc(700, 0x33));
    assert.deepEqual(await fetchOverLoopback(port, 'small.txt'), Buffer.alloc(700, 0x33));
    await settle();
    assert.equal(started(), 2, 'both started in the worker');
    assert.equal(server.workerCounters!.readHere, 1, 'read once, by the worker');
    assert.equal(count('requests_forwarded_total{"reason":"no-file"}'), 0);
    assert.equal((await fetchOverLoopback(port, 'big.bin', 20_000)).length, 4_000_000);
    await settle();
    assert.equal(count('requests_forwarded_total{"reason":"no-file"}'), 1, 'over 1 MiB: the main thread reads it');
    assert.equal(started(), 2);
    assert.equal((await fetchOverLoopback(port, 'big.bin', 20_000)).length, 4_000_000);
    await settle();
    assert.equal(started(), 3, 'then the worker serves it');
    assert.equal(count('requests_total{"result":"started"}'), 4);
    assert.equal(count('transfers_total{"outcome":"complete"}'), 4);
    const served = facts.filter((f) => f.stage === 'tftp.file-served');
    assert.deepEqual(
      served.map((f) => f.detail.file),
      ['small.txt', 'small.txt', 'big.bin', 'big.bin'],
      'a boot fact for each',
    );
    assert.equal(facts.filter((f) => f.stage === 'tftp.image-version').length, 1, 'one boot, one pin');
  });

  it('serves a generated cmdline.txt from the worker, rendered from the image’s file, and keeps the copy on disk', async () => {
    const expected = renderCmdline('console=serial0,115200 root=PARTUUID=1 rootwait\n', {
      serverIp: '127.0.0.1',
      exportPath: root,
      extraArgs: 'quiet',
    });
    const before = started();
    assert.equal((await fetchOverLoopback(port, 'cmdline.txt')).toString(), expected);
    assert.equal((await fetchOverLoopback(port, 'cmdline.txt')).toString(), expected);
    await settle();
    assert.equal(started(), before + 2);
    await eventually(
      () => {
        try {
          return readFileSync(path.join(generatedRoot, 'dc-a6-32-00-00-01', 'cmdline.txt'), 'utf8') === expected;
        } catch {
          return false;
        }
      },
      3000,
      'the copy under generatedRoot',
    );
  });

  it('a client’s new settings reach the worker: the next cmdline.txt has them', async () => {
    views.clients.put(loopbackClient({ cmdlineArgs: 'quiet splash' }));
    await eventually(async () => (await fetchOverLoopback(port, 'cmdline.txt')).toString().includes('quiet splash'), 2000, 'the new args');
  });

  it('a changed file is served as it is now (the worker sees the new stat and hands the request back)', async () => {
    await fetchOverLoopback(port, 'small.txt');
    writeFileSync(path.join(boot, 'small.txt'), Buffer.alloc(900, 0x44));
    assert.deepEqual(await fetchOverLoopback(port, 'small.txt'), Buffer.alloc(900, 0x44));
    await settle();
    assert.ok(count('requests_forwarded_total{"reason":"changed"}') >= 1);
  });

  it('requests for a large file the main thread is opening wait for it in the worker, then start there', async () => {
    writeFileSync(path.join(boot, 'big2.bin'), Buffer.alloc(4_000_000, 0x43));
    const before = started();
    const all = await Promise.all(Array.from({ length: 7 }, () => fetchOverLoopback(port, 'big2.bin', 20_000)));
    for (const bytes of all) assert.equal(bytes.length, 4_000_000);
    await settle();
    const c = server.workerCounters!;
    assert.equal(c.parked, c.parkedServed + (c.forwarded['parked-no-file'] ?? 0), 'every parked request was served or handed on');
    assert.ok(c.parkedServed >= 1, `parked and served: ${JSON.stringify(c)}`);
    assert.ok(started() - before >= 1 + c.parkedServed - 1);
  });

  it('requests for a missing file are answered "not found" by the main thread without waiting in turn', async () => {
    await settle();
    const parkedBefore = server.workerCounters!.parked;
    const t0 = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 7 }, () => fetchOverLoopback(port, 'missing.bin', 3000)));
    const ms = performance.now() - t0;
    for (const r of results) assert.match(r.status === 'rejected' ? String(r.reason) : 'served', /unexpected opcode 5: file not found/);
    // Each waits for the first one's answer at most once (30 ms), never for the others' in turn.
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
    await settle();
    assert.equal(count('requests_total{"result":"not-found"}'), 7);
    assert.ok(server.workerCounters!.parked - parkedBefore <= 6, 'none waited twice');
  });

  it('a client no longer approved is refused at once, by the main thread', async () => {
    views.clients.put(loopbackClient({ status: 'pending' }));
    await assert.rejects(fetchOverLoopback(port, 'small.txt'), /unexpected opcode 5/);
    views.clients.put(loopbackClient({ cmdlineArgs: 'quiet' }));
  });
});
