/**
 * Matching rules and DNs (ldap.matching.ts), as tables of value → normalised form and of DN → its
 * normalised and shown forms. The expected forms follow slapd 2.5's normalisers (schema_init.c,
 * dn.c); filters built on them were compared with a running slapd (see filter.spec.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  childDn,
  compareIntegers,
  escapeDnValue,
  generalizedTimeOf,
  isRuleUsableWith,
  matchingRule,
  normalizeGeneralizedTime,
  parseDn,
  type SubstringPosition,
} from '../../../src/plugins/ldap/ldap.matching';
import { attributeType } from '../../../src/plugins/ldap/ldap.schema';

function rule(name: string) {
  const r = matchingRule(name);
  assert.ok(r, name);
  return r;
}

describe('LDAP matching: string preparation per rule', () => {
  const cases: [string, string, string | null][] = [
    // caseIgnoreMatch: case folded, NFKC, insignificant spaces
    ['caseIgnoreMatch', 'Alice', 'alice'],
    ['caseIgnoreMatch', '  Alice   Marie  Liddell ', 'alice marie liddell'],
    ['caseIgnoreMatch', '   ', ' '], // all spaces: one space
    ['caseIgnoreMatch', '', null], // directory strings are never empty
    ['caseIgnoreMatch', 'CHLOÉ', 'chloé'],
    ['caseIgnoreMatch', 'Chloe\u0301', 'chloé'], // combining accent composed
    ['caseIgnoreMatch', 'Ｆｕｌｌ', 'full'], // full-width folded by NFKC
    ['caseIgnoreMatch', 'a\tb', 'a\tb'], // only U+0020 is a space, as in slapd
    // caseExactMatch: spaces only
    ['caseExactMatch', '  Alice  Marie ', 'Alice Marie'],
    // IA5: ASCII only; spaces trimmed and collapsed
    ['caseIgnoreIA5Match', ' Alice  Liddell ', 'alice liddell'],
    ['caseIgnoreIA5Match', 'chloé', null],
    ['caseIgnoreIA5Match', '', ''],
    ['caseExactIA5Match', '  /home/Alice ', '/home/Alice'],
    // integers: RFC 4517 form only
    ['integerMatch', '1000', '1000'],
    ['integerMatch', '-5', '-5'],
    ['integerMatch', '0', '0'],
    ['integerMatch', '007', null],
    ['integerMatch', '-0', null],
    ['integerMatch', '+5', null],
    ['integerMatch', ' 5', null],
    ['integerMatch', '', null],
    ['integerMatch', '12a', null],
    // others
    ['booleanMatch', 'TRUE', 'TRUE'],
    ['booleanMatch', 'true', null],
    ['UUIDMatch', '6BA7B814-9DAD-11D1-80B4-00C04FD430C8', '6ba7b814-9dad-11d1-80b4-00c04fd430c8'],
    ['UUIDMatch', '6ba7b814-9dad-11d1-80b4', null],
    ['objectIdentifierMatch', '1.3.6.1.4.1.4203.1.5.1', '1.3.6.1.4.1.4203.1.5.1'],
    ['objectIdentifierMatch', 'person', null], // slapd's OID syntax takes numeric OIDs only
    ['objectIdentifierMatch', '01.2', null],
    ['numericStringMatch', '12 34', '1234'],
    ['numericStringMatch', '12a', null],
    ['telephoneNumberMatch', '+44 20-7946 0000', '+442079460000'],
    ['distinguishedNameMatch', 'UID=Alice, OU=People,dc=x', 'uid=alice,ou=people,dc=x'],
    ['distinguishedNameMatch', 'nosuch=x', null],
  ];
  for (const [name, value, expected] of cases) {
    it(`${name}(${JSON.stringify(value)}) → ${JSON.stringify(expected)}`, () => {
      assert.equal(rule(name).normalize(value), expected);
    });
  }
});

describe('LDAP matching: substring components keep one space where they join the rest', () => {
  const cases: [string, SubstringPosition, string, string | null][] = [
    ['caseIgnoreMatch', 'initial', '  Alice  ', 'alice '],
    ['caseIgnoreMatch', 'any', '  M  ', ' m '],
    ['caseIgnoreMatch', 'final', '  Liddell  ', ' liddell'],
    ['caseIgnoreMatch', 'initial', '   ', ' '],
    ['caseIgnoreMatch', 'any', 'a', 'a'],
    ['caseExactMatch', 'initial', 'Alice  ', 'Alice '],
    // IA5 rules trim both ends whatever the position (IA5StringNormalize ignores it)
    ['caseIgnoreIA5Match', 'initial', 'Alice  ', 'alice'],
    ['caseIgnoreIA5Match', 'final', '  Jr.', 'jr.'],
    ['caseIgnoreIA5Match', 'any', 'é', null],
  ];
  for (const [name, position, value, expected] of cases) {
    it(`${name} ${position} ${JSON.stringify(value)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(rule(name).normalizeSubstring(value, position), expected);
    });
  }
});

describe('LDAP matching: ordering', () => {
  it('integers order by sign, length, digits, beyond 2^53', () => {
    const sorted = ['-100', '-10', '-2', '0', '3', '10', '100', '9007199254740992', '9007199254740993'];
    const shuffled = [...sorted].reverse();
    shuffled.sort(compareIntegers);
    assert.deepEqual(shuffled, sorted);
    assert.equal(compareIntegers('42', '42'), 0);
  });

  it('caseIgnoreOrderingMatch orders by UTF-8 bytes of the folded value', () => {
    const r = rule('caseIgnoreOrderingMatch');
    assert.ok(r.compare(r.normalize('Alice')!, r.normalize('bob')!) < 0);
    assert.ok(r.compare(r.normalize('zed')!, r.normalize('Zoë')!) < 0);
    // U+FF21 (3 UTF-8 bytes) sorts before U+1F600 (4 bytes starting F0) in bytes, after it in UTF-16 units
    assert.ok(r.compare('\uff21', '\u{1f600}') < 0);
  });
});

describe('LDAP matching: GeneralizedTime', () => {
  const same = ['20250201120000Z', '202502011200Z', '2025020112Z', '20250201130000+0100', '20250201070000-0500', '20250201120000.000Z'];
  it(`${same.join(', ')} are one instant`, () => {
    const forms = same.map(normalizeGeneralizedTime);
    assert.ok(
      forms.every((f) => f !== null && f === forms[0]),
      JSON.stringify(forms),
    );
  });

  it('fractions belong to the last unit given and order after the whole second', () => {
    assert.equal(normalizeGeneralizedTime('2025020112.5Z'), normalizeGeneralizedTime('20250201123000Z'));
    assert.equal(normalizeGeneralizedTime('202502011200,25Z'), normalizeGeneralizedTime('20250201120015Z'));
    const r = rule('generalizedTimeOrderingMatch');
    assert.ok(r.compare(r.normalize('20250201120000.5Z')!, r.normalize('20250201120000Z')!) > 0);
    assert.ok(r.compare(r.normalize('19991231235959Z')!, r.normalize('20000101000000Z')!) < 0);
  });

  const invalid = [
    '20251301120000Z',
    '20250230120000Z',
    '20230229120000Z',
    '20250201240000Z',
    '20250201120000',
    '2025020112',
    'abc',
    '20250201126000Z',
  ];
  for (const value of invalid) {
    it(`${value} is not a GeneralizedTime`, () => assert.equal(normalizeGeneralizedTime(value), null));
  }
  it('29 February of a leap year is', () => assert.notEqual(normalizeGeneralizedTime('20240229120000Z'), null));

  it('record timestamps become GeneralizedTime to the second', () => {
    assert.equal(generalizedTimeOf('2025-03-01T12:34:56.789Z'), '20250301123456Z');
    assert.equal(generalizedTimeOf('2025-03-01T12:34:56+02:00'), '20250301103456Z');
    assert.equal(generalizedTimeOf('not a time'), null);
  });
});

describe('LDAP matching: which rules an extensible filter may apply to a type', () => {
  const cases: [string, string, boolean][] = [
    ['caseIgnoreMatch', 'cn', true],
    ['caseExactMatch', 'cn', true],
    ['caseIgnoreMatch', 'c', true], // country strings are among caseIgnoreMatch's compatible syntaxes
    ['caseIgnoreMatch', 'uidNumber', false],
    ['caseIgnoreIA5Match', 'cn', false],
    ['integerOrderingMatch', 'uidNumber', true],
    ['directoryStringApproxMatch', 'cn', true],
    ['IA5StringApproxMatch', 'gecos', true],
    ['caseIgnoreSubstringsMatch', 'cn', false], // substring rules are not for extensible filters
    ['dnSubtreeMatch', 'entryDN', true],
    ['distinguishedNameMatch', 'member', true],
  ];
  for (const [ruleName, typeName, expected] of cases) {
    it(`${ruleName} on ${typeName}: ${expected}`, () => {
      assert.equal(isRuleUsableWith(rule(ruleName), attributeType(typeName)!), expected);
    });
  }
});

describe('LDAP matching: DNs', () => {
  const valid: [string, string, string][] = [
    // text, normalised, shown
    ['uid=alice,ou=people,dc=bramble,dc=local', 'uid=alice,ou=people,dc=bramble,dc=local', 'uid=alice,ou=people,dc=bramble,dc=local'],
    ['UID=Alice , OU=People,DC=Bramble,  DC=local', 'uid=alice,ou=people,dc=bramble,dc=local', 'uid=Alice,ou=People,dc=Bramble,dc=local'],
    ['userid = ALICE,ou=people,dc=bramble,dc=local', 'uid=alice,ou=people,dc=bramble,dc=local', 'uid=ALICE,ou=people,dc=bramble,dc=local'],
    ['0.9.2342.19200300.100.1.1=alice,dc=x', 'uid=alice,dc=x', 'uid=alice,dc=x'],
    ['cn=Bob   Smith,dc=x', 'cn=bob smith,dc=x', 'cn=Bob   Smith,dc=x'],
    ['sn=B+cn=A,dc=x', 'cn=a+sn=b,dc=x', 'sn=B+cn=A,dc=x'],
    ['cn=a\\,b,dc=x', 'cn=a\\2cb,dc=x', 'cn=a\\,b,dc=x'],
    ['cn="a,b",dc=x', 'cn=a\\2cb,dc=x', 'cn=a\\,b,dc=x'],
    ['dc=x;dc=y', 'dc=x,dc=y', 'dc=x,dc=y'],
    ['uidNumber=1000,dc=x', 'uidnumber=1000,dc=x', 'uidNumber=1000,dc=x'],
    ['', '', ''],
  ];
  for (const [text, ndn, pretty] of valid) {
    it(`${JSON.stringify(text)} → ${ndn}`, () => {
      const dn = parseDn(text);
      assert.ok(dn, text);
      assert.equal(dn.ndn, ndn);
      assert.equal(dn.pretty, pretty);
    });
  }

  it('reads escapes as RFC 4514 means them, hex pairs and UTF-8 included', () => {
    assert.equal(parseDn('cn=a\\+b,dc=x')?.rdns[0][0].value, 'a+b');
    assert.equal(parseDn('cn=\\ a,dc=x')?.rdns[0][0].value, 'a'); // escaped leading space, then insignificant
    assert.equal(parseDn('cn=a\\2cb,dc=x')?.rdns[0][0].value, 'a,b');
    assert.equal(parseDn('cn=Chlo\\c3\\a9,dc=x')?.rdns[0][0].value, 'Chloé');
    assert.equal(parseDn('cn=a\\q,dc=x'), null); // \\q escapes nothing
    assert.deepEqual(
      parseDn('cn=a\\,dc=x')?.rdns.map((rdn) => rdn[0].value),
      ['a,dc=x'],
    ); // one RDN: the comma is escaped
  });

  const invalid = [
    'foo=bar,dc=x',
    'cn=,dc=x',
    'uid=a,,dc=x',
    'cn=x,',
    ',dc=x',
    'cn',
    'cn=#04016a,dc=x',
    'uidNumber=007,dc=x',
    ' ',
    'cn;lang-en=x,dc=x',
  ];
  for (const text of invalid) {
    it(`${JSON.stringify(text)} is not a DN (invalidDNSyntax)`, () => assert.equal(parseDn(text), null));
  }

  it('keeps RDNs leaf first with their types and normalised values', () => {
    const dn = parseDn('UID=Alice,OU=People,DC=bramble')!;
    assert.deepEqual(
      dn.rdns.map((rdn) => rdn.map((a) => [a.type.name, a.value, a.normalized])),
      [[['uid', 'Alice', 'alice']], [['ou', 'People', 'people']], [['dc', 'bramble', 'bramble']]],
    );
  });

  it('childDn builds the same DN that parsing its string gives, without parsing', () => {
    const parent = parseDn('ou=People,DC=Bramble,dc=local')!;
    for (const [type, value] of [
      ['uid', 'alice'],
      ['cn', 'Bob  Smith'],
      ['cn', 'a,b+c'],
      ['uidNumber', '1000'],
    ] as const) {
      const built = childDn(parent, attributeType(type)!, value)!;
      const parsed = parseDn(`${type}=${escapeDnValue(value)},ou=People,DC=Bramble,dc=local`)!;
      assert.deepEqual([built.ndn, built.pretty, built.rdns.length], [parsed.ndn, parsed.pretty, parsed.rdns.length], `${type}=${value}`);
    }
    assert.equal(childDn(parent, attributeType('uidNumber')!, '007'), null);
    assert.equal(childDn(parent, attributeType('uid')!, ''), null);
  });

  const escapes: [string, string][] = [
    ['alice', 'alice'],
    ['a,b', 'a\\,b'],
    ['a+b=c', 'a\\+b=c'],
    [' lead', '\\ lead'],
    ['trail ', 'trail\\ '],
    ['#hash', '\\#hash'],
    ['a"b\\c<d>e;f', 'a\\"b\\\\c\\<d\\>e\\;f'],
    ['nul\0', 'nul\\00'],
    ['a+b', 'a\\+b'], // @ldapjs/dn alone read `\\+b` as U+000B
  ];
  for (const [value, escaped] of escapes) {
    it(`escapes ${JSON.stringify(value)} as ${escaped}, which parses back`, () => {
      assert.equal(escapeDnValue(value), escaped);
      if (value.trim() === value && !value.includes('\0')) assert.equal(parseDn(`cn=${escaped},dc=x`)?.rdns[0][0].value, value);
    });
  }

  const relations: [string, string, string, boolean][] = [
    ['dnSubtreeMatch', 'uid=a,ou=p,dc=x', 'ou=p,dc=x', true],
    ['dnSubtreeMatch', 'ou=p,dc=x', 'ou=p,dc=x', true],
    ['dnSubtreeMatch', 'ou=p,dc=x', 'uid=a,ou=p,dc=x', false],
    ['dnSubtreeMatch', 'dc=ax', 'dc=x', false], // a suffix of the string, not of the RDNs
    ['dnOneLevelMatch', 'uid=a,ou=p,dc=x', 'ou=p,dc=x', true],
    ['dnOneLevelMatch', 'uid=a,ou=p,dc=x', 'dc=x', false],
    ['dnOneLevelMatch', 'ou=p,dc=x', 'ou=p,dc=x', false],
    ['dnSubordinateMatch', 'uid=a,ou=p,dc=x', 'dc=x', true],
    ['dnSubordinateMatch', 'dc=x', 'dc=x', false],
    ['dnSuperiorMatch', 'dc=x', 'uid=a,ou=p,dc=x', true],
    ['dnSuperiorMatch', 'uid=a,ou=p,dc=x', 'uid=a,ou=p,dc=x', false],
  ];
  for (const [name, value, assertion, expected] of relations) {
    it(`${name}: ${value} against ${assertion} is ${expected}`, () => {
      const r = rule(name);
      assert.equal(r.compare(r.normalize(value)!, r.normalize(assertion)!) === 0, expected);
    });
  }
});
