/**
 * Costly operations share the event loop with DHCP: they run a few at a time (ConcurrencyLimiter,
 * TOO_BUSY beyond the queue), and the long loops (a replay for stateAt, the NDJSON export) let the
 * event loop turn between pages instead of holding it for the whole log.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { AuditLog } from '../../../src/core/audit/audit-log';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../../../src/core/event-store/event-store.port';
import { ConcurrencyLimiter, TooBusyError } from '../../../src/core/limits/concurrency-limiter';
import { computeStateAt } from '../../../src/core/projections/state-at';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A read-only store of `count` GroupCreated events whose reads complete at once (no I/O turn). */
function memoryStore(count: number): EventStore {
  const events: RecordedEvent[] = Array.from({ length: count }, (_, i) => ({
    id: `e${i + 1}`,
    stream: `group-g${i % 50}`,
    revision: Math.floor(i / 50),
    position: i + 1,
    type: 'GroupCreated',
    data: { name: `g${i % 50}`, gid: 10_000 + (i % 50) },
    metadata: {
      actor: 'admin:test',
      correlationId: `c${i}`,
      causationId: null,
      timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      schemaVersion: 1,
    },
  }));
  const store: Partial<EventStore> = {
    async readAll(options: ReadAllOptions = {}) {
      const from = options.after ?? 0;
      const to = options.before ?? Infinity;
      return events.filter((e) => e.position > from && e.position < to).slice(0, options.limit ?? 1000);
    },
    async headPosition() {
      return count;
    },
  };
  return store as EventStore;
}

/** Counts turns of the event loop (setImmediate callbacks) while `work` runs. */
async function turnsDuring(work: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  return turns;
}

describe('costly operations: concurrency', () => {
  it('runs at most `concurrency` at once, queues up to `queue`, refuses the next with TOO_BUSY', async () => {
    const limiter = new ConcurrencyLimiter('stateAt', { concurrency: 2, queue: 1 });
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      limiter.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1]);
    assert.equal(limiter.running, 2);
    assert.equal(limiter.queued, 1);
    await assert.rejects(
      limiter.run(async () => 'never'),
      (e: unknown) => e instanceof TooBusyError && e.code === 'TOO_BUSY' && /stateAt/.test(e.message),
    );
    gates[0].resolve();
    assert.equal(await runs[0], 0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2], 'the freed slot went to the waiting one');
    gates[1].resolve();
    gates[2].resolve();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2]);
    assert.equal(limiter.running, 0);
    // A failure frees its slot too.
    await assert.rejects(
      limiter.run(async () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(limiter.running, 0);
    assert.equal(await limiter.run(() => 'again'), 'again');
  });

  it('a caller waits for a slot a limited time, then gets TOO_BUSY (and its place in the queue is freed)', async () => {
    const limiter = new ConcurrencyLimiter('export', { concurrency: 1, queue: 1, maxWaitMs: 50 });
    const gate = deferred();
    const running = limiter.run(() => gate.promise);
    const t0 = performance.now();
    await assert.rejects(
      limiter.run(async () => 'late'),
      (e: unknown) => e instanceof TooBusyError,
    );
    assert.ok(performance.now() - t0 >= 45);
    assert.equal(limiter.queued, 0);
    gate.resolve();
    await running;
    assert.equal(limiter.running, 0);
    assert.equal(await limiter.run(() => 'free'), 'free');
  });
});

describe('costly operations: the event loop keeps turning', () => {
  it('computeStateAt lets the event loop turn between pages of a long replay', async () => {
    const store = memoryStore(20_000);
    let groups = 0;
    const turns = await turnsDuring(async () => {
      const past = await computeStateAt(store, { position: 20_000 });
      groups = past.state.groups.size;
    });
    assert.equal(groups, 50);
    assert.ok(turns >= 20, `the event loop turned ${turns} times during a replay of 20,000 events`);
  });

  it('the NDJSON export lets the event loop turn between pages', async () => {
    const audit = new AuditLog(memoryStore(10_000));
    let lines = 0;
    const turns = await turnsDuring(async () => {
      for await (const _line of audit.ndjson({})) lines++;
    });
    assert.equal(lines, 10_000);
    assert.ok(turns >= 10, `the event loop turned ${turns} times during an export of 10,000 events`);
  });
});
