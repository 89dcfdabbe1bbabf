import { upcastEvent } from '../events/upcasters';
import type {
  AppendResult,
  EventStore,
  ExpectedRevision,
  IntegrityReport,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
  SubscriptionHandlers,
} from './event-store.port';

const upcastAll = (events: RecordedEvent[]): RecordedEvent[] => events.map(upcastEvent);

/** Wraps any adapter so that every event read comes out in its type's current shape (events/upcasters.ts). */
export class UpcastingEventStore implements EventStore {
  readonly integrityCheck?: () => Promise<IntegrityReport>;
  readonly applyRetention?: EventStore['applyRetention'];

  constructor(readonly inner: EventStore) {
    if (inner.integrityCheck) this.integrityCheck = () => inner.integrityCheck!();
    if (inner.applyRetention) this.applyRetention = (rule, now) => inner.applyRetention!(rule, now);
  }

  append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    return this.inner.append(stream, events, expected);
  }

  async readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return upcastAll(await this.inner.readStream(stream, options));
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return upcastAll(await this.inner.readAll(options));
  }

  headPosition(): Promise<number> {
    return this.inner.headPosition();
  }

  subscribe(options: SubscribeOptions, handlers: SubscriptionHandlers): Subscription {
    return this.inner.subscribe(options, { ...handlers, onEvents: (events) => handlers.onEvents(upcastAll(events)) });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
