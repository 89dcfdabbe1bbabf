/**
 * The pure parts of the importer: debugfs output parsing (fixtures are debugfs 1.47.0's own output),
 * GNU tar's messages about hostile members, the source format rule, and progress throttling.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  debugfsQuote,
  getfattrEscape,
  parseDeviceNumbers,
  parseEaHex,
  parseLsLine,
  splitDebugfsOutput,
} from '../../../src/core/adapters/images/ext-fixup';
import { formatOf } from '../../../src/core/adapters/images/image-importer';
import { ProgressReporter } from '../../../src/core/adapters/images/progress';
import { hostileMemberProblem } from '../../../src/core/adapters/images/tar-source';
import type { ImageProgress } from '../../../src/core/commands/image-ports';

/** `debugfs -f cmds image` stdout (stderr, with its banner and errors, is separate). */
const DEBUGFS_STDOUT = [
  'debugfs: ls -p "/bin"',
  '/12/040755/1000/1000/.//',
  '/2/040755/0/0/..//',
  '/13/104755/1000/1000/a/3/',
  '/13/104755/1000/1000/b/3/',
  '/14/120777/1000/1000/c/1/',
  '',
  'debugfs: ea_get -x "/d/a""b c" security.capability',
  'debugfs: ea_get -x "/usr/bin/ping" security.capability',
  'security.capability (20) = 01 00 00 02 00 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ',
  '',
  'debugfs: stat <20>',
  'Inode: 20   Type: character special    Mode:  0644   Flags: 0x0',
  'Device major/minor number: 204:73 (hex cc:49)',
  '',
].join('\n');

describe('debugfs output', () => {
  it('splits into one section per command, even an empty one', () => {
    const sections = splitDebugfsOutput(DEBUGFS_STDOUT);
    assert.equal(sections.length, 4);
    assert.equal(sections[0].length, 5);
    assert.deepEqual(sections[1], []);
  });

  it('parses ls -p lines', () => {
    const [bin] = splitDebugfsOutput(DEBUGFS_STDOUT);
    assert.deepEqual(parseLsLine(bin[2]), { ino: 13, mode: 0o104755, uid: 1000, gid: 1000, name: 'a' });
    assert.deepEqual(parseLsLine(bin[4]), { ino: 14, mode: 0o120777, uid: 1000, gid: 1000, name: 'c' });
    assert.deepEqual(parseLsLine('/2/040755/0/0/..//')?.name, '..');
    assert.equal(parseLsLine('Extended attributes:'), null);
    assert.equal(parseLsLine('/x/040755/0/0/a//'), null);
  });

  it('reads the capability bytes, and nothing when the attribute is missing or its length is off', () => {
    const sections = splitDebugfsOutput(DEBUGFS_STDOUT);
    assert.equal(parseEaHex(sections[2], 'security.capability')?.toString('hex'), '0100000200200000000000000000000000000000');
    assert.equal(parseEaHex(sections[1], 'security.capability'), null);
    assert.equal(parseEaHex(['security.capability (4) = 01 00 '], 'security.capability'), null);
    assert.equal(parseEaHex(['user.security.capability (2) = 01 00 '], 'security.capability'), null);
  });

  it('reads device numbers from the hex form', () => {
    assert.deepEqual(parseDeviceNumbers(splitDebugfsOutput(DEBUGFS_STDOUT)[3]), { major: 204, minor: 73 });
    assert.equal(parseDeviceNumbers(['Inode: 12   Type: regular']), null);
  });

  it('quotes paths the way its command parser reads them', () => {
    assert.equal(debugfsQuote('/d/a"b c'), '"/d/a""b c"');
    assert.equal(debugfsQuote('/plain'), '"/plain"');
  });

  it('escapes paths for setfattr --restore like getfattr', () => {
    assert.equal(getfattrEscape('/a b/c\\d=é\n'), '/a\\040b/c\\134d\\075\\303\\251\\012');
  });
});

describe("GNU tar's messages about hostile members", () => {
  it('names a .. member and an absolute one, and nothing else', () => {
    assert.match(hostileMemberProblem("tar: ../evil: Member name contains '..'\n") ?? '', /climbs out .*\.\.\/evil/);
    assert.match(hostileMemberProblem("tar: Removing leading `/' from member names\n") ?? '', /absolute names/);
    assert.match(hostileMemberProblem("tar: Removing leading `../' from hard link targets\n") ?? '', /hard link targets/);
    assert.equal(hostileMemberProblem('tar: ./dev/x: Cannot mknod: Operation not permitted\n'), null);
    assert.equal(hostileMemberProblem(''), null);
  });
});

describe('formatOf', () => {
  const xz = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]);
  const gz = Buffer.from([0x1f, 0x8b, 8, 0]);
  const sector = Buffer.alloc(512);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  const ustar = Buffer.alloc(512);
  ustar.write('ustar', 257);

  const table: [string, Buffer, ReturnType<typeof formatOf> | RegExp][] = [
    ['raspios.img.xz', xz, { kind: 'disk-image', compression: 'xz' }],
    ['RASPIOS.IMG.XZ', xz, { kind: 'disk-image', compression: 'xz' }],
    ['raspios.img.gz', gz, { kind: 'disk-image', compression: 'gzip' }],
    ['raspios.img', sector, { kind: 'disk-image', compression: 'none' }],
    ['root.tar.xz', xz, { kind: 'tar', compression: 'xz' }],
    ['root.txz', xz, { kind: 'tar', compression: 'xz' }],
    ['root.tgz', gz, { kind: 'tar', compression: 'gzip' }],
    ['root.tar', ustar, { kind: 'tar', compression: 'none' }],
    ['root.tar.xz', gz, /not xz data/],
    ['root.tar.gz', xz, /not gzip data/],
    ['raspios.img', Buffer.alloc(512), /no partition table/],
    ['root.tar', Buffer.alloc(512), /not a tar archive/],
    ['root.zip', xz, /unknown format/],
    ['root.tar.zst', xz, /unknown format/],
  ];
  for (const [name, head, want] of table) {
    it(name, () => {
      const got = formatOf(name, head);
      if (want instanceof RegExp) assert.match(String(got), want);
      else assert.deepEqual(got, want);
    });
  }
});

describe('ProgressReporter', () => {
  it('reports at most every 100 ms, on a phase change, and always at the end', () => {
    let now = 1000;
    const seen: ImageProgress[] = [];
    const p = new ProgressReporter(
      (x) => seen.push(x),
      500,
      () => now,
    );
    p.addBytes(10); // first report (last = 0)
    now += 50;
    p.addBytes(10); // throttled
    now += 60;
    p.addBytes(10); // 110 ms later: reported
    p.update({ phase: 'fixing-up' }); // phase change: reported at once
    p.addFiles(3); // throttled
    p.finish({ phase: 'done', bytesDone: 500 });
    assert.deepEqual(
      seen.map((s) => [s.phase, s.bytesDone, s.files]),
      [
        ['reading', 10, 0],
        ['reading', 30, 0],
        ['fixing-up', 30, 0],
        ['done', 500, 3],
      ],
    );
    assert.ok(seen.every((s) => s.bytesTotal === 500));
  });

  it('survives a listener that throws', () => {
    const p = new ProgressReporter(() => {
      throw new Error('listener bug');
    }, null);
    assert.doesNotThrow(() => p.finish({ phase: 'done' }));
  });
});
