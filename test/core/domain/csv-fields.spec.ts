/**
 * The import files' field reader (client-import.ts) against csv-parse, the library it replaced for
 * speed: on random records built from the characters that matter (quotes, commas, spaces, tabs),
 * both give the same cells or the same problem. And the limits that keep a hostile file from
 * holding the event loop: characters, rows and fields.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { MAX_IMPORT_CHARS, MAX_IMPORT_ROWS, parseRecord, readCsvRows } from '../../../src/core/domain/client/client-import';
import { Rng } from '../../support/rng';

/** What client-import.ts did with csv-parse: strict first, trimming all but the verbatim columns; else csv-parse's trim. */
function withCsvParse(text: string, verbatim: ReadonlySet<number>): string[] | string {
  try {
    const [cells = []] = parse(text, { relax_column_count: true, trim: false }) as string[][];
    return cells.map((cell, i) => (verbatim.has(i) ? cell : cell.trim()));
  } catch {
    try {
      const [cells = []] = parse(text, { relax_column_count: true, trim: true }) as string[][];
      return cells;
    } catch (error) {
      return (error as { code: string }).code;
    }
  }
}

describe('import files: the field reader', () => {
  it('gives what csv-parse gives on 50,000 random records (cells, or the same problem)', () => {
    const rng = new Rng(0x0c5f1e1d);
    const alphabet = ['a', 'b', ' ', '\t', '"', '"', '"', ',', ',', 'é', '💥', '\u00a0', '\u3000'];
    const verbatimSets = [new Set<number>(), new Set([1])];
    let problems = 0;
    for (let i = 0; i < 50_000; i++) {
      const text = Array.from({ length: 1 + rng.int(14) }, () => rng.pick(alphabet)).join('');
      const verbatim = rng.pick(verbatimSets);
      const expected = withCsvParse(text, verbatim);
      if (typeof expected === 'string') problems++;
      assert.deepEqual(parseRecord(text, verbatim), expected, `record ${JSON.stringify(text)}`);
    }
    assert.ok(problems > 5000 && problems < 45_000, `both kinds of record were tried (${problems} with a problem)`);
  });

  it('quoted fields over several lines, and doubled quotes, as csv-parse reads them', () => {
    for (const text of ['"a\nb",c', '"a\r\nb" , c', 'x,"say ""hi""\n"', '"",""""', ' "a" ,"b\n"']) {
      assert.deepEqual(parseRecord(text, new Set([1])), withCsvParse(text, new Set([1])), JSON.stringify(text));
    }
  });

  it(`a file over ${MAX_IMPORT_CHARS} characters or ${MAX_IMPORT_ROWS} rows is refused whole: VALIDATION on csv`, () => {
    const refuse = (csv: string): unknown => {
      try {
        readCsvRows(csv, 'username');
      } catch (error) {
        return { code: (error as { code: string }).code, field: (error as { field: string }).field };
      }
      return 'accepted';
    };
    assert.deepEqual(refuse('a'.repeat(MAX_IMPORT_CHARS + 1)), { code: 'VALIDATION', field: 'csv' });
    assert.equal(refuse('a'.repeat(MAX_IMPORT_CHARS)), 'accepted');
    const rows = (n: number): string => Array.from({ length: n }, (_, i) => `u${i},pw`).join('\n');
    assert.equal(
      refuse(`username,password\n# a comment\n\n${rows(MAX_IMPORT_ROWS)}`),
      'accepted',
      'the header, comments and blank lines do not count',
    );
    assert.deepEqual(refuse(rows(MAX_IMPORT_ROWS + 1)), { code: 'VALIDATION', field: 'csv' });
  });

  it('a row of more than 64 fields is a row error; the rows after it still count', () => {
    const rows = readCsvRows(`${'x,'.repeat(64)}x\nalice,pw\n`, 'username');
    assert.deepEqual(rows, [
      { line: 1, ok: false, code: 'VALIDATION', message: 'csv: more than 64 fields' },
      { line: 2, ok: true, cells: ['alice', 'pw'] },
    ]);
  });
});
