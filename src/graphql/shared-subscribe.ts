/**
 * GraphQL's `subscribe`, except that the result for one event is computed once per distinct
 * operation and shared by every subscriber running that operation, instead of once per subscriber.
 * A hundred GraphiQL tabs or dashboards watching `events` then cost one execution per event, not a
 * hundred (the WebSocket writes remain one per subscriber).
 *
 * Sharing is sound because the payloads are immutable snapshots published once per event (see
 * LiveEvents) and no field below a subscription depends on who asks (the caller's token is checked
 * when subscribing). A subscription resolver whose answer depended on the context would have to opt
 * out by publishing per-subscriber payloads (the cache is keyed by payload identity).
 */
import {
  createSourceEventStream,
  execute,
  GraphQLError,
  print,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import { apiError } from './errors';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Results by payload (weakly: gone with the event), then by operation. */
const results = new WeakMap<object, Map<string, Result>>();
const documentText = new WeakMap<DocumentNode, string>();

function operationKey(args: ExecutionArgs): string {
  let text = documentText.get(args.document);
  if (text === undefined) {
    text = print(args.document);
    documentText.set(args.document, text);
  }
  return JSON.stringify([text, args.operationName ?? null, args.variableValues ?? null]);
}

function mapIterator<T, U>(source: AsyncIterator<T>, map: (value: T) => U | Promise<U>): AsyncIterableIterator<U> {
  const iterator: AsyncIterableIterator<U> = {
    async next(): Promise<IteratorResult<U>> {
      const r = await source.next();
      return r.done ? { value: undefined, done: true } : { value: await map(r.value), done: false };
    },
    async return(): Promise<IteratorResult<U>> {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown): Promise<IteratorResult<U>> {
      if (source.throw) await source.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

export async function sharedResultSubscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  let stream: Awaited<ReturnType<typeof createSourceEventStream>>;
  try {
    stream = await createSourceEventStream(args);
  } catch (error) {
    if (error instanceof GraphQLError) throw error;
    // graphql-js 16 throws a TypeError when every root field of a subscription is skipped
    // (`clientDetected @include(if: false)`): validation lets it through, so it is refused here
    // as the validation error it is (found by the GraphQL fuzz test, seed 398054950).
    return {
      errors: [apiError('GRAPHQL_VALIDATION_FAILED', 'a subscription must select exactly one root field; @skip/@include left none')],
    };
  }
  if (!(Symbol.asyncIterator in stream)) return stream as ExecutionResult;
  const key = operationKey(args);
  return mapIterator((stream as AsyncIterable<unknown>)[Symbol.asyncIterator](), (payload): Result => {
    if (payload === null || typeof payload !== 'object') return execute({ ...args, rootValue: payload });
    let byOperation = results.get(payload);
    if (!byOperation) {
      byOperation = new Map();
      results.set(payload, byOperation);
    }
    let result = byOperation.get(key);
    if (!result) {
      result = execute({ ...args, rootValue: payload });
      byOperation.set(key, result);
    }
    return result;
  });
}
