/**
 * The embedded EventStore: one SQLite file (WAL, synchronous=FULL) through better-sqlite3.
 *
 * - Appends go to a writer worker thread (sqlite.writer.worker.ts) that group-commits them: all
 *   appends that arrive while a commit is in progress are written in the next single transaction.
 *   An append's promise resolves only after its transaction is committed and fsynced.
 * - Reads (readStream, readAll, headPosition, subscriptions) use a second connection on the main
 *   thread; WAL lets it read while the writer commits.
 * - Subscriptions are notified in-process after each committed transaction (no polling). Appends
 *   made by another process on the same file are not seen live (only by later reads).
 * - Files: the database (and so its -wal and -shm, which sqlite creates with the database's mode)
 *   is owner-only, whatever the umask; looser existing files are tightened.
 * - Integrity: at open, `PRAGMA quick_check` runs in a third thread (sqlite.check.worker.ts);
 *   appends wait until it has passed, and are refused for good if it fails (integrityCheck()).
 * - Storage errors (disk full, I/O error, corruption...) reject with EventStoreUnavailableError
 *   carrying sqlite's code, for appends and reads alike.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import {
  checkAppend,
  EventStoreUnavailableError,
  WrongExpectedRevisionError,
  type AppendResult,
  type IntegrityReport,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RetentionRule,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandlers,
} from '../event-store.port';
import { silentLogger, type Logger } from '../../logging/logger';
import { ensurePrivateDir, ensurePrivateFile, tightenIfExists } from '../../persistence/private-files';
import { COLUMNS, EXPIRING_STREAM_PREFIXES, toRecordedAll } from './sqlite.schema';
import { checkCount, DEFAULT_READ_LIMIT, EventQueries, toPageQuery } from './sqlite.query';
import { SqliteSubscription } from './sqlite.subscription';
import type { AppendRequest, CheckOptions, CheckResult, EventRow, FromWriter, ToWriter, WriterOptions } from './sqlite.writer.protocol';

export interface SqliteEventStoreOptions {
  /** Path of the database file; its directory (0700) and the file (0600) are created when missing; an existing file is tightened to 0600. */
  file: string;
  logger?: Logger;
  /** Run `PRAGMA quick_check` at open (appends wait for it). Default true. */
  integrityCheck?: boolean;
}

/** Counters since open (for tests and metrics). */
export interface SqliteEventStoreStats {
  /** Appends acknowledged (committed). */
  appends: number;
  /** Events in those appends. */
  events: number;
  /** Write transactions committed (each holds one or more appends: group commit). */
  transactions: number;
  /** Appends rejected with WrongExpectedRevisionError. */
  conflicts: number;
  /** Most appends written in one transaction. */
  largestBatch: number;
  /** Appends sent and not yet answered. */
  pending: number;
  subscriptions: number;
}

/** The writer connection's settings, as it reported them at open. */
export interface SqliteWriterSettings {
  journalMode: string;
  /** PRAGMA synchronous: 2 = FULL. */
  synchronous: number;
  schemaVersion: number;
}

interface Pending {
  stream: string;
  expected: ExpectedRevision;
  events: number;
  resolve(result: AppendResult): void;
  reject(error: Error): void;
}

const WORKER_SCRIPT = path.join(__dirname, 'sqlite.writer.worker.js');
const CHECK_SCRIPT = path.join(__dirname, 'sqlite.check.worker.js');
/** quick_check(N): the integrity check reports at most this many problems. */
const CHECK_MAX_PROBLEMS = 10;
/** Events one scavenge transaction deletes (appends wait at most one such transaction). */
export const SCAVENGE_BATCH = 250;

/** sqlite result codes that mean the storage failed (not the caller's request). */
const STORAGE_ERRORS = /^SQLITE_(FULL|IOERR|CORRUPT|NOTADB|READONLY|CANTOPEN|BUSY|LOCKED|NOMEM|PERM|PROTOCOL|NOLFS|AUTH)/;

function isStorageError(code: string | undefined): boolean {
  return code !== undefined && STORAGE_ERRORS.test(code);
}

/** A storage error of a read as EventStoreUnavailableError (with sqlite's code); others unchanged. */
function readError(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  if (error instanceof Database.SqliteError && typeof code === 'string') {
    return new EventStoreUnavailableError(`event store read failed: ${code}: ${error.message}`, { cause: error });
  }
  return error;
}

export class SqliteEventStore implements EventStore {
  static async open(options: SqliteEventStoreOptions): Promise<SqliteEventStore> {
    const file = path.resolve(options.file);
    // The caller names the component (openEventStore gives `event-store`).
    const logger = options.logger ?? silentLogger;
    // Owner-only: the events hold password hashes. sqlite gives -wal and -shm the file's mode.
    // A missing directory is created 0700; an existing one is the caller's (the data directory is
    // secured by createApp), never chmod'ed here.
    ensurePrivateDir(path.dirname(file), logger, { tightenExisting: false });
    ensurePrivateFile(file, logger);
    for (const suffix of ['-wal', '-shm', '-journal']) tightenIfExists(file + suffix, logger);
    const workerData: WriterOptions = { file };
    const worker = new Worker(WORKER_SCRIPT, { workerData });
    let settings: SqliteWriterSettings;
    try {
      settings = await new Promise<SqliteWriterSettings>((resolve, reject) => {
        const done = (): void => {
          worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        };
        const onMessage = (m: FromWriter): void => {
          if (m.t !== 'ready') return;
          done();
          resolve({ journalMode: m.journalMode, synchronous: m.synchronous, schemaVersion: m.schemaVersion });
        };
        const onError = (err: Error): void => {
          done();
          reject(err);
        };
        const onExit = (code: number): void => {
          done();
          reject(new Error(`writer exited with code ${code} while opening`));
        };
        worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      });
    } catch (err) {
      await worker.terminate();
      throw new EventStoreUnavailableError(`cannot open event store ${file}: ${(err as Error).message}`, { cause: err });
    }
    let reader: Database.Database;
    try {
      reader = new Database(file, { fileMustExist: true });
      reader.pragma('query_only = ON');
      reader.pragma('busy_timeout = 250');
    } catch (err) {
      await worker.terminate();
      throw new EventStoreUnavailableError(`cannot open event store ${file}: ${(err as Error).message}`, { cause: err });
    }
    const store = new SqliteEventStore(file, worker, reader, settings, logger);
    if (options.integrityCheck !== false) store.startIntegrityCheck();
    else store.integrity = Promise.resolve({ status: 'skipped' });
    return store;
  }

  private state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | undefined;
  private writerError: EventStoreUnavailableError | undefined;
  private readonly exited: Promise<number>;
  private readonly pending = new Map<number, Pending>();
  private readonly scavenges = new Map<number, { resolve(r: { deleted: number }): void; reject(e: Error): void }>();
  private outbox: AppendRequest[] = [];
  private flushScheduled = false;
  private nextRid = 1;
  private drained: (() => void) | undefined;
  private readonly subscriptions = new Set<SqliteSubscription>();
  private readonly queries: EventQueries;
  private readonly streamStatement: Database.Statement;
  private readonly counters = { appends: 0, events: 0, transactions: 0, conflicts: 0, largestBatch: 0 };
  private integrity: Promise<IntegrityReport> | undefined;
  /** While the integrity check runs, appends are held (queued, not written). */
  private checking = false;
  private checkWorker: Worker | undefined;
  private integrityError: EventStoreUnavailableError | undefined;

  private constructor(
    readonly file: string,
    private readonly worker: Worker,
    private readonly reader: Database.Database,
    private readonly writerSettings: SqliteWriterSettings,
    private readonly logger: Logger,
  ) {
    this.queries = new EventQueries(reader);
    this.streamStatement = reader
      .prepare(`SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`)
      .raw(true);
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.on('message', (m: FromWriter) => this.onWriterMessage(m));
    worker.on('error', (err) => this.writerStopped(err));
    worker.on('exit', (code) => {
      if (this.state === 'open' || this.pending.size > 0) this.writerStopped(new Error(`writer exited with code ${code}`));
    });
    worker.unref(); // referenced only while appends are in flight (see updateRef)
  }

  // ---- appends ------------------------------------------------------------------------------

  append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (this.state !== 'open') return Promise.reject(this.unavailable());
    if (this.writerError) return Promise.reject(this.writerError);
    if (this.integrityError) return Promise.reject(this.integrityError);
    let request: AppendRequest;
    try {
      request = { rid: this.nextRid++, stream, expected, events: toRows(stream, events, expected) };
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.set(request.rid, { stream, expected, events: events.length, resolve, reject });
      this.outbox.push(request);
      this.updateRef();
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush()); // appends of this tick travel in one message
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0 || this.writerError || this.checking) return;
    const requests = this.outbox;
    this.outbox = [];
    this.post({ t: 'append', requests });
  }

  private post(message: ToWriter): void {
    this.worker.postMessage(message);
  }

  // ---- retention ----------------------------------------------------------------------------

  /**
   * Deletes the events of `rule.streamPrefix`'s streams written more than `maxAgeSeconds` before
   * `now` (by their metadata timestamp), in batches of SCAVENGE_BATCH in the writer thread between
   * appends; never the last event of a stream. Only `boot-*` streams may expire (the table's
   * trigger refuses any other delete). Resolves with how many were deleted.
   */
  applyRetention(rule: RetentionRule, now: Date = new Date()): Promise<{ deleted: number }> {
    if (this.state !== 'open') return Promise.reject(this.unavailable());
    if (this.writerError) return Promise.reject(this.writerError);
    if (!EXPIRING_STREAM_PREFIXES.some((p) => rule.streamPrefix.startsWith(p)) || rule.streamPrefix.length === 0) {
      return Promise.reject(
        new TypeError(`no retention for streams ${JSON.stringify(rule.streamPrefix)}: only ${EXPIRING_STREAM_PREFIXES.join(', ')}`),
      );
    }
    if (!(rule.maxAgeSeconds > 0)) return Promise.reject(new RangeError(`maxAgeSeconds must be positive: ${rule.maxAgeSeconds}`));
    const before = new Date(now.getTime() - rule.maxAgeSeconds * 1000).toISOString();
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      this.scavenges.set(rid, { resolve, reject });
      this.updateRef();
      this.post({ t: 'scavenge', rid, prefix: rule.streamPrefix, before, batch: SCAVENGE_BATCH });
    });
  }

  private onWriterMessage(m: FromWriter): void {
    if (m.t === 'scavenged') {
      const s = this.scavenges.get(m.rid);
      this.scavenges.delete(m.rid);
      if (m.error) {
        this.logger.error('boot retention scavenge failed', { error: m.error, code: m.code, deleted: m.deleted });
        s?.reject(
          isStorageError(m.code)
            ? new EventStoreUnavailableError(`scavenge failed: ${m.code}: ${m.error}`)
            : new Error(`scavenge failed: ${m.error}`),
        );
      } else s?.resolve({ deleted: m.deleted });
      this.afterAnswers();
      return;
    }
    if (m.t === 'committed') {
      this.counters.transactions++;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, m.outcomes.length);
      let wrote = false;
      for (const o of m.outcomes) {
        const p = this.pending.get(o.rid);
        if (!p) continue;
        this.pending.delete(o.rid);
        if (o.ok) {
          wrote = true;
          this.counters.appends++;
          this.counters.events += p.events;
          p.resolve({ revision: o.revision, position: o.position });
        } else if (o.conflict) {
          this.counters.conflicts++;
          p.reject(new WrongExpectedRevisionError(p.stream, p.expected, o.actual));
        } else if (isStorageError(o.code)) {
          p.reject(new EventStoreUnavailableError(`append to stream ${p.stream} failed: ${o.code}: ${o.message}`));
        } else {
          p.reject(new Error(`append to stream ${p.stream} failed: ${o.message}`));
        }
      }
      this.afterAnswers();
      if (wrote) for (const sub of this.subscriptions) sub.notify();
    } else if (m.t === 'failed') {
      this.logger.error('event store commit failed', { message: m.message, code: m.code, appends: m.rids.length });
      const error = new EventStoreUnavailableError(`event store commit failed: ${m.code ? `${m.code}: ` : ''}${m.message}`);
      for (const rid of m.rids) {
        const p = this.pending.get(rid);
        this.pending.delete(rid);
        p?.reject(error);
      }
      this.afterAnswers();
    }
  }

  private afterAnswers(): void {
    this.updateRef();
    if (this.pending.size === 0) {
      const drained = this.drained;
      this.drained = undefined;
      drained?.();
    }
  }

  /** The worker keeps the process alive only while it owes answers. */
  private updateRef(): void {
    if (this.pending.size > 0 || this.scavenges.size > 0) this.worker.ref();
    else this.worker.unref();
  }

  private writerStopped(cause: Error): void {
    if (this.writerError) return;
    this.writerError = new EventStoreUnavailableError(`event store writer stopped: ${cause.message}`, { cause });
    this.logger.error('event store writer stopped', { error: cause });
    this.outbox = [];
    for (const p of this.pending.values()) p.reject(this.writerError);
    this.pending.clear();
    for (const s of this.scavenges.values()) s.reject(this.writerError);
    this.scavenges.clear();
    this.afterAnswers();
  }

  // ---- integrity ----------------------------------------------------------------------------

  /** The start-up quick_check: passed, failed (appends refused for good), or skipped. */
  integrityCheck(): Promise<IntegrityReport> {
    return this.integrity ?? Promise.resolve({ status: 'skipped' });
  }

  private startIntegrityCheck(): void {
    this.checking = true;
    const workerData: CheckOptions = { file: this.file, maxProblems: CHECK_MAX_PROBLEMS };
    const worker = new Worker(CHECK_SCRIPT, { workerData });
    worker.unref(); // never keeps the process alive; pending appends keep the writer referenced
    this.checkWorker = worker;
    this.integrity = new Promise<CheckResult | null>((resolve) => {
      worker.once('message', resolve);
      worker.once('error', (error) => resolve({ ok: false, ms: 0, problems: [`the check could not run: ${error.message}`] }));
      // Stopped by close() (nobody waited for it), or it died: then say so.
      worker.once('exit', () =>
        resolve(this.state === 'open' ? { ok: false, ms: 0, problems: ['the check stopped before it finished'] } : null),
      );
    }).then((result) => this.integrityDone(result));
  }

  private integrityDone(result: CheckResult | null): IntegrityReport {
    this.checkWorker = undefined;
    this.checking = false;
    if (result === null) return { status: 'skipped' };
    if (result.ok) {
      this.logger.info('event store integrity check passed', { check: 'quick_check', ms: result.ms });
      this.flush();
      return { status: 'passed', ms: result.ms };
    }
    const detail = result.problems.join('; ');
    this.logger.error('event store failed its integrity check: appends are refused', {
      check: 'quick_check',
      ms: result.ms,
      problems: result.problems,
    });
    this.integrityError = new EventStoreUnavailableError(`event store ${this.file} failed its integrity check (quick_check): ${detail}`);
    for (const request of this.outbox) {
      const p = this.pending.get(request.rid);
      this.pending.delete(request.rid);
      p?.reject(this.integrityError);
    }
    this.outbox = [];
    this.afterAnswers();
    return { status: 'failed', ms: result.ms, detail };
  }

  // ---- reads --------------------------------------------------------------------------------

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertReadable();
    const from = options.fromRevision ?? 0;
    checkCount('fromRevision', from);
    if (options.limit !== undefined) checkCount('limit', options.limit);
    try {
      return toRecordedAll(this.streamStatement.all(stream, from, options.limit ?? -1) as unknown[][]);
    } catch (error) {
      throw readError(error);
    }
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertReadable();
    const query = toPageQuery(options);
    try {
      return toRecordedAll(this.queries.page(query));
    } catch (error) {
      throw readError(error);
    }
  }

  async headPosition(): Promise<number> {
    this.assertReadable();
    try {
      return this.queries.headPosition();
    } catch (error) {
      throw readError(error);
    }
  }

  subscribe(options: SubscribeOptions, handlers: SubscriptionHandlers): Subscription {
    this.assertReadable();
    const batchSize = options.batchSize ?? DEFAULT_READ_LIMIT;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    if (options.after !== undefined) checkCount('after', options.after);
    const source = {
      headPosition: () => {
        try {
          return this.queries.headPosition();
        } catch (error) {
          throw readError(error);
        }
      },
      page: (after: number, upTo: number, filter: SubscribeOptions['filter'], limit: number) => {
        try {
          return toRecordedAll(this.queries.page({ after, before: upTo + 1, limit, backwards: false, filter }));
        } catch (error) {
          throw readError(error);
        }
      },
    };
    const sub = new SqliteSubscription(
      source,
      options.filter,
      batchSize,
      handlers,
      this.logger,
      (s) => this.subscriptions.delete(s),
      options.after,
    );
    this.subscriptions.add(sub);
    return sub;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** Flushes pending appends, stops subscriptions, closes the writer and the reader. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    if (this.checking && this.pending.size === 0) void this.checkWorker?.terminate(); // nobody waits for it
    for (const sub of [...this.subscriptions]) await sub.close();
    if (!this.writerError) {
      this.flush();
      if (this.pending.size > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    }
    this.reader.close();
    if (!this.writerError) {
      this.worker.ref();
      this.post({ t: 'close' });
      const code = await this.exited;
      if (code !== 0) this.logger.warn('event store writer exited uncleanly', { code });
    } else {
      await this.worker.terminate();
    }
    this.state = 'closed';
  }

  stats(): SqliteEventStoreStats {
    return { ...this.counters, pending: this.pending.size, subscriptions: this.subscriptions.size };
  }

  settings(): SqliteWriterSettings {
    return { ...this.writerSettings };
  }

  private assertReadable(): void {
    if (this.state !== 'open') throw this.unavailable();
  }

  private unavailable(): EventStoreUnavailableError {
    return new EventStoreUnavailableError(`event store ${this.file} is closed`);
  }
}

function toRows(stream: string, events: NewEvent[], expected: ExpectedRevision): EventRow[] {
  checkAppend(stream, events);
  if (typeof expected === 'number') checkCount('expected revision', expected);
  else if (expected !== 'any' && expected !== 'no_stream' && expected !== 'stream_exists') {
    throw new TypeError(`append to ${stream}: invalid expected revision ${String(expected)}`);
  }
  return events.map((e): EventRow => {
    const m = e.metadata;
    const data = JSON.stringify(e.data);
    return [
      e.id ?? randomUUID(),
      e.type,
      data === undefined ? null : data,
      m.actor,
      m.correlationId,
      m.causationId ?? null,
      m.timestamp,
      m.schemaVersion,
    ];
  });
}
