/**
 * The transfer worker: restarted when it exits by itself (a bug there must not end TFTP until
 * bramble restarts), the sockets of the transfers it held closed; and woken for every request
 * posted to it, though requests posted close together share one wake-up. The server runs on
 * loopback with a stand-in plugin context (views with one approved client at 127.0.0.1); the
 * client is node:dgram speaking plain RFC 1350.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ClientRecord, ImageRecord, Logger } from '../../../src/core/plugin-api';
import type { TftpOption } from '../../../src/plugins/tftp/tftp.codec';
import type { TftpContext } from '../../../src/plugins/tftp/tftp.config';
import { encodeAck, encodeRequest, TftpOpcode } from '../../../src/plugins/tftp/tftp.codec';
import { BootFiles } from '../../../src/plugins/tftp/tftp.files';
import { createTftpSocket } from '../../../src/plugins/tftp/tftp.libc';
import { TftpServer } from '../../../src/plugins/tftp/tftp.server';
import { freePort } from '../../support/server-process';
import { eventually, tempDir } from '../../support/temp';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

function fakeContext(client: ClientRecord, image: ImageRecord, counters: Map<string, number>): TftpContext {
  const metric = (name: string) => ({
    inc(a?: unknown, b?: number) {
      const labels = typeof a === 'object' && a ? JSON.stringify(a) : '';
      const by = typeof a === 'number' ? a : (b ?? 1);
      counters.set(name + labels, (counters.get(name + labels) ?? 0) + by);
    },
    set() {},
    dec() {},
    observe() {},
  });
  const none = () => null;
  return {
    name: 'tftp',
    logger: quiet,
    runtime: { dataDir: '' },
    settings: () => ({
      port: 69,
      generatedRoot: null,
      ipxeDir: '/usr/lib/ipxe',
      maxBlockSize: 1468,
      maxWindowSize: 64,
      retransmitMs: 1000,
      maxRetries: 5,
    }),
    global: () => ({ interface: null, serverIp: '127.0.0.1' }) as never,
    serverAddress: () => '127.0.0.1',
    onSettingsChanged: () => () => undefined,
    commands: { reportBootFact: async () => ({ position: null, eventTypes: [] }) } as never,
    credentials: { verifyUserPassword: async () => false },
    images: { provideConversion: () => () => undefined },
    diagnostics: { provide: () => () => undefined },
    views: {
      clients: {
        get: (mac: string) => (mac === client.mac ? client : null),
        byIp: (ip: string) => (ip === client.ip ? client : null),
        bySerial: none,
      },
      images: { get: (id: string) => (id === image.id ? image : null) },
    } as never,
    events: {} as never,
    metrics: { counter: metric, gauge: metric, histogram: metric } as never,
  };
}

/** Reads `file` from the server over lock-step RFC 1350 (no options); resolves with the bytes. */
function fetch(port: number, file: string, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = createSocket('udp4');
    const parts: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no complete transfer of ${file} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (msg, rinfo) => {
      if (msg.readUInt16BE(0) !== TftpOpcode.DATA) {
        clearTimeout(timer);
        socket.close();
        reject(new Error(`unexpected opcode ${msg.readUInt16BE(0)}: ${msg.subarray(4).toString('latin1')}`));
        return;
      }
      parts.push(msg.subarray(4));
      const last = msg.length - 4 < 512;
      // Closed once the last ACK has left: the server's transfer ends on it (a socket closed
      // before would leave the server resending until its retry policy gives up).
      socket.send(encodeAck(msg.readUInt16BE(2)), rinfo.port, rinfo.address, () => {
        if (last) socket.close();
      });
      if (last) {
        clearTimeout(timer);
        resolve(Buffer.concat(parts));
      }
    });
    const noOptions: TftpOption[] = [];
    socket.send(encodeRequest(TftpOpcode.RRQ, file, 'octet', noOptions), port, '127.0.0.1');
  });
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('TFTP transfer worker', () => {
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
    const client = {
      mac: 'dc:a6:32:00:00:01',
      status: 'approved',
      imageId: 'img',
      ip: '127.0.0.1',
      serial: null,
      configTxt: '',
      cmdlineArgs: '',
    } as unknown as ClientRecord;
    const image = {
      id: 'img',
      name: 'os',
      path: root,
      bootPath: boot,
      version: 1,
      versions: [{ version: 1, parentVersion: null, reason: 'registered', path: root, bootPath: boot, createdAt: '' }],
      registeredAt: '',
    } as unknown as ImageRecord;
    port = await freePort();
    server = new TftpServer(fakeContext(client, image, counters), {
      createFd: createTftpSocket,
      files: new BootFiles(),
      ipxeDir: '/usr/lib/ipxe',
      limits: { maxBlockSize: 1468, maxWindowSize: 64, defaultTimeoutMs: 1000, maxRetries: 5 },
      generatedRoot: path.join(dir.dir, 'generated'),
    });
    // Loopback only (SO_BINDTODEVICE lo): nothing of this test is reachable from a real interface.
    await server.listen('lo', '127.0.0.1', port);
  });

  after(async () => {
    await server.close();
    dir.cleanup();
  });

  it('serves again after its worker died, with the dead transfers’ sockets closed', async () => {
    assert.deepEqual(await fetch(port, 'kernel.img'), content);
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
    assert.deepEqual(await fetch(port, 'kernel.img'), content, 'the new worker serves');
    // The lost transfer's socket and the old worker's eventfd are closed (a new eventfd is open).
    await eventually(() => openFds() <= fdsBefore, 2000, 'file descriptors back to the count before');
  });

  it('starts every request, one at a time and in bursts (requests posted close together share a wake-up; none is left unseen)', async () => {
    // A request the worker never saw would wait for the next one to wake it: the last of a burst,
    // or a lone request, would never start (this client does not retry) and its fetch times out.
    for (let round = 0; round < 40; round++) {
      const burst = await Promise.all(Array.from({ length: 1 + (round % 3) }, () => fetch(port, 'small.txt', 3000)));
      for (const bytes of burst) assert.deepEqual(bytes, small);
      assert.deepEqual(await fetch(port, 'small.txt', 3000), small);
    }
    await eventually(() => server.activeTransfers === 0, 2000, 'every transfer to end');
  });
});
