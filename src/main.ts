#!/usr/bin/env node
import 'reflect-metadata';
import { createApp } from './server';
import { ConfigError, loadConfig } from './core/config/config';
import { JsonLogger } from './core/logging/logger';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`bramble: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = new JsonLogger(config.logLevel);
  const app = await createApp(config, logger);
  await app.listen();
  const stop = async (signal: string): Promise<void> => {
    logger.info('shutting down', { signal });
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * Refusals that protect the data: their message says what is wrong and what to do, so it is
 * printed without a stack trace (exit code 1, like any failed start).
 */
const REFUSALS = new Set(['EVENTS_MISSING', 'DATA_DIR_LOCKED', 'EVENT_STORE_CORRUPT', 'EVENT_STORE_UNAVAILABLE']);

main().catch((error: unknown) => {
  // A configuration problem found while starting (the data directory...) is the admin's to fix:
  // its message says what and where; a stack trace would only hide it.
  if (error instanceof ConfigError) {
    process.stderr.write(`bramble: ${error.message}\n`);
    process.exit(2);
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string' && REFUSALS.has(code)) {
    process.stderr.write(`bramble: refusing to start: ${error.message}\n`);
  } else {
    process.stderr.write(`bramble: failed to start: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
});
