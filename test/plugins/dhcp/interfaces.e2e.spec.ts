/**
 * bramble serves only the configured interface: on a server with two NICs (eth0 on the Pi LAN,
 * eth1 on an office LAN), DISCOVERs arriving on eth1 are never seen (an approved Pi there gets
 * nothing, an unknown one is not even recorded), and replies to the Pis on eth0 leave through eth0
 * only. Taps on both LANs watch every broadcast.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DhcpMessageType } from '../../../src/plugins/dhcp/dhcp.codec';
import { dhcpLabUnavailable, startDhcpLab, type DhcpLab, type DhcpTap } from '../../support/dhcp-lab';

const skip = dhcpLabUnavailable();

const LAN_PI = 'dc:a6:32:00:04:01';
const OFFICE_PI = 'dc:a6:32:00:04:02';
const OFFICE_UNKNOWN_PI = 'e4:5f:01:00:04:03';
/** The office LAN: another private /24, only inside this lab. */
const OFFICE = '172.31.250';

describe('DHCP on a two-NIC server: only the configured interface is served', { skip: skip ?? false }, () => {
  let lab: DhcpLab;
  let lanTap: DhcpTap;
  let officeTap: DhcpTap;

  before(async () => {
    lab = await startDhcpLab({ settings: { mode: 'proxy', pi3ReplyDelayMs: 0 } });
    await lab.lab.addSwitch('office');
    await lab.lab.addHost('srv', 'office', { ifname: 'eth1', mac: '02:00:00:00:01:02', cidr: `${OFFICE}.1/24` });
    await lab.addClient('lanpi', LAN_PI);
    await lab.addClient('officepi', OFFICE_PI, { sw: 'office' });
    await lab.addClient('officeunknown', OFFICE_UNKNOWN_PI, { sw: 'office' });
    await lab.addClient('lantap', '02:00:00:00:0f:01', { cidr: `${lab.ip(250)}/24` });
    await lab.addClient('officetap', '02:00:00:00:0f:02', { cidr: `${OFFICE}.250/24`, sw: 'office' });
    [lanTap, officeTap] = await Promise.all([lab.startTap('lantap'), lab.startTap('officetap')]);
    await lab.approve(LAN_PI);
    await lab.approve(OFFICE_PI);
  });
  after(async () => {
    await lab?.close();
  });

  const serverReplies = (tap: DhcpTap) => tap.packets.filter((p) => p.port === 68);

  it('gives nothing to an approved Pi whose DISCOVER arrives on eth1, and does not even see an unknown one there', async () => {
    const [approved, unknown] = await Promise.all([
      lab.udhcpc('officepi', { pi: { mac: OFFICE_PI, serial: 0x4002 }, tries: 2 }),
      lab.udhcpc('officeunknown', { pi: { mac: OFFICE_UNKNOWN_PI, serial: 0x4003 }, tries: 1 }),
    ]);
    assert.equal(approved.bound, undefined, 'no answer on eth1');
    assert.equal(unknown.bound, undefined);
    assert.ok(
      officeTap.packets.some((p) => p.port === 67 && p.packet.mac === OFFICE_PI),
      'the DISCOVERs did reach the office LAN',
    );
    assert.deepEqual(serverReplies(officeTap), [], 'nothing was sent on the office LAN');
    assert.deepEqual(serverReplies(lanTap), [], 'nor on the Pi LAN');
    assert.deepEqual(await lab.stream(`client-${OFFICE_UNKNOWN_PI}`), [], 'a Pi on eth1 is not recorded');
    assert.deepEqual(await lab.stream(`boot-${OFFICE_PI}`), [], 'no boot progress for a Pi on eth1');
  });

  it('answers the Pi on eth0, and its broadcast replies leave through eth0 only', async () => {
    const events = await lab.udhcpc('lanpi', { pi: { mac: LAN_PI, serial: 0x4001 }, tries: 2 });
    assert.ok(events.bound, 'the Pi on eth0 gets its answer');
    assert.equal(events.bound.serverid, lab.serverIp);
    const offer = await lanTap.waitFor((p) => p.port === 68 && p.packet.mac === LAN_PI && p.type === DhcpMessageType.OFFER, 2000);
    assert.ok(offer, 'the OFFER was broadcast on the Pi LAN');
    assert.equal(offer.from, lab.serverIp);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(serverReplies(officeTap), [], 'no reply reached the office LAN');
  });
});
