/**
 * Example third-party plugin: POSTs every `ClientDetected` event (a new Pi tried to boot) to a URL
 * as JSON, so a teacher's chat channel or a ticket system hears about it.
 *
 * Load it with BRAMBLE_PLUGINS=<path to this compiled file> and set the URL with the environment
 * variable WEBHOOK_NOTIFIER_URL or the setting `plugins.webhook-notifier.url` (updateSettings).
 *
 * Delivery is at least once: the position of the last delivered event is kept in
 * `<data>/plugins/webhook-notifier.json`, so events that arrive while bramble is down, or while
 * the receiver is unreachable, are sent after restart; older ones are never sent twice.
 *
 * It imports nothing from bramble at run time: only types from the plugin API.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type {
  BramblePlugin,
  PluginContext,
  PluginFactoryOptions,
  PluginHealth,
  RecordedEvent,
} from '../../src/core/plugin-api/plugin';

const NAME = 'webhook-notifier';
const MAX_ATTEMPTS = 5;

interface Checkpoint {
  position: number;
}

export function validateWebhookUrl(value: unknown): string | null {
  if (typeof value !== 'string') return 'url: must be a string';
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'url: must be http or https';
  } catch {
    return 'url: not a URL';
  }
  return null;
}

export function createPlugin(options: PluginFactoryOptions): BramblePlugin {
  let ctx: PluginContext | null = null;
  let checkpointFile = '';
  let delivered = 0;
  const queue: RecordedEvent[] = [];
  let draining: Promise<void> | null = null;
  let lastError: string | null = null;
  let sent: { inc(n?: number): void } | null = null;
  let failed: { inc(n?: number): void } | null = null;

  const url = (): string | null => {
    const fromSettings = ctx?.settings().plugins[NAME]?.url;
    return typeof fromSettings === 'string' ? fromSettings : (options.env.WEBHOOK_NOTIFIER_URL ?? null);
  };

  async function post(event: RecordedEvent): Promise<void> {
    const target = url();
    if (!target) throw new Error('no URL configured (WEBHOOK_NOTIFIER_URL or plugins.webhook-notifier.url)');
    const body = JSON.stringify({ type: event.type, position: event.position, at: event.metadata.timestamp, client: event.data });
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'bramble-webhook-notifier' },
      body,
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`receiver answered HTTP ${res.status}`);
  }

  async function drain(): Promise<void> {
    while (queue.length > 0 && ctx) {
      const event = queue[0];
      let attempt = 0;
      for (;;) {
        try {
          await post(event);
          lastError = null;
          sent?.inc();
          break;
        } catch (error) {
          attempt++;
          lastError = (error as Error).message;
          failed?.inc();
          if (attempt >= MAX_ATTEMPTS) {
            ctx.logger.warn('webhook delivery failed; will retry after restart', { position: event.position, error: lastError });
            return;
          }
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        }
      }
      queue.shift();
      delivered = event.position;
      await fsp.writeFile(checkpointFile, JSON.stringify({ position: delivered } satisfies Checkpoint));
    }
  }

  function kick(): void {
    if (!draining) draining = drain().finally(() => (draining = null));
  }

  return {
    name: NAME,
    consumes: ['ClientDetected'],
    project(event: RecordedEvent): void {
      // Before start, the checkpoint is not read yet: queue everything, filter in start().
      queue.push(event);
      if (ctx) kick();
    },
    async start(context: PluginContext): Promise<void> {
      ctx = context;
      const dir = path.join(context.runtime.dataDir, 'plugins');
      await fsp.mkdir(dir, { recursive: true });
      checkpointFile = path.join(dir, `${NAME}.json`);
      try {
        delivered = (JSON.parse(await fsp.readFile(checkpointFile, 'utf8')) as Checkpoint).position;
      } catch {
        // First start: only events from now on are news; do not flood the receiver with history.
        delivered = queue.length ? queue[queue.length - 1].position : 0;
        await fsp.writeFile(checkpointFile, JSON.stringify({ position: delivered } satisfies Checkpoint));
      }
      queue.splice(0, queue.length, ...queue.filter((e) => e.position > delivered));
      sent = context.metrics.counter('deliveries_total', 'Webhook deliveries that the receiver accepted');
      failed = context.metrics.counter('delivery_failures_total', 'Webhook delivery attempts that failed');
      if (!url()) context.logger.warn('no URL configured; events wait until one is set');
      kick();
    },
    async stop(): Promise<void> {
      await draining;
      ctx = null;
    },
    health(): PluginHealth {
      if (!url()) return { status: 'degraded', detail: 'no URL configured' };
      if (lastError) return { status: 'degraded', detail: `last delivery failed: ${lastError}`, checks: { pending: queue.length } };
      return { status: 'up', checks: { delivered, pending: queue.length } };
    },
    validateSettings(values: Record<string, unknown>): string | null {
      for (const key of Object.keys(values)) if (key !== 'url') return `${key}: unknown setting (only url)`;
      return 'url' in values ? validateWebhookUrl(values.url) : null;
    },
  };
}
