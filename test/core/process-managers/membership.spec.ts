/**
 * The membership process manager: user ↔ group membership as a named cross-stream flow with its own
 * checkpoint. It converges after a SIGKILL between the user's append and the groups' appends, and
 * after a full disk refused the groups' appends; replaying it changes nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CreateUserCommand, DeleteUserCommand, SetUserGroupsCommand } from '../../../src/core/commands/user.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { HealthService } from '../../../src/core/observability/health.service';
import { readCheckpointFile } from '../../../src/core/persistence/checkpoint-file';
import { MembershipProcessManager } from '../../../src/core/process-managers/membership.process-manager';
import { startCoreApp, type CoreApp } from '../../support/core-app';
import { faultyStore, type Faults } from '../../support/faulty-store';
import { waitForExit } from '../../support/netlab';
import { eventually, tempDir } from '../../support/temp';

const admin = () => commandMeta('admin:test');
const members = (core: CoreApp, group: string): readonly string[] => core.queries.group(group)?.members ?? [];

describe('membership process manager', () => {
  it('keeps the groups in step with the users: create, change, delete', async () => {
    const core = await startCoreApp();
    try {
      await core.exec(new CreateUserCommand({ username: 'ada', password: 'Secret-Pass-1', groups: ['pupils'] }, admin()));
      assert.deepEqual(members(core, 'pupils'), ['ada'], 'the answer already shows the membership');
      await core.exec(new SetUserGroupsCommand({ username: 'ada', groups: ['teachers'] }, admin()));
      assert.deepEqual(members(core, 'pupils'), []);
      assert.deepEqual(members(core, 'teachers'), ['ada']);
      await core.exec(new DeleteUserCommand({ username: 'ada' }, admin()));
      assert.deepEqual(members(core, 'teachers'), []);
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      const change = (await store.readStream('group-teachers')).find((e) => e.type === 'GroupMembersChanged')!;
      assert.equal(change.metadata.actor, 'system:membership');
      const cause = (await store.readStream('user-ada')).find((e) => e.type === 'UserGroupsChanged')!;
      assert.equal(change.metadata.causationId, cause.id, 'each change names the user event that caused it');
    } finally {
      await core.close();
    }
  });

  it('converges after a SIGKILL between the user append and the group appends', async () => {
    const data = tempDir('bramble-membership-crash-');
    try {
      const first = await startCoreApp({ dataDir: data.dir }); // the default groups exist before the child starts
      await first.app.close();
      const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'support', 'membership-crash-child.js'), data.dir, 'grace'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      await waitForExit(child, 30_000);
      assert.equal(child.signalCode, 'SIGKILL', `the child was killed mid-command (stdout: ${out})`);

      const core = await startCoreApp({ dataDir: data.dir });
      try {
        assert.ok(core.queries.user('grace'), 'the user was acknowledged before the kill');
        await eventually(
          () => members(core, 'pupils').includes('grace') && members(core, 'teachers').includes('grace'),
          10_000,
          'membership after restart',
        );
        assert.deepEqual(core.app.nest.get(MembershipProcessManager).memberships().grace, ['pupils', 'teachers']);
        const retry = await core.bus
          .execute(new CreateUserCommand({ username: 'grace', password: 'Crash-Test-Pass-1' }, admin()))
          .catch((e: { code: string }) => e.code);
        assert.equal(retry, 'USER_EXISTS');
      } finally {
        await core.close();
      }
    } finally {
      data.cleanup();
    }
  });

  it('retries while the disk is full (degraded in /health), then converges without a restart', async () => {
    const faults: Faults = { streams: /^group-/, mode: 'full', full: false };
    const core = await startCoreApp({ wrapStore: (store) => faultyStore(store, faults) });
    const pm = core.app.nest.get(MembershipProcessManager);
    pm.retryMs = 20;
    pm.maxRetryMs = 100;
    try {
      faults.full = true;
      const created = core.bus.execute(
        new CreateUserCommand({ username: 'alan', password: 'Secret-Pass-2', groups: ['teachers'] }, admin()),
      );
      await eventually(() => (faults.refused ?? 0) >= 3, 5000, 'group appends refused');
      const health = await core.app.nest.get(HealthService).report();
      assert.equal(health.processManagers.membership.status, 'degraded');
      assert.match(health.processManagers.membership.detail ?? '', /alan.*database or disk is full; retrying/);
      assert.equal(health.status, 'degraded');
      faults.full = false;
      await created;
      await eventually(() => members(core, 'teachers').includes('alan'), 5000, 'membership after the disk was freed');
      assert.equal((await core.app.nest.get(HealthService).report()).processManagers.membership.status, 'up');
    } finally {
      await core.close();
    }
  });

  it("a first start on an empty store saves its checkpoint under the store's identity (its first event), not null", async () => {
    const data = tempDir('bramble-membership-fingerprint-');
    try {
      const core = await startCoreApp({ dataDir: data.dir });
      await core.exec(new CreateUserCommand({ username: 'ada', password: 'Secret-Pass-4', groups: ['pupils'] }, admin()));
      const [first] = await core.app.nest.get<EventStore>(EVENT_STORE).readAll({ limit: 1 });
      await core.close();
      const file = path.join(data.dir, 'process-managers', 'membership.checkpoint.json');
      const saved = await readCheckpointFile<unknown>(file, { kind: 'process-manager:membership', version: 1, validateState: () => null });
      assert.equal(saved.status, 'ok');
      // A null one would not match the store at the next start: the manager would replay every user event.
      assert.equal(saved.status === 'ok' && saved.body.storeFingerprint, first.id);
    } finally {
      data.cleanup();
    }
  });

  it('replaying from scratch (checkpoint lost) appends nothing: its commands are idempotent', async () => {
    const data = tempDir('bramble-membership-replay-');
    try {
      let core = await startCoreApp({ dataDir: data.dir });
      for (const username of ['u1', 'u2', 'u3']) {
        await core.exec(new CreateUserCommand({ username, password: 'Secret-Pass-3', groups: ['pupils', 'teachers'] }, admin()));
      }
      await core.exec(new SetUserGroupsCommand({ username: 'u2', groups: ['pupils'] }, admin()));
      const head = await core.app.nest.get<EventStore>(EVENT_STORE).headPosition();
      await core.close();
      rmSync(path.join(data.dir, 'process-managers'), { recursive: true, force: true });
      core = await startCoreApp({ dataDir: data.dir });
      try {
        assert.equal(await core.app.nest.get<EventStore>(EVENT_STORE).headPosition(), head, 'no event appended by the replay');
        assert.deepEqual(core.app.nest.get(MembershipProcessManager).memberships(), {
          u1: ['pupils', 'teachers'],
          u2: ['pupils'],
          u3: ['pupils', 'teachers'],
        });
        assert.deepEqual(members(core, 'teachers'), ['u1', 'u3']);
      } finally {
        await core.close();
      }
    } finally {
      data.cleanup();
    }
  });
});
