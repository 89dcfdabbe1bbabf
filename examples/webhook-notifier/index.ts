/**
 * Example third-party plugin: POSTs every `ClientDetected` event (a new Pi tried to boot) to a URL
 * as JSON, so a teacher's chat channel or a ticket system hears about it.
 *
 * Load it with BRAMBLE_PLUGINS=<path to this compiled file> and set the URL with the setting
 * `webhook-notifier.url` (updatePluginSettings) or the environment variable WEBHOOK_NOTIFIER_URL.
 *
 * Delivery is at least once: the position of the last delivered event is kept in
 * `<data>/plugins/webhook-notifier/delivered.json`, so events that arrive while bramble is down,
 * or while the receiver is unreachable, are sent after restart; older ones are never sent twice.
 *
 * It imports only the plugin contract, as any third party would: `@bramble/plugin`.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  definePlugin,
  Nullable,
  Type,
  type NoEvents,
  type PluginContext,
  type PluginFactoryOptions,
  type PluginHealth,
  type RecordedEvent,
} from '@bramble/plugin';

const NAME = 'webhook-notifier';
const MAX_ATTEMPTS = 5;

interface Checkpoint {
  position: number;
}

export const WebhookSettings = Type.Object(
  {
    url: Nullable(Type.String({ format: 'uri', pattern: '^https?://' }), {
      default: null,
      description: 'Where to POST each new Pi (http or https). When unset, WEBHOOK_NOTIFIER_URL.',
    }),
  },
  { additionalProperties: false },
);

export function createPlugin(options: PluginFactoryOptions) {
  let ctx: PluginContext<NoEvents, typeof WebhookSettings> | null = null;
  let checkpointFile = '';
  let delivered = 0;
  const queue: RecordedEvent[] = [];
  let draining: Promise<void> | null = null;
  let lastError: string | null = null;
  let sent: { inc(n?: number): void } | null = null;
  let failed: { inc(n?: number): void } | null = null;

  const url = (): string | null => ctx?.settings().url ?? options.env.WEBHOOK_NOTIFIER_URL ?? null;

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

  /** Written to a temp file then renamed: a crash never leaves a half-written checkpoint. */
  async function saveCheckpoint(): Promise<void> {
    await fsp.writeFile(`${checkpointFile}.tmp`, JSON.stringify({ position: delivered } satisfies Checkpoint));
    await fsp.rename(`${checkpointFile}.tmp`, checkpointFile);
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
      await saveCheckpoint();
    }
  }

  function kick(): void {
    if (!draining) draining = drain().finally(() => (draining = null));
  }

  return definePlugin({
    name: NAME,
    description: 'POSTs each new Pi (ClientDetected) to a URL.',
    settings: WebhookSettings,
    consumes: ['ClientDetected'],
    project(event) {
      // Before start, the checkpoint is not read yet: queue everything, filter in start().
      queue.push(event);
      if (ctx) kick();
    },
    async start(context) {
      ctx = context;
      checkpointFile = path.join(context.runtime.dataDir, 'delivered.json');
      try {
        delivered = (JSON.parse(await fsp.readFile(checkpointFile, 'utf8')) as Checkpoint).position;
      } catch {
        // First start: only events from now on are news; do not flood the receiver with history.
        delivered = queue.length ? queue[queue.length - 1].position : 0;
        await saveCheckpoint();
      }
      queue.splice(0, queue.length, ...queue.filter((e) => e.position > delivered));
      sent = context.metrics.counter('deliveries_total', 'Webhook deliveries that the receiver accepted');
      failed = context.metrics.counter('delivery_failures_total', 'Webhook delivery attempts that failed');
      if (!url()) context.logger.warn('no URL configured; events wait until one is set');
      kick();
    },
    async stop() {
      await draining;
      ctx = null;
    },
    health(): PluginHealth {
      if (!url()) return { status: 'degraded', detail: 'no URL configured' };
      if (lastError) return { status: 'degraded', detail: `last delivery failed: ${lastError}`, checks: { pending: queue.length } };
      return { status: 'up', checks: { delivered, pending: queue.length } };
    },
  });
}
