import { BerWriter } from '@ldapjs/asn1';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodePagedResults,
  decodeRequest,
  decodeResponse,
  encodePagedResults,
  encodeRequest,
  encodeResponse,
  LDAP_MAX_ATTRIBUTES,
  LDAP_MAX_CONTROLS,
  LDAP_MAX_FILTER_DEPTH,
  LDAP_MAX_FILTER_NODES,
  LdapDecodeError,
  type LdapDecodeReason,
  LdapEncodeError,
  type LdapEncodeReason,
  messageLength,
  noticeOfDisconnection,
} from '../../../src/plugins/ldap/ldap.codec';
import {
  ControlOid,
  ExtendedOid,
  type Filter,
  type LdapRequest,
  type LdapResponse,
  ResultCode,
} from '../../../src/plugins/ldap/ldap.types';
import { Rng } from '../../support/rng';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Hex bytes; whitespace and `-- comments` (to the end of a line) ignored. */
function hex(s: string): Buffer {
  const digits = s.replace(/--.*$/gm, '').replace(/\s+/g, '');
  assert.match(digits, /^([0-9a-f]{2})*$/i, 'fixture is not hex');
  return Buffer.from(digits, 'hex');
}

/** A BER element built independently of the codec: tag, definite length (short or long form), content. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? [n] : n <= 0xff ? [0x81, n] : n <= 0xffff ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}
function str(tag: number, s: string): Buffer {
  return tlv(tag, Buffer.from(s, 'utf8'));
}
function octets(s: string): Buffer {
  return str(0x04, s);
}
/** Minimal two's complement INTEGER content. */
function int(v: number, tag = 0x02): Buffer {
  const bytes: number[] = [];
  let x = v;
  do {
    bytes.unshift(x & 0xff);
    x >>= 8;
  } while (!((x === 0 && (bytes[0] & 0x80) === 0) || (x === -1 && (bytes[0] & 0x80) !== 0)));
  return tlv(tag, Buffer.from(bytes));
}
function message(id: number, op: Buffer, ...rest: Buffer[]): Buffer {
  return tlv(0x30, int(id), op, ...rest);
}
/** A search request's op with the given pieces (defaults: nslcd's shape). */
function searchOp(parts: {
  base?: Buffer;
  scope?: Buffer;
  deref?: Buffer;
  size?: Buffer;
  time?: Buffer;
  typesOnly?: Buffer;
  filter?: Buffer;
  attrs?: Buffer;
}): Buffer {
  return tlv(
    0x63,
    parts.base ?? octets('dc=bramble,dc=local'),
    parts.scope ?? int(2, 0x0a),
    parts.deref ?? int(0, 0x0a),
    parts.size ?? int(0),
    parts.time ?? int(0),
    parts.typesOnly ?? tlv(0x01, Buffer.from([0])),
    parts.filter ?? str(0x87, 'objectClass'),
    parts.attrs ?? tlv(0x30),
  );
}
const PRESENT = str(0x87, 'objectClass');
function control(oid: string, ...rest: Buffer[]): Buffer {
  return tlv(0x30, octets(oid), ...rest);
}

function decodeError(f: () => unknown): LdapDecodeError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof LdapDecodeError, `expected an LdapDecodeError, got ${String(caught)}`);
  return caught;
}
function expectDecodeError(buf: Buffer, reason: LdapDecodeReason, messageId: number | null): LdapDecodeError {
  const e = decodeError(() => decodeRequest(buf));
  assert.equal(e.reason, reason, e.message);
  assert.equal(e.messageId, messageId, `messageId of ${e.message}`);
  return e;
}
function expectEncodeError(f: () => unknown, reason: LdapEncodeReason): void {
  assert.throws(f, (e: unknown) => e instanceof LdapEncodeError && e.reason === reason, `expected LdapEncodeError ${reason}`);
}

const BASE = 'ou=people,dc=bramble,dc=local';
const ALICE = `uid=alice,${BASE}`;
const OK = { code: ResultCode.success, matchedDN: '', message: '' };

// ---------------------------------------------------------------------------------------------
// Byte fixtures from real clients: ldap-utils 2.5.13 (Debian 12), captured from a loopback listener
// by test/plugins/ldap/fixtures/capture-client-bytes.ts, which also gives the exact commands.

// `ldapsearch -x -H ldap://127.0.0.1:PORT -b ou=people,dc=bramble,dc=local
//   '(&(objectClass=posixAccount)(uid=alice))' uid userPassword uidNumber gidNumber cn homeDirectory
//   loginShell gecos description objectClass` — nslcd's user lookup; messages 1 to 3 of 3.
const LDAPSEARCH_ANONYMOUS_BIND = hex(`
  30 0c                     -- LDAPMessage, 12 bytes
    02 01 01                -- messageID 1
    60 07                   -- [APPLICATION 0] BindRequest
      02 01 03              -- version 3
      04 00                 -- name '' (anonymous)
      80 00                 -- simple [0], empty password
`);
const LDAPSEARCH_NSLCD_SEARCH = hex(`
  30 81 cc                  -- LDAPMessage, 204 bytes (long length form)
    02 01 02                -- messageID 2
    63 81 c6                -- [APPLICATION 3] SearchRequest, 198 bytes
      04 1d 6f753d70656f706c652c64633d6272616d626c652c64633d6c6f63616c  -- baseObject 'ou=people,dc=bramble,dc=local'
      0a 01 02              -- scope wholeSubtree
      0a 01 00              -- derefAliases neverDerefAliases
      02 01 00              -- sizeLimit 0
      02 01 00              -- timeLimit 0
      01 01 00              -- typesOnly FALSE
      a0 2b                 -- filter: and [0]
        a3 1b               --   equalityMatch [3]
          04 0b 6f626a656374436c617373                -- 'objectClass'
          04 0c 706f7369784163636f756e74              -- 'posixAccount'
        a3 0c               --   equalityMatch [3]
          04 03 756964                                -- 'uid'
          04 05 616c696365                            -- 'alice'
      30 69                 -- attributes
        04 03 756964                                  -- 'uid'
        04 0c 7573657250617373776f7264                -- 'userPassword'
        04 09 7569644e756d626572                      -- 'uidNumber'
        04 09 6769644e756d626572                      -- 'gidNumber'
        04 02 636e                                    -- 'cn'
        04 0d 686f6d654469726563746f7279              -- 'homeDirectory'
        04 0a 6c6f67696e5368656c6c                    -- 'loginShell'
        04 05 6765636f73                              -- 'gecos'
        04 0b 6465736372697074696f6e                  -- 'description'
        04 0b 6f626a656374436c617373                  -- 'objectClass'
`);
const LDAPSEARCH_UNBIND = hex(`
  30 05                     -- LDAPMessage
    02 01 03                -- messageID 3
    42 00                   -- [APPLICATION 2] UnbindRequest (NULL)
`);

// `ldapsearch -x -H ldap://127.0.0.1:PORT -b ou=people,dc=bramble,dc=local -E pr=2/noprompt
//   '(objectClass=posixAccount)' uid` — message 2 of 3 (an anonymous bind before, an unbind after).
const LDAPSEARCH_PAGED_SEARCH = hex(`
  30 7c                     -- LDAPMessage, 124 bytes
    02 01 02                -- messageID 2
    63 52                   -- SearchRequest
      04 1d 6f753d70656f706c652c64633d6272616d626c652c64633d6c6f63616c  -- baseObject
      0a 01 02              -- scope wholeSubtree
      0a 01 00              -- derefAliases never
      02 01 00              -- sizeLimit 0
      02 01 00              -- timeLimit 0
      01 01 00              -- typesOnly FALSE
      a3 1b                 -- equalityMatch
        04 0b 6f626a656374436c617373                  -- 'objectClass'
        04 0c 706f7369784163636f756e74                -- 'posixAccount'
      30 05                 -- attributes
        04 03 756964                                  -- 'uid'
    a0 23                   -- controls [0]
      30 21                 -- Control (no criticality: non-critical by default)
        04 16 312e322e3834302e3131333535362e312e342e333139  -- controlType '1.2.840.113556.1.4.319' (paged results)
        04 07               -- controlValue, 7 bytes:
          30 05 02 01 02 04 00                        --   SEQUENCE { size 2, cookie '' }
`);

// `ldapsearch -x -H ldap://127.0.0.1:PORT -D uid=alice,ou=people,dc=bramble,dc=local -w secret
//   -b ou=people,dc=bramble,dc=local '(uid=alice)' uidNumber` — message 1 of 3.
// `ldapwhoami -x -H ldap://127.0.0.1:PORT -D uid=alice,... -w secret` sends the same bytes first.
const LDAPSEARCH_SIMPLE_BIND = hex(`
  30 39                     -- LDAPMessage, 57 bytes
    02 01 01                -- messageID 1
    60 34                   -- BindRequest
      02 01 03              -- version 3
      04 27 7569643d616c6963652c6f753d70656f706c652c64633d6272616d626c652c64633d6c6f63616c  -- name 'uid=alice,ou=people,dc=bramble,dc=local'
      80 06 736563726574    -- simple [0] 'secret'
`);

// `ldapwhoami -x -H ldap://127.0.0.1:PORT -D uid=alice,... -w secret` — message 2 of 3.
const LDAPWHOAMI_REQUEST = hex(`
  30 1e                     -- LDAPMessage
    02 01 02                -- messageID 2
    77 19                   -- [APPLICATION 23] ExtendedRequest
      80 17 312e332e362e312e342e312e343230332e312e31312e33  -- requestName [0] '1.3.6.1.4.1.4203.1.11.3'; no value
`);

// `ldapsearch -x -ZZ -H ldap://127.0.0.1:PORT -b ou=people,dc=bramble,dc=local '(uid=alice)'` — message 1 of 2.
const LDAPSEARCH_STARTTLS = hex(`
  30 1d                     -- LDAPMessage
    02 01 01                -- messageID 1
    77 18                   -- ExtendedRequest
      80 16 312e332e362e312e342e312e313436362e3230303337    -- requestName '1.3.6.1.4.1.1466.20037'; no value
`);

// `ldapsearch -x -e ppolicy -H ldap://127.0.0.1:PORT -D uid=alice,... -w secret -b ... '(uid=alice)' cn`
// — message 1 of 3: the bind with the password-policy control as nslcd's PAM bind sends it.
const LDAPSEARCH_PPOLICY_BIND = hex(`
  30 58                     -- LDAPMessage, 88 bytes
    02 01 01                -- messageID 1
    60 34                   -- BindRequest
      02 01 03              -- version 3
      04 27 7569643d616c6963652c6f753d70656f706c652c64633d6272616d626c652c64633d6c6f63616c  -- name
      80 06 736563726574    -- simple 'secret'
    a0 1d                   -- controls [0]
      30 1b                 -- Control: controlType only (no criticality, NO controlValue)
        04 19 312e332e362e312e342e312e34322e322e32372e382e352e31  -- '1.3.6.1.4.1.42.2.27.8.5.1'
`);

// `ldapwhoami -Y CRAM-MD5 -U alice -w secret -H ldap://127.0.0.1:PORT` — message 1 of 3.
const LDAPWHOAMI_SASL_BIND = hex(`
  30 16                     -- LDAPMessage
    02 01 01                -- messageID 1
    60 11                   -- BindRequest
      02 01 03              -- version 3
      04 00                 -- name ''
      a3 0a                 -- sasl [3]
        04 08 4352414d2d4d4435                        -- mechanism 'CRAM-MD5'; no credentials
`);

// `ldapsearch -x -H ldap://127.0.0.1:PORT -s one -z 5 -l 3 -A -b ou=people,dc=bramble,dc=local
//   '(|(cn=Al*c*e)(!(uidNumber<=999))(uidNumber>=1000)(cn~=alise)(uid:caseExactMatch:=alice)
//   (:dn:2.5.13.5:=people)(memberUid=*)(&))' '*' + UIDNumber` — message 2 of 3: every filter type.
const LDAPSEARCH_EVERY_FILTER = hex(`
  30 81 d2                  -- LDAPMessage, 210 bytes
    02 01 02                -- messageID 2
    63 81 cc                -- SearchRequest
      04 1d 6f753d70656f706c652c64633d6272616d626c652c64633d6c6f63616c  -- baseObject
      0a 01 01              -- scope singleLevel
      0a 01 00              -- derefAliases never
      02 01 05              -- sizeLimit 5
      02 01 03              -- timeLimit 3
      01 01 ff              -- typesOnly TRUE
      a1 81 88              -- or [1]
        a4 10               --   substrings [4]
          04 02 636e        --     type 'cn'
          30 0a             --     substrings
            80 02 416c      --       initial 'Al'
            81 01 63        --       any 'c'
            82 01 65        --       final 'e'
        a2 12               --   not [2]
          a6 10             --     lessOrEqual [6]
            04 09 7569644e756d626572                  -- 'uidNumber'
            04 03 393939                              -- '999'
        a5 11               --   greaterOrEqual [5]
          04 09 7569644e756d626572                    -- 'uidNumber'
          04 04 31303030                              -- '1000'
        a8 0b               --   approxMatch [8]
          04 02 636e                                  -- 'cn'
          04 05 616c697365                            -- 'alise'
        a9 1c               --   extensibleMatch [9]
          81 0e 6361736545786163744d61746368          -- matchingRule [1] 'caseExactMatch'
          82 03 756964                                -- type [2] 'uid'
          83 05 616c696365                            -- matchValue [3] 'alice'
        a9 15               --   extensibleMatch [9]
          81 08 322e352e31332e35                      -- matchingRule '2.5.13.5'; no type
          83 06 70656f706c65                          -- matchValue 'people'
          84 01 ff                                    -- dnAttributes [4] TRUE
        87 09 6d656d626572556964                      -- present [7] 'memberUid'
        a0 00               --   and [0], empty: absolute true (RFC 4526)
      30 11                 -- attributes
        04 01 2a            -- '*'
        04 01 2b            -- '+'
        04 09 5549444e756d626572                      -- 'UIDNumber' (case as typed)
`);

const REAL_CLIENT_FIXTURES = [
  LDAPSEARCH_ANONYMOUS_BIND,
  LDAPSEARCH_NSLCD_SEARCH,
  LDAPSEARCH_UNBIND,
  LDAPSEARCH_PAGED_SEARCH,
  LDAPSEARCH_SIMPLE_BIND,
  LDAPWHOAMI_REQUEST,
  LDAPSEARCH_STARTTLS,
  LDAPSEARCH_PPOLICY_BIND,
  LDAPWHOAMI_SASL_BIND,
  LDAPSEARCH_EVERY_FILTER,
];

// ---------------------------------------------------------------------------------------------
// Hand-built response fixtures, byte by byte

// An entry with two attributes, one of them two-valued.
const ENTRY_TWO_ATTRIBUTES = hex(`
  30 74                     -- LDAPMessage, 116 bytes
    02 01 02                -- messageID 2
    64 6f                   -- [APPLICATION 4] SearchResultEntry, 111 bytes
      04 27 7569643d616c6963652c6f753d70656f706c652c64633d6272616d626c652c64633d6c6f63616c  -- objectName 'uid=alice,ou=people,dc=bramble,dc=local'
      30 44                 -- attributes, 68 bytes
        30 14               --   PartialAttribute
          04 09 7569644e756d626572                    -- type 'uidNumber'
          31 07             --     vals SET
            04 05 3130303031                          -- '10001'
        30 2c               --   PartialAttribute
          04 0b 6f626a656374436c617373                -- type 'objectClass'
          31 1d             --     vals SET
            04 0c 706f7369784163636f756e74            -- 'posixAccount'
            04 0d 736861646f774163636f756e74          -- 'shadowAccount'
`);

// The last page of a paged search: searchResDone with a paged-results control.
const SEARCH_DONE_PAGED = hex(`
  30 33                     -- LDAPMessage, 51 bytes
    02 01 03                -- messageID 3
    65 07                   -- [APPLICATION 5] SearchResultDone
      0a 01 00              -- resultCode success
      04 00                 -- matchedDN ''
      04 00                 -- diagnosticMessage ''
    a0 25                   -- controls [0]
      30 23                 -- Control
        04 16 312e322e3834302e3131333535362e312e342e333139  -- '1.2.840.113556.1.4.319'; criticality FALSE left out
        04 09               -- controlValue:
          30 07 02 01 00 04 02 6331                   --   SEQUENCE { size 0, cookie 'c1' }
`);

const BIND_RESPONSE_49 = hex(`
  30 0c                     -- LDAPMessage
    02 01 01                -- messageID 1
    61 07                   -- [APPLICATION 1] BindResponse
      0a 01 31              -- resultCode 49 invalidCredentials
      04 00                 -- matchedDN ''
      04 00                 -- diagnosticMessage ''
`);

const NOTICE_OF_DISCONNECTION = hex(`
  30 2f                     -- LDAPMessage
    02 01 00                -- messageID 0 (unsolicited)
    78 2a                   -- [APPLICATION 24] ExtendedResponse
      0a 01 02              -- resultCode 2 protocolError
      04 00                 -- matchedDN ''
      04 0b 626164206d657373616765                    -- diagnosticMessage 'bad message'
      8a 16 312e332e362e312e342e312e313436362e3230303336  -- responseName [10] '1.3.6.1.4.1.1466.20036'
`);

const WHOAMI_RESPONSE = hex(`
  30 38                     -- LDAPMessage
    02 01 02                -- messageID 2
    78 33                   -- ExtendedResponse
      0a 01 00              -- success
      04 00                 -- matchedDN ''
      04 00                 -- diagnosticMessage ''
      8b 2a 646e3a7569643d616c6963652c6f753d70656f706c652c64633d6272616d626c652c64633d6c6f63616c  -- responseValue [11] 'dn:uid=alice,...'
`);

const ADD_REFUSED = hex(`
  30 15                     -- LDAPMessage
    02 01 07                -- messageID 7
    69 10                   -- [APPLICATION 9] AddResponse
      0a 01 35              -- resultCode 53 unwillingToPerform
      04 00                 -- matchedDN ''
      04 09 726561642d6f6e6c79                        -- diagnosticMessage 'read-only'
`);

// ---------------------------------------------------------------------------------------------

describe('ldap codec: real client requests decode', () => {
  it("ldapsearch's anonymous bind, nslcd-style search and unbind", () => {
    assert.deepEqual(decodeRequest(LDAPSEARCH_ANONYMOUS_BIND), {
      op: 'bind',
      messageId: 1,
      controls: [],
      version: 3,
      name: '',
      auth: { type: 'simple', password: Buffer.alloc(0) },
    });
    assert.deepEqual(decodeRequest(LDAPSEARCH_NSLCD_SEARCH), {
      op: 'search',
      messageId: 2,
      controls: [],
      baseObject: BASE,
      scope: 'sub',
      derefAliases: 0,
      sizeLimit: 0,
      timeLimit: 0,
      typesOnly: false,
      filter: {
        type: 'and',
        filters: [
          { type: 'equality', attribute: 'objectClass', value: 'posixAccount' },
          { type: 'equality', attribute: 'uid', value: 'alice' },
        ],
      },
      // Case kept exactly as sent: nslcd asks uidNumber and must get uidNumber back.
      attributes: [
        'uid',
        'userPassword',
        'uidNumber',
        'gidNumber',
        'cn',
        'homeDirectory',
        'loginShell',
        'gecos',
        'description',
        'objectClass',
      ],
    });
    assert.deepEqual(decodeRequest(LDAPSEARCH_UNBIND), { op: 'unbind', messageId: 3, controls: [] });
  });

  it('a paged search: the control decodes generically, its value with decodePagedResults', () => {
    const request = decodeRequest(LDAPSEARCH_PAGED_SEARCH);
    assert.equal(request.op, 'search');
    assert.deepEqual(request.controls, [{ oid: ControlOid.pagedResults, critical: false, value: hex('30 05 02 01 02 04 00') }]);
    assert.deepEqual(decodePagedResults(request.controls[0].value!), { size: 2, cookie: Buffer.alloc(0) });
    if (request.op !== 'search') return;
    assert.equal(request.scope, 'sub');
    assert.deepEqual(request.filter, { type: 'equality', attribute: 'objectClass', value: 'posixAccount' });
    assert.deepEqual(request.attributes, ['uid']);
  });

  it('a simple bind with a DN and password, and the same with the empty password-policy control', () => {
    const bind = {
      op: 'bind',
      messageId: 1,
      version: 3,
      name: ALICE,
      auth: { type: 'simple', password: Buffer.from('secret') },
    };
    assert.deepEqual(decodeRequest(LDAPSEARCH_SIMPLE_BIND), { ...bind, controls: [] });
    // No criticality and no controlValue: null, not a throw (ldapjs threw here).
    assert.deepEqual(decodeRequest(LDAPSEARCH_PPOLICY_BIND), {
      ...bind,
      controls: [{ oid: ControlOid.passwordPolicy, critical: false, value: null }],
    });
  });

  it('a SASL bind without credentials', () => {
    assert.deepEqual(decodeRequest(LDAPWHOAMI_SASL_BIND), {
      op: 'bind',
      messageId: 1,
      controls: [],
      version: 3,
      name: '',
      auth: { type: 'sasl', mechanism: 'CRAM-MD5', credentials: null },
    });
  });

  it("ldapwhoami's WhoAmI and -ZZ's StartTLS: extended requests without a value", () => {
    assert.deepEqual(decodeRequest(LDAPWHOAMI_REQUEST), {
      op: 'extended',
      messageId: 2,
      controls: [],
      oid: ExtendedOid.whoAmI,
      value: null,
    });
    assert.deepEqual(decodeRequest(LDAPSEARCH_STARTTLS), {
      op: 'extended',
      messageId: 1,
      controls: [],
      oid: ExtendedOid.startTls,
      value: null,
    });
  });

  it('every filter type, scope one, limits, typesOnly, and attribute selectors as typed', () => {
    assert.deepEqual(decodeRequest(LDAPSEARCH_EVERY_FILTER), {
      op: 'search',
      messageId: 2,
      controls: [],
      baseObject: BASE,
      scope: 'one',
      derefAliases: 0,
      sizeLimit: 5,
      timeLimit: 3,
      typesOnly: true,
      filter: {
        type: 'or',
        filters: [
          { type: 'substrings', attribute: 'cn', initial: 'Al', any: ['c'], final: 'e' },
          { type: 'not', filter: { type: 'le', attribute: 'uidNumber', value: '999' } },
          { type: 'ge', attribute: 'uidNumber', value: '1000' },
          { type: 'approx', attribute: 'cn', value: 'alise' },
          { type: 'extensible', matchingRule: 'caseExactMatch', attribute: 'uid', value: 'alice', dnAttributes: false },
          { type: 'extensible', matchingRule: '2.5.13.5', attribute: null, value: 'people', dnAttributes: true },
          { type: 'present', attribute: 'memberUid' },
          { type: 'and', filters: [] },
        ],
      },
      attributes: ['*', '+', 'UIDNumber'],
    });
  });

  it('the real requests re-encode to the same bytes (OpenLDAP encodes as the codec does)', () => {
    for (const fixture of REAL_CLIENT_FIXTURES) {
      assert.deepEqual(encodeRequest(decodeRequest(fixture)), fixture, fixture.toString('hex'));
    }
  });

  it('byte values are copies: changing the input afterwards changes nothing decoded', () => {
    const input = Buffer.from(LDAPSEARCH_SIMPLE_BIND);
    const request = decodeRequest(input);
    input.fill(0);
    assert.equal(request.op === 'bind' && request.auth.type === 'simple' && request.auth.password.toString(), 'secret');
  });
});

describe('ldap codec: responses encode byte by byte', () => {
  it('an entry with two attributes', () => {
    const entry: LdapResponse = {
      op: 'searchEntry',
      messageId: 2,
      dn: ALICE,
      attributes: [
        { type: 'uidNumber', values: ['10001'] },
        { type: 'objectClass', values: ['posixAccount', Buffer.from('shadowAccount')] },
      ],
    };
    assert.deepEqual(encodeResponse(entry), ENTRY_TWO_ATTRIBUTES);
    assert.deepEqual(decodeResponse(ENTRY_TWO_ATTRIBUTES), {
      ...entry,
      attributes: [
        { type: 'uidNumber', values: ['10001'] },
        { type: 'objectClass', values: ['posixAccount', 'shadowAccount'] },
      ],
    });
  });

  it('a searchDone with a paged-results control', () => {
    const done: LdapResponse = {
      op: 'searchDone',
      messageId: 3,
      result: OK,
      controls: [{ oid: ControlOid.pagedResults, critical: false, value: encodePagedResults(0, Buffer.from('c1')) }],
    };
    assert.deepEqual(encodeResponse(done), SEARCH_DONE_PAGED);
    assert.deepEqual(decodeResponse(SEARCH_DONE_PAGED), done);
  });

  it('a bindResponse with code 49', () => {
    const response: LdapResponse = {
      op: 'bindResponse',
      messageId: 1,
      result: { code: ResultCode.invalidCredentials, matchedDN: '', message: '' },
    };
    assert.deepEqual(encodeResponse(response), BIND_RESPONSE_49);
    assert.deepEqual(decodeResponse(BIND_RESPONSE_49), response);
  });

  it('the Notice of Disconnection', () => {
    assert.deepEqual(noticeOfDisconnection(ResultCode.protocolError, 'bad message'), NOTICE_OF_DISCONNECTION);
    assert.deepEqual(decodeResponse(NOTICE_OF_DISCONNECTION), {
      op: 'extendedResponse',
      messageId: 0,
      result: { code: ResultCode.protocolError, matchedDN: '', message: 'bad message' },
      oid: ExtendedOid.noticeOfDisconnection,
    });
  });

  it('a WhoAmI answer: responseValue without responseName', () => {
    const response: LdapResponse = { op: 'extendedResponse', messageId: 2, result: OK, value: Buffer.from(`dn:${ALICE}`) };
    assert.deepEqual(encodeResponse(response), WHOAMI_RESPONSE);
    assert.deepEqual(decodeResponse(WHOAMI_RESPONSE), response);
  });

  it('the error answer to an add: an LDAPResult under [APPLICATION 9]', () => {
    const response: LdapResponse = {
      op: 'result',
      responseOp: 9,
      messageId: 7,
      result: { code: ResultCode.unwillingToPerform, matchedDN: '', message: 'read-only' },
    };
    assert.deepEqual(encodeResponse(response), ADD_REFUSED);
    assert.deepEqual(decodeResponse(ADD_REFUSED), response);
  });

  it('a critical control, a control without value, and a control with an empty value', () => {
    const controls = [
      { oid: '1.2.3', critical: true, value: null },
      { oid: '1.2.4', critical: false, value: Buffer.alloc(0) },
    ];
    const bytes = encodeResponse({ op: 'bindResponse', messageId: 5, result: OK, controls });
    assert.deepEqual(
      bytes,
      hex(`30 25 02 01 05 61 07 0a 01 00 04 00 04 00
           a0 17                             -- controls
             30 0a 04 05 312e322e33 01 01 ff  -- '1.2.3', critical TRUE, no value
             30 09 04 05 312e322e34 04 00     -- '1.2.4', FALSE left out, empty value`),
    );
    assert.deepEqual(decodeResponse(bytes), { op: 'bindResponse', messageId: 5, result: OK, controls });
  });

  it('lengths of 128 bytes and more use the long forms (0x81, 0x82, 0x83)', () => {
    for (const n of [127, 128, 255, 256, 65535, 65536, 200_000]) {
      const value = 'x'.repeat(n);
      const bytes = encodeResponse({ op: 'searchEntry', messageId: 9, dn: '', attributes: [{ type: 'description', values: [value] }] });
      assert.equal(messageLength(bytes, 0, 1 << 24), bytes.length);
      const valueHeader =
        n < 0x80
          ? [0x04, n]
          : n <= 0xff
            ? [0x04, 0x81, n]
            : n <= 0xffff
              ? [0x04, 0x82, n >> 8, n & 0xff]
              : [0x04, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
      const at = bytes.length - n - valueHeader.length;
      assert.deepEqual([...bytes.subarray(at, at + valueHeader.length)], valueHeader, `header of a ${n}-byte value`);
      const decoded = decodeResponse(bytes);
      assert.equal(decoded.op === 'searchEntry' && decoded.attributes[0].values[0], value);
    }
  });

  it('UTF-8 strings are sized in bytes, not characters', () => {
    const bytes = encodeResponse({ op: 'searchEntry', messageId: 1, dn: 'cn=Zoë', attributes: [{ type: 'cn', values: ['Zoë 😀'] }] });
    assert.deepEqual(decodeResponse(bytes), {
      op: 'searchEntry',
      messageId: 1,
      dn: 'cn=Zoë',
      attributes: [{ type: 'cn', values: ['Zoë 😀'] }],
    });
    assert.ok(bytes.includes(hex('04 07 636e3d5a6fc3ab')), 'dn as 7 UTF-8 bytes');
  });

  it('types only: an attribute with an empty value set', () => {
    const bytes = encodeResponse({ op: 'searchEntry', messageId: 4, dn: 'cn=x', attributes: [{ type: 'cn', values: [] }] });
    assert.deepEqual(bytes, hex('30 15 02 01 04 64 10 04 04 636e3d78 30 08 30 06 04 02 636e 31 00'));
  });

  it('message IDs up to maxInt', () => {
    for (const id of [0, 127, 128, 255, 256, 32767, 32768, 8388607, 8388608, 2147483647]) {
      const bytes = encodeResponse({ op: 'searchDone', messageId: id, result: OK });
      assert.equal(decodeResponse(bytes).messageId, id);
      assert.equal(decodeRequest(encodeRequest({ op: 'abandon', messageId: id, controls: [], abandonId: id })).messageId, id);
    }
    assert.deepEqual(encodeResponse({ op: 'searchDone', messageId: 128, result: OK }).subarray(2, 6), hex('02 02 00 80'));
  });
});

/** The response encoding done with BerWriter's own sequences: an independent reference for encodeResponse. */
function referenceEncode(response: LdapResponse): Buffer {
  const w = new BerWriter();
  w.startSequence(0x30);
  w.writeInt(response.messageId);
  const result = (tag: number, r: { code: number; matchedDN: string; message: string }): void => {
    w.startSequence(tag);
    w.writeEnumeration(r.code);
    w.writeString(r.matchedDN);
    w.writeString(r.message);
  };
  switch (response.op) {
    case 'searchEntry':
      w.startSequence(0x64);
      w.writeString(response.dn);
      w.startSequence(0x30);
      for (const a of response.attributes) {
        w.startSequence(0x30);
        w.writeString(a.type);
        w.startSequence(0x31);
        for (const v of a.values) {
          if (typeof v === 'string') w.writeString(v);
          else w.writeBuffer(v, 0x04);
        }
        w.endSequence();
        w.endSequence();
      }
      w.endSequence();
      w.endSequence();
      break;
    case 'extendedResponse':
      result(0x78, response.result);
      if (response.oid !== undefined) w.writeString(response.oid, 0x8a);
      if (response.value !== undefined) w.writeBuffer(response.value, 0x8b);
      w.endSequence();
      break;
    case 'result':
      result(0x60 | response.responseOp, response.result);
      w.endSequence();
      break;
    default:
      result(response.op === 'bindResponse' ? 0x61 : 0x65, response.result);
      w.endSequence();
      if (response.controls !== undefined && response.controls.length > 0) {
        w.startSequence(0xa0);
        for (const c of response.controls) {
          w.startSequence(0x30);
          w.writeString(c.oid);
          if (c.critical) w.writeBoolean(true);
          if (c.value !== null) w.writeBuffer(c.value, 0x04);
          w.endSequence();
        }
        w.endSequence();
      }
  }
  w.endSequence();
  return Buffer.from(w.buffer);
}

function randomString(rng: Rng): string {
  switch (rng.int(6)) {
    case 0:
      return '';
    case 1:
      return 'uidNumber';
    case 2:
      return 'Zoë Ångström 😀'.repeat(1 + rng.int(10)); // 16 to 160 UTF-16 units: both sides of the fast path
    case 3:
      return 'x'.repeat(60 + rng.int(10)); // around the 64-character ASCII fast path
    case 4:
      return 'y'.repeat(rng.chance(0.1) ? 65_536 + rng.int(300) : 100 + rng.int(300)); // long forms 0x81 .. 0x83
    default:
      return String.fromCharCode(
        ...Array.from({ length: rng.int(12) }, () => rng.pick([0x41, 0x7f, 0x80, 0xff, 0x100, 0xd800, 0xdc00, 0xffff])),
      );
  }
}

function randomResponse(rng: Rng): LdapResponse {
  const messageId = rng.pick([0, 1, 127, 128, 255, 256, 65535, 65536, 8388608, 2147483647, rng.int(1000)]);
  const result = { code: rng.pick([0, 4, 32, 49, 80, 127, 128, 300]) as 0, matchedDN: randomString(rng), message: randomString(rng) };
  const controls = Array.from({ length: rng.int(3) }, () => ({
    oid: rng.pick([ControlOid.pagedResults, '1.2.3']),
    critical: rng.chance(0.5),
    value: rng.chance(0.3) ? null : rng.bytes(rng.int(rng.chance(0.1) ? 400 : 20)),
  }));
  switch (rng.int(5)) {
    case 0:
    case 1:
      return {
        op: 'searchEntry',
        messageId,
        dn: randomString(rng),
        attributes: Array.from({ length: rng.int(14) }, () => ({
          type: randomString(rng),
          values: Array.from({ length: rng.int(4) }, () => (rng.chance(0.2) ? rng.bytes(rng.int(300)) : randomString(rng))),
        })),
      };
    case 2:
      return rng.chance(0.5) ? { op: 'bindResponse', messageId, result, controls } : { op: 'searchDone', messageId, result, controls };
    case 3: {
      const response: LdapResponse = { op: 'extendedResponse', messageId, result };
      if (rng.chance(0.5)) response.oid = randomString(rng);
      if (rng.chance(0.5)) response.value = rng.bytes(rng.int(200));
      return response;
    }
    default:
      return { op: 'result', responseOp: rng.pick([7, 9, 11, 13, 15]), messageId, result };
  }
}

describe('ldap codec: responses are the bytes BerWriter writes', () => {
  it('2,000 random responses (UTF-8, lone surrogates, long forms, Buffers, controls)', () => {
    const rng = new Rng(0x5eed0b7e);
    for (let i = 0; i < 2000; i++) {
      const response = randomResponse(rng);
      assert.deepEqual(encodeResponse(response), referenceEncode(response), `case ${i}: ${response.op}`);
    }
  });
});

describe('ldap codec: encode refuses what it cannot write', () => {
  it('IDs, result codes and responseOps out of range, and elements over 16 MiB', () => {
    expectEncodeError(() => encodeResponse({ op: 'searchDone', messageId: -1, result: OK }), 'bad-message-id');
    expectEncodeError(() => encodeResponse({ op: 'searchDone', messageId: 2 ** 31, result: OK }), 'bad-message-id');
    expectEncodeError(() => encodeResponse({ op: 'searchEntry', messageId: 1.5, dn: '', attributes: [] }), 'bad-message-id');
    expectEncodeError(() => encodeResponse({ op: 'bindResponse', messageId: 1, result: { ...OK, code: -1 as 0 } }), 'bad-integer');
    expectEncodeError(() => encodeResponse({ op: 'result', responseOp: 8, messageId: 1, result: OK }), 'bad-response-op');
    expectEncodeError(() => encodeResponse({ op: 'result', responseOp: 1, messageId: 1, result: OK }), 'bad-response-op');
    expectEncodeError(
      () =>
        encodeResponse({ op: 'searchEntry', messageId: 1, dn: '', attributes: [{ type: 'jpegPhoto', values: [Buffer.alloc(0x1000000)] }] }),
      'too-large',
    );
    expectEncodeError(
      () => encodeRequest({ op: 'unsupported', messageId: 1, controls: [], protocolOp: 7, responseOp: 8 }),
      'bad-protocol-op',
    );
    expectEncodeError(() => encodePagedResults(-1, Buffer.alloc(0)), 'bad-integer');
  });
});

describe('ldap codec: requests round-trip', () => {
  const filters: Filter[] = [
    { type: 'present', attribute: 'objectClass' },
    { type: 'equality', attribute: 'memberUid', value: 'Alice' },
    { type: 'substrings', attribute: 'cn', initial: null, any: [], final: 'x' },
    { type: 'substrings', attribute: 'cn', initial: 'a', any: ['b', 'c', ''], final: null },
    { type: 'extensible', matchingRule: null, attribute: 'uid', value: 'bob', dnAttributes: false },
    { type: 'or', filters: [] },
    {
      type: 'not',
      filter: {
        type: 'and',
        filters: [
          { type: 'approx', attribute: 'sn', value: 'smyth' },
          { type: 'ge', attribute: 'uidNumber', value: '5' },
        ],
      },
    },
  ];
  const requests: LdapRequest[] = [
    { op: 'bind', messageId: 1, controls: [], version: 3, name: ALICE, auth: { type: 'simple', password: Buffer.from('pässword') } },
    {
      op: 'bind',
      messageId: 2,
      controls: [],
      version: 2,
      name: '',
      auth: { type: 'sasl', mechanism: 'EXTERNAL', credentials: Buffer.alloc(0) },
    },
    { op: 'unbind', messageId: 3, controls: [] },
    { op: 'abandon', messageId: 4, controls: [], abandonId: 3 },
    { op: 'extended', messageId: 5, controls: [], oid: ExtendedOid.whoAmI, value: Buffer.from([0, 1, 2]) },
    ...[6, 8, 10, 12, 14].map((protocolOp): LdapRequest => ({
      op: 'unsupported',
      messageId: 6,
      controls: [],
      protocolOp,
      responseOp: protocolOp + 1,
    })),
    ...filters.map((filter, i): LdapRequest => ({
      op: 'search',
      messageId: 100 + i,
      controls: [{ oid: ControlOid.pagedResults, critical: true, value: encodePagedResults(500, Buffer.from([0xff, 0])) }],
      baseObject: 'dc=bramble,dc=local',
      scope: (['base', 'one', 'sub'] as const)[i % 3],
      derefAliases: i % 4,
      sizeLimit: 2147483647,
      timeLimit: 60,
      typesOnly: i % 2 === 0,
      filter,
      attributes: ['1.1'],
    })),
  ];
  for (const [i, request] of requests.entries()) {
    it(`${i}: ${request.op} ${request.op === 'search' ? request.filter.type : request.op === 'unsupported' ? request.protocolOp : ''}`, () => {
      assert.deepEqual(decodeRequest(encodeRequest(request)), request);
    });
  }

  it('unsupported requests carry their response tag, whatever their content', () => {
    const add = message(7, tlv(0x68, octets('cn=x'), tlv(0x30)));
    assert.deepEqual(decodeRequest(add), { op: 'unsupported', messageId: 7, controls: [], protocolOp: 8, responseOp: 9 });
    const del = message(8, str(0x4a, 'cn=x'), tlv(0xa0, control('1.2.3')));
    assert.deepEqual(decodeRequest(del), {
      op: 'unsupported',
      messageId: 8,
      controls: [{ oid: '1.2.3', critical: false, value: null }],
      protocolOp: 10,
      responseOp: 11,
    });
    for (const [tag, responseOp] of [
      [0x66, 7],
      [0x6c, 13],
      [0x6e, 15],
    ]) {
      const request = decodeRequest(message(9, tlv(tag, octets('cn=x'))));
      assert.equal(request.op === 'unsupported' && request.responseOp, responseOp);
    }
  });
});

describe('ldap codec: leniency, as OpenLDAP', () => {
  it('explicit criticality FALSE, an empty controlValue, and an empty Controls list', () => {
    const request = decodeRequest(
      message(
        1,
        tlv(0x42),
        tlv(0xa0, control('1.2.3', tlv(0x01, Buffer.from([0])), octets('')), control('1.2.4', tlv(0x01, Buffer.from([0x01])))),
      ),
    );
    assert.deepEqual(request.controls, [
      { oid: '1.2.3', critical: false, value: Buffer.alloc(0) },
      { oid: '1.2.4', critical: true, value: null },
    ]);
    assert.deepEqual(decodeRequest(message(1, tlv(0x42), tlv(0xa0))).controls, []);
  });

  it('non-minimal length forms', () => {
    // 30 81 05 ...: 5 content bytes in the 2-byte form; 42 84 00000000: an unbind's NULL in the 5-byte form.
    assert.deepEqual(decodeRequest(hex('30 81 09 02 01 01 42 84 00 00 00 00')), { op: 'unbind', messageId: 1, controls: [] });
  });

  it('a message ID in 4 bytes, and 0', () => {
    assert.equal(decodeRequest(hex('30 08 02 04 7f ff ff ff 42 00')).messageId, 2147483647);
    assert.equal(decodeRequest(hex('30 05 02 01 00 42 00')).messageId, 0);
  });

  it('an invalid UTF-8 assertion value decodes with U+FFFD (the directory will match nothing)', () => {
    const request = decodeRequest(message(1, searchOp({ filter: tlv(0xa3, octets('uid'), tlv(0x04, Buffer.from([0x61, 0xff]))) })));
    assert.deepEqual(request.op === 'search' && request.filter, { type: 'equality', attribute: 'uid', value: 'a\ufffd' });
  });

  it(`filters ${LDAP_MAX_FILTER_DEPTH} deep, ${LDAP_MAX_FILTER_NODES} nodes, ${LDAP_MAX_ATTRIBUTES} attributes and ${LDAP_MAX_CONTROLS} controls are accepted`, () => {
    let deep = PRESENT;
    for (let i = 1; i < LDAP_MAX_FILTER_DEPTH; i++) deep = tlv(0xa2, deep);
    assert.equal(decodeRequest(message(1, searchOp({ filter: deep }))).op, 'search');
    const wide = tlv(0xa1, ...Array.from({ length: LDAP_MAX_FILTER_NODES - 1 }, () => PRESENT));
    assert.equal(decodeRequest(message(1, searchOp({ filter: wide }))).op, 'search');
    const attrs = tlv(0x30, ...Array.from({ length: LDAP_MAX_ATTRIBUTES }, (_, i) => octets(`a${i}`)));
    const search = decodeRequest(message(1, searchOp({ attrs })));
    assert.equal(search.op === 'search' && search.attributes.length, LDAP_MAX_ATTRIBUTES);
    const controls = tlv(0xa0, ...Array.from({ length: LDAP_MAX_CONTROLS }, () => control('1.2.3')));
    assert.equal(decodeRequest(message(1, tlv(0x42), controls)).controls.length, LDAP_MAX_CONTROLS);
  });
});

describe('ldap codec: messageLength (the stream framer)', () => {
  it('a whole message, from an offset; null until every byte is there', () => {
    const two = Buffer.concat([LDAPSEARCH_NSLCD_SEARCH, LDAPSEARCH_UNBIND]);
    assert.equal(messageLength(two, 0, 1000), 207);
    assert.equal(messageLength(two, 207, 1000), 7);
    assert.equal(messageLength(two, 214, 1000), null);
    for (let cut = 0; cut < LDAPSEARCH_NSLCD_SEARCH.length; cut++) {
      assert.equal(messageLength(LDAPSEARCH_NSLCD_SEARCH.subarray(0, cut), 0, 1000), null, `${cut} bytes`);
    }
  });

  it('frames messages that arrive one byte at a time', () => {
    const stream = Buffer.concat(REAL_CLIENT_FIXTURES);
    const framed: Buffer[] = [];
    let pending = Buffer.alloc(0);
    for (let i = 0; i < stream.length; i++) {
      pending = Buffer.concat([pending, stream.subarray(i, i + 1)]);
      const n = messageLength(pending, 0, 1000);
      if (n !== null) {
        framed.push(pending.subarray(0, n));
        pending = pending.subarray(n);
      }
    }
    assert.deepEqual(framed, REAL_CLIENT_FIXTURES);
  });

  it('refuses an oversized message from its header, before its bytes arrive', () => {
    const header = hex('30 83 10 00 00'); // 1 MiB of content declared, none sent
    assert.equal(messageLength(header, 0, 2 ** 21), null);
    const e = decodeError(() => messageLength(header, 0, 2 ** 20));
    assert.equal(e.reason, 'too-large');
    assert.equal(e.messageId, null);
    // The limit is on the whole message: header bytes count.
    assert.equal(messageLength(hex('30 03 02 01 01'), 0, 5), 5);
    assert.equal(decodeError(() => messageLength(hex('30 03 02 01 01'), 0, 4)).reason, 'too-large');
    // A 4-byte length of 2^31 and more is a large number, not a negative one.
    assert.equal(decodeError(() => messageLength(hex('30 84 ff ff ff ff'), 0, 2 ** 20)).reason, 'too-large');
  });

  it('refuses what is not an LDAPMessage header', () => {
    const cases: [string, LdapDecodeReason][] = [
      ['31 03 02 01 01', 'not-a-sequence'],
      ['00', 'not-a-sequence'],
      ['30 80', 'bad-length'], // indefinite
      ['30 85 00 00 00 00 05', 'bad-length'], // 5 length bytes
      ['30 ff', 'bad-length'],
    ];
    for (const [bytes, reason] of cases) assert.equal(decodeError(() => messageLength(hex(bytes), 0, 1000)).reason, reason, bytes);
    assert.equal(decodeError(() => messageLength(hex('30 00 04'), 2, 1000)).offset, 2);
  });
});

describe('ldap codec: paged results control value', () => {
  it('round-trips, and decodes what OpenLDAP sends', () => {
    for (const [size, cookie] of [
      [0, Buffer.alloc(0)],
      [2, Buffer.from('abc')],
      [2147483647, Buffer.alloc(300, 7)],
    ] as const) {
      assert.deepEqual(decodePagedResults(encodePagedResults(size, cookie)), { size, cookie });
    }
    assert.deepEqual(encodePagedResults(2, Buffer.alloc(0)), hex('30 05 02 01 02 04 00'));
  });

  it('throws bad-control for every malformed value', () => {
    for (const bytes of [
      '', // empty (OpenLDAP: "paged results control value is empty")
      '04 00', // not a SEQUENCE
      '30 03 02 01 02', // no cookie
      '30 05 02 01 ff 04 00', // negative size
      '30 05 04 00 02 01 02', // the wrong order
      '30 07 02 01 02 04 00 05 00', // an extra element
      '30 05 02 01 02 04 00 00', // a byte after the SEQUENCE
      '30 06 02 01 02 04 05 00', // a cookie longer than the value
      '30 80 02 01 02 04 00 00 00', // indefinite length
    ]) {
      const e = decodeError(() => decodePagedResults(hex(bytes)));
      assert.equal(e.reason, 'bad-control', `${bytes}: ${e.message}`);
    }
  });
});

describe('ldap codec: hostile requests, one per reason', () => {
  const BIND_OP = tlv(0x60, int(3), octets(''), tlv(0x80));
  const cases: { name: string; bytes: Buffer; reason: LdapDecodeReason; messageId: number | null }[] = [
    { name: 'an empty buffer', bytes: Buffer.alloc(0), reason: 'truncated', messageId: null },
    { name: 'a SET instead of the SEQUENCE', bytes: hex('31 05 02 01 01 42 00'), reason: 'not-a-sequence', messageId: null },
    { name: 'an indefinite envelope length', bytes: hex('30 80 02 01 01 42 00 00 00'), reason: 'bad-length', messageId: null },
    { name: 'five length bytes', bytes: hex('30 85 00 00 00 00 05 02 01 01 42 00'), reason: 'bad-length', messageId: null },
    {
      name: 'a baseObject length of 2^31 (read as negative by @ldapjs/asn1)',
      bytes: message(5, tlv(0x63, hex('04 84 80 00 00 00 41'))),
      reason: 'bad-length',
      messageId: 5,
    },
    { name: 'an envelope longer than the buffer', bytes: hex('30 07 02 01 01 42 00'), reason: 'truncated', messageId: null },
    { name: 'a length byte cut off', bytes: hex('30 84 00 00'), reason: 'truncated', messageId: null },
    { name: 'a baseObject longer than its search', bytes: message(6, tlv(0x63, hex('04 10 41'))), reason: 'truncated', messageId: 6 },
    { name: 'a byte after the message', bytes: hex('30 05 02 01 01 42 00 00'), reason: 'trailing-bytes', messageId: null },
    { name: 'an unbind with content', bytes: message(7, hex('42 01 00')), reason: 'trailing-bytes', messageId: 7 },
    {
      name: 'a bind with an extra element',
      bytes: message(8, tlv(0x60, int(3), octets(''), tlv(0x80), octets('x'))),
      reason: 'trailing-bytes',
      messageId: 8,
    },
    { name: 'an element after the controls', bytes: message(8, tlv(0x42), tlv(0xa0), octets('x')), reason: 'trailing-bytes', messageId: 8 },
    {
      name: 'a search without attributes',
      bytes: message(9, tlv(0x63, octets(''), int(0, 0x0a), int(0, 0x0a), int(0), int(0), tlv(0x01, Buffer.from([0])), PRESENT)),
      reason: 'missing-element',
      messageId: 9,
    },
    { name: 'an extended request without a name', bytes: message(9, tlv(0x77)), reason: 'missing-element', messageId: 9 },
    { name: 'a bind without authentication', bytes: message(9, tlv(0x60, int(3), octets(''))), reason: 'missing-element', messageId: 9 },
    {
      name: 'a bind name with a context tag',
      bytes: message(10, tlv(0x60, int(3), str(0x80, 'cn=x'), tlv(0x80))),
      reason: 'unexpected-tag',
      messageId: 10,
    },
    {
      name: 'a constructed password',
      bytes: message(10, tlv(0x60, int(3), octets(''), tlv(0xa0))),
      reason: 'bad-auth-choice',
      messageId: 10,
    },
    {
      name: 'something else than Controls after the op',
      bytes: message(10, tlv(0x42), tlv(0xa1)),
      reason: 'unexpected-tag',
      messageId: 10,
    },
    {
      name: 'an attribute selector that is not a string',
      bytes: message(10, searchOp({ attrs: tlv(0x30, int(1)) })),
      reason: 'unexpected-tag',
      messageId: 10,
    },
    { name: 'no messageID', bytes: hex('30 00'), reason: 'bad-message-id', messageId: null },
    { name: 'a string messageID', bytes: hex('30 05 04 01 01 42 00'), reason: 'bad-message-id', messageId: null },
    { name: 'a negative messageID', bytes: hex('30 05 02 01 ff 42 00'), reason: 'bad-message-id', messageId: null },
    { name: 'a 5-byte messageID', bytes: hex('30 09 02 05 00 80 00 00 00 42 00'), reason: 'bad-message-id', messageId: null },
    { name: 'an empty messageID', bytes: hex('30 04 02 00 42 00'), reason: 'bad-message-id', messageId: null },
    { name: 'no protocolOp', bytes: hex('30 03 02 01 0b'), reason: 'bad-protocol-op', messageId: 11 },
    {
      name: 'a response from a client',
      bytes: message(11, tlv(0x61, int(0, 0x0a), octets(''), octets(''))),
      reason: 'bad-protocol-op',
      messageId: 11,
    },
    { name: 'a primitive search', bytes: message(11, hex('43 00')), reason: 'bad-protocol-op', messageId: 11 },
    { name: 'an unknown application tag', bytes: message(11, tlv(0x7f)), reason: 'bad-protocol-op', messageId: 11 },
    { name: 'bind version 0', bytes: message(12, tlv(0x60, int(0), octets(''), tlv(0x80))), reason: 'bad-version', messageId: 12 },
    { name: 'bind version 128', bytes: message(12, tlv(0x60, int(128), octets(''), tlv(0x80))), reason: 'bad-version', messageId: 12 },
    {
      name: 'Kerberos v4 authentication [1]',
      bytes: message(13, tlv(0x60, int(3), octets(''), tlv(0x81))),
      reason: 'bad-auth-choice',
      messageId: 13,
    },
    { name: 'scope 3', bytes: message(14, searchOp({ scope: int(3, 0x0a) })), reason: 'bad-scope', messageId: 14 },
    { name: 'scope as an INTEGER', bytes: message(14, searchOp({ scope: int(2) })), reason: 'bad-scope', messageId: 14 },
    { name: 'derefAliases 4', bytes: message(15, searchOp({ deref: int(4, 0x0a) })), reason: 'bad-deref-aliases', messageId: 15 },
    { name: 'a negative sizeLimit', bytes: message(16, searchOp({ size: int(-1) })), reason: 'bad-integer', messageId: 16 },
    {
      name: 'a 5-byte timeLimit',
      bytes: message(16, searchOp({ time: hex('02 05 00 ff ff ff ff') })),
      reason: 'bad-integer',
      messageId: 16,
    },
    { name: 'an empty abandon ID', bytes: message(16, hex('50 00')), reason: 'bad-integer', messageId: 16 },
    { name: 'a 2-byte typesOnly', bytes: message(17, searchOp({ typesOnly: hex('01 02 00 00') })), reason: 'bad-boolean', messageId: 17 },
    {
      name: 'an unknown filter choice',
      bytes: message(18, searchOp({ filter: tlv(0xaa, octets('x')) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'no filter',
      bytes: message(18, tlv(0x63, octets(''), int(0, 0x0a), int(0, 0x0a), int(0), int(0), tlv(0x01, Buffer.from([0])))),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'a string inside an and',
      bytes: message(18, searchOp({ filter: tlv(0xa0, octets('x')) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'an equality with three elements',
      bytes: message(18, searchOp({ filter: tlv(0xa3, octets('a'), octets('b'), octets('c')) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'a not with two filters',
      bytes: message(18, searchOp({ filter: tlv(0xa2, PRESENT, PRESENT) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'substrings without parts',
      bytes: message(18, searchOp({ filter: tlv(0xa4, octets('cn'), tlv(0x30)) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'initial after any',
      bytes: message(18, searchOp({ filter: tlv(0xa4, octets('cn'), tlv(0x30, str(0x81, 'a'), str(0x80, 'b'))) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'a part after final',
      bytes: message(18, searchOp({ filter: tlv(0xa4, octets('cn'), tlv(0x30, str(0x82, 'a'), str(0x81, 'b'))) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'an unknown substring choice',
      bytes: message(18, searchOp({ filter: tlv(0xa4, octets('cn'), tlv(0x30, str(0x83, 'a'))) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'extensible without rule or type',
      bytes: message(18, searchOp({ filter: tlv(0xa9, str(0x83, 'x')) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: 'extensible without a value',
      bytes: message(18, searchOp({ filter: tlv(0xa9, str(0x82, 'cn')) })),
      reason: 'bad-filter',
      messageId: 18,
    },
    {
      name: `filters nested ${LDAP_MAX_FILTER_DEPTH + 1} deep`,
      bytes: message(19, searchOp({ filter: Array.from({ length: LDAP_MAX_FILTER_DEPTH }).reduce<Buffer>((f) => tlv(0xa2, f), PRESENT) })),
      reason: 'filter-too-deep',
      messageId: 19,
    },
    {
      name: `${LDAP_MAX_FILTER_NODES + 1} filter nodes`,
      bytes: message(20, searchOp({ filter: tlv(0xa1, ...Array.from({ length: LDAP_MAX_FILTER_NODES }, () => PRESENT)) })),
      reason: 'too-many-filter-nodes',
      messageId: 20,
    },
    {
      name: `${LDAP_MAX_FILTER_NODES} substring parts`,
      bytes: message(
        20,
        searchOp({ filter: tlv(0xa4, octets('cn'), tlv(0x30, ...Array.from({ length: LDAP_MAX_FILTER_NODES }, () => str(0x81, 'a')))) }),
      ),
      reason: 'too-many-filter-nodes',
      messageId: 20,
    },
    {
      name: `${LDAP_MAX_ATTRIBUTES + 1} attributes`,
      bytes: message(21, searchOp({ attrs: tlv(0x30, ...Array.from({ length: LDAP_MAX_ATTRIBUTES + 1 }, () => octets('cn'))) })),
      reason: 'too-many-attributes',
      messageId: 21,
    },
    {
      name: 'a control that is not a SEQUENCE',
      bytes: message(22, BIND_OP, tlv(0xa0, octets('1.2.3'))),
      reason: 'bad-control',
      messageId: 22,
    },
    { name: 'an empty controlType', bytes: message(22, BIND_OP, tlv(0xa0, control(''))), reason: 'bad-control', messageId: 22 },
    {
      name: 'a 2-byte criticality',
      bytes: message(22, BIND_OP, tlv(0xa0, control('1.2.3', hex('01 02 ff ff')))),
      reason: 'bad-control',
      messageId: 22,
    },
    {
      name: 'an INTEGER controlValue',
      bytes: message(22, BIND_OP, tlv(0xa0, control('1.2.3', int(1)))),
      reason: 'bad-control',
      messageId: 22,
    },
    {
      name: 'a control with an extra element',
      bytes: message(22, BIND_OP, tlv(0xa0, control('1.2.3', octets(''), octets('')))),
      reason: 'bad-control',
      messageId: 22,
    },
    {
      name: `${LDAP_MAX_CONTROLS + 1} controls`,
      bytes: message(23, BIND_OP, tlv(0xa0, ...Array.from({ length: LDAP_MAX_CONTROLS + 1 }, () => control('1.2.3')))),
      reason: 'too-many-controls',
      messageId: 23,
    },
  ];
  for (const c of cases) {
    it(`${c.reason}: ${c.name}`, () => {
      expectDecodeError(c.bytes, c.reason, c.messageId);
    });
  }

  it('responseOp names the response that answers the request, once its type is known', () => {
    const cases: [Buffer, number | null][] = [
      [message(1, tlv(0x60, int(0), octets(''), tlv(0x80))), 1], // bad-version: a bindResponse
      [message(1, searchOp({ scope: int(3, 0x0a) })), 5], // bad-scope: a searchResDone
      [message(1, searchOp({}), tlv(0xa0, control(''))), 5], // bad-control on a search
      [message(1, tlv(0x77)), 24], // an extended request without a name: an extendedResponse
      [message(1, tlv(0x68), tlv(0xa0, octets('x'))), 9], // an add with a broken control: an addResponse
      [message(1, hex('42 01 00')), null], // unbind: no response
      [message(1, hex('50 00')), null], // abandon: no response
      [message(1, tlv(0x61)), null], // not a request
      [hex('30 05 02 01 ff 42 00'), null], // no message ID
    ];
    for (const [bytes, responseOp] of cases) {
      const e = decodeError(() => decodeRequest(bytes));
      assert.equal(e.responseOp, responseOp, e.message);
    }
  });

  it('every decode reason is reached by one of these inputs (too-large by messageLength)', () => {
    const all: LdapDecodeReason[] = [
      'too-large',
      'not-a-sequence',
      'bad-length',
      'truncated',
      'trailing-bytes',
      'missing-element',
      'unexpected-tag',
      'bad-message-id',
      'bad-protocol-op',
      'bad-version',
      'bad-auth-choice',
      'bad-scope',
      'bad-deref-aliases',
      'bad-integer',
      'bad-boolean',
      'bad-filter',
      'filter-too-deep',
      'too-many-filter-nodes',
      'too-many-attributes',
      'bad-control',
      'too-many-controls',
    ];
    const reached = new Set<string>(cases.map((c) => c.reason));
    reached.add(decodeError(() => messageLength(hex('30 84 7f ff ff ff'), 0, 1 << 20)).reason);
    assert.deepEqual([...reached].sort(), [...all].sort());
  });

  it('error messages never carry the bytes of a value (a password stays out of logs)', () => {
    const secret = 'hunter2-secret';
    for (const bytes of [
      message(1, tlv(0x60, int(3), octets(''), str(0x80, secret), octets('x'))),
      message(1, tlv(0x60, int(3), octets(''), str(0x80, secret)), tlv(0xa0, control(''))),
      message(1, tlv(0x60, int(300), octets(''), str(0x80, secret))),
    ]) {
      const e = decodeError(() => decodeRequest(bytes));
      assert.ok(!e.message.includes(secret) && !e.message.includes(Buffer.from(secret).toString('hex')), e.message);
    }
  });
});

describe('ldap codec: decodeResponse refuses malformed answers', () => {
  it('requests, unknown tags, and a broken entry', () => {
    const cases: [Buffer, LdapDecodeReason][] = [
      [LDAPSEARCH_SIMPLE_BIND, 'bad-protocol-op'],
      [message(1, tlv(0x73, octets('ldap://x'))), 'bad-protocol-op'], // a search reference: not used here
      [message(1, tlv(0x64, octets('cn=x'), tlv(0x30, tlv(0x30, octets('cn'), tlv(0x30))))), 'unexpected-tag'], // vals not a SET
      [message(1, tlv(0x65, int(0, 0x0a), octets(''))), 'missing-element'],
      [message(1, tlv(0x65, int(0, 0x0a), octets(''), octets(''), octets('x'))), 'trailing-bytes'],
    ];
    for (const [bytes, reason] of cases) {
      const e = decodeError(() => decodeResponse(bytes));
      assert.equal(e.reason, reason, e.message);
      assert.equal(e.messageId, 1);
    }
  });

  it('skips a referral and serverSaslCreds', () => {
    const bytes = message(3, tlv(0x61, int(0x0e, 0x0a), octets(''), octets(''), tlv(0xa3, octets('ldap://x')), str(0x87, 'challenge')));
    assert.deepEqual(decodeResponse(bytes), { op: 'bindResponse', messageId: 3, result: { code: 14, matchedDN: '', message: '' } });
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzz

/** Filters nested `depth` deep (and / or / not at random) around a present filter, built inside out in O(depth). */
function nestedFilter(rng: Rng, depth: number): Buffer {
  const headers: Buffer[] = [];
  let length = PRESENT.length;
  for (let i = 0; i < depth; i++) {
    const n = length;
    const len =
      n < 0x80 ? [n] : n <= 0xff ? [0x81, n] : n <= 0xffff ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
    const header = Buffer.from([rng.pick([0xa0, 0xa1, 0xa2]), ...len]);
    headers.push(header);
    length += header.length;
  }
  return Buffer.concat([...headers.reverse(), PRESENT]);
}

function randomFilter(rng: Rng, depth: number): Filter {
  const s = (): string => rng.pick(['', 'a', 'uid', 'Zoë', 'x'.repeat(rng.int(200))]);
  switch (depth > 4 ? rng.int(6) : rng.int(9)) {
    case 0:
      return { type: 'present', attribute: s() };
    case 1:
      return { type: 'equality', attribute: s(), value: s() };
    case 2:
      return { type: rng.pick(['ge', 'le', 'approx'] as const), attribute: s(), value: s() };
    case 3: {
      const initial = rng.chance(0.5) ? s() : null;
      const final = rng.chance(0.5) ? s() : null;
      const any = Array.from({ length: rng.int(3) }, s);
      // At least one part: a substrings filter without any is malformed.
      return {
        type: 'substrings',
        attribute: s(),
        initial,
        any: initial === null && final === null && any.length === 0 ? ['x'] : any,
        final,
      };
    }
    case 4:
    case 5:
      return { type: 'extensible', matchingRule: rng.chance(0.5) ? s() : null, attribute: 'cn', value: s(), dnAttributes: rng.chance(0.5) };
    case 6:
      return { type: 'not', filter: randomFilter(rng, depth + 1) };
    default:
      return { type: rng.pick(['and', 'or'] as const), filters: Array.from({ length: rng.int(4) }, () => randomFilter(rng, depth + 1)) };
  }
}

function randomRequest(rng: Rng): LdapRequest {
  const controls = Array.from({ length: rng.int(3) }, () => ({
    oid: rng.pick([ControlOid.pagedResults, ControlOid.passwordPolicy, '1.2.3']),
    critical: rng.chance(0.3),
    value: rng.chance(0.5) ? null : encodePagedResults(rng.int(1000), rng.bytes(rng.int(10))),
  }));
  const messageId = rng.chance(0.1) ? 2147483647 : rng.int(300);
  if (rng.chance(0.8)) {
    return {
      op: 'search',
      messageId,
      controls,
      baseObject: BASE,
      scope: rng.pick(['base', 'one', 'sub'] as const),
      derefAliases: rng.int(4),
      sizeLimit: rng.int(1000),
      timeLimit: rng.int(100),
      typesOnly: rng.chance(0.2),
      filter: randomFilter(rng, 1),
      attributes: Array.from({ length: rng.int(12) }, () => rng.pick(['uid', 'uidNumber', '*', '+', '1.1'])),
    };
  }
  return { op: 'bind', messageId, controls, version: 3, name: ALICE, auth: { type: 'simple', password: rng.bytes(rng.int(20)) } };
}

/** One hostile variant of `base`: bytes flipped, length-like bytes planted, cut, extended or spliced. */
function mutate(rng: Rng, base: Buffer): Buffer {
  let buf = Buffer.from(base);
  const edits = 1 + rng.int(4);
  for (let k = 0; k < edits && buf.length > 0; k++) {
    const at = rng.int(buf.length);
    switch (rng.int(6)) {
      case 0:
        buf[at] = rng.int(256);
        break;
      case 1:
        // A length-ish byte: short, long forms, indefinite, reserved.
        buf[at] = rng.pick([0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xff]);
        break;
      case 2:
        buf = buf.subarray(0, at);
        break;
      case 3:
        buf = Buffer.concat([buf.subarray(0, at), rng.bytes(1 + rng.int(6)), buf.subarray(at)]);
        break;
      case 4:
        // A tag-ish byte from the LDAP grammar.
        buf[at] = rng.pick([
          0x01, 0x02, 0x04, 0x0a, 0x30, 0x31, 0x42, 0x50, 0x60, 0x63, 0x77, 0x80, 0x87, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa9,
        ]);
        break;
      default:
        // Duplicate a slice (nests or repeats structures).
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(rng.int(buf.length)), buf.subarray(at)]);
    }
  }
  return buf;
}

describe('ldap codec: fuzz', () => {
  it('20,000 random and mutated requests: only LdapDecodeError, bounded time, and what decodes round-trips', { timeout: 120_000 }, () => {
    const rng = new Rng(0x1da9c0de);
    const seeds = [...REAL_CLIENT_FIXTURES, ...Array.from({ length: 40 }, () => encodeRequest(randomRequest(rng)))];
    const counts: Record<string, number> = { ok: 0 };
    let slowest = 0;
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) {
      let buf: Buffer;
      const kind = i % 10;
      if (kind === 0) {
        // Random bytes behind a plausible envelope header, so the decoder gets past the first byte.
        const body = rng.bytes(rng.int(300));
        buf = Buffer.concat([tlv(0x30, int(rng.int(100)), body.subarray(0, rng.int(body.length + 1)))]);
      } else if (kind === 1) {
        // Filters nested thousands deep (up to 10,000), with valid lengths.
        buf = message(1, searchOp({ filter: nestedFilter(rng, rng.chance(0.1) ? 10_000 : rng.int(2_000)) }));
        if (rng.chance(0.3)) buf = mutate(rng, buf);
      } else if (kind === 2) {
        // A fresh random valid request, maybe mutated.
        buf = encodeRequest(randomRequest(rng));
        if (rng.chance(0.7)) buf = mutate(rng, buf);
      } else {
        buf = mutate(rng, rng.pick(seeds));
      }

      const t0 = performance.now();
      try {
        const n = messageLength(buf, 0, 1 << 20);
        assert.ok(n === null || (n > 0 && n <= buf.length), `case ${i}: messageLength ${n}`);
      } catch (e) {
        assert.ok(e instanceof LdapDecodeError, `case ${i}: messageLength threw ${String(e)}`);
      }
      try {
        decodeResponse(buf);
      } catch (e) {
        assert.ok(e instanceof LdapDecodeError, `case ${i}: decodeResponse threw ${String(e)} on ${buf.toString('hex').slice(0, 200)}`);
      }
      let request: LdapRequest;
      try {
        request = decodeRequest(buf);
      } catch (e) {
        assert.ok(e instanceof LdapDecodeError, `case ${i}: threw ${String(e)} on ${buf.toString('hex').slice(0, 200)}`);
        counts[e.reason] = (counts[e.reason] ?? 0) + 1;
        slowest = Math.max(slowest, performance.now() - t0);
        continue;
      }
      slowest = Math.max(slowest, performance.now() - t0);
      counts.ok++;
      assert.deepEqual(decodeRequest(encodeRequest(request)), request, `case ${i}: round trip`);
    }
    const elapsed = performance.now() - started;
    console.log(`# ldap fuzz: ${Math.round(elapsed)} ms, slowest case ${slowest.toFixed(1)} ms, ${JSON.stringify(counts)}`);
    // Generous bounds for a shared 2-core machine: the whole run takes about 2 s here.
    assert.ok(elapsed < 60_000, `fuzz took ${elapsed} ms`);
    assert.ok(slowest < 1_000, `slowest case ${slowest} ms`);
    // The fuzzer reaches both the valid paths and the deep checks.
    assert.ok(counts.ok > 1000, `only ${counts.ok} valid`);
    for (const reason of [
      'filter-too-deep',
      'bad-filter',
      'truncated',
      'bad-length',
      'trailing-bytes',
      'bad-control',
      'unexpected-tag',
      'bad-protocol-op',
    ]) {
      assert.ok((counts[reason] ?? 0) > 0, `reason ${reason} never reached`);
    }
  });

  it('5,000 random buffers and offsets through messageLength: a length only when every byte is there', () => {
    const rng = new Rng(0x0f4a3e11);
    for (let i = 0; i < 5000; i++) {
      const buf = rng.bytes(rng.int(12));
      if (buf.length > 0 && rng.chance(0.8)) buf[0] = 0x30;
      if (buf.length > 1 && rng.chance(0.5)) buf[1] = rng.pick([0x03, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x85, 0xff]);
      const offset = rng.chance(0.8) ? 0 : rng.int(buf.length + 2);
      const max = rng.pick([4, 16, 1 << 20]);
      try {
        const n = messageLength(buf, offset, max);
        if (n !== null) {
          assert.ok(n >= 2 && n <= max && offset + n <= buf.length, `case ${i}`);
          assert.equal(messageLength(buf.subarray(0, offset + n - 1), offset, max), null, `case ${i}: one byte short`);
        }
      } catch (e) {
        assert.ok(e instanceof LdapDecodeError, `case ${i}: threw ${String(e)}`);
        assert.ok(['not-a-sequence', 'bad-length', 'too-large'].includes(e.reason), e.reason);
      }
    }
  });
});
