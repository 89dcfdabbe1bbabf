/** Messages between SqliteEventStore (main thread) and its writer worker. Plain data only. */
import type { ExpectedRevision } from '../event-store.port';

export interface WriterOptions {
  file: string;
}

/** One event, flattened to the table's columns (data already JSON text, or null for undefined). */
export type EventRow = [
  id: string,
  type: string,
  data: string | null,
  actor: string,
  correlationId: string,
  causationId: string | null,
  timestamp: string,
  schemaVersion: number,
];

export interface AppendRequest {
  rid: number;
  stream: string;
  expected: ExpectedRevision;
  events: EventRow[];
}

export type AppendOutcome =
  | { rid: number; ok: true; revision: number; position: number }
  | { rid: number; ok: false; conflict: true; actual: number | 'no_stream' }
  | { rid: number; ok: false; conflict: false; message: string; code?: string };

/** Deletes the events of streams starting with `prefix` written before `before` (ISO-8601), in batches. */
export interface ScavengeRequest {
  rid: number;
  prefix: string;
  before: string;
  batch: number;
}

export type ToWriter = { t: 'append'; requests: AppendRequest[] } | ({ t: 'scavenge' } & ScavengeRequest) | { t: 'close' };

export type FromWriter =
  | { t: 'ready'; journalMode: string; synchronous: number; schemaVersion: number }
  /** One committed transaction: every outcome of the batch, and the head position after it. */
  | { t: 'committed'; outcomes: AppendOutcome[]; head: number }
  /** The transaction could not be committed: every append of the batch failed. */
  | { t: 'failed'; rids: number[]; message: string; code?: string }
  /** A scavenge finished (or stopped at a failure, `error` set): how many events it deleted. */
  | { t: 'scavenged'; rid: number; deleted: number; error?: string; code?: string };

/** The integrity check worker's input (sqlite.check.worker.ts). */
export interface CheckOptions {
  file: string;
  /** quick_check(N): stop after this many problems. */
  maxProblems: number;
}

/** Its one message: passed, or the problems sqlite found (or why the check could not run). */
export type CheckResult = { ok: true; ms: number } | { ok: false; ms: number; problems: string[] };
