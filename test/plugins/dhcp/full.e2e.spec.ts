/**
 * Full mode (bramble leases the addresses) against real clients: busybox udhcpc and ISC dhclient
 * get a lease with the configured options and the PXE options; a DECLINE (udhcpc's ARP check finds
 * the address taken) and a RELEASE (udhcpc -R) do what RFC 2131 says; leases survive a restart of
 * bramble on the same data directory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DhcpMessageType, DhcpOption, getIp } from '../../../src/plugins/dhcp/dhcp.codec';
import { ipv4ToInt } from '../../../src/core/plugin-api';
import {
  DNSMASQ_RPI_OPTION43_HEX,
  PI_VENDOR_CLASS,
  dhcpLabUnavailable,
  normalizeHex,
  startDhcpLab,
  type DhcpLab,
  type DhcpTap,
} from '../../support/dhcp-lab';
import { eventually } from '../../support/temp';

const skip = dhcpLabUnavailable();

const LEASE_SECONDS = 600;

describe('DHCP full mode with real clients', { skip: skip ?? false }, () => {
  let lab: DhcpLab;
  let tap: DhcpTap;
  let range: { start: string; end: string };
  let gateway: string;
  let dns: string;

  before(async () => {
    lab = await startDhcpLab();
    range = { start: lab.ip(100), end: lab.ip(150) };
    gateway = lab.ip(254);
    dns = lab.ip(253);
    await lab.settings({
      mode: 'full',
      rangeStart: range.start,
      rangeEnd: range.end,
      netmask: '255.255.255.0',
      gateway,
      dnsServers: [dns],
      leaseSeconds: LEASE_SECONDS,
      pi3ReplyDelayMs: 0,
    });
    await lab.addClient('tap', '02:00:00:00:0f:01', { cidr: `${lab.ip(250)}/24` });
    tap = await lab.startTap('tap');
  });
  after(async () => {
    await lab?.close();
  });

  const inRange = (ip: string | undefined): boolean =>
    !!ip && ipv4ToInt(ip) >= ipv4ToInt(range.start) && ipv4ToInt(ip) <= ipv4ToInt(range.end);
  const leaseEvents = async (type: string, mac: string) =>
    (await lab.stream('plugin-dhcp-leases'))
      .filter((e) => e.type === type && (e.data as { mac: string }).mac === mac)
      .map((e) => e.data as { ip: string; reason?: string });
  let piCount = 0;
  /** A new approved Pi 4 host on the LAN. */
  const newPi = async (): Promise<{ host: string; mac: string; serial: number }> => {
    const n = ++piCount;
    const mac = `dc:a6:32:00:03:${n.toString(16).padStart(2, '0')}`;
    await lab.addClient(`pi${n}`, mac);
    await lab.approve(mac);
    return { host: `pi${n}`, mac, serial: 0x30000 + n };
  };

  it('busybox udhcpc as a Pi 4: a lease from the range with options 1, 3, 6, 28, 51, 54, siaddr, and option 43', async () => {
    const pi = await newPi();
    const events = await lab.udhcpc(pi.host, { pi: { mac: pi.mac, serial: pi.serial }, tries: 2 });
    const bound = events.bound;
    assert.ok(bound, `udhcpc bound (events: ${Object.keys(events).join(', ')})`);
    assert.ok(inRange(bound.ip), `${bound.ip} is in ${range.start}-${range.end}`);
    assert.equal(bound.subnet, '255.255.255.0');
    assert.equal(bound.mask, '24');
    assert.equal(bound.router, gateway);
    assert.equal(bound.dns, dns);
    assert.equal(bound.broadcast, lab.ip(255));
    assert.equal(bound.lease, String(LEASE_SECONDS));
    assert.equal(bound.serverid, lab.serverIp);
    assert.equal(bound.siaddr, lab.serverIp, 'siaddr: the TFTP server');
    assert.equal(bound.opt43, DNSMASQ_RPI_OPTION43_HEX, 'the PXE options, as to a PXE client');
    assert.equal(bound.vendor, 'PXEClient');
    await eventually(async () => (await leaseEvents('DhcpLeaseBound', pi.mac)).length > 0, 3000, 'DhcpLeaseBound');
    assert.deepEqual(
      (await leaseEvents('DhcpLeaseBound', pi.mac)).map((d) => d.ip),
      [bound.ip],
    );
  });

  it('gives no lease to a machine that is not a Pi, nor to a Pi nobody approved (it is recorded as pending)', async () => {
    const laptop = '02:11:22:33:44:66';
    const stranger = 'd8:3a:dd:00:03:ff';
    await lab.addClient('laptop', laptop);
    await lab.addClient('stranger', stranger);
    const [l, p] = await Promise.all([
      lab.udhcpc('laptop', { tries: 1 }),
      lab.udhcpc('stranger', { pi: { mac: stranger, serial: 0x3ff }, tries: 1 }),
    ]);
    assert.equal(l.bound, undefined);
    assert.equal(p.bound, undefined);
    assert.equal(
      tap.packets.filter((x) => x.port === 68 && (x.packet.mac === laptop || x.packet.mac === stranger)).length,
      0,
      'nothing sent to either',
    );
    await eventually(
      async () => (await lab.stream(`client-${stranger}`)).some((e) => e.type === 'ClientDetected'),
      3000,
      'the stranger recorded',
    );
    assert.equal(
      (await lab.stream('plugin-dhcp-leases')).filter((e) => [laptop, stranger].includes((e.data as { mac: string }).mac)).length,
      0,
    );
  });

  it('eight Pis at once: eight different addresses from the range, each bound once', async () => {
    const pis = await Promise.all(Array.from({ length: 8 }, () => newPi()));
    const results = await Promise.all(pis.map((pi) => lab.udhcpc(pi.host, { pi: { mac: pi.mac, serial: pi.serial }, tries: 3 })));
    const ips = results.map((r, i) => {
      assert.ok(r.bound, `Pi ${pis[i].mac} bound`);
      assert.ok(inRange(r.bound.ip), r.bound.ip);
      return r.bound.ip;
    });
    assert.equal(new Set(ips).size, 8, `distinct addresses: ${ips.join(', ')}`);
    for (const [i, pi] of pis.entries()) {
      await eventually(async () => (await leaseEvents('DhcpLeaseBound', pi.mac)).length > 0, 3000, `DhcpLeaseBound of ${pi.mac}`);
      assert.deepEqual(
        (await leaseEvents('DhcpLeaseBound', pi.mac)).map((d) => d.ip),
        [ips[i]],
      );
    }
  });

  it('ISC dhclient (vendor-class PXEClient, asking for vendor-encapsulated-options): a lease with the options', async () => {
    const pi = await newPi();
    const { bound: env, log } = await lab.dhclient(pi.host, {
      config: [
        `send vendor-class-identifier "${PI_VENDOR_CLASS}";`,
        'request subnet-mask, broadcast-address, routers, domain-name-servers, vendor-encapsulated-options;',
        'timeout 10;',
        'retry 1;',
        'initial-interval 1;',
        '',
      ].join('\n'),
    });
    assert.ok(env, `dhclient bound (output: ${log})`);
    assert.ok(inRange(env.new_ip_address), `${env.new_ip_address} is in range`);
    assert.equal(env.new_subnet_mask, '255.255.255.0');
    assert.equal(env.new_routers, gateway);
    assert.equal(env.new_domain_name_servers, dns);
    assert.equal(env.new_broadcast_address, lab.ip(255));
    assert.equal(env.new_dhcp_lease_time, String(LEASE_SECONDS));
    assert.equal(env.new_dhcp_server_identifier, lab.serverIp);
    assert.equal(normalizeHex(env.new_vendor_encapsulated_options ?? ''), DNSMASQ_RPI_OPTION43_HEX);
  });

  it('DECLINE: when udhcpc finds the ACKed address taken (ARP), it declines it and bramble hands out another one', async () => {
    // A small range whose first address a machine on the LAN already uses.
    const taken = lab.ip(160);
    await lab.settings({ rangeStart: taken, rangeEnd: lab.ip(170) });
    try {
      await lab.addClient('squatter', '02:00:00:00:0f:0a', { cidr: `${taken}/24` });
      const pi = await newPi();
      const events = await lab.udhcpc(pi.host, { pi: { mac: pi.mac, serial: pi.serial }, tries: 3, arpCheckMs: 300 });
      assert.ok(events.bound, `udhcpc bound in the end (events: ${Object.keys(events).join(', ')})`);
      assert.equal(events.bound.ip, lab.ip(161), 'the next address, not the declined one');
      const decline = tap.packets.find((p) => p.packet.mac === pi.mac && p.type === DhcpMessageType.DECLINE);
      assert.ok(decline, 'udhcpc sent a DECLINE');
      assert.equal(getIp(decline.packet.options, DhcpOption.REQUESTED_IP), taken);
      await eventually(async () => (await leaseEvents('DhcpAddressDeclined', pi.mac)).length > 0, 3000, 'DhcpAddressDeclined');
      assert.deepEqual(
        (await leaseEvents('DhcpAddressDeclined', pi.mac)).map((d) => d.ip),
        [taken],
      );
      // Nobody else is offered the declined address either (it is held for a while).
      const other = await newPi();
      const next = await lab.udhcpc(other.host, { pi: { mac: other.mac, serial: other.serial }, tries: 2 });
      assert.ok(next.bound);
      assert.notEqual(next.bound.ip, taken);
    } finally {
      await lab.settings({ rangeStart: range.start, rangeEnd: range.end });
    }
  });

  it('RELEASE: udhcpc -R gives the address back on exit; it is free for the next Pi', async () => {
    const pi = await newPi();
    const events = await lab.udhcpc(pi.host, { pi: { mac: pi.mac, serial: pi.serial }, tries: 2, configure: true, release: true });
    assert.ok(events.bound);
    const ip = events.bound.ip;
    await eventually(async () => (await leaseEvents('DhcpLeaseReleased', pi.mac)).length > 0, 3000, 'DhcpLeaseReleased');
    assert.deepEqual(await leaseEvents('DhcpLeaseReleased', pi.mac), [{ mac: pi.mac, ip, reason: 'release' }]);
    // The lowest free address again: the one just released.
    const next = await newPi();
    const again = await lab.udhcpc(next.host, { pi: { mac: next.mac, serial: next.serial }, tries: 2 });
    assert.equal(again.bound?.ip, ip, 'the released address is handed out again');
  });

  it('RENEW: udhcpc renewing (SIGUSR1, unicast from its address) gets an ACK unicast back, for the same address', async () => {
    const pi = await newPi();
    const session = lab.startUdhcpc(pi.host, { pi: { mac: pi.mac, serial: pi.serial }, tries: 2, configure: true });
    try {
      const bound = await session.waitFor('bound', 10_000);
      assert.ok(bound, session.output());
      const broadcastAcks = (): number => tap.packets.filter((p) => p.packet.mac === pi.mac && p.type === DhcpMessageType.ACK).length;
      const acksBefore = broadcastAcks();
      session.signal('SIGUSR1');
      const renewed = await session.waitFor('renew', 5000);
      assert.ok(renewed, `renewed (udhcpc: ${session.output()})`);
      assert.equal(renewed.ip, bound.ip);
      assert.equal(renewed.lease, String(LEASE_SECONDS));
      assert.equal(renewed.serverid, lab.serverIp);
      assert.match(session.output(), /sending renew to server/);
      assert.equal(broadcastAcks(), acksBefore, 'the ACK to the renewal went to the Pi only (RFC 2131 §4.1: to ciaddr)');
      // The same binding: nothing new to persist.
      assert.equal((await leaseEvents('DhcpLeaseBound', pi.mac)).length, 1);
    } finally {
      await session.stop();
    }
  });

  it('leases survive a restart: the same Pi gets the same address, another Pi never gets it', async () => {
    const pi = await newPi();
    const first = await lab.udhcpc(pi.host, { pi: { mac: pi.mac, serial: pi.serial }, tries: 2 });
    assert.ok(first.bound);
    const ip = first.bound.ip;

    await lab.restart();

    const again = await lab.udhcpc(pi.host, { pi: { mac: pi.mac, serial: pi.serial }, tries: 2 });
    assert.equal(again.bound?.ip, ip, 'the same address after the restart');
    const other = await newPi();
    const fresh = await lab.udhcpc(other.host, { pi: { mac: other.mac, serial: other.serial }, tries: 2 });
    assert.ok(fresh.bound);
    assert.notEqual(fresh.bound.ip, ip, 'a new Pi gets another address');
    // Even when it asks for that very address (udhcpc -r).
    const asking = await lab.udhcpc(other.host, { pi: { mac: other.mac, serial: other.serial }, tries: 2, extra: ['-r', ip] });
    assert.ok(asking.bound);
    assert.notEqual(asking.bound.ip, ip, 'asking for a bound address does not get it');
    assert.ok(!(await leaseEvents('DhcpLeaseBound', other.mac)).some((d) => d.ip === ip));
  });
});
