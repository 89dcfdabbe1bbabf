import { Injectable } from '@nestjs/common';
import { Observable, filter, map, share } from 'rxjs';
import { redactEventData } from '../core/audit/redact';
import type { RecordedEvent } from '../core/event-store/event-store.port';
import { ClientEventType, type ClientDetectedData } from '../core/domain/client/client.events';
import { ProjectionEngine } from '../core/projections/projection-engine';
import { ReadModelQueries } from '../core/projections/read-model-queries';
import type { ClientView } from '../core/projections/read-models';

/** An event as the API shows it: secrets redacted (same rule as the audit log). */
export function redactEvent(event: RecordedEvent): RecordedEvent {
  return { ...event, data: redactEventData(event.type, event.data) };
}

/**
 * The live feed as the API serves it: every event once the read models applied it, redacted once
 * for all subscribers (not once per subscriber: with a hundred subscribers that is the difference).
 */
@Injectable()
export class LiveEvents {
  /** Redacted events. */
  readonly redacted$: Observable<RecordedEvent>;
  /** Each new Pi (ClientDetected): the client as the read models have it then (a copy). */
  readonly detectedClients$: Observable<ClientView>;
  private active = 0;

  constructor(engine: ProjectionEngine, queries: ReadModelQueries) {
    // One immutable payload per event, shared by every subscriber (see shared-subscribe.ts).
    this.redacted$ = this.counted(engine.live$.pipe(map(redactEvent), share()));
    this.detectedClients$ = this.counted(
      engine.live$.pipe(
        filter((e) => e.type === ClientEventType.ClientDetected),
        map((e) => {
          const data = e.data as ClientDetectedData;
          const client = queries.client(data.mac);
          return client ? { ...client } : fromDetection(data, e.metadata.timestamp);
        }),
        share(),
      ),
    );
  }

  /** How many subscriptions listen now. */
  get subscribers(): number {
    return this.active;
  }

  private counted<T>(source: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      this.active++;
      const subscription = source.subscribe(subscriber);
      return () => {
        this.active--;
        subscription.unsubscribe();
      };
    });
  }
}

/** The client as its detection event describes it (when the read models no longer have it). */
function fromDetection(data: ClientDetectedData, at: string): ClientView {
  return {
    mac: data.mac,
    status: 'pending',
    name: null,
    imageId: null,
    bootedImage: null,
    serial: data.serial,
    model: data.model,
    ip: data.ip,
    configTxt: '',
    cmdlineArgs: '',
    preRegistered: false,
    detectedAt: at,
    lastSeenAt: at,
    approvedAt: null,
    updatedAt: at,
  };
}

/** Live-feed filter of the `events` subscription. */
export function matchesLiveFilter(
  event: RecordedEvent,
  types: readonly string[] | null | undefined,
  streamPrefix: string | null | undefined,
): boolean {
  if (types && types.length > 0 && !types.includes(event.type)) return false;
  if (streamPrefix && !event.stream.startsWith(streamPrefix)) return false;
  return true;
}

/**
 * An rxjs stream as the AsyncIterator a GraphQL subscription returns. Values are buffered
 * while the client is slower than the stream; past `maxBuffered` the subscription completes
 * (the client sees `complete` and can resubscribe and catch up with the `events` query) rather
 * than letting memory grow. `return()` (client unsubscribed) unsubscribes from the source.
 */
export function toAsyncIterator<T>(source: Observable<T>, maxBuffered = 10_000): AsyncIterableIterator<T> {
  const buffer: T[] = [];
  const pulls: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  let finished = false;
  let failure: unknown = null;

  const finish = (error: unknown = null): void => {
    if (finished) return;
    finished = true;
    failure = error;
    subscription?.unsubscribe();
    while (pulls.length > 0) {
      const p = pulls.shift()!;
      if (error && buffer.length === 0) p.reject(error);
      else p.resolve({ value: undefined, done: true });
    }
  };

  let subscription: { unsubscribe(): void } | null = null;
  subscription = source.subscribe({
    next: (value) => {
      if (finished) return;
      const pull = pulls.shift();
      if (pull) pull.resolve({ value, done: false });
      else if (buffer.length >= maxBuffered) finish();
      else buffer.push(value);
    },
    error: (error: unknown) => finish(error),
    complete: () => finish(),
  });
  if (finished) subscription.unsubscribe();

  const iterator: AsyncIterableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (buffer.length > 0) return Promise.resolve({ value: buffer.shift()!, done: false });
      if (finished) return failure ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => pulls.push({ resolve, reject }));
    },
    return(): Promise<IteratorResult<T>> {
      buffer.length = 0;
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown): Promise<IteratorResult<T>> {
      buffer.length = 0;
      finish();
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
