/**
 * /audit/export.ndjson never ends cleanly on a read error: the response is aborted, so the client
 * sees a failure (curl exits non-zero, fetch rejects) instead of HTTP 200 with half the events.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  EVENT_STORE,
  EventStoreUnavailableError,
  type NewEvent,
  type ReadAllOptions,
} from '../../../src/core/event-store/event-store.port';
import type { InstrumentedEventStore } from '../../../src/core/event-store/instrumented.event-store';
import { startCoreApp, TEST_TOKEN, type CoreApp } from '../../support/core-app';
import { recordingLogger } from '../../support/temp';

/** curl, run asynchronously (the server answers from this same process). */
function curl(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, { encoding: 'utf8', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ status: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const ev = (i: number): NewEvent => ({
  type: 'AuditTested',
  data: { i },
  metadata: { actor: 'admin:audit', correlationId: randomUUID(), causationId: null, timestamp: new Date().toISOString(), schemaVersion: 1 },
});

describe('the audit export on a read error', () => {
  let core: CoreApp;
  let url: string;
  let store: InstrumentedEventStore;
  let failAfter: number | null = null;
  const { logger, lines } = recordingLogger();

  before(async () => {
    core = await startCoreApp({ logger });
    url = await core.app.listen();
    store = core.app.nest.get<InstrumentedEventStore>(EVENT_STORE);
    // 2,500 events: the export reads them in pages of 1,000.
    for (let i = 0; i < 2500; i += 100)
      await store.append(
        `audit-${i}`,
        Array.from({ length: 100 }, (_, j) => ev(i + j)),
        'no_stream',
      );
    // The store's reads fail from a given position on (as a damaged page or a lost disk would).
    const inner = store.inner;
    const readAll = inner.readAll.bind(inner);
    inner.readAll = (options?: ReadAllOptions) =>
      failAfter !== null && (options?.after ?? 0) >= failAfter
        ? Promise.reject(new EventStoreUnavailableError('event store read failed: SQLITE_IOERR_READ: disk I/O error'))
        : readAll(options);
  });
  after(() => core.close());

  const exportUrl = () => `${url}/audit/export.ndjson?types=AuditTested`;

  it('a complete export ends cleanly (curl exit 0, 2,500 lines)', async () => {
    failAfter = null;
    const done = await curl(['-sS', '--fail', '-H', `Authorization: Bearer ${TEST_TOKEN}`, exportUrl()]);
    assert.equal(done.status, 0, done.stderr);
    assert.equal(done.stdout.trim().split('\n').length, 2500);
  });

  it('a read failing mid-stream aborts the response: curl exits non-zero, fetch rejects, the log says why', async () => {
    failAfter = 1; // the first page is read and sent, the second read fails
    const aborted = await curl(['-sS', '-H', `Authorization: Bearer ${TEST_TOKEN}`, exportUrl()]);
    assert.notEqual(aborted.status, 0, 'curl sees the failure');
    assert.match(aborted.stderr, /transfer closed with outstanding read data remaining|\(18\)/);
    const received = aborted.stdout.split('\n').filter(Boolean);
    assert.ok(received.length > 0 && received.length <= 1000, `sent the first page only (${received.length})`);

    const res = await fetch(exportUrl(), { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    assert.equal(res.status, 200, 'the headers were already sent');
    await assert.rejects(res.text(), 'reading the body fails');

    const logged = lines.filter((l) => l.msg === 'audit export failed mid-stream: aborting the response');
    assert.equal(logged.length, 2);
    assert.match(String((logged[0].error as { message: string }).message), /SQLITE_IOERR_READ/);

    // The server is fine afterwards.
    failAfter = null;
    assert.equal((await fetch(`${url}/health`)).status, 200);
  });

  it('a read failing before the first line answers 503 with a code', async () => {
    failAfter = 0;
    const res = await fetch(exportUrl(), { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { code: 'EVENT_STORE_UNAVAILABLE', message: 'the audit log could not be read' });
    failAfter = null;
  });
});
