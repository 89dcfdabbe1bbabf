/**
 * Plugin start-up from a view snapshot (target: a plugin that consumed 200,000 events starts in
 * under 1 s). Seeds a store, then starts bramble in-process three times with a plugin that
 * consumes the per-boot events (the bulk of a school year's log):
 *   1. no snapshot: every consumed event replayed (the reference);
 *   2. and 3. restarts: the view restored from its snapshot, nothing replayed.
 * Prints the plugin's own start time (snapshot load + catch-up + start) and the events projected.
 *   node dist/bench/plugin-snapshot.bench.js [events=203000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { definePlugin } from '../src/core/plugin-api';
import { PluginRegistry } from '../src/core/plugin-host/plugin-registry';
import { startCoreApp } from '../test/support/core-app';
import { seedStore } from './support/seed-store';

function countingPlugin() {
  let view = { events: 0, last: 0 };
  return () =>
    definePlugin({
      name: 'counter',
      consumes: ['BootProgressed', 'ClientRedetected', 'ClientAddressLearned', 'ClientDetected'],
      project(event) {
        view.events++;
        view.last = event.position;
      },
      snapshot: () => view,
      restore: (state) => {
        view = state as typeof view;
      },
      start() {},
    });
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 203_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'bramble-bench-plugin-snapshot-'));
  try {
    const seeded = Date.now();
    const head = await seedStore(path.join(dir, 'events.db'), total);
    console.log(`seeded ${head} events in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);
    for (const label of ['no snapshot (replay)', 'from snapshot', 'from snapshot']) {
      const wall = Date.now();
      const core = await startCoreApp({ dataDir: dir, plugins: [countingPlugin()] });
      const registry = core.app.nest.get(PluginRegistry);
      const line = `${label.padEnd(22)} plugin started in ${String(registry.startupMs('counter')).padStart(5)} ms, projected ${String(registry.projectedCount('counter')).padStart(7)} events; app ready in ${Date.now() - wall} ms`;
      console.log(line);
      await core.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
