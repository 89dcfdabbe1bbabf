/**
 * Append (and replay) throughput of the sqlite event store, synchronous=FULL, on a temporary file
 * that is deleted afterwards. One figure per line:
 *
 *   append.single_writer        one appender, each append awaited before the next
 *   append.concurrent_50        50 appenders, each appending single events to its own stream
 *   reference.sqlite_txn_per_insert  plain better-sqlite3, same table, one transaction per insert
 *   read.replay_all / read.replay_types  readAll pages of 1000 over what was written
 *   read.subscription_catch_up_*  a catch-up subscription from the start until caughtUp
 *
 * Run: node dist/bench/append.bench.js   (BRAMBLE_BENCH_DIR chooses the directory; default
 * ./.bench-tmp, on the disk the data lives on, since /tmp may be a tmpfs where fsync is free).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../src/core/event-store/sqlite/sqlite.event-store';
import { migrate } from '../src/core/event-store/sqlite/sqlite.schema';
import type { NewEvent } from '../src/core/event-store/event-store.port';

const TYPES = ['ClientDetected', 'ClientApproved', 'BootFileServed', 'UserLoggedIn'];

function event(n: number): NewEvent {
  return {
    type: TYPES[n % TYPES.length],
    data: { mac: 'b8:27:eb:12:34:56', serial: `0x${n.toString(16)}`, n },
    metadata: { actor: 'system', correlationId: randomUUID(), causationId: null, timestamp: new Date().toISOString(), schemaVersion: 1 },
  };
}

function print(name: string, fields: Record<string, number | string>): void {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(2)) : v}`);
  process.stdout.write(`${name} ${parts.join(' ')}\n`);
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : 0;
}

/** `writers` appenders, each on its own stream, until `seconds` or `maxEvents` in total. */
async function appendLoad(store: SqliteEventStore, name: string, writers: number, seconds: number, maxEvents: number): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const before = store.stats();
  const latencies: number[] = [];
  let total = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  loop.enable();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const stream = `bench-${name}-${w}`;
      let revision: number | 'no_stream' = 'no_stream';
      while (total < maxEvents && performance.now() < deadline) {
        total++;
        const t0 = performance.now();
        revision = (await store.append(stream, [event(total)], revision)).revision;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  loop.disable();
  const after = store.stats();
  latencies.sort((a, b) => a - b);
  const transactions = after.transactions - before.transactions;
  print(`append.${name}`, {
    events_per_s: Math.round((after.events - before.events) / elapsed),
    events: after.events - before.events,
    seconds: elapsed,
    transactions,
    appends_per_transaction: (after.appends - before.appends) / transactions,
    latency_p50_ms: percentile(latencies, 0.5),
    latency_p99_ms: percentile(latencies, 0.99),
    event_loop_delay_p99_ms: loop.percentile(99) / 1e6,
    event_loop_delay_max_ms: loop.max / 1e6,
  });
}

function reference(dir: string, seconds: number, maxEvents: number): void {
  const file = path.join(dir, 'reference.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  migrate(db);
  const insert = db.prepare(
    'INSERT INTO events (id, stream, revision, type, data, actor, correlation_id, causation_id, timestamp, schema_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let n = 0;
  while (n < maxEvents && performance.now() < deadline) {
    const e = event(n);
    const m = e.metadata;
    // An autocommit INSERT: one transaction (and one fsync) per event.
    insert.run(
      randomUUID(),
      `bench-ref-${n % 50}`,
      Math.floor(n / 50),
      e.type,
      JSON.stringify(e.data),
      m.actor,
      m.correlationId,
      m.causationId,
      m.timestamp,
      m.schemaVersion,
    );
    n++;
  }
  const elapsed = (performance.now() - start) / 1000;
  db.close();
  print('reference.sqlite_txn_per_insert', { events_per_s: Math.round(n / elapsed), events: n, seconds: elapsed });
}

async function replay(store: SqliteEventStore, name: string, types?: string[]): Promise<void> {
  const start = performance.now();
  let count = 0;
  let after = 0;
  for (;;) {
    const page = await store.readAll({ after, limit: 1000, filter: types ? { types } : undefined });
    if (page.length === 0) break;
    count += page.length;
    after = page[page.length - 1].position;
  }
  const elapsed = (performance.now() - start) / 1000;
  print(`read.${name}`, { events_per_s: Math.round(count / elapsed), events: count, seconds: elapsed });
}

async function catchUp(store: SqliteEventStore, name: string, types?: string[]): Promise<void> {
  const start = performance.now();
  let count = 0;
  const sub = store.subscribe({ filter: types ? { types } : undefined }, { onEvents: (events) => void (count += events.length) });
  await sub.caughtUp;
  const elapsed = (performance.now() - start) / 1000;
  await sub.close();
  print(`read.${name}`, { events_per_s: Math.round(count / elapsed), events: count, seconds: elapsed });
}

async function main(): Promise<void> {
  const base = process.env.BRAMBLE_BENCH_DIR ?? path.join(process.cwd(), '.bench-tmp');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, 'append-'));
  try {
    const store = await SqliteEventStore.open({ file: path.join(dir, 'events.db') });
    try {
      const settings = store.settings();
      print('settings', { journal_mode: settings.journalMode, synchronous: settings.synchronous === 2 ? 'FULL' : settings.synchronous });
      await appendLoad(store, 'single_writer', 1, 3, 20_000);
      await appendLoad(store, 'concurrent_50', 50, 5, 200_000);
      await replay(store, 'replay_all');
      await replay(store, 'replay_types', TYPES.slice(0, 2));
      await catchUp(store, 'subscription_catch_up_all');
      await catchUp(store, 'subscription_catch_up_types', TYPES.slice(0, 2));
    } finally {
      await store.close();
    }
    reference(dir, 3, 20_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (readdirSync(base).length === 0) rmdirSync(base);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`append.bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
