/**
 * Cost of the sqlite event store's start-up integrity check (PRAGMA quick_check, run in its own
 * worker thread at open; see src/core/event-store/sqlite/sqlite.check.worker.ts), with
 * 1,000,000 events in the store: with the file in the page cache (a restart), and from a cold
 * cache (the file's pages evicted with posix_fadvise(DONTNEED): a boot).
 *   node dist/bench/integrity.bench.js [events=1000000]
 */
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import * as path from 'node:path';
import koffi from 'koffi';
import { SqliteEventStore } from '../src/core/event-store/sqlite/sqlite.event-store';
import { seedStore } from './support/seed-store';

const POSIX_FADV_DONTNEED = 4;

/** Drops this one file's pages from the page cache (nothing else). */
function evict(file: string): boolean {
  try {
    const fadvise = koffi.load('libc.so.6').func('int posix_fadvise(int, int64_t, int64_t, int)') as (
      fd: number,
      offset: number,
      len: number,
      advice: number,
    ) => number;
    const fd = openSync(file, 'r');
    try {
      return fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) === 0;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

async function checkOnce(file: string): Promise<{ ms: number; openMs: number }> {
  const started = process.hrtime.bigint();
  const store = await SqliteEventStore.open({ file });
  const openMs = Number(process.hrtime.bigint() - started) / 1e6;
  try {
    const report = await store.integrityCheck();
    if (report.status !== 'passed') throw new Error(`integrity check: ${JSON.stringify(report)}`);
    return { ms: report.ms, openMs };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 1_000_000);
  const dir = path.join(__dirname, '..', '..', '.bench-tmp');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `events-${total}.db`);
  const head = await seedStore(file, total, (s) => process.stderr.write(s + '\n'));
  const mb = (statSync(file).size / 1048576).toFixed(0);
  for (let run = 1; run <= 3; run++) {
    const { ms, openMs } = await checkOnce(file);
    console.log(`integrity.quick_check cache=warm run=${run} events=${head} file_mb=${mb} check_ms=${ms} open_ms=${openMs.toFixed(0)}`);
  }
  if (evict(file)) {
    const { ms } = await checkOnce(file);
    console.log(`integrity.quick_check cache=cold events=${head} file_mb=${mb} check_ms=${ms}`);
  } else {
    console.log('integrity.quick_check cache=cold skipped (posix_fadvise unavailable)');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
