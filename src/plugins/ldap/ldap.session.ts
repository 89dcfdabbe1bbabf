/**
 * What one LDAP connection does with each request: pure. In: a decoded request, the connection's
 * state (bound as whom, TLS or not) and the directory; out: effects the server carries out (send
 * these responses, check this password, switch to TLS, close). The only thing not decided here is a
 * password check, which takes time (bcrypt) and is throttled: the decider asks for it with a
 * `check-password` effect and decides the answer afterwards in `bindChecked`.
 *
 * Rules, each from RFC 4511/4513 and what nslcd and sssd expect:
 * - Anonymous bind (empty name and password) succeeds; the connection is anonymous again. A
 *   password with an empty name is invalidCredentials, as slapd answers it.
 * - A name with an empty password is an "unauthenticated bind" (RFC 4513 §5.1.2): refused with
 *   unwillingToPerform, as slapd does, never treated as anonymous (a classic login bypass).
 * - A password bind without TLS is refused with confidentialityRequired when the settings ask for it.
 * - A password bind names a user entry; anything else (an unknown or disabled user, a group, the
 *   base) gets invalidCredentials (49), the same answer as a wrong password, after the same wait.
 * - SASL binds: authMethodNotSupported (7). Protocol versions other than 3: protocolError.
 * - Searches go to the directory; a search that is not allowed (anonymous with anonymousRead off)
 *   gets insufficientAccessRights.
 * - Extended: StartTLS (once, not inside TLS, not with other requests pending), WhoAmI (RFC 4532).
 *   Unknown OIDs: protocolError (RFC 4511 §4.12).
 * - Writes (add, modify, delete, modify DN, compare): unwillingToPerform — the directory is a view
 *   of bramble's users; change them through bramble's API.
 * - A critical control the operation does not support: unavailableCriticalExtension (RFC 4511
 *   §4.1.11). The password-policy control nslcd sends on binds is not critical; it is ignored.
 * - Unbind: close, no answer. Abandon: nothing to abandon (searches answer at once), no answer.
 */
import {
  ControlOid,
  ExtendedOid,
  ldapResult as result,
  ResultCode,
  type Control,
  type LdapRequest,
  type LdapResponse,
  type LdapResult,
  type SearchRequest,
} from './ldap.types';

export interface SessionState {
  /** DN of the bound user, null when anonymous. */
  readonly boundDn: string | null;
  readonly boundUser: string | null;
  readonly tls: boolean;
}

export const ANONYMOUS_SESSION: SessionState = { boundDn: null, boundUser: null, tls: false };

/** The directory, as the session needs it (ldap.directory.ts). */
export interface SessionDirectory {
  /** The user a bind DN names, with the entry's own DN, when it names a user entry (any case and spacing DNs allow). */
  userOfDn(dn: string): { username: string; dn: string } | null;
  search(
    request: SearchRequest,
    who: { dn: string | null },
    paged: { size: number; cookie: Buffer } | null,
  ): {
    entries: { dn: string; attributes: { type: string; values: (string | Buffer)[] }[] }[];
    result: LdapResult;
    paged?: { size: number; cookie: Buffer };
  };
}

export interface SessionOptions {
  anonymousRead: boolean;
  requireTlsForPasswords: boolean;
  /** Whether the server can do TLS (it has a certificate). */
  tlsAvailable: boolean;
  /** Decodes a paged-results control value (ldap.codec.ts); throws on a malformed one. */
  decodePaged(value: Buffer): { size: number; cookie: Buffer };
  encodePaged(size: number, cookie: Buffer): Buffer;
}

export type SessionEffect =
  | { type: 'send'; responses: LdapResponse[] }
  /**
   * Check `password` against `username`'s hash (throttled; '' = no such user: fails after the same
   * work), then call bindChecked. `dn` is the user entry's own DN (the bind's name when unknown).
   */
  | { type: 'check-password'; messageId: number; username: string; dn: string; password: Buffer }
  /** Send the StartTLS success response, then switch the connection to TLS. */
  | { type: 'start-tls'; response: LdapResponse }
  | { type: 'close' };

export interface SessionStep {
  state: SessionState;
  effects: SessionEffect[];
}

function reply(state: SessionState, ...responses: LdapResponse[]): SessionStep {
  return { state, effects: [{ type: 'send', responses }] };
}

/** The error answer to `request`, shaped as its response type. */
export function errorResponse(request: LdapRequest, r: LdapResult): LdapResponse {
  switch (request.op) {
    case 'bind':
      return { op: 'bindResponse', messageId: request.messageId, result: r };
    case 'search':
      return { op: 'searchDone', messageId: request.messageId, result: r };
    case 'extended':
      return { op: 'extendedResponse', messageId: request.messageId, result: r };
    case 'unsupported':
      return { op: 'result', responseOp: request.responseOp, messageId: request.messageId, result: r };
    default:
      throw new Error(`no response to ${request.op}`);
  }
}

const KNOWN_CONTROLS: Partial<Record<LdapRequest['op'], readonly string[]>> = {
  search: [ControlOid.pagedResults],
  bind: [ControlOid.passwordPolicy],
};

function unsupportedCritical(request: LdapRequest): Control | null {
  const known = KNOWN_CONTROLS[request.op] ?? [];
  return request.controls.find((c) => c.critical && !known.includes(c.oid)) ?? null;
}

export function decide(request: LdapRequest, state: SessionState, directory: SessionDirectory, options: SessionOptions): SessionStep {
  if (request.op === 'unbind') return { state, effects: [{ type: 'close' }] };
  if (request.op === 'abandon') return { state, effects: [] };
  const critical = unsupportedCritical(request);
  if (critical) {
    return reply(
      state,
      errorResponse(request, result(ResultCode.unavailableCriticalExtension, `control ${critical.oid} is not supported`)),
    );
  }
  switch (request.op) {
    case 'bind':
      return bind(request, state, directory, options);
    case 'search':
      return search(request, state, directory, options);
    case 'extended':
      return extended(request, state, options);
    case 'unsupported':
      return reply(
        state,
        errorResponse(
          request,
          result(ResultCode.unwillingToPerform, "the directory is read-only: change users and groups through bramble's API"),
        ),
      );
  }
}

function bind(
  request: Extract<LdapRequest, { op: 'bind' }>,
  state: SessionState,
  directory: SessionDirectory,
  options: SessionOptions,
): SessionStep {
  // A bind starts over as anonymous, whatever its outcome (RFC 4513 §4: the prior authentication is gone).
  const anonymous: SessionState = { ...state, boundDn: null, boundUser: null };
  const answer = (code: LdapResult['code'], message = ''): SessionStep =>
    reply(anonymous, { op: 'bindResponse', messageId: request.messageId, result: result(code, message) });
  if (request.version !== 3) return answer(ResultCode.protocolError, 'only LDAP version 3 is supported');
  if (request.auth.type === 'sasl') return answer(ResultCode.authMethodNotSupported, 'SASL is not supported: use a simple bind over TLS');
  const password = request.auth.password;
  if (request.name === '') {
    if (password.length === 0) return answer(ResultCode.success);
    // As slapd answers it (bind.c: "cred is not empty, disallow"): refused like a wrong password.
    return answer(ResultCode.invalidCredentials, 'a password without a name');
  }
  if (password.length === 0) return answer(ResultCode.unwillingToPerform, 'unauthenticated bind (name without password) is not allowed');
  if (options.requireTlsForPasswords && !state.tls) {
    return answer(ResultCode.confidentialityRequired, 'a password bind needs TLS: use StartTLS or ldaps://');
  }
  const user = directory.userOfDn(request.name);
  // An unknown name is checked too (against no user): the same wait and the same answer as a
  // wrong password, so binds cannot tell which users exist.
  return {
    state: anonymous,
    effects: [
      { type: 'check-password', messageId: request.messageId, username: user?.username ?? '', dn: user?.dn ?? request.name, password },
    ],
  };
}

/** The answer once the password check of a `check-password` effect is known. */
export function bindChecked(state: SessionState, messageId: number, username: string, dn: string, ok: boolean): SessionStep {
  if (!ok || username === '') {
    return reply(
      { ...state, boundDn: null, boundUser: null },
      { op: 'bindResponse', messageId, result: result(ResultCode.invalidCredentials) },
    );
  }
  return reply({ ...state, boundDn: dn, boundUser: username }, { op: 'bindResponse', messageId, result: result(ResultCode.success) });
}

function search(request: SearchRequest, state: SessionState, directory: SessionDirectory, options: SessionOptions): SessionStep {
  const done = (r: LdapResult): SessionStep => reply(state, { op: 'searchDone', messageId: request.messageId, result: r });
  const isRootDse = request.baseObject === '' && request.scope === 'base';
  if (state.boundDn === null && !options.anonymousRead && !isRootDse) {
    return done(result(ResultCode.insufficientAccessRights, 'bind first: anonymous searches are turned off'));
  }
  let paged: { size: number; cookie: Buffer } | null = null;
  const pagedControl = request.controls.find((c) => c.oid === ControlOid.pagedResults);
  if (pagedControl) {
    try {
      paged = options.decodePaged(pagedControl.value ?? Buffer.alloc(0));
    } catch {
      return done(result(ResultCode.protocolError, 'malformed paged results control'));
    }
  }
  const outcome = directory.search(request, { dn: state.boundDn }, paged);
  const responses: LdapResponse[] = outcome.entries.map((e) => ({
    op: 'searchEntry' as const,
    messageId: request.messageId,
    dn: e.dn,
    attributes: e.attributes,
  }));
  const doneResponse: LdapResponse = { op: 'searchDone', messageId: request.messageId, result: outcome.result };
  if (outcome.paged) {
    doneResponse.controls = [
      { oid: ControlOid.pagedResults, critical: false, value: options.encodePaged(outcome.paged.size, outcome.paged.cookie) },
    ];
  }
  responses.push(doneResponse);
  return { state, effects: [{ type: 'send', responses }] };
}

function extended(request: Extract<LdapRequest, { op: 'extended' }>, state: SessionState, options: SessionOptions): SessionStep {
  const answer = (r: LdapResult, extra: { oid?: string; value?: Buffer } = {}): LdapResponse => ({
    op: 'extendedResponse',
    messageId: request.messageId,
    result: r,
    ...extra,
  });
  if (request.oid === ExtendedOid.startTls) {
    if (state.tls) return reply(state, answer(result(ResultCode.operationsError, 'TLS is already on'), { oid: ExtendedOid.startTls }));
    if (!options.tlsAvailable)
      return reply(state, answer(result(ResultCode.unavailable, 'TLS is not available'), { oid: ExtendedOid.startTls }));
    return {
      state: { ...state, tls: true },
      effects: [{ type: 'start-tls', response: answer(result(ResultCode.success), { oid: ExtendedOid.startTls }) }],
    };
  }
  if (request.oid === ExtendedOid.whoAmI) {
    const authzId = state.boundDn === null ? '' : `dn:${state.boundDn}`;
    return reply(state, answer(result(ResultCode.success), { value: Buffer.from(authzId, 'utf8') }));
  }
  return reply(state, answer(result(ResultCode.protocolError, `unsupported extended operation ${request.oid}`)));
}
