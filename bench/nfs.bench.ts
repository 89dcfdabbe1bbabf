/**
 * NFS read throughput through bramble's nfs-ganesha: one 200 MiB file in an image root, read whole
 * by `nfs-cp` (libnfs-utils, the userspace client standing in for a Pi's kernel client, which this
 * machine lacks) into a file on /dev/shm (nfs-cp cannot write to /dev/null; a tmpfs keeps the disk
 * out of the figure; the copy is deleted after each round) from a Pi namespace of the NFS lab (test/support/nfs-lab.ts), over NFSv3 and
 * NFSv4, 3 rounds each, median printed. In the same run, `cat file > /dev/null` on the server is
 * the reference (the file is in the page cache for both: it was just written and is read first).
 * One line per figure:
 *
 *   nfs.read       version=3|4 mib_s=<median> seconds=<median> rounds=<n>
 *   reference.cat  mib_s=<median> seconds=<median>
 *   nfs.ratio      v3=<v3/cat> v4=<v4/cat>
 *
 * Run (root): node dist/bench/nfs.bench.js   (BRAMBLE_BENCH_ROUNDS=<n>, default 3; every transfer
 * is killed after 120 s and the whole run gives up after 10 minutes.)
 */
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { definePlugin, type PluginContext } from '../src/core/plugin-api';
import { createNfsPlugin } from '../src/plugins/nfs/nfs.plugin';
import { startHarness, type Harness } from '../test/support/app-harness';
import { canUseNetns } from '../test/support/netlab';
import { NfsLab, PI_MAC } from '../test/support/nfs-lab';
import { eventually, tempDir } from '../test/support/temp';

const SIZE = 200 * 1024 * 1024;
const ROUNDS = Math.max(1, Math.min(10, Number(process.env.BRAMBLE_BENCH_ROUNDS ?? 3)));
const TRANSFER_TIMEOUT_MS = 120_000;
const RUN_DEADLINE = Date.now() + 10 * 60_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed(cmd: string, args: string[]): Promise<number> {
  if (Date.now() > RUN_DEADLINE) return Promise.reject(new Error('the bench ran past its 10-minute deadline'));
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: TRANSFER_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (error, _out, stderr) =>
      error ? reject(new Error(`${cmd} ${args.join(' ')}: ${error.message} ${stderr}`)) : resolve((performance.now() - t0) / 1000),
    ),
  );
}

function writeBigFile(file: string): void {
  const fd = openSync(file, 'w');
  try {
    const chunk = Buffer.alloc(4 * 1024 * 1024);
    for (let done = 0; done < SIZE; done += chunk.length) writeSync(fd, randomFillSync(chunk));
  } finally {
    closeSync(fd);
  }
}

const mib = (seconds: number) => SIZE / 1024 / 1024 / seconds;

async function main(): Promise<void> {
  const reason = canUseNetns();
  if (reason) {
    process.stdout.write(`nfs.skipped reason="${reason}"\n`);
    return;
  }
  const tmp = tempDir('bramble-nfs-bench-');
  let lab: NfsLab | null = null;
  let harness: Harness | null = null;
  try {
    const root = path.join(tmp.dir, 'images', 'bench', 'v1');
    for (const d of ['etc', 'usr', 'boot/firmware']) mkdirSync(path.join(root, d), { recursive: true });
    const big = path.join(root, 'big.bin');
    writeBigFile(big);
    lab = await NfsLab.create();
    let probe: PluginContext | null = null;
    harness = await startHarness({
      env: { BRAMBLE_SERVER_IP: lab.serverIp },
      plugins: [
        createNfsPlugin({ spawn: lab.spawn }),
        () =>
          definePlugin({
            name: 'probe',
            start(ctx) {
              probe = ctx as unknown as PluginContext;
            },
          }),
      ],
    });
    await harness.ok('mutation ($v: JSON!) { updatePluginSettings(plugin: "nfs", values: $v) { name } }', {
      v: { homesPath: path.join(tmp.dir, 'homes') },
    });
    const { registerImage } = await harness.ok<{ registerImage: { id: string } }>(
      'mutation ($p: String!) { registerImage(name: "bench", path: $p) { id } }',
      {
        p: root,
      },
    );
    await harness.ok('mutation ($i: String) { approveClient(mac: "' + PI_MAC + '", imageId: $i) { mac } }', { i: registerImage.id });
    await (probe as PluginContext | null)!.commands.learnClientAddress(PI_MAC, lab.ipOf('pi'));
    const l = lab;
    await eventually(async () => (await l.nfs('pi', 'nfs-ls', [l.url(root, 3)])).code === 0, 20_000, 'the export');

    const cat: number[] = [];
    const v3: number[] = [];
    const v4: number[] = [];
    const ns = lab.netlab.ns('pi');
    const shm = mkdtempSync('/dev/shm/bramble-nfs-bench-');
    const copy = path.join(shm, 'big.bin');
    try {
      for (let round = 0; round < ROUNDS; round++) {
        cat.push(await timed('sh', ['-c', `cat '${big}' > /dev/null`]));
        for (const [version, times] of [
          [3, v3],
          [4, v4],
        ] as const) {
          times.push(await timed('ip', ['netns', 'exec', ns, 'nfs-cp', lab.url(`${root}/big.bin`, version), copy]));
          if (statSync(copy).size !== SIZE) throw new Error(`nfs-cp v${version} copied ${statSync(copy).size} bytes, not ${SIZE}`);
          rmSync(copy);
        }
      }
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
    const line = (name: string, f: Record<string, string | number>) =>
      process.stdout.write(
        `${name} ${Object.entries(f)
          .map(([k, v]) => `${k}=${typeof v === 'number' ? v.toFixed(2) : v}`)
          .join(' ')}\n`,
      );
    line('nfs.read', { version: '3', mib_s: mib(median(v3)), seconds: median(v3), rounds: String(ROUNDS) });
    line('nfs.read', { version: '4', mib_s: mib(median(v4)), seconds: median(v4), rounds: String(ROUNDS) });
    line('reference.cat', { mib_s: mib(median(cat)), seconds: median(cat) });
    line('nfs.ratio', { v3: median(cat) / median(v3), v4: median(cat) / median(v4) });
  } finally {
    await harness?.close().catch(() => undefined);
    await lab?.destroy();
    tmp.cleanup();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
