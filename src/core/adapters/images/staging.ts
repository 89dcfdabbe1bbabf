/**
 * Staging folders: every tree or file an import or export makes is built beside its target, in
 * `<dirname(target)>/.staging-<random>` (same file system, so the final step is one rename), and
 * renamed into place only when it is complete. On any error or abort the staging folder is removed;
 * one left by a crash (bramble killed mid-import) is found by its `.staging-` prefix and removed by
 * the version store's `sweepStaging`.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The name prefix of a staging folder (the version store's sweepStaging removes stale ones). */
export const STAGING_PREFIX = '.staging-';

/** A fresh staging path beside `target` (same folder, so the final rename stays on one file system). */
export function stagingPathFor(target: string): string {
  return join(dirname(target), `${STAGING_PREFIX}${randomBytes(8).toString('hex')}`);
}

export interface Staging {
  /** The staging folder itself. */
  dir: string;
  /** Where the tree (or file) is built: `<dir>/root`. Renamed to the target by `commit`. */
  root: string;
  /** Moves `root` to the target, then removes the staging folder. */
  commit(): Promise<void>;
  /** Removes the staging folder and everything in it (idempotent). */
  discard(): Promise<void>;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The target exists (before the start, or it appeared while the tree was being built). */
export class TargetExistsError extends Error {}

/**
 * A fresh staging folder for `target` (absolute; must not exist). Its parent is created if needed.
 * Throws TargetExistsError when the target exists (the caller maps it).
 */
export async function createStaging(target: string): Promise<Staging> {
  if (await exists(target)) throw new TargetExistsError(`${target} already exists`);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const dir = join(parent, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  const root = join(dir, 'root');
  const discard = (): Promise<void> => rm(dir, { recursive: true, force: true, maxRetries: 3 });
  return {
    dir,
    root,
    async commit() {
      if (await exists(target)) throw new TargetExistsError(`${target} appeared while ${basename(target)} was being built`);
      await rename(root, target);
      await discard();
    },
    discard,
  };
}
