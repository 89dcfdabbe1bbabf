/**
 * Boot streams' retention. sqlite: the scavenge deletes `boot-*` events older than the cutoff (never
 * the last of a stream, never anything else: the table refuses it), and readers, subscriptions,
 * the read models and plugin views carry on across the gaps (restarted from their snapshots, or
 * rebuilt). KurrentDB: `$maxAge` stream metadata, mapped by a pure function.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BootRetention } from '../../../src/core/boot/boot-retention';
import { ApproveClientCommand, DetectClientCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { EVENT_STORE, type EventStore, type NewEvent } from '../../../src/core/event-store/event-store.port';
import { retentionMetadataFor } from '../../../src/core/event-store/kurrentdb/kurrentdb.mapping';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { definePlugin, type PluginFactory } from '../../../src/core/plugin-api';
import { startCoreApp } from '../../support/core-app';
import { tempDir } from '../../support/temp';

const DAY = 86_400_000;
const NOW = new Date();

function ev(type: string, ageDays: number, data: unknown = {}): NewEvent {
  return {
    id: randomUUID(),
    type,
    data,
    metadata: {
      actor: 'system',
      correlationId: randomUUID(),
      causationId: null,
      timestamp: new Date(NOW.getTime() - ageDays * DAY).toISOString(),
      schemaVersion: 1,
    },
  };
}

const RULE = { streamPrefix: 'boot-', maxAgeSeconds: 30 * 86_400 };

describe('boot retention (sqlite scavenge)', () => {
  const dirs: { cleanup(): void }[] = [];
  after(() => dirs.forEach((d) => d.cleanup()));

  it('deletes boot events older than the cutoff, never the last of a stream, never another stream; reads and subscriptions go on', async () => {
    const dir = tempDir('bramble-retention-');
    dirs.push(dir);
    const file = path.join(dir.dir, 'events.db');
    const store = await SqliteEventStore.open({ file });
    try {
      await store.append(
        'boot-aa:00:00:00:00:01',
        [ev('BootStageChanged', 40), ev('BootStageChanged', 35), ev('BootStageChanged', 31)],
        'any',
      );
      await store.append('client-aa:00:00:00:00:01', [ev('ClientDetected', 40)], 'any');
      await store.append('boot-aa:00:00:00:00:02', [ev('BootStageChanged', 40), ev('BootStageChanged', 1)], 'any');
      await store.append('boot-aa:00:00:00:00:03', [ev('BootStageChanged', 45)], 'any');
      await store.append('bootx-not-a-boot-stream', [ev('Other', 60)], 'any');
      const head = await store.headPosition();

      const { deleted } = await store.applyRetention(RULE, NOW);
      // Stream 1: two of three (its last stays); stream 2: the old one; stream 3: none (its only one).
      assert.equal(deleted, 3);
      const left = await store.readAll({ limit: 100 });
      assert.deepEqual(
        left.map((e) => `${e.stream}#${e.revision}`),
        [
          'boot-aa:00:00:00:00:01#2',
          'client-aa:00:00:00:00:01#0',
          'boot-aa:00:00:00:00:02#1',
          'boot-aa:00:00:00:00:03#0',
          'bootx-not-a-boot-stream#0',
        ],
      );
      assert.equal(await store.headPosition(), head, 'the head never moves back');
      assert.equal((await store.applyRetention(RULE, NOW)).deleted, 0, 'a second run finds nothing');

      // A stream goes on with its revisions (never reused), expected revision and all.
      const next = await store.append('boot-aa:00:00:00:00:01', [ev('BootStageChanged', 0)], 2);
      assert.equal(next.revision, 3);
      assert.deepEqual(
        (await store.readStream('boot-aa:00:00:00:00:01')).map((e) => e.revision),
        [2, 3],
      );
      // A catch-up subscription from the start delivers what is left, in order, then live.
      const seen: number[] = [];
      const sub = store.subscribe({}, { onEvents: (events) => void seen.push(...events.map((e) => e.position)) });
      await sub.caughtUp;
      assert.deepEqual(seen, [...left.map((e) => e.position), next.position]);
      await sub.close();

      // Only the retention may delete, and only boot streams: the table refuses anything else.
      await assert.rejects(store.applyRetention({ streamPrefix: 'client-', maxAgeSeconds: 1 }, NOW), /no retention/);
      const db = new Database(file);
      try {
        assert.throws(() => db.prepare("DELETE FROM events WHERE stream = 'client-aa:00:00:00:00:01'").run(), /append-only/);
        assert.throws(() => db.prepare("UPDATE events SET type = 'X' WHERE stream LIKE 'boot-%'").run(), /append-only/);
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  it('scavenges in batches between appends: 2,500 expired events go while appends keep being acknowledged', async () => {
    const dir = tempDir('bramble-retention-batch-');
    dirs.push(dir);
    const store = await SqliteEventStore.open({ file: path.join(dir.dir, 'events.db') });
    try {
      for (let i = 0; i < 25; i++)
        await store.append(
          `boot-aa:00:00:00:01:${String(i).padStart(2, '0')}`,
          Array.from({ length: 101 }, () => ev('BootStageChanged', 40)),
          'any',
        );
      const scavenge = store.applyRetention(RULE, NOW);
      const appended = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.append(`client-x${i}`, [ev('ClientDetected', 0)], 'no_stream')),
      );
      assert.equal(appended.length, 20);
      assert.equal((await scavenge).deleted, 2500);
      assert.equal((await store.readAll({ limit: 5000, filter: { streamPrefixes: ['boot-'] } })).length, 25);
    } finally {
      await store.close();
    }
  });

  it('the core applies bootRetentionDays at start; read models and plugin views catch up across the gaps after a restart and a rebuild', async () => {
    const dir = tempDir('bramble-retention-app-');
    dirs.push(dir);
    let seenByPlugin: string[] = [];
    const watcher: PluginFactory = () =>
      definePlugin({
        name: 'watcher',
        consumes: ['ClientDetected', 'ClientApproved', 'BootStageChanged'],
        project(event) {
          seenByPlugin.push(`${event.type}@${event.position}`);
        },
        snapshot: () => seenByPlugin,
        restore(state) {
          seenByPlugin = [...(state as string[])];
        },
        start() {},
      });
    const macs = ['dc:a6:32:00:50:01', 'dc:a6:32:00:50:02'];
    let core = await startCoreApp({ dataDir: dir.dir, plugins: [watcher] });
    try {
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      for (const mac of macs) {
        await store.append(`boot-${mac}`, [ev('BootStageChanged', 50, { mac }), ev('BootStageChanged', 40, { mac })], 'any');
        await core.exec(new DetectClientCommand({ mac, via: 'test' }, commandMeta('plugin:test')));
        await store.append(`boot-${mac}`, [ev('BootStageChanged', 39, { mac })], 'any');
      }
      await core.exec(new ApproveClientCommand({ mac: macs[0], name: null, imageId: null }, commandMeta('admin:test')));
      // While running: the scavenge runs under the live read models and plugin.
      assert.equal(await core.app.nest.get(BootRetention).apply(NOW), 4);
      await core.exec(new ApproveClientCommand({ mac: macs[1], name: null, imageId: null }, commandMeta('admin:test')));
      assert.equal(core.queries.client(macs[1])!.status, 'approved');
    } finally {
      await core.close();
    }
    const before = [...seenByPlugin];
    // Restart from the snapshots: nothing new to replay, everything there.
    core = await startCoreApp({ dataDir: dir.dir, plugins: [watcher] });
    try {
      assert.deepEqual(
        macs.map((m) => core.queries.client(m)?.status),
        ['approved', 'approved'],
      );
      await core.exec(new DetectClientCommand({ mac: 'dc:a6:32:00:50:03', via: 'test' }, commandMeta('plugin:test')));
      for (let i = 0; i < 100 && !seenByPlugin.some((s) => s.startsWith('ClientDetected') && !before.includes(s)); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(seenByPlugin.length, before.length + 1, 'the plugin view caught up and follows live');
    } finally {
      await core.close();
    }
    // And a rebuild from the first event (no snapshot) over the gaps gives the same read models.
    rmSync(path.join(dir.dir, 'read-models.snapshot.json'), { force: true });
    core = await startCoreApp({ dataDir: dir.dir });
    try {
      assert.deepEqual(
        [...macs, 'dc:a6:32:00:50:03'].map((m) => core.queries.client(m)?.status),
        ['approved', 'approved', 'pending'],
      );
      const boot = await core.app.nest.get<EventStore>(EVENT_STORE).readAll({ limit: 100, filter: { streamPrefixes: ['boot-'] } });
      assert.equal(boot.length, 2, 'the last event of each boot stream stays');
    } finally {
      await core.close();
    }
  });
});

describe('boot retention (KurrentDB $maxAge)', () => {
  it('maps a stream to its $maxAge: the longest matching prefix, whole seconds; no rule, no metadata', () => {
    const rules = [RULE, { streamPrefix: 'boot-dc:', maxAgeSeconds: 7 * 86_400 + 0.5 }];
    assert.deepEqual(retentionMetadataFor('boot-b8:27:eb:00:00:01', rules), { maxAge: 30 * 86_400 });
    assert.deepEqual(retentionMetadataFor('boot-dc:a6:32:00:00:01', rules), { maxAge: 7 * 86_400 });
    assert.equal(retentionMetadataFor('client-b8:27:eb:00:00:01', rules), null);
    assert.equal(retentionMetadataFor('boot-x', []), null);
    assert.equal(retentionMetadataFor('boot-x', [{ streamPrefix: 'boot-', maxAgeSeconds: 0 }]), null);
    assert.equal(retentionMetadataFor('anything', [{ streamPrefix: '', maxAgeSeconds: 10 }]), null, 'an empty prefix matches nothing');
  });
});
