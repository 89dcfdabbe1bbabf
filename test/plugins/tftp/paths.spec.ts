/**
 * Requested TFTP file names (tftp.paths.ts): hostile names each refused with their exact reason,
 * and the names Pi firmware sends, split into prefix and path (docs/pi-netboot-protocol.md §3.1, §3.2).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_NAME_BYTES, parseRequestedName, type HostileNameReason, type ParsedName } from '../../../src/plugins/tftp/tftp.paths';

/** Bytes as the packet decoder gives them: latin1, one character per byte. */
function latin1(bytes: number[]): string {
  return Buffer.from(bytes).toString('latin1');
}

const HOSTILE: Array<[string, HostileNameReason]> = [
  ['', 'empty'],
  ['x'.repeat(MAX_NAME_BYTES + 1), 'too-long'],
  [`overlays/${'a'.repeat(300)}.dtbo`, 'too-long'],
  [`../${'a'.repeat(300)}`, 'too-long'],
  ['x\x00y', 'control-char'],
  ['\x00', 'control-char'],
  ['x\ny', 'control-char'],
  ['config.txt\r\n', 'control-char'],
  ['x\x1b[31m', 'control-char'],
  ['a\tb', 'control-char'],
  ['del\x7f', 'control-char'],
  ['../\x01', 'control-char'],
  [latin1([0x63, 0xe9, 0x2e, 0x74, 0x78, 0x74]), 'non-ascii'], // 'cé.txt' as latin1
  [latin1([0xc3, 0xa9]), 'non-ascii'], // 'é' as UTF-8 bytes read as latin1
  ['\u4e2d\u6587/config.txt', 'non-ascii'], // from a caller that did not decode latin1
  ['\u2024\u2024/x', 'non-ascii'], // ONE DOT LEADER twice: looks like '..'
  [latin1([0xff]), 'non-ascii'],
  ['\\windows', 'backslash'],
  ['a\\..\\b', 'backslash'],
  ['..\\..\\etc\\passwd', 'backslash'],
  ['overlays\\x.dtbo', 'backslash'],
  ['/etc/passwd', 'absolute'],
  ['/', 'absolute'],
  ['//config.txt', 'absolute'],
  ['/config.txt', 'absolute'],
  ['../etc/passwd', 'dot-dot'],
  ['a/../../x', 'dot-dot'],
  ['overlays/../../', 'dot-dot'],
  ['..', 'dot-dot'],
  ['../', 'dot-dot'],
  ['9ffefdef/../x', 'dot-dot'],
  ['a//..', 'dot-dot'],
  ['./config.txt', 'dot-segment'],
  ['.', 'dot-segment'],
  ['overlays/./x.dtbo', 'dot-segment'],
  ['9ffefdef/.', 'dot-segment'],
  ['a//b', 'empty-segment'],
  ['config.txt/', 'empty-segment'],
  ['....//', 'empty-segment'],
  ['overlays/', 'empty-segment'],
  ['9ffefdef/', 'empty-segment'],
];

describe('parseRequestedName: hostile names', () => {
  for (const [name, reason] of HOSTILE) {
    it(`${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name)} → ${reason}`, () => {
      assert.deepEqual(parseRequestedName(name), { ok: false, reason });
    });
  }

  it('has at least 30 rows', () => {
    assert.ok(HOSTILE.length >= 30);
  });
});

const GOOD: Array<[string, ParsedName]> = [
  ['config.txt', { ok: true, prefix: null, relPath: 'config.txt', fullPath: 'config.txt' }],
  ['bootcode.bin', { ok: true, prefix: null, relPath: 'bootcode.bin', fullPath: 'bootcode.bin' }],
  // A one-segment name is a file, even when it looks like a serial.
  ['9ffefdef', { ok: true, prefix: null, relPath: '9ffefdef', fullPath: '9ffefdef' }],
  // Pi 4 TFTP_PREFIX=0 (§3.1).
  [
    '9ffefdef/start4.elf',
    { ok: true, prefix: { kind: 'serial', serial: '9ffefdef' }, relPath: 'start4.elf', fullPath: '9ffefdef/start4.elf' },
  ],
  // The Pi 3 capture of §1.3: upper case is normalised.
  [
    'A2EF5644/start.elf',
    { ok: true, prefix: { kind: 'serial', serial: 'a2ef5644' }, relPath: 'start.elf', fullPath: 'A2EF5644/start.elf' },
  ],
  [
    '765fc593/overlays/vc4-kms-v3d.dtbo',
    {
      ok: true,
      prefix: { kind: 'serial', serial: '765fc593' },
      relPath: 'overlays/vc4-kms-v3d.dtbo',
      fullPath: '765fc593/overlays/vc4-kms-v3d.dtbo',
    },
  ],
  // 16 digits never come from firmware: not a serial.
  [
    '00000000765fc593/start4.elf',
    {
      ok: true,
      prefix: { kind: 'other', value: '00000000765fc593' },
      relPath: 'start4.elf',
      fullPath: '00000000765fc593/start4.elf',
    },
  ],
  // 7 or 9 digits: not a serial either.
  ['765fc59/x', { ok: true, prefix: { kind: 'other', value: '765fc59' }, relPath: 'x', fullPath: '765fc59/x' }],
  ['765fc5930/x', { ok: true, prefix: { kind: 'other', value: '765fc5930' }, relPath: 'x', fullPath: '765fc5930/x' }],
  // Pi 4 TFTP_PREFIX=2.
  [
    'dc-a6-32-01-36-c2/config.txt',
    { ok: true, prefix: { kind: 'mac', mac: 'dc:a6:32:01:36:c2' }, relPath: 'config.txt', fullPath: 'dc-a6-32-01-36-c2/config.txt' },
  ],
  [
    'DC-A6-32-01-36-C2/cmdline.txt',
    { ok: true, prefix: { kind: 'mac', mac: 'dc:a6:32:01:36:c2' }, relPath: 'cmdline.txt', fullPath: 'DC-A6-32-01-36-C2/cmdline.txt' },
  ],
  // Other MAC spellings are not what the firmware sends.
  [
    'dc:a6:32:01:36:c2/config.txt',
    {
      ok: true,
      prefix: { kind: 'other', value: 'dc:a6:32:01:36:c2' },
      relPath: 'config.txt',
      fullPath: 'dc:a6:32:01:36:c2/config.txt',
    },
  ],
  // TFTP_PREFIX=1, or a real subfolder: the caller decides.
  [
    'tftp_test/start4.elf',
    { ok: true, prefix: { kind: 'other', value: 'tftp_test' }, relPath: 'start4.elf', fullPath: 'tftp_test/start4.elf' },
  ],
  [
    'overlays/vc4-kms-v3d.dtbo',
    { ok: true, prefix: { kind: 'other', value: 'overlays' }, relPath: 'vc4-kms-v3d.dtbo', fullPath: 'overlays/vc4-kms-v3d.dtbo' },
  ],
  // Longer than a TFTP_PREFIX_STR can be: no prefix.
  [`${'p'.repeat(33)}/x`, { ok: true, prefix: null, relPath: `${'p'.repeat(33)}/x`, fullPath: `${'p'.repeat(33)}/x` }],
  [`${'p'.repeat(32)}/x`, { ok: true, prefix: { kind: 'other', value: 'p'.repeat(32) }, relPath: 'x', fullPath: `${'p'.repeat(32)}/x` }],
  // Literal names, harmless inside the boot folder.
  ['%2e%2e/x', { ok: true, prefix: { kind: 'other', value: '%2e%2e' }, relPath: 'x', fullPath: '%2e%2e/x' }],
  ['....', { ok: true, prefix: null, relPath: '....', fullPath: '....' }],
  ['.../x', { ok: true, prefix: { kind: 'other', value: '...' }, relPath: 'x', fullPath: '.../x' }],
  ['x'.repeat(MAX_NAME_BYTES), { ok: true, prefix: null, relPath: 'x'.repeat(MAX_NAME_BYTES), fullPath: 'x'.repeat(MAX_NAME_BYTES) }],
  ['my file.txt', { ok: true, prefix: null, relPath: 'my file.txt', fullPath: 'my file.txt' }],
];

describe('parseRequestedName: names Pis send', () => {
  for (const [name, parsed] of GOOD) {
    it(`${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name)}`, () => {
      assert.deepEqual(parseRequestedName(name), parsed);
    });
  }
});
