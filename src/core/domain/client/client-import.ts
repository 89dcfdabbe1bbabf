import { parse } from 'csv-parse/sync';
import { DomainError, ErrorCode } from '../shared/domain-error';
import { validateImageId } from '../image/image.decider';
import { normalizeMac, validateClientName } from './mac';

export type CsvRowError = { line: number; ok: false; code: string; message: string };

/** One data row of an import file: its cells and the line it starts on. */
export type CsvRow = { line: number; ok: true; cells: string[] };

/** What csv-parse reports, in words that never quote the row (it may hold a password). */
const CSV_PROBLEMS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is not closed',
  INVALID_OPENING_QUOTE: 'a quote inside an unquoted field (quote the whole field and double inner quotes)',
  CSV_INVALID_CLOSING_QUOTE: 'unexpected text after a closing quote',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'unexpected text after a closing quote',
};

function csvError(line: number, code: string | undefined): CsvRowError {
  const problem = (code && CSV_PROBLEMS[code]) || 'malformed CSV row';
  return { line, ok: false, code: ErrorCode.VALIDATION, message: `csv: ${problem}` };
}

/** One record of the file as text, before its fields are parsed. */
type RawRecord = { line: number; text: string } | { line: number; unclosedQuote: true };

/**
 * Splits a file into records the way RFC 4180 does: a line break ends a record unless it is
 * inside a quoted field (a `"` at the start of a field opens one, `""` inside it is a quote).
 * Splitting first keeps a malformed row from swallowing the rows after it: each record is then
 * parsed on its own. A quote left open at the end of the file is reported on the line it opened,
 * and the lines after that one are read again as records of their own.
 */
function splitRecords(text: string): RawRecord[] {
  const records: RawRecord[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  let recordStart = 0;
  let recordLine = 1;
  let inQuotes = false;
  let fieldStart = true;
  /** Index just after the first line break of the current record (to resume after an open quote). */
  let afterFirstBreak = -1;
  const lineBreakLength = (at: number): number => (text[at] === '\r' && text[at + 1] === '\n' ? 2 : 1);
  while (i <= n) {
    if (i === n) {
      if (inQuotes) {
        records.push({ line: recordLine, unclosedQuote: true });
        if (afterFirstBreak < 0) break;
        i = recordStart = afterFirstBreak;
        line = recordLine = recordLine + 1;
        inQuotes = false;
        fieldStart = true;
        afterFirstBreak = -1;
        continue;
      }
      if (recordStart < n) records.push({ line: recordLine, text: text.slice(recordStart) });
      break;
    }
    const c = text[i];
    if (c === '\r' || c === '\n') {
      const length = lineBreakLength(i);
      if (inQuotes) {
        if (afterFirstBreak < 0) afterFirstBreak = i + length;
        i += length;
        line++;
        continue;
      }
      records.push({ line: recordLine, text: text.slice(recordStart, i) });
      i += length;
      line++;
      recordStart = i;
      recordLine = line;
      fieldStart = true;
      afterFirstBreak = -1;
      continue;
    }
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') i++;
        else inQuotes = false;
      }
    } else if (c === '"' && fieldStart) {
      inQuotes = true;
      fieldStart = false;
    } else if (c === ',') {
      fieldStart = true;
    } else if (c !== ' ' && c !== '\t') {
      fieldStart = false;
    }
    i++;
  }
  return records;
}

/**
 * The fields of one record. Spaces around a field are trimmed, except in the `verbatim` columns
 * (a password is taken exactly as written); quoted text is always kept as it is. A record with
 * spaces around a quoted field is read again with csv-parse's trimming (unquoted fields of such
 * a record lose their surrounding spaces, the verbatim ones included).
 */
function parseRecord(text: string, verbatim: ReadonlySet<number>): string[] {
  try {
    const [cells = []] = parse(text, { relax_column_count: true, trim: false }) as string[][];
    return cells.map((cell, i) => (verbatim.has(i) ? cell : cell.trim()));
  } catch {
    const [cells = []] = parse(text, { relax_column_count: true, trim: true }) as string[][];
    return cells;
  }
}

/**
 * Reads an import file into rows: RFC 4180 quoting, any number of columns per row, blank lines
 * and `#` comment lines skipped, an optional header row (first cell equal to `headerFirstCell`,
 * any case) dropped. A malformed row becomes an error result with its line number; the rows after
 * it still count. Shared by the client and user imports; `verbatimColumns` are not trimmed.
 */
export function readCsvRows(csv: string, headerFirstCell: string, verbatimColumns: readonly number[] = []): Array<CsvRow | CsvRowError> {
  const verbatim = new Set(verbatimColumns);
  const text = (typeof csv === 'string' ? csv : '').replace(/^\uFEFF/, '');
  const rows: Array<CsvRow | CsvRowError> = [];
  let first = true;
  for (const record of splitRecords(text)) {
    if ('unclosedQuote' in record) {
      first = false;
      rows.push(csvError(record.line, 'CSV_QUOTE_NOT_CLOSED'));
      continue;
    }
    const trimmed = record.text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    let cells: string[];
    try {
      cells = parseRecord(record.text, verbatim);
    } catch (error) {
      first = false;
      rows.push(csvError(record.line, (error as { code?: string }).code));
      continue;
    }
    if (cells.every((cell) => cell === '')) continue;
    const isHeader = first && cells[0].toLowerCase() === headerFirstCell.toLowerCase();
    first = false;
    if (isHeader) continue;
    rows.push({ line: record.line, ok: true, cells });
  }
  return rows;
}

/** Runs `fn`, turning a DomainError into a row error. */
export function rowResult<T>(line: number, fn: () => T): T | CsvRowError {
  try {
    return fn();
  } catch (error) {
    if (error instanceof DomainError) return { line, ok: false, code: error.code, message: error.message };
    throw error;
  }
}

export type ClientImportRow = { line: number; ok: true; mac: string; name: string | null; imageId: string | null } | CsvRowError;

/**
 * Parses a list of clients to pre-register: `mac[,name[,imageId]]` per line (see readCsvRows for
 * the format). MACs come back normalised; a MAC already listed on an earlier line is an error.
 * Whether an image id exists is for the command handler to check.
 */
export function parseClientsCsv(csv: string): ClientImportRow[] {
  const seen = new Map<string, number>();
  return readCsvRows(csv, 'mac').map((row): ClientImportRow => {
    if (!row.ok) return row;
    const { line, cells } = row;
    return rowResult(line, () => {
      if (cells.slice(3).some((cell) => cell !== '')) {
        throw new DomainError(ErrorCode.VALIDATION, 'row: too many columns (expected mac,name,imageId)', 'row');
      }
      const mac = normalizeMac(cells[0]);
      const name = cells[1]?.trim() || null;
      const imageId = cells[2]?.trim() || null;
      if (name !== null) validateClientName(name);
      if (imageId !== null) validateImageId(imageId);
      const earlier = seen.get(mac);
      if (earlier !== undefined) {
        throw new DomainError(ErrorCode.VALIDATION, `mac: already listed on line ${earlier}`, 'mac');
      }
      seen.set(mac, line);
      return { line, ok: true as const, mac, name, imageId };
    });
  });
}
