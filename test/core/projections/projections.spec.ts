import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CommandRunner } from '../../../src/core/commands/command-runner';
import { commandMeta } from '../../../src/core/commands/meta';
import { clientDecider } from '../../../src/core/domain/client/client.decider';
import { clientStream } from '../../../src/core/domain/client/client.events';
import { CORE_EVENT_TYPES } from '../../../src/core/events/known-event-types';
import type { EventStore, SubscribeOptions } from '../../../src/core/event-store/event-store.port';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { silentLogger } from '../../../src/core/logging/logger';
import { serializeReadModels } from '../../../src/core/projections/core-projections';
import { ProjectionEngine } from '../../../src/core/projections/projection-engine';
import { computeStateAt } from '../../../src/core/projections/state-at';
import { recordingLogger, tempDir } from '../../support/temp';

const meta = (actor = 'admin:test', timestamp = new Date().toISOString()) => ({ ...commandMeta(actor), timestamp });

/** Records the `after` of every subscription, to prove a restart does not replay the world. */
function spyOnSubscribe(store: EventStore): { afters: (number | undefined)[] } {
  const afters: (number | undefined)[] = [];
  const original = store.subscribe.bind(store);
  store.subscribe = (options: SubscribeOptions, handlers) => {
    afters.push(options.after);
    return original(options, handlers);
  };
  return { afters };
}

describe('read model projections', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => (tmp = tempDir()));
  after(() => tmp.cleanup());

  async function openStore(name: string): Promise<SqliteEventStore> {
    return SqliteEventStore.open({ file: path.join(tmp.dir, `${name}.db`) });
  }

  it('projects client events, persists a snapshot, and resumes from its checkpoint after a restart', async () => {
    const snapshotFile = path.join(tmp.dir, 'a.snapshot.json');
    let store = await openStore('a');
    const runner = new CommandRunner(store, silentLogger);
    const mac = 'dc:a6:32:00:00:01';
    await runner.run(
      clientStream(mac),
      clientDecider,
      { type: 'DetectClient', mac, serial: '1234abcd', model: 'RPi4', ip: null, via: 'dhcp', bootId: 'b1' },
      meta('plugin:dhcp'),
    );
    await runner.run(clientStream(mac), clientDecider, { type: 'LearnClientAddress', mac, ip: '10.9.0.50' }, meta('plugin:dhcp'));
    const approved = await runner.run(
      clientStream(mac),
      clientDecider,
      { type: 'ApproveClient', mac, name: 'desk-1', imageId: null },
      meta(),
    );

    let engine = new ProjectionEngine(store, silentLogger, null, CORE_EVENT_TYPES, { snapshotFile });
    await engine.start();
    await engine.waitFor(approved.position);
    const c = engine.state.clients.get(mac);
    assert.ok(c);
    assert.equal(c.status, 'approved');
    assert.equal(c.name, 'desk-1');
    assert.equal(c.serial, '1234abcd');
    assert.equal(c.ip, '10.9.0.50');
    assert.equal(engine.state.clientByIp.get('10.9.0.50'), mac);
    const checkpoint = engine.checkpoint;
    await engine.stop();
    await store.close();

    store = await openStore('a');
    const spy = spyOnSubscribe(store);
    engine = new ProjectionEngine(store, silentLogger, null, CORE_EVENT_TYPES, { snapshotFile });
    await engine.start();
    assert.deepEqual(spy.afters, [checkpoint], 'the restart subscribes from the snapshot checkpoint, not from the start');
    assert.equal(engine.state.clients.get(mac)?.name, 'desk-1');
    // And keeps following new events.
    const runner2 = new CommandRunner(store, silentLogger);
    const renamed = await runner2.run(clientStream(mac), clientDecider, { type: 'RenameClient', mac, name: 'desk-2' }, meta());
    await engine.waitFor(renamed.position);
    assert.equal(engine.state.clients.get(mac)?.name, 'desk-2');
    await engine.stop();
    await store.close();
  });

  it('ignores a snapshot that is corrupt or belongs to another store, and rebuilds', async () => {
    const snapshotFile = path.join(tmp.dir, 'b.snapshot.json');
    writeFileSync(snapshotFile, '{ not json');
    const store = await openStore('b');
    const runner = new CommandRunner(store, silentLogger);
    await runner.run(
      clientStream('b8:27:eb:00:00:01'),
      clientDecider,
      { type: 'ApproveClient', mac: 'b8:27:eb:00:00:01', name: null, imageId: null },
      meta(),
    );
    const engine = new ProjectionEngine(store, silentLogger, null, CORE_EVENT_TYPES, { snapshotFile });
    await engine.start();
    assert.equal(engine.state.clients.size, 1);
    await engine.stop();

    // The same snapshot file in front of a different store (another fingerprint) is not used.
    // (The other store holds an event: an EMPTY store behind a snapshot lost every event, and
    // refuses the start: test/core/read-model-snapshot.spec.ts.)
    const other = await openStore('b-other');
    await new CommandRunner(other, silentLogger).run(
      clientStream('b8:27:eb:00:00:02'),
      clientDecider,
      { type: 'ApproveClient', mac: 'b8:27:eb:00:00:02', name: null, imageId: null },
      meta(),
    );
    const engine2 = new ProjectionEngine(other, silentLogger, null, CORE_EVENT_TYPES, { snapshotFile });
    await engine2.start();
    assert.deepEqual([...engine2.state.clients.keys()], ['b8:27:eb:00:00:02']);
    await engine2.stop();
    await other.close();
    await store.close();
  });

  it('skips an unknown event type with one warning and keeps projecting', async () => {
    const store = await openStore('c');
    const { logger, lines } = recordingLogger();
    await store.append('mystery-1', [{ type: 'SomethingFromTheFuture', data: {}, metadata: { ...meta(), schemaVersion: 1 } }], 'any');
    await store.append('mystery-2', [{ type: 'SomethingFromTheFuture', data: {}, metadata: { ...meta(), schemaVersion: 1 } }], 'any');
    const runner = new CommandRunner(store, silentLogger);
    const done = await runner.run(
      clientStream('dc:a6:32:00:00:09'),
      clientDecider,
      { type: 'ApproveClient', mac: 'dc:a6:32:00:00:09', name: null, imageId: null },
      meta(),
    );
    const engine = new ProjectionEngine(store, logger, null, CORE_EVENT_TYPES, { snapshotFile: null });
    await engine.start();
    await engine.waitFor(done.position);
    assert.equal(engine.state.clients.size, 1);
    const warnings = lines.filter((l) => l.level === 'warn' && l.type === 'SomethingFromTheFuture');
    assert.equal(warnings.length, 1, 'warned once per unknown type');
    await engine.stop();
    await store.close();
  });

  it('rebuilds from zero into the same state, without disturbing live reads', async () => {
    const store = await openStore('d');
    const runner = new CommandRunner(store, silentLogger);
    for (let i = 0; i < 50; i++) {
      const mac = `dc:a6:32:00:01:${i.toString(16).padStart(2, '0')}`;
      await runner.run(
        clientStream(mac),
        clientDecider,
        { type: 'DetectClient', mac, serial: null, model: 'RPi4', ip: `10.0.0.${i + 10}`, via: 'dhcp', bootId: 'x' },
        meta(),
      );
      if (i % 2 === 0)
        await runner.run(clientStream(mac), clientDecider, { type: 'ApproveClient', mac, name: `pi-${i}`, imageId: null }, meta());
    }
    const engine = new ProjectionEngine(store, silentLogger, null, CORE_EVENT_TYPES, {
      snapshotFile: path.join(tmp.dir, 'd.snapshot.json'),
    });
    await engine.start();
    const before = JSON.stringify(serializeReadModels(engine.state));
    const live = engine.state;
    const result = await engine.rebuild();
    assert.equal(result.events, 75);
    assert.notEqual(engine.state, live, 'a fresh state object was built and swapped in');
    assert.equal(JSON.stringify(serializeReadModels(engine.state)), before);
    // Still live after the swap.
    const last = await runner.run(
      clientStream('dc:a6:32:00:01:01'),
      clientDecider,
      { type: 'RenameClient', mac: 'dc:a6:32:00:01:01', name: 'renamed' },
      meta(),
    );
    await engine.waitFor(last.position);
    assert.equal(engine.state.clients.get('dc:a6:32:00:01:01')?.name, 'renamed');
    await engine.stop();
    await store.close();
  });

  it('computes the state at a past position or time without touching the live read models', async () => {
    const store = await openStore('e');
    const runner = new CommandRunner(store, silentLogger);
    const mac = 'e4:5f:01:00:00:01';
    const t0 = '2026-01-01T10:00:00.000Z';
    const t1 = '2026-01-01T11:00:00.000Z';
    const t2 = '2026-01-01T12:00:00.000Z';
    const detected = await runner.run(
      clientStream(mac),
      clientDecider,
      { type: 'DetectClient', mac, serial: null, model: null, ip: null, via: 'dhcp', bootId: null },
      meta('plugin:dhcp', t0),
    );
    await runner.run(clientStream(mac), clientDecider, { type: 'ApproveClient', mac, name: 'lab-1', imageId: null }, meta('admin:x', t1));
    await runner.run(clientStream(mac), clientDecider, { type: 'RejectClient', mac }, meta('admin:x', t2));
    const engine = new ProjectionEngine(store, silentLogger, null, CORE_EVENT_TYPES, { snapshotFile: null });
    await engine.start();
    const liveBefore = JSON.stringify(serializeReadModels(engine.state));

    const atDetect = await computeStateAt(store, { position: detected.position! });
    assert.equal(atDetect.state.clients.get(mac)?.status, 'pending');
    assert.equal(atDetect.position, detected.position);

    const atNoon = await computeStateAt(store, { time: '2026-01-01T11:30:00.000Z' });
    assert.equal(atNoon.state.clients.get(mac)?.status, 'approved');
    assert.equal(atNoon.state.clients.get(mac)?.name, 'lab-1');
    const exactly = await computeStateAt(store, { time: t1 });
    assert.equal(exactly.state.clients.get(mac)?.status, 'approved', 'an event at exactly the time is included');
    // The largest position accepted is the whole log (it was an INTERNAL error: found by the GraphQL fuzz test).
    const atMax = await computeStateAt(store, { position: Number.MAX_SAFE_INTEGER });
    assert.equal(atMax.state.clients.get(mac)?.status, 'rejected');
    const beforeAll = await computeStateAt(store, { time: '2025-12-31T00:00:00.000Z' });
    assert.equal(beforeAll.state.clients.size, 0);

    assert.equal(engine.state.clients.get(mac)?.status, 'rejected');
    assert.equal(JSON.stringify(serializeReadModels(engine.state)), liveBefore, 'live read models untouched');
    await engine.stop();
    await store.close();
  });
});
