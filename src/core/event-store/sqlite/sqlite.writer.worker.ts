/**
 * The sqlite event store's writer: runs in a worker thread with its own connection, so the fsync of
 * each commit (synchronous=FULL) never blocks the main event loop.
 *
 * Group commit: every append request that arrived while the previous transaction was committing is
 * written in ONE transaction, then all of them are acknowledged with one message. Inside it, each
 * append checks its own expected revision and is wrapped in a savepoint, so a conflicting (or
 * failing) append fails alone; appends to one stream in one batch see each other's rows.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { migrate, SCHEMA_VERSION } from './sqlite.schema';
import type { AppendOutcome, AppendRequest, FromWriter, ScavengeRequest, ToWriter, WriterOptions } from './sqlite.writer.protocol';

/** Events written since the last checkpoint before the writer checkpoints (between transactions). */
const CHECKPOINT_EVERY_EVENTS = 4000;

const port = parentPort;
if (!port) throw new Error('sqlite.writer.worker must run in a worker thread');
const options = workerData as WriterOptions;

const db = new Database(options.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
// Checkpoints are run by hand between transactions, so none of them delays an acknowledgement.
db.pragma('wal_autocheckpoint = 0');
db.pragma('journal_size_limit = 67108864');
migrate(db);

const lastRevisionOf = db.prepare<[string], number>('SELECT revision FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1').pluck();
const insert = db.prepare(
  'INSERT INTO events (id, stream, revision, type, data, actor, correlation_id, causation_id, timestamp, schema_version)' +
    ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
);
const headOf = db.prepare<[], number>('SELECT coalesce(max(position), 0) FROM events').pluck();

/**
 * One batch of a scavenge (retention): events of the prefix's streams older than the cutoff, but
 * never the last event of a stream (so a stream's revisions are never reused, and the store's head
 * position never goes back: checkpoints stay valid). Positions are AUTOINCREMENT: never reused.
 */
const deleteExpired = db.prepare<[string, string, string, number]>(
  'DELETE FROM events WHERE position IN (SELECT e.position FROM events AS e WHERE e.stream >= ? AND e.stream < ? AND e.timestamp < ?' +
    ' AND e.revision < (SELECT max(l.revision) FROM events AS l WHERE l.stream = e.stream) LIMIT ?)',
);

/** The first string after every string starting with `prefix` (`boot-` → `boot.`). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

function matches(expected: AppendRequest['expected'], actual: number | undefined): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return actual === undefined;
  if (expected === 'stream_exists') return actual !== undefined;
  return actual === expected;
}

/** Inserts one append's rows; a nested better-sqlite3 transaction is a SAVEPOINT. */
const insertAppend = db.transaction((req: AppendRequest, firstRevision: number): number => {
  let position = 0;
  for (let i = 0; i < req.events.length; i++) {
    const e = req.events[i];
    position = Number(insert.run(e[0], req.stream, firstRevision + i, e[1], e[2], e[3], e[4], e[5], e[6], e[7]).lastInsertRowid);
  }
  return position;
});

const writeBatch = db.transaction((batch: AppendRequest[]): AppendOutcome[] => {
  const outcomes: AppendOutcome[] = [];
  for (const req of batch) {
    const actual = lastRevisionOf.get(req.stream);
    if (!matches(req.expected, actual)) {
      outcomes.push({ rid: req.rid, ok: false, conflict: true, actual: actual ?? 'no_stream' });
      continue;
    }
    const first = actual === undefined ? 0 : actual + 1;
    try {
      const position = insertAppend(req, first);
      outcomes.push({ rid: req.rid, ok: true, revision: first + req.events.length - 1, position });
    } catch (err) {
      outcomes.push({ rid: req.rid, ok: false, conflict: false, message: (err as Error).message, code: (err as { code?: string }).code });
    }
  }
  return outcomes;
});

let queue: AppendRequest[] = [];
/** Scavenges in course: one batch each between two rounds of appends, so appends never wait long. */
const scavenges: (ScavengeRequest & { deleted: number })[] = [];
let closing = false;
let running = false;
let sinceCheckpoint = 0;

function post(message: FromWriter): void {
  port!.postMessage(message);
}

function take(message: ToWriter): void {
  if (message.t === 'append') {
    for (const r of message.requests) queue.push(r);
  } else if (message.t === 'scavenge') {
    scavenges.push({ rid: message.rid, prefix: message.prefix, before: message.before, batch: message.batch, deleted: 0 });
  } else {
    closing = true;
  }
}

/** Drains the port, commits what it got as one transaction, and repeats until nothing is left. */
function run(): void {
  running = false;
  for (;;) {
    for (let m = receiveMessageOnPort(port!); m !== undefined; m = receiveMessageOnPort(port!)) take(m.message as ToWriter);
    if (queue.length === 0) break;
    const batch = queue;
    queue = [];
    try {
      const outcomes = writeBatch.immediate(batch);
      post({ t: 'committed', outcomes, head: headOf.get() ?? 0 });
    } catch (err) {
      post({ t: 'failed', rids: batch.map((r) => r.rid), message: (err as Error).message, code: (err as { code?: string }).code });
    }
    for (const r of batch) sinceCheckpoint += r.events.length;
    if (sinceCheckpoint >= CHECKPOINT_EVERY_EVENTS) {
      sinceCheckpoint = 0;
      // A checkpoint that fails (disk full, I/O error) leaves the WAL as it is: every committed
      // transaction is still in it. Retried after the next CHECKPOINT_EVERY_EVENTS events.
      tryPragma('wal_checkpoint(PASSIVE)');
    }
  }
  const scavenge = scavenges[0];
  if (scavenge && !closing) {
    let done = false;
    try {
      const deleted = db
        .transaction(() => deleteExpired.run(scavenge.prefix, prefixEnd(scavenge.prefix), scavenge.before, scavenge.batch).changes)
        .immediate();
      scavenge.deleted += deleted;
      sinceCheckpoint += deleted;
      done = deleted < scavenge.batch;
      if (done) post({ t: 'scavenged', rid: scavenge.rid, deleted: scavenge.deleted });
    } catch (err) {
      done = true;
      post({
        t: 'scavenged',
        rid: scavenge.rid,
        deleted: scavenge.deleted,
        error: (err as Error).message,
        code: (err as { code?: string }).code,
      });
    }
    if (done) scavenges.shift();
    if (sinceCheckpoint >= CHECKPOINT_EVERY_EVENTS) {
      sinceCheckpoint = 0;
      tryPragma('wal_checkpoint(PASSIVE)');
    }
    // The next batch after whatever appends arrived meanwhile.
    if (scavenges.length > 0 && !running) {
      running = true;
      setImmediate(run);
    }
  }
  if (closing) {
    for (const s of scavenges.splice(0)) post({ t: 'scavenged', rid: s.rid, deleted: s.deleted, error: 'the store closed' });
    tryPragma('wal_checkpoint(TRUNCATE)');
    db.close();
    port!.close(); // nothing keeps the thread alive any more: it exits with code 0
  }
}

function tryPragma(pragma: string): void {
  try {
    db.pragma(pragma);
  } catch {
    // see the callers
  }
}

port.on('message', (message: ToWriter) => {
  take(message);
  if (!running) {
    running = true;
    setImmediate(run);
  }
});

post({
  t: 'ready',
  journalMode: db.pragma('journal_mode', { simple: true }) as string,
  synchronous: db.pragma('synchronous', { simple: true }) as number,
  schemaVersion: SCHEMA_VERSION,
});
