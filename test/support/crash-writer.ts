/**
 * Child process of test/event-store.crash.spec.ts: opens the sqlite store and appends forever with
 * many concurrent appenders, printing one line per event of every ACKNOWLEDGED append:
 * `<stream> <revision> <id>`. The parent kills it with SIGKILL at a random moment.
 *
 * Usage: node crash-writer.js <file> <tag>
 */
import { randomUUID } from 'node:crypto';
import { SqliteEventStore } from '../../src/core/event-store/sqlite/sqlite.event-store';
import type { NewEvent } from '../../src/core/event-store/event-store.port';

const APPENDERS = 40;
const EVENTS_PER_APPEND = 3;

async function main(): Promise<void> {
  const [file, tag] = process.argv.slice(2);
  if (!file || !tag) throw new Error('usage: crash-writer <file> <tag>');
  const store = await SqliteEventStore.open({ file });
  process.stdout.write('ready\n');
  await Promise.all(
    Array.from({ length: APPENDERS }, async (_, w) => {
      const stream = `crash-${tag}-${w}`;
      let revision: number | 'no_stream' = 'no_stream';
      for (let n = 0; ; n++) {
        const events: NewEvent[] = Array.from({ length: EVENTS_PER_APPEND }, (_, i) => ({
          id: randomUUID(),
          type: 'CrashTested',
          data: { w, n, i, padding: 'x'.repeat(64) },
          metadata: {
            actor: 'system',
            correlationId: randomUUID(),
            causationId: null,
            timestamp: new Date().toISOString(),
            schemaVersion: 1,
          },
        }));
        const result = await store.append(stream, events, revision);
        revision = result.revision;
        const first = result.revision - EVENTS_PER_APPEND + 1;
        process.stdout.write(events.map((e, i) => `${stream} ${first + i} ${e.id}\n`).join(''));
      }
    }),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`crash-writer: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
