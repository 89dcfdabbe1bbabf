/**
 * Catch-up subscription over the sqlite store. One loop serves both phases: read the next page
 * after the cursor (bounded by the head read just before, so the cursor can move past a filtered-out
 * range), deliver it, and when nothing is left wait for the store's notification that a transaction
 * was committed. Historic and live reads are the same query, so the hand-over has no gap and no
 * duplicate; positions only become visible in commit order (one writer), so reading "after the
 * cursor" never skips an event that commits later.
 */
import type { EventFilter, RecordedEvent, Subscription, SubscriptionHandlers } from '../event-store.port';
import { EventStoreUnavailableError } from '../event-store.port';
import type { Logger } from '../../logging/logger';

export interface PageSource {
  headPosition(): number;
  /** Events with after < position <= upTo, matching the filter, in position order, at most `limit`. */
  page(after: number, upTo: number, filter: EventFilter | undefined, limit: number): RecordedEvent[];
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SqliteSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  private resolveCaughtUp!: () => void;
  private rejectCaughtUp!: (err: Error) => void;
  private isCaughtUp = false;
  private closed = false;
  private dirty = false;
  private wake: (() => void) | undefined;
  private delivered: number | undefined;
  /** Every position <= cursor has been read (delivered or filtered out). */
  private cursor: number;
  private readonly startHead: number;

  constructor(
    private readonly source: PageSource,
    private readonly filter: EventFilter | undefined,
    private readonly batchSize: number,
    private readonly handlers: SubscriptionHandlers,
    private readonly logger: Logger,
    private readonly onClosed: (sub: SqliteSubscription) => void,
    after: number | undefined,
  ) {
    this.caughtUp = new Promise<void>((resolve, reject) => {
      this.resolveCaughtUp = resolve;
      this.rejectCaughtUp = reject;
    });
    this.caughtUp.catch(() => undefined); // a rejection nobody awaits must not crash the process
    this.delivered = after;
    this.cursor = after ?? 0;
    this.startHead = source.headPosition();
    // Start after subscribe() has returned: onEvents never runs inside the caller's own call.
    queueMicrotask(() => void this.run());
  }

  get lastPosition(): number | undefined {
    return this.delivered;
  }

  /** Called by the store after every committed transaction. */
  notify(): void {
    this.dirty = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  close(): Promise<void> {
    this.stop(new EventStoreUnavailableError('subscription closed before it caught up'));
    return Promise.resolve();
  }

  private stop(reason: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.isCaughtUp) this.rejectCaughtUp(reason);
    this.onClosed(this);
    this.notify();
  }

  private markCaughtUp(): void {
    if (this.isCaughtUp || this.closed) return;
    this.isCaughtUp = true;
    this.resolveCaughtUp();
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed) {
        this.dirty = false;
        const upTo = this.source.headPosition();
        const events = this.source.page(this.cursor, upTo, this.filter, this.batchSize);
        const exhausted = events.length < this.batchSize;
        if (events.length > 0) {
          if (this.closed) break;
          await this.handlers.onEvents(events);
          this.delivered = events[events.length - 1].position;
        }
        this.cursor = exhausted ? Math.max(this.cursor, upTo) : events[events.length - 1].position;
        if (this.cursor >= this.startHead) this.markCaughtUp();
        if (!exhausted) {
          await yieldToEventLoop(); // a long catch-up must not starve the event loop
        } else if (!this.dirty && !this.closed) {
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (this.closed) return;
      this.stop(error);
      if (this.handlers.onError) {
        try {
          this.handlers.onError(error);
        } catch (handlerError) {
          this.logger.warn('subscription onError threw', { error: handlerError });
        }
      } else {
        this.logger.warn('subscription stopped: onEvents failed', { error });
      }
    }
  }
}
