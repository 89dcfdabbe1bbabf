import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { specifiedRules, validate, type DocumentNode, type ExecutionResult, type GraphQLError, type GraphQLSchema } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import type { Request } from 'express';
import { AuthService } from '../core/auth/auth.service';
import { APP_LOGGER } from '../core/logging/logging.tokens';
import type { Logger } from '../core/logging/logger';
import { ProjectionEngine } from '../core/projections/projection-engine';
import { AuditResolver } from './audit.resolver';
import {
  AuthenticatedGuard,
  authorizationFromConnectionParams,
  httpContext,
  requireTokenPlugin,
  type GqlContext,
} from './auth';
import { ClientResolver } from './client.resolver';
import { CommandGateway } from './command-gateway';
import { depthLimitRule } from './depth-limit';
import { createErrorFormatter, formatErrors } from './errors';
import { GraphiqlController } from './graphiql.controller';
import { GraphqlExceptionFilter } from './graphql-exception.filter';
import { HealthResolver } from './health.resolver';
import { rejectHttpSubscriptionsPlugin } from './http-subscriptions.plugin';
import { ImageResolver } from './image.resolver';
import { LiveEvents } from './live-events';
import { SettingsResolver } from './settings.resolver';
import { sharedResultSubscribe } from './shared-subscribe';
import { StateResolver } from './state.resolver';
import { TokenResolver } from './token.resolver';
import { UserResolver } from './user.resolver';
import { WsSessions } from './ws-sessions';

export const GRAPHQL_PATH = '/graphql';
/** Deepest field nesting accepted (`{ clients { image { id } } }` is 3). */
export const MAX_QUERY_DEPTH = 8;
/** graphql-ws close code for a connection without a valid token (the protocol's Unauthorized). */
export const WS_UNAUTHENTICATED_CLOSE = 4401;

export const RESOLVERS = [
  HealthResolver,
  ClientResolver,
  UserResolver,
  ImageResolver,
  SettingsResolver,
  AuditResolver,
  StateResolver,
  TokenResolver,
];

interface WsExtra {
  socket: { close(code: number, reason: string): void };
  request: unknown;
  /** Set by onConnect. */
  actor?: string;
  /** Set by onConnect: checked again for every operation (a token revoked since gets nothing). */
  authorization?: string | null;
}

function apolloOptions(auth: AuthService, logger: Logger, engine: ProjectionEngine): ApolloDriverConfig {
  const log = logger.child('graphql');
  const sessions = new WsSessions(engine.live$, WS_UNAUTHENTICATED_CLOSE);
  const format = createErrorFormatter(log);
  const depthLimit = depthLimitRule(MAX_QUERY_DEPTH);
  return {
    path: GRAPHQL_PATH,
    autoSchemaFile: true,
    sortSchema: true,
    playground: false,
    graphiql: false,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    validationRules: [depthLimit],
    formatError: format,
    // Token first: an unauthenticated request learns nothing else.
    plugins: [requireTokenPlugin(), rejectHttpSubscriptionsPlugin(GRAPHQL_PATH)],
    context: ({ req }: { req: Request }): GqlContext => httpContext(auth, req),
    subscriptions: {
      'graphql-ws': {
        path: GRAPHQL_PATH,
        onConnect: (ctx: WsContext<Record<string, unknown> | undefined, WsExtra>) => {
          const authorization = authorizationFromConnectionParams(ctx.connectionParams);
          const actor = auth.actorFor(authorization);
          if (!actor) {
            ctx.extra.socket.close(WS_UNAUTHENTICATED_CLOSE, 'UNAUTHENTICATED: a valid token is required');
            return false;
          }
          ctx.extra.actor = actor;
          ctx.extra.authorization = authorization;
          sessions.opened(ctx.extra.socket, actor);
          return true;
        },
        onClose: (ctx: WsContext<Record<string, unknown> | undefined, WsExtra>) => sessions.closed(ctx.extra.socket),
        context: (ctx: WsContext<Record<string, unknown> | undefined, WsExtra>): GqlContext => ({
          actor: ctx.extra.actor ? auth.actorFor(ctx.extra.authorization) : null,
        }),
        subscribe: sharedResultSubscribe,
        validate: (schema: GraphQLSchema, document: DocumentNode) => validate(schema, document, [...specifiedRules, depthLimit]),
        onNext: (_ctx: unknown, _id: unknown, _payload: unknown, _args: unknown, result: ExecutionResult) =>
          result.errors ? { ...result, errors: formatErrors(format, result.errors) } : undefined,
        onError: (_ctx: unknown, _id: unknown, _payload: unknown, errors: readonly GraphQLError[]) => formatErrors(format, errors),
      },
    },
  } as ApolloDriverConfig;
}

/** The GraphQL API on /graphql (HTTP and graphql-ws), and GraphiQL on /graphiql. */
@Module({
  imports: [
    GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      inject: [AuthService, APP_LOGGER, ProjectionEngine],
      useFactory: apolloOptions,
    }),
  ],
  providers: [CommandGateway, LiveEvents, AuthenticatedGuard, { provide: APP_FILTER, useClass: GraphqlExceptionFilter }, ...RESOLVERS],
  controllers: [GraphiqlController],
})
export class GraphqlApiModule {}
