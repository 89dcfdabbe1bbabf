/**
 * The live boot sessions service in a real core (sqlite store, command path of plugins): facts
 * decided in memory, only stage changes appended, in order; timeouts by the tick; restore from the
 * snapshot plus the tail (and from the events alone); failed appends retried, never reported as
 * stored; memory bounds.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { BootSessions } from '../../../src/core/boot/boot-sessions';
import { ApproveClientCommand, RemoveClientCommand, ReportBootFactCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { DEFAULT_BOOT_TIMEOUTS, type BootProgress } from '../../../src/core/domain/boot/boot-session';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import type { BootFactInput, BootStageChangedData } from '../../../src/core/plugin-api';
import { startCoreApp, type CoreApp } from '../../support/core-app';
import { faultyStore, type Faults } from '../../support/faulty-store';
import { tempDir } from '../../support/temp';

const PI = 'dc:a6:32:00:10:01';
type Detail = BootFactInput['detail'];

async function approved(core: CoreApp, mac = PI): Promise<void> {
  await core.exec(new ApproveClientCommand({ mac, name: null, imageId: null }, commandMeta('admin:test')));
}

function fact(core: CoreApp, stage: string, detail: Detail = {}, mac = PI, plugin = 'tftp') {
  return core.bus.execute(new ReportBootFactCommand({ mac, stage, ip: '10.0.0.9', detail, plugin }, commandMeta(`plugin:${plugin}`)));
}

const served = (file: string, bytes = 100): Detail => ({ file, bytes, ms: 3, blksize: 1468 });

async function bootEvents(core: CoreApp, mac = PI) {
  return core.app.nest.get<EventStore>(EVENT_STORE).readStream(`boot-${mac}`);
}

describe('live boot sessions (core)', () => {
  const dirs: { cleanup(): void }[] = [];
  after(() => dirs.forEach((d) => d.cleanup()));

  it('appends only stage changes (files aggregated), in order; tftp.image-version stays a BootProgressed; every fact is published live', async () => {
    const core = await startCoreApp();
    try {
      await approved(core);
      const boot = core.app.nest.get(BootSessions);
      const live: BootProgress[] = [];
      const sub = boot.progress$.subscribe((p) => live.push(p));
      const discover = await fact(core, 'dhcp.discover', { pxe: true, xid: '0x1' }, PI, 'dhcp');
      assert.deepEqual(
        discover.events.map((e) => e.type),
        ['BootStageChanged'],
      );
      assert.equal(typeof discover.position, 'number', 'resolved once stored');
      await fact(core, 'dhcp.discover', { pxe: true, xid: '0x2' }, PI, 'dhcp');
      await fact(core, 'tftp.file-served', served('config.txt'));
      await fact(core, 'tftp.file-served', served('start4.elf', 2_000_000));
      const version = await fact(core, 'tftp.image-version', { imageId: 'lite', imageVersion: 2 });
      assert.deepEqual(
        version.events.map((e) => e.type),
        ['BootProgressed'],
      );
      await fact(core, 'tftp.file-served', served('kernel8.img'));
      await fact(core, 'tftp.file-served', served('overlays/a.dtbo'));
      await fact(core, 'nfs.root-mounted', {}, PI, 'nfs');
      await fact(core, 'booted', { hostname: 'pi' }, PI, 'core');
      sub.unsubscribe();

      const events = await bootEvents(core);
      assert.deepEqual(
        events.map((e) => (e.type === 'BootStageChanged' ? (e.data as BootStageChangedData).stage : e.type)),
        ['DHCP', 'FIRMWARE', 'BootProgressed', 'KERNEL', 'ROOT_MOUNTED', 'BOOTED'],
      );
      const kernel = events[3].data as BootStageChangedData;
      assert.deepEqual(
        kernel.files.map((f) => f.file),
        ['config.txt', 'start4.elf'],
      );
      assert.equal(kernel.files[1].bytes, 2_000_000);
      const rootMounted = events[4].data as BootStageChangedData;
      assert.deepEqual(
        rootMounted.files.map((f) => f.file),
        ['kernel8.img', 'overlays/a.dtbo'],
      );
      assert.equal(events[4].metadata.actor, 'plugin:nfs');
      await core.engine.waitFor(await core.app.nest.get<EventStore>(EVENT_STORE).headPosition());
      assert.deepEqual(core.queries.client(PI)!.bootedImage, { imageId: 'lite', version: 2 });

      // Live: every fact but the image version, the DHCP retry included.
      assert.equal(live.length, 8);
      assert.deepEqual(
        live.map((p) => p.stage),
        ['DHCP', 'DHCP', 'FIRMWARE', 'FIRMWARE', 'KERNEL', 'KERNEL', 'ROOT_MOUNTED', 'BOOTED'],
      );
      assert.equal(live[3].currentFile, 'start4.elf');
      assert.equal(boot.recentFacts(PI).length, 9);
      assert.equal(boot.recentFacts(PI)[0].fact, 'dhcp.discover');
    } finally {
      await core.close();
    }
  });

  it('refuses a bad fact name or MAC (VALIDATION), as before', async () => {
    const core = await startCoreApp();
    try {
      await assert.rejects(fact(core, 'Bad Stage'), { code: 'VALIDATION', field: 'stage' });
      await assert.rejects(fact(core, 'dhcp.discover', {}, 'not-a-mac'), { code: 'VALIDATION', field: 'mac' });
    } finally {
      await core.close();
    }
  });

  it('the tick stalls a session whose timeout passed, then fails it after 10 minutes more', async () => {
    const core = await startCoreApp();
    try {
      await approved(core);
      const boot = core.app.nest.get(BootSessions);
      let now = Date.parse('2026-11-26T10:00:00Z');
      boot.now = () => now;
      await fact(core, 'tftp.file-served', served('config.txt'));
      await fact(core, 'tftp.file-missing', { file: 'start4.elf' });
      now += DEFAULT_BOOT_TIMEOUTS.fileMs;
      boot.tick();
      now += DEFAULT_BOOT_TIMEOUTS.failAfterStallMs;
      boot.tick();
      const waitFor = async (n: number) => {
        for (let i = 0; i < 100 && (await bootEvents(core)).length < n; i++) await new Promise((r) => setTimeout(r, 20));
      };
      await waitFor(3);
      const events = (await bootEvents(core)).map((e) => e.data as BootStageChangedData);
      assert.deepEqual(
        events.map((e) => e.stage),
        ['FIRMWARE', 'STALLED', 'FAILED'],
      );
      assert.equal(events[1].cause, 'start4.elf is missing: no new file for 35 s');
      assert.deepEqual(events[1].missing, ['start4.elf']);
      assert.equal(events[1].at, new Date(Date.parse('2026-11-26T10:00:00Z') + DEFAULT_BOOT_TIMEOUTS.fileMs).toISOString());
      assert.equal((await bootEvents(core))[1].metadata.actor, 'system');
    } finally {
      await core.close();
    }
  });

  it('restores from its snapshot plus the tail at start, and from the events alone without a snapshot', async () => {
    const dir = tempDir('bramble-boot-restore-');
    dirs.push(dir);
    let core = await startCoreApp({ dataDir: dir.dir });
    const other = 'dc:a6:32:00:10:02';
    let sessionId: string;
    try {
      await approved(core);
      await approved(core, other);
      await fact(core, 'dhcp.discover', { pxe: true }, PI, 'dhcp');
      await fact(core, 'tftp.file-served', served('start4.elf'));
      sessionId = core.app.nest.get(BootSessions).state(PI)!.session!.sessionId;
    } finally {
      await core.close(); // saves the snapshot
    }
    core = await startCoreApp({ dataDir: dir.dir });
    try {
      const boot = core.app.nest.get(BootSessions);
      assert.deepEqual(boot.restored, { fromSnapshot: true, eventsFolded: 0 }, 'nothing replayed: the snapshot holds it all');
      assert.equal(boot.state(PI)!.session!.stage, 'FIRMWARE');
      assert.equal(boot.state(PI)!.session!.sessionId, sessionId);
      // Progress continues the same session.
      await fact(core, 'tftp.file-served', served('kernel8.img'));
      await fact(core, 'dhcp.discover', { pxe: true }, other, 'dhcp');
      assert.equal(boot.state(PI)!.session!.stage, 'KERNEL');
    } finally {
      // A crash: no snapshot written at stop (the file is the one of the first stop).
      const boot = core.app.nest.get(BootSessions);
      boot.saveSnapshot = async () => undefined;
      await core.close();
    }
    core = await startCoreApp({ dataDir: dir.dir });
    try {
      const boot = core.app.nest.get(BootSessions);
      assert.deepEqual(boot.restored, { fromSnapshot: true, eventsFolded: 2 }, 'the old snapshot plus the two later changes');
      assert.equal(boot.state(PI)!.session!.stage, 'KERNEL');
      assert.equal(boot.state(other)!.session!.stage, 'DHCP');
    } finally {
      await core.close();
    }
    rmSync(path.join(dir.dir, 'boot', 'sessions.snapshot.json'));
    core = await startCoreApp({ dataDir: dir.dir });
    try {
      const boot = core.app.nest.get(BootSessions);
      assert.deepEqual(boot.restored, { fromSnapshot: false, eventsFolded: 4 });
      assert.equal(boot.state(PI)!.session!.stage, 'KERNEL');
      assert.equal(boot.state(PI)!.session!.sessionId, sessionId);
    } finally {
      await core.close();
    }
  });

  it('a refused append rejects the fact (never acknowledged) and is retried, in order, once the store takes appends again', async () => {
    const faults: Faults = { streams: /^boot-/, mode: 'full', full: false };
    const core = await startCoreApp({ wrapStore: (store) => faultyStore(store, faults) });
    try {
      await approved(core);
      const boot = core.app.nest.get(BootSessions);
      faults.full = true;
      await assert.rejects(fact(core, 'dhcp.discover', { pxe: true }, PI, 'dhcp'), /SQLITE_FULL/);
      await assert.rejects(fact(core, 'tftp.file-served', served('start4.elf')), /SQLITE_FULL/);
      assert.equal((await bootEvents(core)).length, 0);
      faults.full = false;
      boot.tick();
      for (let i = 0; i < 100 && (await bootEvents(core)).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        (await bootEvents(core)).map((e) => (e.data as BootStageChangedData).stage),
        ['DHCP', 'FIRMWARE'],
      );
      const next = await fact(core, 'tftp.file-served', served('kernel8.img'));
      assert.equal(next.events.length, 1);
      assert.deepEqual(
        (await bootEvents(core)).map((e) => (e.data as BootStageChangedData).stage),
        ['DHCP', 'FIRMWARE', 'KERNEL'],
      );
    } finally {
      await core.close();
    }
  });

  it('memory is bounded: a cap on clients (least recently active forgotten) and removed clients swept', async () => {
    const core = await startCoreApp();
    try {
      const boot = core.app.nest.get(BootSessions);
      boot.maxClients = 3;
      const macs = [1, 2, 3, 4].map((i) => `dc:a6:32:00:20:0${i}`);
      for (const mac of macs) await approved(core, mac);
      for (const mac of macs) await fact(core, 'dhcp.discover', { pxe: true }, mac, 'dhcp');
      assert.equal(boot.size, 3);
      assert.equal(boot.state(macs[0]), null, 'the least recently active went first');
      await core.exec(new RemoveClientCommand({ mac: macs[1] }, commandMeta('admin:test')));
      assert.equal(boot.sweep(Date.now() + 120_000), 1);
      assert.equal(boot.state(macs[1]), null);
      assert.notEqual(boot.state(macs[2]), null);
    } finally {
      await core.close();
    }
  });
});
