/**
 * Finds an OS image's root tree and boot folder on disk (the ImageTreeInspector port: sync file
 * system reads, called by the image commands before they decide).
 *
 * The path is resolved (symlinks, `..`, `//`) before anything is checked, and the host's own root
 * and system folders are refused: registering `/` (or `/proc/self/root`, `//`, `/tmp/../`) would
 * export the server itself to every Pi.
 *
 * Inside the image, only real directories count (lstat): an absolute symlink in an image points
 * into the image's own root, and following it here would read the host's file system. `bin` is the
 * one exception: on merged-/usr systems (Bookworm) it is the symlink `bin -> usr/bin`.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import type { ImageTree, ImageTreeInspector } from '../commands/ports';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';

/**
 * The host's own folders: never an image, nor inside one of them (a pseudo file system, or the
 * server's system). Images live elsewhere, e.g. under /srv or /var/lib/bramble.
 */
const HOST_FOLDERS = ['/proc', '/sys', '/dev', '/run', '/boot', '/etc', '/bin', '/sbin', '/lib', '/lib64', '/usr'];

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

/** Why a resolved path is one of the host's own folders, or null. */
export function hostFolderProblem(resolved: string): string | null {
  if (resolved === '/') return "is the server's own root file system";
  const folder = HOST_FOLDERS.find((f) => resolved === f || resolved.startsWith(f + sep));
  return folder ? `is inside the server's system folder ${folder}` : null;
}

export function locateImageTree(path: string): ImageTree {
  if (typeof path !== 'string' || !isAbsolute(path)) throw invalid('must be an absolute path');
  if (path.includes('\0')) throw invalid('must not contain NUL');
  if (path.length > 4096) throw invalid('is longer than 4096 characters');
  let root: string;
  try {
    root = realpathSync(path);
  } catch {
    throw invalid(`${path} does not exist`);
  }
  const hostProblem = hostFolderProblem(root);
  if (hostProblem) throw invalid(`${path}${root !== path ? ` (${root})` : ''} ${hostProblem}`);
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

export class FsImageTreeInspector implements ImageTreeInspector {
  locate(path: string): ImageTree {
    return locateImageTree(path);
  }
}
