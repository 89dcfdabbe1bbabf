/**
 * Cost of a new image version: a clone by hard links and by copy (version-store.ts), and a whole
 * image command that changes one file (command-runner.ts: overlay, chroot, clone, apply), on a tree
 * the size of a small OS userland: the host's /usr/share (or the folder given) copied once into a
 * temp folder, with the host's busybox added so the command can run in it.
 *   node dist/bench/image-versions.bench.js [source=/usr/share]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { OverlayImageCommandRunner } from '../src/core/adapters/images/command-runner';
import { countEntries, FsImageVersionStore } from '../src/core/adapters/images/version-store';
import { buildBusyboxImage } from '../test/support/busybox-image';

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

async function main(): Promise<void> {
  const source = process.argv[2] ?? '/usr/share';
  const dir = mkdtempSync(path.join(tmpdir(), 'bramble-bench-images-'));
  try {
    const images = path.join(dir, 'images');
    const base = path.join(images, 'v1');
    mkdirSync(base, { recursive: true });
    buildBusyboxImage(base);
    execFileSync('cp', ['-a', source, path.join(base, 'usr', 'payload')]);
    const entries = await countEntries(base);
    const size = execFileSync('du', ['-sh', base], { encoding: 'utf8' }).split('\t')[0];
    console.log(`tree: ${entries} entries, ${size}`);

    const store = new FsImageVersionStore(images);
    for (const method of ['hardlink', 'copy'] as const) {
      const target = path.join(images, `clone-${method}`);
      const { ms } = await timed(() => new FsImageVersionStore(images, { methods: [method] }).clone(base, target));
      console.log(`clone (${method}): ${ms.toFixed(0)} ms`);
      await store.remove(target);
    }
    const runner = new OverlayImageCommandRunner(store);
    const { ms, value } = await timed(() =>
      runner.run(base, path.join(images, 'v2'), 'echo changed > /etc/hostname', { architecture: null }),
    );
    console.log(
      `image command (overlay + chroot + hard-link clone + apply): ${ms.toFixed(0)} ms, of which the command ${value.durationMs} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
