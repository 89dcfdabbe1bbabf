/**
 * One connection's decisions (ldap.session.ts), as tables:
 *   given  a session state (anonymous or bound, TLS or not) and a small fake directory,
 *   when   a decoded request,
 *   then   the effects (responses with their result codes, a password check, StartTLS, close).
 * Sources: RFC 4511 (§4.1.11 critical controls, §4.2 bind, §4.12 extended, §4.14 StartTLS),
 * RFC 4513 §5.1.2 (unauthenticated binds), RFC 4532 (WhoAmI).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANONYMOUS_SESSION,
  bindChecked,
  decide,
  type SessionDirectory,
  type SessionOptions,
  type SessionState,
} from '../../../src/plugins/ldap/ldap.session';
import {
  ControlOid,
  ExtendedOid,
  ResultCode,
  type LdapRequest,
  type LdapResponse,
  type SearchRequest,
} from '../../../src/plugins/ldap/ldap.types';

const BASE = 'dc=bramble,dc=local';
const ALICE_DN = `uid=alice,ou=people,${BASE}`;

const searches: { request: SearchRequest; who: string | null; paged: unknown }[] = [];
const directory: SessionDirectory = {
  userOfDn: (dn) => (dn.toLowerCase().replace(/\s/g, '') === ALICE_DN ? { username: 'alice', dn: ALICE_DN } : null),
  search: (request, who, paged) => {
    searches.push({ request, who: who.dn, paged });
    return {
      entries: [{ dn: ALICE_DN, attributes: [{ type: 'uid', values: ['alice'] }] }],
      result: { code: ResultCode.success, matchedDN: '', message: '' },
      ...(paged ? { paged: { size: 0, cookie: Buffer.from('next') } } : {}),
    };
  },
};

const options: SessionOptions = {
  anonymousRead: true,
  requireTlsForPasswords: true,
  tlsAvailable: true,
  decodePaged: (value) => {
    if (value.length === 0) throw new Error('bad');
    return { size: value[0], cookie: value.subarray(1) };
  },
  encodePaged: (size, cookie) => Buffer.concat([Buffer.from([size]), cookie]),
};

const TLS: SessionState = { ...ANONYMOUS_SESSION, tls: true };
const BOUND: SessionState = { boundDn: ALICE_DN, boundUser: 'alice', tls: true };

function bindRequest(
  name: string,
  password: string,
  over: Partial<Extract<LdapRequest, { op: 'bind' }>> = {},
): Extract<LdapRequest, { op: 'bind' }> {
  return { op: 'bind', messageId: 1, controls: [], version: 3, name, auth: { type: 'simple', password: Buffer.from(password) }, ...over };
}

function searchRequest(over: Partial<SearchRequest> = {}): SearchRequest {
  return {
    op: 'search',
    messageId: 2,
    controls: [],
    baseObject: BASE,
    scope: 'sub',
    derefAliases: 0,
    sizeLimit: 0,
    timeLimit: 0,
    typesOnly: false,
    filter: { type: 'equality', attribute: 'uid', value: 'alice' },
    attributes: [],
    ...over,
  };
}

/** The single response a step sends, or throws. */
function onlyResponse(effects: ReturnType<typeof decide>['effects']): LdapResponse {
  assert.equal(effects.length, 1);
  const e = effects[0];
  assert.equal(e.type, 'send');
  if (e.type !== 'send') throw new Error('unreachable');
  assert.equal(e.responses.length, 1);
  return e.responses[0];
}

function codeOf(r: LdapResponse): number {
  if (r.op === 'searchEntry') throw new Error('an entry has no result');
  return r.result.code;
}

describe('LDAP session: binds', () => {
  const table: { name: string; state: SessionState; request: LdapRequest; opts?: Partial<SessionOptions>; code: number }[] = [
    { name: 'anonymous bind', state: ANONYMOUS_SESSION, request: bindRequest('', ''), code: ResultCode.success },
    { name: 'password without a name (as slapd: 49)', state: TLS, request: bindRequest('', 'secret'), code: ResultCode.invalidCredentials },
    {
      name: 'name without password (RFC 4513 §5.1.2)',
      state: TLS,
      request: bindRequest(ALICE_DN, ''),
      code: ResultCode.unwillingToPerform,
    },
    { name: 'LDAPv2', state: TLS, request: bindRequest(ALICE_DN, 'pw', { version: 2 }), code: ResultCode.protocolError },
    {
      name: 'SASL',
      state: TLS,
      request: { ...bindRequest(ALICE_DN, 'x'), auth: { type: 'sasl', mechanism: 'EXTERNAL', credentials: null } },
      code: ResultCode.authMethodNotSupported,
    },
    { name: 'password in clear', state: ANONYMOUS_SESSION, request: bindRequest(ALICE_DN, 'pw'), code: ResultCode.confidentialityRequired },
    {
      name: 'a critical control the server does not know',
      state: TLS,
      request: bindRequest(ALICE_DN, 'pw', { controls: [{ oid: '1.2.3.4', critical: true, value: null }] }),
      code: ResultCode.unavailableCriticalExtension,
    },
  ];
  for (const row of table) {
    it(`${row.name} → result ${row.code}, and the session is anonymous after it`, () => {
      const step = decide(row.request, row.state, directory, { ...options, ...row.opts });
      const r = onlyResponse(step.effects);
      assert.equal(r.op, 'bindResponse');
      assert.equal(codeOf(r), row.code);
      assert.equal(step.state.boundDn, null);
    });
  }

  it('a password bind over TLS asks for a check with the entry DN, whatever case the client used', () => {
    const step = decide(bindRequest('UID=Alice, OU=People, DC=bramble, DC=local', 'pw', { messageId: 7 }), BOUND, directory, options);
    assert.deepEqual(step.effects, [
      { type: 'check-password', messageId: 7, username: 'alice', dn: ALICE_DN, password: Buffer.from('pw') },
    ]);
    assert.equal(step.state.boundDn, null, 'a bind drops the earlier identity at once');
  });

  it('a password bind in clear is allowed when the settings say so', () => {
    const step = decide(bindRequest(ALICE_DN, 'pw'), ANONYMOUS_SESSION, directory, { ...options, requireTlsForPasswords: false });
    assert.equal(step.effects[0].type, 'check-password');
  });

  it("an unknown DN is checked too (same wait, same answer), as username ''", () => {
    const step = decide(bindRequest(`uid=mallory,ou=people,${BASE}`, 'pw'), TLS, directory, options);
    assert.equal(step.effects[0].type, 'check-password');
    if (step.effects[0].type === 'check-password') assert.equal(step.effects[0].username, '');
    const after = bindChecked(step.state, 1, '', `uid=mallory,ou=people,${BASE}`, true);
    assert.equal(codeOf(onlyResponse(after.effects)), ResultCode.invalidCredentials);
    assert.equal(after.state.boundDn, null);
  });

  it("nslcd's empty password-policy control (not critical) does not get in the way", () => {
    const step = decide(
      bindRequest(ALICE_DN, 'pw', { controls: [{ oid: ControlOid.passwordPolicy, critical: false, value: null }] }),
      TLS,
      directory,
      options,
    );
    assert.equal(step.effects[0].type, 'check-password');
  });

  it('the check decides: right → success and bound; wrong → 49 and anonymous', () => {
    const ok = bindChecked(TLS, 3, 'alice', ALICE_DN, true);
    assert.equal(codeOf(onlyResponse(ok.effects)), ResultCode.success);
    assert.deepEqual(ok.state, { boundDn: ALICE_DN, boundUser: 'alice', tls: true });
    const bad = bindChecked(BOUND, 3, 'alice', ALICE_DN, false);
    assert.equal(codeOf(onlyResponse(bad.effects)), ResultCode.invalidCredentials);
    assert.equal(bad.state.boundDn, null);
  });
});

describe('LDAP session: searches', () => {
  it('anonymous searches reach the directory when anonymousRead is on; entries then done', () => {
    searches.length = 0;
    const step = decide(searchRequest(), ANONYMOUS_SESSION, directory, options);
    assert.equal(searches.length, 1);
    assert.equal(searches[0].who, null);
    const e = step.effects[0];
    assert.equal(e.type, 'send');
    if (e.type !== 'send') return;
    assert.deepEqual(
      e.responses.map((r) => r.op),
      ['searchEntry', 'searchDone'],
    );
  });

  it('anonymousRead off: anonymous gets 50 without asking the directory, the rootDSE stays readable, a bound user reads', () => {
    searches.length = 0;
    const off = { ...options, anonymousRead: false };
    assert.equal(
      codeOf(onlyResponse(decide(searchRequest(), ANONYMOUS_SESSION, directory, off).effects)),
      ResultCode.insufficientAccessRights,
    );
    assert.equal(searches.length, 0);
    decide(searchRequest({ baseObject: '', scope: 'base' }), ANONYMOUS_SESSION, directory, off);
    decide(searchRequest(), BOUND, directory, off);
    assert.deepEqual(
      searches.map((s) => s.who),
      [null, ALICE_DN],
    );
  });

  it('paged results: the control is decoded for the directory and the cookie comes back in searchDone', () => {
    searches.length = 0;
    const control = { oid: ControlOid.pagedResults, critical: true, value: Buffer.from([10]) };
    const step = decide(searchRequest({ controls: [control] }), TLS, directory, options);
    assert.deepEqual(searches[0].paged, { size: 10, cookie: Buffer.alloc(0) });
    const e = step.effects[0];
    if (e.type !== 'send') throw new Error('expected send');
    const done = e.responses.at(-1)!;
    assert.equal(done.op, 'searchDone');
    if (done.op !== 'searchDone') return;
    assert.deepEqual(done.controls, [
      { oid: ControlOid.pagedResults, critical: false, value: Buffer.concat([Buffer.from([0]), Buffer.from('next')]) },
    ]);
  });

  it('a malformed paged-results control → protocolError, the directory is not asked', () => {
    searches.length = 0;
    const control = { oid: ControlOid.pagedResults, critical: false, value: Buffer.alloc(0) };
    assert.equal(
      codeOf(onlyResponse(decide(searchRequest({ controls: [control] }), TLS, directory, options).effects)),
      ResultCode.protocolError,
    );
    assert.equal(searches.length, 0);
  });
});

describe('LDAP session: extended operations, writes, unbind', () => {
  it('StartTLS: switches (state tls) with a success response; refused inside TLS and when no certificate', () => {
    const req: LdapRequest = { op: 'extended', messageId: 1, controls: [], oid: ExtendedOid.startTls, value: null };
    const step = decide(req, ANONYMOUS_SESSION, directory, options);
    assert.equal(step.state.tls, true);
    assert.equal(step.effects[0].type, 'start-tls');
    assert.equal(codeOf(onlyResponse(decide(req, TLS, directory, options).effects)), ResultCode.operationsError);
    const none = decide(req, ANONYMOUS_SESSION, directory, { ...options, tlsAvailable: false });
    assert.equal(codeOf(onlyResponse(none.effects)), ResultCode.unavailable);
    assert.equal(none.state.tls, false);
  });

  it('WhoAmI: "dn:<entry>" when bound, empty when anonymous', () => {
    const req: LdapRequest = { op: 'extended', messageId: 4, controls: [], oid: ExtendedOid.whoAmI, value: null };
    const bound = onlyResponse(decide(req, BOUND, directory, options).effects);
    assert.equal(bound.op === 'extendedResponse' && bound.value?.toString(), `dn:${ALICE_DN}`);
    const anonymous = onlyResponse(decide(req, ANONYMOUS_SESSION, directory, options).effects);
    assert.equal(anonymous.op === 'extendedResponse' && anonymous.value?.toString(), '');
  });

  it('an unknown extended operation → protocolError', () => {
    const req: LdapRequest = { op: 'extended', messageId: 5, controls: [], oid: '1.3.6.1.4.1.4203.1.11.1', value: null };
    assert.equal(codeOf(onlyResponse(decide(req, BOUND, directory, options).effects)), ResultCode.protocolError);
  });

  it('writes → unwillingToPerform under the matching response tag', () => {
    const req: LdapRequest = { op: 'unsupported', messageId: 6, controls: [], protocolOp: 6, responseOp: 7 };
    const r = onlyResponse(decide(req, BOUND, directory, options).effects);
    assert.deepEqual(r, {
      op: 'result',
      responseOp: 7,
      messageId: 6,
      result: {
        code: ResultCode.unwillingToPerform,
        matchedDN: '',
        message: "the directory is read-only: change users and groups through bramble's API",
      },
    });
  });

  it('unbind closes without an answer; abandon does nothing', () => {
    assert.deepEqual(decide({ op: 'unbind', messageId: 9, controls: [] }, BOUND, directory, options).effects, [{ type: 'close' }]);
    assert.deepEqual(decide({ op: 'abandon', messageId: 9, controls: [], abandonId: 2 }, BOUND, directory, options).effects, []);
  });
});
