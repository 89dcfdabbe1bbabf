/**
 * The ImageImporter port (src/core/commands/image-ports.ts): an OS image from a root tarball, a
 * Raspberry Pi OS disk image or a directory becomes a tree in bramble's images folder, whole or not
 * at all; and a tree becomes a `.tar.xz`.
 *
 * The work is done by the tools built for it — GNU tar, xz, mtools, debugfs, cp — spawned without a
 * shell; this file chooses the route, keeps the staging folder (staging.ts), checks the result is an
 * OS root, and reports what it found (os-detect.ts). Every route reads the source file once, hashing
 * it on the way.
 *
 * Where the FAT partition's files go: `boot/firmware/` for Bookworm and later (where Raspberry Pi OS
 * mounts it), else `boot/` (os-detect.ts `bootFolderFor`).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import type { ImageSource } from '../../plugin-api/events';
import type { ImageImporter, ImageJobOptions, ImportResult } from '../../commands/image-ports';
import { DomainError, ErrorCode } from '../../domain/shared/domain-error';
import { hostFolderProblem } from '../fs-image-tree';
import { extractDiskImage } from './disk-image-source';
import { SLICE, yieldToLoop } from './ext-fixup';
import { bootFolderFor, detectOs } from './os-detect';
import { ProgressReporter } from './progress';
import { readHead, type PumpResult } from './source-stream';
import { createStaging, exists, TargetExistsError, type Staging } from './staging';
import { extractTarball, type Compression } from './tar-source';
import { aborted, invalidSource, toolFailed, ToolSet } from './tool-process';

export type SourceFormat =
  { kind: 'tar'; compression: Compression } | { kind: 'disk-image'; compression: Compression } | { kind: 'directory' };

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const GZIP_MAGIC = [0x1f, 0x8b];

/** A source file's format from its name, checked against its first bytes (pure). */
export function formatOf(name: string, head: Uint8Array): SourceFormat | string {
  const lower = name.toLowerCase();
  const starts = (magic: number[]): boolean => magic.every((b, i) => head[i] === b);
  const table: [string[], SourceFormat][] = [
    [['.tar.xz', '.txz'], { kind: 'tar', compression: 'xz' }],
    [['.tar.gz', '.tgz'], { kind: 'tar', compression: 'gzip' }],
    [['.tar'], { kind: 'tar', compression: 'none' }],
    [['.img.xz'], { kind: 'disk-image', compression: 'xz' }],
    [['.img.gz'], { kind: 'disk-image', compression: 'gzip' }],
    [['.img'], { kind: 'disk-image', compression: 'none' }],
  ];
  const hit = table.find(([suffixes]) => suffixes.some((s) => lower.endsWith(s)));
  if (!hit) return `unknown format: ${name} is not a .tar, .tar.gz, .tar.xz, .img, .img.xz or .img.gz file, nor a directory`;
  const format = hit[1];
  if (format.kind === 'directory') return format;
  if (format.compression === 'xz' && !starts(XZ_MAGIC)) return `${name} is not xz data (no xz magic bytes)`;
  if (format.compression === 'gzip' && !starts(GZIP_MAGIC)) return `${name} is not gzip data (no gzip magic bytes)`;
  if (format.kind === 'disk-image' && format.compression === 'none' && (head[510] !== 0x55 || head[511] !== 0xaa)) {
    return `${name} is not a disk image: its first sector has no partition table (no 55 AA signature)`;
  }
  if (format.kind === 'tar' && format.compression === 'none' && String.fromCharCode(...head.subarray(257, 262)) !== 'ustar') {
    return `${name} is not a tar archive (no ustar header)`;
  }
  return format;
}

/** Size and file count of a tree: every entry but the root counts; a hard-linked inode's bytes once. */
export async function measureTree(root: string, tools?: ToolSet): Promise<{ sizeBytes: number; fileCount: number }> {
  let sizeBytes = 0;
  let fileCount = 0;
  const seen = new Set<string>();
  const queue = [root];
  while (queue.length > 0) {
    tools?.checkAborted();
    const dir = queue.pop() as string;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (++fileCount % SLICE === 0) await yieldToLoop();
      const path = join(dir, entry.name);
      if (entry.isDirectory()) queue.push(path);
      else if (entry.isFile()) {
        const st = lstatSync(path);
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        sizeBytes += st.size;
      }
    }
  }
  return { sizeBytes, fileCount };
}

async function isRealDir(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Moves the contents of `from` into `to` (a real folder), merging folders, replacing files. */
async function moveInto(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const [srcSt, dstDir] = [await lstat(src), await isRealDir(dst)];
    if (srcSt.isDirectory() && dstDir) await moveInto(src, dst);
    else {
      if (await exists(dst)) await rm(dst, { recursive: true, force: true });
      await rename(src, dst);
    }
  }
}

/**
 * Puts the FAT partition's files into the root's boot folder (`boot/firmware` or `boot`), which
 * must be a real folder if it exists: a symlink there would lead outside the image.
 */
async function placeBootFiles(root: string, fatDir: string): Promise<string> {
  const { osRelease } = await detectOs(root);
  const boot = join(root, 'boot');
  const firmware = join(boot, 'firmware');
  for (const path of [boot, firmware]) {
    if ((await exists(path)) && !(await isRealDir(path))) throw invalidSource(`the root's /${path.slice(root.length + 1)} is not a folder`);
  }
  const emptyFirmware = (await isRealDir(firmware)) && (await readdir(firmware)).length === 0;
  const folder = join(root, bootFolderFor(osRelease, emptyFirmware));
  await mkdir(folder, { recursive: true, mode: 0o755 });
  await moveInto(fatDir, folder);
  return folder;
}

/** The boot folder of a finished tree, as fs-image-tree.ts finds it; IMAGE_INVALID when it is not an OS root. */
async function checkRoot(root: string): Promise<string> {
  const missing: string[] = [];
  if (!(await isRealDir(join(root, 'etc')))) missing.push('etc/');
  if (!(await isRealDir(join(root, 'usr'))) && !(await exists(join(root, 'bin')))) missing.push('usr/ or bin');
  if (missing.length > 0) throw invalidSource(`not a root file system: missing ${missing.join(' and ')}`);
  const firmware = join(root, 'boot', 'firmware');
  if (await isRealDir(firmware)) return firmware;
  if (await isRealDir(join(root, 'boot'))) return join(root, 'boot');
  throw invalidSource('no boot folder: missing boot/firmware/ or boot/');
}

async function resolveSource(source: string): Promise<string> {
  if (typeof source !== 'string' || !isAbsolute(source)) throw invalidSource('must be an absolute path');
  if (source.includes('\0')) throw invalidSource('must not contain NUL');
  let real: string;
  try {
    real = await realpath(source);
  } catch {
    throw invalidSource(`${source} does not exist`);
  }
  const problem = hostFolderProblem(real);
  if (problem) throw invalidSource(`${source}${real !== source ? ` (${real})` : ''} ${problem}`);
  return real;
}

function targetExists(target: string): DomainError {
  return new DomainError(ErrorCode.IMAGE_EXISTS, `target: ${target} already exists`, 'target');
}

/** Runs `work` with a ToolSet tied to the signal; on any failure kills the tools and discards the staging. */
async function asJob<T>(
  what: 'import' | 'export',
  staging: Staging,
  options: ImageJobOptions,
  work: (tools: ToolSet) => Promise<T>,
): Promise<T> {
  const tools = new ToolSet(options.signal);
  const onAbort = (): void => void tools.killAll();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    tools.checkAborted();
    const result = await work(tools);
    tools.checkAborted();
    await staging.commit();
    return result;
  } catch (error) {
    await tools.killAll();
    await staging.discard();
    if (options.signal?.aborted) throw aborted();
    if (error instanceof DomainError) throw error;
    if (error instanceof TargetExistsError) throw new DomainError(ErrorCode.IMAGE_EXISTS, `target: ${error.message}`, 'target');
    throw toolFailed(what, (error as Error).message);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

export class FsImageImporter implements ImageImporter {
  async import(source: string, target: string, options: ImageJobOptions = {}): Promise<ImportResult> {
    if (options.signal?.aborted) throw aborted();
    const real = await resolveSource(source);
    const st = await stat(real);
    let format: SourceFormat;
    if (st.isDirectory()) format = { kind: 'directory' };
    else if (st.isFile()) {
      const f = formatOf(basename(real), await readHead(real, 512));
      if (typeof f === 'string') throw invalidSource(f);
      format = f;
    } else throw invalidSource(`${source} is neither a file nor a directory`);
    if (!isAbsolute(target)) throw new DomainError(ErrorCode.VALIDATION, 'target: must be an absolute path', 'target');
    if (real === target || target.startsWith(real + '/')) throw invalidSource('the target lies inside the source');
    if (await exists(target)) throw targetExists(target);
    let staging: Staging;
    try {
      staging = await createStaging(target);
    } catch (error) {
      if (await exists(target)) throw targetExists(target);
      throw toolFailed('mkdir', (error as Error).message);
    }

    const progress = new ProgressReporter(options.onProgress, format.kind === 'directory' ? null : st.size);
    return asJob('import', staging, options, async (tools) => {
      const ctx = { tools, progress, signal: options.signal };
      let pumped: PumpResult | null = null;
      const warnings: string[] = [];
      if (format.kind === 'tar') {
        pumped = await extractTarball(real, format.compression, staging.root, ctx);
      } else if (format.kind === 'disk-image') {
        const disk = await extractDiskImage(real, format.compression, staging, ctx);
        pumped = disk.pumped;
        warnings.push(...disk.warnings);
        progress.update({ phase: 'extracting-boot' });
        await placeBootFiles(staging.root, disk.fatDir);
        await rm(join(staging.dir, 'disk.img'), { force: true });
      } else {
        await checkRoot(real); // before copying gigabytes of something that is not an OS root
        progress.update({ phase: 'copying' });
        await mkdir(staging.root, { mode: 0o755 });
        await tools.run('cp', ['-a', '--reflink=auto', '--', `${real}/.`, `${staging.root}/`]);
      }
      const bootInStaging = await checkRoot(staging.root);
      const { osRelease, architecture } = await detectOs(staging.root);
      progress.update({ phase: 'counting' });
      const measured = await measureTree(staging.root, tools);
      const imageSource: ImageSource = {
        kind: format.kind,
        path: source,
        sha256: pumped?.sha256 ?? null,
        sizeBytes: pumped?.bytes ?? measured.sizeBytes,
      };
      progress.finish({ phase: 'done', bytesDone: pumped?.bytes ?? 0, files: measured.fileCount });
      return {
        source: imageSource,
        bootPath: join(target, bootInStaging.slice(staging.root.length + 1)),
        sizeBytes: measured.sizeBytes,
        fileCount: measured.fileCount,
        osRelease,
        architecture,
        warnings,
      };
    });
  }

  async export(tree: string, file: string, options: ImageJobOptions = {}): Promise<{ sha256: string; sizeBytes: number }> {
    if (options.signal?.aborted) throw aborted();
    if (!isAbsolute(tree) || !(await isRealDir(tree)))
      throw new DomainError(ErrorCode.IMAGE_INVALID, `tree: ${tree} is not a folder`, 'tree');
    if (!isAbsolute(file)) throw new DomainError(ErrorCode.VALIDATION, 'file: must be an absolute path', 'file');
    if (file.startsWith(tree + '/')) throw new DomainError(ErrorCode.VALIDATION, 'file: must not be inside the tree it archives', 'file');
    if (await exists(file)) throw new DomainError(ErrorCode.IMAGE_EXISTS, `file: ${file} already exists`, 'file');
    const staging = await createStaging(file);
    const progress = new ProgressReporter(options.onProgress, null);
    return asJob('export', staging, options, async (tools) => {
      progress.update({ phase: 'writing' });
      const tar = tools.spawn('tar', [...TAR_CREATE_ARGS, '-C', tree, '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const xz = tools.spawn('xz', ['-T0', '-c'], { stdio: [tar.child.stdout ?? 'ignore', 'pipe', 'pipe'] });
      tar.child.stdout?.destroy(); // xz has it now (see tar-source.ts)
      const hash = createHash('sha256');
      let size = 0;
      const fh = await open(staging.root, 'wx', 0o644);
      const writing = (async () => {
        try {
          for await (const chunk of xz.child.stdout as AsyncIterable<Buffer>) {
            hash.update(chunk);
            size += chunk.length;
            await fh.write(chunk);
            progress.update({ bytesDone: size });
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
      })();
      const results = await Promise.allSettled([tar.done, xz.done, writing]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
      progress.finish({ phase: 'done', bytesDone: size });
      return { sha256: hash.digest('hex'), sizeBytes: size };
    });
  }
}

/** GNU tar for an export: numeric owners, xattrs (capabilities), ACLs, sparse files, stable order. */
export const TAR_CREATE_ARGS = ['-c', '-f', '-', '--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '--sparse', '--sort=name'];
