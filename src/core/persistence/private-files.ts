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
 * modes); an existing `dir` open to group or others is tightened to owner-only, with a warning.
 */
export function ensurePrivateDir(dir: string, logger?: Logger): void {
  const mode = modeOf(dir);
  if (mode === null) {
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    chmodSync(dir, 0o700); // the umask may have taken bits away from 0700 (never added any)
    return;
  }
  tighten(dir, mode, logger);
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
 * The data directory, private: created 0700 when missing, else tightened to owner-only, and so is
 * everything in it (the event store files, the snapshot, the admin token, `plugins/`...): group
 * and other bits are removed, owner bits kept; symbolic links are not followed. Each change is
 * logged as a warning (files an older bramble or an admin left readable).
 */
export function secureDataDir(dataDir: string, logger: Logger): void {
  ensurePrivateDir(dataDir, logger);
  let visited = 0;
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      logger.warn('could not list a directory in the data directory', { path: dir, error });
      return;
    }
    for (const name of names) {
      if (++visited > MAX_ENTRIES) return;
      const p = path.join(dir, name);
      let mode: number | null;
      try {
        mode = modeOf(p);
      } catch {
        continue;
      }
      if (mode === null || (mode & constants.S_IFMT) === constants.S_IFLNK) continue;
      tighten(p, mode, logger);
      if ((mode & constants.S_IFMT) === constants.S_IFDIR) walk(p);
    }
  };
  walk(dataDir);
  if (visited > MAX_ENTRIES) logger.warn('the data directory holds too many entries to check them all at start', { dataDir, checked: MAX_ENTRIES });
}
