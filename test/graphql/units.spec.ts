/** Unit tests of the GraphQL layer's small parts: error mapping, WS auth params, the live-feed iterator. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GraphQLError, parse } from 'graphql';
import { Subject } from 'rxjs';
import { DomainError, ErrorCode } from '../../src/core/domain/shared/domain-error';
import { EventStoreUnavailableError, WrongExpectedRevisionError } from '../../src/core/event-store/event-store.port';
import { authorizationFromConnectionParams, isPublicOperation } from '../../src/graphql/auth';
import { classify, createErrorFormatter } from '../../src/graphql/errors';
import { matchesLiveFilter, toAsyncIterator } from '../../src/graphql/live-events';
import type { RecordedEvent } from '../../src/core/event-store/event-store.port';
import { recordingLogger } from '../support/temp';

describe('errors: the one mapping to extensions.code', () => {
  it('a DomainError keeps its code and field, also when GraphQL wrapped it', () => {
    const domain = new DomainError(ErrorCode.VALIDATION, 'name: too long', 'name');
    assert.deepEqual(classify(domain), { code: 'VALIDATION', message: 'name: too long', field: 'name' });
    const wrapped = new GraphQLError(domain.message, { path: ['renameClient'], originalError: domain });
    assert.deepEqual(classify(wrapped), { code: 'VALIDATION', message: 'name: too long', field: 'name' });
    assert.deepEqual(classify(new DomainError(ErrorCode.USER_EXISTS, 'user ada already exists')), {
      code: 'USER_EXISTS',
      message: 'user ada already exists',
    });
  });

  it('store errors get their codes without their details', () => {
    assert.equal(classify(new WrongExpectedRevisionError('client-x', 3, 4)).code, 'CONCURRENCY_CONFLICT');
    const unavailable = classify(new EventStoreUnavailableError('sqlite: /var/lib/bramble/events.db: SQLITE_BUSY'));
    assert.equal(unavailable.code, 'EVENT_STORE_UNAVAILABLE');
    assert.equal(unavailable.message.includes('/var/lib'), false);
  });

  it('anything else is INTERNAL with a generic message; the detail is logged, not sent', () => {
    const { logger, lines } = recordingLogger();
    const format = createErrorFormatter(logger);
    const boom = new TypeError('cannot read x of undefined at /work/main/src/secret.ts:12');
    const out = format(
      { message: boom.message, path: ['clients'], extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['...'] } },
      new GraphQLError(boom.message, { path: ['clients'], originalError: boom }),
    );
    assert.deepEqual(out, { message: 'internal error', path: ['clients'], extensions: { code: 'INTERNAL' } });
    assert.equal(lines.length, 1);
    assert.equal(lines[0].level, 'error');
    assert.match(String(lines[0].error), /cannot read x/);
  });

  it("GraphQL request errors and the API's own codes pass through, innermost first", () => {
    const depth = new GraphQLError('query is 9 levels deep; the limit is 8', { extensions: { code: 'DEPTH_LIMIT' } });
    const asApolloReportsIt = new GraphQLError(depth.message, { originalError: depth, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    assert.equal(classify(asApolloReportsIt).code, 'DEPTH_LIMIT');
    assert.equal(classify(new GraphQLError('Syntax Error', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })).code, 'GRAPHQL_PARSE_FAILED');
    assert.equal(classify(new GraphQLError('who?', { extensions: { code: 'UNAUTHENTICATED' } })).code, 'UNAUTHENTICATED');
    // A code the API does not know is not trusted.
    assert.equal(classify(new GraphQLError('x', { extensions: { code: 'SOMETHING_ELSE' } })).code, 'INTERNAL');
  });
});

describe('auth helpers', () => {
  it('reads the token from graphql-ws connectionParams', () => {
    assert.equal(authorizationFromConnectionParams({ Authorization: 'Bearer abc' }), 'Bearer abc');
    assert.equal(authorizationFromConnectionParams({ authorization: 'Bearer abc' }), 'Bearer abc');
    assert.equal(authorizationFromConnectionParams({ token: 'abc' }), 'Bearer abc');
    assert.equal(authorizationFromConnectionParams({ token: 'Bearer abc' }), 'Bearer abc');
    assert.equal(authorizationFromConnectionParams({ Authorization: 42 }), null);
    assert.equal(authorizationFromConnectionParams(undefined), null);
    assert.equal(authorizationFromConnectionParams({}), null);
  });

  it('only a query of health (and __typename) is public', () => {
    const check = (source: string) => {
      const document = parse(source);
      const operation = document.definitions.find((d) => d.kind === 'OperationDefinition');
      return isPublicOperation(operation as never, document);
    };
    assert.equal(check('{ health { status } }'), true);
    assert.equal(check('{ __typename health { status } }'), true);
    assert.equal(check('query { ...H } fragment H on Query { health { status } }'), true);
    assert.equal(check('{ health { status } clients { mac } }'), false);
    assert.equal(check('query { ...H } fragment H on Query { users { username } }'), false);
    assert.equal(check('{ __schema { types { name } } }'), false);
    assert.equal(check('mutation { rebuildProjections { ms } }'), false);
  });
});

describe('live feed iterator', () => {
  const event = (type: string, stream: string): RecordedEvent => ({
    id: type,
    stream,
    revision: 0,
    position: 1,
    type,
    data: {},
    metadata: { actor: 'a', correlationId: 'c', causationId: null, timestamp: '2026-01-01T00:00:00.000Z', schemaVersion: 1 },
  });

  it('filters by type and stream prefix', () => {
    assert.equal(matchesLiveFilter(event('ClientApproved', 'client-x'), null, null), true);
    assert.equal(matchesLiveFilter(event('ClientApproved', 'client-x'), [], undefined), true);
    assert.equal(matchesLiveFilter(event('ClientApproved', 'client-x'), ['ClientRejected'], null), false);
    assert.equal(matchesLiveFilter(event('ClientApproved', 'client-x'), ['ClientApproved'], 'user-'), false);
    assert.equal(matchesLiveFilter(event('ClientApproved', 'client-x'), ['ClientApproved'], 'client-'), true);
  });

  it('delivers in order, buffers while the reader is slow, and unsubscribes on return()', async () => {
    const source = new Subject<number>();
    const it = toAsyncIterator(source);
    const first = it.next();
    source.next(1);
    source.next(2);
    source.next(3);
    assert.deepEqual(await first, { value: 1, done: false });
    assert.deepEqual(await it.next(), { value: 2, done: false });
    assert.deepEqual(await it.next(), { value: 3, done: false });
    assert.equal(source.observers.length, 1);
    await it.return!();
    assert.equal(source.observers.length, 0);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  it('completes (rather than growing without bound) when a reader falls too far behind', async () => {
    const source = new Subject<number>();
    const it = toAsyncIterator(source, 3);
    for (let i = 0; i < 10; i++) source.next(i);
    assert.equal(source.observers.length, 0);
    const got: number[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) got.push(r.value);
    assert.deepEqual(got, [0, 1, 2]);
  });

  it('ends when the source completes', async () => {
    const source = new Subject<number>();
    const it = toAsyncIterator(source);
    const pending = it.next();
    source.complete();
    assert.deepEqual(await pending, { value: undefined, done: true });
  });
});

describe('shared subscription results', () => {
  it('executes once per event and operation, shared by subscribers; other variables get their own; return() reaches the source', async () => {
    const { buildSchema, parse: parseQuery } = await import('graphql');
    const { sharedResultSubscribe } = await import('../../src/graphql/shared-subscribe');
    const schema = buildSchema(
      'type Query { x: Int } type Event { n: Int, label(prefix: String): String } type Subscription { tick: Event }',
    );
    const sources: Array<Subject<{ n: number }>> = [];
    let executions = 0;
    const rootValue = {
      tick: () => {
        const s = new Subject<{ n: number }>();
        sources.push(s);
        return toAsyncIterator(s);
      },
    };
    const fieldResolver = (source: any, args: { prefix?: string }, _ctx: unknown, info: { fieldName: string }) => {
      if (info.fieldName === 'tick') return source;
      if (info.fieldName === 'label') {
        executions++;
        return `${args.prefix ?? ''}${source.n}`;
      }
      return source[info.fieldName];
    };
    const subscribeWith = (prefix: string) =>
      sharedResultSubscribe({
        schema,
        rootValue,
        fieldResolver,
        subscribeFieldResolver: (root: any, _args: unknown, _ctx: unknown, info: { fieldName: string }) => root[info.fieldName](),
        // Each subscriber parses its own copy of the same text, as graphql-ws does.
        document: parseQuery('subscription ($p: String) { tick { n label(prefix: $p) } }'),
        variableValues: { p: prefix },
      } as never) as Promise<AsyncIterableIterator<any>>;
    const a = await subscribeWith('a');
    const b = await subscribeWith('a');
    const c = await subscribeWith('c');
    // One shared payload object per event, pushed to every source (as LiveEvents does with share()).
    const event = { n: 1 };
    const pending = [a.next(), b.next(), c.next()];
    for (const s of sources) s.next(event);
    const [ra, rb, rc] = await Promise.all(pending);
    assert.deepEqual(JSON.parse(JSON.stringify(ra.value)), { data: { tick: { n: 1, label: 'a1' } } });
    assert.equal(rb.value, ra.value, 'the same result object');
    assert.deepEqual(JSON.parse(JSON.stringify(rc.value)), { data: { tick: { n: 1, label: 'c1' } } });
    assert.equal(executions, 2);
    await a.return!();
    assert.equal(sources[0].observers.length, 0);
    assert.equal(sources[1].observers.length, 1);
  });
});
