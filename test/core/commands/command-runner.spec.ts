import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CommandRunner } from '../../../src/core/commands/command-runner';
import { commandMeta } from '../../../src/core/commands/meta';
import { clientDecider } from '../../../src/core/domain/client/client.decider';
import type { EventStore, ExpectedRevision, NewEvent } from '../../../src/core/event-store/event-store.port';
import { WrongExpectedRevisionError } from '../../../src/core/event-store/event-store.port';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { silentLogger } from '../../../src/core/logging/logger';
import { tempDir } from '../../support/temp';

describe('CommandRunner', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteEventStore;
  before(async () => {
    tmp = tempDir();
    store = await SqliteEventStore.open({ file: path.join(tmp.dir, 'r.db') });
  });
  after(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('reloads and decides again when another writer got there first', async () => {
    const mac = 'dc:a6:32:10:20:30';
    const stream = `client-${mac}`;
    const other = new CommandRunner(store, silentLogger);
    await other.run(stream, clientDecider, { type: 'ApproveClient', mac, name: 'first', imageId: null }, commandMeta('admin:a'));

    // A store whose first append is preceded by a rival append to the same stream.
    let rivalDone = false;
    const racing: EventStore = Object.create(store) as EventStore;
    racing.append = async (s: string, events: NewEvent[], expected: ExpectedRevision) => {
      if (!rivalDone) {
        rivalDone = true;
        await other.run(stream, clientDecider, { type: 'RenameClient', mac, name: 'rival' }, commandMeta('admin:b'));
      }
      return store.append(s, events, expected);
    };
    const runner = new CommandRunner(racing, silentLogger);
    // Warm the runner's cache so its first attempt uses a stale revision.
    await runner.load(stream, clientDecider);
    const out = await runner.run(stream, clientDecider, { type: 'RejectClient', mac }, commandMeta('admin:c'));
    assert.deepEqual(
      out.events.map((e) => e.type),
      ['ClientRejected'],
    );
    const types = (await store.readStream(stream)).map((e) => e.type);
    assert.deepEqual(types, ['ClientApproved', 'ClientRenamed', 'ClientRejected']);
  });

  it('gives up after MAX_ATTEMPTS conflicts with the typed concurrency error', async () => {
    const failing: EventStore = Object.create(store) as EventStore;
    let attempts = 0;
    failing.append = async (s: string) => {
      attempts++;
      throw new WrongExpectedRevisionError(s, 0, 1);
    };
    const runner = new CommandRunner(failing, silentLogger);
    const mac = 'dc:a6:32:10:20:31';
    await assert.rejects(
      runner.run(`client-${mac}`, clientDecider, { type: 'ApproveClient', mac, name: null, imageId: null }, commandMeta('admin:a')),
      (e: unknown) => e instanceof WrongExpectedRevisionError && e.code === 'CONCURRENCY_CONFLICT',
    );
    assert.equal(attempts, CommandRunner.MAX_ATTEMPTS);
  });

  it('decides on its cached state without reading the stream: the append checks it', async () => {
    const mac = 'dc:a6:32:10:20:33';
    const stream = `client-${mac}`;
    let reads = 0;
    const counting: EventStore = Object.create(store) as EventStore;
    counting.readStream = (...args: Parameters<EventStore['readStream']>) => {
      reads++;
      return store.readStream(...args);
    };
    const runner = new CommandRunner(counting, silentLogger);
    await runner.run(stream, clientDecider, { type: 'ApproveClient', mac, name: 'one', imageId: null }, commandMeta('admin:a'));
    assert.equal(reads, 1, 'the first command reads the stream');
    await runner.run(stream, clientDecider, { type: 'RenameClient', mac, name: 'two' }, commandMeta('admin:a'));
    await runner.run(stream, clientDecider, { type: 'RejectClient', mac }, commandMeta('admin:a'));
    assert.equal(reads, 1, 'the next ones decide on the state the runner holds');
    assert.deepEqual(
      (await store.readStream(stream)).map((e) => e.type),
      ['ClientApproved', 'ClientRenamed', 'ClientRejected'],
    );
  });

  it('a decision with nothing to append on a cached state that another writer changed is made again on the stream', async () => {
    const mac = 'dc:a6:32:10:20:34';
    const stream = `client-${mac}`;
    const runner = new CommandRunner(store, silentLogger);
    const other = new CommandRunner(store, silentLogger);
    await runner.run(stream, clientDecider, { type: 'ApproveClient', mac, name: 'a', imageId: null }, commandMeta('admin:a'));
    await other.run(stream, clientDecider, { type: 'RenameClient', mac, name: 'b' }, commandMeta('admin:b'));
    // The runner still holds name "a": on that alone, renaming to "a" would change nothing.
    const out = await runner.run(stream, clientDecider, { type: 'RenameClient', mac, name: 'a' }, commandMeta('admin:a'));
    assert.deepEqual(
      out.events.map((e) => e.type),
      ['ClientRenamed'],
    );
    assert.deepEqual(
      (await store.readStream(stream)).map((e) => (e.data as { name?: string }).name ?? e.type),
      ['a', 'b', 'a'],
    );
  });

  it('produces no append when the decision has no events', async () => {
    const mac = 'dc:a6:32:10:20:32';
    const runner = new CommandRunner(store, silentLogger);
    await runner.run(`client-${mac}`, clientDecider, { type: 'ApproveClient', mac, name: 'x', imageId: null }, commandMeta('admin:a'));
    const head = await store.headPosition();
    const out = await runner.run(
      `client-${mac}`,
      clientDecider,
      { type: 'ApproveClient', mac, name: 'x', imageId: null },
      commandMeta('admin:a'),
    );
    assert.equal(out.position, null);
    assert.equal(await store.headPosition(), head);
  });
});
