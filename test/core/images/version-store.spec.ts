import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsImageVersionStore } from '../../../src/core/adapters/images/version-store';
import { tempDir } from '../../support/temp';
import { rejectsWith } from './rejects-with';

/** A small tree with every kind of entry a root file system has. */
function makeTree(root: string): void {
  mkdirSync(join(root, 'etc/ssh'), { recursive: true });
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(join(root, 'etc/hostname'), 'raspberrypi\n');
  writeFileSync(join(root, 'etc/ssh/key'), 'secret');
  chmodSync(join(root, 'etc/ssh/key'), 0o600);
  chownSync(join(root, 'etc/ssh/key'), 0, 4242);
  mkdirSync(join(root, 'home/pi'), { recursive: true });
  chownSync(join(root, 'home/pi'), 1000, 1000);
  chmodSync(join(root, 'home/pi'), 0o750);
  writeFileSync(join(root, 'usr/bin/tool'), '#!/bin/sh\n');
  chmodSync(join(root, 'usr/bin/tool'), 0o755);
  symlinkSync('usr/bin', join(root, 'bin'));
  mkdirSync(join(root, 'dev'));
  execFileSync('mknod', [join(root, 'dev/null'), 'c', '1', '3']);
}

describe('FsImageVersionStore', () => {
  let tmp: { dir: string; cleanup(): void };
  let images: string;
  let base: string;
  let n = 0;

  before(() => {
    tmp = tempDir('bramble-version-store-');
    images = join(tmp.dir, 'images');
    base = join(images, 'bookworm', 'v1');
    mkdirSync(base, { recursive: true });
    makeTree(base);
  });
  after(() => tmp.cleanup());

  it('clones with hard links on a file system without reflinks, keeping every kind of entry', async () => {
    const store = new FsImageVersionStore(images);
    const target = join(images, 'bookworm', `v${++n + 1}`);
    const progress: string[] = [];
    const result = await store.clone(base, target, { onProgress: (p) => progress.push(`${p.phase}:${p.files}`) });
    // /tmp here is ext4 (no reflinks): the first method fails and the second is used.
    assert.equal(result.method, 'hardlink');
    assert.equal(result.files, 12);
    assert.deepEqual(progress, ['cloning:0', 'cloning:12']);
    for (const file of ['etc/hostname', 'etc/ssh/key', 'usr/bin/tool']) {
      assert.equal(lstatSync(join(target, file)).ino, lstatSync(join(base, file)).ino, `${file} shares its inode`);
    }
    assert.equal(readlinkSync(join(target, 'bin')), 'usr/bin');
    const dev = lstatSync(join(target, 'dev/null'));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, lstatSync(join(base, 'dev/null')).rdev);
    const home = lstatSync(join(target, 'home/pi'));
    assert.notEqual(home.ino, lstatSync(join(base, 'home/pi')).ino, 'directories are recreated');
    assert.deepEqual([home.uid, home.gid, home.mode & 0o7777], [1000, 1000, 0o750]);
    assert.deepEqual(
      readdirSync(join(images, 'bookworm')).filter((e) => e.startsWith('.staging-')),
      [],
    );
  });

  it('copies when told to (or when nothing else works): new inodes, same content and metadata', async () => {
    const store = new FsImageVersionStore(images, { methods: ['copy'] });
    const target = join(images, 'bookworm', `copy-${++n}`);
    assert.deepEqual(await store.clone(base, target), { method: 'copy', files: 12 });
    const a = lstatSync(join(base, 'etc/ssh/key'));
    const b = lstatSync(join(target, 'etc/ssh/key'));
    assert.notEqual(a.ino, b.ino);
    assert.deepEqual([b.uid, b.gid, b.mode], [a.uid, a.gid, a.mode]);
    assert.equal(readFileSync(join(target, 'etc/ssh/key'), 'utf8'), 'secret');
  });

  it('falls back when a method fails, and says why when all fail', async () => {
    const store = new FsImageVersionStore(images, { methods: ['reflink'] });
    const target = join(images, 'bookworm', `reflink-${++n}`);
    await rejectsWith(store.clone(base, target), 'IMAGE_IMPORT_FAILED', 'reflink:');
    assert.equal(existsSync(target), false);
    assert.deepEqual(
      readdirSync(join(images, 'bookworm')).filter((e) => e.startsWith('.staging-')),
      [],
    );
  });

  it('makes the target folder when it is new (a cloned image: <images>/<new>/v1)', async () => {
    const target = join(images, `new-image-${++n}`, 'v1');
    assert.equal((await new FsImageVersionStore(images).clone(base, target)).files, 12);
    assert.equal(readFileSync(join(target, 'etc/hostname'), 'utf8'), 'raspberrypi\n');
  });

  it('refuses an existing target and a missing source', async () => {
    const store = new FsImageVersionStore(images);
    await rejectsWith(store.clone(base, base), 'IMAGE_EXISTS');
    await rejectsWith(store.clone(join(images, 'nope'), join(images, 'x')), 'IMAGE_IMPORT_FAILED', 'not a directory');
  });

  it('an aborted clone leaves nothing', async () => {
    const store = new FsImageVersionStore(images);
    const target = join(images, 'bookworm', `aborted-${++n}`);
    const controller = new AbortController();
    controller.abort();
    await rejectsWith(store.clone(base, target, { signal: controller.signal }), 'IMAGE_JOB_ABORTED');
    assert.equal(existsSync(target), false);
    assert.deepEqual(
      readdirSync(join(images, 'bookworm')).filter((e) => e.startsWith('.staging-')),
      [],
    );
  });

  it('removes a tree inside the images folder, leaving the version it shares files with intact', async () => {
    const store = new FsImageVersionStore(images);
    const target = join(images, 'bookworm', `gone-${++n}`);
    await store.clone(base, target);
    await store.remove(target);
    assert.equal(existsSync(target), false);
    assert.equal(readFileSync(join(base, 'etc/hostname'), 'utf8'), 'raspberrypi\n');
    await store.remove(target); // already gone: nothing to do
  });

  it('refuses to remove anything outside the images folder, the folder itself, or through symlinks', async () => {
    const store = new FsImageVersionStore(images);
    const outside = join(tmp.dir, 'outside');
    mkdirSync(join(outside, 'tree'), { recursive: true });
    await rejectsWith(store.remove(outside), 'IMAGE_INVALID', 'not inside the images folder');
    await rejectsWith(store.remove(images), 'IMAGE_INVALID', 'not inside the images folder');
    await rejectsWith(store.remove(`${images}/bookworm/../../outside`), 'IMAGE_INVALID', 'not inside');
    await rejectsWith(store.remove('bookworm/v1'), 'IMAGE_INVALID', 'absolute');
    symlinkSync(outside, join(images, 'escape'));
    await rejectsWith(store.remove(join(images, 'escape')), 'IMAGE_INVALID', 'symlink');
    await rejectsWith(store.remove(join(images, 'escape', 'tree')), 'IMAGE_INVALID', 'not inside');
    assert.ok(existsSync(join(outside, 'tree')));
  });

  it('sweeps staging folders left by a crash, and nothing else', async () => {
    const store = new FsImageVersionStore(images);
    mkdirSync(join(images, '.staging-top/etc'), { recursive: true });
    mkdirSync(join(images, 'bookworm', '.staging-abc', 'etc'), { recursive: true });
    mkdirSync(join(base, 'var', '.staging-inside-image'), { recursive: true }); // the image's own
    writeFileSync(join(images, '.staging-file'), ''); // not a folder we make
    const removed = await store.sweepStaging();
    assert.deepEqual(removed, [join(images, '.staging-top'), join(images, 'bookworm', '.staging-abc')]);
    assert.ok(existsSync(join(base, 'var', '.staging-inside-image')));
    assert.ok(existsSync(join(images, '.staging-file')));
    assert.ok(existsSync(join(base, 'etc/hostname')));
  });
});
