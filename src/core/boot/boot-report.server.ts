/**
 * The "I'm up" report: a tiny HTTP listener a booted client calls at the end of its boot
 * (`POST /booted`, from the unit image conversion installs), which records the `booted` boot fact
 * and so moves the client's session to BOOTED.
 *
 * It faces the LAN, so it trusts nothing but the TCP source address: a report counts only from the
 * address an approved client was last seen using (ClientRecord.ip, learned by DHCP). The body is
 * optional (`{"hostname": "..."}`, at most 1 KiB) and only informative. Everything is bounded: the
 * body, the header size, the time to send the headers and the whole request, the connections at
 * once, keep-alive. Nothing here blocks the event loop (the body is at most 1 KiB; the fact is
 * decided in memory and appended by the writer thread).
 *
 * Answers: 204 recorded; 403 `{"code":"BOOT_REPORT_REFUSED"}` from any other address (before the
 * body is read); 404 another path; 405 another method; 413 a body over 1 KiB; 400 a body that is
 * not a JSON object; 503 when the store refuses the fact.
 *
 * Address and port follow the settings: the server address (serverIp, else the interface's
 * address, else 0.0.0.0) and `bootReportPort` (0: off); a change of either rebinds it.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Inject, Injectable } from '@nestjs/common';
import { filter, type Subscription } from 'rxjs';
import { commandMeta } from '../commands/meta';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { serverAddress } from '../plugin-host/plugin-registry';
import { ProjectionEngine } from '../projections/projection-engine';
import { ReadModelQueries } from '../projections/read-model-queries';
import { BootSessions } from './boot-sessions';

export const BOOT_REPORT_PATH = '/booted';
export const MAX_REPORT_BODY_BYTES = 1024;
/** Connections at once (a classroom of Pis reports within seconds; each takes milliseconds). */
export const MAX_REPORT_CONNECTIONS = 256;
export const REPORT_HEADERS_TIMEOUT_MS = 5000;
export const REPORT_REQUEST_TIMEOUT_MS = 10_000;
const MAX_HEADER_BYTES = 4096;
const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

export const BOOT_REPORT_REFUSED = 'BOOT_REPORT_REFUSED';

interface Binding {
  host: string;
  port: number;
}

/** `::ffff:10.0.0.5` → `10.0.0.5`. */
function ipv4Of(address: string | undefined): string | null {
  if (!address) return null;
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

@Injectable()
export class BootReportServer {
  private readonly logger: Logger;
  private server: http.Server | null = null;
  private binding: Binding | null = null;
  private settingsWatch: Subscription | null = null;
  private reconciling: Promise<void> = Promise.resolve();
  private readonly sockets = new Set<Socket>();
  private stopped = false;
  /** Reports recorded / refused since start (health, tests). */
  readonly counts = { recorded: 0, refused: 0, rejected: 0 };

  constructor(
    private readonly boot: BootSessions,
    private readonly queries: ReadModelQueries,
    private readonly engine: ProjectionEngine,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('boot-report');
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.settingsWatch = this.engine.live$.pipe(filter((e) => e.type === 'SettingsUpdated')).subscribe(() => void this.reconcile());
    await this.reconcile();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.settingsWatch?.unsubscribe();
    this.settingsWatch = null;
    await this.reconciling;
    await this.close();
  }

  /** Where it listens now (the port actually bound), or null when off. */
  address(): Binding | null {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a && this.binding ? { host: this.binding.host, port: a.port } : null;
  }

  /** Binds to what the settings say (again, after a change); a failure to bind is logged, not thrown. */
  reconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(async () => {
      const port = this.queries.bootSettings().bootReportPort;
      const wanted: Binding | null =
        this.stopped || port === 0 ? null : { host: serverAddress(this.queries.settings()) ?? '0.0.0.0', port };
      if (wanted?.host === this.binding?.host && wanted?.port === this.binding?.port) return;
      await this.close();
      if (!wanted) return;
      try {
        await this.listen(wanted);
        this.logger.info('boot reports accepted', { address: wanted.host, port: wanted.port });
      } catch (error) {
        this.logger.warn('cannot listen for boot reports', { address: wanted.host, port: wanted.port, error: (error as Error).message });
      }
    });
    return this.reconciling;
  }

  private listen(binding: Binding): Promise<void> {
    const server = http.createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        requestTimeout: REPORT_REQUEST_TIMEOUT_MS,
        headersTimeout: REPORT_HEADERS_TIMEOUT_MS,
        // How often the timeouts are checked (node's default, 30 s, would let a slow drip hold a connection that long).
        connectionsCheckingInterval: 1000,
      },
      (req, res) => void this.handle(req, res),
    );
    server.maxConnections = MAX_REPORT_CONNECTIONS;
    // A connection that sends nothing at all is not "receiving headers" yet: cut it when idle.
    server.timeout = REPORT_HEADERS_TIMEOUT_MS;
    server.keepAliveTimeout = 1000;
    server.maxRequestsPerSocket = 4;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('clientError', (_error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(binding.port, binding.host, () => {
        server.off('error', reject);
        server.on('error', (error) => this.logger.error('boot report listener failed', { error: error.message }));
        this.server = server;
        this.binding = binding;
        resolve();
      });
    });
  }

  private async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.binding = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body?: object): void => {
      if (res.headersSent) return;
      const text = body ? JSON.stringify(body) : '';
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
      res.end(text);
      // Whatever the client still sends is not read.
      if (!req.complete) req.socket.destroySoon?.();
    };
    const path = (req.url ?? '').split('?')[0];
    if (path !== BOOT_REPORT_PATH) return reply(404, { code: 'NOT_FOUND' });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return reply(405, { code: 'METHOD_NOT_ALLOWED' });
    }
    const ip = ipv4Of(req.socket.remoteAddress);
    const client = ip ? this.queries.clientByIp(ip) : null;
    if (!client || client.status !== 'approved' || client.ip !== ip) {
      this.counts.refused++;
      this.logger.debug('boot report refused', { address: ip });
      return reply(403, { code: BOOT_REPORT_REFUSED });
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_REPORT_BODY_BYTES) return reply(413, { code: 'PAYLOAD_TOO_LARGE' });
    let body: Buffer;
    try {
      body = await readBody(req, MAX_REPORT_BODY_BYTES);
    } catch (error) {
      if ((error as Error).message === 'too large') return reply(413, { code: 'PAYLOAD_TOO_LARGE' });
      return; // the client went away
    }
    let hostname: string | null = null;
    if (body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return reply(400, { code: 'BAD_REQUEST' });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return reply(400, { code: 'BAD_REQUEST' });
      const h = (parsed as { hostname?: unknown }).hostname;
      if (typeof h === 'string' && HOSTNAME.test(h)) hostname = h;
    }
    try {
      await this.boot.report(
        { mac: client.mac, stage: 'booted', ip, detail: hostname ? { hostname } : {}, plugin: 'core' },
        commandMeta('system'),
      );
      this.counts.recorded++;
      reply(204);
    } catch (error) {
      this.counts.rejected++;
      this.logger.warn('could not record a boot report', { mac: client.mac, error: (error as Error).message });
      reply(503, { code: 'UNAVAILABLE' });
    }
  }
}

/** The request body, at most `max` bytes (rejects `too large` past it). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.pause();
        reject(new Error('too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('aborted', () => reject(new Error('aborted')));
  });
}
