/**
 * The planner's read port on disk, with chroot semantics: paths are resolved inside the image root
 * one component at a time, and a symlink in the image (`/lib -> /usr/lib`, absolute) is resolved
 * against the image root, never the host's. Without this, reading `/lib/systemd/system/x` in an
 * image whose `/lib` is an absolute symlink would read the server's own `/usr/lib`.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageEntry, ImageReader } from './conversion.planner';

/** Symlinks followed at most while resolving one path (Linux's own limit is 40). */
const MAX_LINKS = 40;

/**
 * The host path of image path `path` under `root`: every component but the last resolved inside the
 * image (the last is not followed: callers lstat it). `..` stops at the image root. Returns null
 * when a component is missing, not a folder, or there are too many links.
 */
export function resolveInImage(root: string, path: string): string | null {
  const pending = path.split('/').filter((s) => s !== '' && s !== '.');
  const last = pending.pop();
  if (last === undefined) return root;
  let parts: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '..') {
      parts.pop();
      continue;
    }
    const host = join(root, ...parts, name);
    let info;
    try {
      info = lstatSync(host);
    } catch {
      return null;
    }
    if (info.isSymbolicLink()) {
      if (++links > MAX_LINKS) return null;
      const target = readlinkSync(host);
      if (target.startsWith('/')) parts = [];
      pending.unshift(...target.split('/').filter((s) => s !== '' && s !== '.'));
      continue;
    }
    if (!info.isDirectory()) return null;
    parts.push(name);
  }
  if (last === '..') return join(root, ...parts.slice(0, -1));
  return join(root, ...parts, last);
}

export class FsImageReader implements ImageReader {
  constructor(private readonly root: string) {}

  private host(path: string): string | null {
    return resolveInImage(this.root, path);
  }

  lstat(path: string): ImageEntry | null {
    const host = this.host(path);
    if (host === null) return null;
    try {
      const info = lstatSync(host);
      const kind = info.isFile() ? 'file' : info.isDirectory() ? 'directory' : info.isSymbolicLink() ? 'symlink' : 'other';
      return { kind, mode: info.mode, uid: info.uid, gid: info.gid };
    } catch {
      return null;
    }
  }

  readFile(path: string): Buffer | null {
    const host = this.host(path);
    if (host === null || !lstatSync(host, { throwIfNoEntry: false })?.isFile()) return null;
    return readFileSync(host);
  }

  readlink(path: string): string | null {
    const host = this.host(path);
    try {
      return host === null ? null : readlinkSync(host);
    } catch {
      return null;
    }
  }

  readdir(path: string): string[] {
    const host = this.host(path);
    if (host === null || !lstatSync(host, { throwIfNoEntry: false })?.isDirectory()) return [];
    return readdirSync(host).sort();
  }
}
