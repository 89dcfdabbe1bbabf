/**
 * The data directory, checked before anything is opened in it: it must be a real, writable
 * folder. A pseudo file system (/proc, /sys, /dev) is refused at once, and a folder that cannot be
 * created or written names the real cause (read-only file system, permission denied, no space),
 * instead of failing later inside the event store with a message that says nothing.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, realpathSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from './config';

const PSEUDO_FILE_SYSTEMS = ['/proc', '/sys', '/dev'];

const ERRNO_WORDS: Record<string, string> = {
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file of that name is in the way',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the path is too long',
};

function cause(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return `${code}${ERRNO_WORDS[code] ? ` (${ERRNO_WORDS[code]})` : code ? '' : (error as Error).message}`;
}

/** The path with its existing part resolved (symlinks), so /tmp/x -> /proc is caught too. */
function resolvedPrefix(dir: string): string {
  let existing = dir;
  const rest: string[] = [];
  while (!existsSync(existing) && path.dirname(existing) !== existing) {
    rest.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  try {
    return path.join(realpathSync(existing), ...rest);
  } catch {
    return dir;
  }
}

/** Creates the data directory (0700) if needed and proves it writable; throws ConfigError naming the cause. */
export function prepareDataDir(dir: string): void {
  const resolved = resolvedPrefix(path.resolve(dir));
  const pseudo = PSEUDO_FILE_SYSTEMS.find((p) => resolved === p || resolved.startsWith(p + path.sep));
  if (pseudo) throw new ConfigError('BRAMBLE_DATA_DIR', `${dir} is inside ${pseudo}, a pseudo file system: it cannot hold the event store`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError('BRAMBLE_DATA_DIR', `cannot create ${dir}: ${cause(error)}`);
  }
  const probe = path.join(dir, `.write-test-${process.pid}`);
  try {
    const fd = openSync(probe, 'wx', 0o600);
    try {
      writeSync(fd, 'bramble');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    unlinkSync(probe);
  } catch (error) {
    throw new ConfigError('BRAMBLE_DATA_DIR', `cannot write in ${dir}: ${cause(error)}`);
  }
}
