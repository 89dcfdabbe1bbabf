/**
 * The LDAPv3 protocol as the LDAP plugin sees it (RFC 4511): decoded requests in, responses out.
 * ldap.codec.ts turns bytes into these and back; ldap.directory.ts answers searches; the server
 * (ldap.server.ts) is the thin loop between them. Only what a directory of accounts serves is here:
 * bind, unbind, search, abandon and extended operations (StartTLS, WhoAmI). Every other operation
 * (add, modify, delete, modify DN, compare) is decoded far enough to answer it with an error.
 */

/** RFC 4511 §4.1.9 result codes the plugin sends. */
export const ResultCode = {
  success: 0,
  operationsError: 1,
  protocolError: 2,
  timeLimitExceeded: 3,
  sizeLimitExceeded: 4,
  authMethodNotSupported: 7,
  strongerAuthRequired: 8,
  unavailableCriticalExtension: 12,
  confidentialityRequired: 13,
  noSuchAttribute: 16,
  undefinedAttributeType: 17,
  inappropriateMatching: 18,
  noSuchObject: 32,
  invalidDNSyntax: 34,
  inappropriateAuthentication: 48,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  other: 80,
} as const;

export type ResultCodeValue = (typeof ResultCode)[keyof typeof ResultCode];

/** A request or response control (RFC 4511 §4.1.11). `value` is the raw controlValue, null when absent. */
export interface Control {
  oid: string;
  critical: boolean;
  value: Buffer | null;
}

/** Control OIDs the plugin knows. */
export const ControlOid = {
  /** RFC 2696 simple paged results. */
  pagedResults: '1.2.840.113556.1.4.319',
  /** draft-behera-ldap-password-policy: nslcd's PAM bind sends it with no value. */
  passwordPolicy: '1.3.6.1.4.1.42.2.27.8.5.1',
} as const;

/** Extended operation OIDs. */
export const ExtendedOid = {
  startTls: '1.3.6.1.4.1.1466.20037',
  /** RFC 4532 "Who am I?". */
  whoAmI: '1.3.6.1.4.1.4203.1.11.3',
  /** RFC 4511 §4.4.1 Notice of Disconnection (unsolicited, message ID 0). */
  noticeOfDisconnection: '1.3.6.1.4.1.1466.20036',
} as const;

export type Scope = 'base' | 'one' | 'sub';

/**
 * A search filter (RFC 4511 §4.5.1.7), values as the client sent them (raw bytes decoded as UTF-8;
 * attribute descriptions as sent, any case). Matching is the directory's business.
 */
export type Filter =
  | { type: 'and'; filters: Filter[] }
  | { type: 'or'; filters: Filter[] }
  | { type: 'not'; filter: Filter }
  | { type: 'equality'; attribute: string; value: string }
  | { type: 'substrings'; attribute: string; initial: string | null; any: string[]; final: string | null }
  | { type: 'ge'; attribute: string; value: string }
  | { type: 'le'; attribute: string; value: string }
  | { type: 'present'; attribute: string }
  | { type: 'approx'; attribute: string; value: string }
  | { type: 'extensible'; matchingRule: string | null; attribute: string | null; value: string; dnAttributes: boolean };

interface RequestBase {
  messageId: number;
  controls: Control[];
}

export interface BindRequest extends RequestBase {
  op: 'bind';
  version: number;
  /** The DN as sent ('' for anonymous). */
  name: string;
  auth: { type: 'simple'; password: Buffer } | { type: 'sasl'; mechanism: string; credentials: Buffer | null };
}

export interface UnbindRequest extends RequestBase {
  op: 'unbind';
}

export interface SearchRequest extends RequestBase {
  op: 'search';
  baseObject: string;
  scope: Scope;
  /** 0 never, 1 in searching, 2 finding base, 3 always (no aliases here: ignored). */
  derefAliases: number;
  /** 0 = no limit asked. */
  sizeLimit: number;
  /** Seconds; 0 = no limit asked. */
  timeLimit: number;
  typesOnly: boolean;
  filter: Filter;
  /** Attribute selectors as sent (any case), `*`, `+`, `1.1`; empty = all user attributes. */
  attributes: string[];
}

export interface AbandonRequest extends RequestBase {
  op: 'abandon';
  abandonId: number;
}

export interface ExtendedRequest extends RequestBase {
  op: 'extended';
  oid: string;
  value: Buffer | null;
}

/** Add, modify, delete, modify DN, compare: answered with an error carrying `responseTag`. */
export interface UnsupportedRequest extends RequestBase {
  op: 'unsupported';
  /** The request's [APPLICATION n] tag number. */
  protocolOp: number;
  /** The [APPLICATION n] tag number of the response that answers it. */
  responseOp: number;
}

export type LdapRequest = BindRequest | UnbindRequest | SearchRequest | AbandonRequest | ExtendedRequest | UnsupportedRequest;

export interface LdapResult {
  code: ResultCodeValue;
  matchedDN: string;
  message: string;
}

/** An LDAPResult; matchedDN only for noSuchObject. */
export function ldapResult(code: ResultCodeValue, message = '', matchedDN = ''): LdapResult {
  return { code, matchedDN, message };
}

export interface EntryAttribute {
  /** The attribute's name as the schema spells it (`uidNumber`), or as requested for unknown ones. */
  type: string;
  /** Empty when the search asked for types only. */
  values: (string | Buffer)[];
}

export type LdapResponse =
  | { op: 'bindResponse'; messageId: number; result: LdapResult; controls?: Control[] }
  | { op: 'searchEntry'; messageId: number; dn: string; attributes: EntryAttribute[] }
  | { op: 'searchDone'; messageId: number; result: LdapResult; controls?: Control[] }
  | { op: 'extendedResponse'; messageId: number; result: LdapResult; oid?: string; value?: Buffer }
  /** The error answer to an UnsupportedRequest: an LDAPResult under [APPLICATION responseOp]. */
  | { op: 'result'; responseOp: number; messageId: number; result: LdapResult };
