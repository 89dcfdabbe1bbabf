/**
 * Reading boot files for TFTP: the second fence after tftp.paths.ts, at the file system, and one
 * in-memory cache shared by every transfer. No bramble imports beyond node built-ins, no globals:
 * it works the same inside a worker thread.
 *
 * Path safety: the boot folder's real path and the requested file's real path are resolved
 * (`realpath`), and the file is served only when its real path lies inside the boot folder's. An
 * image tree is a whole OS: an absolute symlink in it (`overlays -> /usr/lib/...`) resolves against
 * the server's root, not the image's, so a symlink leaving the boot folder, at any level, is refused
 * (`outside`), not followed. A symlink to elsewhere inside the boot folder is fine, and the boot
 * folder itself may be a symlink (that is the admin's layout, resolved first). The last step opens
 * the resolved path with O_NOFOLLOW. A race with something swapping path components between the
 * check and the open is out of scope: the image tree belongs to the admin.
 *
 * Cache: key = real path, and every open `stat`s the file and compares device, inode, size and
 * mtime with the cached copy, so an image update is served at the next request, without a restart.
 * Least recently used entries are dropped when the total exceeds `maxCacheBytes`. Opens of the same
 * uncached file while it is being read share that one read: 50 Pis asking for the kernel at once
 * read it once.
 */
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * Largest file served: 1 GiB. Real boot files are far smaller (a kernel is about 10 MB, an
 * initramfs tens of MB), and without block-number roll-over TFTP cannot even carry more than about
 * 91 MiB at 1468-byte blocks (docs/pi-netboot-protocol.md §3.3). The bound only stops a mistake (a
 * disk image or a log left in the boot folder) from being read whole into memory, while leaving room
 * for large initramfs files served with roll-over; it is well under Node's Buffer limit.
 */
export const MAX_FILE_BYTES = 1024 ** 3;

/** Default bound of the shared cache: 512 MiB, several images' worth of firmware, kernels and initramfs. */
export const DEFAULT_MAX_CACHE_BYTES = 512 * 1024 ** 2;

/** How often a file that changes while it is being read is read again before giving up. */
const READ_ATTEMPTS = 3;

/** What `stat` must tell: the fields the cache compares, and the type. */
export interface BootFileStat {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  isFile(): boolean;
}

/** The file-system calls BootFiles makes; injectable for tests (counting reads, failing calls). */
export interface BootFilesFs {
  realpath(p: string): Promise<string>;
  stat(p: string): Promise<BootFileStat>;
  /** The whole file; must not follow a symlink in the last component (the path is already real). */
  readFile(p: string): Promise<Buffer>;
}

/**
 * Node's file system, with the final open made with O_NOFOLLOW where the platform has it. The
 * bytes are read into shared memory (a SharedArrayBuffer): the transfer worker gets them without a
 * copy, however many Pis read the same kernel at once.
 */
export const nodeBootFilesFs: BootFilesFs = {
  realpath: (p) => fsp.realpath(p),
  stat: (p) => fsp.stat(p),
  async readFile(p) {
    const handle = await fsp.open(p, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      const { size } = await handle.stat();
      const data = Buffer.from(new SharedArrayBuffer(size));
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(data, filled, size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      // Shorter than its size: it shrank during the read (the caller compares with a new stat).
      return filled === size ? data : data.subarray(0, filled);
    } finally {
      await handle.close();
    }
  },
};

export type BootFileError = 'not-found' | 'outside' | 'not-a-file' | 'too-large' | 'io';

/**
 * `data` is shared with the cache and with other transfers: read it, never write to it. `detail`
 * is for logs (it may name server paths): never send it to the client.
 */
export type OpenResult =
  { ok: true; data: Buffer; realPath: string; mtimeMs: number } | { ok: false; error: BootFileError; detail: string };

export interface BootFilesOptions {
  /** Bound of the shared cache, in bytes (default {@link DEFAULT_MAX_CACHE_BYTES}). 0 turns caching off. */
  maxCacheBytes?: number;
  /** Largest file served (default {@link MAX_FILE_BYTES}). */
  maxFileBytes?: number;
  fs?: BootFilesFs;
}

interface CacheEntry {
  signature: string;
  data: Buffer;
  mtimeMs: number;
}

function signature(st: BootFileStat): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

function failure(error: BootFileError, detail: string): OpenResult {
  return { ok: false, error, detail };
}

function fromError(err: unknown, what: string): OpenResult {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return failure('not-found', `${what}: ${message}`);
  if (code === 'EISDIR') return failure('not-a-file', `${what}: ${message}`);
  return failure('io', `${what}: ${message}`);
}

/** Whether `p` lies strictly inside the folder `root` (both absolute and normalised). */
function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

export class BootFiles {
  private readonly fs: BootFilesFs;
  private readonly maxCacheBytes: number;
  private readonly maxFileBytes: number;
  /** Real path → entry; Map order is recency (least recently used first). */
  private readonly cache = new Map<string, CacheEntry>();
  private cachedBytes = 0;
  /** `realPath\0signature` → the read in progress. */
  private readonly reading = new Map<string, Promise<OpenResult>>();

  constructor(options: BootFilesOptions = {}) {
    this.fs = options.fs ?? nodeBootFilesFs;
    this.maxCacheBytes = options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES;
    this.maxFileBytes = options.maxFileBytes ?? MAX_FILE_BYTES;
  }

  /** Bytes held by the cache now. */
  get cacheBytes(): number {
    return this.cachedBytes;
  }

  /** Files held by the cache now. */
  get cacheEntries(): number {
    return this.cache.size;
  }

  /**
   * The file `relPath` (`/`-separated, as tftp.decider.ts gives it) inside the boot folder
   * `bootPath`. Never throws: every failure is a result.
   */
  async open(bootPath: string, relPath: string): Promise<OpenResult> {
    // The decider has refused these already; checked again so this class is safe on its own.
    if (relPath === '' || path.isAbsolute(relPath) || relPath.split(/[/\\]/).includes('..')) {
      return failure('outside', `not a path inside the boot folder: ${JSON.stringify(relPath)}`);
    }
    let root: string;
    try {
      root = await this.fs.realpath(bootPath);
    } catch (err) {
      return fromError(err, 'boot folder');
    }
    const joined = path.join(root, relPath);
    if (!isInside(root, joined)) return failure('outside', `${relPath} is not inside ${root}`);

    let realPath: string;
    try {
      realPath = await this.fs.realpath(joined);
    } catch (err) {
      return fromError(err, relPath);
    }
    if (realPath === root) return failure('not-a-file', `${relPath} is the boot folder`);
    if (!isInside(root, realPath)) return failure('outside', `${relPath} resolves to ${realPath}, outside ${root}`);

    let st: BootFileStat;
    try {
      st = await this.fs.stat(realPath);
    } catch (err) {
      return fromError(err, relPath);
    }
    const problem = this.statProblem(st, realPath);
    if (problem) return problem;

    const sig = signature(st);
    const cached = this.cache.get(realPath);
    if (cached && cached.signature === sig) {
      this.cache.delete(realPath);
      this.cache.set(realPath, cached);
      return { ok: true, data: cached.data, realPath, mtimeMs: cached.mtimeMs };
    }
    if (cached) this.drop(realPath);

    const key = `${realPath}\0${sig}`;
    let pending = this.reading.get(key);
    if (!pending) {
      pending = this.read(realPath).finally(() => this.reading.delete(key));
      this.reading.set(key, pending);
    }
    return pending;
  }

  private statProblem(st: BootFileStat, realPath: string): OpenResult | null {
    if (!st.isFile()) return failure('not-a-file', `${realPath} is not a regular file`);
    if (st.size > this.maxFileBytes) return failure('too-large', `${realPath} has ${st.size} bytes, over ${this.maxFileBytes}`);
    return null;
  }

  /** Read the whole file, making sure it did not change during the read; cache it. */
  private async read(realPath: string): Promise<OpenResult> {
    try {
      for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        const before = await this.fs.stat(realPath);
        const problem = this.statProblem(before, realPath);
        if (problem) return problem;
        const data = await this.fs.readFile(realPath);
        const after = await this.fs.stat(realPath);
        const sig = signature(after);
        if (sig !== signature(before) || data.length !== after.size) continue;
        this.remember(realPath, { signature: sig, data, mtimeMs: after.mtimeMs });
        return { ok: true, data, realPath, mtimeMs: after.mtimeMs };
      }
      return failure('io', `${realPath} changed while being read, ${READ_ATTEMPTS} times`);
    } catch (err) {
      return fromError(err, realPath);
    }
  }

  private remember(realPath: string, entry: CacheEntry): void {
    this.drop(realPath);
    if (entry.data.length > this.maxCacheBytes) return;
    this.cache.set(realPath, entry);
    this.cachedBytes += entry.data.length;
    for (const [oldest, old] of this.cache) {
      if (this.cachedBytes <= this.maxCacheBytes) break;
      this.cache.delete(oldest);
      this.cachedBytes -= old.data.length;
    }
  }

  private drop(realPath: string): void {
    const entry = this.cache.get(realPath);
    if (!entry) return;
    this.cache.delete(realPath);
    this.cachedBytes -= entry.data.length;
  }
}
