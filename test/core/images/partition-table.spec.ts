import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  crc32,
  decodePartitionTable,
  PARTITION_TABLE_BYTES,
  PartitionTableError,
  probeFilesystem,
  type PartitionTableErrorReason,
} from '../../../src/core/adapters/images/partition-table';

const MIB = 1024 * 1024;

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
}

/**
 * The first sector's tail as `sfdisk` (util-linux 2.38) wrote it for
 *   label: dos / label-id: 0x4d3f1c2a / start=2048, size=16384, type=c / start=18432, size=112640, type=83
 * on a 64 MiB file (the 440 bytes before are boot code, zero here).
 */
const SFDISK_MBR_TAIL = hex(`
  2a1c3f4d     # 440: disk signature 0x4d3f1c2a (little-endian)
  0000         # 444: reserved
  # entry 1 at 446
  00           # status: not active
  202100       # CHS of the first sector
  0c           # type 0x0c: FAT32 (LBA)
  252401       # CHS of the last sector
  00080000     # first LBA 2048 → byte 1 MiB
  00400000     # 16384 sectors = 8 MiB
  # entry 2 at 462
  00 252501 83 282008
  00480000     # first LBA 18432 → byte 9 MiB
  00b80100     # 112640 sectors = 55 MiB
  # entries 3 and 4: empty
  00000000000000000000000000000000
  00000000000000000000000000000000
  55aa         # 510: boot signature
`);

function mbr(): Buffer {
  const sector = Buffer.alloc(512);
  SFDISK_MBR_TAIL.copy(sector, 440);
  return sector;
}

function decodeError(bytes: Uint8Array, size: number): PartitionTableErrorReason {
  try {
    decodePartitionTable(bytes, size);
  } catch (error) {
    assert.ok(error instanceof PartitionTableError, String(error));
    return error.reason;
  }
  assert.fail('expected a PartitionTableError');
}

/** A GPT made by sfdisk on a 64 MiB file: the tool is the fixture's author. */
function sfdiskGpt(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'bramble-gpt-'));
  try {
    const img = join(dir, 'gpt.img');
    writeFileSync(img, '');
    execFileSync('truncate', ['-s', '64M', img]);
    execFileSync('sfdisk', ['-q', img], {
      input:
        'label: gpt\nlabel-id: 01234567-89ab-cdef-0123-456789abcdef\n' +
        'start=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n' +
        'start=18432, size=100000, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n',
    });
    return readFileSync(img).subarray(0, PARTITION_TABLE_BYTES);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('decodePartitionTable', () => {
  it('decodes the MBR sfdisk wrote', () => {
    assert.deepEqual(decodePartitionTable(mbr(), 64 * MIB), {
      scheme: 'mbr',
      partitions: [
        { index: 1, type: '0c', kind: 'fat', startBytes: 1 * MIB, sizeBytes: 8 * MIB },
        { index: 2, type: '83', kind: 'linux', startBytes: 9 * MIB, sizeBytes: 55 * MIB },
      ],
    });
  });

  it('agrees with sfdisk --json on a freshly written MBR', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bramble-mbr-'));
    try {
      const img = join(dir, 'mbr.img');
      writeFileSync(img, '');
      execFileSync('truncate', ['-s', '32M', img]);
      execFileSync('sfdisk', ['-q', img], { input: 'label: dos\nstart=8192, size=4096, type=b\nstart=12288, type=83\n' });
      const json = JSON.parse(execFileSync('sfdisk', ['--json', img], { encoding: 'utf8' })) as {
        partitiontable: { partitions: { start: number; size: number; type: string }[] };
      };
      const table = decodePartitionTable(readFileSync(img).subarray(0, 512), 32 * MIB);
      assert.deepEqual(
        table.partitions.map((p) => ({ start: p.startBytes / 512, size: p.sizeBytes / 512, type: p.type.replace(/^0/, '') })),
        json.partitiontable.partitions.map((p) => ({ start: p.start, size: p.size, type: p.type })),
      );
      assert.deepEqual(
        table.partitions.map((p) => p.kind),
        ['fat', 'linux'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('decodes a GPT behind its protective MBR (sfdisk)', () => {
    const gpt = sfdiskGpt();
    assert.deepEqual(decodePartitionTable(gpt, 64 * MIB), {
      scheme: 'gpt',
      partitions: [
        { index: 1, type: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', kind: 'fat', startBytes: 1 * MIB, sizeBytes: 8 * MIB },
        { index: 2, type: '0fc63daf-8483-4772-8e79-3d69d8477de4', kind: 'linux', startBytes: 9 * MIB, sizeBytes: 100000 * 512 },
      ],
    });
  });

  it('refuses hostile and broken tables, each with its reason', () => {
    const cases: [string, () => [Uint8Array, number], PartitionTableErrorReason][] = [
      ['empty', () => [new Uint8Array(0), 0], 'too-short'],
      ['half a sector', () => [mbr().subarray(0, 300), 300], 'too-short'],
      ['no 55 AA', () => [Object.assign(mbr(), { 511: 0 }), 64 * MIB], 'no-signature'],
      ['all entries empty', () => [Buffer.concat([Buffer.alloc(510), Buffer.from([0x55, 0xaa])]), 64 * MIB], 'no-partitions'],
      ['partition past the end of the image', () => [mbr(), 32 * MIB], 'partition-out-of-range'],
      [
        'partition starting at sector 0 (over the table itself)',
        () => {
          const b = mbr();
          b.writeUInt32LE(0, 446 + 8);
          return [b, 64 * MIB];
        },
        'partition-out-of-range',
      ],
      [
        'only an extended partition',
        () => {
          const b = mbr();
          b[446 + 4] = 0x05;
          b.fill(0, 462, 478);
          return [b, 64 * MIB];
        },
        'extended-only',
      ],
      ['GPT cut after its MBR', () => [sfdiskGpt().subarray(0, 512), 64 * MIB], 'too-short'],
      [
        'GPT header without its signature',
        () => {
          const b = sfdiskGpt();
          b.write('EFI PARX', 512);
          return [b, 64 * MIB];
        },
        'gpt-bad-header',
      ],
      [
        'GPT header with a flipped byte (CRC)',
        () => {
          const b = sfdiskGpt();
          b[512 + 40] ^= 1;
          return [b, 64 * MIB];
        },
        'gpt-bad-crc',
      ],
      [
        'GPT entry array with a flipped byte (CRC)',
        () => {
          const b = sfdiskGpt();
          b[1024 + 33] ^= 1;
          return [b, 64 * MIB];
        },
        'gpt-bad-crc',
      ],
      ['GPT entries beyond the bytes read', () => [sfdiskGpt().subarray(0, 1536), 64 * MIB], 'gpt-entries-out-of-range'],
      ['GPT partition past the end of the image', () => [sfdiskGpt(), 16 * MIB], 'partition-out-of-range'],
    ];
    for (const [what, make, reason] of cases) {
      const [bytes, size] = make();
      assert.equal(decodeError(bytes, size), reason, what);
    }
  });

  it('crc32 matches the IEEE check value', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });
});

describe('probeFilesystem', () => {
  it('recognises what mkfs.vfat and mke2fs wrote, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bramble-probe-'));
    try {
      const fat = join(dir, 'fat');
      const ext = join(dir, 'ext');
      const fat16 = join(dir, 'fat16');
      for (const f of [fat, ext, fat16]) writeFileSync(f, '');
      execFileSync('truncate', ['-s', '40M', fat]);
      execFileSync('truncate', ['-s', '8M', ext]);
      execFileSync('truncate', ['-s', '16M', fat16]);
      execFileSync('mkfs.vfat', ['-F', '32', '-s', '1', fat], { stdio: 'ignore' });
      execFileSync('mkfs.vfat', ['-F', '16', fat16], { stdio: 'ignore' });
      execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', ext]);
      const head = (f: string): Buffer => readFileSync(f).subarray(0, 2048);
      assert.equal(probeFilesystem(head(fat)), 'fat');
      assert.equal(probeFilesystem(head(fat16)), 'fat');
      assert.equal(probeFilesystem(head(ext)), 'ext');
      assert.equal(probeFilesystem(Buffer.alloc(2048)), null);
      assert.equal(probeFilesystem(head(ext).subarray(0, 1024)), null, 'too short for the superblock');
      const noBpb = head(fat);
      noBpb.write('NTFS ', 82);
      assert.equal(probeFilesystem(noBpb), null, 'a boot sector that names no FAT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
