/**
 * bramble's own Nest GraphQL driver: Apollo Server 5 on Express 5 (`@as-integrations/express5`)
 * for HTTP, and graphql-ws (`graphql-transport-ws`) on the same path for WebSocket.
 *
 * It replaces @nestjs/apollo 13, whose GraphQL-playground dependency peers Apollo Server 4 (npm's
 * ERESOLVE warning, and an `npm install` of bramble that never finishes); @nestjs/apollo 14 needs
 * NestJS 12 (ESM only). What the old driver did for bramble, and this one does:
 * - builds nothing itself: @nestjs/graphql's GraphQLModule generates the code-first schema and
 *   calls `start(options)` with it (`mergeDefaultOptions` and `generateSchema` are the abstract
 *   driver's own);
 * - mounts Apollo's Express middleware on `path`, after `httpMiddleware` (bramble's request gate),
 *   with the landing page off, Apollo's own SIGTERM handling off (Nest shuts down) and the HTTP
 *   server drained on stop;
 * - keeps the HTTP status 200 once execution ran and produced `data` (an error thrown by a resolver
 *   carrying `extensions.http.status` must not turn a partial answer into a transport error);
 * - answers `Cache-Control: no-store` (as Apollo's cache-control plugin did for bramble, which sets
 *   no cache hints) without that plugin, whose hook on every field resolved made a page of a
 *   thousand events several times slower to execute;
 * - serves graphql-ws on `path` through the HTTP server's `upgrade` event. Unlike the old
 *   GqlSubscriptionService, there is no legacy `subscriptions-transport-ws` protocol, a WebSocket
 *   message is capped at `webSocket.maxPayload`, and an upgrade for any other path is refused
 *   instead of being left hanging.
 */
import { ApolloServer, type ApolloServerOptionsWithSchema, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { Injectable } from '@nestjs/common';
import { AbstractGraphQLDriver, type GqlModuleOptions } from '@nestjs/graphql';
import type { Express, Request, RequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import { CloseCode, makeServer, type ServerOptions } from 'graphql-ws';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** What a graphql-ws server sees of its socket (the Context's `extra`). */
export interface WsExtra {
  socket: WebSocket;
  request: IncomingMessage;
}

export interface BrambleGraphQLDriverConfig<TContext extends BaseContext = BaseContext> extends Omit<GqlModuleOptions, 'context'> {
  /** Apollo Server options, except the schema (the driver passes the generated one). */
  apollo?: Omit<ApolloServerOptionsWithSchema<TContext>, 'schema'>;
  /** The GraphQL context of one HTTP request. */
  context: (req: Request) => TContext | Promise<TContext>;
  /** Express handlers run on `path` before Apollo (given the generated schema). */
  httpMiddleware?: (schema: GraphQLSchema) => RequestHandler[];
  /** Called once the driver stopped (to release what `httpMiddleware` or `subscriptions` hold). */
  onStop?: () => Promise<void> | void;
  /** graphql-ws server options (the schema is added); served on `path`. */
  subscriptions?: (schema: GraphQLSchema) => ServerOptions<Record<string, unknown> | undefined, WsExtra>;
  webSocket?: {
    /** Largest WebSocket message accepted (bytes); a larger one closes the socket (1009). */
    maxPayload?: number;
    /** Ping interval (ms); a socket that does not answer the next ping in time is terminated. */
    keepAliveMs?: number;
    /**
     * Schedules the handling of each message (bramble: one per turn of the event loop); false
     * refuses it, and the socket is closed with 1013 (try again later).
     */
    schedule?: (handle: () => void) => boolean;
    /** An error that escaped graphql-ws's handling of a message (the socket is closed with 4500). */
    onError?: (error: unknown) => void;
  };
}

const DEFAULT_WS_MAX_PAYLOAD = 1024 * 1024;
const DEFAULT_KEEP_ALIVE_MS = 12_000;

/** No answer of the API may be cached (they carry what a token may see). */
function noStorePlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          response.http.headers.set('cache-control', 'no-store');
        },
      };
    },
  };
}

/**
 * Apollo answers a request whose resolvers threw an error with `extensions.http.status` with that
 * status. Once execution ran and there is `data`, the answer is a normal GraphQL result: HTTP 200.
 * Request-level failures (parse, validation, refused operations) have no `data` and keep theirs.
 */
function preserveHttpStatusPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const body = response.body;
          if (body.kind === 'single' && 'data' in body.singleResult) response.http.status = 200;
        },
      };
    },
  };
}

@Injectable()
export class BrambleGraphQLDriver extends AbstractGraphQLDriver<BrambleGraphQLDriverConfig> {
  private apollo: ApolloServer<BaseContext> | null = null;
  private wss: WebSocketServer | null = null;
  private upgradeListener: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | null = null;
  private httpServer: HttpServer | null = null;
  private onStop: (() => Promise<void> | void) | null = null;

  get instance(): ApolloServer<BaseContext> | null {
    return this.apollo;
  }

  async start(options: BrambleGraphQLDriverConfig): Promise<void> {
    const schema = (options as { schema?: GraphQLSchema }).schema;
    if (!schema) throw new Error('BrambleGraphQLDriver: no schema was generated');
    const path = options.path ?? '/graphql';
    const adapter = this.httpAdapterHost.httpAdapter;
    if (adapter.getType() !== 'express') throw new Error(`BrambleGraphQLDriver serves Express only, not ${adapter.getType()}`);
    const app = adapter.getInstance<Express>();
    const httpServer = adapter.getHttpServer() as HttpServer;
    this.httpServer = httpServer;

    const apollo = new ApolloServer<BaseContext>({
      ...(options.apollo as Omit<ApolloServerOptionsWithSchema<BaseContext>, 'schema'>),
      schema,
      stopOnTerminationSignals: false,
      plugins: [
        ...((options.apollo?.plugins ?? []) as ApolloServerPlugin<BaseContext>[]),
        ApolloServerPluginLandingPageDisabled(),
        ApolloServerPluginCacheControlDisabled(),
        noStorePlugin(),
        preserveHttpStatusPlugin(),
        ApolloServerPluginDrainHttpServer({ httpServer }),
      ],
    });
    await apollo.start();
    this.apollo = apollo;

    // Express 5's body parser leaves `req.body` undefined when there is no body; Apollo wants one.
    app.use(path, (req: Request, _res, next) => {
      req.body ??= {};
      next();
    });
    for (const handler of options.httpMiddleware?.(schema) ?? []) app.use(path, handler);
    app.use(path, expressMiddleware(apollo, { context: async ({ req }) => options.context(req) }));
    this.onStop = options.onStop ?? null;

    if (options.subscriptions) this.serveWebSocket(schema, path, httpServer, options);
  }

  async stop(): Promise<void> {
    if (this.upgradeListener) this.httpServer?.off('upgrade', this.upgradeListener);
    this.upgradeListener = null;
    const wss = this.wss;
    this.wss = null;
    if (wss) {
      for (const client of wss.clients) client.close(1001, 'Going away');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
    await this.apollo?.stop();
    this.apollo = null;
    await this.onStop?.();
    this.onStop = null;
  }

  private serveWebSocket(schema: GraphQLSchema, path: string, httpServer: HttpServer, options: BrambleGraphQLDriverConfig): void {
    const server = makeServer<Record<string, unknown> | undefined, WsExtra>({ schema, ...options.subscriptions!(schema) });
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.webSocket?.maxPayload ?? DEFAULT_WS_MAX_PAYLOAD,
      handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false),
    });
    this.wss = wss;
    const keepAliveMs = options.webSocket?.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    const schedule = options.webSocket?.schedule ?? ((handle: () => void) => (handle(), true));

    wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
      // A socket error (a frame over maxPayload: 1009, a protocol violation: 1002): ws closes the
      // socket with that code itself; the listener only keeps the error from being thrown.
      socket.on('error', () => undefined);
      let alive = true;
      socket.on('pong', () => (alive = true));
      const ping = setInterval(() => {
        if (!alive) {
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, keepAliveMs);
      ping.unref();
      const closed = server.opened(
        {
          protocol: socket.protocol,
          send: (data) =>
            new Promise<void>((resolve, reject) => {
              if (socket.readyState !== socket.OPEN) return resolve();
              socket.send(data, (error) => (error ? reject(error) : resolve()));
            }),
          close: (code, reason) => socket.close(code, reason),
          onMessage: (cb) =>
            socket.on('message', (data: Buffer, isBinary: boolean) => {
              const text = isBinary ? data.toString('utf8') : String(data);
              const handled = schedule(() => {
                if (socket.readyState !== socket.OPEN) return;
                cb(text).catch((error: unknown) => {
                  options.webSocket?.onError?.(error);
                  // An error escaping the server's own handling: the socket is of no further use.
                  if (socket.readyState === socket.OPEN) socket.close(CloseCode.InternalServerError, 'Internal server error');
                });
              });
              if (!handled && socket.readyState === socket.OPEN) socket.close(1013, 'TOO_BUSY: try again later');
            }),
        },
        { socket, request },
      );
      socket.once('close', (code: number, reason: Buffer) => {
        clearInterval(ping);
        void closed(code, reason.toString());
      });
    });

    this.upgradeListener = (req, socket, head) => {
      let pathname: string;
      try {
        pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      } catch {
        pathname = '';
      }
      if (pathname === path) {
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      } else if (httpServer.listenerCount('upgrade') === 1) {
        // Nobody else serves WebSocket upgrades: answer rather than leave the socket hanging.
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
    };
    httpServer.on('upgrade', this.upgradeListener);
  }
}
