import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  architectureFromDpkgStatus,
  architectureFromElf,
  bootFolderFor,
  detectOs,
  parseOsRelease,
  resolveInRoot,
} from '../../../src/core/adapters/images/os-detect';
import { fakeElf } from '../../support/image-fixtures';

describe('parseOsRelease', () => {
  it('reads Raspberry Pi OS Bookworm', () => {
    const text = [
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
      'NAME="Debian GNU/Linux"',
      'VERSION_ID="12"',
      'VERSION="12 (bookworm)"',
      'VERSION_CODENAME=bookworm',
      'ID=debian',
      'HOME_URL="https://www.debian.org/"',
    ].join('\n');
    assert.deepEqual(parseOsRelease(text), {
      id: 'debian',
      versionId: '12',
      versionCodename: 'bookworm',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    });
  });

  it('takes the codename from VERSION when VERSION_CODENAME is missing (Raspbian stretch)', () => {
    const text = 'PRETTY_NAME="Raspbian GNU/Linux 9 (stretch)"\nID=raspbian\nVERSION_ID="9"\nVERSION="9 (stretch)"\n';
    assert.equal(parseOsRelease(text)?.versionCodename, 'stretch');
  });

  it('unquotes single quotes and shell escapes, skips comments and junk', () => {
    const text = '# comment\nID=\'ubuntu\'\nPRETTY_NAME="A \\"quoted\\" name"\nnot a line\nVERSION_ID=\n';
    assert.deepEqual(parseOsRelease(text), { id: 'ubuntu', versionId: null, versionCodename: null, prettyName: 'A "quoted" name' });
  });

  it('is null for a file with none of the four keys', () => {
    assert.equal(parseOsRelease('NAME=x\n'), null);
    assert.equal(parseOsRelease(''), null);
  });
});

describe('bootFolderFor', () => {
  const os = (versionCodename: string | null, id: string | null = 'debian', versionId: string | null = null) => ({
    id,
    versionId,
    versionCodename,
    prettyName: null,
  });
  const table: [string, ReturnType<typeof os> | null, boolean, 'boot/firmware' | 'boot'][] = [
    ['bookworm', os('bookworm'), false, 'boot/firmware'],
    ['trixie', os('trixie'), false, 'boot/firmware'],
    ['bullseye, even with an empty boot/firmware', os('bullseye'), true, 'boot'],
    ['buster', os('buster'), false, 'boot'],
    ['codename in capitals', os('BOOKWORM'), false, 'boot/firmware'],
    ['no codename, Debian 12', os(null, 'debian', '12'), false, 'boot/firmware'],
    ['no codename, Raspbian 11', os(null, 'raspbian', '11'), false, 'boot'],
    ['unknown OS with an empty boot/firmware', os('jammy', 'ubuntu', '22.04'), true, 'boot/firmware'],
    ['unknown OS without one', os('jammy', 'ubuntu', '22.04'), false, 'boot'],
    ['no os-release, empty boot/firmware', null, true, 'boot/firmware'],
    ['no os-release', null, false, 'boot'],
  ];
  for (const [what, release, emptyFirmware, want] of table) {
    it(what, () => assert.equal(bootFolderFor(release, emptyFirmware), want));
  }
});

describe('architectureFromDpkgStatus', () => {
  const pkg = (name: string, arch: string, essential: boolean, status = 'install ok installed'): string =>
    `Package: ${name}\n${essential ? 'Essential: yes\n' : ''}Status: ${status}\nArchitecture: ${arch}\n`;

  it("takes the essential packages' architecture, not multiarch extras or arch: all", () => {
    const text = [
      pkg('base-files', 'arm64', true),
      pkg('dash', 'arm64', true),
      pkg('libc6', 'armhf', false),
      pkg('tzdata', 'all', true),
      pkg('raspi-firmware', 'armhf', false),
    ].join('\n');
    assert.equal(architectureFromDpkgStatus(text), 'arm64');
  });

  it('ignores removed packages and answers null without essential ones', () => {
    assert.equal(architectureFromDpkgStatus(pkg('dash', 'armhf', true, 'deinstall ok config-files')), null);
    assert.equal(architectureFromDpkgStatus(pkg('vim', 'arm64', false)), null);
    assert.equal(architectureFromDpkgStatus(''), null);
  });
});

describe('architectureFromElf', () => {
  for (const arch of ['arm64', 'armhf', 'amd64'] as const) {
    it(`reads ${arch}`, () => assert.equal(architectureFromElf(fakeElf(arch)), arch));
  }

  it('tells armel from armhf by the hard-float flag', () => {
    const b = fakeElf('armhf');
    b.writeUInt32LE(0x05000000, 36);
    assert.equal(architectureFromElf(b), 'armel');
  });

  it("reads this machine's own node binary", () => {
    const want = { x64: 'amd64', arm64: 'arm64', ia32: 'i386' }[process.arch as string];
    if (!want) return; // another host: nothing to compare with
    assert.equal(architectureFromElf(readFileSync(process.execPath).subarray(0, 64)), want);
  });

  it('is null for non-ELF, short or unknown-machine input', () => {
    assert.equal(architectureFromElf(Buffer.from('#!/bin/sh\n'.padEnd(64, ' '))), null);
    assert.equal(architectureFromElf(fakeElf('arm64').subarray(0, 40)), null);
    const odd = fakeElf('arm64');
    odd.writeUInt16LE(0x9999, 18);
    assert.equal(architectureFromElf(odd), null);
  });
});

describe('resolveInRoot and detectOs', () => {
  let root: string;
  let base: string;
  before(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'bramble-osdetect-')));
    root = join(base, 'root');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    writeFileSync(join(root, 'usr/bin/dash'), fakeElf('armhf'));
    symlinkSync('usr/bin', join(root, 'bin'));
    symlinkSync('/usr/bin/dash', join(root, 'usr/bin/sh')); // absolute: inside the image
    symlinkSync('../../../../../../etc/passwd', join(root, 'etc/climb'));
    symlinkSync('loop-b', join(root, 'etc/loop-a'));
    symlinkSync('loop-a', join(root, 'etc/loop-b'));
    writeFileSync(join(root, 'usr/lib/os-release'), 'ID=raspbian\nVERSION_CODENAME=bullseye\n');
    symlinkSync('../usr/lib/os-release', join(root, 'etc/os-release'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('follows absolute links inside the image, never to the host', async () => {
    assert.equal(await resolveInRoot(root, '/bin/sh'), join(root, 'usr/bin/dash'));
    assert.equal(await resolveInRoot(root, '/etc/climb'), join(root, 'etc/passwd'));
    assert.equal(await resolveInRoot(root, '/../../etc/os-release'), join(root, 'usr/lib/os-release'));
  });

  it('gives up on loops and missing files', async () => {
    assert.equal(await resolveInRoot(root, '/etc/loop-a'), null);
    assert.equal(await resolveInRoot(root, '/nope/sh'), null);
  });

  it('detects os-release through its symlink and the architecture from /bin/sh when dpkg has none', async () => {
    assert.deepEqual(await detectOs(root), {
      osRelease: { id: 'raspbian', versionId: null, versionCodename: 'bullseye', prettyName: null },
      architecture: 'armhf',
    });
  });
});
