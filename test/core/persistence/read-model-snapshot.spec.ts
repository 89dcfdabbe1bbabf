/**
 * The read-model snapshot is trusted only when it proves itself, and a snapshot AHEAD of the
 * store (acknowledged events lost, e.g. with the WAL) refuses the start instead of quietly
 * serving a fleet without them.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApproveClientCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { EventsMissingError, readCheckpointFile, writeCheckpointFile } from '../../../src/core/persistence/checkpoint-file';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { CORE_EVENT_TYPES } from '../../../src/core/events/known-event-types';
import { silentLogger } from '../../../src/core/logging/logger';
import { READ_MODEL_VERSION, serializeReadModels, type SerializedReadModels } from '../../../src/core/projections/core-projections';
import { ProjectionEngine, READ_MODEL_SNAPSHOT_KIND } from '../../../src/core/projections/projection-engine';
import { validateSerializedReadModels } from '../../../src/core/projections/read-model-schema';
import { startCoreApp, type CoreApp } from '../../support/core-app';
import { startServer } from '../../support/server-process';
import { recordingLogger, tempDir } from '../../support/temp';

const SNAPSHOT = 'read-models.snapshot.json';
const mac = (i: number) => `dc:a6:32:77:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

async function approve(core: CoreApp, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++)
    await core.exec(new ApproveClientCommand({ mac: mac(i), name: `pi-${i}` }, commandMeta('admin:test')));
}

async function head(core: CoreApp): Promise<number> {
  return core.app.nest.get<EventStore>(EVENT_STORE).headPosition();
}

describe('the read-model snapshot', () => {
  const dirs: ReturnType<typeof tempDir>[] = [];
  const dir = (): string => {
    const d = tempDir('bramble-snapshot-');
    dirs.push(d);
    return d.dir;
  };
  after(() => dirs.forEach((d) => d.cleanup()));

  /** A data dir with 20 clients, its snapshot written at the head. */
  let seeded: string;
  let seededHead: number;
  before(async () => {
    seeded = dir();
    const core = await startCoreApp({ dataDir: seeded });
    await approve(core, 0, 20);
    seededHead = await head(core);
    await core.close();
    const read = await readCheckpointFile<SerializedReadModels>(path.join(seeded, SNAPSHOT), {
      kind: READ_MODEL_SNAPSHOT_KIND,
      version: READ_MODEL_VERSION,
      validateState: validateSerializedReadModels,
    });
    assert.equal(read.status, 'ok', 'bramble reads back the snapshot it wrote');
    assert.equal(read.status === 'ok' && read.body.checkpoint, seededHead);
  });

  /** A copy of the seeded data dir whose snapshot is replaced by `content`; started, then its clients. */
  async function startWithSnapshot(content: string): Promise<{ clients: number; warnings: Record<string, unknown>[] }> {
    const copy = dir();
    copyFileSync(path.join(seeded, 'events.db'), path.join(copy, 'events.db'));
    writeFileSync(path.join(copy, SNAPSHOT), content);
    const { logger, lines } = recordingLogger();
    const core = await startCoreApp({ dataDir: copy, logger });
    try {
      return {
        clients: core.queries.engine.state.clients.size,
        warnings: lines.filter((l) => l.level === 'warn' && /snapshot/.test(String(l.msg))),
      };
    } finally {
      await core.close();
    }
  }

  const fingerprintOf = (): string =>
    (JSON.parse(readFileSync(path.join(seeded, SNAPSHOT), 'utf8')) as { storeFingerprint: string }).storeFingerprint;

  it('the schema accepts what every projection writes (clients with addresses, users, groups, images, tokens, settings)', async () => {
    const store = await SqliteEventStore.open({ file: path.join(dir(), 'events.db') });
    const meta = { actor: 'admin:test', correlationId: 'c', causationId: null, timestamp: new Date().toISOString(), schemaVersion: 1 };
    const append = (stream: string, type: string, data: unknown) => store.append(stream, [{ type, data, metadata: meta }], 'any');
    await append('client-dc:a6:32:00:00:01', 'ClientDetected', {
      mac: 'dc:a6:32:00:00:01',
      serial: '1234abcd',
      model: 'RPi4',
      ip: '10.0.0.5',
      via: 'dhcp',
      bootId: 'b',
    });
    await append('client-dc:a6:32:00:00:01', 'ClientApproved', {
      mac: 'dc:a6:32:00:00:01',
      name: 'pi',
      imageId: 'img',
      preRegistered: false,
    });
    await append('client-dc:a6:32:00:00:02', 'ClientApproved', {
      mac: 'dc:a6:32:00:00:02',
      name: null,
      imageId: null,
      preRegistered: true,
    });
    await append('group-pupils', 'GroupCreated', { name: 'pupils', gidNumber: 10000 });
    await append('group-pupils', 'GroupMembersChanged', { name: 'pupils', members: ['ada'] });
    await append('user-ada', 'UserCreated', {
      username: 'ada',
      uidNumber: 10001,
      gidNumber: 10000,
      fullName: 'Ada',
      groups: ['pupils'],
      passwordHash: '{CRYPT}$2y$10$x',
    });
    await append('user-ada', 'UserDisabled', { username: 'ada' });
    await append('image-img', 'ImageRegistered', { imageId: 'img', name: 'Bookworm', path: '/srv/img', bootPath: '/srv/img/boot' });
    await append('auth-tokens', 'ApiTokenIssued', { name: 'admin', sha256: 'ab'.repeat(32) });
    await append('settings', 'SettingsUpdated', { changes: { dhcpMode: 'full', dnsServers: ['10.0.0.1'], gateway: '10.0.0.1' } });
    const engine = new ProjectionEngine(store, silentLogger, null, CORE_EVENT_TYPES, { snapshotFile: null });
    await engine.start();
    const state = serializeReadModels(engine.state);
    assert.deepEqual(
      [state.clients.length, state.clientByIp.length, state.users.length, state.groups.length, state.images.length, state.tokens.length],
      [2, 1, 1, 1, 1, 1],
    );
    assert.equal(validateSerializedReadModels(JSON.parse(JSON.stringify(state))), null);
    await engine.stop();
    await store.close();
  });

  it('`{"state":{}}` with the right version and checkpoint is rebuilt from the store, not served as an empty fleet', async () => {
    // The layout bramble 0.1.0 wrote (no checksum, no kind): today's reader trusts none of it.
    const legacy = JSON.stringify({
      version: READ_MODEL_VERSION,
      storeFingerprint: fingerprintOf(),
      checkpoint: seededHead,
      takenAt: new Date().toISOString(),
      state: {},
    });
    const a = await startWithSnapshot(legacy);
    assert.equal(a.clients, 20);
    assert.match(String(a.warnings[0]?.reason), /no checksum/);
    // The same, checksummed: the schema check refuses the state.
    const file = path.join(dir(), 'x.json');
    await writeCheckpointFile(file, {
      kind: READ_MODEL_SNAPSHOT_KIND,
      version: READ_MODEL_VERSION,
      storeFingerprint: fingerprintOf(),
      checkpoint: seededHead,
      takenAt: new Date().toISOString(),
      state: {},
    });
    const b = await startWithSnapshot(readFileSync(file, 'utf8'));
    assert.equal(b.clients, 20);
    assert.match(String(b.warnings[0]?.reason), /state: clients: missing/);
  });

  it('`checkpoint: "abc"` does not crash the start: the snapshot is rebuilt', async () => {
    const legacy = JSON.stringify({
      version: READ_MODEL_VERSION,
      storeFingerprint: fingerprintOf(),
      checkpoint: 'abc',
      takenAt: new Date().toISOString(),
      state: {},
    });
    assert.equal((await startWithSnapshot(legacy)).clients, 20);
  });

  it('a snapshot edited after it was written (checksum mismatch) or of the wrong shape is rebuilt', async () => {
    const good = readFileSync(path.join(seeded, SNAPSHOT), 'utf8');
    const edited = good.replace('"name":"pi-3"', '"name":"forged"');
    assert.notEqual(edited, good);
    const a = await startWithSnapshot(edited);
    assert.equal(a.clients, 20);
    assert.match(String(a.warnings[0]?.reason), /checksum mismatch/);
    // A client without its status, checksummed: the schema says so.
    const body = JSON.parse(good) as { state: SerializedReadModels } & Record<string, unknown>;
    delete (body.state.clients[0][1] as Record<string, unknown>).status;
    const file = path.join(dir(), 'x.json');
    const { checksum: _c, ...rest } = body;
    await writeCheckpointFile(file, rest as never);
    const b = await startWithSnapshot(readFileSync(file, 'utf8'));
    assert.equal(b.clients, 20);
    assert.match(String(b.warnings[0]?.reason), /state: clients\[0\]\.status: missing/);
  });

  it('a lost WAL: the snapshot is ahead of the store, so the start is refused, counting the missing events; the loss is accepted only for that exact head', async () => {
    // 20 clients checkpointed into events.db (a clean stop), then 60 more: acknowledged, in the WAL only.
    const live = dir();
    for (const f of ['events.db', SNAPSHOT]) copyFileSync(path.join(seeded, f), path.join(live, f));
    const core = await startCoreApp({ dataDir: live });
    await approve(core, 20, 60);
    const acknowledged = await head(core);
    await core.engine.saveSnapshot();
    assert.ok(existsSync(path.join(live, 'events.db-wal')));
    // The crash: the database file survives, its WAL does not.
    const lost = dir();
    for (const f of ['events.db', SNAPSHOT]) copyFileSync(path.join(live, f), path.join(lost, f));
    await core.close();

    await assert.rejects(startCoreApp({ dataDir: lost }), (e: unknown) => {
      assert.ok(e instanceof EventsMissingError);
      assert.equal(
        e.message,
        `read-model snapshot is at position ${acknowledged} but the event store ends at ${seededHead}: 60 acknowledged events are missing (was the WAL lost?).` +
          ` To accept the loss and rebuild from what is left, start once with BRAMBLE_ACCEPT_EVENT_LOSS=${seededHead}`,
      );
      return true;
    });
    // The refusal wrote nothing: still refused, and a flag naming another head does not help.
    await assert.rejects(
      startCoreApp({ dataDir: lost, env: { BRAMBLE_ACCEPT_EVENT_LOSS: String(seededHead - 1) } }),
      /60 acknowledged events are missing.*is set, but it names another head position/,
    );

    // The real server says the same on stderr, with no stack trace, and exits non-zero.
    const server = await startServer(lost);
    const { code } = await server.exit;
    assert.equal(code, 1);
    assert.match(
      server.output(),
      new RegExp(
        `bramble: refusing to start: read-model snapshot is at position ${acknowledged} but the event store ends at ${seededHead}: 60 acknowledged events are missing`,
      ),
    );
    assert.doesNotMatch(server.output(), /\n\s+at /, 'no stack trace');

    // Accepted deliberately: rebuilt from what is left, and the snapshot no longer claims the lost events.
    const { logger, lines } = recordingLogger();
    const accepted = await startCoreApp({ dataDir: lost, env: { BRAMBLE_ACCEPT_EVENT_LOSS: String(seededHead) }, logger });
    assert.equal(accepted.queries.engine.state.clients.size, 20);
    await accepted.close();
    assert.ok(lines.some((l) => l.level === 'warn' && /accepting a loss of acknowledged events/.test(String(l.msg)) && l.missing === 60));
    const again = await startCoreApp({ dataDir: lost });
    assert.equal(again.queries.engine.state.clients.size, 20);
    await again.close();
  });

  it('every event lost (an empty store behind a snapshot) is refused too, not taken for a new store', async () => {
    const lost = dir();
    copyFileSync(path.join(seeded, SNAPSHOT), path.join(lost, SNAPSHOT));
    await assert.rejects(
      startCoreApp({ dataDir: lost }),
      new RegExp(
        `at position ${seededHead} but the event store ends at 0: ${seededHead} acknowledged events are missing.*BRAMBLE_ACCEPT_EVENT_LOSS=0$`,
      ),
    );
    const accepted = await startCoreApp({ dataDir: lost, env: { BRAMBLE_ACCEPT_EVENT_LOSS: '0' } });
    assert.equal(accepted.queries.engine.state.clients.size, 0);
    await accepted.close();
    const again = await startCoreApp({ dataDir: lost });
    await again.close();
  });
});
