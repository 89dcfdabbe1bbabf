/**
 * Search filters against directory entries, with RFC 4511 §4.5.1.7 three-valued logic: a filter item
 * is TRUE, FALSE or Undefined, `and`/`or`/`not` combine them as the RFC says (and is FALSE if any
 * part is FALSE, else Undefined if any is, else TRUE; or the dual; not leaves Undefined alone), and
 * a search returns an entry only when its filter is TRUE. Matching follows each attribute's rules
 * (ldap.matching.ts) the way slapd 2.5 applies them (servers/slapd/filter.c, filterentry.c, mra.c),
 * checked against a running slapd with the same data:
 *
 * - Undefined: an unknown attribute type or option, a rule the type lacks (`(cn>=a)`: cn has no
 *   ordering rule; `(homeDirectory=/h*)`: no substring rule), an assertion value its syntax refuses
 *   (`(uidNumber=abc)`, `(uidNumber=007)`, `(cn=)`, a non-ASCII character for an IA5 type), an
 *   empty substring component, an unknown object class, an unknown or unusable extensible rule.
 * - FALSE, not Undefined: a known type the entry lacks (`(mail=x)`), a language-tagged description
 *   (`(uid;lang-en=x)`): entries hold no tagged values.
 * - A filter on a type covers its subtypes: `(name=bob smith)` matches `cn: Bob Smith`.
 * - objectClass matches subclasses: `(objectClass=person)` is TRUE for an inetOrgPerson.
 * - approx uses slapd's phonetic matching for string types (ldap.phonetic.ts), equality otherwise.
 * - entryDN and subschemaSubentry are always present; `(entryDN=<dn>)` compares with the entry's DN;
 *   hasSubordinates answers from the entry. As in slapd, `(subschemaSubentry=cn=Subschema)` itself is
 *   FALSE: the value is not stored, only presence is special.
 * - An extensible match with an ordering rule is TRUE when the value is less than the assertion
 *   (RFC 4517; slapd does the same).
 *
 * userPassword: every filter item on it is Undefined, for every client, bound or not. Matching it
 * would let anyone learn which users have a password, or test guesses of a hash with `(userPassword=...)`
 * or `(userPassword=$2y$10$a*)` one character at a time; Undefined also hides it under `not`. (slapd
 * leaves this to ACLs; bramble has no ACLs, so the rule is here.) Entries never store it anyway.
 *
 * A filter is compiled once per search (attribute types resolved, assertion values normalised) and
 * then evaluated per entry; ldap.directory.ts also reads the compiled form to pick index candidates.
 */
import type { EntryAttribute, Filter } from './ldap.types';
import { approxMatches } from './ldap.phonetic';
import { isOid, isRuleUsableWith, matchingRule, parseDn, rulesOf, type MatchingRule, type ParsedDn } from './ldap.matching';
import {
  Types,
  attributeType,
  isSubtypeOf,
  objectClass as findObjectClass,
  parseAttributeDescription,
  type AttributeType,
  type ObjectClass,
} from './ldap.schema';

/** A filter's value on an entry. */
export type Tri = true | false | 'undefined';

export interface EntryAttributeValues {
  readonly type: AttributeType;
  readonly values: readonly string[];
  /** Each value normalised by the type's equality rule; null where it does not conform (it then never matches). */
  readonly normalized: readonly (string | null)[];
  /** The attribute as a response carries it (shared, frozen). */
  readonly out: EntryAttribute;
  /** The same with no values, for typesOnly searches. */
  readonly outTypeOnly: EntryAttribute;
}

export interface Entry {
  /** As responses show it. */
  readonly dn: string;
  readonly parsedDn: ParsedDn;
  /** Stored attributes in response order (user attributes, then stored operational ones). */
  readonly attributes: readonly EntryAttributeValues[];
  readonly byType: ReadonlyMap<AttributeType, EntryAttributeValues>;
  /** Whether entries exist below this one; kept up to date by the directory. */
  hasSubordinates: boolean;
}

/**
 * Builds an entry from attribute names (any known name or OID) and values. Throws on an unknown
 * type, a repeated type, a value its equality rule refuses, or a DN that does not parse: entries are
 * built by bramble, so any of these is a bug, not a client's mistake.
 */
export function makeEntry(dn: string | ParsedDn, attributes: readonly (readonly [string, readonly string[]])[]): Entry {
  const parsedDn = typeof dn === 'string' ? parseDn(dn) : dn;
  if (!parsedDn) throw new Error(`entry: invalid DN ${String(dn)}`);
  const list: EntryAttributeValues[] = [];
  const byType = new Map<AttributeType, EntryAttributeValues>();
  for (const [name, values] of attributes) {
    if (values.length === 0) continue;
    const type = attributeType(name);
    if (!type) throw new Error(`entry ${parsedDn.pretty}: unknown attribute type ${name}`);
    if (byType.has(type)) throw new Error(`entry ${parsedDn.pretty}: ${type.name} given twice`);
    const equality = rulesOf(type).equality;
    // Object classes are stored by name and compared by class (slapd's objectSubClassMatch): normalise to the OID.
    const normalize = isObjectClassType(type)
      ? (v: string) => findObjectClass(v)?.oid ?? null
      : (v: string) => (equality ? equality.normalize(v) : v);
    const normalized = values.map(normalize);
    const bad = normalized.findIndex((v) => v === null);
    if (bad >= 0)
      throw new Error(`entry ${parsedDn.pretty}: ${type.name} value ${JSON.stringify(values[bad])} does not conform to ${type.equality}`);
    const frozenValues = Object.freeze([...values]);
    const attr: EntryAttributeValues = {
      type,
      values: frozenValues,
      normalized,
      out: Object.freeze({ type: type.name, values: frozenValues as string[] }),
      outTypeOnly: Object.freeze({ type: type.name, values: [] }),
    };
    list.push(attr);
    byType.set(type, attr);
  }
  return { dn: parsedDn.pretty, parsedDn, attributes: list, byType, hasSubordinates: false };
}

// ---------------------------------------------------------------------------------------------
// Compiled filters

export type CompiledFilter =
  | { kind: 'const'; value: Tri }
  | { kind: 'and'; children: CompiledFilter[] }
  | { kind: 'or'; children: CompiledFilter[] }
  | { kind: 'not'; child: CompiledFilter }
  /** Equality, or approx on a type without an approximate rule. */
  | { kind: 'equality'; type: AttributeType; value: string }
  | { kind: 'approx'; type: AttributeType; value: string }
  | { kind: 'ordering'; type: AttributeType; ge: boolean; value: string }
  | { kind: 'substrings'; type: AttributeType; initial: string | null; any: string[]; final: string | null }
  | { kind: 'present'; type: AttributeType }
  /** objectClass / structuralObjectClass equality or approx: TRUE when a value is the class or a subclass. */
  | { kind: 'objectClass'; type: AttributeType; objectClass: ObjectClass }
  | { kind: 'entryDN'; ndn: string }
  | { kind: 'hasSubordinates'; value: boolean }
  | { kind: 'extensible'; rule: MatchingRule; type: AttributeType | null; value: string; dnAttributes: boolean };

const UNDEFINED: CompiledFilter = { kind: 'const', value: 'undefined' };
const FALSE: CompiledFilter = { kind: 'const', value: false };
const TRUE: CompiledFilter = { kind: 'const', value: true };

/** Deeper filters are Undefined below this depth (slapd disconnects; the codec bounds nesting first). */
const MAX_DEPTH = 64;

export function compileFilter(filter: Filter): CompiledFilter {
  return compile(filter, 0);
}

/** An attribute description a filter item may test, or the constant the item is whatever the entry. */
function describe(attribute: string): { type: AttributeType; tagged: boolean } | CompiledFilter {
  const desc = parseAttributeDescription(attribute);
  if (!desc || desc.type === Types.userPassword) return UNDEFINED;
  return desc;
}

function isConst(x: { type: AttributeType; tagged: boolean } | CompiledFilter): x is CompiledFilter {
  return 'kind' in x;
}

function isObjectClassType(type: AttributeType): boolean {
  return type === Types.objectClass || type === Types.structuralObjectClass;
}

/** objectClass assertions: a numeric OID or a name (slapd's oidValidate), of a class the schema knows. */
function compileObjectClass(type: AttributeType, value: string, tagged: boolean): CompiledFilter {
  const oc = isOid(value) ? findObjectClass(value) : null;
  if (!oc) return UNDEFINED;
  return tagged ? FALSE : { kind: 'objectClass', type, objectClass: oc };
}

function compile(filter: Filter, depth: number): CompiledFilter {
  if (depth > MAX_DEPTH) return UNDEFINED;
  switch (filter.type) {
    case 'and':
      return filter.filters.length === 0 ? TRUE : { kind: 'and', children: filter.filters.map((f) => compile(f, depth + 1)) };
    case 'or':
      return filter.filters.length === 0 ? FALSE : { kind: 'or', children: filter.filters.map((f) => compile(f, depth + 1)) };
    case 'not':
      return { kind: 'not', child: compile(filter.filter, depth + 1) };
    case 'equality':
    case 'approx': {
      const d = describe(filter.attribute);
      if (isConst(d)) return d;
      if (isObjectClassType(d.type)) return compileObjectClass(d.type, filter.value, d.tagged);
      const rules = rulesOf(d.type);
      const value = rules.equality?.normalize(filter.value) ?? null;
      if (value === null) return UNDEFINED;
      if (d.tagged) return FALSE;
      if (d.type === Types.entryDN) return { kind: 'entryDN', ndn: value };
      if (d.type === Types.hasSubordinates) return { kind: 'hasSubordinates', value: value === 'TRUE' };
      return { kind: filter.type, type: d.type, value };
    }
    case 'ge':
    case 'le': {
      const d = describe(filter.attribute);
      if (isConst(d)) return d;
      const value = rulesOf(d.type).ordering?.normalize(filter.value) ?? null;
      if (value === null) return UNDEFINED;
      return d.tagged ? FALSE : { kind: 'ordering', type: d.type, ge: filter.type === 'ge', value };
    }
    case 'substrings': {
      const d = describe(filter.attribute);
      if (isConst(d)) return d;
      const rules = rulesOf(d.type);
      if (!rules.substr || !rules.equality) return UNDEFINED;
      const equality = rules.equality;
      const parts = [filter.initial, ...filter.any, filter.final].filter((p): p is string => p !== null);
      if (parts.length === 0 || parts.some((p) => p === '')) return UNDEFINED;
      const initial = filter.initial === null ? null : equality.normalizeSubstring(filter.initial, 'initial');
      const final = filter.final === null ? null : equality.normalizeSubstring(filter.final, 'final');
      const any = filter.any.map((a) => equality.normalizeSubstring(a, 'any'));
      if (initial === null && filter.initial !== null) return UNDEFINED;
      if (final === null && filter.final !== null) return UNDEFINED;
      if (any.some((a) => a === null)) return UNDEFINED;
      return d.tagged ? FALSE : { kind: 'substrings', type: d.type, initial, any: any as string[], final };
    }
    case 'present': {
      const d = describe(filter.attribute);
      if (isConst(d)) return d;
      if (d.tagged) return FALSE;
      if (d.type === Types.entryDN || d.type === Types.subschemaSubentry || d.type === Types.hasSubordinates) return TRUE;
      return { kind: 'present', type: d.type };
    }
    case 'extensible':
      return compileExtensible(filter);
  }
}

function compileExtensible(filter: Extract<Filter, { type: 'extensible' }>): CompiledFilter {
  let type: AttributeType | null = null;
  let tagged = false;
  if (filter.attribute !== null) {
    const d = describe(filter.attribute);
    if (isConst(d)) return d;
    type = d.type;
    tagged = d.tagged;
  }
  let rule: MatchingRule | null;
  if (filter.matchingRule !== null) {
    rule = matchingRule(filter.matchingRule);
    // slapd gives objectClass its own copy of objectIdentifierMatch: a rule named explicitly never applies to it.
    if (!rule || (type && isObjectClassType(type))) return UNDEFINED;
  } else {
    if (!type) return UNDEFINED;
    if (isObjectClassType(type)) return compileObjectClass(type, filter.value, tagged);
    rule = rulesOf(type).equality;
    if (!rule || !rule.extensible) return UNDEFINED;
  }
  if (!rule.extensible || (type && !isRuleUsableWith(rule, type))) return UNDEFINED;
  const value = rule.normalize(filter.value);
  if (value === null) return UNDEFINED;
  if (tagged) return FALSE;
  return { kind: 'extensible', rule, type, value, dnAttributes: filter.dnAttributes };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The filter's value on `entry`. */
export function matches(filter: Filter | CompiledFilter, entry: Entry): Tri {
  return evaluate('kind' in filter ? filter : compileFilter(filter), entry);
}

export function evaluate(f: CompiledFilter, entry: Entry): Tri {
  switch (f.kind) {
    case 'const':
      return f.value;
    case 'and': {
      let result: Tri = true;
      for (const child of f.children) {
        const r = evaluate(child, entry);
        if (r === false) return false;
        if (r !== true) result = 'undefined';
      }
      return result;
    }
    case 'or': {
      let result: Tri = false;
      for (const child of f.children) {
        const r = evaluate(child, entry);
        if (r === true) return true;
        if (r !== false) result = 'undefined';
      }
      return result;
    }
    case 'not': {
      const r = evaluate(f.child, entry);
      return r === 'undefined' ? r : !r;
    }
    case 'equality':
      return someValue(entry, f.type, (attr) => {
        const rule = rulesOf(attr.type).equality;
        if (!rule) return 'undefined';
        return attr.normalized.some((v) => v !== null && rule.compare(v, f.value) === 0);
      });
    case 'approx':
      return someValue(entry, f.type, (attr) => {
        const rules = rulesOf(attr.type);
        if (rules.approx) return attr.normalized.some((v) => v !== null && approxMatches(v, f.value));
        const rule = rules.equality;
        if (!rule) return 'undefined';
        return attr.normalized.some((v) => v !== null && rule.compare(v, f.value) === 0);
      });
    case 'ordering':
      return someValue(entry, f.type, (attr) => {
        const rule = rulesOf(attr.type).ordering;
        if (!rule) return 'undefined';
        return attr.normalized.some((v) => {
          if (v === null) return false;
          const c = rule.compare(v, f.value);
          return f.ge ? c >= 0 : c <= 0;
        });
      });
    case 'substrings':
      return someValue(entry, f.type, (attr) => {
        if (!rulesOf(attr.type).substr) return 'undefined';
        return attr.normalized.some((v) => v !== null && substringsMatch(v, f.initial, f.any, f.final));
      });
    case 'present':
      return someValue(entry, f.type, () => true);
    case 'objectClass':
      return someValue(entry, f.type, (attr) => attr.values.some((v) => findObjectClass(v)?.lineage.has(f.objectClass) ?? false));
    case 'entryDN':
      return entry.parsedDn.ndn === f.ndn;
    case 'hasSubordinates':
      return entry.hasSubordinates === f.value;
    case 'extensible':
      return extensibleMatch(f, entry);
  }
}

/**
 * Applies `test` to the entry's attributes of `type` or a subtype; TRUE as soon as one is TRUE,
 * else Undefined if one was, else FALSE (also when the entry has none).
 */
function someValue(entry: Entry, type: AttributeType, test: (attr: EntryAttributeValues) => boolean | 'undefined'): Tri {
  if (type.subtypes.length === 0) {
    const attr = entry.byType.get(type);
    return attr ? test(attr) : false;
  }
  let result: Tri = false;
  for (const attr of entry.attributes) {
    if (!isSubtypeOf(attr.type, type)) continue;
    const r = test(attr);
    if (r === true) return true;
    if (r !== false) result = 'undefined';
  }
  return result;
}

/** slapd's directoryStringSubstringsMatch: initial, then each any in order, then final on what is left. */
export function substringsMatch(value: string, initial: string | null, any: readonly string[], final: string | null): boolean {
  let pos = 0;
  if (initial !== null) {
    if (!value.startsWith(initial)) return false;
    pos = initial.length;
  }
  for (const part of any) {
    const at = value.indexOf(part, pos);
    if (at < 0) return false;
    pos = at + part.length;
  }
  if (final !== null) {
    if (value.length - pos < final.length || !value.endsWith(final)) return false;
  }
  return true;
}

/** One value against an extensible assertion: ordering rules test "less than", approx rules phonetically. */
function ruleMatches(rule: MatchingRule, value: string, assertion: string): boolean {
  switch (rule.kind) {
    case 'ordering':
      return rule.compare(value, assertion) < 0;
    case 'approx':
      return approxMatches(value, assertion);
    default:
      return rule.compare(value, assertion) === 0;
  }
}

/** A stored value prepared for `rule`: the stored normalised form when it is the type's own equality rule. */
function valueFor(rule: MatchingRule, attr: EntryAttributeValues, i: number): string | null {
  return rule === rulesOf(attr.type).equality ? attr.normalized[i] : rule.normalize(attr.values[i]);
}

function extensibleMatch(f: Extract<CompiledFilter, { kind: 'extensible' }>, entry: Entry): Tri {
  const { rule, type, value } = f;
  if (type === Types.entryDN) return rule.kind !== 'substr' && ruleMatches(rule, entry.parsedDn.ndn, value);
  for (const attr of entry.attributes) {
    if (attr.type === Types.userPassword) continue;
    if (type ? !isSubtypeOf(attr.type, type) : isObjectClassType(attr.type) || !isRuleUsableWith(rule, attr.type)) continue;
    for (let i = 0; i < attr.values.length; i++) {
      const v = valueFor(rule, attr, i);
      if (v !== null && ruleMatches(rule, v, value)) return true;
    }
  }
  if (f.dnAttributes) {
    for (const rdn of entry.parsedDn.rdns) {
      for (const ava of rdn) {
        if (type ? !isSubtypeOf(ava.type, type) : !isRuleUsableWith(rule, ava.type)) continue;
        const v = rule === rulesOf(ava.type).equality ? ava.normalized : rule.normalize(ava.value);
        if (v !== null && ruleMatches(rule, v, value)) return true;
      }
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Filter strings (RFC 4515), for logs, cookies and tests

function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (ch) => '\\' + ch.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** The RFC 4515 string form of a filter, as sent (attribute names and values unchanged). */
export function filterToString(filter: Filter): string {
  return toString(filter, 0);
}

function toString(filter: Filter, depth: number): string {
  if (depth > MAX_DEPTH) return '(...)';
  switch (filter.type) {
    case 'and':
      return `(&${filter.filters.map((f) => toString(f, depth + 1)).join('')})`;
    case 'or':
      return `(|${filter.filters.map((f) => toString(f, depth + 1)).join('')})`;
    case 'not':
      return `(!${toString(filter.filter, depth + 1)})`;
    case 'equality':
      return `(${filter.attribute}=${escapeFilterValue(filter.value)})`;
    case 'approx':
      return `(${filter.attribute}~=${escapeFilterValue(filter.value)})`;
    case 'ge':
      return `(${filter.attribute}>=${escapeFilterValue(filter.value)})`;
    case 'le':
      return `(${filter.attribute}<=${escapeFilterValue(filter.value)})`;
    case 'present':
      return `(${filter.attribute}=*)`;
    case 'substrings': {
      const parts = [filter.initial ?? '', ...filter.any, filter.final ?? ''].map(escapeFilterValue);
      return `(${filter.attribute}=${parts.join('*')})`;
    }
    case 'extensible':
      return `(${filter.attribute ?? ''}${filter.dnAttributes ? ':dn' : ''}${filter.matchingRule !== null ? ':' + filter.matchingRule : ''}:=${escapeFilterValue(filter.value)})`;
  }
}
