/**
 * LDAPv3 message codec (RFC 4511 §4 messages, §5.1 BER subset) on @ldapjs/asn1's BerReader and
 * BerWriter: bytes in, LdapRequest out (server side), LdapResponse in, bytes out; and the inverse
 * pair (encodeRequest, decodeResponse) for test clients, the fuzzer and benchmarks.
 *
 * Pure: no sockets, no clock, no logging. Error messages name tags, offsets and lengths, never the
 * bytes of a value, so an error can be logged without leaking a password.
 *
 * Why our own codec and not @ldapjs/messages or ldapjs: they lower-case attribute names (nslcd
 * asks `uidNumber` and must get `uidNumber` back), give the scope as a number, and throw on the
 * empty password-policy control nslcd's PAM bind sends (docs/test-lab.md, "LDAP clients").
 *
 * Framing: `messageLength` is the TCP server's stream framer. It reads only the envelope's tag and
 * length, answers null until the whole message is in the buffer, and refuses a message larger
 * than `maxBytes` as soon as its length is known, before its bytes arrive.
 *
 * What decode rejects (`LdapDecodeError.reason`, stable names for logs and metrics)
 * -------------------------------------------------------------------------------
 *   too-large              the envelope declares more than maxBytes (messageLength only)
 *   not-a-sequence         the first byte is not 0x30 (the LDAPMessage SEQUENCE)
 *   bad-length             an indefinite length (0x80; RFC 4511 §5.1 allows definite only), more
 *                          than 4 length bytes, or a length of 2^31 or more
 *   truncated              an element's length runs past its enclosing element or the buffer
 *   trailing-bytes         bytes after the message, after the last element of a structure, or
 *                          inside an unbind's NULL
 *   missing-element        a required element is absent: its enclosing structure ended first
 *   unexpected-tag         an element whose tag the grammar does not allow there
 *   bad-message-id         messageID absent, not an INTEGER, not 1..4 bytes, or negative
 *   bad-protocol-op        no protocolOp, or a tag that is not a request (responses included)
 *   bad-version            bind version not an INTEGER in 1..127
 *   bad-auth-choice        bind authentication neither simple [0] nor sasl [3]
 *   bad-scope              search scope not an ENUMERATED 0..2
 *   bad-deref-aliases      search derefAliases not an ENUMERATED 0..3
 *   bad-integer            another INTEGER (sizeLimit, timeLimit, abandon's ID, resultCode) not
 *                          1..4 bytes or out of 0..2^31-1
 *   bad-boolean            a BOOLEAN whose content is not exactly one byte
 *   bad-filter             a malformed filter: unknown choice, an element missing or misplaced,
 *                          substrings with no part or parts out of order (initial first, final
 *                          last, each once), an extensible match with neither matchingRule nor type
 *   filter-too-deep        filters nested more than LDAP_MAX_FILTER_DEPTH (32) deep
 *   too-many-filter-nodes  more than LDAP_MAX_FILTER_NODES (1024) filters and substring parts
 *   too-many-attributes    more than LDAP_MAX_ATTRIBUTES (256) attribute selectors in a search
 *   bad-control            a malformed control (not a SEQUENCE, empty controlType, bad
 *                          criticality or value, extra elements), or a bad paged-results value
 *   too-many-controls      more than LDAP_MAX_CONTROLS (32) controls on one message
 * `messageId` is set on the error once the envelope and its messageID decoded, and `responseOp`
 * once the request's type is known, so the server can answer that request with protocolError.
 * RFC 4511 §4.1.1 says a server SHOULD send a Notice of Disconnection and close for encoding
 * errors; OpenLDAP slapd 2.5 does so for broken BER (a length past its parent, an equality with
 * three elements, a response tag from a client) and answers a bind with version 0 or 2 with a
 * protocolError bindResponse, an unknown authentication choice with authMethodNotSupported (7).
 * The server chooses; the reasons above say which kind of error each is.
 *
 * The limits keep a hostile request cheap: a filter is decoded recursively, so its depth bounds the
 * stack; nodes and selectors bound the memory and the cost of matching the filter on every entry.
 * nslcd sends 3 to 5 filter nodes and about 12 attributes.
 *
 * Stricter than slapd 2.5 (measured against it; real clients send none of these): slapd evaluates
 * an unknown filter choice, substrings without parts or with initial after any, and an extensible
 * match with neither matchingRule nor type as Undefined (RFC 4511 §4.5.1.7: "the type of
 * filtering requested is not implemented") where this codec says bad-filter; it has no depth
 * limit; it accepts scope 3 (its "subordinate" extension), an empty controlType, a 2-byte BOOLEAN
 * and an element after the Controls, all refused here.
 *
 * Leniency (as OpenLDAP): empty `and` / `or` sets are accepted (RFC 4526 absolute true and false),
 * non-minimal length forms (0x81 0x05) are accepted, criticality FALSE may be explicit or absent,
 * an empty or absent controlValue is accepted (an empty one decodes as a 0-byte Buffer, an absent
 * one as null), and an empty substring part is kept as ''. Add, modify, delete, modify DN and
 * compare are checked for their envelope only (their content is skipped) and come out as
 * UnsupportedRequest with the tag of their response.
 *
 * Representation choices
 * ----------------------
 * - DNs, attribute descriptions, OIDs and assertion values decode as UTF-8 strings, exactly as sent
 *   (case kept; invalid UTF-8 becomes U+FFFD). Matching rules and DN syntax are the directory's
 *   business, not the codec's.
 * - Byte values (simple-bind password, SASL credentials, control values, extended values, the
 *   paged-results cookie) are COPIES, never views of the input: the server may reuse its receive
 *   buffer while a bcrypt check of the password is still running.
 * - On encode, an attribute value is a string (written as UTF-8) or a Buffer (written as is).
 *   Criticality FALSE is left out of encoded controls (DEFAULT FALSE). An empty `controls` array
 *   writes no Controls element. decodeResponse gives entry values as UTF-8 strings (it is a test
 *   client) and adds `controls` to a bindResponse or searchDone only when the message had some.
 *
 * What @ldapjs/asn1 2.0.0 does here, and what it does not
 * --------------------------------------------------------
 * Decoding walks the message with a BerReader: its readLength reads every element's length, its
 * readInt / readEnumeration / readBoolean read the numbers, its offset is the cursor. Defects
 * worked around (checked against its source, lib/ber/reader.js, and by the hostile tests):
 * - readLength shifts with `<<`, so a 4-byte length of 2^31 or more comes out NEGATIVE, and
 *   readString would then move the offset backwards (a loop that trusts it never ends).
 *   `header()` refuses negative lengths as bad-length.
 * - Nothing in BerReader checks an element against the length of the one enclosing it; `header()`
 *   checks every element against its parent's end.
 * - readString/readInt/readSequence throw a TypeError (`null.toString`) when the buffer ends where
 *   a tag is expected, and readInt throws one (`null.length`) when an integer runs past the end.
 *   `header()` checks tag and length first, so the library only ever reads valid elements.
 * - readInt and readEnumeration read a 0-byte integer as 0 and silently wrap integers over 4
 *   bytes; readBoolean accepts any content length. The callers here check content lengths first.
 * - readLength throws plain Errors (indefinite length, over 4 length bytes): wrapped as bad-length.
 * - Not a defect but a cost: readString makes a Buffer view per string and parses the header a
 *   second time. String contents are read straight from the message buffer instead (the nslcd
 *   search decodes about 1.45 times as fast; bench/ldap-codec.bench.ts).
 * Encoding requests (the test-client side) and paged-results values uses BerWriter. Responses,
 * which the server writes once per entry, are sized first and written into one exact-size buffer
 * by `Out` (below): BerWriter zeroes a fresh buffer per message, moves each sequence's content when
 * the sequence ends, and writes every string with its own native call; `Out` is about 2.3 times
 * as fast on a 12-attribute entry, and the tests check its bytes against BerWriter's.
 *
 * Performance: decode is one pass; it allocates the request object, its strings and arrays, and
 * one BerReader. Encode allocates one buffer per message (from Node's pool), and nothing else.
 */
import { BerReader, BerWriter } from '@ldapjs/asn1';
import {
  type Control,
  ExtendedOid,
  type EntryAttribute,
  type Filter,
  type LdapRequest,
  type LdapResponse,
  type LdapResult,
  type ResultCodeValue,
  type Scope,
} from './ldap.types';

// ---------------------------------------------------------------------------------------------
// Constants

/** RFC 4511 §4.1.1 maxInt: message IDs, limits and sizes are 0..maxInt. */
export const LDAP_MAX_INT = 2147483647;
/** Deepest filter nesting accepted (a top-level filter is depth 1). */
export const LDAP_MAX_FILTER_DEPTH = 32;
/** Most filters (and substring parts) in one search. */
export const LDAP_MAX_FILTER_NODES = 1024;
/** Most attribute selectors in one search. */
export const LDAP_MAX_ATTRIBUTES = 256;
/** Most controls on one message. */
export const LDAP_MAX_CONTROLS = 32;

/** BER tags (RFC 4511 Appendix B: [APPLICATION n] is 0x40 | n, constructed adds 0x20). */
const Tag = {
  boolean: 0x01,
  integer: 0x02,
  octetString: 0x04,
  enumerated: 0x0a,
  sequence: 0x30,
  set: 0x31,
  controls: 0xa0, // [0] Controls in LDAPMessage
  bindRequest: 0x60,
  bindResponse: 0x61,
  unbindRequest: 0x42,
  searchRequest: 0x63,
  searchResEntry: 0x64,
  searchResDone: 0x65,
  modifyRequest: 0x66,
  addRequest: 0x68,
  delRequest: 0x4a,
  modDNRequest: 0x6c,
  compareRequest: 0x6e,
  abandonRequest: 0x50,
  extendedRequest: 0x77,
  extendedResponse: 0x78,
  authSimple: 0x80, // [0] OCTET STRING
  authSasl: 0xa3, // [3] SaslCredentials
  serverSaslCreds: 0x87, // [7] in BindResponse
  referral: 0xa3, // [3] in LDAPResult
  requestName: 0x80, // [0] in ExtendedRequest
  requestValue: 0x81, // [1]
  responseName: 0x8a, // [10] in ExtendedResponse
  responseValue: 0x8b, // [11]
  and: 0xa0,
  or: 0xa1,
  not: 0xa2,
  equality: 0xa3,
  substrings: 0xa4,
  ge: 0xa5,
  le: 0xa6,
  present: 0x87,
  approx: 0xa8,
  extensible: 0xa9,
  subInitial: 0x80,
  subAny: 0x81,
  subFinal: 0x82,
  mrRule: 0x81,
  mrType: 0x82,
  mrValue: 0x83,
  mrDnAttributes: 0x84,
} as const;

/** Request tags answered with an error, and the [APPLICATION n] of the answer (RFC 4511 §4.6–4.10). */
const UNSUPPORTED: Readonly<Record<number, { protocolOp: number; responseOp: number }>> = {
  [Tag.modifyRequest]: { protocolOp: 6, responseOp: 7 },
  [Tag.addRequest]: { protocolOp: 8, responseOp: 9 },
  [Tag.delRequest]: { protocolOp: 10, responseOp: 11 },
  [Tag.modDNRequest]: { protocolOp: 12, responseOp: 13 },
  [Tag.compareRequest]: { protocolOp: 14, responseOp: 15 },
};
/** The responseOps a `result` response may carry: the answers to UNSUPPORTED requests. */
const RESULT_RESPONSE_OPS: readonly number[] = [7, 9, 11, 13, 15];

const SCOPES: readonly Scope[] = ['base', 'one', 'sub'];

// ---------------------------------------------------------------------------------------------
// Errors

export type LdapDecodeReason =
  | 'too-large'
  | 'not-a-sequence'
  | 'bad-length'
  | 'truncated'
  | 'trailing-bytes'
  | 'missing-element'
  | 'unexpected-tag'
  | 'bad-message-id'
  | 'bad-protocol-op'
  | 'bad-version'
  | 'bad-auth-choice'
  | 'bad-scope'
  | 'bad-deref-aliases'
  | 'bad-integer'
  | 'bad-boolean'
  | 'bad-filter'
  | 'filter-too-deep'
  | 'too-many-filter-nodes'
  | 'too-many-attributes'
  | 'bad-control'
  | 'too-many-controls';

/**
 * Malformed input. `reason` is a stable code for logs and metrics; `messageId` is the message's ID
 * when its envelope decoded (else null); `offset` is where in the buffer the problem was found;
 * `responseOp` is the [APPLICATION n] tag number of the response that answers the request
 * (1 bind, 5 search, 24 extended, 7 / 9 / 11 / 13 / 15 for the unsupported operations) when its
 * protocolOp tag was read, else null (also for unbind and abandon, which get no response).
 */
export class LdapDecodeError extends Error {
  override readonly name = 'LdapDecodeError';
  constructor(
    readonly reason: LdapDecodeReason,
    readonly messageId: number | null,
    readonly offset: number,
    message: string,
    readonly responseOp: number | null = null,
  ) {
    super(`${reason}: ${message}`);
  }
}

export type LdapEncodeReason = 'bad-message-id' | 'bad-integer' | 'bad-response-op' | 'bad-protocol-op' | 'too-large';

/** A message bramble itself asked to build wrongly (a bug, never client input). */
export class LdapEncodeError extends Error {
  override readonly name = 'LdapEncodeError';
  constructor(
    readonly reason: LdapEncodeReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}

function hex(tag: number): string {
  return `0x${tag.toString(16).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Framing

/**
 * The size in bytes (tag + length + content) of the LDAPMessage starting at `offset`, or null while
 * the buffer does not yet hold all of it. Throws 'not-a-sequence' when the first byte is not 0x30,
 * 'bad-length' for an indefinite or over-long length form, and 'too-large' as soon as the length
 * says the message is over `maxBytes` in all, without waiting for its bytes.
 *
 * The header is read here by hand, not with BerReader: the framer runs on every chunk received,
 * must tell "not enough bytes yet" (null) from malformed, and must read lengths ≥ 2^31 as the
 * large numbers they are (see the file comment).
 */
export function messageLength(buffer: Buffer, offset: number, maxBytes: number): number | null {
  const n = buffer.length;
  if (offset >= n) return null;
  if (buffer[offset] !== Tag.sequence) {
    throw new LdapDecodeError('not-a-sequence', null, offset, `first byte ${hex(buffer[offset])}, an LDAPMessage starts with 0x30`);
  }
  if (offset + 1 >= n) return null;
  const first = buffer[offset + 1];
  let header = 2;
  let length = first;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0) throw new LdapDecodeError('bad-length', null, offset + 1, 'indefinite length');
    if (count > 4) throw new LdapDecodeError('bad-length', null, offset + 1, `${count} length bytes, at most 4`);
    if (offset + 2 + count > n) return null;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buffer[offset + 2 + i];
    header += count;
  }
  const total = header + length;
  if (total > maxBytes) throw new LdapDecodeError('too-large', null, offset, `a message of ${total} bytes, at most ${maxBytes}`);
  return offset + total <= n ? total : null;
}

// ---------------------------------------------------------------------------------------------
// Decode

/** One message's decoding state: the BerReader over it, its message ID once known, filter nodes seen. */
class Decoder {
  readonly ber: BerReader;
  messageId: number | null = null;
  /** The response tag number for the request being decoded, once its protocolOp tag is known. */
  responseOp: number | null = null;
  filterNodes = 0;
  /** Where the content of the element last checked by header() starts. */
  contentAt = 0;

  constructor(readonly buf: Buffer) {
    this.ber = new BerReader(buf);
  }

  fail(reason: LdapDecodeReason, at: number, detail: string): never {
    throw new LdapDecodeError(reason, this.messageId, at, detail, this.responseOp);
  }

  /**
   * Checks the element at the reader's offset: it exists before `end`, has tag `tag` (else
   * `reason`), a valid length, and ends by `end`. Returns its content length; the offset stays.
   */
  header(end: number, tag: number, reason: LdapDecodeReason): number {
    const at = this.ber.offset;
    if (at >= end) this.fail(reason === 'unexpected-tag' ? 'missing-element' : reason, at, `no element where ${hex(tag)} is required`);
    const found = this.buf[at];
    if (found !== tag) this.fail(reason, at, `tag ${hex(found)} where ${hex(tag)} is required`);
    let contentAt: number | null;
    try {
      contentAt = this.ber.readLength(at + 1);
    } catch {
      this.fail('bad-length', at + 1, `length form ${hex(this.buf[at + 1])}: indefinite or over 4 bytes`);
    }
    if (contentAt === null || contentAt > end) this.fail('truncated', at, `the length of ${hex(tag)} runs past the end`);
    const length = this.ber.length;
    if (length < 0) this.fail('bad-length', at + 1, `a length of 2^31 bytes or more`);
    if (length > end - contentAt) this.fail('truncated', at, `${length} content bytes of ${hex(tag)}, ${end - contentAt} left`);
    this.contentAt = contentAt;
    return length;
  }

  /** Enters the constructed element at the offset; returns the end of its content. */
  enter(end: number, tag: number, reason: LdapDecodeReason): number {
    const length = this.header(end, tag, reason);
    this.ber.setOffset(this.contentAt);
    return this.contentAt + length;
  }

  /** Steps over the element at the offset (content unchecked). */
  skip(end: number, tag: number, reason: LdapDecodeReason): void {
    const length = this.header(end, tag, reason);
    this.ber.setOffset(this.contentAt + length);
  }

  /** The structure ending at `end` must have been read to its end. */
  close(end: number, reason: LdapDecodeReason): void {
    const at = this.ber.offset;
    if (at !== end) this.fail(reason, at, `${end - at} bytes after the last element of a structure`);
  }

  /** A string element's content as UTF-8, read straight from the buffer (see the file comment). */
  string(end: number, tag: number, reason: LdapDecodeReason): string {
    const length = this.header(end, tag, reason);
    const start = this.contentAt;
    this.ber.setOffset(start + length);
    return this.buf.toString('utf8', start, start + length);
  }

  /** A copy of a string element's content. */
  bytes(end: number, tag: number, reason: LdapDecodeReason): Buffer {
    const length = this.header(end, tag, reason);
    const start = this.contentAt;
    this.ber.setOffset(start + length);
    const copy = Buffer.allocUnsafe(length);
    this.buf.copy(copy, 0, start, start + length);
    return copy;
  }

  /** An INTEGER (or ENUMERATED, or [APPLICATION n] INTEGER) of 1..4 bytes within min..max. */
  int(end: number, tag: number, reason: LdapDecodeReason, min: number, max: number, what: string): number {
    const at = this.ber.offset;
    const length = this.header(end, tag, reason);
    if (length < 1 || length > 4) this.fail(reason, at, `${what}: a ${length}-byte integer, 1 to 4 expected`);
    const value = tag === Tag.enumerated ? this.ber.readEnumeration() : this.ber.readInt(tag);
    if (value < min || value > max) this.fail(reason, at, `${what} ${value} outside ${min}..${max}`);
    return value;
  }

  bool(end: number, tag: number, reason: LdapDecodeReason): boolean {
    const at = this.ber.offset;
    const length = this.header(end, tag, reason);
    if (length !== 1) this.fail(reason, at, `a ${length}-byte BOOLEAN, 1 expected`);
    return this.ber.readBoolean(tag);
  }

  /** The LDAPMessage SEQUENCE spanning the whole buffer and its messageID; returns the content's end. */
  envelope(): number {
    const buf = this.buf;
    if (buf.length === 0) this.fail('truncated', 0, 'no bytes');
    if (buf[0] !== Tag.sequence) this.fail('not-a-sequence', 0, `first byte ${hex(buf[0])}, an LDAPMessage starts with 0x30`);
    const end = this.enter(buf.length, Tag.sequence, 'not-a-sequence');
    if (end !== buf.length) this.fail('trailing-bytes', end, `${buf.length - end} bytes after the message`);
    this.messageId = this.int(end, Tag.integer, 'bad-message-id', 0, LDAP_MAX_INT, 'messageID');
    return end;
  }

  /** Controls [0] after the protocolOp, if any; the message must end after them. */
  controls(end: number): Control[] {
    const controls: Control[] = [];
    if (this.ber.offset < end) {
      const listEnd = this.enter(end, Tag.controls, 'unexpected-tag');
      while (this.ber.offset < listEnd) {
        if (controls.length === LDAP_MAX_CONTROLS) this.fail('too-many-controls', this.ber.offset, `more than ${LDAP_MAX_CONTROLS}`);
        const controlEnd = this.enter(listEnd, Tag.sequence, 'bad-control');
        const oidAt = this.ber.offset;
        const oid = this.string(controlEnd, Tag.octetString, 'bad-control');
        if (oid.length === 0) this.fail('bad-control', oidAt, 'empty controlType');
        let critical = false;
        let value: Buffer | null = null;
        if (this.ber.offset < controlEnd && this.buf[this.ber.offset] === Tag.boolean) {
          critical = this.bool(controlEnd, Tag.boolean, 'bad-control');
        }
        if (this.ber.offset < controlEnd) value = this.bytes(controlEnd, Tag.octetString, 'bad-control');
        this.close(controlEnd, 'bad-control');
        controls.push({ oid, critical, value });
      }
    }
    this.close(end, 'trailing-bytes');
    return controls;
  }

  // --- requests ------------------------------------------------------------------------------

  request(): LdapRequest {
    const end = this.envelope();
    const messageId = this.messageId as number;
    const at = this.ber.offset;
    if (at >= end) this.fail('bad-protocol-op', at, 'no protocolOp');
    const tag = this.buf[at];
    let request: LdapRequest;
    switch (tag) {
      case Tag.bindRequest:
        this.responseOp = 1;
        request = this.bind(end, messageId);
        break;
      case Tag.unbindRequest: {
        const length = this.header(end, tag, 'bad-protocol-op');
        if (length !== 0) this.fail('trailing-bytes', at, `an unbind's NULL with ${length} content bytes`);
        this.skip(end, tag, 'bad-protocol-op');
        request = { op: 'unbind', messageId, controls: [] };
        break;
      }
      case Tag.searchRequest:
        this.responseOp = 5;
        request = this.search(end, messageId);
        break;
      case Tag.abandonRequest:
        request = { op: 'abandon', messageId, controls: [], abandonId: this.int(end, tag, 'bad-integer', 0, LDAP_MAX_INT, 'abandon ID') };
        break;
      case Tag.extendedRequest: {
        this.responseOp = 24;
        const opEnd = this.enter(end, tag, 'bad-protocol-op');
        const oid = this.string(opEnd, Tag.requestName, 'unexpected-tag');
        const value = this.ber.offset < opEnd ? this.bytes(opEnd, Tag.requestValue, 'unexpected-tag') : null;
        this.close(opEnd, 'trailing-bytes');
        request = { op: 'extended', messageId, controls: [], oid, value };
        break;
      }
      default: {
        const unsupported = UNSUPPORTED[tag];
        if (unsupported === undefined) this.fail('bad-protocol-op', at, `tag ${hex(tag)} is not a request`);
        this.responseOp = unsupported.responseOp;
        this.skip(end, tag, 'bad-protocol-op');
        request = { op: 'unsupported', messageId, controls: [], protocolOp: unsupported.protocolOp, responseOp: unsupported.responseOp };
      }
    }
    request.controls = this.controls(end);
    return request;
  }

  bind(end: number, messageId: number): LdapRequest {
    const opEnd = this.enter(end, Tag.bindRequest, 'bad-protocol-op');
    const version = this.int(opEnd, Tag.integer, 'bad-version', 1, 127, 'version');
    const name = this.string(opEnd, Tag.octetString, 'unexpected-tag');
    const at = this.ber.offset;
    if (at >= opEnd) this.fail('missing-element', at, 'no authentication choice');
    const choice = this.buf[at];
    let auth: { type: 'simple'; password: Buffer } | { type: 'sasl'; mechanism: string; credentials: Buffer | null };
    if (choice === Tag.authSimple) {
      auth = { type: 'simple', password: this.bytes(opEnd, Tag.authSimple, 'bad-auth-choice') };
    } else if (choice === Tag.authSasl) {
      const saslEnd = this.enter(opEnd, Tag.authSasl, 'bad-auth-choice');
      const mechanism = this.string(saslEnd, Tag.octetString, 'unexpected-tag');
      const credentials = this.ber.offset < saslEnd ? this.bytes(saslEnd, Tag.octetString, 'unexpected-tag') : null;
      this.close(saslEnd, 'trailing-bytes');
      auth = { type: 'sasl', mechanism, credentials };
    } else {
      this.fail('bad-auth-choice', at, `authentication choice ${hex(choice)}, simple 0x80 or sasl 0xa3 expected`);
    }
    this.close(opEnd, 'trailing-bytes');
    return { op: 'bind', messageId, controls: [], version, name, auth };
  }

  search(end: number, messageId: number): LdapRequest {
    const opEnd = this.enter(end, Tag.searchRequest, 'bad-protocol-op');
    const baseObject = this.string(opEnd, Tag.octetString, 'unexpected-tag');
    const scope = SCOPES[this.int(opEnd, Tag.enumerated, 'bad-scope', 0, 2, 'scope')];
    const derefAliases = this.int(opEnd, Tag.enumerated, 'bad-deref-aliases', 0, 3, 'derefAliases');
    const sizeLimit = this.int(opEnd, Tag.integer, 'bad-integer', 0, LDAP_MAX_INT, 'sizeLimit');
    const timeLimit = this.int(opEnd, Tag.integer, 'bad-integer', 0, LDAP_MAX_INT, 'timeLimit');
    const typesOnly = this.bool(opEnd, Tag.boolean, 'bad-boolean');
    this.filterNodes = 0;
    const filter = this.filter(opEnd, 1);
    const listEnd = this.enter(opEnd, Tag.sequence, 'unexpected-tag');
    const attributes: string[] = [];
    while (this.ber.offset < listEnd) {
      if (attributes.length === LDAP_MAX_ATTRIBUTES) this.fail('too-many-attributes', this.ber.offset, `more than ${LDAP_MAX_ATTRIBUTES}`);
      attributes.push(this.string(listEnd, Tag.octetString, 'unexpected-tag'));
    }
    this.close(opEnd, 'trailing-bytes');
    return { op: 'search', messageId, controls: [], baseObject, scope, derefAliases, sizeLimit, timeLimit, typesOnly, filter, attributes };
  }

  /** One filter (RFC 4511 §4.5.1.7) at `depth` (1 at the top). Recursion is bounded by the depth limit. */
  filter(end: number, depth: number): Filter {
    const at = this.ber.offset;
    if (depth > LDAP_MAX_FILTER_DEPTH) this.fail('filter-too-deep', at, `filters nested over ${LDAP_MAX_FILTER_DEPTH} deep`);
    if (++this.filterNodes > LDAP_MAX_FILTER_NODES) this.fail('too-many-filter-nodes', at, `over ${LDAP_MAX_FILTER_NODES} filter nodes`);
    if (at >= end) this.fail('bad-filter', at, 'a filter is missing');
    const tag = this.buf[at];
    switch (tag) {
      case Tag.and:
      case Tag.or: {
        const setEnd = this.enter(end, tag, 'bad-filter');
        const filters: Filter[] = [];
        // Each pass consumes a filter (at least 2 bytes) or throws; filter() counts nodes.
        while (this.ber.offset < setEnd) filters.push(this.filter(setEnd, depth + 1));
        return tag === Tag.and ? { type: 'and', filters } : { type: 'or', filters };
      }
      case Tag.not: {
        const notEnd = this.enter(end, tag, 'bad-filter');
        const filter = this.filter(notEnd, depth + 1);
        this.close(notEnd, 'bad-filter');
        return { type: 'not', filter };
      }
      case Tag.equality:
      case Tag.ge:
      case Tag.le:
      case Tag.approx: {
        const avaEnd = this.enter(end, tag, 'bad-filter');
        const attribute = this.string(avaEnd, Tag.octetString, 'bad-filter');
        const value = this.string(avaEnd, Tag.octetString, 'bad-filter');
        this.close(avaEnd, 'bad-filter');
        const type = tag === Tag.equality ? 'equality' : tag === Tag.ge ? 'ge' : tag === Tag.le ? 'le' : 'approx';
        return { type, attribute, value };
      }
      case Tag.present:
        return { type: 'present', attribute: this.string(end, tag, 'bad-filter') };
      case Tag.substrings:
        return this.substrings(end);
      case Tag.extensible:
        return this.extensible(end);
      default:
        this.fail('bad-filter', at, `filter choice ${hex(tag)}`);
    }
  }

  substrings(end: number): Filter {
    const filterEnd = this.enter(end, Tag.substrings, 'bad-filter');
    const attribute = this.string(filterEnd, Tag.octetString, 'bad-filter');
    const partsEnd = this.enter(filterEnd, Tag.sequence, 'bad-filter');
    const firstAt = this.ber.offset;
    if (firstAt >= partsEnd) this.fail('bad-filter', firstAt, 'substrings without a part');
    let initial: string | null = null;
    const any: string[] = [];
    let final: string | null = null;
    while (this.ber.offset < partsEnd) {
      const at = this.ber.offset;
      if (++this.filterNodes > LDAP_MAX_FILTER_NODES) this.fail('too-many-filter-nodes', at, `over ${LDAP_MAX_FILTER_NODES} filter nodes`);
      if (final !== null) this.fail('bad-filter', at, 'a substring part after final');
      const tag = this.buf[at];
      if (tag === Tag.subInitial) {
        if (at !== firstAt) this.fail('bad-filter', at, 'initial is not the first substring part');
        initial = this.string(partsEnd, tag, 'bad-filter');
      } else if (tag === Tag.subAny) {
        any.push(this.string(partsEnd, tag, 'bad-filter'));
      } else if (tag === Tag.subFinal) {
        final = this.string(partsEnd, tag, 'bad-filter');
      } else {
        this.fail('bad-filter', at, `substring choice ${hex(tag)}`);
      }
    }
    this.close(filterEnd, 'bad-filter');
    return { type: 'substrings', attribute, initial, any, final };
  }

  extensible(end: number): Filter {
    const at = this.ber.offset;
    const filterEnd = this.enter(end, Tag.extensible, 'bad-filter');
    let matchingRule: string | null = null;
    let attribute: string | null = null;
    let dnAttributes = false;
    if (this.ber.offset < filterEnd && this.buf[this.ber.offset] === Tag.mrRule)
      matchingRule = this.string(filterEnd, Tag.mrRule, 'bad-filter');
    if (this.ber.offset < filterEnd && this.buf[this.ber.offset] === Tag.mrType)
      attribute = this.string(filterEnd, Tag.mrType, 'bad-filter');
    const value = this.string(filterEnd, Tag.mrValue, 'bad-filter');
    if (this.ber.offset < filterEnd) dnAttributes = this.bool(filterEnd, Tag.mrDnAttributes, 'bad-filter');
    this.close(filterEnd, 'bad-filter');
    // RFC 4511 §4.5.1.7.7: "If the matchingRule field is absent, the type field MUST be present".
    if (matchingRule === null && attribute === null) this.fail('bad-filter', at, 'extensible match with neither matchingRule nor type');
    return { type: 'extensible', matchingRule, attribute, value, dnAttributes };
  }

  // --- responses (the client side) -----------------------------------------------------------

  response(): LdapResponse {
    const end = this.envelope();
    const messageId = this.messageId as number;
    const at = this.ber.offset;
    if (at >= end) this.fail('bad-protocol-op', at, 'no protocolOp');
    const tag = this.buf[at];
    switch (tag) {
      case Tag.bindResponse:
      case Tag.searchResDone: {
        const opEnd = this.enter(end, tag, 'bad-protocol-op');
        const result = this.result(opEnd);
        if (tag === Tag.bindResponse && this.ber.offset < opEnd) this.skip(opEnd, Tag.serverSaslCreds, 'unexpected-tag');
        this.close(opEnd, 'trailing-bytes');
        const controls = this.controls(end);
        const op = tag === Tag.bindResponse ? 'bindResponse' : 'searchDone';
        return controls.length > 0 ? { op, messageId, result, controls } : { op, messageId, result };
      }
      case Tag.searchResEntry: {
        const opEnd = this.enter(end, tag, 'bad-protocol-op');
        const dn = this.string(opEnd, Tag.octetString, 'unexpected-tag');
        const listEnd = this.enter(opEnd, Tag.sequence, 'unexpected-tag');
        const attributes: EntryAttribute[] = [];
        while (this.ber.offset < listEnd) {
          const attributeEnd = this.enter(listEnd, Tag.sequence, 'unexpected-tag');
          const type = this.string(attributeEnd, Tag.octetString, 'unexpected-tag');
          const setEnd = this.enter(attributeEnd, Tag.set, 'unexpected-tag');
          const values: string[] = [];
          while (this.ber.offset < setEnd) values.push(this.string(setEnd, Tag.octetString, 'unexpected-tag'));
          this.close(attributeEnd, 'trailing-bytes');
          attributes.push({ type, values });
        }
        this.close(opEnd, 'trailing-bytes');
        this.controls(end);
        return { op: 'searchEntry', messageId, dn, attributes };
      }
      case Tag.extendedResponse: {
        const opEnd = this.enter(end, tag, 'bad-protocol-op');
        const response: LdapResponse = { op: 'extendedResponse', messageId, result: this.result(opEnd) };
        if (this.ber.offset < opEnd && this.buf[this.ber.offset] === Tag.responseName) {
          response.oid = this.string(opEnd, Tag.responseName, 'unexpected-tag');
        }
        if (this.ber.offset < opEnd) response.value = this.bytes(opEnd, Tag.responseValue, 'unexpected-tag');
        this.close(opEnd, 'trailing-bytes');
        this.controls(end);
        return response;
      }
      default: {
        const responseOp = tag & 0x1f;
        if ((tag & 0xe0) !== 0x60 || !RESULT_RESPONSE_OPS.includes(responseOp)) this.fail('bad-protocol-op', at, `tag ${hex(tag)}`);
        const opEnd = this.enter(end, tag, 'bad-protocol-op');
        const result = this.result(opEnd);
        this.close(opEnd, 'trailing-bytes');
        this.controls(end);
        return { op: 'result', responseOp, messageId, result };
      }
    }
  }

  /** The LDAPResult fields (RFC 4511 §4.1.9); a referral is skipped. */
  result(end: number): LdapResult {
    // A client may see codes the server-side ResultCode table does not list: kept as numbers.
    const code = this.int(end, Tag.enumerated, 'bad-integer', 0, LDAP_MAX_INT, 'resultCode') as ResultCodeValue;
    const matchedDN = this.string(end, Tag.octetString, 'unexpected-tag');
    const message = this.string(end, Tag.octetString, 'unexpected-tag');
    if (this.ber.offset < end && this.buf[this.ber.offset] === Tag.referral) this.skip(end, Tag.referral, 'unexpected-tag');
    return { code, matchedDN, message };
  }
}

/** Decodes one whole LDAPMessage sent by a client. Throws LdapDecodeError (only) on malformed input. */
export function decodeRequest(message: Buffer): LdapRequest {
  return new Decoder(message).request();
}

/** Decodes one whole LDAPMessage sent by a server (test clients). Throws LdapDecodeError on malformed input. */
export function decodeResponse(message: Buffer): LdapResponse {
  return new Decoder(message).response();
}

// ---------------------------------------------------------------------------------------------
// Encode: responses, sized first, then written into one exact-size buffer

/** Bytes of a BER definite length for `n` content bytes (the forms BerWriter.writeLength uses). */
function lengthSize(n: number): number {
  if (n < 0x80) return 1;
  if (n <= 0xff) return 2;
  if (n <= 0xffff) return 3;
  if (n <= 0xffffff) return 4;
  throw new LdapEncodeError('too-large', `an element of ${n} bytes; lengths stop at 0xffffff (16 MiB)`);
}

/** Bytes of a whole element with `n` content bytes. */
function tlv(n: number): number {
  return 1 + lengthSize(n) + n;
}

/** Content bytes of INTEGER `v`: the shortest two's complement, 1..4 (as BerWriter.writeInt). */
function intSize(v: number): number {
  if (v >= -0x80 && v < 0x80) return 1;
  if (v >= -0x8000 && v < 0x8000) return 2;
  if (v >= -0x800000 && v < 0x800000) return 3;
  return 4;
}

/** Strings up to this many characters are sized and copied in JS when ASCII (faster than a native call). */
const SHORT_STRING = 64;

/** UTF-8 byte length of `s`. Equal to `s.length` exactly when `s` is all ASCII. */
function utf8Length(s: string): number {
  const n = s.length;
  if (n > SHORT_STRING) return Buffer.byteLength(s);
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s);
  return n;
}

function checkInt(v: number, reason: LdapEncodeReason, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > LDAP_MAX_INT) throw new LdapEncodeError(reason, `${what} ${v} is not in 0..${LDAP_MAX_INT}`);
}

/**
 * A BER writer over one buffer of a size computed beforehand (Buffer.allocUnsafe: from Node's
 * pool, not zeroed; every byte is written). Used for responses instead of BerWriter, which zeroes
 * a fresh buffer per message and writes each string with its own native call: on the 12-attribute
 * entry of bench/ldap-codec.bench.ts, BerWriter (sized exactly, no sequence moves) encoded about
 * 170,000 entries/s and this about 2.3 times as many. The tests check its bytes against BerWriter's.
 */
class Out {
  readonly buf: Buffer;
  at = 0;

  constructor(readonly size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  header(tag: number, length: number): void {
    const buf = this.buf;
    buf[this.at++] = tag;
    if (length < 0x80) {
      buf[this.at++] = length;
    } else if (length <= 0xff) {
      buf[this.at++] = 0x81;
      buf[this.at++] = length;
    } else if (length <= 0xffff) {
      buf[this.at++] = 0x82;
      buf[this.at++] = length >>> 8;
      buf[this.at++] = length & 0xff;
    } else {
      buf[this.at++] = 0x83; // lengthSize() refused anything over 0xffffff while sizing
      buf[this.at++] = length >>> 16;
      buf[this.at++] = (length >>> 8) & 0xff;
      buf[this.at++] = length & 0xff;
    }
  }

  /** A string element whose content is `byteLength` (= utf8Length(s)) bytes. */
  string(tag: number, s: string, byteLength: number): void {
    this.header(tag, byteLength);
    if (byteLength === s.length && byteLength <= SHORT_STRING) {
      const buf = this.buf;
      for (let i = 0; i < byteLength; i++) buf[this.at++] = s.charCodeAt(i);
    } else {
      this.at += this.buf.write(s, this.at, byteLength, 'utf8');
    }
  }

  bytes(tag: number, b: Buffer): void {
    this.header(tag, b.length);
    this.at += b.copy(this.buf, this.at);
  }

  /** INTEGER or ENUMERATED `v` (0..maxInt, checked by the caller). */
  int(tag: number, v: number): void {
    const n = intSize(v);
    this.header(tag, n);
    for (let shift = 8 * (n - 1); shift >= 0; shift -= 8) this.buf[this.at++] = (v >>> shift) & 0xff;
  }

  /** The bytes, which must fill exactly the size computed for them. */
  done(): Buffer {
    if (this.at !== this.size) throw new Error(`ldap.codec: wrote ${this.at} bytes, sized ${this.size}`); // a bug here, never input
    return this.buf;
  }
}

function controlSize(c: Control): number {
  return tlv(utf8Length(c.oid)) + (c.critical ? 3 : 0) + (c.value !== null ? tlv(c.value.length) : 0);
}

/** An LDAPResult-based response: bindResponse, searchResDone, extendedResponse or another [APPLICATION n]. */
function encodeResult(
  messageId: number,
  opTag: number,
  result: LdapResult,
  controls: readonly Control[] | undefined,
  oid: string | undefined,
  value: Buffer | undefined,
): Buffer {
  checkInt(messageId, 'bad-message-id', 'messageID');
  checkInt(result.code, 'bad-integer', 'resultCode');
  const dnLength = utf8Length(result.matchedDN);
  const messageLength = utf8Length(result.message);
  const oidLength = oid !== undefined ? utf8Length(oid) : 0;
  let opSize = 2 + intSize(result.code) + tlv(dnLength) + tlv(messageLength);
  if (oid !== undefined) opSize += tlv(oidLength);
  if (value !== undefined) opSize += tlv(value.length);
  let controlsSize = 0;
  const withControls = controls !== undefined && controls.length > 0;
  if (withControls) for (const c of controls) controlsSize += tlv(controlSize(c));
  const messageSize = 2 + intSize(messageId) + tlv(opSize) + (withControls ? tlv(controlsSize) : 0);
  const out = new Out(tlv(messageSize));
  out.header(Tag.sequence, messageSize);
  out.int(Tag.integer, messageId);
  out.header(opTag, opSize);
  out.int(Tag.enumerated, result.code);
  out.string(Tag.octetString, result.matchedDN, dnLength);
  out.string(Tag.octetString, result.message, messageLength);
  if (oid !== undefined) out.string(Tag.responseName, oid, oidLength);
  if (value !== undefined) out.bytes(Tag.responseValue, value);
  if (withControls) {
    out.header(Tag.controls, controlsSize);
    for (const c of controls) {
      out.header(Tag.sequence, controlSize(c));
      out.string(Tag.octetString, c.oid, utf8Length(c.oid));
      if (c.critical) {
        out.header(Tag.boolean, 1);
        out.buf[out.at++] = 0xff;
      }
      if (c.value !== null) out.bytes(Tag.octetString, c.value);
    }
  }
  return out.done();
}

/**
 * Sizes computed while sizing an entry, read back in the same order while writing it: per
 * attribute its SEQUENCE size, its SET size, its type's length, then each string value's length.
 * Reused between calls (encoding never re-enters).
 */
const entrySizes: number[] = [];

function encodeEntry(messageId: number, dn: string, attributes: readonly EntryAttribute[]): Buffer {
  checkInt(messageId, 'bad-message-id', 'messageID');
  let k = 0;
  let listSize = 0;
  for (const a of attributes) {
    const slot = k;
    k += 2;
    const typeLength = utf8Length(a.type);
    entrySizes[k++] = typeLength;
    let setSize = 0;
    for (const v of a.values) {
      if (typeof v === 'string') {
        const n = utf8Length(v);
        entrySizes[k++] = n;
        setSize += tlv(n);
      } else {
        setSize += tlv(v.length);
      }
    }
    const attributeSize = tlv(typeLength) + tlv(setSize);
    entrySizes[slot] = attributeSize;
    entrySizes[slot + 1] = setSize;
    listSize += tlv(attributeSize);
  }
  const dnLength = utf8Length(dn);
  const opSize = tlv(dnLength) + tlv(listSize);
  const messageSize = 2 + intSize(messageId) + tlv(opSize);
  const out = new Out(tlv(messageSize));
  out.header(Tag.sequence, messageSize);
  out.int(Tag.integer, messageId);
  out.header(Tag.searchResEntry, opSize);
  out.string(Tag.octetString, dn, dnLength);
  out.header(Tag.sequence, listSize);
  k = 0;
  for (const a of attributes) {
    out.header(Tag.sequence, entrySizes[k++]);
    const setSize = entrySizes[k++];
    out.string(Tag.octetString, a.type, entrySizes[k++]);
    out.header(Tag.set, setSize);
    for (const v of a.values) {
      if (typeof v === 'string') out.string(Tag.octetString, v, entrySizes[k++]);
      else out.bytes(Tag.octetString, v);
    }
  }
  return out.done();
}

/**
 * Encodes a response: bindResponse [APPLICATION 1], searchResEntry [4], searchResDone [5],
 * extendedResponse [24] (responseName [10], responseValue [11]), or `result`, an LDAPResult under
 * [APPLICATION responseOp] answering an UnsupportedRequest (7, 9, 11, 13, 15). Throws
 * LdapEncodeError for an ID, result code or responseOp out of range, or an element over 16 MiB.
 */
export function encodeResponse(response: LdapResponse): Buffer {
  switch (response.op) {
    case 'searchEntry':
      return encodeEntry(response.messageId, response.dn, response.attributes);
    case 'bindResponse':
      return encodeResult(response.messageId, Tag.bindResponse, response.result, response.controls, undefined, undefined);
    case 'searchDone':
      return encodeResult(response.messageId, Tag.searchResDone, response.result, response.controls, undefined, undefined);
    case 'extendedResponse':
      return encodeResult(response.messageId, Tag.extendedResponse, response.result, undefined, response.oid, response.value);
    case 'result':
      if (!RESULT_RESPONSE_OPS.includes(response.responseOp)) {
        throw new LdapEncodeError('bad-response-op', `responseOp ${response.responseOp} is not one of ${RESULT_RESPONSE_OPS.join(', ')}`);
      }
      return encodeResult(response.messageId, 0x60 | response.responseOp, response.result, undefined, undefined, undefined);
    default: {
      const never: never = response;
      throw new LdapEncodeError('bad-response-op', `unknown response ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The unsolicited Notice of Disconnection (RFC 4511 §4.4.1): message ID 0, an extendedResponse
 * named 1.3.6.1.4.1.1466.20036, sent before the server closes a connection on its own.
 */
export function noticeOfDisconnection(code: ResultCodeValue, message: string): Buffer {
  return encodeResult(0, Tag.extendedResponse, { code, matchedDN: '', message }, undefined, ExtendedOid.noticeOfDisconnection, undefined);
}

// ---------------------------------------------------------------------------------------------
// Encode: requests (test clients, fuzzing, benchmarks), with BerWriter's own sequences

function writeFilter(w: BerWriter, f: Filter): void {
  switch (f.type) {
    case 'and':
    case 'or':
      w.startSequence(f.type === 'and' ? Tag.and : Tag.or);
      for (const child of f.filters) writeFilter(w, child);
      w.endSequence();
      return;
    case 'not':
      w.startSequence(Tag.not);
      writeFilter(w, f.filter);
      w.endSequence();
      return;
    case 'equality':
    case 'ge':
    case 'le':
    case 'approx':
      w.startSequence(f.type === 'equality' ? Tag.equality : f.type === 'ge' ? Tag.ge : f.type === 'le' ? Tag.le : Tag.approx);
      w.writeString(f.attribute);
      w.writeString(f.value);
      w.endSequence();
      return;
    case 'present':
      w.writeString(f.attribute, Tag.present);
      return;
    case 'substrings':
      w.startSequence(Tag.substrings);
      w.writeString(f.attribute);
      w.startSequence(Tag.sequence);
      if (f.initial !== null) w.writeString(f.initial, Tag.subInitial);
      for (const part of f.any) w.writeString(part, Tag.subAny);
      if (f.final !== null) w.writeString(f.final, Tag.subFinal);
      w.endSequence();
      w.endSequence();
      return;
    case 'extensible':
      w.startSequence(Tag.extensible);
      if (f.matchingRule !== null) w.writeString(f.matchingRule, Tag.mrRule);
      if (f.attribute !== null) w.writeString(f.attribute, Tag.mrType);
      w.writeString(f.value, Tag.mrValue);
      if (f.dnAttributes) w.writeBoolean(true, Tag.mrDnAttributes);
      w.endSequence();
      return;
    default: {
      const never: never = f;
      throw new LdapEncodeError('bad-protocol-op', `unknown filter ${JSON.stringify(never)}`);
    }
  }
}

/** Encodes a request as a client sends it. The inverse of decodeRequest. */
export function encodeRequest(request: LdapRequest): Buffer {
  checkInt(request.messageId, 'bad-message-id', 'messageID');
  const w = new BerWriter();
  w.startSequence(Tag.sequence);
  w.writeInt(request.messageId);
  switch (request.op) {
    case 'bind':
      w.startSequence(Tag.bindRequest);
      w.writeInt(request.version);
      w.writeString(request.name);
      if (request.auth.type === 'simple') {
        w.writeBuffer(request.auth.password, Tag.authSimple);
      } else {
        w.startSequence(Tag.authSasl);
        w.writeString(request.auth.mechanism);
        if (request.auth.credentials !== null) w.writeBuffer(request.auth.credentials, Tag.octetString);
        w.endSequence();
      }
      w.endSequence();
      break;
    case 'unbind':
      w.writeByte(Tag.unbindRequest);
      w.writeByte(0);
      break;
    case 'search':
      checkInt(request.sizeLimit, 'bad-integer', 'sizeLimit');
      checkInt(request.timeLimit, 'bad-integer', 'timeLimit');
      w.startSequence(Tag.searchRequest);
      w.writeString(request.baseObject);
      w.writeEnumeration(SCOPES.indexOf(request.scope));
      w.writeEnumeration(request.derefAliases);
      w.writeInt(request.sizeLimit);
      w.writeInt(request.timeLimit);
      w.writeBoolean(request.typesOnly);
      writeFilter(w, request.filter);
      w.startSequence(Tag.sequence);
      for (const a of request.attributes) w.writeString(a);
      w.endSequence();
      w.endSequence();
      break;
    case 'abandon':
      checkInt(request.abandonId, 'bad-integer', 'abandon ID');
      w.writeInt(request.abandonId, Tag.abandonRequest);
      break;
    case 'extended':
      w.startSequence(Tag.extendedRequest);
      w.writeString(request.oid, Tag.requestName);
      if (request.value !== null) w.writeBuffer(request.value, Tag.requestValue);
      w.endSequence();
      break;
    case 'unsupported': {
      // Only the [APPLICATION n] envelope, empty: decodeRequest does not read further.
      const tag = request.protocolOp === 10 ? 0x40 | 10 : 0x60 | request.protocolOp;
      if (UNSUPPORTED[tag]?.protocolOp !== request.protocolOp)
        throw new LdapEncodeError('bad-protocol-op', `protocolOp ${request.protocolOp}`);
      w.writeByte(tag);
      w.writeByte(0);
      break;
    }
    default: {
      const never: never = request;
      throw new LdapEncodeError('bad-protocol-op', `unknown request ${JSON.stringify(never)}`);
    }
  }
  if (request.controls.length > 0) {
    w.startSequence(Tag.controls);
    for (const c of request.controls) {
      w.startSequence(Tag.sequence);
      w.writeString(c.oid);
      if (c.critical) w.writeBoolean(true);
      if (c.value !== null) w.writeBuffer(c.value, Tag.octetString);
      w.endSequence();
    }
    w.endSequence();
  }
  w.endSequence();
  return w.buffer;
}

// ---------------------------------------------------------------------------------------------
// Paged results control value (RFC 2696 §2)

/**
 * realSearchControlValue ::= SEQUENCE { size INTEGER (0..maxInt), cookie OCTET STRING }.
 * Any malformation (including an empty value) throws LdapDecodeError 'bad-control'. The cookie is a copy.
 */
export function decodePagedResults(value: Buffer): { size: number; cookie: Buffer } {
  const d = new Decoder(value);
  try {
    const end = d.enter(value.length, Tag.sequence, 'bad-control');
    if (end !== value.length) d.fail('bad-control', end, `${value.length - end} bytes after the value`);
    const size = d.int(end, Tag.integer, 'bad-control', 0, LDAP_MAX_INT, 'paged results size');
    const cookie = d.bytes(end, Tag.octetString, 'bad-control');
    d.close(end, 'bad-control');
    return { size, cookie };
  } catch (e) {
    if (e instanceof LdapDecodeError && e.reason !== 'bad-control') {
      throw new LdapDecodeError('bad-control', null, e.offset, `paged results value: ${e.message}`);
    }
    throw e;
  }
}

/** The paged-results control value for `size` and `cookie` (an empty cookie ends the paging). */
export function encodePagedResults(size: number, cookie: Buffer): Buffer {
  checkInt(size, 'bad-integer', 'paged results size');
  const w = new BerWriter({ size: 16 + cookie.length });
  w.startSequence(Tag.sequence);
  w.writeInt(size);
  w.writeBuffer(cookie, Tag.octetString);
  w.endSequence();
  return Buffer.from(w.buffer);
}
