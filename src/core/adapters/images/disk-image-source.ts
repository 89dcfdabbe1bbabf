/**
 * A Raspberry Pi OS disk image (.img, or .img.xz / .img.gz) taken apart without a loop device or
 * a mount: the partition table is decoded here (partition-table.ts), the FAT boot partition is
 * copied out by mtools (`mcopy -s -p -m -i disk.img@@OFFSET :: fat/`) and the ext4 root by debugfs
 * (`debugfs -R "rdump / root" disk.img?offset=OFFSET`), both at once, then ext-fixup.ts puts back
 * what rdump loses.
 *
 * A compressed image is decompressed once into `<staging>/disk.img`: node reads the source (hashing
 * it) into `xz -T0 -dc`, and writes xz's output sparsely (all-zero 4 KiB blocks are skipped, which
 * is most of a Raspberry Pi OS image's free space), so the temporary image costs only its data. An
 * uncompressed image is read in place (through a symlink in the staging folder, so that a `?` or
 * `@@` in its path cannot reach debugfs's or mtools' option syntax) and hashed while the tools run.
 */
import { mkdir, open, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fixUpRdump } from './ext-fixup';
import {
  decodePartitionTable,
  PartitionTableError,
  PARTITION_TABLE_BYTES,
  probeFilesystem,
  PROBE_BYTES,
  type Partition,
} from './partition-table';
import type { ProgressReporter } from './progress';
import { pumpSource, readHead, type PumpResult } from './source-stream';
import type { Staging } from './staging';
import { decompressorFor, type Compression } from './tar-source';
import { aborted, invalidSource, toolFailed, type ToolSet } from './tool-process';

/** The name of the (temporary) disk image inside the staging folder. */
const DISK = 'disk.img';
const FAT_DIR = 'fat';
const BLOCK = 4096;
const ZERO = Buffer.alloc(BLOCK);

export interface DiskExtractContext {
  tools: ToolSet;
  progress: ProgressReporter;
  signal?: AbortSignal;
}

export interface DiskExtractResult {
  pumped: PumpResult;
  /** The FAT partition's files, to be moved into the root's boot folder. */
  fatDir: string;
  warnings: string[];
}

/** Writes `stream` to `path`, skipping all-zero blocks (a sparse file); returns the bytes written. */
export async function writeSparse(stream: Readable, path: string): Promise<number> {
  const fh = await open(path, 'w', 0o600);
  let pos = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let runStart = -1;
      for (let off = 0; off < chunk.length; off += BLOCK) {
        const end = Math.min(off + BLOCK, chunk.length);
        const zero = chunk.compare(ZERO, 0, end - off, off, end) === 0;
        if (!zero && runStart < 0) runStart = off;
        else if (zero && runStart >= 0) {
          await fh.write(chunk, runStart, off - runStart, pos + runStart);
          runStart = -1;
        }
      }
      if (runStart >= 0) await fh.write(chunk, runStart, chunk.length - runStart, pos + runStart);
      pos += chunk.length;
    }
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
  return pos;
}

/** The boot and root partitions of the image at `path`, by their file systems' magic. */
async function findPartitions(path: string): Promise<{ boot: Partition; root: Partition }> {
  const size = (await stat(path)).size;
  let partitions: Partition[];
  try {
    partitions = decodePartitionTable(await readHead(path, PARTITION_TABLE_BYTES), size).partitions;
  } catch (error) {
    if (error instanceof PartitionTableError) throw invalidSource(`not a usable disk image: ${error.message}`);
    throw error;
  }
  const found: string[] = [];
  let boot: Partition | null = null;
  let root: Partition | null = null;
  for (const p of partitions) {
    const fs = probeFilesystem(await readHead(path, PROBE_BYTES, p.startBytes));
    found.push(`partition ${p.index}: ${fs ?? 'unknown file system'} (type ${p.type})`);
    if (fs === 'fat' && !boot) boot = p;
    if (fs === 'ext' && !root) root = p;
  }
  if (!boot || !root) {
    const missing = [!boot && 'a FAT boot partition', !root && 'an ext4 root partition'].filter(Boolean).join(' and ');
    throw invalidSource(`the disk image has no ${missing} (${found.join('; ')})`);
  }
  return { boot, root };
}

/** debugfs exits 0 whatever happened; what it wrote to stderr beyond its banner is the failure. */
function debugfsProblem(stderr: string): string | null {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/^debugfs \d+\.\d+/.test(l));
  return lines.length > 0 ? lines.slice(-5).join('\n') : null;
}

/** Takes the disk image `source` apart into `staging.root` (the ext4 root) and `<staging>/fat`. */
export async function extractDiskImage(
  source: string,
  compression: Compression,
  staging: Staging,
  ctx: DiskExtractContext,
): Promise<DiskExtractResult> {
  const { tools, progress } = ctx;
  const diskPath = join(staging.dir, DISK);
  let pumping: Promise<PumpResult>;
  const decompressor = decompressorFor(compression);
  if (decompressor) {
    progress.update({ phase: 'reading' });
    const dec = tools.spawn(decompressor[0], decompressor[1], { stdio: ['pipe', 'pipe', 'pipe'] });
    if (!dec.child.stdin || !dec.child.stdout) throw new Error('no pipes to the decompressor');
    const [pumped, decDone, written] = await Promise.allSettled([
      pumpSource(source, dec.child.stdin, progress, ctx.signal),
      dec.done,
      writeSparse(dec.child.stdout, diskPath),
    ]);
    if (ctx.signal?.aborted) throw aborted();
    if (decDone.status === 'rejected')
      throw invalidSource(`the ${compression} data is not readable (${decompressor[0]}: ${dec.stderr().trim() || 'failed'})`);
    if (pumped.status === 'rejected') throw toolFailed('read', `reading ${source}: ${(pumped.reason as Error).message}`);
    if (written.status === 'rejected') throw toolFailed('write', `writing the temporary disk image: ${(written.reason as Error).message}`);
    pumping = Promise.resolve(pumped.value);
  } else {
    await symlink(source, diskPath);
    pumping = pumpSource(source, null, progress, ctx.signal);
    pumping.catch(() => undefined);
  }

  const { boot, root } = await findPartitions(diskPath);
  progress.update({ phase: 'extracting-root' });
  const fatDir = join(staging.dir, FAT_DIR);
  await mkdir(fatDir, { mode: 0o755 });
  await mkdir(staging.root, { mode: 0o755 });
  const ext = `${DISK}?offset=${root.startBytes}`;
  const mcopy = tools.spawn('mcopy', ['-s', '-p', '-m', '-i', `${DISK}@@${boot.startBytes}`, '::', `${FAT_DIR}/`], {
    cwd: staging.dir,
    env: { ...process.env, LC_ALL: 'C', MTOOLS_SKIP_CHECK: '1' },
  });
  const rdump = tools.spawn('debugfs', ['-R', 'rdump / root', ext], { cwd: staging.dir });
  const [fatDone, extDone] = await Promise.allSettled([mcopy.done, rdump.done]);
  if (ctx.signal?.aborted) throw aborted();
  if (fatDone.status === 'rejected') throw fatDone.reason;
  if (extDone.status === 'rejected') throw extDone.reason;
  const problem = debugfsProblem(rdump.stderr());
  if (problem) throw toolFailed('debugfs', `rdump of partition ${root.index}: ${problem}`);

  const fixed = await fixUpRdump(ext, staging.root, staging.dir, tools, progress);
  const pumped = await pumping;
  return { pumped, fatDir, warnings: fixed.warnings };
}
