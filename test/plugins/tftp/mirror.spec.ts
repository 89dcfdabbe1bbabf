/**
 * The transfer worker's copy of the views and its fast decision (tftp.mirror.ts), as tables: what
 * it starts itself (and with which bytes and version), and what it forwards to the main thread and
 * why. Pure: the file system is a stand-in stat and check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRequest, decodePacket, TftpOpcode, type TftpPacket } from '../../../src/plugins/tftp/tftp.codec';
import type { BootFileStat } from '../../../src/plugins/tftp/tftp.files';
import { renderCmdline, renderConfigTxt } from '../../../src/plugins/tftp/tftp.generated';
import { RequestMirror, type MirrorClient, type MirrorFile, type MirrorImage } from '../../../src/plugins/tftp/tftp.mirror';
import { PIN_IDLE_MS } from '../../../src/plugins/tftp/tftp.pins';

const T0 = 1_800_000_000_000;
const pi: MirrorClient = {
  mac: 'dc:a6:32:00:00:01',
  status: 'approved',
  imageId: 'lite',
  serial: '1234abcd',
  model: 'RPi4',
  ip: '10.0.0.10',
  configTxt: 'dtoverlay=disable-bt',
  cmdlineArgs: 'quiet',
};
const v = (n: number) => ({ version: n, path: `/img/lite/v${n}`, bootPath: `/img/lite/v${n}/boot` });
const lite = (active: number, kept: number[]): MirrorImage => ({ ...v(active), id: 'lite', version: active, versions: kept.map(v) });

/** Files as a stand-in file system: real path → signature (what stat says now). */
class FakeFs {
  readonly now = new Map<string, string>();
  checks = 0;
  stat = (p: string): BootFileStat | null => {
    const sig = this.now.get(p);
    if (!sig) return null;
    const [dev, ino, size, mtimeMs] = sig.split(':').map(Number);
    return { dev, ino, size, mtimeMs, isFile: () => true };
  };
  check = (bootPath: string, relPath: string): { realPath: string; signature: string } | null => {
    this.checks++;
    const realPath = `${bootPath}/${relPath}`;
    const signature = this.now.get(realPath);
    return signature ? { realPath, signature } : null;
  };
}

function file(version: number, relPath: string, text: string, trustUntil = T0 + 1000): MirrorFile {
  const bootPath = v(version).bootPath;
  return {
    bootPath,
    relPath,
    data: Buffer.from(text),
    realPath: `${bootPath}/${relPath}`,
    signature: `1:${text.length}:${text.length}:5`,
    trustUntil,
  };
}

function rrq(name: string, mode: 'octet' | 'netascii' = 'octet', opcode: 1 | 2 = TftpOpcode.RRQ): TftpPacket {
  return decodePacket(encodeRequest(opcode, name, mode, [{ name: 'tsize', value: '0' }]));
}

/** A mirror holding the Pi, the image (active `active`) and `files`, each present on the fake file system. */
function setup(active = 1, files: MirrorFile[] = [file(1, 'start4.elf', 'firmware')]): { m: RequestMirror; fs: FakeFs } {
  const fs = new FakeFs();
  for (const f of files) fs.now.set(f.realPath, f.signature);
  const m = new RequestMirror(fs.stat, fs.check, 1000);
  m.apply(
    {
      reset: true,
      clients: [pi],
      byIp: [[pi.ip!, pi.mac]],
      bySerial: [[pi.serial!, pi.mac]],
      images: [
        lite(
          active,
          [1, 2].filter((n) => n <= active),
        ),
      ],
      files,
    },
    T0,
  );
  return { m, fs };
}

describe('TFTP worker mirror: requests started in the worker', () => {
  it('serves an approved client a checked file of its image, pinning the active version at the first request', () => {
    const { m } = setup();
    const first = m.decide(rrq('start4.elf'), pi.ip!, T0 + 10, '10.0.0.1');
    assert.equal(first.kind, 'serve');
    assert.deepEqual(
      first.kind === 'serve' && [first.mac, first.version, first.newPin, first.relPath, Buffer.from(first.data).toString()],
      [pi.mac, 1, true, 'start4.elf', 'firmware'],
    );
    const again = m.decide(rrq('start4.elf'), pi.ip!, T0 + 20, '10.0.0.1');
    assert.equal(again.kind === 'serve' && again.newPin, false, 'the second request keeps the pin');
  });

  it('finds the client by the serial folder as well as by address, and strips the prefix', () => {
    const { m } = setup();
    const d = m.decide(rrq('1234abcd/start4.elf'), '10.9.9.9', T0, null);
    assert.equal(d.kind === 'serve' && d.relPath, 'start4.elf');
  });

  it('keeps a boot on its pinned version when a new one is activated, and takes the new one after the pin went idle', () => {
    const { m } = setup(1, [file(1, 'start4.elf', 'old'), file(2, 'start4.elf', 'new!')]);
    m.apply({ pins: [[pi.mac, 'lite', 1]] }, T0);
    m.apply({ images: [lite(2, [1, 2])] }, T0);
    const kept = m.decide(rrq('start4.elf'), pi.ip!, T0 + 100, null);
    assert.deepEqual(kept.kind === 'serve' && [kept.version, Buffer.from(kept.data).toString()], [1, 'old']);
    const later = T0 + 100 + PIN_IDLE_MS + 1;
    m.apply({ files: [file(2, 'start4.elf', 'new!', later + 1000)] }, later);
    const next = m.decide(rrq('start4.elf'), pi.ip!, later, null);
    assert.deepEqual(next.kind === 'serve' && [next.version, next.newPin, Buffer.from(next.data).toString()], [2, true, 'new!']);
  });

  it('renders cmdline.txt and config.txt from the pinned version’s file and the client’s settings', () => {
    const original = 'console=serial0,115200 root=PARTUUID=1 rootwait\n';
    const { m } = setup(1, [file(1, 'cmdline.txt', original), file(1, 'config.txt', '[all]\n')]);
    const cmdline = m.decide(rrq('cmdline.txt'), pi.ip!, T0, '10.0.0.1');
    const expected = renderCmdline(original, { serverIp: '10.0.0.1', exportPath: '/img/lite/v1', extraArgs: 'quiet' });
    assert.deepEqual(cmdline.kind === 'serve' && [cmdline.generated, Buffer.from(cmdline.data).toString()], [expected, expected]);
    const config = m.decide(rrq('config.txt'), pi.ip!, T0, '10.0.0.1');
    assert.equal(config.kind === 'serve' && config.generated, renderConfigTxt('[all]\n', 'dtoverlay=disable-bt'));
  });

  it('checks a file again in full once its trusted second has passed, and serves it on while it is the same', () => {
    const { m, fs } = setup();
    assert.equal(m.decide(rrq('start4.elf'), pi.ip!, T0 + 999, null).kind, 'serve');
    assert.equal(fs.checks, 0, 'within the second: a stat only');
    assert.equal(m.decide(rrq('start4.elf'), pi.ip!, T0 + 1500, null).kind, 'serve');
    assert.equal(fs.checks, 1);
    assert.equal(m.decide(rrq('start4.elf'), pi.ip!, T0 + 1600, null).kind, 'serve');
    assert.equal(fs.checks, 1, 'trusted for another second after that check');
  });
});

describe('TFTP worker mirror: requests forwarded to the main thread', () => {
  const cases: Array<{
    name: string;
    change?: (m: RequestMirror, fs: FakeFs) => void;
    packet?: TftpPacket;
    ip?: string;
    now?: number;
    why: string;
  }> = [
    { name: 'a WRQ', packet: rrq('start4.elf', 'octet', TftpOpcode.WRQ), why: 'not-rrq' },
    { name: 'netascii', packet: rrq('start4.elf', 'netascii'), why: 'netascii' },
    { name: 'an unknown address', ip: '10.0.0.99', why: 'decision' },
    { name: 'a client not approved', change: (m) => m.apply({ clients: [{ ...pi, status: 'pending' }] }, T0), why: 'decision' },
    { name: 'a client without an image', change: (m) => m.apply({ clients: [{ ...pi, imageId: null }] }, T0), why: 'decision' },
    { name: 'a client removed', change: (m) => m.apply({ removedClients: [pi.mac], byIp: [[pi.ip!, null]] }, T0), why: 'decision' },
    { name: 'its image removed', change: (m) => m.apply({ removedImages: ['lite'] }, T0), why: 'decision' },
    { name: 'a hostile name', packet: rrq('../etc/passwd'), why: 'decision' },
    { name: 'a file never opened by the main thread', packet: rrq('fixup4.dat'), why: 'no-file' },
    { name: 'a file changed since (stat)', change: (_m, fs) => fs.now.set('/img/lite/v1/boot/start4.elf', '1:8:8:6'), why: 'changed' },
    { name: 'a file gone', change: (_m, fs) => fs.now.clear(), why: 'changed' },
    {
      name: 'a file whose name leads elsewhere after its second',
      change: (_m, fs) => fs.now.clear(),
      now: T0 + 2000,
      why: 'changed',
    },
    {
      name: 'a PC’s iPXE script',
      change: (m) => m.apply({ clients: [{ ...pi, model: 'pc-bios' }] }, T0),
      packet: rrq('bramble.ipxe'),
      why: 'special-file',
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.why}`, () => {
      const { m, fs } = setup();
      c.change?.(m, fs);
      const d = m.decide(c.packet ?? rrq('start4.elf'), c.ip ?? pi.ip!, c.now ?? T0 + 10, null);
      assert.equal(d.kind === 'forward' && d.why, c.why);
    });
  }

  it('names the file to open for a file not there (requests for it wait for it in the worker)', () => {
    const { m } = setup();
    const d = m.decide(rrq('fixup4.dat'), pi.ip!, T0, null);
    assert.deepEqual(d.kind === 'forward' && d.file, {
      key: '/img/lite/v1/boot\0fixup4.dat',
      bootPath: '/img/lite/v1/boot',
      relPath: 'fixup4.dat',
    });
    assert.deepEqual(RequestMirror.fileKeys({ files: [file(1, 'fixup4.dat', 'x')] }), ['/img/lite/v1/boot\0fixup4.dat']);
  });

  it('a new address for the client moves it (byIp as the core answers it)', () => {
    const { m } = setup();
    m.apply(
      {
        clients: [{ ...pi, ip: '10.0.0.11' }],
        byIp: [
          ['10.0.0.10', null],
          ['10.0.0.11', pi.mac],
        ],
      },
      T0,
    );
    assert.equal(m.decide(rrq('start4.elf'), '10.0.0.10', T0, null).kind, 'forward');
    assert.equal(m.decide(rrq('start4.elf'), '10.0.0.11', T0, null).kind, 'serve');
  });

  it('a reset forgets everything; files unused for a minute are swept', () => {
    const { m } = setup();
    m.sweep(T0 + 30_000);
    assert.equal(m.fileCount, 1);
    m.sweep(T0 + 1000 + 60_000);
    assert.equal(m.fileCount, 0);
    const { m: m2 } = setup();
    m2.apply({ reset: true }, T0);
    assert.equal(m2.decide(rrq('start4.elf'), pi.ip!, T0, null).kind, 'forward');
  });
});

describe('TFTP worker mirror: the bytes it holds', () => {
  it('holds at most 256 MiB of files: past it the least recently added go first', () => {
    const { m } = setup(1, []);
    const huge = (name: string): MirrorFile => ({ ...file(1, name, 'x'), data: { byteLength: 100 * 1024 ** 2 } as Uint8Array });
    m.apply({ files: [huge('a'), huge('b')] }, T0);
    assert.deepEqual([m.fileCount, m.heldBytes], [2, 200 * 1024 ** 2]);
    m.apply({ files: [huge('c')] }, T0);
    assert.deepEqual([m.fileCount, m.heldBytes], [2, 200 * 1024 ** 2]);
    assert.equal(m.decide(rrq('a'), pi.ip!, T0, null).kind, 'forward', 'the oldest went');
    m.apply({ reset: true }, T0);
    assert.deepEqual([m.fileCount, m.heldBytes], [0, 0]);
  });
});
