import { BootSessions, type RecentBootFact } from '../../src/core/boot/boot-sessions';
import { CommandBus } from '../../src/core/commands/command-bus';
import { loadConfig } from '../../src/core/config/config';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import type { Logger } from '../../src/core/logging/logger';
import { silentLogger } from '../../src/core/logging/logger';
import type { PluginFactory } from '../../src/core/plugin-api/plugin';
import { ProjectionEngine } from '../../src/core/projections/projection-engine';
import { ReadModelQueries } from '../../src/core/projections/read-model-queries';
import { createApp, type BrambleApp } from '../../src/server';
import { tempDir } from './temp';

export const TEST_TOKEN = 'test-admin-token-0123456789';

export interface CoreApp {
  app: BrambleApp;
  dataDir: string;
  bus: CommandBus;
  queries: ReadModelQueries;
  engine: ProjectionEngine;
  /**
   * The boot facts the core received for a client since this app started, in order (they are not
   * stored: only stage changes are; see core/boot).
   */
  bootFacts(mac: string): RecentBootFact[];
  /** Sends a command and waits until the read models include its events. */
  exec<R>(command: object): Promise<R>;
  close(): Promise<void>;
}

/** bramble in-process on a fresh data dir (no HTTP listener unless the test calls app.listen()). */
export async function startCoreApp(
  options: {
    env?: Record<string, string>;
    plugins?: readonly PluginFactory[];
    logger?: Logger;
    dataDir?: string;
    wrapStore?: (store: EventStore) => EventStore;
  } = {},
): Promise<CoreApp> {
  const tmp = options.dataDir ? null : tempDir('bramble-app-');
  const dataDir = options.dataDir ?? tmp!.dir;
  const config = loadConfig({ BRAMBLE_DATA_DIR: dataDir, BRAMBLE_HTTP_PORT: '0', BRAMBLE_ADMIN_TOKEN: TEST_TOKEN, ...options.env });
  const app = await createApp(config, options.logger ?? silentLogger, {
    builtInPlugins: options.plugins ?? [],
    wrapStore: options.wrapStore,
  });
  const bus = app.nest.get(CommandBus);
  const engine = app.nest.get(ProjectionEngine);
  const facts: RecentBootFact[] = [];
  app.nest.get(BootSessions).facts$.subscribe((f) => facts.push(f));
  return {
    bootFacts: (mac) => facts.filter((f) => f.mac === mac),
    app,
    dataDir,
    bus,
    queries: app.nest.get(ReadModelQueries),
    engine,
    async exec<R>(command: object): Promise<R> {
      const result = (await bus.execute(command as never)) as R;
      const position = (result as { position?: number | null } | null)?.position;
      if (typeof position === 'number') await engine.waitFor(position);
      else await engine.waitFor(await app.nest.get<EventStore>(EVENT_STORE).headPosition());
      return result;
    },
    async close() {
      await app.close();
      tmp?.cleanup();
    },
  };
}
