/**
 * Replay of all events into the read models (target ≥ 300,000 events/s).
 * Prints: the raw read rate of the store (reference: reading only), and the replay rate
 * (ProjectionEngine from zero, no snapshot), over the same file in the same run.
 *   node dist/bench/replay.bench.js [events=1000000]
 */
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { CORE_EVENT_TYPES } from '../src/core/events/known-event-types';
import { SqliteEventStore } from '../src/core/event-store/sqlite/sqlite.event-store';
import { silentLogger } from '../src/core/logging/logger';
import { ProjectionEngine } from '../src/core/projections/projection-engine';
import { seedStore } from './support/seed-store';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 1_000_000);
  const dir = path.join(__dirname, '..', '..', '.bench-tmp');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `events-${total}.db`);
  const seedStart = Date.now();
  const head = await seedStore(file, total, (s) => process.stderr.write(s + '\n'));
  process.stderr.write(`store ready: ${head} events (${Date.now() - seedStart} ms)\n`);

  const store = await SqliteEventStore.open({ file });
  try {
    // Reference: read every event, do nothing with it.
    let t = process.hrtime.bigint();
    let n = 0;
    let after: number | undefined;
    for (;;) {
      const page = await store.readAll({ after, limit: 5000 });
      if (page.length === 0) break;
      n += page.length;
      after = page[page.length - 1].position;
    }
    let s = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(`replay.read_only events=${n} seconds=${s.toFixed(2)} events_per_s=${Math.round(n / s)}`);

    for (let run = 1; run <= 2; run++) {
      t = process.hrtime.bigint();
      const engine = new ProjectionEngine(store, silentLogger, null, CORE_EVENT_TYPES, { snapshotFile: null });
      await engine.start();
      s = Number(process.hrtime.bigint() - t) / 1e9;
      console.log(
        `replay.projections run=${run} events=${engine.checkpoint} clients=${engine.state.clients.size} users=${engine.state.users.size} seconds=${s.toFixed(2)} events_per_s=${Math.round((engine.checkpoint ?? 0) / s)} target_events_per_s=300000`,
      );
      await engine.stop();
    }
  } finally {
    await store.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
