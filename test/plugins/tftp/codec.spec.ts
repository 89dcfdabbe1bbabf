import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  TFTP_MAX_ERROR_MESSAGE,
  TftpDecodeError,
  type TftpDecodeReason,
  TftpEncodeError,
  type TftpEncodeReason,
  TftpErrorCode,
  TftpOpcode,
  type TftpPacket,
  toNetascii,
  writeDataHeader,
} from '../../../src/plugins/tftp/tftp.codec';
import { Rng } from '../../support/rng';

// ---------------------------------------------------------------------------------------------
// Fixture helpers

/** Hex bytes, whitespace ignored. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}
function ascii(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}
const NUL = hex('00');

function expectDecodeError(buf: Buffer, reason: TftpDecodeReason): TftpDecodeError {
  let caught: unknown;
  try {
    decodePacket(buf);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TftpDecodeError, `expected TftpDecodeError ${reason}, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  return caught;
}
function expectEncodeError(f: () => unknown, reason: TftpEncodeReason): void {
  assert.throws(f, (e: unknown) => e instanceof TftpEncodeError && e.reason === reason, `expected TftpEncodeError ${reason}`);
}

// ---------------------------------------------------------------------------------------------
// Fixtures: one of every packet kind, byte by byte.

// A Pi 4 bootloader's request for the prefix probe (docs/pi-netboot-protocol.md §3.2, §3.3).
const PI4_RRQ = Buffer.concat([
  hex('00 01'), // opcode 1 = RRQ
  ascii('9ffefdef/start4.elf'), // filename: serial prefix + file
  NUL, // end of filename
  ascii('octet'), // mode
  NUL, // end of mode
  ascii('tsize'), // option 1 name (RFC 2349)
  NUL, //
  ascii('0'), // option 1 value: 0 = "tell me the size"
  NUL, //
  ascii('blksize'), // option 2 name (RFC 2348)
  NUL, //
  ascii('1468'), // option 2 value: fills an Ethernet frame
  NUL, //
]);

// A Pi 3 boot ROM's first request: no options (§3.3).
const PI3_ROM_RRQ = Buffer.concat([
  hex('00 01'), // opcode 1 = RRQ
  ascii('bootcode.bin'), // filename
  NUL, // end of filename
  ascii('octet'), // mode
  NUL, // end of mode; no options
]);

// A WRQ with a mixed-case mode and a mixed-case option name.
const WRQ_MIXED = Buffer.concat([
  hex('00 02'), // opcode 2 = WRQ
  ascii('logs/x.txt'), // filename
  NUL, //
  ascii('NetASCII'), // mode, any case (RFC 1350 §5)
  NUL, //
  ascii('TSize'), // option name, any case (RFC 2347)
  NUL, //
  ascii('77'), // value kept as sent
  NUL, //
]);

const DATA_1 = Buffer.concat([
  hex('00 03'), // opcode 3 = DATA
  hex('00 01'), // block 1
  ascii('hello'), // 5 bytes of data: a short block, so the last one
]);

const DATA_EMPTY = Buffer.concat([
  hex('00 03'), // opcode 3 = DATA
  hex('ff ff'), // block 65535
  // no data: the empty last block of an exact-multiple file
]);

const ACK_65535 = Buffer.concat([
  hex('00 04'), // opcode 4 = ACK
  hex('ff ff'), // block 65535
]);

// The Pi's early terminate after the size probe (§3.3).
const ERROR_EARLY = Buffer.concat([
  hex('00 05'), // opcode 5 = ERROR
  hex('00 00'), // code 0 = not defined
  ascii('Early terminate'), // message
  NUL, // end of message
]);

const ERROR_NOT_FOUND = Buffer.concat([
  hex('00 05'), // opcode 5 = ERROR
  hex('00 01'), // code 1 = file not found
  ascii('File not found'), // message
  NUL, //
]);

const OACK_PI4 = Buffer.concat([
  hex('00 06'), // opcode 6 = OACK
  ascii('tsize'), // option 1 name
  NUL, //
  ascii('2228224'), // option 1 value: the real size
  NUL, //
  ascii('blksize'), // option 2 name
  NUL, //
  ascii('1468'), // option 2 value
  NUL, //
]);

// ---------------------------------------------------------------------------------------------

describe('tftp codec: fixtures decode', () => {
  it('a Pi 4 RRQ with tsize and blksize', () => {
    assert.deepEqual(decodePacket(PI4_RRQ), {
      opcode: TftpOpcode.RRQ,
      filename: '9ffefdef/start4.elf',
      mode: 'octet',
      options: [
        { name: 'tsize', value: '0' },
        { name: 'blksize', value: '1468' },
      ],
    });
  });

  it('a Pi 3 ROM RRQ without options', () => {
    assert.deepEqual(decodePacket(PI3_ROM_RRQ), { opcode: 1, filename: 'bootcode.bin', mode: 'octet', options: [] });
  });

  it('a WRQ: mode and option names lower-cased, values kept', () => {
    assert.deepEqual(decodePacket(WRQ_MIXED), {
      opcode: TftpOpcode.WRQ,
      filename: 'logs/x.txt',
      mode: 'netascii',
      options: [{ name: 'tsize', value: '77' }],
    });
  });

  it('mode "mail" and "OCTET" are known modes', () => {
    assert.equal((decodePacket(encodeRequest(1, 'f', 'mail')) as { mode: string }).mode, 'mail');
    const upper = Buffer.concat([hex('00 01'), ascii('f'), NUL, ascii('OCTET'), NUL]);
    assert.equal((decodePacket(upper) as { mode: string }).mode, 'octet');
  });

  it('DATA: block and a view of the data', () => {
    const p = decodePacket(DATA_1);
    assert.deepEqual(p, { opcode: TftpOpcode.DATA, block: 1, data: ascii('hello') });
    assert.equal((p as { data: Buffer }).data.buffer, DATA_1.buffer, 'zero-copy view');
    assert.deepEqual(decodePacket(DATA_EMPTY), { opcode: 3, block: 65535, data: Buffer.alloc(0) });
  });

  it('ACK', () => {
    assert.deepEqual(decodePacket(ACK_65535), { opcode: TftpOpcode.ACK, block: 65535 });
    assert.deepEqual(decodePacket(hex('00 04 01 02')), { opcode: 4, block: 0x0102 });
  });

  it('ERROR, including the lenient forms', () => {
    assert.deepEqual(decodePacket(ERROR_EARLY), { opcode: TftpOpcode.ERROR, code: 0, message: 'Early terminate' });
    assert.deepEqual(decodePacket(ERROR_NOT_FOUND), { opcode: 5, code: TftpErrorCode.FileNotFound, message: 'File not found' });
    // No NUL: the message runs to the end.
    assert.deepEqual(decodePacket(Buffer.concat([hex('00 05 00 08'), ascii('refused')])), { opcode: 5, code: 8, message: 'refused' });
    // Bytes after the NUL: ignored.
    assert.deepEqual(decodePacket(Buffer.concat([hex('00 05 00 02'), ascii('no'), NUL, ascii('junk')])), {
      opcode: 5,
      code: 2,
      message: 'no',
    });
    // No message at all.
    assert.deepEqual(decodePacket(hex('00 05 ff ff')), { opcode: 5, code: 65535, message: '' });
  });

  it('OACK', () => {
    assert.deepEqual(decodePacket(OACK_PI4), {
      opcode: TftpOpcode.OACK,
      options: [
        { name: 'tsize', value: '2228224' },
        { name: 'blksize', value: '1468' },
      ],
    });
  });

  it('strings are latin1, binary safe: control characters and high bytes reach the caller untouched', () => {
    const name = '..\\\x01\x7f\xff\xe9/a b';
    const buf = Buffer.concat([hex('00 01'), ascii(name), NUL, ascii('octet'), NUL, ascii('x\x02'), NUL, ascii('\xff'), NUL]);
    const p = decodePacket(buf);
    assert.deepEqual(p, { opcode: 1, filename: name, mode: 'octet', options: [{ name: 'x\x02', value: '\xff' }] });
  });

  it('NUL padding after the last option is accepted', () => {
    const padded = Buffer.concat([PI4_RRQ, hex('00 00 00')]);
    assert.deepEqual(decodePacket(padded), decodePacket(PI4_RRQ));
    assert.deepEqual(decodePacket(Buffer.concat([PI3_ROM_RRQ, NUL])), decodePacket(PI3_ROM_RRQ));
  });

  it('an empty option value is structurally fine (negotiation ignores it)', () => {
    const buf = Buffer.concat([PI3_ROM_RRQ, ascii('blksize'), NUL, NUL]);
    assert.deepEqual((decodePacket(buf) as { options: unknown }).options, [{ name: 'blksize', value: '' }]);
  });

  it('a request of exactly 512 bytes decodes', () => {
    const name = 'f'.repeat(512 - 2 - 1 - 6);
    const buf = Buffer.concat([hex('00 01'), ascii(name), NUL, ascii('octet'), NUL]);
    assert.equal(buf.length, 512);
    assert.equal((decodePacket(buf) as { filename: string }).filename, name);
  });

  it('16 options decode', () => {
    const opts = Array.from({ length: 16 }, (_, i) => ({ name: `o${i}`, value: String(i) }));
    assert.equal((decodePacket(encodeRequest(1, 'f', 'octet', opts)) as { options: unknown[] }).options.length, 16);
  });
});

describe('tftp codec: encoders produce the fixtures', () => {
  it('encodeRequest', () => {
    assert.deepEqual(
      encodeRequest(TftpOpcode.RRQ, '9ffefdef/start4.elf', 'octet', [
        { name: 'tsize', value: '0' },
        { name: 'blksize', value: '1468' },
      ]),
      PI4_RRQ,
    );
    assert.deepEqual(encodeRequest(TftpOpcode.RRQ, 'bootcode.bin', 'octet'), PI3_ROM_RRQ);
  });

  it('encodeData and writeDataHeader', () => {
    assert.deepEqual(encodeData(1, ascii('hello')), DATA_1);
    assert.deepEqual(encodeData(65535, Buffer.alloc(0)), DATA_EMPTY);
    const target = Buffer.concat([hex('aa aa aa aa'), ascii('payload')]);
    writeDataHeader(target, 0x1234);
    assert.deepEqual(target, Buffer.concat([hex('00 03 12 34'), ascii('payload')]), 'only the first 4 bytes change');
  });

  it('encodeAck', () => {
    assert.deepEqual(encodeAck(65535), ACK_65535);
    assert.deepEqual(encodeAck(0), hex('00 04 00 00'));
    assert.deepEqual(encodeAck(258), hex('00 04 01 02'));
  });

  it('encodeError', () => {
    assert.deepEqual(encodeError(TftpErrorCode.NotDefined, 'Early terminate'), ERROR_EARLY);
    assert.deepEqual(encodeError(TftpErrorCode.FileNotFound, 'File not found'), ERROR_NOT_FOUND);
  });

  it('encodeError: non-printables become "?", the message is capped so the packet is ≤ 512 bytes', () => {
    assert.deepEqual(
      encodeError(0, 'a\nb\x00c\x7fd\xe9e\u20acf\ud83d\ude00'),
      Buffer.concat([hex('00 05 00 00'), ascii('a?b?c?d?e?f??'), NUL]),
    );
    const long = encodeError(TftpErrorCode.AccessViolation, 'x'.repeat(2000));
    assert.equal(long.length, 512);
    assert.equal(long[511], 0);
    assert.deepEqual(decodePacket(long), { opcode: 5, code: 2, message: 'x'.repeat(TFTP_MAX_ERROR_MESSAGE) });
    assert.equal(encodeError(0, 'y'.repeat(TFTP_MAX_ERROR_MESSAGE)).length, 512);
  });

  it('encodeOack', () => {
    assert.deepEqual(
      encodeOack([
        { name: 'tsize', value: '2228224' },
        { name: 'blksize', value: '1468' },
      ]),
      OACK_PI4,
    );
  });
});

describe('tftp codec: round trips', () => {
  const packets: TftpPacket[] = [
    { opcode: 1, filename: 'a', mode: 'octet', options: [] },
    { opcode: 2, filename: 'dir/\x01\xff', mode: 'netascii', options: [{ name: 'windowsize', value: '16' }] },
    {
      opcode: 1,
      filename: 'kernel8.img',
      mode: 'mail',
      options: [
        { name: 'tsize', value: '0' },
        { name: 'blksize', value: '65464' },
        { name: 'timeout', value: '' },
      ],
    },
    { opcode: 3, block: 0, data: Buffer.alloc(0) },
    { opcode: 3, block: 7, data: Buffer.alloc(1468, 0xab) },
    { opcode: 3, block: 65535, data: Buffer.alloc(65464, 1) },
    { opcode: 4, block: 0 },
    { opcode: 4, block: 40000 },
    { opcode: 5, code: 8, message: 'option refused' },
    { opcode: 5, code: 0, message: '' },
    { opcode: 6, options: [{ name: 'blksize', value: '1024' }] },
    { opcode: 6, options: [] },
  ];
  for (const p of packets) {
    it(`opcode ${p.opcode}: ${JSON.stringify(p).slice(0, 80)}`, () => {
      assert.deepEqual(decodePacket(encode(p)), p);
    });
  }
});

/** The encoder for a decoded packet (the round-trip and fuzz helper). */
function encode(p: TftpPacket): Buffer {
  switch (p.opcode) {
    case 1:
    case 2:
      return encodeRequest(p.opcode, p.filename, p.mode, p.options);
    case 3:
      return encodeData(p.block, p.data);
    case 4:
      return encodeAck(p.block);
    case 5:
      return encodeError(p.code, p.message);
    case 6:
      return encodeOack(p.options);
  }
}

describe('tftp codec: hostile inputs, one reason each', () => {
  const rrq = (...parts: Buffer[]) => Buffer.concat([hex('00 01'), ...parts]);
  const fileMode = Buffer.concat([ascii('f'), NUL, ascii('octet'), NUL]);

  it('too-short: no opcode, a DATA or an ERROR without its header', () => {
    expectDecodeError(Buffer.alloc(0), 'too-short');
    expectDecodeError(hex('00'), 'too-short');
    expectDecodeError(hex('00 03 00'), 'too-short');
    expectDecodeError(hex('00 05'), 'too-short');
    expectDecodeError(hex('00 05 00'), 'too-short');
  });

  it('unknown-opcode', () => {
    for (const op of ['00 00', '00 07', '01 01', 'ff ff']) expectDecodeError(hex(op + ' 00 00'), 'unknown-opcode');
  });

  it('request-too-long: 513 bytes (RFC 2347)', () => {
    const e = expectDecodeError(rrq(ascii('f'.repeat(513 - 2 - 7)), NUL, ascii('octet'), NUL), 'request-too-long');
    assert.equal(e.offset, 512);
    expectDecodeError(Buffer.concat([hex('00 02'), Buffer.alloc(600, 0x41)]), 'request-too-long');
  });

  it('unterminated-filename', () => {
    expectDecodeError(rrq(), 'unterminated-filename');
    expectDecodeError(rrq(ascii('bootcode.bin')), 'unterminated-filename');
  });

  it('empty-filename', () => {
    expectDecodeError(rrq(NUL, ascii('octet'), NUL), 'empty-filename');
  });

  it('unterminated-mode (also a missing mode)', () => {
    expectDecodeError(rrq(ascii('f'), NUL), 'unterminated-mode');
    expectDecodeError(rrq(ascii('f'), NUL, ascii('octet')), 'unterminated-mode');
  });

  it('unknown-mode', () => {
    for (const mode of ['', 'binary', 'octets', 'octet ', 'oct\xe9t']) {
      const e = expectDecodeError(rrq(ascii('f'), NUL, ascii(mode), NUL), 'unknown-mode');
      assert.equal(e.offset, 4);
    }
  });

  it('unterminated-option: a name or a value without its NUL', () => {
    expectDecodeError(rrq(fileMode, ascii('blksize')), 'unterminated-option');
    expectDecodeError(rrq(fileMode, ascii('blksize'), NUL, ascii('512')), 'unterminated-option');
    expectDecodeError(Buffer.concat([hex('00 06'), ascii('tsize')]), 'unterminated-option');
  });

  it('option-without-value', () => {
    const e = expectDecodeError(rrq(fileMode, ascii('blksize'), NUL), 'option-without-value');
    assert.equal(e.offset, 10);
    expectDecodeError(Buffer.concat([hex('00 06'), ascii('tsize'), NUL]), 'option-without-value');
  });

  it('duplicate-option, compared case-insensitively', () => {
    const opt = (n: string, v: string) => Buffer.concat([ascii(n), NUL, ascii(v), NUL]);
    expectDecodeError(rrq(fileMode, opt('blksize', '512'), opt('blksize', '512')), 'duplicate-option');
    expectDecodeError(rrq(fileMode, opt('tsize', '0'), opt('blksize', '1'), opt('TSIZE', '0')), 'duplicate-option');
    expectDecodeError(Buffer.concat([hex('00 06'), opt('a', '1'), opt('A', '2')]), 'duplicate-option');
  });

  it('too-many-options: 17', () => {
    const opts = Array.from({ length: 17 }, (_, i) => Buffer.concat([ascii(`o${i}`), NUL, ascii('1'), NUL]));
    expectDecodeError(rrq(fileMode, ...opts), 'too-many-options');
    expectDecodeError(Buffer.concat([hex('00 06'), ...opts]), 'too-many-options');
  });

  it('trailing-bytes: something after an empty option name', () => {
    const e = expectDecodeError(rrq(fileMode, NUL, ascii('x')), 'trailing-bytes');
    assert.equal(e.offset, 11);
    expectDecodeError(rrq(fileMode, ascii('tsize'), NUL, ascii('0'), NUL, NUL, NUL, hex('01')), 'trailing-bytes');
    expectDecodeError(Buffer.concat([hex('00 06'), NUL, ascii('blksize'), NUL, ascii('8'), NUL]), 'trailing-bytes');
  });

  it('bad-ack-length', () => {
    expectDecodeError(hex('00 04'), 'bad-ack-length');
    expectDecodeError(hex('00 04 00'), 'bad-ack-length');
    expectDecodeError(hex('00 04 00 01 00'), 'bad-ack-length');
  });

  it('data-too-long: 65465 bytes of data', () => {
    expectDecodeError(Buffer.concat([hex('00 03 00 01'), Buffer.alloc(65465)]), 'data-too-long');
  });

  it('the error names the reason and offset', () => {
    const e = expectDecodeError(hex('00 09'), 'unknown-opcode');
    assert.equal(e.name, 'TftpDecodeError');
    assert.equal(e.offset, 0);
    assert.match(e.message, /^unknown-opcode: opcode 9$/);
  });
});

describe('tftp codec: encode refuses what bramble built wrongly', () => {
  it('bad-block', () => {
    for (const b of [-1, 65536, 1.5, NaN]) {
      expectEncodeError(() => encodeAck(b), 'bad-block');
      expectEncodeError(() => encodeData(b, Buffer.alloc(1)), 'bad-block');
      expectEncodeError(() => writeDataHeader(Buffer.alloc(4), b), 'bad-block');
    }
  });

  it('bad-code', () => {
    for (const c of [-1, 65536, 2.5]) expectEncodeError(() => encodeError(c, 'x'), 'bad-code');
  });

  it('bad-string: a NUL or a non-latin1 character, an empty option name', () => {
    expectEncodeError(() => encodeRequest(1, 'a\0b', 'octet'), 'bad-string');
    expectEncodeError(() => encodeRequest(1, 'caf\u20ac', 'octet'), 'bad-string');
    expectEncodeError(() => encodeOack([{ name: 'blksize', value: '5\x0012' }]), 'bad-string');
    expectEncodeError(() => encodeOack([{ name: '', value: '1' }]), 'bad-string');
  });

  it('empty-filename, request-too-long, data-too-long', () => {
    expectEncodeError(() => encodeRequest(1, '', 'octet'), 'empty-filename');
    expectEncodeError(() => encodeRequest(1, 'f'.repeat(504), 'octet'), 'request-too-long');
    assert.equal(encodeRequest(1, 'f'.repeat(503), 'octet').length, 512);
    expectEncodeError(() => encodeData(1, Buffer.alloc(65465)), 'data-too-long');
  });
});

describe('tftp codec: fuzz', () => {
  it('5,000 random and mutated buffers: only TftpDecodeError is ever thrown, and what decodes round-trips', () => {
    const rng = new Rng(0x7f7f0001);
    const fixtures = [PI4_RRQ, PI3_ROM_RRQ, WRQ_MIXED, DATA_1, DATA_EMPTY, ACK_65535, ERROR_EARLY, OACK_PI4];
    const alphabet = [0, 0, 0, 0x61, 0x41, 0x62, 0x31];
    const counts: Record<string, number> = { ok: 0 };
    for (let i = 0; i < 5000; i++) {
      let buf: Buffer;
      const kind = i % 4;
      if (kind === 0) {
        // Random bytes, random length; a valid opcode most of the time.
        buf = rng.bytes(rng.chance(0.02) ? 65_460 + rng.int(20) : rng.int(600));
        if (buf.length >= 2 && rng.chance(0.8)) buf.set([0, 1 + rng.int(7)], 0);
      } else if (kind === 1) {
        // A request or OACK built from a tiny alphabet (NULs, 'a', 'A', 'b', '1') to reach deep.
        const len = rng.int(rng.chance(0.1) ? 600 : 80);
        buf = Buffer.alloc(2 + len);
        buf[1] = rng.pick([1, 2, 6]);
        for (let k = 2; k < buf.length; k++) buf[k] = rng.pick(alphabet);
        if (buf[1] !== 6 && rng.chance(0.6)) {
          // A valid head, so the options are reached.
          const head = Buffer.concat([ascii('f'), NUL, ascii(rng.pick(['octet', 'NETascii', 'mail', 'bin'])), NUL]);
          buf = Buffer.concat([buf.subarray(0, 2), head, buf.subarray(2)]);
        }
      } else {
        // A fixture with a few bytes flipped, maybe truncated or extended.
        const f = rng.pick(fixtures);
        buf = Buffer.from(f.subarray(0, rng.chance(0.5) ? f.length : rng.int(f.length + 1)));
        if (rng.chance(0.3)) buf = Buffer.concat([buf, rng.bytes(rng.int(5))]);
        for (let k = 0; k < 3 && buf.length > 2; k++) buf[2 + rng.int(buf.length - 2)] = rng.chance(0.5) ? 0 : rng.int(256);
      }
      let p: TftpPacket;
      try {
        p = decodePacket(buf);
      } catch (e) {
        assert.ok(e instanceof TftpDecodeError, `case ${i}: threw ${String(e)}`);
        counts[e.reason] = (counts[e.reason] ?? 0) + 1;
        continue;
      }
      counts.ok++;
      if (p.opcode === TftpOpcode.ERROR) {
        // encodeError replaces non-printables: compare what it promises.
        const again = decodePacket(encode(p));
        assert.deepEqual(again, { ...p, message: p.message.replace(/[^\x20-\x7e]/g, '?').slice(0, TFTP_MAX_ERROR_MESSAGE) });
      } else {
        assert.deepEqual(decodePacket(encode(p)), p, `case ${i}: round trip`);
      }
    }
    const reasons: (TftpDecodeReason | 'ok')[] = [
      'ok',
      'too-short',
      'unknown-opcode',
      'request-too-long',
      'unterminated-filename',
      'empty-filename',
      'unterminated-mode',
      'unknown-mode',
      'unterminated-option',
      'option-without-value',
      'duplicate-option',
      'too-many-options',
      'trailing-bytes',
      'bad-ack-length',
      'data-too-long',
    ];
    for (const reason of reasons) assert.ok((counts[reason] ?? 0) > 0, `no case gave ${reason}: ${JSON.stringify(counts)}`);
  });
});

describe('tftp codec: netascii (RFC 1350 / RFC 764)', () => {
  const cases: [string, string, string][] = [
    ['empty', '', ''],
    ['no line ends', 'abc', 'abc'],
    ['LF → CR LF', 'a\nb', 'a\r\nb'],
    ['bare CR → CR NUL', 'a\rb', 'a\r\0b'],
    ['CR LF in the file → CR NUL CR LF', 'a\r\n', 'a\r\0\r\n'],
    ['LF LF', '\n\n', '\r\n\r\n'],
    ['CR at the end', 'x\r', 'x\r\0'],
    ['other bytes untouched, NUL and 0xff included', '\0\xff\t\n', '\0\xff\t\r\n'],
  ];
  for (const [label, input, expected] of cases) {
    it(label, () => {
      assert.deepEqual(toNetascii(ascii(input)), ascii(expected));
    });
  }

  it('returns the same buffer when there is nothing to convert, a new one otherwise', () => {
    const plain = ascii('no newline here');
    assert.equal(toNetascii(plain), plain);
    const text = ascii('line\n');
    const out = toNetascii(text);
    assert.notEqual(out, text);
    assert.deepEqual(text, ascii('line\n'), 'input not modified');
  });
});
