import type { Metrics } from '../observability/metrics';
import {
  EventStoreCorruptError,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type IntegrityReport,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RetentionRule,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandlers,
} from './event-store.port';

/** What `/health` says about the event store (see InstrumentedEventStore for the rule). */
export interface EventStoreCondition {
  status: 'up' | 'degraded' | 'down';
  /** Why it is not up: the failed operation and the store's error. */
  detail?: string;
  /** When that failure happened (ISO-8601). */
  at?: string;
}

type FailureKind = 'append' | 'read' | 'head' | 'subscription' | 'integrity';

/** The status each kind of failure gives the store. */
const SEVERITY: Record<FailureKind, 'degraded' | 'down'> = {
  append: 'degraded', // reads (and so DHCP for the Pis already approved) still work
  read: 'degraded', // one read failed (say, a damaged page): others may work
  head: 'down', // the store cannot say where it ends: nothing works
  subscription: 'down', // the read models (or a plugin's view) stopped following the store
  integrity: 'down', // the start-up check found the file damaged: appends are refused for good
};
const RANK = { up: 0, degraded: 1, down: 2 } as const;

/**
 * Wraps any adapter to count appends and time them for `/metrics`, and to remember its failures
 * for `/health`:
 * - a failed append marks the store `degraded`, a failed read (readAll, readStream) `degraded`, a
 *   failed headPosition or a failed subscription `down`, a failed integrity check `down`; the
 *   detail is the operation and the store's error, with the time;
 * - a failure is cleared by the next success of the same operation (an append by an append, a
 *   read by a read, headPosition by headPosition, a subscription by a later delivered batch); a
 *   failed integrity check is never cleared (restart on a repaired file);
 * - the caller's own mistakes (a concurrency conflict, an invalid argument: TypeError/RangeError,
 *   an error thrown by a subscriber's handler) are not failures of the store.
 */
export class InstrumentedEventStore implements EventStore {
  private readonly failures = new Map<FailureKind, { detail: string; at: string }>();
  private integrityReport: IntegrityReport | 'running' | 'none' = 'none';
  private readonly integrity: Promise<IntegrityReport> | null;

  constructor(
    readonly inner: EventStore,
    private readonly metrics: Metrics,
  ) {
    this.integrity = inner.integrityCheck ? inner.integrityCheck() : null;
    if (this.integrity) {
      this.integrityReport = 'running';
      void this.integrity.then((report) => {
        this.integrityReport = report;
        if (report.status === 'failed')
          this.failures.set('integrity', { detail: `integrity check failed: ${report.detail}`, at: new Date().toISOString() });
      });
    }
  }

  /** The store's condition by the rule above. */
  condition(): EventStoreCondition {
    let worst: EventStoreCondition = { status: 'up' };
    for (const [kind, f] of this.failures) {
      const status = SEVERITY[kind];
      if (RANK[status] > RANK[worst.status]) worst = { status, detail: f.detail, at: f.at };
    }
    return worst;
  }

  /** The integrity check: running, its report, or 'none' when the adapter has none. */
  integrityStatus(): IntegrityReport | 'running' | 'none' {
    return this.integrityReport;
  }

  /**
   * Waits for the adapter's integrity check, at most `waitMs`: throws EventStoreCorruptError if
   * it failed; returns 'pending' if it is still running then (its result lands in /health, and
   * the adapter holds appends until it has passed).
   */
  async awaitIntegrity(waitMs: number): Promise<IntegrityReport | 'pending' | 'none'> {
    if (!this.integrity) return 'none';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'pending'>((resolve) => {
      timer = setTimeout(() => resolve('pending'), waitMs);
      timer.unref();
    });
    const report = await Promise.race([this.integrity, timeout]);
    clearTimeout(timer);
    if (report !== 'pending' && report.status === 'failed') throw new EventStoreCorruptError(report.detail, 'the event store');
    return report;
  }

  private failed(kind: FailureKind, what: string, error: unknown): void {
    if (error instanceof WrongExpectedRevisionError || error instanceof TypeError || error instanceof RangeError) return;
    const message = error instanceof Error ? error.message : String(error);
    this.failures.set(kind, { detail: `${what} failed: ${message}`, at: new Date().toISOString() });
  }

  private succeeded(kind: FailureKind): void {
    if (this.failures.size > 0) this.failures.delete(kind);
  }

  private async track<T>(kind: FailureKind, what: string, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      this.succeeded(kind);
      return result;
    } catch (error) {
      this.failed(kind, what, error);
      throw error;
    }
  }

  async append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const stop = this.metrics.appendLatency.startTimer();
    try {
      const result = await this.inner.append(stream, events, expected);
      stop();
      this.succeeded('append');
      this.metrics.appendBatches.inc();
      const dash = stream.indexOf('-');
      this.metrics.eventsAppended.inc({ stream_category: dash > 0 ? stream.slice(0, dash) : stream }, events.length);
      return result;
    } catch (error) {
      this.metrics.appendFailures.inc({ reason: error instanceof WrongExpectedRevisionError ? 'conflict' : 'error' });
      this.failed('append', 'append', error);
      throw error;
    }
  }

  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.track('read', 'read', () => this.inner.readStream(stream, options));
  }

  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.track('read', 'read', () => this.inner.readAll(options));
  }

  headPosition(): Promise<number> {
    return this.track('head', 'reading the head position', () => this.inner.headPosition());
  }

  subscribe(options: SubscribeOptions, handlers: SubscriptionHandlers): Subscription {
    // An error thrown by the subscriber's own handler is not the store's failure.
    const own = new WeakSet<object>();
    const mark = (error: unknown): never => {
      if (typeof error === 'object' && error !== null) own.add(error);
      throw error;
    };
    return this.inner.subscribe(options, {
      onEvents: (events) => {
        this.succeeded('subscription');
        try {
          const done = handlers.onEvents(events);
          return done instanceof Promise ? done.catch(mark) : done;
        } catch (error) {
          return mark(error);
        }
      },
      onError: (error) => {
        if (!own.has(error)) this.failed('subscription', 'a subscription', error);
        handlers.onError?.(error);
      },
    });
  }

  integrityCheck(): Promise<IntegrityReport> {
    return this.integrity ?? Promise.resolve({ status: 'skipped' });
  }

  /** The adapter's retention (see the port); `{ deleted: 0 }` when it has none. */
  applyRetention(rule: RetentionRule, now?: Date): Promise<{ deleted: number }> {
    return this.inner.applyRetention ? this.inner.applyRetention(rule, now) : Promise.resolve({ deleted: 0 });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
