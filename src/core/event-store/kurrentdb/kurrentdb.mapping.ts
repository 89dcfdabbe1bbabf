/**
 * Pure translations between bramble's EventStore port and the official KurrentDB client
 * (@kurrent/kurrentdb-client). Nothing here opens a connection; kurrentdb.event-store.ts does the I/O.
 *
 * Positions. bramble's `position` is a JS number; KurrentDB's $all position is a pair of unsigned
 * 64-bit log offsets {commit, prepare}. For every event a current server writes (one append = one
 * implicitly committed write; explicit transactions exist only in the retired TCP API) the two are
 * equal, and the commit position is unique per event and increases in $all order. So:
 * - an event's `position` is `Number(event.position.commit)`;
 * - to read "after p" (exclusive) the adapter starts the server read at {commit: p, prepare: p} and
 *   then drops every event whose position is <= p. Whether the server treats the start as inclusive
 *   (reads) or exclusive (subscriptions), the event at exactly p is never returned twice;
 * - "before b" (backwards, exclusive) starts at {commit: b, prepare: b} and drops positions >= b;
 * - positions are exact as numbers up to Number.MAX_SAFE_INTEGER (2^53 - 1 bytes of log, 8 PiB);
 *   past that, and for the "no position" sentinel (2^64 - 1) a server older than 22.6 puts on stream
 *   reads, the mapping throws rather than silently rounding.
 *
 * System events. KurrentDB writes its own events into $all ($-prefixed types such as `$metadata`,
 * `$>` links, and $-prefixed streams). They are never returned to bramble: reads and subscriptions use a
 * server-side filter where possible, and `matchesFilter` excludes them on the client in every case.
 */
import { randomUUID } from 'node:crypto';
import {
  ANY,
  END,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  convertToCommandError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AppendResult as ClientAppendResult,
  type AppendStreamState,
  type EventData,
  type Filter,
  type JSONEventType,
  type Position,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import { ConfigError } from '../../config/config';
import {
  checkAppend,
  EventStoreUnavailableError,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventFilter,
  type EventMetadata,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
  type RetentionRule,
} from '../event-store.port';

// ---- numbers --------------------------------------------------------------------------------

/** The value a server older than 22.6 puts in the position of an event read from a stream. */
export const NO_POSITION = 0xffff_ffff_ffff_ffffn;

/** Validates a port count/position/revision: a non-negative safe integer (same rule as sqlite). */
export function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
}

/** A client bigint (revision or log position) as a port number; throws past MAX_SAFE_INTEGER. */
export function toSafeNumber(what: string, value: bigint): number {
  if (value < 0n) throw new RangeError(`kurrentdb: ${what} ${value} is negative`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(
      `kurrentdb: ${what} ${value} exceeds Number.MAX_SAFE_INTEGER (${Number.MAX_SAFE_INTEGER}); bramble positions and revisions are JS numbers`,
    );
  }
  return Number(value);
}

/** The port position of a client $all position: its commit part (see the header comment). */
export function toPortPosition(position: Position | undefined, where = 'event'): number {
  if (position === undefined || position.commit === NO_POSITION || position.commit === -1n) {
    throw new Error(`kurrentdb: ${where} has no $all position (KurrentDB/EventStoreDB 22.6 or later is required)`);
  }
  return toSafeNumber(`$all position of ${where}`, position.commit);
}

/** The client position a read "after p" / "before p" starts from: {commit: p, prepare: p}. */
export function toClientPosition(position: number): Position {
  checkCount('position', position);
  const p = BigInt(position);
  return { commit: p, prepare: p };
}

/** Where a forwards read or a subscription starts: START, or the position `after` (then excluded). */
export function forwardsStart(after: number | undefined): ReadPosition {
  return after === undefined ? START : toClientPosition(after);
}

/** Where a backwards read starts: END, or the position `before` (then excluded). */
export function backwardsStart(before: number | undefined): ReadPosition {
  return before === undefined ? END : toClientPosition(before);
}

/** True when `position` lies strictly inside the (after, before) window; either bound may be absent. */
export function inWindow(position: number, after: number | undefined, before: number | undefined): boolean {
  return (after === undefined || position > after) && (before === undefined || position < before);
}

// ---- expected revision ----------------------------------------------------------------------

/** Port ExpectedRevision → the client's `streamState` append option. */
export function toClientStreamState(expected: ExpectedRevision): AppendStreamState {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'any':
      return ANY;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      if (typeof expected !== 'number') throw new TypeError(`invalid expected revision ${String(expected)}`);
      checkCount('expected revision', expected);
      return BigInt(expected);
  }
}

/** The client's `streamState` → port ExpectedRevision (used when an error carries only the client's). */
export function fromClientStreamState(state: AppendStreamState): ExpectedRevision {
  if (state === NO_STREAM || state === ANY || state === STREAM_EXISTS) return state;
  if (state < 0n) return 'no_stream';
  return toSafeNumber('expected revision', state);
}

/** A stream's actual state as the client reports it (bigint revision, 'no_stream', or a negative code). */
export function fromClientCurrentState(state: unknown): number | 'no_stream' {
  if (typeof state === 'bigint') return state < 0n ? 'no_stream' : toSafeNumber('revision', state);
  if (typeof state === 'number' && Number.isSafeInteger(state)) return state < 0 ? 'no_stream' : state;
  if (typeof state === 'string' && /^\d+$/.test(state)) return toSafeNumber('revision', BigInt(state));
  return 'no_stream';
}

// ---- events ---------------------------------------------------------------------------------

/** bramble's event metadata as stored in the event's JSON metadata: exactly the port's fields. */
type StoredMetadata = EventMetadata & Record<string, unknown>;
type BrambleJsonEvent = JSONEventType<string, Record<string | number, unknown> | unknown[] | string, StoredMetadata>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Port NewEvents → client EventData (JSON events). Validates like the sqlite adapter (TypeError for
 * a bad stream, no events, a bad type or incomplete metadata) plus KurrentDB's own rule that an event
 * id is a UUID. The id is kept when given, otherwise a random UUID; `data: undefined` is stored as null.
 */
export function toEventData(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): EventData[] {
  checkAppend(stream, events);
  toClientStreamState(expected); // validates
  return events.map((e) => {
    if (e.id !== undefined && (typeof e.id !== 'string' || !UUID.test(e.id))) {
      throw new TypeError(`append to ${stream}: event id must be a UUID for KurrentDB, got ${String(e.id)}`);
    }
    const m = e.metadata;
    const metadata: StoredMetadata = {
      actor: m.actor,
      correlationId: m.correlationId,
      causationId: m.causationId ?? null,
      timestamp: m.timestamp,
      schemaVersion: m.schemaVersion,
    };
    // jsonEvent JSON.stringify-s data; undefined would not survive (the client would throw).
    const data = (e.data === undefined ? null : e.data) as BrambleJsonEvent['data'];
    return jsonEvent<BrambleJsonEvent>({ id: e.id ?? randomUUID(), type: e.type, data, metadata });
  });
}

/** The client's recorded event, as far as bramble reads it (stream reads, $all reads, subscriptions). */
export interface ClientRecordedEvent {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  position?: Position;
}

/** The client's resolved event (link resolution is never requested, so `event` is the record). */
export interface ClientResolvedEvent {
  event?: ClientRecordedEvent;
  commitPosition?: bigint;
}

/** The stored metadata back as the port's EventMetadata; throws naming the event if it is not bramble's. */
export function parseMetadata(raw: unknown, where: string): EventMetadata {
  const m = raw as Partial<Record<keyof EventMetadata, unknown>> | null | undefined;
  const causation = m?.causationId === undefined ? null : m.causationId;
  if (
    !m ||
    typeof m !== 'object' ||
    raw instanceof Uint8Array ||
    typeof m.actor !== 'string' ||
    typeof m.correlationId !== 'string' ||
    (causation !== null && typeof causation !== 'string') ||
    typeof m.timestamp !== 'string' ||
    typeof m.schemaVersion !== 'number' ||
    !Number.isInteger(m.schemaVersion)
  ) {
    throw new Error(`kurrentdb: ${where} has no bramble metadata (actor, correlationId, causationId, timestamp, schemaVersion)`);
  }
  return { actor: m.actor, correlationId: m.correlationId, causationId: causation, timestamp: m.timestamp, schemaVersion: m.schemaVersion };
}

function describe(e: ClientRecordedEvent): string {
  return `event ${e.id} (${e.streamId}@${String(e.revision)})`;
}

/** The $all position of a resolved event: the record's commit position, else the envelope's. */
export function positionOf(resolved: ClientResolvedEvent): number {
  const e = resolved.event;
  const position =
    e?.position ??
    (resolved.commitPosition !== undefined ? { commit: resolved.commitPosition, prepare: resolved.commitPosition } : undefined);
  return toPortPosition(position, e ? describe(e) : 'event');
}

/** A client resolved event → port RecordedEvent. */
export function toRecordedEvent(resolved: ClientResolvedEvent): RecordedEvent {
  const e = resolved.event;
  if (!e) throw new Error('kurrentdb: read returned a link whose event no longer exists');
  const where = describe(e);
  return {
    id: e.id,
    stream: e.streamId,
    revision: toSafeNumber(`revision of ${where}`, e.revision),
    position: positionOf(resolved),
    type: e.type,
    data: e.data,
    metadata: parseMetadata(e.metadata, where),
  };
}

/**
 * The client's append result → port AppendResult. `success: false` only happens when a connection
 * string sets throwOnAppendFailure=false (parseConnectionString refuses that); it is still mapped to
 * the port's conflict error. The append's position is the position of its last event.
 */
export function toAppendResult(stream: string, expected: ExpectedRevision, result: ClientAppendResult): AppendResult {
  if (!result.success) throw new WrongExpectedRevisionError(stream, expected, fromClientCurrentState(result.nextExpectedRevision));
  return {
    revision: toSafeNumber(`revision of stream ${stream}`, result.nextExpectedRevision),
    position: toPortPosition(result.position, `append to ${stream}`),
  };
}

// ---- filters --------------------------------------------------------------------------------

/** KurrentDB's own events: a $-prefixed type (`$metadata`, `$>` links, ...) or a $-prefixed stream. */
export function isSystemEvent(e: { stream: string; type: string }): boolean {
  return e.type.startsWith('$') || e.stream.startsWith('$');
}

/** True when no event can match (an empty `types` or `streamPrefixes` list, or only system types). */
export function filterMatchesNothing(filter: EventFilter | undefined): boolean {
  if (!filter) return false;
  if (filter.streamPrefixes !== undefined && filter.streamPrefixes.length === 0) return true;
  if (filter.types !== undefined && filter.types.filter((t) => !t.startsWith('$')).length === 0) return true;
  if (filter.since !== undefined && filter.until !== undefined && filter.until <= filter.since) return true;
  return false;
}

/** Escapes a string for a literal match inside a .NET regular expression (the server evaluates it). */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}#\s-]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\f':
        return '\\f';
      case '\v':
        return '\\v';
      case ' ':
        return '\\ ';
      default:
        return /\s/.test(c) ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : `\\${c}`;
    }
  });
}

/** An exact-match regex for a set of event types: `^(?:A|B)$` with each type escaped. */
export function exactTypesRegex(types: readonly string[]): string {
  return `^(?:${types.map(escapeRegex).join('|')})$`;
}

/**
 * The server-side part of a filter (KurrentDB applies one criterion: stream name or event type):
 * - `types` → an exact event-type regex (preferred: the most selective criterion bramble's
 *   consumers use; system types are dropped from it);
 * - otherwise `streamPrefixes` → a stream-name prefix filter;
 * - otherwise "exclude system events" (event type regex `^[^$]`).
 * Everything else (the other list, actor, since, until, the exact checks) is `matchesFilter`'s job.
 * The result is undefined when `filterMatchesNothing` (the caller must not read at all).
 */
export function toServerFilter(filter: EventFilter | undefined): Filter | undefined {
  if (filterMatchesNothing(filter)) return undefined;
  const types = filter?.types?.filter((t) => !t.startsWith('$'));
  if (types !== undefined) return eventTypeFilter({ regex: exactTypesRegex([...new Set(types)].sort()) });
  if (filter?.streamPrefixes !== undefined && !filter.streamPrefixes.includes('')) {
    return streamNameFilter({ prefixes: [...new Set(filter.streamPrefixes)].sort() });
  }
  return excludeSystemEvents();
}

/**
 * The whole filter, checked on one event on the client: never a system event; every given
 * criterion must match. `since`/`until` compare the ISO-8601 strings, as the sqlite adapter does
 * (bramble writes `toISOString()` UTC times, whose string order is time order).
 */
export function matchesFilter(event: Pick<RecordedEvent, 'stream' | 'type' | 'metadata'>, filter: EventFilter | undefined): boolean {
  if (isSystemEvent(event)) return false;
  if (!filter) return true;
  if (filter.streamPrefixes !== undefined && !filter.streamPrefixes.some((p) => event.stream.startsWith(p))) return false;
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  if (filter.actor !== undefined && event.metadata.actor !== filter.actor) return false;
  if (filter.since !== undefined && !(event.metadata.timestamp >= filter.since)) return false;
  if (filter.until !== undefined && !(event.metadata.timestamp < filter.until)) return false;
  return true;
}

/** True when the filter has criteria the server cannot apply (so reads should fetch larger pages). */
export function needsClientFiltering(filter: EventFilter | undefined): boolean {
  if (!filter) return false;
  return (
    filter.actor !== undefined ||
    filter.since !== undefined ||
    filter.until !== undefined ||
    (filter.types !== undefined && filter.streamPrefixes !== undefined) ||
    (filter.streamPrefixes?.includes('') ?? false)
  );
}

// ---- errors ---------------------------------------------------------------------------------

/** What an operation was doing, for error messages and the conflict error's fields. */
export interface ErrorContext {
  operation: string;
  stream?: string;
  expected?: ExpectedRevision;
}

/** The client's CommandError `type` strings bramble treats as "the store cannot be reached now". */
const UNAVAILABLE_TYPES = new Set(['unavailable', 'deadline-exceeded', 'timeout', 'cancelled', 'not-leader']);
/** gRPC status codes with the same meaning: CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE. */
const UNAVAILABLE_GRPC_CODES = new Set([1, 4, 14]);
/** Node socket errors. */
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

function field(error: unknown, name: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[name] : undefined;
}

/** The client's own conversion of a raw gRPC error into its error classes; the input when it cannot. */
function clientConversion(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  try {
    return convertToCommandError(error);
  } catch {
    return error; // a gRPC-shaped object missing the fields the client expects
  }
}

/** The client's WrongExpectedVersionError (by class or by its `type` field). */
export function isWrongExpectedVersion(error: unknown): boolean {
  return field(error, 'type') === 'wrong-expected-version';
}

/** The client's StreamNotFoundError (or StreamDeletedError: a deleted stream has no events either). */
export function isStreamNotFound(error: unknown): boolean {
  const type = field(clientConversion(error), 'type');
  return type === 'stream-not-found' || type === 'stream-deleted';
}

/** Connection-level failures: the client's unavailable/deadline/timeout errors, gRPC codes, socket errors. */
export function isUnavailable(error: unknown): boolean {
  const converted = clientConversion(error);
  for (const e of [converted, error]) {
    const type = field(e, 'type');
    if (typeof type === 'string' && UNAVAILABLE_TYPES.has(type)) return true;
    const code = field(e, 'code');
    if (typeof code === 'number' && UNAVAILABLE_GRPC_CODES.has(code) && field(e, 'type') === undefined) return true;
    if (typeof code === 'string' && UNAVAILABLE_ERRNO.has(code)) return true;
    const message = field(e, 'message');
    if (typeof message === 'string' && /^Failed to discover after \d+ attempts/.test(message)) return true;
  }
  return false;
}

function messageOf(error: unknown): string {
  const m = field(error, 'message');
  return typeof m === 'string' && m.length > 0 ? m : String(error);
}

/**
 * A client error → the port's error:
 * - WrongExpectedVersionError → WrongExpectedRevisionError(stream, expected, actual): stream and
 *   expected from the call when known (else from the error), actual from the client's `actualState`
 *   (older clients: `actualVersion`), 'no_stream' when the stream does not exist;
 * - unavailable / deadline / socket errors → EventStoreUnavailableError with the original as cause;
 * - anything else is returned as it is (an Error; a non-Error is wrapped).
 * Stream-not-found is not an error for reads: the caller checks `isStreamNotFound` first.
 */
export function translateError(error: unknown, context: ErrorContext): Error {
  if (error instanceof WrongExpectedRevisionError || error instanceof EventStoreUnavailableError) return error;
  const converted = clientConversion(error);
  if (isWrongExpectedVersion(converted)) {
    const streamName = field(converted, 'streamName');
    const stream = context.stream ?? (typeof streamName === 'string' ? streamName : 'unknown');
    const clientExpected = field(converted, 'expectedState') ?? field(converted, 'expectedVersion');
    let expected: ExpectedRevision = context.expected ?? 'any';
    if (context.expected === undefined && clientExpected !== undefined) {
      try {
        expected = fromClientStreamState(clientExpected as AppendStreamState);
      } catch {
        expected = 'any';
      }
    }
    const actualRaw = field(converted, 'actualState') ?? field(converted, 'actualVersion');
    return new WrongExpectedRevisionError(stream, expected, fromClientCurrentState(actualRaw));
  }
  if (isUnavailable(error)) {
    const what = context.stream ? `${context.operation} (${context.stream})` : context.operation;
    return new EventStoreUnavailableError(`kurrentdb: ${what} failed: server unavailable: ${messageOf(converted)}`, { cause: error });
  }
  if (converted instanceof Error) return converted;
  return new Error(`kurrentdb: ${context.operation} failed: ${messageOf(converted)}`);
}

// ---- connection string ----------------------------------------------------------------------

/** The settings bramble takes from BRAMBLE_EVENT_STORE when it names KurrentDB. */
export interface KurrentDbConnectionSettings {
  /** What is given to KurrentDBClient.connectionString (`esdb` schemes rewritten to `kurrentdb`). */
  connectionString: string;
  /** The same with the password replaced by `***`: the only form that may be logged. */
  redacted: string;
  /** `+discover`: the hosts are gossip seeds / a DNS name to discover the cluster from. */
  discover: boolean;
  hosts: Array<{ host: string; port: number }>;
  /** The client's gRPC deadline in ms (the `defaultDeadline` parameter; the client's default 10 000). */
  deadlineMs: number;
}

const SCHEMES = ['kurrentdb', 'kurrentdb+discover', 'esdb', 'esdb+discover'] as const;
const DEFAULT_DEADLINE_MS = 10_000;
const DEFAULT_PORT = 2113;

/** The client's query parameters (matched like the client does: case-insensitive, `-`/`_` ignored). */
const PARAMETERS: Record<string, { name: string; kind: 'int' | 'bool' | 'text' | 'nodePreference' }> = {};
for (const [name, kind] of [
  ['tls', 'bool'],
  ['tlsVerifyCert', 'bool'],
  ['tlsCAFile', 'text'],
  ['userCertFile', 'text'],
  ['userKeyFile', 'text'],
  ['connectionName', 'text'],
  ['defaultDeadline', 'int'],
  ['maxDiscoverAttempts', 'int'],
  ['discoveryInterval', 'int'],
  ['gossipTimeout', 'int'],
  ['nodePreference', 'nodePreference'],
  ['keepAliveInterval', 'int'],
  ['keepAliveTimeout', 'int'],
  ['throwOnAppendFailure', 'bool'],
] as const) {
  PARAMETERS[flat(name)] = { name, kind };
}

function flat(key: string): string {
  return key.trim().toLowerCase().replace(/[_-]/g, '');
}

/** The connection string with any password replaced by `***` (safe to log or put in an error). */
export function redactConnectionString(value: string): string {
  // Same shape as the client's parser: `user:password@` right after the scheme, password up to the first @.
  return value.replace(/^([^:]+:\/\/[^:@]+):[^@]+@/, '$1:***@');
}

function bad(problem: string): ConfigError {
  return new ConfigError('BRAMBLE_EVENT_STORE', problem);
}

/**
 * Parses and validates a KurrentDB connection string (BRAMBLE_EVENT_STORE):
 * `kurrentdb://[user:password@]host[:port][,host[:port]...][/][?key=value&...]`, also with the
 * `kurrentdb+discover://`, `esdb://` and `esdb+discover://` schemes (esdb is the pre-rename name of
 * the same protocol and is rewritten to kurrentdb so the client does not print a deprecation warning).
 * Throws ConfigError naming BRAMBLE_EVENT_STORE; the message never contains the password.
 */
export function parseConnectionString(value: string): KurrentDbConnectionSettings {
  if (typeof value !== 'string' || value.trim() === '') throw bad('empty connection string');
  const text = value.trim();
  const redacted = redactConnectionString(text);
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (!match) throw bad(`not a connection string (expected kurrentdb://host:port): ${redacted}`);
  const scheme = match[1].toLowerCase();
  if (!(SCHEMES as readonly string[]).includes(scheme)) {
    throw bad(`unsupported scheme "${scheme}://" (expected ${SCHEMES.map((s) => `${s}://`).join(', ')})`);
  }
  let rest = match[2];

  const credentials = /^([^:@]+):([^@]+)@/.exec(rest);
  if (credentials) rest = rest.slice(credentials[0].length);

  const queryAt = rest.indexOf('?');
  const hostPart = (queryAt === -1 ? rest : rest.slice(0, queryAt)).replace(/\/+$/, '');
  const query = queryAt === -1 ? '' : rest.slice(queryAt + 1);
  if (hostPart === '') throw bad(`no host in ${redacted}`);
  const hosts = hostPart.split(',').map((h) => {
    const m = /^([A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(h.trim());
    if (!m) throw bad(h.includes('@') ? 'credentials must be user:password@host' : `not a host[:port]: "${h}"`);
    const port = m[2] === undefined ? DEFAULT_PORT : Number(m[2]);
    if (port < 1 || port > 65535) throw bad(`port out of range (1-65535): ${m[2]}`);
    return { host: m[1], port };
  });

  let deadlineMs = DEFAULT_DEADLINE_MS;
  if (query !== '') {
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      if (eq <= 0 || eq === pair.length - 1) throw bad(`query parameter must be key=value: "${pair}"`);
      const key = pair.slice(0, eq);
      const raw = pair.slice(eq + 1).trim();
      const parameter = PARAMETERS[flat(key)];
      if (!parameter) {
        throw bad(
          `unknown parameter "${key}" (known: ${Object.values(PARAMETERS)
            .map((p) => p.name)
            .join(', ')})`,
        );
      }
      if (parameter.kind === 'int' && !/^\d+$/.test(raw)) throw bad(`${parameter.name}: not a non-negative integer: ${raw}`);
      if (parameter.kind === 'bool' && raw !== 'true' && raw !== 'false')
        throw bad(`${parameter.name}: expected true or false, got ${raw}`);
      if (parameter.kind === 'nodePreference' && !['leader', 'follower', 'random', 'readonlyreplica'].includes(flat(raw))) {
        throw bad(`nodePreference: expected leader, follower, random or read_only_replica, got ${raw}`);
      }
      if (parameter.name === 'defaultDeadline') {
        deadlineMs = Number(raw);
        if (deadlineMs < 1) throw bad('defaultDeadline: must be at least 1 (ms)');
      }
      if (parameter.name === 'throwOnAppendFailure' && raw === 'false') {
        throw bad('throwOnAppendFailure=false is not supported: bramble needs append conflicts reported as errors');
      }
    }
  }

  const discover = scheme.endsWith('+discover');
  const normalized = scheme.startsWith('esdb') ? text.replace(/^esdb/i, 'kurrentdb') : text.replace(/^[^:]+/, scheme);
  return { connectionString: normalized, redacted: redactConnectionString(normalized), discover, hosts, deadlineMs };
}

/**
 * The stream metadata that gives `stream` its retention (`$maxAge`, seconds: KurrentDB's scavenge
 * deletes older events), or null when no rule matches it. The longest matching prefix wins.
 */
export function retentionMetadataFor(stream: string, rules: readonly RetentionRule[]): { maxAge: number } | null {
  let best: RetentionRule | null = null;
  for (const rule of rules) {
    if (
      rule.streamPrefix.length > 0 &&
      stream.startsWith(rule.streamPrefix) &&
      (!best || rule.streamPrefix.length > best.streamPrefix.length)
    )
      best = rule;
  }
  if (!best) return null;
  const maxAge = Math.floor(best.maxAgeSeconds);
  return Number.isSafeInteger(maxAge) && maxAge > 0 ? { maxAge } : null;
}
