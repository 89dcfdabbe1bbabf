/**
 * The gate every GraphQL request passes before Apollo (HTTP) or graphql-ws (WebSocket) looks at it.
 * In order, each step cheaper than the next and none of them more than linear in the request:
 *
 *  1. the body (request-body.ts): at most 16 MB with a valid token, 64 KB without (checked before it
 *     is read); a body over 64 KB is parsed in a worker thread; the query document at most 64 KB
 *     (QUERY_TOO_LARGE, 413);
 *  2. a turn on the event loop (src/core/limits/event-loop-turns.ts): one request starts per turn;
 *     too many waiting: TOO_BUSY (503);
 *  3. parsing, stopped at the token limit (QUERY_TOO_LARGE);
 *  4. the token: without a valid one, every operation of the document must ask for nothing but
 *     `health` / `__typename` (UNAUTHENTICATED, 401) — before any costly validation;
 *  5. depth, nesting, cost and field-merge work (query-limits.ts): DEPTH_LIMIT / QUERY_TOO_COMPLEX,
 *     and the variables at most 10,000 values (VALIDATION, naming the argument they feed);
 *  6. GraphQL's own validation (Apollo then takes the parsed, validated document from
 *     GatedDocuments instead of parsing and validating it again), and execution.
 */
import { createHash } from 'node:crypto';
import type { DocumentStore } from '@apollo/server';
import type { Request, RequestHandler, Response } from 'express';
import {
  BREAK,
  GraphQLError,
  Kind,
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
  visit,
  type ASTNode,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { validationError } from '../core/domain/shared/domain-error';
import { isPlainObject } from '../core/domain/shared/json';
import { isPublicOperation } from './auth';
import { unauthenticatedError } from './errors';
import { QUERY_LIMITS, QueryLimitCode, checkDocumentLimits, type QueryLimits } from './query-limits';
import {
  BODY_LIMITS,
  checkVariables,
  documentTooLarge,
  inspectBody,
  readBody,
  type BodyOutcome,
  type BodyParserPool,
  type VariableProblem,
} from './request-body';
import type { EventLoopTurns } from '../core/limits/event-loop-turns';

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
  const tooLarge = documentTooLarge(query, limits.maxDocumentBytes);
  if (tooLarge) return refuse(tooLarge.code, tooLarge.message, tooLarge.status);
  try {
    return parse(query, { maxTokens: limits.maxTokens });
  } catch (error) {
    if (error instanceof GraphQLError) {
      if (/tokens\. Parsing aborted\./.test(error.message)) {
        return refuse(QueryLimitCode.QUERY_TOO_LARGE, `the query document has more than ${limits.maxTokens} tokens`, 413);
      }
      return {
        error: new GraphQLError(error.message, {
          source: error.source,
          positions: error.positions,
          extensions: { code: 'GRAPHQL_PARSE_FAILED' },
        }),
        status: 400,
      };
    }
    if (error instanceof RangeError) return refuse(QueryLimitCode.QUERY_TOO_LARGE, 'the query document nests too deeply to parse', 413);
    throw error;
  }
}

function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'error' in value && 'status' in value;
}

/** The argument (or input field) a variable is first used for, else the variable's own name. */
function fieldOfVariable(document: DocumentNode, variable: string): string {
  let field = variable;
  visit(document, {
    Variable(node, _key, parent, _path, ancestors) {
      if (node.name.value !== variable) return undefined;
      // `parent` is the nearest node (or list); `ancestors` the ones above it.
      const chain = [...ancestors, parent].reverse() as Array<ASTNode | readonly ASTNode[] | undefined>;
      for (const a of chain) {
        if (!a || Array.isArray(a)) continue;
        const n = a as ASTNode;
        if (n.kind === Kind.VARIABLE_DEFINITION) return undefined;
        if (n.kind === Kind.ARGUMENT || n.kind === Kind.OBJECT_FIELD) {
          field = n.name.value;
          return BREAK;
        }
      }
      return undefined;
    },
  });
  return field;
}

/**
 * Steps 3–5 for one request. `undefined` for a request that is no GraphQL request at all (no
 * `query` string): Apollo answers those (BAD_REQUEST). `anonymous`: no valid token.
 * `variableProblem`: what the body step found wrong with the variables (checked here otherwise).
 */
export function gateRequest(
  schema: GraphQLSchema,
  input: GateInput,
  anonymous: boolean,
  options: GateOptions = {},
  variableProblem?: VariableProblem | null,
): { document: DocumentNode } | Refusal | undefined {
  if (typeof input.query !== 'string') return undefined;
  const limits = options.limits ?? QUERY_LIMITS;
  const parsed = parseWithinLimits(input.query, limits);
  if (isRefusal(parsed)) return parsed;
  const operations = parsed.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (anonymous && (operations.length === 0 || !operations.every((o) => isPublicOperation(o, parsed)))) {
    return { error: unauthenticatedError(), status: 401 };
  }
  const variables = isPlainObject(input.variables) ? input.variables : null;
  const operationName = typeof input.operationName === 'string' ? input.operationName : null;
  const error = checkDocumentLimits(schema, parsed, { operationName, variables, anonymous, limits, listSizes: options.listSizes?.() });
  if (error) return { error, status: 400 };
  const problem = variableProblem ?? (variables ? checkVariables(variables) : null);
  if (problem) {
    const field = fieldOfVariable(parsed, problem.variable);
    const invalid = validationError(field, `${problem.message} (variable $${problem.variable})`);
    return { error: new GraphQLError(invalid.message, { originalError: invalid, extensions: { code: invalid.code, field } }), status: 400 };
  }
  return { document: parsed };
}

type Format = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

function sendErrors(res: Response, status: number, errors: readonly GraphQLError[], format: Format): void {
  if (res.headersSent) return;
  res.status(status).json({ errors: errors.map((e) => format(e.toJSON(), e)) });
}

function sendRefusal(res: Response, refusal: Refusal, format: Format): void {
  sendErrors(res, refusal.status, [refusal.error], format);
}

/** GET: the GraphQL parameters from the URL, as Apollo reads them. */
function urlParams(req: Request): GateInput {
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

export interface HttpGateDeps {
  schema: GraphQLSchema;
  /** The caller's actor from its Authorization header, or null. */
  actorOf: (req: Request) => string | null;
  format: Format;
  turns: EventLoopTurns;
  bodies: BodyParserPool;
  /** Apollo's DocumentStore: what passed the gate, parsed and validated. */
  documents: GatedDocuments;
  options?: GateOptions;
}

/**
 * The gate as Express middleware on the GraphQL path, before Apollo: it reads and parses the body
 * itself (nothing else parses request bodies in bramble), and calls Apollo in the request's turn.
 */
export function httpGate(deps: HttpGateDeps): RequestHandler {
  const { schema, actorOf, format, turns, bodies, documents, options = {} } = deps;
  const busy = (): Refusal => refuse('TOO_BUSY', 'too many GraphQL requests are waiting; retry later', 503);

  return (req, res, next) => {
    const anonymous = actorOf(req) === null;
    const inTurn = (work: () => void): void => {
      if (!turns.enqueue(() => !req.socket.destroyed && work())) sendRefusal(res, busy(), format);
    };
    /** In the request's turn: the gate on what the body step found, then Apollo. */
    const proceed = (input: GateInput | undefined, problem?: VariableProblem | null): void => {
      if (input) {
        const outcome = gateRequest(schema, input, anonymous, options, problem);
        if (outcome && 'error' in outcome) return sendRefusal(res, outcome, format);
        if (outcome) {
          const errors = checkOperation(schema, outcome.document, input.operationName, input.variables);
          if (errors.length > 0) return sendErrors(res, 400, errors, format);
          documents.put(input.query as string, outcome.document);
        }
      }
      next();
    };
    const proceedWithBody = (outcome: BodyOutcome): void => {
      if (outcome.kind === 'refused')
        return sendRefusal(res, refuse(outcome.refusal.code, outcome.refusal.message, outcome.refusal.status), format);
      if (outcome.kind === 'variables') {
        req.body = {};
        return proceed({ query: outcome.query, operationName: outcome.operationName }, outcome.problem);
      }
      req.body = outcome.body ?? {};
      proceed(typeof outcome.body === 'object' && outcome.body !== null ? (outcome.body as GateInput) : undefined);
    };

    if (req.method === 'GET') return inTurn(() => proceed(urlParams(req)));
    if (req.method !== 'POST') return next();
    if (!req.is('application/json')) {
      // Apollo answers (CSRF prevention, or a missing body); nothing to read here.
      req.body = {};
      return inTurn(() => proceed(undefined));
    }
    readBody(req, anonymous ? BODY_LIMITS.withoutToken : BODY_LIMITS.withToken).then(
      (bytes) => {
        if (!Buffer.isBuffer(bytes)) return sendRefusal(res, refuse(bytes.code, bytes.message, bytes.status), format);
        // A small body is parsed in its turn; a large one in the worker first (only what passes comes back).
        if (bytes.length <= BODY_LIMITS.inlineParse) return inTurn(() => proceedWithBody(inspectBody(bytes)));
        bodies.inspect(bytes).then(
          (outcome) => (outcome.kind === 'refused' ? proceedWithBody(outcome) : inTurn(() => proceedWithBody(outcome))),
          () => sendRefusal(res, refuse('INTERNAL', 'internal error', 500), format),
        );
      },
      () => {
        // The client went away while sending: nobody to answer.
        if (!res.headersSent) res.destroy();
      },
    );
  };
}

function withCode(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, originalError: e, extensions: { code } }));
}

/**
 * Step 6: GraphQL's own validation (the specified rules, as Apollo runs them). Some of them throw
 * rather than report (SingleFieldSubscriptionsRule evaluates `@include(if: 1)` and throws): that
 * is a validation error too, not an INTERNAL one.
 */
export function validateDocument(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
  try {
    // At most 20 errors: each one locates itself by scanning the source.
    return withCode(validate(schema, document, specifiedRules, { maxErrors: 20 }), 'GRAPHQL_VALIDATION_FAILED');
  } catch (error) {
    if (error instanceof GraphQLError) return withCode([error], 'GRAPHQL_VALIDATION_FAILED');
    throw error;
  }
}

/**
 * Step 6 whole: validation, then the variables coerced to the operation's types (BAD_USER_INPUT,
 * as Apollo codes them; including graphql-js's "too many errors" that Apollo leaves uncoded).
 */
export function checkOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: unknown,
  variables: unknown,
): readonly GraphQLError[] {
  const errors = validateDocument(schema, document);
  if (errors.length > 0) return errors;
  const operation = getOperationAST(document, typeof operationName === 'string' ? operationName : undefined);
  if (!operation) return [];
  const given = isPlainObject(variables) ? variables : {};
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], given, { maxErrors: 20 });
  return coerced.errors ? withCode(coerced.errors, 'BAD_USER_INPUT') : [];
}

/**
 * Hands the document the gate parsed and validated over to Apollo (as its DocumentStore: Apollo
 * looks a request's document up by the SHA-256 of its text before parsing it), so that it is
 * parsed and validated once, by the gate. Apollo asks within the request's turn, right after the
 * gate; only a few are ever held. A document Apollo did not get from here it parses itself.
 */
export class GatedDocuments implements DocumentStore {
  private readonly documents = new Map<string, DocumentNode>();

  constructor(private readonly max = 64) {}

  put(query: string, document: DocumentNode): void {
    if (this.documents.size >= this.max) this.documents.delete(this.documents.keys().next().value as string);
    this.documents.set(createHash('sha256').update(query).digest('hex'), document);
  }

  async get(key: string): Promise<DocumentNode | undefined> {
    // Apollo's key: `<schema hash>:<query hash>`.
    const hash = key.slice(key.lastIndexOf(':') + 1);
    const document = this.documents.get(hash);
    this.documents.delete(hash);
    return document;
  }

  async set(): Promise<void> {
    // Apollo keeps what it parsed itself: nothing to keep here.
  }

  async delete(key: string): Promise<boolean> {
    return this.documents.delete(key.slice(key.lastIndexOf(':') + 1));
  }
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
  // The codes Apollo gives the same errors over HTTP.
  const errors = checkOperation(schema, outcome.document, payload.operationName, payload.variables);
  if (errors.length > 0) return errors;
  return {
    schema,
    document: outcome.document,
    operationName: payload.operationName ?? undefined,
    variableValues: payload.variables ?? undefined,
  };
}
