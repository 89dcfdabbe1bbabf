import type { BrambleConfig } from '../config/config';
import type { Logger } from '../logging/logger';
import type { EventStore } from './event-store.port';

/** Opens the adapter the configuration names (BRAMBLE_EVENT_STORE). */
export async function openEventStore(config: BrambleConfig, logger: Logger): Promise<EventStore> {
  const log = logger.child('event-store');
  if (config.eventStore.kind === 'sqlite') {
    const { SqliteEventStore } = await import('./sqlite/sqlite.event-store');
    log.info('using the embedded sqlite event store', { file: config.eventStore.file });
    return SqliteEventStore.open({ file: config.eventStore.file, logger: log });
  }
  const { KurrentDbEventStore } = await import('./kurrentdb/kurrentdb.event-store');
  log.info('using KurrentDB');
  return KurrentDbEventStore.connect({ connectionString: config.eventStore.connectionString, logger: log });
}
