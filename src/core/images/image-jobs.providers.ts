/**
 * The image jobs and the adapters behind their ports, as Nest providers. The adapters are plain
 * classes (src/core/adapters/images); the jobs see them only through the ports.
 */
import type { Provider } from '@nestjs/common';
import { FsImageVersionStore } from '../adapters/images/version-store';
import { FsImageImporter } from '../adapters/images/image-importer';
import { FsImageConverter } from '../adapters/images/converter';
import { OverlayImageCommandRunner } from '../adapters/images/command-runner';
import { CommandBus } from '../commands/command-bus';
import type { BrambleCommand } from '../commands/command';
import {
  IMAGE_COMMAND_RUNNER,
  IMAGE_CONVERTER,
  IMAGE_IMPORTER,
  IMAGE_VERSION_STORE,
  type ImageCommandRunner,
  type ImageConverter,
  type ImageImporter,
  type ImageVersionStore,
} from '../commands/image-ports';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { PluginRegistry } from '../plugin-host/plugin-registry';
import { ProjectionEngine } from '../projections/projection-engine';
import { ReadModelQueries } from '../projections/read-model-queries';
import { ImageJobs } from './image-jobs';

export const IMAGE_PROVIDERS: Provider[] = [
  {
    provide: IMAGE_VERSION_STORE,
    useFactory: (config: BrambleConfig) => new FsImageVersionStore(config.imagesDir),
    inject: [BRAMBLE_CONFIG],
  },
  { provide: IMAGE_IMPORTER, useValue: new FsImageImporter() },
  { provide: IMAGE_CONVERTER, useValue: new FsImageConverter() },
  {
    provide: IMAGE_COMMAND_RUNNER,
    useFactory: (store: ImageVersionStore) => new OverlayImageCommandRunner(store),
    inject: [IMAGE_VERSION_STORE],
  },
  {
    provide: ImageJobs,
    useFactory: (
      config: BrambleConfig,
      store: EventStore,
      bus: CommandBus,
      engine: ProjectionEngine,
      queries: ReadModelQueries,
      plugins: PluginRegistry,
      importer: ImageImporter,
      versions: ImageVersionStore,
      converter: ImageConverter,
      runner: ImageCommandRunner,
      logger: Logger,
    ) =>
      new ImageJobs({
        imagesDir: config.imagesDir,
        store,
        // A job's result is visible in the read models when the job ends.
        commands: {
          execute: async <R>(command: BrambleCommand<unknown, R>): Promise<R> => {
            const outcome = await bus.execute(command);
            const position = (outcome as { position?: number | null } | null)?.position;
            if (typeof position === 'number') await engine.waitFor(position);
            return outcome;
          },
        },
        image: (id) => queries.image(id),
        serverAddress: () => plugins.serverAddress(),
        bootReportPort: () => queries.bootSettings().bootReportPort,
        conversionContributions: () => plugins.conversionContributions(),
        importer,
        versions,
        converter,
        runner,
        logger: logger.child('images'),
      }),
    inject: [
      BRAMBLE_CONFIG,
      EVENT_STORE,
      CommandBus,
      ProjectionEngine,
      ReadModelQueries,
      PluginRegistry,
      IMAGE_IMPORTER,
      IMAGE_VERSION_STORE,
      IMAGE_CONVERTER,
      IMAGE_COMMAND_RUNNER,
      APP_LOGGER,
    ],
  },
];
