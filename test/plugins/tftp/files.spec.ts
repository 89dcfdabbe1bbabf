/**
 * Boot file access (tftp.files.ts) on a real temporary folder: path safety at the file system
 * (symlinks at every level), regular files only, the size bound, the shared cache (validated, bounded
 * by bytes, one read for concurrent opens) and the checked answers trusted for a second.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rename, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  BootFiles,
  checkNow,
  MAX_FILE_BYTES,
  nodeBootFilesFs,
  readNow,
  type BootFilesFs,
  type OpenResult,
} from '../../../src/plugins/tftp/tftp.files';

/** Node's file system, counting whole-file reads. */
function countingFs(): BootFilesFs & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    realpath: (p) => nodeBootFilesFs.realpath(p),
    stat: (p) => nodeBootFilesFs.stat(p),
    readFile: (p) => {
      reads.push(p);
      return nodeBootFilesFs.readFile(p);
    },
    statNow: (p) => nodeBootFilesFs.statNow!(p),
  };
}

function assertData(result: OpenResult, text: string): void {
  assert.equal(result.ok, true, JSON.stringify(result));
  if (result.ok) assert.equal(result.data.toString(), text);
}

function assertError(result: OpenResult, error: string): void {
  assert.equal(result.ok, false, 'expected a refusal');
  if (!result.ok) assert.equal(result.error, error, result.detail);
}

describe('BootFiles', () => {
  /** tmp/image/boot/firmware is the boot folder; tmp/outside is not. */
  let tmp: string;
  let boot: string;
  let outside: string;

  before(async () => {
    tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'bramble-tftp-files-')));
    boot = path.join(tmp, 'image', 'boot', 'firmware');
    outside = path.join(tmp, 'outside');
    await mkdir(path.join(boot, 'overlays'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(boot, 'config.txt'), 'arm_64bit=1\n');
    await writeFile(path.join(boot, 'kernel8.img'), 'KERNEL');
    await writeFile(path.join(boot, 'overlays', 'vc4.dtbo'), 'DTBO');
    await writeFile(path.join(outside, 'secret'), 'SECRET');
    await writeFile(path.join(tmp, 'image', 'boot', 'not-firmware'), 'IMAGE-ROOT');
    await symlink('kernel8.img', path.join(boot, 'kernel.img')); // relative, inside
    await symlink(path.join(boot, 'overlays', 'vc4.dtbo'), path.join(boot, 'vc4-abs.dtbo')); // absolute, inside
    await symlink('/etc/passwd', path.join(boot, 'passwd'));
    await symlink(path.join(outside, 'secret'), path.join(boot, 'secret'));
    await symlink('../not-firmware', path.join(boot, 'up')); // into the image, outside the boot folder
    await symlink(outside, path.join(boot, 'elsewhere')); // a subfolder leaving the tree
    await symlink('overlays', path.join(boot, 'ov')); // a subfolder inside the tree
    await symlink('loop-b', path.join(boot, 'loop-a'));
    await symlink('loop-a', path.join(boot, 'loop-b'));
    await symlink('missing', path.join(boot, 'dangling'));
    await symlink(boot, path.join(tmp, 'boot-link')); // the boot folder itself a symlink
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('reads a file, with its real path and mtime', async () => {
    const result = await new BootFiles().open(boot, 'config.txt');
    assertData(result, 'arm_64bit=1\n');
    if (result.ok) {
      assert.equal(result.realPath, path.join(boot, 'config.txt'));
      assert.ok(result.mtimeMs > 0);
    }
  });

  it('reads a file in a subfolder', async () => {
    assertData(await new BootFiles().open(boot, 'overlays/vc4.dtbo'), 'DTBO');
  });

  it('not found', async () => {
    const files = new BootFiles();
    assertError(await files.open(boot, 'start4.elf'), 'not-found');
    assertError(await files.open(boot, 'nope/start4.elf'), 'not-found');
    assertError(await files.open(boot, 'config.txt/x'), 'not-found'); // ENOTDIR
    assertError(await files.open(boot, 'dangling'), 'not-found');
  });

  it('a boot folder that does not exist: not found', async () => {
    assertError(await new BootFiles().open(path.join(tmp, 'no-image', 'boot'), 'config.txt'), 'not-found');
  });

  it('a directory is not a file', async () => {
    assertError(await new BootFiles().open(boot, 'overlays'), 'not-a-file');
    assertError(await new BootFiles().open(boot, 'ov'), 'not-a-file');
  });

  it('symlinks that stay inside the boot folder are followed', async () => {
    const files = new BootFiles();
    const kernel = await files.open(boot, 'kernel.img');
    assertData(kernel, 'KERNEL');
    if (kernel.ok) assert.equal(kernel.realPath, path.join(boot, 'kernel8.img'));
    assertData(await files.open(boot, 'vc4-abs.dtbo'), 'DTBO');
    assertData(await files.open(boot, 'ov/vc4.dtbo'), 'DTBO');
  });

  it('a symlink to /etc/passwd is outside', async () => {
    assertError(await new BootFiles().open(boot, 'passwd'), 'outside');
  });

  it('a symlink to a file outside the tree is outside', async () => {
    assertError(await new BootFiles().open(boot, 'secret'), 'outside');
  });

  it('a symlink into the image but out of the boot folder is outside', async () => {
    assertError(await new BootFiles().open(boot, 'up'), 'outside');
  });

  it('a symlinked subfolder leaving the tree is outside', async () => {
    assertError(await new BootFiles().open(boot, 'elsewhere/secret'), 'outside');
  });

  it('a symlink loop is an I/O error', async () => {
    assertError(await new BootFiles().open(boot, 'loop-a'), 'io');
  });

  it('names with .. or a leading / are refused before touching the disk', async () => {
    const files = new BootFiles();
    assertError(await files.open(boot, '../not-firmware'), 'outside');
    assertError(await files.open(boot, 'overlays/../../not-firmware'), 'outside');
    assertError(await files.open(boot, '/etc/passwd'), 'outside');
    assertError(await files.open(boot, ''), 'outside');
  });

  it('the boot folder itself may be a symlink', async () => {
    const result = await new BootFiles().open(path.join(tmp, 'boot-link'), 'config.txt');
    assertData(result, 'arm_64bit=1\n');
    if (result.ok) assert.equal(result.realPath, path.join(boot, 'config.txt'));
  });

  it('a file over the size bound is refused unread', async () => {
    const big = path.join(boot, 'huge.img');
    await writeFile(big, '');
    await truncate(big, MAX_FILE_BYTES + 1); // sparse: costs no disk
    const fs = countingFs();
    try {
      assertError(await new BootFiles({ fs }).open(boot, 'huge.img'), 'too-large');
      assert.equal(fs.reads.length, 0);
    } finally {
      await rm(big);
    }
  });

  it('a file changed between two opens is read again at the next open', async () => {
    const fs = countingFs();
    const files = new BootFiles({ fs });
    const file = path.join(boot, 'cmdline.txt');
    await writeFile(file, 'console=tty1 old\n');
    assertData(await files.open(boot, 'cmdline.txt'), 'console=tty1 old\n');
    assertData(await files.open(boot, 'cmdline.txt'), 'console=tty1 old\n');
    assert.equal(fs.reads.length, 1);
    // Same size, new mtime (an image update that rewrites the file).
    await writeFile(file, 'console=tty1 new\n');
    const when = new Date(Date.now() + 5000);
    await utimes(file, when, when);
    assertData(await files.open(boot, 'cmdline.txt'), 'console=tty1 new\n');
    assert.equal(fs.reads.length, 2);
    // A file replaced by rename (a new inode, as package managers do).
    await writeFile(`${file}.tmp`, 'console=serial0 replaced\n');
    await rename(`${file}.tmp`, file);
    assertData(await files.open(boot, 'cmdline.txt'), 'console=serial0 replaced\n');
    assert.equal(files.cacheEntries, 1);
    assert.equal(files.cacheBytes, 'console=serial0 replaced\n'.length);
    await rm(file);
  });

  it('evicts the least recently used files when over maxCacheBytes', async () => {
    const dir = path.join(boot, 'lru');
    await mkdir(dir);
    for (const name of ['a', 'b', 'c']) await writeFile(path.join(dir, name), name.repeat(40));
    const fs = countingFs();
    // Every open checked, as after a second: this is the cache's own order.
    const files = new BootFiles({ fs, maxCacheBytes: 100, revalidateAfterMs: 0 });
    const readsOf = (name: string) => fs.reads.filter((p) => p === path.join(dir, name)).length;
    await files.open(boot, 'lru/a');
    await files.open(boot, 'lru/b');
    await files.open(boot, 'lru/a'); // a is now the most recent
    assert.equal(files.cacheBytes, 80);
    await files.open(boot, 'lru/c'); // 120 > 100: b goes
    assert.equal(files.cacheBytes, 80);
    assert.equal(files.cacheEntries, 2);
    await files.open(boot, 'lru/a');
    await files.open(boot, 'lru/c');
    assert.deepEqual([readsOf('a'), readsOf('b'), readsOf('c')], [1, 1, 1]);
    assertData(await files.open(boot, 'lru/b'), 'b'.repeat(40)); // read again; a goes
    assert.deepEqual([readsOf('a'), readsOf('b'), readsOf('c')], [1, 2, 1]);
    await files.open(boot, 'lru/a');
    assert.equal(readsOf('a'), 2);
  });

  it('a file larger than the whole cache is served, not cached', async () => {
    const fs = countingFs();
    const files = new BootFiles({ fs, maxCacheBytes: 3, revalidateAfterMs: 0 });
    assertData(await files.open(boot, 'kernel8.img'), 'KERNEL');
    assertData(await files.open(boot, 'kernel8.img'), 'KERNEL');
    assert.equal(fs.reads.length, 2);
    assert.equal(files.cacheBytes, 0);
  });

  it('20 concurrent opens of one uncached file read it once', async () => {
    const fs = countingFs();
    const files = new BootFiles({ fs });
    const results = await Promise.all(Array.from({ length: 20 }, () => files.open(boot, 'kernel8.img')));
    for (const r of results) assertData(r, 'KERNEL');
    assert.equal(fs.reads.length, 1);
    const first = results[0];
    if (first.ok) for (const r of results) if (r.ok) assert.equal(r.data, first.data); // the same buffer
  });

  it('within a second of a check, an open is one synchronous stat; opens during a check share it', async () => {
    const calls: string[] = [];
    const fs: BootFilesFs = {
      realpath: (p) => (calls.push(`realpath ${p}`), nodeBootFilesFs.realpath(p)),
      stat: (p) => (calls.push(`stat ${p}`), nodeBootFilesFs.stat(p)),
      readFile: (p) => (calls.push(`read ${p}`), nodeBootFilesFs.readFile(p)),
      statNow: (p) => (calls.push(`statNow ${p}`), nodeBootFilesFs.statNow!(p)),
    };
    const kinds = (from: number) => calls.slice(from).map((c) => c.split(' ')[0]);
    let now = 10_000;
    const files = new BootFiles({ fs, now: () => now });
    // 50 Pis at once: one check (two realpath, a stat, then the read between two stats).
    const results = await Promise.all(Array.from({ length: 50 }, () => files.open(boot, 'kernel8.img')));
    for (const r of results) assertData(r, 'KERNEL');
    assert.deepEqual(kinds(0), ['realpath', 'realpath', 'stat', 'stat', 'read', 'stat']);
    let from = calls.length;
    now += 999;
    assertData(await files.open(boot, 'kernel8.img'), 'KERNEL');
    assert.deepEqual(calls.slice(from), [`statNow ${path.join(boot, 'kernel8.img')}`]);
    // A second after the check: a full check again (the bytes still come from the cache).
    from = calls.length;
    now += 1;
    assertData(await files.open(boot, 'kernel8.img'), 'KERNEL');
    assert.deepEqual(kinds(from), ['realpath', 'realpath', 'stat']);
    // The boot folder's real path is shared by its files: a new name costs one realpath.
    from = calls.length;
    assertError(await files.open(boot, 'nope.elf'), 'not-found');
    assert.deepEqual(kinds(from), ['realpath']);
    // ... and then, within the second, one stat that finds nothing.
    from = calls.length;
    assertError(await files.open(boot, 'nope.elf'), 'not-found');
    assert.deepEqual(kinds(from), ['statNow']);
  });

  it('a missing file that appears, or a file that goes, is seen at the next open; errors are never kept', async () => {
    const files = new BootFiles();
    const late = path.join(boot, 'late.elf');
    assertError(await files.open(boot, 'late.elf'), 'not-found');
    await writeFile(late, 'LATE');
    assertData(await files.open(boot, 'late.elf'), 'LATE');
    await rm(late);
    assertError(await files.open(boot, 'late.elf'), 'not-found');
    // A symlink loop (io) and a symlink out (outside): checked in full every time.
    let realpaths = 0;
    const counting = new BootFiles({ fs: { ...nodeBootFilesFs, realpath: (p) => (realpaths++, nodeBootFilesFs.realpath(p)) } });
    for (let i = 0; i < 2; i++) {
      assertError(await counting.open(boot, 'loop-a'), 'io');
      assertError(await counting.open(boot, 'passwd'), 'outside');
    }
    // The boot folder once (it is shared for a second), each refused file every time.
    assert.equal(realpaths, 1 + 2 * 2);
  });

  it('a file that keeps changing while being read is an I/O error, and is not cached', async () => {
    let n = 0;
    const fs: BootFilesFs = {
      realpath: (p) => nodeBootFilesFs.realpath(p),
      // Every stat sees a new mtime: the file never holds still.
      stat: async (p) => {
        const st = await nodeBootFilesFs.stat(p);
        const mtimeMs = st.mtimeMs + n++;
        return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs, isFile: () => st.isFile() };
      },
      readFile: (p) => nodeBootFilesFs.readFile(p),
    };
    const files = new BootFiles({ fs });
    assertError(await files.open(boot, 'config.txt'), 'io');
    assert.equal(files.cacheEntries, 0);
  });

  it('works inside a worker thread', async () => {
    // The compiled module, loaded by a worker on its own (no bramble host around it).
    const modulePath = path.join(__dirname, '..', '..', '..', 'src', 'plugins', 'tftp', 'tftp.files.js');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { BootFiles } = require(workerData.modulePath);
      new BootFiles().open(workerData.boot, 'overlays/vc4.dtbo').then((r) =>
        parentPort.postMessage(r.ok ? { ok: true, text: r.data.toString() } : r));
    `;
    const worker = new Worker(code, { eval: true, workerData: { modulePath, boot } });
    const message = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.deepEqual(message, { ok: true, text: 'DTBO' });
  });
});

describe('checkNow and readNow (the transfer worker’s synchronous check and read)', () => {
  let dir: string;
  let boot: string;
  before(async () => {
    dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'bramble-readnow-')));
    boot = path.join(dir, 'boot');
    await mkdir(path.join(boot, 'overlays'), { recursive: true });
    await writeFile(path.join(boot, 'fixup4.dat'), 'fixup');
    await writeFile(path.join(boot, 'big.bin'), Buffer.alloc(5000));
    await writeFile(path.join(dir, 'secret'), 'not a boot file');
    await symlink(path.join(dir, 'secret'), path.join(boot, 'leak'));
    await symlink('../fixup4.dat', path.join(boot, 'overlays', 'inside'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads a file inside the boot folder into shared memory, with the signature the cache compares', async () => {
    const read = readNow(boot, 'fixup4.dat', 1024);
    assert.ok(read);
    assert.equal(read.data.toString(), 'fixup');
    assert.ok(read.data.buffer instanceof SharedArrayBuffer);
    assert.equal(read.realPath, path.join(boot, 'fixup4.dat'));
    const opened = await new BootFiles().open(boot, 'fixup4.dat');
    assert.equal(opened.ok && opened.signature, read.signature);
  });

  it('follows a symlink that stays inside the folder, never one that leaves it', () => {
    assert.equal(readNow(boot, 'overlays/inside', 1024)?.data.toString(), 'fixup');
    assert.equal(checkNow(boot, 'leak'), null);
    assert.equal(readNow(boot, 'leak', 1024), null);
  });

  it('leaves larger files, folders and missing names to the main thread', () => {
    assert.equal(readNow(boot, 'big.bin', 4999), null);
    assert.equal(readNow(boot, 'big.bin', 5000)?.data.length, 5000);
    assert.equal(readNow(boot, 'overlays', 1024), null);
    assert.equal(readNow(boot, 'missing', 1024), null);
    assert.equal(readNow(boot, '../secret', 1024), null);
  });
});
