/**
 * Approximate matching (`(cn~=alis)`) as slapd does it, so that an approx filter returns here what it
 * returns there. slapd gives every directory-string and IA5 equality rule an approximate rule
 * (schema_init.c, `approxMatch`): both strings lose their accents (compatibility decomposition, then
 * every non-ASCII code point dropped), are cut into words at spaces, and each word becomes a phonetic
 * key of at most four letters; the filter is TRUE when every word of the assertion has a key equal
 * to the key of a word of the value, in the same order. Without an approximate rule (integers, DNs,
 * object classes) slapd falls back to the equality rule; ldap.filter.ts does that part.
 *
 * The key is the Metaphone variant slapd ships (phonetic.c: L. Philips' 1990 algorithm as published
 * by G. Parker, with changes made at the University of Michigan), including its quirks, because the
 * point is to agree with slapd rather than with phonetics: B is kept only as the last letter, the
 * letter after a non-initial X is consumed by the X's "KS", "GH" gives K, and a run of the same letter
 * counts once except C. Written here from the rules, not translated line by line; the tests pin the
 * keys slapd 2.5 produces for a word list (checked against a running slapd).
 */

const VOWEL = 1; // A E I O U
const SAME = 2; // F J L M N R: kept as is
const VARSON = 4; // C G P S T: change the H after them
const FRONTV = 8; // E I Y: soften C and G
const NOGHF = 16; // B D H: before GH, stop it from being F

/** Letter classes, A to Z. */
const CLASSES = [
  VOWEL, // A
  NOGHF, // B
  VARSON, // C
  NOGHF, // D
  VOWEL | FRONTV, // E
  SAME, // F
  VARSON, // G
  NOGHF, // H
  VOWEL | FRONTV, // I
  SAME, // J
  0, // K
  SAME, // L
  SAME, // M
  SAME, // N
  VOWEL, // O
  VARSON, // P
  0, // Q
  SAME, // R
  VARSON, // S
  VARSON, // T
  VOWEL, // U
  0, // V
  0, // W
  0, // X
  FRONTV, // Y
  0, // Z
];

/** The longest key. */
const KEY_LENGTH = 4;
/** slapd reads at most 31 letters of a word (a 40-byte buffer with padding). */
const WORD_LETTERS = 31;
/** Padding around the letters so that looking up to four back and three ahead never leaves the array. */
const PAD = 4;

/** slapd's word break: anything but an ASCII letter or control character ends the word. */
function isWordBreak(code: number): boolean {
  if (code >= 0x80 || code === 0) return true;
  if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return true; // isspace
  if (code >= 0x30 && code <= 0x39) return true; // isdigit
  return code > 0x20 && code < 0x7f && !((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)); // ispunct
}

/**
 * The phonetic key of the first word of `word` (up to its first space, digit, punctuation or
 * non-ASCII character); '' when that word has no letter.
 */
export function phoneticKey(word: string): string {
  // The word's letters, upper case, between zero padding: index PAD is the first letter.
  const letters: number[] = [];
  for (let i = 0; i < word.length && letters.length < WORD_LETTERS; i++) {
    const code = word.charCodeAt(i);
    if (isWordBreak(code)) break;
    if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) letters.push(code & ~0x20);
  }
  if (letters.length === 0) return '';
  const buf = new Array<number>(PAD).fill(0).concat(letters, new Array<number>(PAD).fill(0));
  const end = PAD + letters.length; // the first padding zero after the letters
  const cls = (code: number): number => (code >= 0x41 && code <= 0x5a ? CLASSES[code - 0x41] : 0);
  const is = (code: number, flag: number): boolean => (cls(code) & flag) !== 0;
  const A = (ch: string): number => ch.charCodeAt(0);

  // Initial letter groups: PN KN GN AE WR drop their first letter, WH becomes W, X becomes S.
  let start = PAD;
  const first = buf[start];
  const second = buf[start + 1];
  if ((first === A('P') || first === A('K') || first === A('G')) && second === A('N')) buf[start++] = 0;
  else if (first === A('A') && second === A('E')) buf[start++] = 0;
  else if (first === A('W') && second === A('R')) buf[start++] = 0;
  else if (first === A('W') && second === A('H')) {
    buf[start + 1] = first;
    buf[start++] = 0;
  } else if (first === A('X')) buf[start] = A('S');

  let key = '';
  let pendingS = false; // a non-initial X gave K; the next position gives its S
  for (let n = start; n <= end && key.length < KEY_LENGTH; n++) {
    if (pendingS) {
      pendingS = false;
      key += 'S';
      continue;
    }
    const c = buf[n];
    const prev = buf[n - 1];
    const next = buf[n + 1];
    const next2 = buf[n + 2];
    if (c === prev && c !== A('C')) continue;
    if (is(c, SAME) || (n === start && is(c, VOWEL))) {
      key += String.fromCharCode(c);
      continue;
    }
    switch (String.fromCharCode(c)) {
      case 'B':
        if (n === end - 1 && prev !== A('M')) key += 'B';
        break;
      case 'C':
        if (prev !== A('S') || !is(next, FRONTV)) {
          if (next === A('I') && next2 === A('A')) key += 'X';
          else if (is(next, FRONTV)) key += 'S';
          else if (next === A('H')) key += (n === start && !is(next2, VOWEL)) || prev === A('S') ? 'K' : 'X';
          else key += 'K';
        }
        break;
      case 'D':
        key += next === A('G') && is(next2, FRONTV) ? 'J' : 'T';
        break;
      case 'G':
        if (
          (next !== A('J') || is(next2, VOWEL)) &&
          (next !== A('N') || (n + 1 < end && (next2 !== A('E') || buf[n + 3] !== A('D')))) &&
          (prev !== A('D') || !is(next, FRONTV))
        ) {
          key += is(next, FRONTV) && next2 !== A('G') ? 'G' : 'K';
        } else if (next === A('H') && !is(buf[n - 3], NOGHF) && buf[n - 4] !== A('H')) {
          key += 'F';
        }
        break;
      case 'H':
        if (!is(prev, VARSON) && (!is(prev, VOWEL) || is(next, VOWEL))) key += 'H';
        break;
      case 'K':
        if (prev !== A('C')) key += 'K';
        break;
      case 'P':
        key += next === A('H') ? 'F' : 'P';
        break;
      case 'Q':
        key += 'K';
        break;
      case 'S':
        key += next === A('H') || (next === A('I') && (next2 === A('O') || next2 === A('A'))) ? 'X' : 'S';
        break;
      case 'T':
        if (next === A('I') && (next2 === A('O') || next2 === A('A'))) key += 'X';
        else if (next === A('H')) key += '0';
        else if (next !== A('C') || next2 !== A('H')) key += 'T';
        break;
      case 'V':
        key += 'F';
        break;
      case 'W':
      case 'Y':
        if (is(next, VOWEL)) key += String.fromCharCode(c);
        break;
      case 'X':
        if (n === start) key += 'S';
        else {
          key += 'K';
          pendingS = true;
        }
        break;
      case 'Z':
        key += 'S';
        break;
      default:
        break; // vowels after the first letter, and the padding
    }
  }
  return key;
}

/** slapd's LDAP_UTF8_APPROX folding: compatibility decomposition, then every non-ASCII code point dropped. */
export function foldForApprox(value: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(value) ? value : value.normalize('NFKD').replace(/[^\x00-\x7f]/g, '');
}

/**
 * slapd's approxMatch on two values already normalised by their equality rule: every word of the
 * assertion must have the key of a word of the value, in order. An assertion with no word never matches.
 */
export function approxMatches(value: string, assertion: string): boolean {
  const valueKeys = foldForApprox(value).split(' ').map(phoneticKey);
  const asserted = foldForApprox(assertion);
  let nextAvailable = 0; // index in valueKeys after the last word matched; 0 = nothing matched yet
  let pos = 0;
  let chunks = 0;
  while (pos < asserted.length && chunks++ < asserted.length + 1) {
    const space = asserted.indexOf(' ', pos);
    const wordEnd = space < 0 ? asserted.length : space;
    if (wordEnd === pos) {
      pos++;
      continue;
    }
    const key = phoneticKey(asserted.slice(pos, wordEnd));
    let found = -1;
    for (let i = nextAvailable; i < valueKeys.length; i++) {
      if (valueKeys[i] === key) {
        found = i;
        break;
      }
    }
    if (found < 0) return false;
    nextAvailable = found + 1;
    pos = wordEnd + 1;
  }
  return nextAvailable > 0;
}
