/**
 * Matching rules and DNs: how two values of an attribute are compared, as slapd compares them
 * (servers/slapd/schema_init.c and dn.c, OpenLDAP 2.5), because the directory must give the same
 * answers as the OpenLDAP server it stands in for.
 *
 * Every value, stored or asserted, is first normalised by the attribute's equality rule; matching is
 * then a comparison of normalised forms. A value that does not conform to the rule's syntax (a
 * letter in an integer, a non-ASCII character in an IA5 string, an empty directory string)
 * normalises to null, which makes a filter item Undefined [RFC 4511 §4.5.1.7].
 *
 * String preparation is slapd's, which is a subset of RFC 4518: directory strings (caseIgnore,
 * caseExact) are NFKC-normalised, case-folded for caseIgnore, and their spaces made insignificant —
 * leading and trailing spaces dropped and inner runs collapsed to one, a value of spaces only becomes
 * one space; a substring component keeps one space at the end where it joins the rest of the value
 * (trailing for initial, both for any, leading for final). IA5 strings (caseIgnoreIA5, caseExactIA5)
 * lose leading and trailing spaces and collapse inner runs whatever their position. Only U+0020
 * counts as a space, as in slapd (no tab, no RFC 4518 mapping table).
 *
 * DNs (distinguishedNameMatch, a search's base, a bind name) are parsed with @ldapjs/dn and
 * normalised per RDN value by that attribute's equality rule, with attribute types replaced by their
 * canonical names: `UID=Alice, OU=People,dc=bramble,dc=local` and `uid=alice,ou=people,dc=bramble,
 * dc=local` are the same DN. An unknown attribute type, an empty value or RDN, or a `#hex` value makes
 * the DN invalid, as slapd answers invalidDNSyntax for them.
 */
import { DN } from '@ldapjs/dn';
import { Syntax, attributeType, type AttributeType } from './ldap.schema';

export type RuleKind = 'equality' | 'ordering' | 'substr' | 'approx';

/** Where a substring component sits: space handling differs at its open ends. */
export type SubstringPosition = 'initial' | 'any' | 'final';

export interface MatchingRule {
  readonly name: string;
  readonly oid: string;
  readonly kind: RuleKind;
  /** The assertion syntax. */
  readonly syntax: string;
  /** Usable in an extensible match filter (slapd's SLAP_MR_EXT): equality, ordering and approx rules. */
  readonly extensible: boolean;
  /** Attribute syntaxes besides `syntax` the rule applies to in an extensible match. */
  readonly compatSyntaxes: readonly string[];
  /** Normalises a stored or asserted value; null when it does not conform to the syntax. */
  normalize(value: string): string | null;
  /** Normalises a substring component (equality rules only; substring filters use the equality rule's preparation). */
  normalizeSubstring(value: string, position: SubstringPosition): string | null;
  /** Of two normalised values: 0 when they match; for ordering rules the sign orders them. */
  compare(value: string, assertion: string): number;
}

// ---------------------------------------------------------------------------------------------
// String preparation

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/**
 * slapd's UTF8StringNormalize: NFKC (and lower case when folding), then insignificant spaces.
 * `position` null is a whole value; for substring components the joining end keeps one space.
 */
function prepareDirectoryString(value: string, fold: boolean, position: SubstringPosition | null): string {
  let s = fold ? value.toLowerCase() : value;
  if (!ASCII.test(s)) s = s.normalize('NFKC');
  // Fast path: nothing to trim or collapse.
  if (s.length > 0 && s[0] !== ' ' && s[s.length - 1] !== ' ' && !s.includes('  ')) return s;
  const keepLeading = position === 'any' || position === 'final';
  const keepTrailing = position === 'initial' || position === 'any';
  let out = '';
  let wasSpace = !keepLeading;
  for (const ch of s) {
    if (ch === ' ') {
      if (!wasSpace) out += ' ';
      wasSpace = true;
    } else {
      out += ch;
      wasSpace = false;
    }
  }
  if (out.length === 0) return s.length > 0 ? ' ' : '';
  if (wasSpace && !keepTrailing && out.endsWith(' ')) out = out.slice(0, -1);
  return out;
}

/** slapd's IA5StringNormalize: ASCII only; leading and trailing spaces dropped, inner runs collapsed. */
function prepareIa5String(value: string, fold: boolean): string | null {
  if (!ASCII.test(value)) return null;
  const s = fold ? value.toLowerCase() : value;
  if (s.length > 0 && s[0] !== ' ' && s[s.length - 1] !== ' ' && !s.includes('  ')) return s;
  return s.replace(/ {2,}/g, ' ').replace(/^ /, '').replace(/ $/, '');
}

/** Byte order of the UTF-8 forms, as slapd's memcmp orders them (UTF-16 order differs above U+FFFF). */
function compareUtf8(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function compareExact(a: string, b: string): number {
  return a === b ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Syntaxes

const INTEGER = /^(0|-?[1-9][0-9]*)$/;
const NUMERIC_OID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/;
const DESCR = /^[A-Za-z][A-Za-z0-9-]*$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/;

/** An OID in either RFC 4512 form, numeric or descriptor (slapd's oidValidate, used for objectClass values). */
export function isOid(value: string): boolean {
  return NUMERIC_OID.test(value) || DESCR.test(value);
}

/** Order of two RFC 4517 integers in canonical form (INTEGER above): sign, then length, then digits. */
export function compareIntegers(a: string, b: string): number {
  const negA = a.startsWith('-');
  const negB = b.startsWith('-');
  if (negA !== negB) return negA ? -1 : 1;
  const sign = negA ? -1 : 1;
  if (a.length !== b.length) return (a.length < b.length ? -1 : 1) * sign;
  return (a < b ? -1 : a > b ? 1 : 0) * sign;
}

const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(?:(\d{2})(\d{2})?)?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)$/;
const NS_PER = { hour: 3_600_000_000_000n, minute: 60_000_000_000n, second: 1_000_000_000n };

/**
 * RFC 4517 §3.3.13 GeneralizedTime to a canonical UTC form `YYYYMMDDHHMMSS.nnnnnnnnnZ` whose string
 * order is time order; null when not a valid time. The fraction belongs to the last unit given.
 */
export function normalizeGeneralizedTime(value: string): string | null {
  const m = GENERALIZED_TIME.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // leap year 2000: February 29
  if (day > daysInMonth || (month === 2 && day === 29 && !isLeapYear(year))) return null;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const zh = Number(zone.slice(1, 3));
    const zm = zone.length > 3 ? Number(zone.slice(3, 5)) : 0;
    if (zh > 23 || zm > 59) return null;
    offsetMinutes = (zh * 60 + zm) * (zone[0] === '-' ? -1 : 1);
  }
  const base = new Date(0);
  base.setUTCFullYear(year, month - 1, day);
  base.setUTCHours(hour, minute, second, 0);
  let ns = BigInt(base.getTime()) * 1_000_000n - BigInt(offsetMinutes) * NS_PER.minute;
  if (frac !== undefined) {
    const unit = mi === undefined ? NS_PER.hour : s === undefined ? NS_PER.minute : NS_PER.second;
    ns += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
  }
  const seconds = ns / NS_PER.second - (ns % NS_PER.second < 0n ? 1n : 0n);
  const rest = ns - seconds * NS_PER.second;
  const date = new Date(Number(seconds) * 1000);
  const yyyy = date.getUTCFullYear();
  if (yyyy < 0 || yyyy > 9999) return null;
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    String(yyyy).padStart(4, '0') +
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds()) +
    '.' +
    String(rest).padStart(9, '0') +
    'Z'
  );
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** An ISO 8601 timestamp (as bramble's records hold them) as GeneralizedTime to the second, or null. */
export function generalizedTimeOf(iso: string): string | null {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return null;
  const d = new Date(ms);
  const yyyy = d.getUTCFullYear();
  if (yyyy < 0 || yyyy > 9999) return null;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${String(yyyy).padStart(4, '0')}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
}

// ---------------------------------------------------------------------------------------------
// The rules

interface RuleSpec {
  name: string;
  oid: string;
  kind: RuleKind;
  syntax: string;
  extensible?: boolean;
  compatSyntaxes?: readonly string[];
  normalize?: (value: string) => string | null;
  normalizeSubstring?: (value: string, position: SubstringPosition) => string | null;
  compare?: (value: string, assertion: string) => number;
}

const DIRECTORY_STRING_COMPAT = ['1.3.6.1.4.1.1466.115.121.1.11', Syntax.printableString, Syntax.telephoneNumber];

const caseIgnore = (v: string): string | null => (v.length === 0 ? null : prepareDirectoryString(v, true, null));
const caseExact = (v: string): string | null => (v.length === 0 ? null : prepareDirectoryString(v, false, null));
const caseIgnoreSub = (v: string, p: SubstringPosition): string | null => (v.length === 0 ? null : prepareDirectoryString(v, true, p));
const caseExactSub = (v: string, p: SubstringPosition): string | null => (v.length === 0 ? null : prepareDirectoryString(v, false, p));
const integer = (v: string): string | null => (INTEGER.test(v) ? v : null);
/** The OID syntax of slapd takes numeric OIDs only (numericoidValidate); objectClass values are ldap.filter.ts's business. */
const oid = (v: string): string | null => (NUMERIC_OID.test(v) ? v : null);
const dn = (v: string): string | null => parseDn(v)?.ndn ?? null;
const uuid = (v: string): string | null => (UUID.test(v) ? v.toLowerCase() : null);
const numericString = (v: string): string | null => (/^[0-9 ]+$/.test(v) ? v.replace(/ /g, '') : null);
const telephoneNumber = (v: string): string | null => (PRINTABLE.test(v) ? v.replace(/[ -]/g, '') : null);
const identity = (v: string): string => v;

/**
 * Relations between DNs, compared on normalised forms (where every unescaped `,` separates RDNs):
 * slapd's dnSubtreeMatch, dnOneLevelMatch, dnSubordinateMatch and dnSuperiorMatch, for extensible
 * filters such as `(entryDN:dnSubtreeMatch:=ou=people,dc=bramble,dc=local)`.
 */
function isUnder(value: string, base: string): boolean {
  return base === '' ? value !== '' : value.endsWith(',' + base);
}

const SPECS: RuleSpec[] = [
  { name: 'objectIdentifierMatch', oid: '2.5.13.0', kind: 'equality', syntax: Syntax.oid, normalize: oid },
  { name: 'distinguishedNameMatch', oid: '2.5.13.1', kind: 'equality', syntax: Syntax.dn, normalize: dn },
  {
    name: 'caseIgnoreMatch',
    oid: '2.5.13.2',
    kind: 'equality',
    syntax: Syntax.directoryString,
    compatSyntaxes: DIRECTORY_STRING_COMPAT,
    normalize: caseIgnore,
    normalizeSubstring: caseIgnoreSub,
  },
  {
    name: 'caseIgnoreOrderingMatch',
    oid: '2.5.13.3',
    kind: 'ordering',
    syntax: Syntax.directoryString,
    compatSyntaxes: DIRECTORY_STRING_COMPAT,
    normalize: caseIgnore,
    compare: compareUtf8,
  },
  { name: 'caseIgnoreSubstringsMatch', oid: '2.5.13.4', kind: 'substr', syntax: Syntax.substringAssertion },
  {
    name: 'caseExactMatch',
    oid: '2.5.13.5',
    kind: 'equality',
    syntax: Syntax.directoryString,
    compatSyntaxes: DIRECTORY_STRING_COMPAT,
    normalize: caseExact,
    normalizeSubstring: caseExactSub,
  },
  {
    name: 'caseExactOrderingMatch',
    oid: '2.5.13.6',
    kind: 'ordering',
    syntax: Syntax.directoryString,
    compatSyntaxes: DIRECTORY_STRING_COMPAT,
    normalize: caseExact,
    compare: compareUtf8,
  },
  { name: 'caseExactSubstringsMatch', oid: '2.5.13.7', kind: 'substr', syntax: Syntax.substringAssertion },
  { name: 'numericStringMatch', oid: '2.5.13.8', kind: 'equality', syntax: Syntax.numericString, normalize: numericString },
  {
    name: 'numericStringOrderingMatch',
    oid: '2.5.13.9',
    kind: 'ordering',
    syntax: Syntax.numericString,
    normalize: numericString,
    compare: compareUtf8,
  },
  { name: 'numericStringSubstringsMatch', oid: '2.5.13.10', kind: 'substr', syntax: Syntax.substringAssertion },
  {
    name: 'booleanMatch',
    oid: '2.5.13.13',
    kind: 'equality',
    syntax: Syntax.boolean,
    normalize: (v) => (v === 'TRUE' || v === 'FALSE' ? v : null),
  },
  { name: 'integerMatch', oid: '2.5.13.14', kind: 'equality', syntax: Syntax.integer, normalize: integer },
  {
    name: 'integerOrderingMatch',
    oid: '2.5.13.15',
    kind: 'ordering',
    syntax: Syntax.integer,
    normalize: integer,
    compare: compareIntegers,
  },
  { name: 'octetStringMatch', oid: '2.5.13.17', kind: 'equality', syntax: Syntax.octetString, normalize: identity },
  {
    name: 'octetStringOrderingMatch',
    oid: '2.5.13.18',
    kind: 'ordering',
    syntax: Syntax.octetString,
    normalize: identity,
    compare: compareUtf8,
  },
  { name: 'octetStringSubstringsMatch', oid: '2.5.13.19', kind: 'substr', syntax: Syntax.octetString },
  { name: 'telephoneNumberMatch', oid: '2.5.13.20', kind: 'equality', syntax: Syntax.telephoneNumber, normalize: telephoneNumber },
  { name: 'telephoneNumberSubstringsMatch', oid: '2.5.13.21', kind: 'substr', syntax: Syntax.substringAssertion },
  { name: 'generalizedTimeMatch', oid: '2.5.13.27', kind: 'equality', syntax: Syntax.generalizedTime, normalize: normalizeGeneralizedTime },
  {
    name: 'generalizedTimeOrderingMatch',
    oid: '2.5.13.28',
    kind: 'ordering',
    syntax: Syntax.generalizedTime,
    normalize: normalizeGeneralizedTime,
    compare: compareUtf8,
  },
  {
    name: 'caseExactIA5Match',
    oid: '1.3.6.1.4.1.1466.109.114.1',
    kind: 'equality',
    syntax: Syntax.ia5String,
    normalize: (v) => prepareIa5String(v, false),
    normalizeSubstring: (v) => prepareIa5String(v, false),
  },
  {
    name: 'caseIgnoreIA5Match',
    oid: '1.3.6.1.4.1.1466.109.114.2',
    kind: 'equality',
    syntax: Syntax.ia5String,
    normalize: (v) => prepareIa5String(v, true),
    normalizeSubstring: (v) => prepareIa5String(v, true),
  },
  { name: 'caseIgnoreIA5SubstringsMatch', oid: '1.3.6.1.4.1.1466.109.114.3', kind: 'substr', syntax: Syntax.ia5String },
  { name: 'caseExactIA5SubstringsMatch', oid: '1.3.6.1.4.1.4203.1.2.1', kind: 'substr', syntax: Syntax.ia5String },
  { name: 'UUIDMatch', oid: '1.3.6.1.1.16.2', kind: 'equality', syntax: Syntax.uuid, normalize: uuid },
  { name: 'UUIDOrderingMatch', oid: '1.3.6.1.1.16.3', kind: 'ordering', syntax: Syntax.uuid, normalize: uuid, compare: compareUtf8 },
  // slapd's approximate rules: normalisation is left to approxMatches (ldap.phonetic.ts).
  {
    name: 'directoryStringApproxMatch',
    oid: '1.3.6.1.4.1.4203.666.4.4',
    kind: 'approx',
    syntax: Syntax.directoryString,
    normalize: (v) => (v ? v : null),
  },
  {
    name: 'IA5StringApproxMatch',
    oid: '1.3.6.1.4.1.4203.666.4.5',
    kind: 'approx',
    syntax: Syntax.ia5String,
    normalize: (v) => (ASCII.test(v) ? v : null),
  },
  // DN relations: "compare" is 0 when the stored DN (value) stands in the relation to the asserted one.
  {
    name: 'dnSubtreeMatch',
    oid: '1.3.6.1.4.1.4203.666.4.9',
    kind: 'equality',
    syntax: Syntax.dn,
    normalize: dn,
    compare: (v, a) => (v === a || isUnder(v, a) ? 0 : 1),
  },
  {
    name: 'dnOneLevelMatch',
    oid: '1.3.6.1.4.1.4203.666.4.8',
    kind: 'equality',
    syntax: Syntax.dn,
    normalize: dn,
    compare: (v, a) => (a !== '' && isUnder(v, a) && !v.slice(0, v.length - a.length - 1).includes(',') ? 0 : 1),
  },
  {
    name: 'dnSubordinateMatch',
    oid: '1.3.6.1.4.1.4203.666.4.10',
    kind: 'equality',
    syntax: Syntax.dn,
    normalize: dn,
    compare: (v, a) => (isUnder(v, a) ? 0 : 1),
  },
  {
    name: 'dnSuperiorMatch',
    oid: '1.3.6.1.4.1.4203.666.4.11',
    kind: 'equality',
    syntax: Syntax.dn,
    normalize: dn,
    compare: (v, a) => (isUnder(a, v) ? 0 : 1),
  },
];

/**
 * Rules the schema names for types no entry here holds (postal addresses, certificates, CSNs...):
 * known, so that filters on those types are FALSE rather than Undefined, but compared as opaque
 * strings. If the directory ever stores such a type, give its rule a real implementation first.
 */
const OPAQUE_RULES: [string, string, RuleKind][] = [
  ['caseIgnoreListMatch', '2.5.13.11', 'equality'],
  ['caseIgnoreListSubstringsMatch', '2.5.13.12', 'substr'],
  ['bitStringMatch', '2.5.13.16', 'equality'],
  ['presentationAddressMatch', '2.5.13.22', 'equality'],
  ['uniqueMemberMatch', '2.5.13.23', 'equality'],
  ['protocolInformationMatch', '2.5.13.24', 'equality'],
  ['integerFirstComponentMatch', '2.5.13.29', 'equality'],
  ['objectIdentifierFirstComponentMatch', '2.5.13.30', 'equality'],
  ['certificateExactMatch', '2.5.13.34', 'equality'],
  ['CSNMatch', '1.3.6.1.4.1.4203.666.11.2.2', 'equality'],
  ['CSNOrderingMatch', '1.3.6.1.4.1.4203.666.11.2.3', 'ordering'],
];

const rulesByKey = new Map<string, MatchingRule>();

function register(spec: RuleSpec): void {
  const normalize = spec.normalize ?? identity;
  const rule: MatchingRule = {
    name: spec.name,
    oid: spec.oid,
    kind: spec.kind,
    syntax: spec.syntax,
    extensible: spec.extensible ?? spec.kind !== 'substr',
    compatSyntaxes: spec.compatSyntaxes ?? [],
    normalize,
    normalizeSubstring: spec.normalizeSubstring ?? ((v) => normalize(v)),
    compare: spec.compare ?? compareExact,
  };
  rulesByKey.set(spec.oid, rule);
  rulesByKey.set(spec.name.toLowerCase(), rule);
}

for (const spec of SPECS) register(spec);
for (const [name, ruleOid, kind] of OPAQUE_RULES) register({ name, oid: ruleOid, kind, syntax: '', extensible: false });

/** The matching rule named `nameOrOid` (any case), or null. */
export function matchingRule(nameOrOid: string | null): MatchingRule | null {
  if (nameOrOid === null) return null;
  return rulesByKey.get(nameOrOid) ?? rulesByKey.get(nameOrOid.toLowerCase()) ?? null;
}

/** Every rule the schema names must exist here: checked once at load. */
for (const name of ['caseIgnoreMatch', 'integerMatch', 'UUIDMatch', 'generalizedTimeMatch']) {
  if (!matchingRule(name)) throw new Error(`matching: ${name} missing`);
}

/** The approximate rule slapd pairs with an equality rule (schema_init.c), or null: approx falls back to equality. */
export function approxRuleOf(equality: MatchingRule | null): MatchingRule | null {
  if (!equality) return null;
  switch (equality.name) {
    case 'caseIgnoreMatch':
    case 'caseExactMatch':
      return matchingRule('directoryStringApproxMatch');
    case 'caseIgnoreIA5Match':
    case 'caseExactIA5Match':
      return matchingRule('IA5StringApproxMatch');
    default:
      return null;
  }
}

/** slapd's mr_usable_with_at: may an extensible filter apply `rule` to values of `type`? */
export function isRuleUsableWith(rule: MatchingRule, type: AttributeType): boolean {
  if (!rule.extensible) return false;
  const { equality, approx } = rulesOf(type);
  return rule.syntax === type.syntax || rule === equality || rule === approx || rule.compatSyntaxes.includes(type.syntax);
}

// ---------------------------------------------------------------------------------------------
// DNs

export interface Ava {
  readonly type: AttributeType;
  /** The value as given (unescaped). */
  readonly value: string;
  /** The value normalised by the type's equality rule. */
  readonly normalized: string;
}

export interface ParsedDn {
  /** Normalised form: canonical type names in lower case, normalised values, `,` only between RDNs. */
  readonly ndn: string;
  /** The DN as responses show it: canonical type names, values as given, RFC 4514 escaping. */
  readonly pretty: string;
  /** RDNs, leaf first; the AVAs of a multi-valued RDN in the order given. */
  readonly rdns: readonly (readonly Ava[])[];
}

/** RFC 4514 §2.4 escaping of an attribute value for a DN string. */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\0') out += '\\00';
    else if ('"+,;<>\\'.includes(ch) || (i === 0 && (ch === '#' || ch === ' ')) || (i === value.length - 1 && ch === ' ')) out += '\\' + ch;
    else out += ch;
  }
  return out;
}

/** Escaping for the normalised form: every special character as `\XX`, so that `,` and `+` only separate. */
function escapeNormalized(value: string): string {
  return value.replace(/[\0"+,;<>\\=]|^[# ]| $/g, (ch) => '\\' + ch.charCodeAt(0).toString(16).padStart(2, '0'));
}

/**
 * RDN separators (`,` or `;`) outside quotes and escapes, plus one: @ldapjs/dn skips an empty RDN
 * (`uid=a,,dc=x`), which slapd refuses, so the count is compared with what it parsed.
 */
function rdnCount(text: string): number {
  let count = 1;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') i++;
    else if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ',' || ch === ';')) count++;
  }
  return count;
}

/** Characters RFC 4514 §3 lets a backslash escape as themselves. */
const ESCAPABLE = new Set([' ', '"', '#', '+', ',', ';', '<', '=', '>', '\\']);

/**
 * Rewrites every `\c` escape as `\XX` hex, and refuses an escape RFC 4514 does not allow. @ldapjs/dn
 * reads the two characters after a backslash with parseInt(…, 16) before trying them as a single
 * character, so `\+b` came out as U+000B and `\ a` as a line feed; hex pairs it reads right.
 */
function hexEscapes(text: string): string | null {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const pair = text.slice(i + 1, i + 3);
    if (/^[0-9a-fA-F]{2}$/.test(pair)) {
      out += '\\' + pair;
      i += 2;
    } else if (i + 1 < text.length && ESCAPABLE.has(text[i + 1])) {
      out +=
        '\\' +
        text
          .charCodeAt(i + 1)
          .toString(16)
          .padStart(2, '0');
      i += 1;
    } else {
      return null;
    }
  }
  return out;
}

/** Parsed DNs by their text: searches repeat the same few bases. Bounded; cleared when full. */
const dnCache = new Map<string, ParsedDn | null>();
const DN_CACHE_SIZE = 4096;
/** Longer strings are not DNs anyone here uses; they are refused without parsing. */
const MAX_DN_LENGTH = 4096;

/** Parses and normalises a DN; null when it is not one slapd would accept. '' is the root DSE's (empty) DN. */
export function parseDn(text: string): ParsedDn | null {
  const cached = dnCache.get(text);
  if (cached !== undefined) return cached;
  const parsed = text.length > MAX_DN_LENGTH ? null : parseDnUncached(text);
  if (dnCache.size >= DN_CACHE_SIZE) dnCache.clear();
  dnCache.set(text, parsed);
  return parsed;
}

function parseDnUncached(text: string): ParsedDn | null {
  if (text === '') return { ndn: '', pretty: '', rdns: [] };
  const escaped = hexEscapes(text);
  if (escaped === null) return null;
  let parsed: DN;
  try {
    parsed = DN.fromString(escaped);
  } catch {
    return null;
  }
  if (parsed.length !== rdnCount(escaped)) return null;
  const rdns: Ava[][] = [];
  for (let i = 0; i < parsed.length; i++) {
    const rdn = parsed.rdnAt(i);
    const avas: Ava[] = [];
    for (const name of rdn.keys()) {
      const type = attributeType(name);
      if (!type) return null;
      // A `#hex` value comes back as a BER reader: slapd refuses those in DNs (LDAP_AVA_BINARY), so do we.
      const value = rdn.getValue(name);
      if (typeof value !== 'string' || value === '') return null;
      const equality = matchingRule(type.equality);
      const normalized = equality ? equality.normalize(value) : value;
      if (normalized === null || normalized === '') return null;
      avas.push({ type, value, normalized });
    }
    if (avas.length === 0) return null;
    rdns.push(avas);
  }
  const ndn = rdns
    .map((avas) =>
      avas
        .map((a) => `${a.type.name.toLowerCase()}=${escapeNormalized(a.normalized)}`)
        .sort()
        .join('+'),
    )
    .join(',');
  const pretty = rdns.map((avas) => avas.map((a) => `${a.type.name}=${escapeDnValue(a.value)}`).join('+')).join(',');
  return { ndn, pretty, rdns };
}

export interface TypeRules {
  readonly equality: MatchingRule | null;
  readonly ordering: MatchingRule | null;
  readonly substr: MatchingRule | null;
  /** The approximate rule, or null when approx falls back to equality. */
  readonly approx: MatchingRule | null;
}

const rulesCache = new Map<AttributeType, TypeRules>();

/** The rules of an attribute type, resolved once. */
export function rulesOf(type: AttributeType): TypeRules {
  let rules = rulesCache.get(type);
  if (!rules) {
    const equality = matchingRule(type.equality);
    rules = { equality, ordering: matchingRule(type.ordering), substr: matchingRule(type.substr), approx: approxRuleOf(equality) };
    rulesCache.set(type, rules);
  }
  return rules;
}

/**
 * The DN of a child entry named `type=value` under `parent`, built without parsing: for the entries
 * the directory creates (a user per record), whose RDN type and value it knows. Null when the value
 * does not conform to the type's equality rule or is empty.
 */
export function childDn(parent: ParsedDn, type: AttributeType, value: string): ParsedDn | null {
  const equality = matchingRule(type.equality);
  const normalized = equality ? equality.normalize(value) : value;
  if (value === '' || normalized === null || normalized === '') return null;
  const rdn = `${type.name.toLowerCase()}=${escapeNormalized(normalized)}`;
  const prettyRdn = `${type.name}=${escapeDnValue(value)}`;
  return {
    ndn: parent.ndn === '' ? rdn : `${rdn},${parent.ndn}`,
    pretty: parent.pretty === '' ? prettyRdn : `${prettyRdn},${parent.pretty}`,
    rdns: [[{ type, value, normalized }], ...parent.rdns],
  };
}
