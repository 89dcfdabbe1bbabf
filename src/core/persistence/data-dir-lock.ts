/**
 * One bramble process per data directory. Two processes on one event store file would each
 * believe they own its writer, its snapshot and its plugin checkpoints.
 *
 * The lock is `flock(LOCK_EX | LOCK_NB)` on `<data>/bramble.lock` (through libc with koffi, as
 * the DHCP plugin does for its sockets): the kernel releases it when the process ends, however it
 * ends (a SIGKILLed bramble never locks its directory for good), and a second process gets
 * EWOULDBLOCK at once. The file holds the owner's pid, for the refusal's message. It is never
 * deleted (deleting a locked file would let a third process lock a new inode beside the old one).
 */
import { closeSync, constants, fchmodSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import koffi from 'koffi';
import type { Logger } from '../logging/logger';

export const LOCK_FILE = 'bramble.lock';
export const DATA_DIR_LOCKED = 'DATA_DIR_LOCKED';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EWOULDBLOCK = 11;

interface Flock {
  flock(fd: number, operation: number): number;
  errno(): number;
}

let flockFn: Flock | null | undefined;

function loadFlock(logger: Logger): Flock | null {
  if (flockFn !== undefined) return flockFn;
  try {
    const lib = koffi.load('libc.so.6');
    const flock = lib.func('int flock(int, int)') as (fd: number, operation: number) => number;
    flockFn = { flock, errno: () => koffi.errno() };
  } catch (error) {
    logger.warn('cannot lock the data directory (flock through libc is not available): a second bramble on it would not be stopped', {
      error,
    });
    flockFn = null;
  }
  return flockFn;
}

/** Another process holds the data directory. */
export class DataDirLockedError extends Error {
  readonly code = DATA_DIR_LOCKED;
  constructor(
    readonly dataDir: string,
    /** The holder's pid, as it wrote it into the lock file (null if unreadable). */
    readonly pid: number | null,
  ) {
    super(
      `data directory ${dataDir} is in use by another bramble process (${pid === null ? 'pid unknown' : `pid ${pid}`}, holding ${path.join(dataDir, LOCK_FILE)}):` +
        ' stop it first, or give this one another BRAMBLE_DATA_DIR (two processes on one event store would corrupt it)',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Releases the lock (idempotent). The process ending releases it too. */
  release(): void;
}

/**
 * Takes the data directory's lock, or throws DataDirLockedError naming the process that holds it.
 * The directory must exist. Within one process a second lock on the same directory fails too.
 */
export function lockDataDir(dataDir: string, logger: Logger): DataDirLock {
  const file = path.join(dataDir, LOCK_FILE);
  // O_CLOEXEC (node's default): a program bramble runs never inherits, and so never keeps, the lock.
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  const libc = loadFlock(logger);
  if (libc && libc.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = libc.errno();
    closeSync(fd);
    if (errno !== EWOULDBLOCK) throw new Error(`cannot lock ${file}: errno ${errno}`);
    throw new DataDirLockedError(dataDir, readPid(file));
  }
  try {
    fchmodSync(fd, 0o600);
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  let released = false;
  return {
    file,
    release(): void {
      if (released) return;
      released = true;
      libc?.flock(fd, LOCK_UN);
      closeSync(fd);
    },
  };
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
