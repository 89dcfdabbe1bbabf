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
 * Cache: key = real path, and an open `stat`s the file and compares device, inode, size and mtime
 * with the cached copy, so an image update is served without a restart. Least recently used entries
 * are dropped when the total exceeds `maxCacheBytes`. Opens of the same uncached file while it is
 * being read share that one read: 50 Pis asking for the kernel at once read it once.
 *
 * Checked answers: a full check is three trips through libuv's thread pool (two realpath, one
 * stat). In a boot storm 100 Pis reach the same file within a few milliseconds, while both cores are
 * busy moving packets, and those trips queue behind one another: bench/boot-storm.bench.ts measured
 * the request-to-transfer hand-over on the main thread at 16 ms median, 37 ms p90, with 30 requests
 * on each Pi's critical path. So opens of one name while it is being checked share that check, and
 * for `revalidateAfterMs` (1 s) after a check the resolved path is trusted and only `stat`ed again,
 * synchronously (`statNow`: one stat(2) of a path resolved within the second, whose inodes the
 * kernel holds; microseconds, against three thread-pool trips). A changed file (or a missing one
 * that appeared) is still served at the next request; what is trusted for a second is where the
 * name leads, the symlinks on the way (the boot folder's own real path likewise).
 */
import { closeSync, constants, fstatSync, openSync, promises as fsp, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

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

/** How long the answer to an open is trusted without asking the file system again (see the header). */
export const DEFAULT_REVALIDATE_AFTER_MS = 1000;

/** Checked answers kept at most; older ones go first (they expire after a second anyway). */
const MAX_CHECKED = 4096;

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
  /**
   * A synchronous stat (null: no such file) for the second after a check; without it every open
   * is a full check.
   */
  statNow?(p: string): BootFileStat | null;
}

/**
 * Node's file system, with the final open made with O_NOFOLLOW where the platform has it. The
 * bytes are read into shared memory (a SharedArrayBuffer): the transfer worker gets them without a
 * copy, however many Pis read the same kernel at once.
 */
export const nodeBootFilesFs: BootFilesFs = {
  realpath: (p) => fsp.realpath(p),
  stat: (p) => fsp.stat(p),
  statNow: (p) => statSync(p, { throwIfNoEntry: false }) ?? null,
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
  | {
      ok: true;
      data: Buffer;
      realPath: string;
      mtimeMs: number;
      /** `dev:ino:size:mtimeMs` of the bytes (what a later stat must match for them to still be the file). */
      signature: string;
    }
  | { ok: false; error: BootFileError; detail: string };

export interface BootFilesOptions {
  /** Bound of the shared cache, in bytes (default {@link DEFAULT_MAX_CACHE_BYTES}). 0 turns caching off. */
  maxCacheBytes?: number;
  /** Largest file served (default {@link MAX_FILE_BYTES}). */
  maxFileBytes?: number;
  fs?: BootFilesFs;
  /** How long an answer is trusted (default {@link DEFAULT_REVALIDATE_AFTER_MS}); 0 checks every open. */
  revalidateAfterMs?: number;
  /** Monotonic clock in ms (tests). */
  now?: () => number;
}

interface CacheEntry {
  signature: string;
  data: Buffer;
  mtimeMs: number;
}

/** What a stat must match for cached bytes to still be the file: `dev:ino:size:mtimeMs`. */
export function signature(st: BootFileStat): string {
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

/**
 * The full check of `open`, synchronously and without reading: the boot folder and the file
 * resolved, fenced and stat'ed, as `check` does them. For the transfer worker (tftp.mirror.ts),
 * which holds a file's bytes and needs to know the name still leads to them once the second the
 * main thread's check is trusted for has passed: three system calls there, none here. Null when the
 * name does not lead to a regular file inside the boot folder (the main thread then says why).
 */
export function checkNow(bootPath: string, relPath: string): { realPath: string; signature: string; size: number } | null {
  try {
    const root = realpathSync(bootPath);
    const joined = path.join(root, relPath);
    if (!isInside(root, joined)) return null;
    const realPath = realpathSync(joined);
    if (!isInside(root, realPath)) return null;
    const st = statSync(realPath);
    if (!st.isFile()) return null;
    return { realPath, signature: signature(st), size: st.size };
  } catch {
    return null;
  }
}

/**
 * `checkNow`, then the file read, synchronously, when it has at most `maxBytes`: for the transfer
 * worker, the first request for a small file (a device tree, an overlay, `fixup4.dat`) without a
 * trip to the main thread, whose open waits behind everything else it has to do in a storm. Opened
 * with O_NOFOLLOW, read into shared memory, and kept only if its stat did not change during the
 * read. Null when the name does not lead to such a file, or it is larger: the main thread says why,
 * or reads it.
 */
export function readNow(bootPath: string, relPath: string, maxBytes: number): { realPath: string; signature: string; data: Buffer } | null {
  const checked = checkNow(bootPath, relPath);
  if (!checked || checked.size > maxBytes) return null;
  let fd: number;
  try {
    fd = openSync(checked.realPath, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || signature(st) !== checked.signature) return null;
    const data = Buffer.from(new SharedArrayBuffer(st.size));
    let filled = 0;
    while (filled < st.size) {
      const n = readSync(fd, data, filled, st.size - filled, filled);
      if (n === 0) return null;
      filled += n;
    }
    return signature(fstatSync(fd)) === checked.signature ? { realPath: checked.realPath, signature: checked.signature, data } : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
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
  private readonly revalidateAfterMs: number;
  private readonly now: () => number;
  /**
   * `bootPath\0relPath` → a checked answer, when its check began, and the path to stat again (the
   * real path of a file, the path that was not there); Map order is age.
   */
  private readonly checked = new Map<string, { result: OpenResult; at: number; statPath: string }>();
  /** Boot folder → its real path (being) resolved, and when. */
  private readonly roots = new Map<string, { root: Promise<string>; at: number }>();
  /** `bootPath\0relPath` → the check in progress. */
  private readonly checking = new Map<string, Promise<OpenResult>>();

  constructor(options: BootFilesOptions = {}) {
    this.fs = options.fs ?? nodeBootFilesFs;
    this.maxCacheBytes = options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES;
    this.maxFileBytes = options.maxFileBytes ?? MAX_FILE_BYTES;
    this.revalidateAfterMs = options.revalidateAfterMs ?? DEFAULT_REVALIDATE_AFTER_MS;
    this.now = options.now ?? (() => performance.now());
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
    if (this.revalidateAfterMs <= 0 || !this.fs.statNow) return this.check(bootPath, relPath, {});
    const key = `${bootPath}\0${relPath}`;
    const now = this.now();
    const known = this.checked.get(key);
    if (known && now - known.at < this.revalidateAfterMs && this.stillSo(known.result, known.statPath)) return known.result;
    let pending = this.checking.get(key);
    if (!pending) {
      const seen: { statPath?: string } = {};
      pending = this.check(bootPath, relPath, seen)
        .then((result) => {
          if (seen.statPath !== undefined) this.rememberChecked(key, result, now, seen.statPath);
          return result;
        })
        .finally(() => this.checking.delete(key));
      this.checking.set(key, pending);
    }
    return pending;
  }

  /**
   * How much longer (ms) the answer for this name is trusted without a full check: 0 when there is
   * none, or when answers are not trusted at all (revalidateAfterMs 0, no statNow). What the
   * transfer worker may serve the file for by itself (tftp.mirror.ts), stat-checking each time.
   */
  trustLeft(bootPath: string, relPath: string): number {
    if (this.revalidateAfterMs <= 0 || !this.fs.statNow) return 0;
    const known = this.checked.get(`${bootPath}\0${relPath}`);
    if (!known || !known.result.ok) return 0;
    return Math.max(0, this.revalidateAfterMs - (this.now() - known.at));
  }

  /** Whether a checked answer still holds: the same file (stat signature of the cached bytes), or still nothing there. */
  private stillSo(result: OpenResult, statPath: string): boolean {
    let st: BootFileStat | null;
    try {
      st = this.fs.statNow!(statPath);
    } catch {
      return false;
    }
    if (!result.ok) return st === null;
    const entry = this.cache.get(result.realPath);
    if (!st || !entry || entry.data !== result.data || entry.signature !== signature(st)) return false;
    this.touch(result.realPath);
    return true;
  }

  /**
   * The boot folder's real path, resolved at most once a second (every file of every Pi of an
   * image shares it); a failure is not kept.
   */
  private realRoot(bootPath: string): Promise<string> {
    const now = this.now();
    const known = this.roots.get(bootPath);
    if (known && now - known.at < this.revalidateAfterMs) return known.root;
    const root = this.fs.realpath(bootPath);
    if (this.revalidateAfterMs > 0) {
      if (this.roots.size >= MAX_CHECKED) this.roots.clear();
      this.roots.set(bootPath, { root, at: now });
      root.catch(() => {
        if (this.roots.get(bootPath)?.root === root) this.roots.delete(bootPath);
      });
    }
    return root;
  }

  /** Keeps a file or a "not found" (an I/O error or a refusal is checked again next time). */
  private rememberChecked(key: string, result: OpenResult, at: number, statPath: string): void {
    this.checked.delete(key);
    const now = this.now();
    for (const [oldKey, old] of this.checked) {
      if (now - old.at < this.revalidateAfterMs && this.checked.size < MAX_CHECKED) break;
      this.checked.delete(oldKey);
    }
    if (result.ok || result.error === 'not-found') this.checked.set(key, { result, at, statPath });
  }

  /**
   * Resolves, fences, stats and reads (or finds in the cache) one file. `seen.statPath`: what to
   * stat to know the answer still holds (set for a file and for "not found" only).
   */
  private async check(bootPath: string, relPath: string, seen: { statPath?: string }): Promise<OpenResult> {
    let root: string;
    try {
      root = await this.realRoot(bootPath);
    } catch (err) {
      seen.statPath = bootPath;
      return fromError(err, 'boot folder');
    }
    const joined = path.join(root, relPath);
    if (!isInside(root, joined)) return failure('outside', `${relPath} is not inside ${root}`);

    let realPath: string;
    try {
      realPath = await this.fs.realpath(joined);
    } catch (err) {
      seen.statPath = joined;
      return fromError(err, relPath);
    }
    seen.statPath = realPath;
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
      this.touch(realPath);
      return { ok: true, data: cached.data, realPath, mtimeMs: cached.mtimeMs, signature: sig };
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
        return { ok: true, data, realPath, mtimeMs: after.mtimeMs, signature: sig };
      }
      return failure('io', `${realPath} changed while being read, ${READ_ATTEMPTS} times`);
    } catch (err) {
      return fromError(err, realPath);
    }
  }

  /** Marks a cached file as the most recently used. */
  private touch(realPath: string): void {
    const entry = this.cache.get(realPath);
    if (!entry) return;
    this.cache.delete(realPath);
    this.cache.set(realPath, entry);
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
