/**
 * The transfer worker's copy of what deciding a request needs, and the fast decision made with it.
 *
 * Why: in a boot storm 100 Pis ask for the same small file within a few milliseconds. When every
 * request went through the main thread (decide, open, socket, hand-over: about 0.3 ms of CPU there
 * under that load, shared with DHCP, the API and the boot facts), each waited about 15 ms in
 * udp/69's queue behind the others of its burst, and the 100-Pi storm took 0.97–1.15× dnsmasq's
 * time (bench/boot-storm.bench.ts, README "The 100-Pi storm"). So the worker reads udp/69 itself,
 * ahead of its blocks, and starts at once every request it can decide from this copy alone: an
 * approved client asking for a file of its image version (pinned as tftp.pins.ts says) whose bytes
 * it holds and whose stat (inode, size, mtime) is still theirs, the name's path checked again in
 * full once a second (`checkNow`); for cmdline.txt and config.txt, the image's file of that version,
 * rendered with the client's settings (tftp.generated.ts). The bytes come from the main thread's
 * opens, or the worker reads a small file itself (tftp.worker.ts). Everything else (a large file not
 * opened yet, a changed file, iPXE files, refusals, unknown addresses, netascii, a busy port,
 * malformed packets) is forwarded to the main thread, which decides it as before. Either way the
 * main thread learns of each transfer and records its facts: the worker only takes the decision
 * off the request's critical path.
 *
 * The copy (`RequestMirror`) is fed by the main thread (MirrorFeed in tftp.server.ts): the decision's
 * fields of each client and image from the core's views, the answers of byIp and bySerial for every
 * address and serial a change touched, each pin it makes, and each file it opens. A change reaches
 * the worker at its next turn (microseconds); a request decided in between is one a main-thread
 * decision an instant earlier would have made the same way. Pure apart from `statNow` and
 * `checkNow` (injected): no sockets, no clock (times are passed in).
 */
import type { ClientRecord, ImageRecord } from '../../core/plugin-api';
import type { TftpPacket } from './tftp.codec';
import { decideRequest } from './tftp.decider';
import { signature, type BootFileStat } from './tftp.files';

/** The worker's full check of a name whose trusted second has passed (tftp.files.ts checkNow). */
export type CheckNow = (bootPath: string, relPath: string) => { realPath: string; signature: string } | null;
import { renderCmdline, renderConfigTxt } from './tftp.generated';
import { PIN_IDLE_MS } from './tftp.pins';

/** The fields of a client that deciding a request reads (and rendering its cmdline.txt and config.txt). */
export type MirrorClient = Pick<ClientRecord, 'mac' | 'status' | 'imageId' | 'serial' | 'model' | 'ip' | 'configTxt' | 'cmdlineArgs'>;

/** The fields of an image that deciding a request reads. */
export interface MirrorImage {
  id: string;
  version: number;
  path: string;
  bootPath: string;
  versions: Array<{ version: number; path: string; bootPath: string }>;
}

/** A file the main thread opened: served by the worker until `trustUntil` (epoch ms) while its stat stays the same. */
export interface MirrorFile {
  bootPath: string;
  relPath: string;
  data: Uint8Array;
  realPath: string;
  /** `dev:ino:size:mtimeMs` (tftp.files.ts). */
  signature: string;
  trustUntil: number;
}

/** main → worker: a batch of changes, applied in order. */
export interface MirrorUpdate {
  /** Replaces the whole copy first (a new worker). */
  reset?: boolean;
  clients?: MirrorClient[];
  removedClients?: string[];
  /** `[ip, mac]`: the core's byIp answer for the address now (null: none). */
  byIp?: Array<[string, string | null]>;
  bySerial?: Array<[string, string | null]>;
  images?: MirrorImage[];
  removedImages?: string[];
  /** A pin made or replaced by the main thread: `[mac, imageId, version]`. */
  pins?: Array<[string, string, number]>;
  files?: MirrorFile[];
}

/** Past this many files the unused ones are dropped. */
const MAX_FILES = 4096;
/**
 * Bytes of files held at most (most are the main thread's cache's, shared; the small files the
 * worker reads itself are its own): past it the least recently added go first.
 */
const MAX_FILE_BYTES_HELD = 256 * 1024 ** 2;
/** A file's bytes are kept this long after its last check, for the next check to find them the same. */
const FILE_KEPT_MS = 60_000;

export type FastDecision =
  | {
      kind: 'serve';
      mac: string;
      imageId: string;
      version: number;
      /** The boot's first request: the pin was made here (the main thread records it, and its fact). */
      newPin: boolean;
      relPath: string;
      data: Uint8Array;
      /** The text sent, for a generated file (the main thread keeps its copy under generatedRoot). */
      generated: string | null;
    }
  /**
   * `why`: for the worker's counters (tests and the README's figures). `file`, for `no-file`: the
   * file to open (the worker reads a small one itself; requests for another wait for the main
   * thread's open: see PARK_MS in tftp.worker.ts).
   */
  | { kind: 'forward'; why: ForwardReason; file?: { key: string; bootPath: string; relPath: string } };

export type ForwardReason = 'not-rrq' | 'netascii' | 'decision' | 'special-file' | 'no-file' | 'changed';

export class RequestMirror {
  private readonly clients = new Map<string, MirrorClient>();
  private readonly ips = new Map<string, string>();
  private readonly serials = new Map<string, string>();
  private readonly images = new Map<string, MirrorImage>();
  private readonly pins = new Map<string, { imageId: string; version: number; lastAt: number }>();
  /** `bootPath\0relPath` → the file; Map order: least recently added first. */
  private readonly files = new Map<string, MirrorFile>();
  private fileBytes = 0;

  constructor(
    private readonly statNow: (p: string) => BootFileStat | null,
    private readonly checkNow: CheckNow,
    /** How long a check is trusted (tftp.files.ts DEFAULT_REVALIDATE_AFTER_MS). */
    private readonly trustMs: number,
  ) {}

  get fileCount(): number {
    return this.files.size;
  }

  /** Bytes of the files held (see MAX_FILE_BYTES_HELD). */
  get heldBytes(): number {
    return this.fileBytes;
  }

  private dropFile(key: string): void {
    const file = this.files.get(key);
    if (!file) return;
    this.files.delete(key);
    this.fileBytes -= file.data.byteLength;
  }

  /** The keys of the files in an update (requests waiting for them can be decided again). */
  static fileKeys(update: MirrorUpdate): string[] {
    return (update.files ?? []).map((f) => `${f.bootPath}\0${f.relPath}`);
  }

  apply(update: MirrorUpdate, now: number): void {
    if (update.reset) {
      this.clients.clear();
      this.ips.clear();
      this.serials.clear();
      this.images.clear();
      this.pins.clear();
      this.files.clear();
      this.fileBytes = 0;
    }
    for (const c of update.clients ?? []) this.clients.set(c.mac, c);
    for (const mac of update.removedClients ?? []) this.clients.delete(mac);
    for (const [ip, mac] of update.byIp ?? []) {
      if (mac) this.ips.set(ip, mac);
      else this.ips.delete(ip);
    }
    for (const [serial, mac] of update.bySerial ?? []) {
      if (mac) this.serials.set(serial, mac);
      else this.serials.delete(serial);
    }
    for (const image of update.images ?? []) this.images.set(image.id, image);
    for (const id of update.removedImages ?? []) this.images.delete(id);
    for (const [mac, imageId, version] of update.pins ?? []) this.pins.set(mac, { imageId, version, lastAt: now });
    for (const file of update.files ?? []) {
      const key = `${file.bootPath}\0${file.relPath}`;
      this.dropFile(key);
      this.files.set(key, file);
      this.fileBytes += file.data.byteLength;
    }
    if (this.files.size > MAX_FILES) this.sweep(now);
    for (const key of this.files.keys()) {
      if (this.fileBytes <= MAX_FILE_BYTES_HELD && this.files.size <= MAX_FILES) break;
      this.dropFile(key);
    }
  }

  /**
   * Drops files not asked for in a minute (they hold the main thread's file bytes alive: its cache
   * may have let them go).
   */
  sweep(now: number): void {
    for (const [key, file] of this.files) if (file.trustUntil + FILE_KEPT_MS <= now) this.dropFile(key);
  }

  /**
   * Whether the worker can serve `packet` from `sourceIp` at once, and with what. `now`: epoch ms.
   * A pin it uses is renewed, as the main thread's would be (the main thread renews its own when it
   * learns of the transfer).
   */
  decide(packet: TftpPacket, sourceIp: string, now: number, serverIp: string | null): FastDecision {
    if (packet.opcode !== 1) return { kind: 'forward', why: 'not-rrq' };
    if (packet.mode !== 'octet') return { kind: 'forward', why: 'netascii' };
    const decision = decideRequest({
      filename: packet.filename,
      sourceIp,
      clients: {
        get: (mac) => (this.clients.get(mac) as ClientRecord | undefined) ?? null,
        byIp: (ip) => this.client(this.ips.get(ip)),
        bySerial: (serial) => this.client(this.serials.get(serial)),
      },
      images: { get: (id) => (this.images.get(id) as unknown as ImageRecord | undefined) ?? null },
    });
    if (decision.kind !== 'serve') return { kind: 'forward', why: 'decision' };
    if (decision.generated === 'ipxe-script' || decision.source !== 'image') return { kind: 'forward', why: 'special-file' };
    const mac = decision.client.mac;
    const image = this.images.get(decision.image.id)!;
    // The version this boot gets: the one pinned, else (its first request) the active one, pinned
    // now, as the main thread's pinImageVersion would (tftp.pins.ts).
    let pin = this.pins.get(mac);
    let version =
      pin && pin.imageId === image.id && now - pin.lastAt <= PIN_IDLE_MS
        ? image.versions.find((v) => v.version === pin!.version)
        : undefined;
    const newPin = version === undefined;
    if (!version) {
      pin = { imageId: image.id, version: image.version, lastAt: now };
      version = { version: image.version, path: image.path, bootPath: image.bootPath };
    }
    const key = `${version.bootPath}\0${decision.relPath}`;
    const file = this.files.get(key);
    if (!file) return { kind: 'forward', why: 'no-file', file: { key, bootPath: version.bootPath, relPath: decision.relPath } };
    if (file.trustUntil <= now) {
      // Where the name leads is trusted no longer: checked again here, in full.
      const checked = this.checkNow(file.bootPath, file.relPath);
      if (!checked || checked.realPath !== file.realPath || checked.signature !== file.signature) {
        this.dropFile(key);
        return { kind: 'forward', why: 'changed' };
      }
      file.trustUntil = now + this.trustMs;
    } else {
      let st: BootFileStat | null;
      try {
        st = this.statNow(file.realPath);
      } catch {
        st = null;
      }
      if (!st || signature(st) !== file.signature) {
        this.dropFile(key);
        return { kind: 'forward', why: 'changed' };
      }
    }
    let data = file.data;
    let generated: string | null = null;
    if (decision.generated !== null) {
      const client = this.clients.get(mac)!;
      const original = Buffer.from(file.data.buffer, file.data.byteOffset, file.data.byteLength).toString('utf8');
      generated =
        decision.generated === 'cmdline'
          ? renderCmdline(original, { serverIp: serverIp ?? '0.0.0.0', exportPath: version.path, extraArgs: client.cmdlineArgs })
          : renderConfigTxt(original, client.configTxt);
      data = Buffer.from(generated, 'utf8');
    }
    pin!.lastAt = now;
    this.pins.set(mac, pin!);
    return { kind: 'serve', mac, imageId: image.id, version: version.version, newPin, relPath: decision.relPath, data, generated };
  }

  private client(mac: string | undefined): ClientRecord | null {
    return mac === undefined ? null : ((this.clients.get(mac) as ClientRecord | undefined) ?? null);
  }
}

/** The decision's fields of a client (what MirrorFeed sends, and compares to see whether a change matters). */
export function mirrorClient(c: ClientRecord): MirrorClient {
  return {
    mac: c.mac,
    status: c.status,
    imageId: c.imageId,
    serial: c.serial,
    model: c.model,
    ip: c.ip,
    configTxt: c.configTxt,
    cmdlineArgs: c.cmdlineArgs,
  };
}

export function mirrorImage(i: ImageRecord): MirrorImage {
  return {
    id: i.id,
    version: i.version,
    path: i.path,
    bootPath: i.bootPath,
    versions: i.versions.map((v) => ({ version: v.version, path: v.path, bootPath: v.bootPath })),
  };
}

export function sameMirrorClient(a: MirrorClient | undefined, b: MirrorClient): boolean {
  return (
    a !== undefined &&
    a.status === b.status &&
    a.imageId === b.imageId &&
    a.serial === b.serial &&
    a.model === b.model &&
    a.ip === b.ip &&
    a.configTxt === b.configTxt &&
    a.cmdlineArgs === b.cmdlineArgs
  );
}
