import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BOOTREPLY,
  BROADCAST_FLAG,
  DhcpDecodeError,
  type DhcpDecodeReason,
  DhcpEncodeError,
  DhcpMessageType,
  DhcpOption,
  type DhcpPacket,
  decodePacket,
  encodePacket,
  getIp,
  getIpList,
  getParameterList,
  getString,
  getUint16,
  getUint32,
  getUint8,
  ipListOption,
  ipOption,
  macToChaddr,
  messageType,
  messageTypeOption,
  newReply,
  replyMaxSize,
  requestProblem,
  stringOption,
  uint16Option,
  uint32Option,
  uint8Option,
} from '../../../src/plugins/dhcp/dhcp.codec';
import { echoClientGuid, pxeClientOption, RPI_OPTION43 } from '../../../src/plugins/dhcp/pxe-options';
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
function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}
function expectDecodeError(buf: Buffer, reason: DhcpDecodeReason): void {
  assert.throws(
    () => decodePacket(buf),
    (e: unknown) => e instanceof DhcpDecodeError && e.reason === reason,
    `expected DhcpDecodeError ${reason}`,
  );
}

/** Fixed header of a BOOTREQUEST from `mac` with the given sname/file fields (for synthetic cases). */
function request(opts: { hlen?: number; sname?: Buffer; file?: Buffer; options: Buffer }): Buffer {
  const sname = Buffer.concat([opts.sname ?? zeros(0), zeros(64)]).subarray(0, 64);
  const file = Buffer.concat([opts.file ?? zeros(0), zeros(128)]).subarray(0, 128);
  return Buffer.concat([
    hex('01 01'), // op BOOTREQUEST, htype Ethernet
    Buffer.from([opts.hlen ?? 6]), // hlen
    hex('00'), // hops
    hex('00 00 00 2a'), // xid 42
    hex('00 00 00 00'), // secs, flags
    zeros(16), // ciaddr, yiaddr, siaddr, giaddr
    hex('b8 27 eb 00 00 01'), // chaddr b8:27:eb:00:00:01
    zeros(10), // chaddr padding
    sname, // sname (64)
    file, // file (128)
    hex('63 82 53 63'), // magic cookie
    opts.options,
  ]);
}

// ---------------------------------------------------------------------------------------------
// (a) A Pi 4 DISCOVER as the EEPROM bootloader sends it.

const PI4_DISCOVER = Buffer.concat([
  hex('01'), // op: 1 = BOOTREQUEST
  hex('01'), // htype: 1 = Ethernet
  hex('06'), // hlen: 6-byte MAC
  hex('00'), // hops: 0 (not relayed)
  hex('d3 83 a6 ac'), // xid: 0xd383a6ac
  hex('00 00'), // secs: 0
  hex('00 00'), // flags: 0 — broadcast bit clear
  hex('00 00 00 00'), // ciaddr: 0.0.0.0 (no address yet)
  hex('00 00 00 00'), // yiaddr: 0.0.0.0
  hex('00 00 00 00'), // siaddr: 0.0.0.0
  hex('00 00 00 00'), // giaddr: 0.0.0.0 (no relay)
  hex('dc a6 32 c2 1f fe'), // chaddr: dc:a6:32:c2:1f:fe (a Pi 4 OUI)
  zeros(10), // chaddr: padding to 16 bytes
  zeros(64), // sname: empty
  zeros(128), // file: empty
  hex('63 82 53 63'), // magic cookie
  hex('35 01 01'), // option 53 message type, 1 byte: 1 = DISCOVER
  hex('37 0e'), // option 55 parameter request list, 14 bytes:
  hex('01 03'), //   1 subnet mask, 3 router
  hex('2b 3c 42 43'), //   43 vendor specific, 60 vendor class, 66 TFTP server, 67 boot file
  hex('80 81 82 83 84 85 86 87'), //   128..135 (PXE site-specific)
  hex('39 02 05 c0'), // option 57 max message size, 2 bytes: 1472
  hex('3c 20'), // option 60 vendor class identifier, 32 bytes:
  ascii('PXEClient:Arch:00000:UNDI:002001'), //   the Pi's PXE fingerprint
  hex('5d 02 00 00'), // option 93 client system architecture, 2 bytes: 0
  hex('5e 03 01 02 01'), // option 94 client network interface identifier, 3 bytes: UNDI 2.1 (1.2.1)
  hex('61 11'), // option 97 client machine GUID, 17 bytes:
  hex('00'), //   GUID type 0
  hex('52 50 69 34'), //   FourCC "RPi4" (0x34695052 little-endian)
  hex('11 31 c0 00'), //   board revision 0x00c03111 little-endian (type 0x11 = Pi 4B)
  hex('32 c2 1f fe'), //   low 4 bytes of the MAC
  hex('b4 a3 c2 e1'), //   serial number 0xe1c2a3b4 little-endian
  hex('ff'), // END (no padding: the message is 326 bytes)
]);

// (b) A Pi 3B DISCOVER from the boot ROM: Pi 1-3 OUI, no option 97.
const PI3_DISCOVER = Buffer.concat([
  hex('01'), // op: BOOTREQUEST
  hex('01'), // htype: Ethernet
  hex('06'), // hlen: 6
  hex('00'), // hops: 0
  hex('26 f3 0e 51'), // xid: 0x26f30e51
  hex('00 00'), // secs: 0
  hex('00 00'), // flags: 0
  hex('00 00 00 00'), // ciaddr: 0.0.0.0
  hex('00 00 00 00'), // yiaddr: 0.0.0.0
  hex('00 00 00 00'), // siaddr: 0.0.0.0
  hex('00 00 00 00'), // giaddr: 0.0.0.0
  hex('b8 27 eb 12 34 56'), // chaddr: b8:27:eb:12:34:56 (Pi 1-3 OUI)
  zeros(10), // chaddr padding
  zeros(64), // sname: empty
  zeros(128), // file: empty
  hex('63 82 53 63'), // magic cookie
  hex('35 01 01'), // option 53 message type: DISCOVER
  hex('37 0c'), // option 55 parameter request list, 12 bytes:
  hex('2b 3c 42 43'), //   43, 60, 66, 67
  hex('80 81 82 83 84 85 86 87'), //   128..135
  hex('3c 20'), // option 60 vendor class, 32 bytes:
  ascii('PXEClient:Arch:00000:UNDI:002001'), //   PXE fingerprint
  hex('5d 02 00 00'), // option 93 client arch: 0
  hex('5e 03 01 02 01'), // option 94 client NDI: 1.2.1
  hex('ff'), // END (301 bytes in all)
]);

// ---------------------------------------------------------------------------------------------

describe('dhcp codec: decoding the fixtures', () => {
  it('decodes every field of the Pi 4 DISCOVER', () => {
    const p = decodePacket(PI4_DISCOVER);
    assert.equal(PI4_DISCOVER.length, 326);
    assert.equal(p.op, 1);
    assert.equal(p.htype, 1);
    assert.equal(p.hlen, 6);
    assert.equal(p.hops, 0);
    assert.equal(p.xid, 0xd383a6ac);
    assert.equal(p.secs, 0);
    assert.equal(p.flags, 0);
    assert.equal(p.ciaddr, '0.0.0.0');
    assert.equal(p.yiaddr, '0.0.0.0');
    assert.equal(p.siaddr, '0.0.0.0');
    assert.equal(p.giaddr, '0.0.0.0');
    assert.deepEqual(p.chaddr, Buffer.concat([hex('dc a6 32 c2 1f fe'), zeros(10)]));
    assert.equal(p.mac, 'dc:a6:32:c2:1f:fe');
    assert.equal(p.sname, '');
    assert.equal(p.file, '');
    assert.deepEqual([...p.options.keys()], [53, 55, 57, 60, 93, 94, 97]);
    assert.equal(messageType(p), DhcpMessageType.DISCOVER);
    assert.deepEqual(getParameterList(p.options), [1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]);
    assert.equal(getUint16(p.options, DhcpOption.MAX_MESSAGE_SIZE), 1472);
    assert.equal(getString(p.options, DhcpOption.VENDOR_CLASS), 'PXEClient:Arch:00000:UNDI:002001');
    assert.deepEqual(p.options.get(93), hex('00 00'));
    assert.deepEqual(p.options.get(94), hex('01 02 01'));
    assert.deepEqual(p.options.get(97), hex('00 52506934 1131c000 32c21ffe b4a3c2e1'));
    assert.equal(requestProblem(p), null);
  });

  it('decodes the Pi 3B DISCOVER', () => {
    const p = decodePacket(PI3_DISCOVER);
    assert.equal(p.mac, 'b8:27:eb:12:34:56');
    assert.equal(p.xid, 0x26f30e51);
    assert.deepEqual([...p.options.keys()], [53, 55, 60, 93, 94]);
    assert.equal(p.options.has(97), false);
    assert.equal(messageType(p), DhcpMessageType.DISCOVER);
  });

  it('ignores bytes after END (padding) and PAD options', () => {
    const buf = request({ options: hex('00 00 35 01 03 00 ff 35 01 07 de ad') });
    const p = decodePacket(buf);
    assert.deepEqual([...p.options.keys()], [53]);
    assert.equal(messageType(p), DhcpMessageType.REQUEST);
  });

  it('tolerates a missing END when the options end exactly at the end of the buffer', () => {
    const p = decodePacket(request({ options: hex('35 01 01 0c 03 61 62 63') }));
    assert.equal(getString(p.options, 12), 'abc');
  });

  it('reads sname and file up to the first NUL, as latin1', () => {
    const p = decodePacket(
      request({ sname: ascii('tftp.lan\0junk'), file: Buffer.concat([ascii('boot/\xe9.bin'), zeros(1)]), options: hex('ff') }),
    );
    assert.equal(p.sname, 'tftp.lan');
    assert.equal(p.file, 'boot/\xe9.bin');
  });

  it('gives mac null when the hardware is not 6-byte Ethernet', () => {
    assert.equal(decodePacket(request({ hlen: 8, options: hex('ff') })).mac, null);
    const buf = Buffer.from(PI4_DISCOVER);
    buf[1] = 6; // htype IEEE 802
    assert.equal(decodePacket(buf).mac, null);
  });
});

describe('dhcp codec: round trips', () => {
  it('encode(decode(x)) gives the same bytes for both fixtures', () => {
    assert.deepEqual(encodePacket(decodePacket(PI4_DISCOVER)), PI4_DISCOVER);
    assert.deepEqual(encodePacket(decodePacket(PI3_DISCOVER)), PI3_DISCOVER);
  });

  it('decode(encode(p)) gives back the packet', () => {
    const p: DhcpPacket = {
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 1,
      xid: 0xffffffff,
      secs: 65535,
      flags: BROADCAST_FLAG,
      ciaddr: '10.0.0.9',
      yiaddr: '10.0.0.10',
      siaddr: '10.0.0.1',
      giaddr: '192.168.255.254',
      chaddr: macToChaddr('DC-A6-32-01-36-C2'),
      mac: 'dc:a6:32:01:36:c2',
      sname: 'bramble',
      file: 'bootcode.bin',
      options: new Map([
        [53, messageTypeOption(DhcpMessageType.ACK)],
        [1, ipOption('255.255.255.0')],
        [3, ipListOption(['10.0.0.1', '10.0.0.2'])],
        [51, uint32Option(86400)],
        [57, uint16Option(1500)],
        [19, uint8Option(0)],
        [66, stringOption('10.0.0.1')],
        [80, Buffer.alloc(0)], // zero-length option (rapid commit)
      ]),
    };
    const back = decodePacket(encodePacket(p));
    assert.deepEqual(back, p);
    assert.equal(getIp(back.options, 1), '255.255.255.0');
    assert.deepEqual(getIpList(back.options, 3), ['10.0.0.1', '10.0.0.2']);
    assert.equal(getUint32(back.options, 51), 86400);
    assert.equal(getUint8(back.options, 19), 0);
  });

  it('writes option 53 first whatever the insertion order', () => {
    const p = newReply(decodePacket(PI3_DISCOVER));
    p.options.set(54, ipOption('10.0.0.1'));
    p.options.set(53, messageTypeOption(DhcpMessageType.OFFER));
    const buf = encodePacket(p);
    assert.deepEqual(buf.subarray(240, 250), hex('35 01 02 36 04 0a 00 00 01 ff'));
  });
});

describe('dhcp codec: encoding a proxy OFFER for the Pi 4', () => {
  const req = decodePacket(PI4_DISCOVER);
  const offer = newReply(req);
  offer.flags |= BROADCAST_FLAG;
  offer.options.set(53, messageTypeOption(DhcpMessageType.OFFER));
  offer.options.set(54, ipOption('10.42.0.1'));
  offer.options.set(60, pxeClientOption());
  offer.options.set(43, RPI_OPTION43);
  offer.options.set(97, echoClientGuid(req)!);
  const buf = encodePacket(offer);

  it('has the exact fixed header', () => {
    assert.deepEqual(
      buf.subarray(0, 240),
      Buffer.concat([
        hex('02'), // op: BOOTREPLY
        hex('01'), // htype: Ethernet (from the request)
        hex('06'), // hlen: 6 (from the request)
        hex('00'), // hops: 0
        hex('d3 83 a6 ac'), // xid: the request's
        hex('00 00'), // secs: 0
        hex('80 00'), // flags: broadcast (proxy replies are broadcast)
        hex('00 00 00 00'), // ciaddr: 0.0.0.0
        hex('00 00 00 00'), // yiaddr: 0.0.0.0 — proxy DHCP hands out no address
        hex('00 00 00 00'), // siaddr: 0.0.0.0
        hex('00 00 00 00'), // giaddr: 0.0.0.0 (from the request)
        hex('dc a6 32 c2 1f fe'), // chaddr: the request's MAC
        zeros(10), // chaddr padding
        zeros(64), // sname: empty
        zeros(128), // file: empty
        hex('63 82 53 63'), // magic cookie
      ]),
    );
  });

  it('has the exact option region', () => {
    assert.deepEqual(
      buf.subarray(240),
      Buffer.concat([
        hex('35 01 02'), // option 53 message type: OFFER
        hex('36 04 0a 2a 00 01'), // option 54 server identifier: 10.42.0.1
        hex('3c 09'), // option 60 vendor class, 9 bytes:
        ascii('PXEClient'), //   "PXEClient"
        hex('2b 20'), // option 43 vendor specific, 32 bytes:
        hex('06 01 03'), //   PXE discovery control: 3
        hex('0a 04 00 50 58 45'), //   menu prompt: timeout 0, "PXE"
        hex('09 14 00 00 11'), //   boot menu, 20 bytes: type 0, 17-byte description:
        ascii('Raspberry Pi Boot'), //   "Raspberry Pi Boot"
        hex('ff'), //   end of sub-options
        hex('61 11 00 52 50 69 34 11 31 c0 00 32 c2 1f fe b4 a3 c2 e1'), // option 97 echoed
        hex('ff'), // END
      ]),
    );
    assert.equal(buf.length, 314); // over 300: no padding
  });
});

describe('dhcp codec: padding and size limits', () => {
  it('pads a short reply with zeros to 300 bytes', () => {
    const p = newReply(decodePacket(PI3_DISCOVER));
    p.options.set(53, messageTypeOption(DhcpMessageType.OFFER));
    const buf = encodePacket(p);
    assert.equal(buf.length, 300);
    assert.deepEqual(buf.subarray(240, 244), hex('35 01 02 ff'));
    assert.deepEqual(buf.subarray(244), zeros(56));
    assert.equal(encodePacket(p, { minSize: 0 }).length, 244);
    assert.equal(encodePacket(p, { minSize: 400 }).length, 400);
  });

  it('replyMaxSize follows option 57, between 576 and 1500, minus 28 bytes of IP + UDP headers', () => {
    assert.equal(replyMaxSize(decodePacket(PI4_DISCOVER)), 1472 - 28);
    assert.equal(replyMaxSize(decodePacket(PI3_DISCOVER)), 548);
    const p = decodePacket(PI3_DISCOVER);
    p.options.set(57, uint16Option(300));
    assert.equal(replyMaxSize(p), 548);
    p.options.set(57, uint16Option(9000));
    assert.equal(replyMaxSize(p), 1472);
    p.options.set(57, hex('05')); // malformed
    assert.equal(replyMaxSize(p), 548);
  });

  it('overloads into file, then sname, when the options field is full; drops what fits nowhere', () => {
    const p = newReply(decodePacket(PI3_DISCOVER));
    const fill = (n: number, byte: number) => Buffer.alloc(n, byte);
    p.options.set(53, messageTypeOption(DhcpMessageType.ACK)); // 3 bytes   → options 240..243
    p.options.set(224, fill(250, 1)); //                          252 bytes → options 243..495
    p.options.set(225, fill(100, 2)); // does not fit before 544 → file 108..210
    p.options.set(226, fill(40, 3)); //  does not fit in file    → sname 44..86
    p.options.set(227, fill(200, 4)); // fits nowhere            → dropped
    p.options.set(228, fill(10, 5)); //                          → sname 86..98
    const dropped: number[] = [];
    const buf = encodePacket(p, { dropped }); // maxSize 548
    assert.deepEqual(dropped, [227]);
    assert.equal(buf.length, 499); // 495 + option 52 (3) + END
    assert.deepEqual(buf.subarray(495, 499), hex('34 01 03 ff')); // overload = 3 (file and sname), END
    assert.deepEqual(buf.subarray(108, 110), hex('e1 64')); // file starts with option 225, 100 bytes
    assert.equal(buf[210], 0xff); // END in file, then PAD
    assert.deepEqual(buf.subarray(211, 236), zeros(25));
    assert.deepEqual(buf.subarray(44, 46), hex('e2 28')); // sname starts with option 226, 40 bytes
    assert.deepEqual(buf.subarray(86, 88), hex('e4 0a')); // then option 228
    assert.equal(buf[98], 0xff); // END in sname
    const back = decodePacket(buf);
    assert.equal(back.file, '');
    assert.equal(back.sname, '');
    assert.deepEqual([...back.options.keys()], [53, 224, 225, 226, 228]);
    assert.deepEqual(back.options.get(226), fill(40, 3));
  });

  it('does not overload into a file field that holds a boot file name', () => {
    const p = newReply(decodePacket(PI3_DISCOVER));
    p.file = 'bootcode.bin';
    p.options.set(53, messageTypeOption(DhcpMessageType.ACK));
    p.options.set(224, Buffer.alloc(290, 1)); // 294 bytes: options 243..537
    p.options.set(225, Buffer.alloc(30, 2)); //  → sname
    const dropped: number[] = [];
    const back = decodePacket(encodePacket(p, { dropped }));
    assert.deepEqual(dropped, []);
    assert.equal(back.file, 'bootcode.bin');
    assert.equal(back.sname, '');
    assert.deepEqual(back.options.get(225), Buffer.alloc(30, 2));
  });
});

describe('dhcp codec: RFC 3396 long options', () => {
  const long = Buffer.alloc(600);
  for (let i = 0; i < long.length; i++) long[i] = i & 0xff;

  it('splits a 600-byte option into 3 consecutive instances (255 + 255 + 90)', () => {
    const p = newReply(decodePacket(PI3_DISCOVER));
    p.options.set(53, messageTypeOption(DhcpMessageType.ACK));
    p.options.set(120, long);
    const buf = encodePacket(p, { maxSize: 1472 });
    assert.equal(buf.length, 240 + 3 + 606 + 1);
    assert.deepEqual(buf.subarray(243, 245), hex('78 ff')); // option 120, 255 bytes
    assert.deepEqual(buf.subarray(245, 500), long.subarray(0, 255));
    assert.deepEqual(buf.subarray(500, 502), hex('78 ff')); // option 120, 255 bytes
    assert.deepEqual(buf.subarray(502, 757), long.subarray(255, 510));
    assert.deepEqual(buf.subarray(757, 759), hex('78 5a')); // option 120, 90 bytes
    assert.deepEqual(buf.subarray(759, 849), long.subarray(510));
    assert.equal(buf[849], 0xff);
    assert.deepEqual(decodePacket(buf).options.get(120), long);
  });

  it('joins 3 instances of one option into one value, keeping the first position', () => {
    const p = decodePacket(
      request({
        options: Buffer.concat([
          hex('35 01 01'), // 53 DISCOVER
          hex('0c 02 61 62'), // 12 "ab"
          hex('3c 03 50 58 45'), // 60 "PXE"
          hex('0c 02 63 64'), // 12 "cd"
          hex('0c 01 65'), // 12 "e"
          hex('ff'),
        ]),
      }),
    );
    assert.deepEqual([...p.options.keys()], [53, 12, 60]);
    assert.equal(getString(p.options, 12), 'abcde');
  });
});

describe('dhcp codec: option overload (option 52)', () => {
  it('value 1: options continue in file; sname is still a name', () => {
    const p = decodePacket(
      request({
        sname: ascii('server'),
        file: hex('0c 03 61 62 63 ff'), // 12 "abc", END
        options: hex('35 01 01 34 01 01 ff'), // 53 DISCOVER, 52 = 1, END
      }),
    );
    assert.equal(getString(p.options, 12), 'abc');
    assert.equal(p.file, '');
    assert.equal(p.sname, 'server');
    assert.equal(p.options.has(52), false);
  });

  it('value 2: options continue in sname; file is still a name', () => {
    const p = decodePacket(
      request({
        sname: hex('42 04 74 66 74 70 ff'), // 66 "tftp", END
        file: ascii('boot.img'),
        options: hex('35 01 01 34 01 02 ff'), // 52 = 2
      }),
    );
    assert.equal(getString(p.options, 66), 'tftp');
    assert.equal(p.sname, '');
    assert.equal(p.file, 'boot.img');
  });

  it('value 3: file first, then sname; an option split across them is joined in that order', () => {
    const p = decodePacket(
      request({
        sname: hex('4d 02 63 64 43 01 7a ff'), // 77 "cd", 67 "z", END
        file: hex('4d 02 61 62 ff'), // 77 "ab", END
        options: hex('34 01 03 35 01 01 4d 01 30 ff'), // 52 = 3, 53 DISCOVER, 77 "0"
      }),
    );
    assert.deepEqual([...p.options.keys()], [53, 77, 67]);
    assert.equal(getString(p.options, 77), '0abcd');
    assert.equal(getString(p.options, 67), 'z');
    assert.equal(p.sname, '');
    assert.equal(p.file, '');
  });
});

describe('dhcp codec: hostile inputs, each with its own reason', () => {
  it('empty buffer → TOO_SHORT', () => expectDecodeError(Buffer.alloc(0), 'TOO_SHORT'));

  it('239 bytes → TOO_SHORT', () => expectDecodeError(PI4_DISCOVER.subarray(0, 239), 'TOO_SHORT'));

  it('240 bytes (header + cookie, no options) decodes', () => {
    assert.equal(decodePacket(PI4_DISCOVER.subarray(0, 240)).options.size, 0);
  });

  it('bad magic cookie → BAD_COOKIE', () => {
    const buf = Buffer.from(PI4_DISCOVER);
    buf[239] = 0x64;
    expectDecodeError(buf, 'BAD_COOKIE');
  });

  it('option length past the end → OPTION_OVERRUN', () => {
    expectDecodeError(request({ options: hex('35 01 01 3c 20 50 58 45') }), 'OPTION_OVERRUN');
  });

  it('an option code with no length byte at the very end → OPTION_OVERRUN', () => {
    expectDecodeError(request({ options: hex('35 01 01 3c') }), 'OPTION_OVERRUN');
  });

  it('truncated in the middle of an option (the Pi 4 DISCOVER cut inside option 60) → OPTION_OVERRUN', () => {
    expectDecodeError(PI4_DISCOVER.subarray(0, 280), 'OPTION_OVERRUN');
  });

  it('an option in file running past the end of file → OPTION_OVERRUN', () => {
    const file = Buffer.concat([zeros(126), hex('0c 05')]);
    expectDecodeError(request({ file, options: hex('34 01 01 ff') }), 'OPTION_OVERRUN');
  });

  it('overload inside file (a loop) → OVERLOAD_LOOP', () => {
    expectDecodeError(request({ file: hex('34 01 02 ff'), options: hex('35 01 01 34 01 01 ff') }), 'OVERLOAD_LOOP');
  });

  it('overload inside sname → OVERLOAD_LOOP', () => {
    expectDecodeError(request({ sname: hex('34 01 01 ff'), options: hex('34 01 03 ff') }), 'OVERLOAD_LOOP');
  });

  it('overload value 7 → BAD_OVERLOAD', () => {
    expectDecodeError(request({ options: hex('35 01 01 34 01 07 ff') }), 'BAD_OVERLOAD');
  });

  it('overload of length 2, or repeated → BAD_OVERLOAD', () => {
    expectDecodeError(request({ options: hex('34 02 01 01 ff') }), 'BAD_OVERLOAD');
    expectDecodeError(request({ options: hex('34 01 01 34 01 01 ff') }), 'BAD_OVERLOAD');
  });

  it('hlen 17 → BAD_HLEN', () => expectDecodeError(request({ hlen: 17, options: hex('ff') }), 'BAD_HLEN'));

  it('a 255-byte option 55 decodes fine', () => {
    const list = Buffer.alloc(255);
    for (let i = 0; i < 255; i++) list[i] = i + 1;
    const p = decodePacket(request({ options: Buffer.concat([hex('35 01 01 37 ff'), list, hex('ff')]) }));
    assert.equal(getParameterList(p.options)!.length, 255);
  });

  it('the error carries its reason, offset and a message', () => {
    try {
      decodePacket(request({ options: hex('35 01 01 3c 20 50') }));
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof DhcpDecodeError);
      assert.equal(e.reason, 'OPTION_OVERRUN');
      assert.equal(e.offset, 243);
      assert.equal(e.name, 'DhcpDecodeError');
      assert.match(e.message, /^OPTION_OVERRUN: option 60 at offset 243/);
    }
  });

  it('10,000 random and mutated buffers: only DhcpDecodeError is ever thrown, and what decodes round-trips', () => {
    // Seeded, so a failure is reproducible.
    const rng = new Rng(0x5eed1234);
    const rand = (): number => rng.next();
    const int = (n: number) => rng.int(n);
    const counts: Record<string, number> = { ok: 0 };
    for (let i = 0; i < 10_000; i++) {
      let buf: Buffer;
      const kind = i % 3;
      if (kind === 0) {
        // Fully random bytes of a random length.
        buf = Buffer.alloc(int(700));
        for (let k = 0; k < buf.length; k++) buf[k] = int(256);
      } else if (kind === 1) {
        // Valid header and cookie, random option bytes (small codes and lengths to reach deep).
        buf = Buffer.concat([PI3_DISCOVER.subarray(0, 240), Buffer.alloc(3 + int(400))]);
        for (let k = 240; k < buf.length; k++) buf[k] = rand() < 0.7 ? int(64) : int(256);
        const r = rand();
        if (r < 0.25)
          buf.set([52, 1, 1 + int(3)], 240); // overload into file and/or sname
        else if (r < 0.3) buf.set([52, 1, int(256)], 240); // mostly an invalid overload value
        if (rand() < 0.3) for (let k = 44; k < 236; k++) buf[k] = int(80);
        buf[2] = int(20);
      } else {
        // The Pi 4 DISCOVER with a few bytes flipped, maybe truncated.
        buf = Buffer.from(PI4_DISCOVER.subarray(0, rand() < 0.5 ? PI4_DISCOVER.length : int(PI4_DISCOVER.length + 1)));
        for (let k = 0; k < 3 && buf.length > 0; k++) buf[int(buf.length)] = int(256);
      }
      let p: DhcpPacket;
      try {
        p = decodePacket(buf);
      } catch (e) {
        assert.ok(e instanceof DhcpDecodeError, `case ${i}: threw ${String(e)}`);
        counts[e.reason] = (counts[e.reason] ?? 0) + 1;
        continue;
      }
      counts.ok++;
      const again = decodePacket(encodePacket(p, { maxSize: 65535, minSize: 0 }));
      assert.deepEqual(again, p, `case ${i}: round trip`);
    }
    // The generators reach every structural error and plenty of successful decodes.
    for (const reason of ['ok', 'TOO_SHORT', 'BAD_COOKIE', 'BAD_HLEN', 'OPTION_OVERRUN', 'BAD_OVERLOAD', 'OVERLOAD_LOOP']) {
      assert.ok((counts[reason] ?? 0) > 0, `no case gave ${reason}: ${JSON.stringify(counts)}`);
    }
  });
});

describe('dhcp codec: what is left to the decider', () => {
  it('a BOOTREPLY decodes; requestProblem says NOT_BOOTREQUEST', () => {
    const buf = Buffer.from(PI4_DISCOVER);
    buf[0] = BOOTREPLY;
    assert.equal(requestProblem(decodePacket(buf)), 'NOT_BOOTREQUEST');
  });

  it('plain BOOTP (no option 53) or a bad option 53 decodes; requestProblem says MISSING_MESSAGE_TYPE', () => {
    assert.equal(requestProblem(decodePacket(request({ options: hex('ff') }))), 'MISSING_MESSAGE_TYPE');
    assert.equal(requestProblem(decodePacket(request({ options: hex('35 02 01 01 ff') }))), 'MISSING_MESSAGE_TYPE');
    assert.equal(requestProblem(decodePacket(request({ options: hex('35 01 09 ff') }))), 'MISSING_MESSAGE_TYPE');
    assert.equal(requestProblem(decodePacket(request({ options: hex('35 01 00 ff') }))), 'MISSING_MESSAGE_TYPE');
  });

  it('typed accessors return null for absent options or the wrong length', () => {
    const o = decodePacket(PI4_DISCOVER).options;
    assert.equal(getIp(o, 54), null);
    assert.equal(getIp(o, 57), null);
    assert.equal(getUint32(o, 57), null);
    assert.equal(getUint8(o, 57), null);
    assert.equal(getIpList(o, 94), null);
    assert.equal(getString(o, 54), null);
  });
});

describe('dhcp codec: encode rejects packets bramble built wrongly', () => {
  const base = () => newReply(decodePacket(PI3_DISCOVER));
  const expectEncodeError = (p: DhcpPacket, reason: string) =>
    assert.throws(
      () => encodePacket(p),
      (e: unknown) => e instanceof DhcpEncodeError && e.reason === reason,
    );

  it('a malformed address → BAD_FIELD', () => {
    for (const bad of ['10.0.0', '10.0.0.256', '1.2.3.4.5', '', 'a.b.c.d', '1..2.3', '1.2.3.4 ', '1234.1.1.1']) {
      const p = base();
      p.yiaddr = bad;
      expectEncodeError(p, 'BAD_FIELD');
    }
  });

  it('options 0, 52, 255 or out of range → RESERVED_OPTION', () => {
    for (const code of [0, 52, 255, 256, -1, 1.5]) {
      const p = base();
      p.options.set(code, hex('01'));
      expectEncodeError(p, 'RESERVED_OPTION');
    }
  });

  it('an oversized sname/file/chaddr, or a non-latin1 name → BAD_FIELD', () => {
    let p = base();
    p.sname = 'x'.repeat(65);
    expectEncodeError(p, 'BAD_FIELD');
    p = base();
    p.file = 'x'.repeat(129);
    expectEncodeError(p, 'BAD_FIELD');
    p = base();
    p.file = 'boot\u20ac';
    expectEncodeError(p, 'BAD_FIELD');
    p = base();
    p.chaddr = Buffer.alloc(17);
    expectEncodeError(p, 'BAD_FIELD');
  });

  it('names that fill the whole field are written without a NUL and read back', () => {
    const p = base();
    p.sname = 's'.repeat(64);
    p.file = 'f'.repeat(128);
    p.options.set(53, messageTypeOption(DhcpMessageType.OFFER));
    const back = decodePacket(encodePacket(p));
    assert.equal(back.sname, p.sname);
    assert.equal(back.file, p.file);
  });
});
