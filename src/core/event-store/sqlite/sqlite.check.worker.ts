/**
 * The sqlite event store's start-up integrity check, in its own worker thread with its own
 * read-only connection, so it blocks neither the main event loop nor the writer:
 * `PRAGMA quick_check(N)` (every page, every b-tree and record format; unlike integrity_check it
 * does not cross-check indexes against the table, so it stays O(pages)). At most N problems are
 * reported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckOptions, CheckResult } from './sqlite.writer.protocol';

const port = parentPort;
if (!port) throw new Error('sqlite.check.worker must run in a worker thread');
const options = workerData as CheckOptions;
const started = process.hrtime.bigint();
const ms = (): number => Math.round(Number(process.hrtime.bigint() - started) / 1e6);
let result: CheckResult;
try {
  const db = new Database(options.file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db.pragma(`quick_check(${Math.max(1, Math.floor(options.maxProblems))})`, { simple: false }) as { quick_check: string }[];
    const lines = rows.map((r) => r.quick_check);
    result = lines.length === 1 && lines[0] === 'ok' ? { ok: true, ms: ms() } : { ok: false, ms: ms(), problems: lines };
  } finally {
    db.close();
  }
} catch (error) {
  const e = error as Error & { code?: string };
  result = { ok: false, ms: ms(), problems: [`${e.code ? `${e.code}: ` : ''}${e.message}`] };
}
port.postMessage(result);
