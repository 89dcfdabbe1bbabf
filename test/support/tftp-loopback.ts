/**
 * A TftpServer on loopback with a stand-in plugin context, for tests of the server's two threads
 * without a network lab: views holding the clients and images a test puts in (and changes, with
 * onChange listeners called as the core's views call them), metrics counted into a Map, and a
 * plain RFC 1350 client on node:dgram. Loopback only (SO_BINDTODEVICE lo): nothing here is
 * reachable from a real interface.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { ClientRecord, ImageRecord, Logger, ViewChange } from '../../src/core/plugin-api';
import { encodeAck, encodeRequest, TftpOpcode, type TftpOption } from '../../src/plugins/tftp/tftp.codec';
import type { TftpContext } from '../../src/plugins/tftp/tftp.config';
import { BootFiles } from '../../src/plugins/tftp/tftp.files';
import { createTftpSocket } from '../../src/plugins/tftp/tftp.libc';
import type { TftpServerOptions } from '../../src/plugins/tftp/tftp.server';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** A view the test changes: `put` and `remove` call the listeners, as the core's views do after an event. */
export class FakeView<T extends object> {
  private readonly records = new Map<string, T>();
  private readonly listeners = new Set<(change: ViewChange<T>) => void>();
  private position = 0;

  constructor(private readonly keyOf: (record: T) => string) {}

  get(key: string): T | null {
    return this.records.get(key) ?? null;
  }

  list(): T[] {
    return [...this.records.values()];
  }

  get size(): number {
    return this.records.size;
  }

  find(predicate: (record: T) => boolean): T | null {
    for (const r of this.records.values()) if (predicate(r)) return r;
    return null;
  }

  onChange(listener: (change: ViewChange<T>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  put(record: T): void {
    const key = this.keyOf(record);
    this.records.set(key, record);
    for (const l of this.listeners) l({ key, record, position: ++this.position });
  }

  remove(key: string): void {
    this.records.delete(key);
    for (const l of this.listeners) l({ key, record: null, position: ++this.position });
  }
}

export interface LoopbackViews {
  clients: FakeView<ClientRecord>;
  images: FakeView<ImageRecord>;
}

export function loopbackViews(): LoopbackViews {
  return { clients: new FakeView<ClientRecord>((c) => c.mac), images: new FakeView<ImageRecord>((i) => i.id) };
}

/** A client record with what the TFTP server reads; `over` replaces fields. */
export function loopbackClient(over: Partial<ClientRecord> = {}): ClientRecord {
  return {
    mac: 'dc:a6:32:00:00:01',
    status: 'approved',
    imageId: 'img',
    ip: '127.0.0.1',
    serial: null,
    model: 'RPi4',
    configTxt: '',
    cmdlineArgs: '',
    ...over,
  } as unknown as ClientRecord;
}

/** A loopback TftpServer's options: real sockets, a fresh file cache, these tests' limits; `over` replaces fields. */
export function loopbackServerOptions(generatedRoot: string, over: Partial<TftpServerOptions> = {}): TftpServerOptions {
  return {
    createFd: createTftpSocket,
    files: new BootFiles(),
    ipxeDir: '/usr/lib/ipxe',
    limits: { maxBlockSize: 1468, maxWindowSize: 64, defaultTimeoutMs: 1000, maxRetries: 5 },
    generatedRoot,
    ...over,
  };
}

/** An image of one version whose trees are `root` and `boot`. */
export function loopbackImage(root: string, boot: string, over: Partial<ImageRecord> = {}): ImageRecord {
  return {
    id: 'img',
    name: 'os',
    path: root,
    bootPath: boot,
    version: 1,
    versions: [{ version: 1, parentVersion: null, reason: 'registered', path: root, bootPath: boot, createdAt: '' }],
    registeredAt: '',
    ...over,
  } as unknown as ImageRecord;
}

/**
 * The plugin context: `views` as given, every metric counted into `counters` (key: name plus its
 * labels as JSON), boot facts collected into `facts`.
 */
export function loopbackContext(
  views: LoopbackViews,
  counters: Map<string, number>,
  facts: Array<{ mac: string; stage: string; detail: Record<string, unknown> }> = [],
): TftpContext {
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
  const { clients, images } = views;
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
    commands: {
      reportBootFact: async (fact: { mac: string; stage: string; detail: Record<string, unknown> }) => {
        facts.push(fact);
        return { position: null, eventTypes: [] };
      },
      learnClientAddress: async () => ({ position: null, eventTypes: [] }),
    } as never,
    credentials: { verifyUserPassword: async () => false },
    images: { provideConversion: () => () => undefined },
    diagnostics: { provide: () => () => undefined },
    views: {
      clients: Object.assign(clients, {
        byIp: (ip: string) => clients.find((c) => c.ip === ip),
        bySerial: (serial: string) => clients.find((c) => c.serial === serial),
      }),
      images,
    } as never,
    events: {} as never,
    metrics: { counter: metric, gauge: metric, histogram: metric } as never,
  };
}

/**
 * Reads `file` from the server over lock-step RFC 1350 (no options) from a new port; resolves with
 * the bytes, rejects on an ERROR or after `timeoutMs`.
 */
export function fetchOverLoopback(port: number, file: string, timeoutMs = 5000): Promise<Buffer> {
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
