/** A tree's state for before/after comparisons in the image tests. */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Relative paths of every entry, sorted, never following symlinks (node 20's recursive readdir does). */
export function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    out.push(path);
    if (entry.isDirectory()) out.push(...walk(root, path));
  }
  return out.sort();
}

/** Every entry's path, kind, mode, owner, inode and content hash. */
export function snapshot(root: string): string {
  const lines: string[] = [];
  for (const rel of walk(root)) {
    const info = lstatSync(join(root, rel));
    const content = info.isFile()
      ? createHash('sha256')
          .update(readFileSync(join(root, rel)))
          .digest('hex')
      : info.isSymbolicLink()
        ? readlinkSync(join(root, rel))
        : '';
    lines.push(`${rel} ${info.mode.toString(8)} ${info.uid}:${info.gid} ${info.ino} ${content}`);
  }
  return lines.join('\n');
}
