/**
 * Plugin view snapshots (`snapshot()` / `restore()`): a plugin that consumed 200,000 events starts
 * from its snapshot without replaying them; a damaged snapshot is never trusted; a snapshot ahead
 * of the store (acknowledged events lost) refuses the start until the loss is accepted.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DetectClientCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { EventsMissingError, writeCheckpointFile } from '../../../src/core/persistence/checkpoint-file';
import { definePlugin, type PluginFactory } from '../../../src/core/plugin-api';
import { PluginRegistry } from '../../../src/core/plugin-host/plugin-registry';
import { snapshotFileOf } from '../../../src/core/plugin-host/plugin-snapshots';
import { seedStore } from '../../../bench/support/seed-store';
import { startCoreApp, type CoreApp } from '../../support/core-app';
import { eventually, tempDir } from '../../support/temp';

interface Counts {
  events: number;
  byType: Record<string, number>;
  last: number;
}

/** Counts the per-boot events it consumes (the bulk of a school year's log). */
function counter(): { factory: PluginFactory; view: () => Counts; projected: () => number; restored: () => boolean } {
  let view: Counts = { events: 0, byType: {}, last: 0 };
  let projected = 0;
  let restored = false;
  const factory: PluginFactory = () =>
    definePlugin({
      name: 'counter',
      consumes: ['BootProgressed', 'ClientRedetected', 'ClientAddressLearned', 'ClientDetected'],
      project(event) {
        projected++;
        view.events++;
        view.byType[event.type] = (view.byType[event.type] ?? 0) + 1;
        view.last = event.position;
      },
      snapshot: () => view,
      restore(state) {
        const s = state as Counts;
        if (typeof s?.events !== 'number' || typeof s.last !== 'number') throw new Error('not a counter snapshot');
        view = { events: s.events, byType: { ...s.byType }, last: s.last };
        restored = true;
      },
      start() {},
    });
  return { factory, view: () => view, projected: () => projected, restored: () => restored };
}

describe('plugin view snapshots', () => {
  const data = tempDir('bramble-plugin-snapshot-');
  let head = 0;
  let consumedTotal = 0;
  let reference: Counts;

  before(async () => {
    head = await seedStore(path.join(data.dir, 'events.db'), 203_000);
  });
  after(() => data.cleanup());

  const start = (env: Record<string, string> = {}, plugin = counter()): Promise<CoreApp & { plugin: ReturnType<typeof counter> }> =>
    startCoreApp({ dataDir: data.dir, plugins: [plugin.factory], env }).then((core) => Object.assign(core, { plugin }));

  const startMs = (core: CoreApp): number => core.app.nest.get(PluginRegistry).startupMs('counter')!;

  it('first start: the plugin replays its 200,000 events, then the host saves its snapshot at stop', async () => {
    const core = await start();
    try {
      reference = structuredClone(core.plugin.view());
      consumedTotal = core.plugin.projected();
      assert.ok(consumedTotal >= 200_000, `consumed ${consumedTotal}`);
      assert.equal(reference.last, head, 'the view reached the last event');
      assert.equal(core.plugin.restored(), false);
    } finally {
      await core.close();
    }
    const file = snapshotFileOf(path.join(data.dir, 'plugins', 'counter'));
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { checkpoint: number; kind: string };
    assert.deepEqual([saved.kind, saved.checkpoint], ['plugin:counter', head]);
  });

  it('second start: restored from the snapshot, no event replayed, started in under 1 s; later events still arrive', async () => {
    const core = await start();
    try {
      assert.equal(core.plugin.restored(), true);
      assert.equal(core.plugin.projected(), 0, 'not one of the 200,000 events was delivered again');
      assert.deepEqual(core.plugin.view(), reference);
      const ms = startMs(core);
      assert.ok(ms < 1000, `the plugin started in ${ms} ms`);
      await core.exec(new DetectClientCommand({ mac: 'e4:5f:01:00:00:01', via: 'dhcp', bootId: 'x' }, commandMeta('plugin:test')));
      await eventually(() => core.plugin.projected() === 1, 5000, 'the new event');
      assert.equal(core.plugin.view().events, reference.events + 1);
    } finally {
      await core.close();
    }
  });

  it('a damaged snapshot (checksum, JSON, another store) is not trusted: the plugin replays instead', async () => {
    const file = snapshotFileOf(path.join(data.dir, 'plugins', 'counter'));
    const good = readFileSync(file, 'utf8');
    const tampered = good.replace(/"events":\d+/, '"events":1');
    assert.notEqual(tampered, good);
    for (const bad of [tampered, '{"state":{}}', 'not json at all']) {
      writeFileSync(file, bad);
      const core = await start();
      try {
        assert.equal(core.plugin.restored(), false, bad.slice(0, 40));
        assert.equal(core.plugin.view().events, reference.events + 1, 'the view rebuilt from the events');
      } finally {
        await core.close();
      }
    }
    const { checksum: _checksum, ...body } = JSON.parse(good) as Record<string, unknown>;
    writeFileSync(file, good);
    await writeCheckpointFile(file, { ...(body as never as object), storeFingerprint: 'another-store' } as never);
    const core = await start();
    try {
      assert.equal(core.plugin.restored(), false, 'a snapshot of another store');
    } finally {
      await core.close();
    }
  });

  it('a snapshot ahead of the store refuses the start, saying how many events are missing, until the loss is accepted', async () => {
    const file = snapshotFileOf(path.join(data.dir, 'plugins', 'counter'));
    const { checksum: _checksum, ...body } = JSON.parse(readFileSync(file, 'utf8')) as { checkpoint: number; checksum: string };
    const probe = await start();
    const storeHead = await probe.app.nest.get<EventStore>(EVENT_STORE).headPosition();
    await probe.close();
    await writeCheckpointFile(file, { ...(body as object), checkpoint: storeHead + 60 } as never);
    await assert.rejects(start(), (e: unknown) => {
      assert.ok(e instanceof EventsMissingError, String(e));
      assert.match(e.message, new RegExp(`60 acknowledged events are missing`));
      assert.match(e.message, new RegExp(`BRAMBLE_ACCEPT_EVENT_LOSS=${storeHead}\\b`));
      return true;
    });
    await assert.rejects(
      start({ BRAMBLE_ACCEPT_EVENT_LOSS: String(storeHead - 1) }),
      EventsMissingError,
      'accepting another loss is not accepting this one',
    );
    const core = await start({ BRAMBLE_ACCEPT_EVENT_LOSS: String(storeHead) });
    try {
      assert.equal(core.plugin.restored(), false);
      assert.equal(core.plugin.view().last, storeHead, 'replayed from what is left');
    } finally {
      await core.close();
    }
  });
});
