import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { CommandBus } from './commands/command-bus';
import { AuthService } from './auth/auth.service';
import { BootSessions } from './boot/boot-sessions';
import { BootReportServer } from './boot/boot-report.server';
import { BootRetention } from './boot/boot-retention';
import { CreateGroupCommand } from './commands/user.commands';
import { MembershipProcessManager } from './process-managers/membership.process-manager';
import { commandMeta } from './commands/meta';
import { DEFAULT_GROUPS } from './domain/group/group.events';
import { DomainError, ErrorCode } from './domain/shared/domain-error';
import { EVENT_STORE, EventStoreCorruptError, type EventStore } from './event-store/event-store.port';
import { ImageJobs } from './images/image-jobs';
import { InstrumentedEventStore } from './event-store/instrumented.event-store';
import { APP_LOGGER } from './logging/logging.tokens';
import type { Logger } from './logging/logger';
import { PluginRegistry } from './plugin-host/plugin-registry';
import { ProjectionEngine } from './projections/projection-engine';
import { ReadModelQueries } from './projections/read-model-queries';

/**
 * How long the start waits for the event store's integrity check (sqlite: quick_check, 0.7–1 s
 * per million events with the file in the page cache, 5–8 s from a cold disk). A failure
 * within it refuses the start; a check still running after it goes on in the background (appends
 * wait for it; a late failure marks the store down in /health and refuses appends).
 */
export const INTEGRITY_WAIT_MS = 3000;

/**
 * Start-up and shut-down order: read models catch up (from their snapshot; refused when it is
 * ahead of the store) while the event store's integrity check finishes, the process managers
 * catch up (from their checkpoints), first-start defaults (groups, admin token), the live boot
 * sessions (from their snapshot), then plugins. Shut-down in reverse, the event store last.
 * `start` is called by createApp after Nest's init, once the CommandBus has its handlers.
 */
@Injectable()
export class BootstrapService implements BeforeApplicationShutdown {
  private readonly logger: Logger;
  private startedAt = 0;

  constructor(
    private readonly engine: ProjectionEngine,
    private readonly queries: ReadModelQueries,
    private readonly auth: AuthService,
    private readonly plugins: PluginRegistry,
    private readonly commandBus: CommandBus,
    private readonly membership: MembershipProcessManager,
    private readonly imageJobs: ImageJobs,
    private readonly bootSessions: BootSessions,
    private readonly bootReports: BootReportServer,
    private readonly bootRetention: BootRetention,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('core');
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    // The integrity check (started when the store opened) runs beside the catch-up; nothing is
    // appended before it has passed. If both fail, the check's verdict is the clearer one.
    const integrity = this.checkIntegrity();
    integrity.catch(() => undefined);
    try {
      await this.engine.start();
    } catch (error) {
      await integrity;
      throw error;
    }
    await integrity;
    this.afterIntegrityWait();
    await this.membership.start();
    await this.ensureDefaultGroups();
    await this.auth.ensureAdminToken();
    // Before the plugins: they report boot facts as soon as they serve (and the retention rule
    // must be known to the store before the first boot append).
    this.bootRetention.start();
    await this.bootSessions.start();
    await this.plugins.startAll();
    await this.bootReports.start();
    await this.imageJobs.recover();
    this.logger.info('core ready', { ms: Date.now() - this.startedAt, position: this.engine.checkpoint ?? 0 });
  }

  /** Throws EventStoreCorruptError when the check fails within INTEGRITY_WAIT_MS. */
  private async checkIntegrity(): Promise<void> {
    if (this.store instanceof InstrumentedEventStore) await this.store.awaitIntegrity(INTEGRITY_WAIT_MS);
  }

  /** The check may have finished after the wait, while the read models were catching up. */
  private afterIntegrityWait(): void {
    if (!(this.store instanceof InstrumentedEventStore)) return;
    const status = this.store.integrityStatus();
    if (status === 'running') {
      this.logger.warn('the event store integrity check is still running: serving meanwhile; appends wait for it', {
        waitedMs: INTEGRITY_WAIT_MS,
      });
    } else if (status !== 'none' && status.status === 'failed') {
      throw new EventStoreCorruptError(status.detail, 'the event store');
    }
  }

  private async ensureDefaultGroups(): Promise<void> {
    for (const name of DEFAULT_GROUPS) {
      if (this.queries.group(name)) continue;
      try {
        const outcome = await this.commandBus.execute(new CreateGroupCommand({ name }, commandMeta('system')));
        await this.engine.waitFor(outcome.position);
      } catch (error) {
        if (!(error instanceof DomainError && error.code === ErrorCode.GROUP_EXISTS)) throw error;
      }
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Running image jobs are cancelled first: they clean up while the store is still open.
    await this.imageJobs.stop();
    await this.bootReports.stop();
    await this.plugins.stopAll();
    await this.bootSessions.stop();
    await this.bootRetention.stop();
    await this.membership.stop();
    await this.engine.stop();
    await this.store.close();
    this.logger.info('stopped');
  }
}
