/**
 * Search filters (ldap.filter.ts) as a table: filter × entry → TRUE / FALSE / Undefined, with RFC 4511
 * three-valued logic. The expected values are slapd 2.5's: the same filters were run with ldapsearch
 * against slapd holding the same kind of entries (core, cosine, inetorgperson and nis schema), and a
 * generated set of several thousand filters gave identical answers there and here. A slapd result is
 * TRUE when the entry is returned, and FALSE rather than Undefined when `(!filter)` returns it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileFilter,
  filterToString,
  makeEntry,
  matches,
  substringsMatch,
  type Entry,
  type Tri,
} from '../../../src/plugins/ldap/ldap.filter';
import { parseFilter } from '../../support/ldap-filter-string';

const U = 'undefined' as const;

const alice: Entry = makeEntry('uid=alice,ou=people,dc=bramble,dc=local', [
  ['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'posixAccount', 'shadowAccount']],
  ['uid', ['alice']],
  ['cn', ['Alice  Marie Liddell']],
  ['sn', ['Liddell']],
  ['givenName', ['Alice Marie']],
  ['displayName', ['Alice Marie Liddell']],
  ['uidNumber', ['1000']],
  ['gidNumber', ['1000']],
  ['homeDirectory', ['/home/alice']],
  ['loginShell', ['/bin/bash']],
  ['gecos', ['Alice Marie Liddell']],
  ['shadowLastChange', ['20120']],
  ['shadowExpire', ['1']],
  ['structuralObjectClass', ['inetOrgPerson']],
  ['entryUUID', ['93db3e25-f571-5358-a320-2608a3c2f852']],
  ['createTimestamp', ['20250101120000Z']],
]);

const staff: Entry = makeEntry('cn=staff,ou=groups,dc=bramble,dc=local', [
  ['objectClass', ['top', 'posixGroup']],
  ['cn', ['staff']],
  ['gidNumber', ['1000']],
  ['memberUid', ['alice', 'Bob']],
  ['structuralObjectClass', ['posixGroup']],
]);

const people: Entry = makeEntry('ou=people,dc=bramble,dc=local', [
  ['objectClass', ['top', 'organizationalUnit']],
  ['ou', ['people']],
]);
people.hasSubordinates = true;

const chloe: Entry = makeEntry('uid=chloe,ou=people,dc=bramble,dc=local', [
  ['objectClass', ['top', 'inetOrgPerson']],
  ['uid', ['chloe']],
  ['cn', ['Chloé Zoë Brontë']],
  ['sn', ['Brontë']],
]);

/** [filter, alice, staff, people] */
const table: [string, Tri, Tri, Tri][] = [
  // equality, case and spaces per rule
  ['(uid=alice)', true, false, false],
  ['(uid=ALICE)', true, false, false],
  ['(UID=alice)', true, false, false],
  ['(userid=alice)', true, false, false],
  ['(0.9.2342.19200300.100.1.1=alice)', true, false, false],
  ['(cn=alice marie liddell)', true, false, false],
  ['(cn=  ALICE   Marie Liddell )', true, false, false],
  ['(commonName=staff)', false, true, false],
  ['(cn=)', U, U, U], // a directory string is never empty
  ['(memberUid=alice)', false, true, false],
  ['(memberUid=bob)', false, false, false], // caseExactIA5Match
  ['(memberUid=Bob)', false, true, false],
  ['(homeDirectory=/home/alice)', true, false, false],
  ['(homeDirectory=/HOME/alice)', false, false, false],
  ['(homeDirectory=  /home/alice )', true, false, false],
  ['(gecos=ALICE MARIE LIDDELL)', true, false, false],
  ['(gecos=chloé)', U, U, U], // not IA5
  ['(uidNumber=1000)', true, false, false],
  ['(gidNumber=1000)', true, true, false],
  ['(uidNumber=01000)', U, U, U],
  ['(uidNumber=abc)', U, U, U],
  ['(uidNumber=-1)', false, false, false],
  ['(shadowExpire=1)', true, false, false],
  ['(ou=people)', false, false, true],
  ['(ou=PEOPLE)', false, false, true],
  // unknown types and options
  ['(foo=x)', U, U, U],
  ['(mail=x)', false, false, false], // known type, absent: FALSE
  ['(uid;lang-en=alice)', false, false, false], // tagged: no tagged values here
  ['(uid;x-foo=alice)', U, U, U],
  // subtypes: name covers cn, sn, givenName, ou
  ['(name=liddell)', true, false, false],
  ['(name=staff)', false, true, false],
  ['(name=people)', false, false, true],
  ['(name=*)', true, true, true],
  // object classes match subclasses, by name or OID, any case
  ['(objectClass=person)', true, false, false],
  ['(objectClass=PERSON)', true, false, false],
  ['(objectClass=2.5.6.6)', true, false, false],
  ['(objectClass=top)', true, true, true],
  ['(objectClass=posixGroup)', false, true, false],
  ['(objectClass=extensibleObject)', false, false, false],
  ['(objectClass=nosuchclass)', U, U, U],
  ['(objectClass=1.2.3.4)', U, U, U],
  ['(objectClass~=person)', true, false, false],
  ['(structuralObjectClass=person)', true, false, false],
  ['(objectClass=*)', true, true, true],
  // presence
  ['(uid=*)', true, false, false],
  ['(memberUid=*)', false, true, false],
  ['(foo=*)', U, U, U],
  ['(entryDN=*)', true, true, true],
  ['(subschemaSubentry=*)', true, true, true],
  ['(hasSubordinates=*)', true, true, true],
  // substrings
  ['(cn=alice*)', true, false, false],
  ['(cn=*marie*)', true, false, false],
  ['(cn=*LIDDELL)', true, false, false],
  ['(cn=alice *)', true, false, false],
  ['(cn=* m*)', true, false, false],
  ['(cn=*ell )', true, false, false],
  ['(cn=a*e*l)', true, false, false],
  ['(cn=a*z*l)', false, false, false],
  ['(cn=*liddell*alice*)', false, false, false], // components in order
  ['(cn=alice marie liddell*liddell)', false, false, false], // the final part must follow the initial one
  ['(uid=al*)', true, false, false],
  ['(memberUid=B*)', false, true, false],
  ['(memberUid=b*)', false, false, false],
  ['(gecos=alice *)', true, false, false],
  ['(homeDirectory=/home/*)', U, U, U], // no substring rule
  ['(uidNumber=1*)', U, U, U],
  ['(name=lid*)', true, false, false],
  // ordering
  ['(uidNumber>=1000)', true, false, false],
  ['(uidNumber>=1001)', false, false, false],
  ['(uidNumber<=999)', false, false, false],
  ['(gidNumber<=1000)', true, true, false],
  ['(uidNumber>=abc)', U, U, U],
  ['(shadowExpire>=1)', U, U, U], // nis.schema: no ordering rule
  ['(cn>=a)', U, U, U],
  ['(createTimestamp>=20250101000000Z)', true, false, false],
  ['(createTimestamp>=202501011300Z)', false, false, false],
  ['(createTimestamp<=20250101130000+0100)', true, false, false],
  ['(entryUUID>=93db3e25-f571-5358-a320-2608a3c2f852)', true, false, false],
  // approx: slapd's phonetic match for strings, equality otherwise
  ['(cn~=alis mari)', true, false, false],
  ['(cn~=marie alice)', false, false, false],
  ['(sn~=lidel)', true, false, false],
  ['(uid~=ALICE)', true, false, false],
  ['(uidNumber~=1000)', true, false, false],
  ['(cn~=)', U, U, U],
  // operational specials
  ['(entryDN=uid=alice,ou=people,dc=bramble,dc=local)', true, false, false],
  ['(entryDN=UID=Alice, OU=People, DC=bramble, DC=local)', true, false, false],
  ['(entryDN=not a dn)', U, U, U],
  ['(subschemaSubentry=cn=Subschema)', false, false, false], // only presence is special, as in slapd
  ['(hasSubordinates=TRUE)', false, false, true],
  ['(hasSubordinates=FALSE)', true, true, false],
  ['(hasSubordinates=true)', U, U, U],
  // extensible
  ['(uid:=ALICE)', true, false, false],
  ['(cn:caseExactMatch:=Alice Marie Liddell)', true, false, false],
  ['(cn:caseExactMatch:=alice marie liddell)', false, false, false],
  ['(:caseExactMatch:=Liddell)', true, false, false],
  ['(:2.5.13.2:=staff)', false, true, false],
  ['(uidNumber:=1000)', true, false, false],
  ['(uidNumber:integerOrderingMatch:=1001)', true, false, false], // TRUE when the value is less
  ['(uidNumber:integerOrderingMatch:=1000)', false, false, false],
  ['(cn:caseIgnoreIA5Match:=staff)', U, U, U], // rule not for directory strings
  ['(uid:caseIgnoreSubstringsMatch:=alice)', U, U, U],
  ['(uid:nosuchMatch:=alice)', U, U, U],
  ['(:nosuchMatch:=alice)', U, U, U],
  ['(cn:directoryStringApproxMatch:=alis)', true, false, false],
  ['(:dn:caseIgnoreMatch:=people)', true, false, true],
  ['(ou:dn:=people)', true, false, true],
  ['(cn:dn:=people)', false, false, false],
  ['(entryDN:dnSubtreeMatch:=ou=people,dc=bramble,dc=local)', true, false, true],
  ['(entryDN:dnOneLevelMatch:=ou=people,dc=bramble,dc=local)', true, false, false],
  ['(objectClass:=person)', true, false, false],
  ['(objectClass:objectIdentifierMatch:=person)', U, U, U],
  ['(:objectIdentifierMatch:=person)', U, U, U], // OID syntax: numeric only
  ['(:objectIdentifierMatch:=2.5.6.6)', false, false, false],
  // three-valued logic in combinations
  ['(&(objectClass=posixAccount)(uid=alice))', true, false, false],
  ['(&(uid=alice)(foo=x))', U, false, false],
  ['(|(uid=alice)(foo=x))', true, U, U],
  ['(!(foo=x))', U, U, U],
  ['(!(mail=x))', true, true, true],
  ['(!(uid;lang-en=alice))', true, true, true],
  ['(&)', true, true, true],
  ['(|)', false, false, false],
  ['(!(&))', false, false, false],
];

describe('LDAP filters: filter × entry', () => {
  for (const [text, a, s, p] of table) {
    it(`${text}: alice ${a}, staff ${s}, people ${p}`, () => {
      const filter = parseFilter(text);
      assert.deepEqual([matches(filter, alice), matches(filter, staff), matches(filter, people)], [a, s, p]);
    });
  }

  it('accents and case: caseIgnore folds both, approx drops accents', () => {
    assert.equal(matches(parseFilter('(cn=CHLOÉ ZOË BRONTË)'), chloe), true);
    assert.equal(matches(parseFilter('(cn=chloe zoe bronte)'), chloe), false);
    assert.equal(matches(parseFilter('(cn~=chloe zoe bronte)'), chloe), true);
    assert.equal(matches(parseFilter('(sn=*ONTË)'), chloe), true);
  });
});

describe('LDAP filters: RFC 4511 three-valued logic', () => {
  const T = '(objectClass=*)';
  const F = '(uid=nobody)';
  const X = '(nosuchtype=x)'; // Undefined
  const value: Record<string, Tri> = { [T]: true, [F]: false, [X]: U };
  const operands = [T, F, X];
  for (const l of operands) {
    for (const r of operands) {
      const and: Tri = value[l] === false || value[r] === false ? false : value[l] === U || value[r] === U ? U : true;
      const or: Tri = value[l] === true || value[r] === true ? true : value[l] === U || value[r] === U ? U : false;
      it(`(&${l}${r}) is ${String(and)}, (|${l}${r}) is ${String(or)}`, () => {
        assert.equal(matches(parseFilter(`(&${l}${r})`), alice), and);
        assert.equal(matches(parseFilter(`(|${l}${r})`), alice), or);
      });
    }
    const not: Tri = value[l] === U ? U : !value[l];
    it(`(!${l}) is ${String(not)}`, () => assert.equal(matches(parseFilter(`(!${l})`), alice), not));
  }
  it('Undefined stays Undefined under any number of nots', () => {
    assert.equal(matches(parseFilter(`(!(!(!${X})))`), alice), U);
    assert.equal(matches(parseFilter(`(!(!${T}))`), alice), true);
  });
});

describe('LDAP filters: userPassword is Undefined for every filter, stored or not', () => {
  // An entry that does hold a hash: the filter layer still must not reveal it (the directory never stores one).
  const withPassword = makeEntry('uid=bob,ou=people,dc=bramble,dc=local', [
    ['objectClass', ['top', 'inetOrgPerson']],
    ['uid', ['bob']],
    ['userPassword', ['{CRYPT}$2y$10$abcdefghijklmnopqrstuv']],
  ]);
  const filters = [
    '(userPassword=*)',
    '(userPassword={CRYPT}$2y$10$abcdefghijklmnopqrstuv)',
    '(userPassword=\\7bCRYPT\\7d$2y$10$a*)',
    '(userPassword>=a)',
    '(userPassword~=x)',
    '(userPassword:=x)',
    '(userPassword:octetStringMatch:=x)',
    '(2.5.4.35=*)',
    '(USERPASSWORD=*)',
    '(!(userPassword=*))',
  ];
  for (const text of filters) {
    it(`${text} is Undefined, with or without a stored hash`, () => {
      assert.equal(matches(parseFilter(text), withPassword), U);
      assert.equal(matches(parseFilter(text), alice), U);
    });
  }
  it('so a password filter inside OR or AND reveals nothing: (|(userPassword=*)(uid=bob)) only matches through uid', () => {
    assert.equal(matches(parseFilter('(|(userPassword=*)(uid=bob))'), withPassword), true);
    assert.equal(matches(parseFilter('(|(userPassword=*)(uid=bob))'), alice), U);
    assert.equal(matches(parseFilter('(&(userPassword=*)(uid=bob))'), withPassword), U);
  });
  it('a typeless extensible match never looks at it either', () => {
    assert.equal(matches(parseFilter('(:octetStringMatch:={CRYPT}$2y$10$abcdefghijklmnopqrstuv)'), withPassword), false);
  });
});

describe('LDAP filters: compiled once, normalised once', () => {
  it('an unknown type compiles to a constant Undefined; a known absent one does not', () => {
    assert.deepEqual(compileFilter(parseFilter('(foo=x)')), { kind: 'const', value: U });
    assert.equal(compileFilter(parseFilter('(mail=x)')).kind, 'equality');
  });
  it('assertion values are stored normalised, attribute names resolved', () => {
    const compiled = compileFilter(parseFilter('(CommonName=  Bob   SMITH )'));
    assert.ok(compiled.kind === 'equality');
    assert.equal(compiled.type.name, 'cn');
    assert.equal(compiled.value, 'bob smith');
  });
  it('substring matching follows slapd: initial, any in order, final after them', () => {
    assert.equal(substringsMatch('alice marie liddell', 'alice', ['marie'], 'liddell'), true);
    assert.equal(substringsMatch('abcabc', 'abc', [], 'abc'), true);
    assert.equal(substringsMatch('abc', 'ab', [], 'bc'), false); // overlapping is not allowed
    assert.equal(substringsMatch('abab', null, ['ab', 'ab'], null), true);
    assert.equal(substringsMatch('ab', null, ['ab', 'ab'], null), false);
  });
});

describe('LDAP filters: RFC 4515 strings', () => {
  const texts = [
    '(&(objectClass=posixAccount)(uid=alice))',
    '(|(memberUid=bob)(member=uid=bob,ou=people,dc=bramble,dc=local))',
    '(!(cn=a\\2ab\\28\\29\\5c))',
    '(cn=*a*b*)',
    '(cn=a*)',
    '(cn=*a)',
    '(cn~=x)',
    '(uidNumber>=5)',
    '(uidNumber<=5)',
    '(cn=*)',
    '(cn:dn:caseExactMatch:=x)',
    '(:dn:2.5.13.2:=x)',
    '(cn:=x)',
    '(cn=Chloé)',
    '(&)',
  ];
  for (const text of texts) {
    it(`${text} round-trips`, () => assert.equal(filterToString(parseFilter(text)), text));
  }
});
