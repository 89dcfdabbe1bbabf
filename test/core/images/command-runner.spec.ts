import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkArchitecture, parseBinfmtEntry } from '../../../src/core/adapters/images/architecture';
import { OverlayImageCommandRunner } from '../../../src/core/adapters/images/command-runner';
import { parseOpaque } from '../../../src/core/adapters/images/overlay-apply';
import { FsImageVersionStore } from '../../../src/core/adapters/images/version-store';
import type { DomainError } from '../../../src/core/domain/shared/domain-error';
import { buildBusyboxImage } from '../../support/busybox-image';
import { tempDir } from '../../support/temp';
import { rejectsWith } from './rejects-with';
import { snapshot } from './tree-snapshot';

/** Pids of processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function mountsMentioning(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(path));
}

describe('OverlayImageCommandRunner', () => {
  let tmp: { dir: string; cleanup(): void };
  let images: string;
  let base: string;
  let store: FsImageVersionStore;
  let runner: OverlayImageCommandRunner;
  let emptyBinfmt: string;
  let n = 0;
  const next = (): string => join(images, 'pi', `v${++n + 1}`);
  const leftovers = (): string[] => readdirSync(join(images, 'pi')).filter((e) => e.startsWith('.staging-'));

  before(() => {
    tmp = tempDir('bramble-command-runner-');
    images = join(tmp.dir, 'images');
    base = join(images, 'pi', 'v1');
    mkdirSync(base, { recursive: true });
    buildBusyboxImage(base);
    mkdirSync(join(base, 'opt/keep'));
    writeFileSync(join(base, 'opt/keep/old'), 'old');
    emptyBinfmt = join(tmp.dir, 'binfmt');
    mkdirSync(emptyBinfmt);
    store = new FsImageVersionStore(images);
    runner = new OverlayImageCommandRunner(store, { binfmtDir: emptyBinfmt });
  });
  after(() => {
    tmp.cleanup();
    assert.deepEqual(mountsMentioning(tmp.dir), [], 'no mount left in the host namespace');
  });

  it('a successful command makes a new tree with its changes; the base is unchanged and shares what was not touched', async () => {
    const before = snapshot(base);
    const target = next();
    const progress: string[] = [];
    const result = await runner.run(base, target, 'echo hi > /etc/motd; rm /etc/issue; mkdir /opt/x; chmod 600 /etc/hostname', {
      architecture: null,
      onProgress: (p) => progress.push(p.phase),
    });
    assert.equal(result.exitCode, 0);
    assert.equal(result.signal, null);
    assert.equal(readFileSync(join(target, 'etc/motd'), 'utf8'), 'hi\n');
    assert.equal(existsSync(join(target, 'etc/issue')), false);
    assert.ok(lstatSync(join(target, 'opt/x')).isDirectory());
    assert.equal(lstatSync(join(target, 'etc/hostname')).mode & 0o777, 0o600);
    // the base: same names, same content, same modes
    assert.equal(snapshot(base), before);
    assert.match(readFileSync(join(base, 'etc/motd'), 'utf8'), /free software/);
    assert.ok(existsSync(join(base, 'etc/issue')));
    assert.equal(lstatSync(join(base, 'etc/hostname')).mode & 0o777, 0o644);
    // untouched files are the same inodes (hard links), changed ones are not
    for (const file of ['bin/busybox', 'etc/resolv.conf', 'usr/share/doc/README']) {
      assert.equal(lstatSync(join(target, file)).ino, lstatSync(join(base, file)).ino, file);
    }
    assert.notEqual(lstatSync(join(target, 'etc/motd')).ino, lstatSync(join(base, 'etc/motd')).ino);
    assert.notEqual(lstatSync(join(target, 'etc/hostname')).ino, lstatSync(join(base, 'etc/hostname')).ino);
    // /proc, /dev, /tmp mounts left nothing in the new tree
    assert.deepEqual(readdirSync(join(target, 'dev')), []);
    assert.deepEqual(readdirSync(join(target, 'proc')), []);
    assert.deepEqual(leftovers(), []);
    assert.deepEqual(progress, ['writing', 'writing']);
  });

  it('appending to a file hard-linked into its parent changes only the new version', async () => {
    const parent = next();
    await store.clone(base, parent);
    const inode = lstatSync(join(parent, 'etc/hostname')).ino;
    assert.equal(inode, lstatSync(join(base, 'etc/hostname')).ino, 'precondition: shared by hard link');
    const target = next();
    const result = await runner.run(parent, target, 'echo more >> /etc/hostname', { architecture: null });
    assert.equal(result.exitCode, 0);
    assert.equal(readFileSync(join(target, 'etc/hostname'), 'utf8'), 'raspberrypi\nmore\n');
    for (const tree of [parent, base]) {
      assert.equal(readFileSync(join(tree, 'etc/hostname'), 'utf8'), 'raspberrypi\n');
      assert.equal(lstatSync(join(tree, 'etc/hostname')).ino, inode);
    }
  });

  it('a folder removed and made again replaces the old content (opaque dir); removed folders go (whiteouts)', async () => {
    const target = next();
    const result = await runner.run(base, target, 'rm -rf /opt/keep /var/cache && mkdir /opt/keep && echo new > /opt/keep/new', {
      architecture: null,
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(readdirSync(join(target, 'opt/keep')), ['new']);
    assert.equal(existsSync(join(target, 'var/cache')), false);
    assert.deepEqual(readdirSync(join(base, 'opt/keep')), ['old']);
    assert.ok(existsSync(join(base, 'var/cache/apt/pkgcache.bin')));
  });

  it('a folder that became a file and a file that became a folder, symlinks and a FIFO', async () => {
    const target = next();
    const command =
      'set -e; rm -rf /usr/share/doc && echo x > /usr/share/doc; rm /etc/hostname && mkdir /etc/hostname; ln -s /etc/motd /etc/link; mkfifo /run-fifo';
    const result = await runner.run(base, target, command, { architecture: null });
    assert.equal(result.exitCode, 0);
    assert.equal(readFileSync(join(target, 'usr/share/doc'), 'utf8'), 'x\n');
    assert.ok(lstatSync(join(target, 'etc/hostname')).isDirectory());
    assert.equal(readlinkSync(join(target, 'etc/link')), '/etc/motd');
    assert.ok(lstatSync(join(target, 'run-fifo')).isFIFO());
    assert.ok(lstatSync(join(base, 'usr/share/doc')).isDirectory());
    assert.equal(readFileSync(join(base, 'etc/hostname'), 'utf8'), 'raspberrypi\n');
  });

  it('parses getfattr output for opaque folders, octal escapes included', () => {
    const out = [
      '# file: /s/upper/opt/keep',
      'trusted.overlay.opaque="y"',
      '',
      '# file: /s/upper/a\\040b\\012c',
      'trusted.overlay.opaque="y"',
      '',
      '# file: /s/upper/not',
      'trusted.overlay.opaque="x"',
      '',
    ].join('\n');
    assert.deepEqual([...parseOpaque(out, '/s/upper')], ['opt/keep', 'a b\nc']);
  });

  it('runs with a cleared environment, as root, in the image', async () => {
    const chunks: string[] = [];
    const target = next();
    await runner.run(base, target, 'env | sort; id -u; cat /etc/hostname; ls /dev', {
      architecture: null,
      onOutput: (c) => chunks.push(c),
    });
    const out = chunks.join('');
    assert.match(out, /^DEBIAN_FRONTEND=noninteractive$/m);
    assert.match(out, /^HOME=\/root$/m);
    assert.match(out, /^LANG=C\.UTF-8$/m);
    assert.doesNotMatch(out, /NODE|npm_|BRAMBLE/);
    assert.match(out, /^0$/m);
    assert.match(out, /^raspberrypi$/m);
    assert.match(out, /\bnull\b[\s\S]*\burandom\b/);
  });

  it('streams output in order and hashes all of it', async () => {
    const chunks: string[] = [];
    const target = next();
    const result = await runner.run(base, target, 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three', {
      architecture: null,
      onOutput: (chunk, stream) => chunks.push(`${stream}:${chunk}`),
    });
    assert.deepEqual(chunks, ['stdout:one\n', 'stderr:two\n', 'stdout:three\n']);
    assert.equal(result.logBytes, 14);
    assert.equal(result.logSha256, createHash('sha256').update('one\ntwo\nthree\n').digest('hex'));
  });

  it('a failing command leaves no target and no staging', async () => {
    const target = next();
    const result = await runner.run(base, target, 'echo partial > /etc/motd; exit 3', { architecture: null });
    assert.equal(result.exitCode, 3);
    assert.equal(existsSync(target), false);
    assert.deepEqual(leftovers(), []);
    assert.match(readFileSync(join(base, 'etc/motd'), 'utf8'), /free software/);
  });

  it('mounts only inside its own namespace, never in the host', async () => {
    const target = next();
    let during: string[] | null = null;
    let inside = '';
    const result = await runner.run(base, target, 'sleep 0.3; cat /proc/self/mountinfo', {
      architecture: null,
      onOutput: (chunk) => {
        during ??= mountsMentioning(tmp.dir);
        inside += chunk;
      },
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(during, []);
    assert.deepEqual(mountsMentioning(tmp.dir), []);
    // Inside: mountinfo field 5 is the mount point (as the chroot sees it), field 6 its options.
    const options = new Map(
      inside
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .map((f) => [f[4], f[5]] as const),
    );
    assert.match(options.get('/etc/resolv.conf') ?? '', /^ro\b/, "the host's resolv.conf is read-only inside");
    assert.match(options.get('/sys') ?? '', /^ro\b/);
    assert.match(options.get('/') ?? '', /^rw\b/, 'the overlay root');
    for (const point of ['/proc', '/dev', '/dev/null', '/tmp', '/run']) assert.ok(options.has(point), point);
  });

  it('abort kills the command and leaves nothing', async () => {
    const target = next();
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const marker = `abort-marker-${process.pid}`;
    const command = `sh -c 'sleep 30; echo ${marker}' & sleep 31; echo ${marker}`; // a background child too: the whole group goes
    await rejectsWith(runner.run(base, target, command, { architecture: null, signal: controller.signal }), 'IMAGE_JOB_ABORTED');
    assert.deepEqual(processesWith(marker), []);
    assert.ok(Date.now() - started < 5000, 'killed, not waited for');
    assert.equal(existsSync(target), false);
    assert.deepEqual(leftovers(), []);
    assert.deepEqual(mountsMentioning(tmp.dir), []);
  });

  it('a timeout kills the command and keeps nothing', async () => {
    const target = next();
    const marker = `timeout-marker-${process.pid}`;
    const result = await runner.run(base, target, `echo started; sleep 30; echo ${marker}`, { architecture: null, timeoutMs: 300 });
    assert.deepEqual(processesWith(marker), []);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    assert.equal(result.logBytes, 8);
    assert.equal(existsSync(target), false);
    assert.deepEqual(leftovers(), []);
  });

  it('refuses an arm64 image when no emulator is registered, saying how to fix it', async () => {
    const target = next();
    const error = await rejectsWith(runner.run(base, target, 'true', { architecture: 'arm64' }), 'IMAGE_ARCH_UNSUPPORTED', 'qemu-aarch64');
    assert.match(error.message, /apt-get install qemu-user-static/);
    assert.match(error.message, /\/usr\/lib\/binfmt\.d\/qemu-aarch64\.conf/);
    assert.equal(existsSync(target), false);
    assert.deepEqual(leftovers(), []);
  });

  it("an image without /proc fails in setup, as bramble's failure (not the command's), leaving nothing", async () => {
    const broken = join(images, 'broken', 'v1');
    mkdirSync(broken, { recursive: true });
    buildBusyboxImage(broken);
    rmSync(join(broken, 'proc'), { recursive: true });
    const target = join(images, 'broken', 'v2');
    await rejectsWith(runner.run(broken, target, 'true', { architecture: null }), 'IMAGE_IMPORT_FAILED', 'the image has no /proc folder');
    assert.deepEqual(readdirSync(join(images, 'broken')), ['v1']);
    assert.deepEqual(mountsMentioning(tmp.dir), []);
  });

  it('refuses an existing target and paths overlayfs cannot take', async () => {
    await rejectsWith(runner.run(base, base, 'true', { architecture: null }), 'IMAGE_EXISTS');
    await rejectsWith(runner.run(base, join(images, 'pi', 'a,b'), 'true', { architecture: null }), 'IMAGE_INVALID', 'without ,');
  });
});

describe('checkArchitecture', () => {
  let tmp: { dir: string; cleanup(): void };
  before(() => {
    tmp = tempDir('bramble-binfmt-');
  });
  after(() => tmp.cleanup());

  // The text the kernel shows for Debian's qemu-user-static registration.
  const ENTRY =
    'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n';

  it('parses a binfmt_misc entry', () => {
    assert.deepEqual(parseBinfmtEntry(ENTRY), { enabled: true, interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P', flags: 'POCF' });
    assert.equal(parseBinfmtEntry('disabled\n').enabled, false);
  });

  it('native for the host architecture, i386 on amd64, and unknown', () => {
    assert.deepEqual(checkArchitecture('amd64', { hostArchitecture: 'amd64', binfmtDir: tmp.dir }), { mode: 'native' });
    assert.deepEqual(checkArchitecture('i386', { hostArchitecture: 'amd64', binfmtDir: tmp.dir }), { mode: 'native' });
    assert.deepEqual(checkArchitecture(null, { hostArchitecture: 'amd64', binfmtDir: tmp.dir }), { mode: 'native' });
    assert.deepEqual(checkArchitecture('arm64', { hostArchitecture: 'arm64', binfmtDir: tmp.dir }), { mode: 'native' });
    assert.deepEqual(checkArchitecture('x86_64', { hostArchitecture: 'amd64', binfmtDir: tmp.dir }), { mode: 'native' }, 'uname spelling');
  });

  it('emulated when qemu is registered with F, refused when disabled or without F', () => {
    const dir = join(tmp.dir, 'b1');
    mkdirSync(dir);
    const opts = { hostArchitecture: 'amd64', binfmtDir: dir };
    assert.throws(
      () => checkArchitecture('armhf', opts),
      (e: DomainError) => e.code === 'IMAGE_ARCH_UNSUPPORTED' && /qemu-arm\b/.test(e.message),
    );
    writeFileSync(join(dir, 'qemu-aarch64'), ENTRY);
    assert.deepEqual(checkArchitecture('arm64', opts), { mode: 'emulated', binfmtEntry: 'qemu-aarch64' });
    assert.deepEqual(checkArchitecture('aarch64', opts), { mode: 'emulated', binfmtEntry: 'qemu-aarch64' });
    writeFileSync(join(dir, 'qemu-aarch64'), ENTRY.replace('enabled', 'disabled'));
    assert.throws(() => checkArchitecture('arm64', opts), /disabled/);
    writeFileSync(join(dir, 'qemu-aarch64'), ENTRY.replace('POCF', 'POC'));
    assert.throws(() => checkArchitecture('arm64', opts), /without the F flag/);
    assert.throws(() => checkArchitecture('sparc', opts), /no emulator is known/);
  });
});
