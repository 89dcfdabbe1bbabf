import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { BootstrapService } from './core/bootstrap.service';
import type { BrambleConfig } from './core/config/config';
import { openEventStore } from './core/event-store/open-event-store';
import type { Logger } from './core/logging/logger';
import { NestLoggerAdapter } from './core/logging/nest-logger.adapter';
import { BUILT_IN_PLUGINS } from './plugins/built-in-plugins';
import type { PluginFactory } from './core/plugin-api/plugin';

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
  options: { builtInPlugins?: readonly PluginFactory[] } = {},
): Promise<BrambleApp> {
  const store = await openEventStore(config, logger);
  const nest = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({ config, logger, store, builtInPlugins: options.builtInPlugins ?? BUILT_IN_PLUGINS }),
    { logger: new NestLoggerAdapter(logger.child('nest')), abortOnError: false, bodyParser: false },
  );
  // No body parser: the only endpoint that takes a body, /graphql, reads its own (16 MB with a
  // token, for class lists; 64 KB without; see src/graphql/request-gate.ts).
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
