/**
 * The NFS plugin end to end with the ganesha backend: bramble in-process, its nfs-ganesha and
 * rpcbind in the lab's server namespace (private mount namespace, tmpfs /run: test/support/nfs-lab.ts),
 * real NFS clients (libnfs-utils) in Pi namespaces over NFSv3 and NFSv4. Clients, images and users
 * change through the API as an admin would (image versions as the image jobs record them: events),
 * and the exports follow without a restart of ganesha (SIGHUP), which is checked.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BootSessions } from '../../../src/core/boot/boot-sessions';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { definePlugin, type PluginContext } from '../../../src/core/plugin-api';
import { createNfsPlugin } from '../../../src/plugins/nfs/nfs.plugin';
import { Metrics } from '../../../src/core/observability/metrics';
import { PluginRegistry } from '../../../src/core/plugin-host/plugin-registry';
import { startHarness, type Harness } from '../../support/app-harness';
import { counterValues, sum } from '../../support/metric-values';
import { canUseNetns } from '../../support/netlab';
import { missingTool, NfsLab, PI2_MAC, PI_MAC, type LabHost } from '../../support/nfs-lab';
import { eventually, tempDir } from '../../support/temp';

const skip = canUseNetns() ?? missingTool(['ganesha.nfsd', 'rpcbind', 'rpcinfo', 'nfs-cat', 'nfs-ls', 'nfs-cp', 'nsenter']) ?? false;

function makeRoot(dir: string, hostname: string): void {
  for (const d of ['etc', 'usr/bin', 'boot/firmware']) mkdirSync(path.join(dir, d), { recursive: true });
  writeFileSync(path.join(dir, 'etc', 'hostname'), `${hostname}\n`);
}

interface PluginRow {
  name: string;
  status: string;
  detail: string | null;
  checks: Record<string, unknown>;
}

describe('NFS plugin with nfs-ganesha, real clients in namespaces', { skip, timeout: 240_000 }, () => {
  let lab: NfsLab;
  let harness: Harness;
  let tmp: { dir: string; cleanup(): void };
  let probe: PluginContext | null = null;
  let imageRoot: string;
  let homes: string;
  let imageId: string;
  let aliceUid = 0;
  let aliceGid = 0;

  const health = async (): Promise<PluginRow> => {
    const data = await harness.ok<{ plugins: PluginRow[] }>('{ plugins { name status detail checks } }');
    return data.plugins.find((p) => p.name === 'nfs')!;
  };
  const cat = (host: LabHost, file: string, version: 3 | 4, as: { uid?: number; gid?: number } = {}) =>
    lab.nfs(host, 'nfs-cat', [lab.url(file, version, as)]);
  /** Waits until `host` reads `file` with this content (or, `expected` null, is refused). */
  const until = async (host: LabHost, file: string, version: 3 | 4, expected: string | null, what: string) => {
    let last = '';
    try {
      await eventually(
        async () => {
          const r = await cat(host, file, version);
          last = `code ${r.code} ${r.stdout.slice(0, 80)} ${r.stderr.slice(0, 200)}`;
          return expected === null ? r.code !== 0 : r.code === 0 && r.stdout === expected;
        },
        15_000,
        what,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message} (last try: ${last})`);
    }
  };

  before(async () => {
    tmp = tempDir('bramble-nfs-e2e-');
    imageRoot = path.join(tmp.dir, 'images', 'pi os', 'v1');
    makeRoot(imageRoot, 'root-v1');
    homes = path.join(tmp.dir, 'homes');
    lab = await NfsLab.create();
    const probePlugin = () =>
      definePlugin({
        name: 'probe',
        start(ctx) {
          probe = ctx as unknown as PluginContext;
        },
      });
    harness = await startHarness({
      env: { BRAMBLE_SERVER_IP: lab.serverIp },
      plugins: [createNfsPlugin({ spawn: lab.spawn, restartBackoffMs: 200 }), probePlugin],
    });
    await harness.ok('mutation ($v: JSON!) { updatePluginSettings(plugin: "nfs", values: $v) { name } }', { v: { homesPath: homes } });
  });

  after(async () => {
    await harness?.close().catch(() => undefined);
    if (lab) await lab.destroy();
    tmp?.cleanup();
  });

  it('starts its own ganesha on the server address: health up, no exports yet', async () => {
    await eventually(async () => (await health()).status === 'up', 20_000, 'nfs plugin up');
    const h = await health();
    assert.equal(h.checks.backend, 'ganesha');
    assert.equal(h.checks.bindAddress, lab.serverIp);
    assert.equal(h.checks.exports, 0);
    assert.equal(typeof h.checks.ganeshaPid, 'number');
    // mountd on its fixed port (the README's firewall table), not a random one.
    const listening = await lab.netlab.exec('server', 'ss', ['-Hltn', 'sport = :20048']);
    assert.match(listening.stdout, new RegExp(`${lab.serverIp.replace(/\./g, '\\.')}\\]?:20048 `));
    // Its part of an image conversion: where the homes are, over NFSv4 (served).
    const registry = harness.app.nest.get(PluginRegistry);
    assert.deepEqual(await registry.conversionContributions(), { homes: { exportPath: homes, nfsVersion: 4 } });
    // Nothing reaches anyone yet: no export.
    assert.notEqual((await cat('pi', `${imageRoot}/etc/hostname`, 3)).code, 0);
  });

  it('an approved Pi reads its image root over NFSv3 and NFSv4; an unknown address and a pending Pi are refused', async () => {
    imageId = (
      await harness.ok<{ registerImage: { id: string } }>('mutation ($p: String!) { registerImage(name: "Pi OS", path: $p) { id } }', {
        p: imageRoot,
      })
    ).registerImage.id;
    await harness.ok('mutation ($m: String!, $i: String) { approveClient(mac: $m, imageId: $i) { mac } }', { m: PI_MAC, i: imageId });
    await probe!.commands.learnClientAddress(PI_MAC, lab.ipOf('pi'));
    await probe!.commands.detectClient({ mac: PI2_MAC, ip: lab.ipOf('pi2'), via: 'test' });
    await until('pi', `${imageRoot}/etc/hostname`, 3, 'root-v1\n', 'the Pi reads its root over v3');
    const v4 = await cat('pi', `${imageRoot}/etc/hostname`, 4);
    assert.equal(v4.code, 0, v4.stderr);
    assert.equal(v4.stdout, 'root-v1\n');
    const listing = await lab.nfs('pi', 'nfs-ls', [lab.url(`${imageRoot}/etc`, 4)]);
    assert.match(listing.stdout, /hostname/);
    for (const host of ['stranger', 'pi2'] as const) {
      for (const version of [3, 4] as const) {
        const r = await cat(host, `${imageRoot}/etc/hostname`, version);
        assert.notEqual(r.code, 0, `${host} v${version} must be refused`);
        assert.equal(r.stdout, '');
      }
    }
    // Read-only, even for the Pi: a write is refused.
    const src = path.join(tmp.dir, 'upload.txt');
    writeFileSync(src, 'x');
    assert.notEqual((await lab.nfs('pi', 'nfs-cp', [src, lab.url(`${imageRoot}/etc/new.txt`, 3)])).code, 0);
    assert.ok(!existsSync(path.join(imageRoot, 'etc', 'new.txt')));
    const conf = readFileSync(path.join(harness.dataDir, 'plugins', 'nfs', 'ganesha', 'ganesha.conf'), 'utf8');
    assert.match(conf, new RegExp(`Clients = ${lab.ipOf('pi').replace(/\./g, '\\.')};`));
    // The v3 mount is a boot fact of this Pi, naming the image version it mounted.
    // Facts are kept by the core's live boot sessions (only stage changes are stored).
    const boot = harness.app.nest.get(BootSessions);
    const mountedFacts = () => boot.recentFacts(PI_MAC).filter((f) => f.fact === 'nfs.root-mounted');
    await eventually(() => mountedFacts().length > 0, 5000, 'the nfs.root-mounted boot fact');
    const mounted = mountedFacts();
    assert.equal(mounted.length, 1, 'once, though the Pi mounted several times');
    assert.equal(mounted[0].ip, lab.ipOf('pi'));
    assert.deepEqual(mounted[0].detail, { imageId, imageVersion: 1, export: imageRoot, nfsVersion: 3 });
    const metrics = harness.app.nest.get(Metrics);
    assert.deepEqual([...(await counterValues(metrics, 'bramble_nfs_exports', 'kind'))].sort(), [
      ['homes', 1],
      ['image', 1],
    ]);
    assert.equal(sum(await counterValues(metrics, 'bramble_nfs_root_mounts_total', '')), 1);
    assert.ok(sum(await counterValues(metrics, 'bramble_nfs_applies_total', 'backend')) >= 2);
    assert.ok(((await health()).checks.ganeshaReloads as number) >= 1, 'applied by reload');
  });

  it("a new user's home folder: made 0700 for the user, read-write as that uid over v3 and v4, root squashed, refused to others", async () => {
    await harness.ok('mutation { createUser(input: { username: "alice", password: "correct horse battery" }) { username } }');
    const users = await harness.ok<{ users: { username: string; uidNumber: number; gidNumber: number }[] }>(
      '{ users { username uidNumber gidNumber } }',
    );
    const alice = users.users.find((u) => u.username === 'alice')!;
    aliceUid = alice.uidNumber;
    aliceGid = alice.gidNumber;
    const home = path.join(homes, 'alice');
    // mkdir, then chown through a descriptor: wait for the owner, not only the folder.
    await eventually(() => existsSync(home) && statSync(home).uid === aliceUid, 5000, 'home folder made and owned');
    const st = statSync(home);
    assert.equal(st.uid, aliceUid);
    assert.equal(st.gid, aliceGid);
    assert.equal(st.mode & 0o777, 0o700);

    const as = { uid: aliceUid, gid: aliceGid };
    const src = path.join(tmp.dir, 'notes.txt');
    writeFileSync(src, 'written over nfs\n');
    for (const version of [3, 4] as const) {
      const put = await lab.nfs('pi', 'nfs-cp', [src, lab.url(`${homes}/alice/notes-v${version}.txt`, version, as)]);
      assert.equal(put.code, 0, `write v${version}: ${put.stderr}`);
      assert.equal(statSync(path.join(home, `notes-v${version}.txt`)).uid, aliceUid);
      const back = await cat('pi', `${homes}/alice/notes-v${version}.txt`, version, as);
      assert.equal(back.stdout, 'written over nfs\n');
      // root on the Pi is squashed to nobody: alice's 0700 folder is closed to it.
      assert.notEqual((await cat('pi', `${homes}/alice/notes-v${version}.txt`, version, { uid: 0, gid: 0 })).code, 0);
      // Another uid on the Pi: closed too.
      assert.notEqual((await cat('pi', `${homes}/alice/notes-v${version}.txt`, version, { uid: aliceUid + 1, gid: aliceGid })).code, 0);
      assert.notEqual((await cat('stranger', `${homes}/alice/notes-v${version}.txt`, version, as)).code, 0);
    }
  });

  it('exports follow approval and removal without restarting ganesha', async () => {
    const pid = (await health()).checks.ganeshaPid;
    await harness.ok('mutation ($m: String!, $i: String) { approveClient(mac: $m, imageId: $i) { mac } }', { m: PI2_MAC, i: imageId });
    await until('pi2', `${imageRoot}/etc/hostname`, 4, 'root-v1\n', 'pi2 reads once approved');
    await harness.ok('mutation ($m: String!) { removeClient(mac: $m) }', { m: PI2_MAC });
    await until('pi2', `${imageRoot}/etc/hostname`, 4, null, 'pi2 refused once removed');
    assert.notEqual((await cat('pi2', `${imageRoot}/etc/hostname`, 3)).code, 0);
    assert.equal((await cat('pi', `${imageRoot}/etc/hostname`, 3)).stdout, 'root-v1\n', 'the other Pi is not disturbed');
    assert.equal((await health()).checks.ganeshaPid, pid, 'same ganesha process');
  });

  it('a new image version is exported beside the old one, and unexported when deleted', async () => {
    const v2 = path.join(tmp.dir, 'images', 'pi os', 'v2');
    makeRoot(v2, 'root-v2');
    const store = harness.app.nest.get<EventStore>(EVENT_STORE);
    const meta = () => ({
      actor: 'system',
      correlationId: 'nfs-e2e',
      causationId: null,
      timestamp: new Date().toISOString(),
      schemaVersion: 1,
    });
    const data = {
      imageId,
      version: 2,
      parentVersion: 1,
      reason: 'convert',
      path: v2,
      bootPath: `${v2}/boot/firmware`,
      changes: [],
      command: null,
    };
    await store.append(`image-${imageId}`, [{ type: 'ImageVersionCreated', data, metadata: meta() }], 'any');
    await until('pi', `${v2}/etc/hostname`, 3, 'root-v2\n', 'the new version is exported');
    assert.equal((await cat('pi', `${imageRoot}/etc/hostname`, 4)).stdout, 'root-v1\n', 'the old version stays');
    await store.append(`image-${imageId}`, [{ type: 'ImageVersionDeleted', data: { imageId, version: 2 }, metadata: meta() }], 'any');
    await until('pi', `${v2}/etc/hostname`, 3, null, 'the deleted version is unexported');
  });

  it('an image path a config cannot carry is refused and reported, never written', async () => {
    const evil = path.join(tmp.dir, 'images', 'evil"; } EXPORT { Path = "');
    makeRoot(evil, 'evil');
    await harness.ok('mutation ($p: String!) { registerImage(name: "Evil", path: $p) { id } }', { p: evil });
    await eventually(async () => (await health()).status === 'degraded', 5000, 'health degraded');
    const h = await health();
    assert.match(h.detail!, /not exported .*evil/);
    assert.equal(h.checks.refusedExports, 1);
    const conf = readFileSync(path.join(harness.dataDir, 'plugins', 'nfs', 'ganesha', 'ganesha.conf'), 'utf8');
    assert.doesNotMatch(conf, /evil/);
    assert.equal((await cat('pi', `${imageRoot}/etc/hostname`, 3)).stdout, 'root-v1\n');
  });

  it('a deleted user: home folder moved to the archive, not deleted', async () => {
    await harness.ok('mutation { deleteUser(username: "alice") }');
    await eventually(() => !existsSync(path.join(homes, 'alice')), 5000, 'home folder moved');
    const archived = readdirSync(`${homes}.archive`);
    assert.equal(archived.length, 1);
    assert.match(archived[0], /^alice-\d{8}T\d{6}Z$/);
    assert.equal(readFileSync(path.join(`${homes}.archive`, archived[0], 'notes-v3.txt'), 'utf8'), 'written over nfs\n');
  });

  it("a symlink planted under a new user's name: not followed, not chowned, reported in health", async () => {
    const target = path.join(tmp.dir, 'not-a-home');
    mkdirSync(target, { mode: 0o755 });
    symlinkSync(target, path.join(homes, 'mallory'));
    await harness.ok('mutation { createUser(input: { username: "mallory", password: "correct horse battery" }) { username } }');
    await eventually(async () => ((await health()).checks.homeFolderProblems as number) === 1, 5000, 'the problem in health');
    const h = await health();
    assert.equal(h.status, 'degraded');
    assert.match(h.detail ?? '', /home of mallory: exists and is not a folder \(a symlink\)/);
    assert.equal(statSync(target).uid, 0);
    assert.equal(statSync(target).mode & 0o777, 0o755);
  });

  it('clientSubnet: any address in it reads the roots, but the homes stay with approved addresses', async () => {
    const subnet = `${lab.serverIp.split('.').slice(0, 3).join('.')}.0/24`;
    await harness.ok('mutation ($v: JSON!) { updatePluginSettings(plugin: "nfs", values: $v) { name } }', { v: { clientSubnet: subnet } });
    await until('stranger', `${imageRoot}/etc/hostname`, 3, 'root-v1\n', 'an unknown address in the subnet reads the root');
    assert.notEqual((await lab.nfs('stranger', 'nfs-ls', [lab.url(homes, 4)])).code, 0, 'homes not to the subnet');
    assert.equal((await lab.nfs('pi', 'nfs-ls', [lab.url(homes, 4)])).code, 0, 'homes still to the approved Pi');
    await harness.ok('mutation { updatePluginSettings(plugin: "nfs", values: {}, reset: ["clientSubnet"]) { name } }');
    await until('stranger', `${imageRoot}/etc/hostname`, 3, null, 'the subnet export withdrawn');
  });

  it('versions [4]: ganesha restarts without NFSv3; v3 is refused, v4 still served', async () => {
    const pid = (await health()).checks.ganeshaPid;
    await harness.ok('mutation ($v: JSON!) { updatePluginSettings(plugin: "nfs", values: $v) { name } }', { v: { versions: [4] } });
    await eventually(
      async () => {
        const h = await health();
        return h.status !== 'down' && typeof h.checks.ganeshaPid === 'number' && h.checks.ganeshaPid !== pid;
      },
      20_000,
      'a restarted ganesha',
    );
    await until('pi', `${imageRoot}/etc/hostname`, 4, 'root-v1\n', 'v4 served');
    assert.notEqual((await cat('pi', `${imageRoot}/etc/hostname`, 3)).code, 0, 'v3 refused');
    await harness.ok('mutation { updatePluginSettings(plugin: "nfs", values: {}, reset: ["versions"]) { name } }');
    await until('pi', `${imageRoot}/etc/hostname`, 3, 'root-v1\n', 'v3 back');
  });

  it('a killed ganesha is restarted and serves again; health says why it went down meanwhile', async () => {
    const pid = (await health()).checks.ganeshaPid as number;
    process.kill(pid, 'SIGKILL');
    await eventually(
      async () => {
        const h = await health();
        return h.status === 'down' && /ganesha\.nfsd exited \(SIGKILL\)/.test(h.detail ?? '');
      },
      5000,
      'health down with the reason',
    );
    await eventually(
      async () => {
        const h = await health();
        return typeof h.checks.ganeshaPid === 'number' && h.checks.ganeshaPid !== pid && h.status !== 'down';
      },
      20_000,
      'a new ganesha',
    );
    assert.ok(((await health()).checks.ganeshaRestarts as number) >= 1);
    await until('pi', `${imageRoot}/etc/hostname`, 3, 'root-v1\n', 'served again after the restart');
  });

  it('stopping bramble stops ganesha and rpcbind', async () => {
    assert.ok(lab.processesInside().length >= 1, 'ganesha runs in the lab');
    await harness.close();
    assert.deepEqual(lab.processesInside(), []);
  });
});
