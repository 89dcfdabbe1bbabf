/**
 * The plugin host (src/core/plugin-host): loading (and surviving plugins that cannot load, whose
 * factory throws, or whose start fails), catch-up before start, typed and schema-checked events,
 * plugin-owned settings, the read-only views, and what the `plugins` query shows.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApproveClientCommand,
  DetectClientCommand,
  LearnClientAddressCommand,
  RenameClientCommand,
} from '../../../src/core/commands/client.commands';
import { UpdatePluginSettingsCommand, UpdateSettingsCommand } from '../../../src/core/commands/system.commands';
import {
  CreateUserCommand,
  DeleteUserCommand,
  DisableUserCommand,
  EnableUserCommand,
  SetUserPasswordCommand,
} from '../../../src/core/commands/user.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { DomainError } from '../../../src/core/domain/shared/domain-error';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { HealthService } from '../../../src/core/observability/health.service';
import { Metrics } from '../../../src/core/observability/metrics';
import {
  definePlugin,
  Ipv4,
  Nullable,
  Type,
  type ClientRecord,
  type GlobalSettings,
  type PluginContext,
  type PluginFactory,
  type RecordedEvent,
  type ViewChange,
} from '../../../src/core/plugin-api';
import { PluginRegistry } from '../../../src/core/plugin-host/plugin-registry';
import { startCoreApp, type CoreApp } from '../../support/core-app';
import { eventually, tempDir } from '../../support/temp';

const admin = () => commandMeta('admin:t');
const isCode = (code: string, field?: string) => (e: unknown) =>
  e instanceof DomainError && e.code === code && (field === undefined || e.field === field);

const RecorderSettings = Type.Object(
  {
    level: Type.Integer({ minimum: 0, maximum: 9, default: 1, description: 'How much to record.' }),
    target: Nullable(Ipv4(), { default: null, description: 'Where to send things.' }),
  },
  { additionalProperties: false },
);
const RecorderEvents = { ThingNoticed: Type.Object({ what: Type.String({ maxLength: 20 }) }) };

/** A plugin that records what the host does to it. */
function recorder() {
  const seen: RecordedEvent[] = [];
  const projectedAtStart: number[] = [];
  const settings: { values: { level: number; target: string | null }; global: GlobalSettings }[] = [];
  let context: PluginContext<typeof RecorderEvents, typeof RecorderSettings> | null = null;
  const factory: PluginFactory = () =>
    definePlugin({
      name: 'recorder',
      description: 'Records what happens.',
      consumes: ['ClientApproved', 'ThingNoticed'],
      emits: RecorderEvents,
      settings: RecorderSettings,
      checkSettings: (values, global) =>
        values.target !== null && values.target === global.serverIp ? [{ field: 'target', message: 'is the server itself' }] : [],
      project(e) {
        // Typed by event.type, no casts: data.mac is a string on ClientApproved, data.what on ThingNoticed.
        if (e.type === 'ClientApproved') assert.equal(typeof e.data.mac, 'string');
        if (e.type === 'ThingNoticed') assert.equal(typeof e.data.what, 'string');
        seen.push(e);
      },
      start(ctx) {
        context = ctx;
        projectedAtStart.push(seen.length);
        ctx.metrics.counter('things_total', 'Things the recorder noticed').inc(3);
        ctx.onSettingsChanged((values, global) => {
          settings.push({ values, global });
        });
      },
      health: () => ({ status: 'up', checks: { seen: seen.length } }),
    });
  return { factory, seen, projectedAtStart, settings, ctx: () => context! };
}

/** A plugin that binds a UDP port, as a protocol plugin does. */
function portTaker(port: number): PluginFactory {
  return () => {
    let socket: Socket | null = null;
    return definePlugin({
      name: 'port-taker',
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
    });
  };
}

describe('plugin host', () => {
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

  it('catches a plugin up before start, reports health, and survives a plugin that cannot bind its port', async () => {
    const first = await startCoreApp({ dataDir: data.dir });
    await first.exec(new ApproveClientCommand({ mac: 'dc:a6:32:00:00:a1' }, admin()));
    await first.exec(new ApproveClientCommand({ mac: 'dc:a6:32:00:00:a2' }, admin()));
    await first.app.close();

    const rec = recorder();
    let core: CoreApp | null = null;
    try {
      core = await startCoreApp({ dataDir: data.dir, plugins: [rec.factory, portTaker(blockedPort)] });
      assert.deepEqual(rec.projectedAtStart, [2], 'start ran after both historic events were projected');
      assert.ok(
        rec.seen.every((e) => e.type === 'ClientApproved'),
        'only consumed types are delivered',
      );

      const health = await core.app.nest.get(HealthService).report();
      assert.equal(health.status, 'degraded');
      assert.equal(health.plugins.recorder.status, 'up');
      assert.equal(health.plugins['port-taker'].status, 'down');
      assert.match(health.plugins['port-taker'].detail ?? '', /cannot bind udp\/\d+: EADDRINUSE/);

      await core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:00:00:a3' }, admin()));
      await eventually(() => rec.seen.length === 3, 5000, 'live event delivered to the plugin');

      const ctx = rec.ctx();
      const detected = await ctx.commands.detectClient({ mac: 'E4:5F:01:00:00:B1', via: 'dhcp', bootId: 'b' });
      assert.deepEqual(detected.eventTypes, ['ClientDetected']);
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      const [ev] = await store.readStream('client-e4:5f:01:00:00:b1');
      assert.equal(ev.metadata.actor, 'plugin:recorder');
      const boot = await ctx.commands.reportBootFact({ mac: 'e4:5f:01:00:00:b1', stage: 'dhcp.discover', detail: { xid: '0x1234' } });
      // A PXE DISCOVER starts a boot session: its stage change is the one event (the fact itself is not stored).
      assert.deepEqual(boot.eventTypes, ['BootStageChanged']);
      const again = await ctx.commands.reportBootFact({ mac: 'e4:5f:01:00:00:b1', stage: 'dhcp.discover', detail: { xid: '0x1235' } });
      assert.deepEqual(again, { position: null, eventTypes: [] }, 'a DHCP retry changes no stage');
      const [stage] = await store.readStream('boot-e4:5f:01:00:00:b1');
      assert.equal(stage.metadata.actor, 'plugin:recorder');

      const text = await core.app.nest.get(Metrics).registry.metrics();
      assert.match(text, /^bramble_recorder_things_total 3$/m);
    } finally {
      await core?.app.close();
    }
  });

  it("appends a plugin's own events only when declared and when the data matches their schema; it consumes them back", async () => {
    const rec = recorder();
    const core = await startCoreApp({ plugins: [rec.factory] });
    try {
      const ctx = rec.ctx();
      const own = await ctx.commands.appendEvent('room-1', 'ThingNoticed', { what: 'a cable' });
      assert.ok(own.position);
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      const [stored] = await store.readStream('plugin-recorder-room-1');
      assert.deepEqual([stored.type, stored.data, stored.metadata.actor], ['ThingNoticed', { what: 'a cable' }, 'plugin:recorder']);
      await eventually(() => rec.seen.some((e) => e.type === 'ThingNoticed'), 5000, 'its own event projected');

      const untyped = ctx.commands as unknown as { appendEvent(s: string, t: string, d: unknown): Promise<unknown> };
      await assert.rejects(untyped.appendEvent('room-1', 'NotDeclared', {}), isCode('VALIDATION', 'type'));
      await assert.rejects(untyped.appendEvent('room-1', 'ThingNoticed', { what: 7 }), isCode('VALIDATION', 'data.what'));
      await assert.rejects(untyped.appendEvent('room-1', 'ThingNoticed', { what: 'x'.repeat(21) }), isCode('VALIDATION', 'data.what'));
      await assert.rejects(untyped.appendEvent('room-1', 'ThingNoticed', {}), isCode('VALIDATION'));
      await assert.rejects(untyped.appendEvent('bad stream!', 'ThingNoticed', { what: 'x' }), isCode('VALIDATION', 'streamSuffix'));
    } finally {
      await core.close();
    }
  });

  it('owns its settings: defaults from the schema, typed values, VALIDATION with a field path, cross-checks with the global settings', async () => {
    const rec = recorder();
    const core = await startCoreApp({ plugins: [rec.factory] });
    const update = (values: Record<string, unknown>, reset?: string[]) =>
      core.exec<{ position: number | null }>(new UpdatePluginSettingsCommand({ plugin: 'recorder', values, reset }, admin()));
    try {
      const ctx = rec.ctx();
      assert.deepEqual(ctx.settings(), { level: 1, target: null });
      assert.ok(Object.isFrozen(ctx.settings()), 'settings handed to a plugin cannot be changed by it');

      await assert.rejects(update({ level: 'high' }), isCode('VALIDATION', 'recorder.level'));
      await assert.rejects(update({ level: 10 }), isCode('VALIDATION', 'recorder.level'));
      await assert.rejects(update({ target: '10.0.0.300' }), isCode('VALIDATION', 'recorder.target'));
      await assert.rejects(update({ colour: 'red' }), isCode('VALIDATION', 'recorder.colour'));
      await assert.rejects(
        update(JSON.parse('{"__proto__": {"level": 1}}') as Record<string, unknown>),
        isCode('VALIDATION', 'recorder.__proto__'),
      );
      await assert.rejects(update({}, ['colour']), isCode('VALIDATION', 'recorder.colour'));
      await assert.rejects(
        core.exec(new UpdatePluginSettingsCommand({ plugin: 'nobody', values: {} }, admin())),
        isCode('VALIDATION', 'plugin'),
      );
      assert.equal(rec.settings.length, 0, 'nothing refused was announced');

      await update({ level: 3 });
      await eventually(() => rec.settings.length === 1, 5000, 'settings listener');
      assert.deepEqual(rec.settings[0].values, { level: 3, target: null });
      assert.deepEqual(ctx.settings(), { level: 3, target: null });
      assert.equal((await update({ level: 3 })).position, null, 'the same value again is no change');

      // The cross-check sees the global settings: on the plugin's change and on the global one's.
      await update({ target: '10.0.0.5' });
      await assert.rejects(
        core.exec(new UpdateSettingsCommand({ changes: { serverIp: '10.0.0.5' } }, admin())),
        isCode('VALIDATION', 'serverIp'),
      );
      await core.exec(new UpdateSettingsCommand({ changes: { serverIp: '10.0.0.1' } }, admin()));
      await assert.rejects(update({ target: '10.0.0.1' }), isCode('VALIDATION', 'recorder.target'));
      await eventually(() => rec.settings.some((s) => s.global.serverIp === '10.0.0.1'), 5000, 'global change announced');

      await update({}, ['level', 'target']);
      await eventually(() => ctx.settings().level === 1 && ctx.settings().target === null, 5000, 'reset to defaults');
    } finally {
      await core.close();
    }
  });

  it('serves read-only views of clients, images, users and groups, with change notifications', async () => {
    const rec = recorder();
    const core = await startCoreApp({ plugins: [rec.factory] });
    try {
      const views = rec.ctx().views;
      const changes: ViewChange<ClientRecord>[] = [];
      const off = views.clients.onChange((c) => changes.push(c));
      const mac = 'dc:a6:32:00:00:c1';
      await core.exec(
        new DetectClientCommand({ mac, serial: '1A2B3C4D', model: 'RPi4', via: 'dhcp', bootId: 'b1' }, commandMeta('plugin:dhcp')),
      );
      await core.exec(new LearnClientAddressCommand({ mac, ip: '10.0.0.42' }, commandMeta('plugin:dhcp')));
      await core.exec(new ApproveClientCommand({ mac, name: 'lab-01' }, admin()));
      const client = views.clients.get(mac)!;
      assert.equal(client.status, 'approved');
      assert.equal(client.name, 'lab-01');
      assert.equal(views.clients.byIp('10.0.0.42')?.mac, mac);
      assert.equal(views.clients.bySerial('1a2b3c4d')?.mac, mac);
      assert.ok(Object.isFrozen(client));
      assert.throws(() => {
        (client as { status: string }).status = 'rejected';
      }, TypeError);
      assert.equal(views.clients.get(mac)?.status, 'approved', 'a plugin cannot change the core read model');

      await eventually(() => changes.length === 3, 5000, 'three changes of the client');
      assert.deepEqual(
        changes.map((c) => [c.key, c.record?.status]),
        [
          [mac, 'pending'],
          [mac, 'pending'],
          [mac, 'approved'],
        ],
      );
      assert.ok(changes[0]!.position < changes[2]!.position);
      off();
      await core.exec(new RenameClientCommand({ mac, name: 'lab-02' }, admin()));
      assert.equal(views.clients.get(mac)?.name, 'lab-02');
      assert.equal(changes.length, 3, 'no notification after unsubscribing');

      const pupils = views.groups.get('pupils');
      assert.ok(pupils && pupils.gidNumber >= 10000);
      assert.deepEqual(
        views.groups.list().map((g) => g.name),
        ['pupils', 'teachers'],
      );
      assert.equal(views.users.size, 0);
      assert.deepEqual(views.images.list(), []);
    } finally {
      await core.close();
    }
  });

  it("checks a directory user's password for a plugin: right only for an enabled user, the current password, never a hash", async () => {
    const rec = recorder();
    const core = await startCoreApp({ plugins: [rec.factory] });
    try {
      const check = (u: string, p: string): Promise<boolean> => rec.ctx().credentials.verifyUserPassword(u, p);
      await core.exec(new CreateUserCommand({ username: 'alice', password: 'Alice-Pa55word' }, admin()));
      assert.equal(await check('alice', 'Alice-Pa55word'), true);
      assert.equal(await check('alice', 'alice-pa55word'), false);
      assert.equal(await check('nobody', 'Alice-Pa55word'), false);
      // The stored hash itself is not a password.
      assert.equal(await check('alice', rec.ctx().views.users.get('alice')!.passwordHash), false);
      // bcrypt reads 72 bytes and stops at NUL: neither a longer password nor a NUL may slip through.
      await core.exec(new SetUserPasswordCommand({ username: 'alice', password: 'x'.repeat(72) }, admin()));
      assert.equal(await check('alice', 'x'.repeat(72)), true);
      assert.equal(await check('alice', `${'x'.repeat(72)}y`), false);
      await core.exec(new SetUserPasswordCommand({ username: 'alice', password: 'Second-Pa55word' }, admin()));
      assert.equal(await check('alice', 'Second-Pa55word\0junk'), false);
      assert.equal(await check('alice', 'x'.repeat(72)), false, 'the old password stops working at once');
      await core.exec(new DisableUserCommand({ username: 'alice' }, admin()));
      assert.equal(await check('alice', 'Second-Pa55word'), false, 'disabled');
      await core.exec(new EnableUserCommand({ username: 'alice' }, admin()));
      assert.equal(await check('alice', 'Second-Pa55word'), true);
      await core.exec(new DeleteUserCommand({ username: 'alice' }, admin()));
      assert.equal(await check('alice', 'Second-Pa55word'), false, 'deleted');
    } finally {
      await core.close();
    }
  });

  it('a module that cannot be loaded, a factory that throws, and a malformed plugin are reported down; the rest runs', async () => {
    const dir = tempDir();
    const throwing = path.join(dir.dir, 'throwing.js');
    writeFileSync(throwing, "exports.createPlugin = () => { throw new Error('no licence key'); };\n");
    const malformed = path.join(dir.dir, 'malformed.js');
    writeFileSync(malformed, "exports.createPlugin = () => ({ name: 'Bad Name!', start() {} });\n");
    const noSchema = path.join(dir.dir, 'no-schema.js');
    writeFileSync(noSchema, "exports.createPlugin = () => ({ name: 'no-schema', emits: { Thing: {} }, start() {} });\n");
    const rec = recorder();
    const core = await startCoreApp({
      dataDir: path.join(dir.dir, 'data'),
      plugins: [
        rec.factory,
        () => {
          throw new Error('built-in broke');
        },
      ],
      env: { BRAMBLE_PLUGINS: ['./no/such/plugin.js', throwing, malformed, noSchema].join(',') },
    });
    try {
      const health = (await core.app.nest.get(HealthService).report()).plugins;
      assert.equal(health.recorder.status, 'up');
      assert.equal(health['built-in-2'].status, 'down');
      assert.match(health['built-in-2'].detail ?? '', /createPlugin\(\) threw: built-in broke/);
      assert.equal(health['./no/such/plugin.js'].status, 'down');
      assert.match(health['./no/such/plugin.js'].detail ?? '', /cannot be loaded: Cannot find module/);
      assert.match(health[throwing].detail ?? '', /createPlugin\(\) threw: no licence key/);
      assert.match(health[malformed].detail ?? '', /bad name "Bad Name!"/);
      assert.match(health[noSchema].detail ?? '', /emitted type Thing has no TypeBox schema/);
      await core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:00:00:d1' }, admin()));
      await eventually(() => rec.seen.length === 1, 5000, 'the loaded plugin keeps working');
    } finally {
      await core.close();
      dir.cleanup();
    }
  });

  it('describes every plugin for the API: state, events, effective settings and their JSON Schema', async () => {
    const rec = recorder();
    const core = await startCoreApp({ plugins: [rec.factory] });
    try {
      const [d] = core.app.nest.get(PluginRegistry).describe();
      assert.equal(d.name, 'recorder');
      assert.equal(d.state, 'started');
      assert.equal(d.description, 'Records what happens.');
      assert.deepEqual(d.consumes, ['ClientApproved', 'ThingNoticed']);
      assert.deepEqual(d.emits, ['ThingNoticed']);
      assert.deepEqual(d.settings, { level: 1, target: null });
      const schema = d.settingsSchema as { type: string; properties: Record<string, { default: unknown; description: string }> };
      assert.equal(schema.type, 'object');
      assert.deepEqual(schema.properties.level, {
        minimum: 0,
        maximum: 9,
        default: 1,
        description: 'How much to record.',
        type: 'integer',
      });
      assert.equal(schema.properties.target.default, null);
      assert.doesNotThrow(() => JSON.stringify(d));
    } finally {
      await core.close();
    }
  });
});
