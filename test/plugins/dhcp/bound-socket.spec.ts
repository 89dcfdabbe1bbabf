import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { createBoundUdpFd, adoptUdpFd, SocketSetupError } from '../../../src/plugins/dhcp/bound-udp-socket';
import { canUseNetns, NetLab } from '../../support/netlab';

const skip = canUseNetns();

/** Sends one UDP broadcast from a lab host with busybox-free tooling: node inside the namespace. */
async function broadcastFrom(lab: NetLab, host: string, ifaceIp: string, port: number, text: string): Promise<void> {
  const script = `const s=require('dgram').createSocket('udp4');s.bind(0,'${ifaceIp}',()=>{s.setBroadcast(true);s.send(${JSON.stringify(text)},${port},'255.255.255.255',()=>s.close())})`;
  await lab.exec(host, process.execPath, ['-e', script]);
}

function nextMessage(socket: Socket, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('message', on);
      resolve(null);
    }, ms);
    const on = (msg: Buffer) => {
      clearTimeout(timer);
      socket.off('message', on);
      resolve(msg.toString());
    };
    socket.on('message', on);
  });
}

describe('interface-bound UDP sockets (SO_BINDTODEVICE) on a two-NIC host', { skip: skip ?? false }, () => {
  let lab: NetLab;
  before(async () => {
    lab = await NetLab.create();
    await lab.addSwitch('lan');
    await lab.addSwitch('office');
    await lab.addHost('srv', 'lan', { ifname: 'eth0', mac: '02:00:00:00:00:01', cidr: `${lab.ip(1)}/24` });
    await lab.addHost('srv', 'office', { ifname: 'eth1', mac: '02:00:00:00:00:02', cidr: '172.31.250.1/24' });
    await lab.addHost('pi', 'lan', { ifname: 'eth0', mac: 'dc:a6:32:00:00:01', cidr: `${lab.ip(50)}/24` });
    await lab.addHost('laptop', 'office', { ifname: 'eth0', mac: '02:00:00:00:00:99', cidr: '172.31.250.50/24' });
  });
  after(async () => {
    await lab?.destroy();
  });

  it('receives broadcasts from its interface only', async () => {
    const fd = lab.inNamespace('srv', () => createBoundUdpFd({ port: 6767, interface: 'eth0' }));
    const socket = await adoptUdpFd(fd);
    try {
      let got = nextMessage(socket, 3000);
      await broadcastFrom(lab, 'pi', lab.ip(50), 6767, 'from-lan');
      assert.equal(await got, 'from-lan');
      got = nextMessage(socket, 700);
      await broadcastFrom(lab, 'laptop', '172.31.250.50', 6767, 'from-office');
      assert.equal(await got, null, 'a broadcast on the other NIC is not received');
    } finally {
      socket.close();
    }
  });

  it('reports a missing interface or a taken port with the errno name', async () => {
    assert.throws(
      () => lab.inNamespace('srv', () => createBoundUdpFd({ port: 6768, interface: 'nope0' })),
      (e: unknown) => e instanceof SocketSetupError && e.code === 'ENODEV',
    );
    const fd = lab.inNamespace('srv', () => createBoundUdpFd({ port: 6769, interface: 'eth0' }));
    const s = await adoptUdpFd(fd);
    // A second server on the other NIC may use the same port...
    const other = await adoptUdpFd(lab.inNamespace('srv', () => createBoundUdpFd({ port: 6769, interface: 'eth1' })));
    other.close();
    try {
      // ...but not on the same one.
      assert.throws(
        () => lab.inNamespace('srv', () => createBoundUdpFd({ port: 6769, interface: 'eth0' })),
        (e: unknown) => e instanceof SocketSetupError && e.code === 'EADDRINUSE',
      );
    } finally {
      s.close();
    }
  });

  it('keeps the port to itself after adoption: a later SO_REUSEADDR socket (as dnsmasq makes) gets EADDRINUSE', async () => {
    const s = await adoptUdpFd(lab.inNamespace('srv', () => createBoundUdpFd({ port: 6770, interface: 'eth0' })));
    try {
      assert.throws(
        () => lab.inNamespace('srv', () => createBoundUdpFd({ port: 6770, interface: 'eth0', reuseAddress: true })),
        (e: unknown) => e instanceof SocketSetupError && e.code === 'EADDRINUSE',
      );
    } finally {
      s.close();
    }
  });
});
