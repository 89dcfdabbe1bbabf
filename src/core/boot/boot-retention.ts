/**
 * Boot streams' retention (setting `bootRetentionDays`, default 30): years of boots must not grow
 * the store without bound, and nothing but boot streams is ever deleted. The event store does the
 * work (port: `applyRetention`): sqlite deletes the expired `boot-*` events in its writer thread, in
 * batches between appends; KurrentDB sets `$maxAge` on each boot stream it appends to and the
 * server's scavenge deletes. This service applies the rule at start, once a day, and when the
 * setting changes. The start does not wait for a scavenge (it logs what it deleted).
 */
import { Inject, Injectable } from '@nestjs/common';
import { filter, type Subscription } from 'rxjs';
import { BOOT_STREAM_PREFIX } from '../domain/boot/boot.events';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { ProjectionEngine } from '../projections/projection-engine';
import { ReadModelQueries } from '../projections/read-model-queries';

export const RETENTION_INTERVAL_MS = 24 * 3600 * 1000;

@Injectable()
export class BootRetention {
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | null = null;
  private watch: Subscription | null = null;
  private days: number | null = null;
  private running: Promise<number> = Promise.resolve(0);

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly queries: ReadModelQueries,
    private readonly engine: ProjectionEngine,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('boot-retention');
  }

  start(): void {
    void this.apply();
    this.timer = setInterval(() => void this.apply(), RETENTION_INTERVAL_MS);
    this.timer.unref();
    this.watch = this.engine.live$.pipe(filter((e) => e.type === 'SettingsUpdated')).subscribe(() => {
      if (this.queries.bootSettings().bootRetentionDays !== this.days) void this.apply();
    });
  }

  /** Waits for a scavenge in course (at stop: the store closes after). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watch?.unsubscribe();
    this.watch = null;
    await this.running.catch(() => 0);
  }

  /** Applies the rule now (one at a time); resolves with the number of events deleted. */
  apply(now: Date = new Date()): Promise<number> {
    this.running = this.running
      .catch(() => 0)
      .then(async () => {
        if (!this.store.applyRetention) return 0;
        const days = this.queries.bootSettings().bootRetentionDays;
        this.days = days;
        const started = Date.now();
        try {
          const { deleted } = await this.store.applyRetention({ streamPrefix: BOOT_STREAM_PREFIX, maxAgeSeconds: days * 86_400 }, now);
          if (deleted > 0) this.logger.info('expired boot events deleted', { deleted, days, ms: Date.now() - started });
          return deleted;
        } catch (error) {
          this.logger.error('could not apply the boot retention', { error: (error as Error).message });
          return 0;
        }
      });
    return this.running;
  }
}
