/**
 * Emulated Pis boot from bramble, end to end: bramble runs as a real process with every built-in
 * plugin in a lab namespace (test/support/boot-lab.ts), the Pis are tools/pi-emulator on their own
 * interfaces with their own MACs, speaking DHCP, TFTP, NFS, LDAP and the BOOTED report.
 *
 * - A Pi 3B, a Pi 4 and a Pi 5 power on unknown, are detected, approved over GraphQL with an
 *   imported, converted image; a user is created over GraphQL; each boots to BOOTED; the
 *   bootProgress subscription sees every stage in order; the audit log tells the story.
 * - Proxy mode with a dnsmasq playing the LAN's router.
 * - A Pi 4 given an image without start4.elf: bramble's session ends STALLED, naming the file.
 * - bramble SIGKILLed in the middle of a boot storm of 20 Pis and started again: the Pis retry and
 *   boot, and no event acknowledged before the kill is missing afterwards.
 * - A Pi's nslcd reads the image's own nslcd.conf (0640) over the read-only root export.
 * About 60 s in all (two image imports, a 5 s stall timeout, the storm with bramble down 5 s): it
 * runs alone (scripts/run-tests.js ALONE).
 *
 * Run: npm run build && node --test dist/test/e2e/boot.e2e.spec.js (root: network namespaces).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bootPis, type EmulatedPi, type PiResult } from '../../tools/pi-emulator/emulator';
import { formatSummary } from '../../tools/pi-emulator/timeline';
import type { PiModel } from '../../tools/pi-emulator/profiles';
import { BootLab, bootLabUnavailable } from '../support/boot-lab';
import { eventually } from '../support/temp';
import { importConvertedImage, piBootFiles } from './pi-fixtures';

const skip = bootLabUnavailable();
const USER = { username: 'ada', password: 'Secret-Pass-1' };
const BOOT_STAGES = ['DHCP', 'FIRMWARE', 'KERNEL', 'ROOT_MOUNTED', 'USER_LOGGED_IN', 'BOOTED'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Progress {
  mac: string;
  sessionId: string;
  stage: string;
  currentFile: string | null;
  cause: string | null;
  lastRequest: string | null;
}

describe('emulated Pis boot from bramble', { skip: skip ?? false }, () => {
  let lab: BootLab;
  let imageId: string;
  let noStart4ImageId: string;
  let caCert: string;
  let piSeq = 0;
  const progress: Progress[] = [];
  let unsubscribe: (() => void) | null = null;

  /** Interfaces for `models`, with fresh MACs and serials. */
  const makePis = async (models: PiModel[], extra: Partial<EmulatedPi> = {}): Promise<EmulatedPi[]> => {
    const pis: EmulatedPi[] = [];
    for (const model of models) {
      const n = ++piSeq;
      const oui = model === 'pi3b' ? 'b8:27:eb' : model === 'pi4' ? 'dc:a6:32' : '2c:cf:67';
      const mac = `${oui}:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
      pis.push({
        model,
        mac,
        serial: 0x5e000000 + n,
        name: `${model}-${n}`,
        interface: await lab.addPi(mac),
        login: { ...USER, fallback: { uri: `ldap://${lab.serverIp}/`, base: 'dc=bramble,dc=local', caCert } },
        reportPort: 6970,
        ...extra,
      });
    }
    return pis;
  };

  const approve = async (pis: EmulatedPi[], image: string): Promise<void> => {
    for (const pi of pis)
      await lab.ok('mutation($m: String!, $n: String, $i: String) { approveClient(mac: $m, name: $n, imageId: $i) { mac } }', {
        m: pi.mac,
        n: pi.name,
        i: image,
      });
  };

  const explain = (results: PiResult[]): string =>
    `\n${formatSummary(results)}\n--- bramble (last lines) ---\n${lab.output().slice(-4000)}`;

  const dhcpMode = async (values: Record<string, unknown>): Promise<void> => {
    await lab.ok('mutation($v: JSON!) { updatePluginSettings(plugin: "dhcp", values: $v) { name } }', { v: values });
  };

  before(async () => {
    lab = await BootLab.create();
    await lab.start();
    caCert = readFileSync(path.join(lab.dataDir, 'plugins', 'ldap', 'tls', 'ca.crt'), 'utf8');
    await dhcpMode({
      mode: 'full',
      rangeStart: lab.netlab.ip(50),
      rangeEnd: lab.netlab.ip(90),
      netmask: '255.255.255.0',
      pi3ReplyDelayMs: 200,
    });
    imageId = await importConvertedImage(lab, 'Pi OS', piBootFiles());
    noStart4ImageId = await importConvertedImage(lab, 'Pi OS without start4', piBootFiles({ withoutStart4: true }));
    await lab.ok('mutation($u: String!, $p: String!) { createUser(input: { username: $u, password: $p }) { username } }', {
      u: USER.username,
      p: USER.password,
    });
    const ws = lab.ws();
    unsubscribe = ws.subscribe<{ bootProgress: Progress }>(
      { query: 'subscription { bootProgress { mac sessionId stage currentFile cause lastRequest } }' },
      {
        next: (r) => {
          if (r.data?.bootProgress) progress.push(r.data.bootProgress);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  });

  after(async () => {
    unsubscribe?.();
    await lab?.close();
  });

  it('a Pi 3B, a Pi 4 and a Pi 5 at once: detected, approved, booted, every stage seen live and in the audit log', async () => {
    const pis = await makePis(['pi3b', 'pi4', 'pi5']);
    // They power on unknown: bramble detects them and stays silent until the admin approves.
    const booting = bootPis({ pis, netns: lab.pisNs, deadlineMs: 90_000, reportRetryMs: 20_000 });
    await eventually(
      async () => {
        await sleep(200);
        const { clients } = await lab.ok<{ clients: { mac: string; status: string }[] }>('{ clients { mac status } }');
        return pis.every((pi) => clients.some((c) => c.mac === pi.mac && c.status === 'PENDING'));
      },
      20_000,
      'the three Pis detected as PENDING',
    );
    await approve(pis, imageId);
    const results = await booting;
    for (const r of results) {
      assert.equal(r.outcome, 'booted', `${r.name}: ${r.cause}${explain(results)}`);
      assert.equal(r.stage, 'BOOTED');
      assert.ok(
        r.timeline.some((e) => e.stage === 'USER_LOGGED_IN' && /dn:uid=ada/.test(e.detail ?? '')),
        `${r.name} logged in as ada`,
      );
    }
    // The Pi 3B read bootcode.bin; the Pi 4 start4.elf in its serial folder; the Pi 5 kernel_2712.img.
    const filesOf = (model: PiModel): string[] =>
      results
        .find((r) => r.model === model)!
        .files.filter((f) => f.status === 'ok')
        .map((f) => f.file);
    assert.ok(filesOf('pi3b').includes('bootcode.bin'));
    assert.ok(filesOf('pi4').some((f) => /^[0-9a-f]{8}\/start4\.elf$/.test(f)));
    assert.ok(filesOf('pi5').some((f) => f.endsWith('kernel_2712.img')));

    // bootProgress: every stage of each Pi, in order (file facts in between repeat a stage).
    await eventually(
      () => pis.every((pi) => progress.some((p) => p.mac === pi.mac && p.stage === 'BOOTED')),
      10_000,
      'BOOTED on the subscription',
    );
    for (const pi of pis) {
      const seen = progress.filter((p) => p.mac === pi.mac).map((p) => p.stage);
      const distinct = seen.filter((s, i) => i === 0 || seen[i - 1] !== s);
      assert.deepEqual(distinct, BOOT_STAGES, `${pi.name}: ${seen.join(' ')}`);
      assert.ok(
        progress.some((p) => p.mac === pi.mac && p.currentFile),
        `${pi.name}: live file progress`,
      );
    }

    // The audit log: detected, approved, then the stage changes of one session each.
    const audit = await lab.audit();
    for (const pi of pis) {
      const own = audit.filter((e) => e.data?.mac === pi.mac);
      const types = own.map((e) => e.type as string);
      const detected = types.indexOf('ClientDetected');
      const approved = types.indexOf('ClientApproved');
      assert.ok(detected >= 0 && approved > detected, `${pi.name}: detected then approved (${types.join(', ')})`);
      const stages = own.filter((e) => e.type === 'BootStageChanged');
      assert.deepEqual(
        stages.map((e) => e.data.stage),
        BOOT_STAGES,
        `${pi.name}: the stage changes`,
      );
      assert.ok(
        stages.every((e) => e.stream === `boot-${pi.mac}` && e.data.sessionId === stages[0].data.sessionId),
        'one session in the boot stream',
      );
      const firmware = stages.find((e) => e.data.stage === 'KERNEL')!;
      assert.ok(
        (firmware.data.files as { file: string }[]).some((f) => /config\.txt$/.test(f.file)),
        `${pi.name}: the firmware files are aggregated into the KERNEL change`,
      );
    }
  });

  it('proxy mode: a dnsmasq router hands out the address, bramble the boot; the Pi 4 boots with the router-given address', async () => {
    await lab.startRouter();
    await dhcpMode({ mode: 'proxy' });
    const pis = await makePis(['pi4']);
    await approve(pis, imageId);
    const results = await bootPis({ pis, netns: lab.pisNs, deadlineMs: 60_000, reportRetryMs: 20_000 });
    const r = results[0];
    assert.equal(r.outcome, 'booted', `${r.cause}${explain(results)}`);
    const last = Number(r.ip!.split('.')[3]);
    assert.ok(last >= 100 && last <= 199, `the address ${r.ip} comes from the router's range`);
    assert.ok(
      r.timeline.some((e) => e.event === `OFFER from ${lab.routerIp}`) && r.timeline.some((e) => e.event === `OFFER from ${lab.serverIp}`),
      'two offers',
    );
    assert.ok(
      r.timeline.some((e) => e.event === `ACK from ${lab.routerIp}`),
      'the lease is the router’s',
    );
    const client = await lab.ok<{ client: { ip: string } }>('query($m: String!) { client(mac: $m) { ip } }', { m: r.mac });
    assert.equal(client.client.ip, r.ip, 'bramble learnt the address from the REQUEST');
  });

  it('proxy mode: a Pi 3B (which never REQUESTs) boots: TFTP finds it by the neighbour table and bramble learns its address', async () => {
    const pis = await makePis(['pi3b'], { maxAttempts: 1 });
    await approve(pis, imageId);
    const results = await bootPis({ pis, netns: lab.pisNs, deadlineMs: 40_000 });
    assert.equal(results[0].outcome, 'booted', `${results[0].cause}`);
    const client = await lab.ok<{ client: { ip: string } }>('query($m: String!) { client(mac: $m) { ip } }', { m: results[0].mac });
    assert.equal(client.client.ip, results[0].ip);
  });

  it("a Pi's nslcd reads /etc/nslcd.conf (root:nslcd 0640) from its read-only root: the root export does not squash root", async () => {
    const pis = await makePis(['pi4'], { maxAttempts: 1, reportPort: null });
    pis[0].login = USER; // no fallback: the settings come from the image's own nslcd.conf
    await approve(pis, imageId);
    const [r] = await bootPis({ pis, netns: lab.pisNs, deadlineMs: 40_000 });
    assert.equal(r.outcome, 'booted', `${r.cause}`);
    assert.equal(r.stage, 'USER_LOGGED_IN');
  });

  it('a Pi 4 whose image lacks start4.elf: the emulated Pi stops, bramble ends its session STALLED and names the file', async () => {
    await lab.stopRouter();
    await dhcpMode({ mode: 'full' });
    // FIRMWARE without a new file for 5 s (default 35 s) is a stall: keeps the test short.
    await lab.ok('mutation { updateSettings(input: { bootTimeouts: { fileSeconds: 5 } }) { bootTimeouts { fileSeconds } } }');
    const pis = await makePis(['pi4'], { maxAttempts: 1 });
    await approve(pis, noStart4ImageId);
    const [r] = await bootPis({ pis, netns: lab.pisNs, deadlineMs: 60_000 });
    assert.equal(r.outcome, 'failed');
    assert.match(r.cause ?? '', /start4\.elf: file not found/);
    // bramble: no new file for longer than the FIRMWARE timeout (5 s here) → STALLED.
    let session: { stage: string; cause: string | null; lastRequest: string | null } | null = null;
    await eventually(
      async () => {
        await sleep(500);
        const { bootSessions } = await lab.ok<{ bootSessions: (typeof session)[] }>(
          'query($m: String!) { bootSessions(mac: $m, last: 1) { stage cause lastRequest } }',
          { m: r.mac },
        );
        session = bootSessions[0] ?? null;
        return session?.stage === 'STALLED';
      },
      20_000,
      'the session STALLED',
    );
    await lab.ok('mutation { updateSettings(input: { bootTimeouts: { fileSeconds: 35 } }) { bootTimeouts { fileSeconds } } }');
    assert.ok(session!.cause, 'a cause');
    const stalled = (await lab.audit()).filter((e) => e.type === 'BootStageChanged' && e.data.mac === r.mac && e.data.stage === 'STALLED');
    assert.equal(stalled.length, 1);
    const named = [...(stalled[0].data.missing as string[]), stalled[0].data.cause, stalled[0].data.lastRequest].join(' ');
    assert.match(named, /start4\.elf/, 'the missing file is named');
    // diagnose names the file twice: the image lacks what a Pi 4 needs, and the boot stalled on it.
    const { diagnose } = await lab.ok<{ diagnose: { ok: boolean; findings: { code: string; message: string; source: string }[] } }>(
      'query($m: String!) { diagnose(mac: $m) { ok findings { code message source } } }',
      { m: r.mac },
    );
    assert.equal(diagnose.ok, false);
    const lacking = diagnose.findings.find((f) => f.code === 'IMAGE_LACKS_MODEL_FILES');
    assert.ok(lacking && lacking.source === 'tftp' && /start4\.elf/.test(lacking.message), JSON.stringify(diagnose.findings));
    const stall = diagnose.findings.find((f) => f.code === 'BOOT_STALLED');
    assert.ok(stall && /FIRMWARE/.test(stall.message) && /start4\.elf/.test(stall.message), JSON.stringify(diagnose.findings));
  });

  it('bramble SIGKILLed in the middle of a boot storm of 20 Pis and restarted: every Pi boots, no acknowledged event is lost', async () => {
    await dhcpMode({ mode: 'full', pi3ReplyDelayMs: 200 });
    const pis = await makePis(
      Array.from({ length: 20 }, () => 'pi4' as const),
      { maxAttempts: 6, timings: { tftpFileTimeoutMs: 6000, restartDelayMs: 1000 } },
    );
    await approve(pis, imageId);
    // Every event bramble acknowledged (delivered on the live feed: appended and applied) before the kill.
    const acknowledged: { stream: string; revision: number; position: number; type: string; data: unknown }[] = [];
    const ws = lab.ws();
    const stop = ws.subscribe<{ events: (typeof acknowledged)[number] }>(
      { query: 'subscription { events { stream revision position type data } }' },
      { next: (r) => r.data?.events && acknowledged.push(r.data.events), error: () => undefined, complete: () => undefined },
    );
    let inFirmware = 0;
    let killed = false;
    const retriesAfterKill: string[] = [];
    const storm = bootPis({
      pis,
      netns: lab.pisNs,
      deadlineMs: 100_000,
      reportRetryMs: 20_000,
      onTimeline: (pi, e) => {
        if (e.event === 'firmware files' || e.event === 'prefix probe') inFirmware++;
        if (killed && /again|root mount failed|boot attempt/.test(e.event)) retriesAfterKill.push(`${pi.name} ${e.event}`);
      },
    });
    await eventually(() => inFirmware >= 8, 30_000, 'eight Pis in their firmware stage');
    const before = await lab.audit();
    killed = true;
    await lab.kill();
    stop();
    assert.ok(lab.leftovers >= 2, `ganesha and rpcbind outlived the kill, as they would without systemd (${lab.leftovers} killed)`);
    // Down for 5 s: longer than a Pi's kernel start (2 s), so those past TFTP find no NFS server.
    await sleep(5000);
    await lab.start();
    const results = await storm;
    for (const r of results) assert.equal(r.outcome, 'booted', `${r.name}: ${r.cause}${explain(results)}`);
    // While bramble was down the Pis retried: DHCP again, the root mount again, or the whole boot.
    assert.ok(retriesAfterKill.length > 0, 'the Pis retried while bramble was down');
    const afterRestart = await lab.audit();
    const key = (e: { stream: string; revision: number }): string => `${e.stream}#${e.revision}`;
    const stored = new Map(afterRestart.map((e) => [key(e as never), e]));
    for (const e of [...before, ...acknowledged]) {
      const found = stored.get(key(e as never));
      assert.ok(found, `${key(e as never)} (${e.type}) acknowledged before the kill is in the store`);
      assert.equal(found.type, e.type);
      assert.deepEqual(found.data, e.data);
    }
    assert.ok(acknowledged.length > 0, 'events were acknowledged during the storm');
    for (const pi of pis) {
      assert.ok(
        afterRestart.some((e) => e.type === 'BootStageChanged' && e.data.mac === pi.mac && e.data.stage === 'BOOTED'),
        `${pi.name} BOOTED in the store`,
      );
    }
  });
});
