/**
 * Pure codec for a disk image's partition table (MBR, and GPT behind a protective MBR) and a probe
 * of what file system starts a partition. The importer reads the first bytes of a Raspberry Pi OS
 * `.img` with it to find the FAT boot partition and the ext4 root partition, which it then hands to
 * mtools and debugfs at their byte offsets: no loop device, no mount.
 *
 * Partition type codes are only a hint (images in the field carry 0x0b or 0x0c for the same FAT32,
 * and GPT's "basic data" is any Windows-ish file system), so the importer decides by the
 * file system's own magic bytes (`probeFilesystem`), not by the type code alone.
 *
 * Layouts: MBR — UEFI spec 2.10 §5.2.1 (4 entries of 16 bytes at 446, signature 0x55 0xAA at 510);
 * GPT — §5.3.2 (header at LBA 1, "EFI PART", CRC32 of the header and of the entry array).
 */

export type PartitionTableErrorReason =
  | 'too-short'
  | 'no-signature'
  | 'no-partitions'
  | 'extended-only'
  | 'gpt-bad-header'
  | 'gpt-bad-crc'
  | 'gpt-entries-out-of-range'
  | 'partition-out-of-range';

export class PartitionTableError extends Error {
  constructor(
    readonly reason: PartitionTableErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'PartitionTableError';
  }
}

export interface Partition {
  /** 1-based, as `sfdisk` and Linux number them (`p1`, `p2`). */
  index: number;
  /** MBR type byte as two hex digits (`0c`, `83`) or the GPT type GUID (lower case). */
  type: string;
  /** What the type code suggests; the file system itself is checked with `probeFilesystem`. */
  kind: 'fat' | 'linux' | 'other';
  startBytes: number;
  sizeBytes: number;
}

export interface PartitionTable {
  scheme: 'mbr' | 'gpt';
  partitions: Partition[];
}

const SECTOR = 512;
/** MBR type bytes of FAT file systems (FAT12, FAT16 <32M, FAT16, FAT32 CHS, FAT32 LBA, FAT16 LBA). */
const MBR_FAT = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);
const MBR_LINUX = 0x83;
const MBR_EXTENDED = new Set([0x05, 0x0f, 0x85]);
const MBR_PROTECTIVE = 0xee;

const GPT_FAT = new Set([
  'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', // Microsoft basic data
  'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', // EFI system partition
]);
const GPT_LINUX = new Set([
  '0fc63daf-8483-4772-8e79-3d69d8477de4', // Linux file system data
  'b921b045-1df0-41c3-af44-4c6f280d3fae', // Linux root (ARM 64)
  '69dad710-2ce4-4e3c-b16c-21a1d49abed3', // Linux root (ARM 32)
  '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', // Linux root (x86-64)
]);

/** How many bytes of the image start `decodePartitionTable` wants to see (MBR + GPT header + 128 entries). */
export const PARTITION_TABLE_BYTES = 34 * SECTOR;

/**
 * Decodes the partition table at the start of a disk image. `bytes` is the image's first bytes
 * (at least 512; 17408 for a GPT with the usual 128 entries); `imageSize` bounds the partitions.
 */
export function decodePartitionTable(bytes: Uint8Array, imageSize: number): PartitionTable {
  if (bytes.length < SECTOR) throw new PartitionTableError('too-short', `the image is shorter than one sector (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[510] !== 0x55 || bytes[511] !== 0xaa) {
    throw new PartitionTableError('no-signature', 'no partition table: the first sector does not end in the MBR signature 55 AA');
  }
  const primary: { type: number; start: number; sectors: number; slot: number }[] = [];
  for (let slot = 0; slot < 4; slot++) {
    const at = 446 + slot * 16;
    const type = bytes[at + 4];
    const start = view.getUint32(at + 8, true);
    const sectors = view.getUint32(at + 12, true);
    if (type !== 0 && sectors !== 0) primary.push({ type, start, sectors, slot });
  }
  if (primary.some((p) => p.type === MBR_PROTECTIVE)) return decodeGpt(bytes, view, imageSize);
  if (primary.length === 0) throw new PartitionTableError('no-partitions', 'the MBR lists no partitions');
  const partitions: Partition[] = [];
  for (const p of primary) {
    if (MBR_EXTENDED.has(p.type)) continue; // logical partitions: never a Raspberry Pi OS layout
    const startBytes = p.start * SECTOR;
    const sizeBytes = p.sectors * SECTOR;
    checkRange(p.slot + 1, startBytes, sizeBytes, imageSize);
    partitions.push({
      index: p.slot + 1,
      type: p.type.toString(16).padStart(2, '0'),
      kind: MBR_FAT.has(p.type) ? 'fat' : p.type === MBR_LINUX ? 'linux' : 'other',
      startBytes,
      sizeBytes,
    });
  }
  if (partitions.length === 0) throw new PartitionTableError('extended-only', 'the MBR lists only extended partitions');
  return { scheme: 'mbr', partitions };
}

function checkRange(index: number, startBytes: number, sizeBytes: number, imageSize: number): void {
  if (startBytes < SECTOR || startBytes + sizeBytes > imageSize) {
    throw new PartitionTableError(
      'partition-out-of-range',
      `partition ${index} (bytes ${startBytes}..${startBytes + sizeBytes}) lies outside the image (${imageSize} bytes)`,
    );
  }
}

function decodeGpt(bytes: Uint8Array, view: DataView, imageSize: number): PartitionTable {
  const h = SECTOR; // the header is LBA 1
  if (bytes.length < 2 * SECTOR) throw new PartitionTableError('too-short', 'the image ends before the GPT header');
  const signature = String.fromCharCode(...bytes.subarray(h, h + 8));
  if (signature !== 'EFI PART') throw new PartitionTableError('gpt-bad-header', 'protective MBR but no "EFI PART" GPT header at LBA 1');
  const headerSize = view.getUint32(h + 12, true);
  if (headerSize < 92 || headerSize > SECTOR) throw new PartitionTableError('gpt-bad-header', `GPT header size ${headerSize} is invalid`);
  const header = new Uint8Array(bytes.subarray(h, h + headerSize)); // a copy: its CRC field is zeroed
  const headerCrc = view.getUint32(h + 16, true);
  new DataView(header.buffer).setUint32(16, 0, true);
  if (crc32(header) !== headerCrc) throw new PartitionTableError('gpt-bad-crc', 'the GPT header checksum does not match');
  const entriesLba = Number(view.getBigUint64(h + 72, true));
  const count = view.getUint32(h + 80, true);
  const entrySize = view.getUint32(h + 84, true);
  const entriesCrc = view.getUint32(h + 88, true);
  if (entrySize < 128 || entrySize % 8 !== 0 || count > 1024) {
    throw new PartitionTableError('gpt-bad-header', `GPT entry array of ${count} × ${entrySize} bytes is invalid`);
  }
  const from = entriesLba * SECTOR;
  const to = from + count * entrySize;
  if (entriesLba < 2 || to > bytes.length) {
    throw new PartitionTableError(
      'gpt-entries-out-of-range',
      `the GPT entry array (bytes ${from}..${to}) is outside the first ${bytes.length} bytes read`,
    );
  }
  if (crc32(bytes.subarray(from, to)) !== entriesCrc)
    throw new PartitionTableError('gpt-bad-crc', 'the GPT entry array checksum does not match');
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const at = from + i * entrySize;
    const type = guid(bytes.subarray(at, at + 16));
    if (type === '00000000-0000-0000-0000-000000000000') continue;
    const first = Number(view.getBigUint64(at + 32, true));
    const last = Number(view.getBigUint64(at + 40, true));
    if (last < first) throw new PartitionTableError('partition-out-of-range', `GPT partition ${i + 1} ends before it starts`);
    const startBytes = first * SECTOR;
    const sizeBytes = (last - first + 1) * SECTOR;
    checkRange(i + 1, startBytes, sizeBytes, imageSize);
    partitions.push({
      index: i + 1,
      type,
      kind: GPT_FAT.has(type) ? 'fat' : GPT_LINUX.has(type) ? 'linux' : 'other',
      startBytes,
      sizeBytes,
    });
  }
  if (partitions.length === 0) throw new PartitionTableError('no-partitions', 'the GPT lists no partitions');
  return { scheme: 'gpt', partitions };
}

/** A GPT GUID (first three fields little-endian) in its usual text form. */
function guid(b: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = [...b.subarray(from, to)];
    if (reverse) part.reverse();
    return part.map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3, as GPT uses). Node 20's zlib has no crc32 (it came in 22.2). */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The bytes at a partition's start `probeFilesystem` needs (boot sector + ext superblock). */
export const PROBE_BYTES = 2048;

/**
 * What file system starts with `bytes` (a partition's first 2048 bytes): `fat` (a boot sector ending
 * in 55 AA whose BPB names FAT12/16/32), `ext` (superblock magic 0xEF53 at 1024+56), else null.
 */
export function probeFilesystem(bytes: Uint8Array): 'fat' | 'ext' | null {
  if (bytes.length >= 1024 + 58 && bytes[1024 + 56] === 0x53 && bytes[1024 + 57] === 0xef) return 'ext';
  if (bytes.length >= 512 && bytes[510] === 0x55 && bytes[511] === 0xaa) {
    const fat16 = String.fromCharCode(...bytes.subarray(54, 59));
    const fat32 = String.fromCharCode(...bytes.subarray(82, 87));
    if (fat16.startsWith('FAT') || fat32 === 'FAT32') return 'fat';
  }
  return null;
}
