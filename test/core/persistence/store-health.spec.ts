/**
 * Failures of the event store show: a failed append or read marks `eventStore` degraded or down in
 * /health with the reason (and clears after later successes), the API answers with a code, and a
 * start-up integrity check refuses a damaged file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, openSync, rmSync, statSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  EventStoreCorruptError,
  EventStoreUnavailableError,
  WrongExpectedRevisionError,
  EVENT_STORE,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
  type SubscriptionHandlers,
} from '../../../src/core/event-store/event-store.port';
import { InstrumentedEventStore } from '../../../src/core/event-store/instrumented.event-store';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { Metrics } from '../../../src/core/observability/metrics';
import { startHarness } from '../../support/app-harness';
import { startCoreApp } from '../../support/core-app';
import { startServer } from '../../support/server-process';
import { tempDir } from '../../support/temp';

const ev = (data: unknown = {}): NewEvent => ({
  type: 'Tested',
  data,
  metadata: { actor: 'system', correlationId: randomUUID(), causationId: null, timestamp: new Date().toISOString(), schemaVersion: 1 },
});

/** A store whose operations fail while `failing` is set (for the rule; real failures below). */
function flakyStore(): { store: EventStore; failing: Set<string>; handlers: SubscriptionHandlers[] } {
  const failing = new Set<string>();
  const handlers: SubscriptionHandlers[] = [];
  const maybe = async <T>(op: string, value: T): Promise<T> => {
    if (failing.has(op)) throw new EventStoreUnavailableError(`${op}: SQLITE_IOERR: disk I/O error`);
    return value;
  };
  const store: EventStore = {
    append: (stream) =>
      failing.has('conflict')
        ? Promise.reject(new WrongExpectedRevisionError(stream, 0, 1))
        : maybe('append', { revision: 0, position: 1 }),
    readStream: () => maybe('read', []),
    readAll: () => maybe('read', []),
    headPosition: () => maybe('head', 1),
    subscribe: (_options, h) => {
      handlers.push(h);
      return { caughtUp: Promise.resolve(), lastPosition: undefined, close: async () => undefined };
    },
    close: async () => undefined,
  };
  return { store, failing, handlers };
}

describe('event store health', () => {
  it('the rule: appends and reads failing → degraded, the head or a subscription failing → down; the next success of the same kind clears it; conflicts and bad arguments are not failures', async () => {
    const { store, failing, handlers } = flakyStore();
    const s = new InstrumentedEventStore(store, new Metrics({ defaultMetrics: false }));
    assert.deepEqual(s.condition(), { status: 'up' });

    failing.add('conflict');
    await assert.rejects(s.append('a', [ev()], 0), WrongExpectedRevisionError);
    failing.delete('conflict');
    assert.equal(s.condition().status, 'up', "a conflict is the caller's business");

    failing.add('append');
    await assert.rejects(s.append('a', [ev()], 'any'), EventStoreUnavailableError);
    const degraded = s.condition();
    assert.equal(degraded.status, 'degraded');
    assert.equal(degraded.detail, 'append failed: append: SQLITE_IOERR: disk I/O error');
    assert.ok(Date.parse(degraded.at!) <= Date.now());
    await s.readAll(); // a read succeeding does not clear a failing append
    assert.equal(s.condition().status, 'degraded');

    failing.add('head');
    await assert.rejects(s.headPosition());
    assert.equal(s.condition().status, 'down', 'the worst failure wins');
    assert.match(s.condition().detail!, /^reading the head position failed/);
    failing.delete('head');
    await s.headPosition();
    assert.equal(s.condition().status, 'degraded');
    failing.delete('append');
    await s.append('a', [ev()], 'any');
    assert.deepEqual(s.condition(), { status: 'up' });

    failing.add('read');
    await assert.rejects(s.readStream('a'));
    assert.equal(s.condition().status, 'degraded');
    failing.delete('read');
    await s.readAll();
    assert.equal(s.condition().status, 'up');

    // A subscription: the store failing it is down; the subscriber's own handler throwing is not the store.
    s.subscribe(
      {},
      {
        onEvents: () => {
          throw new Error('projection bug');
        },
        onError: () => undefined,
      },
    );
    const delivered = handlers[0];
    const thrown = await Promise.resolve()
      .then(() => delivered.onEvents([] as RecordedEvent[]))
      .catch((e: unknown) => e);
    delivered.onError!(thrown as Error);
    assert.equal(s.condition().status, 'up');
    delivered.onError!(new EventStoreUnavailableError('event store read failed: SQLITE_CORRUPT: database disk image is malformed'));
    assert.deepEqual(
      { ...s.condition(), at: undefined },
      {
        status: 'down',
        detail: 'a subscription failed: event store read failed: SQLITE_CORRUPT: database disk image is malformed',
        at: undefined,
      },
    );
  });

  describe('a full disk (a real tmpfs)', () => {
    const mount = tempDir('bramble-full-');
    let mounted = false;
    before(() => {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mount.dir]);
      mounted = true;
    });
    after(() => {
      if (mounted) execFileSync('umount', [mount.dir]);
      mount.cleanup();
    });

    it(
      'appends fail with EVENT_STORE_UNAVAILABLE and /health says eventStore degraded with SQLITE_FULL; once space is freed both recover',
      { timeout: 60_000 },
      async () => {
        const dataDir = path.join(mount.dir, 'data');
        const h = await startHarness({ adminToken: 'full-disk-admin-token-0123', env: { BRAMBLE_DATA_DIR: dataDir } });
        const filler = path.join(mount.dir, 'filler');
        try {
          const hex = (n: number) => (n & 255).toString(16).padStart(2, '0');
          const approve = (i: number) =>
            h.gql(`mutation { approveClient(mac: "dc:a6:32:5f:${hex(i >> 8)}:${hex(i)}", name: "${'n'.repeat(50)}${i}") { mac } }`);
          assert.deepEqual((await approve(0)).errors, undefined);
          // Leave the store ~48 KB.
          const { bavail, bsize } = statfsSync(mount.dir);
          writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 48 * 1024)));
          let failure: Awaited<ReturnType<typeof approve>> | undefined;
          for (let i = 1; i < 2000 && !failure; i++) {
            const res = await approve(i);
            if (res.errors) failure = res;
          }
          assert.ok(failure, 'an append failed once the disk was full');
          assert.equal(failure.errors![0].extensions?.code, 'EVENT_STORE_UNAVAILABLE');
          assert.equal(failure.errors![0].message, 'the event store is unavailable');

          const res = await fetch(`${h.url}/health`);
          assert.equal(res.status, 200, 'degraded still serves');
          const health = (await res.json()) as { status: string; eventStore: { status: string; detail: string; since: string } };
          assert.equal(health.status, 'degraded');
          assert.equal(health.eventStore.status, 'degraded');
          assert.match(health.eventStore.detail, /^append failed: .*SQLITE_FULL: database or disk is full/);
          assert.ok(health.eventStore.since);
          const gqlHealth = await h.gql('{ health { status eventStore { status detail since } } }', undefined, null);
          assert.equal(gqlHealth.data?.health.eventStore.status, 'degraded');

          rmSync(filler);
          assert.deepEqual((await approve(3000)).errors, undefined, 'appends work again once space is freed');
          const recovered = (await (await fetch(`${h.url}/health`)).json()) as {
            status: string;
            eventStore: { status: string; detail?: string };
          };
          assert.equal(recovered.eventStore.status, 'up');
          assert.equal(recovered.eventStore.detail, undefined);
          assert.equal(recovered.status, 'ok');
        } finally {
          rmSync(filler, { force: true });
          await h.close();
        }
      },
    );
  });

  describe('the start-up integrity check', () => {
    const tmp = tempDir('bramble-corrupt-');
    let damaged: string;
    before(async () => {
      // A data directory written by bramble: ~3 MB of events, and the read-model snapshot at the
      // head (so a restart replays nothing and reads none of the old pages)...
      const good = path.join(tmp.dir, 'good');
      const core = await startCoreApp({ dataDir: good });
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          store.append(
            `s-${i}`,
            Array.from({ length: 40 }, (_, j) => ev({ i, j, pad: 'x'.repeat(400) })),
            'no_stream',
          ),
        ),
      );
      await core.engine.waitFor(await store.headPosition());
      await core.close();
      // ...and a copy whose events.db has four pages in its middle overwritten.
      damaged = path.join(tmp.dir, 'damaged');
      mkdirSync(damaged, { mode: 0o700 });
      for (const f of ['events.db', 'read-models.snapshot.json']) copyFileSync(path.join(good, f), path.join(damaged, f));
      const file = path.join(damaged, 'events.db');
      const size = statSync(file).size;
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(4 * 4096, 0xa5), 0, 4 * 4096, Math.floor(size / 4096 / 2) * 4096);
      closeSync(fd);
    });
    after(() => tmp.cleanup());

    function dataDirWithDamagedStore(): string {
      const dir = path.join(tmp.dir, randomUUID());
      mkdirSync(dir, { mode: 0o700 });
      for (const f of ['events.db', 'read-models.snapshot.json']) copyFileSync(path.join(damaged, f), path.join(dir, f));
      return dir;
    }

    it('a healthy store passes it', async () => {
      const store = await SqliteEventStore.open({ file: path.join(tmp.dir, 'good', 'events.db') });
      try {
        assert.equal((await store.integrityCheck()).status, 'passed');
      } finally {
        await store.close();
      }
    });

    it('the sqlite store runs quick_check at open, holds appends until it passes, and refuses them for good when it fails', async () => {
      const store = await SqliteEventStore.open({ file: dataDirWithDamagedStore() + '/events.db' });
      try {
        const held = store.append('after-open', [ev()], 'no_stream'); // sent before the check has finished
        const report = await store.integrityCheck();
        assert.equal(report.status, 'failed');
        assert.match(report.status === 'failed' ? report.detail : '', /SQLITE_CORRUPT|malformed|Page \d+/);
        await assert.rejects(
          held,
          (e: unknown) => e instanceof EventStoreUnavailableError && /failed its integrity check \(quick_check\)/.test(e.message),
        );
        await assert.rejects(store.append('later', [ev()], 'no_stream'), EventStoreUnavailableError);
        // Reads of damaged pages fail with the store's code, not as an unexplained error.
        await assert.rejects(
          store.readAll({ limit: 5000 }),
          (e: unknown) => e instanceof EventStoreUnavailableError && /SQLITE_CORRUPT/.test(e.message),
        );
        // Seen through the instrumented store: down, with the reason.
        const instrumented = new InstrumentedEventStore(store, new Metrics({ defaultMetrics: false }));
        await instrumented.integrityCheck();
        await new Promise((r) => setImmediate(r));
        assert.equal(instrumented.condition().status, 'down');
        assert.match(instrumented.condition().detail!, /^integrity check failed: /);
        await assert.rejects(instrumented.awaitIntegrity(1000), EventStoreCorruptError);
      } finally {
        await store.close();
      }
    });

    it(
      "bramble refuses to start on the damaged file (which its snapshot would have let it serve), with sqlite's message; the real server exits 1 without a stack trace",
      { timeout: 60_000 },
      async () => {
        await assert.rejects(startCoreApp({ dataDir: dataDirWithDamagedStore() }), (e: unknown) => {
          assert.ok(e instanceof EventStoreCorruptError, String(e));
          assert.equal(e.code, 'EVENT_STORE_CORRUPT');
          assert.match(
            e.message,
            /^the event store failed its integrity check: .*(SQLITE_CORRUPT|malformed|Page \d+).*restore it from a backup/,
          );
          return true;
        });
        const server = await startServer(dataDirWithDamagedStore());
        const { code } = await server.exit;
        assert.equal(code, 1);
        assert.match(server.output(), /bramble: refusing to start: the event store failed its integrity check: /);
        assert.doesNotMatch(server.output(), /\n\s+at /);
      },
    );
  });
});
