/**
 * Lab PCs in proxy mode, with real clients: a dnsmasq on the LAN plays the router (it hands out
 * the addresses), ISC dhclient poses as a BIOS and a UEFI PXE ROM (option 60 `PXEClient:Arch:...`,
 * option 93), and a tap (a separate process on the LAN) records every broadcast. bramble's proxy
 * OFFER carries the boot file; the PC takes dnsmasq's lease (dhclient requires a subnet mask, which
 * a proxy offer has not, so it never takes bramble's), bramble learns that address from the
 * REQUEST it overhears, the PXE boot server exchange on udp/4011 answers with the same file, and
 * curl fetches iPXE by the learned address alone (no MAC prefix).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { adoptUdpFd, createBoundUdpFd } from '../../../src/plugins/dhcp/bound-udp-socket';
import {
  DhcpMessageType,
  DhcpOption,
  decodePacket,
  encodePacket,
  getString,
  messageType,
  messageTypeOption,
} from '../../../src/plugins/dhcp/dhcp.codec';
import { PC_OPTION43 } from '../../../src/plugins/dhcp/pxe-options';
import type { DhcpTap, RunningPeer } from '../../support/dhcp-lab';
import { discoverPacket } from '../../support/dhcp-packets';
import { IPXE_DIR, pcLabUnavailable, startPcLab, type PcLab } from '../../support/pc-lab';
import { eventually } from '../../support/temp';

const skip = pcLabUnavailable();

const BIOS_PC = '00:1b:21:0b:00:01';
const UEFI_PC = '00:1b:21:0b:00:02';

/** dhclient posing as a PXE ROM of this architecture (RFC 4578 option 93). */
function pxeDhclientConfig(arch: number): string {
  const vendor = `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`;
  return [
    'option pxe-client-arch code 93 = unsigned integer 16;',
    `send vendor-class-identifier "${vendor}";`,
    `send pxe-client-arch ${arch};`,
    'request subnet-mask, routers, vendor-encapsulated-options, tftp-server-name, bootfile-name;',
    // A proxy offer has no subnet mask: dhclient takes the LAN server's lease, as a PXE ROM does.
    'require subnet-mask;',
    'timeout 15;',
    'retry 1;',
    'initial-interval 1;',
    '',
  ].join('\n');
}

describe('lab PCs in proxy mode (dnsmasq as the router, dhclient as PXE ROMs)', { skip: skip ?? false }, () => {
  let lab: PcLab;
  let tap: DhcpTap;
  let router: RunningPeer;

  before(async () => {
    lab = await startPcLab();
    await lab.dhcpSettings({ mode: 'proxy' });
    const d = lab.dhcp;
    await d.lab.addHost('router', 'lan', { ifname: 'eth0', mac: '02:00:00:00:fe:02', cidr: `${d.ip(254)}/24` });
    router = await d.startDnsmasq('router', [`--dhcp-range=${d.ip(160)},${d.ip(180)},255.255.255.0,1h`, '--no-ping']);
    await d.addClient('tap', '02:00:00:00:0f:02', { cidr: `${d.ip(250)}/24` });
    tap = await d.startTap('tap');
    await lab.addPc('bios', BIOS_PC);
    await lab.addPc('uefi', UEFI_PC);
    // Recorded as PCs by a first DISCOVER, then approved with the image (the admin's usual path).
    await Promise.all([
      lab.dhcp.dhclient('bios', { config: pxeDhclientConfig(0), timeoutMs: 8000 }),
      lab.dhcp.dhclient('uefi', { config: pxeDhclientConfig(7), timeoutMs: 8000 }),
    ]);
    await eventually(() => d.core.queries.client(BIOS_PC) !== null && d.core.queries.client(UEFI_PC) !== null, 5000, 'the PCs recorded');
    await lab.approve(BIOS_PC);
    await lab.approve(UEFI_PC);
  });
  after(async () => {
    await lab?.close();
  });

  for (const [mac, host, arch, file] of [
    [BIOS_PC, 'bios', 0, 'undionly.kpxe'],
    [UEFI_PC, 'uefi', 7, 'ipxe.efi'],
  ] as const) {
    it(`arch ${arch}: dnsmasq's lease, bramble's proxy offer names ${file}, the address learned, 4011 agrees, curl gets ${file} by address`, async () => {
      const since = Number(process.hrtime.bigint()) / 1e6;
      const { bound, log } = await lab.dhcp.dhclient(host, { config: pxeDhclientConfig(arch), timeoutMs: 15_000 });
      assert.ok(bound, `dhclient bound (output: ${log})`);
      assert.equal(bound.new_dhcp_server_identifier, lab.dhcp.ip(254), "the router's lease");
      const ip = bound.new_ip_address;

      const offer = await tap.waitFor(
        (p) => p.t >= since && p.port === 68 && p.from === lab.serverIp && p.packet.mac === mac && p.type === DhcpMessageType.OFFER,
        3000,
      );
      assert.ok(offer, "the tap saw bramble's proxy OFFER");
      const o = offer.packet;
      assert.equal(o.yiaddr, '0.0.0.0');
      assert.equal(o.siaddr, lab.serverIp);
      assert.equal(o.file, `${mac.replace(/:/g, '-')}/${file}`);
      assert.equal(getString(o.options, DhcpOption.VENDOR_CLASS), 'PXEClient');
      assert.deepEqual(o.options.get(DhcpOption.VENDOR_SPECIFIC), PC_OPTION43);
      assert.match(router.log(), new RegExp(`DHCPACK\\(eth0\\) ${ip.replace(/\./g, '\\.')} ${mac}`));

      await eventually(() => lab.dhcp.core.queries.client(mac)?.ip === ip, 5000, 'bramble to learn the address from the REQUEST');

      // The PXE boot server exchange: a REQUEST to bramble's udp/4011 from the PC's new address.
      await lab.dhcp.lab.ipIn(lab.dhcp.lab.ns(host), ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      const socket = await adoptUdpFd(lab.dhcp.lab.inNamespace(host, () => createBoundUdpFd({ port: 4011, interface: 'eth0' })));
      try {
        const item = Buffer.from([0x47, 0x04, 0x00, 0x00, 0x00, 0x00, 0xff]);
        const request = discoverPacket(mac, {
          xid: 0x40110000 + arch,
          ciaddr: ip,
          options: new Map([
            [DhcpOption.MESSAGE_TYPE, messageTypeOption(DhcpMessageType.REQUEST)],
            [DhcpOption.VENDOR_CLASS, Buffer.from(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`, 'latin1')],
            [DhcpOption.CLIENT_ARCH, Buffer.from([0, arch])],
            [DhcpOption.VENDOR_SPECIFIC, item],
          ]),
        });
        const answer = new Promise<Buffer>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no answer on udp/4011 within 3 s')), 3000);
          socket.once('message', (msg) => {
            clearTimeout(timer);
            resolve(msg);
          });
        });
        socket.send(encodePacket(request), 4011, lab.serverIp);
        const ack = decodePacket(await answer);
        assert.equal(messageType(ack), DhcpMessageType.ACK);
        assert.equal(ack.file, `${mac.replace(/:/g, '-')}/${file}`);
        assert.deepEqual(ack.options.get(DhcpOption.VENDOR_SPECIFIC), item, 'the boot item echoed');
      } finally {
        socket.close();
      }

      // TFTP by the learned address alone.
      const got = await lab.tftp(host, file);
      assert.ok(got.data, got.stderr);
      assert.ok(got.data.equals(readFileSync(`${IPXE_DIR}/${file}`)), `${file}, byte for byte`);
    });
  }
});
