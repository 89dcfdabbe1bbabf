import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClientsCsv } from '../../../src/core/domain/client/client-import';

describe('parseClientsCsv', () => {
  it('reads mac, name and image id, normalising the MAC', () => {
    assert.deepEqual(parseClientsCsv('DC-A6-32-01-36-C2,pi-01,bookworm\n'), [
      { line: 1, ok: true, mac: 'dc:a6:32:01:36:c2', name: 'pi-01', imageId: 'bookworm' },
    ]);
  });

  it('name and image id are optional', () => {
    assert.deepEqual(parseClientsCsv('dca6320136c2\ndca6320136c3,pi-03\ndca6320136c4,,img\n'), [
      { line: 1, ok: true, mac: 'dc:a6:32:01:36:c2', name: null, imageId: null },
      { line: 2, ok: true, mac: 'dc:a6:32:01:36:c3', name: 'pi-03', imageId: null },
      { line: 3, ok: true, mac: 'dc:a6:32:01:36:c4', name: null, imageId: 'img' },
    ]);
  });

  it('skips a header row, blank lines and comments, keeping line numbers', () => {
    const csv = ['MAC,Name,ImageId', '', '# room 12', 'dc:a6:32:01:36:c2,pi-01', '   ', 'dc:a6:32:01:36:c3,pi-02'].join('\n');
    const rows = parseClientsCsv(csv);
    assert.deepEqual(
      rows.map((r) => [r.line, r.ok]),
      [
        [4, true],
        [6, true],
      ],
    );
  });

  it('a header is only recognised on the first row', () => {
    const rows = parseClientsCsv('dc:a6:32:01:36:c2\nmac,name\n');
    assert.equal(rows.length, 2);
    assert.equal(rows[1].ok, false);
    assert.equal(rows[1].line, 2);
  });

  it('accepts CRLF line endings, a BOM and spaces around cells', () => {
    const rows = parseClientsCsv('\uFEFFmac,name\r\n dc:a6:32:01:36:c2 , pi-01 \r\n');
    assert.deepEqual(rows, [{ line: 2, ok: true, mac: 'dc:a6:32:01:36:c2', name: 'pi-01', imageId: null }]);
  });

  it('follows RFC 4180 quoting', () => {
    const rows = parseClientsCsv('"dc:a6:32:01:36:c2","pi-01","bookworm"\n');
    assert.deepEqual(rows, [{ line: 1, ok: true, mac: 'dc:a6:32:01:36:c2', name: 'pi-01', imageId: 'bookworm' }]);
  });

  it('a bad row is reported with its line number and the others still count', () => {
    const rows = parseClientsCsv('dc:a6:32:01:36:c2,pi-01\nnot-a-mac,pi-02\ndc:a6:32:01:36:c4,pi_bad\ndc:a6:32:01:36:c5\n');
    assert.equal(rows.length, 4);
    assert.deepEqual(rows[0], { line: 1, ok: true, mac: 'dc:a6:32:01:36:c2', name: 'pi-01', imageId: null });
    assert.ok(!rows[1].ok);
    assert.equal(rows[1].line, 2);
    assert.equal(rows[1].code, 'VALIDATION');
    assert.match(rows[1].message, /^mac: /);
    assert.ok(!rows[2].ok);
    assert.equal(rows[2].line, 3);
    assert.match(rows[2].message, /^name: /);
    assert.deepEqual(rows[3], { line: 4, ok: true, mac: 'dc:a6:32:01:36:c5', name: null, imageId: null });
  });

  it('a malformed quote is a row error, and parsing goes on', () => {
    const rows = parseClientsCsv('dc:a6:32:01:36:c2,pi"01\ndc:a6:32:01:36:c3,pi-03\n');
    assert.equal(rows.length, 2);
    assert.ok(!rows[0].ok);
    assert.equal(rows[0].line, 1);
    assert.match(rows[0].message, /^csv: /);
    assert.deepEqual(rows[1], { line: 2, ok: true, mac: 'dc:a6:32:01:36:c3', name: 'pi-03', imageId: null });
  });

  it('a quoted field over two lines gives the line the row starts on', () => {
    const rows = parseClientsCsv('dc:a6:32:01:36:c2,"pi\n01"\ndc:a6:32:01:36:c3\n');
    assert.equal(rows.length, 2);
    assert.equal(rows[0].line, 1);
    assert.ok(!rows[0].ok, 'a name with a line break is not a hostname');
    assert.deepEqual(rows[1], { line: 3, ok: true, mac: 'dc:a6:32:01:36:c3', name: null, imageId: null });
  });

  it('an unclosed quote is reported on the line it opens, and the lines after it are read again', () => {
    const rows = parseClientsCsv('dc:a6:32:01:36:c2\n"dc:a6:32:01:36:c3,pi\ndc:a6:32:01:36:c4\n');
    assert.deepEqual(rows, [
      { line: 1, ok: true, mac: 'dc:a6:32:01:36:c2', name: null, imageId: null },
      { line: 2, ok: false, code: 'VALIDATION', message: 'csv: a quoted field is not closed' },
      { line: 3, ok: true, mac: 'dc:a6:32:01:36:c4', name: null, imageId: null },
    ]);
  });

  it('quoted fields keep commas and doubled quotes inside them', () => {
    const rows = parseClientsCsv('"dc:a6:32:01:36:c2","pi-01"\n"""x"",y",pi-02\n');
    assert.equal(rows.length, 2);
    assert.equal(rows[0].ok, true);
    assert.ok(!rows[1].ok);
    assert.equal(rows[1].line, 2);
    assert.match(rows[1].message, /^mac: /, 'the whole quoted field ("x",y) is taken as the MAC');
  });

  it('spaces inside quotes around a name are trimmed for clients', () => {
    const rows = parseClientsCsv('"dc:a6:32:01:36:c2" , " pi-01 "\r\n');
    assert.deepEqual(rows, [{ line: 1, ok: true, mac: 'dc:a6:32:01:36:c2', name: 'pi-01', imageId: null }]);
  });

  it('a row of empty cells is skipped like a blank line', () => {
    assert.deepEqual(
      parseClientsCsv(',,\ndc:a6:32:01:36:c2\n').map((r) => r.line),
      [2],
    );
  });

  it('a lone CR ends a line too', () => {
    assert.deepEqual(
      parseClientsCsv('dc:a6:32:01:36:c2\rdc:a6:32:01:36:c3').map((r) => [r.line, r.ok]),
      [
        [1, true],
        [2, true],
      ],
    );
  });

  it('too many columns is a row error; empty trailing columns are fine', () => {
    const rows = parseClientsCsv('dc:a6:32:01:36:c2,pi-01,img,extra\ndc:a6:32:01:36:c3,pi-03,img,,\n');
    assert.ok(!rows[0].ok);
    assert.match(rows[0].message, /^row: too many columns/);
    assert.equal(rows[1].ok, true);
  });

  it('a MAC listed twice is an error on the second line', () => {
    const rows = parseClientsCsv('dc:a6:32:01:36:c2,pi-01\nDC-A6-32-01-36-C2,pi-02\n');
    assert.equal(rows[0].ok, true);
    assert.ok(!rows[1].ok);
    assert.equal(rows[1].message, 'mac: already listed on line 1');
  });

  it('rejects a malformed image id', () => {
    const [row] = parseClientsCsv('dc:a6:32:01:36:c2,pi-01,../../etc\n');
    assert.ok(!row.ok);
    assert.match(row.message, /^imageId: /);
  });

  it('an empty file gives no rows', () => {
    assert.deepEqual(parseClientsCsv(''), []);
    assert.deepEqual(parseClientsCsv('mac,name\n'), []);
  });
});
