import * as path from 'node:path';
import { Module, type DynamicModule } from '@nestjs/common';
import { AuditLog } from './audit/audit-log';
import { AuthService } from './auth/auth.service';
import { BootstrapService } from './bootstrap.service';
import { BcryptPasswordHasher } from './adapters/bcrypt-password-hasher';
import { FsImageTreeInspector } from './adapters/fs-image-tree';
import { CLIENT_TABLE } from './commands/client.table';
import { COMMAND_TABLES, CommandBus, MEMBERSHIP_SETTLING, PLUGIN_CATALOG } from './commands/command-bus';
import { CommandRunner } from './commands/command-runner';
import { GROUP_TABLE } from './commands/group.table';
import { IMAGE_TABLE } from './commands/image.table';
import { IMAGE_TREE_INSPECTOR, PASSWORD_HASHER } from './commands/ports';
import { API_TOKEN_TABLE, SYSTEM_TABLE } from './commands/system.table';
import { USER_TABLE } from './commands/user.table';
import { BRAMBLE_CONFIG, type BrambleConfig } from './config/config';
import { CORE_EVENT_TYPES } from './events/known-event-types';
import { EVENT_STORE, type EventStore } from './event-store/event-store.port';
import { InstrumentedEventStore } from './event-store/instrumented.event-store';
import { UpcastingEventStore } from './event-store/upcasting.event-store';
import { APP_LOGGER } from './logging/logging.tokens';
import type { Logger } from './logging/logger';
import { Metrics } from './observability/metrics';
import { HealthService } from './observability/health.service';
import type { PluginFactory } from './plugin-api/plugin';
import type { PluginHostOptions } from './plugin-host/plugin-registry';
import { PluginRegistry } from './plugin-host/plugin-registry';
import { MembershipProcessManager } from './process-managers/membership.process-manager';
import { ProjectionEngine } from './projections/projection-engine';
import { ReadModelQueries } from './projections/read-model-queries';

/** One command table per aggregate (commands/*.table.ts). */
export const CORE_COMMAND_TABLES = [CLIENT_TABLE, USER_TABLE, GROUP_TABLE, IMAGE_TABLE, SYSTEM_TABLE, API_TOKEN_TABLE];

export interface CoreModuleOptions {
  config: BrambleConfig;
  logger: Logger;
  /** An opened event store (the adapter is chosen by openEventStore before Nest starts). */
  store: EventStore;
  builtInPlugins: readonly PluginFactory[];
  pluginHost?: PluginHostOptions;
  metrics?: Metrics;
}

/** The event-sourced core: store, command handlers, read models, audit log, auth, plugins. */
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions): DynamicModule {
    const metrics = options.metrics ?? new Metrics();
    // Every read comes out in the current event shapes (events/upcasters.ts); the instrumented
    // store on top counts, times and watches every operation for /health and /metrics.
    const store = new InstrumentedEventStore(new UpcastingEventStore(options.store), metrics);
    return {
      module: CoreModule,
      global: true,
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
              acceptEventLossAt: options.config.acceptEventLossAt,
              densePositions: options.config.eventStore.kind === 'sqlite',
            }),
        },
        { provide: AuditLog, useFactory: () => new AuditLog(store) },
        ReadModelQueries,
        {
          provide: PluginRegistry,
          useFactory: (...args: ConstructorParameters<typeof PluginRegistry>) => {
            const registry = new PluginRegistry(...args);
            registry.configure(options.pluginHost ?? {});
            registry.load(options.builtInPlugins, options.config.plugins);
            return registry;
          },
          inject: [
            CommandBus, ReadModelQueries, ProjectionEngine, Metrics, EVENT_STORE, BRAMBLE_CONFIG, APP_LOGGER,
          ],
        },
        { provide: COMMAND_TABLES, useValue: CORE_COMMAND_TABLES },
        { provide: PASSWORD_HASHER, useValue: new BcryptPasswordHasher() },
        { provide: IMAGE_TREE_INSPECTOR, useValue: new FsImageTreeInspector() },
        CommandBus,
        MembershipProcessManager,
        { provide: PLUGIN_CATALOG, useExisting: PluginRegistry },
        { provide: MEMBERSHIP_SETTLING, useExisting: MembershipProcessManager },
        AuthService,
        HealthService,
        BootstrapService,
      ],
      exports: [
        BRAMBLE_CONFIG, APP_LOGGER, Metrics, EVENT_STORE, CommandRunner, ProjectionEngine, AuditLog,
        ReadModelQueries, PluginRegistry, AuthService, HealthService, CommandBus, MembershipProcessManager,
      ],
    };
  }
}
