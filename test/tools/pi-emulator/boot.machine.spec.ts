/**
 * The emulated Pi's boot rules (tools/pi-emulator/boot.machine.ts), without a network: a small
 * simulated world answers the machine's effects (DHCP servers, a TFTP folder, an NFS root, LDAP,
 * the report listener) on a virtual clock, and the tests read what the Pi sent and did.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodePacket,
  DhcpMessageType,
  DhcpOption,
  encodePacket,
  getIp,
  ipOption,
  messageType,
  messageTypeOption,
  newReply,
  stringOption,
  type DhcpPacket,
} from '../../../src/plugins/dhcp/dhcp.codec';
import { RPI_OPTION43 } from '../../../src/plugins/dhcp/pxe-options';
import { PiBootMachine, type Effect, type PiConfig, type Stage, type TftpOutcome } from '../../../tools/pi-emulator/boot.machine';

const BRAMBLE = '10.0.0.1';
const ROUTER = '10.0.0.254';
const CMDLINE = 'console=tty1 ip=dhcp root=/dev/nfs nfsroot=10.0.0.1:/srv/images/pi-os/v2,vers=3,tcp ro rootwait\n';
const NSLCD =
  'uid nslcd\ngid nslcd\nuri ldap://10.0.0.1/\nbase dc=bramble,dc=local\nssl start_tls\ntls_reqcert demand\ntls_cacertfile /etc/ssl/certs/bramble-ca.crt\n';

interface World {
  /** Answers a DHCP packet the Pi sent (already through the codec). */
  dhcp(p: DhcpPacket): DhcpPacket[];
  /** Files served (name as asked, prefix included) → content. */
  files: Record<string, string>;
  /** Overrides the answer for a file. */
  tftp?: (file: string, probeOnly: boolean) => TftpOutcome | null;
  nfsFiles?: Record<string, string>;
  /** Root mounts refused before one succeeds. */
  nfsRefusals?: number;
  nfsUnread?: Record<string, string>;
  ldapOk?: boolean;
  reportOk?: boolean;
}

interface Trace {
  sent: DhcpPacket[];
  tftp: { file: string; probeOnly: boolean; tsize: boolean; blksize: number | null; server: string }[];
  effects: Effect[];
  timeline: { stage: Stage; event: string; file?: string }[];
  finished: Extract<Effect, { kind: 'finished' }> | null;
  now: number;
}

/** Runs the machine in `world` until it finishes (bounded in steps and virtual time). */
function boot(pi: PiConfig, world: World): Trace {
  const m = new PiBootMachine(pi);
  const trace: Trace = { sent: [], tftp: [], effects: [], timeline: [], finished: null, now: 0 };
  const timers: { id: number; at: number }[] = [];
  const nfsTries: number[] = [];
  (trace as { nfsTries?: number[] }).nfsTries = nfsTries;
  const queue: (() => Effect[])[] = [() => m.handle({ kind: 'power-on' }, trace.now)];
  for (let steps = 0; steps < 10_000 && !trace.finished; steps++) {
    const next = queue.shift();
    if (!next) {
      timers.sort((a, b) => a.at - b.at);
      const t = timers.shift();
      if (!t || t.at > 10 * 60_000) break;
      trace.now = t.at;
      queue.push(() => m.handle({ kind: 'timer', id: t.id }, trace.now));
      continue;
    }
    for (const e of next()) {
      trace.effects.push(e);
      switch (e.kind) {
        case 'dhcp-send': {
          const p = decodePacket(encodePacket(e.packet));
          trace.sent.push(p);
          for (const reply of world.dhcp(p))
            queue.push(() => m.handle({ kind: 'dhcp-reply', packet: decodePacket(encodePacket(reply)) }, trace.now));
          break;
        }
        case 'timer':
          timers.push({ id: e.id, at: trace.now + e.ms });
          break;
        case 'tftp': {
          trace.tftp.push({ file: e.file, probeOnly: e.probeOnly, tsize: e.tsize, blksize: e.blksize, server: e.server });
          const content = world.files[e.file];
          const outcome: TftpOutcome =
            world.tftp?.(e.file, e.probeOnly) ??
            (content === undefined
              ? { status: 'missing', message: 'File not found' }
              : {
                  status: 'ok',
                  bytes: e.probeOnly ? 0 : content.length,
                  ms: 1,
                  blksize: e.blksize ?? 512,
                  tsize: content.length,
                  content: e.keep ? Buffer.from(content) : null,
                });
          queue.push(() => m.handle({ kind: 'tftp-result', id: e.id, outcome }, trace.now));
          break;
        }
        case 'nfs': {
          nfsTries.push(trace.now);
          const refused = (world.nfsRefusals ?? 0) >= nfsTries.length;
          const outcome = refused
            ? { ok: false, detail: 'MNT3ERR_ACCES', files: {}, unread: {} }
            : { ok: true, detail: 'read', files: world.nfsFiles ?? {}, unread: world.nfsUnread ?? {} };
          queue.push(() => m.handle({ kind: 'nfs-result', outcome }, trace.now));
          break;
        }
        case 'ldap':
          queue.push(() => m.handle({ kind: 'ldap-result', ok: world.ldapOk ?? true, detail: 'dn:uid=ada' }, trace.now));
          break;
        case 'report':
          queue.push(() => m.handle({ kind: 'report-result', ok: world.reportOk ?? true, detail: '204' }, trace.now));
          break;
        case 'timeline':
          trace.timeline.push({ stage: e.stage, event: e.event, ...(e.file ? { file: e.file } : {}) });
          break;
        case 'finished':
          trace.finished = e;
          break;
        case 'configure':
          break;
      }
    }
  }
  return trace;
}

function reply(
  to: DhcpPacket,
  type: DhcpMessageType,
  from: string,
  fields: { yiaddr?: string; boot?: boolean; option66?: string; hops?: number; siaddr?: string } = {},
): DhcpPacket {
  const r = newReply(to);
  r.yiaddr = fields.yiaddr ?? '0.0.0.0';
  r.siaddr = fields.siaddr ?? from;
  r.hops = fields.hops ?? 0;
  r.options.set(DhcpOption.MESSAGE_TYPE, messageTypeOption(type));
  r.options.set(DhcpOption.SERVER_ID, ipOption(from));
  if (fields.yiaddr) r.options.set(DhcpOption.SUBNET_MASK, ipOption('255.255.255.0'));
  if (fields.boot) {
    r.options.set(DhcpOption.VENDOR_CLASS, stringOption('PXEClient'));
    r.options.set(DhcpOption.VENDOR_SPECIFIC, RPI_OPTION43);
  }
  if (fields.option66) r.options.set(DhcpOption.TFTP_SERVER_NAME, stringOption(fields.option66));
  return r;
}

/** bramble in full mode: one OFFER/ACK with the address and the boot menu. */
const fullMode =
  (ip: string) =>
  (p: DhcpPacket): DhcpPacket[] => {
    const type = messageType(p);
    if (type === DhcpMessageType.DISCOVER) return [reply(p, DhcpMessageType.OFFER, BRAMBLE, { yiaddr: ip, boot: true })];
    if (type === DhcpMessageType.REQUEST && getIp(p.options, DhcpOption.SERVER_ID) === BRAMBLE)
      return [reply(p, DhcpMessageType.ACK, BRAMBLE, { yiaddr: ip, boot: true })];
    return [];
  };

/** Proxy mode: the router gives the address, bramble the boot menu (and stays silent to a REQUEST naming the router). */
const proxyMode =
  (ip: string) =>
  (p: DhcpPacket): DhcpPacket[] => {
    const type = messageType(p);
    if (type === DhcpMessageType.DISCOVER)
      return [reply(p, DhcpMessageType.OFFER, ROUTER, { yiaddr: ip }), reply(p, DhcpMessageType.OFFER, BRAMBLE, { boot: true })];
    if (type === DhcpMessageType.REQUEST && getIp(p.options, DhcpOption.SERVER_ID) === ROUTER)
      return [reply(p, DhcpMessageType.ACK, ROUTER, { yiaddr: ip })];
    return [];
  };

function imageFiles(prefix: string, without: string[] = []): Record<string, string> {
  const files: Record<string, string> = {
    'bootcode.bin': 'b'.repeat(600),
    'start.elf': 's'.repeat(900),
    'fixup.dat': 'f',
    'start4.elf': 's4'.repeat(700),
    'fixup4.dat': 'f4',
    'config.txt': '[all]\narm_64bit=1\n',
    'cmdline.txt': CMDLINE,
    'kernel8.img': 'k'.repeat(3000),
    'kernel_2712.img': 'k5'.repeat(1600),
    'bcm2710-rpi-3-b.dtb': 'd3',
    'bcm2711-rpi-4-b.dtb': 'd4',
    'bcm2712-rpi-5-b.dtb': 'd5',
  };
  const out: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    if (without.includes(name)) continue;
    out[name] = content; // bootcode.bin and friends unprefixed
    if (prefix) out[prefix + name] = content;
  }
  return out;
}

const LOGIN = { username: 'ada', password: 'Secret-Pass-1' };
const ROOT_FILES = {
  'etc/hostname': 'raspberrypi\n',
  'etc/nslcd.conf': NSLCD,
  'etc/ssl/certs/bramble-ca.crt': '-----BEGIN CERTIFICATE-----\n',
};
const stagesOf = (t: Trace): Stage[] => t.timeline.map((e) => e.stage).filter((s, i, all) => i === 0 || all[i - 1] !== s);

describe('a Pi 4 in full mode', () => {
  const pi: PiConfig = { model: 'pi4', mac: 'dc:a6:32:00:00:04', serial: 0x1a2b3c4d, login: LOGIN, reportPort: 6970 };
  const t = boot(pi, { dhcp: fullMode('10.0.0.50'), files: imageFiles('1a2b3c4d/'), nfsFiles: ROOT_FILES });

  it('goes DHCP → FIRMWARE → KERNEL → ROOT_MOUNTED → USER_LOGGED_IN → BOOTED, in that order', () => {
    assert.deepEqual(stagesOf(t), ['DHCP', 'FIRMWARE', 'KERNEL', 'ROOT_MOUNTED', 'USER_LOGGED_IN', 'BOOTED']);
    assert.deepEqual(t.finished, { kind: 'finished', outcome: 'booted', stage: 'BOOTED', cause: null });
  });

  it('sends DISCOVER then REQUEST for the offered address, naming bramble (options 50, 54)', () => {
    assert.deepEqual(
      t.sent.map((p) => messageType(p)),
      [DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST],
    );
    const request = t.sent[1];
    assert.equal(request.xid, t.sent[0].xid, 'same transaction');
    assert.equal(getIp(request.options, DhcpOption.REQUESTED_IP), '10.0.0.50');
    assert.equal(getIp(request.options, DhcpOption.SERVER_ID), BRAMBLE);
  });

  it('keeps its serial prefix (start4.elf found) and reads the files in the firmware order, with tsize and blksize 1468', () => {
    assert.deepEqual(t.tftp[0], { file: '1a2b3c4d/start4.elf', probeOnly: true, tsize: true, blksize: 1468, server: BRAMBLE });
    assert.deepEqual(
      t.tftp.slice(1).map((r) => r.file),
      [
        '1a2b3c4d/config.txt',
        '1a2b3c4d/recover4.elf',
        '1a2b3c4d/recovery.elf',
        '1a2b3c4d/start4.elf',
        '1a2b3c4d/fixup4.dat',
        '1a2b3c4d/config.txt',
        '1a2b3c4d/bcm2711-rpi-4-b.dtb',
        '1a2b3c4d/cmdline.txt',
        '1a2b3c4d/kernel8.img',
      ],
    );
    assert.ok(t.tftp.every((r) => r.tsize && r.blksize === 1468));
  });

  it('reads the root named by nfsroot=, logs in with the LDAP settings of its nslcd.conf, reports to the nfsroot server', () => {
    const nfs = t.effects.find((e) => e.kind === 'nfs');
    assert.deepEqual(nfs, {
      kind: 'nfs',
      server: BRAMBLE,
      path: '/srv/images/pi-os/v2',
      version: 3,
      read: ['etc/hostname', 'etc/nslcd.conf'],
    });
    const ldap = t.effects.find((e) => e.kind === 'ldap');
    assert.deepEqual(ldap, {
      kind: 'ldap',
      request: {
        uri: 'ldap://10.0.0.1/',
        base: 'dc=bramble,dc=local',
        startTls: true,
        caCert: ROOT_FILES['etc/ssl/certs/bramble-ca.crt'],
        ...LOGIN,
      },
    });
    const report = t.effects.find((e) => e.kind === 'report');
    assert.deepEqual(report, { kind: 'report', url: 'http://10.0.0.1:6970/booted', hostname: 'pi-000004' });
  });
});

describe('reply handling and the prefix rules', () => {
  it('proxy mode: the address from the router, the boot menu from bramble; the REQUEST names the router; TFTP goes to bramble', () => {
    const t = boot(
      { model: 'pi4', mac: 'dc:a6:32:00:00:05', serial: 5, reportPort: null },
      { dhcp: proxyMode('10.0.0.120'), files: imageFiles('00000005/'), nfsFiles: ROOT_FILES },
    );
    assert.equal(t.finished?.outcome, 'booted');
    assert.equal(getIp(t.sent[1].options, DhcpOption.SERVER_ID), ROUTER);
    assert.equal(getIp(t.sent[1].options, DhcpOption.REQUESTED_IP), '10.0.0.120');
    assert.ok(t.tftp.every((r) => r.server === BRAMBLE));
    assert.ok(t.effects.some((e) => e.kind === 'configure' && e.ip === '10.0.0.120' && e.prefixLength === 24));
  });

  it('option 66 names the TFTP server before option 54 (§2.3)', () => {
    const dhcp = (p: DhcpPacket): DhcpPacket[] =>
      fullMode('10.0.0.51')(p).map((r) => {
        r.options.set(DhcpOption.TFTP_SERVER_NAME, stringOption('10.0.0.9'));
        return r;
      });
    const t = boot(
      { model: 'pi4', mac: 'dc:a6:32:00:00:06', serial: 6, reportPort: null },
      { dhcp, files: imageFiles('00000006/'), nfsFiles: ROOT_FILES },
    );
    assert.ok(t.tftp.length > 0 && t.tftp.every((r) => r.server === '10.0.0.9'));
  });

  it('an OFFER without "Raspberry Pi Boot" in option 43 is not enough: 11 DISCOVERs 4 s apart, then the attempt fails', () => {
    const dhcp = (p: DhcpPacket): DhcpPacket[] =>
      messageType(p) === DhcpMessageType.DISCOVER ? [reply(p, DhcpMessageType.OFFER, ROUTER, { yiaddr: '10.0.0.130' })] : [];
    const t = boot({ model: 'pi4', mac: 'dc:a6:32:00:00:07', serial: 7, maxAttempts: 1 }, { dhcp, files: {} });
    assert.equal(t.sent.length, 11);
    assert.ok(t.sent.every((p) => messageType(p) === DhcpMessageType.DISCOVER));
    assert.equal(t.now, 44_000, 'gave up at the 11th retry timer: 11 × 4 s');
    assert.equal(t.finished?.outcome, 'failed');
    assert.match(t.finished!.cause!, /no usable DHCP offer after 11 DISCOVERs/);
    assert.equal(t.tftp.length, 0);
  });

  it('a Pi 3B sends 5 DISCOVERs 5 s apart, ignores a relayed OFFER (hops 1), and never REQUESTs', () => {
    const relayed = (p: DhcpPacket): DhcpPacket[] => [
      reply(p, DhcpMessageType.OFFER, BRAMBLE, { yiaddr: '10.0.0.60', boot: true, hops: 1 }),
    ];
    const ignored = boot({ model: 'pi3b', mac: 'b8:27:eb:00:00:08', serial: 8, maxAttempts: 1 }, { dhcp: relayed, files: {} });
    assert.equal(ignored.sent.length, 5);
    assert.equal(ignored.now, 25_000);
    assert.equal(ignored.finished?.outcome, 'failed');

    const t = boot(
      { model: 'pi3b', mac: 'b8:27:eb:00:00:09', serial: 0xa2ef5644, reportPort: null },
      { dhcp: fullMode('10.0.0.61'), files: imageFiles('a2ef5644/'), nfsFiles: ROOT_FILES },
    );
    assert.deepEqual(
      t.sent.map((p) => messageType(p)),
      [DhcpMessageType.DISCOVER],
    );
    assert.equal(t.finished?.outcome, 'booted');
    assert.deepEqual(t.tftp[0], { file: 'bootcode.bin', probeOnly: false, tsize: false, blksize: null, server: BRAMBLE });
    assert.deepEqual(
      t.tftp.slice(1, 3).map((r) => [r.file, r.probeOnly]),
      [
        ['bootsig.bin', false],
        ['a2ef5644/start.elf', true],
      ],
    );
    assert.ok(
      t.tftp.slice(3).every((r) => r.file.startsWith('a2ef5644/') && r.tsize && r.blksize === null),
      'prefixed, tsize, 512-byte blocks',
    );
  });

  it('no start4.elf nor start.elf in the serial folder: the Pi 4 drops the prefix', () => {
    const files = imageFiles(''); // nothing under a serial folder
    const t = boot(
      { model: 'pi4', mac: 'dc:a6:32:00:00:0a', serial: 0x0a, reportPort: null },
      { dhcp: fullMode('10.0.0.70'), files, nfsFiles: ROOT_FILES },
    );
    assert.deepEqual(
      t.tftp.slice(0, 3).map((r) => [r.file, r.probeOnly]),
      [
        ['0000000a/start4.elf', true],
        ['0000000a/start.elf', true],
        ['config.txt', false],
      ],
    );
    assert.ok(t.timeline.some((e) => e.event === 'prefix dropped'));
    assert.equal(t.finished?.outcome, 'booted');
  });

  it('a Pi 5 reads kernel_2712.img and then not kernel8.img; it reads no GPU firmware', () => {
    const t = boot(
      { model: 'pi5', mac: '2c:cf:67:00:00:0b', serial: 0x0b, reportPort: null },
      { dhcp: fullMode('10.0.0.71'), files: imageFiles('0000000b/'), nfsFiles: ROOT_FILES },
    );
    const files = t.tftp.map((r) => r.file);
    assert.ok(files.includes('0000000b/kernel_2712.img'));
    assert.ok(!files.includes('0000000b/kernel8.img'));
    assert.ok(!files.some((f) => /start|fixup/.test(f)));
    const without = boot(
      { model: 'pi5', mac: '2c:cf:67:00:00:0c', serial: 0x0c, reportPort: null },
      { dhcp: fullMode('10.0.0.72'), files: imageFiles('0000000c/', ['kernel_2712.img']), nfsFiles: ROOT_FILES },
    );
    assert.ok(without.tftp.some((r) => r.file === '0000000c/kernel8.img'));
    assert.equal(without.finished?.outcome, 'booted');
  });

  it('a NAK sends the Pi back to DISCOVER with a new transaction', () => {
    let naks = 0;
    const dhcp = (p: DhcpPacket): DhcpPacket[] => {
      if (messageType(p) === DhcpMessageType.REQUEST && naks++ === 0) return [reply(p, DhcpMessageType.NAK, BRAMBLE)];
      return fullMode('10.0.0.73')(p);
    };
    const t = boot(
      { model: 'pi4', mac: 'dc:a6:32:00:00:0d', serial: 0x0d, reportPort: null },
      { dhcp, files: imageFiles('0000000d/'), nfsFiles: ROOT_FILES },
    );
    assert.deepEqual(
      t.sent.map((p) => messageType(p)),
      [DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST, DhcpMessageType.DISCOVER, DhcpMessageType.REQUEST],
    );
    assert.notEqual(t.sent[2].xid, t.sent[0].xid);
    assert.equal(t.finished?.outcome, 'booted');
  });
});

describe('failures, retries and stale inputs', () => {
  it('a missing start4.elf fails the attempt; the Pi starts again from DHCP after 5 s, then gives up naming the file', () => {
    const t = boot(
      { model: 'pi4', mac: 'dc:a6:32:00:00:0e', serial: 0x0e, maxAttempts: 2 },
      { dhcp: fullMode('10.0.0.74'), files: imageFiles('0000000e/', ['start4.elf']) },
    );
    // The probe: start4.elf missing, start.elf found → the prefix is kept (§3.1); then start4.elf (required) is missing.
    assert.equal(t.sent.filter((p) => messageType(p) === DhcpMessageType.DISCOVER).length, 2, 'a second boot attempt');
    assert.equal(t.finished?.outcome, 'failed');
    assert.equal(t.finished?.stage, 'FIRMWARE');
    assert.equal(t.finished?.cause, '0000000e/start4.elf: file not found');
    assert.ok(t.timeline.some((e) => e.event === 'boot attempt 2'));
  });

  it('a TFTP timeout on a required file fails the attempt; optional files missing are normal', () => {
    const t = boot(
      { model: 'pi4', mac: 'dc:a6:32:00:00:0f', serial: 0x0f, maxAttempts: 1 },
      {
        dhcp: fullMode('10.0.0.75'),
        files: imageFiles('0000000f/'),
        tftp: (file, probeOnly) =>
          file.endsWith('kernel8.img') && !probeOnly ? { status: 'timeout', message: 'no answer within the file timeout' } : null,
      },
    );
    assert.ok(t.timeline.some((e) => e.event === 'missing (normal)' && e.file === '0000000f/recover4.elf'));
    assert.deepEqual(t.finished, {
      kind: 'finished',
      outcome: 'failed',
      stage: 'KERNEL',
      cause: '0000000f/kernel8.img: no answer within the file timeout',
    });
  });

  it('an unreadable nslcd.conf ends the boot (no login) unless a fallback is given, which the timeline names', () => {
    const world = {
      dhcp: fullMode('10.0.0.76'),
      files: imageFiles('00000010/'),
      nfsFiles: { 'etc/hostname': 'x\n' },
      nfsUnread: { 'etc/nslcd.conf': 'ACCESS denied' },
    };
    const failed = boot({ model: 'pi4', mac: 'dc:a6:32:00:00:10', serial: 0x10, login: LOGIN }, world);
    assert.equal(failed.finished?.outcome, 'failed');
    assert.equal(failed.finished?.stage, 'ROOT_MOUNTED');
    assert.match(failed.finished!.cause!, /etc\/nslcd.conf of the root: ACCESS denied/);
    const fallback = { uri: 'ldap://10.0.0.1/', base: 'dc=x', caCert: 'PEM' };
    const t = boot({ model: 'pi4', mac: 'dc:a6:32:00:00:10', serial: 0x10, login: { ...LOGIN, fallback }, reportPort: null }, world);
    assert.equal(t.finished?.outcome, 'booted');
    assert.ok(t.timeline.some((e) => /unreadable: using the given LDAP settings/.test(e.event)));
    const ldap = t.effects.find((e) => e.kind === 'ldap');
    assert.equal(ldap?.kind === 'ldap' && ldap.request.uri, 'ldap://10.0.0.1/');
  });

  it('the root mount comes 2 s after the kernel; a refused mount is tried again 2 s later, 5 times in all', () => {
    const pi: PiConfig = { model: 'pi4', mac: 'dc:a6:32:00:00:12', serial: 0x12, reportPort: null, maxAttempts: 1 };
    const ok = boot(pi, { dhcp: fullMode('10.0.0.77'), files: imageFiles('00000012/'), nfsFiles: ROOT_FILES, nfsRefusals: 4 });
    const tries = (ok as { nfsTries?: number[] }).nfsTries!;
    assert.equal(tries.length, 5);
    assert.deepEqual(
      tries.slice(1).map((t, i) => t - tries[i]),
      [2000, 2000, 2000, 2000],
    );
    assert.equal(ok.finished?.outcome, 'booted');
    const kernel = ok.timeline.findIndex((e) => e.event === 'kernel starting');
    assert.ok(kernel > 0 && ok.timeline.slice(kernel + 1).every((e) => e.stage !== 'FIRMWARE'));
    const failed = boot(pi, { dhcp: fullMode('10.0.0.77'), files: imageFiles('00000012/'), nfsFiles: ROOT_FILES, nfsRefusals: 5 });
    assert.deepEqual(failed.finished, { kind: 'finished', outcome: 'failed', stage: 'KERNEL', cause: 'NFS root: MNT3ERR_ACCES' });
  });

  it('ignores stale timers, a TFTP result for another request, and replies for another transaction or client', () => {
    const m = new PiBootMachine({ model: 'pi4', mac: 'dc:a6:32:00:00:11', serial: 0x11 });
    const start = m.handle({ kind: 'power-on' }, 0);
    const discover = start.find((e) => e.kind === 'dhcp-send');
    assert.ok(discover && discover.kind === 'dhcp-send');
    assert.deepEqual(m.handle({ kind: 'timer', id: 999 }, 10), []);
    assert.deepEqual(m.handle({ kind: 'tftp-result', id: 1, outcome: { status: 'missing', message: 'x' } }, 10), []);
    const other = reply(discover.packet, DhcpMessageType.OFFER, BRAMBLE, { yiaddr: '10.0.0.80', boot: true });
    other.xid = (other.xid + 1) >>> 0;
    assert.deepEqual(m.handle({ kind: 'dhcp-reply', packet: other }, 20), []);
    const stranger = reply(discover.packet, DhcpMessageType.OFFER, BRAMBLE, { yiaddr: '10.0.0.80', boot: true });
    stranger.mac = 'dc:a6:32:00:00:99';
    assert.deepEqual(m.handle({ kind: 'dhcp-reply', packet: stranger }, 20), []);
    assert.deepEqual(m.handle({ kind: 'power-on' }, 30), [], 'already on');
    assert.equal(m.currentStage, 'DHCP');
  });
});
