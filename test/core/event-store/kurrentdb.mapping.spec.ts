/**
 * The KurrentDB adapter's pure mapping (src/core/event-store/kurrentdb/kurrentdb.mapping.ts), with
 * no server: revisions, positions, events and metadata, append results, errors (built with the
 * client's own error classes, the way its dist code builds them), filters, connection strings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  ANY,
  END,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  AccessDeniedError,
  DeadlineExceededError,
  KurrentDBClient,
  NotLeaderError,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  type AppendStreamState,
} from '@kurrent/kurrentdb-client';
import {
  EventStoreUnavailableError,
  WrongExpectedRevisionError,
  type EventFilter,
  type EventMetadata,
  type NewEvent,
  type RecordedEvent,
} from '../../../src/core/event-store/event-store.port';
import { ConfigError } from '../../../src/core/config/config';
import {
  NO_POSITION,
  backwardsStart,
  escapeRegex,
  exactTypesRegex,
  filterMatchesNothing,
  forwardsStart,
  fromClientCurrentState,
  fromClientStreamState,
  inWindow,
  isStreamNotFound,
  isSystemEvent,
  isUnavailable,
  matchesFilter,
  needsClientFiltering,
  parseConnectionString,
  parseMetadata,
  positionOf,
  redactConnectionString,
  toAppendResult,
  toClientPosition,
  toClientStreamState,
  toEventData,
  toPortPosition,
  toRecordedEvent,
  toSafeNumber,
  toServerFilter,
  translateError,
  type ClientResolvedEvent,
} from '../../../src/core/event-store/kurrentdb/kurrentdb.mapping';

const meta = (over: Partial<EventMetadata> = {}): EventMetadata => ({
  actor: 'admin:ops',
  correlationId: 'c0ffee00-0000-4000-8000-000000000001',
  causationId: null,
  timestamp: '2024-05-06T07:08:09.123Z',
  schemaVersion: 1,
  ...over,
});

const newEvent = (over: Partial<NewEvent> = {}): NewEvent => ({
  type: 'ClientApproved',
  data: { mac: 'b8:27:eb:00:00:01' },
  metadata: meta(),
  ...over,
});

/** A resolved event as the client hands it over for an event bramble wrote. */
const resolved = (over: Partial<NonNullable<ClientResolvedEvent['event']>> = {}): ClientResolvedEvent => ({
  event: {
    streamId: 'client-b8:27:eb:00:00:01',
    id: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b',
    revision: 3n,
    type: 'ClientApproved',
    data: { name: 'pi-01' },
    metadata: { ...meta() },
    position: { commit: 4096n, prepare: 4096n },
    ...over,
  },
});

const recorded = (over: Partial<RecordedEvent> = {}): RecordedEvent => ({
  id: randomUUID(),
  stream: 'client-b8:27:eb:00:00:01',
  revision: 0,
  position: 100,
  type: 'ClientApproved',
  data: {},
  metadata: meta(),
  ...over,
});

describe('kurrentdb mapping: expected revisions', () => {
  it('maps the port states to the client constants and numbers to bigint', () => {
    assert.equal(toClientStreamState('no_stream'), NO_STREAM);
    assert.equal(toClientStreamState('any'), ANY);
    assert.equal(toClientStreamState('stream_exists'), STREAM_EXISTS);
    assert.equal(toClientStreamState(0), 0n);
    assert.equal(toClientStreamState(41), 41n);
    assert.equal(toClientStreamState(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER));
  });

  it('rejects revisions that are not non-negative safe integers', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => toClientStreamState(bad), RangeError, String(bad));
    }
    assert.throws(() => toClientStreamState('latest' as never), TypeError);
  });

  it('maps the client states back (round trip), negative codes meaning no stream', () => {
    for (const port of ['no_stream', 'any', 'stream_exists', 0, 7] as const) {
      assert.equal(fromClientStreamState(toClientStreamState(port)), port);
    }
    assert.equal(fromClientStreamState(-1n as AppendStreamState), 'no_stream');
  });

  it("reads a stream's actual state: a revision, or no_stream", () => {
    assert.equal(fromClientCurrentState(5n), 5);
    assert.equal(fromClientCurrentState('no_stream'), 'no_stream');
    assert.equal(fromClientCurrentState(-1n), 'no_stream');
    assert.equal(fromClientCurrentState(undefined), 'no_stream');
    assert.equal(fromClientCurrentState(2), 2);
    assert.equal(fromClientCurrentState('12'), 12);
  });
});

describe('kurrentdb mapping: positions', () => {
  it("an event's position is its $all commit position", () => {
    assert.equal(toPortPosition({ commit: 4096n, prepare: 4096n }), 4096);
    // Were the two ever different (a legacy explicit transaction), the commit part is the global order.
    assert.equal(toPortPosition({ commit: 9000n, prepare: 8000n }), 9000);
    assert.equal(positionOf(resolved()), 4096);
    // Without a record position, the envelope's commit position is used.
    const envelopeOnly = resolved({ position: undefined });
    envelopeOnly.commitPosition = 512n;
    assert.equal(positionOf(envelopeOnly), 512);
  });

  it('accepts positions up to Number.MAX_SAFE_INTEGER and refuses larger ones with a clear error', () => {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    assert.equal(toPortPosition({ commit: max, prepare: max }), Number.MAX_SAFE_INTEGER);
    assert.throws(
      () => toPortPosition({ commit: max + 1n, prepare: max + 1n }),
      (err: unknown) => {
        assert.ok(err instanceof RangeError);
        assert.match(err.message, /9007199254740992 exceeds Number\.MAX_SAFE_INTEGER \(9007199254740991\)/);
        return true;
      },
    );
    assert.throws(() => toSafeNumber('revision', max + 1n), /exceeds Number\.MAX_SAFE_INTEGER/);
    assert.throws(() => toRecordedEvent(resolved({ revision: max + 1n })), /revision of event .* exceeds Number\.MAX_SAFE_INTEGER/);
    assert.throws(() => toSafeNumber('revision', -1n), /negative/);
  });

  it('refuses an event without a position (servers before 22.6 send 2^64-1 on stream reads)', () => {
    assert.equal(NO_POSITION, 18446744073709551615n);
    assert.throws(() => toPortPosition({ commit: NO_POSITION, prepare: NO_POSITION }, 'event x'), /event x has no \$all position .*22\.6/);
    assert.throws(() => toPortPosition(undefined), /no \$all position/);
    assert.throws(() => positionOf(resolved({ position: undefined })), /no \$all position/);
  });

  it('a read "after p" starts at {commit: p, prepare: p} and excludes p itself', () => {
    assert.equal(forwardsStart(undefined), START);
    assert.deepEqual(forwardsStart(4096), { commit: 4096n, prepare: 4096n });
    assert.deepEqual(toClientPosition(0), { commit: 0n, prepare: 0n });
    assert.throws(() => toClientPosition(-1), RangeError);
    assert.throws(() => toClientPosition(0.5), RangeError);
    // The server may return the event at exactly p (reads start inclusive): the window drops it.
    const served = [4096, 4200, 4310];
    assert.deepEqual(
      served.filter((p) => inWindow(p, 4096, undefined)),
      [4200, 4310],
    );
    assert.equal(inWindow(4097, 4096, undefined), true);
  });

  it('a read "before b" starts at {commit: b, prepare: b} (END without b) and excludes b', () => {
    assert.equal(backwardsStart(undefined), END);
    assert.deepEqual(backwardsStart(4310), { commit: 4310n, prepare: 4310n });
    assert.deepEqual(
      [4310, 4200, 4096].filter((p) => inWindow(p, undefined, 4310)),
      [4200, 4096],
    );
    assert.deepEqual(
      [4310, 4200, 4096].filter((p) => inWindow(p, 4096, 4310)),
      [4200],
    );
    assert.equal(inWindow(5, undefined, undefined), true);
  });
});

describe('kurrentdb mapping: events and metadata', () => {
  it('builds JSON event data, keeping a given id', () => {
    const id = randomUUID();
    const [data] = toEventData('client-1', [newEvent({ id })], 'no_stream');
    assert.equal(data.id, id);
    assert.equal(data.contentType, 'application/json');
    assert.equal(data.type, 'ClientApproved');
    assert.deepEqual(data.data, { mac: 'b8:27:eb:00:00:01' });
    assert.deepEqual(data.metadata, meta());
  });

  it('generates a UUID when no id is given, a different one per event', () => {
    const [a, b] = toEventData('client-1', [newEvent(), newEvent()], 'any');
    assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a.id, b.id);
  });

  it('stores exactly the port metadata fields, and undefined data as null', () => {
    const noisy = { ...meta(), extra: 'dropped' } as EventMetadata;
    const [data] = toEventData('s-1', [newEvent({ metadata: noisy, data: undefined })], 0);
    assert.deepEqual(Object.keys(data.metadata as object).sort(), ['actor', 'causationId', 'correlationId', 'schemaVersion', 'timestamp']);
    assert.equal(data.data, null);
  });

  it('round-trips metadata through the JSON the server stores', () => {
    const original = meta({ causationId: 'a1b2c3d4-0000-4000-8000-000000000002', schemaVersion: 3 });
    const [data] = toEventData('user-alice', [newEvent({ metadata: original, type: 'UserCreated' })], 'no_stream');
    // What the server hands back: the metadata bytes parsed as JSON by the client.
    const stored = JSON.parse(JSON.stringify(data.metadata)) as unknown;
    const back = toRecordedEvent(
      resolved({
        id: data.id,
        streamId: 'user-alice',
        revision: 0n,
        type: data.type,
        data: JSON.parse(JSON.stringify(data.data)),
        metadata: stored,
      }),
    );
    assert.deepEqual(back.metadata, original);
    assert.equal(back.id, data.id);
  });

  it('maps a recorded event field by field', () => {
    assert.deepEqual(toRecordedEvent(resolved()), {
      id: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b',
      stream: 'client-b8:27:eb:00:00:01',
      revision: 3,
      position: 4096,
      type: 'ClientApproved',
      data: { name: 'pi-01' },
      metadata: meta(),
    });
  });

  it('reads a missing causationId as null', () => {
    const { causationId: _drop, ...rest } = meta();
    assert.equal(parseMetadata(rest, 'e').causationId, null);
  });

  it('refuses events without bramble metadata, naming the event', () => {
    const where = 'event 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b (client-b8:27:eb:00:00:01@3)';
    for (const bad of [
      undefined,
      null,
      'text',
      new Uint8Array([1, 2]),
      { ...meta(), actor: 7 },
      { ...meta(), schemaVersion: '1' },
      { ...meta(), schemaVersion: 1.5 },
      { ...meta(), causationId: 5 },
    ]) {
      assert.throws(
        () => toRecordedEvent(resolved({ metadata: bad })),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.ok(err.message.includes(where), err.message);
          assert.match(err.message, /no bramble metadata/);
          return true;
        },
      );
    }
    assert.throws(() => toRecordedEvent({}), /link whose event no longer exists/);
  });

  it('validates appends like the sqlite adapter, plus UUID ids', () => {
    assert.throws(() => toEventData('', [newEvent()], 'any'), TypeError);
    assert.throws(() => toEventData('s', [], 'any'), /at least one event/);
    assert.throws(() => toEventData('s', [newEvent({ type: '' })], 'any'), /event type must be a non-empty string/);
    assert.throws(() => toEventData('s', [newEvent({ id: 'not-a-uuid' })], 'any'), /event id must be a UUID/);
    assert.throws(
      () => toEventData('s', [newEvent({ metadata: { ...meta(), actor: undefined } as unknown as EventMetadata })], 'any'),
      /incomplete metadata/,
    );
    assert.throws(() => toEventData('s', [newEvent()], -3), RangeError);
  });
});

describe('kurrentdb mapping: append results', () => {
  it('takes the revision and the position of the last event appended', () => {
    assert.deepEqual(toAppendResult('s', 'any', { success: true, nextExpectedRevision: 4n, position: { commit: 8192n, prepare: 8192n } }), {
      revision: 4,
      position: 8192,
    });
  });

  it('maps an unsuccessful result (throwOnAppendFailure=false) to the conflict error', () => {
    assert.throws(
      () => toAppendResult('s', 0, { success: false, nextExpectedRevision: 2n }),
      (err: unknown) => err instanceof WrongExpectedRevisionError && err.stream === 's' && err.expected === 0 && err.actual === 2,
    );
    assert.throws(
      () => toAppendResult('s', 3, { success: false, nextExpectedRevision: -1n }),
      (err: unknown) => err instanceof WrongExpectedRevisionError && err.actual === 'no_stream',
    );
  });

  it('refuses a successful result without a position', () => {
    assert.throws(() => toAppendResult('s', 'any', { success: true, nextExpectedRevision: 0n }), /append to s has no \$all position/);
  });
});

describe('kurrentdb mapping: errors', () => {
  const conflict = (err: Error): WrongExpectedRevisionError => {
    assert.ok(err instanceof WrongExpectedRevisionError, `got ${String(err)}`);
    assert.equal(err.code, 'CONCURRENCY_CONFLICT');
    return err;
  };

  it('WrongExpectedVersionError (append path) → WrongExpectedRevisionError with the actual revision', () => {
    // As streams/appendToStream/append.js builds it.
    const clientError = new WrongExpectedVersionError(undefined, { streamName: 'client-1', expected: 0n, current: 1n });
    const err = conflict(translateError(clientError, { operation: 'append', stream: 'client-1', expected: 0 }));
    assert.equal(err.stream, 'client-1');
    assert.equal(err.expected, 0);
    assert.equal(err.actual, 1);
  });

  it("maps the client's no_stream actual state", () => {
    const clientError = new WrongExpectedVersionError(undefined, { streamName: 's', expected: STREAM_EXISTS, current: NO_STREAM });
    const err = conflict(translateError(clientError, { operation: 'append', stream: 's', expected: 'stream_exists' }));
    assert.equal(err.actual, 'no_stream');
    assert.equal(err.expected, 'stream_exists');
  });

  it("takes stream and expected from the client's error when the call did not say", () => {
    const clientError = new WrongExpectedVersionError(undefined, { streamName: 'user-bob', expected: 5n, current: 7n });
    const err = conflict(translateError(clientError, { operation: 'append' }));
    assert.equal(err.stream, 'user-bob');
    assert.equal(err.expected, 5);
    assert.equal(err.actual, 7);
  });

  it('maps the v2 revision-conflict form (as convertToCommandError builds it)', () => {
    const clientError = WrongExpectedVersionError.fromRevisionConflict({
      stream: 's',
      expectedRevision: '-1',
      actualRevision: '3',
    } as never);
    const err = conflict(translateError(clientError, { operation: 'append', stream: 's', expected: 'no_stream' }));
    assert.equal(err.actual, 3);
    const missing = WrongExpectedVersionError.fromRevisionConflict({ stream: 's', expectedRevision: '2', actualRevision: '-1' } as never);
    assert.equal(conflict(translateError(missing, { operation: 'append', stream: 's', expected: 2 })).actual, 'no_stream');
  });

  it('accepts objects shaped like the error, including the older actualVersion field', () => {
    const shaped = { type: 'wrong-expected-version', streamName: 's', expectedState: 1n, actualVersion: 2n, message: 'wev' };
    const err = conflict(translateError(shaped, { operation: 'append', stream: 's', expected: 1 }));
    assert.equal(err.actual, 2);
  });

  it('recognises stream-not-found (and stream-deleted) for reads', () => {
    assert.equal(isStreamNotFound(new StreamNotFoundError(undefined, 'client-1')), true);
    assert.equal(isStreamNotFound(StreamDeletedError.fromStreamName('client-1')), true);
    assert.equal(isStreamNotFound({ type: 'stream-not-found', streamName: 'x' }), true);
    assert.equal(isStreamNotFound(new UnavailableError()), false);
    assert.equal(isStreamNotFound(new Error('boom')), false);
  });

  it('maps connection failures to EventStoreUnavailableError with the cause', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    // A raw gRPC error as grpc-js rejects an unanswered call (the client passes some through).
    const grpc = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14, details: 'No connection established' });
    const deadline = Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), { code: 4, details: 'Deadline exceeded' });
    const cases: unknown[] = [
      new UnavailableError(undefined, 'UnavailableError'),
      new DeadlineExceededError(undefined, 'deadline'),
      new NotLeaderError({ message: 'not leader', metadata: { 'leader-endpoint-host': 'node2', 'leader-endpoint-port': '2113' } } as never),
      grpc,
      deadline,
      refused,
      new Error('Failed to discover after 10 attempts.'),
    ];
    for (const error of cases) {
      assert.equal(isUnavailable(error), true, String(error));
      const mapped = translateError(error, { operation: 'readStream', stream: 'client-1' });
      assert.ok(mapped instanceof EventStoreUnavailableError, `${String(error)} → ${String(mapped)}`);
      assert.equal(mapped.code, 'EVENT_STORE_UNAVAILABLE');
      assert.equal(mapped.cause, error);
      assert.match(mapped.message, /^kurrentdb: readStream \(client-1\) failed: server unavailable/);
    }
  });

  it('passes other errors through, and the port errors unchanged', () => {
    const denied = new AccessDeniedError(undefined, 'access denied');
    assert.equal(isUnavailable(denied), false);
    assert.equal(translateError(denied, { operation: 'append' }), denied);
    const plain = new Error('something else');
    assert.equal(translateError(plain, { operation: 'append' }), plain);
    const portConflict = new WrongExpectedRevisionError('s', 0, 1);
    assert.equal(translateError(portConflict, { operation: 'append' }), portConflict);
    const portUnavailable = new EventStoreUnavailableError('closed');
    assert.equal(translateError(portUnavailable, { operation: 'append' }), portUnavailable);
    const wrapped = translateError('a string', { operation: 'readAll' });
    assert.ok(wrapped instanceof Error);
    assert.match(wrapped.message, /readAll failed: a string/);
    // A gRPC-shaped object the client's own conversion chokes on (no `details`) is still handled.
    assert.ok(translateError(Object.assign(new Error('odd'), { code: 2 }), { operation: 'append' }) instanceof Error);
  });
});

describe('kurrentdb mapping: filters', () => {
  it('without a filter, the server excludes system events', () => {
    assert.deepEqual(toServerFilter(undefined), {
      filterOn: 'eventType',
      checkpointInterval: 1,
      checkpointReached: undefined,
      regex: '^[^$].*',
    });
    assert.deepEqual(toServerFilter({ actor: 'system' }), toServerFilter(undefined));
  });

  it('types become an exact, escaped event-type regex', () => {
    const filter = toServerFilter({ types: ['ClientApproved', 'ClientDetected'] });
    assert.ok(filter && 'regex' in filter);
    assert.equal(filter.filterOn, 'eventType');
    assert.equal(filter.regex, '^(?:ClientApproved|ClientDetected)$');
    // The pattern syntax used (anchors, non-capturing group, backslash escapes) means the same in .NET.
    const re = new RegExp(filter.regex);
    assert.equal(re.test('ClientApproved'), true);
    assert.equal(re.test('ClientApprovedLater'), false);
    assert.equal(re.test('XClientDetected'), false);
  });

  it('escapes regex metacharacters so types match literally', () => {
    const types = ['a.b', 'c|d', 'e$', '(f)', 'g+h*', '[i]', 'j\\k', 'l m', 'n{2}', 'o?', '^p'];
    const re = new RegExp(exactTypesRegex(types));
    for (const t of types) assert.equal(re.test(t), true, t);
    for (const t of ['aXb', 'c', 'd', 'e', 'f', 'gh', 'i', 'nn', 'o', 'p', 'l  m']) assert.equal(re.test(t), false, t);
    assert.equal(escapeRegex('a\tb\nc'), 'a\\tb\\nc');
  });

  it('drops system types from the regex; only system types means nothing matches', () => {
    const filter = toServerFilter({ types: ['$metadata', 'UserCreated'] });
    assert.ok(filter && 'regex' in filter);
    assert.equal(filter.regex, '^(?:UserCreated)$');
    assert.equal(toServerFilter({ types: ['$metadata'] }), undefined);
    assert.equal(filterMatchesNothing({ types: ['$>'] }), true);
  });

  it('stream prefixes become a stream-name prefix filter (when there are no types)', () => {
    const filter = toServerFilter({ streamPrefixes: ['user-', 'client-', 'user-'] });
    assert.ok(filter && 'prefixes' in filter);
    assert.equal(filter.filterOn, 'streamName');
    assert.deepEqual(filter.prefixes, ['client-', 'user-']);
    // An empty prefix matches every stream, system ones included: excluded by type instead.
    assert.deepEqual(toServerFilter({ streamPrefixes: ['', 'user-'] }), toServerFilter(undefined));
    // With both, the server filters by type and the client checks the prefixes.
    const both = toServerFilter({ types: ['UserCreated'], streamPrefixes: ['user-'] });
    assert.ok(both && 'regex' in both);
    assert.equal(both.filterOn, 'eventType');
  });

  it('knows when nothing can match, and when the client must filter', () => {
    assert.equal(filterMatchesNothing(undefined), false);
    assert.equal(filterMatchesNothing({}), false);
    assert.equal(filterMatchesNothing({ types: [] }), true);
    assert.equal(filterMatchesNothing({ streamPrefixes: [] }), true);
    assert.equal(filterMatchesNothing({ since: '2024-02-01T00:00:00.000Z', until: '2024-02-01T00:00:00.000Z' }), true);
    assert.equal(filterMatchesNothing({ since: '2024-01-01T00:00:00.000Z', until: '2024-02-01T00:00:00.000Z' }), false);
    assert.equal(toServerFilter({ streamPrefixes: [] }), undefined);

    assert.equal(needsClientFiltering(undefined), false);
    assert.equal(needsClientFiltering({ types: ['A'] }), false);
    assert.equal(needsClientFiltering({ streamPrefixes: ['a-'] }), false);
    assert.equal(needsClientFiltering({ actor: 'system' }), true);
    assert.equal(needsClientFiltering({ since: 'x' }), true);
    assert.equal(needsClientFiltering({ until: 'x' }), true);
    assert.equal(needsClientFiltering({ types: ['A'], streamPrefixes: ['a-'] }), true);
    assert.equal(needsClientFiltering({ streamPrefixes: [''] }), true);
  });

  it('matchesFilter always excludes system events', () => {
    assert.equal(isSystemEvent({ stream: '$settings', type: 'Anything' }), true);
    assert.equal(isSystemEvent({ stream: 'client-1', type: '$metadata' }), true);
    assert.equal(isSystemEvent({ stream: 'client-1', type: 'ClientApproved' }), false);
    assert.equal(matchesFilter(recorded({ type: '$>' }), undefined), false);
    assert.equal(matchesFilter(recorded({ stream: '$$client-1', type: '$metadata' }), { streamPrefixes: [''] }), false);
    assert.equal(matchesFilter(recorded({ stream: '$stats-127.0.0.1:2113' }), {}), false);
    assert.equal(matchesFilter(recorded({ type: '$metadata' }), { types: ['$metadata'] }), false);
    assert.equal(matchesFilter(recorded(), undefined), true);
  });

  it('matchesFilter checks every criterion exactly', () => {
    const e = recorded({
      stream: 'client-b8:27',
      type: 'ClientApproved',
      metadata: meta({ actor: 'admin:ops', timestamp: '2024-05-06T07:08:09.123Z' }),
    });
    const yes: EventFilter[] = [
      { streamPrefixes: ['user-', 'client-'] },
      { streamPrefixes: ['client-b8:27'] },
      { types: ['ClientDetected', 'ClientApproved'] },
      { actor: 'admin:ops' },
      { since: '2024-05-06T07:08:09.123Z' }, // inclusive
      { until: '2024-05-06T07:08:09.124Z' },
      {
        streamPrefixes: ['client-'],
        types: ['ClientApproved'],
        actor: 'admin:ops',
        since: '2024-01-01T00:00:00.000Z',
        until: '2025-01-01T00:00:00.000Z',
      },
    ];
    const no: EventFilter[] = [
      { streamPrefixes: ['user-'] },
      { streamPrefixes: ['client-b8:27:'] },
      { types: ['Client'] }, // exact, not a prefix
      { types: ['clientapproved'] },
      { actor: 'admin:other' },
      { since: '2024-05-06T07:08:09.124Z' },
      { until: '2024-05-06T07:08:09.123Z' }, // exclusive
      { streamPrefixes: ['client-'], types: ['ClientApproved'], actor: 'system' },
    ];
    for (const f of yes) assert.equal(matchesFilter(e, f), true, JSON.stringify(f));
    for (const f of no) assert.equal(matchesFilter(e, f), false, JSON.stringify(f));
  });
});

describe('kurrentdb mapping: connection strings', () => {
  it('accepts kurrentdb:// with defaults', () => {
    const s = parseConnectionString('kurrentdb://localhost?tls=false');
    assert.equal(s.connectionString, 'kurrentdb://localhost?tls=false');
    assert.deepEqual(s.hosts, [{ host: 'localhost', port: 2113 }]);
    assert.equal(s.discover, false);
    assert.equal(s.deadlineMs, 10_000);
  });

  it('accepts kurrentdb+discover:// with several seeds and a trailing slash', () => {
    const s = parseConnectionString(' kurrentdb+discover://node1.lab:2113,node2.lab:2114/?nodePreference=leader ');
    assert.equal(s.discover, true);
    assert.deepEqual(s.hosts, [
      { host: 'node1.lab', port: 2113 },
      { host: 'node2.lab', port: 2114 },
    ]);
    assert.equal(s.connectionString, 'kurrentdb+discover://node1.lab:2113,node2.lab:2114/?nodePreference=leader');
  });

  it('accepts esdb:// and esdb+discover://, rewritten to the kurrentdb scheme', () => {
    assert.equal(parseConnectionString('esdb://127.0.0.1:2113?tls=false').connectionString, 'kurrentdb://127.0.0.1:2113?tls=false');
    const d = parseConnectionString('esdb+discover://cluster.lab:2113');
    assert.equal(d.connectionString, 'kurrentdb+discover://cluster.lab:2113');
    assert.equal(d.discover, true);
  });

  it('reads defaultDeadline (matched like the client: case and - _ ignored)', () => {
    assert.equal(parseConnectionString('kurrentdb://h?tls=false&defaultDeadline=2500').deadlineMs, 2500);
    assert.equal(parseConnectionString('kurrentdb://h?DEFAULT_DEADLINE=700').deadlineMs, 700);
    assert.equal(parseConnectionString('kurrentdb://h?default-deadline=800&tlsVerifyCert=false&keepAliveInterval=20000').deadlineMs, 800);
  });

  it('keeps credentials for the client but never shows the password', () => {
    const s = parseConnectionString('esdb://admin:changeit@db.lab:2113?tls=true');
    assert.equal(s.connectionString, 'kurrentdb://admin:changeit@db.lab:2113?tls=true');
    assert.equal(s.redacted, 'kurrentdb://admin:***@db.lab:2113?tls=true');
    assert.deepEqual(s.hosts, [{ host: 'db.lab', port: 2113 }]);
    assert.equal(redactConnectionString('kurrentdb://u:p%40ss/w?rd@h:1'), 'kurrentdb://u:***@h:1');
    assert.equal(redactConnectionString('kurrentdb://h:2113'), 'kurrentdb://h:2113');
  });

  it('rejects what is not a KurrentDB connection string, naming BRAMBLE_EVENT_STORE', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['sqlite', /not a connection string/],
      ['/var/lib/bramble/events.db', /not a connection string/],
      ['http://localhost:2113', /unsupported scheme "http:\/\/"/],
      ['postgres://u:p@h/db', /unsupported scheme/],
      ['kurrent://localhost:2113', /unsupported scheme/],
      ['kurrentdb://', /no host/],
      ['kurrentdb://?tls=false', /no host/],
      ['kurrentdb://h:99999', /port out of range/],
      ['kurrentdb://h:0', /port out of range/],
      ['kurrentdb://h:21x3', /not a host\[:port\]/],
      ['kurrentdb://h:2113/streams', /not a host\[:port\]/],
      ['kurrentdb://h,', /not a host\[:port\]/],
      ['kurrentdb://user@h:2113', /credentials must be user:password@host/],
      ['kurrentdb://h?tls', /key=value/],
      ['kurrentdb://h?tls=maybe', /tls: expected true or false/],
      ['kurrentdb://h?bogus=1', /unknown parameter "bogus"/],
      ['kurrentdb://h?defaultDeadline=soon', /defaultDeadline: not a non-negative integer/],
      ['kurrentdb://h?defaultDeadline=0', /defaultDeadline: must be at least 1/],
      ['kurrentdb://h?nodePreference=nearest', /nodePreference/],
      ['kurrentdb://h?throwOnAppendFailure=false', /throwOnAppendFailure=false is not supported/],
    ];
    for (const [value, problem] of cases) {
      assert.throws(
        () => parseConnectionString(value),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `${value}: ${String(err)}`);
          assert.equal(err.key, 'BRAMBLE_EVENT_STORE');
          assert.match(err.message, /^config: BRAMBLE_EVENT_STORE: /);
          assert.match(err.message, problem, value);
          return true;
        },
      );
    }
  });

  it('never puts the password in an error', () => {
    for (const value of [
      'kurrentdb://admin:s3cr3t@h?bogus=1',
      'kurrentdb://admin:s3cr3t@?tls=false',
      'kurrentdb://admin:s3cr3t@h:2113/x',
      'ftp://admin:s3cr3t@h',
    ]) {
      assert.throws(
        () => parseConnectionString(value),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.ok(!err.message.includes('s3cr3t'), err.message);
          return true;
        },
      );
    }
  });

  it('every accepted string is accepted by the client too (which does not connect yet)', async () => {
    for (const value of [
      'kurrentdb://localhost:2113?tls=false',
      'kurrentdb://admin:changeit@localhost:2113?tls=false&defaultDeadline=2000',
      'kurrentdb+discover://node1:2113,node2:2113?tls=false&nodePreference=follower',
      'esdb://127.0.0.1:2113?tls=false&keepAliveInterval=10000&keepAliveTimeout=10000',
    ]) {
      await assert.doesNotReject(async () => {
        const client = KurrentDBClient.connectionString(parseConnectionString(value).connectionString);
        await client.dispose();
      }, value);
    }
  });
});
