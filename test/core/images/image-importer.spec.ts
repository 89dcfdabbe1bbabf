/**
 * The importer end to end against real tools (GNU tar, xz, mtools, debugfs, setfattr): small
 * Raspberry Pi OS-style images built in the test (test/support/image-fixtures.ts) are imported,
 * and everything a root file system needs is checked on the result. Needs root.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImageProgress, ImportResult } from '../../../src/core/commands/image-ports';
import { FsImageImporter } from '../../../src/core/adapters/images/image-importer';
import { DomainError } from '../../../src/core/domain/shared/domain-error';
import {
  BOOT_FILES,
  buildDiskImage,
  buildRawTarball,
  buildRootTree,
  buildTarball,
  ustarMember,
  type RootTreeManifest,
} from '../../support/image-fixtures';
import { eventually, tempDir } from '../../support/temp';

const importer = new FsImageImporter();

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Entries below `root` (the root excluded), counted by find(1), not by the code under test. */
function findCount(root: string): number {
  return execFileSync('find', [root, '-mindepth', '1'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
}

/** Everything buildRootTree put in, checked on an imported tree. */
function assertPreserved(tree: string, m: RootTreeManifest, bootFolder: string): void {
  for (const [path, want] of Object.entries(m.owners)) {
    const st = lstatSync(join(tree, path));
    assert.deepEqual({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }, want, `owner and mode of ${path}`);
  }
  for (const [path, target] of Object.entries(m.symlinks)) {
    assert.ok(lstatSync(join(tree, path)).isSymbolicLink(), `${path} is a symlink`);
    assert.equal(readlinkSync(join(tree, path)), target, `${path} target`);
  }
  const link = lstatSync(join(tree, '/home/pi/link-to-notes'));
  assert.deepEqual([link.uid, link.gid], [1000, 1000], 'symlink owner');
  const [a, b] = m.hardLinks.map((p) => lstatSync(join(tree, p)));
  assert.equal(a.ino, b.ino, 'hard link pair shares one inode');
  assert.equal(a.nlink, 2);
  if (m.charDevice) {
    const st = lstatSync(join(tree, m.charDevice.path));
    assert.ok(st.isCharacterDevice(), 'device node kept');
    // Linux dev_t: major in bits 8-19, minor in bits 0-7 and 20-31.
    assert.equal((st.rdev >> 8) & 0xfff, m.charDevice.major, 'major');
    assert.equal((st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00), m.charDevice.minor, 'minor');
  }
  if (m.fifo) assert.ok(lstatSync(join(tree, m.fifo)).isFIFO(), 'FIFO kept');
  const getcap = execFileSync('getcap', [join(tree, m.capability.path)], { encoding: 'utf8' });
  assert.match(getcap, new RegExp(`${m.capability.text.replace('+', '\\+')}\\s*$`), `capability of ${m.capability.path}: "${getcap}"`);
  for (const [path, content] of Object.entries(BOOT_FILES)) {
    assert.equal(readFileSync(join(tree, bootFolder, path), 'utf8'), content, `boot file ${bootFolder}/${path}`);
  }
}

function assertDomain(code: string, messagePart?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof DomainError, `expected a DomainError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (messagePart) assert.match(error.message, messagePart);
    return true;
  };
}

/** Names in `dir` (an images folder): nothing but what the test expects may be there. */
function names(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Running processes whose command line mentions `part` (a leftover tool of an aborted import). */
function processesMentioning(part: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (Number(pid) !== process.pid && (cmd.includes(part) || cwd.includes(part))) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('FsImageImporter', { timeout: 180_000 }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let base: string;
  let n = 0;
  /** A fresh images folder and a target inside it. */
  const target = (): { images: string; target: string } => {
    const images = join(base, `images-${n++}`);
    mkdirSync(images);
    return { images, target: join(images, 'v1') };
  };

  before(() => {
    tmp = tempDir('bramble-import-');
    base = realpathSync(tmp.dir);
  });
  after(() => tmp.cleanup());

  describe('a Raspberry Pi OS .img (bookworm, arm64)', () => {
    let manifest: RootTreeManifest;
    let img: string;
    let result: ImportResult;
    let t: { images: string; target: string };
    const progress: ImageProgress[] = [];

    before(async () => {
      const dir = join(base, 'img-bookworm');
      mkdirSync(dir);
      manifest = buildRootTree(dir, { codename: 'bookworm' }, 'tree');
      img = buildDiskImage(dir, { root: manifest.root });
      t = target();
      result = await importer.import(img, t.target, { onProgress: (p) => progress.push(p) });
    });

    it('keeps owners, setuid/setgid/sticky modes, symlinks, the hard link, the device node, the FIFO and the capability', () => {
      assertPreserved(t.target, manifest, 'boot/firmware');
    });

    it('puts the FAT files into boot/firmware and reports it', () => {
      assert.equal(result.bootPath, join(t.target, 'boot/firmware'));
      assert.ok(!existsSync(join(t.target, 'boot/config.txt')));
    });

    it('detects os-release and the architecture', () => {
      assert.deepEqual(result.osRelease, manifest.osRelease);
      assert.equal(result.architecture, 'arm64');
    });

    it('reports the source hash and size, and the tree size and file count', () => {
      assert.deepEqual(result.source, { kind: 'disk-image', path: img, sha256: sha256(img), sizeBytes: lstatSync(img).size });
      assert.equal(result.fileCount, findCount(t.target));
      const du = Number(execFileSync('du', ['-s', '-b', '--apparent-size', t.target], { encoding: 'utf8' }).split('\t')[0]);
      assert.ok(result.sizeBytes > 0 && result.sizeBytes <= du, `${result.sizeBytes} bytes of files within du's ${du}`);
      assert.deepEqual(result.warnings, []);
    });

    it('reported progress that ends at the totals', () => {
      assert.ok(progress.length >= 2, `${progress.length} reports`);
      const last = progress[progress.length - 1];
      assert.deepEqual(last, { phase: 'done', bytesDone: lstatSync(img).size, bytesTotal: lstatSync(img).size, files: result.fileCount });
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i].bytesDone >= progress[i - 1].bytesDone, 'bytes never go back');
    });

    it('leaves only the target in the images folder (no staging, no temporary disk image)', () => {
      assert.deepEqual(names(t.images), ['v1']);
    });

    it('exports the tree as a .tar.xz whose re-import keeps everything', async () => {
      const file = join(t.images, 'export.tar.xz');
      const out = await importer.export(t.target, file);
      assert.deepEqual(out, { sha256: sha256(file), sizeBytes: lstatSync(file).size });
      assert.deepEqual(names(t.images), ['export.tar.xz', 'v1']);
      const again = target();
      const back = await importer.import(file, again.target);
      assertPreserved(again.target, manifest, 'boot/firmware');
      assert.equal(back.fileCount, result.fileCount);
      assert.equal(back.source.kind, 'tar');
    });
  });

  it('imports a .img.xz (bullseye, armhf) with the FAT files in boot/', async () => {
    const dir = join(base, 'imgxz-bullseye');
    mkdirSync(dir);
    const manifest = buildRootTree(dir, { codename: 'bullseye', architecture: 'armhf' }, 'tree');
    const img = buildDiskImage(dir, { root: manifest.root, compression: 'xz' });
    const t = target();
    let last: ImageProgress | null = null;
    const result = await importer.import(img, t.target, { onProgress: (p) => (last = p) });
    assertPreserved(t.target, manifest, 'boot');
    assert.equal(result.bootPath, join(t.target, 'boot'));
    assert.equal(result.architecture, 'armhf');
    assert.equal(result.osRelease?.versionCodename, 'bullseye');
    assert.equal(result.source.sha256, sha256(img));
    assert.equal(result.source.sizeBytes, lstatSync(img).size);
    assert.deepEqual(last, { phase: 'done', bytesDone: lstatSync(img).size, bytesTotal: lstatSync(img).size, files: result.fileCount });
    assert.deepEqual(names(t.images), ['v1']);
  });

  it('imports a disk image with a GPT', async () => {
    const dir = join(base, 'gpt');
    mkdirSync(dir);
    const manifest = buildRootTree(dir, { codename: 'bookworm', specials: false }, 'tree');
    const img = buildDiskImage(dir, { root: manifest.root, scheme: 'gpt' });
    const t = target();
    const result = await importer.import(img, t.target);
    assert.equal(readFileSync(join(t.target, 'boot/firmware/config.txt'), 'utf8'), BOOT_FILES['config.txt']);
    assert.equal(lstatSync(join(t.target, '/usr/bin/passwd')).mode & 0o7777, 0o4755);
    assert.equal(result.fileCount, findCount(t.target));
  });

  for (const compression of ['xz', 'gzip', 'none'] as const) {
    it(`imports a root tarball (${compression}) with boot/firmware`, async () => {
      const dir = join(base, `tar-${compression}`);
      mkdirSync(dir);
      const manifest = buildRootTree(dir, { codename: 'bookworm', withBootFiles: true }, 'tree');
      const tarball = buildTarball(dir, { root: manifest.root, compression });
      const t = target();
      const progress: ImageProgress[] = [];
      const result = await importer.import(tarball, t.target, { onProgress: (p) => progress.push(p) });
      assertPreserved(t.target, manifest, 'boot/firmware');
      assert.equal(result.bootPath, join(t.target, 'boot/firmware'));
      assert.equal(result.source.kind, 'tar');
      assert.equal(result.source.sha256, sha256(tarball));
      assert.equal(result.fileCount, findCount(t.target));
      assert.equal(result.architecture, 'arm64');
      assert.equal(progress[progress.length - 1].bytesDone, lstatSync(tarball).size);
      assert.deepEqual(names(t.images), ['v1']);
    });
  }

  it('copies a directory, keeping everything', async () => {
    const dir = join(base, 'directory');
    mkdirSync(dir);
    const manifest = buildRootTree(dir, { codename: 'bookworm', withBootFiles: true }, 'tree');
    const t = target();
    const result = await importer.import(manifest.root, t.target);
    assertPreserved(t.target, manifest, 'boot/firmware');
    assert.equal(result.source.kind, 'directory');
    assert.equal(result.source.sha256, null);
    assert.equal(result.fileCount, findCount(manifest.root));
    assert.ok(existsSync(join(manifest.root, 'etc/hostname')), 'the source stays');
  });

  describe('an interrupted import leaves nothing behind', () => {
    let img: string;
    before(() => {
      const dir = join(base, 'abort');
      mkdirSync(dir);
      // Big enough that the abort lands while tools run.
      img = buildDiskImage(dir, {
        codename: 'bookworm',
        compression: 'xz',
        files: Object.fromEntries(
          Array.from({ length: 40 }, (_, i) => [
            `/usr/share/big/${i}.bin`,
            createHash('sha512').update(String(i)).digest().toString('hex').repeat(4000),
          ]),
        ),
      });
    });

    for (const phase of ['reading', 'extracting-root', 'fixing-up']) {
      it(`aborted in phase ${phase}`, async () => {
        const t = target();
        const controller = new AbortController();
        const seen: string[] = [];
        await assert.rejects(
          importer.import(img, t.target, {
            signal: controller.signal,
            onProgress: (p) => {
              seen.push(p.phase);
              if (p.phase === phase) controller.abort();
            },
          }),
          assertDomain('IMAGE_JOB_ABORTED'),
        );
        assert.ok(seen.includes(phase), `the import reached ${phase} (saw ${seen.join(', ')})`);
        assert.deepEqual(names(t.images), [], 'no target, no staging folder');
        assert.deepEqual(processesMentioning(t.images), [], 'no tool left running');
      });
    }

    for (const phase of ['reading', 'extracting-root']) {
      it(`bramble killed (SIGKILL) in phase ${phase}: its tools die too, only a .staging- folder is left for sweepStaging`, async () => {
        const t = target();
        const child = spawn(process.execPath, [join(__dirname, '../../support/import-child.js'), 'import', img, t.target], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const exited = new Promise((resolve) => child.once('close', resolve));
        let out = '';
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`never reached ${phase}: ${out}`)), 60_000);
          child.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            if (out.includes(`phase ${phase}\n`)) {
              clearTimeout(timer);
              child.kill('SIGKILL');
              resolve();
            }
          });
        });
        await exited;
        await eventually(() => processesMentioning(t.images).length === 0, 5000, 'the import tools to die with bramble');
        const left = names(t.images);
        assert.equal(left.length, 1, `left: ${left.join(', ')}`);
        assert.match(left[0], /^\.staging-[0-9a-f]{12}$/);
      });
    }

    it('a tool dies with bramble (PR_SET_PDEATHSIG through setpriv)', async () => {
      const child = spawn(process.execPath, [join(__dirname, '../../support/import-child.js'), 'tool'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((resolve) => child.once('close', resolve));
      const pid = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the child never spawned its tool')), 10_000);
        child.stdout.on('data', (chunk: Buffer) => {
          const m = /tool (\d+)/.exec(chunk.toString());
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
      });
      const alive = (): boolean => {
        try {
          // A zombie still answers kill(0): count only a process that is not one.
          return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return false;
        }
      };
      await eventually(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'), 5000, 'setpriv to exec the tool');
      assert.ok(alive(), 'the tool runs');
      child.kill('SIGKILL');
      await exited;
      try {
        await eventually(() => !alive(), 3000, 'the tool to die with its parent');
      } finally {
        if (alive()) process.kill(pid, 'SIGKILL');
      }
    });

    it('an export aborted while it writes leaves no file and no staging folder', async () => {
      const t = target();
      await importer.import(img, t.target);
      const out = join(base, `exports-${n++}`);
      const controller = new AbortController();
      let writes = 0;
      await assert.rejects(
        importer.export(t.target, join(out, 'image.tar.xz'), {
          signal: controller.signal,
          onProgress: (p) => {
            if (p.phase === 'writing' && ++writes === 2) controller.abort();
          },
        }),
        assertDomain('IMAGE_JOB_ABORTED'),
      );
      assert.equal(writes, 2, 'aborted after the first bytes were written');
      assert.deepEqual(names(out), []);
      assert.deepEqual(processesMentioning(out), []);
    });

    it('a corrupt .xz is IMAGE_INVALID and nothing is kept', async () => {
      const bytes = readFileSync(img);
      for (let i = bytes.length >> 1; i < (bytes.length >> 1) + 64; i++) bytes[i] ^= 0x5a;
      const corrupt = join(base, 'abort', 'corrupt.img.xz');
      writeFileSync(corrupt, bytes);
      const t = target();
      await assert.rejects(importer.import(corrupt, t.target), assertDomain('IMAGE_INVALID', /xz data is not readable/));
      assert.deepEqual(names(t.images), []);
    });

    it('a signal aborted before the start rejects at once', async () => {
      const t = target();
      await assert.rejects(importer.import(img, t.target, { signal: AbortSignal.abort() }), assertDomain('IMAGE_JOB_ABORTED'));
      assert.deepEqual(names(t.images), []);
    });
  });

  describe('hostile tarballs are refused and write nothing outside the target', () => {
    const cases: [string, Buffer[], RegExp][] = [
      ['a ../evil member', [ustarMember('../evil', 'owned\n')], /climbs out of the image/],
      ['a ./../../evil member', [ustarMember('./../../evil', 'owned\n')], /climbs out of the image/],
      ['an absolute /etc/passwd member', [ustarMember('/etc/passwd', 'root::0:0::/:/bin/sh\n')], /absolute names/],
    ];
    for (const [what, members, message] of cases) {
      it(what, async () => {
        const dir = join(base, `hostile-${n++}`);
        mkdirSync(dir);
        const tarball = buildRawTarball(dir, 'evil.tar', members);
        const t = target();
        const passwd = readFileSync('/etc/passwd', 'utf8');
        await assert.rejects(importer.import(tarball, t.target), assertDomain('IMAGE_INVALID', message));
        assert.deepEqual(names(t.images), []);
        assert.ok(!existsSync(join(base, 'evil')) && !existsSync(join(dir, 'evil')) && !existsSync('/evil'), 'no evil file anywhere');
        assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd);
      });
    }

    it('a symlink out of the tree, then a member through it', async () => {
      const dir = join(base, `hostile-${n++}`);
      const outside = join(dir, 'outside');
      mkdirSync(outside, { recursive: true });
      const tarball = buildRawTarball(dir, 'evil.tar', [
        ustarMember('./etc/escape', '', { type: '2', linkName: outside }),
        ustarMember('./etc/escape/pwned', 'owned\n'),
      ]);
      const t = target();
      // GNU tar made etc/escape a placeholder file (an absolute symlink is created only at the end), so
      // the member through it fails: a tool failure, and nothing is kept.
      await assert.rejects(importer.import(tarball, t.target), assertDomain('IMAGE_IMPORT_FAILED', /tool tar failed: .*Not a directory/));
      assert.deepEqual(readdirSync(outside), [], 'nothing written through the symlink');
      assert.deepEqual(names(t.images), []);
    });
  });

  describe('not an image', () => {
    it('a disk image without an ext4 partition is IMAGE_INVALID', async () => {
      const dir = join(base, 'noext4');
      mkdirSync(dir);
      const img = buildDiskImage(dir, { noExt4: true });
      const t = target();
      await assert.rejects(importer.import(img, t.target), assertDomain('IMAGE_INVALID', /no an ext4 root partition|ext4 root partition/));
      assert.deepEqual(names(t.images), []);
    });

    it('a tarball without etc/ is IMAGE_INVALID', async () => {
      const dir = join(base, 'noetc');
      mkdirSync(join(dir, 'tree/usr'), { recursive: true });
      const tarball = join(dir, 'x.tar');
      execFileSync('tar', ['-cf', tarball, '-C', join(dir, 'tree'), '.']);
      const t = target();
      await assert.rejects(importer.import(tarball, t.target), assertDomain('IMAGE_INVALID', /missing etc\//));
      assert.deepEqual(names(t.images), []);
    });

    it('an unknown format, a file that lies about its format, a host folder', async () => {
      const dir = join(base, 'formats');
      mkdirSync(dir);
      writeFileSync(join(dir, 'a.zip'), 'PK');
      writeFileSync(join(dir, 'b.tar.xz'), 'not xz at all');
      writeFileSync(join(dir, 'c.img'), Buffer.alloc(4096));
      await assert.rejects(importer.import(join(dir, 'a.zip'), target().target), assertDomain('IMAGE_INVALID', /unknown format/));
      await assert.rejects(importer.import(join(dir, 'b.tar.xz'), target().target), assertDomain('IMAGE_INVALID', /not xz data/));
      await assert.rejects(importer.import(join(dir, 'c.img'), target().target), assertDomain('IMAGE_INVALID', /no partition table/));
      await assert.rejects(importer.import('/etc', target().target), assertDomain('IMAGE_INVALID', /system folder \/etc/));
      await assert.rejects(importer.import('/', target().target), assertDomain('IMAGE_INVALID', /own root/));
      await assert.rejects(importer.import('relative/path.img', target().target), assertDomain('IMAGE_INVALID', /absolute/));
    });

    it('an existing target is IMAGE_EXISTS and stays as it was', async () => {
      const dir = join(base, 'exists');
      mkdirSync(dir);
      const tarball = buildTarball(dir, { compression: 'none' });
      const t = target();
      mkdirSync(t.target);
      writeFileSync(join(t.target, 'keep'), 'x');
      await assert.rejects(importer.import(tarball, t.target), assertDomain('IMAGE_EXISTS'));
      assert.deepEqual(readdirSync(t.target), ['keep']);
      assert.deepEqual(names(t.images), ['v1']);
    });
  });
});
