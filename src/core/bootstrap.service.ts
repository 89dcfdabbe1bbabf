import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { CommandBus } from './commands/command-bus';
import { AuthService } from './auth/auth.service';
import { CreateGroupCommand } from './commands/user.commands';
import { MembershipProcessManager } from './process-managers/membership.process-manager';
import { commandMeta } from './commands/meta';
import { DEFAULT_GROUPS } from './domain/group/group.events';
import { DomainError, ErrorCode } from './domain/shared/domain-error';
import { EVENT_STORE, type EventStore } from './event-store/event-store.port';
import { APP_LOGGER } from './logging/logging.tokens';
import type { Logger } from './logging/logger';
import { PluginRegistry } from './plugin-host/plugin-registry';
import { ProjectionEngine } from './projections/projection-engine';
import { ReadModelQueries } from './projections/read-model-queries';

/**
 * Start-up and shut-down order: read models catch up (from their snapshot), the process managers
 * catch up (from their checkpoints), first-start defaults (groups, admin token), then plugins.
 * Shut-down in reverse, the event store last.
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
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('core');
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    await this.engine.start();
    await this.membership.start();
    await this.ensureDefaultGroups();
    await this.auth.ensureAdminToken();
    await this.plugins.startAll();
    this.logger.info('core ready', { ms: Date.now() - this.startedAt, position: this.engine.checkpoint ?? 0 });
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
    await this.plugins.stopAll();
    await this.membership.stop();
    await this.engine.stop();
    await this.store.close();
    this.logger.info('stopped');
  }
}
