/**
 * The ONE place where failures become API errors. Every error leaves with a stable
 * `extensions.code` (and `extensions.field` for VALIDATION): a DomainError keeps its own code;
 * GraphQL's request errors (parse, validation, bad input) and the API's own (UNAUTHENTICATED,
 * DEPTH_LIMIT) pass through; anything else becomes INTERNAL with a generic message, and the detail
 * goes to the log only. Used for HTTP (Apollo's formatError) and WebSocket (graphql-ws hooks) alike.
 * The request limits (request-gate.ts, query-limits.ts) answer QUERY_TOO_LARGE, QUERY_TOO_COMPLEX
 * and DEPTH_LIMIT; a costly operation refused for load (CostlyWork) answers TOO_BUSY.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from '../core/domain/shared/domain-error';
import { EventStoreUnavailableError, WrongExpectedRevisionError } from '../core/event-store/event-store.port';
import { TOO_BUSY, TooBusyError } from '../core/limits/concurrency-limiter';
import type { Logger } from '../core/logging/logger';

/** Codes of the API layer itself (not the domain's). */
export const ApiErrorCode = {
  UNAUTHENTICATED: ErrorCode.UNAUTHENTICATED,
  DEPTH_LIMIT: 'DEPTH_LIMIT',
  QUERY_TOO_LARGE: 'QUERY_TOO_LARGE',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  TOO_BUSY,
  INTERNAL: ErrorCode.INTERNAL,
} as const;

/** Codes set by GraphQL/Apollo on request errors, and our own: kept as they are. */
const PASSTHROUGH_CODES = new Set<string>([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'MAX_RECURSIVE_SELECTIONS_EXCEEDED',
  ApiErrorCode.UNAUTHENTICATED,
  ApiErrorCode.DEPTH_LIMIT,
  ApiErrorCode.QUERY_TOO_LARGE,
  ApiErrorCode.QUERY_TOO_COMPLEX,
  ApiErrorCode.TOO_BUSY,
]);

const INTERNAL_MESSAGE = 'internal error';

/** An error of the API layer, with its code. */
export function apiError(code: string, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export function unauthenticatedError(): GraphQLError {
  return apiError(ApiErrorCode.UNAUTHENTICATED, 'a valid token is required: send Authorization: Bearer <token>', {
    http: { status: 401 },
  });
}

interface Classified {
  code: string;
  message: string;
  field?: string;
  /** Logged, never sent. */
  internal?: unknown;
}

function codeOf(error: GraphQLError): string | undefined {
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What an error is, for the client. */
export function classify(error: unknown): Classified {
  let current: unknown = error;
  let known: Classified | undefined;
  // GraphQL and Apollo wrap errors (resolver errors, validation errors); the innermost decides.
  while (current instanceof GraphQLError) {
    const code = codeOf(current);
    if (code && PASSTHROUGH_CODES.has(code)) known = { code, message: current.message };
    const inner = current.originalError;
    if (!inner || inner === current) break;
    current = inner;
  }
  if (current instanceof DomainError) {
    return current.field
      ? { code: current.code, message: current.message, field: current.field }
      : { code: current.code, message: current.message };
  }
  if (current instanceof WrongExpectedRevisionError) {
    return { code: ErrorCode.CONCURRENCY_CONFLICT, message: 'the record was changed meanwhile; retry' };
  }
  if (current instanceof TooBusyError) return { code: ApiErrorCode.TOO_BUSY, message: current.message };
  if (current instanceof EventStoreUnavailableError) {
    return { code: ErrorCode.EVENT_STORE_UNAVAILABLE, message: 'the event store is unavailable', internal: current };
  }
  if (known) return known;
  return { code: ApiErrorCode.INTERNAL, message: INTERNAL_MESSAGE, internal: current };
}

/** Builds the formatter shared by HTTP and WebSocket. */
export function createErrorFormatter(logger: Logger): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const c = classify(error);
    if (c.internal === undefined) {
      // Refused requests are the client's business, not bramble's failures: info, never error.
      logger.info('request refused', { path: formatted.path?.join('.'), code: c.code, field: c.field });
    } else {
      const e = c.internal as { message?: unknown; stack?: unknown; name?: unknown };
      logger.error('request failed', {
        path: formatted.path?.join('.'),
        error: typeof e?.message === 'string' ? e.message : String(c.internal),
        name: typeof e?.name === 'string' ? e.name : undefined,
        stack: typeof e?.stack === 'string' ? e.stack : undefined,
      });
    }
    const out: GraphQLFormattedError = {
      message: c.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: c.field ? { code: c.code, field: c.field } : { code: c.code },
    };
    return out;
  };
}

/** For graphql-ws, which hands over GraphQLError instances. */
export function formatErrors(
  format: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError,
  errors: readonly GraphQLError[],
): GraphQLFormattedError[] {
  return errors.map((e) => format(e.toJSON(), e));
}
