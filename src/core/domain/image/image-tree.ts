/**
 * Finds an OS image's root tree and boot folder on disk (sync file system reads: called by the
 * RegisterImage handler before it decides).
 *
 * Inside the image, only real directories count (lstat): an absolute symlink in an image points
 * into the image's own root, and following it here would read the host's file system. `bin` is the
 * one exception: on merged-/usr systems (Bookworm) it is the symlink `bin -> usr/bin`.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { DomainError, ErrorCode } from '../shared/domain-error';

export interface ImageTree {
  /** The root tree, symlinks resolved. */
  path: string;
  /** `<path>/boot/firmware` (Bookworm and later) or else `<path>/boot`. */
  bootPath: string;
}

function invalid(message: string): DomainError {
  return new DomainError(ErrorCode.IMAGE_INVALID, `path: ${message}`, 'path');
}

function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export function locateImageTree(path: string): ImageTree {
  if (typeof path !== 'string' || !isAbsolute(path)) throw invalid('must be an absolute path');
  if (path.includes('\0')) throw invalid('must not contain NUL');
  let root: string;
  try {
    root = realpathSync(path);
  } catch {
    throw invalid(`${path} does not exist`);
  }
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // unreadable: reported as not a directory
  }
  if (!isDir) throw invalid(`${path} is not a directory`);

  const missing: string[] = [];
  if (!isRealDirectory(join(root, 'etc'))) missing.push('etc/');
  if (!isRealDirectory(join(root, 'usr')) && !exists(join(root, 'bin'))) missing.push('usr/ or bin');
  if (missing.length > 0) throw invalid(`${root} is not a root file system: missing ${missing.join(' and ')}`);

  const firmware = join(root, 'boot', 'firmware');
  const boot = join(root, 'boot');
  if (isRealDirectory(boot) && isRealDirectory(firmware)) return { path: root, bootPath: firmware };
  if (isRealDirectory(boot)) return { path: root, bootPath: boot };
  throw invalid(`${root} has no boot folder: missing boot/firmware/ or boot/`);
}
