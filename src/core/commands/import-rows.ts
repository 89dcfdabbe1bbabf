import type { CsvRowError } from '../domain/client/client-import';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';
import { EventStoreUnavailableError } from '../event-store/event-store.port';

export interface ImportRowResult {
  line: number;
  /** The row's key (MAC or username) when it could be read. */
  key: string | null;
  ok: boolean;
  code: string | null;
  message: string | null;
}

/**
 * Writes the rows of an import, `concurrency` at a time, and answers per row. A row the domain
 * refuses (a bad value, a user that exists) fails alone. A failure of the store (full disk,
 * unreachable server) stops the import: no new row is started, the rows in flight finish, and only
 * then does the answer go out, saying which rows were written, which failed and which were never
 * tried (IMPORT_ABORTED). Nothing is written after the answer.
 */
export async function importRows<R extends { line: number; ok: true }>(
  rows: Array<R | CsvRowError>,
  keyOf: (row: R) => string,
  concurrency: number,
  write: (row: R) => Promise<void>,
): Promise<ImportRowResult[]> {
  const results: (ImportRowResult | undefined)[] = new Array(rows.length);
  let next = 0;
  let stopped: { line: number; reason: string } | null = null;
  const worker = async (): Promise<void> => {
    while (!stopped && next < rows.length) {
      const i = next++;
      const row = rows[i];
      if (!row.ok) {
        results[i] = { line: row.line, key: null, ok: false, code: row.code, message: row.message };
        continue;
      }
      const key = keyOf(row);
      try {
        await write(row);
        results[i] = { line: row.line, key, ok: true, code: null, message: null };
      } catch (error) {
        if (error instanceof DomainError) {
          results[i] = { line: row.line, key, ok: false, code: error.code, message: error.message };
          continue;
        }
        const unavailable = error instanceof EventStoreUnavailableError;
        const reason = unavailable ? 'the event store is unavailable' : 'an internal error';
        stopped ??= { line: row.line, reason };
        results[i] = {
          line: row.line,
          key,
          ok: false,
          code: unavailable ? ErrorCode.EVENT_STORE_UNAVAILABLE : ErrorCode.INTERNAL,
          message: `not written: ${reason}`,
        };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return rows.map((row, i) => {
    const done = results[i];
    if (done) return done;
    if (!row.ok) return { line: row.line, key: null, ok: false, code: row.code, message: row.message };
    return {
      line: row.line,
      key: keyOf(row),
      ok: false,
      code: ErrorCode.IMPORT_ABORTED,
      message: `not written: the import stopped at line ${stopped?.line} (${stopped?.reason})`,
    };
  });
}
