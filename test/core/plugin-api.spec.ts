import { strict as assert } from 'node:assert';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { ApproveClientCommand } from '../../src/core/commands/client.commands';
import { UpdateSettingsCommand } from '../../src/core/commands/system.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { DomainError } from '../../src/core/domain/shared/domain-error';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import { HealthService } from '../../src/core/observability/health.service';
import { Metrics } from '../../src/core/observability/metrics';
import type { BramblePlugin, PluginContext, PluginFactory, RecordedEvent, Settings } from '../../src/core/plugin-api/plugin';
import { PluginLoadError } from '../../src/core/plugin-api/plugin-registry';
import { startCoreApp, type CoreApp } from '../support/core-app';
import { eventually, tempDir } from '../support/temp';

/** A plugin that records what the host does to it. */
function recorder(): { factory: PluginFactory; seen: RecordedEvent[]; projectedAtStart: number[]; settings: Settings[]; ctx: () => PluginContext } {
  const seen: RecordedEvent[] = [];
  const projectedAtStart: number[] = [];
  const settings: Settings[] = [];
  let context: PluginContext | null = null;
  const factory: PluginFactory = () => ({
    name: 'recorder',
    consumes: ['ClientApproved'],
    emits: ['ThingNoticed'],
    project(e) {
      seen.push(e);
    },
    start(ctx) {
      context = ctx;
      projectedAtStart.push(seen.length);
      ctx.metrics.counter('things_total', 'Things the recorder noticed').inc(3);
      ctx.onSettingsChanged((s) => settings.push(s));
    },
    health: () => ({ status: 'up', checks: { seen: seen.length } }),
    validateSettings: (values) => (values.level !== undefined && typeof values.level !== 'number' ? 'level: must be a number' : null),
  });
  return { factory, seen, projectedAtStart, settings, ctx: () => context! };
}

/** A plugin that binds a UDP port, as a protocol plugin does. */
function portTaker(port: number): PluginFactory {
  return (): BramblePlugin => {
    let socket: Socket | null = null;
    return {
      name: 'port-taker',
      consumes: [],
      async start(ctx) {
        socket = createSocket('udp4');
        socket.bind(port, '127.0.0.1');
        await new Promise<void>((resolve, reject) => {
          socket!.once('listening', resolve);
          socket!.once('error', (error: NodeJS.ErrnoException) => reject(new Error(`cannot bind udp/${port}: ${error.code}`)));
        });
        ctx.logger.info('bound', { port });
      },
      stop() {
        socket?.close();
      },
    };
  };
}

describe('plugin API', () => {
  let blocker: Socket;
  let blockedPort: number;
  let data: ReturnType<typeof tempDir>;
  before(async () => {
    blocker = createSocket('udp4');
    blocker.bind(0, '127.0.0.1');
    await once(blocker, 'listening');
    blockedPort = blocker.address().port;
    data = tempDir();
  });
  after(() => {
    blocker.close();
    data.cleanup();
  });

  it('catches a plugin up on its events before start, reports health, and survives a plugin that cannot bind its port', async () => {
    // History before the plugin exists.
    const first = await startCoreApp({ dataDir: data.dir });
    await first.exec(new ApproveClientCommand({ mac: 'dc:a6:32:00:00:a1' }, commandMeta('admin:t')));
    await first.exec(new ApproveClientCommand({ mac: 'dc:a6:32:00:00:a2' }, commandMeta('admin:t')));
    await first.app.close();

    const rec = recorder();
    let core: CoreApp | null = null;
    try {
      core = await startCoreApp({ dataDir: data.dir, plugins: [rec.factory, portTaker(blockedPort)] });
      assert.deepEqual(rec.projectedAtStart, [2], 'start ran after both historic events were projected');
      assert.ok(rec.seen.every((e) => e.type === 'ClientApproved'), 'only consumed types are delivered');

      const health = await core.app.nest.get(HealthService).report();
      assert.equal(health.status, 'degraded');
      assert.equal(health.plugins.recorder.status, 'up');
      assert.equal(health.plugins['port-taker'].status, 'down');
      assert.match(health.plugins['port-taker'].detail ?? '', /cannot bind udp\/\d+: EADDRINUSE/);

      // The rest keeps working: commands, projections, and the plugin's live feed.
      await core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:00:00:a3' }, commandMeta('admin:t')));
      await eventually(() => rec.seen.length === 3, 5000, 'live event delivered to the plugin');

      // Plugin commands carry the plugin as actor; undeclared event types are refused.
      const ctx = rec.ctx();
      const detected = await ctx.commands.detectClient({ mac: 'E4:5F:01:00:00:B1', via: 'dhcp', bootId: 'b' });
      assert.deepEqual(detected.eventTypes, ['ClientDetected']);
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      const [ev] = await store.readStream('client-e4:5f:01:00:00:b1');
      assert.equal(ev.metadata.actor, 'plugin:recorder');
      const own = await ctx.commands.appendEvent('room-1', 'ThingNoticed', { what: 'a cable' });
      assert.ok(own.position);
      assert.equal((await store.readStream('plugin-recorder-room-1'))[0].type, 'ThingNoticed');
      await assert.rejects(ctx.commands.appendEvent('room-1', 'NotDeclared', {}), (e: unknown) => e instanceof DomainError && e.code === 'VALIDATION');
      const boot = await ctx.commands.reportBootFact({ mac: 'e4:5f:01:00:00:b1', stage: 'dhcp.discover', detail: { xid: '0x1234' } });
      assert.deepEqual(boot.eventTypes, ['BootProgressed']);

      // Metrics are namespaced per plugin.
      const text = await core.app.nest.get(Metrics).registry.metrics();
      assert.match(text, /^bramble_recorder_things_total 3$/m);

      // Plugin settings are validated by the plugin and announced after they change.
      await assert.rejects(
        core.exec(new UpdateSettingsCommand({ changes: { plugins: { recorder: { level: 'high' } } } }, commandMeta('admin:t'))),
        (e: unknown) => e instanceof DomainError && e.code === 'VALIDATION' && e.message.startsWith('plugins.recorder.level'),
      );
      await assert.rejects(
        core.exec(new UpdateSettingsCommand({ changes: { plugins: { nobody: {} } } }, commandMeta('admin:t'))),
        (e: unknown) => e instanceof DomainError && e.code === 'VALIDATION',
      );
      await core.exec(new UpdateSettingsCommand({ changes: { plugins: { recorder: { level: 3 } } } }, commandMeta('admin:t')));
      await eventually(() => rec.settings.length === 1, 5000, 'settings listener');
      assert.deepEqual(rec.settings[0].plugins.recorder, { level: 3 });
      assert.deepEqual(ctx.settings().plugins.recorder, { level: 3 });
    } finally {
      await core?.app.close();
    }
  });

  it('refuses to start with a BRAMBLE_PLUGINS module that cannot be loaded, naming it', async () => {
    const dir = tempDir();
    try {
      await assert.rejects(
        startCoreApp({ dataDir: dir.dir, env: { BRAMBLE_PLUGINS: './no/such/plugin.js' } }),
        (e: unknown) => e instanceof PluginLoadError && e.message.includes('./no/such/plugin.js'),
      );
    } finally {
      dir.cleanup();
    }
  });
});
