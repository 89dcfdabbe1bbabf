/**
 * The transfer worker: restarted when it exits by itself (a bug there must not end TFTP until
 * bramble restarts), the sockets of the transfers it held closed; and woken for every request
 * posted to it, though requests posted close together share one wake-up. The server runs on
 * loopback with a stand-in plugin context (views with one approved client at 127.0.0.1); the
 * client is node:dgram speaking plain RFC 1350.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { encodeRequest, TftpOpcode } from '../../../src/plugins/tftp/tftp.codec';
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
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const openFds = (): number => readdirSync('/proc/self/fd').length;

for (const fastPath of [false, true]) {
  describe(`TFTP transfer worker (${fastPath ? 'requests started in the worker when it can' : 'every request decided on the main thread'})`, () => {
    const dir = tempDir('bramble-tftp-worker-');
    const root = path.join(dir.dir, 'image');
    const boot = path.join(root, 'boot');
    const content = Buffer.alloc(300_000, 0x5a);
    const small = Buffer.alloc(700, 0x33);
    const counters = new Map<string, number>();
    let server: TftpServer;
    let port: number;

    before(async () => {
      mkdirSync(boot, { recursive: true });
      writeFileSync(path.join(boot, 'kernel.img'), content);
      writeFileSync(path.join(boot, 'small.txt'), small);
      const views = loopbackViews();
      views.clients.put(loopbackClient());
      views.images.put(loopbackImage(root, boot));
      port = await freePort();
      server = new TftpServer(loopbackContext(views, counters), loopbackServerOptions(path.join(dir.dir, 'generated'), { fastPath }));
      // Loopback only (SO_BINDTODEVICE lo): nothing of this test is reachable from a real interface.
      await server.listen('lo', '127.0.0.1', port);
    });

    after(async () => {
      await server.close();
      dir.cleanup();
    });

    it('serves again after its worker died, with the dead transfers’ sockets closed', async () => {
      assert.deepEqual(await fetchOverLoopback(port, 'kernel.img'), content);
      await eventually(() => server.activeTransfers === 0, 2000, 'the first transfer to end');
      const fdsBefore = openFds();
      // A transfer left hanging (its client never ACKs), then the worker dies under it.
      const silent = createSocket('udp4');
      await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
      silent.send(encodeRequest(TftpOpcode.RRQ, 'kernel.img', 'octet', []), port, '127.0.0.1');
      await eventually(() => server.activeTransfers === 1, 2000, 'the silent transfer');
      const worker = (server as unknown as { worker: { terminate(): Promise<number> } }).worker;
      await worker.terminate();
      await eventually(() => server.listening && server.activeTransfers === 0, 5000, 'a new worker');
      assert.equal(counters.get('errors_total{"kind":"worker-crash"}'), 1);
      silent.close();
      assert.deepEqual(await fetchOverLoopback(port, 'kernel.img'), content, 'the new worker serves');
      // The lost transfer's socket and the old worker's eventfd are closed (a new eventfd is open).
      await eventually(() => openFds() <= fdsBefore, 2000, 'file descriptors back to the count before');
    });

    it('starts every request, one at a time and in bursts (requests posted close together share a wake-up; none is left unseen)', async () => {
      // A request the worker never saw would wait for the next one to wake it: the last of a burst,
      // or a lone request, would never start (this client does not retry) and its fetch times out.
      for (let round = 0; round < 40; round++) {
        const burst = await Promise.all(Array.from({ length: 1 + (round % 3) }, () => fetchOverLoopback(port, 'small.txt', 3000)));
        for (const bytes of burst) assert.deepEqual(bytes, small);
        assert.deepEqual(await fetchOverLoopback(port, 'small.txt', 3000), small);
      }
      await eventually(() => server.activeTransfers === 0, 2000, 'every transfer to end');
      await eventually(() => (server.workerCounters?.fastStarted ?? 0) > 0 === fastPath, 2000, 'the worker counters');
    });
  });
}
