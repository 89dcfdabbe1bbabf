/**
 * Imports tell the truth when the store fails mid-way: per-row results, the rows written are the
 * ones reported written, the failure stops the rest (IMPORT_ABORTED), and nothing is written after
 * the answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImportClientsCommand, type ImportRowResult } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { ImportUsersCommand } from '../../../src/core/commands/user.commands';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { startCoreApp } from '../../support/core-app';
import { faultyStore, type Faults } from '../../support/faulty-store';

const admin = () => commandMeta('admin:test');

async function countOf(store: EventStore, type: string): Promise<number> {
  return (await store.readAll({ limit: 10_000, filter: { types: [type] } })).length;
}

describe('imports when the store fails mid-way', () => {
  it('importUsers: the answer lists the rows written; the failure stops the others; nothing is written after it', async () => {
    const faults: Faults = { streams: /^user-/, mode: 'full', allowed: 10 };
    const core = await startCoreApp({ wrapStore: (store) => faultyStore(store, faults) });
    try {
      const csv =
        'username,password\n' +
        Array.from({ length: 60 }, (_, i) => `pupil${i},Secret-Pass-${i}x`).join('\n') +
        '\nBad Name,Secret-Pass-x\n';
      const results = await core.bus.execute(new ImportUsersCommand({ csv }, admin()));
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      const written = await countOf(store, 'UserCreated');
      const ok = results.filter((r) => r.ok);
      assert.equal(results.length, 61, 'one result per row');
      assert.equal(ok.length, written, 'the rows reported written are the users in the store');
      assert.equal(written, 10);
      const codes = new Set(results.filter((r) => !r.ok).map((r) => r.code));
      assert.ok(codes.has('EVENT_STORE_UNAVAILABLE'), 'the row that met the failure says so');
      assert.ok(codes.has('IMPORT_ABORTED'), 'the rows never tried say so');
      assert.ok(codes.has('VALIDATION'), 'a bad row is still reported with its own error');
      const aborted = results.find((r) => r.code === 'IMPORT_ABORTED')!;
      assert.match(aborted.message ?? '', /^not written: the import stopped at line \d+ \(the event store is unavailable\)$/);
      for (const r of results)
        if (r.ok) assert.ok(core.queries.user(r.key!) || (await store.readStream(`user-${r.key}`)).length === 1, r.key!);

      faults.full = false; // the disk is freed: a worker still running would write now
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await countOf(store, 'UserCreated'), written, 'nothing was written after the answer');
    } finally {
      await core.close();
    }
  });

  it('importClients: the same rule', async () => {
    const faults: Faults = { streams: /^client-/, mode: 'full', allowed: 5 };
    const core = await startCoreApp({ wrapStore: (store) => faultyStore(store, faults) });
    try {
      const csv = Array.from({ length: 30 }, (_, i) => `dc:a6:32:00:01:${i.toString(16).padStart(2, '0')},lab-${i}`).join('\n');
      const results: ImportRowResult[] = await core.bus.execute(new ImportClientsCommand({ csv }, admin()));
      const store = core.app.nest.get<EventStore>(EVENT_STORE);
      assert.equal(results.filter((r) => r.ok).length, await countOf(store, 'ClientApproved'));
      assert.equal(results.filter((r) => r.ok).length, 5);
      assert.equal(results.filter((r) => r.code === 'IMPORT_ABORTED').length, 24);
      faults.full = false;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await countOf(store, 'ClientApproved'), 5);
    } finally {
      await core.close();
    }
  });
});
