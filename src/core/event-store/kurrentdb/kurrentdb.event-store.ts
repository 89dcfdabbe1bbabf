/**
 * The production-scale EventStore: KurrentDB (formerly EventStoreDB) through its official client,
 * @kurrent/kurrentdb-client. Every translation (revisions, positions, metadata, filters, errors,
 * the connection string) is a pure function in kurrentdb.mapping.ts; this file only does the I/O.
 *
 * - append: one appendToStream per call, with the expected revision as the client's streamState.
 * - readStream / readAll / headPosition: reads through the client (its native bridge). readAll reads
 *   $all in chunks from the window's start and keeps reading until the page is full, because part of
 *   the filter (actor, since, until, ...) can only be checked on the client.
 * - subscribe: a catch-up subscribeToAll from `after` with the server-side part of the filter;
 *   events are delivered in batches of what the client has buffered, each batch awaited.
 * - No call can hang: every client step (an append, the next item of a read) is raced against the
 *   client's own gRPC deadline plus a grace period; on expiry the caller gets
 *   EventStoreUnavailableError. (The client has calls without a deadline, e.g. its server-features
 *   probe before the first append, which wait forever on a server that accepts TCP but never answers.)
 *   An append that times out may still have been written: its outcome is unknown, as with any
 *   network store; the caller's retry with the same expected revision then fails with a conflict.
 *
 * connect() does not contact the server (the client connects lazily, and KurrentDB may come up after
 * bramble); the first operation does, and fails with EventStoreUnavailableError if it cannot.
 */
import {
  KurrentDBClient,
  FORWARDS,
  BACKWARDS,
  type AllStreamSubscription,
  type CaughtUp,
  type Filter,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import {
  EventStoreUnavailableError,
  type AppendResult,
  type EventFilter,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type RetentionRule,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandlers,
} from '../event-store.port';
import { silentLogger, type Logger } from '../../logging/logger';
import { ConfigError } from '../../config/config';
import {
  backwardsStart,
  checkCount,
  filterMatchesNothing,
  forwardsStart,
  inWindow,
  isStreamNotFound,
  isSystemEvent,
  matchesFilter,
  needsClientFiltering,
  parseConnectionString,
  positionOf,
  toAppendResult,
  toClientStreamState,
  toEventData,
  retentionMetadataFor,
  toRecordedEvent,
  toServerFilter,
  translateError,
  type ClientResolvedEvent,
  type ErrorContext,
  type KurrentDbConnectionSettings,
} from './kurrentdb.mapping';

/** The part of the official client the adapter uses (tests hand in a stand-in through fromClient). */
export type KurrentDbClientApi = Pick<KurrentDBClient, 'appendToStream' | 'readStream' | 'readAll' | 'subscribeToAll' | 'dispose'> &
  Partial<Pick<KurrentDBClient, 'setStreamMetadata'>>;

/** Streams whose retention metadata this process set (bounded: cleared when full; setting it again is harmless). */
const MAX_RETAINED_STREAMS = 100_000;

export interface KurrentDbConnectOptions {
  /** BRAMBLE_EVENT_STORE: `kurrentdb://`, `kurrentdb+discover://` or `esdb://` (see parseConnectionString). */
  connectionString: string;
  logger?: Logger;
}

const DEFAULT_LIMIT = 1000;
/** Time allowed on top of the client's deadline before bramble gives up on a step itself. */
const GRACE_MS = 1000;
/** Smallest chunk readAll asks for when the client must filter part of what it reads. */
const CLIENT_FILTER_CHUNK = 256;
const MAX_CHUNK = 4096;

/** Races `promise` against a timer; a loser's late rejection is swallowed (never unhandled). */
async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class KurrentDbEventStore implements EventStore {
  /** Validates the connection string and creates the client; does not wait for the server. */
  static async connect(options: KurrentDbConnectOptions): Promise<KurrentDbEventStore> {
    const settings = parseConnectionString(options.connectionString);
    const logger = (options.logger ?? silentLogger).child('kurrentdb');
    let client: KurrentDBClient;
    try {
      client = KurrentDBClient.connectionString(settings.connectionString);
    } catch (err) {
      // The client's parse errors quote the connection string (password included): not passed on.
      const expected = (err as { expected?: unknown }).expected;
      throw new ConfigError(
        'BRAMBLE_EVENT_STORE',
        `rejected by the KurrentDB client${typeof expected === 'string' ? ` (expected ${expected})` : ''}: ${settings.redacted}`,
      );
    }
    logger.info('KurrentDB client created', { target: settings.redacted, deadlineMs: settings.deadlineMs });
    return new KurrentDbEventStore(client, settings, logger);
  }

  /**
   * Wraps a client that already exists; `connectionString` still gives the settings (deadline,
   * redacted name). connect() is the way in for bramble; this is the seam for tests.
   */
  static fromClient(client: KurrentDbClientApi, options: KurrentDbConnectOptions): KurrentDbEventStore {
    const settings = parseConnectionString(options.connectionString);
    return new KurrentDbEventStore(client, settings, (options.logger ?? silentLogger).child('kurrentdb'));
  }

  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly subscriptions = new Set<KurrentDbSubscription>();
  /** Client calls under way: close() lets them finish (each is bounded by the step timeout). */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** How long one client step may take before bramble reports the store unavailable. */
  readonly stepTimeoutMs: number;

  private constructor(
    private readonly client: KurrentDbClientApi,
    private readonly settings: KurrentDbConnectionSettings,
    private readonly logger: Logger,
  ) {
    this.stepTimeoutMs = settings.deadlineMs + GRACE_MS;
  }

  // ---- appends ------------------------------------------------------------------------------

  async append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    const data = toEventData(stream, events, expected);
    const context: ErrorContext = { operation: 'append', stream, expected };
    try {
      const result = await this.step(this.client.appendToStream(stream, data, { streamState: toClientStreamState(expected) }), context);
      await this.retain(stream);
      return toAppendResult(stream, expected, result);
    } catch (err) {
      throw translateError(err, context);
    }
  }

  // ---- retention ----------------------------------------------------------------------------

  private retentionRules: RetentionRule[] = [];
  private readonly retained = new Set<string>();

  /**
   * Remembers the rule: each matching stream this process appends to gets `$maxAge` stream
   * metadata once (the server's scavenge then deletes older events). Deletes nothing itself.
   */
  applyRetention(rule: RetentionRule): Promise<{ deleted: number }> {
    const others = this.retentionRules.filter((r) => r.streamPrefix !== rule.streamPrefix);
    const changed =
      others.length === this.retentionRules.length ||
      this.retentionRules.some((r) => r.streamPrefix === rule.streamPrefix && r.maxAgeSeconds !== rule.maxAgeSeconds);
    this.retentionRules = [...others, { ...rule }];
    if (changed) this.retained.clear();
    return Promise.resolve({ deleted: 0 });
  }

  /** Sets the stream's `$maxAge` after its first append here (a failure is logged: the append stands). */
  private async retain(stream: string): Promise<void> {
    if (this.retentionRules.length === 0 || this.retained.has(stream) || !this.client.setStreamMetadata) return;
    const metadata = retentionMetadataFor(stream, this.retentionRules);
    if (!metadata) return;
    if (this.retained.size >= MAX_RETAINED_STREAMS) this.retained.clear();
    this.retained.add(stream);
    try {
      await this.step(this.client.setStreamMetadata(stream, metadata), { operation: 'append', stream, expected: 'any' });
    } catch (err) {
      this.retained.delete(stream);
      this.logger.warn('could not set the stream retention', { stream, error: (err as Error).message });
    }
  }

  // ---- reads --------------------------------------------------------------------------------

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const from = options.fromRevision ?? 0;
    checkCount('fromRevision', from);
    if (options.limit !== undefined) checkCount('limit', options.limit);
    if (options.limit === 0) return [];
    const context: ErrorContext = { operation: 'readStream', stream };
    let resolved: ClientResolvedEvent[];
    try {
      resolved = await this.collect(
        this.client.readStream(stream, {
          fromRevision: BigInt(from),
          direction: FORWARDS,
          maxCount: options.limit ?? Number.MAX_SAFE_INTEGER,
        }),
        context,
      );
    } catch (err) {
      if (isStreamNotFound(err)) return [];
      throw translateError(err, context);
    }
    return resolved
      .filter((r) => r.event !== undefined && !isSystemEvent({ stream: r.event.streamId, type: r.event.type }))
      .map(toRecordedEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const limit = options.limit ?? DEFAULT_LIMIT;
    checkCount('limit', limit);
    if (options.after !== undefined) checkCount('after', options.after);
    if (options.before !== undefined) checkCount('before', options.before);
    return this.readAllPage('readAll', options.after, options.before, limit, options.direction === 'backwards', options.filter);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    const [newest] = await this.readAllPage('headPosition', undefined, undefined, 1, true, undefined);
    return newest?.position ?? 0;
  }

  /**
   * One page of $all inside the (after, before) window, reading chunk after chunk until `limit`
   * events matched or the window/log ends. Each chunk starts at the last position seen, which is
   * then excluded (the "after p skips p" rule of the mapping).
   */
  private async readAllPage(
    operation: string,
    after: number | undefined,
    before: number | undefined,
    limit: number,
    backwards: boolean,
    filter: EventFilter | undefined,
  ): Promise<RecordedEvent[]> {
    if (limit === 0 || filterMatchesNothing(filter)) return [];
    if (after !== undefined && before !== undefined && before <= after + 1) return [];
    const serverFilter = toServerFilter(filter);
    const clientFiltering = needsClientFiltering(filter);
    const context: ErrorContext = { operation };
    const page: RecordedEvent[] = [];
    // The open end of the window moves as chunks are read; the far end stays.
    let cursor = backwards ? before : after;
    for (;;) {
      const wanted = limit - page.length;
      const chunk = Math.min(MAX_CHUNK, clientFiltering ? Math.max(CLIENT_FILTER_CHUNK, wanted + 1) : wanted + 1);
      const raw = await this.readAllChunk(
        backwards ? backwardsStart(cursor) : forwardsStart(cursor),
        backwards,
        chunk,
        serverFilter,
        context,
      );
      let last: number | undefined;
      let reachedEnd = false;
      for (const r of raw) {
        const e = r.event;
        if (!e) continue;
        const position = positionOf(r);
        if (backwards ? after !== undefined && position <= after : before !== undefined && position >= before) {
          reachedEnd = true;
          break;
        }
        last = position;
        const fresh = backwards ? inWindow(position, undefined, cursor) : inWindow(position, cursor, undefined);
        if (!fresh || isSystemEvent({ stream: e.streamId, type: e.type })) continue;
        const event = toRecordedEvent(r);
        if (!matchesFilter(event, filter)) continue;
        page.push(event);
        if (page.length === limit) return page;
      }
      if (reachedEnd || raw.length < chunk || last === undefined || last === cursor) return page;
      cursor = last;
    }
  }

  private async readAllChunk(
    from: ReadPosition,
    backwards: boolean,
    maxCount: number,
    filter: Filter | undefined,
    context: ErrorContext,
  ): Promise<ClientResolvedEvent[]> {
    try {
      return await this.collect(
        this.client.readAll({ fromPosition: from, direction: backwards ? BACKWARDS : FORWARDS, maxCount, ...(filter ? { filter } : {}) }),
        context,
      );
    } catch (err) {
      throw translateError(err, context);
    }
  }

  /** Drains a client read, each step under the step timeout. */
  private async collect<T>(iterable: AsyncIterable<T>, context: ErrorContext): Promise<T[]> {
    const iterator = iterable[Symbol.asyncIterator]();
    const items: T[] = [];
    try {
      for (;;) {
        const next = await this.step(iterator.next(), context);
        if (next.done) return items;
        items.push(next.value);
      }
    } catch (err) {
      iterator.return?.().catch(() => undefined);
      throw err;
    }
  }

  /** One client call under the step timeout. */
  private step<T>(promise: Promise<T>, context: ErrorContext): Promise<T> {
    const what = context.stream ? `${context.operation} (${context.stream})` : context.operation;
    const bounded = withTimeout(
      promise,
      this.stepTimeoutMs,
      () => new EventStoreUnavailableError(`kurrentdb: ${what}: no answer from ${this.settings.redacted} within ${this.stepTimeoutMs} ms`),
    );
    this.inFlight.add(bounded);
    const forget = (): void => void this.inFlight.delete(bounded);
    bounded.then(forget, forget);
    return bounded;
  }

  // ---- subscriptions ------------------------------------------------------------------------

  subscribe(options: SubscribeOptions, handlers: SubscriptionHandlers): Subscription {
    this.assertOpen();
    const batchSize = options.batchSize ?? DEFAULT_LIMIT;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    if (options.after !== undefined) checkCount('after', options.after);
    const sub = new KurrentDbSubscription(
      {
        open: (readableHighWaterMark) => {
          const filter = toServerFilter(options.filter);
          return this.client.subscribeToAll(
            { fromPosition: forwardsStart(options.after), ...(filter ? { filter } : {}) },
            { highWaterMark: readableHighWaterMark },
          );
        },
        lastMatching: async () => (await this.readAllPage('subscribe', options.after, undefined, 1, true, options.filter))[0]?.position,
        stepTimeoutMs: this.stepTimeoutMs,
      },
      options.after,
      options.filter,
      batchSize,
      handlers,
      this.logger,
      (s) => this.subscriptions.delete(s),
    );
    this.subscriptions.add(sub);
    return sub;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** Stops every subscription and disposes of the client. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await Promise.allSettled([...this.inFlight]); // appends and reads already sent get their answer
    try {
      await withTimeout(this.client.dispose(), this.stepTimeoutMs, () => new Error('client dispose timed out'));
    } catch (err) {
      this.logger.warn('KurrentDB client did not close cleanly', { error: err });
    }
    this.logger.debug('closed');
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreUnavailableError(`kurrentdb: event store ${this.settings.redacted} is closed`);
  }
}

/** What a subscription needs from its store. */
interface SubscriptionSource {
  /** Starts the client's catch-up subscription. */
  open(readableHighWaterMark: number): AllStreamSubscription;
  /** Position of the newest event matching the filter after `after` (undefined: none), read now. */
  lastMatching(): Promise<number | undefined>;
  stepTimeoutMs: number;
}

/**
 * One catch-up subscription over subscribeToAll. A single loop takes what the client has buffered,
 * drops what is not bramble's or not in the filter, delivers batches of at most batchSize, awaits
 * onEvents, and only then reads again (the client's stream, with a high-water mark of batchSize,
 * applies back-pressure to gRPC).
 *
 * caughtUp resolves after the delivery that covers every event existing at start, known either way:
 * - the newest event matching the filter, read when the subscription starts, has been delivered
 *   (works with every server version); or
 * - the client reported `caughtUp` (KurrentDB 23.10+) and everything it had buffered before that
 *   moment has been delivered.
 */
class KurrentDbSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  private resolveCaughtUp!: () => void;
  private rejectCaughtUp!: (error: Error) => void;
  private isCaughtUp = false;
  private closed = false;
  private stream: AllStreamSubscription | undefined;
  private wake: (() => void) | undefined;
  private ended = false;
  private streamError: unknown;
  private delivered: number | undefined;
  /** Items taken from the client stream / items whose handling (delivery or drop) is complete. */
  private taken = 0;
  private handled = 0;
  /** `taken + buffered` when the client said caughtUp: once `handled` reaches it, we are caught up. */
  private serverCaughtUpAt: number | undefined;
  /** The newest matching event at start; null: none; undefined: not known yet. */
  private target: number | null | undefined;

  constructor(
    private readonly source: SubscriptionSource,
    after: number | undefined,
    private readonly filter: EventFilter | undefined,
    private readonly batchSize: number,
    private readonly handlers: SubscriptionHandlers,
    private readonly logger: Logger,
    private readonly onClosed: (sub: KurrentDbSubscription) => void,
  ) {
    this.caughtUp = new Promise<void>((resolve, reject) => {
      this.resolveCaughtUp = resolve;
      this.rejectCaughtUp = reject;
    });
    this.caughtUp.catch(() => undefined); // a rejection nobody awaits must not crash the process
    this.delivered = after;
    // Start after subscribe() has returned: onEvents never runs inside the caller's own call.
    queueMicrotask(() => void this.run());
  }

  get lastPosition(): number | undefined {
    return this.delivered;
  }

  async close(): Promise<void> {
    this.stop(new EventStoreUnavailableError('subscription closed before it caught up'));
    await this.release();
  }

  /** Cancels the client's subscription (once) and frees its buffer. */
  private release(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return Promise.resolve();
    return withTimeout(stream.unsubscribe(), this.source.stepTimeoutMs, () => new Error('unsubscribe timed out'))
      .catch(() => undefined) // never opened, or the connection is gone: nothing left to cancel
      .finally(() => stream.destroy());
  }

  private stop(reason: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.isCaughtUp) this.rejectCaughtUp(reason);
    this.onClosed(this);
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private markCaughtUp(): void {
    if (this.isCaughtUp || this.closed) return;
    this.isCaughtUp = true;
    this.resolveCaughtUp();
  }

  private checkCaughtUp(): void {
    if (this.serverCaughtUpAt !== undefined && this.handled >= this.serverCaughtUpAt) this.markCaughtUp();
    if (this.target === null) this.markCaughtUp();
    else if (this.target !== undefined && this.delivered !== undefined && this.delivered >= this.target) this.markCaughtUp();
  }

  private async run(): Promise<void> {
    if (this.closed) return;
    if (filterMatchesNothing(this.filter)) {
      this.markCaughtUp(); // nothing can ever be delivered
      return;
    }
    try {
      const stream = this.source.open(this.batchSize);
      this.stream = stream;
      stream.on('readable', () => this.poke());
      stream.on('end', () => {
        this.ended = true;
        this.poke();
      });
      stream.on('error', (err: unknown) => {
        this.streamError ??= err;
        this.poke();
      });
      stream.on('caughtUp', (_info: CaughtUp) => {
        this.serverCaughtUpAt = this.taken + stream.readableLength;
        this.checkCaughtUp();
        this.poke(); // a partial batch held back may now go out
      });
      this.source.lastMatching().then(
        (position) => {
          this.target = position === undefined ? null : position;
          this.checkCaughtUp();
          this.poke();
        },
        (err: unknown) => {
          this.streamError ??= err;
          this.poke();
        },
      );
      await this.pump(stream);
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * The delivery loop. While catching up, a batch is delivered when it is full or when it reaches
   * the end of what existed at start (the target, or the client's caughtUp mark); once caught up,
   * whatever is buffered is delivered at once (live events are not held back to fill a batch).
   */
  private async pump(stream: AllStreamSubscription): Promise<void> {
    let batch: RecordedEvent[] = [];
    let took = 0; // client items behind `batch` (delivered or dropped with it)
    while (!this.closed) {
      if (this.streamError !== undefined) throw this.streamError;
      let item: ClientResolvedEvent | null;
      while (batch.length < this.batchSize && (item = stream.read() as ClientResolvedEvent | null) !== null) {
        took++;
        this.taken++;
        const e = item.event;
        if (!e || isSystemEvent({ stream: e.streamId, type: e.type })) continue;
        const event = toRecordedEvent(item);
        const floor = batch.length > 0 ? batch[batch.length - 1].position : this.delivered;
        if (!inWindow(event.position, floor, undefined)) continue; // at or before `after`, or a repeat
        if (matchesFilter(event, this.filter)) batch.push(event);
      }
      if (batch.length === 0 && took > 0) {
        this.handled += took; // everything taken was dropped
        took = 0;
        this.checkCaughtUp();
      }
      if (batch.length > 0 && (batch.length >= this.batchSize || this.endOfHistory(batch[batch.length - 1].position))) {
        const delivering = batch;
        batch = [];
        try {
          await this.handlers.onEvents(delivering);
        } catch (err) {
          this.fail(err instanceof Error ? err : new Error(String(err)), false);
          return;
        }
        if (this.closed) return;
        this.delivered = delivering[delivering.length - 1].position;
        this.handled += took;
        took = 0;
        this.checkCaughtUp();
        continue;
      }
      if (stream.readableLength > 0) continue;
      if (this.ended) throw new EventStoreUnavailableError('kurrentdb: the server ended the subscription');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        // Anything that arrived meanwhile is read on the next turn, not waited for.
        if (stream.readableLength > 0 || this.ended || this.streamError !== undefined || this.closed) this.poke();
      });
    }
  }

  /** True when a batch ending at `position` must go out now rather than wait to fill up. */
  private endOfHistory(position: number): boolean {
    if (this.isCaughtUp || this.target === null) return true;
    if (this.target !== undefined && position >= this.target) return true;
    return this.serverCaughtUpAt !== undefined && this.taken >= this.serverCaughtUpAt;
  }

  /** Stops the subscription and reports `err` (a client error is translated; a handler's is kept). */
  private fail(err: unknown, fromClient = true): void {
    if (this.closed) return;
    const error = fromClient ? translateError(err, { operation: 'subscribe' }) : (err as Error);
    this.stop(error);
    void this.release();
    if (this.handlers.onError) {
      try {
        this.handlers.onError(error);
      } catch (handlerError) {
        this.logger.warn('subscription onError threw', { error: handlerError });
      }
    } else {
      this.logger.warn('subscription stopped', { error });
    }
  }
}
