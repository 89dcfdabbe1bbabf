import { Module } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { specifiedRules, validate, type DocumentNode, type ExecutionResult, type GraphQLError, type GraphQLSchema } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import type { Request } from 'express';
import { AuthService } from '../core/auth/auth.service';
import { APP_LOGGER } from '../core/logging/logging.tokens';
import type { Logger } from '../core/logging/logger';
import { BrambleGraphQLDriver, type BrambleGraphQLDriverConfig, type WsExtra } from './apollo.driver';
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
import { HealthResolver } from './health.resolver';
import { rejectHttpSubscriptionsPlugin } from './http-subscriptions.plugin';
import { ImageResolver } from './image.resolver';
import { LiveEvents } from './live-events';
import { SettingsResolver } from './settings.resolver';
import { sharedResultSubscribe } from './shared-subscribe';
import { StateResolver } from './state.resolver';
import { UserResolver } from './user.resolver';

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
];

/** Set by onConnect on the socket's `extra`. */
interface WsState extends WsExtra {
  actor?: string;
}

type WsCtx = WsContext<Record<string, unknown> | undefined, WsState>;

function driverOptions(auth: AuthService, logger: Logger): BrambleGraphQLDriverConfig<GqlContext> {
  const log = logger.child('graphql');
  const format = createErrorFormatter(log);
  const depthLimit = depthLimitRule(MAX_QUERY_DEPTH);
  return {
    path: GRAPHQL_PATH,
    autoSchemaFile: true,
    sortSchema: true,
    apollo: {
      introspection: true,
      includeStacktraceInErrorResponses: false,
      validationRules: [depthLimit],
      formatError: format,
      // Token first: an unauthenticated request learns nothing else.
      plugins: [requireTokenPlugin(), rejectHttpSubscriptionsPlugin(GRAPHQL_PATH)],
    },
    context: (req: Request): GqlContext => httpContext(auth, req),
    subscriptions: () => ({
      onConnect: (ctx: WsCtx) => {
        const actor = auth.actorFor(authorizationFromConnectionParams(ctx.connectionParams));
        if (!actor) {
          ctx.extra.socket.close(WS_UNAUTHENTICATED_CLOSE, 'UNAUTHENTICATED: a valid token is required');
          return false;
        }
        ctx.extra.actor = actor;
        return true;
      },
      context: (ctx: WsCtx): GqlContext => ({ actor: ctx.extra.actor ?? null }),
      subscribe: sharedResultSubscribe,
      validate: (schema: GraphQLSchema, document: DocumentNode) => validate(schema, document, [...specifiedRules, depthLimit]),
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
      inject: [AuthService, APP_LOGGER],
      useFactory: driverOptions,
    }),
  ],
  providers: [CommandGateway, LiveEvents, AuthenticatedGuard, ...RESOLVERS],
  controllers: [GraphiqlController],
})
export class GraphqlApiModule {}
