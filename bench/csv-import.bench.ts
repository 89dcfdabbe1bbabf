/**
 * How long reading an import file holds the event loop (the CSV is read on the main thread before
 * its rows are written, four at a time, with yields): bramble's field reader against csv-parse
 * record by record (what it replaced; same results, see test/core/domain/csv-fields.spec.ts), on a
 * class list of 10,000 users and on hostile files at the size limit.
 *   node dist/bench/csv-import.bench.js
 * Target: no file the limits admit holds the loop 100 ms or more.
 */
import { parse } from 'csv-parse/sync';
import { MAX_IMPORT_CHARS, MAX_IMPORT_ROWS, parseRecord, readCsvRows } from '../src/core/domain/client/client-import';

function ms(run: () => unknown): number {
  const best: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = process.hrtime.bigint();
    try {
      run();
    } catch {
      // a refused file counts with the time it took to refuse it
    }
    best.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return Math.min(...best);
}

/** One record as csv-parse reads it, the way client-import.ts used it. */
function csvParseRecord(text: string): string[] {
  try {
    return (parse(text, { relax_column_count: true, trim: false }) as string[][])[0] ?? [];
  } catch {
    return (parse(text, { relax_column_count: true, trim: true }) as string[][])[0] ?? [];
  }
}

const classList = [
  'username,password,fullName,groups',
  ...Array.from({ length: MAX_IMPORT_ROWS }, (_, i) => `pupil${i},Secret-Pass-${i},Pupil Number ${i},pupils;class-${i % 30}`),
].join('\n');
const longField = 'a'.repeat(MAX_IMPORT_CHARS);

const rows: Array<[string, number, number | null]> = [
  [
    `class list, ${MAX_IMPORT_ROWS} rows (${classList.length} chars)`,
    ms(() => readCsvRows(classList, 'username', [1])),
    ms(() => classList.split('\n').map(csvParseRecord)),
  ],
  [`one field of ${MAX_IMPORT_CHARS} chars`, ms(() => parseRecord(longField, new Set())), ms(() => csvParseRecord(longField))],
];
const hostile: Record<string, string> = {
  'line breaks': '\n'.repeat(MAX_IMPORT_CHARS),
  'space lines': ' \n'.repeat(MAX_IMPORT_CHARS / 2),
  'comment lines': '#\n'.repeat(MAX_IMPORT_CHARS / 2),
  commas: ','.repeat(MAX_IMPORT_CHARS),
  quotes: '"'.repeat(MAX_IMPORT_CHARS),
  'quoted line breaks': '"\n'.repeat(MAX_IMPORT_CHARS / 2),
  'bad rows': 'x"\n'.repeat(MAX_IMPORT_CHARS / 3),
  'astral characters': '💥'.repeat(MAX_IMPORT_CHARS / 2),
};
for (const [what, csv] of Object.entries(hostile))
  rows.push([`hostile: ${what}, ${csv.length} chars`, ms(() => readCsvRows(csv, 'username', [1])), null]);

const width = Math.max(...rows.map(([what]) => what.length));
process.stdout.write(`${'file'.padEnd(width)}  bramble (ms)  csv-parse per record (ms)\n`);
for (const [what, ours, theirs] of rows) {
  process.stdout.write(
    `${what.padEnd(width)}  ${ours.toFixed(1).padStart(12)}  ${theirs === null ? '' : theirs.toFixed(1).padStart(25)}\n`,
  );
}
const worst = Math.max(...rows.map(([, ours]) => ours));
process.stdout.write(`longest hold of the event loop: ${worst.toFixed(1)} ms (target < 100 ms)\n`);
