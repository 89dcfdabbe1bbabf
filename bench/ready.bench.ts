/**
 * Ready time with a large store (target: serving within 2 s with 1,000,000 events).
 * Seeds a store, then starts the real server (`node dist/src/main.js`) three times on it and
 * measures spawn → first `/health` answer (200, read models caught up):
 *   1. first start: no snapshot, every event replayed (the reference);
 *   2. and 3. restarts: read models from the snapshot, only the tail replayed.
 *   node dist/bench/ready.bench.js [events=1000000]
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { freePort } from '../test/support/server-process';
import { seedStore } from './support/seed-store';

async function startOnce(dataDir: string): Promise<number> {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'src', 'main.js')], {
    env: {
      ...process.env,
      BRAMBLE_DATA_DIR: dataDir,
      BRAMBLE_HTTP_PORT: String(port),
      BRAMBLE_LOG_LEVEL: 'warn',
      BRAMBLE_ADMIN_TOKEN: 'bench-token-0123456789',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error('server did not become ready within 120 s');
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        // Serving: 200 with the read models caught up (dhcp is down without an interface).
        if (res.status === 200 && ((await res.json()) as { projections: { caughtUp: boolean } }).projections.caughtUp) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return Number(process.hrtime.bigint() - started) / 1e6;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 1_000_000);
  const dir = path.join(__dirname, '..', '..', '.bench-tmp');
  mkdirSync(dir, { recursive: true });
  const seed = path.join(dir, `events-${total}.db`);
  const head = await seedStore(seed, total, (s) => process.stderr.write(s + '\n'));
  const dataDir = path.join(dir, `ready-${process.pid}`);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  copyFileSync(seed, path.join(dataDir, 'events.db'));
  try {
    const first = await startOnce(dataDir);
    console.log(`ready.first_start_full_replay events=${head} ms=${first.toFixed(0)}`);
    for (let run = 1; run <= 2; run++) {
      const ms = await startOnce(dataDir);
      console.log(`ready.restart_from_snapshot run=${run} events=${head} ms=${ms.toFixed(0)} target_ms=2000`);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
