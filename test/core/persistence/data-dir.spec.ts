/**
 * The data directory is private and has one owner: created 0700 with every file in it 0600
 * whatever the umask (the event store's WAL holds every password hash), looser modes left by an
 * older bramble are tightened, and a second bramble on the same directory refuses to start.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApproveClientCommand } from '../../../src/core/commands/client.commands';
import { CreateUserCommand } from '../../../src/core/commands/user.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { DataDirLockedError } from '../../../src/core/persistence/data-dir-lock';
import { startCoreApp } from '../../support/core-app';
import { startServer } from '../../support/server-process';
import { recordingLogger, tempDir } from '../../support/temp';

const modeOf = (p: string): number => statSync(p).mode & 0o777;

/** Every path under `dir` (itself included) with its mode, as `path: 0mode`. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': `0${modeOf(dir).toString(8)}` };
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      out[path.relative(dir, p)] = `0${modeOf(p).toString(8)}`;
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('the data directory', () => {
  let tmp: ReturnType<typeof tempDir>;
  let umask: number;
  before(() => {
    tmp = tempDir('bramble-datadir-');
    umask = process.umask(0o022); // permissive, as on most hosts
  });
  after(() => {
    process.umask(umask);
    tmp.cleanup();
  });

  it('a first start creates it 0700, and events.db, its WAL and shm, the snapshot, the admin token and the lock 0600', async () => {
    const dataDir = path.join(tmp.dir, 'fresh', 'data');
    const core = await startCoreApp({ dataDir, env: { BRAMBLE_ADMIN_TOKEN: '' } }); // generates admin-token
    await core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:11:22:33', name: 'pi' }, commandMeta('admin:test')));
    await core.engine.saveSnapshot();
    const running = modes(dataDir);
    await core.close();
    assert.deepEqual(running, {
      '.': '0700',
      'admin-token': '0600',
      'bramble.lock': '0600',
      'events.db': '0600',
      'events.db-shm': '0600',
      'events.db-wal': '0600',
      'read-models.snapshot.json': '0600',
    });
  });

  it('the sqlite store alone creates its directory 0700 and its files 0600', async () => {
    const file = path.join(tmp.dir, 'alone', 'nested', 'events.db');
    const store = await SqliteEventStore.open({ file });
    await store.append(
      's-1',
      [
        {
          type: 'T',
          data: {},
          metadata: { actor: 'system', correlationId: 'c', causationId: null, timestamp: new Date().toISOString(), schemaVersion: 1 },
        },
      ],
      'no_stream',
    );
    assert.deepEqual(modes(path.dirname(file)), { '.': '0700', 'events.db': '0600', 'events.db-shm': '0600', 'events.db-wal': '0600' });
    await store.close();
  });

  it('tightens an existing directory and everything in it (plugins/ included) that others could read, with a warning', async () => {
    const dataDir = path.join(tmp.dir, 'old');
    mkdirSync(path.join(dataDir, 'plugins', 'dhcp'), { recursive: true });
    const first = await SqliteEventStore.open({ file: path.join(dataDir, 'events.db') });
    await first.close();
    writeFileSync(path.join(dataDir, 'plugins', 'dhcp', 'leases.json'), '{}');
    writeFileSync(path.join(dataDir, 'plugins', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    for (const [p, mode] of [
      ['.', 0o755],
      ['events.db', 0o644],
      ['plugins', 0o755],
      ['plugins/dhcp', 0o777],
      ['plugins/dhcp/leases.json', 0o666],
    ] as const) {
      chmodSync(path.join(dataDir, p), mode);
    }
    const { logger, lines } = recordingLogger();
    const core = await startCoreApp({ dataDir, logger });
    await core.close();
    const after = modes(dataDir);
    assert.equal(after['.'], '0700');
    assert.equal(after['events.db'], '0600');
    assert.equal(after['plugins'], '0700');
    assert.equal(after['plugins/dhcp'], '0700');
    assert.equal(after['plugins/dhcp/leases.json'], '0600');
    assert.equal(after['plugins/run.sh'], '0700', 'owner bits are kept');
    const warned = lines
      .filter((l) => l.level === 'warn' && /tightened the mode/.test(String(l.msg)))
      .map((l) => path.relative(dataDir, String(l.path)) || '.');
    assert.deepEqual(warned.sort(), ['.', 'events.db', 'plugins', 'plugins/dhcp', 'plugins/dhcp/leases.json', 'plugins/run.sh']);
  });

  it("everything a run writes there is bramble's own: a restart tightens all of it, process-managers/ included", async () => {
    const dataDir = path.join(tmp.dir, 'whole-run');
    let core = await startCoreApp({ dataDir });
    await core.exec(new CreateUserCommand({ username: 'ada', password: 'Secret-Pass-1', groups: ['pupils'] }, commandMeta('admin:test')));
    await core.exec(new ApproveClientCommand({ mac: 'dc:a6:32:11:22:34', name: 'pi' }, commandMeta('admin:test')));
    await core.close();
    const written = Object.keys(modes(dataDir));
    assert.ok(written.includes('process-managers/membership.checkpoint.json'), written.join(', '));
    for (const p of written) chmodSync(path.join(dataDir, p), statSync(path.join(dataDir, p)).isDirectory() ? 0o755 : 0o644);
    const { logger, lines } = recordingLogger();
    core = await startCoreApp({ dataDir, logger });
    await core.close();
    assert.deepEqual(
      lines.filter((l) => /not bramble's/.test(String(l.msg))),
      [],
      "no file of bramble's is taken for someone else's",
    );
    for (const [p, mode] of Object.entries(modes(dataDir))) {
      assert.equal(mode, statSync(path.join(dataDir, p)).isDirectory() ? '0700' : '0600', p);
    }
  });

  it("a data directory that also holds files that are not bramble's (a shared place) is not chmod'ed, nor are they; bramble's own files are", async () => {
    const dataDir = path.join(tmp.dir, 'shared-place');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    writeFileSync(path.join(dataDir, 'notes.txt'), "not bramble's", { mode: 0o644 });
    writeFileSync(path.join(dataDir, 'admin-token'), 'old-token-0123456789\n', { mode: 0o644 });
    const { logger, lines } = recordingLogger();
    const core = await startCoreApp({ dataDir, logger });
    await core.close();
    const after = modes(dataDir);
    assert.equal(after['.'], '0755');
    assert.equal(after['notes.txt'], '0644');
    assert.equal(after['admin-token'], '0600');
    assert.equal(after['events.db'], '0600');
    assert.ok(lines.some((l) => l.level === 'warn' && /holds files that are not bramble's/.test(String(l.msg))));
  });

  it('one process per data directory: a second one in the same process is refused until the first closes', async () => {
    const dataDir = path.join(tmp.dir, 'shared-in-process');
    const first = await startCoreApp({ dataDir });
    await assert.rejects(
      startCoreApp({ dataDir }),
      (e: unknown) => e instanceof DataDirLockedError && e.code === 'DATA_DIR_LOCKED' && e.pid === process.pid,
    );
    await first.close();
    const second = await startCoreApp({ dataDir });
    await second.close();
  });

  it(
    "a second `node dist/src/main.js` on the same data directory exits non-zero naming the first one's pid; a SIGKILLed first one does not lock it for good",
    { timeout: 90_000 },
    async () => {
      const dataDir = path.join(tmp.dir, 'shared');
      const first = await startServer(dataDir);
      let second: Awaited<ReturnType<typeof startServer>> | undefined;
      try {
        await first.healthy();
        second = await startServer(dataDir);
        const { code } = await second.exit;
        assert.equal(code, 1);
        assert.match(
          second.output(),
          new RegExp(
            `bramble: refusing to start: data directory ${dataDir} is in use by another bramble process \\(pid ${first.child.pid}, holding ${dataDir}/bramble.lock\\)`,
          ),
        );
        assert.doesNotMatch(second.output(), /\n\s+at /, 'no stack trace');
        // The first one is still serving, untouched.
        assert.equal((await fetch(`${first.url}/health`)).status, 200);
      } finally {
        await first.stop('SIGKILL');
        await second?.stop('SIGKILL');
      }
      const third = await startServer(dataDir);
      try {
        const health = await third.healthy();
        assert.equal(health.eventStore.status, 'up');
      } finally {
        assert.equal((await third.stop('SIGTERM')).code, 0);
      }
    },
  );
});
