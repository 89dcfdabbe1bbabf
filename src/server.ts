import 'reflect-metadata';
import type { Server as HttpServer } from 'node:http';
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
import { lockDataDir } from './core/persistence/data-dir-lock';
import { secureDataDir } from './core/persistence/private-files';
import { BUILT_IN_PLUGINS } from './plugins/built-in-plugins';
import type { PluginFactory } from './core/plugin-api/plugin';

/** How long an idle HTTP keep-alive connection is kept (see listen()). */
export const HTTP_KEEP_ALIVE_MS = 65_000;
import type { PluginHostOptions } from './core/plugin-host/plugin-registry';

export interface BrambleApp {
  readonly nest: NestExpressApplication;
  /** Listens on the configured host and port; returns the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Builds bramble: secures and locks the data directory, opens the event store, wires the Nest
 * application, catches up, starts plugins. A failure on the way closes what was opened and releases
 * the lock before it is rethrown.
 */
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
  secureDataDir(config.dataDir, logger.child('data-dir'));
  const lock = lockDataDir(config.dataDir, logger.child('data-dir'));
  let nest: NestExpressApplication | undefined;
  try {
    const opened = await openEventStore(config, logger);
    const store = options.wrapStore ? options.wrapStore(opened) : opened;
    try {
      nest = await NestFactory.create<NestExpressApplication>(
        AppModule.forRoot({
          config,
          logger,
          store,
          builtInPlugins: options.builtInPlugins ?? BUILT_IN_PLUGINS,
          pluginHost: options.pluginHost,
        }),
        { logger: new NestLoggerAdapter(logger.child('nest')), abortOnError: false, bodyParser: false },
      );
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    // No body parser: the only endpoint that takes a body, /graphql, reads its own (16 MB with a
    // token, for class lists; 64 KB without; see src/graphql/request-gate.ts).
    nest.enableShutdownHooks();
    nest.disable('x-powered-by');
    await nest.init();
    await nest.get(BootstrapService).start();
  } catch (error) {
    // Closing runs the shut-down hooks: plugins stop, the read models (which write no snapshot
    // when they never started), then the event store.
    await nest?.close().catch((closeError: unknown) => logger.warn('could not close after a failed start', { error: closeError }));
    lock.release();
    throw error;
  }
  const app = nest;
  return {
    nest: app,
    async listen(): Promise<string> {
      const server = app.getHttpServer() as HttpServer;
      // An idle keep-alive connection is closed after this long. Node's default, 5 s, races with
      // clients that reuse a connection they think is still open: a client whose event loop was
      // busy for a second sends on a socket the server has just closed and gets EPIPE or "other
      // side closed" (found by the GraphQL fuzz test, seed 407159420). Clients close their own
      // idle connections sooner (undici after 4 s; browsers after 60 s or more), so the race
      // needs a client stalled for about a minute. headersTimeout must stay above it.
      server.keepAliveTimeout = HTTP_KEEP_ALIVE_MS;
      server.headersTimeout = HTTP_KEEP_ALIVE_MS + 1000;
      await app.listen(config.httpPort, config.httpHost);
      const address = app.getHttpServer().address();
      const port = typeof address === 'object' && address ? address.port : config.httpPort;
      const url = `http://${config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost}:${port}`;
      logger.info('bramble is serving', { url, graphql: `${url}/graphql`, graphiql: `${url}/graphiql` });
      return url;
    },
    async close(): Promise<void> {
      try {
        await app.close();
      } finally {
        lock.release();
      }
    },
  };
}
