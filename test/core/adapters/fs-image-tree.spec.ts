import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { locateImageTree } from '../../../src/core/adapters/fs-image-tree';
import { assertDomainError } from '../../support/given-when-then';

describe('locateImageTree', () => {
  let base: string;
  let n = 0;

  /** A fresh tree under the temp folder with the given folders (`a/b/`) and symlinks (`x -> y`). */
  function tree(...entries: string[]): string {
    const root = join(base, `tree-${n++}`);
    mkdirSync(root);
    for (const entry of entries) {
      const [name, target] = entry.split(' -> ');
      if (target !== undefined) symlinkSync(target, join(root, name));
      else if (name.endsWith('/')) mkdirSync(join(root, name), { recursive: true });
      else writeFileSync(join(root, name), '');
    }
    return root;
  }

  before(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'bramble-image-tree-')));
  });
  after(() => {
    rmSync(base, { recursive: true, force: true });
  });

  it('finds boot/firmware on Bookworm and later', () => {
    const root = tree('etc/', 'usr/bin/', 'bin -> usr/bin', 'boot/firmware/');
    assert.deepEqual(locateImageTree(root), { path: root, bootPath: join(root, 'boot', 'firmware') });
  });

  it('falls back to boot on older releases', () => {
    const root = tree('etc/', 'bin/', 'boot/');
    assert.deepEqual(locateImageTree(root), { path: root, bootPath: join(root, 'boot') });
  });

  it('accepts usr/ without bin, and bin without usr/', () => {
    assert.equal(locateImageTree(tree('etc/', 'usr/', 'boot/')).bootPath.endsWith('/boot'), true);
    assert.equal(locateImageTree(tree('etc/', 'bin/', 'boot/')).bootPath.endsWith('/boot'), true);
  });

  it('resolves symlinks and trailing parts of the path given', () => {
    const root = tree('etc/', 'usr/', 'boot/');
    const link = join(base, `link-${n++}`);
    symlinkSync(root, link);
    assert.equal(locateImageTree(link).path, root);
    assert.equal(locateImageTree(`${root}/./`).path, root);
  });

  it('a boot/firmware file (not a folder) is ignored in favour of boot', () => {
    const root = tree('etc/', 'usr/', 'boot/', 'boot/firmware');
    assert.equal(locateImageTree(root).bootPath, join(root, 'boot'));
  });

  it('does not follow an absolute boot symlink out of the image', () => {
    const root = tree('etc/', 'usr/', `boot -> ${base}`);
    const error = assertDomainError(() => locateImageTree(root), 'IMAGE_INVALID', 'boot');
    assert.match(error.message, /boot\/firmware\/ or boot\//);
  });

  it('rejects a relative path', () => {
    assertDomainError(() => locateImageTree('images/bookworm'), 'IMAGE_INVALID', 'absolute');
  });

  it('rejects a path that does not exist', () => {
    assertDomainError(() => locateImageTree(join(base, 'missing')), 'IMAGE_INVALID', 'does not exist');
  });

  it('rejects a file', () => {
    const root = tree('file');
    assertDomainError(() => locateImageTree(join(root, 'file')), 'IMAGE_INVALID', 'not a directory');
  });

  it('names a missing etc/', () => {
    const error = assertDomainError(() => locateImageTree(tree('usr/', 'boot/')), 'IMAGE_INVALID', 'etc/');
    assert.match(error.message, /not a root file system/);
  });

  it('names missing usr/ and bin', () => {
    assertDomainError(() => locateImageTree(tree('etc/', 'boot/')), 'IMAGE_INVALID', 'usr/ or bin');
  });

  it('names both when etc/ and usr/ are missing', () => {
    const error = assertDomainError(() => locateImageTree(tree('boot/')), 'IMAGE_INVALID');
    assert.match(error.message, /etc\/ and usr\/ or bin/);
  });

  it('names a missing boot folder', () => {
    assertDomainError(() => locateImageTree(tree('etc/', 'usr/')), 'IMAGE_INVALID', 'boot');
  });

  describe("the server's own root and system folders are refused, after the path is resolved", () => {
    for (const path of [
      '/',
      '//',
      '/tmp/../',
      '/proc/self/root',
      '/./',
      '/etc',
      '/usr/lib',
      '/proc/1',
      '/sys',
      '/boot',
      '/dev/shm',
      '/run/user',
    ]) {
      it(path, () => {
        assertDomainError(() => locateImageTree(path), 'IMAGE_INVALID', "the server's");
      });
    }

    it('a symlink to the host root is refused too', () => {
      const link = join(base, `to-root-${n++}`);
      symlinkSync('/', link);
      assertDomainError(() => locateImageTree(link), 'IMAGE_INVALID', 'own root file system');
    });
  });
});
