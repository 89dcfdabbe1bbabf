/**
 * SqliteEventStore: the shared EventStore contract, plus what only the sqlite adapter promises
 * (append-only table, WAL + synchronous=FULL, group commit, reopening, the query planner).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { eventStoreContract } from '../../support/event-store-contract';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { EventQueries, prefixUpperBound, type PageQuery } from '../../../src/core/event-store/sqlite/sqlite.query';
import { SCHEMA_VERSION, toRecordedAll } from '../../../src/core/event-store/sqlite/sqlite.schema';
import {
  EventStoreUnavailableError,
  WrongExpectedRevisionError,
  type EventFilter,
  type NewEvent,
  type RecordedEvent,
} from '../../../src/core/event-store/event-store.port';

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bramble-sqlite-'));
  dirs.push(dir);
  return path.join(dir, 'nested', 'events.db');
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function ev(type = 'Tested', data: unknown = {}, actor = 'system', timestamp = new Date().toISOString()): NewEvent {
  return { type, data, metadata: { actor, correlationId: randomUUID(), causationId: null, timestamp, schemaVersion: 1 } };
}

eventStoreContract('sqlite', async () => {
  const store = await SqliteEventStore.open({ file: tempFile() });
  return { store, cleanup: () => store.close() };
});

describe('SqliteEventStore (sqlite only)', () => {
  let file: string;
  let store: SqliteEventStore;
  before(async () => {
    file = tempFile();
    store = await SqliteEventStore.open({ file });
  });
  after(async () => {
    await store.close();
  });

  it('creates the directory and the file, with the current schema version', () => {
    assert.ok(existsSync(file));
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  it('writes with journal_mode=WAL and synchronous=FULL', () => {
    const settings = store.settings();
    assert.equal(settings.journalMode, 'wal');
    assert.equal(settings.synchronous, 2, 'synchronous=FULL');
  });

  it('rejects UPDATE and DELETE on the events table', async () => {
    await store.append(`immutable-${randomUUID()}`, [ev()], 'no_stream');
    const db = new Database(file);
    try {
      assert.throws(() => db.prepare("UPDATE events SET type = 'Forged'").run(), /append-only: UPDATE/);
      assert.throws(() => db.prepare('DELETE FROM events').run(), /append-only: DELETE/);
      assert.ok((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n > 0);
    } finally {
      db.close();
    }
  });

  it('group-commits concurrent appends into far fewer transactions', async () => {
    const before = store.stats();
    const id = randomUUID();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.append(`group-${id}-${i}`, [ev()], 'no_stream')));
    const stats = store.stats();
    assert.equal(stats.appends - before.appends, 200);
    assert.equal(stats.events - before.events, 200);
    const transactions = stats.transactions - before.transactions;
    assert.ok(transactions >= 1 && transactions <= 10, `200 appends took ${transactions} transactions`);
    assert.equal(new Set(results.map((r) => r.position)).size, 200);
  });

  it('fails only the conflicting append of a batch; appends to one stream in a batch see each other', async () => {
    const s = `batch-${randomUUID()}`;
    const t = `batch-other-${randomUUID()}`;
    const before = store.stats();
    // Issued in the same tick: one message to the writer, one transaction.
    const outcomes = await Promise.allSettled([
      store.append(s, [ev('A')], 'no_stream'),
      store.append(s, [ev('B')], 'no_stream'), // conflicts with the first
      store.append(s, [ev('C'), ev('D')], 0), // sees the first
      store.append(t, [ev('E')], 'no_stream'),
      store.append(s, [ev('F')], 'any'),
      store.append(s, [ev('G')], 3),
    ]);
    assert.equal(store.stats().transactions - before.transactions, 1);
    const value = (i: number) => {
      const o = outcomes[i];
      assert.equal(o.status, 'fulfilled', `append ${i}`);
      return (o as PromiseFulfilledResult<{ revision: number }>).value.revision;
    };
    assert.equal(value(0), 0);
    assert.equal(outcomes[1].status, 'rejected');
    const reason = (outcomes[1] as PromiseRejectedResult).reason as WrongExpectedRevisionError;
    assert.ok(reason instanceof WrongExpectedRevisionError);
    assert.equal(reason.actual, 0);
    assert.equal(value(2), 2);
    assert.equal(value(3), 0);
    assert.equal(value(4), 3);
    assert.equal(value(5), 4);
    assert.deepEqual(
      (await store.readStream(s)).map((e) => e.type),
      ['A', 'C', 'D', 'F', 'G'],
    );
  });

  it('fails an append that reuses an event id, alone', async () => {
    const id = randomUUID();
    const s = `dup-${randomUUID()}`;
    await store.append(s, [{ ...ev(), id }], 'no_stream');
    const [dup, ok] = await Promise.allSettled([
      store.append(`${s}-2`, [ev(), { ...ev(), id }], 'no_stream'),
      store.append(`${s}-3`, [ev()], 'no_stream'),
    ]);
    assert.equal(dup.status, 'rejected');
    assert.match(String((dup as PromiseRejectedResult).reason), /UNIQUE constraint failed: events\.id/);
    assert.equal(ok.status, 'fulfilled');
    assert.deepEqual(await store.readStream(`${s}-2`), [], 'no partial append');
  });

  it('rejects invalid appends before they reach the writer', async () => {
    await assert.rejects(store.append('x', [], 'any'), TypeError);
    await assert.rejects(store.append('', [ev()], 'any'), TypeError);
    await assert.rejects(store.append('x', [ev()], -1), RangeError);
    await assert.rejects(store.append('x', [{ type: 'T', data: {}, metadata: {} as never }], 'any'), TypeError);
    await assert.rejects(store.append('x', [ev('T', { n: 1n })], 'any'), TypeError);
  });

  it('stores undefined data as SQL NULL and reads it back as undefined', async () => {
    const s = `undefined-${randomUUID()}`;
    await store.append(s, [{ ...ev('T'), data: undefined }, ev('T', null)], 'no_stream');
    const [a, b] = await store.readStream(s);
    assert.equal(a.data, undefined);
    assert.equal(b.data, null);
  });

  it('closes: flushes pending appends, then rejects every call', async () => {
    const f = tempFile();
    const s = await SqliteEventStore.open({ file: f });
    const pending = Array.from({ length: 50 }, (_, i) => s.append(`flush-${i}`, [ev()], 'no_stream'));
    const closed = s.close();
    const results = await Promise.all(pending);
    await closed;
    assert.equal(results.length, 50);
    await assert.rejects(s.append('late', [ev()], 'any'), EventStoreUnavailableError);
    await assert.rejects(s.readAll(), EventStoreUnavailableError);
    await assert.rejects(s.readStream('flush-1'), EventStoreUnavailableError);
    await assert.rejects(s.headPosition(), EventStoreUnavailableError);
    assert.throws(() => s.subscribe({}, { onEvents: () => undefined }), EventStoreUnavailableError);
    await s.close(); // idempotent

    const reopened = await SqliteEventStore.open({ file: f });
    try {
      assert.equal(await reopened.headPosition(), 50);
      assert.equal((await reopened.readAll()).length, 50);
    } finally {
      await reopened.close();
    }
  });

  it('sees everything after reopening the file', async () => {
    const f = tempFile();
    const first = await SqliteEventStore.open({ file: f });
    for (let i = 0; i < 5; i++) await first.append('reopen-a', [ev('A', { i })], i === 0 ? 'no_stream' : i - 1);
    await first.append('reopen-b', [ev('B'), ev('B')], 'no_stream');
    const before = await first.readAll();
    await first.close();

    const second = await SqliteEventStore.open({ file: f });
    try {
      assert.deepEqual(await second.readAll(), before);
      assert.equal(await second.headPosition(), before[before.length - 1].position);
      assert.equal((await second.append('reopen-a', [ev('A')], 4)).revision, 5);
      await assert.rejects(second.append('reopen-b', [ev('B')], 'no_stream'), WrongExpectedRevisionError);
    } finally {
      await second.close();
    }
  });

  it('rejects pending and later appends with EventStoreUnavailableError when the writer dies', async () => {
    const s = await SqliteEventStore.open({ file: tempFile() });
    await s.append('dies', [ev()], 'no_stream');
    const worker = (s as unknown as { worker: Worker }).worker;
    const pending = s.append('dies', [ev()], 0);
    await worker.terminate();
    await assert.rejects(pending, EventStoreUnavailableError);
    await assert.rejects(s.append('dies', [ev()], 'any'), EventStoreUnavailableError);
    assert.equal((await s.readStream('dies')).length >= 1, true, 'reads still work');
    await s.close();
  });

  it('refuses a file with a newer schema version', async () => {
    const f = tempFile();
    await (await SqliteEventStore.open({ file: f })).close();
    const db = new Database(f);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await assert.rejects(SqliteEventStore.open({ file: f }), (err: unknown) => {
      assert.ok(err instanceof EventStoreUnavailableError);
      assert.match(err.message, /newer than this bramble/);
      return true;
    });
  });

  it('notifies subscriptions quickly after an append is acknowledged', async () => {
    const prefix = `latency-${randomUUID()}-`;
    const start = await store.headPosition();
    const seen = new Map<number, number>();
    const subs = Array.from({ length: 20 }, () =>
      store.subscribe(
        { after: start, filter: { streamPrefixes: [prefix] } },
        {
          onEvents: (events) => {
            for (const e of events) if (!seen.has(e.position)) seen.set(e.position, performance.now());
          },
        },
      ),
    );
    await Promise.all(subs.map((s) => s.caughtUp));
    const latencies: number[] = [];
    for (let i = 0; i < 100; i++) {
      const { position } = await store.append(`${prefix}1`, [ev()], i === 0 ? 'no_stream' : i - 1);
      const acked = performance.now();
      while (!seen.has(position)) await new Promise((resolve) => setImmediate(resolve));
      latencies.push(seen.get(position)! - acked);
    }
    latencies.sort((a, b) => a - b);
    // Loose bounds (CI runs spec files side by side): what they catch is polling on a timer.
    const median = latencies[latencies.length >> 1];
    const p95 = latencies[Math.floor(latencies.length * 0.95)];
    assert.ok(median < 5 && p95 < 50, `ack→onEvents median ${median.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms`);
    for (const s of subs) await s.close();
    assert.equal(store.stats().subscriptions, 0);
  });
});

describe('sqlite query planner', () => {
  // Enough events that windows are wider than the always-scan span, so every plan is exercised.
  const COUNT = 10_000;
  let file: string;
  let store: SqliteEventStore;
  let db: Database.Database;
  let queries: EventQueries;
  let all: RecordedEvent[];
  const types = ['ClientDetected', 'ClientApproved', 'BootFileServed', 'UserCreated', 'RareThing'];
  const streams = ['client-b8:27:eb:00', 'client-b8:27:eb:01', 'client_x%', 'user-ann', 'user-bob', 'settings', 'image-1'];

  before(async () => {
    file = tempFile();
    store = await SqliteEventStore.open({ file });
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < COUNT / 100; i++) {
      const events = Array.from({ length: 100 }, (_, j) => {
        const n = i * 100 + j;
        const type = n % 211 === 0 ? 'RareThing' : types[n % 4];
        const actor = n % 97 === 0 ? 'admin:rare' : n % 2 ? 'system' : 'plugin:dhcp';
        // Timestamps mostly increase with position, with some out of order.
        const t = new Date(Date.UTC(2024, 0, 1) + (n % 50 === 0 ? -n : n) * 60_000).toISOString();
        return ev(type, { n }, actor, t);
      });
      batch.push(store.append(streams[i % streams.length], events, 'any'));
    }
    await Promise.all(batch);
    db = new Database(file, { readonly: true });
    queries = new EventQueries(db);
    all = toRecordedAll(queries.page({ limit: COUNT * 2, backwards: false }));
    assert.equal(all.length, COUNT);
  });
  after(async () => {
    db.close();
    await store.close();
  });

  function matches(e: RecordedEvent, f: EventFilter): boolean {
    return (
      (f.streamPrefixes === undefined || f.streamPrefixes.some((p) => e.stream.startsWith(p))) &&
      (f.types === undefined || f.types.includes(e.type)) &&
      (f.actor === undefined || e.metadata.actor === f.actor) &&
      (f.since === undefined || e.metadata.timestamp >= f.since) &&
      (f.until === undefined || e.metadata.timestamp < f.until)
    );
  }

  function expected(q: PageQuery): number[] {
    let rows = all.filter((e) => (q.after === undefined || e.position > q.after) && (q.before === undefined || e.position < q.before));
    rows = rows.filter((e) => matches(e, q.filter ?? {}));
    if (q.backwards) rows.reverse();
    return rows.slice(0, q.limit).map((e) => e.position);
  }

  const filters: Array<[string, EventFilter, string]> = [
    ['no filter', {}, 'scan'],
    ['one common type', { types: ['ClientDetected'] }, 'types'],
    ['two types', { types: ['ClientApproved', 'UserCreated'] }, 'types'],
    ['rare type', { types: ['RareThing'] }, 'types'],
    ['type and prefix', { types: ['ClientDetected', 'RareThing'], streamPrefixes: ['client-'] }, 'types'],
    ['actor', { actor: 'admin:rare' }, 'actor'],
    ['actor and types', { actor: 'system', types: ['ClientApproved'] }, 'actor'],
    ['common prefix', { streamPrefixes: ['client'] }, 'scan'],
    ['prefix below the probe limit', { streamPrefixes: ['client-'] }, 'range'],
    ['prefix with _ and %', { streamPrefixes: ['client_'] }, 'range'],
    ['several prefixes', { streamPrefixes: ['user-', 'settings'] }, 'scan'],
    ['narrow time range', { since: '2024-01-02T00:00:00.000Z', until: '2024-01-02T06:00:00.000Z' }, 'range'],
    ['wide time range', { since: '2023-01-01T00:00:00.000Z' }, 'scan'],
  ];
  for (const [name, filter, plan] of filters) {
    it(`returns what a full scan would: ${name} (${plan} plan)`, () => {
      assert.equal(queries.build({ limit: 100, backwards: false, filter })?.plan, plan);
      const windows: Array<Omit<PageQuery, 'filter'>> = [
        { limit: 1000, backwards: false },
        { limit: 37, backwards: false, after: 1234 },
        { limit: 50, backwards: true },
        { limit: 50, backwards: true, before: 4321, after: 10 },
        { limit: 5000, backwards: false, after: 100, before: 9900 },
        { limit: 10, backwards: false, after: COUNT - 20 },
      ];
      for (const w of windows) {
        const q = { ...w, filter };
        assert.deepEqual(positions(queries.page(q)), expected(q), `${JSON.stringify(w)}`);
      }
    });
  }

  it('pages through a common type in order without re-reading', () => {
    const filter = { types: ['ClientDetected', 'ClientApproved'] };
    const seen: number[] = [];
    let afterPosition = 0;
    for (;;) {
      const page = queries.page({ after: afterPosition, limit: 250, backwards: false, filter });
      if (page.length === 0) break;
      seen.push(...positions(page));
      afterPosition = seen[seen.length - 1];
    }
    assert.deepEqual(seen, expected({ limit: COUNT, backwards: false, filter }));
  });

  it('never sorts a large result: plans use an index in position order or a bounded range', () => {
    const plan = (q: PageQuery): string => {
      const built = queries.build(q)!;
      return (db.prepare(`EXPLAIN QUERY PLAN ${built.sql}`).all(...built.params) as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join(' | ');
    };
    assert.doesNotMatch(plan({ limit: 1000, backwards: false, filter: { types: ['ClientDetected', 'UserCreated'] } }), /TEMP B-TREE/);
    assert.doesNotMatch(plan({ limit: 1000, backwards: true, filter: { actor: 'system' } }), /TEMP B-TREE/);
    assert.doesNotMatch(plan({ limit: 1000, backwards: false, filter: { streamPrefixes: ['client'] } }), /TEMP B-TREE/);
    assert.match(plan({ limit: 1000, backwards: false, after: COUNT - 10, filter: { types: ['ClientDetected'] } }), /PRIMARY KEY/);
  });

  function positions(rows: unknown[][] | RecordedEvent[]): number[] {
    return (rows as Array<unknown[] | RecordedEvent>).map((r) => (Array.isArray(r) ? (r[0] as number) : r.position));
  }
});

describe('prefixUpperBound', () => {
  it('increments the last code point', () => {
    assert.equal(prefixUpperBound('client-'), 'client.');
    assert.equal(prefixUpperBound('a_'), 'a`');
    assert.equal(prefixUpperBound('x\u{d7ff}'), 'x\u{e000}');
    assert.equal(prefixUpperBound('x🍓'), 'x\u{1f354}');
    assert.equal(prefixUpperBound('x\u{10ffff}'), 'y');
    assert.equal(prefixUpperBound('\u{10ffff}'), undefined);
    assert.equal(prefixUpperBound(''), undefined);
  });
});
