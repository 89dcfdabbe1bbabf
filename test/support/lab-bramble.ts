/**
 * bramble as a real server process inside a lab's server namespace: `node dist/src/main.js` with
 * the built-in plugins exactly as installed, started through `nsenter` into the NFS lab's holder
 * (test/support/nfs-lab.ts), so it shares the server's network namespace and the private mount
 * namespace (tmpfs /run) its ganesha and rpcbind need. Every listener (DHCP on the interface,
 * TFTP, LDAP, NFS, the boot report, HTTP) binds there by itself: nothing is wired for the test.
 *
 * The test reaches its HTTP API (127.0.0.1:8080 of the server namespace) through a relay: a
 * listener on 127.0.0.1 of the test's namespace whose every connection is carried by a socket
 * made inside the lab namespace (tcpConnectInNamespace). fetch and graphql-ws then work as
 * against any bramble. The relay and the process are stopped by `stop()` (SIGTERM, then SIGKILL
 * after 10 s); the lab's destroy() kills whatever is left in its mount namespace.
 */
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { GqlResponse } from './app-harness';
import { waitForExit } from './netlab';
import type { NfsLab } from './nfs-lab';
import { repoRoot } from './server-process';
import { tcpConnectInNamespace } from './tcp-listen';

export const LAB_BRAMBLE_TOKEN = 'lab-bramble-admin-token-0123456789';
const HTTP_PORT = 8080;

export interface LabBramble {
  /** The relay's URL (http://127.0.0.1:<port>). */
  url: string;
  token: string;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>>;
  /** Like gql, but fails on any error and returns data. */
  ok<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** A graphql-ws client as the admin (lazy, no retries). */
  ws(): Client;
  /** What the process printed (JSON log lines). */
  output(): string;
  stop(): Promise<void>;
}

export async function startLabBramble(lab: NfsLab, options: { dataDir: string; env?: Record<string, string> }): Promise<LabBramble> {
  const env: Record<string, string> = {
    BRAMBLE_DATA_DIR: options.dataDir,
    BRAMBLE_HTTP_HOST: '127.0.0.1',
    BRAMBLE_HTTP_PORT: String(HTTP_PORT),
    BRAMBLE_ADMIN_TOKEN: LAB_BRAMBLE_TOKEN,
    BRAMBLE_SERVER_IP: lab.serverIp,
    BRAMBLE_INTERFACE: 'eth0',
    BRAMBLE_LOG_LEVEL: 'info',
    ...options.env,
  };
  // `env` sets the variables (the Spawner passes no environment of its own); BRAMBLE_* of the
  // test's own environment are not inherited (-u), so the test runner's settings cannot leak in.
  const unset = Object.keys(process.env)
    .filter((k) => k.startsWith('BRAMBLE_') && !(k in env))
    .flatMap((k) => ['-u', k]);
  const child: ChildProcess = lab.spawn('env', [
    ...unset,
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    process.execPath,
    path.join(repoRoot(), 'dist', 'src', 'main.js'),
  ]);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2_000_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2_000_000)));

  const sockets = new Set<Socket>();
  const relay: Server = createServer((client) => {
    let upstream: Socket;
    try {
      upstream = tcpConnectInNamespace(lab.netlab, 'server', '127.0.0.1', HTTP_PORT);
    } catch {
      client.destroy();
      return;
    }
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const port = (relay.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const clients: Client[] = [];

  const stop = async (): Promise<void> => {
    await Promise.all(clients.map((c) => c.dispose()));
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await waitForExit(child, 10_000);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await waitForExit(child, 5000);
    }
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => relay.close(resolve));
  };

  const gql = async <T>(query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>> => {
    const res = await httpCall(port, 'POST', '/graphql', JSON.stringify({ query, variables }), 120_000);
    return { status: res.status, text: res.text, ...(JSON.parse(res.text) as { data?: T | null; errors?: GqlResponse['errors'] }) };
  };

  // Ready: /health answers (bounded; fails at once when the process exits).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`bramble exited at start:\n${output.slice(-5000)}`);
    }
    try {
      if ((await httpCall(port, 'GET', '/health', null, 5000)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`bramble did not answer /health within 60 s:\n${output.slice(-5000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    url,
    token: LAB_BRAMBLE_TOKEN,
    gql,
    async ok<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const res = await gql<T>(query, variables);
      if (res.errors?.length || !res.data) throw new Error(`GraphQL request failed (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
      return res.data;
    },
    ws(): Client {
      const client = createClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: { Authorization: `Bearer ${LAB_BRAMBLE_TOKEN}` },
      });
      clients.push(client);
      return client;
    },
    output: () => output,
    stop,
  };
}

/**
 * One HTTP request through the relay on a connection of its own (no keep-alive pool: a pooled
 * connection the relay's upstream closed must not hold a request), bounded by `timeoutMs`.
 */
function httpCall(
  port: number,
  method: string,
  urlPath: string,
  body: string | null,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        agent: false,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${LAB_BRAMBLE_TOKEN}`, connection: 'close' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}
