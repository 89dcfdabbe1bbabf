import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BROADCAST_FLAG, DhcpMessageType, type DhcpPacket, messageTypeOption, newReply } from '../../../src/plugins/dhcp/dhcp.codec';
import { replyDestination, replyFlags } from '../../../src/plugins/dhcp/reply-destination';
import { discoverPacket } from '../../support/dhcp-packets';

function req(fields: Partial<DhcpPacket> = {}): DhcpPacket {
  return discoverPacket('dc:a6:32:00:00:01', { mac: 'dc:a6:32:00:00:01', ...fields });
}

function reply(request: DhcpPacket, type: DhcpMessageType, yiaddr = '0.0.0.0'): DhcpPacket {
  const r = newReply(request);
  r.yiaddr = yiaddr;
  r.options.set(53, messageTypeOption(type));
  return r;
}

const BROADCAST_68 = { address: '255.255.255.255', port: 68, broadcast: true };

describe('replyDestination (RFC 2131 §4.1)', () => {
  it('giaddr ≠ 0: unicast to the relay agent on the server port 67, whatever the message', () => {
    const r = req({ giaddr: '10.1.0.1', flags: BROADCAST_FLAG, ciaddr: '10.1.0.50' });
    for (const t of [DhcpMessageType.OFFER, DhcpMessageType.ACK, DhcpMessageType.NAK]) {
      assert.deepEqual(replyDestination(r, reply(r, t), {}), { address: '10.1.0.1', port: 67, broadcast: false });
    }
  });

  it('giaddr = 0, NAK: broadcast, even when ciaddr is set', () => {
    const r = req({ ciaddr: '10.0.0.50' });
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.NAK), {}), BROADCAST_68);
  });

  it('giaddr = 0, ciaddr ≠ 0: unicast to ciaddr:68 (renewing, INFORM)', () => {
    const r = req({ ciaddr: '10.0.0.50', flags: BROADCAST_FLAG });
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.ACK), {}), {
      address: '10.0.0.50',
      port: 68,
      broadcast: false,
    });
  });

  it('giaddr = 0, ciaddr = 0, broadcast bit set: broadcast to 255.255.255.255:68', () => {
    const r = req({ flags: BROADCAST_FLAG });
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.OFFER, '10.0.0.60'), {}), BROADCAST_68);
  });

  it('giaddr = 0, ciaddr = 0, broadcast bit clear: bramble broadcasts (no ARP injection) instead of unicast to yiaddr', () => {
    const r = req();
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.OFFER, '10.0.0.60'), {}), BROADCAST_68);
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.ACK, '10.0.0.60'), {}), BROADCAST_68);
  });

  it('proxy replies (yiaddr 0.0.0.0) are broadcast', () => {
    const r = req();
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.OFFER), {}), BROADCAST_68);
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.ACK), { receivedOnBroadcast: true }), BROADCAST_68);
  });

  it('how the request arrived does not change the RFC rules', () => {
    const r = req({ ciaddr: '10.0.0.50' });
    const ack = reply(r, DhcpMessageType.ACK);
    assert.deepEqual(replyDestination(r, ack, { receivedOnBroadcast: true }), replyDestination(r, ack, { receivedOnBroadcast: false }));
  });

  it('PXE port 4011: unicast back to the source address and port', () => {
    const r = req({ ciaddr: '10.0.0.50', options: new Map([[53, messageTypeOption(DhcpMessageType.REQUEST)]]) });
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.ACK), { localPort: 4011, peer: { address: '10.0.0.50', port: 4011 } }), {
      address: '10.0.0.50',
      port: 4011,
      broadcast: false,
    });
    assert.deepEqual(replyDestination(r, reply(r, DhcpMessageType.ACK), { localPort: 4011, peer: { address: '10.0.0.77', port: 68 } }), {
      address: '10.0.0.77',
      port: 68,
      broadcast: false,
    });
  });

  it('PXE port 4011 from 0.0.0.0: broadcast on the source port', () => {
    const r = req();
    assert.deepEqual(
      replyDestination(r, reply(r, DhcpMessageType.ACK), { localPort: 4011, peer: { address: '0.0.0.0', port: 68 } }),
      BROADCAST_68,
    );
  });

  it('port 67 with a peer: the peer does not matter', () => {
    const r = req();
    assert.deepEqual(
      replyDestination(r, reply(r, DhcpMessageType.OFFER), { localPort: 67, peer: { address: '10.0.0.9', port: 68 } }),
      BROADCAST_68,
    );
  });
});

describe('replyFlags (RFC 2131 §4.3.1 table 3, §4.3.2)', () => {
  it('copies the client flags', () => {
    const r = req({ flags: BROADCAST_FLAG });
    assert.equal(replyFlags(r, reply(r, DhcpMessageType.OFFER)), BROADCAST_FLAG);
    const u = req();
    assert.equal(replyFlags(u, reply(u, DhcpMessageType.ACK)), 0);
  });

  it('sets the broadcast bit in a relayed NAK', () => {
    const r = req({ giaddr: '10.1.0.1' });
    assert.equal(replyFlags(r, reply(r, DhcpMessageType.NAK)), BROADCAST_FLAG);
    assert.equal(replyFlags(r, reply(r, DhcpMessageType.ACK)), 0);
  });

  it('does not set it in a NAK that is not relayed (that NAK is broadcast anyway)', () => {
    const r = req();
    assert.equal(replyFlags(r, reply(r, DhcpMessageType.NAK)), 0);
  });
});
