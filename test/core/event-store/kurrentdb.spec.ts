/**
 * KurrentDbEventStore.
 *
 * 1. The shared EventStore contract against a real KurrentDB when KURRENTDB_TEST_URL is set
 *    (e.g. `kurrentdb://127.0.0.1:2113?tls=false`), otherwise registered as skipped.
 * 2. What needs no server: a closed port or a silent server makes operations fail with
 *    EventStoreUnavailableError within a bounded time; bad connection strings; use after close.
 * 3. The same contract against the adapter wrapped around an in-memory stand-in of the client
 *    (`fromClient`). The stand-in follows the client's API and the server behaviour the adapter
 *    relies on (system events in $all, non-dense positions, a read start that must be an event's
 *    position, inclusive or exclusive read starts, with or without `caughtUp`). It checks the
 *    adapter's own logic (paging, filtering, batching, caught-up detection, error mapping); it
 *    says nothing about a real server, which only (1) can.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import {
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AppendStreamState,
  type EventData,
  type Filter,
  type Position,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import { eventStoreContract } from '../../support/event-store-contract';
import { KurrentDbEventStore, type KurrentDbClientApi } from '../../../src/core/event-store/kurrentdb/kurrentdb.event-store';
import { EventStoreUnavailableError, type EventStore, type NewEvent } from '../../../src/core/event-store/event-store.port';
import { ConfigError } from '../../../src/core/config/config';

// ---- 1. a real server ---------------------------------------------------------------------------

const serverUrl = process.env.KURRENTDB_TEST_URL;

eventStoreContract(
  'kurrentdb',
  async () => {
    const store = await KurrentDbEventStore.connect({ connectionString: serverUrl ?? 'kurrentdb://127.0.0.1:2113?tls=false' });
    return { store, cleanup: () => store.close() };
  },
  { skip: serverUrl ? false : 'KURRENTDB_TEST_URL not set: no KurrentDB server on this machine' },
);

// ---- 2. no server --------------------------------------------------------------------------------

const ev = (): NewEvent => ({
  type: 'Tested',
  data: {},
  metadata: { actor: 'test', correlationId: randomUUID(), causationId: null, timestamp: new Date().toISOString(), schemaVersion: 1 },
});

/** A TCP port nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every operation of `store`, each expected to fail with EventStoreUnavailableError within `withinMs`. */
async function assertAllUnavailable(store: EventStore, withinMs: number): Promise<void> {
  const operations: Array<[string, () => Promise<unknown>]> = [
    ['headPosition', () => store.headPosition()],
    ['readStream', () => store.readStream('client-b8:27:eb:00:00:01')],
    ['readAll', () => store.readAll({ filter: { types: ['ClientApproved'] } })],
    ['append', () => store.append('client-b8:27:eb:00:00:01', [ev()], 'any')],
    [
      'subscribe',
      () =>
        new Promise((resolve, reject) => {
          const sub = store.subscribe({}, { onEvents: () => undefined, onError: reject });
          sub.caughtUp.then(
            () => resolve('caught up'),
            () => undefined,
          );
        }),
    ],
  ];
  for (const [name, run] of operations) {
    const started = Date.now();
    await assert.rejects(run(), (err: unknown) => {
      assert.ok(err instanceof EventStoreUnavailableError, `${name}: ${String(err)}`);
      assert.equal(err.code, 'EVENT_STORE_UNAVAILABLE');
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took < withinMs, `${name} took ${took} ms (limit ${withinMs} ms)`);
  }
}

describe('KurrentDbEventStore without a server', () => {
  it('fails every operation with EventStoreUnavailableError on a closed port, quickly', async () => {
    const port = await unusedPort();
    const store = await KurrentDbEventStore.connect({ connectionString: `kurrentdb://127.0.0.1:${port}?tls=false&defaultDeadline=2000` });
    try {
      await assertAllUnavailable(store, 3000);
    } finally {
      await store.close();
    }
  });

  it('does not hang on a server that accepts connections and never answers (bounded by defaultDeadline)', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const store = await KurrentDbEventStore.connect({ connectionString: `kurrentdb://127.0.0.1:${port}?tls=false&defaultDeadline=1000` });
    assert.equal(store.stepTimeoutMs, 2000);
    try {
      await assertAllUnavailable(store, 4000);
    } finally {
      await store.close();
      // The client leaves some calls without a deadline pending; dropping the connections ends them.
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('refuses a bad connection string at connect, naming the key and hiding the password', async () => {
    await assert.rejects(
      KurrentDbEventStore.connect({ connectionString: 'kurrentdb://admin:s3cr3t@db.lab:2113?tls=nope' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.key, 'BRAMBLE_EVENT_STORE');
        assert.ok(!err.message.includes('s3cr3t'), err.message);
        return true;
      },
    );
  });

  it('refuses every operation once closed', async () => {
    const store = await KurrentDbEventStore.connect({
      connectionString: `kurrentdb://admin:s3cr3t@127.0.0.1:${await unusedPort()}?tls=false`,
    });
    await store.close();
    await store.close(); // idempotent
    for (const run of [
      () => store.headPosition(),
      () => store.readAll(),
      () => store.readStream('s'),
      () => store.append('s', [ev()], 'any'),
    ]) {
      await assert.rejects(run(), (err: unknown) => {
        assert.ok(err instanceof EventStoreUnavailableError);
        assert.match(err.message, /is closed/);
        assert.ok(!err.message.includes('s3cr3t'), err.message);
        return true;
      });
    }
    assert.throws(() => store.subscribe({}, { onEvents: () => undefined }), EventStoreUnavailableError);
  });
});

// ---- 3. the adapter over a stand-in client ----------------------------------------------------

interface StoredRecord {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  isJson: true;
  created: Date;
  position: Position;
}

interface StandInOptions {
  /** Does a $all read starting at an event's position return that event (true) or start after it? */
  inclusiveReadStart: boolean;
  /** Does a subscription report `caughtUp` (KurrentDB 23.10+)? */
  caughtUpEvents: boolean;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * An in-memory stand-in for KurrentDBClient: one log of records with non-dense positions, system
 * events written the way a server's system projections do, expected-revision checks raising the
 * client's WrongExpectedVersionError, StreamNotFoundError on reading a missing stream, server-side
 * filters (regex / prefixes on type or stream name), catch-up subscriptions as object-mode streams.
 */
class StandInClient {
  readonly log: StoredRecord[] = [];
  private readonly revisions = new Map<string, bigint>();
  private readonly positions = new Set<bigint>([0n]);
  private readonly subscriptions = new Set<StandInSubscription>();
  private nextPosition = 0n;

  constructor(readonly options: StandInOptions) {
    this.write('$settings', '$settings', { $userStreamAcl: {} }, { $v: '1' });
    this.write('$scavenges', '$scavengeStarted', { scavengeId: randomUUID() }, null);
  }

  private write(streamId: string, type: string, data: unknown, metadata: unknown, id: string = randomUUID()): StoredRecord {
    this.nextPosition += 97n + BigInt(JSON.stringify(data ?? null).length); // sparse, like log offsets
    const revision = (this.revisions.get(streamId) ?? -1n) + 1n;
    this.revisions.set(streamId, revision);
    const record: StoredRecord = {
      streamId,
      id,
      revision,
      type,
      data: JSON.parse(JSON.stringify(data ?? null)) as unknown,
      metadata: metadata === null ? undefined : (JSON.parse(JSON.stringify(metadata)) as unknown),
      isJson: true,
      created: new Date(),
      position: { commit: this.nextPosition, prepare: this.nextPosition },
    };
    this.log.push(record);
    this.positions.add(this.nextPosition);
    return record;
  }

  /** A start position must be START/END or the position of a record (the server refuses others). */
  private checkStart(from: ReadPosition): void {
    if (from === 'start' || from === 'end') return;
    assert.equal(from.commit, from.prepare, 'commit and prepare of a start position are equal');
    if (!this.positions.has(from.commit)) throw new Error(`stand-in: ${from.commit} is not the position of a record`);
  }

  async appendToStream(streamName: string, events: EventData | EventData[], options: { streamState?: AppendStreamState } = {}) {
    await tick();
    const list = Array.isArray(events) ? events : [events];
    const state = options.streamState ?? 'any';
    const current = this.revisions.get(streamName);
    const ok =
      state === 'any' ||
      (state === 'no_stream' ? current === undefined : state === 'stream_exists' ? current !== undefined : current === state);
    if (!ok) throw new WrongExpectedVersionError(undefined, { streamName, expected: state, current: current ?? 'no_stream' });
    let last: StoredRecord | undefined;
    for (const e of list) last = this.write(streamName, e.type, e.data, e.metadata, e.id);
    if (current === undefined) this.write('$streams', '$>', `0@${streamName}`, { $v: '1' }); // system projection
    if (list.length > 2) this.write(`$$${streamName}`, '$metadata', { $maxCount: 1000 }, null);
    for (const sub of this.subscriptions) sub.appended();
    return { success: true, nextExpectedRevision: last!.revision, position: last!.position };
  }

  readStream(
    streamName: string,
    options: { fromRevision?: 'start' | 'end' | bigint; maxCount?: number | bigint; direction?: string } = {},
  ) {
    const log = this.log;
    const exists = this.revisions.has(streamName);
    return (async function* () {
      await tick();
      if (!exists) throw new StreamNotFoundError(undefined, streamName);
      const from = typeof options.fromRevision === 'bigint' ? options.fromRevision : 0n;
      let left = BigInt(options.maxCount ?? Number.MAX_SAFE_INTEGER);
      for (const r of log) {
        if (left <= 0n) return;
        if (r.streamId !== streamName || r.revision < from) continue;
        left--;
        yield { event: r };
      }
    })();
  }

  readAll(options: { fromPosition?: ReadPosition; direction?: string; maxCount?: number | bigint; filter?: Filter } = {}) {
    const from = options.fromPosition ?? 'start';
    this.checkStart(from);
    const backwards = options.direction === 'backwards';
    const snapshot = [...this.log];
    const inclusive = this.options.inclusiveReadStart;
    return (async function* () {
      await tick();
      const ordered = backwards ? snapshot.reverse() : snapshot;
      let left = BigInt(options.maxCount ?? Number.MAX_SAFE_INTEGER);
      for (const r of ordered) {
        if (left <= 0n) return;
        const p = r.position.commit;
        if (from !== 'start' && from !== 'end') {
          if (backwards ? p >= from.commit : inclusive ? p < from.commit : p <= from.commit) continue;
        }
        if (!serverFilterMatches(options.filter, r)) continue;
        left--;
        yield { event: r };
        if (left % 50n === 0n) await tick();
      }
    })();
  }

  subscribeToAll(options: { fromPosition?: ReadPosition; filter?: Filter } = {}, readable: { highWaterMark?: number } = {}) {
    const from = options.fromPosition ?? 'start';
    this.checkStart(from);
    assert.notEqual(from, 'end', 'the adapter never subscribes from END');
    const start = from === 'start' ? 0 : this.log.findIndex((r) => r.position.commit > (from as Position).commit);
    const sub = new StandInSubscription(this, start === -1 ? this.log.length : start, options.filter, readable.highWaterMark ?? 16);
    this.subscriptions.add(sub);
    return sub;
  }

  forget(sub: StandInSubscription): void {
    this.subscriptions.delete(sub);
  }

  get openSubscriptions(): number {
    return this.subscriptions.size;
  }

  async dispose(): Promise<void> {
    for (const sub of this.subscriptions) sub.destroy();
    this.subscriptions.clear();
  }
}

function serverFilterMatches(filter: Filter | undefined, r: StoredRecord): boolean {
  if (!filter) return true;
  const subject = filter.filterOn === 'eventType' ? r.type : r.streamId;
  if ('regex' in filter) return new RegExp(filter.regex).test(subject);
  return filter.prefixes.some((p) => subject.startsWith(p));
}

/** A catch-up subscription: historic records, `caughtUp`, then live ones; honours back-pressure. */
class StandInSubscription extends Readable {
  private waiting = false;
  private caughtUpSent = false;

  constructor(
    private readonly client: StandInClient,
    private cursor: number,
    private readonly serverFilter: Filter | undefined,
    highWaterMark: number,
  ) {
    super({ objectMode: true, highWaterMark });
  }

  override _read(): void {
    this.waiting = false;
    setImmediate(() => this.pump()); // asynchronous, like records arriving from the network
  }

  appended(): void {
    if (!this.waiting) return;
    this.waiting = false;
    setImmediate(() => this.pump());
  }

  /** Pushes at most a few records per turn: they trickle in, as from the network. */
  private pump(): void {
    if (this.destroyed) return;
    const log = this.client.log;
    let pushed = 0;
    while (this.cursor < log.length) {
      if (pushed === 3) {
        setImmediate(() => this.pump());
        return;
      }
      const r = log[this.cursor++];
      if (!serverFilterMatches(this.serverFilter, r)) continue;
      pushed++;
      if (!this.push({ event: r })) return; // _read is called again when there is room
    }
    if (!this.caughtUpSent) {
      this.caughtUpSent = true;
      if (this.client.options.caughtUpEvents) this.emit('caughtUp', { date: new Date() });
    }
    this.waiting = true;
  }

  async unsubscribe(): Promise<void> {
    this.client.forget(this);
  }
}

for (const options of [
  { inclusiveReadStart: true, caughtUpEvents: true },
  { inclusiveReadStart: false, caughtUpEvents: false },
] satisfies StandInOptions[]) {
  const label = `kurrentdb adapter over a stand-in client (${options.inclusiveReadStart ? 'inclusive' : 'exclusive'} read starts, ${
    options.caughtUpEvents ? 'with' : 'without'
  } caughtUp events)`;
  const clients: StandInClient[] = [];
  eventStoreContract(label, async () => {
    const client = new StandInClient(options);
    clients.push(client);
    const store = KurrentDbEventStore.fromClient(client as unknown as KurrentDbClientApi, {
      connectionString: 'kurrentdb://stand-in:2113?tls=false',
    });
    return { store, cleanup: () => store.close() };
  });
  after(() => {
    for (const client of clients) assert.equal(client.openSubscriptions, 0, `${label}: every subscription was cancelled`);
  });
}

describe('kurrentdb adapter over a stand-in client: what the contract does not cover', () => {
  const open = (options: StandInOptions = { inclusiveReadStart: true, caughtUpEvents: true }) => {
    const client = new StandInClient(options);
    const store = KurrentDbEventStore.fromClient(client as unknown as KurrentDbClientApi, {
      connectionString: 'kurrentdb://stand-in:2113?tls=false',
    });
    return { client, store };
  };

  it('never returns system events and reports 0 as the head of a store with only system events', async () => {
    const { client, store } = open();
    assert.ok(client.log.length > 0);
    assert.equal(await store.headPosition(), 0);
    assert.deepEqual(await store.readAll(), []);
    await store.append('client-1', [ev(), ev(), ev()], 'no_stream'); // also writes $> and $metadata
    const all = await store.readAll({ filter: { streamPrefixes: [''] } });
    assert.deepEqual(
      all.map((e) => e.stream),
      ['client-1', 'client-1', 'client-1'],
    );
    assert.equal(await store.headPosition(), all[2].position);
    assert.ok(client.log[client.log.length - 1].streamId.startsWith('$'), 'the newest record is a system one');
    assert.deepEqual(await store.readStream('$streams'), []);
    await store.close();
  });

  it('fills a page by reading on when the client filters most events out', async () => {
    const { store } = open();
    for (let i = 0; i < 30; i++) {
      const actor = i % 10 === 0 ? 'admin:rare' : 'system';
      await store.append(`s-${i}`, [{ ...ev(), metadata: { ...ev().metadata, actor } }], 'no_stream');
    }
    const page = await store.readAll({ filter: { actor: 'admin:rare' }, limit: 3 });
    assert.deepEqual(
      page.map((e) => e.stream),
      ['s-0', 's-10', 's-20'],
    );
    const backwards = await store.readAll({ filter: { actor: 'admin:rare' }, limit: 2, direction: 'backwards' });
    assert.deepEqual(
      backwards.map((e) => e.stream),
      ['s-20', 's-10'],
    );
    await store.close();
  });

  it('a subscription whose filter can match nothing is caught up at once', async () => {
    const { store } = open();
    const sub = store.subscribe({ filter: { types: [] } }, { onEvents: () => assert.fail('nothing can match') });
    await sub.caughtUp;
    await sub.close();
    await store.close();
  });

  it('close() lets an append already sent finish', async () => {
    const { store } = open();
    const pending = store.append('client-1', [ev()], 'no_stream');
    await store.close();
    assert.equal((await pending).revision, 0);
  });

  it('closing the store closes its subscriptions', async () => {
    const { client, store } = open();
    await store.append('client-1', [ev()], 'no_stream');
    const sub = store.subscribe({}, { onEvents: () => undefined });
    await sub.caughtUp;
    assert.equal(client.openSubscriptions, 1);
    await store.close();
    assert.equal(client.openSubscriptions, 0);
  });

  it('reports a subscription that fails on the client side through onError, as EventStoreUnavailableError', async () => {
    const { client, store } = open();
    await store.append('client-1', [ev()], 'no_stream');
    const errors: Error[] = [];
    const sub = store.subscribe({}, { onEvents: () => undefined, onError: (err) => errors.push(err) });
    await sub.caughtUp;
    const [stream] = [...(client as unknown as { subscriptions: Set<StandInSubscription> }).subscriptions];
    stream.destroy(Object.assign(new Error('14 UNAVAILABLE: Connection dropped'), { code: 14, details: 'Connection dropped' }));
    for (let i = 0; i < 100 && errors.length === 0; i++) await tick();
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof EventStoreUnavailableError, String(errors[0]));
    await sub.close();
    await store.close();
  });
});
