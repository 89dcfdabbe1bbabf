/**
 * Conformance of bramble's LDAP plugin against OpenLDAP's slapd, the server it stands in for: the
 * same users and groups in both (slapd loads the LDIF bramble exports), the same searches against
 * both, and the answers compared entry by entry and attribute by attribute.
 *
 * The directory is a small school made over GraphQL, as an admin makes it: teachers and pupils with
 * full names that test string matching (accents, composed and decomposed, apostrophes, several
 * words, inner double spaces, an empty name, two people with the same name, parentheses, a star and
 * a backslash), the default groups and created ones (one empty), a disabled user, a deleted user, a
 * user whose groups changed and one whose name changed. bramble then serves it from its plugin; the
 * same records, built into a Directory the way the plugin builds its own
 * (test/support/ldap-bramble.ts directoryLikeThePlugin), are exported with `toLdif({ includePasswords:
 * true, operational: true })` and a fixed time for the base and OU entries, and slapadd loads them
 * into a slapd (test/support/slapd.ts) on a second address of the lab's server namespace, so both
 * servers listen on 389 and 636 at once.
 *
 * The searches (CASES): nslcd 0.9.12's own, with the exact filters and attribute lists it sends
 * (captured from slapd's stats log with the lab's real nslcd: getent passwd/group/shadow by name,
 * by number and enumerated, the groups of a user, the uid lookup and DN check of a PAM login); case
 * variants of names in filters and attribute lists, aliases and OIDs; `*`, `+`, `1.1`, typesOnly;
 * every filter type, nested; base/one/sub at the base, at ou=people and at a user; missing bases;
 * size limits; filters and selections naming userPassword, unknown types or options. Each runs on
 * an anonymous connection and on one bound as a user, both over StartTLS, from the Pi's namespace,
 * with an in-process client (test/support/ldap-test-client.ts) that gives structured answers. Paged
 * results (page size 5 through all users) are compared page by page: the entries of each page, the
 * union, and the cookie's behaviour (never its bytes). A few searches also go through real clients:
 * ldapsearch, and nslcd itself (getent, id) with one Pi stack per server.
 *
 * What is compared (test/support/ldap-compare.ts): the result code, matchedDN, the DNs as a set and
 * in order (after a fresh load slapd answers in load order, which is bramble's order), and per entry
 * the attribute names exactly as written (slapd writes the schema's spelling whatever the request
 * said) with their values as sets. Not compared: diagnostic messages (free text). Normalised, each
 * for the reason given where it is listed: SLAPD_ONLY_ATTRIBUTES (operational attributes slapd keeps
 * for itself), STRUCTURAL_TIMESTAMPS (a known difference, pinned in its own test), the root DSE's
 * feature lists (ROOT_DSE_DIFFERENT). Every other difference fails the test.
 *
 * Known differences, each pinned as it is (so that a change on either side shows) where it is tested:
 *   - the base and OU entries have no createTimestamp/modifyTimestamp in bramble (STRUCTURAL_TIMESTAMPS,
 *     and KNOWN_DIFFERENCES for the two timestamp filters);
 *   - paged results: bramble sends the response control on every answer to a paged search, slapd only
 *     with a successful page (PAGED_CONTROL_ALWAYS); a size limit reached at the end of a page is
 *     reported with that page by bramble, with the next one by slapd; a cookie taken to another search
 *     is refused by bramble (53), continued by slapd.
 * Found and fixed: the export gave a disabled user's hash to slapd, which then let that user bind
 * (ldap.directory.ts toLdif now leaves it out); a bind with a password and no name was
 * unwillingToPerform (53) in bramble, invalidCredentials (49) in slapd: now 49 in both.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { decodePagedResults, encodePagedResults } from '../../../src/plugins/ldap/ldap.codec';
import { ControlOid, type Scope } from '../../../src/plugins/ldap/ldap.types';
import { answerFromLdapsearch, differences, normalise } from '../../support/ldap-compare';
import { parseFilter } from '../../support/ldap-filter-string';
import { BASE_DN, directoryLikeThePlugin, startLdapBramble, type LdapBramble } from '../../support/ldap-bramble';
import {
  createLdapLab,
  ldapLabUnavailable,
  makeThrowawayCa,
  type CommandResult,
  type LdapLab,
  type PiStack,
  type TestCa,
} from '../../support/ldap-lab';
import { LdapTestClient, type SearchAnswer, type SearchSpec } from '../../support/ldap-test-client';
import { slapdUnavailable, startSlapd, type Slapd } from '../../support/slapd';
import { eventually } from '../../support/temp';

const skip = ldapLabUnavailable() ?? slapdUnavailable();

/** The time of the base and OU entries in the export (no record holds one). */
const CREATED_AT = '2024-09-01T08:00:00.000Z';
const PEOPLE = `ou=people,${BASE_DN}`;
const GROUPS = `ou=groups,${BASE_DN}`;
const dnOf = (uid: string): string => `uid=${uid},${PEOPLE}`;

// ---------------------------------------------------------------------------------------------
// The school

const CREATED_GROUPS = ['chess', 'robotics', 'year7', 'drama'];

/** [username, full name, groups (primary first)]. */
const USERS: [string, string, string[]][] = [
  ['jsmith', 'John Smith', ['teachers', 'chess']],
  ['adupont', 'Amélie Dupont', ['teachers']],
  ['sobrien', "Seán O'Brien", ['teachers', 'robotics']],
  ['jvandenberg', 'Jan van den Berg', ['teachers']],
  ['akhan', 'Aisha Khan', ['teachers', 'year7']],
  ['alice', 'Alice Liddell', ['pupils', 'chess', 'year7']],
  ['bob', 'Bob', ['pupils', 'robotics']],
  ['carol', '', ['pupils']],
  ['dora', 'Dora  Márquez', ['pupils', 'year7']],
  ['eoconnor', "Erin O'Connor", ['pupils']],
  ['flefevre', 'François Lefèvre', ['pupils', 'chess']],
  ['zoe', 'Zoë Ångström', ['pupils', 'year7']],
  // The same name decomposed (e + combining diaeresis): equal to "Zoë" after NFKC.
  ['zoe.j', 'Zoe\u0308 Ja\u0308ger', ['pupils']],
  ['bjorn', 'Björn Þórsson', ['pupils']],
  ['li.wei', '李伟', ['pupils', 'robotics']],
  ['jmueller', 'Jürgen Müller-Lüdenscheidt', ['pupils']],
  ['amdlc', 'Ana María de la Cruz', ['pupils', 'year7']],
  ['jean-luc', 'Jean-Luc Picard', ['pupils']],
  ['jsmith2', 'John Smith', ['pupils']],
  ['drwho', 'Dr. Who, Jr.', ['pupils']],
  ['maxp', 'Max (Maxi) Power*', ['pupils']],
  ['rslash', 'Rob \\ Slash', ['pupils']],
  ['dartagnan', 'Charles d’Artagnan', ['pupils']],
  ['otwist', 'Oliver Twist', ['pupils', 'year7']],
  ['jeyre', 'Jane Eyre', ['pupils']],
  ['heathcliff', 'Heathcliff', ['pupils']],
  ['tsawyer', 'Tom Sawyer', ['pupils', 'robotics']],
  ['hfinn', 'Huckleberry Finn', ['pupils', 'robotics']],
  ['ashirley', 'Anne Shirley', ['pupils']],
  ['pippi', 'Pippi Långstrump', ['pupils']],
  ['dave', 'David Lowe', ['pupils', 'chess']], // disabled below
  ['ghost', 'Casper Ghost', ['pupils', 'chess']], // deleted below
  ['henry', 'Henry Tudor', ['pupils', 'year7']], // groups changed below
  ['ivy', 'Ivy', ['pupils']], // full name changed below
];

// ---------------------------------------------------------------------------------------------
// The searches

/** What nslcd 0.9.12 asks (slapd's stats log, `SRCH attr=`, with the lab's nslcd). */
const NSLCD = {
  passwd: ['uidNumber', 'cn', 'gecos', 'uid', 'objectClass', 'homeDirectory', 'gidNumber', 'loginShell'],
  group: ['member', 'cn', 'memberUid', 'gidNumber'],
  shadow: ['shadowFlag', 'shadowMax', 'shadowMin', 'shadowLastChange', 'uid', 'shadowExpire', 'shadowInactive', 'shadowWarning'],
  /** A PAM login's user lookup, and its groups (initgroups). */
  loginUser: ['uid', 'uidNumber'],
  initgroups: ['cn', 'gidNumber'],
  /** After the user's bind, pam_ldap reads the user's own entry asking for "dn". */
  authzCheck: ['dn'],
};

interface Numbers {
  uid(name: string): number;
  gid(name: string): number;
}

interface Case {
  name: string;
  /** How many entries slapd returns: the comparison is not between two empty answers by accident. */
  n: number;
  /** Default the base DN. */
  base?: string;
  /** Default sub. */
  scope?: Scope;
  filter: string | ((n: Numbers) => string);
  attributes?: string[];
  sizeLimit?: number;
  typesOnly?: boolean;
}

const CASES: Case[] = [
  // nslcd, exactly
  { name: 'nslcd: user by name', n: 1, filter: '(&(objectClass=posixAccount)(uid=alice))', attributes: NSLCD.passwd },
  {
    name: 'nslcd: user by number',
    n: 1,
    filter: (n) => `(&(objectClass=posixAccount)(uidNumber=${n.uid('alice')}))`,
    attributes: NSLCD.passwd,
  },
  { name: 'nslcd: all users', n: 33, filter: '(objectClass=posixAccount)', attributes: NSLCD.passwd },
  { name: 'nslcd: group by name', n: 1, filter: '(&(objectClass=posixGroup)(cn=chess))', attributes: NSLCD.group },
  {
    name: 'nslcd: group by number',
    n: 1,
    filter: (n) => `(&(objectClass=posixGroup)(gidNumber=${n.gid('pupils')}))`,
    attributes: NSLCD.group,
  },
  { name: 'nslcd: empty group by name', n: 1, filter: '(&(objectClass=posixGroup)(cn=drama))', attributes: NSLCD.group },
  { name: 'nslcd: all groups', n: 6, filter: '(objectClass=posixGroup)', attributes: NSLCD.group },
  {
    name: 'nslcd: groups of a user (memberUid or member)',
    n: 3,
    filter: `(&(objectClass=posixGroup)(|(memberUid=alice)(member=${dnOf('alice')})))`,
    attributes: NSLCD.initgroups,
  },
  {
    name: 'nslcd: groups of a user whose groups changed',
    n: 2,
    filter: `(&(objectClass=posixGroup)(|(memberUid=henry)(member=${dnOf('henry')})))`,
    attributes: NSLCD.initgroups,
  },
  {
    name: 'nslcd: groups of a deleted user',
    n: 0,
    filter: `(&(objectClass=posixGroup)(|(memberUid=ghost)(member=${dnOf('ghost')})))`,
    attributes: NSLCD.initgroups,
  },
  { name: 'nslcd: shadow by name', n: 1, filter: '(&(objectClass=shadowAccount)(uid=alice))', attributes: NSLCD.shadow },
  { name: 'nslcd: shadow of a disabled user', n: 1, filter: '(&(objectClass=shadowAccount)(uid=dave))', attributes: NSLCD.shadow },
  { name: 'nslcd: all shadow entries', n: 33, filter: '(objectClass=shadowAccount)', attributes: NSLCD.shadow },
  { name: 'nslcd: login user lookup', n: 1, filter: '(&(objectClass=posixAccount)(uid=henry))', attributes: NSLCD.loginUser },
  { name: 'nslcd: deleted user by name', n: 0, filter: '(&(objectClass=posixAccount)(uid=ghost))', attributes: NSLCD.passwd },
  {
    name: 'nslcd: PAM check of the bound DN',
    n: 1,
    base: dnOf('alice'),
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: NSLCD.authzCheck,
  },

  // case, aliases and OIDs
  { name: 'filter: UID=Alice (case-insensitive uid)', n: 1, filter: '(UID=Alice)', attributes: ['uid'] },
  { name: 'filter: UIDNUMBER=<n>', n: 1, filter: (n) => `(UIDNUMBER=${n.uid('bob')})`, attributes: ['uid'] },
  { name: 'filter: objectclass=POSIXACCOUNT', n: 33, filter: '(objectclass=POSIXACCOUNT)', attributes: ['1.1'] },
  { name: 'filter: memberUid=Alice (case-exact: none)', n: 0, filter: '(memberUid=Alice)', attributes: ['cn'] },
  { name: 'filter: userid alias', n: 1, filter: '(userid=bob)', attributes: ['uid'] },
  { name: 'filter: commonName alias', n: 2, filter: '(commonName=john smith)', attributes: ['cn'] },
  { name: 'filter: OID of cn', n: 2, filter: '(2.5.4.3=JOHN SMITH)', attributes: ['cn'] },
  { name: 'filter: name supertype covers cn and sn', n: 1, filter: '(name=heathcliff)', attributes: ['cn', 'sn'] },
  {
    name: 'attributes in another case',
    n: 1,
    filter: '(uid=alice)',
    attributes: ['UID', 'uidnumber', 'HomeDirectory', 'LOGINSHELL', 'objectclass', 'CN', 'gidnumber'],
  },
  { name: 'attributes by alias and OID', n: 1, filter: '(uid=alice)', attributes: ['commonName', 'surname', '2.5.4.42', 'userid'] },
  { name: 'attributes: name supertype', n: 1, filter: '(uid=alice)', attributes: ['name'] },
  { name: 'attributes: unknown one beside known ones', n: 1, filter: '(uid=alice)', attributes: ['uid', 'noSuchAttribute', 'x-unknown'] },
  { name: 'attributes: language option', n: 1, filter: '(uid=alice)', attributes: ['cn;lang-en', 'uid'] },
  { name: 'attributes: *', n: 1, filter: '(uid=alice)', attributes: ['*'] },
  { name: 'attributes: none given', n: 1, filter: '(uid=dave)', attributes: [] },
  { name: 'attributes: +', n: 1, filter: '(uid=alice)', attributes: ['+'] },
  { name: 'attributes: * and +', n: 2, filter: '(|(uid=alice)(cn=chess))', attributes: ['*', '+'] },
  { name: 'attributes: 1.1', n: 6, filter: '(objectClass=posixGroup)', attributes: ['1.1'] },
  { name: 'attributes: 1.1 beside a name', n: 1, filter: '(uid=bob)', attributes: ['1.1', 'uid'] },
  {
    name: 'attributes: operational by name',
    n: 1,
    filter: '(uid=bob)',
    attributes: ['entryDN', 'hasSubordinates', 'subschemaSubentry', 'entryUUID'],
  },
  { name: 'attributes: * and an operational one', n: 1, filter: '(uid=bob)', attributes: ['*', 'structuralObjectClass'] },
  { name: 'typesOnly with *', n: 2, filter: '(|(uid=alice)(cn=chess))', attributes: ['*'], typesOnly: true },
  { name: 'typesOnly with names', n: 1, filter: '(uid=dave)', attributes: ['uid', 'shadowExpire', 'givenName'], typesOnly: true },

  // userPassword
  { name: 'userPassword asked by name', n: 1, filter: '(uid=alice)', attributes: ['userPassword', 'uid'] },
  { name: 'userPassword: presence filter', n: 0, filter: '(userPassword=*)', attributes: ['uid'] },
  { name: 'userPassword: substring filter', n: 0, filter: '(userPassword={CRYPT}*)', attributes: ['uid'] },
  { name: 'userPassword: under not', n: 0, filter: '(&(uid=alice)(!(userPassword=x)))', attributes: ['uid'] },

  // unknown types and bad values
  { name: 'unknown type in the filter', n: 0, filter: '(noSuchAttribute=x)', attributes: ['uid'] },
  { name: 'unknown type under not', n: 0, filter: '(!(noSuchAttribute=x))', attributes: ['uid'] },
  { name: 'unknown type in an or', n: 1, filter: '(|(noSuchAttribute=x)(uid=bob))', attributes: ['uid'] },
  { name: 'unknown object class', n: 0, filter: '(objectClass=noSuchClass)', attributes: ['1.1'] },
  { name: 'not of an unknown object class', n: 0, filter: '(!(objectClass=noSuchClass))', attributes: ['1.1'] },
  { name: 'known type absent from entries', n: 0, filter: '(mail=x)', attributes: ['1.1'] },
  { name: 'not of an absent type', n: 6, filter: '(&(objectClass=posixGroup)(!(mail=x)))', attributes: ['cn'] },
  { name: 'bad integer assertion', n: 0, filter: '(uidNumber=abc)', attributes: ['uid'] },
  { name: 'not of a bad integer assertion', n: 0, filter: '(!(uidNumber=abc))', attributes: ['uid'] },
  { name: 'language option in the filter', n: 0, filter: '(cn;lang-en=Bob)', attributes: ['uid'] },
  { name: 'absolute true (&)', n: 6, base: GROUPS, scope: 'one', filter: '(&)', attributes: ['cn'] },
  { name: 'absolute false (|)', n: 0, filter: '(|)', attributes: ['cn'] },

  // every filter type
  { name: 'and/or/not nested', n: 2, filter: '(&(|(cn=chess)(cn=robotics)(uid=bob))(!(|(cn=robotics)(uid=nobody))))', attributes: ['cn'] },
  { name: 'not of and', n: 33, filter: '(&(objectClass=posixAccount)(!(&(gidNumber>=0)(memberUid=*))))', attributes: ['uid'] },
  { name: 'equality with spaces (insignificant)', n: 1, filter: '(cn=  dora   márquez )', attributes: ['cn'] },
  { name: 'equality: composed vs decomposed', n: 1, filter: '(cn=Zoë Jäger)', attributes: ['cn'] },
  { name: 'equality: decomposed vs composed', n: 1, filter: '(sn=A\u030Angstro\u0308m)', attributes: ['sn'] },
  { name: 'equality: escaped parentheses and star', n: 1, filter: '(cn=Max \\28Maxi\\29 Power\\2a)', attributes: ['cn'] },
  { name: 'equality: escaped backslash', n: 1, filter: '(cn=rob \\5c slash)', attributes: ['cn'] },
  { name: 'equality: gecos is IA5, accents removed', n: 1, filter: '(gecos=Francois Lefevre)', attributes: ['gecos'] },
  { name: 'equality: gecos with a non-ASCII assertion', n: 0, filter: '(gecos=François Lefèvre)', attributes: ['gecos'] },
  { name: 'equality: homeDirectory case-exact', n: 0, filter: '(homeDirectory=/home/ALICE)', attributes: ['uid'] },
  { name: 'equality: empty-name user falls back to uid', n: 1, filter: '(cn=carol)', attributes: ['cn', 'sn', 'gecos', 'displayName'] },
  { name: 'equality: entryDN', n: 1, filter: `(entryDN=UID=Bob,OU=People,DC=Bramble,DC=Local)`, attributes: ['uid'] },
  { name: 'equality: hasSubordinates', n: 3, filter: '(hasSubordinates=TRUE)', attributes: ['1.1'] },
  { name: 'equality: structuralObjectClass', n: 6, filter: '(structuralObjectClass=posixGroup)', attributes: ['cn'] },
  { name: 'substrings: initial', n: 2, filter: '(cn=jo*)', attributes: ['cn'] },
  { name: 'substrings: any', n: 8, filter: '(cn=*an*)', attributes: ['cn'] },
  { name: 'substrings: final', n: 1, filter: '(sn=*son)', attributes: ['sn'] },
  { name: 'substrings: all three', n: 2, filter: '(cn=j*n*th)', attributes: ['cn'] },
  { name: 'substrings: accents', n: 1, filter: '(cn=*ström)', attributes: ['cn'] },
  { name: 'substrings: apostrophe', n: 2, filter: "(cn=*O'*)", attributes: ['cn'] },
  { name: 'substrings: spaces at the joins', n: 1, filter: '(cn=ana *de la* cruz)', attributes: ['cn'] },
  { name: 'substrings: gecos IA5', n: 1, filter: '(gecos=*who*)', attributes: ['gecos'] },
  { name: 'substrings: memberUid case-exact', n: 3, filter: '(memberUid=al*)', attributes: ['cn'] },
  { name: 'substrings: homeDirectory has no substring rule', n: 0, filter: '(homeDirectory=/home/a*)', attributes: ['uid'] },
  { name: 'substrings: uid initial', n: 6, filter: '(uid=j*)', attributes: ['uid'] },
  { name: 'substrings: on a DN attribute', n: 0, filter: '(entryDN=*people*)', attributes: ['1.1'] },
  { name: 'ge on uidNumber', n: 7, filter: (n) => `(uidNumber>=${n.uid('tsawyer')})`, attributes: ['uid'] },
  { name: 'le on gidNumber', n: 35, filter: (n) => `(gidNumber<=${n.gid('teachers')})`, attributes: ['1.1'] },
  { name: 'ge on cn (no ordering rule)', n: 0, filter: '(cn>=M)', attributes: ['cn'] },
  { name: 'le on shadowExpire (no ordering rule)', n: 0, filter: '(shadowExpire<=1)', attributes: ['uid'] },
  { name: 'ge on createTimestamp', n: 42, filter: '(createTimestamp>=20000101000000Z)', attributes: ['1.1'] },
  { name: 'le on modifyTimestamp before the base', n: 3, filter: '(modifyTimestamp<=20240901080000Z)', attributes: ['1.1'] },
  { name: 'presence: givenName', n: 29, filter: '(givenName=*)', attributes: ['givenName'] },
  { name: 'presence: shadowExpire (disabled users)', n: 1, filter: '(shadowExpire=*)', attributes: ['uid'] },
  { name: 'presence: memberUid', n: 5, filter: '(memberUid=*)', attributes: ['cn'] },
  { name: 'presence: entryDN', n: 33, base: PEOPLE, scope: 'one', filter: '(entryDN=*)', attributes: ['1.1'] },
  { name: 'presence: objectClass at the base', n: 1, scope: 'base', filter: '(objectClass=*)', attributes: ['*'] },
  { name: 'approx: cn sounds like', n: 2, filter: '(cn~=jon smyth)', attributes: ['cn'] },
  { name: 'approx: sn', n: 1, filter: '(sn~=liddel)', attributes: ['sn'] },
  { name: 'approx: uid', n: 1, filter: '(uid~=alise)', attributes: ['uid'] },
  { name: 'approx: uidNumber (no approx rule)', n: 1, filter: (n) => `(uidNumber~=${n.uid('alice')})`, attributes: ['uid'] },
  { name: 'approx: accents', n: 1, filter: '(cn~=francois lefevre)', attributes: ['cn'] },
  { name: 'extensible: caseExactMatch by name', n: 1, filter: '(cn:caseExactMatch:=Alice Liddell)', attributes: ['cn'] },
  { name: 'extensible: caseExactMatch misses', n: 0, filter: '(cn:caseExactMatch:=alice liddell)', attributes: ['cn'] },
  { name: 'extensible: rule by OID', n: 1, filter: '(uid:2.5.13.5:=bob)', attributes: ['uid'] },
  { name: 'extensible: type only (its equality rule)', n: 2, filter: '(cn:=JOHN SMITH)', attributes: ['cn'] },
  {
    name: 'extensible: integer ordering rule',
    n: 7,
    filter: (n) => `(uidNumber:integerOrderingMatch:=${n.uid('carol')})`,
    attributes: ['uid'],
  },
  { name: 'extensible: rule only, any attribute', n: 1, filter: '(:caseIgnoreMatch:=chess)', attributes: ['cn'] },
  { name: 'extensible: dnAttributes', n: 7, filter: '(ou:dn:=groups)', attributes: ['1.1'] },
  { name: 'extensible: dnAttributes with a rule', n: 34, filter: '(ou:dn:caseExactMatch:=people)', attributes: ['1.1'] },
  { name: 'extensible: dnAttributes with a rule, case differs', n: 0, filter: '(ou:dn:caseExactMatch:=People)', attributes: ['1.1'] },
  { name: 'extensible: dnAttributes, rule only', n: 1, filter: '(:dn:caseIgnoreMatch:=bramble)', attributes: ['1.1'] },
  { name: 'extensible: dnAttributes on uid', n: 1, filter: '(uid:dn:=alice)', attributes: ['uid'] },
  { name: 'extensible: unknown rule', n: 0, filter: '(cn:noSuchRule:=x)', attributes: ['cn'] },
  { name: 'extensible: rule the type cannot use', n: 0, filter: '(uidNumber:caseIgnoreMatch:=10000)', attributes: ['uid'] },

  // scopes
  { name: 'scope base at the base', n: 1, scope: 'base', filter: '(objectClass=*)', attributes: ['*', '+'] },
  { name: 'scope one at the base', n: 2, scope: 'one', filter: '(objectClass=*)', attributes: ['*'] },
  { name: 'scope sub at the base, everything', n: 42, filter: '(objectClass=*)', attributes: ['*', '+'] },
  { name: 'scope base at ou=people', n: 1, base: PEOPLE, scope: 'base', filter: '(objectClass=*)', attributes: ['*', '+'] },
  { name: 'scope one at ou=people', n: 33, base: PEOPLE, scope: 'one', filter: '(objectClass=*)', attributes: ['uid'] },
  { name: 'scope sub at ou=people', n: 34, base: PEOPLE, scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] },
  { name: 'scope base at a user', n: 1, base: dnOf('alice'), scope: 'base', filter: '(objectClass=*)', attributes: ['*', '+'] },
  { name: 'scope one at a user', n: 0, base: dnOf('alice'), scope: 'one', filter: '(objectClass=*)' },
  { name: 'scope sub at a user', n: 1, base: dnOf('alice'), scope: 'sub', filter: '(objectClass=*)', attributes: ['uid'] },
  { name: 'scope base, filter false', n: 0, base: dnOf('alice'), scope: 'base', filter: '(uid=bob)' },
  {
    name: 'base DN in another case and spacing',
    n: 1,
    base: 'UID=Alice, OU=People,  DC=Bramble,DC=local',
    scope: 'base',
    filter: '(objectClass=*)',
  },
  {
    name: 'base DN with an alias type',
    n: 1,
    base: 'userid=alice,ou=people,dc=bramble,dc=local',
    scope: 'base',
    filter: '(objectClass=*)',
  },

  // missing bases
  { name: 'missing user as base', n: 0, base: dnOf('nobody'), filter: '(objectClass=*)' },
  { name: 'deleted user as base', n: 0, base: dnOf('ghost'), scope: 'base', filter: '(objectClass=*)' },
  { name: 'missing OU as base', n: 0, base: `ou=nowhere,${BASE_DN}`, filter: '(objectClass=*)' },
  { name: 'missing entry two levels down', n: 0, base: `uid=x,ou=nowhere,${BASE_DN}`, filter: '(objectClass=*)' },
  { name: 'base outside the naming context', n: 0, base: 'dc=example,dc=com', filter: '(objectClass=*)' },
  { name: 'base with an unknown type', n: 0, base: `foo=bar,${BASE_DN}`, filter: '(objectClass=*)' },
  { name: 'base that is not a DN', n: 0, base: 'not a dn', filter: '(objectClass=*)' },

  // size limits
  { name: 'size limit exceeded', n: 3, filter: '(objectClass=posixAccount)', attributes: ['uid'], sizeLimit: 3 },
  { name: 'size limit exceeded, scope one', n: 2, base: GROUPS, scope: 'one', filter: '(objectClass=*)', attributes: ['cn'], sizeLimit: 2 },
  { name: 'size limit equal to the count', n: 6, filter: '(objectClass=posixGroup)', attributes: ['cn'], sizeLimit: 6 },
  { name: 'size limit 1, one match', n: 1, filter: '(uid=alice)', attributes: ['uid'], sizeLimit: 1 },
];

// ---------------------------------------------------------------------------------------------
// What must differ, and the known differences

/**
 * Operational attributes slapd stores for itself, removed from slapd's answers (a request for them
 * by name gets nothing from bramble, which is checked in 'attributes slapd alone keeps').
 */
const SLAPD_ONLY_ATTRIBUTES: Record<string, string> = {
  creatorsName:
    'the DN that wrote the entry over LDAP (slapadd leaves it empty); bramble entries are written by events, not by an LDAP identity',
  modifiersName: 'the same for the last change',
  entryCSN: "slapd's change sequence number for replication (syncrepl); bramble does not replicate over LDAP",
};

/**
 * The base and OU entries: bramble's plugin gives them no createTimestamp/modifyTimestamp (no record
 * holds a time for them, and the plugin passes no `createdAt`); the export gives them CREATED_AT,
 * because slapadd would otherwise stamp them with the load time. A known difference, removed from
 * slapd's answers here and pinned in 'known: the base and OUs have no createTimestamp/modifyTimestamp…'.
 */
const STRUCTURAL_DNS = new Set([BASE_DN, PEOPLE, GROUPS]);
const STRUCTURAL_TIMESTAMPS_LIST = ['createTimestamp', 'modifyTimestamp'];
const STRUCTURAL_TIMESTAMPS = new Set(STRUCTURAL_TIMESTAMPS_LIST);

function dropFromSlapd(dn: string, attribute: string): boolean {
  return attribute in SLAPD_ONLY_ATTRIBUTES || (STRUCTURAL_DNS.has(dn) && STRUCTURAL_TIMESTAMPS.has(attribute));
}

/** Cases whose answers differ on purpose or by a known bramble gap: the exact differences, and why. */
const STRUCTURAL_MISSING = [BASE_DN, GROUPS, PEOPLE].map((dn) => `entry only from slapd: ${dn}`);
const KNOWN_DIFFERENCES: Record<string, { why: string; differences: string[] }> = {
  'ge on createTimestamp': {
    why: 'the base and OUs have no createTimestamp in bramble (STRUCTURAL_TIMESTAMPS)',
    differences: STRUCTURAL_MISSING,
  },
  'le on modifyTimestamp before the base': {
    why: 'the base and OUs have no modifyTimestamp in bramble (STRUCTURAL_TIMESTAMPS)',
    differences: STRUCTURAL_MISSING,
  },
};

/**
 * The root DSE describes each server: these attributes differ on purpose. What bramble lists must be
 * a subset of what slapd lists (it implements less, never something else); the rest is compared.
 */
const ROOT_DSE_DIFFERENT: Record<string, string> = {
  configContext: "slapd's cn=config database; bramble is configured through its own API, never over LDAP",
  supportedControl: 'bramble implements paged results only (slapd: also sorting, proxied authorization, assertions...)',
  supportedExtension: 'bramble implements StartTLS and WhoAmI only (slapd: also password modify, cancel, turn...)',
  supportedFeatures:
    "bramble has `+` (RFC 3673) and absolute true/false (RFC 4526); slapd's other features are for writes and language tags",
  supportedSASLMechanisms: "slapd's Cyrus SASL mechanisms; bramble has no SASL (authMethodNotSupported)",
  vendorName: 'RFC 3045: bramble names itself; slapd 2.5 publishes no vendorName',
};

// ---------------------------------------------------------------------------------------------

interface Side {
  anonymous: LdapTestClient;
  bound: LdapTestClient;
}

function specOf(c: Case, n: Numbers): SearchSpec {
  return {
    baseObject: c.base ?? BASE_DN,
    scope: c.scope ?? 'sub',
    filter: parseFilter(typeof c.filter === 'string' ? c.filter : c.filter(n)),
    attributes: c.attributes ?? [],
    sizeLimit: c.sizeLimit ?? 0,
    typesOnly: c.typesOnly ?? false,
  };
}

describe('LDAP conformance: bramble against OpenLDAP slapd', { skip: skip ?? false }, () => {
  let lab: LdapLab;
  let bramble: LdapBramble;
  let slapd: Slapd;
  let slapdCa: TestCa;
  let slapdIp: string;
  let numbers: Numbers;
  const passwords = new Map<string, string>();
  const sides: { bramble?: Side; slapd?: Side } = {};
  const clients: LdapTestClient[] = [];

  async function open(name: 'bramble' | 'slapd', bind: { dn: string; password: string } | null): Promise<LdapTestClient> {
    const ip = name === 'bramble' ? lab.serverIp : slapdIp;
    const client = LdapTestClient.connect(lab.netlab, lab.clientHost, ip, { name });
    clients.push(client);
    await client.startTls(readFileSync(name === 'bramble' ? bramble.caFile : slapdCa.caFile));
    const result = bind ? await client.bind(bind.dn, bind.password) : await client.bind('', '');
    assert.equal(result.code, 0, `${name}: bind: ${JSON.stringify(result)}`);
    return client;
  }

  before(async () => {
    lab = await createLdapLab();
    bramble = await startLdapBramble(lab);
    for (const g of CREATED_GROUPS) await bramble.ok('mutation ($name: String!) { createGroup(name: $name) { name } }', { name: g });
    for (const [username, fullName, groups] of USERS) {
      const password = `${randomBytes(12).toString('base64url')}-Aa1`;
      passwords.set(username, password);
      await bramble.createUser(username, password, { fullName, groups });
    }
    await bramble.ok('mutation { disableUser(username: "dave") { username } }');
    await bramble.ok('mutation { deleteUser(username: "ghost") }');
    await bramble.ok('mutation { setUserGroups(username: "henry", groups: ["teachers", "chess"]) { username } }');
    await bramble.ok('mutation { setUserFullName(username: "ivy", fullName: "Ivy St. Clair-Jones") { username } }');
    const data = await bramble.ok<{ users: { username: string; uidNumber: number }[]; groups: { name: string; gidNumber: number }[] }>(
      '{ users { username uidNumber } groups { name gidNumber } }',
    );
    const uids = new Map(data.users.map((u) => [u.username, u.uidNumber]));
    const gids = new Map(data.groups.map((g) => [g.name, g.gidNumber]));
    numbers = {
      uid: (name) => uids.get(name) ?? assert.fail(`no user ${name}`),
      gid: (name) => gids.get(name) ?? assert.fail(`no group ${name}`),
    };

    // The plugin's directory follows the views as events arrive: wait (bounded) until it shows the last changes.
    const probe = await open('bramble', null);
    const count = async (filter: string): Promise<number> =>
      (await probe.search({ baseObject: BASE_DN, scope: 'sub', filter: parseFilter(filter), attributes: ['1.1'] })).entries.length;
    await eventually(
      async () => (await count('(cn=Ivy St. Clair-Jones)')) === 1 && (await count('(|(uid=ghost)(memberUid=ghost))')) === 0,
      5000,
      "the plugin's directory to show the last changes",
    );

    // slapd on a second address of the server namespace (removed with the namespace at close()).
    slapdIp = lab.netlab.ip(2);
    await lab.netlab.ipIn(lab.netlab.ns(lab.serverHost), ['addr', 'add', `${slapdIp}/24`, 'dev', 'eth0']);
    slapdCa = await makeThrowawayCa(lab.dir, { serverIp: slapdIp, name: 'slapd-ca' });
    const ldif = directoryLikeThePlugin(bramble, { createdAt: CREATED_AT }).toLdif({ includePasswords: true, operational: true });
    slapd = await startSlapd(lab, { ldif, tls: slapdCa, ip: slapdIp });

    const alice = { dn: dnOf('alice'), password: passwords.get('alice')! };
    for (const name of ['bramble', 'slapd'] as const) {
      sides[name] = { anonymous: await open(name, null), bound: await open(name, alice) };
    }
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await lab?.close();
    await bramble?.close();
  });

  async function both(spec: SearchSpec, as: keyof Side): Promise<{ bramble: SearchAnswer; slapd: SearchAnswer }> {
    const [b, s] = await Promise.all([sides.bramble![as].search(spec), sides.slapd![as].search(spec)]);
    return { bramble: b, slapd: s };
  }

  function compare(answers: { bramble: SearchAnswer; slapd: SearchAnswer }): string[] {
    return differences(normalise(answers.bramble), normalise(answers.slapd, dropFromSlapd), { ordered: true });
  }

  it('every case of the list is unique (the known differences name them)', () => {
    assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length);
    for (const name of Object.keys(KNOWN_DIFFERENCES)) {
      assert.ok(
        CASES.some((c) => c.name === name),
        name,
      );
    }
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const spec = specOf(c, numbers);
      const answers = await both(spec, 'anonymous');
      assert.equal(answers.slapd.entries.length, c.n, `slapd's entries: ${answers.slapd.entries.map((e) => e.dn).join(' | ')}`);
      const anonymous = compare(answers);
      const bound = compare(await both(spec, 'bound'));
      const known = KNOWN_DIFFERENCES[c.name]?.differences ?? [];
      assert.deepEqual({ anonymous, bound }, { anonymous: known, bound: known });
    });
  }
  it('known: the base and OUs have no createTimestamp/modifyTimestamp in bramble; users and groups have theirs', async () => {
    for (const dn of [BASE_DN, PEOPLE, GROUPS, dnOf('alice'), `cn=chess,${GROUPS}`]) {
      const answers = await both(
        { baseObject: dn, scope: 'base', filter: parseFilter('(objectClass=*)'), attributes: STRUCTURAL_TIMESTAMPS_LIST },
        'anonymous',
      );
      const got = normalise(answers.bramble).entries.get(dn);
      const want = normalise(answers.slapd).entries.get(dn);
      if (STRUCTURAL_DNS.has(dn)) {
        // slapd has what the export gave it; bramble serves none (see STRUCTURAL_TIMESTAMPS).
        assert.deepEqual(
          want && Object.fromEntries(want),
          { createTimestamp: ['20240901080000Z'], modifyTimestamp: ['20240901080000Z'] },
          dn,
        );
        assert.deepEqual(got && Object.fromEntries(got), {}, dn);
      } else {
        assert.match(want?.get('createTimestamp')?.[0] ?? '', /^\d{14}Z$/, dn);
        assert.deepEqual(got, want, dn);
      }
    }
  });

  it('attributes slapd alone keeps: asked by name, bramble has none of them', async () => {
    const spec: SearchSpec = {
      baseObject: dnOf('alice'),
      scope: 'base',
      filter: parseFilter('(objectClass=*)'),
      attributes: Object.keys(SLAPD_ONLY_ATTRIBUTES),
    };
    const answers = await both(spec, 'anonymous');
    assert.deepEqual(
      answers.slapd.entries[0].attributes.map((a) => a.type).sort(),
      ['creatorsName', 'entryCSN', 'modifiersName'],
      'slapd keeps these for itself',
    );
    assert.deepEqual(answers.bramble.entries, [{ dn: dnOf('alice'), attributes: [] }]);
  });

  it('the root DSE: the same entry but for the feature lists, and bramble lists only features slapd has', async () => {
    const rootDifferences = (answers: { bramble: SearchAnswer; slapd: SearchAnswer }): string[] => {
      const drop = (_dn: string, attribute: string): boolean => attribute in ROOT_DSE_DIFFERENT;
      return differences(normalise(answers.bramble, drop), normalise(answers.slapd, drop), { ordered: true });
    };
    const root = (attributes: string[], filter = '(objectClass=*)'): SearchSpec => ({
      baseObject: '',
      scope: 'base',
      filter: parseFilter(filter),
      attributes,
    });
    for (const attributes of [[], ['*'], ['+'], ['*', '+'], ['namingContexts', 'SUPPORTEDldapVERSION', 'subschemaSubentry'], ['1.1']]) {
      const answers = await both(root(attributes), 'anonymous');
      assert.equal(answers.slapd.entries.length, 1);
      assert.deepEqual(rootDifferences(answers), [], JSON.stringify(attributes));
    }
    for (const filter of [
      '(objectClass=OpenLDAProotDSE)',
      '(supportedLDAPVersion=3)',
      '(namingContexts=DC=Bramble,DC=Local)',
      '(objectClass=posixAccount)',
    ]) {
      const answers = await both(root(['namingContexts'], filter), 'bound');
      assert.deepEqual(rootDifferences(answers), [], filter);
    }
    const all = await both(root(['*', '+']), 'anonymous');
    const values = (a: SearchAnswer, name: string): string[] =>
      (a.entries[0].attributes.find((x) => x.type === name)?.values ?? []).map(String).sort();
    for (const name of ['supportedControl', 'supportedExtension', 'supportedFeatures']) {
      const mine = values(all.bramble, name);
      assert.ok(mine.length > 0, name);
      for (const oid of mine) assert.ok(values(all.slapd, name).includes(oid), `${name} ${oid}: bramble lists it, slapd does not`);
    }
    assert.deepEqual(values(all.bramble, 'supportedControl'), [ControlOid.pagedResults]);
    assert.deepEqual(values(all.bramble, 'supportedSASLMechanisms'), []);
    assert.deepEqual(values(all.bramble, 'configContext'), []);
    assert.deepEqual([values(all.bramble, 'vendorName'), values(all.slapd, 'vendorName')], [['bramble'], []]);
    // Below the root DSE there is nothing but the naming context: scope one or sub at '' is refused alike.
    for (const scope of ['one', 'sub'] as const) {
      const answers = await both({ baseObject: '', scope, filter: parseFilter('(objectClass=*)'), attributes: ['1.1'] }, 'anonymous');
      assert.deepEqual(rootDifferences(answers), [], scope);
    }
  });
  // -------------------------------------------------------------------------------------------
  // Paged results (RFC 2696)

  interface Page {
    answer: SearchAnswer;
    /** The response control's value, null when the answer carried none. */
    control: { size: number; cookie: Buffer } | null;
  }

  const pagedControl = (size: number, cookie: Buffer) => ({
    oid: ControlOid.pagedResults,
    critical: false,
    value: encodePagedResults(size, cookie),
  });

  async function page(client: LdapTestClient, spec: SearchSpec, size: number, cookie: Buffer): Promise<Page> {
    const answer = await client.search({ ...spec, controls: [pagedControl(size, cookie)] });
    const control = answer.controls.find((c) => c.oid === ControlOid.pagedResults);
    return { answer, control: control?.value ? decodePagedResults(control.value) : null };
  }

  /** Pages through a search until the cookie comes back empty or a page fails (at most 20 pages). */
  async function pageThrough(client: LdapTestClient, spec: SearchSpec, size: number): Promise<Page[]> {
    const pages: Page[] = [];
    let cookie: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 20; i++) {
      const p = await page(client, spec, size, cookie);
      pages.push(p);
      if (p.answer.result.code !== 0 || !p.control || p.control.cookie.length === 0) return pages;
      cookie = p.control.cookie;
    }
    throw new Error(`${client.name}: more than 20 pages`);
  }

  interface PageShape {
    code: number;
    entries: number;
    control: { size: number; more: boolean } | null;
  }

  /** What a page shows besides its entries: the code, whether a control came, its size, whether the cookie continues. */
  const pageShape = (p: Page): PageShape => ({
    code: p.answer.result.code,
    entries: p.answer.entries.length,
    control: p.control && { size: p.control.size, more: p.control.cookie.length > 0 },
  });

  /** The paged-results control that ends a paged search: no estimate (as slapd), an empty cookie. */
  const END = { size: 0, more: false };

  /**
   * PAGED_CONTROL_ALWAYS, a known difference: bramble puts the paged-results response control (size
   * 0, empty cookie) on every searchResultDone of a paged search, also when the search fails
   * (sizeLimitExceeded, a bad cookie) or is ended with page size 0; slapd sends the control with a
   * successful page only. RFC 2696 §3 asks for the control "each time the server returns a set of
   * results" and says nothing of the other answers; ldapsearch and nslcd stop paging on an absent
   * or an empty cookie alike. This maps slapd's shape of a page to what bramble sends instead.
   */
  const pagedAsBramble = (shape: PageShape): PageShape => (shape.code !== 0 && shape.control === null ? { ...shape, control: END } : shape);

  async function comparePaged(spec: SearchSpec, size: number, as: keyof Side): Promise<{ bramble: Page[]; slapd: Page[] }> {
    const [b, s] = await Promise.all([pageThrough(sides.bramble![as], spec, size), pageThrough(sides.slapd![as], spec, size)]);
    assert.deepEqual(b.map(pageShape), s.map(pageShape).map(pagedAsBramble), 'the pages: code, entries, cookie');
    for (let i = 0; i < s.length; i++) {
      assert.deepEqual(compare({ bramble: b[i].answer, slapd: s[i].answer }), [], `page ${i + 1}`);
    }
    return { bramble: b, slapd: s };
  }

  const allUsers: SearchSpec = {
    baseObject: BASE_DN,
    scope: 'sub',
    filter: parseFilter('(objectClass=posixAccount)'),
    attributes: NSLCD.passwd,
  };

  it('paged results, 5 per page through all users: the same pages, cookies and union as one search', async () => {
    for (const as of ['anonymous', 'bound'] as const) {
      const { bramble: pages } = await comparePaged(allUsers, 5, as);
      const users = USERS.length - 1; // ghost was deleted
      assert.equal(pages.length, Math.ceil(users / 5));
      assert.ok(pages.every((p) => p.answer.entries.length <= 5));
      assert.ok(
        pages.slice(0, -1).every((p) => p.control!.cookie.length > 0),
        'each page but the last continues',
      );
      assert.equal(pages[pages.length - 1].control!.cookie.length, 0, 'the last cookie is empty');
      const union = pages.flatMap((p) => p.answer.entries.map((e) => e.dn));
      const whole = await sides.slapd![as].search(allUsers);
      assert.deepEqual(
        union,
        whole.entries.map((e) => e.dn),
        'the pages together are the whole answer, once each, in order',
      );
    }
  });

  it('paged results with a size limit, and a page size at or over the size limit (RFC 2696 §3: one page)', async () => {
    for (const [limit, size] of [
      [12, 5],
      [4, 10],
      [5, 5],
    ]) {
      const { bramble: pages } = await comparePaged({ ...allUsers, sizeLimit: limit }, size, 'anonymous');
      const last = pages[pages.length - 1];
      assert.deepEqual(
        [pages.flatMap((p) => p.answer.entries).length, last.answer.result.code],
        [limit, 4],
        `limit ${limit}, page ${size}`,
      );
    }
  });

  it('known: a size limit that falls on the end of a page is reported on that page by bramble, on the next by slapd', async () => {
    // 10 entries allowed, pages of 5: both send the same 10 entries and end with sizeLimitExceeded;
    // bramble says so with the second page (it knows more entries match), slapd answers the second
    // page as a full one and a third request gets no entries and the code. Clients see the same
    // entries and the same final code; bramble's client makes one request fewer.
    const spec = { ...allUsers, sizeLimit: 10 };
    const [b, s] = await Promise.all([pageThrough(sides.bramble!.anonymous, spec, 5), pageThrough(sides.slapd!.anonymous, spec, 5)]);
    const more = { size: 0, more: true };
    assert.deepEqual(s.map(pageShape), [
      { code: 0, entries: 5, control: more },
      { code: 0, entries: 5, control: more },
      { code: 4, entries: 0, control: null },
    ]);
    assert.deepEqual(b.map(pageShape), [
      { code: 0, entries: 5, control: more },
      { code: 4, entries: 5, control: END },
    ]);
    const dns = (pages: Page[]): string[] => pages.flatMap((p) => p.answer.entries.map((e) => e.dn));
    assert.deepEqual(dns(b), dns(s));
  });

  it('paged results: page size 0 ends the search; a cookie taken to another search; a made-up cookie', async () => {
    const first = {
      bramble: await page(sides.bramble!.anonymous, allUsers, 5, Buffer.alloc(0)),
      slapd: await page(sides.slapd!.anonymous, allUsers, 5, Buffer.alloc(0)),
    };
    const shapes = async (spec: SearchSpec, size: number, cookie: (side: 'bramble' | 'slapd') => Buffer) => ({
      bramble: pageShape(await page(sides.bramble!.anonymous, spec, size, cookie('bramble'))),
      slapd: pageShape(await page(sides.slapd!.anonymous, spec, size, cookie('slapd'))),
    });
    // Page size 0 with the last cookie (RFC 2696 §3): no entries, success, the search is over.
    // Known: bramble's answer carries the control with an empty cookie, slapd's none (PAGED_CONTROL_ALWAYS).
    assert.deepEqual(await shapes(allUsers, 0, (side) => first[side].control!.cookie), {
      bramble: { code: 0, entries: 0, control: END },
      slapd: { code: 0, entries: 0, control: null },
    });
    // Known, on purpose: a cookie is bound to its search in bramble (an HMAC over base, scope, filter,
    // attributes and identity), so another search with it is refused (53); slapd takes the cookie
    // as a position in its entry IDs and continues the other search from there (here: nothing, as
    // every group was loaded before the first user).
    const otherSearch = { ...allUsers, filter: parseFilter('(objectClass=posixGroup)') };
    assert.deepEqual(await shapes(otherSearch, 5, (side) => first[side].control!.cookie), {
      bramble: { code: 53, entries: 0, control: END },
      slapd: { code: 0, entries: 0, control: END },
    });
    // A cookie neither server made: protocolError (2) from both.
    const madeUp = randomBytes(8);
    const answers = await shapes(allUsers, 5, () => madeUp);
    assert.deepEqual(answers.bramble, pagedAsBramble(answers.slapd));
    assert.deepEqual(answers.slapd, { code: 2, entries: 0, control: null });
  });

  // -------------------------------------------------------------------------------------------
  // Binds and WhoAmI

  it('binds and WhoAmI: the same result codes and identities', async () => {
    const conns = { bramble: await open('bramble', null), slapd: await open('slapd', null) };
    const pw = (u: string): string => passwords.get(u)!;
    // A success between failures: bramble's throttle would otherwise slow the later binds down.
    const attempts: [string, string, string][] = [
      ['right password', dnOf('alice'), pw('alice')],
      ['wrong password', dnOf('alice'), pw('bob')],
      ['no such user', dnOf('nobody'), pw('alice')],
      ['right password again', dnOf('alice'), pw('alice')],
      ['a disabled user', dnOf('dave'), pw('dave')],
      ['a deleted user', dnOf('ghost'), pw('ghost')],
      ['the DN in another case and spacing', 'UID=Alice, OU=People,DC=Bramble,DC=Local', pw('alice')],
      ['an entry that is not a user', BASE_DN, pw('alice')],
      ['a DN outside the directory', 'uid=alice,dc=example,dc=com', pw('alice')],
      ['a name without a password (unauthenticated)', dnOf('alice'), ''],
      ['a password without a name', '', pw('alice')],
      ['right password, last', dnOf('bob'), pw('bob')],
    ];
    const results: { bramble: unknown[]; slapd: unknown[] } = { bramble: [], slapd: [] };
    for (const [what, dn, password] of attempts) {
      for (const side of ['bramble', 'slapd'] as const) {
        const result = await conns[side].bind(dn, password);
        const who = await conns[side].whoAmI();
        assert.equal(who.result.code, 0);
        results[side].push([what, result.code, who.authzId]);
      }
    }
    const alice = 'dn:uid=alice,ou=people,dc=bramble,dc=local';
    assert.deepEqual(results.slapd, [
      ['right password', 0, alice],
      ['wrong password', 49, ''],
      ['no such user', 49, ''],
      ['right password again', 0, alice],
      // The export gives a disabled user no userPassword (ldap.directory.ts toLdif): refused alike.
      ['a disabled user', 49, ''],
      ['a deleted user', 49, ''],
      // WhoAmI names the normalised DN, not the spelling of the bind.
      ['the DN in another case and spacing', 0, alice],
      ['an entry that is not a user', 49, ''],
      ['a DN outside the directory', 49, ''],
      ['a name without a password (unauthenticated)', 53, ''],
      ['a password without a name', 49, ''],
      ['right password, last', 0, 'dn:uid=bob,ou=people,dc=bramble,dc=local'],
    ]);
    assert.deepEqual(results.bramble, results.slapd);
  });

  // -------------------------------------------------------------------------------------------
  // Real clients

  it("ldapsearch (OpenLDAP's client) gets the same answers from both over StartTLS", async () => {
    const alice = { dn: dnOf('alice'), password: passwords.get('alice')! };
    const runs: [string, string[], boolean][] = [
      ['nslcd user lookup', ['-b', BASE_DN, '(&(objectClass=posixAccount)(uid=alice))', ...NSLCD.passwd], false],
      ['everything, user and operational attributes', ['-b', BASE_DN, '(objectClass=*)', '*', '+'], false],
      ['paged, 5 per page', ['-E', 'pr=5/noprompt', '-b', BASE_DN, '(objectClass=posixAccount)', 'uid', 'cn', 'gecos'], false],
      ['size limit', ['-z', '3', '-b', BASE_DN, '(objectClass=posixAccount)', 'uid'], false],
      ['a missing base', ['-b', dnOf('nobody'), '(objectClass=*)'], false],
      ['bound, asking for userPassword by name', ['-b', dnOf('alice'), '-s', 'base', '(objectClass=*)', 'userPassword', '*'], true],
    ];
    for (const [what, args, bound] of runs) {
      const argv = ['-LLL', '-o', 'ldif_wrap=no', ...args];
      const bind = bound ? alice : undefined;
      const b = await lab.ldapsearch(argv, { uri: bramble.uri, startTls: true, caFile: bramble.caFile, bind });
      const s = await lab.ldapsearch(argv, { uri: slapd.uri, startTls: true, caFile: slapdCa.caFile, bind });
      assert.ok(s.code === 0 || s.code === 4 || s.code === 32, `${what}: slapd: ${s.stderr}`);
      const diffs = differences(normalise(answerFromLdapsearch(b)), normalise(answerFromLdapsearch(s), dropFromSlapd), { ordered: true });
      assert.deepEqual(diffs, [], what);
    }
    const missing = await lab.ldapsearch(['-LLL', '-b', dnOf('nobody'), '(objectClass=*)'], {
      uri: bramble.uri,
      startTls: true,
      caFile: bramble.caFile,
    });
    assert.equal(missing.code, 32);
    assert.match(missing.stderr, /Matched DN: ou=people,dc=bramble,dc=local/);
  });

  it("nslcd (the Pi's own client) resolves the same accounts from both: getent, id, PAM", async () => {
    const pis = {
      bramble: await lab.startPiStack({
        uri: bramble.uri,
        baseDn: BASE_DN,
        caFile: bramble.caFile,
        extraConfig: ['reconnect_retrytime 1'],
      }),
      slapd: await lab.startPiStack({ uri: slapd.uri, baseDn: BASE_DN, caFile: slapdCa.caFile, extraConfig: ['reconnect_retrytime 1'] }),
    };
    try {
      const lookups: [string, (pi: PiStack) => Promise<CommandResult>][] = [
        ['getent passwd (all)', (pi) => pi.getent('passwd')],
        ['getent group (all)', (pi) => pi.getent('group')],
        ['getent shadow (all)', (pi) => pi.getent('shadow')],
        ['getent passwd alice', (pi) => pi.getent('passwd', 'alice')],
        ['getent passwd <carol’s uid>', (pi) => pi.getent('passwd', String(numbers.uid('carol')))],
        ['getent passwd ghost (deleted)', (pi) => pi.getent('passwd', 'ghost')],
        ['getent shadow dave (disabled)', (pi) => pi.getent('shadow', 'dave')],
        ['getent group chess', (pi) => pi.getent('group', 'chess')],
        ['getent group <teachers’ gid>', (pi) => pi.getent('group', String(numbers.gid('teachers')))],
        ['id alice', (pi) => pi.id('alice')],
        ['id henry (groups changed)', (pi) => pi.id('henry')],
        ['pam alice', (pi) => pi.pam('alice', passwords.get('alice')!, { operations: ['authenticate', 'acct_mgmt'] })],
        ['pam dave (disabled)', (pi) => pi.pam('dave', passwords.get('dave')!)],
      ];
      for (const [what, run] of lookups) {
        const [b, s] = [await run(pis.bramble), await run(pis.slapd)];
        assert.deepEqual({ code: b.code, stdout: b.stdout }, { code: s.code, stdout: s.stdout }, `${what}: ${b.stderr} / ${s.stderr}`);
      }
      // What nslcd sent is what NSLCD lists (slapd's stats log), so the cases above ask as nslcd does.
      const asked: string[] = slapd.log().match(/SRCH attr=.*$/gm) ?? [];
      for (const [lookup, attributes] of Object.entries(NSLCD)) {
        assert.ok(asked.includes(`SRCH attr=${attributes.join(' ')}`), `nslcd's ${lookup} attributes: ${[...new Set(asked)].join('; ')}`);
      }
      // Not two empty answers: every user of the school is in slapd's enumeration, and alice logs in.
      const all = await pis.slapd.getent('passwd');
      const ldapUids = all.stdout.split('\n').filter((l) => Number(/^[^:]+:x:(\d+):/.exec(l)?.[1]) >= 10000 && !l.startsWith('nobody:'));
      assert.equal(ldapUids.length, USERS.length - 1);
      assert.equal((await pis.slapd.pam('alice', passwords.get('alice')!)).code, 0);
      assert.notEqual((await pis.slapd.pam('dave', passwords.get('dave')!)).code, 0);
    } finally {
      await pis.bramble.stop();
      await pis.slapd.stop();
    }
  });
});
