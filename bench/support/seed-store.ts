import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { EventMetadata, NewEvent } from '../../src/core/event-store/event-store.port';
import { SqliteEventStore } from '../../src/core/event-store/sqlite/sqlite.event-store';

/**
 * Fills a sqlite event store with `total` events shaped like a busy school year: 500 Pis detected
 * and approved, 2,000 users, then the bulk: Pis seen again each boot, addresses learned, and boot
 * progress facts (half of all events; not projected into the core read models).
 * Deterministic in shape; returns quickly when the file already holds enough events.
 */
export async function seedStore(file: string, total: number, log: (s: string) => void = () => undefined): Promise<number> {
  const fresh = !existsSync(file);
  const store = await SqliteEventStore.open({ file });
  try {
    const head = await store.headPosition();
    if (!fresh && head >= total) return head;
    // Recent times, the last one about now: boot events older than bootRetentionDays (30) would be
    // deleted by the retention at bramble's start.
    const t0 = Date.now() - (total - head) * 50;
    let written = head;
    const meta = (actor: string): EventMetadata => ({
      actor,
      correlationId: randomUUID(),
      causationId: null,
      timestamp: new Date(t0 + written * 50).toISOString(),
      schemaVersion: 1,
    });
    const mac = (i: number) =>
      `dc:a6:32:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    const revisions = new Map<string, number>();
    const pending: Promise<unknown>[] = [];
    const append = (stream: string, events: NewEvent[]) => {
      const expected = revisions.get(stream);
      revisions.set(stream, (expected ?? -1) + events.length);
      written += events.length;
      pending.push(store.append(stream, events, expected === undefined ? 'any' : expected));
    };
    const flush = async () => {
      await Promise.all(pending.splice(0));
    };
    if (head === 0) {
      for (let i = 0; i < 500; i++) {
        append(`client-${mac(i)}`, [
          {
            type: 'ClientDetected',
            data: { mac: mac(i), serial: (0x10000000 + i).toString(16), model: 'RPi4', ip: null, via: 'dhcp', bootId: 'b0' },
            metadata: meta('plugin:dhcp'),
          },
          {
            type: 'ClientApproved',
            data: { mac: mac(i), name: `pi-${i}`, imageId: null, preRegistered: false },
            metadata: meta('admin:teacher'),
          },
        ]);
      }
      for (let i = 0; i < 2000; i++) {
        append(`user-pupil${i}`, [
          {
            type: 'UserCreated',
            data: {
              username: `pupil${i}`,
              uidNumber: 10000 + i,
              gidNumber: 10000,
              fullName: `Pupil ${i}`,
              groups: ['pupils'],
              passwordHash: '{CRYPT}$2b$10$abcdefghijklmnopqrstuv',
            },
            metadata: meta('admin:teacher'),
          },
        ]);
      }
      await flush();
    }
    let boot = 0;
    while (written < total) {
      // 50 appends of 20 events each per round, all in flight together (group commit).
      for (let k = 0; k < 50 && written < total; k++) {
        const i = (boot * 7 + k) % 500;
        const events: NewEvent[] = [];
        for (let j = 0; j < 10; j++) {
          events.push({
            type: 'BootProgressed',
            data: {
              mac: mac(i),
              stage: 'tftp.file-served',
              plugin: 'tftp',
              ip: `10.1.${i >> 8}.${i & 255}`,
              detail: { file: `start4.elf`, n: j },
            },
            metadata: meta('plugin:tftp'),
          });
        }
        append(`boot-${mac(i)}`, events);
        const clientEvents: NewEvent[] = [];
        for (let j = 0; j < 10; j++) {
          clientEvents.push(
            j % 2 === 0
              ? {
                  type: 'ClientRedetected',
                  data: { mac: mac(i), serial: null, model: 'RPi4', ip: `10.1.${i >> 8}.${i & 255}`, via: 'dhcp', bootId: `b${boot}-${j}` },
                  metadata: meta('plugin:dhcp'),
                }
              : { type: 'ClientAddressLearned', data: { mac: mac(i), ip: `10.2.${j}.${i & 255}` }, metadata: meta('plugin:dhcp') },
          );
        }
        append(`client-${mac(i)}`, clientEvents);
      }
      boot++;
      await flush();
      if (boot % 200 === 0) log(`seeded ${written} events`);
    }
    return store.headPosition();
  } finally {
    await store.close();
  }
}
