/**
 * The kernel backend: bramble in-process with the NFS plugin set to `backend: kernel`, its exports
 * file checked for content and for syntax by the real `exportfs -ra`, run in a private mount
 * namespace where a temp file is bind-mounted over /etc/exports and a temp folder over
 * /var/lib/nfs, so the host's exports and NFS state are never touched. This kernel has no nfsd:
 * exportfs parses the file and writes its export table (etab), which is what is checked.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { definePlugin, type PluginContext } from '../../../src/core/plugin-api';
import { KernelExports } from '../../../src/plugins/nfs/nfs.kernel';
import { createNfsPlugin } from '../../../src/plugins/nfs/nfs.plugin';
import type { Spawner } from '../../../src/plugins/nfs/nfs.process';
import { startHarness, type Harness } from '../../support/app-harness';
import { eventually, tempDir } from '../../support/temp';

function unavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (mount namespaces)';
  try {
    execFileSync('sh', ['-c', 'command -v exportfs && command -v unshare && test -f /etc/exports && test -d /var/lib/nfs'], {
      stdio: 'ignore',
    });
  } catch {
    return 'exportfs (nfs-kernel-server), /etc/exports or /var/lib/nfs missing';
  }
  return false;
}

/** Runs commands with `exportsFile` over /etc/exports and `stateDir` over /var/lib/nfs, privately. */
function privateNfsSpawner(exportsFile: string, stateDir: string): Spawner {
  return (command, args) =>
    spawn(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount --bind "$1" /etc/exports && mount --bind "$2" /var/lib/nfs && shift 2 && exec "$@"',
        'sh',
        exportsFile,
        stateDir,
        command,
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
}

function makeRoot(dir: string): void {
  for (const d of ['etc', 'usr', 'boot/firmware']) mkdirSync(path.join(dir, d), { recursive: true });
}

interface PluginRow {
  name: string;
  status: string;
  detail: string | null;
  checks: Record<string, unknown>;
}

describe('NFS plugin, kernel backend, checked by the real exportfs', { skip: unavailable(), timeout: 60_000 }, () => {
  let tmp: { dir: string; cleanup(): void };
  let harness: Harness;
  let probe: PluginContext | null = null;
  let exportsFile: string;
  let stateDir: string;
  let imageRoot: string;
  let homes: string;

  const health = async (): Promise<PluginRow> =>
    (await harness.ok<{ plugins: PluginRow[] }>('{ plugins { name status detail checks } }')).plugins.find((p) => p.name === 'nfs')!;
  const etab = () => readFileSync(path.join(stateDir, 'etab'), 'utf8');

  before(async () => {
    tmp = tempDir('bramble-nfs-kernel-');
    exportsFile = path.join(tmp.dir, 'exports.d', 'bramble.exports');
    stateDir = path.join(tmp.dir, 'var-lib-nfs');
    mkdirSync(stateDir);
    mkdirSync(path.dirname(exportsFile));
    writeFileSync(exportsFile, ''); // the bind-mount source must exist before the first write
    imageRoot = path.join(tmp.dir, 'images', 'pi os', 'v1');
    makeRoot(imageRoot);
    homes = path.join(tmp.dir, 'homes');
    harness = await startHarness({
      plugins: [
        createNfsPlugin({ spawn: privateNfsSpawner(exportsFile, stateDir) }),
        () =>
          definePlugin({
            name: 'probe',
            start(ctx) {
              probe = ctx as unknown as PluginContext;
            },
          }),
      ],
    });
  });

  after(async () => {
    await harness?.close();
    tmp?.cleanup();
  });

  it('without a server address the ganesha backend stays down and says why', async () => {
    const h = await health();
    assert.equal(h.status, 'down');
    assert.match(h.detail!, /no server address/);
  });

  it('writes the exports file and applies it with exportfs -ra; exportfs accepts it', async () => {
    await harness.ok('mutation ($v: JSON!) { updatePluginSettings(plugin: "nfs", values: $v) { name } }', {
      v: { backend: 'kernel', exportsFile, homesPath: homes },
    });
    const { registerImage } = await harness.ok<{ registerImage: { id: string } }>(
      'mutation ($p: String!) { registerImage(name: "Pi OS", path: $p) { id } }',
      {
        p: imageRoot,
      },
    );
    await harness.ok('mutation ($i: String) { approveClient(mac: "b8:27:eb:00:00:31", imageId: $i) { mac } }', { i: registerImage.id });
    await harness.ok('mutation { approveClient(mac: "b8:27:eb:00:00:32") { mac } }');
    await probe!.commands.learnClientAddress('b8:27:eb:00:00:31', '10.9.0.31');
    await probe!.commands.learnClientAddress('b8:27:eb:00:00:32', '10.9.0.32');
    await eventually(() => readFileSync(exportsFile, 'utf8').includes('10.9.0.32'), 5000, 'exports file written');
    await eventually(async () => (await health()).status === 'up', 5000, 'health up');
    // exportfs runs after the file is written: wait for the table of this change.
    await eventually(() => etab().includes(`${homes}\t10.9.0.32(`), 5000, 'export table updated');
    const text = readFileSync(exportsFile, 'utf8');
    assert.match(text, new RegExp(`^"${imageRoot}" 10\\.9\\.0\\.31\\(ro,sync,no_subtree_check,no_root_squash,sec=sys,fsid=\\d+\\)$`, 'm'));
    assert.match(text, new RegExp(`^"${homes}" 10\\.9\\.0\\.31\\(rw,[^)]*root_squash[^)]*\\) 10\\.9\\.0\\.32\\(rw,`, 'm'));
    // exportfs parsed it: its table has the path (spaces as \040) for exactly these clients.
    const table = etab();
    assert.match(table, new RegExp(`^${imageRoot.replace(/ /g, '\\\\040')}\\t10\\.9\\.0\\.31\\(ro,`, 'm'));
    assert.doesNotMatch(table, new RegExp(`^${imageRoot.replace(/ /g, '\\\\040')}\\t10\\.9\\.0\\.32`, 'm'));
    assert.match(table, new RegExp(`^${homes}\\t10\\.9\\.0\\.32\\(rw,`, 'm'));
    assert.equal((await health()).checks.exportsFile, exportsFile);
  });

  it('a removed client leaves the file and the export table', async () => {
    await harness.ok('mutation { removeClient(mac: "b8:27:eb:00:00:32") }');
    await eventually(() => !readFileSync(exportsFile, 'utf8').includes('10.9.0.32'), 5000, 'client gone from the file');
    await eventually(() => !etab().includes('10.9.0.32'), 5000, 'client gone from etab');
    assert.match(etab(), /10\.9\.0\.31/);
  });
});

describe('kernel backend: a failing exportfs', () => {
  it('is reported with its message, and the next good run clears it', async () => {
    const tmp = tempDir('bramble-nfs-kernel-fail-');
    try {
      const file = path.join(tmp.dir, 'sub', 'bramble.exports');
      let fail = true;
      const k = new KernelExports(file, (_command, _args) =>
        spawn('sh', ['-c', fail ? 'echo "exportfs: /etc/exports:1: unknown keyword \\"x\\"" >&2; exit 1' : 'exit 0'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      await k.apply('"/srv/a" 10.0.0.1(ro)\n');
      assert.equal(readFileSync(file, 'utf8'), '"/srv/a" 10.0.0.1(ro)\n');
      assert.match(k.problem ?? '', /^exportfs -ra failed \(1\): exportfs: \/etc\/exports:1: unknown keyword "x"$/);
      assert.equal(k.applied, 0);
      fail = false;
      await k.apply('"/srv/b" 10.0.0.1(ro)\n');
      assert.equal(k.problem, null);
      assert.equal(k.applied, 1);
    } finally {
      tmp.cleanup();
    }
  });
});
