/**
 * The LDAP schema (ldap.schema.ts): attribute types and object classes as slapd 2.5 defines them,
 * looked up by any case of a name or alias or by OID, with rules and syntax inherited from supertypes.
 * The expected spellings and rules are those of slapd's schema_prep.c and core/cosine/
 * inetorgperson/nis.schema; the canonical names are what slapd answers (checked with ldapsearch).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchingRule } from '../../../src/plugins/ldap/ldap.matching';
import {
  Syntax,
  allClasses,
  allTypes,
  attributeType,
  isSubtypeOf,
  objectClass,
  parseAttributeDescription,
} from '../../../src/plugins/ldap/ldap.schema';

describe('LDAP schema: attribute type lookup', () => {
  const cases: [string, string | null][] = [
    ['uidNumber', 'uidNumber'],
    ['UIDNUMBER', 'uidNumber'],
    ['uidnumber', 'uidNumber'],
    ['1.3.6.1.1.1.1.0', 'uidNumber'],
    ['cn', 'cn'],
    ['commonName', 'cn'],
    ['COMMONNAME', 'cn'],
    ['2.5.4.3', 'cn'],
    ['userid', 'uid'],
    ['0.9.2342.19200300.100.1.1', 'uid'],
    ['surname', 'sn'],
    ['rfc822Mailbox', 'mail'],
    ['domainComponent', 'dc'],
    ['homedirectory', 'homeDirectory'],
    ['memberuid', 'memberUid'],
    ['entrydn', 'entryDN'],
    ['userPassword', 'userPassword'],
    ['nosuchattribute', null],
    ['2.5.4.999', null],
    ['', null],
  ];
  for (const [name, canonical] of cases) {
    it(`${JSON.stringify(name)} → ${canonical}`, () => {
      assert.equal(attributeType(name)?.name ?? null, canonical);
    });
  }
});

describe('LDAP schema: the attributes the directory holds, as slapd defines them', () => {
  const cases: [
    string,
    { equality: string | null; ordering: string | null; substr: string | null; syntax: string; single: boolean; op: boolean },
  ][] = [
    [
      'uid',
      {
        equality: 'caseIgnoreMatch',
        ordering: null,
        substr: 'caseIgnoreSubstringsMatch',
        syntax: Syntax.directoryString,
        single: false,
        op: false,
      },
    ],
    [
      'cn',
      {
        equality: 'caseIgnoreMatch',
        ordering: null,
        substr: 'caseIgnoreSubstringsMatch',
        syntax: Syntax.directoryString,
        single: false,
        op: false,
      },
    ],
    [
      'sn',
      {
        equality: 'caseIgnoreMatch',
        ordering: null,
        substr: 'caseIgnoreSubstringsMatch',
        syntax: Syntax.directoryString,
        single: false,
        op: false,
      },
    ],
    [
      'displayName',
      {
        equality: 'caseIgnoreMatch',
        ordering: null,
        substr: 'caseIgnoreSubstringsMatch',
        syntax: Syntax.directoryString,
        single: true,
        op: false,
      },
    ],
    [
      'uidNumber',
      { equality: 'integerMatch', ordering: 'integerOrderingMatch', substr: null, syntax: Syntax.integer, single: true, op: false },
    ],
    [
      'gidNumber',
      { equality: 'integerMatch', ordering: 'integerOrderingMatch', substr: null, syntax: Syntax.integer, single: true, op: false },
    ],
    // nis.schema gives the shadow attributes no ordering rule: (shadowExpire>=1) is Undefined in slapd.
    ['shadowExpire', { equality: 'integerMatch', ordering: null, substr: null, syntax: Syntax.integer, single: true, op: false }],
    [
      'gecos',
      {
        equality: 'caseIgnoreIA5Match',
        ordering: null,
        substr: 'caseIgnoreIA5SubstringsMatch',
        syntax: Syntax.ia5String,
        single: true,
        op: false,
      },
    ],
    ['homeDirectory', { equality: 'caseExactIA5Match', ordering: null, substr: null, syntax: Syntax.ia5String, single: true, op: false }],
    ['loginShell', { equality: 'caseExactIA5Match', ordering: null, substr: null, syntax: Syntax.ia5String, single: true, op: false }],
    [
      'memberUid',
      {
        equality: 'caseExactIA5Match',
        ordering: null,
        substr: 'caseExactIA5SubstringsMatch',
        syntax: Syntax.ia5String,
        single: false,
        op: false,
      },
    ],
    [
      'dc',
      {
        equality: 'caseIgnoreIA5Match',
        ordering: null,
        substr: 'caseIgnoreIA5SubstringsMatch',
        syntax: Syntax.ia5String,
        single: true,
        op: false,
      },
    ],
    ['objectClass', { equality: 'objectIdentifierMatch', ordering: null, substr: null, syntax: Syntax.oid, single: false, op: false }],
    ['userPassword', { equality: 'octetStringMatch', ordering: null, substr: null, syntax: Syntax.octetString, single: false, op: false }],
    ['entryDN', { equality: 'distinguishedNameMatch', ordering: null, substr: null, syntax: Syntax.dn, single: true, op: true }],
    [
      'createTimestamp',
      {
        equality: 'generalizedTimeMatch',
        ordering: 'generalizedTimeOrderingMatch',
        substr: null,
        syntax: Syntax.generalizedTime,
        single: true,
        op: true,
      },
    ],
    ['entryUUID', { equality: 'UUIDMatch', ordering: 'UUIDOrderingMatch', substr: null, syntax: Syntax.uuid, single: true, op: true }],
    ['hasSubordinates', { equality: 'booleanMatch', ordering: null, substr: null, syntax: Syntax.boolean, single: true, op: true }],
    ['supportedLDAPVersion', { equality: null, ordering: null, substr: null, syntax: Syntax.integer, single: false, op: true }],
  ];
  for (const [name, expected] of cases) {
    it(name, () => {
      const t = attributeType(name)!;
      assert.deepEqual(
        { equality: t.equality, ordering: t.ordering, substr: t.substr, syntax: t.syntax, single: t.singleValue, op: t.operational },
        expected,
      );
    });
  }

  it('a subtype inherits rules and syntax from its supertype unless it has its own (cn from name; c keeps its syntax)', () => {
    const c = attributeType('c')!;
    assert.equal(c.sup?.name, 'name');
    assert.equal(c.equality, 'caseIgnoreMatch');
    assert.equal(c.syntax, '1.3.6.1.4.1.1466.115.121.1.11');
    assert.equal(attributeType('member')!.equality, 'distinguishedNameMatch'); // SUP distinguishedName
  });

  it('name covers cn, sn, givenName, o, ou and other names, not uid or displayName', () => {
    const name = attributeType('name')!;
    for (const sub of ['cn', 'sn', 'givenName', 'o', 'ou', 'title', 'c']) assert.ok(isSubtypeOf(attributeType(sub)!, name), sub);
    for (const other of ['uid', 'displayName', 'mail']) assert.ok(!isSubtypeOf(attributeType(other)!, name), other);
    assert.ok(name.subtypes.includes(attributeType('cn')!));
  });

  it('every rule the schema names is known to the matching module', () => {
    for (const t of allTypes()) {
      for (const rule of [t.equality, t.ordering, t.substr]) {
        if (rule !== null) assert.ok(matchingRule(rule), `${t.name}: ${rule}`);
      }
      assert.notEqual(t.syntax, '', `${t.name} has a syntax`);
    }
  });

  it('holds the four schema files and the built-ins: over 170 types, every name and OID unique', () => {
    const types = allTypes();
    assert.ok(types.length > 170, `${types.length} types`);
    const keys = new Set<string>();
    for (const t of types) {
      for (const key of [t.oid, ...t.names.map((n) => n.toLowerCase())]) {
        assert.ok(!keys.has(key), key);
        keys.add(key);
      }
    }
  });
});

describe('LDAP schema: object classes', () => {
  it('are found by any case of any name or by OID', () => {
    assert.equal(objectClass('inetorgperson')?.name, 'inetOrgPerson');
    assert.equal(objectClass('2.16.840.1.113730.3.2.2')?.name, 'inetOrgPerson');
    assert.equal(objectClass('LDAProotDSE')?.name, 'OpenLDAProotDSE');
    assert.equal(objectClass('POSIXACCOUNT')?.kind, 'auxiliary');
    assert.equal(objectClass('top')?.kind, 'abstract');
    assert.equal(objectClass('nosuchclass'), null);
  });

  it('know their superclasses: inetOrgPerson is an organizationalPerson, a person and a top', () => {
    const lineage = [...objectClass('inetOrgPerson')!.lineage].map((c) => c.name);
    assert.deepEqual(lineage.sort(), ['inetOrgPerson', 'organizationalPerson', 'person', 'top']);
    assert.ok(!objectClass('posixGroup')!.lineage.has(objectClass('person')!));
    // pilotOrganization has two superclasses.
    const pilot = objectClass('pilotOrganization')!;
    assert.ok(pilot.lineage.has(objectClass('organization')!) && pilot.lineage.has(objectClass('organizationalUnit')!));
    assert.ok(allClasses().length > 60);
  });
});

describe('LDAP schema: attribute descriptions', () => {
  const cases: [string, { type: string; tagged: boolean } | null][] = [
    ['cn', { type: 'cn', tagged: false }],
    ['CN;lang-en', { type: 'cn', tagged: true }],
    ['cn;LANG-EN-GB;lang-fr', { type: 'cn', tagged: true }],
    ['cn;x-foo', null],
    ['cn;', null],
    ['cn;binary', null],
    ['userCertificate;binary', { type: 'userCertificate', tagged: false }],
    ['entryDN;lang-en', null], // operational types take no options
    ['nosuch', null],
    ['nosuch;lang-en', null],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => {
      const d = parseAttributeDescription(text);
      assert.deepEqual(d === null ? null : { type: d.type.name, tagged: d.tagged }, expected);
    });
  }
});
