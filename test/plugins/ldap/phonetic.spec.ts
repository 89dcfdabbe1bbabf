/**
 * slapd's approximate matching (ldap.phonetic.ts). The keys below are what slapd 2.5's phonetic.c
 * (SLAPD_METAPHONE, the default build) returns for each word: taken from a harness around that C
 * function, which also agreed with phoneticKey on 200,000 generated words. The approxMatches cases
 * were checked with `(cn~=...)` filters on a running slapd.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { approxMatches, foldForApprox, phoneticKey } from '../../../src/plugins/ldap/ldap.phonetic';

describe('LDAP approx: phonetic keys as slapd computes them', () => {
  const keys: [string, string][] = [
    ['alice', 'ALS'],
    ['Alis', 'ALS'],
    ['liddell', 'LTL'],
    ['marie', 'MR'],
    ['smith', 'SM0'],
    ['smyth', 'SM0'],
    ['bob', 'B'], // B only as the last letter
    ['thumb', '0M'],
    ['lamb', 'LM'],
    ['bomb', 'M'],
    ['knight', 'NKT'], // KN- drops K; GH gives K
    ['tough', 'TK'],
    ['phone', 'FN'],
    ['science', 'SNS'],
    ['school', 'SKL'],
    ['church', 'XRX'],
    ['judge', 'JJ'],
    ['xerox', 'SRKS'],
    ['axl', 'AKS'], // the letter after a non-initial X is consumed by its S
    ['white', 'WT'],
    ['write', 'RT'],
    ['aegis', 'EGS'],
    ['gnome', 'NM'],
    ['signed', 'SNT'],
    ['yellow', 'YL'],
    ['cia', 'X'],
    ['shadow', 'XT'],
    ['nation', 'NXN'],
    ["o'brien", 'O'], // stops at punctuation
    ['123', ''], // no letter: empty key
    ['', ''],
    ['abcdefghijklmnopqrstuvwxyzabcdefghijklmnop', 'AKTF'], // at most four letters
  ];
  for (const [word, key] of keys) {
    it(`${JSON.stringify(word)} → ${JSON.stringify(key)}`, () => assert.equal(phoneticKey(word), key));
  }
});

describe('LDAP approx: slapd approxMatch on normalised values', () => {
  const cases: [string, string, boolean][] = [
    ['alice marie liddell', 'alis mari', true],
    ['alice marie liddell', 'alice', true],
    ['alice marie liddell', 'liddel', true],
    ['alice marie liddell', 'marie alice', false], // words must come in the value's order
    ['bob smith', 'smyth', true],
    ['bob smith', 'bob smith', true],
    ['chloé zoë brontë', 'bronte', true], // accents folded away
    ['chloé zoë brontë', 'chloe zoe', true],
    ['alice', 'bob', false],
    ['alice', '', false], // no word asserted: no match
    ['alice', '   ', false],
    ['abc 123', '456', true], // slapd quirk: words without letters all have the empty key
    ['abc 123', '123 abc', false],
    ['abc 123', '  abc   ', true],
  ];
  for (const [value, assertion, expected] of cases) {
    it(`${JSON.stringify(value)} ~= ${JSON.stringify(assertion)}: ${expected}`, () => {
      assert.equal(approxMatches(value, assertion), expected);
    });
  }

  it('folding drops accents and every other non-ASCII character', () => {
    assert.equal(foldForApprox('Chloé Brontë'), 'Chloe Bronte');
    assert.equal(foldForApprox('李 Lee'), ' Lee');
    assert.equal(foldForApprox('plain'), 'plain');
  });
});
