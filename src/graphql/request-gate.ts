/**
 * The gate every GraphQL request passes before Apollo (HTTP) or graphql-ws (WebSocket) looks at it.
 * In order, each step cheaper than the next and none of them more than linear in the document:
 *
 *  1. the request body: the JSON body parser's limit (server.ts: 16 MB with a valid token, for class
 *     lists, 64 KB without), then the query document alone: QUERY_TOO_LARGE over 64 KB;
 *  2. parsing, stopped at the token limit: QUERY_TOO_LARGE;
 *  3. the token: without a valid one, every operation of the document must ask for nothing but
 *     `health` / `__typename` (UNAUTHENTICATED, HTTP 401) — before any costly validation;
 *  4. depth, nesting, cost and field-merge work (query-limits.ts): DEPTH_LIMIT / QUERY_TOO_COMPLEX;
 *  5. then GraphQL's own validation (by Apollo over HTTP, here for WebSocket), and execution.
 */
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import {
  GraphQLError,
  Kind,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { isPublicOperation } from './auth';
import { unauthenticatedError } from './errors';
import { QUERY_LIMITS, QueryLimitCode, checkDocumentLimits, type QueryLimits } from './query-limits';

/** A request refused by the gate: the error and its HTTP status. */
export interface Refusal {
  error: GraphQLError;
  status: number;
}

export interface GateInput {
  query: unknown;
  operationName?: unknown;
  variables?: unknown;
}

export interface GateOptions {
  limits?: QueryLimits;
  /** Sizes of lists by field coordinate, as they are now (for the cost estimate). */
  listSizes?: () => Readonly<Record<string, number>>;
}

function refuse(code: string, message: string, status: number): Refusal {
  return { error: new GraphQLError(message, { extensions: { code } }), status };
}

/** Parses the document within the size and token limits. */
export function parseWithinLimits(query: string, limits: QueryLimits = QUERY_LIMITS): DocumentNode | Refusal {
  // A UTF-8 byte is at most one UTF-16 unit, so only a long enough string needs counting.
  const bytes = query.length > limits.maxDocumentBytes / 3 ? Buffer.byteLength(query, 'utf8') : query.length;
  if (bytes > limits.maxDocumentBytes) {
    return refuse(QueryLimitCode.QUERY_TOO_LARGE, `the query document is ${bytes} bytes; the limit is ${limits.maxDocumentBytes}`, 413);
  }
  try {
    return parse(query, { maxTokens: limits.maxTokens });
  } catch (error) {
    if (error instanceof GraphQLError) {
      if (/tokens\. Parsing aborted\./.test(error.message)) {
        return refuse(QueryLimitCode.QUERY_TOO_LARGE, `the query document has more than ${limits.maxTokens} tokens`, 413);
      }
      return { error: new GraphQLError(error.message, { source: error.source, positions: error.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }), status: 400 };
    }
    if (error instanceof RangeError) return refuse(QueryLimitCode.QUERY_TOO_LARGE, 'the query document nests too deeply to parse', 413);
    throw error;
  }
}

function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'error' in value && 'status' in value;
}

/**
 * Steps 1–4 for one request. `undefined` for a request that is no GraphQL request at all (no
 * `query` string): Apollo answers those (BAD_REQUEST). `anonymous`: no valid token.
 */
export function gateRequest(
  schema: GraphQLSchema,
  input: GateInput,
  anonymous: boolean,
  options: GateOptions = {},
): { document: DocumentNode } | Refusal | undefined {
  if (typeof input.query !== 'string') return undefined;
  const limits = options.limits ?? QUERY_LIMITS;
  const parsed = parseWithinLimits(input.query, limits);
  if (isRefusal(parsed)) return parsed;
  const operations = parsed.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (anonymous && (operations.length === 0 || !operations.every((o) => isPublicOperation(o, parsed)))) {
    return { error: unauthenticatedError(), status: 401 };
  }
  const variables = typeof input.variables === 'object' && input.variables !== null && !Array.isArray(input.variables) ? (input.variables as Record<string, unknown>) : null;
  const operationName = typeof input.operationName === 'string' ? input.operationName : null;
  const error = checkDocumentLimits(schema, parsed, { operationName, variables, anonymous, limits, listSizes: options.listSizes?.() });
  if (error) return { error, status: 400 };
  return { document: parsed };
}

type Format = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/** The GraphQL parameters of an HTTP request as Apollo reads them (GET: the URL; POST: the JSON body). */
function httpParams(req: Request): GateInput | undefined {
  if (req.method === 'GET') {
    const search = new URLSearchParams(req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '');
    let variables: unknown;
    try {
      const text = search.get('variables');
      variables = text ? JSON.parse(text) : undefined;
    } catch {
      variables = undefined;
    }
    return { query: search.get('query') ?? undefined, operationName: search.get('operationName') ?? undefined, variables };
  }
  if (req.method === 'POST') {
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
    return body as GateInput;
  }
  return undefined;
}

function sendRefusal(res: Parameters<RequestHandler>[1], refusal: Refusal, format: Format): void {
  res.status(refusal.status).json({ errors: [format(refusal.error.toJSON(), refusal.error)] });
}

/** The gate as Express middleware, mounted on the GraphQL path before Apollo. */
export function httpGate(
  schema: GraphQLSchema,
  actorOf: (req: Request) => string | null,
  format: Format,
  options: GateOptions = {},
): RequestHandler {
  return (req, res, next) => {
    const params = httpParams(req);
    if (!params) return next();
    const outcome = gateRequest(schema, params, actorOf(req) === null, options);
    if (outcome && 'error' in outcome) return sendRefusal(res, outcome, format);
    next();
  };
}

/**
 * Errors of the JSON body parser on the GraphQL path, as GraphQL errors with a code: a body over
 * the limit is QUERY_TOO_LARGE (413), a body that is not JSON is BAD_REQUEST (400).
 */
export function httpBodyErrors(format: Format): ErrorRequestHandler {
  return (error: { type?: string; status?: number; statusCode?: number }, _req, res, next) => {
    if (res.headersSent) return next(error);
    let refusal: Refusal;
    if (error?.type === 'entity.too.large') refusal = refuse(QueryLimitCode.QUERY_TOO_LARGE, 'the request body is too large', 413);
    else if (error?.type === 'entity.parse.failed') refusal = refuse('BAD_REQUEST', 'the request body is not valid JSON', 400);
    else if ((error?.status ?? error?.statusCode ?? 500) < 500) refusal = refuse('BAD_REQUEST', 'the request body cannot be read', error.status ?? error.statusCode ?? 400);
    else return next(error);
    sendRefusal(res, refusal, format);
  };
}

/** The gate for a graphql-ws `subscribe` message (the socket's token was checked at connection). */
export function gateWebSocketOperation(
  schema: GraphQLSchema,
  payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
  options: GateOptions = {},
): ExecutionArgs | readonly GraphQLError[] {
  const outcome = gateRequest(schema, payload, false, options);
  if (!outcome) return [new GraphQLError('a query is required', { extensions: { code: 'BAD_REQUEST' } })];
  if ('error' in outcome) return [outcome.error];
  const errors = validate(schema, outcome.document, specifiedRules);
  if (errors.length > 0) {
    // The codes Apollo gives the same errors over HTTP.
    return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, originalError: e, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
  }
  return { schema, document: outcome.document, operationName: payload.operationName ?? undefined, variableValues: payload.variables ?? undefined };
}

