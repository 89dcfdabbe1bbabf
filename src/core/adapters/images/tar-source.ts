/**
 * A root tarball (.tar, .tar.gz, .tar.xz) extracted by GNU tar into a staging folder, in one pass
 * over the source file: node reads it (hashing, counting) into the decompressor, whose stdout is
 * tar's stdin directly (no copy through node).
 *
 * Hostile members: GNU tar already refuses to write outside `-C` — it skips members whose name
 * contains `..` ("Member name contains '..'"), strips a leading `/`, and creates a symlink whose
 * target is absolute or climbs with `..` only at the very end, as a placeholder until then, so a
 * later member cannot be written through it. bramble goes further and refuses the whole tarball
 * when tar reports either of the first two (the test proves nothing was written outside the target):
 * an OS image never has such members, a crafted one does.
 */
import { mkdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { ProgressReporter } from './progress';
import { pumpSource, type PumpResult } from './source-stream';
import { aborted, invalidSource, toolFailed, type ToolRun, type ToolSet } from './tool-process';

export type Compression = 'none' | 'gzip' | 'xz';

/** The decompressor of a compression (xz multi-threaded: it uses the blocks `xz -T` wrote). */
export function decompressorFor(compression: Compression): [string, string[]] | null {
  if (compression === 'xz') return ['xz', ['-T0', '-dc']];
  if (compression === 'gzip') return ['gzip', ['-dc']];
  return null;
}

/** GNU tar, keeping everything a root file system needs. */
export const TAR_EXTRACT_ARGS = [
  '-x',
  '-v',
  '-f',
  '-',
  '--numeric-owner',
  '--same-owner',
  '--same-permissions',
  '--xattrs',
  '--xattrs-include=*',
  '--acls',
];

/** What in tar's stderr means the tarball tried to leave its folder, and why bramble refuses it. */
export function hostileMemberProblem(stderr: string): string | null {
  const dotdot = /([^\n:]*): Member name contains '\.\.'/.exec(stderr);
  if (dotdot) return `the tarball has a member that climbs out of the image with '..' (${dotdot[1].replace(/^tar: /, '')})`;
  const leading = /Removing leading `([^']*)' from (member names|hard link targets)/.exec(stderr);
  if (leading)
    return `the tarball has members with absolute names or '..' prefixes (tar: removing leading '${leading[1]}' from ${leading[2]})`;
  return null;
}

/** Why tar's stderr says the input is not a tarball at all, or null. */
function notATarball(stderr: string): boolean {
  return /does not look like a tar archive|Unexpected EOF in archive|Skipping to next header|invalid tar magic/i.test(stderr);
}

export interface TarExtractContext {
  tools: ToolSet;
  progress: ProgressReporter;
  signal?: AbortSignal;
}

/** Extracts `source` into the new folder `root`; returns the source's sha256 and size. */
export async function extractTarball(source: string, compression: Compression, root: string, ctx: TarExtractContext): Promise<PumpResult> {
  await mkdir(root, { mode: 0o755 });
  ctx.progress.update({ phase: 'extracting-root' });
  const decompressor = decompressorFor(compression);
  const dec: ToolRun | null = decompressor ? ctx.tools.spawn(decompressor[0], decompressor[1], { stdio: ['pipe', 'pipe', 'pipe'] }) : null;
  const tar = ctx.tools.spawn('tar', [...TAR_EXTRACT_ARGS, '-C', root], {
    stdio: [dec ? (dec.child.stdout as Readable) : 'pipe', 'pipe', 'pipe'],
  });
  // The decompressor's stdout now belongs to tar; the parent's copy must go, or the decompressor's
  // 'close' never comes (node waits for every stdio stream of a child to close).
  dec?.child.stdout?.destroy();
  tar.child.stdout?.on('data', (chunk: Buffer) => {
    let lines = 0;
    for (const byte of chunk) if (byte === 10) lines++;
    ctx.progress.addFiles(lines);
  });
  const sink = dec ? dec.child.stdin : tar.child.stdin;
  if (!sink) throw new Error('no stdin pipe');
  const [pumped, decDone, tarDone] = await Promise.allSettled([pumpSource(source, sink, ctx.progress, ctx.signal), dec?.done, tar.done]);
  if (ctx.signal?.aborted) throw aborted();
  const hostile = hostileMemberProblem(tar.stderr());
  if (hostile) throw invalidSource(hostile);
  if (decDone.status === 'rejected') {
    throw invalidSource(`the ${compression} data is not readable (${decompressor?.[0]}: ${dec?.stderr().trim() || 'failed'})`);
  }
  if (tarDone.status === 'rejected') {
    if (notATarball(tar.stderr())) throw invalidSource(`not a tar archive (tar: ${tar.stderr().trim().split('\n').slice(-2).join('; ')})`);
    throw tarDone.reason;
  }
  if (pumped.status === 'rejected') throw toolFailed('read', `reading ${source}: ${(pumped.reason as Error).message}`);
  return pumped.value;
}
