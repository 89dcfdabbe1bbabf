/**
 * The directory the LDAP plugin serves: bramble's users and groups as RFC 2307 entries for the Pis'
 * nslcd (docs/pi-netboot-protocol.md §5.3), kept in memory, updated one record at a time from the
 * core's views, and searched without I/O. The server decodes requests and encodes answers; this file
 * decides what a search returns, as OpenLDAP's slapd would with the same entries (the conformance
 * comparison loads `toLdif()` into slapd).
 *
 * The tree, under the `baseDn` setting (default dc=bramble,dc=local):
 *   <base>            top, dcObject, organization (dc, o) — or organization (o=) / organizationalUnit (ou=)
 *     ou=groups       groups: cn=<name>   (posixGroup, memberUid)
 *     ou=people       users: uid=<name>   (inetOrgPerson, posixAccount, shadowAccount)
 * plus the root DSE (base '', scope base), answered to anyone as slapd does.
 *
 * What nslcd needs from a user: uid, uidNumber, gidNumber, homeDirectory, loginShell, gecos (passwd),
 * and the shadow attributes its PAM account check reads (nslcd/pam.c): shadowLastChange must not be 0
 * (0 means "change your password now"), shadowMax 99999 means never expires, and a disabled user gets
 * shadowExpire 1 (2 January 1970), so that the account check on the Pi refuses the login too, not only
 * the bind here. shadowLastChange is the day of the record's updatedAt: bramble does not record when
 * the password itself changed, so this is an approximation (any change to the user moves it), and it
 * only matters to shadowMin/shadowMax policies, which are off. gecos is IA5: the full name with
 * accents removed and `:` `,` (the passwd field and sub-field separators) turned into spaces.
 *
 * Results come in a stable order: the base, ou=groups and its groups, ou=people and its users, the
 * children of each OU by the length of their RDN and then by name (see childKey). It is the order of
 * `toLdif()`, and the order slapd answers in after loading that LDIF, for every scope.
 *
 * nslcd's lookups, `(&(objectClass=posixAccount)(uid=NAME))`, `(&(objectClass=posixGroup)
 * (memberUid=NAME))` and the like, find their candidates in equality indexes (uid, uidNumber, gidNumber, cn, memberUid, objectClass with its superclasses)
 * instead of testing every entry: any indexed equality inside an AND narrows the candidates first, an
 * OR is the union of its parts when every part is indexed, and the full filter is still tested on
 * each candidate.
 *
 * Size limits: the smaller of the request's and `maxSizeLimit` (default 1000); past it, the entries up
 * to the limit and sizeLimitExceeded, as slapd. Paged results (RFC 2696): each page is at most the page
 * size (and at most maxSizeLimit), the whole paged search at most the request's own size limit:
 * paging is how a client enumerates a fleet larger than maxSizeLimit with bounded work per request
 * (slapd's default would cap the total at its size limit too). The cookie is stateless: the position
 * (the sort key of the last entry sent) and the count so far, with an HMAC over them and the search
 * (who, base, scope, filter, attributes), under a random key per directory. So a client cannot forge
 * positions or counts, nor take a cookie to another search or identity; a cookie from before a restart
 * is refused (unwillingToPerform, as slapd refuses an old one), and one that survives changes to the
 * directory continues after its last entry: entries added before that point are not seen, removed ones
 * are not sent, nothing is sent twice, and nothing crashes. Page size 0 ends a paged search.
 *
 * Access: userPassword is never returned (not even stored in entries; `toLdif` adds the hash only when
 * asked) and every filter on it is Undefined (ldap.filter.ts). With `anonymousRead: false` an
 * anonymous search gets insufficientAccessRights (50) except on the root DSE; nslcd does not read
 * the result code of a search (myldap.c do_result) and treats it as "not found", as it would an empty
 * answer, so the visible result code is chosen for the administrator reading ldapsearch's output.
 * Search time limits are not enforced: every search is in memory and bounded by the entry count.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { GroupRecord, UserRecord } from '../../core/plugin-api';
import {
  ControlOid,
  ExtendedOid,
  ldapResult as result,
  ResultCode,
  type EntryAttribute,
  type LdapResult,
  type SearchRequest,
} from './ldap.types';
import { compileFilter, evaluate, filterToString, makeEntry, type CompiledFilter, type Entry } from './ldap.filter';
import { childDn, escapeDnValue, generalizedTimeOf, parseDn, type ParsedDn } from './ldap.matching';
import {
  Types,
  attributeType,
  objectClass as findObjectClass,
  isSubtypeOf,
  parseAttributeDescription,
  type AttributeType,
  type ObjectClass,
} from './ldap.schema';

export interface DirectoryOptions {
  /** The naming context, e.g. `dc=bramble,dc=local`; its first RDN must be dc=, o= or ou=. */
  baseDn: string;
  /** Parent of the users' home directories (default /home). */
  homeRoot?: string;
  /** Every user's login shell (default /bin/bash). */
  loginShell?: string;
  /** Whether anonymous clients may search (the root DSE is always readable). */
  anonymousRead: boolean;
  /** Key for the paged-results cookies' HMAC (default: 32 random bytes, new with each directory). */
  cookieKey?: Buffer;
  /** ISO 8601 time for the create/modifyTimestamp of the base and OU entries, which have no record (default: none). */
  createdAt?: string;
}

export interface SearchOptions {
  /** Upper bound of entries in one answer (default 1000; 0 = none). */
  maxSizeLimit?: number;
  /** The decoded RFC 2696 control of the request, when it carried one. */
  paged?: { size: number; cookie: Buffer } | null;
}

export interface SearchOutcome {
  entries: { dn: string; attributes: EntryAttribute[] }[];
  result: LdapResult;
  /** The paged-results response control's value, when the request was paged (size: slapd's 0, no estimate). */
  paged?: { size: number; cookie: Buffer };
}

export const DEFAULT_MAX_SIZE_LIMIT = 1000;

/** RFC 4122 name space for X.500 DNs: entryUUIDs are UUID v5 of the normalised DN in it. */
const X500_NAMESPACE = Buffer.from('6ba7b8149dad11d180b400c04fd430c8', 'hex');

/** slapd's root DSE features that hold here: all operational attributes (`+`), absolute true/false filters. */
const SUPPORTED_FEATURES = ['1.3.6.1.4.1.4203.1.5.1', '1.3.6.1.4.1.4203.1.5.3'];

const SUBSCHEMA_DN = 'cn=Subschema';

/** An entry in the tree, with what searches need besides the entry. */
interface Node {
  readonly entry: Entry;
  /** Sort key: tree order, then name. */
  readonly key: string;
  readonly parentNdn: string;
  readonly entryDnOut: EntryAttribute;
  readonly user: UserRecord | null;
}

function schemaType(name: string): AttributeType {
  const type = attributeType(name);
  if (!type) throw new Error(`directory: ${name} not in the schema`);
  return type;
}

const UID = schemaType('uid');
const CN = schemaType('cn');
const INDEXED_TYPES = [UID, schemaType('uidNumber'), schemaType('gidNumber'), CN, schemaType('memberUid')];

const SUBSCHEMA_OUT: EntryAttribute = Object.freeze({
  type: Types.subschemaSubentry.name,
  values: Object.freeze([SUBSCHEMA_DN]) as string[],
});
const HAS_SUBORDINATES_OUT = {
  true: Object.freeze({ type: Types.hasSubordinates.name, values: Object.freeze(['TRUE']) as string[] }),
  false: Object.freeze({ type: Types.hasSubordinates.name, values: Object.freeze(['FALSE']) as string[] }),
};

const COOKIE_VERSION = 1;
const MAC_LENGTH = 16;
const EMPTY: ReadonlySet<Node> = new Set();

/** UUID v5 (RFC 4122 §4.3) of `name` in `namespace`. */
function uuidV5(namespace: Buffer, name: string): string {
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A full name for the IA5 gecos field: accents dropped, other non-ASCII and control characters removed, `:` `,` made spaces. */
export function gecosOf(fullName: string): string {
  return fullName
    .normalize('NFKD')

    .replace(/[^\x20-\x7e]/g, '')
    .replace(/[:,]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
}

function isAbsoluteAsciiPath(path: string): boolean {
  return /^\/[\x21-\x7e]*$/.test(path) && !path.includes('//');
}

export class Directory {
  private readonly basePretty: string;
  private readonly baseNdn: string;
  private readonly homeRoot: string;
  private readonly loginShell: string;
  private readonly anonymousRead: boolean;
  private readonly cookieKey: Buffer;
  private readonly createdAt: string | null;

  private readonly baseNode: Node;
  private readonly peopleNode: Node;
  private readonly groupsNode: Node;
  private readonly rootDseNode: Node;

  private readonly nodes = new Map<string, Node>(); // by normalised DN
  private readonly userNodes = new Map<string, Node>(); // by username
  private readonly groupNodes = new Map<string, Node>(); // by group name
  private readonly indexes = new Map<AttributeType, Map<string, Set<Node>>>();
  private readonly classIndex = new Map<ObjectClass, Set<Node>>();
  private sorted: Node[] | null = null;

  constructor(options: DirectoryOptions) {
    const base = parseDn(options.baseDn);
    if (!base || base.rdns.length === 0) throw new Error(`plugin/ldap: baseDn: not a DN: ${JSON.stringify(options.baseDn)}`);
    if (base.rdns[0].length !== 1) throw new Error('plugin/ldap: baseDn: its first RDN must have a single attribute');
    const homeRoot = (options.homeRoot ?? '/home').replace(/\/+$/, '') || '/';
    if (!isAbsoluteAsciiPath(homeRoot))
      throw new Error(`plugin/ldap: homeRoot: not an absolute ASCII path: ${JSON.stringify(options.homeRoot)}`);
    const loginShell = options.loginShell ?? '/bin/bash';
    if (!isAbsoluteAsciiPath(loginShell))
      throw new Error(`plugin/ldap: loginShell: not an absolute ASCII path: ${JSON.stringify(loginShell)}`);
    if (options.createdAt !== undefined && generalizedTimeOf(options.createdAt) === null) {
      throw new Error(`plugin/ldap: createdAt: not a timestamp: ${JSON.stringify(options.createdAt)}`);
    }
    this.basePretty = base.pretty;
    this.baseNdn = base.ndn;
    this.homeRoot = homeRoot === '/' ? '' : homeRoot;
    this.loginShell = loginShell;
    this.anonymousRead = options.anonymousRead;
    this.cookieKey = options.cookieKey ?? randomBytes(32);
    this.createdAt = options.createdAt ?? null;

    for (const type of INDEXED_TYPES) this.indexes.set(type, new Map());
    this.baseNode = this.insert(this.buildBase(base), '0', '', null);
    this.groupsNode = this.insert(this.buildOu('groups'), '1', this.baseNdn, null);
    this.peopleNode = this.insert(this.buildOu('people'), '2', this.baseNdn, null);
    this.baseNode.entry.hasSubordinates = true;
    this.rootDseNode = this.makeNode(this.buildRootDse(), '', '', null);
  }

  // -------------------------------------------------------------------------------------------
  // Building entries

  private buildBase(base: ParsedDn): Entry {
    const rdn = base.rdns[0][0];
    const value = rdn.value;
    let attributes: [string, string[]][];
    switch (rdn.type.name) {
      case 'dc':
        attributes = [
          ['objectClass', ['top', 'dcObject', 'organization']],
          ['dc', [value]],
          ['o', [value]],
        ];
        break;
      case 'o':
        attributes = [
          ['objectClass', ['top', 'organization']],
          ['o', [value]],
        ];
        break;
      case 'ou':
        attributes = [
          ['objectClass', ['top', 'organizationalUnit']],
          ['ou', [value]],
        ];
        break;
      default:
        throw new Error(`plugin/ldap: baseDn: must start with dc=, o= or ou=, not ${rdn.type.name}=`);
    }
    const structural = rdn.type.name === 'ou' ? 'organizationalUnit' : 'organization';
    return makeEntry(base.pretty, [...attributes, ...this.operational(base.ndn, structural, this.createdAt, this.createdAt)]);
  }

  private buildOu(name: string): Entry {
    const dn = `ou=${name},${this.basePretty}`;
    return makeEntry(dn, [
      ['objectClass', ['top', 'organizationalUnit']],
      ['ou', [name]],
      ...this.operational(`ou=${name},${this.baseNdn}`, 'organizationalUnit', this.createdAt, this.createdAt),
    ]);
  }

  private buildRootDse(): Entry {
    return makeEntry('', [
      ['objectClass', ['top', 'OpenLDAProotDSE']],
      ['structuralObjectClass', ['OpenLDAProotDSE']],
      ['namingContexts', [this.basePretty]],
      ['supportedControl', [ControlOid.pagedResults]],
      ['supportedExtension', [ExtendedOid.startTls, ExtendedOid.whoAmI]],
      ['supportedFeatures', SUPPORTED_FEATURES],
      ['supportedLDAPVersion', ['3']],
      ['vendorName', ['bramble']],
    ]);
  }

  /** The stored operational attributes, in slapd's order. */
  private operational(ndn: string, structural: string, created: string | null, modified: string | null): [string, string[]][] {
    const createTimestamp = created === null ? null : generalizedTimeOf(created);
    const modifyTimestamp = modified === null ? null : generalizedTimeOf(modified);
    return [
      ['structuralObjectClass', [structural]],
      ['entryUUID', [uuidV5(X500_NAMESPACE, ndn)]],
      ['createTimestamp', createTimestamp === null ? [] : [createTimestamp]],
      ['modifyTimestamp', modifyTimestamp === null ? [] : [modifyTimestamp]],
    ];
  }

  /** The DN of a user, whether or not the user exists. */
  dnOfUser(username: string): string {
    return `uid=${escapeDnValue(username)},ou=people,${this.basePretty}`;
  }

  private buildUser(u: UserRecord): Entry {
    const fullName = u.fullName.trim();
    const words = fullName.split(/\s+/).filter((w) => w !== '');
    const cn = fullName === '' ? u.username : fullName;
    const sn = words.length > 0 ? words[words.length - 1] : u.username;
    const givenName = words.length > 1 ? words.slice(0, -1).join(' ') : null;
    const updatedMs = Date.parse(u.updatedAt);
    const lastChange = Number.isNaN(updatedMs) ? null : Math.max(1, Math.floor(updatedMs / 86_400_000));
    const dn = childDn(this.peopleNode.entry.parsedDn, UID, u.username);
    if (!dn) throw new Error(`plugin/ldap: user ${JSON.stringify(u.username)}: not a uid`);
    return makeEntry(dn, [
      ['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'posixAccount', 'shadowAccount']],
      ['uid', [u.username]],
      ['cn', [cn]],
      ['sn', [sn]],
      ['givenName', givenName === null ? [] : [givenName]],
      ['displayName', [cn]],
      ['uidNumber', [String(u.uidNumber)]],
      ['gidNumber', [String(u.gidNumber)]],
      ['homeDirectory', [`${this.homeRoot}/${u.username}`]],
      ['loginShell', [this.loginShell]],
      ['gecos', [gecosOf(fullName) || u.username]],
      ['shadowLastChange', lastChange === null ? [] : [String(lastChange)]],
      ['shadowMin', ['0']],
      ['shadowMax', ['99999']],
      ['shadowWarning', ['7']],
      ['shadowExpire', u.enabled ? [] : ['1']],
      ...this.operational(dn.ndn, 'inetOrgPerson', u.createdAt, u.updatedAt),
    ]);
  }

  private buildGroup(g: GroupRecord): Entry {
    const dn = childDn(this.groupsNode.entry.parsedDn, CN, g.name);
    if (!dn) throw new Error(`plugin/ldap: group ${JSON.stringify(g.name)}: not a cn`);
    // memberUid is IA5 and case-exact: keep each distinct ASCII name once (bramble's names are ASCII).
    const members = [...new Set(g.members)].filter((m) => /^[\x21-\x7e]+$/.test(m));
    return makeEntry(dn, [
      ['objectClass', ['top', 'posixGroup']],
      ['cn', [g.name]],
      ['gidNumber', [String(g.gidNumber)]],
      ['memberUid', members],
      ...this.operational(dn.ndn, 'posixGroup', g.createdAt, g.createdAt),
    ]);
  }

  // -------------------------------------------------------------------------------------------
  // Keeping the tree and its indexes

  private makeNode(entry: Entry, key: string, parentNdn: string, user: UserRecord | null): Node {
    const entryDnOut = Object.freeze({ type: Types.entryDN.name, values: Object.freeze([entry.dn]) as string[] });
    return { entry, key, parentNdn, entryDnOut, user };
  }

  private insert(entry: Entry, key: string, parentNdn: string, user: UserRecord | null): Node {
    const node = this.makeNode(entry, key, parentNdn, user);
    this.nodes.set(entry.parsedDn.ndn, node);
    for (const [type, index] of this.indexes) {
      const attr = entry.byType.get(type);
      if (!attr) continue;
      for (const value of attr.normalized) {
        if (value === null) continue;
        let set = index.get(value);
        if (!set) index.set(value, (set = new Set()));
        set.add(node);
      }
    }
    for (const value of entry.byType.get(Types.objectClass)?.values ?? []) {
      for (const oc of classLineage(value)) {
        let set = this.classIndex.get(oc);
        if (!set) this.classIndex.set(oc, (set = new Set()));
        set.add(node);
      }
    }
    this.sorted = null;
    return node;
  }

  private remove(node: Node): void {
    this.nodes.delete(node.entry.parsedDn.ndn);
    for (const [type, index] of this.indexes) {
      for (const value of node.entry.byType.get(type)?.normalized ?? []) {
        if (value === null) continue;
        const set = index.get(value);
        set?.delete(node);
        if (set?.size === 0) index.delete(value);
      }
    }
    for (const value of node.entry.byType.get(Types.objectClass)?.values ?? []) {
      for (const oc of classLineage(value)) this.classIndex.get(oc)?.delete(node);
    }
    this.sorted = null;
  }

  setUser(u: UserRecord): void {
    this.setChild(this.userNodes, u.username, this.peopleNode, '2', () => this.buildUser(u), u);
  }

  removeUser(username: string): void {
    this.removeChild(this.userNodes, username, this.peopleNode);
  }

  setGroup(g: GroupRecord): void {
    this.setChild(this.groupNodes, g.name, this.groupsNode, '1', () => this.buildGroup(g), null);
  }

  removeGroup(name: string): void {
    this.removeChild(this.groupNodes, name, this.groupsNode);
  }

  /** Puts the entry `build` makes under `parent` as `nodes`' `name`, in place of the one it had. */
  private setChild(nodes: Map<string, Node>, name: string, parent: Node, order: string, build: () => Entry, user: UserRecord | null): void {
    const old = nodes.get(name);
    if (old) this.remove(old);
    const entry = build();
    nodes.set(name, this.insert(entry, childKey(order, entry), parent.entry.parsedDn.ndn, user));
    parent.entry.hasSubordinates = true;
  }

  private removeChild(nodes: Map<string, Node>, name: string, parent: Node): void {
    const old = nodes.get(name);
    if (!old) return;
    this.remove(old);
    nodes.delete(name);
    parent.entry.hasSubordinates = nodes.size > 0;
  }

  /** Entries in the tree (the root DSE not counted). */
  get entryCount(): number {
    return this.nodes.size;
  }

  /** The user whose entry has this DN (any case, spacing or alias of the attribute types), for binds. */
  findUserByDn(dn: string): UserRecord | null {
    const parsed = parseDn(dn);
    if (!parsed) return null;
    return this.nodes.get(parsed.ndn)?.user ?? null;
  }

  /** The root DSE with all its attributes, user and operational. */
  rootDse(): { dn: string; attributes: EntryAttribute[] } {
    return { dn: '', attributes: this.output(this.rootDseNode, ALL, false) };
  }

  private sortedNodes(): Node[] {
    if (!this.sorted) this.sorted = [...this.nodes.values()].sort(byKey);
    return this.sorted;
  }

  // -------------------------------------------------------------------------------------------
  // Search

  search(request: SearchRequest, who: { dn: string | null }, options: SearchOptions = {}): SearchOutcome {
    const paged = options.paged ?? null;
    const base = parseDn(request.baseObject);
    if (!base) return this.done(result(ResultCode.invalidDNSyntax, 'invalid DN'), paged);

    if (base.ndn === '') {
      if (request.scope !== 'base') return this.done(result(ResultCode.noSuchObject), paged);
      const filter = compileFilter(request.filter);
      const entries =
        evaluate(filter, this.rootDseNode.entry) === true
          ? [this.toSearchEntry(this.rootDseNode, selectionOf(request.attributes), request.typesOnly)]
          : [];
      return this.done(result(ResultCode.success), paged, entries);
    }

    if (!this.anonymousRead && who.dn === null) {
      return this.done(result(ResultCode.insufficientAccessRights, 'anonymous read is not allowed: bind first'), paged);
    }

    const baseNode = this.nodes.get(base.ndn);
    if (!baseNode) return this.done(result(ResultCode.noSuchObject, '', this.matchedDn(base)), paged);

    const maxSizeLimit = options.maxSizeLimit ?? DEFAULT_MAX_SIZE_LIMIT;
    const requestLimit = request.sizeLimit > 0 ? request.sizeLimit : 0;
    const limit = minLimit(requestLimit, maxSizeLimit);
    const filter = compileFilter(request.filter);

    // RFC 2696 §3: a page size not below the size limit is a request answered in one page.
    if (paged === null || (requestLimit > 0 && paged.size >= requestLimit)) {
      const { nodes, more } = this.collect(baseNode, request.scope, filter, null, limit);
      const selection = selectionOf(request.attributes);
      const entries = nodes.map((n) => this.toSearchEntry(n, selection, request.typesOnly));
      return this.done(result(more ? ResultCode.sizeLimitExceeded : ResultCode.success), paged, entries);
    }

    const digest = this.searchDigest(request, who, base.ndn);
    let position: { count: number; after: string | null } = { count: 0, after: null };
    if (paged.cookie.length > 0) {
      const decoded = this.readCookie(paged.cookie, digest);
      if ('error' in decoded) return this.done(decoded.error, paged);
      position = decoded;
    }
    if (paged.size <= 0) return this.done(result(ResultCode.success), paged); // RFC 2696 §3: size 0 abandons
    const pageSize = minLimit(paged.size, maxSizeLimit);
    const left = requestLimit > 0 ? requestLimit - position.count : 0;
    const cappedByTotal = requestLimit > 0 && left <= pageSize;
    const { nodes, more } = this.collect(baseNode, request.scope, filter, position.after, cappedByTotal ? left : pageSize);
    const selection = selectionOf(request.attributes);
    const entries = nodes.map((n) => this.toSearchEntry(n, selection, request.typesOnly));
    if (cappedByTotal && more) return this.done(result(ResultCode.sizeLimitExceeded), paged, entries);
    const cookie = more ? this.writeCookie(position.count + nodes.length, nodes[nodes.length - 1].key, digest) : Buffer.alloc(0);
    return { entries, result: result(ResultCode.success), paged: { size: 0, cookie } };
  }

  private done(res: LdapResult, paged: SearchOptions['paged'], entries: SearchOutcome['entries'] = []): SearchOutcome {
    return paged ? { entries, result: res, paged: { size: 0, cookie: Buffer.alloc(0) } } : { entries, result: res };
  }

  /** The DN of the nearest existing ancestor of a missing base, for noSuchObject's matchedDN. */
  private matchedDn(base: ParsedDn): string {
    const parts = base.ndn.split(',');
    for (let i = 1; i < parts.length; i++) {
      const node = this.nodes.get(parts.slice(i).join(','));
      if (node) return node.entry.dn;
    }
    return '';
  }

  /**
   * The entries in scope for which the filter is TRUE, in key order after `after`, at most `limit`
   * (0 = no limit); `more` tells whether another one exists past the limit.
   */
  private collect(
    base: Node,
    scope: SearchRequest['scope'],
    filter: CompiledFilter,
    after: string | null,
    limit: number,
  ): { nodes: Node[]; more: boolean } {
    let candidates: readonly Node[];
    if (scope === 'base') candidates = [base];
    else {
      const narrowed = this.candidates(filter);
      const all = this.sortedNodes();
      candidates = narrowed === null || narrowed.size * 4 > all.length ? all : [...narrowed].sort(byKey);
    }
    let start = 0;
    if (after !== null) {
      let lo = 0;
      let hi = candidates.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (candidates[mid].key <= after) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const baseNdn = base.entry.parsedDn.ndn;
    const suffix = ',' + baseNdn;
    const nodes: Node[] = [];
    for (let i = start; i < candidates.length; i++) {
      const node = candidates[i];
      if (scope === 'one' && node.parentNdn !== baseNdn) continue;
      if (scope === 'sub' && node !== base && !node.entry.parsedDn.ndn.endsWith(suffix)) continue;
      if (evaluate(filter, node.entry) !== true) continue;
      if (limit > 0 && nodes.length === limit) return { nodes, more: true };
      nodes.push(node);
    }
    return { nodes, more: false };
  }

  /** Nodes that include every entry for which `f` can be TRUE, or null when every entry may be. */
  private candidates(f: CompiledFilter): ReadonlySet<Node> | null {
    switch (f.kind) {
      case 'const':
        return f.value === true ? null : EMPTY;
      case 'equality': {
        if (f.type.subtypes.length > 0) return null;
        const index = this.indexes.get(f.type);
        return index ? (index.get(f.value) ?? EMPTY) : null;
      }
      case 'objectClass':
        return f.type === Types.objectClass ? (this.classIndex.get(f.objectClass) ?? EMPTY) : null;
      case 'entryDN': {
        const node = this.nodes.get(f.ndn);
        return node ? new Set([node]) : EMPTY;
      }
      case 'and': {
        let best: ReadonlySet<Node> | null = null;
        for (const child of f.children) {
          const c = this.candidates(child);
          if (c !== null && (best === null || c.size < best.size)) best = c;
        }
        return best;
      }
      case 'or': {
        const union = new Set<Node>();
        for (const child of f.children) {
          const c = this.candidates(child);
          if (c === null) return null;
          for (const node of c) union.add(node);
        }
        return union;
      }
      default:
        return null;
    }
  }

  /** One entry of an answer; `selection` is made once per search (selectionOf). */
  private toSearchEntry(node: Node, selection: Selection, typesOnly: boolean): { dn: string; attributes: EntryAttribute[] } {
    return { dn: node.entry.dn, attributes: this.output(node, selection, typesOnly) };
  }

  /** The attributes a response carries: stored ones in entry order, then entryDN, subschemaSubentry, hasSubordinates. */
  private output(node: Node, selection: Selection, typesOnly: boolean): EntryAttribute[] {
    const out: EntryAttribute[] = [];
    for (const attr of node.entry.attributes) {
      if (selection.includes(attr.type)) out.push(typesOnly ? attr.outTypeOnly : attr.out);
    }
    if (selection.includes(Types.entryDN)) out.push(typesOnly ? { type: Types.entryDN.name, values: [] } : node.entryDnOut);
    if (selection.includes(Types.subschemaSubentry)) out.push(typesOnly ? { type: SUBSCHEMA_OUT.type, values: [] } : SUBSCHEMA_OUT);
    if (node !== this.rootDseNode && selection.includes(Types.hasSubordinates)) {
      const hs = HAS_SUBORDINATES_OUT[node.entry.hasSubordinates ? 'true' : 'false'];
      out.push(typesOnly ? { type: hs.type, values: [] } : hs);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Paged-results cookies: version (1) | count (4) | key length (2) | key | HMAC (16)

  private searchDigest(request: SearchRequest, who: { dn: string | null }, baseNdn: string): Buffer {
    const search = [
      who.dn,
      baseNdn,
      request.scope,
      filterToString(request.filter),
      request.attributes,
      request.typesOnly,
      request.sizeLimit,
    ];
    return createHash('sha256').update(JSON.stringify(search)).digest();
  }

  private mac(count: number, key: Buffer, digest: Buffer): Buffer {
    const head = Buffer.alloc(7);
    head.writeUInt8(COOKIE_VERSION, 0);
    head.writeUInt32BE(count, 1);
    head.writeUInt16BE(key.length, 5);
    return createHmac('sha256', this.cookieKey).update(head).update(key).update(digest).digest().subarray(0, MAC_LENGTH);
  }

  private writeCookie(count: number, lastKey: string, digest: Buffer): Buffer {
    const key = Buffer.from(lastKey, 'utf8');
    const head = Buffer.alloc(7);
    head.writeUInt8(COOKIE_VERSION, 0);
    head.writeUInt32BE(count, 1);
    head.writeUInt16BE(key.length, 5);
    return Buffer.concat([head, key, this.mac(count, key, digest)]);
  }

  private readCookie(cookie: Buffer, digest: Buffer): { count: number; after: string } | { error: LdapResult } {
    const invalid = { error: result(ResultCode.protocolError, 'paged results cookie is invalid') };
    if (cookie.length < 7 + MAC_LENGTH || cookie[0] !== COOKIE_VERSION) return invalid;
    const count = cookie.readUInt32BE(1);
    const keyLength = cookie.readUInt16BE(5);
    if (cookie.length !== 7 + keyLength + MAC_LENGTH) return invalid;
    const key = cookie.subarray(7, 7 + keyLength);
    const mac = cookie.subarray(7 + keyLength);
    if (!timingSafeEqual(mac, this.mac(count, key, digest))) {
      return { error: result(ResultCode.unwillingToPerform, 'paged results cookie is invalid or old') };
    }
    return { count, after: key.toString('utf8') };
  }

  // -------------------------------------------------------------------------------------------
  // LDIF

  /**
   * The directory as LDIF (RFC 2849), parents before children, in search order: what the conformance
   * test loads into slapd. `includePasswords` adds each enabled user's `userPassword: {CRYPT}...` hash
   * (for slapd's crypt(3) binds); a disabled user gets none, because a disabled user cannot bind here
   * and slapd, which knows nothing of shadowExpire at bind time, would let the hash in (found by the
   * conformance test). `operational` adds the stored operational attributes, which slapadd accepts and
   * ldapadd refuses. The output holds password hashes when asked: never log it.
   */
  toLdif(options: { includePasswords: boolean; operational?: boolean }): string {
    const lines: string[] = [];
    for (const node of this.sortedNodes()) {
      lines.push(ldifLine('dn', node.entry.dn));
      for (const attr of node.entry.attributes) {
        if (attr.type.operational) continue;
        for (const value of attr.values) lines.push(ldifLine(attr.type.name, value));
      }
      if (options.includePasswords && node.user && node.user.enabled && node.user.passwordHash !== '') {
        lines.push(ldifLine(Types.userPassword.name, node.user.passwordHash));
      }
      if (options.operational) {
        for (const attr of node.entry.attributes) {
          if (!attr.type.operational) continue;
          for (const value of attr.values) lines.push(ldifLine(attr.type.name, value));
        }
      }
      lines.push('');
    }
    return lines.join('\n');
  }
}

/**
 * RFC 2849 SAFE-STRING (ASCII without NUL, LF, CR; not starting with space, `:` or `<`), and no
 * trailing space, which the RFC says SHOULD be base64 too. Anything else is written base64.
 */
function isSafeLdifValue(value: string): boolean {
  if (value === '') return true;
  if (value[0] === ' ' || value[0] === ':' || value[0] === '<' || value.endsWith(' ')) return false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0 || code === 0x0a || code === 0x0d || code > 0x7f) return false;
  }
  return true;
}

function ldifLine(name: string, value: string): string {
  return isSafeLdifValue(value) ? `${name}: ${value}` : `${name}:: ${Buffer.from(value, 'utf8').toString('base64')}`;
}

/**
 * The sort key of a user or group under its OU's key: slapd (back-mdb) lists the children of an
 * entry by the length of their normalised RDN, then byte order (dn2id.c), and a subtree in the order
 * entries were loaded; keying by (length, RDN) makes both orders ours once toLdif's output is loaded.
 */
function childKey(parentKey: string, entry: Entry): string {
  const rdn = entry.parsedDn.ndn.slice(0, entry.parsedDn.ndn.indexOf(','));
  return `${parentKey}/${String(rdn.length).padStart(4, '0')}${rdn}`;
}

function byKey(a: Node, b: Node): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function minLimit(a: number, b: number): number {
  if (a <= 0) return b > 0 ? b : 0;
  if (b <= 0) return a;
  return Math.min(a, b);
}

/** An objectClass value's class and superclasses: what the objectClass index files the entry under. */
function classLineage(name: string): Iterable<ObjectClass> {
  return findObjectClass(name)?.lineage ?? [];
}

// ---------------------------------------------------------------------------------------------
// Attribute selection

interface Selection {
  includes(type: AttributeType): boolean;
}

const ALL: Selection = { includes: () => true };
const NONE: Selection = { includes: () => false };

const selectionCache = new Map<string, Selection>();

/**
 * What a request's attribute list selects (RFC 4511 §4.5.1.8): none given or `*` = every user
 * attribute; `+` = every operational one (RFC 3673); a name in any case, alias or OID = that type and
 * its subtypes; `1.1` alone = none (ignored beside other names); unknown names, language-tagged ones
 * and userPassword select nothing.
 */
function selectionOf(attributes: readonly string[]): Selection {
  const cacheKey = attributes.join('\0');
  const cached = selectionCache.get(cacheKey);
  if (cached) return cached;
  let allUser = attributes.length === 0;
  let allOperational = false;
  const types: AttributeType[] = [];
  const named = attributes.filter((a) => a !== '1.1');
  if (named.length === 0 && attributes.length > 0) return NONE;
  for (const a of named) {
    if (a === '*') allUser = true;
    else if (a === '+') allOperational = true;
    else {
      const desc = parseAttributeDescription(a);
      if (desc && !desc.tagged && desc.type !== Types.userPassword) types.push(desc.type);
    }
  }
  const selection: Selection = {
    includes: (type) =>
      type !== Types.userPassword && ((type.operational ? allOperational : allUser) || types.some((t) => isSubtypeOf(type, t))),
  };
  if (selectionCache.size >= 1024) selectionCache.clear();
  selectionCache.set(cacheKey, selection);
  return selection;
}
