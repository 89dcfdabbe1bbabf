import * as path from 'node:path';
import { Module, type DynamicModule } from '@nestjs/common';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { AuditLog } from './audit/audit-log';
import { AuthService } from './auth/auth.service';
import { BootstrapService } from './bootstrap.service';
import { CLIENT_HANDLERS } from './commands/client.handlers';
import { CommandRunner } from './commands/command-runner';
import { IMAGE_HANDLERS } from './commands/image.handlers';
import { SYSTEM_HANDLERS } from './commands/system.handlers';
import { USER_HANDLERS } from './commands/user.handlers';
import { BRAMBLE_CONFIG, type BrambleConfig } from './config/config';
import { CORE_EVENT_TYPES } from './events/known-event-types';
import { CostlyWork } from './limits/concurrency-limiter';
import { EVENT_STORE, type EventStore } from './event-store/event-store.port';
import { InstrumentedEventStore } from './event-store/instrumented.event-store';
import { APP_LOGGER } from './logging/logging.tokens';
import type { Logger } from './logging/logger';
import { Metrics } from './observability/metrics';
import { HealthService } from './observability/health.service';
import type { PluginFactory } from './plugin-api/plugin';
import { PluginRegistry } from './plugin-api/plugin-registry';
import { ProjectionEngine } from './projections/projection-engine';
import { ReadModelQueries } from './projections/read-model-queries';

export const COMMAND_HANDLERS = [...CLIENT_HANDLERS, ...USER_HANDLERS, ...IMAGE_HANDLERS, ...SYSTEM_HANDLERS];

export interface CoreModuleOptions {
  config: BrambleConfig;
  logger: Logger;
  /** An opened event store (the adapter is chosen by openEventStore before Nest starts). */
  store: EventStore;
  builtInPlugins: readonly PluginFactory[];
  metrics?: Metrics;
}

/** The event-sourced core: store, command handlers, read models, audit log, auth, plugins. */
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions): DynamicModule {
    const metrics = options.metrics ?? new Metrics();
    const store = new InstrumentedEventStore(options.store, metrics);
    return {
      module: CoreModule,
      global: true,
      imports: [CqrsModule.forRoot()],
      providers: [
        { provide: BRAMBLE_CONFIG, useValue: options.config },
        { provide: APP_LOGGER, useValue: options.logger },
        { provide: Metrics, useValue: metrics },
        { provide: EVENT_STORE, useValue: store },
        { provide: CommandRunner, useFactory: () => new CommandRunner(store, options.logger.child('commands')) },
        {
          provide: ProjectionEngine,
          useFactory: () =>
            new ProjectionEngine(store, options.logger.child('projections'), metrics, CORE_EVENT_TYPES, {
              snapshotFile: path.join(options.config.dataDir, 'read-models.snapshot.json'),
            }),
        },
        { provide: AuditLog, useFactory: () => new AuditLog(store) },
        ReadModelQueries,
        {
          provide: PluginRegistry,
          useFactory: (...args: ConstructorParameters<typeof PluginRegistry>) => {
            const registry = new PluginRegistry(...args);
            registry.load(options.builtInPlugins, options.config.plugins);
            return registry;
          },
          inject: [
            CommandBus, ReadModelQueries, ProjectionEngine, Metrics, EVENT_STORE, BRAMBLE_CONFIG, APP_LOGGER,
          ],
        },
        AuthService,
        HealthService,
        BootstrapService,
        CostlyWork,
        ...COMMAND_HANDLERS,
      ],
      exports: [
        BRAMBLE_CONFIG, APP_LOGGER, Metrics, EVENT_STORE, CommandRunner, ProjectionEngine, AuditLog,
        ReadModelQueries, PluginRegistry, AuthService, HealthService, CostlyWork, CqrsModule,
      ],
    };
  }
}
