import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApproveClientCommand,
  AssignImageCommand,
  DetectClientCommand,
  ImportClientsCommand,
  RenameClientCommand,
  type ImportRowResult,
} from '../../../src/core/commands/client.commands';
import { DeleteImageCommand, RegisterImageCommand } from '../../../src/core/commands/image.commands';
import { UpdateSettingsCommand } from '../../../src/core/commands/system.commands';
import type { GlobalSettings } from '../../../src/core/domain/settings/settings.events';
import { commandMeta } from '../../../src/core/commands/meta';
import {
  CreateGroupCommand,
  CreateUserCommand,
  DeleteUserCommand,
  ImportUsersCommand,
  SetUserGroupsCommand,
  SetUserPasswordCommand,
} from '../../../src/core/commands/user.commands';
import { DomainError } from '../../../src/core/domain/shared/domain-error';
import { verifyPassword } from '../../../src/core/adapters/bcrypt-password-hasher';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { startCoreApp, type CoreApp } from '../../support/core-app';
import { tempDir } from '../../support/temp';

const admin = () => commandMeta('admin:test');

async function rejects(promise: Promise<unknown>, code: string, field?: string): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (field) assert.equal(error.field, field);
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** Every byte bramble stored: the event database, its WAL, and the read-model snapshot. */
function storedBytes(dataDir: string): string {
  return readdirSync(dataDir)
    .filter((f) => f.startsWith('events.db') || f.endsWith('.json'))
    .map((f) => readFileSync(path.join(dataDir, f)).toString('latin1'))
    .join('\n');
}

describe('command handlers (in-process bramble on sqlite)', () => {
  let core: CoreApp;
  let images: ReturnType<typeof tempDir>;
  before(async () => {
    core = await startCoreApp();
    images = tempDir('bramble-images-');
  });
  after(async () => {
    await core.close();
    images.cleanup();
  });

  it('creates the default groups pupils and teachers on first start', () => {
    assert.deepEqual(
      core.queries.groups().map((g) => [g.name, g.gidNumber]),
      [
        ['pupils', 10000],
        ['teachers', 10001],
      ],
    );
  });

  it('creates users with uidNumbers from 10000 upward, never reused, and a verifiable hash', async () => {
    const password = 'Correct-Horse-42';
    await core.exec(
      new CreateUserCommand({ username: 'ada', password, fullName: 'Ada Lovelace', groups: ['teachers', 'pupils'] }, admin()),
    );
    await core.exec(new CreateUserCommand({ username: 'bob', password: 'another-secret-1' }, admin()));
    const ada = core.queries.user('ada');
    assert.ok(ada);
    assert.equal(ada.uidNumber, 10000);
    assert.equal(ada.gidNumber, 10001, 'primary group is the first listed');
    assert.ok(ada.passwordHash.startsWith('{CRYPT}$2y$'));
    assert.equal(await verifyPassword(password, ada.passwordHash), true);
    assert.equal(core.queries.user('bob')?.uidNumber, 10001);
    assert.deepEqual(core.queries.user('bob')?.groups, ['pupils'], 'users without groups join pupils');
    assert.deepEqual(core.queries.group('teachers')?.members, ['ada']);
    assert.deepEqual(core.queries.group('pupils')?.members, ['ada', 'bob']);

    await core.exec(new DeleteUserCommand({ username: 'bob' }, admin()));
    assert.equal(core.queries.user('bob'), null);
    assert.deepEqual(core.queries.group('pupils')?.members, ['ada'], 'deletion leaves the groups');
    await core.exec(new CreateUserCommand({ username: 'bob', password: 'another-secret-2' }, admin()));
    assert.equal(core.queries.user('bob')?.uidNumber, 10002, 'a deleted uidNumber is never reused');

    await rejects(core.exec(new CreateUserCommand({ username: 'ada', password: 'whatever-123' }, admin())), 'USER_EXISTS');
    await rejects(core.exec(new CreateUserCommand({ username: 'Bad Name', password: 'whatever-123' }, admin())), 'VALIDATION', 'username');
    await rejects(core.exec(new CreateUserCommand({ username: 'carl', password: 'short' }, admin())), 'VALIDATION', 'password');
    await rejects(
      core.exec(new CreateUserCommand({ username: 'carl', password: 'long-enough-1', groups: ['nope'] }, admin())),
      'GROUP_NOT_FOUND',
    );

    await core.exec(new SetUserPasswordCommand({ username: 'ada', password: 'New-Password-77' }, admin()));
    assert.equal(await verifyPassword('New-Password-77', core.queries.user('ada')!.passwordHash), true);
    await core.exec(new SetUserGroupsCommand({ username: 'ada', groups: ['pupils'] }, admin()));
    assert.deepEqual(core.queries.group('teachers')?.members, []);

    const bytes = storedBytes(core.dataDir);
    for (const plain of [password, 'another-secret-1', 'another-secret-2', 'New-Password-77']) {
      assert.equal(bytes.includes(plain), false, `plaintext ${plain} must never be stored`);
    }
  });

  it('imports users row by row: bad rows are reported, good rows created, passwords never echoed', async () => {
    const csv = [
      'username,password,fullName,groups',
      'pupil1,pupil-pass-1,Pupil One,pupils',
      'Bad User,pupil-pass-2',
      'pupil3,tiny',
      'ada,dup-pass-123',
      'pupil5,pupil-pass-5,,teachers;pupils',
    ].join('\n');
    const results = await core.exec<ImportRowResult[]>(new ImportUsersCommand({ csv }, admin()));
    assert.deepEqual(
      results.map((r) => [r.line, r.ok, r.code]),
      [
        [2, true, null],
        [3, false, 'VALIDATION'],
        [4, false, 'VALIDATION'],
        [5, false, 'USER_EXISTS'],
        [6, true, null],
      ],
    );
    assert.equal(JSON.stringify(results).includes('tiny'), false);
    assert.equal(JSON.stringify(results).includes('pupil-pass'), false);
    assert.deepEqual(core.queries.user('pupil5')?.groups, ['teachers', 'pupils']);
  });

  it('approves, renames, assigns images, pre-registers, and refuses to delete an image in use', async () => {
    const root = path.join(images.dir, 'bookworm');
    for (const d of ['boot/firmware', 'etc', 'usr']) mkdirSync(path.join(root, d), { recursive: true });
    const reg = await core.exec<{ imageId: string }>(new RegisterImageCommand({ name: 'Raspberry Pi OS (Bookworm)', path: root }, admin()));
    assert.equal(reg.imageId, 'raspberry-pi-os-bookworm');
    assert.equal(core.queries.image(reg.imageId)?.bootPath, path.join(root, 'boot/firmware'));
    await rejects(core.exec(new RegisterImageCommand({ name: 'x', path: path.join(images.dir, 'missing') }, admin())), 'IMAGE_INVALID');

    await core.exec(
      new DetectClientCommand(
        { mac: 'DC-A6-32-AA-BB-01', serial: 'abcd1234', model: 'RPi4', via: 'dhcp', bootId: '1' },
        commandMeta('plugin:dhcp'),
      ),
    );
    assert.equal(core.queries.client('dc:a6:32:aa:bb:01')?.status, 'pending');
    await core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:aa:bb:01', name: 'lab-01', imageId: reg.imageId }, admin()));
    const c = core.queries.client('dc:a6:32:aa:bb:01');
    assert.equal(c?.status, 'approved');
    assert.equal(c?.imageId, reg.imageId);
    await rejects(core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:aa:bb:02', imageId: 'no-such-image' }, admin())), 'IMAGE_NOT_FOUND');
    await rejects(core.exec(new RenameClientCommand({ mac: '28:cd:c1:00:00:01', name: 'x' }, admin())), 'CLIENT_NOT_FOUND');
    await rejects(core.exec(new DeleteImageCommand({ imageId: reg.imageId }, admin())), 'IMAGE_IN_USE');
    await core.exec(new AssignImageCommand({ mac: 'dc:a6:32:aa:bb:01', imageId: null }, admin()));
    await core.exec(new DeleteImageCommand({ imageId: reg.imageId }, admin()));
    assert.equal(core.queries.image(reg.imageId), null);
    // The id of a deleted image is retired.
    const again = await core.exec<{ imageId: string }>(
      new RegisterImageCommand({ name: 'Raspberry Pi OS (Bookworm)', path: root }, admin()),
    );
    assert.equal(again.imageId, 'raspberry-pi-os-bookworm-2');

    const imported = await core.exec<ImportRowResult[]>(
      new ImportClientsCommand({ csv: 'mac,name\nb8:27:eb:00:00:10,pi3-a\nnot-a-mac,x\n# comment\n2c:cf:67:00:00:01,pi5-a\n' }, admin()),
    );
    assert.deepEqual(
      imported.map((r) => [r.line, r.ok]),
      [
        [2, true],
        [3, false],
        [5, true],
      ],
    );
    assert.equal(core.queries.client('b8:27:eb:00:00:10')?.preRegistered, true);
    assert.equal(core.queries.client('2c:cf:67:00:00:01')?.name, 'pi5-a');
  });

  it('retries on concurrency conflicts: 20 concurrent renames of one client all land, none lost', async () => {
    const mac = 'd8:3a:dd:00:00:01';
    await core.exec(new ApproveClientCommand({ mac }, admin()));
    const store = core.app.nest.get<EventStore>(EVENT_STORE);
    const names = Array.from({ length: 20 }, (_, i) => `n-${i}`);
    await Promise.all(names.map((name) => core.bus.execute(new RenameClientCommand({ mac, name }, admin()))));
    const renames = (await store.readStream(`client-${mac}`)).filter((e) => e.type === 'ClientRenamed');
    assert.equal(renames.length, 20);
    assert.deepEqual(
      renames.map((e) => e.revision),
      renames.map((_, i) => i + 1),
      'revisions are contiguous',
    );
  });

  it('records a known Pi again once per boot, not once per packet', async () => {
    const mac = 'e4:5f:01:00:00:77';
    const store = core.app.nest.get<EventStore>(EVENT_STORE);
    for (let i = 0; i < 50; i++)
      await core.bus.execute(new DetectClientCommand({ mac, via: 'dhcp', bootId: 'boot-1' }, commandMeta('plugin:dhcp')));
    for (let i = 0; i < 50; i++)
      await core.bus.execute(new DetectClientCommand({ mac, via: 'dhcp', bootId: 'boot-2' }, commandMeta('plugin:dhcp')));
    const types = (await store.readStream(`client-${mac}`)).map((e) => e.type);
    assert.deepEqual(types, ['ClientDetected', 'ClientRedetected']);
  });

  it('validates settings naming the field, and refuses fields pinned by the environment', async () => {
    const pinned = await startCoreApp({ env: { BRAMBLE_INTERFACE: 'eth1', BRAMBLE_SERVER_IP: '10.5.0.1' } });
    try {
      await rejects(pinned.exec(new UpdateSettingsCommand({ changes: { interface: 'eth0' } }, admin())), 'SETTING_PINNED');
      // Sending back the pinned value the API shows is not a change, so not an error.
      const same = await pinned.exec<{ position: number | null }>(
        new UpdateSettingsCommand({ changes: { interface: 'eth1', serverIp: '10.5.0.1' } }, admin()),
      );
      assert.equal(same.position, null);
      // The DHCP fields of 0.1 belong to the DHCP plugin now: the global settings refuse them by name.
      const legacy = { dhcpMode: 'full' } as unknown as Partial<GlobalSettings>;
      await rejects(pinned.exec(new UpdateSettingsCommand({ changes: legacy }, admin())), 'VALIDATION', 'dhcpMode');
      const s = pinned.queries.settings();
      assert.deepEqual(s, { interface: 'eth1', serverIp: '10.5.0.1' });
      await rejects(pinned.exec(new CreateGroupCommand({ name: 'pupils' }, admin())), 'GROUP_EXISTS');
    } finally {
      await pinned.close();
    }
  });
});
