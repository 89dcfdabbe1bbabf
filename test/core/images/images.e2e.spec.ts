/**
 * Images through the GraphQL API, with the real adapters (GNU tar, mtools, debugfs, overlayfs,
 * chroot): import a Raspberry Pi OS-style disk image and a tarball, convert, run commands in new
 * versions (a test image made from the host's busybox, so no emulation), activate, roll back,
 * delete versions, clone, export, and the errors on the way. Progress and command output are
 * followed over graphql-ws subscriptions, as an admin's dashboard would.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { definePlugin, type PluginFactory } from '../../../src/core/plugin-api';
import { startHarness, subscribe, connected, type Harness } from '../../support/app-harness';
import { buildBusyboxImage } from '../../support/busybox-image';
import { buildDiskImage, buildTarball } from '../../support/image-fixtures';
import { eventually, tempDir } from '../../support/temp';

const JOB_FIELDS =
  'id kind imageId state phase bytesDone bytesTotal files version exitCode outputTail file warnings error { code message } changes { path action sha256 }';
const IMAGE_FIELDS =
  'id name path bootPath version managed converted architecture osRelease { versionCodename id } versions { version parentVersion reason path bootPath }';

interface Job {
  id: string;
  kind: string;
  imageId: string;
  state: string;
  phase: string;
  bytesDone: number;
  bytesTotal: number | null;
  files: number;
  version: number | null;
  exitCode: number | null;
  outputTail: string;
  file: string | null;
  warnings: string[];
  error: { code: string; message: string } | null;
  changes: { path: string; action: string; sha256: string | null }[];
}

interface ImageT {
  id: string;
  name: string;
  path: string;
  bootPath: string;
  version: number;
  managed: boolean;
  converted: boolean;
  architecture: string | null;
  osRelease: { versionCodename: string | null; id: string | null } | null;
  versions: { version: number; parentVersion: number | null; reason: string; path: string; bootPath: string }[];
}

/** A stand-in protocol plugin that says where homes are exported and how to reach LDAP (as the NFS and LDAP plugins do). */
const contributor: PluginFactory = () =>
  definePlugin({
    name: 'conversion-test',
    description: 'test: contributes to image conversion',
    start(ctx) {
      ctx.images.provideConversion(() => ({
        homes: { exportPath: '/srv/bramble/homes', nfsVersion: 3 },
        ldap: {
          host: '10.9.0.1',
          port: 389,
          baseDn: 'dc=bramble,dc=local',
          startTls: true,
          caCertificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
          caPath: '/etc/ssl/certs/bramble-ca.crt',
        },
      }));
    },
  });

describe('images over GraphQL', () => {
  let h: Harness;
  const tmp = tempDir('bramble-images-e2e-');
  let imagesDir: string;

  const job = async (id: string): Promise<Job> =>
    (await h.ok<{ imageJob: Job }>(`query ($id: String!) { imageJob(id: $id) { ${JOB_FIELDS} } }`, { id })).imageJob;
  const finished = async (id: string, timeoutMs = 60_000): Promise<Job> => {
    let last: Job | null = null;
    await eventually(
      async () => {
        last = await job(id);
        return last.state !== 'running';
      },
      timeoutMs,
      `job ${id} to finish`,
    );
    return last!;
  };
  const image = async (id: string): Promise<ImageT> =>
    (await h.ok<{ image: ImageT }>(`query ($id: String!) { image(id: $id) { ${IMAGE_FIELDS} } }`, { id })).image;
  const start = async (mutation: string, variables: Record<string, unknown>): Promise<Job> => {
    const res = await h.ok<Record<string, Job>>(mutation, variables);
    return Object.values(res)[0];
  };
  const events = async (type: string): Promise<{ type: string; data: Record<string, unknown> }[]> =>
    (
      await h.ok<{ events: { events: { type: string; data: Record<string, unknown> }[] } }>(
        `query ($t: [String!]) { events(filter: { types: $t }, first: 500) { events { type data } } }`,
        { t: [type] },
      )
    ).events.events;

  before(async () => {
    imagesDir = path.join(tmp.dir, 'images');
    h = await startHarness({ env: { BRAMBLE_SERVER_IP: '10.9.0.1', BRAMBLE_IMAGES_DIR: imagesDir }, plugins: [contributor] });
  });
  after(async () => {
    await h?.close();
    tmp.cleanup();
  });

  let lite: ImageT;

  it('imports a Raspberry Pi OS disk image (.img.xz), live progress over a subscription, one ImageImported with its sha256', async () => {
    const img = buildDiskImage(tmp.dir, {
      compression: 'xz',
      name: 'lite',
      files: {
        'etc/fstab':
          'proc            /proc           proc    defaults          0       0\nPARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2\nPARTUUID=4e639091-02  /               ext4    defaults,noatime  0       1\n',
      },
    });
    const client = h.ws();
    const progress = subscribe<{ imageJobProgress: Job }>(
      client,
      `subscription { imageJobProgress { id state phase bytesDone bytesTotal } }`,
    );
    await connected(client);
    await new Promise((r) => setTimeout(r, 100));
    const started = await start(`mutation ($n: String!, $s: String!) { importImage(name: $n, source: $s) { ${JOB_FIELDS} } }`, {
      n: 'Raspberry Pi OS Lite',
      s: img,
    });
    assert.equal(started.kind, 'import');
    assert.equal(started.imageId, 'raspberry-pi-os-lite');
    const done = await finished(started.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    await eventually(() => progress.results.some((r) => r.data?.imageJobProgress.state === 'succeeded'), 5000, 'the final update');
    const updates = progress.results.map((r) => r.data!.imageJobProgress).filter((u) => u.id === started.id);
    progress.unsubscribe();
    await client.dispose();
    assert.ok(updates.length >= 2, `${updates.length} updates`);
    assert.ok(
      updates.some((u) => u.state === 'running' && u.bytesDone > 0),
      'progress while running',
    );

    lite = await image(started.imageId);
    assert.equal(lite.version, 1);
    assert.equal(lite.managed, true);
    assert.equal(lite.architecture, 'arm64');
    assert.equal(lite.osRelease?.versionCodename, 'bookworm');
    assert.equal(lite.path, path.join(imagesDir, lite.id, 'v1'));
    assert.equal(lite.bootPath, path.join(lite.path, 'boot', 'firmware'));
    assert.ok(existsSync(path.join(lite.bootPath, 'start4.elf')), 'the FAT partition is in boot/firmware');
    assert.ok(existsSync(path.join(lite.path, 'etc', 'os-release')), 'the ext4 root is there');

    const imported = await events('ImageImported');
    assert.equal(imported.length, 1);
    const source = imported[0].data.source as { sha256: string; kind: string; sizeBytes: number };
    assert.equal(source.kind, 'disk-image');
    assert.equal(source.sha256, createHash('sha256').update(readFileSync(img)).digest('hex'));
    assert.equal(source.sizeBytes, statSync(img).size);
  });

  it('refuses bad sources: a system folder at once; a file that is no image as a failed job; nothing is left behind', async () => {
    const refused = await h.gql(`mutation { importImage(name: "x", source: "/etc") { id } }`);
    assert.equal(refused.errors?.[0]?.extensions?.code, 'VALIDATION');
    const junk = path.join(tmp.dir, 'junk.img');
    writeFileSync(junk, Buffer.alloc(4096, 7));
    const started = await start(`mutation ($s: String!) { importImage(name: "Junk", source: $s) { ${JOB_FIELDS} } }`, { s: junk });
    const done = await finished(started.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.error?.code, 'IMAGE_INVALID');
    assert.equal(existsSync(path.join(imagesDir, started.imageId)), false, 'no half image');
    assert.equal((await h.ok<{ image: null }>(`query ($id: String!) { image(id: $id) { id } }`, { id: started.imageId })).image, null);
  });

  it('converts the active version as a new version listing every file it changed; converting again changes nothing', async () => {
    const started = await start(`mutation ($id: String!) { convertImage(id: $id) { ${JOB_FIELDS} } }`, { id: lite.id });
    const done = await finished(started.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.version, 2);
    const changed = done.changes.map((c) => c.path);
    assert.ok(changed.includes('/etc/fstab'), changed.join(' '));
    assert.ok(changed.includes('/etc/nslcd.conf'), changed.join(' '));
    const after = await image(lite.id);
    assert.equal(after.version, 2);
    assert.equal(after.converted, true);
    const fstab = readFileSync(path.join(after.path, 'etc', 'fstab'), 'utf8');
    assert.match(fstab, /10\.9\.0\.1:\/srv\/bramble\/homes\s+\/home\s+nfs/);
    assert.match(fstab, /tmpfs\s+\/var\/log\s+tmpfs/);
    // Version 1 is untouched.
    assert.doesNotMatch(readFileSync(path.join(lite.path, 'etc', 'fstab'), 'utf8'), /bramble/);
    const versionEvents = await events('ImageVersionCreated');
    assert.deepEqual(
      (versionEvents.at(-1)!.data.changes as { path: string }[]).map((c) => c.path),
      changed,
      'the event lists the same files',
    );

    const again = await finished((await start(`mutation ($id: String!) { convertImage(id: $id) { ${JOB_FIELDS} } }`, { id: lite.id })).id);
    assert.equal(again.state, 'succeeded');
    assert.equal(again.version, null);
    assert.equal((await image(lite.id)).versions.length, 2);
  });

  let box: ImageT;

  it('runInImage: a command that succeeds makes a new version, its output streamed; the base version keeps its files', async () => {
    const rootDir = path.join(tmp.dir, 'busybox-root');
    mkdirSync(rootDir);
    const root = buildBusyboxImage(rootDir);
    mkdirSync(path.join(root, 'boot', 'firmware'), { recursive: true });
    writeFileSync(path.join(root, 'boot', 'firmware', 'cmdline.txt'), 'console=tty1 root=/dev/mmcblk0p2\n');
    const imported = await finished(
      (await start(`mutation ($s: String!) { importImage(name: "Box", source: $s) { ${JOB_FIELDS} } }`, { s: root })).id,
    );
    assert.equal(imported.state, 'succeeded', JSON.stringify(imported.error));
    box = await image(imported.imageId);

    const started = await start(`mutation ($id: String!, $c: String!) { runInImage(imageId: $id, command: $c) { ${JOB_FIELDS} } }`, {
      id: box.id,
      c: 'echo hello from the image; echo pupils > /etc/motd; echo more >> /etc/hostname; rm /etc/issue; mkdir /opt/app',
    });
    const done = await finished(started.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error) + done.outputTail);
    assert.equal(done.exitCode, 0);
    assert.match(done.outputTail, /hello from the image/);
    const v2 = await image(box.id);
    assert.equal(v2.version, 2);
    const newRoot = v2.path;
    assert.equal(readFileSync(path.join(newRoot, 'etc/motd'), 'utf8'), 'pupils\n');
    assert.equal(readFileSync(path.join(newRoot, 'etc/hostname'), 'utf8'), 'raspberrypi\nmore\n');
    assert.equal(existsSync(path.join(newRoot, 'etc/issue')), false);
    assert.ok(lstatSync(path.join(newRoot, 'opt/app')).isDirectory());
    // The base version is unchanged, and an untouched file is shared, not copied.
    assert.equal(readFileSync(path.join(box.path, 'etc/hostname'), 'utf8'), 'raspberrypi\n');
    assert.ok(existsSync(path.join(box.path, 'etc/issue')));
    assert.equal(statSync(path.join(newRoot, 'bin/busybox')).ino, statSync(path.join(box.path, 'bin/busybox')).ino);
    const ran = (await events('ImageVersionCreated')).at(-1)!.data as {
      reason: string;
      command: { command: string; exitCode: number; logSha256: string };
    };
    assert.equal(ran.reason, 'command');
    assert.equal(ran.command.exitCode, 0);
    assert.match(ran.command.logSha256, /^[0-9a-f]{64}$/);
  });

  it('runInImage: output arrives on the subscription while the command runs', async () => {
    const client = h.ws();
    const started = await start(`mutation ($id: String!, $c: String!) { runInImage(imageId: $id, command: $c) { ${JOB_FIELDS} } }`, {
      id: box.id,
      c: 'sleep 2; echo tick-1; sleep 1; echo tick-2',
    });
    const output = subscribe<{ imageCommandOutput: { jobId: string; text: string } }>(
      client,
      `subscription ($j: String!) { imageCommandOutput(jobId: $j) { jobId text } }`,
      { j: started.id },
    );
    await connected(client);
    const first = await output.next(15_000);
    assert.equal(first.data?.imageCommandOutput.jobId, started.id);
    assert.match(first.data!.imageCommandOutput.text, /tick-/);
    const done = await finished(started.id);
    output.unsubscribe();
    await client.dispose();
    assert.equal(done.state, 'succeeded');
    assert.equal((await image(box.id)).version, 3);
  });

  it('runInImage: a failing command makes no version, fails with IMAGE_COMMAND_FAILED, and is in the audit log', async () => {
    const before = await image(box.id);
    const done = await finished(
      (
        await start(`mutation ($id: String!) { runInImage(imageId: $id, command: "echo doomed > /etc/motd; exit 3") { ${JOB_FIELDS} } }`, {
          id: box.id,
        })
      ).id,
    );
    assert.equal(done.state, 'failed');
    assert.equal(done.error?.code, 'IMAGE_COMMAND_FAILED');
    assert.equal(done.exitCode, 3);
    const now = await image(box.id);
    assert.deepEqual(
      now.versions.map((v) => v.version),
      before.versions.map((v) => v.version),
    );
    assert.equal(readFileSync(path.join(now.path, 'etc/motd'), 'utf8'), 'pupils\n');
    const failed = await events('ImageCommandFailed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].data.exitCode, 3);
    assert.equal(existsSync(path.join(imagesDir, box.id, 'v4')), false);
  });

  it('activates an older version, rolls back as a new version, and refuses to delete the active one', async () => {
    const activated = await h.ok<{ activateImageVersion: ImageT }>(
      `mutation ($id: String!) { activateImageVersion(imageId: $id, version: 1) { ${IMAGE_FIELDS} } }`,
      { id: box.id },
    );
    assert.equal(activated.activateImageVersion.version, 1);
    assert.equal(activated.activateImageVersion.path, box.path);
    await h.ok(`mutation ($id: String!) { activateImageVersion(imageId: $id, version: 3) { id } }`, { id: box.id });
    const rolled = await finished(
      (await start(`mutation ($id: String!) { rollbackImage(imageId: $id) { ${JOB_FIELDS} } }`, { id: box.id })).id,
    );
    assert.equal(rolled.state, 'succeeded', JSON.stringify(rolled.error));
    const now = await image(box.id);
    const newest = now.versions.at(-1)!;
    assert.equal(now.version, newest.version);
    assert.equal(newest.reason, 'rollback');
    assert.equal(newest.parentVersion, 2, "version 3's parent");
    assert.equal(readFileSync(path.join(newest.path, 'etc/motd'), 'utf8'), 'pupils\n');

    const refused = await h.gql(`mutation ($id: String!, $v: Int!) { deleteImageVersion(imageId: $id, version: $v) { id } }`, {
      id: box.id,
      v: now.version,
    });
    assert.equal(refused.errors?.[0]?.extensions?.code, 'IMAGE_IN_USE');
    const missing = await h.gql(`mutation ($id: String!) { deleteImageVersion(imageId: $id, version: 99) { id } }`, { id: box.id });
    assert.equal(missing.errors?.[0]?.extensions?.code, 'IMAGE_VERSION_NOT_FOUND');
  });

  it('deletes an unused version and its tree; the other versions keep their shared files', async () => {
    const v3 = (await image(box.id)).versions.find((v) => v.version === 3)!;
    const deleted = await h.ok<{ deleteImageVersion: ImageT }>(
      `mutation ($id: String!) { deleteImageVersion(imageId: $id, version: 3) { ${IMAGE_FIELDS} } }`,
      { id: box.id },
    );
    assert.ok(!deleted.deleteImageVersion.versions.some((v) => v.version === 3));
    assert.equal(existsSync(v3.path), false);
    assert.ok(existsSync(path.join(box.path, 'bin/busybox')));
  });

  it('clones a version as a new image sharing its files, and exports a version as .tar.xz', async () => {
    const cloned = await finished(
      (
        await start(`mutation ($id: String!) { cloneImage(imageId: $id, name: "Box for year 7", version: 2) { ${JOB_FIELDS} } }`, {
          id: box.id,
        })
      ).id,
    );
    assert.equal(cloned.state, 'succeeded', JSON.stringify(cloned.error));
    const copy = await image(cloned.imageId);
    assert.equal(copy.id, 'box-for-year-7');
    assert.equal(readFileSync(path.join(copy.path, 'etc/motd'), 'utf8'), 'pupils\n');
    const v2 = (await image(box.id)).versions.find((v) => v.version === 2)!;
    assert.equal(statSync(path.join(copy.path, 'bin/busybox')).ino, statSync(path.join(v2.path, 'bin/busybox')).ino);

    const file = path.join(tmp.dir, 'box-v2.tar.xz');
    const exported = await finished(
      (
        await start(`mutation ($id: String!, $f: String!) { exportImage(imageId: $id, file: $f, version: 2) { ${JOB_FIELDS} } }`, {
          id: box.id,
          f: file,
        })
      ).id,
    );
    assert.equal(exported.state, 'succeeded', JSON.stringify(exported.error));
    const listing = execFileSync('tar', ['-tJf', file], { encoding: 'utf8' });
    assert.match(listing, /etc\/motd/);
    const recorded = (await events('ImageExported')).at(-1)!.data;
    assert.equal(recorded.sha256, createHash('sha256').update(readFileSync(file)).digest('hex'));
    const again = await h.gql(`mutation ($id: String!, $f: String!) { exportImage(imageId: $id, file: $f) { id } }`, {
      id: box.id,
      f: file,
    });
    assert.equal(again.errors?.[0]?.extensions?.code, 'VALIDATION', 'an existing file is never overwritten');
  });

  it('imports a root tarball (.tar.gz) whose boot files are in boot/', async () => {
    const tarball = buildTarball(tmp.dir, { compression: 'gzip', codename: 'bullseye', name: 'old' });
    const done = await finished(
      (await start(`mutation ($s: String!) { importImage(name: "Old", source: $s) { ${JOB_FIELDS} } }`, { s: tarball })).id,
    );
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    const old = await image(done.imageId);
    assert.equal(old.bootPath, path.join(old.path, 'boot'));
    assert.equal(old.osRelease?.versionCodename, 'bullseye');
  });

  it('deleting an image removes the trees bramble made; unknown images are IMAGE_NOT_FOUND', async () => {
    const copy = await image('box-for-year-7');
    assert.equal(await h.ok(`mutation { deleteImage(id: "box-for-year-7") }`).then((r) => r.deleteImage), true);
    assert.equal(existsSync(copy.path), false);
    assert.ok(existsSync(path.join(box.path, 'bin/busybox')), 'the source image keeps the files it shared');
    const unknown = await h.gql(`mutation { convertImage(id: "nope") { id } }`);
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'IMAGE_NOT_FOUND');
  });
});
