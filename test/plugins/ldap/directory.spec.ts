/**
 * The directory (ldap.directory.ts):
 *   given  users and groups as the core's views hold them,
 *   when   a search (base, scope, filter, attributes, limits, paging) by an anonymous or bound client,
 *   then   these entries with these attributes, in this order, and this result.
 * The expected answers are what slapd 2.5 gives for the same LDIF (toLdif) loaded with slapadd:
 * entry content, attribute names and order, result codes and matched DNs were compared with
 * ldapsearch against it. Sources: docs/pi-netboot-protocol.md §5.3, RFC 4511 §4.5, RFC 2696, RFC 2849.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupRecord, UserRecord } from '../../../src/core/plugin-api';
import * as filterModule from '../../../src/plugins/ldap/ldap.filter';
import {
  Directory,
  gecosOf,
  type DirectoryOptions,
  type SearchOptions,
  type SearchOutcome,
} from '../../../src/plugins/ldap/ldap.directory';
import { ResultCode, type EntryAttribute, type Scope, type SearchRequest } from '../../../src/plugins/ldap/ldap.types';
import { parseFilter } from '../../support/ldap-filter-string';

const BASE = 'dc=bramble,dc=local';
const PEOPLE = `ou=people,${BASE}`;
const GROUPS = `ou=groups,${BASE}`;
const HASH = '{CRYPT}$2y$10$abcdefghijklmnopqrstuuVWXYZabcdefghijklmnopqrstuvwxyz0';

function user(username: string, over: Partial<UserRecord> = {}): UserRecord {
  return {
    username,
    uidNumber: 1000,
    gidNumber: 1000,
    fullName: '',
    groups: [],
    enabled: true,
    passwordHash: HASH,
    createdAt: '2025-02-01T12:00:00.000Z',
    updatedAt: '2025-03-01T12:00:00.000Z',
    ...over,
  };
}

function group(name: string, gidNumber: number, members: string[]): GroupRecord {
  return { name, gidNumber, members, createdAt: '2025-01-15T08:00:00.000Z' };
}

function directory(options: Partial<DirectoryOptions> = {}): Directory {
  return new Directory({
    baseDn: BASE,
    anonymousRead: true,
    cookieKey: Buffer.alloc(32, 7),
    createdAt: '2025-01-01T00:00:00Z',
    ...options,
  });
}

/** The small fleet most tests use. */
function fleet(options: Partial<DirectoryOptions> = {}): Directory {
  const d = directory(options);
  d.setUser(user('alice', { uidNumber: 1000, gidNumber: 1000, fullName: 'Alice Marie Liddell' }));
  d.setUser(user('bob', { uidNumber: 1001, gidNumber: 1001, fullName: 'Bob Smith', enabled: false }));
  d.setUser(user('chloe', { uidNumber: 1002, gidNumber: 100, fullName: 'Chloé Brontë' }));
  d.setGroup(group('staff', 1000, ['alice', 'bob']));
  d.setGroup(group('users', 100, ['chloe']));
  return d;
}

function request(
  baseObject: string,
  scope: Scope,
  filter: string,
  attributes: string[] = [],
  over: Partial<SearchRequest> = {},
): SearchRequest {
  return {
    op: 'search',
    messageId: 2,
    controls: [],
    baseObject,
    scope,
    derefAliases: 0,
    sizeLimit: 0,
    timeLimit: 0,
    typesOnly: false,
    filter: parseFilter(filter),
    attributes,
    ...over,
  };
}

const anonymous = { dn: null };
const alice = { dn: `uid=alice,${PEOPLE}` };

function search(d: Directory, req: SearchRequest, who: { dn: string | null } = anonymous, options?: SearchOptions): SearchOutcome {
  return d.search(req, who, options);
}

function dns(outcome: SearchOutcome): string[] {
  return outcome.entries.map((e) => e.dn);
}

/** An entry's attributes as [name, values] pairs, in response order. */
function pairs(attributes: EntryAttribute[]): [string, string[]][] {
  return attributes.map((a) => [a.type, a.values.map(String)]);
}

describe('LDAP directory: the tree', () => {
  it('holds the base, the two OUs, a user per record and a group per record', () => {
    const d = fleet();
    assert.equal(d.entryCount, 3 + 3 + 2);
    assert.deepEqual(dns(search(d, request(BASE, 'sub', '(objectClass=*)', ['1.1']))), [
      BASE,
      GROUPS,
      `cn=staff,${GROUPS}`,
      `cn=users,${GROUPS}`,
      PEOPLE,
      `uid=bob,${PEOPLE}`, // children by RDN length, then name (slapd's back-mdb order)
      `uid=alice,${PEOPLE}`,
      `uid=chloe,${PEOPLE}`,
    ]);
  });

  const bases: [string, [string, string[]][]][] = [
    [
      'dc=bramble,dc=local',
      [
        ['objectClass', ['top', 'dcObject', 'organization']],
        ['dc', ['bramble']],
        ['o', ['bramble']],
      ],
    ],
    [
      'o=Springfield School,c=GB',
      [
        ['objectClass', ['top', 'organization']],
        ['o', ['Springfield School']],
      ],
    ],
    [
      'ou=Lab,dc=school,dc=example',
      [
        ['objectClass', ['top', 'organizationalUnit']],
        ['ou', ['Lab']],
      ],
    ],
    [
      'DC=Bramble , DC=Local',
      [
        ['objectClass', ['top', 'dcObject', 'organization']],
        ['dc', ['Bramble']],
        ['o', ['Bramble']],
      ],
    ],
  ];
  for (const [baseDn, attributes] of bases) {
    it(`base ${baseDn}: its entry takes its classes from the first RDN`, () => {
      const d = directory({ baseDn });
      const out = search(d, request(baseDn, 'base', '(objectClass=*)'));
      assert.equal(out.result.code, ResultCode.success);
      assert.deepEqual(pairs(out.entries[0].attributes), attributes);
    });
  }

  const bad: [Partial<DirectoryOptions>, RegExp][] = [
    [{ baseDn: 'not a dn' }, /baseDn: not a DN/],
    [{ baseDn: '' }, /baseDn: not a DN/],
    [{ baseDn: 'cn=bramble,dc=local' }, /baseDn: must start with dc=, o= or ou=/],
    [{ baseDn: 'dc=a+o=b' }, /single attribute/],
    [{ homeRoot: 'home' }, /homeRoot: not an absolute ASCII path/],
    [{ homeRoot: '/hôme' }, /homeRoot/],
    [{ loginShell: 'bash' }, /loginShell/],
    [{ createdAt: 'yesterday' }, /createdAt/],
  ];
  for (const [options, message] of bad) {
    it(`refuses ${JSON.stringify(options)} with a message naming the setting`, () => {
      assert.throws(() => directory(options), message);
    });
  }
});

describe('LDAP directory: a user entry, as nslcd reads it', () => {
  it('has every attribute of inetOrgPerson, posixAccount and shadowAccount, then the operational ones', () => {
    const d = fleet();
    const out = search(d, request(`uid=alice,${PEOPLE}`, 'base', '(objectClass=*)', ['*', '+']));
    assert.deepEqual(pairs(out.entries[0].attributes), [
      ['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'posixAccount', 'shadowAccount']],
      ['uid', ['alice']],
      ['cn', ['Alice Marie Liddell']],
      ['sn', ['Liddell']],
      ['givenName', ['Alice Marie']],
      ['displayName', ['Alice Marie Liddell']],
      ['uidNumber', ['1000']],
      ['gidNumber', ['1000']],
      ['homeDirectory', ['/home/alice']],
      ['loginShell', ['/bin/bash']],
      ['gecos', ['Alice Marie Liddell']],
      ['shadowLastChange', ['20148']], // 2025-03-01, the record's updatedAt
      ['shadowMin', ['0']],
      ['shadowMax', ['99999']],
      ['shadowWarning', ['7']],
      ['structuralObjectClass', ['inetOrgPerson']],
      ['entryUUID', ['93db3e25-f571-5358-a320-2608a3c2f852']], // uuid5(NAMESPACE_X500, DN), as Python's uuid module computes it
      ['createTimestamp', ['20250201120000Z']],
      ['modifyTimestamp', ['20250301120000Z']],
      ['entryDN', [`uid=alice,${PEOPLE}`]],
      ['subschemaSubentry', ['cn=Subschema']],
      ['hasSubordinates', ['FALSE']],
    ]);
  });

  it('a disabled user is still there (files keep their owner) but expired: shadowExpire 1', () => {
    const d = fleet();
    const bob = search(d, request(`uid=bob,${PEOPLE}`, 'base', '(objectClass=*)', ['shadowExpire', 'uid']));
    assert.deepEqual(pairs(bob.entries[0].attributes), [
      ['uid', ['bob']],
      ['shadowExpire', ['1']],
    ]);
    assert.deepEqual(dns(search(d, request(BASE, 'sub', '(&(objectClass=shadowAccount)(shadowExpire=1))', ['1.1']))), [
      `uid=bob,${PEOPLE}`,
    ]);
    // Enabling him again removes the expiry.
    d.setUser(user('bob', { uidNumber: 1001, gidNumber: 1001, fullName: 'Bob Smith', enabled: true }));
    assert.deepEqual(dns(search(d, request(BASE, 'sub', '(shadowExpire=*)', ['1.1']))), []);
  });

  const names: [string, { cn: string; sn: string; givenName: string | null; gecos: string }][] = [
    ['', { cn: 'dave', sn: 'dave', givenName: null, gecos: 'dave' }],
    ['   ', { cn: 'dave', sn: 'dave', givenName: null, gecos: 'dave' }],
    ['Plato', { cn: 'Plato', sn: 'Plato', givenName: null, gecos: 'Plato' }],
    ['Ada King Lovelace', { cn: 'Ada King Lovelace', sn: 'Lovelace', givenName: 'Ada King', gecos: 'Ada King Lovelace' }],
    ['  Ada   Lovelace ', { cn: 'Ada   Lovelace', sn: 'Lovelace', givenName: 'Ada', gecos: 'Ada Lovelace' }],
    ['Chloé Brontë', { cn: 'Chloé Brontë', sn: 'Brontë', givenName: 'Chloé', gecos: 'Chloe Bronte' }],
    ['Smith, John: Jr', { cn: 'Smith, John: Jr', sn: 'Jr', givenName: 'Smith, John:', gecos: 'Smith John Jr' }],
    ['李小龙', { cn: '李小龙', sn: '李小龙', givenName: null, gecos: 'dave' }],
    ['Line\nBreak', { cn: 'Line\nBreak', sn: 'Break', givenName: 'Line', gecos: 'LineBreak' }],
  ];
  for (const [fullName, expected] of names) {
    it(`full name ${JSON.stringify(fullName)} gives cn, sn, givenName and an ASCII gecos`, () => {
      const d = directory();
      d.setUser(user('dave', { fullName }));
      const out = search(d, request(`uid=dave,${PEOPLE}`, 'base', '(objectClass=*)', ['cn', 'sn', 'givenName', 'gecos']));
      const got = Object.fromEntries(pairs(out.entries[0].attributes).map(([k, v]) => [k, v[0]]));
      assert.deepEqual({ cn: got.cn, sn: got.sn, givenName: got.givenName ?? null, gecos: got.gecos }, expected);
    });
  }

  it('gecos never carries the passwd separators or non-ASCII', () => {
    assert.equal(gecosOf('a:b,c'), 'a b c');
    assert.equal(gecosOf('Zoë'), 'Zoe');
    assert.equal(gecosOf('🙂'), '');
  });

  it('homes follow homeRoot (trailing slash ignored) and shells loginShell', () => {
    const d = directory({ homeRoot: '/srv/home/', loginShell: '/bin/zsh' });
    d.setUser(user('dave'));
    const out = search(d, request(`uid=dave,${PEOPLE}`, 'base', '(objectClass=*)', ['homeDirectory', 'loginShell']));
    assert.deepEqual(pairs(out.entries[0].attributes), [
      ['homeDirectory', ['/srv/home/dave']],
      ['loginShell', ['/bin/zsh']],
    ]);
  });
});

describe('LDAP directory: a group entry', () => {
  it('is a posixGroup with cn, gidNumber and one memberUid per distinct member', () => {
    const d = directory();
    d.setGroup(group('lab', 2000, ['alice', 'bob', 'alice']));
    d.setGroup(group('nobody-here', 2001, []));
    const out = search(d, request(GROUPS, 'one', '(objectClass=posixGroup)', ['*', 'structuralObjectClass', 'createTimestamp']));
    assert.deepEqual(
      out.entries.map((e) => [e.dn, pairs(e.attributes)]),
      [
        [
          `cn=lab,${GROUPS}`,
          [
            ['objectClass', ['top', 'posixGroup']],
            ['cn', ['lab']],
            ['gidNumber', ['2000']],
            ['memberUid', ['alice', 'bob']],
            ['structuralObjectClass', ['posixGroup']],
            ['createTimestamp', ['20250115080000Z']],
          ],
        ],
        [
          `cn=nobody-here,${GROUPS}`,
          [
            ['objectClass', ['top', 'posixGroup']],
            ['cn', ['nobody-here']],
            ['gidNumber', ['2001']],
            ['structuralObjectClass', ['posixGroup']],
            ['createTimestamp', ['20250115080000Z']],
          ],
        ],
      ],
    );
  });

  it("answers nslcd's group lookups: by member, by gid, by name", () => {
    const d = fleet();
    const find = (f: string) => dns(search(d, request(BASE, 'sub', f, ['cn'])));
    assert.deepEqual(find('(&(objectClass=posixGroup)(memberUid=alice))'), [`cn=staff,${GROUPS}`]);
    assert.deepEqual(find('(&(objectClass=posixGroup)(|(memberUid=bob)(member=uid=bob,ou=people,dc=bramble,dc=local)))'), [
      `cn=staff,${GROUPS}`,
    ]);
    assert.deepEqual(find('(&(objectClass=posixGroup)(gidNumber=100))'), [`cn=users,${GROUPS}`]);
    assert.deepEqual(find('(&(objectClass=posixGroup)(cn=STAFF))'), [`cn=staff,${GROUPS}`]);
    assert.deepEqual(find('(&(objectClass=posixGroup)(memberUid=ALICE))'), []); // memberUid is case-exact
  });
});

describe('LDAP directory: scope × base', () => {
  const cases: [string, Scope, string[]][] = [
    [BASE, 'base', [BASE]],
    [BASE, 'one', [GROUPS, PEOPLE]],
    [PEOPLE, 'base', [PEOPLE]],
    [PEOPLE, 'one', [`uid=bob,${PEOPLE}`, `uid=alice,${PEOPLE}`, `uid=chloe,${PEOPLE}`]],
    [PEOPLE, 'sub', [PEOPLE, `uid=bob,${PEOPLE}`, `uid=alice,${PEOPLE}`, `uid=chloe,${PEOPLE}`]],
    [GROUPS, 'one', [`cn=staff,${GROUPS}`, `cn=users,${GROUPS}`]],
    [`uid=alice,${PEOPLE}`, 'base', [`uid=alice,${PEOPLE}`]],
    [`uid=alice,${PEOPLE}`, 'one', []],
    [`uid=alice,${PEOPLE}`, 'sub', [`uid=alice,${PEOPLE}`]],
    // the base DN in any case, spacing or attribute alias
    ['UID=ALICE, OU=PEOPLE, DC=BRAMBLE, DC=LOCAL', 'base', [`uid=alice,${PEOPLE}`]],
    ['userid=Alice,organizationalUnitName=People,domainComponent=bramble,dc=local', 'base', [`uid=alice,${PEOPLE}`]],
    ['0.9.2342.19200300.100.1.1=alice,ou=people,dc=bramble,dc=local', 'base', [`uid=alice,${PEOPLE}`]],
    ['ou = people ; dc = bramble ; dc = local', 'base', [PEOPLE]],
  ];
  for (const [base, scope, expected] of cases) {
    it(`${base} ${scope}`, () => {
      const out = search(fleet(), request(base, scope, '(objectClass=*)', ['1.1']));
      assert.equal(out.result.code, ResultCode.success);
      assert.deepEqual(dns(out), expected);
    });
  }

  it('the filter applies within the scope only', () => {
    assert.deepEqual(dns(search(fleet(), request(GROUPS, 'sub', '(uid=alice)', ['1.1']))), []);
    assert.deepEqual(dns(search(fleet(), request(PEOPLE, 'one', '(|(uid=alice)(cn=staff))', ['1.1']))), [`uid=alice,${PEOPLE}`]);
  });
});

describe('LDAP directory: bases that do not exist or are not DNs', () => {
  const cases: [string, number, string][] = [
    [`uid=nobody,${PEOPLE}`, ResultCode.noSuchObject, PEOPLE],
    [`cn=x,uid=nobody,${PEOPLE}`, ResultCode.noSuchObject, PEOPLE],
    [`cn=x,uid=alice,${PEOPLE}`, ResultCode.noSuchObject, `uid=alice,${PEOPLE}`],
    ['ou=printers,DC=Bramble,dc=local', ResultCode.noSuchObject, BASE],
    ['dc=local', ResultCode.noSuchObject, ''],
    ['dc=other,dc=example', ResultCode.noSuchObject, ''],
    ['foo=bar,dc=bramble,dc=local', ResultCode.invalidDNSyntax, ''],
    ['uid=alice,,dc=bramble,dc=local', ResultCode.invalidDNSyntax, ''],
    ['uid=#0405616c696365,ou=people,dc=bramble,dc=local', ResultCode.invalidDNSyntax, ''],
    ['not a dn', ResultCode.invalidDNSyntax, ''],
  ];
  for (const [base, code, matchedDN] of cases) {
    it(`${base} → ${code}${matchedDN ? ` (matched ${matchedDN})` : ''}`, () => {
      const out = search(fleet(), request(base, 'sub', '(objectClass=*)'));
      assert.deepEqual([out.result.code, out.result.matchedDN, out.entries.length], [code, matchedDN, 0]);
    });
  }
});

describe('LDAP directory: the root DSE', () => {
  it("anyone's `-b '' -s base` gets objectClass only, as from slapd", () => {
    const out = search(fleet({ anonymousRead: false }), request('', 'base', '(objectClass=*)'));
    assert.equal(out.result.code, ResultCode.success);
    assert.deepEqual(
      out.entries.map((e) => [e.dn, pairs(e.attributes)]),
      [['', [['objectClass', ['top', 'OpenLDAProotDSE']]]]],
    );
  });

  it('with + it lists the naming context, controls, extensions and features', () => {
    const out = search(fleet(), request('', 'base', '(objectClass=*)', ['+']));
    assert.deepEqual(pairs(out.entries[0].attributes), [
      ['structuralObjectClass', ['OpenLDAProotDSE']],
      ['namingContexts', [BASE]],
      ['supportedControl', ['1.2.840.113556.1.4.319']],
      ['supportedExtension', ['1.3.6.1.4.1.1466.20037', '1.3.6.1.4.1.4203.1.11.3']],
      ['supportedFeatures', ['1.3.6.1.4.1.4203.1.5.1', '1.3.6.1.4.1.4203.1.5.3']],
      ['supportedLDAPVersion', ['3']],
      ['vendorName', ['bramble']],
      ['entryDN', ['']],
      ['subschemaSubentry', ['cn=Subschema']],
    ]);
    // rootDse() gives both halves at once.
    assert.deepEqual(
      fleet()
        .rootDse()
        .attributes.map((a) => a.type),
      ['objectClass', ...pairs(out.entries[0].attributes).map(([k]) => k)],
    );
  });

  it('tests the filter like any entry; other scopes on the empty base find nothing', () => {
    const d = fleet();
    assert.equal(search(d, request('', 'base', '(supportedLDAPVersion=3)')).entries.length, 0); // no equality rule: Undefined
    assert.equal(search(d, request('', 'base', '(objectClass=LDAProotDSE)')).entries.length, 1);
    assert.equal(search(d, request('', 'one', '(objectClass=*)')).result.code, ResultCode.noSuchObject);
    assert.equal(search(d, request('', 'sub', '(objectClass=*)')).result.code, ResultCode.noSuchObject);
  });
});

describe('LDAP directory: attribute selection', () => {
  const at = `uid=alice,${PEOPLE}`;
  const cases: [string[], string[]][] = [
    [['uid'], ['uid']],
    [
      ['UID', 'UIDNUMBER', 'gidnumber'],
      ['uid', 'uidNumber', 'gidNumber'],
    ], // schema spelling, entry order
    [['commonName'], ['cn']],
    [
      ['2.5.4.3', '1.3.6.1.1.1.1.0'],
      ['cn', 'uidNumber'],
    ],
    [['cn', 'commonName', 'CN'], ['cn']], // once
    [['name'], ['cn', 'sn', 'givenName']], // a supertype selects its subtypes
    [['1.1'], []],
    [['1.1', 'uid'], ['uid']], // 1.1 beside other names is ignored
    [['nosuch', 'uid;lang-en', 'uid;x-foo', 'uid'], ['uid']],
    [
      ['entryDN', 'hasSubordinates'],
      ['entryDN', 'hasSubordinates'],
    ],
    [
      ['uid', '+'],
      [
        'uid',
        'structuralObjectClass',
        'entryUUID',
        'createTimestamp',
        'modifyTimestamp',
        'entryDN',
        'subschemaSubentry',
        'hasSubordinates',
      ],
    ],
    [
      [],
      [
        'objectClass',
        'uid',
        'cn',
        'sn',
        'givenName',
        'displayName',
        'uidNumber',
        'gidNumber',
        'homeDirectory',
        'loginShell',
        'gecos',
        'shadowLastChange',
        'shadowMin',
        'shadowMax',
        'shadowWarning',
      ],
    ],
  ];
  for (const [attributes, expected] of cases) {
    it(`${JSON.stringify(attributes)} → ${JSON.stringify(expected)}`, () => {
      const out = search(fleet(), request(at, 'base', '(objectClass=*)', attributes));
      assert.deepEqual(
        out.entries[0].attributes.map((a) => a.type),
        expected,
      );
    });
  }

  it('* is the same as no list; typesOnly keeps the names and drops every value', () => {
    const d = fleet();
    const all = search(d, request(at, 'base', '(objectClass=*)', ['*']));
    assert.deepEqual(all, search(d, request(at, 'base', '(objectClass=*)', [])));
    const types = search(d, request(at, 'base', '(objectClass=*)', ['*', '+'], { typesOnly: true }));
    assert.ok(types.entries[0].attributes.length > 15);
    assert.ok(types.entries[0].attributes.every((a) => a.values.length === 0));
  });
});

describe('LDAP directory: userPassword is never returned', () => {
  const selections = [['userPassword'], ['USERPASSWORD'], ['2.5.4.35'], ['*'], ['*', '+'], [], ['userPassword', 'uid']];
  for (const attributes of selections) {
    for (const typesOnly of [false, true]) {
      it(`not with ${JSON.stringify(attributes)}${typesOnly ? ', typesOnly' : ''}, anonymous or bound`, () => {
        const d = fleet();
        for (const who of [anonymous, alice]) {
          const out = search(d, request(BASE, 'sub', '(objectClass=*)', attributes, { typesOnly }), who);
          assert.equal(out.entries.length, 8);
          const names = out.entries.flatMap((e) => e.attributes.map((a) => a.type.toLowerCase()));
          assert.ok(!names.includes('userpassword'));
          assert.ok(!JSON.stringify(out).includes('$2y$'), 'no hash anywhere in the answer');
        }
      });
    }
  }

  it('and no filter on it tells who has one', () => {
    const d = fleet();
    for (const f of [
      '(userPassword=*)',
      '(!(userPassword=*))',
      `(userPassword=${HASH.replace(/[*()\\]/g, '')})`,
      '(userPassword=\\7bCRYPT*)',
    ]) {
      assert.deepEqual(dns(search(d, request(BASE, 'sub', f, ['1.1']), alice)), [], f);
    }
  });
});

describe('LDAP directory: anonymous access', () => {
  it('with anonymousRead false, an anonymous search gets insufficientAccessRights and nothing else', () => {
    const d = fleet({ anonymousRead: false });
    const out = search(d, request(BASE, 'sub', '(uid=alice)'));
    assert.equal(out.result.code, ResultCode.insufficientAccessRights);
    assert.equal(out.entries.length, 0);
    // Not even whether a base exists.
    assert.equal(search(d, request(`uid=nobody,${PEOPLE}`, 'base', '(objectClass=*)')).result.code, ResultCode.insufficientAccessRights);
  });

  it('a bound user reads everything but passwords; with anonymousRead true so does anyone', () => {
    assert.deepEqual(dns(search(fleet({ anonymousRead: false }), request(BASE, 'sub', '(uid=alice)', ['1.1']), alice)), [
      `uid=alice,${PEOPLE}`,
    ]);
    assert.deepEqual(dns(search(fleet({ anonymousRead: true }), request(BASE, 'sub', '(uid=alice)', ['1.1']))), [`uid=alice,${PEOPLE}`]);
  });
});

describe('LDAP directory: size limits', () => {
  function many(n: number): Directory {
    const d = directory();
    for (let i = 1; i <= n; i++) d.setUser(user(`u${String(i).padStart(2, '0')}`, { uidNumber: 2000 + i }));
    return d;
  }
  const cases: [number, number | undefined, number, number][] = [
    // request limit, maxSizeLimit, entries, code
    [0, undefined, 25, ResultCode.success],
    [3, undefined, 3, ResultCode.sizeLimitExceeded],
    [25, undefined, 25, ResultCode.success], // exactly the number of matches
    [24, undefined, 24, ResultCode.sizeLimitExceeded],
    [0, 10, 10, ResultCode.sizeLimitExceeded],
    [5, 10, 5, ResultCode.sizeLimitExceeded],
    [20, 10, 10, ResultCode.sizeLimitExceeded],
    [0, 0, 25, ResultCode.success], // 0 = no server limit
  ];
  for (const [sizeLimit, maxSizeLimit, entries, code] of cases) {
    it(`25 matches, sizeLimit ${sizeLimit}, maxSizeLimit ${maxSizeLimit ?? 'default'} → ${entries} entries, code ${code}`, () => {
      const out = search(many(25), request(PEOPLE, 'one', '(objectClass=posixAccount)', ['uid'], { sizeLimit }), anonymous, {
        maxSizeLimit,
      });
      assert.equal(out.entries.length, entries);
      assert.equal(out.result.code, code);
      assert.deepEqual(
        out.entries.map((e) => e.dn),
        Array.from({ length: entries }, (_, i) => `uid=u${String(i + 1).padStart(2, '0')},${PEOPLE}`),
      );
    });
  }

  it('the default server limit is 1000', () => {
    const out = search(many(0), request(PEOPLE, 'one', '(objectClass=*)'));
    assert.equal(out.result.code, ResultCode.success);
    const d = directory();
    for (let i = 0; i < 1001; i++) d.setGroup(group(`g${i}`, 5000 + i, []));
    const big = search(d, request(GROUPS, 'one', '(objectClass=posixGroup)', ['1.1']));
    assert.deepEqual([big.entries.length, big.result.code], [1000, ResultCode.sizeLimitExceeded]);
  });
});

describe('LDAP directory: paged results (RFC 2696)', () => {
  function twentyFive(): Directory {
    const d = directory();
    for (let i = 1; i <= 25; i++) d.setUser(user(`u${String(i).padStart(2, '0')}`, { uidNumber: 2000 + i }));
    d.setGroup(group('staff', 1000, ['u01']));
    return d;
  }
  const all = Array.from({ length: 25 }, (_, i) => `uid=u${String(i + 1).padStart(2, '0')},${PEOPLE}`);
  const req = (over: Partial<SearchRequest> = {}) => request(BASE, 'sub', '(objectClass=posixAccount)', ['uid'], over);

  function page(d: Directory, size: number, cookie: Buffer, r = req(), who: { dn: string | null } = anonymous, maxSizeLimit?: number) {
    return d.search(r, who, { paged: { size, cookie }, maxSizeLimit });
  }

  it('25 users in pages of 10: 10, 10, 5, each page with a cookie but the last, every user once in order', () => {
    const d = twentyFive();
    const seen: string[] = [];
    const sizes: number[] = [];
    let cookie: Buffer = Buffer.alloc(0);
    for (let round = 0; round < 10; round++) {
      const out = page(d, 10, cookie);
      assert.equal(out.result.code, ResultCode.success);
      assert.ok(out.paged);
      assert.equal(out.paged.size, 0); // no estimate, as slapd
      sizes.push(out.entries.length);
      seen.push(...dns(out));
      cookie = out.paged.cookie;
      if (cookie.length === 0) break;
    }
    assert.deepEqual(sizes, [10, 10, 5]);
    assert.deepEqual(seen, all);
  });

  it('a cookie survives changes: continues after its last entry, sends nothing twice, sees what was added after it', () => {
    const d = twentyFive();
    const first = page(d, 10, Buffer.alloc(0));
    assert.deepEqual(dns(first), all.slice(0, 10));
    d.removeUser('u05'); // already sent
    d.removeUser('u10'); // the cookie's own position
    d.removeUser('u15'); // not yet sent
    d.setUser(user('u00')); // before the position: not seen by this paged search
    d.setUser(user('u99')); // after it
    const second = page(d, 10, first.paged!.cookie);
    assert.equal(second.result.code, ResultCode.success);
    assert.deepEqual(dns(second), [...all.slice(10, 14), ...all.slice(15, 21)]);
    const third = page(d, 10, second.paged!.cookie);
    assert.deepEqual(dns(third), [...all.slice(21), `uid=u99,${PEOPLE}`]);
    assert.equal(third.paged!.cookie.length, 0);
  });

  it('a cookie from another directory (a restart), or altered, is refused as invalid or old', () => {
    const d = twentyFive();
    const cookie = page(d, 10, Buffer.alloc(0)).paged!.cookie;
    const restarted = new Directory({ baseDn: BASE, anonymousRead: true }); // fresh random key
    for (let i = 1; i <= 25; i++) restarted.setUser(user(`u${String(i).padStart(2, '0')}`));
    const stale = page(restarted, 10, cookie);
    assert.deepEqual(
      [stale.result.code, stale.result.message, stale.entries.length],
      [ResultCode.unwillingToPerform, 'paged results cookie is invalid or old', 0],
    );
    assert.deepEqual(stale.paged, { size: 0, cookie: Buffer.alloc(0) });
    for (const offset of [1, 4, 8, cookie.length - 1]) {
      const altered = Buffer.from(cookie);
      altered[offset] ^= 0x01;
      assert.equal(page(d, 10, altered).result.code, ResultCode.unwillingToPerform, `byte ${offset}`);
    }
  });

  it('a cookie that is not one of ours at all is a protocol error', () => {
    const d = twentyFive();
    const cookie = page(d, 10, Buffer.alloc(0)).paged!.cookie;
    for (const bad of [
      Buffer.from([1]),
      cookie.subarray(0, cookie.length - 1),
      Buffer.concat([cookie, Buffer.from([0])]),
      Buffer.from('hello world, a cookie of 32 bytes'),
    ]) {
      const out = page(d, 10, bad);
      assert.deepEqual([out.result.code, out.result.message], [ResultCode.protocolError, 'paged results cookie is invalid']);
    }
  });

  it('a cookie only continues its own search, for its own client', () => {
    const d = twentyFive();
    const cookie = page(d, 10, Buffer.alloc(0)).paged!.cookie;
    assert.equal(page(d, 10, cookie, request(BASE, 'sub', '(objectClass=*)', ['uid'])).result.code, ResultCode.unwillingToPerform);
    assert.equal(page(d, 10, cookie, req({ attributes: ['cn'] })).result.code, ResultCode.unwillingToPerform);
    assert.equal(
      page(d, 10, cookie, request(PEOPLE, 'sub', '(objectClass=posixAccount)', ['uid'])).result.code,
      ResultCode.unwillingToPerform,
    );
    assert.equal(page(d, 10, cookie, req(), alice).result.code, ResultCode.unwillingToPerform);
    // The page size may change between requests.
    assert.deepEqual(dns(page(d, 3, cookie)), all.slice(10, 13));
  });

  it('page size 0 ends the search: no entries, an empty cookie', () => {
    const d = twentyFive();
    const cookie = page(d, 10, Buffer.alloc(0)).paged!.cookie;
    const out = page(d, 0, cookie);
    assert.deepEqual([out.result.code, out.entries.length, out.paged!.cookie.length], [ResultCode.success, 0, 0]);
  });

  it("the request's size limit bounds the whole paged search", () => {
    const d = twentyFive();
    const first = page(d, 10, Buffer.alloc(0), req({ sizeLimit: 15 }));
    assert.deepEqual([first.entries.length, first.result.code, first.paged!.cookie.length > 0], [10, ResultCode.success, true]);
    const second = page(d, 10, first.paged!.cookie, req({ sizeLimit: 15 }));
    assert.deepEqual(dns(second), all.slice(10, 15));
    assert.deepEqual([second.result.code, second.paged!.cookie.length], [ResultCode.sizeLimitExceeded, 0]);
  });

  it('a page size not below the size limit is answered in one go (RFC 2696 §3)', () => {
    const out = page(twentyFive(), 10, Buffer.alloc(0), req({ sizeLimit: 5 }));
    assert.deepEqual([out.entries.length, out.result.code, out.paged!.cookie.length], [5, ResultCode.sizeLimitExceeded, 0]);
  });

  it('maxSizeLimit caps each page, not the paged search: 25 users in pages capped at 10', () => {
    const d = twentyFive();
    const seen: string[] = [];
    let cookie: Buffer = Buffer.alloc(0);
    for (let round = 0; round < 10; round++) {
      const out = page(d, 500, cookie, req(), anonymous, 10);
      assert.ok(out.entries.length <= 10);
      seen.push(...dns(out));
      cookie = out.paged!.cookie;
      if (cookie.length === 0) break;
    }
    assert.deepEqual(seen, all);
  });

  it('an anonymous paged search with anonymousRead false is refused like any other', () => {
    const d = directory({ anonymousRead: false });
    d.setUser(user('alice'));
    const out = d.search(req(), anonymous, { paged: { size: 10, cookie: Buffer.alloc(0) } });
    assert.equal(out.result.code, ResultCode.insufficientAccessRights);
    assert.deepEqual(out.paged, { size: 0, cookie: Buffer.alloc(0) });
  });
});

describe('LDAP directory: kept up to date one record at a time', () => {
  it('setUser replaces the entry and its index keys; removeUser removes them', () => {
    const d = fleet();
    d.setUser(user('alice', { uidNumber: 3000, fullName: 'Alice Hargreaves' }));
    const find = (f: string) => dns(search(d, request(BASE, 'sub', f, ['1.1'])));
    assert.deepEqual(find('(uidNumber=1000)'), []);
    assert.deepEqual(find('(uidNumber=3000)'), [`uid=alice,${PEOPLE}`]);
    assert.deepEqual(find('(cn=Alice Marie Liddell)'), []);
    assert.deepEqual(find('(cn=alice hargreaves)'), [`uid=alice,${PEOPLE}`]);
    d.removeUser('alice');
    assert.deepEqual(find('(uid=alice)'), []);
    assert.deepEqual(find('(objectClass=posixAccount)'), [`uid=bob,${PEOPLE}`, `uid=chloe,${PEOPLE}`]);
    d.removeUser('alice'); // twice: nothing happens
    assert.equal(d.entryCount, 7);
  });

  it('setGroup and removeGroup likewise; the OUs say whether they have entries below', () => {
    const d = directory();
    const hs = (base: string) =>
      search(d, request(base, 'base', '(objectClass=*)', ['hasSubordinates'])).entries[0].attributes[0].values[0];
    assert.deepEqual([hs(BASE), hs(PEOPLE), hs(GROUPS)], ['TRUE', 'FALSE', 'FALSE']);
    d.setGroup(group('lab', 2000, ['a']));
    d.setUser(user('a'));
    assert.deepEqual([hs(PEOPLE), hs(GROUPS)], ['TRUE', 'TRUE']);
    d.setGroup(group('lab', 2000, ['a', 'b']));
    assert.deepEqual(dns(search(d, request(BASE, 'sub', '(memberUid=b)', ['1.1']))), [`cn=lab,${GROUPS}`]);
    d.removeGroup('lab');
    d.removeUser('a');
    assert.deepEqual([hs(PEOPLE), hs(GROUPS)], ['FALSE', 'FALSE']);
    assert.deepEqual(dns(search(d, request(BASE, 'sub', '(|(memberUid=b)(uid=a))', ['1.1']))), []);
  });
});

describe('LDAP directory: indexes', () => {
  /** Counts the entries a search tests its filter on (the directory calls the filter module's evaluate once per entry). */
  function evaluations(run: () => void): number {
    const module = filterModule as { evaluate: typeof filterModule.evaluate };
    const original = module.evaluate;
    let count = 0;
    module.evaluate = (f, e) => {
      count++;
      return original(f, e);
    };
    try {
      run();
    } finally {
      module.evaluate = original;
    }
    return count;
  }

  function big(): Directory {
    const d = directory();
    for (let i = 0; i < 2000; i++) d.setUser(user(`user${i}`, { uidNumber: 10000 + i, gidNumber: 100, fullName: `User Number ${i}` }));
    for (let i = 0; i < 200; i++) d.setGroup(group(`group${i}`, 20000 + i, [`user${i}`, `user${i + 1}`]));
    return d;
  }

  const lookups: [string, number][] = [
    ['(&(objectClass=posixAccount)(uid=user1234))', 1],
    ['(&(objectClass=posixAccount)(uidNumber=11234))', 1],
    ['(&(objectClass=shadowAccount)(uid=USER1234))', 1],
    ['(&(objectClass=posixGroup)(memberUid=user7))', 2],
    ['(&(objectClass=posixGroup)(gidNumber=20007))', 1],
    ['(&(objectClass=posixGroup)(cn=group7))', 1],
    ['(|(uid=user1)(uid=user2)(cn=group3))', 3],
    ['(&(objectClass=posixAccount)(uid=nobody))', 0],
    ['(&(objectClass=posixAccount)(nosuchattr=1))', 0], // Undefined: no entry can match
  ];
  for (const [f, tested] of lookups) {
    it(`${f} tests ${tested} of 2,203 entries`, () => {
      const d = big();
      let out: SearchOutcome | undefined;
      const n = evaluations(() => {
        out = search(d, request(BASE, 'sub', f, ['uid']));
      });
      assert.equal(n, tested);
      assert.equal(out!.entries.length, f.includes('nobody') || f.includes('nosuch') ? 0 : tested);
    });
  }

  it('an unindexed filter still scans, and indexed searches answer exactly as a full scan', () => {
    const d = big();
    assert.equal(
      evaluations(() => search(d, request(BASE, 'sub', '(gecos=user number 5)'))),
      2203,
    );
    // (|(!(objectClass=*))F) is F, but its NOT cannot be indexed: it makes the directory scan everything.
    for (const f of [
      '(&(objectClass=posixAccount)(uid=user1234))',
      '(&(objectClass=posixGroup)(|(memberUid=user7)(member=uid=user7,ou=people,dc=bramble,dc=local)))',
      '(|(uid=user1)(gidNumber=20003))',
      '(&(uidNumber=10005)(!(uid=user5)))',
      '(&(cn=group1*)(objectClass=posixGroup))',
      '(objectClass=posixGroup)',
    ]) {
      const indexed = dns(search(d, request(BASE, 'sub', f, ['1.1'])));
      const scanned = dns(search(d, request(BASE, 'sub', `(|(!(objectClass=*))${f})`, ['1.1'])));
      assert.deepEqual(indexed, scanned, f);
    }
  });
});

describe('LDAP directory: binds look users up by DN', () => {
  const cases: [string, string | null][] = [
    [`uid=alice,${PEOPLE}`, 'alice'],
    ['UID=Alice , OU=People, DC=Bramble, DC=Local', 'alice'],
    ['userid=alice,ou=people,dc=bramble,dc=local', 'alice'],
    [`uid=bob,${PEOPLE}`, 'bob'], // disabled: found; refusing the bind is the server's decision
    [`cn=staff,${GROUPS}`, null],
    [PEOPLE, null],
    [`uid=nobody,${PEOPLE}`, null],
    ['uid=alice,ou=people,dc=other', null],
    ['not a dn', null],
    ['', null],
  ];
  for (const [dn, username] of cases) {
    it(`${JSON.stringify(dn)} → ${username}`, () => {
      const found = fleet().findUserByDn(dn);
      assert.equal(found?.username ?? null, username);
      if (found) assert.equal(found.passwordHash, HASH); // the record, for the bind to check
    });
  }

  it('dnOfUser gives the DN whether or not the user exists', () => {
    const d = directory({ baseDn: 'DC=School , DC=Example' });
    assert.equal(d.dnOfUser('zed'), 'uid=zed,ou=people,dc=School,dc=Example');
  });
});

describe('LDAP directory: LDIF for slapd', () => {
  /** A small RFC 2849 reader: records of [name, value] with base64 values decoded. */
  function readLdif(text: string): [string, string][][] {
    return text
      .split('\n\n')
      .filter((r) => r.trim() !== '')
      .map((r) =>
        r
          .split('\n')
          .filter((line) => line !== '')
          .map((line): [string, string] => {
            const b64 = /^([^:]+):: (.*)$/.exec(line);
            if (b64) return [b64[1], Buffer.from(b64[2], 'base64').toString('utf8')];
            const plain = /^([^:]+): ?(.*)$/.exec(line);
            assert.ok(plain, line);
            return [plain[1], plain[2]];
          }),
      );
  }

  it('lists every entry, parents first, with the same attributes a search returns', () => {
    const d = fleet();
    const records = readLdif(d.toLdif({ includePasswords: false }));
    const searched = search(d, request(BASE, 'sub', '(objectClass=*)', ['*']));
    assert.deepEqual(
      records.map((r) => r[0][1]),
      dns(searched),
    );
    for (const [i, record] of records.entries()) {
      const expected = searched.entries[i].attributes.flatMap((a) => a.values.map((v): [string, string] => [a.type, String(v)]));
      assert.deepEqual(record.slice(1), expected);
    }
  });

  it('writes non-ASCII and unsafe values in base64 and never passwords unless asked', () => {
    const d = fleet();
    d.setUser(user('dave', { fullName: ' Leading space' }));
    const text = d.toLdif({ includePasswords: false });
    assert.ok(text.includes('cn:: Q2hsb8OpIEJyb250w6s='), 'Chloé Brontë in base64');
    assert.ok(text.includes(`cn: Leading space`), 'the name is trimmed first');
    assert.ok(!text.includes('userPassword') && !text.includes('$2y$'));
    assert.ok(!text.startsWith('version'), 'slapadd refuses the version line');
  });

  it('with includePasswords, each enabled user with a hash carries it as userPassword', () => {
    const d = fleet();
    d.setUser(user('nopass', { passwordHash: '' }));
    const records = readLdif(d.toLdif({ includePasswords: true }));
    const withHash = records.filter((r) => r.some(([k]) => k === 'userPassword')).map((r) => r[0][1]);
    assert.deepEqual(withHash, [`uid=alice,${PEOPLE}`, `uid=chloe,${PEOPLE}`]);
    assert.ok(records.flat().some(([k, v]) => k === 'userPassword' && v === HASH));
  });

  it('a disabled user carries no hash: slapd would accept its password, bramble refuses it (conformance test)', () => {
    const d = fleet(); // bob is disabled
    const bob = (ldif: string) => readLdif(ldif).find((r) => r[0][1] === `uid=bob,${PEOPLE}`)!;
    assert.ok(!bob(d.toLdif({ includePasswords: true })).some(([k]) => k === 'userPassword'));
    assert.ok(bob(d.toLdif({ includePasswords: true })).some(([k, v]) => k === 'shadowExpire' && v === '1'));
    d.setUser(user('bob', { uidNumber: 1001, gidNumber: 1001, fullName: 'Bob Smith', enabled: true }));
    assert.ok(
      bob(d.toLdif({ includePasswords: true })).some(([k, v]) => k === 'userPassword' && v === HASH),
      'enabled again: the hash is back',
    );
  });

  it('with operational, the stored operational attributes follow (for slapadd)', () => {
    const records = readLdif(fleet().toLdif({ includePasswords: false, operational: true }));
    const alice = records.find((r) => r[0][1] === `uid=alice,${PEOPLE}`)!;
    assert.deepEqual(
      alice.slice(-4).map(([k]) => k),
      ['structuralObjectClass', 'entryUUID', 'createTimestamp', 'modifyTimestamp'],
    );
  });
});

describe('LDAP directory: entryUUID', () => {
  it('is a version 5 UUID of the normalised DN: stable across restarts and base DN spelling, distinct per entry', () => {
    const uuids = (d: Directory) =>
      search(d, request(BASE, 'sub', '(objectClass=*)', ['entryUUID'])).entries.map((e) => String(e.attributes[0].values[0]));
    const a = uuids(fleet());
    const b = uuids(fleet({ baseDn: 'DC=Bramble, DC=Local' }));
    assert.deepEqual(a, b);
    assert.equal(new Set(a).size, a.length);
    for (const u of a) assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(a[0], 'e3b975da-e999-5360-a044-1f5f01f2fc04'); // Python: uuid5(NAMESPACE_X500, 'dc=bramble,dc=local')
  });
});
