/**
 * The TFTP plugin against real clients (curl, tftp-hpa, busybox, atftp) and a Pi-like client
 * (node:dgram) run in the lab's namespaces: every download compared byte for byte with the file
 * written, block sizes and windows as negotiated, block-number roll-over, per-Pi prefixes, the
 * generated cmdline.txt and config.txt, refusals, and the firmware's early-terminate probe.
 * One lab for the whole file (namespaces are slow to make); each test uses its own file names and,
 * where it counts boot events, its own Pi.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AssignImageCommand, DetectClientCommand, LearnClientAddressCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import type { BootProgressedData } from '../../../src/core/plugin-api';
import { execStatus, metricValue, patternFile, startTftpLab, tftpLabUnavailable, type LabPi, type TftpLab } from '../../support/tftp-lab';
import { eventually } from '../../support/temp';

const skip = tftpLabUnavailable();

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const M = (name: string): string => `bramble_tftp_${name}`;

type Fact = { data: BootProgressedData };

describe('TFTP with real clients', { skip: skip ?? false }, () => {
  let lab: TftpLab;
  /** The Pi the plain client downloads run from (approved, address learnt). */
  let pi: LabPi;
  let outCounter = 0;

  /** The facts the core received (live: only stage changes are stored), shaped as the fact's data. */
  const facts = async (mac: string, stage: string, file?: string): Promise<Fact[]> =>
    lab
      .bootFacts(mac)
      .map((f) => ({ data: { mac: f.mac, stage: f.fact, plugin: f.plugin, ip: f.ip, detail: { ...f.detail } } }))
      .filter((e) => e.data.stage === stage && (file === undefined || e.data.detail.file === file));

  /** Waits for the `n`th `stage` fact of `file` and returns it. */
  const waitFact = async (mac: string, stage: string, file: string, n = 1): Promise<Fact> => {
    await eventually(async () => (await facts(mac, stage, file)).length >= n, 5000, `${stage} #${n} for ${file}`);
    return (await facts(mac, stage, file))[n - 1];
  };

  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> =>
    metricValue(await lab.metrics(), M(name), labels);

  const outFile = (): string => path.join(lab.dir, `out-${++outCounter}`);

  /** curl in `host`'s namespace; returns the exit code and the downloaded bytes (null when no file). */
  const curl = async (
    host: string,
    name: string,
    args: string[] = [],
    timeoutMs = 20_000,
  ): Promise<{ code: number; data: Buffer | null; stderr: string }> => {
    const out = outFile();
    const r = await execStatus(
      lab,
      host,
      'curl',
      ['-sS', '--max-time', String(timeoutMs / 1000), ...args, '-o', out, `tftp://${lab.serverIp}/${name}`],
      {
        timeoutMs: timeoutMs + 5000,
      },
    );
    const data = existsSync(out) ? readFileSync(out) : null;
    return { code: r.code, data, stderr: r.stderr };
  };

  /** A datagram client in `host`'s namespace: one RRQ, prints the first answer (ERROR code/message, or opcode). */
  const rawRequest = async (host: string, name: string): Promise<{ op: number; code?: number; message?: string }> => {
    const script = `
      const dgram = require('node:dgram');
      const P = ${JSON.stringify({ server: lab.serverIp, name })};
      const s = dgram.createSocket('udp4');
      setTimeout(() => { console.log(JSON.stringify({ op: 0 })); process.exit(0); }, 3000);
      s.on('message', (m) => {
        const op = m.readUInt16BE(0);
        const out = { op };
        if (op === 5) { out.code = m.readUInt16BE(2); out.message = m.subarray(4, m.indexOf(0, 4)).toString('latin1'); }
        console.log(JSON.stringify(out));
        process.exit(0);
      });
      const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(P.name + '\\0octet\\0', 'latin1')]);
      s.bind(0, () => s.send(rrq, 69, P.server));`;
    const { stdout } = await lab.exec(host, process.execPath, ['-e', script], { timeoutMs: 10_000 });
    return JSON.parse(stdout) as { op: number; code?: number; message?: string };
  };

  before(async () => {
    lab = await startTftpLab();
    pi = await lab.addPi('pi', { mac: 'dc:a6:32:01:00:01', serial: '1a000001' });
  });
  after(async () => {
    await lab?.close();
  });

  describe('curl', () => {
    const file = patternFile(300_000, 11);
    before(() => {
      lab.writeBootFile('curl.bin', file);
    });

    it('default options: the whole file, 512-byte blocks, a tftp.file-served fact with its size', async () => {
      const bytesBefore = await metric('bytes_sent_total');
      const r = await curl('pi', 'curl.bin');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(r.data!), sha(file));
      const fact = await waitFact(pi.mac, 'tftp.file-served', 'curl.bin');
      assert.equal(fact.data.detail.bytes, file.length);
      assert.equal(fact.data.detail.blockSize, 512);
      assert.equal(fact.data.plugin, 'tftp');
      assert.equal(fact.data.ip, pi.ip);
      // Counters arrive from the worker twice a second.
      await eventually(async () => (await metric('bytes_sent_total')) - bytesBefore >= file.length, 3000, 'bytes_sent_total');
    });

    for (const blksize of [8, 512, 1024, 1468]) {
      it(`--tftp-blksize ${blksize}: byte for byte, at that block size`, async () => {
        const name = `curl-${blksize}.bin`;
        const data = blksize === 8 ? file.subarray(0, 20_000) : file;
        lab.writeBootFile(name, data);
        const r = await curl('pi', name, ['--tftp-blksize', String(blksize)]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(sha(r.data!), sha(data));
        const fact = await waitFact(pi.mac, 'tftp.file-served', name);
        assert.equal(fact.data.detail.blockSize, blksize);
        assert.equal(fact.data.detail.bytes, data.length);
      });
    }

    it('--tftp-no-options: plain RFC 1350 (512-byte blocks, no OACK)', async () => {
      lab.writeBootFile('curl-noopt.bin', file);
      const r = await curl('pi', 'curl-noopt.bin', ['--tftp-no-options', '-v']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(r.data!), sha(file));
      assert.doesNotMatch(r.stderr, /OACK/i);
      assert.equal((await waitFact(pi.mac, 'tftp.file-served', 'curl-noopt.bin')).data.detail.blockSize, 512);
    });

    it('a file an exact multiple of the block size ends with an empty block', async () => {
      for (const [name, blk, args] of [
        ['multiple-512.bin', 512, []],
        ['multiple-1468.bin', 1468, ['--tftp-blksize', '1468']],
      ] as const) {
        const data = patternFile(blk * 40, blk);
        lab.writeBootFile(name, data);
        const r = await curl('pi', name, [...args]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.data!.length, data.length);
        assert.equal(sha(r.data!), sha(data));
        assert.equal((await waitFact(pi.mac, 'tftp.file-served', name)).data.detail.bytes, data.length);
      }
    });

    it('an empty file (curl refuses an OACK with tsize 0, so without options)', async () => {
      lab.writeBootFile('empty.bin', Buffer.alloc(0));
      const r = await curl('pi', 'empty.bin', ['--tftp-no-options']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.data!.length, 0);
      assert.equal((await waitFact(pi.mac, 'tftp.file-served', 'empty.bin')).data.detail.bytes, 0);
    });

    it('a missing file: curl exits 68 (TFTP file not found) and a tftp.file-missing fact names it', async () => {
      const notFoundBefore = await metric('requests_total', { result: 'not-found' });
      const r = await curl('pi', 'no-such-file.bin');
      assert.equal(r.code, 68, r.stderr);
      assert.ok(!r.data || r.data.length === 0);
      const fact = await waitFact(pi.mac, 'tftp.file-missing', 'no-such-file.bin');
      assert.equal(fact.data.ip, pi.ip);
      assert.equal((await metric('requests_total', { result: 'not-found' })) - notFoundBefore, 1);
      assert.equal((await facts(pi.mac, 'tftp.file-served', 'no-such-file.bin')).length, 0);
    });

    it('blksize 65464: clamped to maxBlockSize (1468) by default; granted once maxBlockSize is 65464', async () => {
      const data = patternFile(400_000, 12);
      lab.writeBootFile('big-blocks-a.bin', data);
      lab.writeBootFile('big-blocks-b.bin', data);
      const clamped = await curl('pi', 'big-blocks-a.bin', ['--tftp-blksize', '65464', '-v']);
      assert.equal(clamped.code, 0, clamped.stderr);
      assert.equal(sha(clamped.data!), sha(data));
      assert.match(clamped.stderr, /blksize parsed from OACK \(1468\)/);
      assert.equal((await waitFact(pi.mac, 'tftp.file-served', 'big-blocks-a.bin')).data.detail.blockSize, 1468);

      await lab.settings({ maxBlockSize: 65464 });
      try {
        const bytesBefore = await metric('bytes_sent_total');
        const startedBefore = await metric('requests_total', { result: 'started' });
        const big = await curl('pi', 'big-blocks-b.bin', ['--tftp-blksize', '65464', '-v']);
        assert.equal(big.code, 0, big.stderr);
        assert.equal(sha(big.data!), sha(data));
        assert.match(big.stderr, /blksize parsed from OACK \(65464\)/);
        const fact = await waitFact(pi.mac, 'tftp.file-served', 'big-blocks-b.bin');
        assert.equal(fact.data.detail.blockSize, 65464);
        assert.equal(fact.data.detail.bytes, data.length);
        assert.equal((await metric('requests_total', { result: 'started' })) - startedBefore, 1);
        await eventually(async () => (await metric('bytes_sent_total')) - bytesBefore >= data.length, 3000, 'bytes_sent_total');
        assert.equal((await metric('transfer_duration_seconds_count')) >= 1, true);
      } finally {
        await lab.settings({ maxBlockSize: 1468 });
      }
    });
  });

  describe('tftp-hpa, busybox, atftp', () => {
    it('tftp-hpa, binary mode', async () => {
      const data = patternFile(150_000, 21);
      lab.writeBootFile('hpa.bin', data);
      const out = outFile();
      await lab.exec('pi', 'tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', 'hpa.bin', out], { timeoutMs: 20_000 });
      assert.equal(sha(readFileSync(out)), sha(data));
      assert.equal((await waitFact(pi.mac, 'tftp.file-served', 'hpa.bin')).data.detail.bytes, data.length);
    });

    it('tftp-hpa, netascii (its default): sent as CRLF / CR NUL, converted back to the original', async () => {
      const text = 'arm_64bit=1\n# a comment\r with a bare CR\n\n[pi4]\ndtoverlay=vc4-kms-v3d\n'.repeat(200);
      const lineEnds = (text.match(/[\r\n]/g) ?? []).length;
      lab.writeBootFile('netascii.txt', text);
      const out = outFile();
      await lab.exec('pi', 'tftp', [lab.serverIp, '-c', 'get', 'netascii.txt', out], { timeoutMs: 20_000 });
      assert.equal(readFileSync(out, 'latin1'), text);
      // Each LF went out as CR LF and each CR as CR NUL: one more byte per line end.
      assert.equal((await waitFact(pi.mac, 'tftp.file-served', 'netascii.txt')).data.detail.bytes, text.length + lineEnds);
    });

    it('busybox tftp, -b 1024', async () => {
      const data = patternFile(200_000, 31);
      lab.writeBootFile('busybox.bin', data);
      const out = outFile();
      await lab.exec('pi', 'busybox', ['tftp', '-g', '-r', 'busybox.bin', '-l', out, '-b', '1024', lab.serverIp], { timeoutMs: 20_000 });
      assert.equal(sha(readFileSync(out)), sha(data));
      const fact = await waitFact(pi.mac, 'tftp.file-served', 'busybox.bin');
      assert.equal(fact.data.detail.blockSize, 1024);
      assert.equal(fact.data.detail.bytes, data.length);
    });

    it('busybox tftp, no block size option', async () => {
      const data = patternFile(50_000, 32);
      lab.writeBootFile('busybox-plain.bin', data);
      const out = outFile();
      await lab.exec('pi', 'busybox', ['tftp', '-g', '-r', 'busybox-plain.bin', '-l', out, lab.serverIp], { timeoutMs: 20_000 });
      assert.equal(sha(readFileSync(out)), sha(data));
      assert.equal((await waitFact(pi.mac, 'tftp.file-served', 'busybox-plain.bin')).data.detail.blockSize, 512);
    });

    it('atftp with windowsize 8 and blksize 1468 (RFC 7440)', async () => {
      const data = patternFile(1_000_003, 41);
      lab.writeBootFile('atftp.bin', data);
      const out = outFile();
      await lab.exec(
        'pi',
        'atftp',
        ['--option', 'windowsize 8', '--option', 'blksize 1468', '-g', '-r', 'atftp.bin', '-l', out, lab.serverIp],
        { timeoutMs: 20_000 },
      );
      assert.equal(sha(readFileSync(out)), sha(data));
      const fact = await waitFact(pi.mac, 'tftp.file-served', 'atftp.bin');
      assert.equal(fact.data.detail.windowSize, 8);
      assert.equal(fact.data.detail.blockSize, 1468);
      assert.equal(fact.data.detail.bytes, data.length);
    });
  });

  it('a file over 32 MiB at 512-byte blocks: the block number rolls over past 65535', { timeout: 60_000 }, async () => {
    const data = patternFile(33 * 1024 * 1024 + 777, 51); // 67,586 blocks
    lab.writeBootFile('rollover.bin', data);
    const r = await curl('pi', 'rollover.bin', ['--tftp-blksize', '512'], 45_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.data!.length, data.length);
    assert.ok(r.data!.equals(data), 'content differs');
    const fact = await waitFact(pi.mac, 'tftp.file-served', 'rollover.bin');
    assert.equal(fact.data.detail.bytes, data.length);
    assert.equal(fact.data.detail.blockSize, 512);
  });

  describe('per-Pi prefixes', () => {
    it('a Pi 4 asking <serial>/ and <mac-with-dashes>/ is served from its image, without a learnt address', async () => {
      const elf = patternFile(123_457, 61);
      lab.writeBootFile('start4.elf', elf);
      const p = await lab.addPi('prefixed', { mac: 'dc:a6:32:02:00:01', serial: '2b00c0de', learnIp: false });
      // Without a prefix bramble cannot tell who it is: its address was never learnt.
      assert.equal((await curl('prefixed', 'start4.elf')).code, 69);
      for (const name of ['2b00c0de/start4.elf', 'dc-a6-32-02-00-01/start4.elf']) {
        const r = await curl('prefixed', name, ['--tftp-blksize', '1468']);
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        assert.equal(sha(r.data!), sha(elf), name);
      }
      // The prefix is stripped: the facts name the file in the boot folder, on the Pi's own stream.
      await waitFact(p.mac, 'tftp.file-served', 'start4.elf', 2);
    });

    it('a Pi 5 asking <serial>/config.txt and <serial>/ device tree keeps its prefix: both served, config.txt with its own lines', async () => {
      const dtb = patternFile(77_777, 63);
      lab.writeBootFile('bcm2712-rpi-5-b.dtb', dtb);
      lab.writeBootFile('config.txt', 'arm_64bit=1\n');
      const p = await lab.addPi('pi5', { mac: '2c:cf:67:05:00:01', serial: '5c0ffee5', learnIp: false });
      await lab.setBootConfig(p.mac, 'dtparam=pciex1', '');
      const config = await curl('pi5', '5c0ffee5/config.txt', ['--tftp-blksize', '1468']);
      assert.equal(config.code, 0, config.stderr);
      assert.match(config.data!.toString(), /^arm_64bit=1\n[\s\S]*\[all\]\ndtparam=pciex1\n$/);
      const tree = await curl('pi5', '5c0ffee5/bcm2712-rpi-5-b.dtb', ['--tftp-blksize', '1468']);
      assert.equal(tree.code, 0, tree.stderr);
      assert.equal(sha(tree.data!), sha(dtb));
      await waitFact(p.mac, 'tftp.file-served', 'bcm2712-rpi-5-b.dtb');
    });

    it('a Pi 3 asking <serial>/start.elf (serial low 3 bytes = MAC last 3) is served from an address never learnt', async () => {
      const elf = patternFile(70_001, 62);
      lab.writeBootFile('start.elf', elf);
      const p = await lab.addPi('pi3', { mac: 'b8:27:eb:a1:b2:c3', serial: null, learnIp: false });
      assert.equal((await curl('pi3', 'start.elf')).code, 69);
      const r = await curl('pi3', '5ea1b2c3/start.elf');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(r.data!), sha(elf));
      // Another serial whose low bytes name no known Pi 3 is an unknown client.
      assert.equal((await curl('pi3', '5ea1b2c4/start.elf')).code, 69);
      assert.equal((await waitFact(p.mac, 'tftp.file-served', 'start.elf')).data.ip, p.ip);
    });
  });

  describe('generated cmdline.txt and config.txt', () => {
    const IMAGE_CMDLINE =
      'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n';
    const IMAGE_CONFIG = '# image config\narm_64bit=1\n[pi4]\narm_boost=1\n';
    const MAC = 'dc:a6:32:03:00:01';
    let cfg: LabPi;
    let imageRoot: string;

    const expectedCmdline = (root: string, extra: string): string =>
      `console=serial0,115200 console=tty1 quiet ip=dhcp root=/dev/nfs nfsroot=${lab.serverIp}:${root},vers=3,tcp ro rootwait${extra}\n`;
    const generatedCopy = (name: string): string =>
      path.join(lab.core.dataDir, 'plugins', 'tftp', 'generated', MAC.replace(/:/g, '-'), name);

    before(async () => {
      lab.writeBootFile('cmdline.txt', IMAGE_CMDLINE);
      lab.writeBootFile('config.txt', IMAGE_CONFIG);
      cfg = await lab.addPi('cfg', { mac: MAC, serial: '3c000001' });
      await lab.setBootConfig(MAC, 'gpu_mem=16\r\nhdmi_force_hotplug=1\n', 'splash foo=bar');
      imageRoot = lab.image.root;
    });

    it('cmdline.txt: the image line made an NFS root, with the Pi own arguments; a copy under generated/', async () => {
      const r = await curl('cfg', 'cmdline.txt');
      assert.equal(r.code, 0, r.stderr);
      const expected = expectedCmdline(imageRoot, ' splash foo=bar');
      assert.equal(r.data!.toString('utf8'), expected);
      await eventually(() => existsSync(generatedCopy('cmdline.txt')) && readFileSync(generatedCopy('cmdline.txt'), 'utf8') === expected);
      // The image's own file is untouched.
      assert.equal(readFileSync(path.join(lab.image.boot, 'cmdline.txt'), 'utf8'), IMAGE_CMDLINE);
    });

    it("config.txt: the image's file then the Pi's lines under [all]", async () => {
      const r = await curl('cfg', 'config.txt');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.data!.toString('utf8'), `${IMAGE_CONFIG}# bramble: this Pi's own lines\n[all]\ngpu_mem=16\nhdmi_force_hotplug=1\n`);
      await eventually(() => existsSync(generatedCopy('config.txt')));
    });

    it('a changed boot config is served at the next request, without a restart', async () => {
      await lab.setBootConfig(MAC, 'dtparam=audio=on', 'rw loglevel=7');
      const cmd = await curl('cfg', 'cmdline.txt');
      const expected = expectedCmdline(imageRoot, ' rw loglevel=7');
      assert.equal(cmd.data!.toString('utf8'), expected);
      const conf = await curl('cfg', 'config.txt');
      assert.equal(conf.data!.toString('utf8'), `${IMAGE_CONFIG}# bramble: this Pi's own lines\n[all]\ndtparam=audio=on\n`);
      await eventually(() => readFileSync(generatedCopy('cmdline.txt'), 'utf8') === expected, 5000, 'the generated copy updated');
      // No own lines: the image's config.txt byte for byte.
      await lab.setBootConfig(MAC, '', '');
      assert.equal((await curl('cfg', 'config.txt')).data!.toString('utf8'), IMAGE_CONFIG);
    });

    it('another image assigned: the next request serves its files and its root', async () => {
      const other = await lab.addImage('other-os');
      const elf = patternFile(99_999, 71);
      const writeOther = (name: string, content: Buffer | string): void => writeFileSync(path.join(other.boot, name), content);
      writeOther('start4.elf', elf);
      writeOther('cmdline.txt', 'console=tty1 root=/dev/mmcblk0p2 rootwait\n');
      lab.writeBootFile('start4.elf', patternFile(123_457, 61));
      const before = await curl('cfg', 'start4.elf');
      assert.notEqual(sha(before.data!), sha(elf));

      await lab.core.exec(new AssignImageCommand({ mac: cfg.mac, imageId: other.id }, commandMeta('admin:test')));
      const after = await curl('cfg', 'start4.elf');
      assert.equal(after.code, 0, after.stderr);
      assert.equal(sha(after.data!), sha(elf));
      const cmd = await curl('cfg', 'cmdline.txt');
      assert.equal(
        cmd.data!.toString('utf8'),
        `console=tty1 ip=dhcp root=/dev/nfs nfsroot=${lab.serverIp}:${other.root},vers=3,tcp ro rootwait\n`,
      );
    });
  });

  describe('refusals', () => {
    it('a pending client and an unknown host: access violation (curl 69), nothing served, counted by reason', async () => {
      const pending = await lab.addPi('pending', { mac: 'dc:a6:32:04:00:01', approve: false });
      await lab.core.exec(new DetectClientCommand({ mac: pending.mac, serial: null, via: 'test' }, commandMeta('admin:test')));
      await lab.core.exec(new LearnClientAddressCommand({ mac: pending.mac, ip: pending.ip }, commandMeta('admin:test')));
      const stranger = await lab.addPi('stranger', { mac: 'dc:a6:32:04:00:02', approve: false });
      lab.writeBootFile('secret.bin', patternFile(5000, 81));

      const notApproved = await metric('requests_refused_total', { reason: 'not-approved' });
      const unknown = await metric('requests_refused_total', { reason: 'unknown-client' });
      const started = await metric('requests_total', { result: 'started' });

      const a = await curl('pending', 'secret.bin');
      assert.equal(a.code, 69, a.stderr);
      assert.ok(!a.data || a.data.length === 0);
      const b = await curl('stranger', 'secret.bin');
      assert.equal(b.code, 69, b.stderr);
      assert.ok(!b.data || b.data.length === 0);
      assert.deepEqual(await rawRequest('stranger', 'secret.bin'), { op: 5, code: 2, message: 'Unknown client' });
      assert.deepEqual(await rawRequest('pending', 'secret.bin'), { op: 5, code: 2, message: 'Client not approved' });

      assert.equal((await metric('requests_refused_total', { reason: 'not-approved' })) - notApproved, 2);
      assert.equal((await metric('requests_refused_total', { reason: 'unknown-client' })) - unknown, 2);
      assert.equal((await metric('requests_total', { result: 'started' })) - started, 0);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await lab.bootEvents(stranger.mac), []);
      assert.equal((await facts(pending.mac, 'tftp.file-served')).length, 0);
    });

    it('hostile names are refused with "Illegal file name"', async () => {
      const hostile = await metric('requests_refused_total', { reason: 'hostile-name' });
      for (const name of ['../../etc/passwd', '/etc/passwd', 'overlays/../../../etc/passwd', '..\\..\\etc\\passwd']) {
        assert.deepEqual(await rawRequest('pi', name), { op: 5, code: 2, message: 'Illegal file name' }, name);
      }
      // tftp-hpa sends the name as typed; it reports the error and writes nothing of /etc/passwd.
      const out = outFile();
      const r = await execStatus(lab, 'pi', 'tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', '../../etc/passwd', out], {
        timeoutMs: 15_000,
      });
      assert.match(r.stdout + r.stderr, /Illegal file name/);
      assert.ok(!existsSync(out) || readFileSync(out).length === 0);
      assert.equal((await metric('requests_refused_total', { reason: 'hostile-name' })) - hostile, 5);
    });

    it('a symlink in the boot folder to /etc/passwd is refused, not followed', async () => {
      symlinkSync('/etc/passwd', path.join(lab.image.boot, 'passwd-link'));
      symlinkSync('../../../../../../../../etc', path.join(lab.image.boot, 'etc-link'));
      const outside = await metric('requests_refused_total', { reason: 'outside' });
      for (const name of ['passwd-link', 'etc-link/passwd']) {
        const r = await curl('pi', name);
        assert.equal(r.code, 69, `${name}: ${r.stderr}`);
        assert.ok(!r.data || r.data.length === 0, name);
      }
      assert.equal((await metric('requests_refused_total', { reason: 'outside' })) - outside, 2);
      // A symlink inside the boot folder is fine.
      const data = patternFile(4000, 91);
      lab.writeBootFile('real.bin', data);
      symlinkSync('real.bin', path.join(lab.image.boot, 'inside-link'));
      const ok = await curl('pi', 'inside-link');
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(sha(ok.data!), sha(data));
    });
  });

  describe("the Pi firmware's early-terminate probe", () => {
    /**
     * A Pi-like client: RRQ with tsize 0 and blksize 1024, OACK, ERROR `code` "Early terminate",
     * then the same RRQ from the same port, read through with lock-step ACKs. Prints JSON.
     */
    const probeScript = (code: number, lostError = false): string => `
      const dgram = require('node:dgram');
      const crypto = require('node:crypto');
      const P = ${JSON.stringify({ server: lab.serverIp, name: 'start4.elf', code, blksize: 1024, lostError })};
      let probePort = -1, askedAgainAt = 0, answeredAfterMs = -1;
      const u16 = (n) => Buffer.from([n >> 8, n & 255]);
      const rrq = Buffer.concat([u16(1), Buffer.from(P.name + '\\0octet\\0tsize\\0' + '0\\0blksize\\0' + P.blksize + '\\0', 'latin1')]);
      const s = dgram.createSocket('udp4');
      let phase = 'probe';
      const fail = (why) => { console.log(JSON.stringify({ error: why, phase })); process.exit(1); };
      setTimeout(() => fail('timeout'), 10000);
      const parseOack = (m) => {
        const parts = m.subarray(2).toString('latin1').split('\\0');
        const o = {};
        for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i]) o[parts[i]] = parts[i + 1];
        return o;
      };
      let probeOack = null, oack = null, expected = 1, blocks = 0;
      const chunks = [];
      s.on('message', (m, r) => {
        const op = m.readUInt16BE(0);
        if (op === 5) return fail('server error ' + m.readUInt16BE(2) + ': ' + m.subarray(4, m.length - 1).toString('latin1'));
        if (phase === 'probe') {
          if (op !== 6) return fail('expected an OACK, got opcode ' + op);
          probeOack = parseOack(m);
          probePort = r.port;
          const err = Buffer.concat([u16(5), u16(P.code), Buffer.from('Early terminate\\0', 'latin1')]);
          phase = 'read';
          askedAgainAt = Date.now();
          // lostError: the ERROR never reaches the server (as on a busy network). The firmware asks
          // again, and again after each second without an answer (5 times).
          if (P.lostError) {
            s.send(rrq, 69, P.server);
            let tries = 0;
            const retry = setInterval(() => {
              if (oack || ++tries > 5) return clearInterval(retry);
              s.send(rrq, 69, P.server);
            }, 1000);
          }
          else s.send(err, r.port, r.address, () => s.send(rrq, 69, P.server));
          return;
        }
        // As the firmware does: the probe's transfer (its port) is over, whatever it sends again.
        if (P.lostError && r.port === probePort) return;
        if (op === 6) {
          if (!oack) { oack = parseOack(m); answeredAfterMs = Date.now() - askedAgainAt; }
          s.send(Buffer.concat([u16(4), u16(0)]), r.port, r.address);
          return;
        }
        if (op !== 3) return fail('unexpected opcode ' + op);
        const block = m.readUInt16BE(2);
        if (block === (expected & 0xffff)) {
          chunks.push(Buffer.from(m.subarray(4)));
          expected++;
          blocks++;
        }
        s.send(Buffer.concat([u16(4), u16(block)]), r.port, r.address);
        if (block === ((expected - 1) & 0xffff) && m.length - 4 < Number(oack.blksize)) {
          const data = Buffer.concat(chunks);
          console.log(JSON.stringify({ probeOack, oack, blocks, size: data.length, answeredAfterMs,
            sha256: crypto.createHash('sha256').update(data).digest('hex'), port: s.address().port }));
          setTimeout(() => process.exit(0), 50);
        }
      });
      s.bind(0, () => s.send(rrq, 69, P.server));`;

    for (const code of [0, 8]) {
      it(`ERROR ${code} after the OACK, then the same request from the same port: a probe, then one file-served`, async () => {
        const elf = patternFile(200_001 + code, 100 + code);
        lab.writeBootFile('start4.elf', elf);
        const p = await lab.addPi(`probe${code}`, { mac: `dc:a6:32:05:00:0${code === 0 ? 1 : 2}`, serial: `5e00000${code}` });
        const probes = await metric('transfers_total', { outcome: 'probe' });
        const clientErrors = await metric('errors_total', { kind: 'client-error' });
        const complete = await metric('transfers_total', { outcome: 'complete' });

        const { stdout } = await lab.exec(p.host, process.execPath, ['-e', probeScript(code)], { timeoutMs: 20_000 });
        const result = JSON.parse(stdout) as {
          probeOack: Record<string, string>;
          oack: Record<string, string>;
          blocks: number;
          size: number;
          sha256: string;
        };
        assert.deepEqual(result.probeOack, { tsize: String(elf.length), blksize: '1024' });
        assert.deepEqual(result.oack, { tsize: String(elf.length), blksize: '1024' });
        assert.equal(result.size, elf.length);
        assert.equal(result.blocks, Math.floor(elf.length / 1024) + 1);
        assert.equal(result.sha256, sha(elf));

        await waitFact(p.mac, 'tftp.file-served', 'start4.elf');
        await eventually(async () => (await metric('transfers_total', { outcome: 'complete' })) - complete >= 1, 3000, 'complete');
        assert.equal((await metric('transfers_total', { outcome: 'probe' })) - probes, 1);
        assert.equal((await metric('errors_total', { kind: 'client-error' })) - clientErrors, 0);
        await new Promise((r) => setTimeout(r, 200));
        const served = await facts(p.mac, 'tftp.file-served', 'start4.elf');
        assert.equal(served.length, 1);
        assert.equal(served[0].data.detail.bytes, elf.length);
        assert.equal(served[0].data.detail.blockSize, 1024);
        assert.deepEqual(await facts(p.mac, 'tftp.file-failed'), []);
      });
    }
    it('the ERROR after the size probe is lost: the client asks again, and its next try supersedes the probe (not after the probe\u2019s retries)', async () => {
      const elf = patternFile(210_003, 103);
      lab.writeBootFile('start4.elf', elf);
      const p = await lab.addPi('probelost', { mac: 'dc:a6:32:05:00:03', serial: '5e000003' });
      const probes = await metric('transfers_total', { outcome: 'probe' });
      const clientErrors = await metric('errors_total', { kind: 'client-error' });
      const { stdout } = await lab.exec(p.host, process.execPath, ['-e', probeScript(0, true)], { timeoutMs: 20_000 });
      const result = JSON.parse(stdout) as { size: number; sha256: string; answeredAfterMs: number };
      assert.equal(result.size, elf.length);
      assert.equal(result.sha256, sha(elf));
      // Before: every request waited as a duplicate until the probe's transfer gave up (its 5
      // retries, over 5 s), longer than the client's own 5 retries. Now its first retry is served.
      assert.ok(result.answeredAfterMs < 2500, `answered after ${result.answeredAfterMs} ms`);
      await waitFact(p.mac, 'tftp.file-served', 'start4.elf');
      assert.equal((await metric('transfers_total', { outcome: 'probe' })) - probes, 1, 'the superseded probe counts as a probe');
      assert.equal((await metric('errors_total', { kind: 'client-error' })) - clientErrors, 0);
      assert.deepEqual(await facts(p.mac, 'tftp.file-failed'), []);
    });
  });
  describe('boot facts per client', () => {
    it('a client looping on one file is served every time, but records at most its budget of facts', { timeout: 60_000 }, async () => {
      const looper = await lab.addPi('looper', { mac: 'dc:a6:32:09:00:01', serial: '09000001' });
      const data = Buffer.from('dtparam=audio=on\n');
      lab.writeBootFile('loop.txt', data);
      const suppressedBefore = await metric('boot_facts_suppressed_total');
      const rounds = 130;
      const started = Date.now();
      const run = await lab.exec(
        looper.host,
        'sh',
        ['-c', `ok=0; for i in $(seq ${rounds}); do curl -s -o /dev/null tftp://${lab.serverIp}/loop.txt && ok=$((ok+1)); done; echo $ok`],
        { timeoutMs: 50_000 },
      );
      const seconds = (Date.now() - started) / 1000;
      assert.equal(Number(run.stdout.trim()), rounds, 'every request was served');
      await eventually(async () => (await metric('boot_facts_suppressed_total')) > suppressedBefore, 5000, 'suppressed facts counted');
      // curl is done once it has sent its last ACK; the server records that transfer's fact after
      // the ACK arrives, so the count is read once every transfer is accounted for (or 5 s passed).
      const accounted = async () =>
        (await facts(looper.mac, 'tftp.file-served', 'loop.txt')).length + (await metric('boot_facts_suppressed_total')) - suppressedBefore;
      await eventually(async () => (await accounted()) >= rounds, 5000, 'every transfer a fact or a suppressed one').catch(() => undefined);
      const served = (await facts(looper.mac, 'tftp.file-served', 'loop.txt')).length;
      // A burst of 100, then 2 a second (FACT_BURST, FACTS_PER_SECOND in tftp.server.ts).
      assert.ok(served >= 100 && served <= 100 + Math.ceil(2 * seconds) + 1, `${served} facts in ${seconds.toFixed(1)} s`);
      assert.equal(
        served + (await metric('boot_facts_suppressed_total')) - suppressedBefore,
        rounds,
        'each served file is a fact or a suppressed one',
      );
    });
  });
  describe('the listener', () => {
    /** Whether udp/<port> is free in the server's namespace (a socket can bind it alone). */
    const portFree = async (port: number): Promise<boolean> => {
      const script = `const s = require('node:dgram').createSocket('udp4');
        s.on('error', () => { console.log('busy'); process.exit(0); });
        s.bind(${port}, '0.0.0.0', () => { console.log('free'); s.close(); });`;
      return (await lab.exec('srv', process.execPath, ['-e', script])).stdout.trim() === 'free';
    };

    it('another TFTP server cannot share udp/69 with bramble: dnsmasq is told the port is in use', async () => {
      const r = await execStatus(
        lab,
        'srv',
        'dnsmasq',
        [
          '--keep-in-foreground',
          '--port=0',
          '--enable-tftp',
          `--tftp-root=${lab.image.boot}`,
          `--listen-address=${lab.serverIp}`,
          '--bind-interfaces',
          '--user=root',
          '--pid-file=',
        ],
        { timeoutMs: 10_000 },
      );
      assert.notEqual(r.code, 0, 'dnsmasq exits');
      assert.match(r.stderr, /port 69|Address already in use/i);
    });

    it('port changes applied one after the other: only the last port stays bound, and it serves', { timeout: 30_000 }, async () => {
      const data = patternFile(5000, 9);
      lab.writeBootFile('port.bin', data);
      try {
        // Two changes back to back: the second arrives while the first is still being applied.
        await Promise.all([lab.settings({ port: 6969 }), lab.settings({ port: 6970 })]);
        await eventually(
          async () => (await portFree(69)) && (await portFree(6969)) && !(await portFree(6970)),
          5000,
          'only udp/6970 bound',
        );
        const out = outFile();
        const got = await execStatus(lab, pi.host, 'curl', ['-sS', '--max-time', '10', '-o', out, `tftp://${lab.serverIp}:6970/port.bin`]);
        assert.equal(got.code, 0, got.stderr);
        assert.ok(readFileSync(out).equals(data));
      } finally {
        await lab.settings({ port: 69 });
        await eventually(async () => !(await portFree(69)) && (await portFree(6970)), 5000, 'back on udp/69');
      }
      assert.equal((await curl(pi.host, 'port.bin')).data?.equals(data), true, 'served on udp/69 again');
    });
  });
});
