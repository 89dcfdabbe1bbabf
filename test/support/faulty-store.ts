/**
 * An event store that fails on purpose, for crash and full-disk tests: wraps a real store and,
 * for appends to streams matching `streams`, either kills the process (as a power cut or OOM kill
 * would, after every earlier append was acknowledged) or refuses them as a full disk does.
 */
import {
  EventStoreUnavailableError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
} from '../../src/core/event-store/event-store.port';

export interface Faults {
  /** Appends to streams matching this are affected. */
  streams: RegExp;
  /** `kill`: SIGKILL this process at the first such append; `full`: refuse them while `full` is true. */
  mode: 'kill' | 'full';
  full?: boolean;
  /** `full` mode: appends let through before the disk is full (then `full` turns true by itself). */
  allowed?: number;
  /** Appends refused so far. */
  refused?: number;
}

export function faultyStore(inner: EventStore, faults: Faults): EventStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'append') {
        return async (stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> => {
          if (faults.streams.test(stream)) {
            if (faults.mode === 'kill') process.kill(process.pid, 'SIGKILL');
            if (faults.allowed !== undefined && !faults.full) {
              if (faults.allowed <= 0) faults.full = true;
              else faults.allowed--;
            }
            if (faults.full) {
              faults.refused = (faults.refused ?? 0) + 1;
              throw new EventStoreUnavailableError('SQLITE_FULL: database or disk is full');
            }
          }
          return target.append(stream, events, expected);
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
