import type { Metrics } from '../observability/metrics';
import {
  WrongExpectedRevisionError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandlers,
} from './event-store.port';

/** Wraps any adapter to count appends and time them for `/metrics`. */
export class InstrumentedEventStore implements EventStore {
  constructor(
    readonly inner: EventStore,
    private readonly metrics: Metrics,
  ) {}

  async append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const stop = this.metrics.appendLatency.startTimer();
    try {
      const result = await this.inner.append(stream, events, expected);
      stop();
      this.metrics.appendBatches.inc();
      const dash = stream.indexOf('-');
      this.metrics.eventsAppended.inc({ stream_category: dash > 0 ? stream.slice(0, dash) : stream }, events.length);
      return result;
    } catch (error) {
      this.metrics.appendFailures.inc({ reason: error instanceof WrongExpectedRevisionError ? 'conflict' : 'error' });
      throw error;
    }
  }

  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.inner.readStream(stream, options);
  }

  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.inner.readAll(options);
  }

  headPosition(): Promise<number> {
    return this.inner.headPosition();
  }

  subscribe(options: SubscribeOptions, handlers: SubscriptionHandlers): Subscription {
    return this.inner.subscribe(options, handlers);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
