import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { json, type RequestHandler } from 'express';
import { AppModule } from './app.module';
import { AuthService } from './core/auth/auth.service';
import { BootstrapService } from './core/bootstrap.service';
import type { BrambleConfig } from './core/config/config';
import { openEventStore } from './core/event-store/open-event-store';
import type { Logger } from './core/logging/logger';
import { NestLoggerAdapter } from './core/logging/nest-logger.adapter';
import { BUILT_IN_PLUGINS } from './plugins/built-in-plugins';
import type { PluginFactory } from './core/plugin-api/plugin';

/** Largest JSON request body with a valid token (a class list travels inside one). */
export const BODY_LIMIT_WITH_TOKEN = 16 * 1024 * 1024;
/** Largest JSON request body without one. */
export const BODY_LIMIT_WITHOUT_TOKEN = 64 * 1024;

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
  // Class lists are imported as CSV inside a GraphQL request: allow far more than Nest's 100 KB to a
  // caller with a valid token. Without one only `health` may be asked for: 64 KB, checked before the
  // body is read, so nobody without a token makes bramble read and parse megabytes.
  const auth = nest.get(AuthService);
  const withToken = json({ limit: BODY_LIMIT_WITH_TOKEN });
  const withoutToken = json({ limit: BODY_LIMIT_WITHOUT_TOKEN });
  const bodyParser: RequestHandler = (req, res, next) =>
    (auth.actorFor(req.headers.authorization) ? withToken : withoutToken)(req, res, next);
  nest.use(bodyParser);
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
