/**
 * Bad input gets a clear error with a stable code and a field, and nothing is stored: MACs that name
 * no machine, text that is not valid Unicode, a data directory bramble cannot use. Refusals are
 * logged at info, not as errors of bramble.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/core/config/config';
import { prepareDataDir } from '../../src/core/config/data-dir';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import { startHarness, type Harness } from '../support/app-harness';
import { recordingLogger, tempDir } from '../support/temp';

describe('bad input over the API', () => {
  let h: Harness;
  const { logger, lines } = recordingLogger();
  before(async () => {
    h = await startHarness({ logger });
  });
  after(() => h.close());

  const expectError = async (query: string, variables: Record<string, unknown>, code: string, field?: string): Promise<void> => {
    const res = await h.gql(query, variables);
    assert.equal(res.errors?.[0]?.extensions?.code, code, `${query} ${JSON.stringify(variables)}: ${res.text}`);
    if (field !== undefined) assert.equal(res.errors?.[0]?.extensions?.field, field);
  };

  for (const [mac, why] of [
    ['00:00:00:00:00:00', 'all-zero'],
    ['ff:ff:ff:ff:ff:ff', 'broadcast'],
    ['01:00:5e:00:00:fb', 'multicast'],
    ['33-33-00-00-00-01', 'multicast'],
  ] as const) {
    it(`refuses the ${why} MAC ${mac}: VALIDATION on mac, in a mutation and in an import row`, async () => {
      await expectError('mutation ($m: String!) { approveClient(mac: $m) { mac } }', { m: mac }, 'VALIDATION', 'mac');
      const res = await h.ok<{ importClients: { ok: boolean; code: string }[] }>(
        'mutation ($c: String!) { importClients(csv: $c) { ok code } }',
        { c: `${mac},lab-1\n` },
      );
      assert.deepEqual(res.importClients, [{ ok: false, code: 'VALIDATION' }]);
    });
  }

  it('refuses text with a lone surrogate anywhere in a command, naming the field, and stores nothing', async () => {
    const store = h.app.nest.get<EventStore>(EVENT_STORE);
    const before = await store.headPosition();
    await expectError(
      'mutation ($u: CreateUserInput!) { createUser(input: $u) { username } }',
      { u: { username: 'ada', password: 'Secret-Pass-1', fullName: 'Ada \ud800 Lovelace' } },
      'VALIDATION',
      'fullName',
    );
    await expectError(
      'mutation ($p: String!) { createUser(input: { username: "bob", password: $p }) { username } }',
      { p: 'pass\udc00word' },
      'VALIDATION',
      'password',
    );
    await expectError(
      'mutation ($c: String!) { importUsers(csv: $c) { ok } }',
      { c: 'carol,Secret-Pass-9,Carol \udfff\n' },
      'VALIDATION',
      'csv',
    );
    await expectError(
      'mutation ($n: String!) { approveClient(mac: "dc:a6:32:00:00:01", name: $n) { mac } }',
      { n: 'lab\ud83d' },
      'VALIDATION',
      'name',
    );
    assert.equal(await store.headPosition(), before, 'nothing was stored');
    // A well-formed pair (an emoji) is text like any other.
    const ok = await h.ok(
      'mutation { createUser(input: { username: "dora", password: "Secret-Pass-1", fullName: "Dora 🙂" }) { fullName } }',
    );
    assert.equal(ok.createUser.fullName, 'Dora 🙂');
  });

  it('logs refusals at info (with their code), never as errors of bramble', async () => {
    await h.gql('mutation { disableUser(username: "nobody") { username } }');
    const refused = lines.filter((l) => l.msg === 'request refused');
    assert.ok(refused.some((l) => l.code === 'USER_NOT_FOUND' && l.level === 'info'));
    assert.deepEqual(
      lines.filter((l) => l.level === 'error'),
      [],
    );
  });
});

describe('a data directory bramble cannot use is refused at once, naming the cause', () => {
  const dir = tempDir('bramble-data-dir-');
  after(() => dir.cleanup());

  for (const bad of ['/proc/bramble', '/sys/bramble/data', '/dev/shm/bramble', '/proc']) {
    it(bad, () => {
      assert.throws(
        () => prepareDataDir(bad),
        (e: unknown) => e instanceof ConfigError && e.key === 'BRAMBLE_DATA_DIR' && /pseudo file system/.test(e.message),
      );
    });
  }

  it('also through a symlink', () => {
    const link = path.join(dir.dir, 'to-proc');
    symlinkSync('/proc/self', link);
    assert.throws(() => prepareDataDir(path.join(link, 'data')), /inside \/proc/);
  });

  it('a file in the way: ENOTDIR or EEXIST, in words', () => {
    const file = path.join(dir.dir, 'file');
    execFileSync('touch', [file]);
    assert.throws(() => prepareDataDir(path.join(file, 'data')), /cannot create .*ENOTDIR \(a part of the path is a file, not a folder\)/);
  });

  it('creates a missing data directory owner-only', () => {
    const fresh = path.join(dir.dir, 'fresh', 'data');
    prepareDataDir(fresh);
    assert.equal((execFileSync('stat', ['-c', '%a', fresh], { encoding: 'utf8' }) as string).trim(), '700');
  });

  it(
    'a read-only file system: `npm start` exits 2 with "EROFS (the file system is read-only)", no stack trace',
    { skip: process.getuid?.() !== 0 ? 'mounting needs root' : false },
    () => {
      const mountPoint = path.join(dir.dir, 'ro');
      mkdirSync(mountPoint);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', mountPoint]);
      try {
        const main = path.join(__dirname, '..', '..', 'src', 'main.js');
        const run = spawnSync(process.execPath, [main], {
          env: { ...process.env, BRAMBLE_DATA_DIR: mountPoint, BRAMBLE_HTTP_PORT: '0' },
          encoding: 'utf8',
          timeout: 30_000,
        });
        assert.equal(run.status, 2, run.stderr);
        assert.match(run.stderr, /bramble: config: BRAMBLE_DATA_DIR: cannot write in .*: EROFS \(the file system is read-only\)/);
        assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      } finally {
        execFileSync('umount', [mountPoint]);
      }
    },
  );
});
