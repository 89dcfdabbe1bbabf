/**
 * Home folders: one per directory user, `<homesPath>/<username>`, owned by the user's uid and
 * primary gid, mode 0700. A deleted user's folder is moved (a rename, never a copy) to
 * `<archivePath>/<username>-<timestamp>`; bramble never deletes user files.
 *
 * Symlinks are never followed: a folder is created with mkdir (which does not follow a final
 * symlink: an existing link fails with EEXIST), then opened with O_NOFOLLOW | O_DIRECTORY and
 * chowned/chmodded through that descriptor, so a link planted under a user's name cannot make bramble
 * chown something else. An existing entry that is not a plain directory is left alone and reported.
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import { usernameProblem } from './nfs.paths';

export interface HomeUser {
  username: string;
  uidNumber: number;
  gidNumber: number;
}

export type HomeResult =
  { status: 'created' | 'exists' | 'archived' | 'absent'; path: string } | { status: 'refused'; path: string; reason: string };

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Creates `<homesPath>` (0755) and `<homesPath>/<username>` (0700, owned by the user) when missing. */
export async function ensureHome(homesPath: string, user: HomeUser): Promise<HomeResult> {
  const target = path.join(homesPath, user.username);
  const problem = usernameProblem(user.username);
  if (problem) return { status: 'refused', path: target, reason: problem };
  if (!Number.isInteger(user.uidNumber) || user.uidNumber <= 0 || !Number.isInteger(user.gidNumber) || user.gidNumber < 0) {
    return { status: 'refused', path: target, reason: 'uid 0 or an invalid uid/gid: no home folder owned by root is made' };
  }
  await fs.mkdir(homesPath, { recursive: true, mode: 0o755 });
  const existing = await lstatOrNull(target);
  if (existing) {
    if (existing.isDirectory()) return { status: 'exists', path: target };
    return {
      status: 'refused',
      path: target,
      reason: `exists and is not a folder (${existing.isSymbolicLink() ? 'a symlink' : 'a file'}): left alone`,
    };
  }
  try {
    await fs.mkdir(target, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return { status: 'refused', path: target, reason: 'appeared while being created: left alone' };
    throw error;
  }
  const handle = await fs.open(target, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await handle.chown(user.uidNumber, user.gidNumber);
    await handle.chmod(0o700);
  } finally {
    await handle.close();
  }
  return { status: 'created', path: target };
}

/** `2026-11-26T15:14:00.123Z` → `20261126T151400Z`. */
export function archiveStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/**
 * Moves `<homesPath>/<username>` to `<archivePath>/<username>-<stamp>` (a `-2`, `-3`... suffix when
 * taken). Only a plain directory is moved; a symlink or file under the name is left alone. The
 * archive must be on the same file system (EXDEV is reported, nothing is copied).
 */
export async function archiveHome(homesPath: string, archivePath: string, username: string, at: Date): Promise<HomeResult> {
  const source = path.join(homesPath, username);
  const problem = usernameProblem(username);
  if (problem) return { status: 'refused', path: source, reason: problem };
  const existing = await lstatOrNull(source);
  if (!existing) return { status: 'absent', path: source };
  if (!existing.isDirectory()) return { status: 'refused', path: source, reason: 'not a folder (a symlink or file): left alone' };
  await fs.mkdir(archivePath, { recursive: true, mode: 0o700 });
  const base = path.join(archivePath, `${username}-${archiveStamp(at)}`);
  for (let n = 1; n <= 100; n++) {
    const target = n === 1 ? base : `${base}-${n}`;
    if (await lstatOrNull(target)) continue;
    try {
      await fs.rename(source, target);
      return { status: 'archived', path: target };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EXDEV')
        return { status: 'refused', path: source, reason: `archive ${archivePath} is on another file system: not moved` };
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
    }
  }
  return { status: 'refused', path: source, reason: 'no free archive name: not moved' };
}
