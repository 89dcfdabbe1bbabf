/**
 * The transfer sockets (tftp.worker.ts, DataSocket): every transfer is served from one of
 * DATA_SOCKETS ports shared by all clients, over real sockets on loopback. A client's size probe
 * and its real request from the same port get two different server ports (RFC 1350 §4: not the same
 * TID twice in succession); clients sharing a port each get their own file; a datagram from an
 * address and port with no transfer is dropped and counted; a new server address gets new sockets
 * while a running transfer ends on its old one, which is then closed; and while the sockets cannot be
 * made (the server address not up yet), requests are answered "busy" until they can.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeAck, encodeError, encodeRequest, TftpOpcode } from '../../../src/plugins/tftp/tftp.codec';
import { createTftpSocket, TftpSocketError } from '../../../src/plugins/tftp/tftp.libc';
import { TftpServer, type FdFactory } from '../../../src/plugins/tftp/tftp.server';
import { DATA_SOCKETS } from '../../../src/plugins/tftp/tftp.worker';
import { freePort } from '../../support/server-process';
import { eventually, tempDir } from '../../support/temp';
import { loopbackClient, loopbackContext, loopbackImage, loopbackServerOptions, loopbackViews } from '../../support/tftp-loopback';

const openFds = (): number => readdirSync('/proc/self/fd').length;

interface Datagram {
  msg: Buffer;
  address: string;
  port: number;
}

/** A client socket on `address` (127.0.0.1 by default) that queues what it receives. */
async function client(address = '127.0.0.1'): Promise<Socket & { next(ms?: number): Promise<Datagram> }> {
  const s = createSocket('udp4') as Socket & { next(ms?: number): Promise<Datagram> };
  const queue: Datagram[] = [];
  let waiter: ((d: Datagram) => void) | null = null;
  s.on('message', (msg, r) => {
    const d = { msg, address: r.address, port: r.port };
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(d);
    } else queue.push(d);
  });
  s.next = (ms = 3000) =>
    queue.length > 0
      ? Promise.resolve(queue.shift()!)
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            waiter = null;
            reject(new Error(`nothing within ${ms} ms`));
          }, ms);
          waiter = (d) => {
            clearTimeout(timer);
            resolve(d);
          };
        });
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  return s;
}

const send = (s: Socket, data: Buffer, port: number, address = '127.0.0.1'): Promise<void> =>
  new Promise((resolve, reject) => s.send(data, port, address, (error) => (error ? reject(error) : resolve())));

/** Reads a file from its OACK on (the request already sent): ACK 0, then each block; returns the bytes and where they came from. */
async function readAfterOack(s: Socket & { next(ms?: number): Promise<Datagram> }, oack: Datagram, blockSize: number) {
  const chunks: Buffer[] = [];
  const sources = new Set<string>([`${oack.address}:${oack.port}`]);
  await send(s, encodeAck(0), oack.port, oack.address);
  for (let block = 1; ; block++) {
    const d = await s.next();
    sources.add(`${d.address}:${d.port}`);
    assert.equal(d.msg.readUInt16BE(0), TftpOpcode.DATA);
    assert.equal(d.msg.readUInt16BE(2), block);
    chunks.push(d.msg.subarray(4));
    await send(s, encodeAck(block), d.port, d.address);
    if (d.msg.length - 4 < blockSize) break;
  }
  return { data: Buffer.concat(chunks), sources };
}

describe('TFTP transfer sockets shared by every transfer', () => {
  const dir = tempDir('bramble-tftp-sockets-');
  const root = path.join(dir.dir, 'image');
  const boot = path.join(root, 'boot');
  const counters = new Map<string, number>();
  const views = loopbackViews();
  const file = Buffer.from(Array.from({ length: 20 * 512 + 77 }, (_, i) => (i * 7) % 251));
  let server: TftpServer;
  let port: number;
  const request = (name = 'file.bin') =>
    encodeRequest(TftpOpcode.RRQ, name, 'octet', [
      { name: 'tsize', value: '0' },
      { name: 'blksize', value: '512' },
    ]);

  before(async () => {
    mkdirSync(boot, { recursive: true });
    writeFileSync(path.join(boot, 'file.bin'), file);
    views.clients.put(loopbackClient());
    views.images.put(loopbackImage(root, boot));
    port = await freePort();
    server = new TftpServer(loopbackContext(views, counters), loopbackServerOptions(path.join(dir.dir, 'generated')));
    // Loopback only (SO_BINDTODEVICE lo): nothing of this test is reachable from a real interface.
    await server.listen('lo', '127.0.0.1', port);
  });

  after(async () => {
    await server.close();
    dir.cleanup();
  });

  it('a size probe and the request after it from the same port are answered from two different ports, both transfer sockets', async () => {
    const seen = new Set<number>();
    for (let boot = 0; boot < 6; boot++) {
      const s = await client();
      try {
        await send(s, request(), port);
        const probe = await s.next();
        assert.equal(probe.msg.readUInt16BE(0), TftpOpcode.OACK);
        // The firmware's "Early terminate", then the same request again from the same port.
        await send(s, encodeError(0, 'Early terminate'), probe.port);
        await send(s, request(), port);
        const oack = await s.next();
        assert.equal(oack.msg.readUInt16BE(0), TftpOpcode.OACK);
        assert.notEqual(oack.port, probe.port, 'a new TID for the next transfer');
        assert.notEqual(oack.port, port);
        const { data, sources } = await readAfterOack(s, oack, 512);
        assert.deepEqual(data, file);
        assert.deepEqual([...sources], [`127.0.0.1:${oack.port}`], 'every block from the OACK’s port');
        seen.add(probe.port).add(oack.port);
      } finally {
        s.close();
      }
    }
    assert.ok(seen.size <= DATA_SOCKETS, `${seen.size} server ports for 12 transfers, at most ${DATA_SOCKETS}`);
  });

  it(`${DATA_SOCKETS + 4} transfers at once share the sockets and each gets the whole file; strangers to a transfer port are dropped and counted`, async () => {
    const strays = counters.get('packets_stray_total') ?? 0;
    // Three Pis (a client may run MAX_TRANSFERS_PER_CLIENT transfers at once), four transfers each.
    const addresses = ['127.0.0.1', '127.0.0.3', '127.0.0.4'];
    views.clients.put(loopbackClient({ mac: 'dc:a6:32:00:00:03', ip: '127.0.0.3' }));
    views.clients.put(loopbackClient({ mac: 'dc:a6:32:00:00:04', ip: '127.0.0.4' }));
    const clients = await Promise.all(Array.from({ length: DATA_SOCKETS + 4 }, (_, i) => client(addresses[i % 3])));
    try {
      const oacks = await Promise.all(
        clients.map(async (s) => {
          await send(s, request(), port);
          return s.next();
        }),
      );
      assert.ok(new Set(oacks.map((o) => o.port)).size < clients.length, 'some clients share a port');
      // A stranger (another port of the same address) ACKs and ERRORs on the first transfer's port.
      const stranger = await client();
      await send(stranger, encodeAck(1), oacks[0].port);
      await send(stranger, encodeError(0, 'go away'), oacks[0].port);
      const results = await Promise.all(clients.map((s, i) => readAfterOack(s, oacks[i], 512)));
      for (const r of results) assert.deepEqual(r.data, file);
      await assert.rejects(stranger.next(300), 'nothing was sent to the stranger');
      stranger.close();
      await eventually(() => (counters.get('packets_stray_total') ?? 0) === strays + 2, 3000, 'the two stray datagrams counted');
    } finally {
      for (const s of clients) s.close();
    }
  });

  it('a new server address: new transfers leave from it, a running one ends on its old socket, which is then closed', async () => {
    const a = await client();
    const b = await client();
    try {
      await send(a, request(), port);
      const oackA = await a.next();
      assert.equal(oackA.address, '127.0.0.1');
      const fdsBefore = openFds();
      server.retarget('127.0.0.2');
      // The old sockets without a transfer are closed at once.
      await eventually(
        () => openFds() === fdsBefore + 1,
        2000,
        'the new address’s sockets, and of the old ones only the running transfer’s',
      );
      await send(b, request(), port);
      const oackB = await b.next();
      assert.equal(oackB.address, '127.0.0.2', 'the new transfer answers from the new address');
      const [ra, rb] = await Promise.all([readAfterOack(a, oackA, 512), readAfterOack(b, oackB, 512)]);
      assert.deepEqual(ra.data, file);
      assert.deepEqual([...ra.sources], [`127.0.0.1:${oackA.port}`], 'the running transfer stayed on its socket');
      assert.deepEqual(rb.data, file);
      assert.deepEqual([...rb.sources], [`127.0.0.2:${oackB.port}`]);
      await eventually(() => openFds() === fdsBefore, 3000, 'the old address’s sockets closed after its last transfer');
    } finally {
      a.close();
      b.close();
      server.retarget('127.0.0.1');
    }
  });
});

describe('TFTP transfer sockets that cannot be made yet', () => {
  const dir = tempDir('bramble-tftp-nosockets-');
  const root = path.join(dir.dir, 'image');
  const boot = path.join(root, 'boot');
  const counters = new Map<string, number>();
  const views = loopbackViews();
  let server: TftpServer;
  let port: number;
  /** The transfer sockets (port 0) fail as they would before the server address is up; udp/69 does not. */
  let addressUp = false;
  const createFd: FdFactory = (o) => {
    if (o.port === 0 && !addressUp) throw new TftpSocketError(`bind udp/0`, 'EADDRNOTAVAIL', 'the test says the address is not up');
    return createTftpSocket(o);
  };

  before(async () => {
    mkdirSync(boot, { recursive: true });
    writeFileSync(path.join(boot, 'small.txt'), Buffer.alloc(700, 0x33));
    views.clients.put(loopbackClient());
    views.images.put(loopbackImage(root, boot));
    port = await freePort();
    server = new TftpServer(loopbackContext(views, counters), loopbackServerOptions(path.join(dir.dir, 'generated'), { createFd }));
    // Loopback only (SO_BINDTODEVICE lo): nothing of this test is reachable from a real interface.
    await server.listen('lo', '127.0.0.1', port);
  });

  after(async () => {
    await server.close();
    dir.cleanup();
  });

  it('answers "server busy" while they fail, and serves once they can be made', async () => {
    const s = await client();
    try {
      await send(s, encodeRequest(TftpOpcode.RRQ, 'small.txt', 'octet', [{ name: 'blksize', value: '512' }]), port);
      const refused = await s.next();
      assert.equal(refused.msg.readUInt16BE(0), TftpOpcode.ERROR);
      assert.match(refused.msg.subarray(4).toString('latin1'), /busy/);
      assert.equal(refused.port, port, 'refused from udp/69');
      assert.equal(counters.get('requests_total{"result":"busy"}'), 1);
      addressUp = true;
      await send(s, encodeRequest(TftpOpcode.RRQ, 'small.txt', 'octet', [{ name: 'blksize', value: '512' }]), port);
      const oack = await s.next();
      assert.equal(oack.msg.readUInt16BE(0), TftpOpcode.OACK, 'the next request is served');
      assert.notEqual(oack.port, port);
      const { data } = await readAfterOack(s, oack, 512);
      assert.deepEqual(data, Buffer.alloc(700, 0x33));
    } finally {
      s.close();
    }
  });
});
