/**
 * The sqlite event store's file format: one append-only `events` table, its indexes and triggers,
 * the migrations that build it, and how a stored row becomes a RecordedEvent.
 *
 * Shared by the writer (worker thread, which creates and migrates the file) and the reader (main
 * thread). The file's `PRAGMA user_version` is the schema version; a migration is appended to
 * MIGRATIONS, never edited once released.
 */
import type Database from 'better-sqlite3';
import type { RecordedEvent } from '../event-store.port';

/** Index names the query planner refers to with INDEXED BY (sqlite.query.ts). */
export const INDEX = {
  streamRevision: 'events_stream_revision',
  type: 'events_type',
  actor: 'events_actor',
  timestamp: 'events_timestamp',
} as const;

const V1 = `
CREATE TABLE events (
  position       INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT    NOT NULL UNIQUE,
  stream         TEXT    NOT NULL,
  revision       INTEGER NOT NULL CHECK (revision >= 0),
  type           TEXT    NOT NULL,
  data           TEXT,
  actor          TEXT    NOT NULL,
  correlation_id TEXT    NOT NULL,
  causation_id   TEXT,
  timestamp      TEXT    NOT NULL,
  schema_version INTEGER NOT NULL
) STRICT;
-- UNIQUE(stream, revision), as a named index so the planner can be told to use it.
CREATE UNIQUE INDEX ${INDEX.streamRevision} ON events (stream, revision);
-- Secondary indexes end with the rowid (= position), so "type = ? AND position > ?" reads in order.
CREATE INDEX ${INDEX.type} ON events (type);
CREATE INDEX ${INDEX.actor} ON events (actor);
CREATE INDEX ${INDEX.timestamp} ON events (timestamp);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END;
`;

/**
 * V2: boot streams have a retention (issue 11): rows of `boot-*` streams may be deleted (by the
 * writer's scavenge, sqlite.writer.worker.ts), nothing else ever. UPDATE stays refused.
 */
const V2 = `
DROP TRIGGER events_no_delete;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events WHEN substr(OLD.stream, 1, 5) <> 'boot-'
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is allowed only for boot-* streams past their retention'); END;
`;

/** Stream prefixes whose events a retention may delete (the V2 trigger allows no other). */
export const EXPIRING_STREAM_PREFIXES: readonly string[] = ['boot-'];

/** MIGRATIONS[i] takes the file from user_version i to i + 1. */
const MIGRATIONS: readonly string[] = [V1, V2];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the file to SCHEMA_VERSION (the writer calls this once, at open). */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`event store file has schema version ${current}, newer than this bramble (${SCHEMA_VERSION})`);
  }
  if (current === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = current; v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}

/** The columns every read selects, in the order `toRecorded` expects them. */
export const COLUMNS = 'position, id, stream, revision, type, data, actor, correlation_id, causation_id, timestamp, schema_version';

type Row = [number, string, string, number, string, string | null, string, string, string | null, string, number];

/** One raw row (statement in `.raw()` mode) → RecordedEvent; `data` is the only JSON.parse. */
export function toRecorded(row: unknown[]): RecordedEvent {
  const r = row as Row;
  return {
    id: r[1],
    stream: r[2],
    revision: r[3],
    position: r[0],
    type: r[4],
    data: r[5] === null ? undefined : JSON.parse(r[5]),
    metadata: { actor: r[6], correlationId: r[7], causationId: r[8], timestamp: r[9], schemaVersion: r[10] },
  };
}

export function toRecordedAll(rows: unknown[][]): RecordedEvent[] {
  const out = new Array<RecordedEvent>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = toRecorded(rows[i]);
  return out;
}
