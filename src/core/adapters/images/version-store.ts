/**
 * Image versions as copy-on-write clones of each other (the ImageVersionStore port).
 *
 * A version is a whole OS tree (a few GB). Copying it for every conversion or `apt install` would be
 * slow and fill the disk, so a clone shares file data with its parent:
 *
 * - `reflink` (btrfs, XFS with reflink=1): `cp -a --reflink=always`. Each file is its own inode
 *   sharing extents; a write to either copies the touched blocks. Nothing else to watch for.
 * - `hardlink` (ext4 and everything else on one file system): `cp -a -l`. Directories are recreated
 *   (owner, mode, times, xattrs), symlinks and device nodes are linked or recreated, and every
 *   regular file is a hard link: the SAME inode in both versions. This is only safe because nothing
 *   in bramble ever writes a version's file in place: every writer (the converter's applier, the
 *   command runner's layer apply) writes a new file and renames it over the old name, which replaces
 *   the name in one version and leaves the inode the others see untouched. A new writer must follow
 *   that rule (test/core/images checks the inodes and contents of the parent after each writer).
 *   Hard links also share owner, mode and xattrs, so those too are changed only by replacing the file.
 * - `copy`: `cp -a` when neither works (the target on another file system than the source).
 *
 * GNU cp rather than our own walk: it already keeps sparse files, xattrs (file capabilities such as
 * ping's cap_net_raw), ACLs, device nodes, FIFOs and timestamps, and it fails loudly.
 *
 * Every clone is built as `<dirname(target)>/.staging-<random>` and renamed to `target` when whole;
 * a crash leaves only `.staging-*` folders, which `sweepStaging` removes at start.
 */
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import type { CloneMethod, ImageJobOptions, ImageVersionStore } from '../../commands/image-ports';
import { DomainError, ErrorCode } from '../../domain/shared/domain-error';
import { SLICE, yieldToLoop } from './ext-fixup';
import { firstLines, runTool } from './run-tool';
import { exists, STAGING_PREFIX, stagingPathFor } from './staging';

/** cp's arguments per method, in the order they are tried. */
const CP_ARGS: Record<CloneMethod, string[]> = {
  reflink: ['-a', '--reflink=always', '--no-target-directory'],
  hardlink: ['-a', '-l', '--no-target-directory'],
  copy: ['-a', '--no-target-directory'],
};

/** How deep below the images folder `sweepStaging` looks (e.g. `<images>/<image>/.staging-x`). */
const SWEEP_DEPTH = 2;
/** Entries counted at most by `countEntries` (a bound, not a limit on image size in practice). */
const MAX_COUNT = 50_000_000;

export interface FsVersionStoreOptions {
  /** Methods to try, in order (tests force `hardlink` or `copy`); default all three. */
  methods?: CloneMethod[];
}

export class FsImageVersionStore implements ImageVersionStore {
  private readonly methods: CloneMethod[];

  constructor(
    /** The folder every image tree bramble makes lives under, e.g. `<data>/images`. */
    private readonly imagesDir: string,
    options: FsVersionStoreOptions = {},
  ) {
    this.methods = options.methods ?? ['reflink', 'hardlink', 'copy'];
  }

  async clone(source: string, target: string, options: ImageJobOptions = {}): Promise<{ method: CloneMethod; files: number }> {
    if (!isAbsolute(source) || !isAbsolute(target)) throw failed('clone: source and target must be absolute paths');
    const info = await lstat(source).catch(() => null);
    if (!info?.isDirectory()) throw failed(`clone: ${source} is not a directory`);
    if (await exists(target)) throw new DomainError(ErrorCode.IMAGE_EXISTS, `clone: ${target} already exists`);
    options.onProgress?.({ phase: 'cloning', bytesDone: 0, bytesTotal: null, files: 0 });
    // The target's folder may be new (`<images>/<new image>/v1` for a cloned image).
    await mkdir(dirname(target), { recursive: true });
    const staging = stagingPathFor(target);
    const problems: string[] = [];
    try {
      for (const method of this.methods) {
        const result = await runTool('cp', [...CP_ARGS[method], '--', source, staging], options.signal);
        if (result.code === 0) {
          const files = await countEntries(staging);
          await rename(staging, target);
          options.onProgress?.({ phase: 'cloning', bytesDone: 0, bytesTotal: null, files });
          return { method, files };
        }
        problems.push(`${method}: ${firstLines(result.stderr, 2) || `cp exited ${result.code ?? result.signal}`}`);
        await rm(staging, { recursive: true, force: true });
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    throw failed(`clone of ${source} failed: ${problems.join(' | ')}`);
  }

  async remove(tree: string): Promise<void> {
    const path = this.insideImages(tree);
    if (path === null) return;
    // Renamed first, so a crash half-way leaves a `.staging-*` folder that the next sweep removes,
    // not a half-deleted tree that still looks like a version.
    const doomed = stagingPathFor(path);
    await rename(path, doomed);
    await rm(doomed, { recursive: true, force: true });
  }

  async sweepStaging(): Promise<string[]> {
    const removed: string[] = [];
    const visit = async (dir: string, depth: number): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      // A folder with etc/ is an OS tree: its own folders are the image's, not ours to sweep.
      if (depth > 0 && entries.some((e) => e.name === 'etc' && e.isDirectory())) return;
      for (const entry of entries) {
        if (!entry.isDirectory()) continue; // symlinks are never followed
        const path = join(dir, entry.name);
        if (entry.name.startsWith(STAGING_PREFIX)) {
          await rm(path, { recursive: true, force: true });
          removed.push(path);
        } else if (depth + 1 < SWEEP_DEPTH) {
          await visit(path, depth + 1);
        }
      }
    };
    await visit(this.imagesDir, 0);
    return removed.sort();
  }

  /**
   * `tree` resolved to a real path strictly inside the images folder, or null when it does not
   * exist. Refused: relative paths, the images folder itself, anything outside it (also through a
   * symlinked parent), and a symlink as the tree (removing it would not remove what it points at,
   * and following it could leave the images folder).
   */
  private insideImages(tree: string): string | null {
    const refuse = (why: string): DomainError => new DomainError(ErrorCode.IMAGE_INVALID, `path: ${tree} ${why}`, 'path');
    if (!isAbsolute(tree) || tree.includes('\0')) throw refuse('must be an absolute path');
    const images = realpathSync(this.imagesDir);
    let parent: string;
    try {
      parent = realpathSync(dirname(tree));
    } catch {
      return null;
    }
    const name = basename(tree);
    if (name === '' || name === '.' || name === '..') throw refuse('does not name a tree');
    const path = join(parent, name);
    if (!(path + sep).startsWith(images + sep) || path === images) throw refuse(`is not inside the images folder ${images}`);
    let info;
    try {
      info = lstatSync(path);
    } catch {
      return null;
    }
    if (info.isSymbolicLink()) throw refuse('is a symlink, not a tree');
    if (!info.isDirectory()) throw refuse('is not a directory');
    return path;
  }
}

/** Entries (files, links, folders) in a tree, the root excluded, without following symlinks. */
export async function countEntries(root: string): Promise<number> {
  let count = 0;
  const stack = [root];
  while (stack.length > 0 && count < MAX_COUNT) {
    const dir = stack.pop() as string;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      // A version has hundreds of thousands of entries: the protocols share this event loop.
      if (++count % SLICE === 0) await yieldToLoop();
      if (entry.isDirectory()) stack.push(join(dir, entry.name));
    }
  }
  return count;
}

function failed(message: string): DomainError {
  return new DomainError(ErrorCode.IMAGE_IMPORT_FAILED, message);
}
