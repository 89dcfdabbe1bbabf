/**
 * The boot-session decider, rule by rule (the contract's "Boot stages", "Facts", "Timeouts"):
 * given the facts so far (each at its time), when one more fact or tick, then these stage
 * changes. No store, no clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bootDeadline,
  classifyBootFile,
  decideBoot,
  DEFAULT_BOOT_TIMEOUTS,
  evolveBoot,
  foldBootSessions,
  initialBootState,
  MAX_FILES_PER_STAGE,
  type BootClientState,
  type BootInput,
} from '../../../src/core/domain/boot/boot-session';
import type { BootStageChangedData } from '../../../src/core/plugin-api';

const MAC = 'dc:a6:32:01:02:03';
const T0 = Date.parse('2026-11-26T10:00:00.000Z');

type Detail = Record<string, string | number | boolean | null>;
const fact = (name: string, detail: Detail = {}, ip: string | null = null): BootInput => ({
  kind: 'fact',
  fact: name,
  ip,
  detail,
  model: 'RPi4',
});
const pxeDiscover = fact('dhcp.discover', { pxe: true });
const served = (file: string, bytes = 1000): BootInput => fact('tftp.file-served', { file, bytes, ms: 5, blksize: 1468 });
const missing = (file: string): BootInput => fact('tftp.file-missing', { file });
const TICK: BootInput = { kind: 'tick' };

/** Runs [ms after T0, input] in order; returns the final state, every event, and the publishes. */
function run(steps: [number, BootInput][], start: BootClientState = initialBootState(MAC)) {
  let state = start;
  const events: BootStageChangedData[] = [];
  let publishes = 0;
  for (const [ms, input] of steps) {
    const d = decideBoot(state, input, T0 + ms);
    state = d.state;
    for (const e of d.effects) {
      if (e.kind === 'append') events.push(e.event);
      else publishes++;
    }
  }
  return { state, events, publishes, stages: events.map((e) => `${e.previousStage ?? '-'}>${e.stage}`) };
}

/** A Pi 4's normal firmware and kernel sequence. */
const PI4_BOOT: [number, BootInput][] = [
  [0, pxeDiscover],
  [100, fact('dhcp.offered', { pxe: true }, '10.0.0.5')],
  [200, fact('dhcp.acked', { pxe: true }, '10.0.0.5')],
  [1000, served('config.txt')],
  [1500, served('start4.elf', 2_000_000)],
  [1700, served('fixup4.dat')],
  [2000, served('cmdline.txt')],
  [2500, served('bcm2711-rpi-4-b.dtb')],
  [2600, served('overlays/vc4-kms-v3d.dtbo')],
  [4000, served('kernel8.img', 8_000_000)],
  [9000, fact('dhcp.discover', { pxe: false })],
  [12_000, fact('nfs.root-mounted')],
  [30_000, fact('booted')],
];

describe('boot files by name', () => {
  const table: [string, 'FIRMWARE' | 'KERNEL' | null][] = [
    ['bootcode.bin', 'FIRMWARE'],
    ['start4.elf', 'FIRMWARE'],
    ['start_x.elf', 'FIRMWARE'],
    ['fixup4cd.dat', 'FIRMWARE'],
    ['config.txt', 'FIRMWARE'],
    ['recovery.bin', 'FIRMWARE'],
    ['pieeprom.sig', 'FIRMWARE'],
    ['bootconf.txt', 'FIRMWARE'],
    ['undionly.kpxe', 'FIRMWARE'],
    ['ipxe.efi', 'FIRMWARE'],
    ['bramble.ipxe', 'FIRMWARE'],
    ['kernel8.img', 'KERNEL'],
    ['kernel_2712.img', 'KERNEL'],
    ['vmlinuz-6.1.0-13-amd64', 'KERNEL'],
    ['bcm2712-rpi-5-b.dtb', 'KERNEL'],
    ['overlays/vc4-kms-v3d.dtbo', 'KERNEL'],
    ['overlays/README', 'KERNEL'],
    ['initramfs8', 'KERNEL'],
    ['initrd.img-6.1.0-13-amd64', 'KERNEL'],
    ['cmdline.txt', 'KERNEL'],
    // A serial or MAC folder prefix is not part of the name.
    ['1a2b3c4d/start4.elf', 'FIRMWARE'],
    ['/1a2b3c4d/kernel8.img', 'KERNEL'],
    ['dc-a6-32-01-02-03/config.txt', 'FIRMWARE'],
    ['1a2b3c4d/overlays/x.dtbo', 'KERNEL'],
    ['START4.ELF', 'FIRMWARE'],
    ['issue.txt', null],
    ['dt-blob.bin', null],
    ['kernel8.img.bak', null],
  ];
  for (const [file, stage] of table) {
    it(`${file} → ${stage ?? 'progress of the current stage'}`, () => assert.equal(classifyBootFile(file), stage));
  }
});

describe('boot sessions: stages', () => {
  it('a PXE DISCOVER opens a session at DHCP; files move it to FIRMWARE then KERNEL; the mount and the report end it BOOTED', () => {
    const { state, events, stages } = run(PI4_BOOT);
    assert.deepEqual(stages, ['->DHCP', 'DHCP>FIRMWARE', 'FIRMWARE>KERNEL', 'KERNEL>ROOT_MOUNTED', 'ROOT_MOUNTED>BOOTED']);
    assert.equal(new Set(events.map((e) => e.sessionId)).size, 1, 'one session');
    const [start, firmware, kernel, root, booted] = events;
    assert.equal(start.previousStage, null);
    assert.equal(start.sessionMs, 0);
    assert.equal(start.at, new Date(T0).toISOString());
    // FIRMWARE begins with config.txt; it ends when the first KERNEL file (cmdline.txt) is served.
    assert.equal(firmware.at, new Date(T0 + 1000).toISOString());
    assert.equal(firmware.previousStageMs, 1000);
    assert.equal(firmware.ip, '10.0.0.5');
    assert.deepEqual(firmware.files, [], 'DHCP fetched no file');
    // The file that moves the session on is one of the new stage's.
    assert.deepEqual(
      kernel.files.map((f) => f.file),
      ['config.txt', 'start4.elf', 'fixup4.dat'],
    );
    assert.deepEqual(kernel.files[1], { file: 'start4.elf', bytes: 2_000_000, ms: 5, blksize: 1468 });
    assert.equal(kernel.previousStageMs, 1000);
    assert.deepEqual(
      root.files.map((f) => f.file),
      ['cmdline.txt', 'bcm2711-rpi-4-b.dtb', 'overlays/vc4-kms-v3d.dtbo', 'kernel8.img'],
    );
    assert.equal(root.sessionMs, 12_000);
    assert.equal(booted.sessionMs, 30_000);
    assert.equal(booted.previousStageMs, 18_000);
    assert.equal(booted.model, 'RPi4');
    assert.equal(state.session?.stage, 'BOOTED');
    assert.equal(state.lastBootedAt, T0 + 30_000);
  });

  it("a non-PXE DISCOVER (the kernel's ip=dhcp) is progress of the session, not a new one", () => {
    const { events, state } = run(PI4_BOOT.slice(0, 11));
    assert.equal(new Set(events.map((e) => e.sessionId)).size, 1);
    assert.equal(state.session?.stage, 'KERNEL');
    assert.equal(state.session?.lastRequest, 'dhcp.discover');
  });

  it('PXE DISCOVER retries while at DHCP stay in the same session', () => {
    const { events } = run([
      [0, pxeDiscover],
      [5000, pxeDiscover],
      [10_000, pxeDiscover],
    ]);
    assert.equal(events.length, 1);
  });

  it('a non-PXE DHCP fact with no session opens none', () => {
    assert.deepEqual(run([[0, fact('dhcp.discover', { pxe: false })]]).events, []);
  });

  it('a DHCP fact without `pxe` counts as PXE (plugins that predate the field)', () => {
    assert.deepEqual(run([[0, fact('dhcp.discover')]]).stages, ['->DHCP']);
  });

  it('a PXE DISCOVER past DHCP starts a new session; the old one ends FAILED "the client restarted its boot"', () => {
    const { events, state } = run([...PI4_BOOT.slice(0, 5), [8000, pxeDiscover]]);
    assert.deepEqual(
      events.map((e) => `${e.previousStage ?? '-'}>${e.stage}`),
      ['->DHCP', 'DHCP>FIRMWARE', 'FIRMWARE>FAILED', '->DHCP'],
    );
    assert.equal(events[2].cause, 'the client restarted its boot');
    assert.deepEqual(
      events[2].files.map((f) => f.file),
      ['config.txt', 'start4.elf'],
    );
    assert.notEqual(events[3].sessionId, events[0].sessionId);
    assert.equal(state.session?.sessionId, events[3].sessionId);
  });

  it('a lab PC: iPXE chain-loaded in FIRMWARE asks DHCP again (detail.ipxe): the same session; after KERNEL it is a new boot', () => {
    const ipxeDiscover = fact('dhcp.discover', { pxe: true, ipxe: true });
    const { stages } = run([
      [0, pxeDiscover],
      [500, served('undionly.kpxe')],
      [1500, ipxeDiscover],
      [1600, fact('dhcp.acked', { pxe: true, ipxe: true }, '10.0.0.50')],
      [1800, served('bramble.ipxe')],
      [2500, served('vmlinuz-6.1.0-13-amd64')],
      [4000, served('initrd.img-6.1.0-13-amd64')],
    ]);
    assert.deepEqual(stages, ['->DHCP', 'DHCP>FIRMWARE', 'FIRMWARE>KERNEL']);
    const rebooted = run([
      [0, pxeDiscover],
      [500, served('undionly.kpxe')],
      [2500, served('vmlinuz-6.1.0-13-amd64')],
      [9000, ipxeDiscover],
    ]);
    assert.deepEqual(rebooted.stages.slice(-2), ['KERNEL>FAILED', '->DHCP']);
  });

  it('a PXE DISCOVER after BOOTED starts a new session without failing the booted one', () => {
    const { stages } = run([...PI4_BOOT, [600_000, pxeDiscover]]);
    assert.deepEqual(stages.slice(-2), ['ROOT_MOUNTED>BOOTED', '->DHCP']);
  });

  it('a TFTP fact with no session opens one at FIRMWARE; a kernel file then skips on to KERNEL', () => {
    const { stages } = run([
      [0, served('kernel8.img')],
      [10, served('config.txt')],
    ]);
    assert.deepEqual(stages, ['->FIRMWARE', 'FIRMWARE>KERNEL']);
  });

  it('stages may be skipped: no ROOT_MOUNTED (NFSv4), straight from KERNEL to BOOTED', () => {
    const { stages } = run([...PI4_BOOT.slice(0, 10), [20_000, fact('booted')]]);
    assert.deepEqual(stages.slice(-1), ['KERNEL>BOOTED']);
  });

  it('a login before the report is USER_LOGGED_IN, then BOOTED', () => {
    const { stages, state } = run([
      ...PI4_BOOT.slice(0, 12),
      [20_000, fact('ldap.user-logged-in', { username: 'alice' })],
      [25_000, fact('booted')],
    ]);
    assert.deepEqual(stages.slice(-2), ['ROOT_MOUNTED>USER_LOGGED_IN', 'USER_LOGGED_IN>BOOTED']);
    assert.equal(state.session?.username, 'alice');
  });

  it('a login after BOOTED is recorded once, with its own event; the stage stays BOOTED', () => {
    const { events, state } = run([
      ...PI4_BOOT,
      [60_000, fact('ldap.user-logged-in', { username: 'alice' })],
      [70_000, fact('ldap.user-logged-in', { username: 'bob' })],
    ]);
    const last = events[events.length - 1];
    assert.equal(last.stage, 'USER_LOGGED_IN');
    assert.equal(last.previousStage, 'BOOTED');
    assert.equal(last.username, 'alice');
    assert.equal(events.filter((e) => e.stage === 'USER_LOGGED_IN').length, 1, 'once per session');
    assert.equal(state.session?.stage, 'BOOTED');
    assert.equal(state.session?.username, 'alice');
    // Folding the stored events agrees.
    const [summary] = foldBootSessions(events.map((data) => ({ type: 'BootStageChanged', data })));
    assert.equal(summary.stage, 'BOOTED');
    assert.equal(summary.username, 'alice');
  });

  it('keeps at most 64 files per stage (the first ones)', () => {
    const many: [number, BootInput][] = Array.from({ length: 100 }, (_, i) => [1000 + i, served(`overlays/o${i}.dtbo`)]);
    const { events } = run([[0, pxeDiscover], [500, served('start4.elf')], ...many, [5000, fact('nfs.root-mounted')]]);
    const kernel = events.find((e) => e.previousStage === 'KERNEL')!;
    assert.equal(kernel.files.length, MAX_FILES_PER_STAGE);
    assert.equal(kernel.files[0].file, 'overlays/o0.dtbo');
    assert.equal(kernel.files[63].file, 'overlays/o63.dtbo');
  });

  it('publishes live progress on every file fact, with the current file and the stages so far', () => {
    let state = run(PI4_BOOT.slice(0, 5)).state;
    const d = decideBoot(state, fact('tftp.file-served', { file: 'foo.bin', bytes: 3 }), T0 + 1600);
    state = d.state;
    assert.equal(d.effects.filter((e) => e.kind === 'append').length, 0, 'a file of no stage is no event');
    const publish = d.effects.find((e) => e.kind === 'publish');
    assert.ok(publish && publish.kind === 'publish');
    assert.equal(publish.progress.currentFile, 'foo.bin');
    assert.equal(publish.progress.stage, 'FIRMWARE');
    assert.deepEqual(
      publish.progress.stages.map((s) => [s.stage, s.ms]),
      [
        ['DHCP', 1000],
        ['FIRMWARE', 600],
      ],
    );
  });

  it('does not change the state it is given', () => {
    const { state } = run(PI4_BOOT.slice(0, 4));
    const frozen = JSON.stringify(state);
    decideBoot(state, served('kernel8.img'), T0 + 2000);
    decideBoot(state, TICK, T0 + 3_600_000);
    assert.equal(JSON.stringify(state), frozen);
  });
});

describe('boot sessions: timeouts', () => {
  const t = DEFAULT_BOOT_TIMEOUTS;

  it('DHCP without any TFTP: STALLED after 30 s, naming the last request', () => {
    const before = run([
      [0, pxeDiscover],
      [100, fact('dhcp.offered', { pxe: true })],
      [t.dhcpMs - 1, TICK],
    ]);
    assert.deepEqual(before.stages, ['->DHCP'], 'not before the timeout');
    const { events } = run([
      [0, pxeDiscover],
      [100, fact('dhcp.offered', { pxe: true })],
      [t.dhcpMs, TICK],
    ]);
    const stalled = events[1];
    assert.equal(stalled.stage, 'STALLED');
    assert.equal(stalled.previousStage, 'DHCP');
    assert.equal(stalled.lastRequest, 'dhcp.offered');
    assert.match(stalled.cause!, /no TFTP request within 30 s/);
    assert.match(stalled.cause!, /dhcp\.offered/);
  });

  it('DHCP retries do not reset the DHCP timeout (retries without TFTP are the symptom)', () => {
    const { stages } = run([
      [0, pxeDiscover],
      [10_000, pxeDiscover],
      [20_000, pxeDiscover],
      [t.dhcpMs, TICK],
    ]);
    assert.deepEqual(stages, ['->DHCP', 'DHCP>STALLED']);
  });

  it('FIRMWARE with a missing file: STALLED 20 s after the last request, the cause names the file', () => {
    const { events } = run([
      [0, pxeDiscover],
      [1000, served('config.txt')],
      [1200, missing('start4.elf')],
      [1200 + t.fileMs - 1, TICK],
      [1200 + t.fileMs, TICK],
    ]);
    const stalled = events.find((e) => e.stage === 'STALLED')!;
    assert.equal(stalled.previousStage, 'FIRMWARE');
    assert.equal(stalled.cause, 'start4.elf is missing: no new file for 35 s');
    assert.equal(stalled.lastRequest, 'tftp.file-missing start4.elf');
    assert.deepEqual(stalled.missing, ['start4.elf']);
    assert.equal(stalled.at, new Date(T0 + 1200 + t.fileMs).toISOString());
  });

  it('a missing file as the very first TFTP request still moves DHCP to FIRMWARE (the firmware reached TFTP)', () => {
    const { stages } = run([
      [0, pxeDiscover],
      [500, missing('start4.elf')],
    ]);
    assert.deepEqual(stages, ['->DHCP', 'DHCP>FIRMWARE']);
  });

  it('a failed transfer in KERNEL stalls after 35 s, naming the file and the reason', () => {
    const { events } = run([
      [0, served('start4.elf')],
      [100, served('kernel8.img')],
      [200, fact('tftp.file-failed', { file: 'initramfs8', reason: 'timeout' })],
      [200 + t.fileMs, TICK],
    ]);
    const stalled = events[events.length - 1];
    assert.equal(stalled.stage, 'STALLED');
    assert.equal(stalled.cause, 'the transfer of initramfs8 failed (timeout): no new file for 35 s');
  });

  it('KERNEL → ROOT_MOUNTED: 120 s after the last file served, not 20 s', () => {
    const steps: [number, BootInput][] = [
      [0, served('start4.elf')],
      [100, served('kernel8.img')],
      [100 + t.fileMs, TICK],
      [100 + t.rootMountMs - 1, TICK],
    ];
    assert.deepEqual(run(steps).stages, ['->FIRMWARE', 'FIRMWARE>KERNEL']);
    const { events } = run([...steps, [100 + t.rootMountMs, TICK]]);
    assert.equal(events[2].stage, 'STALLED');
    assert.match(events[2].cause!, /root file system was not mounted within 120 s/);
    assert.match(events[2].cause!, /kernel8\.img/);
  });

  it('ROOT_MOUNTED → BOOTED: 300 s', () => {
    const steps = PI4_BOOT.slice(0, 12);
    const mountedAt = 12_000;
    assert.equal(run([...steps, [mountedAt + t.bootedMs - 1, TICK]]).state.session?.stage, 'ROOT_MOUNTED');
    const { events } = run([...steps, [mountedAt + t.bootedMs, TICK]]);
    const stalled = events[events.length - 1];
    assert.equal(stalled.stage, 'STALLED');
    assert.match(stalled.cause!, /no boot report within 300 s/);
  });

  it('progress after STALLED returns to the stage it had, then moves on', () => {
    const { stages, state } = run([
      [0, pxeDiscover],
      [1000, served('config.txt')],
      [1000 + t.fileMs, TICK],
      [1000 + t.fileMs + 5000, served('start4.elf')],
      [1000 + t.fileMs + 6000, served('kernel8.img')],
    ]);
    assert.deepEqual(stages, ['->DHCP', 'DHCP>FIRMWARE', 'FIRMWARE>STALLED', 'STALLED>FIRMWARE', 'FIRMWARE>KERNEL']);
    assert.equal(state.session?.cause, null);
  });

  it('a retry of the missing file is no recovery', () => {
    const { stages } = run([
      [0, served('config.txt')],
      [100, missing('start4.elf')],
      [100 + t.fileMs, TICK],
      [100 + t.fileMs + 1000, missing('start4.elf')],
    ]);
    assert.deepEqual(stages, ['->FIRMWARE', 'FIRMWARE>STALLED']);
  });

  it('STALLED for 10 minutes more ends FAILED, keeping the stall cause', () => {
    const stalledAt = 1000 + t.fileMs;
    const steps: [number, BootInput][] = [
      [0, served('config.txt')],
      [1000, missing('start4.elf')],
      [stalledAt, TICK],
      [stalledAt + t.failAfterStallMs - 1, TICK],
    ];
    assert.equal(run(steps).state.session?.stage, 'STALLED');
    const { events, state } = run([...steps, [stalledAt + t.failAfterStallMs, TICK], [stalledAt + 2 * t.failAfterStallMs, TICK]]);
    const failed = events[events.length - 1];
    assert.equal(failed.stage, 'FAILED');
    assert.equal(failed.previousStage, 'STALLED');
    assert.equal(failed.previousStageMs, t.failAfterStallMs);
    assert.match(failed.cause!, /^gave up: no progress for 600 s after it stalled: start4\.elf is missing/);
    assert.equal(events.filter((e) => e.stage === 'FAILED').length, 1, 'FAILED is final: later ticks add nothing');
    assert.equal(bootDeadline(state.session), null);
  });

  it('nothing times out after BOOTED, nor after a login', () => {
    const booted = run([...PI4_BOOT, [10_000_000, TICK]]);
    assert.equal(booted.events.length, 5);
    const loggedIn = run([...PI4_BOOT.slice(0, 12), [20_000, fact('ldap.user-logged-in', { username: 'a' })], [10_000_000, TICK]]);
    assert.equal(loggedIn.state.session?.stage, 'USER_LOGGED_IN');
  });

  it('timeouts are parameters', () => {
    const d = decideBoot(run([[0, pxeDiscover]]).state, TICK, T0 + 5000, { ...t, dhcpMs: 5000 });
    assert.equal(d.effects.filter((e) => e.kind === 'append').length, 1);
  });
});

describe('boot sessions: restored from events', () => {
  it('folding the stored events gives the live session back (stage, reached, ip, times)', () => {
    const steps = PI4_BOOT.slice(0, 12);
    const live = run(steps);
    let restored = initialBootState(MAC);
    for (const data of live.events) restored = evolveBoot(restored, { type: 'BootStageChanged', data });
    const a = live.state.session!;
    const b = restored.session!;
    assert.deepEqual(
      [b.sessionId, b.stage, b.reached, b.stageSince, b.startedAt, b.ip, b.model],
      [a.sessionId, a.stage, a.reached, a.stageSince, a.startedAt, a.ip, a.model],
    );
    assert.deepEqual(b.stages, a.stages);
    // The restored session times out like the live one.
    assert.equal(bootDeadline(b), bootDeadline({ ...a, lastFileAt: null }));
  });

  it('a stalled session restored keeps its cause and returns to the stage it had on progress', () => {
    const live = run([
      [0, served('config.txt')],
      [DEFAULT_BOOT_TIMEOUTS.fileMs, TICK],
    ]);
    let restored = initialBootState(MAC);
    for (const data of live.events) restored = evolveBoot(restored, { type: 'BootStageChanged', data });
    assert.equal(restored.session?.stage, 'STALLED');
    assert.match(restored.session!.cause!, /no new file/);
    const after = run([[DEFAULT_BOOT_TIMEOUTS.fileMs + 1000, served('kernel8.img')]], restored);
    assert.deepEqual(after.stages, ['STALLED>FIRMWARE', 'FIRMWARE>KERNEL']);
  });

  it('bootSessions history: one summary per session with ends, causes and per-stage durations', () => {
    const { events } = run([...PI4_BOOT.slice(0, 5), [8000, pxeDiscover], [9000, served('start4.elf')]]);
    const sessions = foldBootSessions(events.map((data) => ({ type: 'BootStageChanged', data })));
    assert.equal(sessions.length, 2);
    assert.equal(sessions[0].stage, 'FAILED');
    assert.equal(sessions[0].cause, 'the client restarted its boot');
    assert.equal(sessions[0].endedAt, new Date(T0 + 8000).toISOString());
    assert.deepEqual(
      sessions[0].stages.map((s) => [s.stage, s.ms]),
      [
        ['DHCP', 1000],
        ['FIRMWARE', 7000],
        ['FAILED', 0],
      ],
    );
    assert.equal(sessions[1].stage, 'FIRMWARE');
    assert.equal(sessions[1].endedAt, null);
    assert.equal(sessions[1].startedAt, new Date(T0 + 8000).toISOString());
  });
});
