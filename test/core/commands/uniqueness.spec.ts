/**
 * Names are unique because the event store says so (a stream per key, appended with an expected
 * revision), not because a read model that may lag says so: concurrent creates of one name give
 * exactly one success, also from two command runners (two processes) on one store.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { RegisterImageCommand, RenameImageCommand, DeleteImageCommand } from '../../../src/core/commands/image.commands';
import { CommandRunner } from '../../../src/core/commands/command-runner';
import { commandMeta } from '../../../src/core/commands/meta';
import { CreateGroupCommand, CreateUserCommand } from '../../../src/core/commands/user.commands';
import { uniqueKeyStream } from '../../../src/core/domain/unique/unique-key.decider';
import { userDecider } from '../../../src/core/domain/user/user.decider';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { silentLogger } from '../../../src/core/logging/logger';
import { startCoreApp, type CoreApp } from '../../support/core-app';
import { tempDir } from '../../support/temp';

const admin = () => commandMeta('admin:test');

async function outcomes(runs: Promise<unknown>[]): Promise<{ ok: number; codes: string[] }> {
  const settled = await Promise.allSettled(runs);
  return {
    ok: settled.filter((s) => s.status === 'fulfilled').length,
    codes: settled.flatMap((s) => (s.status === 'rejected' ? [(s.reason as { code?: string }).code ?? String(s.reason)] : [])),
  };
}

function imageTree(base: string, name: string): string {
  const root = path.join(base, name);
  for (const d of ['etc', 'usr', 'boot/firmware']) mkdirSync(path.join(root, d), { recursive: true });
  return root;
}

describe('uniqueness from the store', () => {
  it('20 concurrent createUser of one name: exactly one success, 19 USER_EXISTS, one UserCreated', async () => {
    const core = await startCoreApp();
    try {
      const runs = Array.from({ length: 20 }, (_, i) =>
        core.bus.execute(new CreateUserCommand({ username: 'ada', password: `Secret-Pass-${i}x`, fullName: `Ada ${i}` }, admin())),
      );
      const { ok, codes } = await outcomes(runs);
      assert.equal(ok, 1);
      assert.deepEqual(new Set(codes), new Set(['USER_EXISTS']));
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      assert.equal((await store.readStream('user-ada')).filter((e) => e.type === 'UserCreated').length, 1);
    } finally {
      await core.close();
    }
  });

  it('two command runners on one store (two processes) racing one name: one UserCreated; the loser sees USER_EXISTS', async () => {
    const core = await startCoreApp();
    try {
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      const a = new CommandRunner(store, silentLogger);
      const b = new CommandRunner(store, silentLogger);
      const create = (runner: CommandRunner, i: number) =>
        runner.run(
          'user-twin',
          userDecider,
          {
            type: 'CreateUser',
            username: 'twin',
            uidNumber: 20000 + i,
            gidNumber: 10000,
            fullName: '',
            groups: ['pupils'],
            passwordHash: '{CRYPT}$2y$04$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyzabcde',
          },
          admin(),
        );
      const { ok, codes } = await outcomes(Array.from({ length: 20 }, (_, i) => create(i % 2 ? a : b, i)));
      assert.equal(ok, 1);
      assert.deepEqual(new Set(codes), new Set(['USER_EXISTS']));
      assert.equal((await store.readStream('user-twin')).length, 1);
    } finally {
      await core.close();
    }
  });

  it('20 concurrent createGroup of one name: one success, GROUP_EXISTS for the rest', async () => {
    const core = await startCoreApp();
    try {
      const { ok, codes } = await outcomes(
        Array.from({ length: 20 }, () => core.bus.execute(new CreateGroupCommand({ name: 'class-7b' }, admin()))),
      );
      assert.equal(ok, 1);
      assert.deepEqual(new Set(codes), new Set(['GROUP_EXISTS']));
    } finally {
      await core.close();
    }
  });

  describe('images: the name and the folder are claimed', () => {
    let core: CoreApp;
    const dirs = tempDir('bramble-unique-images-');

    it('20 concurrent registrations of one name (different folders): one success, IMAGE_EXISTS on name', async () => {
      core = await startCoreApp();
      const runs = Array.from({ length: 20 }, (_, i) =>
        core.bus.execute(new RegisterImageCommand({ name: 'Lab OS', path: imageTree(dirs.dir, `lab-${i}`) }, admin())),
      );
      const settled = await Promise.allSettled(runs);
      assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 1);
      for (const s of settled) if (s.status === 'rejected') assert.deepEqual([s.reason.code, s.reason.field], ['IMAGE_EXISTS', 'name']);
    });

    it('one folder under two names: IMAGE_EXISTS on path, also through a symlink to it', async () => {
      const tree = imageTree(dirs.dir, 'shared');
      await core.exec(new RegisterImageCommand({ name: 'First', path: tree }, admin()));
      await assert.rejects(
        core.bus.execute(new RegisterImageCommand({ name: 'Second', path: `${tree}/.` }, admin())),
        (e: { code: string; field: string }) => e.code === 'IMAGE_EXISTS' && e.field === 'path',
      );
    });

    it('rename frees the old name, delete frees name and folder', async () => {
      const tree = imageTree(dirs.dir, 'renamed');
      const { imageId } = await core.exec<{ imageId: string }>(new RegisterImageCommand({ name: 'Old Name', path: tree }, admin()));
      await core.exec(new RenameImageCommand({ imageId, name: 'New Name' }, admin()));
      await core.exec(new RegisterImageCommand({ name: 'Old Name', path: imageTree(dirs.dir, 'other') }, admin()));
      await core.exec(new DeleteImageCommand({ imageId }, admin()));
      await core.exec(new RegisterImageCommand({ name: 'New Name', path: tree }, admin()));
      assert.ok(core.queries.images().some((i) => i.name === 'New Name' && i.path === tree));
    });

    it('a claim left by a crash (its owner never registered) is taken over', async () => {
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      await store.append(
        uniqueKeyStream('image-name', 'Ghost OS'),
        [
          {
            type: 'UniqueKeyClaimed',
            data: { kind: 'image-name', key: 'Ghost OS', owner: 'ghost-os-crashed' },
            metadata: { ...admin(), schemaVersion: 1 },
          },
        ],
        'no_stream',
      );
      await core.exec(new RegisterImageCommand({ name: 'Ghost OS', path: imageTree(dirs.dir, 'ghost') }, admin()));
      assert.ok(core.queries.images().some((i) => i.name === 'Ghost OS'));
      await core.close();
      dirs.cleanup();
    });
  });
});
