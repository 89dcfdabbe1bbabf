import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CommandBus } from '../../src/core/commands/command-bus';
import { DetectClientCommand } from '../../src/core/commands/client.commands';
import { UpdatePluginSettingsCommand } from '../../src/core/commands/system.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { loadConfig } from '../../src/core/config/config';
import type { DomainError } from '../../src/core/domain/shared/domain-error';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import { silentLogger } from '../../src/core/logging/logger';
import { HealthService } from '../../src/core/observability/health.service';
import { ProjectionEngine } from '../../src/core/projections/projection-engine';
import { createApp, type BrambleApp } from '../../src/server';

interface Received {
  type: string;
  position: number;
  client: { mac: string; serial: string | null; model: string | null };
}

/** A local HTTP receiver that records every POST body. */
async function receiver(): Promise<{ server: Server; url: string; bodies: Received[]; next(): Promise<Received> }> {
  const bodies: Received[] = [];
  const waiting: ((r: Received) => void)[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as Received;
      bodies.push(body);
      res.writeHead(204).end();
      waiting.shift()?.(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}/hook`,
    bodies,
    next: () =>
      new Promise<Received>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no webhook received within 5 s')), 5000);
        waiting.push((r) => {
          clearTimeout(t);
          resolve(r);
        });
      }),
  };
}

describe('example plugin webhook-notifier, loaded through BRAMBLE_PLUGINS', () => {
  const pluginPath = path.join(__dirname, 'index.js');
  let dataDir: string;
  let hook: Awaited<ReturnType<typeof receiver>>;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'bramble-webhook-'));
    hook = await receiver();
  });
  after(() => {
    hook.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<BrambleApp> {
    const config = loadConfig({
      BRAMBLE_DATA_DIR: dataDir,
      BRAMBLE_HTTP_PORT: '0',
      BRAMBLE_PLUGINS: pluginPath,
      BRAMBLE_ADMIN_TOKEN: 'test-token-0123456789abcdef',
    });
    const app = await createApp(config, silentLogger, { builtInPlugins: [] });
    // The plugin reads its URL from the process environment given to its factory.
    return app;
  }

  it('POSTs a ClientDetected event to the receiver, and resends nothing old after a restart', async (t) => {
    process.env.WEBHOOK_NOTIFIER_URL = hook.url;
    t.after(() => delete process.env.WEBHOOK_NOTIFIER_URL);
    let app = await start();
    try {
      const health = await app.nest.get(HealthService).report();
      assert.equal(health.plugins['webhook-notifier']?.status, 'up');
      assert.equal(health.plugins['webhook-notifier']?.source, pluginPath);

      const received = hook.next();
      await app.nest
        .get(CommandBus)
        .execute(
          new DetectClientCommand(
            { mac: 'DC:A6:32:01:02:03', serial: '1a2b3c4d', model: 'RPi4', via: 'dhcp', bootId: 'b1' },
            commandMeta('plugin:test'),
          ),
        );
      const body = await received;
      assert.equal(body.type, 'ClientDetected');
      assert.equal(body.client.mac, 'dc:a6:32:01:02:03');
      assert.equal(body.client.serial, '1a2b3c4d');
      const checkpointFile = path.join(dataDir, 'plugins', 'webhook-notifier', 'delivered.json');
      const readCheckpoint = (): number => JSON.parse(readFileSync(checkpointFile, 'utf8')).position;
      for (let i = 0; i < 100 && readCheckpoint() !== body.position; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(readCheckpoint(), body.position);
    } finally {
      await app.close();
    }

    // After a restart only new events are delivered: the first one is not sent again.
    app = await start();
    try {
      const received = hook.next();
      await app.nest
        .get(CommandBus)
        .execute(new DetectClientCommand({ mac: 'e4:5f:01:aa:bb:cc', via: 'dhcp', bootId: 'b2' }, commandMeta('plugin:test')));
      const body = await received;
      assert.equal(body.client.mac, 'e4:5f:01:aa:bb:cc');
      assert.deepEqual(
        hook.bodies.map((b) => b.client.mac),
        ['dc:a6:32:01:02:03', 'e4:5f:01:aa:bb:cc'],
      );
    } finally {
      await app.close();
      delete process.env.WEBHOOK_NOTIFIER_URL;
    }
  });

  it('takes its URL from its settings, and refuses a bad one with a VALIDATION error on webhook-notifier.url', async () => {
    const app = await start();
    const bus = app.nest.get(CommandBus);
    const update = (values: Record<string, unknown>) =>
      bus.execute(new UpdatePluginSettingsCommand({ plugin: 'webhook-notifier', values }, commandMeta('admin:test')));
    try {
      for (const url of ['ftp://x', 'not a url', 42]) {
        await assert.rejects(update({ url }), (e: DomainError) => e.code === 'VALIDATION' && e.field === 'webhook-notifier.url');
      }
      await assert.rejects(update({ colour: 'red' }), (e: DomainError) => e.code === 'VALIDATION' && e.field === 'webhook-notifier.colour');
      const health = app.nest.get(HealthService);
      assert.equal((await health.report()).plugins['webhook-notifier']?.status, 'degraded', 'no URL yet');
      await update({ url: hook.url });
      await app.nest.get(ProjectionEngine).waitFor(await app.nest.get<EventStore>(EVENT_STORE).headPosition());
      assert.equal((await health.report()).plugins['webhook-notifier']?.status, 'up');
      const received = hook.next();
      await bus.execute(new DetectClientCommand({ mac: 'e4:5f:01:00:00:09', via: 'dhcp', bootId: 'b3' }, commandMeta('plugin:test')));
      assert.equal((await received).client.mac, 'e4:5f:01:00:00:09');
    } finally {
      await app.close();
    }
  });
});
