import { Catch, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { GqlContextType } from '@nestjs/graphql';

/**
 * Hands errors thrown in resolvers back to GraphQL untouched, so the one error formatter
 * (errors.ts) classifies and logs them: a refused request (USER_NOT_FOUND, VALIDATION...) at info,
 * a failure of bramble at error. Without it Nest's own handler logs every refusal as an error.
 * HTTP routes keep Nest's handling.
 */
@Catch()
export class GraphqlExceptionFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<GqlContextType>() === 'graphql') return exception;
    return super.catch(exception, host);
  }
}
