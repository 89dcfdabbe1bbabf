import { DomainError, ErrorCode, validationError } from '../shared/domain-error';
import { validateImageId } from '../image/image.decider';
import { normalizeMac, validateClientName } from './mac';

export type CsvRowError = { line: number; ok: false; code: string; message: string };

/** One data row of an import file: its cells and the line it starts on. */
export type CsvRow = { line: number; ok: true; cells: string[] };

/** An import holds at most this many rows (blank and comment lines not counted): a class list is hundreds. */
export const MAX_IMPORT_ROWS = 10_000;
/** ...and at most this many characters (10,000 rows of a hundred characters). */
export const MAX_IMPORT_CHARS = 1024 * 1024;
/** A record has at most this many fields (an import has three or four columns). */
const MAX_FIELDS = 64;

/** The problems a record can have (csv-parse's codes, which the field reader follows, and one of ours). */
type CsvProblem =
  | 'CSV_QUOTE_NOT_CLOSED'
  | 'INVALID_OPENING_QUOTE'
  | 'CSV_INVALID_CLOSING_QUOTE'
  | 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE'
  | 'TOO_MANY_FIELDS';

/** What is wrong with a record, in words that never quote the row (it may hold a password). */
const CSV_PROBLEMS: Record<CsvProblem, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is not closed',
  INVALID_OPENING_QUOTE: 'a quote inside an unquoted field (quote the whole field and double inner quotes)',
  CSV_INVALID_CLOSING_QUOTE: 'unexpected text after a closing quote',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'unexpected text after a closing quote',
  TOO_MANY_FIELDS: `more than ${MAX_FIELDS} fields`,
};

function csvError(line: number, problem: CsvProblem): CsvRowError {
  return { line, ok: false, code: ErrorCode.VALIDATION, message: `csv: ${CSV_PROBLEMS[problem]}` };
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;

/** What csv-parse's `trim` takes away around a field: white space, the same set as String.prototype.trim. */
const WHITE_SPACE = /\s/;
/** ...but only these (one byte in UTF-8) where it has already begun a field's value (see afterQuotedField). */
const ASCII_WHITE_SPACE = /[ \t\n\r\v\f]/;
const isWhiteSpace = (text: string, at: number, set: RegExp = WHITE_SPACE): boolean => at < text.length && set.test(text[at]);

/** One record of the file as text, before its fields are parsed. */
type RawRecord = { line: number; text: string } | { line: number; unclosedQuote: true };

/**
 * Splits a file into records the way RFC 4180 does: a line break ends a record unless it is
 * inside a quoted field (a `"` at the start of a field, after any white space, opens one; `""`
 * inside it is a quote). An empty line gives no record.
 * Splitting first keeps a malformed row from swallowing the rows after it: each record is then
 * parsed on its own. A quote left open at the end of the file is reported on the line it opened,
 * and the lines after that one are read again as records of their own.
 */
function* splitRecords(text: string): Generator<RawRecord> {
  const n = text.length;
  let i = 0;
  let line = 1;
  let recordStart = 0;
  let recordLine = 1;
  let inQuotes = false;
  let fieldStart = true;
  /** Index just after the first line break of the current record (to resume after an open quote). */
  let afterFirstBreak = -1;
  while (i <= n) {
    if (i === n) {
      if (inQuotes) {
        yield { line: recordLine, unclosedQuote: true };
        if (afterFirstBreak < 0) break;
        i = recordStart = afterFirstBreak;
        line = recordLine = recordLine + 1;
        inQuotes = false;
        fieldStart = true;
        afterFirstBreak = -1;
        continue;
      }
      if (recordStart < n) yield { line: recordLine, text: text.slice(recordStart) };
      break;
    }
    const c = text.charCodeAt(i);
    if (c === CR || c === LF) {
      const length = c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      if (inQuotes) {
        if (afterFirstBreak < 0) afterFirstBreak = i + length;
        i += length;
        line++;
        continue;
      }
      if (i > recordStart) yield { line: recordLine, text: text.slice(recordStart, i) };
      i += length;
      line++;
      recordStart = i;
      recordLine = line;
      fieldStart = true;
      afterFirstBreak = -1;
      continue;
    }
    if (inQuotes) {
      if (c === QUOTE) {
        if (text.charCodeAt(i + 1) === QUOTE) i++;
        else inQuotes = false;
      }
    } else if (c === QUOTE && fieldStart) {
      inQuotes = true;
      fieldStart = false;
    } else if (c === COMMA) {
      fieldStart = true;
    } else if ((c > SPACE && c < 0x7f) || !isWhiteSpace(text, i)) {
      // White space before a quote does not stop it opening the field (the lenient reading skips it).
      fieldStart = false;
    }
    i++;
  }
}

/**
 * Lenient reading after a quoted field closed at `closed`: where the next field starts (the index
 * of its comma, or the end), or the problem, by csv-parse's rules. White space is skipped; a quote
 * after a non-empty value is an opening quote out of place; after an empty one (`""`) it opens the
 * field again, which may then hold only white space up to its closing quote. Where the field
 * already holds something (a value, or a reopened quote), csv-parse skips only one-byte white
 * space: a no-break or ideographic space there is "not trimmable", and so it is here.
 */
function afterQuotedField(text: string, closed: number, empty: boolean): number | CsvProblem {
  const n = text.length;
  // The closing quote counts as one only before a comma, the end, or white space.
  if (closed + 1 < n && text.charCodeAt(closed + 1) !== COMMA && !isWhiteSpace(text, closed + 1)) return 'CSV_INVALID_CLOSING_QUOTE';
  let at = closed + 1;
  for (;;) {
    while (isWhiteSpace(text, at, empty ? WHITE_SPACE : ASCII_WHITE_SPACE)) at++;
    if (at >= n || text.charCodeAt(at) === COMMA) return at;
    if (text.charCodeAt(at) !== QUOTE) return 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE';
    if (!empty) return 'INVALID_OPENING_QUOTE';
    for (at++; ; at++) {
      if (at >= n) return 'CSV_QUOTE_NOT_CLOSED';
      if (text.charCodeAt(at) !== QUOTE) {
        if (!isWhiteSpace(text, at, ASCII_WHITE_SPACE)) return 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE';
        continue;
      }
      if (text.charCodeAt(at + 1) === QUOTE) return 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE';
      if (at + 1 < n && text.charCodeAt(at + 1) !== COMMA && !isWhiteSpace(text, at + 1)) return 'CSV_INVALID_CLOSING_QUOTE';
      at++;
      break;
    }
  }
}

/**
 * The fields of one record (RFC 4180: a field is quoted when it starts with `"`, and `""` inside
 * it is a quote), in one pass. `lenient` is csv-parse's `trim`: white space is allowed around a
 * quoted field and taken off unquoted ones. Hand-written rather than csv-parse, which gives the
 * same cells and problems (test/core/domain/csv-fields.spec.ts compares them) but costs about
 * 30 µs a record and 0.4 µs a character of a long field: 1.3 s of blocked event loop for one 3 MB
 * field (`node dist/bench/csv-import.bench.js`).
 */
function scanFields(text: string, lenient: boolean): string[] | CsvProblem {
  const cells: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    let start = i;
    if (lenient) while (isWhiteSpace(text, start)) start++;
    let end: number;
    if (start < n && text.charCodeAt(start) === QUOTE) {
      let k = start + 1;
      let escaped = false;
      for (;;) {
        if (k >= n) return 'CSV_QUOTE_NOT_CLOSED';
        if (text.charCodeAt(k) === QUOTE) {
          if (text.charCodeAt(k + 1) !== QUOTE) break;
          escaped = true;
          k += 2;
        } else k++;
      }
      const value = escaped ? text.slice(start + 1, k).replace(/""/g, '"') : text.slice(start + 1, k);
      if (lenient) {
        const next = afterQuotedField(text, k, value === '');
        if (typeof next === 'string') return next;
        end = next;
      } else {
        end = k + 1;
        if (end < n && text.charCodeAt(end) !== COMMA) return 'CSV_INVALID_CLOSING_QUOTE';
      }
      cells.push(value);
    } else {
      end = i;
      while (end < n && text.charCodeAt(end) !== COMMA) {
        if (text.charCodeAt(end) === QUOTE) return 'INVALID_OPENING_QUOTE';
        end++;
      }
      cells.push(lenient ? text.slice(i, end).trim() : text.slice(i, end));
    }
    if (end >= n) return cells;
    if (cells.length >= MAX_FIELDS) return 'TOO_MANY_FIELDS';
    i = end + 1;
  }
}

/**
 * The fields of one record. Spaces around a field are trimmed, except in the `verbatim` columns
 * (a password is taken exactly as written). A record with spaces around a quoted field is read
 * again leniently (its unquoted fields lose their surrounding spaces, the verbatim ones included).
 */
export function parseRecord(text: string, verbatim: ReadonlySet<number>): string[] | CsvProblem {
  const strict = scanFields(text, false);
  if (typeof strict !== 'string') return strict.map((cell, i) => (verbatim.has(i) ? cell : cell.trim()));
  return scanFields(text, true);
}

/**
 * Reads an import file into rows: RFC 4180 quoting, any number of columns per row, blank lines
 * and `#` comment lines skipped, an optional header row (first cell equal to `headerFirstCell`,
 * any case) dropped. A malformed row becomes an error result with its line number; the rows after
 * it still count. Shared by the client and user imports; `verbatimColumns` are not trimmed.
 * A file over MAX_IMPORT_CHARS characters or MAX_IMPORT_ROWS rows is refused whole (VALIDATION on
 * `csv`), before its rows are checked.
 */
export function readCsvRows(csv: string, headerFirstCell: string, verbatimColumns: readonly number[] = []): Array<CsvRow | CsvRowError> {
  const verbatim = new Set(verbatimColumns);
  const text = (typeof csv === 'string' ? csv : '').replace(/^\uFEFF/, '');
  if (text.length > MAX_IMPORT_CHARS) throw validationError('csv', `over ${MAX_IMPORT_CHARS} characters: split the list`);
  const rows: Array<CsvRow | CsvRowError> = [];
  const add = (row: CsvRow | CsvRowError): void => {
    if (rows.length >= MAX_IMPORT_ROWS) throw validationError('csv', `more than ${MAX_IMPORT_ROWS} rows: split the list`);
    rows.push(row);
  };
  let first = true;
  for (const record of splitRecords(text)) {
    if ('unclosedQuote' in record) {
      first = false;
      add(csvError(record.line, 'CSV_QUOTE_NOT_CLOSED'));
      continue;
    }
    const trimmed = record.text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const cells = parseRecord(record.text, verbatim);
    if (typeof cells === 'string') {
      first = false;
      add(csvError(record.line, cells));
      continue;
    }
    if (cells.every((cell) => cell === '')) continue;
    const isHeader = first && cells[0].toLowerCase() === headerFirstCell.toLowerCase();
    first = false;
    if (isHeader) continue;
    add({ line: record.line, ok: true, cells });
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
