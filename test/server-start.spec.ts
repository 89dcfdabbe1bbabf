/**
 * The built server, started the way a user starts it: `npm start` (which builds first), on a fresh
 * data dir and a free port. Then a restart with `node dist/src/main.js` on the same data dir.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, repoRoot } from './support/server-process';
import { tempDir } from './support/temp';

/** PIDs of every process below `pid` (from /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process is gone
    }
  }
  const out: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const next = children.get(queue.shift()!) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}

/** The bramble server process started by `npm start` (npm → sh → node dist/src/main.js). */
function serverPid(npmPid: number): number {
  const pid = descendants(npmPid).find((p) => {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return /node$/.test(argv[0]) && argv.includes('dist/src/main.js');
    } catch {
      return false;
    }
  });
  if (pid === undefined) throw new Error('no node dist/src/main.js process under npm');
  return pid;
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(command: string, args: string[], env: Record<string, string>): Running {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BRAMBLE_'))) as Record<string, string>;
  // Its own process group, so that cleanup can reach npm's grandchildren too.
  const child = spawn(command, args, { cwd: repoRoot(), env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exit };
}

interface Health {
  status: string;
  eventStore: { status: string };
  projections: { caughtUp: boolean };
  plugins: Record<string, { status: string; detail?: string }>;
}

/**
 * A fresh install serves everything but DHCP: the dhcp plugin waits for an interface to be
 * configured (it never serves every interface by default), so health is `degraded`, saying why.
 */
function assertFreshInstallHealth(health: Health): void {
  assert.equal(health.eventStore.status, 'up');
  assert.equal(health.projections.caughtUp, true);
  assert.equal(health.plugins.dhcp?.status, 'down');
  assert.match(health.plugins.dhcp?.detail ?? '', /no interface configured/);
  assert.equal(health.status, 'degraded');
}

async function waitForHealth(url: string, running: Running, timeoutMs: number): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void running.exit.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`the server exited before answering /health:\n${running.output()}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200) return (await res.json()) as Health;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no /health within ${timeoutMs} ms:\n${running.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function gql(url: string, token: string, query: string): Promise<{ data?: any; errors?: unknown[] }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: any; errors?: unknown[] };
}

/** Sends `signal` to `pid` (default: the spawned process) and returns the spawned process's exit code. */
async function stop(running: Running, signal: NodeJS.Signals, withinMs: number, pid = running.child.pid!): Promise<number | null> {
  const started = Date.now();
  process.kill(pid, signal);
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), withinMs).unref());
  const result = await Promise.race([running.exit, timeout]);
  if (result === 'timeout') {
    killGroup(running);
    throw new Error(`did not exit within ${withinMs} ms of ${signal}:\n${running.output()}`);
  }
  assert.ok(Date.now() - started < withinMs);
  return result.code;
}

function killGroup(running: Running): void {
  try {
    process.kill(-running.child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('the built server', () => {
  const data = tempDir('bramble-start-');
  let token = '';
  const running: Running[] = [];
  after(() => {
    for (const r of running) killGroup(r);
    data.cleanup();
  });

  it(
    '`npm start` builds, serves /health and /graphql with the generated token, and stops on SIGTERM with exit 0',
    { timeout: 240_000 },
    async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const server = start('npm', ['start'], { BRAMBLE_DATA_DIR: data.dir, BRAMBLE_HTTP_PORT: String(port) });
      running.push(server);
      assertFreshInstallHealth(await waitForHealth(url, server, 180_000));

      const file = path.join(data.dir, 'admin-token');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      token = readFileSync(file, 'utf8').trim();
      assert.ok(token.length >= 32);
      const approved = await gql(url, token, 'mutation { approveClient(mac: "dc:a6:32:40:00:01", name: "kept") { mac status } }');
      assert.deepEqual(approved, { data: { approveClient: { mac: 'dc:a6:32:40:00:01', status: 'APPROVED' } } });
      const refused = await gql(url, 'wrong-token-0123456789abcdef', '{ clients { mac } }');
      assert.equal((refused.errors?.[0] as { extensions: { code: string } }).extensions.code, 'UNAUTHENTICATED');

      // SIGTERM to the server process (as systemd or `kill` would send it). npm runs the start script
      // through `sh -c`, which does not pass a signal sent to npm itself on to node; the server's own
      // exit code comes back out through sh and npm.
      assert.equal(await stop(server, 'SIGTERM', 10_000, serverPid(server.child.pid!)), 0);
      assert.match(server.output(), /"msg":"shutting down","signal":"SIGTERM"/);
    },
  );

  it('`node dist/src/main.js` on the same data dir keeps the token and the data; SIGINT exits 0', { timeout: 60_000 }, async (t) => {
    if (!token) return t.skip('the npm start test did not get this far');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = start(process.execPath, ['dist/src/main.js'], { BRAMBLE_DATA_DIR: data.dir, BRAMBLE_HTTP_PORT: String(port) });
    running.push(server);
    assertFreshInstallHealth(await waitForHealth(url, server, 30_000));
    assert.equal(readFileSync(path.join(data.dir, 'admin-token'), 'utf8').trim(), token, 'the token file is written once');
    const res = await gql(url, token, '{ client(mac: "dc:a6:32:40:00:01") { name status } }');
    assert.deepEqual(res, { data: { client: { name: 'kept', status: 'APPROVED' } } });
    assert.equal(await stop(server, 'SIGINT', 10_000), 0);
  });
});
