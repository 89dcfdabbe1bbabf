import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import type { Request } from 'express';
import { AuthService } from '../core/auth/auth.service';
import { APP_LOGGER } from '../core/logging/logging.tokens';
import { eventLoopTurns } from '../core/limits/event-loop-turns';
import type { Logger } from '../core/logging/logger';
import { ProjectionEngine } from '../core/projections/projection-engine';
import { BrambleGraphQLDriver, type BrambleGraphQLDriverConfig, type WsExtra } from './apollo.driver';
import { AuditResolver } from './audit.resolver';
import { BootResolver } from './boot.resolver';
import { AuthenticatedGuard, authorizationFromConnectionParams, httpContext, requireTokenPlugin, type GqlContext } from './auth';
import { ClientResolver } from './client.resolver';
import { DiagnoseResolver } from './diagnose.resolver';
import { CommandGateway } from './command-gateway';
import { ApiErrorCode, createErrorFormatter, formatErrors } from './errors';
import { GraphiqlController } from './graphiql.controller';
import { GraphqlExceptionFilter } from './graphql-exception.filter';
import { HealthResolver } from './health.resolver';
import { rejectHttpSubscriptionsPlugin } from './http-subscriptions.plugin';
import { ImageResolver } from './image.resolver';
import { LiveEvents } from './live-events';
import { QUERY_LIMITS } from './query-limits';
import { BodyParserPool } from './request-body';
import { GatedDocuments, gateWebSocketOperation, httpGate } from './request-gate';
import { SettingsResolver } from './settings.resolver';
import { sharedResultSubscribe } from './shared-subscribe';
import { StateResolver } from './state.resolver';
import { TokenResolver } from './token.resolver';
import { UserResolver } from './user.resolver';
import { WsSessions } from './ws-sessions';

export const GRAPHQL_PATH = '/graphql';
/** Deepest field nesting accepted (`{ clients { image { id } } }` is 3). */
export const MAX_QUERY_DEPTH = QUERY_LIMITS.maxDepth;
/** Operations one WebSocket runs at once (subscriptions included). */
export const MAX_WS_OPERATIONS = 50;
/** Largest WebSocket message (class lists are imported over HTTP). */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;
/** graphql-ws close code for a connection without a valid token (the protocol's Unauthorized). */
export const WS_UNAUTHENTICATED_CLOSE = 4401;

export const RESOLVERS = [
  HealthResolver,
  ClientResolver,
  DiagnoseResolver,
  UserResolver,
  ImageResolver,
  SettingsResolver,
  AuditResolver,
  StateResolver,
  TokenResolver,
  BootResolver,
];

/** Set by onConnect on the socket's `extra`. */
interface WsState extends WsExtra {
  actor?: string;
  /** Set by onConnect: checked again for every operation (a token revoked since gets nothing). */
  authorization?: string | null;
}

type WsCtx = WsContext<Record<string, unknown> | undefined, WsState>;

/** The read models' list sizes now, by the fields that return them (for the query cost estimate). */
function listSizesOf(engine: ProjectionEngine): () => Record<string, number> {
  return () => {
    const { clients, users, groups, images } = engine.state;
    return {
      'Query.clients': clients.size,
      'Query.users': users.size,
      'Query.groups': groups.size,
      'Query.images': images.size,
      // Every client may use the same image.
      'Image.clients': clients.size,
      // A past state is estimated at today's size.
      'StateAt.clients': clients.size,
      'StateAt.users': users.size,
      'StateAt.groups': groups.size,
      'StateAt.images': images.size,
    };
  };
}

function driverOptions(auth: AuthService, logger: Logger, engine: ProjectionEngine): BrambleGraphQLDriverConfig<GqlContext> {
  const log = logger.child('graphql');
  const sessions = new WsSessions(engine.live$, WS_UNAUTHENTICATED_CLOSE);
  const format = createErrorFormatter(log);
  const gate = { listSizes: listSizesOf(engine) };
  // One GraphQL request starts per turn of the event loop (DHCP and /health go in between).
  const turns = eventLoopTurns;
  turns.setErrorHandler((error) => log.error('a GraphQL request failed outside its pipeline', { error }));
  const bodies = new BodyParserPool();
  const documents = new GatedDocuments();
  return {
    path: GRAPHQL_PATH,
    autoSchemaFile: true,
    sortSchema: true,
    apollo: {
      introspection: true,
      includeStacktraceInErrorResponses: false,
      // Parsed again by Apollo after the gate (httpGate), with the same token limit.
      parseOptions: { maxTokens: QUERY_LIMITS.maxTokens },
      // Every request carries its document, so that every document passes the gate...
      persistedQueries: false,
      // ...which hands it over parsed and validated.
      documentStore: documents,
      formatError: format,
      // Token first: an unauthenticated request learns nothing else.
      plugins: [requireTokenPlugin(), rejectHttpSubscriptionsPlugin(GRAPHQL_PATH)],
    },
    context: (req: Request): GqlContext => httpContext(auth, req),
    // Body, turn, limits and token before Apollo parses and validates (request-gate.ts).
    httpMiddleware: (schema) => [
      httpGate({ schema, actorOf: (req) => httpContext(auth, req).actor, format, turns, bodies, documents, options: gate }),
    ],
    onStop: () => bodies.close(),
    webSocket: {
      maxPayload: MAX_WS_MESSAGE_BYTES,
      schedule: (handle) => turns.enqueue(handle),
      onError: (error) => log.error('a WebSocket message failed outside its operation', { error }),
    },
    subscriptions: (schema) => ({
      onConnect: (ctx: WsCtx) => {
        const authorization = authorizationFromConnectionParams(ctx.connectionParams);
        const actor = auth.actorFor(authorization);
        if (!actor) {
          ctx.extra.socket.close(WS_UNAUTHENTICATED_CLOSE, 'UNAUTHENTICATED: a valid token is required');
          return false;
        }
        ctx.extra.actor = actor;
        ctx.extra.authorization = authorization;
        // A token revoked later closes the connections it opened (ws-sessions.ts).
        sessions.opened(ctx.extra.socket, actor);
        return true;
      },
      onClose: (ctx: WsCtx) => sessions.closed(ctx.extra.socket),
      // Checked again for every operation: a token revoked since gets nothing.
      context: (ctx: WsCtx): GqlContext => ({ actor: ctx.extra.actor ? auth.actorFor(ctx.extra.authorization) : null }),
      subscribe: sharedResultSubscribe,
      // The same limits as over HTTP, then GraphQL's validation (the token was checked on connect).
      onSubscribe: (ctx: WsCtx, _id, payload) => {
        if (Object.keys(ctx.subscriptions).length > MAX_WS_OPERATIONS) {
          return [
            new GraphQLError(`a WebSocket runs at most ${MAX_WS_OPERATIONS} operations at once`, {
              extensions: { code: ApiErrorCode.TOO_BUSY },
            }),
          ];
        }
        return gateWebSocketOperation(schema, payload, gate);
      },
      onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
        result.errors ? { ...result, errors: formatErrors(format, result.errors) } : undefined,
      onError: (_ctx, _id, _payload, errors: readonly GraphQLError[]) => formatErrors(format, errors),
    }),
  };
}

/** The GraphQL API on /graphql (HTTP and graphql-ws), and GraphiQL on /graphiql. */
@Module({
  imports: [
    GraphQLModule.forRootAsync<BrambleGraphQLDriverConfig<GqlContext>>({
      driver: BrambleGraphQLDriver,
      inject: [AuthService, APP_LOGGER, ProjectionEngine],
      useFactory: driverOptions,
    }),
  ],
  providers: [CommandGateway, LiveEvents, AuthenticatedGuard, { provide: APP_FILTER, useClass: GraphqlExceptionFilter }, ...RESOLVERS],
  controllers: [GraphiqlController],
})
export class GraphqlApiModule {}
