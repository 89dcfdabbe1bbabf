/**
 * Other DHCP servers on the served LAN, with dnsmasq playing the LAN's router:
 * - the rival probe and health: in full mode a rival is recorded (RivalDhcpServerDetected, once)
 *   and health is degraded naming it; in proxy mode health is degraded while no server hands out
 *   addresses, and up once the router does;
 * - nmap's stock broadcast-dhcp-discover lists the offers on the LAN. It cannot send option 60,
 *   so its DISCOVER is not a PXE request: in proxy mode bramble leaves it to the router (answering
 *   non-PXE requests with an address-less proxy offer would break the Pi's OS DHCP clients, and
 *   the kernel's ip=dhcp takes the first offer), in full mode its lease offer is listed next to
 *   the router's; nmap with bramble's fixture script (test/fixtures/nmap), which sends a Pi boot
 *   ROM's PXE fingerprint, lists bramble's proxy offer next to the router's;
 * - the default probe wait is long enough for a stock dnsmasq, which pings an address for 3 s
 *   before offering it.
 */
import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { HealthService } from '../../../src/core/observability/health.service';
import { createBoundUdpFd } from '../../../src/plugins/dhcp/bound-udp-socket';
import { Metrics } from '../../../src/core/observability/metrics';
import { DhcpMessageType, DhcpOption, getIp } from '../../../src/plugins/dhcp/dhcp.codec';
import { ipv4ToInt } from '../../../src/core/plugin-api';
import { PROBE_MAC } from '../../../src/plugins/dhcp/dhcp.probe';
import { RPI_OPTION43 } from '../../../src/plugins/dhcp/pxe-options';
import {
  dhcpLabUnavailable,
  pi4Guid,
  startDhcpLab,
  type DhcpLab,
  type DhcpTap,
  type RunningPeer,
  type TapPacket,
} from '../../support/dhcp-lab';
import { eventually } from '../../support/temp';

const skip = dhcpLabUnavailable();

const PI = 'dc:a6:32:00:05:01';
/** A Pi 3: bramble delays its replies to these (pi3ReplyDelayMs), so the router's offer comes first. */
const PI3 = 'b8:27:eb:00:05:01';

async function notPxeDrops(lab: DhcpLab): Promise<number> {
  const metric = lab.core.app.nest.get(Metrics).registry.getSingleMetric('bramble_dhcp_packets_dropped_total');
  return (await metric!.get()).values.find((v) => v.labels.reason === 'not-pxe')?.value ?? 0;
}

async function dhcpHealth(lab: DhcpLab) {
  return (await lab.core.app.nest.get(HealthService).report()).plugins.dhcp;
}

interface RivalData {
  serverId: string;
  offeredIp: string;
  interface: string | null;
  mode: string;
}
const rivalEvents = async (lab: DhcpLab): Promise<RivalData[]> =>
  (await lab.stream('plugin-dhcp-diagnostics')).filter((e) => e.type === 'RivalDhcpServerDetected').map((e) => e.data as RivalData);

function fullMode(lab: DhcpLab) {
  return {
    mode: 'full' as const,
    rangeStart: lab.ip(100),
    rangeEnd: lab.ip(150),
    netmask: '255.255.255.0',
    gateway: lab.ip(254),
    dnsServers: [lab.ip(254)],
  };
}

/** dnsmasq as the LAN's router: addresses .200-.220, authoritative. */
async function startRouter(lab: DhcpLab, extra: string[] = []): Promise<RunningPeer> {
  await lab.lab.addHost('router', 'lan', { ifname: 'eth0', mac: '02:00:00:00:0e:01', cidr: `${lab.ip(254)}/24` });
  return lab.startDnsmasq('router', [`--dhcp-range=${lab.ip(200)},${lab.ip(220)},255.255.255.0,1h`, '--dhcp-authoritative', ...extra]);
}

const inRouterRange = (lab: DhcpLab, ip: string | undefined): boolean =>
  !!ip && ipv4ToInt(ip) >= ipv4ToInt(lab.ip(200)) && ipv4ToInt(ip) <= ipv4ToInt(lab.ip(220));

describe('DHCP rivals: probe, health and nmap with dnsmasq as the LAN router', { skip: skip ?? false }, () => {
  let lab: DhcpLab;
  let tap: DhcpTap;

  before(async () => {
    lab = await startDhcpLab({
      plugin: { probeIntervalMs: 1000, probeWaitMs: 1000 },
      settings: { mode: 'proxy', pi3ReplyDelayMs: 0 },
    });
    await lab.addClient('nmap', '02:00:00:00:0d:01', { cidr: `${lab.ip(240)}/24` });
    await lab.addClient('pi', PI);
    await lab.addClient('pi3', PI3);
    await lab.addClient('tap', '02:00:00:00:0f:01', { cidr: `${lab.ip(250)}/24` });
    tap = await lab.startTap('tap');
    await lab.approve(PI);
    await lab.approve(PI3);
  });
  after(async () => {
    await lab?.close();
  });

  it('proxy mode without any server handing out addresses: health is degraded', async () => {
    await eventually(async () => (await dhcpHealth(lab)).checks?.lastProbe != null, 5000, 'a first probe');
    const health = await dhcpHealth(lab);
    assert.equal(health.status, 'degraded');
    assert.match(health.detail ?? '', /proxy mode, but no DHCP server hands out addresses on eth0/);
  });

  it("proxy mode with the router: health is up; nmap lists the router's offer, bramble leaves a non-PXE DISCOVER alone", async () => {
    // --no-ping: answer at once (the default 3 s ping check is covered below).
    await startRouter(lab, ['--no-ping']);
    await eventually(async () => (await dhcpHealth(lab)).status === 'up', 6000, 'health up with the router answering');

    const dropsBefore = await notPxeDrops(lab);
    const { offers, output } = await lab.nmapDhcpDiscover('nmap', { mac: PI, timeoutSec: 2 });
    assert.equal(offers.length, 1, `one offer listed:\n${output}`);
    assert.equal(await notPxeDrops(lab), dropsBefore + 1, 'bramble received the DISCOVER and left it alone (not PXE)');
    assert.equal(offers[0]['Server Identifier'], lab.ip(254));
    assert.ok(inRouterRange(lab, offers[0]['IP Offered']), output);
    assert.equal(offers[0]['DHCP Message Type'], 'DHCPOFFER');
  });

  it("proxy mode: nmap with a Pi boot ROM's PXE fingerprint lists bramble's proxy offer next to the router's", async () => {
    const { offers, output } = await lab.nmapDhcpDiscover('nmap', { mac: PI, timeoutSec: 2, pxe: { guid: pi4Guid(PI, 0x0a0b0c0d) } });
    const byServer = new Map(offers.map((o) => [o['Server Identifier'], o]));
    assert.equal(offers.length, 2, `two offers listed:\n${output}`);
    const bramble = byServer.get(lab.serverIp);
    const router = byServer.get(lab.ip(254));
    assert.ok(bramble && router, output);
    assert.equal(bramble['IP Offered'], '0.0.0.0', 'a proxy offer carries no address');
    assert.equal(bramble['Class Identifier'], 'PXEClient');
    assert.equal(bramble['Vendor Specific Information (hex)'], RPI_OPTION43.toString('hex'), 'option 43 as dnsmasq sends it');
    assert.ok(inRouterRange(lab, router['IP Offered']), output);
  });

  /**
   * Runs udhcpc as a Pi 3 until it selects the router's offer (it takes the first offer; bramble
   * delays its replies to Pi 3 ROMs, set to 1.5 s here, so the router's comes first): its REQUEST.
   */
  async function requestToRouter(): Promise<TapPacket> {
    await lab.settings({ pi3ReplyDelayMs: 1500 });
    try {
      for (let i = 0; i < 3; i++) {
        const since = Number(process.hrtime.bigint()) / 1e6;
        await lab.udhcpc('pi3', { pi: { mac: PI3, serial: 0x5001 }, tries: 2 });
        const request = tap.packets.find(
          (p) =>
            p.t >= since &&
            p.packet.mac === PI3 &&
            p.type === DhcpMessageType.REQUEST &&
            getIp(p.packet.options, DhcpOption.SERVER_ID) === lab.ip(254),
        );
        if (request) return request;
      }
    } finally {
      await lab.settings({ pi3ReplyDelayMs: 0 });
    }
    throw new Error('udhcpc never selected the router in three runs');
  }

  it('proxy mode: the address a PXE Pi took from the router is learned (the clients query shows it)', async () => {
    const request = await requestToRouter();
    const ip = getIp(request.packet.options, DhcpOption.REQUESTED_IP);
    assert.ok(inRouterRange(lab, ip ?? undefined), `the Pi asked the router for ${ip}`);
    await eventually(
      async () =>
        (await lab.graphql<{ client: { ip: string | null } }>('query($mac: String!) { client(mac: $mac) { ip } }', { mac: PI3 })).data
          ?.client.ip === ip,
      3000,
      `client ${PI3} with ip ${ip}`,
    );
  });

  it('proxy mode: a PXE REQUEST that selected the router (option 54 = router) is left to the router, as dnsmasq does', async () => {
    const request = await requestToRouter();
    const xid = request.packet.xid;
    const ack = await tap.waitFor(
      (p) => p.port === 68 && p.from === lab.serverIp && p.packet.xid === xid && p.type === DhcpMessageType.ACK,
      500,
    );
    assert.ok(
      !ack,
      `bramble must not answer a REQUEST for another server (it sent a ${ack ? 'proxy ACK, yiaddr ' + ack.packet.yiaddr : ''})`,
    );
  });

  it("full mode with the router: RivalDhcpServerDetected once, health degraded naming it; nmap lists bramble's offer next to the router's", async () => {
    await lab.settings(fullMode(lab));
    await eventually(async () => (await rivalEvents(lab)).length > 0, 6000, 'RivalDhcpServerDetected');
    const [rival] = await rivalEvents(lab);
    assert.equal(rival.serverId, lab.ip(254));
    assert.ok(inRouterRange(lab, rival.offeredIp));
    assert.equal(rival.interface, 'eth0');
    assert.equal(rival.mode, 'full');
    await eventually(async () => (await dhcpHealth(lab)).status === 'degraded', 3000, 'health degraded');
    const health = await dhcpHealth(lab);
    assert.match(health.detail ?? '', new RegExp(`another DHCP server answers on eth0: ${lab.ip(254).replace(/\./g, '\\.')}`));

    const { offers, output } = await lab.nmapDhcpDiscover('nmap', { mac: PI, timeoutSec: 2 });
    const byServer = new Map(offers.map((o) => [o['Server Identifier'], o]));
    assert.equal(offers.length, 2, `two offers listed:\n${output}`);
    const ours = byServer.get(lab.serverIp);
    assert.ok(ours, output);
    assert.ok(ipv4ToInt(ours['IP Offered']) >= ipv4ToInt(lab.ip(100)) && ipv4ToInt(ours['IP Offered']) <= ipv4ToInt(lab.ip(150)), output);
    assert.equal(ours['Subnet Mask'], '255.255.255.0');
    assert.equal(ours.Router, lab.ip(254));
    assert.equal(ours['Vendor Specific Information'], undefined, 'no PXE options for a request without option 60');
    assert.ok(inRouterRange(lab, byServer.get(lab.ip(254))?.['IP Offered']), output);

    // Several probes later (one a second), still one event for this rival.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await rivalEvents(lab)).length, 1);
  });
});

describe('DHCP rivals: the default probe wait sees a stock dnsmasq (3 s ping check before each offer)', { skip: skip ?? false }, () => {
  let lab: DhcpLab;

  before(async () => {
    // The default probeWaitMs; only the probe at start (and after settings changes) runs here.
    lab = await startDhcpLab({ plugin: { probeIntervalMs: 60_000 }, settings: { pi3ReplyDelayMs: 0 } });
  });
  after(async () => {
    await lab?.close();
  });

  it('records the rival from the probe made at start', async () => {
    await lab.addClient('tap', '02:00:00:00:0f:01', { cidr: `${lab.ip(250)}/24` });
    const tap = await lab.startTap('tap');
    await startRouter(lab);
    await lab.settings(fullMode(lab));
    // A restart: the probe running is cut short on stop, and the new bramble probes at start.
    await lab.restart();
    await eventually(async () => (await rivalEvents(lab)).length > 0, 6000, 'RivalDhcpServerDetected from the first probe');
    assert.equal((await rivalEvents(lab))[0].serverId, lab.ip(254));
    const health = await dhcpHealth(lab);
    assert.equal(health.status, 'degraded');
    // Why the default wait is 4 s: dnsmasq's offer to the probe came about 3 s after the DISCOVER.
    const probe = tap.packets.filter((p) => p.port === 67 && p.packet.mac === PROBE_MAC).pop()!;
    const offer = tap.packets.find((p) => p.port === 68 && p.type === DhcpMessageType.OFFER && p.packet.xid === probe.packet.xid);
    assert.ok(offer);
    assert.ok(offer.t - probe.t > 2000, `dnsmasq answered the probe after ${(offer.t - probe.t).toFixed(0)} ms`);
  });
});

describe("DHCP rivals: the probe works next to the server's own DHCP client (dhclient holding udp/68)", { skip: skip ?? false }, () => {
  let lab: DhcpLab;

  before(async () => {
    lab = await startDhcpLab({ plugin: { probeIntervalMs: 1000, probeWaitMs: 1000 }, settings: { pi3ReplyDelayMs: 0 } });
  });
  after(async () => {
    await lab?.close();
  });

  it('records the rival and names it in health, with dhclient running on the served interface', async () => {
    // The server takes an address from the router by DHCP, as most servers do (the script
    // configures nothing: the lab address stays).
    await startRouter(lab, ['--no-ping']);
    const dhclient = lab.startDhclient('srv', 'timeout 300;\n');
    assert.ok(await dhclient.bound(10_000), `dhclient on the server bound (${dhclient.log()})`);
    const sockets = (await lab.lab.exec('srv', 'ss', ['-uanpH', 'sport = :68'])).stdout;
    assert.match(sockets, /dhclient/, `dhclient holds udp/68: ${sockets}`);

    await lab.settings(fullMode(lab));
    await eventually(async () => (await rivalEvents(lab)).length > 0, 6000, 'RivalDhcpServerDetected');
    assert.equal((await rivalEvents(lab))[0].serverId, lab.ip(254));
    const health = await dhcpHealth(lab);
    assert.equal(health.status, 'degraded');
    assert.match(health.detail ?? '', /another DHCP server answers on eth0/);
    await dhclient.stop();
  });

  it('says so in health when it cannot probe (udp/68 held without SO_REUSEADDR), and recovers', async () => {
    // Taken while bramble is down (its probes hold udp/68 nearly all the time at one a second), and
    // kept a raw descriptor: node's dgram would set SO_REUSEADDR on it (libuv does on every socket
    // it adopts), and then the probe could share the port.
    await lab.stop();
    const blocker = lab.lab.inNamespace('srv', () => createBoundUdpFd({ port: 68, interface: null }));
    try {
      await lab.start();
      await eventually(
        async () => /cannot look for other DHCP servers on eth0: .*EADDRINUSE/.test((await dhcpHealth(lab)).detail ?? ''),
        5000,
        'health naming the failed probe',
      );
      assert.equal((await dhcpHealth(lab)).status, 'degraded');
    } finally {
      closeSync(blocker);
    }
    await eventually(
      async () => /another DHCP server answers on eth0/.test((await dhcpHealth(lab)).detail ?? ''),
      5000,
      'a working probe again',
    );
  });
});
