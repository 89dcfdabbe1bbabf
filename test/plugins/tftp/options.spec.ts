import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TftpOption } from '../../../src/plugins/tftp/tftp.codec';
import { type Negotiated, negotiate, parseDecimal, type TransferLimits } from '../../../src/plugins/tftp/tftp.options';

const LIMITS: TransferLimits = { maxBlockSize: 1468, maxWindowSize: 16, defaultTimeoutMs: 1000, maxRetries: 5 };
const FILE_SIZE = 2228224;

/** Options from a flat list: name, value, name, value... */
function opts(...nv: string[]): TftpOption[] {
  const out: TftpOption[] = [];
  for (let i = 0; i < nv.length; i += 2) out.push({ name: nv[i], value: nv[i + 1] });
  return out;
}

const DEFAULTS: Negotiated = { blockSize: 512, windowSize: 1, timeoutMs: 1000, maxRetries: 5, tsizeAsked: false, oack: null };

describe('tftp options: negotiate', () => {
  const table: [string, TftpOption[], Partial<Negotiated>][] = [
    ['no options: no OACK, 512-byte blocks', [], {}],
    ['an unknown option alone: ignored, no OACK', opts('multicast', ''), {}],
    ['Pi 3 firmware: tsize 0 → the real size (§3.3)', opts('tsize', '0'), { tsizeAsked: true, oack: opts('tsize', '2228224') }],
    [
      'Pi 4 bootloader: tsize 0, blksize 1024',
      opts('tsize', '0', 'blksize', '1024'),
      { blockSize: 1024, tsizeAsked: true, oack: opts('tsize', '2228224', 'blksize', '1024') },
    ],
    ['blksize 1468 (the Ethernet frame)', opts('blksize', '1468'), { blockSize: 1468, oack: opts('blksize', '1468') }],
    ['blksize 65464 → clamped to the limit 1468', opts('blksize', '65464'), { blockSize: 1468, oack: opts('blksize', '1468') }],
    ['blksize 1469 → clamped to 1468', opts('blksize', '1469'), { blockSize: 1468, oack: opts('blksize', '1468') }],
    ['blksize 8, the RFC 2348 minimum', opts('blksize', '8'), { blockSize: 8, oack: opts('blksize', '8') }],
    ['blksize 7: out of range, ignored', opts('blksize', '7'), {}],
    ['blksize 65465: out of range, ignored', opts('blksize', '65465'), {}],
    ['blksize 0: ignored', opts('blksize', '0'), {}],
    ['blksize with leading zeros: accepted, echoed plainly', opts('blksize', '01024'), { blockSize: 1024, oack: opts('blksize', '1024') }],
    [
      'tsize non-zero (WRQ style): still accepted, the real size echoed',
      opts('tsize', '5'),
      { tsizeAsked: true, oack: opts('tsize', '2228224') },
    ],
    ['tsize -1: ignored', opts('tsize', '-1'), {}],
    ['tsize empty: ignored', opts('tsize', ''), {}],
    ['timeout 1', opts('timeout', '1'), { timeoutMs: 1000, oack: opts('timeout', '1') }],
    ['timeout 255', opts('timeout', '255'), { timeoutMs: 255_000, oack: opts('timeout', '255') }],
    ['timeout 3', opts('timeout', '3'), { timeoutMs: 3000, oack: opts('timeout', '3') }],
    ['timeout 0: ignored', opts('timeout', '0'), {}],
    ['timeout 256: ignored', opts('timeout', '256'), {}],
    ['windowsize 4', opts('windowsize', '4'), { windowSize: 4, oack: opts('windowsize', '4') }],
    ['windowsize 1', opts('windowsize', '1'), { windowSize: 1, oack: opts('windowsize', '1') }],
    ['windowsize 64 → clamped to 16', opts('windowsize', '64'), { windowSize: 16, oack: opts('windowsize', '16') }],
    ['windowsize 65535 → clamped to 16', opts('windowsize', '65535'), { windowSize: 16, oack: opts('windowsize', '16') }],
    ['windowsize 0: ignored', opts('windowsize', '0'), {}],
    ['windowsize 65536: ignored', opts('windowsize', '65536'), {}],
    ['names are case-insensitive; echoed lower-case', opts('BlkSize', '1024'), { blockSize: 1024, oack: opts('blksize', '1024') }],
    [
      'the OACK keeps the client order, unknown and refused options left out',
      opts('windowsize', '8', 'foo', '1', 'blksize', '7', 'timeout', '2', 'tsize', '0', 'blksize', '9999'),
      {
        windowSize: 8,
        timeoutMs: 2000,
        tsizeAsked: true,
        oack: opts('windowsize', '8', 'timeout', '2', 'tsize', '2228224'),
      },
    ],
    [
      'a repeated option counts once: the first wins',
      opts('blksize', '1024', 'blksize', '8', 'tsize', 'x', 'tsize', '0'),
      { blockSize: 1024, oack: opts('blksize', '1024') },
    ],
  ];
  for (const [label, input, expected] of table) {
    it(label, () => {
      assert.deepEqual(negotiate(input, FILE_SIZE, LIMITS), { ...DEFAULTS, ...expected });
    });
  }

  it('every malformed number form is ignored, for every numeric option', () => {
    const malformed = ['1e3', ' 512', '512 ', '0x200', '+512', '-512', '5.0', '512.', '', ' ', '1_000', '١٢', '512\0', 'NaN', 'Infinity'];
    malformed.push('1'.repeat(16), '0'.repeat(15) + '1');
    for (const name of ['blksize', 'tsize', 'timeout', 'windowsize']) {
      for (const value of malformed) {
        assert.deepEqual(negotiate([{ name, value }], FILE_SIZE, LIMITS), DEFAULTS, `${name}=${JSON.stringify(value)}`);
      }
    }
  });

  it('15 digits are still a number (a large tsize), and the size of an empty file is 0', () => {
    assert.deepEqual(negotiate(opts('tsize', '999999999999999'), 0, LIMITS).oack, opts('tsize', '0'));
    assert.deepEqual(negotiate(opts('timeout', '000000000000005'), 0, LIMITS).timeoutMs, 5000);
  });

  it('limits: a larger maxBlockSize grants up to 65464; defaultTimeoutMs and maxRetries pass through', () => {
    const big: TransferLimits = { maxBlockSize: 65464, maxWindowSize: 1, defaultTimeoutMs: 2500, maxRetries: 9 };
    assert.deepEqual(negotiate(opts('blksize', '65464', 'windowsize', '4'), 10, big), {
      blockSize: 65464,
      windowSize: 1,
      timeoutMs: 2500,
      maxRetries: 9,
      tsizeAsked: false,
      oack: opts('blksize', '65464', 'windowsize', '1'),
    });
  });

  it('does not modify the options it is given', () => {
    const input = opts('BLKSIZE', '01024', 'tsize', '0');
    const copy = structuredClone(input);
    negotiate(input, FILE_SIZE, LIMITS);
    assert.deepEqual(input, copy);
  });
});

describe('tftp options: parseDecimal', () => {
  it('plain digits only, at most 15', () => {
    assert.equal(parseDecimal('0'), 0);
    assert.equal(parseDecimal('512'), 512);
    assert.equal(parseDecimal('007'), 7);
    assert.equal(parseDecimal('999999999999999'), 999999999999999);
    for (const bad of ['', '1e3', ' 1', '1 ', '+1', '-1', '0x1', '1.0', '9999999999999999', '/', ':']) {
      assert.equal(parseDecimal(bad), -1, JSON.stringify(bad));
    }
  });
});
