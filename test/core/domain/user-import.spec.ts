import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUsersCsv } from '../../../src/core/domain/user/user-import';

describe('parseUsersCsv', () => {
  it('reads username and password, with optional full name and groups', () => {
    const rows = parseUsersCsv('alice,wonderland1\nbob,builder123,Bob Builder\ncarol,carolina9,"Carol, C.",pupils;lab\n');
    assert.deepEqual(rows, [
      { line: 1, ok: true, username: 'alice', password: 'wonderland1', fullName: null, groups: [] },
      { line: 2, ok: true, username: 'bob', password: 'builder123', fullName: 'Bob Builder', groups: [] },
      { line: 3, ok: true, username: 'carol', password: 'carolina9', fullName: 'Carol, C.', groups: ['pupils', 'lab'] },
    ]);
  });

  it('groups may be separated by semicolons or whitespace; duplicates dropped', () => {
    const [row] = parseUsersCsv('dave,password1,,"pupils  lab;robotics; pupils"\n');
    assert.ok(row.ok);
    assert.deepEqual(row.groups, ['pupils', 'lab', 'robotics']);
  });

  it('skips a header row, blank lines and comments, keeping line numbers', () => {
    const rows = parseUsersCsv('Username,Password,FullName,Groups\n\n# class 3b\nalice,wonderland1\n');
    assert.deepEqual(
      rows.map((r) => [r.line, r.ok]),
      [[4, true]],
    );
  });

  it('takes the password exactly as written: quoted or not, spaces around it are part of it', () => {
    const rows = parseUsersCsv('alice," spaced pw "\nbob,  unquoted1  \ncarol , plain-pass-1 , Carol Smith \n');
    assert.ok(rows[0].ok && rows[1].ok && rows[2].ok);
    assert.equal(rows[0].password, ' spaced pw ');
    assert.equal(rows[1].password, '  unquoted1  ');
    assert.equal(rows[2].password, ' plain-pass-1 ');
    // The other columns are still trimmed.
    assert.equal(rows[2].username, 'carol');
    assert.equal(rows[2].fullName, 'Carol Smith');
  });

  it('a bad row is reported with its line number and the others still count', () => {
    const rows = parseUsersCsv('alice,wonderland1\nBad User,password1\nbob,builder123\n');
    assert.equal(rows.length, 3);
    assert.equal(rows[0].ok, true);
    assert.ok(!rows[1].ok);
    assert.equal(rows[1].line, 2);
    assert.equal(rows[1].code, 'VALIDATION');
    assert.match(rows[1].message, /^username: /);
    assert.equal(rows[2].ok, true);
  });

  it('a short or missing password is an error that never echoes the password', () => {
    const rows = parseUsersCsv('alice,s3cr3t\nbob\n');
    assert.ok(!rows[0].ok);
    assert.match(rows[0].message, /^password: /);
    assert.doesNotMatch(JSON.stringify(rows[0]), /s3cr3t/);
    assert.ok(!rows[1].ok);
    assert.match(rows[1].message, /^password: /);
  });

  it('a password over 72 bytes is an error that never echoes it', () => {
    const secret = 'Z'.repeat(73);
    const [row] = parseUsersCsv(`alice,${secret}\n`);
    assert.ok(!row.ok);
    assert.match(row.message, /^password: /);
    assert.ok(!JSON.stringify(row).includes(secret));
  });

  it('a CSV syntax error never echoes the row', () => {
    const [row, next] = parseUsersCsv('alice,pass"word123\nbob,builder123\n');
    assert.ok(!row.ok);
    assert.equal(row.line, 1);
    assert.match(row.message, /^csv: /);
    assert.ok(!JSON.stringify(row).includes('word123'));
    assert.equal(next.ok, true);
  });

  it('rejects an invalid group name and a bad full name', () => {
    const rows = parseUsersCsv('alice,wonderland1,,Bad:Group\nbob,builder123,Bob: the builder\n');
    assert.ok(!rows[0].ok);
    assert.match(rows[0].message, /^groups: /);
    assert.ok(!rows[1].ok);
    assert.match(rows[1].message, /^fullName: /);
  });

  it("a username or a group of the Pi's own OS is a row error naming the reason; the other rows still count", () => {
    const rows = parseUsersCsv(
      [
        'pi,raspberry-pi-1',
        'alice,wonderland1,,pupils;sudo',
        'systemd-x,password-123',
        'bob,builder123,,pupils gpio',
        'carol,carolina9,,pupils',
      ].join('\n'),
    );
    assert.deepEqual(
      rows.map((r) => [r.line, r.ok]),
      [
        [1, false],
        [2, false],
        [3, false],
        [4, false],
        [5, true],
      ],
    );
    const errors = rows.filter((r) => !r.ok);
    assert.deepEqual(
      errors.map((r) => [r.code, r.message]),
      [
        ['VALIDATION', "username: reserved: a system account of the Pi's OS (`pi`)"],
        ['VALIDATION', "groups: reserved: a system account of the Pi's OS (`sudo`)"],
        ['VALIDATION', "username: reserved: a system account of the Pi's OS (names starting with `systemd-`)"],
        ['VALIDATION', "groups: reserved: a system account of the Pi's OS (`gpio`)"],
      ],
    );
    assert.doesNotMatch(JSON.stringify(rows.slice(0, 4)), /raspberry-pi-1|wonderland1|password-123|builder123/);
  });

  it('too many columns is a row error', () => {
    const [row] = parseUsersCsv('alice,wonderland1,Alice,pupils,extra\n');
    assert.ok(!row.ok);
    assert.match(row.message, /^row: too many columns/);
  });

  it('a username listed twice is an error on the second line', () => {
    const rows = parseUsersCsv('alice,wonderland1\nalice,wonderland2\n');
    assert.equal(rows[0].ok, true);
    assert.ok(!rows[1].ok);
    assert.equal(rows[1].message, 'username: already listed on line 1');
  });
});
