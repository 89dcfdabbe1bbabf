/**
 * Reserved names through the command handlers, on a real (sqlite) store: refused when a user or
 * group is created, imported or given groups, before any uid/gid number is used up; but a user
 * and group already stored with such names (written before the rule) replay after a restart and
 * can still be changed and deleted.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ImportRowResult } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import {
  CreateGroupCommand,
  CreateUserCommand,
  DeleteGroupCommand,
  DeleteUserCommand,
  DisableUserCommand,
  ImportUsersCommand,
  SetUserGroupsCommand,
} from '../../../src/core/commands/user.commands';
import { groupStream } from '../../../src/core/domain/group/group.events';
import { DomainError } from '../../../src/core/domain/shared/domain-error';
import { userStream } from '../../../src/core/domain/user/user.events';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { MembershipProcessManager } from '../../../src/core/process-managers/membership.process-manager';
import { startCoreApp } from '../../support/core-app';
import { tempDir } from '../../support/temp';

const admin = () => commandMeta('admin:test');
const REASON = "reserved: a system account of the Pi's OS";

async function rejects(promise: Promise<unknown>, code: string, field: string): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.field, field, error.message);
    return error;
  }
  assert.fail(`expected ${code} on ${field}`);
}

describe('reserved names at command time', () => {
  it('refuses them for create, import and setUserGroups, without using up a uid or gid number', async () => {
    const core = await startCoreApp();
    try {
      const pi = await rejects(
        core.exec(new CreateUserCommand({ username: 'pi', password: 'raspberry-1' }, admin())),
        'VALIDATION',
        'username',
      );
      assert.equal(pi.message, `username: ${REASON} (\`pi\`)`);
      await rejects(
        core.exec(new CreateUserCommand({ username: 'systemd-foo', password: 'long-enough-1' }, admin())),
        'VALIDATION',
        'username',
      );
      // VALIDATION on groups, not GROUP_NOT_FOUND: the name is refused before it is looked up.
      const sudo = await rejects(
        core.exec(new CreateUserCommand({ username: 'ada', password: 'long-enough-1', groups: ['pupils', 'sudo'] }, admin())),
        'VALIDATION',
        'groups',
      );
      assert.equal(sudo.message, `groups: ${REASON} (\`sudo\`)`);
      await rejects(core.exec(new CreateGroupCommand({ name: 'gpio' }, admin())), 'VALIDATION', 'name');
      await rejects(core.exec(new CreateGroupCommand({ name: ' video ' }, admin())), 'VALIDATION', 'name');

      await core.exec(new CreateUserCommand({ username: 'ada', password: 'long-enough-1' }, admin()));
      assert.equal(core.queries.user('ada')?.uidNumber, 10000, 'the refused users used no uid number');
      await core.exec(new CreateGroupCommand({ name: 'lab' }, admin()));
      assert.equal(core.queries.group('lab')?.gidNumber, 10002, 'the refused groups used no gid number (pupils 10000, teachers 10001)');

      await rejects(core.exec(new SetUserGroupsCommand({ username: 'ada', groups: ['pupils', 'adm'] }, admin())), 'VALIDATION', 'groups');
      assert.deepEqual(core.queries.user('ada')?.groups, ['pupils']);

      const results = await core.exec<ImportRowResult[]>(
        new ImportUsersCommand({ csv: 'pi,raspberry-1\nbob,builder-123,,pupils;plugdev\ncarol,carolina-99,,lab\n' }, admin()),
      );
      assert.deepEqual(
        results.map((r) => [r.line, r.ok, r.code, r.message]),
        [
          [1, false, 'VALIDATION', `username: ${REASON} (\`pi\`)`],
          [2, false, 'VALIDATION', `groups: ${REASON} (\`plugdev\`)`],
          [3, true, null, null],
        ],
      );
      assert.equal(core.queries.user('pi'), null);
      assert.equal(core.queries.user('bob'), null);
      assert.equal(core.queries.user('carol')?.uidNumber, 10001);
    } finally {
      await core.close();
    }
  });

  it('a user and group stored with reserved names replay after a restart, and can be changed and deleted', async () => {
    const data = tempDir('bramble-reserved-');
    try {
      // Written straight to the store, as a bramble from before the rule would have.
      let core = await startCoreApp({ dataDir: data.dir });
      try {
        const store = core.app.nest.get<EventStore>(EVENT_STORE);
        const metadata = { ...admin(), timestamp: new Date().toISOString(), schemaVersion: 1 };
        await store.append(
          groupStream('video'),
          [{ type: 'GroupCreated', data: { name: 'video', gidNumber: 10044 }, metadata }],
          'no_stream',
        );
        const appended = await store.append(
          userStream('pi'),
          [
            {
              type: 'UserCreated',
              data: {
                username: 'pi',
                uidNumber: 10044,
                gidNumber: 10000,
                fullName: 'Old Pi',
                groups: ['pupils', 'video'],
                passwordHash: '{CRYPT}$2b$04$abcdefghijklmnopqrstuu5vxBz4IvTtG5BEJ3y0eSTzD8CDVhk3e',
              },
              metadata,
            },
          ],
          'no_stream',
        );
        assert.equal(await core.app.nest.get(MembershipProcessManager).waitFor(appended.position), true);
        await core.engine.waitFor(await store.headPosition());
        assert.deepEqual(core.queries.group('video')?.members, ['pi']);
      } finally {
        await core.close();
      }

      // Without the read-model snapshot and the membership checkpoint: everything replays from the events.
      for (const file of ['read-models.snapshot.json', path.join('process-managers', 'membership.checkpoint.json')]) {
        rmSync(path.join(data.dir, file), { force: true });
      }
      core = await startCoreApp({ dataDir: data.dir });
      try {
        const pi = core.queries.user('pi');
        assert.ok(pi, 'the stored user replays');
        assert.equal(pi.uidNumber, 10044);
        assert.deepEqual(pi.groups, ['pupils', 'video']);
        assert.deepEqual(core.queries.group('video')?.members, ['pi']);
        assert.deepEqual(core.queries.group('pupils')?.members, ['pi']);

        await core.exec(new DisableUserCommand({ username: 'pi' }, admin()));
        assert.equal(core.queries.user('pi')?.enabled, false);
        await core.exec(new SetUserGroupsCommand({ username: 'pi', groups: ['pupils'] }, admin()));
        assert.deepEqual(core.queries.group('video')?.members, []);
        await core.exec(new DeleteGroupCommand({ name: 'video' }, admin()));
        assert.equal(core.queries.group('video'), null);
        await core.exec(new DeleteUserCommand({ username: 'pi' }, admin()));
        assert.equal(core.queries.user('pi'), null);
        await rejects(core.exec(new CreateUserCommand({ username: 'pi', password: 'raspberry-1' }, admin())), 'VALIDATION', 'username');
      } finally {
        await core.close();
      }
    } finally {
      data.cleanup();
    }
  });
});
