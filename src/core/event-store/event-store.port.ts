/**
 * The event store port. Everything bramble knows is an event appended here; the adapters
 * (sqlite: the embedded default; kurrentdb: production scale) implement this one contract and
 * pass the same contract test suite (test/support/event-store-contract.ts).
 *
 * Positions and revisions are plain numbers:
 * - `revision` is the 0-based index of an event inside its stream;
 * - `position` is the event's global position: strictly increasing in append order across all
 *   streams (not necessarily dense). Reads "after" a position exclude that position.
 */

import type { EventMetadata, RecordedEvent } from '../plugin-api/events';

export type { EventMetadata, RecordedEvent };

/** An event to append: the store adds id (unless given), stream, revision and position. */
export interface NewEvent<T extends string = string, D = unknown> {
  id?: string;
  type: T;
  data: D;
  metadata: EventMetadata;
}

/**
 * What the appender expects the stream to be:
 * - 'no_stream': the stream must not exist yet;
 * - 'any': no check;
 * - 'stream_exists': the stream must have at least one event;
 * - a number: the revision of the stream's last event must be exactly this.
 */
export type ExpectedRevision = 'no_stream' | 'any' | 'stream_exists' | number;

export interface AppendResult {
  /** Revision of the last event appended. */
  revision: number;
  /** Global position of the last event appended. */
  position: number;
}

export interface ReadStreamOptions {
  /** First revision to return (inclusive). Default 0. */
  fromRevision?: number;
  /** At most this many events. Default: all. */
  limit?: number;
}

/** Filters applied by `readAll`; every given criterion must match. */
export interface EventFilter {
  /** Stream name starts with one of these prefixes. */
  streamPrefixes?: string[];
  /** Event type is one of these. */
  types?: string[];
  /** metadata.actor equals this. */
  actor?: string;
  /** metadata.timestamp >= since (ISO-8601). */
  since?: string;
  /** metadata.timestamp < until (ISO-8601). */
  until?: string;
}

export interface ReadAllOptions {
  /** Return events with position strictly greater than this. Default: from the start. */
  after?: number;
  /** Return events with position strictly less than this (reading backwards: the start point). */
  before?: number;
  /** At most this many events (default 1000). */
  limit?: number;
  /** 'forwards' (default) or 'backwards'. */
  direction?: 'forwards' | 'backwards';
  filter?: EventFilter;
}

export interface SubscribeOptions {
  /** Deliver events with position strictly greater than this. Default: from the start. */
  after?: number;
  filter?: EventFilter;
  /** Max events per delivered batch (default 1000). */
  batchSize?: number;
}

/**
 * A catch-up subscription: historic events first, then live ones as they are appended, in
 * position order, with no gap and no duplicate at the hand-over. `onEvents` is awaited before the
 * next batch is delivered (back-pressure). If `onEvents` throws, the subscription stops and
 * `onError` is called.
 */
export interface Subscription {
  /** Resolves once every event that existed when the subscription started has been delivered. */
  readonly caughtUp: Promise<void>;
  /** Position of the last delivered event (or the starting `after`). */
  readonly lastPosition: number | undefined;
  close(): Promise<void>;
}

export interface SubscriptionHandlers {
  onEvents(events: RecordedEvent[]): void | Promise<void>;
  onError?(error: Error): void;
}

export interface EventStore {
  /** Append events atomically to one stream. Throws WrongExpectedRevisionError on conflict. */
  append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /** Events of one stream in revision order; [] when the stream does not exist. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** One page of the global log. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Global position of the newest event (0 when the store is empty). */
  headPosition(): Promise<number>;
  subscribe(options: SubscribeOptions, handlers: SubscriptionHandlers): Subscription;
  close(): Promise<void>;
  /**
   * Optional: the adapter's own integrity check of its storage, started when it opened (sqlite:
   * `PRAGMA quick_check` in a worker thread). Resolves once it has run; never rejects. Adapters
   * whose server checks its own storage (KurrentDB) do not have it.
   */
  integrityCheck?(): Promise<IntegrityReport>;
  /**
   * Optional: keeps the events of streams starting with `rule.streamPrefix` for `maxAgeSeconds`
   * (only boot streams have a retention; nothing else is ever deleted). sqlite deletes the older
   * ones now, in batches in its writer thread, never the last event of a stream, and says how many
   * (call it again to apply the rule again); KurrentDB sets `$maxAge` on each matching stream it
   * appends to from now on (the server's scavenge deletes) and deletes nothing here.
   */
  applyRetention?(rule: RetentionRule, now?: Date): Promise<{ deleted: number }>;
}

export interface RetentionRule {
  streamPrefix: string;
  maxAgeSeconds: number;
}

/** The outcome of an adapter's integrity check. */
export type IntegrityReport =
  | { status: 'passed'; ms: number }
  | { status: 'failed'; ms: number; detail: string }
  /** Not run (turned off for this store). */
  | { status: 'skipped' };

/**
 * The checks every adapter makes of an append before it touches storage (a TypeError for a caller's
 * mistake): a stream name, at least one event, each with a type and complete metadata.
 */
export function checkAppend(stream: string, events: readonly NewEvent[]): void {
  if (typeof stream !== 'string' || stream.length === 0) throw new TypeError('stream must be a non-empty string');
  if (!Array.isArray(events) || events.length === 0) throw new TypeError(`append to ${stream}: at least one event is required`);
  for (const e of events) {
    if (typeof e.type !== 'string' || e.type.length === 0)
      throw new TypeError(`append to ${stream}: event type must be a non-empty string`);
    const m = e.metadata;
    if (
      !m ||
      typeof m.actor !== 'string' ||
      typeof m.correlationId !== 'string' ||
      typeof m.timestamp !== 'string' ||
      !Number.isInteger(m.schemaVersion)
    ) {
      throw new TypeError(`append to ${stream}: event ${e.type} has incomplete metadata`);
    }
  }
}

/** Optimistic concurrency conflict: the stream was not at the expected revision. */
export class WrongExpectedRevisionError extends Error {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's actual last revision, or 'no_stream'. */
    readonly actual: number | 'no_stream',
  ) {
    super(`stream ${stream}: expected revision ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** The store is closed or could not be reached. */
export class EventStoreUnavailableError extends Error {
  readonly code = 'EVENT_STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventStoreUnavailableError';
  }
}

/** DI token for the EventStore. */
export const EVENT_STORE = Symbol('EVENT_STORE');

/** The store's storage failed its integrity check: bramble does not start on it. */
export class EventStoreCorruptError extends Error {
  readonly code = 'EVENT_STORE_CORRUPT';
  constructor(
    readonly detail: string,
    where: string,
  ) {
    super(
      `${where} failed its integrity check: ${detail}. bramble does not start on a damaged event store:` +
        " stop, keep a copy of the damaged file, then restore it from a backup (or salvage what is readable with the sqlite3 shell's .recover)",
    );
    this.name = 'EventStoreCorruptError';
  }
}
