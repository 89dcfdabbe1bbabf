/**
 * The LDAP plugin's sockets: plain LDAP (389, with StartTLS) and LDAPS (636), one connection at a
 * time through the pure parts: ldap.codec.ts frames and decodes, ldap.session.ts decides, this file
 * writes the answers, checks passwords (throttled, ldap.throttle.ts) and switches to TLS.
 *
 * Requests of one connection are handled in order, one at a time: a search answers at once (the
 * directory is in memory), a bind waits for its password check (bcrypt on the thread pool, never
 * on the event loop). LDAP allows a client to send more while it waits; those wait in its input
 * (read no further than MAX_BUFFERED_BYTES ahead: beyond that the socket stops reading).
 *
 * Hostile peers, each bounded so that one connection cannot hurt another:
 * - a message larger than MAX_MESSAGE_BYTES, or one that does not decode: counted, a Notice of
 *   Disconnection (protocolError) and the connection is closed;
 * - a message started but not finished within PARTIAL_MESSAGE_MS (slow drip): closed;
 * - a peer that does not read its answers: once WRITE_HIGH_WATER_BYTES are queued for it, its
 *   requests wait until it reads; an answer that alone takes it past MAX_PENDING_WRITE_BYTES: closed;
 * - too many connections in all or from one address: refused at accept;
 * - no request for idleTimeoutSeconds: closed; a TLS handshake not done in TLS_HANDSHAKE_MS: closed.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { CounterMetric, GaugeMetric, HistogramMetric, Logger } from '../../core/plugin-api';
import {
  decodePagedResults,
  decodeRequest,
  encodePagedResults,
  encodeResponse,
  LdapDecodeError,
  messageLength,
  noticeOfDisconnection,
} from './ldap.codec';
import { MAX_MESSAGE_BYTES } from './ldap.config';
import {
  ANONYMOUS_SESSION,
  bindChecked,
  decide,
  type SessionDirectory,
  type SessionEffect,
  type SessionOptions,
  type SessionState,
} from './ldap.session';
import { BindThrottle, FREE_FAILURES, MAX_WAITING_PER_ADDRESS } from './ldap.throttle';
import { ResultCode, type LdapRequest, type LdapResponse } from './ldap.types';

export const PARTIAL_MESSAGE_MS = 30_000;
export const TLS_HANDSHAKE_MS = 10_000;
/** Answers queued for a client beyond this: no more requests are handled until it reads them. */
export const WRITE_HIGH_WATER_BYTES = 1024 * 1024;
/** Answers queued beyond this (one huge answer to a client that does not read): closed. */
export const MAX_PENDING_WRITE_BYTES = 8 * 1024 * 1024;
/** Input held beyond this: the socket stops reading until it is handled. */
export const MAX_BUFFERED_BYTES = 256 * 1024;

export interface LdapServerLimits {
  anonymousRead: boolean;
  requireTlsForPasswords: boolean;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** 0: never. */
  idleTimeoutSeconds: number;
}

export interface LdapServerDeps {
  logger: Logger;
  directory: SessionDirectory;
  verifyPassword(username: string, password: string): Promise<boolean>;
  /** A bind succeeded: `username` logged in from `address`. */
  onLogin(username: string, address: string): void;
  /** A password bind from `address` failed (for diagnose: ldap.diagnose.ts). */
  onBindFailed?(address: string): void;
  /** A TLS handshake (LDAPS or StartTLS) from `address` failed (for diagnose). */
  onTlsFailure?(address: string, reason: string): void;
  metrics: LdapMetrics;
  now?: () => number;
  /** Tests shorten these (defaults PARTIAL_MESSAGE_MS, TLS_HANDSHAKE_MS). */
  timeouts?: { partialMessageMs?: number; tlsHandshakeMs?: number };
}

export interface LdapMetrics {
  connections: GaugeMetric;
  connectionsRefused: CounterMetric;
  operations: CounterMetric;
  binds: CounterMetric;
  bindWait: HistogramMetric;
  malformed: CounterMetric;
  tlsFailures: CounterMetric;
  searchEntries: CounterMetric;
}

/** Listens a net.Server on host:port; tests replace it to listen inside a network namespace. */
export type Listen = (server: net.Server, host: string, port: number) => Promise<void>;

export const defaultListen: Listen = (server, host, port) =>
  new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });

/** One-at-a-time per key, in arrival order. */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, number>();

  pending(key: string): number {
    return this.waiting.get(key) ?? 0;
  }

  /** Runs `fn` now, counted as pending on `key` (for the busy limit) but not ordered. */
  async track<T>(key: string, fn: () => Promise<T>): Promise<T> {
    this.waiting.set(key, this.pending(key) + 1);
    try {
      return await fn();
    } finally {
      this.release(key);
    }
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    this.waiting.set(key, this.pending(key) + 1);
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      this.release(key);
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** One fewer pending on `key`. */
  private release(key: string): void {
    const left = this.pending(key) - 1;
    if (left <= 0) this.waiting.delete(key);
    else this.waiting.set(key, left);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class LdapServer {
  private plain: net.Server | null = null;
  private secure: tls.Server | null = null;
  private secureContext: tls.SecureContext | null = null;
  /** What a TLS connection gets, StartTLS and LDAPS alike; null until setCertificate. */
  private tlsOptions: tls.SecureContextOptions | null = null;
  /** What every request's session decision needs: rebuilt only when the limits or TLS change. */
  private sessionOpts: SessionOptions;
  private currentLimits: LdapServerLimits;
  private readonly connections = new Set<Connection>();
  private readonly perAddress = new Map<string, number>();
  readonly throttle = new BindThrottle();
  readonly userQueue = new KeyedQueue();
  readonly addressQueue = new KeyedQueue();
  readonly now: () => number;

  constructor(
    readonly deps: LdapServerDeps,
    limits: LdapServerLimits,
  ) {
    this.now = deps.now ?? (() => Date.now());
    this.currentLimits = limits;
    this.sessionOpts = this.buildSessionOptions();
  }

  get limits(): LdapServerLimits {
    return this.currentLimits;
  }

  set limits(limits: LdapServerLimits) {
    this.currentLimits = limits;
    this.sessionOpts = this.buildSessionOptions();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get tlsAvailable(): boolean {
    return this.secureContext !== null;
  }

  /** The certificate and key every TLS connection gets (StartTLS and LDAPS); null: no TLS. */
  setCertificate(cert: { certPem: string; keyPem: string }): void {
    this.tlsOptions = { cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2' };
    this.secureContext = tls.createSecureContext(this.tlsOptions);
    this.secure?.setSecureContext(this.tlsOptions);
    this.sessionOpts = this.buildSessionOptions();
  }

  async listen(host: string, port: number, ldapsPort: number | null, listen: Listen = defaultListen): Promise<void> {
    this.plain = net.createServer({ pauseOnConnect: false }, (socket) => this.accept(socket, false));
    this.plain.on('error', (error) => this.deps.logger.error('LDAP listener failed', { error: error.message }));
    await listen(this.plain, host, port);
    if (ldapsPort !== null && this.tlsOptions) {
      const handshakeTimeout = this.deps.timeouts?.tlsHandshakeMs ?? TLS_HANDSHAKE_MS;
      this.secure = tls.createServer({ ...this.tlsOptions, handshakeTimeout }, (socket) => this.accept(socket, true));
      this.secure.on('tlsClientError', (error, socket) => {
        this.deps.metrics.tlsFailures.inc({ reason: tlsReason(error) });
        if (socket.remoteAddress) this.deps.onTlsFailure?.(normalizeAddress(socket.remoteAddress), tlsReason(error));
      });
      this.secure.on('error', (error) => this.deps.logger.error('LDAPS listener failed', { error: error.message }));
      await listen(this.secure, host, ldapsPort);
    }
  }

  async close(): Promise<void> {
    const servers = [this.plain, this.secure].filter((s): s is net.Server => s !== null);
    this.plain = null;
    this.secure = null;
    for (const c of [...this.connections]) c.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private accept(socket: net.Socket, tlsFromStart: boolean): void {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.connections.size >= this.limits.maxConnections || fromAddress >= this.limits.maxConnectionsPerAddress) {
      this.deps.metrics.connectionsRefused.inc({ reason: this.connections.size >= this.limits.maxConnections ? 'total' : 'per-address' });
      socket.destroy();
      return;
    }
    const connection = new Connection(this, socket, address, tlsFromStart);
    this.connections.add(connection);
    this.perAddress.set(address, fromAddress + 1);
    this.deps.metrics.connections.set(this.connections.size);
    connection.onClose = () => {
      this.connections.delete(connection);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
      this.deps.metrics.connections.set(this.connections.size);
    };
  }

  /** Wraps an accepted plain socket in TLS (StartTLS). */
  upgrade(socket: net.Socket): tls.TLSSocket | null {
    if (!this.secureContext) return null;
    return new tls.TLSSocket(socket, { isServer: true, secureContext: this.secureContext });
  }

  /** The options of every session decision (cached: see sessionOpts). */
  sessionOptions(): SessionOptions {
    return this.sessionOpts;
  }

  private buildSessionOptions(): SessionOptions {
    return {
      anonymousRead: this.currentLimits.anonymousRead,
      requireTlsForPasswords: this.currentLimits.requireTlsForPasswords,
      tlsAvailable: this.secureContext !== null,
      decodePaged: decodePagedResults,
      encodePaged: encodePagedResults,
    };
  }
}

function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function tlsReason(error: Error & { code?: string }): string {
  if (error.code === 'ERR_SSL_HTTP_REQUEST' || /wrong version number|http request/i.test(error.message)) return 'not-tls';
  if (/timed? ?out/i.test(error.message) || error.code === 'ECONNRESET') return 'timeout-or-reset';
  return 'handshake';
}

class Connection {
  onClose: () => void = () => undefined;
  private socket: net.Socket;
  private state: SessionState;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private working = false;
  private closed = false;
  private partialTimer: NodeJS.Timeout | null = null;
  private upgrading = false;
  /**
   * TLS is up on our side but the client has not sent a byte through it yet. Under TLS 1.3 the
   * server's handshake is done before the client has checked the certificate: a client that
   * rejects it (an unknown CA, a clock before the certificate's start) sends its alert after
   * that (or just closes), so an error or a close in this window is a failed handshake too.
   */
  private tlsUnconfirmed: boolean;

  constructor(
    private readonly server: LdapServer,
    socket: net.Socket,
    private readonly address: string,
    tlsFromStart: boolean,
  ) {
    this.socket = socket;
    this.state = { ...ANONYMOUS_SESSION, tls: tlsFromStart };
    this.tlsUnconfirmed = tlsFromStart;
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    const idle = this.server.limits.idleTimeoutSeconds;
    socket.setTimeout(idle > 0 ? idle * 1000 : 0);
    socket.on('timeout', () => this.destroy());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => {
      if (this.tlsUnconfirmed) this.tlsFailed(tlsReason(error));
      this.destroy();
    });
    socket.on('close', () => {
      // OpenSSL clients that reject the certificate mostly just close: nothing ever used the session.
      if (this.tlsUnconfirmed) this.tlsFailed('closed-before-request');
      this.finish();
    });
  }

  private tlsFailed(reason: string): void {
    this.tlsUnconfirmed = false;
    this.server.deps.metrics.tlsFailures.inc({ reason });
    this.server.deps.onTlsFailure?.(this.address, reason);
  }

  destroy(): void {
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.partialTimer) clearTimeout(this.partialTimer);
    this.chunks = [];
    this.buffered = 0;
    this.onClose();
  }

  private onData(chunk: Buffer): void {
    this.tlsUnconfirmed = false;
    if (this.closed || this.upgrading) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    // Input waiting beyond this is the client's to hold: stop reading until it is handled.
    if (this.buffered > MAX_BUFFERED_BYTES) this.socket.pause();
    void this.pump();
  }

  /** The next whole message in the input, or null (none yet). Throws LdapDecodeError. */
  private nextMessage(): Buffer | null {
    if (this.buffered === 0) return null;
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    const data = this.chunks[0];
    const length = messageLength(data, 0, MAX_MESSAGE_BYTES);
    if (length === null) return null;
    const message = data.subarray(0, length);
    const rest = data.subarray(length);
    // The message the slow-drip timer was waiting for is complete: the next one gets its own time.
    if (this.partialTimer) {
      clearTimeout(this.partialTimer);
      this.partialTimer = null;
    }
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return message;
  }

  private protocolFailure(error: unknown): void {
    const reason = error instanceof LdapDecodeError ? error.reason : 'undecodable';
    this.server.deps.metrics.malformed.inc({ reason });
    this.server.deps.logger.debug('malformed LDAP message: closing the connection', { address: this.address, reason });
    if (!this.closed && this.socket.writable)
      this.socket.end(noticeOfDisconnection(ResultCode.protocolError, `malformed message (${reason})`));
    this.finish();
  }

  /** The client is not reading its answers: wait until it has (or the connection ends). */
  private async writable(): Promise<void> {
    if (this.socket.writableLength <= WRITE_HIGH_WATER_BYTES) return;
    this.socket.pause();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /**
   * Handles the input's messages in order, one at a time, until none is left; then reads again.
   * A message started but not finished arms the slow-drip timer.
   */
  private async pump(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      while (!this.closed && !this.upgrading) {
        await this.writable();
        if (this.closed) return;
        let message: Buffer | null;
        try {
          message = this.nextMessage();
        } catch (error) {
          this.protocolFailure(error);
          return;
        }
        if (message === null) break;
        await this.handle(message);
      }
      if (this.closed || this.upgrading) return;
      this.socket.resume();
      this.armPartialTimer();
    } finally {
      this.working = false;
    }
  }

  private armPartialTimer(): void {
    if (this.buffered > 0 && !this.partialTimer) {
      this.partialTimer = setTimeout(() => {
        this.server.deps.metrics.malformed.inc({ reason: 'partial-timeout' });
        this.destroy();
      }, this.server.deps.timeouts?.partialMessageMs ?? PARTIAL_MESSAGE_MS);
      this.partialTimer.unref();
    } else if (this.buffered === 0 && this.partialTimer) {
      clearTimeout(this.partialTimer);
      this.partialTimer = null;
    }
  }

  private async handle(message: Buffer): Promise<void> {
    let request: LdapRequest;
    try {
      request = decodeRequest(message);
    } catch (error) {
      if (error instanceof LdapDecodeError && error.reason === 'bad-auth-choice' && error.messageId !== null) {
        // A well-formed bind with an authentication choice nobody defined: answered, as slapd
        // does, and the connection goes on.
        this.server.deps.metrics.malformed.inc({ reason: error.reason });
        this.state = { ...this.state, boundDn: null, boundUser: null };
        this.send([
          {
            op: 'bindResponse',
            messageId: error.messageId,
            result: { code: ResultCode.authMethodNotSupported, matchedDN: '', message: 'unknown authentication choice' },
          },
        ]);
        return;
      }
      this.protocolFailure(error);
      return;
    }
    const step = decide(request, this.state, this.server.deps.directory, this.server.sessionOptions());
    this.state = step.state;
    this.server.deps.metrics.operations.inc({ op: request.op === 'unsupported' ? 'write' : request.op });
    for (const effect of step.effects) await this.apply(effect);
  }

  private async apply(effect: SessionEffect): Promise<void> {
    switch (effect.type) {
      case 'send':
        this.send(effect.responses);
        return;
      case 'close':
        this.socket.end();
        this.finish();
        return;
      case 'check-password': {
        const ok = await this.checkPassword(effect.username, effect.password);
        if (ok === null) {
          this.send([
            {
              op: 'bindResponse',
              messageId: effect.messageId,
              result: { code: ResultCode.busy, matchedDN: '', message: 'too many binds waiting from this address' },
            },
          ]);
          return;
        }
        if (this.closed) return;
        const step = bindChecked(this.state, effect.messageId, effect.username, effect.dn, ok);
        this.state = step.state;
        for (const e of step.effects) await this.apply(e);
        if (ok && effect.username) this.server.deps.onLogin(effect.username, this.address);
        return;
      }
      case 'start-tls':
        this.startTls(effect.response);
        return;
    }
  }

  /** null: too many binds already waiting from this address. */
  private async checkPassword(username: string, password: Buffer): Promise<boolean | null> {
    const s = this.server;
    const m = s.deps.metrics;
    if (s.addressQueue.pending(this.address) >= MAX_WAITING_PER_ADDRESS) {
      m.binds.inc({ result: 'busy' });
      return null;
    }
    const started = s.now();
    const userKey = username || '\0unknown';
    const check = (): Promise<boolean> =>
      s.userQueue.run(userKey, async () => {
        const { waitMs } = s.throttle.admit(userKey, this.address, s.now());
        if (waitMs > 0) {
          m.binds.inc({ result: 'delayed' });
          await sleep(waitMs);
        }
        if (this.closed) return false;
        // An unknown user ('') is checked too: the core does the same bcrypt work and says no, so the
        // answer's timing does not tell which users exist.
        const valid = await s.deps.verifyPassword(username, password.toString('utf8'));
        s.throttle.record(userKey, this.address, valid, s.now());
        if (!valid) s.deps.onBindFailed?.(this.address);
        return valid;
      });
    // Binds of one user are always checked one at a time. Binds from one address run side by side
    // (a classroom behind one NAT address logs in at once) until that address has used up its
    // free failures; from then on they too go one at a time, each after the address's delay.
    const suspicious = s.throttle.addressFailures(this.address, started) >= FREE_FAILURES;
    const ok = await (suspicious ? s.addressQueue.run(this.address, check) : s.addressQueue.track(this.address, check));
    m.bindWait.observe((s.now() - started) / 1000);
    m.binds.inc({ result: ok ? 'success' : 'invalid' });
    return ok;
  }

  private send(responses: LdapResponse[]): void {
    if (this.closed) return;
    let entries = 0;
    // One TLS record and one write for a whole answer (entries and searchDone), not one each.
    this.socket.cork();
    for (const r of responses) {
      if (r.op === 'searchEntry') entries++;
      this.socket.write(encodeResponse(r));
    }
    this.socket.uncork();
    if (entries > 0) this.server.deps.metrics.searchEntries.inc(entries);
    if (this.socket.writableLength > MAX_PENDING_WRITE_BYTES) {
      this.server.deps.metrics.malformed.inc({ reason: 'slow-reader' });
      this.destroy();
    }
  }

  private startTls(response: LdapResponse): void {
    const raw = this.socket;
    this.upgrading = true;
    raw.write(encodeResponse(response));
    raw.removeAllListeners('data');
    raw.removeAllListeners('timeout');
    raw.removeAllListeners('error');
    raw.removeAllListeners('close');
    // Anything the client sent after its StartTLS request and before the handshake is not allowed
    // (RFC 4511 §4.14.1): dropped.
    this.chunks = [];
    this.buffered = 0;
    const secure = this.server.upgrade(raw);
    if (!secure) {
      this.destroy();
      return;
    }
    this.socket = secure;
    this.tlsUnconfirmed = true;
    const handshake = setTimeout(() => {
      this.tlsFailed('timeout-or-reset');
      this.destroy();
    }, this.server.deps.timeouts?.tlsHandshakeMs ?? TLS_HANDSHAKE_MS);
    handshake.unref();
    secure.once('secure', () => {
      clearTimeout(handshake);
      this.upgrading = false;
    });
    secure.on('error', (error: Error) => {
      clearTimeout(handshake);
      if (this.upgrading || this.tlsUnconfirmed) this.tlsFailed(tlsReason(error));
    });
    this.attach(secure);
  }
}
