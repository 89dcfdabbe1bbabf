import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { BootstrapService } from './core/bootstrap.service';
import type { BrambleConfig } from './core/config/config';
import { prepareDataDir } from './core/config/data-dir';
import type { EventStore } from './core/event-store/event-store.port';
import { openEventStore } from './core/event-store/open-event-store';
import type { Logger } from './core/logging/logger';
import { NestLoggerAdapter } from './core/logging/nest-logger.adapter';
import { BUILT_IN_PLUGINS } from './plugins/built-in-plugins';
import type { PluginFactory } from './core/plugin-api/plugin';
import type { PluginHostOptions } from './core/plugin-host/plugin-registry';

export interface BrambleApp {
  readonly nest: NestExpressApplication;
  /** Listens on the configured host and port; returns the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** Builds bramble: opens the event store, wires the Nest application, catches up, starts plugins. */
export async function createApp(
  config: BrambleConfig,
  logger: Logger,
  options: {
    builtInPlugins?: readonly PluginFactory[];
    pluginHost?: PluginHostOptions;
    /** Wraps the opened store (metrics, fault injection in crash tests). */
    wrapStore?: (store: EventStore) => EventStore;
  } = {},
): Promise<BrambleApp> {
  prepareDataDir(config.dataDir);
  const opened = await openEventStore(config, logger);
  const store = options.wrapStore ? options.wrapStore(opened) : opened;
  const nest = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({ config, logger, store, builtInPlugins: options.builtInPlugins ?? BUILT_IN_PLUGINS, pluginHost: options.pluginHost }),
    { logger: new NestLoggerAdapter(logger.child('nest')), abortOnError: false, bodyParser: false },
  );
  // Class lists are imported as CSV inside a GraphQL request: allow far more than Nest's 100 KB.
  nest.useBodyParser('json', { limit: '16mb' });
  nest.enableShutdownHooks();
  nest.disable('x-powered-by');
  await nest.init();
  await nest.get(BootstrapService).start();
  return {
    nest,
    async listen(): Promise<string> {
      await nest.listen(config.httpPort, config.httpHost);
      const address = nest.getHttpServer().address();
      const port = typeof address === 'object' && address ? address.port : config.httpPort;
      const url = `http://${config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost}:${port}`;
      logger.info('bramble is serving', { url, graphql: `${url}/graphql`, graphiql: `${url}/graphiql` });
      return url;
    },
    close: () => nest.close(),
  };
}
