import * as path from 'node:path';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { AuditLog } from './audit/audit-log';
import { AuthService } from './auth/auth.service';
import { BootstrapService } from './bootstrap.service';
import { BcryptPasswordHasher } from './adapters/bcrypt-password-hasher';
import { FsImageTreeInspector } from './adapters/fs-image-tree';
import { CLIENT_TABLE } from './commands/client.table';
import { BOOT_FACTS, COMMAND_TABLES, CommandBus, MEMBERSHIP_SETTLING, PLUGIN_CATALOG } from './commands/command-bus';
import { BootSessions } from './boot/boot-sessions';
import { BootReportServer } from './boot/boot-report.server';
import { BootRetention } from './boot/boot-retention';
import { CommandRunner } from './commands/command-runner';
import { GROUP_TABLE } from './commands/group.table';
import { IMAGE_TABLE } from './commands/image.table';
import { IMAGE_TREE_INSPECTOR, PASSWORD_HASHER } from './commands/ports';
import { API_TOKEN_TABLE, SYSTEM_TABLE } from './commands/system.table';
import { USER_TABLE } from './commands/user.table';
import { BRAMBLE_CONFIG, type BrambleConfig } from './config/config';
import { CORE_EVENT_TYPES } from './events/known-event-types';
import { CostlyWork } from './limits/concurrency-limiter';
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
import { StoreFingerprint } from './persistence/store-fingerprint';
import { MembershipProcessManager } from './process-managers/membership.process-manager';
import { ProjectionEngine } from './projections/projection-engine';
import { ReadModelQueries } from './projections/read-model-queries';
import { IMAGE_PROVIDERS } from './images/image-jobs.providers';
import { DiagnosisService } from './boot/diagnosis.service';
import { ImageJobs } from './images/image-jobs';

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

/** The process's own facts and instruments: configuration, logger, metrics. */
function runtimeProviders(options: CoreModuleOptions, metrics: Metrics): Provider[] {
  return [
    { provide: BRAMBLE_CONFIG, useValue: options.config },
    { provide: APP_LOGGER, useValue: options.logger },
    { provide: Metrics, useValue: metrics },
  ];
}

/**
 * The event store as the core sees it: every read upcast to the current event shapes
 * (events/upcasters.ts), and every operation counted, timed and watched for /health and /metrics.
 */
function storeProviders(options: CoreModuleOptions, metrics: Metrics): Provider[] {
  return [{ provide: EVENT_STORE, useValue: new InstrumentedEventStore(new UpcastingEventStore(options.store), metrics) }];
}

/** The write side: one command table per aggregate, the runner, the ports' adapters, and the bus. */
const COMMAND_PROVIDERS: Provider[] = [
  {
    provide: CommandRunner,
    useFactory: (store: EventStore, logger: Logger) => new CommandRunner(store, logger.child('commands')),
    inject: [EVENT_STORE, APP_LOGGER],
  },
  { provide: COMMAND_TABLES, useValue: CORE_COMMAND_TABLES },
  { provide: PASSWORD_HASHER, useValue: new BcryptPasswordHasher() },
  { provide: IMAGE_TREE_INSPECTOR, useValue: new FsImageTreeInspector() },
  CommandBus,
];

/** The read side: read models (snapshotted with their checkpoint), their queries, the audit log. */
const READ_PROVIDERS: Provider[] = [
  /** The store's identity, for every checkpoint file (read models, plugins, process managers). */
  { provide: StoreFingerprint, useFactory: (store: EventStore) => new StoreFingerprint(store), inject: [EVENT_STORE] },
  {
    provide: ProjectionEngine,
    useFactory: (store: EventStore, logger: Logger, metrics: Metrics, config: BrambleConfig, fingerprint: StoreFingerprint) =>
      new ProjectionEngine(store, logger.child('projections'), metrics, CORE_EVENT_TYPES, {
        snapshotFile: path.join(config.dataDir, 'read-models.snapshot.json'),
        fingerprint,
        acceptEventLossAt: config.acceptEventLossAt,
        densePositions: config.eventStore.kind === 'sqlite',
      }),
    inject: [EVENT_STORE, APP_LOGGER, Metrics, BRAMBLE_CONFIG, StoreFingerprint],
  },
  ReadModelQueries,
  { provide: AuditLog, useFactory: (store: EventStore) => new AuditLog(store), inject: [EVENT_STORE] },
];

/** Cross-stream flows with their own checkpoints. */
const PROCESS_MANAGER_PROVIDERS: Provider[] = [
  MembershipProcessManager,
  { provide: MEMBERSHIP_SETTLING, useExisting: MembershipProcessManager },
  /** Live boot sessions: every boot fact goes here; stage changes are appended (core/boot). */
  BootSessions,
  { provide: BOOT_FACTS, useExisting: BootSessions },
  /** The "I'm up" report listener (POST /booted from approved clients' addresses). */
  BootReportServer,
  /** Boot streams' retention (bootRetentionDays): applied by the event store. */
  BootRetention,
];

/** The plugin host: the built-in list, then BRAMBLE_PLUGINS. */
function pluginHostProviders(options: CoreModuleOptions): Provider[] {
  return [
    {
      provide: PluginRegistry,
      useFactory: (...args: ConstructorParameters<typeof PluginRegistry>) => {
        const registry = new PluginRegistry(...args);
        registry.configure(options.pluginHost ?? {});
        registry.load(options.builtInPlugins, options.config.plugins);
        return registry;
      },
      inject: [CommandBus, ReadModelQueries, ProjectionEngine, Metrics, EVENT_STORE, StoreFingerprint, BRAMBLE_CONFIG, APP_LOGGER],
    },
    { provide: PLUGIN_CATALOG, useExisting: PluginRegistry },
  ];
}

/** Operations: API tokens, /health, the order of start and stop, and the limits on costly work. */
const OPERATIONS_PROVIDERS: Provider[] = [AuthService, HealthService, BootstrapService, CostlyWork, DiagnosisService];

/** The event-sourced core: store, commands, read models, process managers, plugins, operations. */
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions): DynamicModule {
    const metrics = options.metrics ?? new Metrics();
    return {
      module: CoreModule,
      global: true,
      providers: [
        ...runtimeProviders(options, metrics),
        ...storeProviders(options, metrics),
        ...COMMAND_PROVIDERS,
        ...READ_PROVIDERS,
        ...PROCESS_MANAGER_PROVIDERS,
        ...pluginHostProviders(options),
        ...IMAGE_PROVIDERS,
        ...OPERATIONS_PROVIDERS,
      ],
      exports: [
        BRAMBLE_CONFIG,
        APP_LOGGER,
        Metrics,
        EVENT_STORE,
        CommandRunner,
        ProjectionEngine,
        AuditLog,
        ReadModelQueries,
        PluginRegistry,
        AuthService,
        HealthService,
        CommandBus,
        MembershipProcessManager,
        BootSessions,
        BootReportServer,
        BootRetention,
        CostlyWork,
        ImageJobs,
        DiagnosisService,
      ],
    };
  }
}
