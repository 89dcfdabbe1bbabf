import type { EventStore } from '../event-store/event-store.port';

/**
 * The id of the store's first event, written into every checkpoint file (the read models' snapshot,
 * plugin snapshots, process-manager checkpoints) so that one taken of another store is never
 * trusted. One per process: read once, and read again while the store is still empty, so a
 * checkpoint written after the first event carries that event's id (not null) whoever writes it.
 */
export class StoreFingerprint {
  private value: string | null = null;

  constructor(private readonly store: EventStore) {}

  async get(): Promise<string | null> {
    if (this.value === null) this.value = (await this.store.readAll({ limit: 1 }))[0]?.id ?? null;
    return this.value;
  }
}
