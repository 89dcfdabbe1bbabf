import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DhcpMessageType, messageTypeOption } from '../../../src/plugins/dhcp/dhcp.codec';
import {
  echoClientGuid,
  encodeVendorSubOptions,
  pxeBootMenu,
  pxeClientOption,
  pxeDiscoveryControl,
  pxeMenuPrompt,
  RPI_OPTION43,
} from '../../../src/plugins/dhcp/pxe-options';
import { discoverPacket, viaCodec } from '../../support/dhcp-packets';

describe('pxe options', () => {
  it('RPI_OPTION43 is exactly the 32 bytes dnsmasq sends for pxe-service=0,"Raspberry Pi Boot"', () => {
    const expected = [
      0x06, // sub-option 6: PXE discovery control
      0x01, //   length 1
      0x03, //   3 = no broadcast (bit 0) and no multicast (bit 1) discovery
      0x0a, // sub-option 10: PXE menu prompt
      0x04, //   length 4
      0x00, //   timeout 0 seconds
      0x50, //   'P'
      0x58, //   'X'
      0x45, //   'E'
      0x09, // sub-option 9: PXE boot menu
      0x14, //   length 20 = 2 (type) + 1 (description length) + 17 (text)
      0x00, //   boot server type, high byte
      0x00, //   boot server type, low byte: 0 = PXE bootstrap server
      0x11, //   description length 17
      0x52, //   'R'
      0x61, //   'a'
      0x73, //   's'
      0x70, //   'p'
      0x62, //   'b'
      0x65, //   'e'
      0x72, //   'r'
      0x72, //   'r'
      0x79, //   'y'
      0x20, //   ' '
      0x50, //   'P'
      0x69, //   'i'
      0x20, //   ' '
      0x42, //   'B'
      0x6f, //   'o'
      0x6f, //   'o'
      0x74, //   't'
      0xff, // END of sub-options
    ];
    assert.equal(expected.length, 32);
    assert.equal(RPI_OPTION43.length, 32);
    for (let i = 0; i < 32; i++) assert.equal(RPI_OPTION43[i], expected[i], `byte ${i}`);
    assert.deepEqual(RPI_OPTION43, Buffer.from('0601030a0400505845091400001152617370626572727920506920426f6f74ff', 'hex'));
  });

  it('builds sub-options one by one', () => {
    assert.deepEqual(pxeDiscoveryControl(3), { code: 6, data: Buffer.from([3]) });
    assert.deepEqual(pxeMenuPrompt(5, 'Go'), { code: 10, data: Buffer.from([5, 0x47, 0x6f]) });
    assert.deepEqual(
      pxeBootMenu([
        { type: 0x8000, description: 'A' },
        { type: 1, description: 'BC' },
      ]),
      { code: 9, data: Buffer.from([0x80, 0x00, 1, 0x41, 0x00, 0x01, 2, 0x42, 0x43]) },
    );
    assert.deepEqual(encodeVendorSubOptions([]), Buffer.from([0xff]));
    assert.throws(() => encodeVendorSubOptions([{ code: 1, data: Buffer.alloc(256) }]), RangeError);
    assert.throws(() => encodeVendorSubOptions([{ code: 255, data: Buffer.alloc(1) }]), RangeError);
  });

  it('option 60 is PXEClient', () => {
    assert.deepEqual(pxeClientOption(), Buffer.from('PXEClient'));
  });

  it('echoes option 97 when the request has one, else null', () => {
    const guid = Buffer.from('00525069341131c00032c21ffeb4a3c2e1', 'hex');
    const withGuid = viaCodec(
      discoverPacket('dc:a6:32:00:00:01', {
        xid: 7,
        options: new Map([
          [53, messageTypeOption(DhcpMessageType.DISCOVER)],
          [97, guid],
        ]),
      }),
    );
    assert.deepEqual(echoClientGuid(withGuid), guid);
    const without = viaCodec(discoverPacket('dc:a6:32:00:00:01', { xid: 7 }));
    assert.equal(echoClientGuid(without), null);
  });
});
