/**
 * Boot sessions' costs: the decider per fact (a Pi 4's boot: PXE DISCOVER, eight files, the root
 * mount, the report), and the sqlite retention's scavenge (expired boot events deleted in the writer
 * thread while appends go on: their latency meanwhile).
 *   node dist/bench/boot-sessions.bench.js [boots=20000] [expiredEvents=100000]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { decideBoot, initialBootState, type BootFactInput, type BootInput } from '../src/core/domain/boot/boot-session';
import type { NewEvent } from '../src/core/event-store/event-store.port';
import { SqliteEventStore } from '../src/core/event-store/sqlite/sqlite.event-store';

const FILES = [
  'config.txt',
  'start4.elf',
  'fixup4.dat',
  'cmdline.txt',
  'bcm2711-rpi-4-b.dtb',
  'overlays/a.dtbo',
  'overlays/b.dtbo',
  'kernel8.img',
];

function deciderBench(boots: number): void {
  const fact = (name: string, detail: BootFactInput['detail']): BootInput => ({
    kind: 'fact',
    fact: name,
    ip: '10.0.0.5',
    detail,
    model: 'RPi4',
  });
  let facts = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < boots; i++) {
    let state = initialBootState(
      `dc:a6:32:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    );
    let now = 1e12 + i;
    const step = (input: BootInput, dt: number): void => {
      now += dt;
      state = decideBoot(state, input, now).state;
      facts++;
    };
    step(fact('dhcp.discover', { pxe: true }), 0);
    for (const file of FILES) step(fact('tftp.file-served', { file, bytes: 1000, ms: 3, blksize: 1468 }), 10);
    step(fact('nfs.root-mounted', {}), 1000);
    step(fact('booted', {}), 1000);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`decideBoot: ${facts} facts (${boots} boots) in ${ms.toFixed(0)} ms = ${((ms * 1000) / facts).toFixed(2)} µs per fact`);
}

async function scavengeBench(expired: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bramble-scavenge-'));
  const store = await SqliteEventStore.open({ file: path.join(dir, 'events.db') });
  try {
    const event = (timestamp: string): NewEvent => ({
      id: randomUUID(),
      type: 'BootStageChanged',
      data: { mac: 'x', stage: 'DHCP', files: [] },
      metadata: { actor: 'system', correlationId: randomUUID(), causationId: null, timestamp, schemaVersion: 1 },
    });
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    const streams = Math.max(1, Math.round(expired / 1000));
    for (let s = 0; s < streams; s++) {
      await store.append(
        `boot-aa:bb:cc:00:${(s >> 8).toString(16).padStart(2, '0')}:${(s & 255).toString(16).padStart(2, '0')}`,
        Array.from({ length: 1000 }, () => event(old)),
        'any',
      );
    }
    /** One append every 5 ms until `until` settles (or `count` appends); their latencies. */
    const appendAlong = async (until: Promise<unknown> | null, count = 100): Promise<number[]> => {
      const latencies: number[] = [];
      let stop = false;
      void until?.then(() => (stop = true));
      while (!stop && (until !== null || latencies.length < count)) {
        const t = performance.now();
        await store.append(`client-${randomUUID()}`, [event(new Date().toISOString())], 'no_stream');
        latencies.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 5));
      }
      return latencies.sort((a, b) => a - b);
    };
    const summary = (l: number[]): string => {
      const at = (q: number): string => (l[Math.min(l.length - 1, Math.floor(l.length * q))] ?? 0).toFixed(1);
      return `${l.length} appends: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`;
    };
    const baseline = await appendAlong(null, 100);
    const started = performance.now();
    const scavenge = store.applyRetention({ streamPrefix: 'boot-', maxAgeSeconds: 30 * 86_400 });
    const during = await appendAlong(scavenge);
    const { deleted } = await scavenge;
    const ms = performance.now() - started;
    console.log(`appends alone: ${summary(baseline)}`);
    console.log(`scavenge: ${deleted} expired boot events deleted in ${ms.toFixed(0)} ms; meanwhile ${summary(during)}`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  deciderBench(Number(process.argv[2] ?? 20_000));
  await scavengeBench(Number(process.argv[3] ?? 100_000));
}

void main();
