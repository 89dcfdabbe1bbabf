/**
 * THE EventStore contract: every adapter runs this suite (test/event-store.<adapter>.spec.ts).
 *
 * It must pass against a shared, long-lived server too, so every test writes to streams with a
 * random suffix, filters reads by its own stream prefix / type / actor, and never assumes the store
 * is empty or that positions start anywhere (positions are only compared with each other).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  WrongExpectedRevisionError,
  type EventFilter,
  type EventMetadata,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
  type Subscription,
} from '../../src/core/event-store/event-store.port';

export interface ContractSubject {
  store: EventStore;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** A reason to skip the whole suite (shown as skipped by the runner), or false to run it. */
  skip?: string | false;
}

const uid = (): string => randomUUID().slice(0, 8);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function meta(overrides: Partial<EventMetadata> = {}): EventMetadata {
  return {
    actor: 'test:contract',
    correlationId: randomUUID(),
    causationId: null,
    timestamp: new Date().toISOString(),
    schemaVersion: 1,
    ...overrides,
  };
}

function ev(type: string, data: unknown = {}, metadata: Partial<EventMetadata> = {}): NewEvent {
  return { type, data, metadata: meta(metadata) };
}

function evs(count: number, type = 'Tested', metadata: Partial<EventMetadata> = {}): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ev(type, { i }, metadata));
}

/** Asserts `promise` rejects with a WrongExpectedRevisionError carrying these fields. */
async function rejectsConflict(
  promise: Promise<unknown>,
  expected: { stream: string; expected: WrongExpectedRevisionError['expected']; actual: number | 'no_stream' },
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WrongExpectedRevisionError, `expected WrongExpectedRevisionError, got ${String(err)}`);
    assert.equal(err.code, 'CONCURRENCY_CONFLICT');
    assert.equal(err.stream, expected.stream);
    assert.equal(err.expected, expected.expected);
    assert.equal(err.actual, expected.actual);
    return true;
  });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

function positions(events: RecordedEvent[]): number[] {
  return events.map((e) => e.position);
}

function assertIncreasing(values: number[], what: string): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i] > values[i - 1], `${what}: ${values[i]} after ${values[i - 1]} at index ${i}`);
  }
}

export function eventStoreContract(name: string, open: () => Promise<ContractSubject>, options: ContractOptions = {}): void {
  if (typeof options.skip === 'string') {
    // One skipped test (not a skipped suite) so the runner's "skipped" count shows it.
    const reason = options.skip;
    describe(`EventStore contract: ${name}`, () => {
      it('runs the whole contract suite', { skip: reason }, () => undefined);
    });
    return;
  }

  describe(`EventStore contract: ${name}`, () => {
    let subject: ContractSubject | undefined;
    const subscriptions: Subscription[] = [];
    const store = (): EventStore => {
      if (!subject) throw new Error('store not opened');
      return subject.store;
    };
    /** Reads every event of this test (by prefix) after `start`, in position order. */
    const readPrefix = async (prefix: string, start: number, filter: EventFilter = {}): Promise<RecordedEvent[]> => {
      const out: RecordedEvent[] = [];
      let afterPosition = start;
      for (;;) {
        const page = await store().readAll({ after: afterPosition, limit: 500, filter: { ...filter, streamPrefixes: [prefix] } });
        out.push(...page);
        if (page.length < 500) return out;
        afterPosition = page[page.length - 1].position;
      }
    };
    /** Subscribes and collects what it delivers; closed by the suite's `after` at the latest. */
    const collect = (opts: Parameters<EventStore['subscribe']>[0], onBatch?: (batch: RecordedEvent[]) => Promise<void> | void) => {
      const delivered: RecordedEvent[] = [];
      const batches: number[] = [];
      const errors: Error[] = [];
      const sub = store().subscribe(opts, {
        onEvents: async (events) => {
          batches.push(events.length);
          delivered.push(...events);
          await onBatch?.(events);
        },
        onError: (err) => errors.push(err),
      });
      subscriptions.push(sub);
      return { sub, delivered, batches, errors };
    };

    before(async () => {
      subject = await open();
    });
    after(async () => {
      for (const sub of subscriptions) await sub.close();
      await subject?.cleanup();
    });

    describe('append', () => {
      it('appends to a new stream with no_stream', async () => {
        const stream = `contract-new-${uid()}`;
        const result = await store().append(stream, [ev('Created')], 'no_stream');
        assert.equal(result.revision, 0);
        assert.ok(result.position > 0, 'position is positive');
        const read = await store().readStream(stream);
        assert.equal(read.length, 1);
        assert.equal(read[0].revision, 0);
        assert.equal(read[0].position, result.position);
      });

      it('rejects no_stream on an existing stream with the actual revision, and writes nothing', async () => {
        const stream = `contract-exists-${uid()}`;
        await store().append(stream, evs(2), 'no_stream');
        await rejectsConflict(store().append(stream, [ev('Again')], 'no_stream'), { stream, expected: 'no_stream', actual: 1 });
        assert.equal((await store().readStream(stream)).length, 2);
      });

      it('accepts the exact current revision and rejects any other', async () => {
        const stream = `contract-exact-${uid()}`;
        await rejectsConflict(store().append(stream, [ev('A')], 0), { stream, expected: 0, actual: 'no_stream' });
        await store().append(stream, [ev('A')], 'no_stream');
        const second = await store().append(stream, [ev('B')], 0);
        assert.equal(second.revision, 1);
        await rejectsConflict(store().append(stream, [ev('C')], 0), { stream, expected: 0, actual: 1 });
        await rejectsConflict(store().append(stream, [ev('C')], 5), { stream, expected: 5, actual: 1 });
        const third = await store().append(stream, [ev('C')], 1);
        assert.equal(third.revision, 2);
        assert.deepEqual(
          (await store().readStream(stream)).map((e) => e.type),
          ['A', 'B', 'C'],
        );
      });

      it('any appends whether or not the stream exists', async () => {
        const stream = `contract-any-${uid()}`;
        assert.equal((await store().append(stream, [ev('A')], 'any')).revision, 0);
        assert.equal((await store().append(stream, evs(2), 'any')).revision, 2);
      });

      it('stream_exists rejects a missing stream and accepts an existing one', async () => {
        const stream = `contract-streamexists-${uid()}`;
        await rejectsConflict(store().append(stream, [ev('A')], 'stream_exists'), {
          stream,
          expected: 'stream_exists',
          actual: 'no_stream',
        });
        assert.deepEqual(await store().readStream(stream), []);
        await store().append(stream, [ev('A')], 'no_stream');
        assert.equal((await store().append(stream, [ev('B')], 'stream_exists')).revision, 1);
      });

      it('appends several events atomically with contiguous revisions', async () => {
        const stream = `contract-multi-${uid()}`;
        const start = await store().headPosition();
        const result = await store().append(stream, evs(3), 'no_stream');
        assert.equal(result.revision, 2);
        const read = await store().readStream(stream);
        assert.deepEqual(
          read.map((e) => e.revision),
          [0, 1, 2],
        );
        assertIncreasing(positions(read), 'positions within one append');
        assert.equal(read[2].position, result.position);
        assert.deepEqual(positions(await readPrefix(stream, start)), positions(read));
        // A conflicting multi-event append writes none of its events.
        await rejectsConflict(store().append(stream, evs(3), 0), { stream, expected: 0, actual: 2 });
        assert.equal((await store().readStream(stream)).length, 3);
      });

      it('lets exactly one of several concurrent appends with the same expected revision win', async () => {
        const stream = `contract-race-${uid()}`;
        await store().append(stream, [ev('Created')], 'no_stream');
        const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store().append(stream, [ev('Raced', { i })], 0)));
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        assert.equal(won.length, 1, 'exactly one winner');
        for (const r of lost) {
          assert.ok(r.reason instanceof WrongExpectedRevisionError, `loser failed with ${String(r.reason)}`);
          assert.equal(r.reason.actual, 1);
        }
        assert.equal((await store().readStream(stream)).length, 2);
      });

      it('lets exactly one of 20 concurrent creations of one stream (no_stream) win: what makes names unique', async () => {
        const stream = `contract-unique-${uid()}`;
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => store().append(stream, [ev('Claimed', { i })], 'no_stream')),
        );
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one winner');
        for (const r of results) {
          if (r.status === 'rejected') assert.ok(r.reason instanceof WrongExpectedRevisionError, `loser failed with ${String(r.reason)}`);
        }
        assert.equal((await store().readStream(stream)).length, 1);
      });

      it('headPosition is at least the position of the last acknowledged append', async () => {
        const stream = `contract-head-${uid()}`;
        const before = await store().headPosition();
        const result = await store().append(stream, evs(2), 'no_stream');
        const head = await store().headPosition();
        assert.ok(result.position > before, 'append moves past the old head');
        assert.ok(head >= result.position, `head ${head} >= ${result.position}`);
      });
    });

    describe('readStream', () => {
      it('returns events in revision order, honouring fromRevision and limit', async () => {
        const stream = `contract-readstream-${uid()}`;
        await store().append(stream, evs(4), 'no_stream');
        await store().append(stream, evs(6), 3);
        const all = await store().readStream(stream);
        assert.deepEqual(
          all.map((e) => e.revision),
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        );
        assertIncreasing(positions(all), 'stream positions');
        assert.deepEqual(
          (await store().readStream(stream, { fromRevision: 3 })).map((e) => e.revision),
          [3, 4, 5, 6, 7, 8, 9],
        );
        assert.deepEqual(
          (await store().readStream(stream, { limit: 4 })).map((e) => e.revision),
          [0, 1, 2, 3],
        );
        assert.deepEqual(
          (await store().readStream(stream, { fromRevision: 8, limit: 5 })).map((e) => e.revision),
          [8, 9],
        );
        assert.deepEqual(await store().readStream(stream, { fromRevision: 10 }), []);
      });

      it('returns [] for a missing stream', async () => {
        assert.deepEqual(await store().readStream(`contract-missing-${uid()}`), []);
        assert.deepEqual(await store().readStream(`contract-missing-${uid()}`, { fromRevision: 3, limit: 2 }), []);
      });

      it('records every field of an event', async () => {
        const stream = `contract-fields-${uid()}`;
        const givenId = randomUUID();
        const data = {
          mac: 'b8:27:eb:12:34:56',
          serial: '0x1234abcd',
          nested: { list: [1, 2.5, -3, 'four', null, true, false], empty: {}, none: [] },
          text: 'ünïcødé ✓ 🍓 "quotes" \\ back\nslash',
          big: 9007199254740991,
        };
        const first: NewEvent = {
          id: givenId,
          type: 'ClientDetected',
          data,
          metadata: {
            actor: 'admin:ops',
            correlationId: randomUUID(),
            causationId: null,
            timestamp: '2024-05-06T07:08:09.123Z',
            schemaVersion: 3,
          },
        };
        const second: NewEvent = {
          type: 'ClientApproved',
          data: { approved: true },
          metadata: {
            actor: 'plugin:dhcp',
            correlationId: first.metadata.correlationId,
            causationId: givenId,
            timestamp: '2024-05-06T07:08:10.000Z',
            schemaVersion: 1,
          },
        };
        const start = await store().headPosition();
        const result = await store().append(stream, [first, second], 'no_stream');
        const [a, b] = await store().readStream(stream);

        assert.equal(a.id, givenId);
        assert.equal(a.stream, stream);
        assert.equal(a.revision, 0);
        assert.equal(a.type, 'ClientDetected');
        assert.deepEqual(a.data, data);
        assert.deepEqual(a.metadata, first.metadata);

        assert.equal(typeof b.id, 'string');
        assert.ok(b.id.length > 0 && b.id !== givenId, 'an id is generated when none is given');
        assert.equal(b.stream, stream);
        assert.equal(b.revision, 1);
        assert.equal(b.type, 'ClientApproved');
        assert.deepEqual(b.data, { approved: true });
        assert.deepEqual(b.metadata, second.metadata);
        assert.ok(b.position > a.position);
        assert.equal(b.position, result.position);

        // readAll returns the very same records.
        assert.deepEqual(await readPrefix(stream, start), [a, b]);
      });
    });

    describe('readAll', () => {
      it('pages with after, before, limit and direction', async () => {
        const prefix = `contract-page-${uid()}-`;
        const start = await store().headPosition();
        for (let i = 0; i < 5; i++) await store().append(`${prefix}${i % 2}`, evs(2), 'any');
        const all = await readPrefix(prefix, start);
        assert.equal(all.length, 10);
        assertIncreasing(positions(all), 'readAll forwards');
        const p = positions(all);
        const filter = { streamPrefixes: [prefix] };
        const read = async (o: Parameters<EventStore['readAll']>[0]) => positions(await store().readAll({ filter, ...o }));

        assert.deepEqual(await read({ after: start }), p);
        assert.deepEqual(await read({ after: p[2], limit: 3 }), p.slice(3, 6));
        assert.deepEqual(await read({ after: start, before: p[5] }), p.slice(0, 5));
        assert.deepEqual(await read({ after: p[1], before: p[5] }), p.slice(2, 5));
        assert.deepEqual(await read({ after: p[9] }), []);
        assert.deepEqual(await read({ after: start, limit: 0 }), []);
        assert.deepEqual(await read({ direction: 'backwards', limit: 3 }), [p[9], p[8], p[7]]);
        assert.deepEqual(await read({ direction: 'backwards', before: p[5], after: start }), p.slice(0, 5).reverse());
        assert.deepEqual(await read({ direction: 'backwards', before: p[5], after: p[1] }), [p[4], p[3], p[2]]);
        assert.deepEqual(await read({ direction: 'forwards', after: start, limit: 4 }), p.slice(0, 4));
      });

      it('returns at most 1000 events by default', async () => {
        const stream = `contract-default-limit-${uid()}`;
        const start = await store().headPosition();
        await store().append(stream, evs(1005), 'no_stream');
        const page = await store().readAll({ after: start, filter: { streamPrefixes: [stream] } });
        assert.equal(page.length, 1000);
        assert.deepEqual(
          page.map((e) => e.revision),
          Array.from({ length: 1000 }, (_, i) => i),
        );
      });

      it('filters by stream prefixes, treating _ % * ? [ as plain characters', async () => {
        const id = uid();
        const base = `contract-prefix-${id}`;
        const start = await store().headPosition();
        const streams = [
          `${base}-client_a%1`,
          `${base}-clientXaY1`,
          `${base}-client_a%2`,
          `${base}-user*?[1]`,
          `${base}-userZZ`,
          `${base}-image-1`,
        ];
        for (const s of streams) await store().append(s, [ev('Seen', { s })], 'no_stream');
        const read = async (prefixes: string[]) =>
          (await store().readAll({ after: start, filter: { streamPrefixes: prefixes } })).map((e) => e.stream);

        assert.deepEqual(await read([`${base}-client_a%`]), [streams[0], streams[2]]);
        assert.deepEqual(await read([`${base}-user*?[`]), [streams[3]]);
        assert.deepEqual(await read([`${base}-image-`, `${base}-client_a%2`]), [streams[2], streams[5]]);
        assert.deepEqual(await read([`${base}-`]), streams);
        assert.deepEqual(await read([`${base}-client_a%1`]), [streams[0]]);
        assert.deepEqual(await read([`${base}-nothing`]), []);
      });

      it('filters by event types', async () => {
        const id = uid();
        const prefix = `contract-types-${id}-`;
        const start = await store().headPosition();
        const [a, b, c] = [`Alpha${id}`, `Beta${id}`, `Gamma${id}`];
        await store().append(`${prefix}1`, [ev(a), ev(b), ev(c), ev(a)], 'no_stream');
        await store().append(`${prefix}2`, [ev(c), ev(b)], 'no_stream');
        const byTypes = await store().readAll({ after: start, filter: { types: [a, c] } });
        assert.deepEqual(
          byTypes.map((e) => e.type),
          [a, c, a, c],
        );
        assertIncreasing(positions(byTypes), 'types filter order');
        const combined = await store().readAll({ after: start, filter: { types: [b], streamPrefixes: [`${prefix}2`] } });
        assert.deepEqual(
          combined.map((e) => [e.stream, e.type]),
          [[`${prefix}2`, b]],
        );
        assert.deepEqual(await store().readAll({ after: start, filter: { types: [`Unknown${id}`] } }), []);
        const backwards = await store().readAll({ after: start, filter: { types: [a, b] }, direction: 'backwards', limit: 2 });
        assert.deepEqual(
          backwards.map((e) => e.type),
          [b, a],
        );
      });

      it('filters by actor', async () => {
        const id = uid();
        const prefix = `contract-actor-${id}-`;
        const start = await store().headPosition();
        const actor = `admin:contract-${id}`;
        await store().append(`${prefix}1`, [ev('X', 1, { actor }), ev('X', 2, { actor: 'system' }), ev('X', 3, { actor })], 'no_stream');
        await store().append(`${prefix}2`, [ev('X', 4, { actor: 'system' }), ev('X', 5, { actor })], 'no_stream');
        const mine = await store().readAll({ after: start, filter: { actor } });
        assert.deepEqual(
          mine.map((e) => e.data),
          [1, 3, 5],
        );
        assert.ok(mine.every((e) => e.metadata.actor === actor));
        const system = await store().readAll({ after: start, filter: { actor: 'system', streamPrefixes: [prefix] } });
        assert.deepEqual(
          system.map((e) => e.data),
          [2, 4],
        );
      });

      it('filters by time: since is inclusive, until exclusive', async () => {
        const prefix = `contract-time-${uid()}-`;
        const start = await store().headPosition();
        const t = (day: number): string => `2001-02-0${day}T00:00:00.000Z`;
        // Appended out of time order on purpose: the filter is on metadata.timestamp, not position.
        await store().append(`${prefix}1`, [ev('T', 3, { timestamp: t(3) }), ev('T', 1, { timestamp: t(1) })], 'no_stream');
        await store().append(
          `${prefix}2`,
          [ev('T', 5, { timestamp: t(5) }), ev('T', 2, { timestamp: t(2) }), ev('T', 4, { timestamp: t(4) })],
          'no_stream',
        );
        const read = async (filter: EventFilter) =>
          (await store().readAll({ after: start, filter: { streamPrefixes: [prefix], ...filter } })).map((e) => e.data);
        assert.deepEqual(await read({ since: t(2), until: t(4) }), [3, 2]);
        assert.deepEqual(await read({ since: t(4) }), [5, 4]);
        assert.deepEqual(await read({ until: t(2) }), [1]);
        assert.deepEqual(await read({ since: t(6) }), []);
        assert.deepEqual(await read({ since: '2001-02-02T12:00:00.000Z', until: '2001-02-04T12:00:00.000Z' }), [3, 4]);
      });

      it('combines every filter criterion', async () => {
        const id = uid();
        const prefix = `contract-combined-${id}-`;
        const start = await store().headPosition();
        const actor = `plugin:contract-${id}`;
        const type = `Combined${id}`;
        await store().append(
          `${prefix}a`,
          [
            ev(type, 1, { actor, timestamp: '2002-01-01T00:00:00.000Z' }),
            ev(type, 2, { actor: 'system', timestamp: '2002-01-02T00:00:00.000Z' }),
            ev('Other', 3, { actor, timestamp: '2002-01-03T00:00:00.000Z' }),
            ev(type, 4, { actor, timestamp: '2002-01-04T00:00:00.000Z' }),
            ev(type, 5, { actor, timestamp: '2002-01-09T00:00:00.000Z' }),
          ],
          'no_stream',
        );
        await store().append(`other-${prefix}a`, [ev(type, 6, { actor, timestamp: '2002-01-04T00:00:00.000Z' })], 'no_stream');
        const read = await store().readAll({
          after: start,
          filter: { streamPrefixes: [prefix], types: [type], actor, since: '2002-01-01T00:00:00.000Z', until: '2002-01-05T00:00:00.000Z' },
        });
        assert.deepEqual(
          read.map((e) => e.data),
          [1, 4],
        );
      });
    });

    describe('subscribe', () => {
      it('delivers historic events, then live ones, in position order', async () => {
        const prefix = `contract-sub-${uid()}-`;
        const start = await store().headPosition();
        await store().append(`${prefix}1`, evs(5), 'no_stream');
        const c = collect({ after: start, filter: { streamPrefixes: [prefix] } });
        await c.sub.caughtUp;
        assert.equal(c.delivered.length, 5);
        await store().append(`${prefix}2`, evs(3), 'no_stream');
        await store().append(`${prefix}1`, evs(2), 4);
        await waitFor(() => c.delivered.length >= 10, '10 events');
        const expected = await readPrefix(prefix, start);
        assert.deepEqual(c.delivered, expected);
        assert.equal(c.sub.lastPosition, expected[expected.length - 1].position);
        assert.deepEqual(c.errors, []);
        await c.sub.close();
      });

      it('has no gap and no duplicate at the hand-over while a writer appends concurrently', async () => {
        const prefix = `contract-handover-${uid()}-`;
        const start = await store().headPosition();
        // 100 historic events, 5 streams.
        await Promise.all(Array.from({ length: 5 }, (_, s) => store().append(`${prefix}${s}`, evs(20), 'no_stream')));
        let slow = 0;
        const c = collect({ after: start, filter: { streamPrefixes: [prefix] }, batchSize: 23 }, async () => {
          if (slow++ % 3 === 0) await sleep(1);
        });
        // 400 more, in bursts of 8 concurrent single-event appends, while the subscription catches up.
        const writer = (async () => {
          for (let burst = 0; burst < 50; burst++) {
            await Promise.all(
              Array.from({ length: 8 }, (_, i) => store().append(`${prefix}${(burst + i) % 7}`, [ev('Live', { burst, i })], 'any')),
            );
          }
        })();
        await writer;
        await waitFor(() => c.delivered.length >= 500, '500 events', 10_000);
        await sleep(20); // anything delivered twice would show up now
        const expected = positions(await readPrefix(prefix, start));
        assert.equal(expected.length, 500);
        assert.deepEqual(positions(c.delivered), expected);
        assert.ok(
          c.batches.every((n) => n >= 1 && n <= 23),
          'batches respect batchSize',
        );
        assert.deepEqual(c.errors, []);
        await c.sub.caughtUp;
        await c.sub.close();
      });

      it('resolves caughtUp once every event present at the start was delivered', async () => {
        const prefix = `contract-caughtup-${uid()}-`;
        const start = await store().headPosition();
        await store().append(`${prefix}1`, evs(30), 'no_stream');
        const c = collect({ after: start, filter: { streamPrefixes: [prefix] }, batchSize: 7 }, () => sleep(1));
        await c.sub.caughtUp;
        assert.equal(c.delivered.length, 30);
        assert.deepEqual(c.batches.slice(0, 4), [7, 7, 7, 7]);
        await c.sub.close();
      });

      it('resolves caughtUp at once when subscribing at the head, then delivers live events', async () => {
        const prefix = `contract-athead-${uid()}-`;
        const head = await store().headPosition();
        const c = collect({ after: head, filter: { streamPrefixes: [prefix] } });
        assert.equal(c.sub.lastPosition, head);
        await c.sub.caughtUp;
        assert.equal(c.delivered.length, 0);
        const result = await store().append(`${prefix}1`, [ev('Live')], 'no_stream');
        await waitFor(() => c.delivered.length === 1, 'the live event');
        assert.equal(c.delivered[0].position, result.position);
        await c.sub.close();
      });

      it('subscribes from the start when no position is given', async () => {
        const prefix = `contract-fromstart-${uid()}-`;
        await store().append(`${prefix}1`, evs(3), 'no_stream');
        const c = collect({ filter: { streamPrefixes: [prefix] } });
        await c.sub.caughtUp;
        assert.deepEqual(
          c.delivered.map((e) => e.revision),
          [0, 1, 2],
        );
        await c.sub.close();
      });

      it('delivers only events matching its filter', async () => {
        const id = uid();
        const prefix = `contract-subfilter-${id}-`;
        const [wanted, other] = [`Wanted${id}`, `Other${id}`];
        const start = await store().headPosition();
        await store().append(`${prefix}1`, [ev(wanted, 1), ev(other, 2)], 'no_stream');
        const c = collect({ after: start, filter: { types: [wanted] } });
        await c.sub.caughtUp;
        await store().append(`${prefix}2`, [ev(other, 3), ev(wanted, 4), ev(other, 5)], 'no_stream');
        await store().append(`${prefix}1`, [ev(wanted, 6)], 1);
        await waitFor(() => c.delivered.length >= 3, 'three wanted events');
        await sleep(20);
        assert.deepEqual(
          c.delivered.map((e) => e.data),
          [1, 4, 6],
        );
        await c.sub.close();
      });

      it('delivers batches one at a time, awaiting onEvents', async () => {
        const prefix = `contract-sequential-${uid()}-`;
        const start = await store().headPosition();
        await store().append(`${prefix}1`, evs(40), 'no_stream');
        let active = 0;
        let maxActive = 0;
        const c = collect({ after: start, filter: { streamPrefixes: [prefix] }, batchSize: 5 }, async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(2);
          active--;
        });
        await store().append(`${prefix}2`, evs(10), 'no_stream');
        await waitFor(() => c.delivered.length >= 50, '50 events');
        assert.equal(maxActive, 1, 'onEvents never runs twice at once');
        assertIncreasing(positions(c.delivered), 'delivery order');
        await c.sub.close();
      });

      it('stops delivering once closed', async () => {
        const prefix = `contract-close-${uid()}-`;
        const start = await store().headPosition();
        await store().append(`${prefix}1`, evs(2), 'no_stream');
        const c = collect({ after: start, filter: { streamPrefixes: [prefix] } });
        await c.sub.caughtUp;
        await c.sub.close();
        await store().append(`${prefix}1`, evs(3), 1);
        await sleep(50);
        assert.equal(c.delivered.length, 2);
        await c.sub.close(); // closing twice is harmless
      });

      it('stops and calls onError when onEvents throws', async () => {
        const prefix = `contract-onerror-${uid()}-`;
        const start = await store().headPosition();
        await store().append(`${prefix}1`, evs(3), 'no_stream');
        let calls = 0;
        const errors: Error[] = [];
        const sub = store().subscribe(
          { after: start, filter: { streamPrefixes: [prefix] }, batchSize: 1 },
          {
            onEvents: () => {
              calls++;
              throw new Error('projection failed');
            },
            onError: (err) => errors.push(err),
          },
        );
        subscriptions.push(sub);
        await waitFor(() => errors.length === 1, 'onError');
        await store().append(`${prefix}1`, evs(1), 2);
        await sleep(30);
        assert.equal(calls, 1);
        assert.equal(errors[0].message, 'projection failed');
        await sub.close();
      });
    });
  });
}
