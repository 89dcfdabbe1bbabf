/**
 * Image import: bramble's importer on a 1 GiB Raspberry Pi OS-like `.img.xz` against the baseline
 * `xz -T0 -dc root.tar.xz | tar -x` of the same root content (target: importer ≤ 1.3× the baseline).
 *
 * The fixtures are built once and cached in /var/cache/bramble-bench/image-import-<version>-<MiB>:
 * a root tree (test/support/image-fixtures.ts buildRootTree, plus ~850 MiB of generated content:
 * ~25,000 small text-like files, a tenth of them executable, in ~500 folders, and large files of
 * mixed incompressible and text-like 64 KiB blocks), made into a 1 GiB disk image (FAT32 boot
 * partition + ext4 from `mke2fs -d`) and a tarball of the same tree, both compressed with
 * `xz -T2 -1` (multi-block, so both sides can decompress on several threads).
 *
 * Each side runs twice, alternating (importer, baseline, importer, baseline), into fresh folders on
 * the same file system as the cache; nothing is dropped from the page cache in between. One line per
 * figure:
 *   image_import.importer  best=<s> median=<s>
 *   image_import.baseline  best=<s> median=<s>
 *   image_import.ratio     best=<importer best / baseline best> median=<...> target=1.3
 *
 * Run (root): node dist/bench/image-import.bench.js
 *   BRAMBLE_BENCH_MIB=<n> (850) the generated content; BRAMBLE_BENCH_ROUNDS=<n> (2).
 * The whole run is bounded (20 minutes, fixtures included); progress goes to stderr.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { FsImageImporter } from '../src/core/adapters/images/image-importer';
import { buildDiskImage, buildRootTree, buildTarball } from '../test/support/image-fixtures';
import { note, print } from './support/report';

const MIB = 1024 * 1024;
const VERSION = 'v1';
const CONTENT_MIB = Number(process.env.BRAMBLE_BENCH_MIB ?? 850);
const ROUNDS = Number(process.env.BRAMBLE_BENCH_ROUNDS ?? 2);
const DEADLINE = Date.now() + 20 * 60_000;
const CACHE = join('/var/cache/bramble-bench', `image-import-${VERSION}-${CONTENT_MIB}`);
/** The disk image: 1 MiB + 34 MiB FAT + the ext4 partition = 1 GiB at the default size. */
const ROOT_PART_MIB = CONTENT_MIB === 850 ? 1024 - 35 : Math.ceil(CONTENT_MIB * 1.12 + 40);

function checkDeadline(what: string): void {
  if (Date.now() > DEADLINE) throw new Error(`bench: out of time before ${what}`);
}

/** A small deterministic PRNG (xorshift32): the content does not need to be secret, only varied. */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const WORDS = (
  'the of and to in is for that on with as by at from this be are or an it not which have has config system ' +
  'service file user root boot kernel module driver device network address package library version debian ' +
  'raspberry pi firmware overlay display audio usb gpio serial bluetooth wireless ethernet interface option'
)
  .split(' ')
  .map((w) => Buffer.from(w + ' '));

/** Text-like bytes (words, lines, some numbers): compresses about 3–4× with xz, like docs and configs. */
function textLike(size: number, next: () => number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const r = next();
    const piece = r < 0.08 ? Buffer.from(`${Math.floor(next() * 1e9).toString(16)}\n`) : WORDS[Math.floor(r * WORDS.length)];
    at += piece.copy(out, at, 0, Math.min(piece.length, size - at));
  }
  return out;
}

/** Adds the bulk content to a root tree: small files in many folders and a few large files. */
function addContent(root: string, mib: number): { files: number; dirs: number } {
  const next = rng(0x5eed);
  const smallBudget = Math.floor(mib * 0.35 * MIB);
  let used = 0;
  let files = 0;
  let dirs = 0;
  let dir = '';
  while (used < smallBudget) {
    if (files % 50 === 0) {
      dir = join(root, 'usr/share/bench', `d${Math.floor(files / 2500)}`, `p${dirs++}`);
      mkdirSync(dir, { recursive: true });
    }
    const size = Math.floor(512 * Math.pow(64, next())); // 512 B .. 32 KiB, log-uniform
    const path = join(dir, `f${files}`);
    writeFileSync(path, next() < 0.2 ? randomBytes(size) : textLike(size, next));
    if (next() < 0.1) chmodSync(path, 0o755);
    used += size;
    files++;
  }
  mkdirSync(join(root, 'usr/lib/bench'), { recursive: true });
  let large = 0;
  while (used < mib * MIB) {
    const size = Math.min(Math.floor((8 + next() * 56) * MIB), mib * MIB - used);
    const blocks: Buffer[] = [];
    for (let at = 0; at < size; at += 64 * 1024) {
      const n = Math.min(64 * 1024, size - at);
      blocks.push(next() < 0.4 ? randomBytes(n) : textLike(n, next));
    }
    writeFileSync(join(root, 'usr/lib/bench', `large${large++}.bin`), Buffer.concat(blocks));
    used += size;
    files++;
  }
  return { files, dirs };
}

/** Builds (once) the .img.xz and the .tar.xz of the same root; returns their paths. */
function fixtures(): { img: string; tar: string } {
  const img = join(CACHE, 'raspios.img.xz');
  const tar = join(CACHE, 'rootfs.tar.xz');
  if (existsSync(join(CACHE, 'complete'))) return { img, tar };
  rmSync(CACHE, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  const work = join(CACHE, 'work');
  mkdirSync(work);
  let t = performance.now();
  const manifest = buildRootTree(work, { codename: 'bookworm' }, 'root');
  const { files, dirs } = addContent(manifest.root, CONTENT_MIB);
  note(`content: ${files} files in ${dirs} folders, ${CONTENT_MIB} MiB (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  checkDeadline('the disk image');
  t = performance.now();
  const builtImg = buildDiskImage(work, { root: manifest.root, compression: 'xz', rootMiB: ROOT_PART_MIB });
  note(`disk image .img.xz built (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  checkDeadline('the tarball');
  t = performance.now();
  const builtTar = buildTarball(work, { root: manifest.root, compression: 'xz' });
  note(`tarball .tar.xz built (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  renameSync(builtImg, img);
  renameSync(builtTar, tar);
  rmSync(work, { recursive: true, force: true });
  writeFileSync(join(CACHE, 'complete'), `${new Date().toISOString()}\n`);
  return { img, tar };
}

/** The baseline: `xz -T0 -dc tar.xz | tar -x -C dir` (two processes, a pipe, no shell). */
function baseline(tar: string, dir: string): Promise<void> {
  mkdirSync(dir);
  return new Promise((resolve, reject) => {
    const xz = spawn('xz', ['-T0', '-dc', tar], { stdio: ['ignore', 'pipe', 'inherit'] });
    const untar = spawn(
      'tar',
      ['-x', '-f', '-', '--numeric-owner', '--same-owner', '--same-permissions', '--xattrs', '--xattrs-include=*', '-C', dir],
      {
        stdio: [xz.stdout, 'ignore', 'inherit'],
      },
    );
    xz.stdout.destroy();
    let pending = 2;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`${what} exited ${code}`));
      else if (--pending === 0) resolve();
    };
    xz.on('close', done('xz'));
    untar.on('close', done('tar'));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench: needs root (mknod, chown, device nodes in the fixture)');
  const { img, tar } = fixtures();
  const runs = join(CACHE, `runs-${process.pid}`);
  mkdirSync(runs);
  const importer = new FsImageImporter();
  const times = { importer: [] as number[], baseline: [] as number[] };
  // The importer runs in bramble's process, beside the DHCP/TFTP/LDAP sockets: how long does it hold
  // the event loop they share? (Delay of a 10 ms timer while each import runs; a monitor per round,
  // since a re-enabled one counts the time it was off as one long delay.)
  const loopDelay = { p99: [] as number[], max: [] as number[] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      checkDeadline(`round ${round + 1}`);
      const target = join(runs, `import-${round}`, 'v1');
      let t = performance.now();
      let lastNote = 0;
      const phases: [string, number][] = [];
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const result = await importer.import(img, target, {
        onProgress: (p) => {
          if (phases.length === 0 || phases[phases.length - 1][0] !== p.phase) phases.push([p.phase, performance.now()]);
          if (performance.now() - lastNote < 2000) return;
          lastNote = performance.now();
          note(
            `  importer: ${p.phase} ${(p.bytesDone / MIB).toFixed(0)}/${((p.bytesTotal ?? 0) / MIB).toFixed(0)} MiB read, ${p.files} files`,
          );
        },
      });
      loop.disable();
      loopDelay.p99.push(loop.percentile(99) / 1e6);
      loopDelay.max.push(loop.max / 1e6);
      times.importer.push((performance.now() - t) / 1000);
      note(
        `round ${round + 1}: importer ${times.importer[round].toFixed(2)} s (${result.fileCount} files, ${(result.sizeBytes / MIB).toFixed(0)} MiB, warnings ${result.warnings.length})`,
      );
      const spans = phases.map(([phase, at], i) => `${phase} ${(((phases[i + 1]?.[1] ?? performance.now()) - at) / 1000).toFixed(1)} s`);
      note(`  importer phases: ${spans.join(', ')}`);
      rmSync(join(runs, `import-${round}`), { recursive: true, force: true });
      t = performance.now();
      await baseline(tar, join(runs, `baseline-${round}`));
      times.baseline.push((performance.now() - t) / 1000);
      note(`round ${round + 1}: baseline ${times.baseline[round].toFixed(2)} s`);
      rmSync(join(runs, `baseline-${round}`), { recursive: true, force: true });
    }
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
  const best = { importer: Math.min(...times.importer), baseline: Math.min(...times.baseline) };
  const med = { importer: median(times.importer), baseline: median(times.baseline) };
  print('image_import.importer', { best: best.importer, median: med.importer });
  print('image_import.baseline', { best: best.baseline, median: med.baseline });
  print('image_import.ratio', { best: best.importer / best.baseline, median: med.importer / med.baseline, target: 1.3 });
  print('image_import.event_loop_delay_ms', { p99: Math.max(...loopDelay.p99), max: Math.max(...loopDelay.max), resolution: 10 });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
