/**
 * Applies an overlayfs upper directory to a tree (a hard-link clone of the overlay's lower dir), so
 * the tree ends up as the merged view showed it. Rules, from the kernel's overlayfs documentation
 * (Documentation/filesystems/overlayfs.rst):
 *
 * - a whiteout (character device 0/0) deletes the name;
 * - an opaque directory (xattr `trusted.overlay.opaque` = `y`) hides everything below it in the
 *   lower dir: the tree's directory is emptied before the upper's content is moved in;
 * - any other non-directory replaces the name: it is RENAMED from the upper dir over the tree's
 *   name. The tree's old inode, which other versions share by hard link, is never opened for
 *   writing: that is the version store's invariant (version-store.ts);
 * - a directory is created when missing (or when a non-directory had its name), and gets the
 *   upper's owner, mode and times after its content is in place.
 *
 * The mount is made with `redirect_dir=off,metacopy=off,index=off` (command-runner.ts), so the
 * upper dir holds only these four kinds of entries: no redirects, no metadata-only copies.
 * Directory xattrs (rare: ACLs on folders) are not copied from the upper dir; a directory created
 * by the command gets none.
 */
import { lstat, lchown, mkdir, readdir, rename, rm, utimes, chmod } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { DomainError, ErrorCode } from '../../domain/shared/domain-error';
import { firstLines, runTool } from './run-tool';

/** Entries applied at most (a bound; a whole `apt full-upgrade` is some 100,000). */
const MAX_ENTRIES = 10_000_000;

export interface OverlayApplyStats {
  replaced: number;
  removed: number;
  directories: number;
}

export function isWhiteout(info: Stats): boolean {
  return info.isCharacterDevice() && info.rdev === 0;
}

/** Relative paths of the opaque directories in `upper`, from `getfattr` (node has no xattr API). */
export async function opaqueDirectories(upper: string, signal?: AbortSignal): Promise<Set<string>> {
  const result = await runTool(
    'getfattr',
    ['-R', '-h', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.opaque$', '-e', 'text', upper],
    signal,
  );
  if (result.code !== 0)
    throw new DomainError(ErrorCode.IMAGE_IMPORT_FAILED, `getfattr on the command's layer failed: ${firstLines(result.stderr)}`);
  return parseOpaque(result.stdout, upper);
}

/** `getfattr -d` output → relative paths whose `trusted.overlay.opaque` is `y`. */
export function parseOpaque(output: string, upper: string): Set<string> {
  const opaque = new Set<string>();
  let file: string | null = null;
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) file = unescapeGetfattr(line.slice('# file: '.length));
    else if (file !== null && line === 'trusted.overlay.opaque="y"') {
      if (file === upper) opaque.add('');
      else if (file.startsWith(`${upper}/`)) opaque.add(file.slice(upper.length + 1));
    }
  }
  return opaque;
}

/** getfattr writes unprintable bytes and backslashes in names as `\ooo` octal escapes. */
function unescapeGetfattr(name: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(name, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && i + 3 < raw.length && /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else bytes.push(raw[i]);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Moves the content of `upper` into `tree` (see the rules above). `upper` is consumed. */
export async function applyUpper(upper: string, tree: string, opaque: Set<string>): Promise<OverlayApplyStats> {
  const stats: OverlayApplyStats = { replaced: 0, removed: 0, directories: 0 };
  let seen = 0;
  const applyDir = async (rel: string): Promise<void> => {
    const from = rel === '' ? upper : join(upper, rel);
    const to = rel === '' ? tree : join(tree, rel);
    const entries = await readdir(from, { withFileTypes: true });
    for (const entry of entries) {
      if (++seen > MAX_ENTRIES) throw new DomainError(ErrorCode.IMAGE_IMPORT_FAILED, `the command's layer has over ${MAX_ENTRIES} entries`);
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const source = join(from, entry.name);
      const dest = join(to, entry.name);
      const info = await lstat(source);
      const existing = await lstat(dest).catch(() => null);
      if (isWhiteout(info)) {
        if (existing) {
          await rm(dest, { recursive: true, force: true });
          stats.removed++;
        }
      } else if (info.isDirectory()) {
        if (existing && !existing.isDirectory()) await rm(dest, { force: true });
        if (!existing || !existing.isDirectory()) await mkdir(dest, { mode: 0o700 });
        else if (opaque.has(childRel)) {
          for (const old of await readdir(dest)) await rm(join(dest, old), { recursive: true, force: true });
        }
        await applyDir(childRel);
        await lchown(dest, info.uid, info.gid);
        await chmod(dest, info.mode & 0o7777);
        await utimes(dest, info.atime, info.mtime);
        stats.directories++;
      } else {
        if (existing?.isDirectory()) await rm(dest, { recursive: true, force: true });
        await rename(source, dest); // replaces the name; the old inode (shared) is not touched
        stats.replaced++;
      }
    }
  };
  await applyDir('');
  const rootInfo = await lstat(upper);
  await lchown(tree, rootInfo.uid, rootInfo.gid);
  await chmod(tree, rootInfo.mode & 0o7777);
  return stats;
}
