/**
 * Proxy mode against real clients: busybox udhcpc as a Pi 4 and as a Pi 3B, a dnsmasq proxy-DHCP
 * server as the reference for option 43, boot progress facts, the Pi 3B reply delay, and metrics.
 * A tap (a separate process on the LAN) records every broadcast with its time.
 */
import { BOOT_FACT_MIN_INTERVAL_MS } from '../../../src/plugins/dhcp/dhcp.server';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BROADCAST_FLAG,
  DhcpMessageType,
  DhcpOption,
  decodePacket,
  encodePacket,
  getIp,
  messageType,
  messageTypeOption,
} from '../../../src/plugins/dhcp/dhcp.codec';
import { adoptUdpFd, createBoundUdpFd } from '../../../src/plugins/dhcp/bound-udp-socket';
import { RPI_OPTION43 } from '../../../src/plugins/dhcp/pxe-options';
import { Metrics } from '../../../src/core/observability/metrics';
import {
  DNSMASQ_RPI_OPTION43_HEX,
  dhcpLabUnavailable,
  pi4Guid,
  startDhcpLab,
  xidHex,
  type DhcpLab,
  type DhcpTap,
  type TapPacket,
} from '../../support/dhcp-lab';
import { eventually } from '../../support/temp';
import { discoverPacket } from '../../support/dhcp-packets';

const skip = dhcpLabUnavailable();

const PI4 = 'dc:a6:32:00:01:01';
const PI4_SERIAL = 0x1a2b3c4d;
const PI3 = 'b8:27:eb:00:01:02';
/** A Pi that already has an address (from the LAN's server) and asks the PXE boot server on udp/4011. */
const PI_4011 = 'dc:a6:32:00:01:03';

const hex = (p: TapPacket, code: number): string | undefined => p.packet.options.get(code)?.toString('hex');

describe('DHCP proxy mode with real clients', { skip: skip ?? false }, () => {
  let lab: DhcpLab;
  let tap: DhcpTap;

  before(async () => {
    lab = await startDhcpLab({ settings: { mode: 'proxy', pi3ReplyDelayMs: 0 } });
    await lab.addClient('pi4', PI4);
    await lab.addClient('pi3', PI3);
    await lab.addClient('tap', '02:00:00:00:0f:01', { cidr: `${lab.ip(250)}/24` });
    tap = await lab.startTap('tap');
    await lab.approve(PI4);
    await lab.approve(PI3);
    await lab.addClient('pxe', PI_4011, { cidr: `${lab.ip(60)}/24` });
    await lab.approve(PI_4011);
  });
  after(async () => {
    await lab?.close();
  });

  /** The DISCOVER of the last exchange `mac` started after `since`, and its xid. */
  const lastDiscover = (mac: string, since: number): TapPacket => {
    const d = tap.packets.filter((p) => p.t >= since && p.port === 67 && p.packet.mac === mac && p.type === DhcpMessageType.DISCOVER).pop();
    assert.ok(d, `the tap saw a DISCOVER from ${mac}`);
    return d;
  };
  const replyFrom = (server: string, xid: number, type: DhcpMessageType, ms = 3000): Promise<TapPacket | null> =>
    tap.waitFor((p) => p.port === 68 && p.from === server && p.packet.xid === xid && p.type === type, ms);
  const now = (): number => Number(process.hrtime.bigint()) / 1e6;

  it('a PXE REQUEST to udp/4011 (the PXE boot server port) gets an ACK back to its own address and port', async () => {
    const socket = await adoptUdpFd(lab.lab.inNamespace('pxe', () => createBoundUdpFd({ port: 4011, interface: 'eth0' })));
    try {
      const xid = 0x4011beef;
      const request = encodePacket(
        discoverPacket(PI_4011, {
          xid,
          ciaddr: lab.ip(60),
          mac: PI_4011,
          options: new Map([
            [DhcpOption.MESSAGE_TYPE, messageTypeOption(DhcpMessageType.REQUEST)],
            [DhcpOption.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00000:UNDI:002001', 'latin1')],
            [DhcpOption.CLIENT_ARCH, Buffer.from([0, 0])],
            [DhcpOption.CLIENT_NDI, Buffer.from([1, 2, 1])],
            [DhcpOption.CLIENT_GUID, Buffer.from(pi4Guid(PI_4011, 0x4011), 'hex')],
          ]),
        }),
      );
      const answer = new Promise<{ msg: Buffer; from: string; port: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer on udp/4011 within 3 s')), 3000);
        socket.on('message', (msg, rinfo) => {
          clearTimeout(timer);
          resolve({ msg, from: rinfo.address, port: rinfo.port });
        });
      });
      socket.send(request, 4011, lab.serverIp);
      const { msg, from, port } = await answer;
      assert.equal(from, lab.serverIp);
      assert.equal(port, 4011, 'answered from the PXE port');
      const reply = decodePacket(msg);
      assert.equal(reply.xid, xid);
      assert.equal(messageType(reply), DhcpMessageType.ACK);
      assert.equal(reply.yiaddr, '0.0.0.0');
      assert.equal(getIp(reply.options, DhcpOption.SERVER_ID), lab.serverIp);
      assert.deepEqual(reply.options.get(DhcpOption.VENDOR_SPECIFIC), RPI_OPTION43);
      assert.equal(reply.options.get(DhcpOption.LEASE_TIME), undefined);
    } finally {
      socket.close();
    }
  });

  it('udhcpc as a Pi 4 gets a proxy OFFER and ACK: no address, bramble as boot server, option 43 as dnsmasq sends it', async () => {
    const since = now();
    const events = await lab.udhcpc('pi4', { pi: { mac: PI4, serial: PI4_SERIAL }, tries: 2 });
    const bound = events.bound;
    assert.ok(bound, `udhcpc bound (events: ${Object.keys(events).join(', ')})`);
    assert.equal(bound.ip, '0.0.0.0', 'yiaddr 0.0.0.0: the address comes from the LAN server');
    assert.equal(bound.siaddr, lab.serverIp);
    assert.equal(bound.serverid, lab.serverIp);
    assert.equal(bound.opt43, DNSMASQ_RPI_OPTION43_HEX);
    assert.equal(bound.vendor, 'PXEClient');
    assert.equal(bound.opt97, pi4Guid(PI4, PI4_SERIAL), 'option 97 echoed');
    for (const absent of ['lease', 'router', 'subnet', 'dns']) assert.equal(bound[absent], undefined, `no ${absent} in a proxy reply`);

    const xid = lastDiscover(PI4, since).packet.xid;
    const offer = await replyFrom(lab.serverIp, xid, DhcpMessageType.OFFER);
    const ack = await replyFrom(lab.serverIp, xid, DhcpMessageType.ACK);
    for (const [name, reply] of [
      ['OFFER', offer],
      ['ACK', ack],
    ] as const) {
      assert.ok(reply, `bramble's ${name} was broadcast on the LAN`);
      assert.equal(reply.packet.yiaddr, '0.0.0.0');
      assert.equal(reply.packet.siaddr, lab.serverIp);
      assert.ok(reply.packet.flags & BROADCAST_FLAG, `${name} has the broadcast flag`);
      assert.equal(reply.packet.hops, 0);
      assert.equal(hex(reply, DhcpOption.SERVER_ID), Buffer.from(lab.serverIp.split('.').map(Number)).toString('hex'));
      assert.equal(reply.packet.options.get(DhcpOption.VENDOR_CLASS)?.toString('latin1'), 'PXEClient');
      assert.equal(hex(reply, DhcpOption.VENDOR_SPECIFIC), DNSMASQ_RPI_OPTION43_HEX);
      for (const code of [DhcpOption.LEASE_TIME, DhcpOption.ROUTER, DhcpOption.SUBNET_MASK]) {
        assert.equal(reply.packet.options.has(code), false, `${name} carries no option ${code}`);
      }
    }
  });

  it('sends the same option 43 bytes as dnsmasq --dhcp-range=<net>,proxy --pxe-service=0,"Raspberry Pi Boot" to the same DISCOVER', async () => {
    const refIp = lab.ip(3);
    await lab.lab.addHost('ref', 'lan', { ifname: 'eth0', mac: '02:00:00:00:0f:03', cidr: `${refIp}/24` });
    const dnsmasq = await lab.startDnsmasq('ref', [`--dhcp-range=${lab.ip(0)},proxy`, '--pxe-service=0,Raspberry Pi Boot']);
    try {
      const since = now();
      await lab.udhcpc('pi4', { pi: { mac: PI4, serial: PI4_SERIAL }, tries: 2 });
      // One DISCOVER, two proxy servers answering it.
      const xid = lastDiscover(PI4, since).packet.xid;
      const ours = await replyFrom(lab.serverIp, xid, DhcpMessageType.OFFER);
      const theirs = await replyFrom(refIp, xid, DhcpMessageType.OFFER);
      assert.ok(ours, 'bramble answered');
      assert.ok(theirs, `dnsmasq answered the same DISCOVER (log: ${dnsmasq.log()})`);
      assert.equal(hex(ours, DhcpOption.VENDOR_SPECIFIC), hex(theirs, DhcpOption.VENDOR_SPECIFIC), 'option 43: bramble = dnsmasq');
      assert.equal(hex(theirs, DhcpOption.VENDOR_SPECIFIC), DNSMASQ_RPI_OPTION43_HEX);
      assert.equal(hex(ours, DhcpOption.VENDOR_CLASS), hex(theirs, DhcpOption.VENDOR_CLASS), 'option 60: bramble = dnsmasq');
      assert.equal(hex(ours, DhcpOption.CLIENT_GUID), hex(theirs, DhcpOption.CLIENT_GUID), 'option 97: bramble = dnsmasq');
      assert.equal(ours.packet.yiaddr, theirs.packet.yiaddr);
    } finally {
      await dnsmasq.stop();
    }
  });

  it("reports the approved Pi's exchange as boot facts dhcp.discover, dhcp.offered, dhcp.acked (pxe: true, its xid); a repeat within the window adds none", async () => {
    // Earlier tests used this Pi: let the per-client window of boot facts pass.
    await new Promise((r) => setTimeout(r, BOOT_FACT_MIN_INTERVAL_MS));
    const since = now();
    const events = await lab.udhcpc('pi4', { pi: { mac: PI4, serial: PI4_SERIAL }, tries: 2 });
    assert.ok(events.bound);
    const xid = xidHex(lastDiscover(PI4, since).packet.xid);
    const ofXid = () => lab.bootFacts(PI4).filter((f) => f.detail.xid === xid);
    await eventually(() => ofXid().length >= 3, 3000, `three boot facts for ${xid}`);
    assert.deepEqual(
      ofXid().map((f) => f.fact),
      ['dhcp.discover', 'dhcp.offered', 'dhcp.acked'],
    );
    assert.ok(ofXid().every((f) => f.plugin === 'dhcp' && f.detail.pxe === true));
    // Facts are not events: the boot stream holds the session's stage change (actor plugin:dhcp).
    const stream = await lab.stream(`boot-${PI4}`);
    assert.equal(stream.filter((e) => e.type === 'BootProgressed').length, 0);
    const dhcp = stream.find((e) => e.type === 'BootStageChanged' && (e.data as { stage: string }).stage === 'DHCP');
    assert.ok(dhcp, 'a session started at DHCP');
    assert.equal(dhcp.metadata.actor, 'plugin:dhcp');

    // A client looping DORA right away is not reported again (at most one fact per stage per window).
    const before = lab.bootFacts(PI4).length;
    assert.ok((await lab.udhcpc('pi4', { pi: { mac: PI4, serial: PI4_SERIAL }, tries: 2 })).bound);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(lab.bootFacts(PI4).length, before);
  });

  it('leaves a non-PXE request of an approved Pi to the LAN server (no proxy answer without option 60 PXEClient)', async () => {
    const since = now();
    const events = await lab.udhcpc('pi4', { tries: 1 });
    assert.equal(events.bound, undefined);
    const xid = lastDiscover(PI4, since).packet.xid;
    assert.equal(await tap.waitFor((p) => p.port === 68 && p.packet.xid === xid, 300), null, 'nothing was sent back');
  });

  it("delays a Pi 3B's (b8:27:eb) OFFER by pi3ReplyDelayMs, not a Pi 4's", async () => {
    const delayMs = 500;
    await lab.settings({ pi3ReplyDelayMs: delayMs });
    try {
      const gaps: Record<string, number> = {};
      for (const [host, mac, serial] of [
        ['pi4', PI4, PI4_SERIAL],
        ['pi3', PI3, undefined],
      ] as const) {
        const since = now();
        const events = await lab.udhcpc(host, { pi: { mac, serial }, tries: 2, timeoutSec: 2 });
        assert.ok(events.bound, `${host} got its answer`);
        const discover = lastDiscover(mac, since);
        const offer = await replyFrom(lab.serverIp, discover.packet.xid, DhcpMessageType.OFFER);
        assert.ok(offer);
        gaps[host] = offer.t - discover.t;
      }
      // Both times are taken by the tap process from the same monotonic clock. The tap may hear the
      // DISCOVER a moment after bramble does (another process): 5 ms of slack for that, no upper bound.
      assert.ok(gaps.pi3 >= delayMs - 5, `Pi 3B OFFER ${gaps.pi3.toFixed(1)} ms after its DISCOVER (≥ ${delayMs})`);
      assert.ok(gaps.pi4 < delayMs, `Pi 4 OFFER ${gaps.pi4.toFixed(1)} ms after its DISCOVER (not delayed)`);
      assert.ok(
        gaps.pi3 - gaps.pi4 >= delayMs - 50,
        `the Pi 3B waits about ${delayMs} ms longer (${gaps.pi3.toFixed(1)} vs ${gaps.pi4.toFixed(1)})`,
      );
    } finally {
      await lab.settings({ pi3ReplyDelayMs: 0 });
    }
  });

  it('counts what it received, sent and dropped in the metrics registry', async () => {
    const registry = lab.core.app.nest.get(Metrics).registry;
    const value = async (name: string, labels: Record<string, string>, series = name): Promise<number> => {
      const metric = registry.getSingleMetric(name);
      assert.ok(metric, `${name} is registered`);
      const values = (await metric.get()).values.filter((v) => ((v as { metricName?: string }).metricName ?? name) === series);
      return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
    };
    assert.ok((await value('bramble_dhcp_packets_received_total', { type: 'discover' })) >= 5);
    assert.ok((await value('bramble_dhcp_packets_received_total', { type: 'request' })) >= 4);
    assert.ok((await value('bramble_dhcp_replies_sent_total', { type: 'offer' })) >= 5);
    assert.ok((await value('bramble_dhcp_replies_sent_total', { type: 'ack' })) >= 4);
    assert.ok((await value('bramble_dhcp_packets_dropped_total', { reason: 'not-pxe' })) >= 1);
    assert.ok((await value('bramble_dhcp_reply_latency_seconds', {}, 'bramble_dhcp_reply_latency_seconds_count')) >= 9);
    const text = await registry.metrics();
    assert.match(text, /bramble_dhcp_packets_received_total\{type="discover"\} \d+/);
  });
});
