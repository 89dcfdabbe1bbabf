/**
 * Owner-only files and directories, whatever the umask. Everything in bramble's data directory is
 * private: the event store (and its WAL) holds every password hash, the snapshot too, the admin
 * token file is a credential.
 */
import { chmodSync, closeSync, constants, fchmodSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../logging/logger';

/** Mode bits of a path, or null when it does not exist. */
function modeOf(p: string): number | null {
  try {
    return lstatSync(p).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8)}`;

/**
 * Creates `dir` with mode 0700 when it is missing (its missing parents get the usual 0755-ish
 * modes); an existing `dir` open to group or others is tightened to owner-only, with a warning,
 * unless `tightenExisting` is false (a directory bramble does not own, say the one a store file
 * was given in, is left as it is).
 */
export function ensurePrivateDir(dir: string, logger?: Logger, options: { tightenExisting?: boolean } = {}): void {
  const mode = modeOf(dir);
  if (mode === null) {
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return; // created meanwhile by someone else: theirs
    }
    chmodSync(dir, 0o700); // the umask may have taken bits away from 0700 (never added any)
    return;
  }
  if (options.tightenExisting !== false) tighten(dir, mode, logger);
}

/**
 * Creates `file` empty with mode 0600 when it is missing; an existing one open to group or others
 * is tightened (owner bits kept), with a warning. Used before sqlite opens a database: sqlite
 * creates the -wal and -shm files with the database file's mode.
 */
export function ensurePrivateFile(file: string, logger?: Logger): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    tightenIfExists(file, logger);
    return;
  }
  try {
    fchmodSync(fd, 0o600); // the umask may have taken bits away from 0600 (never added any)
  } finally {
    closeSync(fd);
  }
}

/** Tightens `p` (file or directory) to owner-only bits when it exists and is open to others. */
export function tightenIfExists(p: string, logger?: Logger): void {
  const mode = modeOf(p);
  if (mode !== null) tighten(p, mode, logger);
}

function tighten(p: string, mode: number, logger?: Logger): boolean {
  if ((mode & 0o077) === 0 || (mode & constants.S_IFMT) === constants.S_IFLNK) return false;
  const now = mode & 0o700;
  try {
    chmodSync(p, now);
  } catch (error) {
    logger?.warn('could not tighten the mode of a path that other users can read', { path: p, mode: octal(mode), error });
    return false;
  }
  logger?.warn('tightened the mode of a path that other users could read', { path: p, was: octal(mode), now: octal(now) });
  return true;
}

/** At most this many entries are visited under the data directory at start. */
const MAX_ENTRIES = 10_000;

/**
 * What bramble keeps in its data directory (add new files here). `plugins/` and
 * `process-managers/` are walked whole; `*.tmp` are checkpoint files being written
 * (persistence/checkpoint-file.ts).
 */
export const DATA_DIR_ENTRIES: readonly string[] = [
  'events.db',
  'events.db-wal',
  'events.db-shm',
  'events.db-journal',
  'read-models.snapshot.json',
  'admin-token',
  'bramble.lock',
  'plugins',
  'process-managers',
];

const isOwn = (name: string): boolean => DATA_DIR_ENTRIES.includes(name) || name.endsWith('.tmp');

/**
 * The data directory, private: created 0700 when missing; else bramble's own entries in it (the
 * event store files, the snapshot, the admin token, the lock, everything under `plugins/` and
 * `process-managers/`) lose their group and other bits (owner bits kept; symbolic links are not
 * followed), and so does the directory itself, each change logged as a warning (files an older
 * bramble left readable).
 * A directory that also holds other files (BRAMBLE_DATA_DIR pointed at a shared place) is not
 * chmod'ed, nor are those files: a warning says so.
 */
export function secureDataDir(dataDir: string, logger: Logger): void {
  if (modeOf(dataDir) === null) {
    ensurePrivateDir(dataDir, logger);
    return;
  }
  const names = readdirSync(dataDir);
  const foreign = names.filter((n) => !isOwn(n));
  const mode = modeOf(dataDir)!;
  if ((mode & 0o077) !== 0) {
    if (foreign.length === 0) tighten(dataDir, mode, logger);
    else {
      logger.warn(
        "the data directory is readable by other users and holds files that are not bramble's: its mode is left as it is; give bramble a directory of its own (or chmod 0700 it)",
        {
          dataDir,
          mode: octal(mode),
          others: foreign.slice(0, 5),
        },
      );
    }
  }
  let visited = 0;
  const visit = (p: string): void => {
    if (++visited > MAX_ENTRIES) return;
    let m: number | null;
    try {
      m = modeOf(p);
    } catch {
      return;
    }
    if (m === null || (m & constants.S_IFMT) === constants.S_IFLNK) return;
    tighten(p, m, logger);
    if ((m & constants.S_IFMT) !== constants.S_IFDIR) return;
    let children: string[];
    try {
      children = readdirSync(p);
    } catch (error) {
      logger.warn('could not list a directory in the data directory', { path: p, error });
      return;
    }
    for (const name of children) visit(path.join(p, name));
  };
  for (const name of names) if (isOwn(name)) visit(path.join(dataDir, name));
  if (visited > MAX_ENTRIES)
    logger.warn('the data directory holds too many entries to check them all at start', { dataDir, checked: MAX_ENTRIES });
}
