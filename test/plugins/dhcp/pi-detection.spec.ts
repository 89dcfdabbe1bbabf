import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DhcpMessageType, type DhcpPacket, messageTypeOption } from '../../../src/plugins/dhcp/dhcp.codec';
import { detectPi, modelFromRevision } from '../../../src/plugins/dhcp/pi-detection';
import { PI_OUIS } from '../../../src/plugins/dhcp/pi-oui.data';
import { discoverPacket, viaCodec } from '../../support/dhcp-packets';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

const PXE_VENDOR_CLASS = Buffer.from('PXEClient:Arch:00000:UNDI:002001', 'latin1');

/** A DISCOVER from `mac` with the given options (after 53), through the real codec. */
function discover(mac: string, options: Array<[number, Buffer]> = [], htype = 1): DhcpPacket {
  return viaCodec(discoverPacket(mac, { htype, options: new Map([[53, messageTypeOption(DhcpMessageType.DISCOVER)], ...options]) }));
}

/** Option 97 in the Pi 4/5 format: type 0, FourCC, revision LE, MAC low 4 bytes, serial LE. */
function piGuid(fourcc: string, revision: number, serial: number): Buffer {
  const g = Buffer.alloc(17);
  g[0] = 0;
  g.write(fourcc, 1, 'latin1');
  g.writeUInt32LE(revision, 5);
  g.writeUInt32LE(0x01020304, 9);
  g.writeUInt32LE(serial, 13);
  return g;
}

/** The Pi 4 fingerprint options: 60, 93, 94 and 97. */
function pxeOptions(guid: Buffer | null): Array<[number, Buffer]> {
  const o: Array<[number, Buffer]> = [
    [60, PXE_VENDOR_CLASS],
    [93, hex('00 00')],
    [94, hex('01 02 01')],
  ];
  if (guid) o.push([97, guid]);
  return o;
}

describe('detectPi: by MAC prefix', () => {
  for (const row of PI_OUIS) {
    it(`${row.prefix} is a Pi (via oui)`, () => {
      const id = detectPi(discover(`${row.prefix}:01:02:03`));
      assert.deepEqual(id, {
        mac: `${row.prefix}:01:02:03`,
        serial: null,
        model: row.models.length === 1 ? row.models[0] : null,
        via: 'oui',
        pxe: false,
        arch: null,
      });
    });
  }

  it('a Pi 3B DISCOVER (b8:27:eb, PXEClient, no option 97)', () => {
    assert.deepEqual(detectPi(discover('b8:27:eb:12:34:56', pxeOptions(null))), {
      mac: 'b8:27:eb:12:34:56',
      serial: null,
      model: null,
      via: 'oui',
      pxe: true,
      arch: 0,
    });
  });

  it('upper-case or neighbouring prefixes are not confused', () => {
    assert.equal(detectPi(discover('b8:27:ec:12:34:56')), null);
    assert.equal(detectPi(discover('B8:27:EB:12:34:56'))?.mac, 'b8:27:eb:12:34:56');
  });
});

describe('detectPi: by option 97 FourCC', () => {
  it('RPi4: serial and model from the GUID (little-endian words)', () => {
    const guid = hex('00 52 50 69 34 11 31 c0 00 32 c2 1f fe b4 a3 c2 e1');
    assert.deepEqual(detectPi(discover('dc:a6:32:c2:1f:fe', pxeOptions(guid))), {
      mac: 'dc:a6:32:c2:1f:fe',
      serial: 'e1c2a3b4',
      model: 'RPi4',
      via: 'option97',
      pxe: true,
      arch: 0,
    });
  });

  it('a serial with leading zeros keeps 8 lower-case digits', () => {
    assert.equal(detectPi(discover('dc:a6:32:00:00:01', [[97, piGuid('RPi4', 0xc03111, 0x00ab0c)]]))?.serial, '0000ab0c');
  });

  const models: Array<[string, number, string]> = [
    ['RPi4', 0xc03111, 'RPi4'], // Pi 4B 4GB rev 1.1
    ['RPi4', 0xc03130, 'RPi400'], // Pi 400
    ['RPi4', 0xb03140, 'CM4'], // CM4 2GB
    ['RPi5', 0xd04170, 'RPi5'], // Pi 5 8GB
    ['RPi5', 0xc04180, 'CM5'], // CM5 4GB
    ['RPi5', 0xd04190, 'RPi500'], // Pi 500
    ['RPi5', 0xd041a0, 'CM5Lite'], // CM5 Lite
    ['RPi4', 0xc031f1, 'RPi4'], // unknown type 0x1f → the FourCC
    ['RPi5', 0x0000000e, 'RPi5'], // old-style revision code (bit 23 clear) → the FourCC
  ];
  for (const [fourcc, revision, model] of models) {
    it(`${fourcc} with revision ${revision.toString(16)} → ${model}`, () => {
      const id = detectPi(discover('2c:cf:67:00:00:01', [[97, piGuid(fourcc, revision, 0x1234abcd)]]));
      assert.equal(id?.model, model);
      assert.equal(id?.serial, '1234abcd');
      assert.equal(id?.via, 'option97');
    });
  }

  it('identifies a Pi behind a MAC that is not a Pi prefix (MAC_ADDRESS override)', () => {
    const id = detectPi(discover('02:00:00:aa:bb:cc', pxeOptions(piGuid('RPi5', 0xd04170, 0xcafe0001))));
    assert.deepEqual(id, { mac: '02:00:00:aa:bb:cc', serial: 'cafe0001', model: 'RPi5', via: 'option97', pxe: true, arch: 0 });
  });

  it('a GUID that is not 17 bytes or not type 0 is not a FourCC match', () => {
    const short = piGuid('RPi4', 0xc03111, 1).subarray(0, 16);
    assert.equal(detectPi(discover('02:00:00:aa:bb:cc', [[97, short]])), null);
    const typed = piGuid('RPi4', 0xc03111, 1);
    typed[0] = 1;
    assert.equal(detectPi(discover('02:00:00:aa:bb:cc', [[97, typed]])), null);
  });

  it('modelFromRevision reads bits 4–11 of new-style codes only', () => {
    assert.equal(modelFromRevision(0xa03111), 'RPi4');
    assert.equal(modelFromRevision(0x003111), null);
    assert.equal(modelFromRevision(0xa020d3), null); // 3B+: not a board with the option 97 GUID
  });
});

describe('detectPi: old EEPROM format (serial repeated 4 times)', () => {
  it('gives the serial when the four words are equal and the MAC is a Pi', () => {
    const guid = hex('00 67 45 23 01 67 45 23 01 67 45 23 01 67 45 23 01');
    assert.deepEqual(detectPi(discover('dc:a6:32:01:36:c2', pxeOptions(guid))), {
      mac: 'dc:a6:32:01:36:c2',
      serial: '01234567',
      model: null,
      via: 'oui',
      pxe: true,
      arch: 0,
    });
  });

  it('no serial when the words differ, or are all zero', () => {
    const differ = hex('00 67 45 23 01 67 45 23 01 67 45 23 01 67 45 23 02');
    assert.equal(detectPi(discover('dc:a6:32:01:36:c2', [[97, differ]]))?.serial, null);
    assert.equal(detectPi(discover('dc:a6:32:01:36:c2', [[97, Buffer.alloc(17)]]))?.serial, null);
  });

  it("the Pi 3B ROM's constant GUID (00 + sixteen 44 bytes, the same on every board) gives no serial", () => {
    const constant = hex(`00 ${'44 '.repeat(16)}`.trim());
    const pi3 = detectPi(discover('b8:27:eb:00:00:01', pxeOptions(constant)));
    assert.equal(pi3?.mac, 'b8:27:eb:00:00:01', 'still a Pi (by its MAC)');
    assert.equal(pi3?.serial, null, 'not the serial 44444444 of every Pi 3B');
    assert.equal(detectPi(discover('b8:27:eb:00:00:01', [[97, Buffer.alloc(17, 0xff).fill(0, 0, 1)]]))?.serial, null);
  });

  it('does not make a non-Pi MAC a Pi', () => {
    const guid = hex('00 67 45 23 01 67 45 23 01 67 45 23 01 67 45 23 01');
    assert.equal(detectPi(discover('52:54:00:12:34:56', pxeOptions(guid))), null);
  });
});

describe('detectPi: non-Pi traffic is null', () => {
  it('an iPXE / x86 PXE client with the same fingerprint (60, 93, 94, 97) is not a Pi', () => {
    const ipxeGuid = hex('00 4c 4c 45 44 00 35 31 10 80 4e b4 c0 4f 30 32 32');
    assert.equal(detectPi(discover('52:54:00:12:34:56', pxeOptions(ipxeGuid))), null);
    assert.equal(detectPi(discover('52:54:00:12:34:56', pxeOptions(null))), null);
  });

  it('a plain client is not a Pi', () => {
    assert.equal(detectPi(discover('00:1b:21:3a:4f:90')), null);
  });

  it('a Pi FourCC on a packet without an Ethernet MAC is not served', () => {
    assert.equal(detectPi(discover('dc:a6:32:00:00:01', [[97, piGuid('RPi4', 0xc03111, 1)]], 6)), null);
  });

  it('pxe is false for another vendor class; arch reads option 93', () => {
    const id = detectPi(
      discover('dc:a6:32:00:00:01', [
        [60, Buffer.from('udhcp 1.36.1')],
        [93, hex('00 0b')],
      ]),
    );
    assert.equal(id?.pxe, false);
    assert.equal(id?.arch, 11);
  });
});
