/**
 * bramble in-process, listening on a free port, for end-to-end tests of the HTTP and WebSocket
 * API: `startHarness()` → { url, token, gql(), ws(), close() }.
 *
 * By default BRAMBLE_ADMIN_TOKEN is unset, so the token is the one bramble generated on first
 * start and wrote to `<data>/admin-token` (the path a real first start takes); pass `adminToken`
 * to use the environment variable instead.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CommandBus } from '../../src/core/commands/command-bus';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../../src/core/config/config';
import { JsonLogger, silentLogger, type Logger } from '../../src/core/logging/logger';
import type { PluginFactory } from '../../src/core/plugin-api';
import { LiveEvents } from '../../src/graphql/live-events';
import { createApp, type BrambleApp } from '../../src/server';
import { eventually, tempDir } from './temp';

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; field?: string; [key: string]: unknown };
}

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  /** The raw response text (to check that something never appears in it). */
  text: string;
  data?: T | null;
  errors?: GqlError[];
}

export interface Harness {
  app: BrambleApp;
  url: string;
  wsUrl: string;
  token: string;
  dataDir: string;
  bus: CommandBus;
  /** POSTs a GraphQL request to /graphql; `token` null sends no Authorization header. */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GqlResponse<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  ok<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /**
   * Resolves once exactly `n` subscriptions listen to the live feed (a subscription is set up, and
   * torn down, asynchronously). Wait for 0 first when earlier subscriptions may still be leaving.
   */
  liveSubscribers(n: number, timeoutMs?: number): Promise<void>;
  /** A graphql-ws client (lazy, no retries); `token` null sends no connectionParams. */
  ws(token?: string | null, connectionParams?: Record<string, unknown>): Client;
  close(): Promise<void>;
}

export async function startHarness(
  options: { adminToken?: string; env?: Record<string, string>; plugins?: readonly PluginFactory[]; logger?: Logger } = {},
): Promise<Harness> {
  const tmp = tempDir('bramble-gql-');
  const env: Record<string, string> = {
    BRAMBLE_DATA_DIR: tmp.dir,
    BRAMBLE_HTTP_HOST: '127.0.0.1',
    BRAMBLE_HTTP_PORT: '0',
    ...(options.adminToken ? { BRAMBLE_ADMIN_TOKEN: options.adminToken } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const logger = options.logger ?? (process.env.BRAMBLE_TEST_LOG ? new JsonLogger('debug') : silentLogger);
  const app = await createApp(config, logger, { builtInPlugins: options.plugins ?? [] });
  let url: string;
  try {
    url = await app.listen();
  } catch (error) {
    await app.close();
    tmp.cleanup();
    throw error;
  }
  const token = options.adminToken ?? readFileSync(path.join(tmp.dir, 'admin-token'), 'utf8').trim();
  const wsUrl = `${url.replace(/^http/, 'ws')}/graphql`;
  const clients: Client[] = [];

  const gql = async <T>(query: string, variables?: Record<string, unknown>, as: string | null = token): Promise<GqlResponse<T>> => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(as ? { authorization: `Bearer ${as}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.text();
    const body = JSON.parse(text) as { data?: T | null; errors?: GqlError[] };
    return { status: res.status, text, ...body };
  };

  return {
    app,
    url,
    wsUrl,
    token,
    dataDir: tmp.dir,
    bus: app.nest.get(CommandBus),
    gql,
    async ok<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const res = await gql<T>(query, variables);
      if (res.errors?.length || !res.data) {
        throw new Error(`GraphQL request failed (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
      }
      return res.data;
    },
    async liveSubscribers(n: number, timeoutMs = 5000): Promise<void> {
      const live = app.nest.get(LiveEvents);
      await eventually(() => live.subscribers === n, timeoutMs, `${n} live subscribers (now ${live.subscribers})`);
    },
    ws(as: string | null = token, connectionParams?: Record<string, unknown>): Client {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: connectionParams ?? (as ? { Authorization: `Bearer ${as}` } : {}),
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      await app.close();
      tmp.cleanup();
    },
  };
}

/**
 * Subscribes and collects results; `next()` waits for the next one (or fails after a timeout).
 * `ready` resolves once the server acknowledged the connection and the subscribe message was sent.
 */
export function subscribe<T = Record<string, any>>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): {
  results: ExecutionResult<T>[];
  next(timeoutMs?: number): Promise<ExecutionResult<T>>;
  /** Settles when the subscription ends: resolves on complete, rejects with the error or close event. */
  done: Promise<void>;
  unsubscribe(): void;
} {
  const results: ExecutionResult<T>[] = [];
  const waiting: Array<(r: ExecutionResult<T>) => void> = [];
  let read = 0;
  let unsubscribe: () => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    unsubscribe = client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          results.push(value as ExecutionResult<T>);
          const w = waiting.shift();
          if (w) {
            read++;
            w(value as ExecutionResult<T>);
          }
        },
        error: reject,
        complete: resolve,
      },
    );
  });
  done.catch(() => undefined);
  return {
    results,
    done,
    unsubscribe: () => unsubscribe(),
    next(timeoutMs = 5000): Promise<ExecutionResult<T>> {
      if (read < results.length) return Promise.resolve(results[read++]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no subscription result within ${timeoutMs} ms`)), timeoutMs);
        const failed = (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(`subscription ended: ${describeClose(error)}`));
        };
        done.then(() => failed(new Error('subscription completed')), failed);
        waiting.push((r) => {
          clearTimeout(timer);
          resolve(r);
        });
      });
    },
  };
}

function describeClose(error: unknown): string {
  const e = error as { code?: number; reason?: string };
  return e && typeof e.code === 'number' ? `close ${e.code} ${e.reason ?? ''}` : String(error);
}

/** Waits until the server has the subscription running (graphql-ws acks the connection first). */
export async function connected(client: Client, timeoutMs = 5000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection ack')), timeoutMs);
    const off = client.on('connected', () => {
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
