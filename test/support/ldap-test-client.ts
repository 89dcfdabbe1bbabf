/**
 * A small LDAP client for tests that compare servers answer by answer: it speaks LDAP with the
 * plugin's own codec (encodeRequest/decodeResponse) over a TCP connection made from a lab host's
 * network namespace (tcp-listen.ts), upgraded with StartTLS, and hands back the answers as
 * structured values: the entries in the order they came, each attribute with the name the server
 * wrote, and the final result with its controls. ldapsearch prints text that would have to be parsed
 * back, and hides what a comparison needs (the order of attributes, an empty typesOnly value list,
 * the paged-results cookie).
 *
 * One request at a time per connection (each waits for its own final answer), every wait bounded
 * (`timeoutMs`, default 5 s). A password reaches the server only inside a bind over TLS; it is never
 * logged or put in an error message.
 */
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { decodeResponse, encodeRequest, messageLength } from '../../src/plugins/ldap/ldap.codec';
import {
  ExtendedOid,
  type Control,
  type EntryAttribute,
  type LdapRequest,
  type LdapResponse,
  type LdapResult,
  type SearchRequest,
} from '../../src/plugins/ldap/ldap.types';
import type { NetLab } from './netlab';
import { tcpConnectInNamespace } from './tcp-listen';

/** Largest answer accepted (a whole directory of a few dozen entries is far below). */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export interface SearchAnswer {
  entries: { dn: string; attributes: EntryAttribute[] }[];
  result: LdapResult;
  /** The controls of the searchResultDone (the paged-results response, for one). */
  controls: Control[];
}

/** What a search asks; the rest of SearchRequest takes the defaults ldapsearch sends. */
export type SearchSpec = Pick<SearchRequest, 'baseObject' | 'scope' | 'filter'> &
  Partial<Pick<SearchRequest, 'attributes' | 'sizeLimit' | 'typesOnly' | 'controls'>>;

/** The SearchRequest `spec` asks for (messageId 0: the client sets it when it sends). */
export function searchRequest(spec: SearchSpec): SearchRequest {
  return {
    op: 'search',
    messageId: 0,
    controls: spec.controls ?? [],
    baseObject: spec.baseObject,
    scope: spec.scope,
    derefAliases: 0,
    sizeLimit: spec.sizeLimit ?? 0,
    timeLimit: 0,
    typesOnly: spec.typesOnly ?? false,
    filter: spec.filter,
    attributes: spec.attributes ?? [],
  };
}

interface Pending {
  messageId: number;
  onMessage(message: LdapResponse): boolean; // true: the final answer arrived
  reject(error: Error): void;
}

export class LdapTestClient {
  private socket: Socket | tls.TLSSocket;
  private buffer: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private pending: Pending | null = null;
  private closedWith: Error | null = null;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onEnd = (): void => this.fail(new Error(`${this.name}: the server closed the connection`));
  private readonly onError = (error: Error): void => this.fail(new Error(`${this.name}: ${error.message}`));

  private constructor(
    socket: Socket,
    /** For error messages: which server this is. */
    readonly name: string,
    private readonly ip: string,
    private readonly timeoutMs: number,
  ) {
    this.socket = socket;
    this.listen(socket);
  }

  /** Connects from `host`'s namespace in `lab` to ip:port (plain LDAP; call startTls next). */
  static connect(
    lab: NetLab,
    host: string,
    ip: string,
    options: { port?: number; name?: string; timeoutMs?: number } = {},
  ): LdapTestClient {
    const socket = tcpConnectInNamespace(lab, host, ip, options.port ?? 389);
    return new LdapTestClient(socket, options.name ?? ip, ip, options.timeoutMs ?? 5000);
  }

  private listen(socket: Socket | tls.TLSSocket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
  }

  private unlisten(socket: Socket | tls.TLSSocket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('error', this.onError);
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      for (let n = messageLength(this.buffer, 0, MAX_MESSAGE_BYTES); n !== null; n = messageLength(this.buffer, 0, MAX_MESSAGE_BYTES)) {
        const message = decodeResponse(this.buffer.subarray(0, n));
        this.buffer = this.buffer.subarray(n);
        const p = this.pending;
        if (message.messageId === 0) {
          this.fail(new Error(`${this.name}: unsolicited notification: ${JSON.stringify(message)}`));
          return;
        }
        if (!p || p.messageId !== message.messageId) {
          this.fail(new Error(`${this.name}: an answer to message ${message.messageId}, which is not waiting`));
          return;
        }
        if (p.onMessage(message)) this.pending = null;
      }
    } catch (error) {
      this.fail(new Error(`${this.name}: undecodable answer: ${(error as Error).message}`));
    }
  }

  private fail(error: Error): void {
    this.closedWith ??= error;
    const p = this.pending;
    this.pending = null;
    p?.reject(error);
  }

  /** Sends `request` (its messageId is assigned here) and collects answers until `collect` says done. */
  private exchange<T>(request: LdapRequest, collect: (message: LdapResponse) => T | undefined): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.pending) return Promise.reject(new Error(`${this.name}: one request at a time`));
    const messageId = this.nextId++;
    const bytes = encodeRequest({ ...request, messageId });
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new Error(`${this.name}: no answer to ${request.op} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending = {
        messageId,
        onMessage: (message) => {
          const done = collect(message);
          if (done === undefined) return false;
          clearTimeout(timer);
          resolve(done);
          return true;
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.socket.write(bytes);
    });
  }

  /** StartTLS (RFC 4511 §4.14), then the TLS handshake, demanding a certificate for `ip` from `ca`. */
  async startTls(ca: string | Buffer): Promise<void> {
    const answer = await this.exchange({ op: 'extended', messageId: 0, controls: [], oid: ExtendedOid.startTls, value: null }, (m) =>
      m.op === 'extendedResponse' ? m : undefined,
    );
    if (answer.op !== 'extendedResponse' || answer.result.code !== 0) {
      throw new Error(`${this.name}: StartTLS refused: ${JSON.stringify(answer)}`);
    }
    const plain = this.socket as Socket;
    this.unlisten(plain);
    // host (not servername): an IP address is checked against the certificate's IP SANs, no SNI sent.
    const secure = tls.connect({ socket: plain, ca, host: this.ip, minVersion: 'TLSv1.2' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new Error(`${this.name}: TLS handshake not done within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.off('error', onError);
        resolve();
      });
      const onError = (error: Error): void => {
        clearTimeout(timer);
        reject(new Error(`${this.name}: TLS: ${error.message}`));
      };
      secure.once('error', onError);
    });
    this.socket = secure;
    this.listen(secure);
  }

  /** A simple bind; '' and '' is the anonymous bind nslcd sends. Resolves with the result, whatever its code. */
  async bind(dn: string, password: string, controls: Control[] = []): Promise<LdapResult> {
    const answer = await this.exchange(
      { op: 'bind', messageId: 0, controls, version: 3, name: dn, auth: { type: 'simple', password: Buffer.from(password, 'utf8') } },
      (m) => (m.op === 'bindResponse' ? m : undefined),
    );
    return answer.op === 'bindResponse' ? answer.result : { code: 80, matchedDN: '', message: 'not a bindResponse' };
  }

  /** WhoAmI (RFC 4532): the authzId, '' for anonymous. */
  async whoAmI(): Promise<{ result: LdapResult; authzId: string }> {
    const answer = await this.exchange({ op: 'extended', messageId: 0, controls: [], oid: ExtendedOid.whoAmI, value: null }, (m) =>
      m.op === 'extendedResponse' ? m : undefined,
    );
    if (answer.op !== 'extendedResponse') throw new Error(`${this.name}: not an extendedResponse`);
    return { result: answer.result, authzId: answer.value?.toString('utf8') ?? '' };
  }

  async search(spec: SearchSpec): Promise<SearchAnswer> {
    const entries: SearchAnswer['entries'] = [];
    return this.exchange(searchRequest(spec), (m) => {
      if (m.op === 'searchEntry') {
        entries.push({ dn: m.dn, attributes: m.attributes });
        return undefined;
      }
      if (m.op === 'searchDone') return { entries, result: m.result, controls: m.controls ?? [] };
      throw new Error(`${this.name}: unexpected ${m.op} in a search`);
    });
  }

  /** Unbind and close (bounded: the socket is destroyed after 1 s at most). */
  async close(): Promise<void> {
    const socket = this.socket;
    if (!this.closedWith && !socket.destroyed) {
      this.closedWith = new Error(`${this.name}: closed`);
      socket.write(encodeRequest({ op: 'unbind', messageId: this.nextId++, controls: [] }));
      socket.end();
    }
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
